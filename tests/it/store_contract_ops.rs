//! The store contract's operational half: migrations, console messages, leases, proposal
//! changes with their audit records, replay windows, sessions and the audit checkpoint. The
//! cost, run and anomaly half is in `store_contract`; both run every case on both stores.

use crate::store_contract::at;
use chrono::NaiveDateTime;
use costbot::store::DynStore;

crate::store_contract::contract!(
    a_migrated_store_has_nothing_pending,
    console_messages_are_ordered_scoped_and_edited,
    one_holder_leads_and_its_term_fences_claims,
    an_expired_lease_changes_hands_with_a_new_term,
    operational_counts_start_empty,
    a_proposal_change_commits_with_its_audit_record_and_cards_or_not_at_all,
    a_signed_request_is_seen_once_until_its_window_ends,
    sessions_expire_and_are_revoked,
    the_audit_checkpoint_only_moves_forward,
);

async fn a_migrated_store_has_nothing_pending(store: DynStore) {
    let status = store.migration_status().await.unwrap();
    assert!(status.embedded >= 8, "{status:?}");
    assert_eq!(status.applied, status.embedded, "{status:?}");
    assert!(status.pending.is_empty() && status.failed.is_empty() && status.unknown.is_empty(), "{status:?}");
}

async fn console_messages_are_ordered_scoped_and_edited(store: DynStore) {
    use costbot::domain::chat::message::Message;
    use costbot::domain::chat::ChannelId;
    use costbot::domain::chat::UserId;
    use costbot::domain::console::ConsolePost;
    let (demo, other) = (ChannelId("demo".into()), ChannelId("other".into()));
    let (ana, bob) = (UserId("ana".into()), UserId("bob".into()));
    let post = |channel: &ChannelId, author: Option<&UserId>, visible_to: Option<&UserId>, text: &str| ConsolePost {
        channel: channel.clone(),
        author: author.cloned(),
        visible_to: visible_to.cloned(),
        message: Message::plain(text),
    };
    let t = at("2026-11-02") + chrono::Duration::microseconds(123_456);
    let public = store.post_console_message(&post(&demo, None, None, "an alert"), t).await.unwrap();
    let mine = store.post_console_message(&post(&demo, Some(&ana), Some(&ana), "/cost help"), t).await.unwrap();
    let elsewhere = store.post_console_message(&post(&other, None, None, "elsewhere"), t).await.unwrap();
    assert!(public.seq < mine.seq && mine.seq < elsewhere.seq, "changes are numbered in order");
    assert_eq!(store.console_message(public.id).await.unwrap().as_ref(), Some(&public), "read back exactly");

    assert_eq!(store.console_messages(&demo, &ana, 0, 100).await.unwrap(), vec![public.clone(), mine.clone()]);
    assert_eq!(
        store.console_messages(&demo, &bob, 0, 100).await.unwrap(),
        vec![public.clone()],
        "a reply only for ana"
    );
    assert_eq!(
        store.console_messages(&demo, &ana, 0, 1).await.unwrap(),
        vec![mine.clone()],
        "the newest changes when cut"
    );

    let later = t + chrono::Duration::seconds(5);
    assert!(
        !store.update_console_message(&other, public.id, &Message::plain("x"), later).await.unwrap(),
        "not in that channel"
    );
    assert!(!store.update_console_message(&demo, 999_999, &Message::plain("x"), later).await.unwrap());
    assert!(store
        .update_console_message(&demo, public.id, &Message::plain("the alert, resolved"), later)
        .await
        .unwrap());
    let changes = store.console_messages(&demo, &bob, mine.seq, 100).await.unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let edited = &changes[0];
    assert_eq!((edited.id, edited.message.fallback.as_str()), (public.id, "the alert, resolved"));
    assert!(
        edited.seq > elsewhere.seq && edited.updated_at == later && edited.posted_at == public.posted_at,
        "{edited:?}"
    );
    assert!(store.console_messages(&demo, &bob, edited.seq, 100).await.unwrap().is_empty());
}

// Leadership leases (scale).

const LEADER: &str = costbot::leadership::LEADER_LEASE;

async fn one_holder_leads_and_its_term_fences_claims(store: DynStore) {
    use std::time::Duration;
    let ttl = Duration::from_secs(30);
    let answers = futures::future::join_all((0..8).map(|i| {
        let store = store.clone();
        async move { store.acquire_lease(LEADER, &format!("replica-{i}"), ttl).await.unwrap() }
    }))
    .await;
    let winners: Vec<_> = answers.iter().flatten().collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    let lease = winners[0].clone();
    assert_eq!(lease.term, 1);
    assert!(lease.expires_at > lease.acquired_at);
    let other = if lease.holder == "replica-0" { "replica-1" } else { "replica-0" };

    // Renewing keeps the term and the acquisition time and moves the expiry on.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let renewed = store.acquire_lease(LEADER, &lease.holder, ttl).await.unwrap().expect("the holder renews");
    assert_eq!((renewed.term, renewed.acquired_at), (lease.term, lease.acquired_at));
    assert!(renewed.expires_at > lease.expires_at, "{renewed:?} vs {lease:?}");
    assert!(store.acquire_lease(LEADER, other, ttl).await.unwrap().is_none(), "a live lease is not taken");
    assert_eq!(store.live_lease(LEADER).await.unwrap().map(|l| l.holder), Some(lease.holder.clone()));

    // Only the holder, in its term, claims ticks; a stale term or another replica claims nothing.
    let tick = at("2026-11-03");
    assert!(!store.claim_tick_as_leader("collect-costs", tick, other, LEADER, lease.term).await.unwrap());
    assert!(!store.claim_tick_as_leader("collect-costs", tick, &lease.holder, LEADER, lease.term + 1).await.unwrap());
    assert!(store.claim_tick_as_leader("collect-costs", tick, &lease.holder, LEADER, lease.term).await.unwrap());
    assert!(
        !store.claim_tick_as_leader("collect-costs", tick, &lease.holder, LEADER, lease.term).await.unwrap(),
        "once per tick"
    );

    // Releasing hands over at once: the next replica gets the next term, and the old holder's
    // claims stop working.
    assert!(!store.release_lease(LEADER, other).await.unwrap(), "only the holder releases");
    assert!(store.release_lease(LEADER, &lease.holder).await.unwrap());
    assert!(store.live_lease(LEADER).await.unwrap().is_none());
    let next = store.acquire_lease(LEADER, other, ttl).await.unwrap().expect("a released lease is free");
    assert_eq!((next.holder.as_str(), next.term), (other, lease.term + 1));
    let later = at("2026-11-04");
    assert!(!store.claim_tick_as_leader("collect-costs", later, &lease.holder, LEADER, lease.term).await.unwrap());
    assert!(store.claim_tick_as_leader("collect-costs", later, other, LEADER, next.term).await.unwrap());
}

async fn an_expired_lease_changes_hands_with_a_new_term(store: DynStore) {
    use std::time::Duration;
    let first = store.acquire_lease(LEADER, "replica-a", Duration::from_millis(200)).await.unwrap().unwrap();
    assert!(store.acquire_lease(LEADER, "replica-b", Duration::from_secs(30)).await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(store.live_lease(LEADER).await.unwrap().is_none(), "expired");
    assert!(!store
        .claim_tick_as_leader("collect-costs", at("2026-11-03"), "replica-a", LEADER, first.term)
        .await
        .unwrap());
    let second = store
        .acquire_lease(LEADER, "replica-b", Duration::from_secs(30))
        .await
        .unwrap()
        .expect("an expired lease is free");
    assert_eq!((second.holder.as_str(), second.term), ("replica-b", first.term + 1));
    assert!(second.acquired_at >= first.expires_at, "the new term starts after the old one ended");
    assert!(
        store.acquire_lease(LEADER, "replica-a", Duration::from_secs(30)).await.unwrap().is_none(),
        "the old holder cannot renew"
    );
    assert!(!store.release_lease(LEADER, "replica-a").await.unwrap());
}

async fn operational_counts_start_empty(store: DynStore) {
    let counts = store.operational_counts().await.unwrap();
    assert_eq!(counts, costbot::store::OperationalCounts::default());
}

async fn a_proposal_change_commits_with_its_audit_record_and_cards_or_not_at_all(store: DynStore) {
    use costbot::domain::proposal::{Proposal, State};
    use costbot::domain::resource::SafetyPath;
    use costbot::store::ProposalChange;
    let config = costbot::config::Config::from_toml(crate::approvals::CHANNELS).unwrap();
    let now = crate::approvals::now();
    let finding =
        crate::approvals::finding(crate::approvals::instance("i-c", "running", &[]), "70.08", SafetyPath::Normal);
    let p = Proposal::new(finding, &config.approvals.rules(), now).unwrap();
    assert!(store.insert_proposal(&p).await.unwrap());
    let next = p.with_state(State::Withdrawn, now);
    let audit = costbot::domain::audit::AuditRecord {
        at: now,
        actor: "system:test".into(),
        action: "proposal_withdrawn".into(),
        target: p.id.0.clone(),
        channel: None,
        detail: "{}".into(),
    };
    let cards = costbot::proposals::card_entries(&next, &config.channels, now);
    assert_eq!(cards.len(), 1);
    let change = ProposalChange { next: &next, from_version: p.version, audit, cards, now };
    let entry = store.change_proposal(&change).await.unwrap().expect("the first change wins");
    assert_eq!((entry.seq, store.proposal(&p.id).await.unwrap().unwrap().state), (1, State::Withdrawn));
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
    // The same change again is a lost race: nothing is written, the audit record included.
    assert!(store.change_proposal(&change).await.unwrap().is_none());
    assert_eq!(store.audit_entries(0, 10).await.unwrap().len(), 1);
    assert_eq!(store.audit_head().await.unwrap(), Some(entry.checkpoint()));
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
    // Claims compare against the database's clock; it agrees with this machine's.
    let skew = store.database_now().await.unwrap() - chrono::Utc::now().naive_utc();
    assert!(skew.num_seconds().abs() < 60, "{skew}");
}

fn moment(text: &str) -> NaiveDateTime {
    text.parse().unwrap()
}

async fn a_signed_request_is_seen_once_until_its_window_ends(store: DynStore) {
    let (now, later) = (moment("2026-11-25T10:00:00"), moment("2026-11-25T10:05:00"));
    assert!(store.first_sighting("slack:v0=abc", now, later).await.unwrap());
    assert!(!store.first_sighting("slack:v0=abc", now, later).await.unwrap(), "a replay");
    assert!(store.first_sighting("discord:123", now, later).await.unwrap(), "keys are independent");
    assert!(
        store.first_sighting("slack:v0=abc", later, moment("2026-11-25T10:10:00")).await.unwrap(),
        "forgotten after"
    );
    assert!(
        !store.first_sighting("slack:v0=abc", later, moment("2026-11-25T10:10:00")).await.unwrap(),
        "a replay of the key claimed again"
    );
}

async fn sessions_expire_and_are_revoked(store: DynStore) {
    use costbot::store::WebSession;
    let session = WebSession {
        id_hash: "h1".into(),
        user: "ana".into(),
        created_at: moment("2026-11-25T10:00:00"),
        expires_at: moment("2026-11-25T18:00:00"),
    };
    store.create_session(&session).await.unwrap();
    assert_eq!(store.live_session("h1", moment("2026-11-25T12:00:00")).await.unwrap(), Some(session.clone()));
    assert_eq!(store.live_session("h1", moment("2026-11-25T18:00:00")).await.unwrap(), None, "expired");
    assert_eq!(store.live_session("h2", moment("2026-11-25T12:00:00")).await.unwrap(), None, "unknown");
    store.revoke_session("h1").await.unwrap();
    assert_eq!(store.live_session("h1", moment("2026-11-25T12:00:00")).await.unwrap(), None, "revoked");
}

async fn the_audit_checkpoint_only_moves_forward(store: DynStore) {
    use costbot::store::AuditCheckpoint;
    assert_eq!(store.audit_checkpoint().await.unwrap(), None);
    let at5 = AuditCheckpoint { seq: 5, hash: "h5".into(), verified_at: moment("2026-11-25T10:00:00") };
    store.save_audit_checkpoint(&at5).await.unwrap();
    let at3 = AuditCheckpoint { seq: 3, hash: "h3".into(), verified_at: moment("2026-11-25T11:00:00") };
    store.save_audit_checkpoint(&at3).await.unwrap();
    assert_eq!(store.audit_checkpoint().await.unwrap(), Some(at5));
}
