//! One reminder before a pending proposal expires (issue 19, item 2): posted beside the card,
//! audited with it, and never more than one per proposal, however many replicas look.

use chrono::Duration;
use costbot::domain::proposal::State;
use costbot::domain::resource::SafetyPath;

use crate::approvals::{finding, instance, now, world};

#[sqlx::test(migrations = "migrations/postgres")]
async fn two_replicas_post_exactly_one_reminder_before_expiry(pool: sqlx::PgPool) {
    let w = world(pool, &[finding(instance("i-remind", "running", &[]), "70.08", SafetyPath::Normal)]).await;
    let p = w.only().await;
    assert_eq!(p.state, State::Pending);
    let lead = Some(Duration::hours(4));
    let replicas =
        [w.executor("replica-a", true).with_reminders(lead), w.executor("replica-b", true).with_reminders(lead)];
    let reminded = |audit: &[costbot::domain::audit::AuditEntry]| {
        audit.iter().filter(|e| e.record.action == "proposal_reminded").count()
    };

    // Too early: nothing.
    for r in &replicas {
        r.run_once(p.expires_at - Duration::hours(5)).await.unwrap();
    }
    assert_eq!(reminded(&w.store.audit_entries(0, 100).await.unwrap()), 0);

    // Inside the lead time, both replicas, several passes: one reminder, one record.
    for minutes in [0, 1, 30] {
        for r in &replicas {
            r.run_once(p.expires_at - Duration::hours(4) + Duration::minutes(minutes)).await.unwrap();
        }
    }
    let audit = w.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(reminded(&audit), 1, "one reminder however many replicas and passes");
    assert_eq!(w.only().await.version, p.version, "a reminder does not change the card's version");

    // The outbox holds the card and one reminder, each in the channel that shows the card.
    let mut threads = Vec::new();
    let far = now() + Duration::days(30);
    while let Some(d) = w.store.claim_delivery(far, Duration::seconds(60)).await.unwrap() {
        threads.push((d.channel.0.clone(), d.thread.clone(), costbot::render::text::plain(&d.message)));
        let sent = costbot::domain::outbox::DeliveryOutcome::Sent { message_id: format!("ts-{}", d.id) };
        w.store.finish_delivery(&d, &sent, far).await.unwrap();
    }
    let reminders: Vec<_> = threads.iter().filter(|(_, t, _)| t.ends_with("/reminder")).collect();
    assert_eq!(reminders.len(), 1, "{threads:?}");
    let (channel, _, text) = reminders[0];
    assert_eq!(channel, "C1", "the approvers' channel, where the card is");
    assert!(text.contains("expires at") && text.contains("with 0 of 1 approvals"), "{text}");

    // After expiry it is expired, not reminded again.
    for r in &replicas {
        r.run_once(p.expires_at + Duration::minutes(1)).await.unwrap();
    }
    let audit = w.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(reminded(&audit), 1);
    assert_eq!(w.only().await.state, State::Expired);
}
