//! The AWS adapter: SDK configuration, per-account credentials and Cost Explorer.
//!
//! Invariant: only `aws` uses AWS SDK types; it hands the rest of costbot domain types.

pub mod cost_explorer;
mod cost_tags;
pub mod inventory;
pub mod inventory_act;
mod inventory_lb;
mod inventory_more;
mod inventory_resize;
mod metrics;
pub mod organizations;
pub mod probe;

use std::time::Duration;

use anyhow::Result;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use secrecy::ExposeSecret;

use crate::config::{AccountConfig, AwsConfig, RetryMode};

/// Builds the base SDK configuration: region, retries and (for tests) the endpoint override.
/// Credentials come from the default chain (environment, profile, IRSA, instance role).
pub async fn base_config(aws: &AwsConfig) -> SdkConfig {
    let retry = match aws.retry_mode {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    }
    .with_max_attempts(aws.max_attempts)
    .with_initial_backoff(Duration::from_millis(200));
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(aws.region.clone())).retry_config(retry);
    if let Some(url) = &aws.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// The SDK configuration for one account: the base one, or one whose credentials come from
/// assuming the account's role. The AssumeRole provider caches the temporary credentials and
/// refreshes them before they expire, so long-running servers never use stale ones.
pub async fn account_config(base: &SdkConfig, account: &AccountConfig) -> Result<SdkConfig> {
    let Some(role) = &account.role_arn else {
        return Ok(base.clone());
    };
    let mut builder = AssumeRoleProvider::builder(role.as_str()).session_name("costbot").configure(base);
    if let Some(secret) = &account.external_id {
        builder = builder.external_id(secret.resolve()?.expose_secret());
    }
    let provider = builder.build().await;
    Ok(base
        .to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
        .build())
}
