//! A worker killed with SIGKILL between acting and recording, against moto and Postgres: the
//! worker is a real second process (this test binary re-running this test with the worker's
//! environment), so nothing it held in memory survives, exactly as in a crash.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use costbot::app::App;
use costbot::domain::proposal::State;
use costbot::execution::{Executor, Timing};
use costbot::store::{PgStore, SchemaStore};

use crate::faults::Faulty;
use crate::support::Moto;
use crate::waste_flow::{config, discover_and_approve, ec2, launch, state};

const DB_ENV: &str = "COSTBOT_CRASH_DATABASE_URL";
const MOTO_ENV: &str = "COSTBOT_CRASH_MOTO_URL";
const MARKER_ENV: &str = "COSTBOT_CRASH_MARKER";

/// The doomed worker's claim lease: long enough that it confirms and acts well inside it.
const DOOMED_LEASE: chrono::Duration = chrono::Duration::seconds(8);

/// The worker that is killed: the test below, re-run by itself with the worker's environment.
/// It acts, writes the marker file and hangs until the SIGKILL.
async fn doomed_worker(url: String, moto: String, marker: String) -> ! {
    crate::support::init();
    let store = Arc::new(PgStore::connect(&url, 2).await.unwrap());
    let app = App::with_store(config(&moto, false), store, Utc::now().naive_utc()).await.unwrap();
    // After the action the worker writes a marker file and hangs, so the test can kill it
    // between `act` and recording the outcome.
    let cloud = Arc::new(Faulty::new(app.inventory.clone().unwrap()).after_act(move |_| {
        std::fs::write(&marker, "acted")?;
        std::thread::sleep(Duration::from_secs(600));
        Ok(())
    }));
    let channels = Arc::new(app.config.channels.clone());
    let worker = Executor::new(app.store.clone(), cloud, channels, false, "doomed".into())
        .with_timing(Timing::for_lease(DOOMED_LEASE));
    worker.run_once(Utc::now().naive_utc()).await.unwrap();
    unreachable!("the worker hangs after acting until it is killed");
}

#[tokio::test]
async fn kill_nine_between_act_and_finish_is_finished_from_the_real_state() {
    // The child process this test starts is this same test with the worker's environment.
    // It is a plain tokio test with a database of its own: a `sqlx::test` child would clean
    // up the test databases of the process that started it, the parent's included.
    if let (Ok(url), Ok(moto), Ok(marker)) = (std::env::var(DB_ENV), std::env::var(MOTO_ENV), std::env::var(MARKER_ENV))
    {
        doomed_worker(url, moto, marker).await;
    }
    let scratch = crate::scratch_db::ScratchDb::create("costbot_crash").await.unwrap();
    let pool = sqlx::PgPool::connect(&scratch.url).await.unwrap();
    PgStore::from_pool(pool.clone()).migrate().await.unwrap();
    kill_nine_and_recover(pool.clone(), &scratch.url).await;
    pool.close().await;
    scratch.drop().await.unwrap();
}

async fn kill_nine_and_recover(pool: sqlx::PgPool, url: &str) {
    let moto = Moto::start().await;
    let ec2 = ec2(&config(&moto.url, false)).await;
    let instance = launch(&ec2, &[("expires-at", "2020-01-01")]).await;
    let store = Arc::new(PgStore::from_pool(pool.clone()));
    let app = App::with_store(config(&moto.url, false), store, Utc::now().naive_utc()).await.unwrap();
    assert_eq!(discover_and_approve(&app).await, instance);

    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("acted");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::kill_nine_between_act_and_finish_is_finished_from_the_real_state",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB_ENV, url)
        .env(MOTO_ENV, &moto.url)
        .env(MARKER_ENV, &marker)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !marker.exists() {
        assert!(started.elapsed() < Duration::from_secs(120), "the doomed worker never acted");
        assert!(child.try_wait().unwrap().is_none(), "the doomed worker exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    assert!(["stopping", "stopped"].contains(&state(&ec2, &instance).await.as_str()), "the stop went through");
    let claimed = app.store.proposals_in(&["executing"]).await.unwrap().remove(0);
    let State::Executing { until, acting: true, ref by, .. } = claimed.state else { panic!("{claimed:?}") };
    assert_eq!(by, "doomed");
    // The restarted replica: recovery only after the deadline by the database's clock.
    let cloud = Arc::new(Faulty::new(app.inventory.clone().unwrap()));
    let channels = Arc::new(app.config.channels.clone());
    let restarted = Executor::new(app.store.clone(), cloud.clone(), channels, false, "restarted".into());
    assert_eq!(restarted.run_once(Utc::now().naive_utc()).await.unwrap(), 0, "nothing before the deadline");
    assert!(matches!(app.store.proposal(&claimed.id).await.unwrap().unwrap().state, State::Executing { .. }));
    while app.store.database_now().await.unwrap() <= until {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(restarted.run_once(Utc::now().naive_utc()).await.unwrap(), 1);

    assert_eq!(cloud.acts.load(Ordering::SeqCst), 0, "no second action");
    let done = app.store.proposal(&claimed.id).await.unwrap().unwrap();
    assert!(
        matches!(&done.state, State::Done { dry_run: false, outcome }
            if outcome.contains("completed before an interruption; the resource is stopp")),
        "{done:?}"
    );
    let audit = app.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(costbot::domain::audit::verify_chain(&audit), Ok(()));
    let done_records: Vec<_> = audit.iter().filter(|e| e.record.action == "execution_done").collect();
    assert_eq!(done_records.len(), 1, "{audit:?}");
    assert!(done_records[0].record.actor == "system:restarted" && done_records[0].record.detail.contains("recovered"));
}
