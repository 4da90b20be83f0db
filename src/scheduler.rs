//! Scheduled jobs that run exactly once per tick across replicas.
//!
//! Every replica runs the same in-memory tokio-cron-scheduler. When a job fires, the replica
//! works out which scheduled tick the firing belongs to and tries to claim the
//! `(job, tick)` row in `job_runs`; only the replica whose insert wins runs the job. An
//! in-memory flag or a transaction-scoped advisory lock would not do: a slower replica would
//! run the job again after the first one committed.
//!
//! In `costbot serve` only the leader (see `leadership`) runs a scheduler, and its claims are
//! fenced by its lease term, so a leader that lost its lease claims nothing more.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use croner::Cron;
use tokio::sync::Notify;
use tokio_cron_scheduler::{Job, JobScheduler};
use tracing::Instrument;

use crate::config::parse_cron;
use crate::store::TickStore;

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

/// Who may claim ticks: anyone (each tick still runs once), or only the holder of a lease
/// term, which is how the leader's scheduler is fenced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lease's name.
    pub lease: String,
    /// The term this replica holds it in.
    pub term: i64,
}

/// Jobs firing right now, so shutdown can wait for them to record their outcome.
#[derive(Default)]
struct InFlight {
    running: AtomicUsize,
    stopping: AtomicBool,
    idle: Notify,
}

/// A running scheduler. Dropping it does not stop it; call [`Scheduler::shutdown`].
pub struct Scheduler {
    inner: JobScheduler,
    in_flight: Arc<InFlight>,
}

impl Scheduler {
    /// Starts every job. `owner` names this replica in the claim rows.
    pub async fn start<S: TickStore + ?Sized + 'static>(
        store: Arc<S>,
        owner: String,
        jobs: Vec<ScheduledJob>,
    ) -> Result<Scheduler> {
        Self::start_fenced(store, owner, jobs, None).await
    }

    /// Starts every job; with a fence, a tick is claimed only while `owner` still holds the
    /// fence's lease term (see `LeaseStore::claim_tick_as_leader`).
    pub async fn start_fenced<S: TickStore + ?Sized + 'static>(
        store: Arc<S>,
        owner: String,
        jobs: Vec<ScheduledJob>,
        fence: Option<Fence>,
    ) -> Result<Scheduler> {
        let inner = JobScheduler::new().await.context("cannot create the job scheduler")?;
        let in_flight = Arc::new(InFlight::default());
        for job in jobs {
            let cron = parse_cron(&job.cron)?;
            crate::metrics::declare_job(&job.name);
            let state = Arc::new(Firing {
                store: store.clone(),
                owner: owner.clone(),
                name: job.name,
                cron,
                run: job.run,
                fence: fence.clone(),
                in_flight: in_flight.clone(),
            });
            let scheduled = Job::new_async(job.cron.as_str(), move |_id, _scheduler| {
                let state = state.clone();
                Box::pin(async move { state.fire().await })
            })
            .with_context(|| format!("cannot schedule job with cron `{}`", job.cron))?;
            inner.add(scheduled).await?;
        }
        inner.start().await.context("cannot start the job scheduler")?;
        Ok(Scheduler { inner, in_flight })
    }

    /// Stops firing new jobs. A job already running finishes on its own task; see
    /// [`Scheduler::wait_idle`].
    pub async fn shutdown(mut self) -> Result<()> {
        self.stop_firing();
        self.inner.shutdown().await?;
        // Give an in-flight job a moment to record its outcome before the process exits.
        self.wait_idle(Duration::from_millis(100)).await;
        Ok(())
    }

    /// Refuses every later firing at once (a firing already past its claim keeps running).
    pub fn stop_firing(&self) {
        self.in_flight.stopping.store(true, Ordering::SeqCst);
    }

    /// Stops the scheduler and hands back a handle that waits for running jobs.
    pub async fn stop(mut self) -> Result<Running> {
        self.stop_firing();
        self.inner.shutdown().await?;
        Ok(Running { in_flight: self.in_flight })
    }

    /// Waits until no job is running, or `limit` passes; `true` when idle.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        wait_idle(&self.in_flight, limit).await
    }
}

/// The jobs of a stopped scheduler that may still be running.
pub struct Running {
    in_flight: Arc<InFlight>,
}

impl Running {
    /// Waits until no job is running, or `limit` passes; `true` when idle.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        wait_idle(&self.in_flight, limit).await
    }

    /// How many jobs are running.
    pub fn count(&self) -> usize {
        self.in_flight.running.load(Ordering::SeqCst)
    }
}

async fn wait_idle(in_flight: &InFlight, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let notified = in_flight.idle.notified();
        if in_flight.running.load(Ordering::SeqCst) == 0 {
            return true;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return in_flight.running.load(Ordering::SeqCst) == 0;
        }
    }
}

/// Counts a firing as running until dropped.
struct RunningGuard<'a>(&'a InFlight);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// What one job needs at each firing.
struct Firing<S: ?Sized> {
    store: Arc<S>,
    owner: String,
    name: String,
    cron: Cron,
    run: JobFn,
    fence: Option<Fence>,
    in_flight: Arc<InFlight>,
}

impl<S: TickStore + ?Sized> Firing<S> {
    async fn fire(&self) {
        // Count first, then look at the flag: a shutdown that set the flag either sees this
        // firing counted or this firing sees the flag.
        self.in_flight.running.fetch_add(1, Ordering::SeqCst);
        let _running = RunningGuard(&self.in_flight);
        if self.in_flight.stopping.load(Ordering::SeqCst) {
            return;
        }
        let tick = match scheduled_tick(&self.cron, Utc::now()) {
            Ok(tick) => tick,
            Err(error) => {
                tracing::error!(job = %self.name, error = %format!("{error:#}"), "cannot compute the tick");
                return;
            }
        };
        let claimed = match &self.fence {
            None => self.store.claim_tick(&self.name, tick.naive_utc(), &self.owner).await,
            Some(f) => {
                self.store.claim_tick_as_leader(&self.name, tick.naive_utc(), &self.owner, &f.lease, f.term).await
            }
        };
        let span = tracing::info_span!("job", job = %self.name, %tick);
        async {
            match claimed {
                Ok(true) => {
                    tracing::info!("running scheduled job");
                    match (self.run)().await {
                        Ok(()) => crate::metrics::record_job(&self.name, "succeeded"),
                        Err(error) => {
                            crate::metrics::record_job(&self.name, "failed");
                            tracing::error!(error = %format!("{error:#}"), "scheduled job failed");
                        }
                    }
                }
                Ok(false) => {
                    crate::metrics::record_job(&self.name, "skipped");
                    tracing::debug!("another replica runs this tick, or this one no longer leads");
                }
                Err(error) => {
                    crate::metrics::record_job(&self.name, "failed");
                    tracing::error!(error = %format!("{error:#}"), "cannot claim the tick")
                }
            }
        }
        .instrument(span)
        .await
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
