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

    let db: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&pool).await.unwrap();
    let base = std::env::var("DATABASE_URL").unwrap();
    let url = format!("{}/{db}", base.rsplit_once('/').unwrap().0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "[anomaly]\nenabled = true\n").unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_costbot"))
            .args(["--config", "c.toml"])
            .args(args)
            .current_dir(dir.path())
            .env("COSTBOT_DATABASE__URL", &url)
            .output()
            .unwrap()
    };
    let verify = run(&["audit", "verify"]);
    let text = String::from_utf8_lossy(&verify.stderr);
    assert!(!verify.status.success() && text.contains("entry 2"), "{text}");
    let export = run(&["audit", "export", "--format", "csv"]);
    let csv = String::from_utf8_lossy(&export.stdout);
    assert!(export.status.success() && csv.lines().count() == 4 && csv.contains("slack:UMALLORY"), "{csv}");
}
