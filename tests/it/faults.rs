//! Fault injection through a test double of the `CloudInventory` port (never through switches
//! in production code): a wrapper around a real cloud with hooks after `describe` and `act`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use costbot::domain::resource::{ActOutcome, Action, CloudInventory, Resource, ResourceRef};
use costbot::domain::AccountId;

/// Runs after a call with the resource it was about; an error replaces the call's answer.
pub(crate) type Hook = Box<dyn Fn(&ResourceRef) -> anyhow::Result<()> + Send + Sync>;

/// A cloud that forwards to `inner`, then runs its hooks, and counts the actions asked of it.
pub(crate) struct Faulty {
    inner: Arc<dyn CloudInventory>,
    /// Awaited before each describe: a slow answer, which a timeout can cut short.
    slow_describe: Duration,
    after_describe: Hook,
    after_act: Hook,
    /// How many times `act` was called on this wrapper.
    pub(crate) acts: AtomicUsize,
}

impl Faulty {
    /// A wrapper that changes nothing yet.
    pub(crate) fn new(inner: Arc<dyn CloudInventory>) -> Faulty {
        Faulty {
            inner,
            slow_describe: Duration::ZERO,
            after_describe: Box::new(|_| Ok(())),
            after_act: Box::new(|_| Ok(())),
            acts: AtomicUsize::new(0),
        }
    }

    /// Describes answer only after `delay` (asynchronously, so a timeout can fire).
    pub(crate) fn slow_describe(self, delay: Duration) -> Faulty {
        Faulty { slow_describe: delay, ..self }
    }

    /// Runs `hook` after every describe.
    pub(crate) fn after_describe(
        self,
        hook: impl Fn(&ResourceRef) -> anyhow::Result<()> + Send + Sync + 'static,
    ) -> Faulty {
        Faulty { after_describe: Box::new(hook), ..self }
    }

    /// Runs `hook` after every action (the action itself has happened by then).
    pub(crate) fn after_act(self, hook: impl Fn(&ResourceRef) -> anyhow::Result<()> + Send + Sync + 'static) -> Faulty {
        Faulty { after_act: Box::new(hook), ..self }
    }
}

/// A hook that blocks the calling thread, as a paused or starved process would: no timeout
/// on that thread can fire until it returns.
pub(crate) fn stall(duration: Duration) -> impl Fn(&ResourceRef) -> anyhow::Result<()> + Send + Sync + 'static {
    move |_| {
        std::thread::sleep(duration);
        Ok(())
    }
}

#[async_trait]
impl CloudInventory for Faulty {
    async fn discover(&self, account: &AccountId, region: &str) -> anyhow::Result<Vec<Resource>> {
        self.inner.discover(account, region).await
    }
    async fn describe(&self, r: &ResourceRef) -> anyhow::Result<Option<Resource>> {
        tokio::time::sleep(self.slow_describe).await;
        let seen = self.inner.describe(r).await;
        (self.after_describe)(r)?;
        seen
    }
    async fn act(&self, r: &ResourceRef, action: Action, dry_run: bool) -> anyhow::Result<ActOutcome> {
        self.acts.fetch_add(1, Ordering::SeqCst);
        let outcome = self.inner.act(r, action, dry_run).await;
        (self.after_act)(r)?;
        outcome
    }
}
