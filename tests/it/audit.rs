//! The audit log refuses edits, and edits made around that refusal are found.

use std::process::Command;
use std::sync::Arc;

use chrono::NaiveDateTime;
use costbot::domain::audit::{verify_chain, AuditRecord, ChainError};
use costbot::store::{DynStore, PgStore, SqliteStore};

fn record(action: &str) -> AuditRecord {
    AuditRecord {
        at: "2026-11-25T10:00:00.123456789".parse::<NaiveDateTime>().unwrap(),
        actor: "slack:U1".into(),
        action: action.into(),
        target: "pr-1".into(),
        channel: Some("C1".into()),
        detail: r#"{"why":"test"}"#.into(),
    }
}

async fn append_three(store: &DynStore) {
    for action in ["proposal_created", "click_refused", "approved"] {
        store.append_audit(&record(action)).await.unwrap();
    }
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn postgres_refuses_update_delete_and_truncate(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool.clone()));
    append_three(&store).await;
    assert_eq!(verify_chain(&store.audit_entries(0, 10).await.unwrap()), Ok(()));
    for sql in
        ["UPDATE audit_log SET actor = 'x' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 3", "TRUNCATE audit_log"]
    {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn sqlite_refuses_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.sqlite");
    let store: DynStore = Arc::new(SqliteStore::open(&path).await.unwrap());
    append_three(&store).await;
    assert_eq!(verify_chain(&store.audit_entries(0, 10).await.unwrap()), Ok(()));
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    for sql in ["UPDATE audit_log SET actor = 'x' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 3"] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn a_tampered_row_is_found_by_audit_verify(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool.clone()));
    append_three(&store).await;
    // Someone with superuser rights goes around the triggers.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *tx).await.unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'slack:UMALLORY' WHERE seq = 2").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(verify_chain(&store.audit_entries(0, 10).await.unwrap()), Err(ChainError::Content { seq: 2 }));

    let url = url_of(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| costbot(dir.path(), &url, args);
    let verify = run(&["audit", "verify"]);
    let text = String::from_utf8_lossy(&verify.stderr);
    assert!(!verify.status.success() && text.contains("entry 2"), "{text}");
    let export = run(&["audit", "export", "--format", "csv"]);
    let csv = String::from_utf8_lossy(&export.stdout);
    assert!(export.status.success() && csv.lines().count() == 4 && csv.contains("slack:UMALLORY"), "{csv}");
}

/// The database URL of a `#[sqlx::test]` pool's own database.
pub(crate) async fn url_of(pool: &sqlx::PgPool) -> String {
    let db: String = sqlx::query_scalar("SELECT current_database()").fetch_one(pool).await.unwrap();
    let base = std::env::var("DATABASE_URL").unwrap();
    format!("{}/{db}", base.rsplit_once('/').unwrap().0)
}

fn costbot(dir: &std::path::Path, url: &str, args: &[&str]) -> std::process::Output {
    std::fs::write(dir.join("c.toml"), "[anomaly]\nenabled = true\n").unwrap();
    Command::new(env!("CARGO_BIN_EXE_costbot"))
        .args(["--config", "c.toml"])
        .args(args)
        .current_dir(dir)
        .env("COSTBOT_DATABASE__URL", url)
        .output()
        .unwrap()
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn cutting_the_end_of_the_log_fails_verify_against_the_checkpoint(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool.clone()));
    append_three(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let url = url_of(&pool).await;
    let verify = costbot(dir.path(), &url, &["audit", "verify"]);
    let out = String::from_utf8_lossy(&verify.stdout).to_string();
    let head = store.audit_head().await.unwrap().unwrap();
    assert!(verify.status.success() && out.contains(&format!("head {head}")), "{out}");

    // Someone with superuser rights removes the last two entries around the triggers.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *tx).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq >= 2").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let plain = costbot(dir.path(), &url, &["audit", "verify"]);
    assert!(plain.status.success(), "a cut chain is still a chain: without the checkpoint it passes");
    let checked = costbot(dir.path(), &url, &["audit", "verify", "--head", &head.to_string()]);
    let err = String::from_utf8_lossy(&checked.stderr);
    assert!(!checked.status.success() && err.contains(&format!("checkpoint {head}")) && err.contains("cut"), "{err}");
    let bad = costbot(dir.path(), &url, &["audit", "verify", "--head", "3:nothex"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("SHA-256"));
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn concurrent_appends_on_postgres_form_one_numbered_chain(pool: sqlx::PgPool) {
    let store: DynStore = Arc::new(PgStore::from_pool(pool));
    concurrent_appends(&store).await;
}

#[tokio::test]
async fn concurrent_appends_on_sqlite_form_one_numbered_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store: DynStore = Arc::new(SqliteStore::open(&dir.path().join("a.sqlite")).await.unwrap());
    concurrent_appends(&store).await;
}

/// Twenty appends at once (where the old store retried up to eight times and then gave up):
/// every one lands, numbered 1..=20 without gaps, in one verifiable chain.
async fn concurrent_appends(store: &DynStore) {
    let appends = (0..20).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.append_audit(&record(&format!("a{i}"))).await })
    });
    for append in futures::future::join_all(appends).await {
        append.unwrap().unwrap();
    }
    let entries = store.all_audit_entries().await.unwrap();
    assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=20).collect::<Vec<_>>());
    assert!(entries.iter().all(|e| e.hash_version == costbot::domain::audit::HASH_VERSION));
    assert_eq!(verify_chain(&entries), Ok(()));
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn the_runtime_role_can_append_but_not_edit_cut_or_unprotect_the_log(pool: sqlx::PgPool) {
    // Roles are shared by the whole cluster; one per test database keeps tests apart.
    let db: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&pool).await.unwrap();
    let role = format!("costbot_runtime_{db}").to_lowercase();
    sqlx::raw_sql(&format!("CREATE ROLE {role} LOGIN PASSWORD 'runtime'")).execute(&pool).await.unwrap();
    let grants = std::fs::read_to_string("deploy/postgres/grants.sql").unwrap().replace("costbot_runtime", &role);
    sqlx::raw_sql(&grants).execute(&pool).await.unwrap();

    let options = (*pool.connect_options()).clone().username(&role).password("runtime");
    let runtime = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
    let store: DynStore = Arc::new(PgStore::from_pool(runtime.clone()));
    append_three(&store).await;
    assert_eq!(verify_chain(&store.audit_entries(0, 10).await.unwrap()), Ok(()), "serve's appends work");
    assert!(store.migration_status().await.unwrap().pending.is_empty(), "/readyz can read the migrations");
    for sql in [
        "UPDATE audit_log SET actor = 'x' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 3",
        "TRUNCATE audit_log",
        "DROP TABLE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete",
        "DROP TRIGGER audit_log_no_truncate ON audit_log",
        "DROP FUNCTION audit_log_is_append_only() CASCADE",
        "SET session_replication_role = replica",
    ] {
        let err = sqlx::raw_sql(sql).execute(&runtime).await.unwrap_err().to_string();
        assert!(err.contains("permission denied") || err.contains("must be owner"), "{sql}: {err}");
    }
    assert_eq!(store.audit_entries(0, 10).await.unwrap().len(), 3, "nothing changed");
    runtime.close().await;
    sqlx::raw_sql(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).execute(&pool).await.unwrap();
}
