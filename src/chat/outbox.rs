//! The outbox's types and its delivery worker.
//!
//! Messages that must go out (alerts, approval results) are written to the store first and
//! delivered from there: a crash or a chat outage delays them, never loses them. Each entry
//! belongs to a thread (the card about one thing in one channel); the first delivery posts
//! it, later ones edit the same message in place, and only the newest pending content of a
//! thread is sent. A thread's lease in the store keeps two replicas from sending it at once.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use chrono::{Duration, NaiveDateTime, Utc};

use crate::chat::{SendError, Sender};
use crate::domain::chat::{MessageRef, Platform};
use crate::domain::outbox::{reply_parent, Delivery, DeliveryOutcome, Finish};
use crate::store::OutboxStore;

/// How long a claimed thread stays locked if the worker dies mid-delivery.
pub const LEASE: Duration = Duration::seconds(60);
/// Attempts before an entry is given up on (about a day with the backoff below).
pub const MAX_ATTEMPTS: u32 = 12;

/// Exponential backoff: 5 s, 10 s, 20 s … capped at one hour; the platform's Retry-After wins
/// when it is longer.
pub fn backoff(attempts: u32, retry_after: Option<std::time::Duration>) -> Duration {
    let ours = Duration::seconds(5i64.saturating_mul(1i64 << attempts.min(10))).min(Duration::hours(1));
    let theirs = retry_after.and_then(|d| Duration::from_std(d).ok()).unwrap_or_else(Duration::zero);
    ours.max(theirs)
}

/// Delivers outbox entries through the platform senders.
#[derive(Clone)]
pub struct OutboxWorker {
    store: Arc<dyn OutboxStore>,
    senders: HashMap<Platform, Arc<dyn Sender>>,
    lease: Duration,
}

impl OutboxWorker {
    /// A worker with one sender per platform it can deliver to.
    pub fn new(store: Arc<dyn OutboxStore>, senders: HashMap<Platform, Arc<dyn Sender>>) -> OutboxWorker {
        OutboxWorker { store, senders, lease: LEASE }
    }

    /// The same worker with another thread lease (tests use seconds).
    pub fn with_lease(self, lease: Duration) -> OutboxWorker {
        OutboxWorker { lease, ..self }
    }

    /// Delivers everything that is due, one thread at a time, each claim at its own moment.
    /// Returns how many deliveries were attempted.
    pub async fn drain(&self) -> Result<usize> {
        self.drain_with(Utc::now).await
    }

    /// [`OutboxWorker::drain`] as if it were `now` (tests skip ahead past backoff with it).
    /// The thread leases still come from the database's clock.
    pub async fn drain_at(&self, now: NaiveDateTime) -> Result<usize> {
        self.drain_with(|| now.and_utc()).await
    }

    async fn drain_with(&self, clock: impl Fn() -> chrono::DateTime<Utc>) -> Result<usize> {
        let mut attempted = 0;
        while let Some(delivery) = self.store.claim_delivery(clock().naive_utc(), self.lease).await? {
            let now = clock().naive_utc();
            // A delivery may not outlive its lease, or another replica would send it too
            // (Slack's Retry-After sleeps happen inside the sender); half the lease leaves
            // the rest for recording the outcome.
            let within = (self.lease / 2).to_std().unwrap_or_default();
            let outcome = match tokio::time::timeout(within, self.deliver(&delivery, now)).await {
                Ok(outcome) => outcome,
                Err(_) => DeliveryOutcome::Retry {
                    at: now + backoff(delivery.attempts, None),
                    error: format!("delivery took longer than {within:?}; will check before posting again"),
                },
            };
            if let DeliveryOutcome::Failed { error } | DeliveryOutcome::Retry { error, .. } = &outcome {
                tracing::warn!(platform = delivery.platform.as_str(), channel = %delivery.channel, thread = %delivery.thread,
                    attempts = delivery.attempts + 1, %error, "chat delivery failed");
                crate::metrics::record_chat_error(
                    delivery.platform.as_str(),
                    if matches!(outcome, DeliveryOutcome::Retry { .. }) { "retry" } else { "failed" },
                );
            }
            if self.store.finish_delivery(&delivery, &outcome, clock().naive_utc()).await? == Finish::LeaseLost {
                // Another replica took the thread after this lease ran out; it delivers the
                // newest content itself, so this outcome is not recorded over its work.
                tracing::warn!(platform = delivery.platform.as_str(), channel = %delivery.channel, thread = %delivery.thread,
                    "the thread's lease ran out during delivery; another worker holds it now");
                crate::metrics::record_chat_error(delivery.platform.as_str(), "lease_lost");
            }
            attempted += 1;
        }
        Ok(attempted)
    }

    /// Posts a thread's first message, unless an earlier, interrupted post already made it: then
    /// that message is adopted and brought up to date instead.
    async fn post_once(&self, sender: &dyn Sender, d: &Delivery) -> Result<String, SendError> {
        // A reply waits for its parent: until the card is posted there is nothing to reply
        // to, and posting it on its own would leave it outside the thread. This comes first:
        // an attempt that waited posted nothing, so the next one must not go looking for a
        // post it might have made (it once adopted another conversation's copy of the reply).
        let parent = match reply_parent(&d.thread) {
            Some(parent) => {
                let posted = self.store.thread_message(d.platform, &d.channel, parent).await.map_err(|e| {
                    SendError::Retryable { reason: format!("cannot read the parent thread: {e:#}"), after: None }
                })?;
                let Some(id) = posted.filter(|id| !id.starts_with("file:")) else {
                    return Err(SendError::Retryable {
                        reason: format!("waiting for `{parent}` to be posted"),
                        after: None,
                    });
                };
                Some(MessageRef { channel: d.channel.clone(), id })
            }
            None => None,
        };
        if d.maybe_posted {
            if let Some(found) = sender.find_posted(&d.channel, &d.thread).await? {
                tracing::info!(channel = %d.channel, thread = %d.thread, "adopting a message an interrupted post made");
                sender.update(&found, &d.message).await?;
                return Ok(found.id);
            }
        }
        match parent {
            Some(parent) => sender.post_reply(&parent, &d.thread, &d.message).await.map(|r| r.id),
            None => sender.post_thread(&d.channel, &d.thread, &d.message).await.map(|r| r.id),
        }
    }

    async fn deliver(&self, d: &Delivery, now: NaiveDateTime) -> DeliveryOutcome {
        let Some(sender) = self.senders.get(&d.platform) else {
            return DeliveryOutcome::Failed { error: format!("{} is not configured", d.platform.as_str()) };
        };
        let result = match &d.posted {
            Some(id) => {
                let at = MessageRef { channel: d.channel.clone(), id: id.clone() };
                sender.update(&at, &d.message).await.map(|()| id.clone())
            }
            None => self.post_once(sender.as_ref(), d).await,
        };
        match result {
            Ok(message_id) => DeliveryOutcome::Sent { message_id },
            Err(SendError::Retryable { reason, after }) if d.attempts + 1 < MAX_ATTEMPTS => {
                DeliveryOutcome::Retry { at: now + backoff(d.attempts, after), error: reason }
            }
            Err(error) => DeliveryOutcome::Failed { error: error.to_string() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        assert_eq!(backoff(0, None), Duration::seconds(5));
        assert_eq!(backoff(3, None), Duration::seconds(40));
        assert_eq!(backoff(30, None), Duration::hours(1));
        assert_eq!(backoff(0, Some(std::time::Duration::from_secs(30))), Duration::seconds(30));
    }
}
