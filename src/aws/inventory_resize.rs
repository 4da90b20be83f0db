//! Changing an instance's type for [`AwsInventory`]: stop it, wait until it is stopped, modify
//! its type, start it. The type it moves to is worked out again here from the type it has
//! now, with the same pure function the rule used (`domain::waste::one_size_down` or
//! `current_generation`); the executor's re-check has already refused to act if the type or
//! the saving changed since the proposal, so this is the type the approvers saw.
//!
//! The three steps run in a task of their own, so an instance is never left stopped because
//! the caller stopped waiting (the executor's action timeout): the task finishes, and
//! recovery later reads the real state. A failed type change starts the instance again with
//! its old type before reporting the error.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_ec2::types::AttributeValue;

use super::inventory::AwsInventory;
use super::inventory_act::{code, sdk_error};
use crate::domain::resource::{ActOutcome, Action, ResourceRef};
use crate::domain::waste;

/// How often the stop is polled, and for how long at most. EC2 stops most instances within
/// a few minutes; one still stopping after fifteen is left for a person to look at.
const POLL: Duration = Duration::from_secs(5);
const STOP_WITHIN: Duration = Duration::from_secs(15 * 60);

impl AwsInventory {
    /// Resizes (one size down) or modernizes (same size, current generation) an instance.
    /// A dry run asks EC2 to confirm each of the three calls with `DryRun`.
    pub(super) async fn resize(&self, r: &ResourceRef, action: Action, dry_run: bool) -> Result<ActOutcome> {
        let ec2 = self.ec2(&r.account, &r.region)?;
        let found = ec2
            .describe_instances()
            .instance_ids(&r.id)
            .send()
            .await
            .map_err(|e| sdk_error("ec2:DescribeInstances", e))?;
        let from = found
            .reservations()
            .iter()
            .flat_map(|x| x.instances())
            .find_map(|i| i.instance_type())
            .map(|t| t.as_str().to_string())
            .ok_or_else(|| anyhow!("instance {} does not exist (any more)", r.id))?;
        let rules = self.rules();
        let to = match action {
            Action::ResizeInstance => waste::one_size_down(&from, &rules.prices),
            Action::ModernizeInstance => waste::current_generation(&from, &rules.previous_generation_families),
            other => bail!("cannot {} an instance by resizing", other.verb()),
        }
        .ok_or_else(|| anyhow!("{from} has no type to move to"))?;
        if dry_run {
            for (call, result) in [
                (
                    "ec2:StopInstances",
                    dry("ec2:StopInstances", ec2.stop_instances().instance_ids(&r.id).dry_run(true).send().await),
                ),
                (
                    "ec2:ModifyInstanceAttribute",
                    dry(
                        "ec2:ModifyInstanceAttribute",
                        ec2.modify_instance_attribute()
                            .instance_id(&r.id)
                            .instance_type(AttributeValue::builder().value(&to).build())
                            .dry_run(true)
                            .send()
                            .await,
                    ),
                ),
                (
                    "ec2:StartInstances",
                    dry("ec2:StartInstances", ec2.start_instances().instance_ids(&r.id).dry_run(true).send().await),
                ),
            ] {
                result.with_context(|| format!("dry run of {call} on {}", r.id))?;
            }
            return Ok(ActOutcome::DryRun {
                detail: format!(
                    "AWS confirmed that stopping {}, changing it from {from} to {to} and starting it again would succeed",
                    r.id
                ),
            });
        }
        let task = tokio::spawn(steps(ec2, r.id.clone(), to));
        task.await.context("the resize task ended abnormally")?
    }
}

/// A dry run's answer: `DryRunOperation` confirms; anything else is an error.
fn dry<T, E, R>(call: &str, result: Result<T, aws_sdk_ec2::error::SdkError<E, R>>) -> Result<()>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Err(e) if code(&e) == Some("DryRunOperation") => Ok(()),
        Err(e) => Err(sdk_error(call, e)),
        Ok(_) => bail!("EC2 acted on a dry run instead of confirming it"),
    }
}

async fn state(ec2: &aws_sdk_ec2::Client, id: &str) -> Result<String> {
    let out =
        ec2.describe_instances().instance_ids(id).send().await.map_err(|e| sdk_error("ec2:DescribeInstances", e))?;
    let name = out.reservations().iter().flat_map(|x| x.instances()).find_map(|i| i.state()?.name().cloned());
    Ok(name.map_or_else(|| "unknown".to_string(), |n| n.as_str().to_string()))
}

async fn steps(ec2: aws_sdk_ec2::Client, id: String, to: String) -> Result<ActOutcome> {
    ec2.stop_instances().instance_ids(&id).send().await.map_err(|e| sdk_error("ec2:StopInstances", e))?;
    let deadline = tokio::time::Instant::now() + STOP_WITHIN;
    loop {
        match state(&ec2, &id).await?.as_str() {
            "stopped" => break,
            "stopping" | "running" | "pending" if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(POLL).await
            }
            other => bail!("{id} did not stop (it is {other}); its type was not changed"),
        }
    }
    let modified = ec2
        .modify_instance_attribute()
        .instance_id(&id)
        .instance_type(AttributeValue::builder().value(&to).build())
        .send()
        .await
        .map_err(|e| sdk_error("ec2:ModifyInstanceAttribute", e));
    let started = ec2.start_instances().instance_ids(&id).send().await.map_err(|e| sdk_error("ec2:StartInstances", e));
    match (modified, started) {
        (Err(e), Ok(_)) => Err(e.context(format!("{id} was started again with its old type"))),
        (Err(e), Err(start)) => Err(e.context(format!("and starting {id} again failed too: {start:#}"))),
        (Ok(_), Err(e)) => Err(e.context(format!("{id} is now {to} but stopped"))),
        (Ok(_), Ok(out)) => {
            let now = out.starting_instances().first().and_then(|c| c.current_state()?.name().cloned());
            let now = now.map_or_else(|| "starting".to_string(), |n| n.as_str().to_string());
            Ok(ActOutcome::Done { new_state: format!("{to} and {now}") })
        }
    }
}
