//! Leadership: of all the `costbot serve` replicas sharing one database, exactly one runs the
//! scheduled jobs. No home-made cluster: a lease row in the database (`LeaseStore`) says who
//! leads until when, on the database's clock.
//!
//! - **Acquire or renew** is one atomic statement: the row is taken only if it is free,
//!   expired, or already ours. The leader renews every third of the lease, so two renewals
//!   can fail before the lease runs out.
//! - **Lead.** Winning a new term starts the [`Scheduler`], whose tick claims are fenced by
//!   that term: they only succeed while the lease is live and still ours.
//! - **Step down** at once when a renewal is refused, fails or takes too long: the scheduler
//!   stops firing. A leader paused for longer than its lease (a stalled VM, a debugger) that
//!   resumes without noticing still cannot claim a tick, because the claim itself checks the
//!   lease in the same statement.
//! - **Release** on graceful shutdown (expiry set to now) after running jobs finish, so another
//!   replica takes over at its next renewal instead of waiting for the lease to run out.
//!
//! The delivery and execution loops are not leader-only: they are safe on every replica
//! (thread leases, compare-and-swap claims), and running them everywhere keeps chat and
//! approved actions moving while leadership changes hands.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::domain::lease::Lease;
use crate::scheduler::{Fence, ScheduledJob, Scheduler};
use crate::store::{LeaseStore, TickStore};

/// The lease that decides which replica runs scheduled jobs.
pub const LEADER_LEASE: &str = "leader";

/// How long a lease lasts and how often it is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    /// Lease duration.
    pub ttl: Duration,
    /// Time between renewals (a third of the lease).
    pub renew_every: Duration,
}

impl LeaseTiming {
    /// Renewal every third of `ttl`, so a leader survives two failed renewals.
    pub fn from_ttl(ttl: Duration) -> LeaseTiming {
        LeaseTiming { ttl, renew_every: ttl / 3 }
    }
}

/// Builds the jobs a new leader schedules (fresh closures each term).
pub type JobsFn = Arc<dyn Fn() -> Vec<ScheduledJob> + Send + Sync>;

/// This replica's part in leader election, running in the background.
pub struct Leadership {
    stop: watch::Sender<Option<Duration>>,
    leading: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Leadership {
    /// Starts campaigning for the lease as `owner`; the leader schedules `jobs`.
    pub fn start<S: LeaseStore + TickStore + ?Sized + 'static>(
        store: Arc<S>,
        owner: String,
        timing: LeaseTiming,
        jobs: JobsFn,
    ) -> Leadership {
        let (stop, stopped) = watch::channel(None);
        let (leading_tx, leading) = watch::channel(false);
        let campaign = Campaign { store, owner, timing, jobs, leading: leading_tx, held: None };
        let task = tokio::spawn(campaign.run(stopped));
        Leadership { stop, leading, task }
    }

    /// Whether this replica leads right now.
    pub fn is_leader(&self) -> bool {
        *self.leading.borrow()
    }

    /// Stops scheduling, waits up to `grace` for running jobs (renewing the lease meanwhile),
    /// then releases the lease.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(Some(grace));
        let _ = self.task.await;
    }
}

/// What a leader holds: its term and its scheduler.
struct Held {
    term: i64,
    /// By this local time the lease has surely run out unless renewed again.
    valid_until: Instant,
    scheduler: Scheduler,
}

struct Campaign<S: ?Sized> {
    store: Arc<S>,
    owner: String,
    timing: LeaseTiming,
    jobs: JobsFn,
    leading: watch::Sender<bool>,
    held: Option<Held>,
}

impl<S: LeaseStore + TickStore + ?Sized + 'static> Campaign<S> {
    async fn run(mut self, mut stopped: watch::Receiver<Option<Duration>>) {
        loop {
            self.renew().await;
            tokio::select! {
                _ = tokio::time::sleep(self.timing.renew_every) => {}
                _ = stopped.changed() => break,
            }
        }
        let grace = stopped.borrow().unwrap_or_default();
        self.finish(grace).await;
    }

    /// One acquire-or-renew round, starting or stopping the scheduler as the answer says.
    async fn renew(&mut self) {
        // The lease granted by a renewal that started at `t` lasts at least until `t + ttl`
        // (the database stamps it later than `t`). So a leader may wait for an answer until
        // shortly before its last lease runs out, and no longer: a renewal still unanswered
        // then counts as failed, and the scheduler stops before the lease can pass to another.
        let started = Instant::now();
        let limit = match &self.held {
            Some(held) => held.valid_until.saturating_duration_since(started).saturating_sub(self.timing.ttl / 10),
            None => self.timing.ttl,
        };
        let answer = tokio::time::timeout(limit, self.store.acquire_lease(LEADER_LEASE, &self.owner, self.timing.ttl))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("lease renewal timed out")));
        match answer {
            Ok(Some(lease)) => {
                if let Some(held) = self.held.as_mut().filter(|h| h.term == lease.term) {
                    held.valid_until = started + self.timing.ttl;
                    return;
                }
                self.step_down("term changed").await;
                if let Err(error) = self.lead(&lease, started + self.timing.ttl).await {
                    tracing::error!(error = %format!("{error:#}"), "cannot start the scheduler; giving up the lease");
                    let _ = self.store.release_lease(LEADER_LEASE, &self.owner).await;
                }
            }
            Ok(None) => self.step_down("another replica holds the lease").await,
            Err(error) => {
                if self.held.is_some() {
                    tracing::warn!(error = %format!("{error:#}"), "cannot renew the leadership lease");
                }
                self.step_down("renewal failed").await;
            }
        }
    }

    async fn lead(&mut self, lease: &Lease, valid_until: Instant) -> Result<()> {
        let fence = Fence { lease: LEADER_LEASE.to_string(), term: lease.term };
        let scheduler =
            Scheduler::start_fenced(self.store.clone(), self.owner.clone(), (self.jobs)(), Some(fence)).await?;
        tracing::info!(replica = %self.owner, term = lease.term, expires_at = %lease.expires_at, "became leader; running scheduled jobs");
        self.held = Some(Held { term: lease.term, valid_until, scheduler });
        crate::metrics::set_leader(true);
        let _ = self.leading.send(true);
        Ok(())
    }

    /// Stops the scheduler (if leading). A job already past its claim finishes on its own.
    async fn step_down(&mut self, why: &str) {
        let Some(held) = self.held.take() else { return };
        crate::metrics::set_leader(false);
        let _ = self.leading.send(false);
        tracing::warn!(replica = %self.owner, term = held.term, reason = why, "no longer leader; scheduled jobs stopped");
        if let Err(error) = held.scheduler.stop().await {
            tracing::warn!(error = %format!("{error:#}"), "cannot stop the scheduler cleanly");
        }
    }

    /// Graceful shutdown: stop firing, let running jobs record their outcome (renewing the
    /// lease meanwhile so nobody starts the next tick early), then release the lease.
    async fn finish(mut self, grace: Duration) {
        if let Some(held) = self.held.take() {
            match held.scheduler.stop().await {
                Ok(running) => {
                    let deadline = Instant::now() + grace;
                    while running.count() > 0 && Instant::now() < deadline {
                        let wait = self.timing.renew_every.min(deadline - Instant::now());
                        if !running.wait_idle(wait).await {
                            let _ = self.store.acquire_lease(LEADER_LEASE, &self.owner, self.timing.ttl).await;
                        }
                    }
                    if running.count() > 0 {
                        tracing::warn!("a scheduled job was still running at shutdown; its tick stays claimed");
                    }
                }
                Err(error) => tracing::warn!(error = %format!("{error:#}"), "cannot stop the scheduler cleanly"),
            }
        }
        // Released even when not leading: a replica that stepped down after a failed renewal
        // may still be the holder in the database.
        match self.store.release_lease(LEADER_LEASE, &self.owner).await {
            Ok(true) => tracing::info!(replica = %self.owner, "released leadership"),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "cannot release the leadership lease; it will expire")
            }
        }
        crate::metrics::set_leader(false);
        let _ = self.leading.send(false);
    }
}
