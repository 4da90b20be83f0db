//! Stored JSON written before record versions existed (the rows of every costbot before
//! migration 0012) still reads, on both stores: a proposal, a console message and an outbox
//! entry, inserted with raw SQL exactly as the previous code wrote them, come back through the
//! store as the same values. Migration 0012 stamps such rows with `"v": 1`; a row from a newer
//! record version is refused with a clear error instead of being misread.

use std::borrow::Cow;

use chrono::NaiveDateTime;
use costbot::domain::chat::message::{
    ActionRef, Attachment, Block, Button, ButtonStyle, Confirm, Message, Span, Tone, Verb,
};
use costbot::domain::chat::{ChannelId, UserId};
use costbot::domain::proposal::{Approval, Proposal, ProposalId, State};
use costbot::domain::resource::{Action, Activity, Resource, ResourceKind, ResourceRef, SafetyPath, WasteFinding};
use costbot::domain::{AccountId, Money};
use costbot::store::{DynStore, PgStore, ProposalStore, SqliteStore};
use sqlx::migrate::Migrator;

/// A proposal row's `record` as the previous release wrote it: `serde_json::to_string` of the
/// domain `Proposal` that [`expected_proposal`] builds (checked equal when this test was
/// written; the domain type may change since, which is the point).
const PROPOSAL_RECORD: &str = r#"{"id":"pr-0abc","version":2,"finding":{"resource":{"reference":{"account":"123456789012","region":"us-east-1","kind":"ec2_instance","id":"i-0abc"},"state":"stopped","tags":{"Name":"old-build"},"created_at":"2026-09-01T08:00:00","state_since":"2026-10-01T09:30:00","size_class":"m5.large","storage_gib":null,"monthly_cost":"70.08","dependencies":["in Auto Scaling group web"],"activity":{"days":14,"max_cpu_percent":1.5,"network_bytes":1024,"max_db_connections":null}},"rule":"stopped_instance","evidence":"stopped since 2026-10-01","monthly_saving":"70.08","action":"terminate_instance","path":{"path":"strict","reason":"has dependencies"}},"required_approvals":2,"approvals":[{"by":"slack:U1","at":"2026-11-20T10:00:00"}],"state":{"state":"snoozed","by":"slack:U2","until":"2026-11-27T10:00:00"},"created_at":"2026-11-19T10:00:00","expires_at":"2026-12-03T10:00:00","updated_at":"2026-11-20T10:00:00"}"#;

/// A console or outbox row's `message` as the previous release wrote it: `serde_json::to_string`
/// of [`expected_message`] (checked likewise), with every kind of block and span, a button with
/// a confirmation, and an attachment.
const MESSAGE: &str = r#"{"fallback":"Approve?","blocks":[{"type":"header","text":"Idle instance"},{"type":"text","spans":[{"kind":"plain","text":"Stop "},{"kind":"code","text":"i-0abc"},{"kind":"link","text":["https://example.test/x","details"]}]},{"type":"fields","fields":[["Saving","$70.08"]]},{"type":"table","columns":["Service","Cost"],"right_align":[false,true],"rows":[["EC2","$1.00"]]},{"type":"context","spans":[{"kind":"bold","text":"estimated"}]},{"type":"divider"},{"type":"actions","buttons":[{"label":"Approve","action":{"verb":"approve","target":"pr-0abc","version":2},"style":"danger","confirm":{"title":"Sure?","text":"It stops.","confirm":"Stop","deny":"Cancel"}}]}],"tone":"warning","attachments":[{"name":"c.png","alt":"▁▃█","png":"iVBORwD/"}]}"#;

fn at(text: &str) -> NaiveDateTime {
    text.parse().unwrap()
}

fn expected_proposal() -> Proposal {
    let money = |t: &str| Some(Money::parse(t).unwrap());
    let resource = Resource {
        reference: ResourceRef {
            account: AccountId::parse("123456789012").unwrap(),
            region: "us-east-1".into(),
            kind: ResourceKind::Ec2Instance,
            id: "i-0abc".into(),
        },
        state: "stopped".into(),
        tags: [("Name".to_string(), "old-build".to_string())].into(),
        created_at: Some(at("2026-09-01T08:00:00")),
        state_since: Some(at("2026-10-01T09:30:00")),
        size_class: Some("m5.large".into()),
        storage_gib: None,
        monthly_cost: money("70.08"),
        dependencies: vec!["in Auto Scaling group web".into()],
        activity: Some(Activity {
            days: 14,
            max_cpu_percent: Some(1.5),
            network_bytes: Some(1024),
            max_db_connections: None,
            ..Activity::default()
        }),
    };
    Proposal {
        id: ProposalId("pr-0abc".into()),
        version: 2,
        finding: WasteFinding {
            resource,
            rule: "stopped_instance".into(),
            evidence: "stopped since 2026-10-01".into(),
            monthly_saving: money("70.08"),
            action: Action::TerminateInstance,
            path: SafetyPath::Strict { reason: "has dependencies".into() },
        },
        required_approvals: 2,
        approvals: vec![Approval { by: "slack:U1".into(), at: at("2026-11-20T10:00:00") }],
        state: State::Snoozed { by: "slack:U2".into(), until: at("2026-11-27T10:00:00") },
        created_at: at("2026-11-19T10:00:00"),
        expires_at: at("2026-12-03T10:00:00"),
        updated_at: at("2026-11-20T10:00:00"),
        earlier_dry_run: false,
        owner: None,
    }
}

fn expected_message() -> Message {
    let plain = |t: &str| Span::Plain(t.into());
    Message {
        fallback: "Approve?".into(),
        blocks: vec![
            Block::Header { text: "Idle instance".into() },
            Block::Text {
                spans: vec![
                    plain("Stop "),
                    Span::Code("i-0abc".into()),
                    Span::Link(("https://example.test/x".into(), "details".into())),
                ],
            },
            Block::Fields { fields: vec![("Saving".into(), "$70.08".into())] },
            Block::Table {
                columns: vec!["Service".into(), "Cost".into()],
                right_align: vec![false, true],
                rows: vec![vec!["EC2".into(), "$1.00".into()]],
            },
            Block::Context { spans: vec![Span::Bold("estimated".into())] },
            Block::Divider,
            Block::Actions {
                buttons: vec![Button {
                    label: "Approve".into(),
                    action: ActionRef { verb: Verb::Approve, target: "pr-0abc".into(), version: 2 },
                    style: ButtonStyle::Danger,
                    confirm: Some(Confirm {
                        title: "Sure?".into(),
                        text: "It stops.".into(),
                        confirm: "Stop".into(),
                        deny: "Cancel".into(),
                    }),
                }],
            },
        ],
        tone: Tone::Warning,
        attachments: vec![Attachment {
            name: "c.png".into(),
            alt: "▁▃█".into(),
            png: vec![0x89, b'P', b'N', b'G', 0, 255],
        }],
    }
}

/// The migrations before record versions, to build a database as the previous release left it.
fn before_versions(all: &Migrator) -> Migrator {
    Migrator { migrations: Cow::Owned(all.iter().filter(|m| m.version < 12).cloned().collect()), ..Migrator::DEFAULT }
}

/// Inserts one proposal, one console message and one pending outbox entry with raw SQL, the
/// same statements for both dialects.
macro_rules! insert_rows {
    ($pool:expr, $proposal:expr, $message:expr) => {{
        let pool = $pool;
        let t = at("2026-11-20T10:00:00");
        sqlx::query(
            "INSERT INTO proposals (id, version, state, account_id, resource_id, record, updated_at)
             VALUES ('pr-0abc', 2, 'snoozed', '123456789012', 'i-0abc', $1, $2)",
        )
        .bind($proposal)
        .bind(t)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO console_messages (channel_id, author, visible_to, message, seq, posted_at, updated_at)
             VALUES ('C1', NULL, 'U9', $1, 1, $2, $2)",
        )
        .bind($message)
        .bind(t)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query("UPDATE console_seq SET value = 1").execute(pool).await.unwrap();
        sqlx::query("INSERT INTO chat_threads (platform, channel_id, thread_key) VALUES ('console', 'C1', 'pr-0abc')")
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO outbox
                 (dedupe_key, platform, channel_id, thread_key, message, status, next_attempt_at, created_at)
             VALUES ('card:pr-0abc:v2', 'console', 'C1', 'pr-0abc', $1, 'pending', $2, $2)",
        )
        .bind($message)
        .bind(t)
        .execute(pool)
        .await
        .unwrap();
    }};
}

/// Reads the three rows back through the store and compares them with what was written.
async fn reads_back(store: DynStore) {
    let id = ProposalId("pr-0abc".into());
    assert_eq!(store.proposal(&id).await.unwrap(), Some(expected_proposal()));
    assert_eq!(store.proposals_in(&["snoozed"]).await.unwrap(), vec![expected_proposal()]);

    let console = store.console_messages(&ChannelId("C1".into()), &UserId("U9".into()), 0, 10).await.unwrap();
    assert_eq!(console.len(), 1);
    assert_eq!(console[0].message, expected_message());

    let now = at("2026-11-20T10:00:01");
    let delivery = store.claim_delivery(now, chrono::Duration::seconds(60)).await.unwrap().expect("the entry is due");
    assert_eq!(delivery.message, expected_message());
}

#[sqlx::test(migrations = false)]
async fn rows_from_before_record_versions_read_after_the_migration_on_postgres(pool: sqlx::PgPool) {
    before_versions(&PgStore::MIGRATOR).run(&pool).await.unwrap();
    insert_rows!(&pool, PROPOSAL_RECORD, MESSAGE);
    PgStore::MIGRATOR.run(&pool).await.unwrap();
    let versions: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT record::jsonb ->> 'v' FROM proposals UNION ALL SELECT message::jsonb ->> 'v' FROM console_messages
         UNION ALL SELECT message::jsonb ->> 'v' FROM outbox",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(versions, vec![Some("1".to_string()); 3], "0012 stamps every old row with its version");
    reads_back(std::sync::Arc::new(PgStore::from_pool(pool))).await;
}

async fn sqlite_pool() -> sqlx::SqlitePool {
    // One connection: every connection to ":memory:" would be a different database.
    sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap()
}

#[tokio::test]
async fn rows_from_before_record_versions_read_after_the_migration_on_sqlite() {
    let pool = sqlite_pool().await;
    before_versions(&SqliteStore::MIGRATOR).run(&pool).await.unwrap();
    insert_rows!(&pool, PROPOSAL_RECORD, MESSAGE);
    SqliteStore::MIGRATOR.run(&pool).await.unwrap();
    let versions: Vec<Option<i64>> = sqlx::query_scalar(
        "SELECT json_extract(record, '$.v') FROM proposals
         UNION ALL SELECT json_extract(message, '$.v') FROM console_messages
         UNION ALL SELECT json_extract(message, '$.v') FROM outbox",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(versions, vec![Some(1); 3], "0012 stamps every old row with its version");
    reads_back(std::sync::Arc::new(SqliteStore::from_pool(pool))).await;
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn rows_without_a_version_written_after_the_migration_still_read_on_postgres(pool: sqlx::PgPool) {
    // A replica still on the previous release keeps writing unversioned rows during a rolling
    // upgrade.
    insert_rows!(&pool, PROPOSAL_RECORD, MESSAGE);
    reads_back(std::sync::Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn rows_without_a_version_written_after_the_migration_still_read_on_sqlite() {
    let store = SqliteStore::in_memory().await.unwrap();
    insert_rows!(store.pool(), PROPOSAL_RECORD, MESSAGE);
    reads_back(std::sync::Arc::new(store)).await;
}

#[tokio::test]
async fn new_rows_carry_their_version_and_a_newer_version_is_refused() {
    let store = SqliteStore::in_memory().await.unwrap();
    let proposal = Proposal { id: ProposalId("pr-0new".into()), ..expected_proposal() };
    assert!(store.insert_proposal(&proposal).await.unwrap());
    let record: String =
        sqlx::query_scalar("SELECT record FROM proposals WHERE id = 'pr-0new'").fetch_one(store.pool()).await.unwrap();
    assert!(record.starts_with(r#"{"v":1,"#), "{record}");
    assert_eq!(store.proposal(&proposal.id).await.unwrap(), Some(proposal));

    let newer = PROPOSAL_RECORD.replacen('{', r#"{"v":2,"#, 1);
    insert_rows!(store.pool(), newer.as_str(), MESSAGE);
    let error = store.proposal(&ProposalId("pr-0abc".into())).await.unwrap_err();
    assert!(format!("{error:#}").contains("record version 2"), "{error:#}");
}
