//! `costbot ask`: the `/cost` grammar answered in the terminal from a seeded store, on
//! Postgres and on SQLite. Both stores print byte for byte the same answers (one snapshot per
//! question serves both), and a question outside the grammar exits with code 2.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use costbot::ask::{answer, AskFormat};
use costbot::domain::{Account, AccountId, DateRange, Granularity};
use costbot::store::{DynStore, PgStore, SqliteStore};
use rust_decimal::Decimal;

use crate::support::{daily_facts, Fact};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn now() -> NaiveDateTime {
    "2026-11-12T09:30:00".parse().unwrap()
}

/// October and November to the 12th, two accounts, three services, ten-decimal amounts.
async fn seed(store: &DynStore) {
    let accounts = [("111111111111", Some("prod")), ("222222222222", None)].map(|(id, name)| Account {
        id: AccountId::parse(id).unwrap(),
        name: name.map(String::from),
        configured: true,
    });
    store.upsert_accounts(&accounts).await.unwrap();
    let services = ["Amazon Elastic Compute Cloud - Compute", "Amazon Simple Storage Service", "AWS Lambda"];
    let mut facts = Vec::new();
    for (n, day) in d("2026-10-01").iter_days().take_while(|x| *x <= d("2026-11-12")).enumerate() {
        for (a, account) in ["111111111111", "222222222222"].into_iter().enumerate() {
            for (s, service) in services.into_iter().enumerate() {
                let units = 100_000_000_000 * (s as i64 + 1) * (a as i64 + 2) + n as i64 * 1_234_567_891;
                facts.push(Fact { day, account, service, amount: Decimal::new(units, 10) });
            }
        }
    }
    let range = DateRange::new(d("2026-10-01"), d("2026-11-13")).unwrap();
    let source = AccountId::parse("111111111111").unwrap();
    let rows = daily_facts(&facts, Some(d("2026-11-11")));
    store.replace_cost_facts(&source, Granularity::Daily, &range, &rows, now()).await.unwrap();
}

async fn ask(store: &DynStore, question: &str, format: AskFormat) -> String {
    answer(store.clone(), question, format, now()).await.unwrap_or_else(|e| panic!("{question}: {e}"))
}

async fn check(store: DynStore) {
    seed(&store).await;
    insta::assert_snapshot!("ask_text_mtd_by_service", ask(&store, "mtd by service", AskFormat::Text).await);
    insta::assert_snapshot!(
        "ask_json_by_account_compare",
        ask(&store, "mtd by account compare", AskFormat::Json).await
    );
    insta::assert_snapshot!(
        "ask_csv_last_month_top_1",
        ask(&store, "last month by service top 1", AskFormat::Csv).await
    );
    // The CSV's rows add up to its total exactly.
    let csv = ask(&store, "last month by service", AskFormat::Csv).await;
    let amounts: Vec<Decimal> =
        csv.lines().skip(1).map(|l| l.rsplit(',').nth(1).unwrap().parse::<Decimal>().unwrap()).collect();
    let (total, rows) = amounts.split_last().unwrap();
    assert_eq!(rows.iter().sum::<Decimal>(), *total, "{csv}");
    for bad in ["mtd by colour", "offhours", "forecast", "last month service=nothing-like-it"] {
        let format = if bad == "forecast" { AskFormat::Json } else { AskFormat::Text };
        let refused = answer(store.clone(), bad, format, now()).await;
        assert!(matches!(refused, Err(costbot::ask::AskError::Question(_))), "{bad}: {refused:?}");
    }
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn ask_prints_the_same_answers_on_postgres(pool: sqlx::PgPool) {
    check(Arc::new(PgStore::from_pool(pool))).await;
}

#[tokio::test]
async fn ask_prints_the_same_answers_on_sqlite() {
    check(Arc::new(SqliteStore::in_memory().await.unwrap())).await;
}

/// The binary as a script runs it: an answer exits 0, a question outside the grammar exits 2
/// with the grammar's reason on stderr and nothing on stdout.
#[test]
fn a_bad_question_exits_with_code_2_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "[database]\nsqlite_path = \"c.sqlite\"\n").unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_costbot"))
            .args(["--config", "c.toml", "ask"])
            .args(args)
            .current_dir(dir.path())
            .env_remove("COSTBOT_CONFIG")
            .output()
            .unwrap()
    };
    let bad = run(&["mtd by colour"]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`by` needs service, account, region, usage-type, tag:KEY or category:NAME"), "{stderr}");
    assert!(bad.stdout.is_empty());
    let good = run(&["mtd", "--format", "json"]);
    assert_eq!(good.status.code(), Some(0), "{}", String::from_utf8_lossy(&good.stderr));
    let body: serde_json::Value = serde_json::from_slice(&good.stdout).unwrap();
    assert_eq!(body["total"], "0", "an empty store: {body}");
}
