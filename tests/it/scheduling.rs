//! Two replicas on one Postgres database: each scheduled tick is collected once.

use std::sync::Arc;
use std::time::Duration;

use costbot::app::App;
use costbot::config::Config;
use costbot::scheduler::Scheduler;
use costbot::store::PgStore;

#[sqlx::test(migrations = "migrations/postgres")]
async fn two_schedulers_on_one_database_collect_each_tick_once(pool: sqlx::PgPool) {
    crate::support::init();
    // The simulated source keeps this test about scheduling, not about AWS.
    let config = || {
        Config::from_toml("[costs]\nsource = \"simulated\"\nbackfill_days = 30\nschedule = \"* * * * * *\"\n").unwrap()
    };
    let now = chrono::Utc::now().naive_utc();
    let mut schedulers = Vec::new();
    for replica in ["replica-a", "replica-b"] {
        let store = Arc::new(PgStore::from_pool(pool.clone()));
        let app = Arc::new(App::with_store(config(), store.clone(), now).await.unwrap());
        schedulers.push(Scheduler::start(store, replica.to_string(), app.jobs()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    for scheduler in schedulers {
        scheduler.shutdown().await.unwrap();
    }
    // Let a run that started just before shutdown record its end.
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let ticks: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM job_runs WHERE job = 'collect-costs'").fetch_one(&pool).await.unwrap();
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM collector_runs").fetch_one(&pool).await.unwrap();
    let unfinished: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM collector_runs WHERE finished_at IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(ticks >= 3, "the schedule fired ({ticks} ticks)");
    assert_eq!(runs, ticks, "each claimed tick ran exactly one collection");
    assert_eq!(unfinished, 0);
}
