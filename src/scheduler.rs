//! Scheduled jobs that run exactly once per tick across replicas.
//!
//! Every replica runs the same in-memory tokio-cron-scheduler. When a job fires, the replica
//! works out which scheduled tick the firing belongs to and tries to claim the
//! `(job, tick)` row in `job_runs`; only the replica whose insert wins runs the job. An
//! in-memory flag or a transaction-scoped advisory lock would not do: a slower replica would
//! run the job again after the first one committed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::store::DynStore;

/// Parses a cron expression with a seconds field (`sec min hour dom month dow`).
pub fn parse_cron(expr: &str) -> Result<Cron> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .build()
        .parse(expr)
        .with_context(|| format!("`{expr}` is not a cron expression with a seconds field, e.g. `0 5 * * * *`"))
}

/// The scheduled tick a firing at `now` belongs to: the latest scheduled time at or before
/// `now`. A small allowance covers a timer that fires a few milliseconds early, so such a
/// firing is not mistaken for the previous tick (which another replica already claimed).
pub fn scheduled_tick(cron: &Cron, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    use chrono::SubsecRound;
    let allowance = chrono::Duration::milliseconds(250);
    // Cron ticks are whole seconds; croner keeps the sub-second part of its starting point.
    cron.find_previous_occurrence(&(now + allowance).trunc_subsecs(0), true)
        .with_context(|| format!("cron `{}` has no occurrence before {now}", cron.pattern))
}

/// The work a job does when this replica wins its tick.
pub type JobFn = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<()>> + Send>> + Send + Sync>;

/// A job to schedule.
pub struct ScheduledJob {
    /// Unique name; the claim key in `job_runs`.
    pub name: String,
    /// Cron expression with a seconds field.
    pub cron: String,
    /// What to run.
    pub run: JobFn,
}

/// A running scheduler. Dropping it does not stop it; call [`Scheduler::shutdown`].
pub struct Scheduler {
    inner: JobScheduler,
}

impl Scheduler {
    /// Starts every job. `owner` names this replica in the claim rows.
    pub async fn start(store: DynStore, owner: String, jobs: Vec<ScheduledJob>) -> Result<Scheduler> {
        let inner = JobScheduler::new().await.context("cannot create the job scheduler")?;
        for job in jobs {
            let cron = parse_cron(&job.cron)?;
            let state = Arc::new(Firing { store: store.clone(), owner: owner.clone(), name: job.name, cron, run: job.run });
            let scheduled = Job::new_async(job.cron.as_str(), move |_id, _scheduler| {
                let state = state.clone();
                Box::pin(async move { state.fire().await })
            })
            .with_context(|| format!("cannot schedule job with cron `{}`", job.cron))?;
            inner.add(scheduled).await?;
        }
        inner.start().await.context("cannot start the job scheduler")?;
        Ok(Scheduler { inner })
    }

    /// Stops firing new jobs. A job already running finishes on its own task.
    pub async fn shutdown(mut self) -> Result<()> {
        self.inner.shutdown().await?;
        // Give an in-flight job a moment to record its outcome before the process exits.
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    }
}

/// What one job needs at each firing.
struct Firing {
    store: DynStore,
    owner: String,
    name: String,
    cron: Cron,
    run: JobFn,
}

impl Firing {
    async fn fire(&self) {
        let tick = match scheduled_tick(&self.cron, Utc::now()) {
            Ok(tick) => tick,
            Err(error) => {
                tracing::error!(job = %self.name, error = %format!("{error:#}"), "cannot compute the tick");
                return;
            }
        };
        match self.store.claim_tick(&self.name, tick.naive_utc(), &self.owner).await {
            Ok(true) => {
                tracing::info!(job = %self.name, %tick, "running scheduled job");
                if let Err(error) = (self.run)().await {
                    tracing::error!(job = %self.name, %tick, error = %format!("{error:#}"), "scheduled job failed");
                }
            }
            Ok(false) => tracing::debug!(job = %self.name, %tick, "another replica runs this tick"),
            Err(error) => {
                tracing::error!(job = %self.name, %tick, error = %format!("{error:#}"), "cannot claim the tick")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_late_or_slightly_early_firing_maps_to_its_tick() {
        let cron = parse_cron("0 5 * * * *").unwrap();
        assert_eq!(scheduled_tick(&cron, at("2026-11-25T10:05:03Z")).unwrap(), at("2026-11-25T10:05:00Z"));
        assert_eq!(scheduled_tick(&cron, at("2026-11-25T10:04:59.900Z")).unwrap(), at("2026-11-25T10:05:00Z"));
        assert_eq!(scheduled_tick(&cron, at("2026-11-25T10:59:00Z")).unwrap(), at("2026-11-25T10:05:00Z"));
    }

    #[test]
    fn cron_needs_a_seconds_field() {
        assert!(parse_cron("5 * * * *").is_err());
        assert!(parse_cron("0 5 * * * *").is_ok());
        assert!(parse_cron("not cron").is_err());
    }
}
