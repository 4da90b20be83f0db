//! The outbox posts each card once, against the fake Slack and a real Postgres: when the
//! connection drops after Slack accepted a post, when the worker "crashes" after the post
//! (a `Sender` test double that loses Slack's answer), and when a drain outlasts the thread
//! lease while another replica drains too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{Duration, NaiveDateTime, Utc};
use costbot::chat::outbox::OutboxWorker;
use costbot::chat::slack::api::SlackSender;
use costbot::chat::{FollowUp, Reply, SendError, Sender};
use costbot::domain::chat::message::Message;
use costbot::domain::chat::{ChannelId, MessageRef, Platform};
use costbot::domain::outbox::OutboxEntry;
use costbot::store::{DynStore, PgStore};
use secrecy::SecretString;

use crate::slack::fake::FakeSlack;

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn card(channel: &str, thread: &str, text: &str) -> OutboxEntry {
    OutboxEntry {
        platform: Platform::Slack,
        channel: ChannelId(channel.into()),
        thread: thread.into(),
        message: Message::plain(text),
        dedupe_key: format!("{channel}:{thread}:{text}"),
    }
}

fn slack(fake: &FakeSlack) -> Arc<SlackSender> {
    let sender = SlackSender::new(SecretString::from("xoxb-test"), Some(&fake.api_url())).unwrap();
    Arc::new(sender.with_retries(3, StdDuration::from_secs(1)))
}

fn worker(store: &DynStore, sender: Arc<dyn Sender>) -> OutboxWorker {
    OutboxWorker::new(store.clone(), HashMap::from([(Platform::Slack, sender)]))
}

/// A sender in front of another: waits before each post, and can lose the answer of the
/// first `lose` posts after they went through (as a worker that crashed right after posting).
struct Flaky {
    inner: Arc<dyn Sender>,
    delay: StdDuration,
    lose: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Sender for Flaky {
    async fn post(&self, channel: &ChannelId, message: &Message) -> Result<MessageRef, SendError> {
        self.inner.post(channel, message).await
    }
    async fn post_thread(&self, channel: &ChannelId, thread: &str, message: &Message) -> Result<MessageRef, SendError> {
        tokio::time::sleep(self.delay).await;
        let posted = self.inner.post_thread(channel, thread, message).await?;
        let lost =
            self.lose.fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |n| {
                n.checked_sub(1)
            });
        match lost {
            Ok(_) => {
                Err(SendError::Retryable { reason: "the worker died before recording the post".into(), after: None })
            }
            Err(_) => Ok(posted),
        }
    }
    async fn find_posted(&self, channel: &ChannelId, thread: &str) -> Result<Option<MessageRef>, SendError> {
        self.inner.find_posted(channel, thread).await
    }
    async fn update(&self, at: &MessageRef, message: &Message) -> Result<(), SendError> {
        self.inner.update(at, message).await
    }
    async fn follow_up(&self, to: &FollowUp, reply: &Reply) -> Result<(), SendError> {
        self.inner.follow_up(to, reply).await
    }
}

fn flaky(inner: Arc<dyn Sender>, delay: StdDuration, lose: usize) -> Arc<Flaky> {
    Arc::new(Flaky { inner, delay, lose: lose.into() })
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_connection_dropped_after_slack_accepted_the_post_is_not_posted_again(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    let fake = FakeSlack::start().await;
    fake.drop_after_accepting(1);
    store.enqueue(&[card("C1", "pr-1", "approve me")], now()).await.unwrap();
    assert_eq!(worker(&store, slack(&fake)).drain().await.unwrap(), 1);
    assert_eq!(fake.posted().len(), 1, "one card in the channel");
    assert_eq!(fake.posted()[0]["metadata"]["event_payload"]["thread"], "pr-1", "tagged with its thread");
    assert_eq!(fake.received("/api/conversations.history").len(), 1, "looked before posting again");
    assert_eq!(store.outbox_counts().await.unwrap().sent, 1);
    assert_eq!(
        store.thread_message(Platform::Slack, &ChannelId("C1".into()), "pr-1").await.unwrap().as_deref(),
        Some("1.2"),
        "the accepted message is the thread's"
    );
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_worker_that_died_after_slack_accepted_a_post_leaves_one_card(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    let fake = FakeSlack::start().await;
    store.enqueue(&[card("C1", "pr-2", "approve me")], now()).await.unwrap();
    // The first worker's post lands, but it never records it.
    worker(&store, flaky(slack(&fake), StdDuration::ZERO, 1)).drain().await.unwrap();
    assert_eq!((fake.posted().len(), store.outbox_counts().await.unwrap().sent), (1, 0));
    // A later attempt (another replica, after the backoff) finds the post and adopts it.
    worker(&store, slack(&fake)).drain_at(now() + Duration::minutes(5)).await.unwrap();
    assert_eq!(fake.posted().len(), 1, "no second card");
    assert_eq!(fake.received("/api/chat.update").len(), 1, "the adopted card is brought up to date");
    assert_eq!(store.outbox_counts().await.unwrap().sent, 1);
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_drain_longer_than_the_thread_lease_on_two_replicas_posts_each_card_once(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    let fake = FakeSlack::start().await;
    let cards: Vec<_> = (1..=3).map(|i| card(&format!("C{i}"), &format!("pr-{i}"), "approve me")).collect();
    store.enqueue(&cards, now()).await.unwrap();
    // Each post takes 0.8 s and the lease is 2 s, so replica A's drain (2.4 s) outlasts the
    // lease it took on the first card; replica B starts while A is posting the third.
    let lease = Duration::seconds(2);
    let slow = flaky(slack(&fake), StdDuration::from_millis(800), 0);
    let a = worker(&store, slow.clone()).with_lease(lease);
    let b = worker(&store, slow).with_lease(lease);
    let late_b = async {
        tokio::time::sleep(StdDuration::from_millis(2_100)).await;
        b.drain().await
    };
    let (ra, rb) = tokio::join!(a.drain(), late_b);
    assert_eq!(ra.unwrap() + rb.unwrap(), 3, "three deliveries in all");
    let mut threads: Vec<String> =
        fake.posted().iter().map(|p| p["metadata"]["event_payload"]["thread"].as_str().unwrap().to_string()).collect();
    threads.sort();
    assert_eq!(threads, ["pr-1", "pr-2", "pr-3"], "each card posted once");
}

/// The thread lease's holder check, on both stores.
mod lease {
    use costbot::domain::outbox::{DeliveryOutcome, Finish};
    use costbot::store::DynStore;

    use super::{card, now};

    crate::store_contract::contract!(a_stale_holder_cannot_release_another_holders_lease);

    async fn a_stale_holder_cannot_release_another_holders_lease(store: DynStore) {
        let entry = card("C1", "pr-1", "approve?");
        store.enqueue(std::slice::from_ref(&entry), now()).await.unwrap();
        let short = chrono::Duration::milliseconds(50);
        let stale = store.claim_delivery(now(), short).await.unwrap().expect("due");
        // The stale holder's lease runs out (by the database's clock) and another claim takes it.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let holder = store.claim_delivery(now(), costbot::chat::outbox::LEASE).await.unwrap().expect("taken over");
        assert_eq!((holder.id, holder.thread.as_str()), (stale.id, "pr-1"));
        assert_ne!(holder.lock, stale.lock, "each claim holds its own token");

        let late = DeliveryOutcome::Sent { message_id: "ts-stale".into() };
        assert_eq!(store.finish_delivery(&stale, &late, now()).await.unwrap(), Finish::LeaseLost);
        assert!(
            store.claim_delivery(now(), costbot::chat::outbox::LEASE).await.unwrap().is_none(),
            "the holder's lease still stands"
        );
        assert_eq!(store.outbox_counts().await.unwrap().pending, 1, "the stale outcome is not recorded");
        assert_eq!(
            store.thread_message(entry.platform, &entry.channel, "pr-1").await.unwrap().as_deref(),
            Some("ts-stale"),
            "a posted message's id is kept for a thread that had none"
        );

        let done = DeliveryOutcome::Sent { message_id: "ts-holder".into() };
        assert_eq!(store.finish_delivery(&holder, &done, now()).await.unwrap(), Finish::Recorded);
        let counts = store.outbox_counts().await.unwrap();
        assert_eq!((counts.pending, counts.sent), (0, 1));
        assert_eq!(
            store.thread_message(entry.platform, &entry.channel, "pr-1").await.unwrap().as_deref(),
            Some("ts-holder")
        );
        assert_eq!(
            store.finish_delivery(&holder, &done, now()).await.unwrap(),
            Finish::LeaseLost,
            "a released lease is not released twice"
        );
    }
}

/// A reply tried before its card is posted waits, and that try posted nothing: the next try
/// posts the reply under the card without searching the channel for an interrupted post
/// (which once found another conversation's copy of the reply and adopted it).
#[sqlx::test(migrations = "migrations/postgres")]
async fn a_reply_that_waited_for_its_card_is_posted_without_looking_for_itself(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    let fake = FakeSlack::start().await;
    fake.number_posts();
    let w = worker(&store, slack(&fake));
    store.enqueue(&[card("C1", "pr-1/reply/reminder", "reminder")], now()).await.unwrap();
    assert_eq!(w.drain_at(now()).await.unwrap(), 1, "tried once, waiting for the card");
    assert!(fake.posted().is_empty());
    store.enqueue(&[card("C1", "pr-1", "approve me")], now()).await.unwrap();
    for minutes in [1, 2] {
        w.drain_at(now() + Duration::minutes(minutes)).await.unwrap();
    }
    let posted = fake.posted();
    assert_eq!(posted.len(), 2, "the card, then the reply: {posted:#?}");
    assert_eq!(posted[1]["thread_ts"], "1700000000.000001", "the reply is under the card");
    assert!(fake.received("/api/conversations.history").is_empty(), "nothing to look for after a try that waited");
}
