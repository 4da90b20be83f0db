//! `costbot demo`: the simulated cloud end to end on a fresh machine, from an SQLite file to
//! the console and dashboard.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{Days, Utc};

use super::{describe_detection, describe_run, shutdown_signal};
use crate::app::App;
use crate::config::{Config, CostSourceKind};
use crate::domain::incident::Status;
use crate::domain::{DateRange, Granularity};
use crate::store::FactFilter;

/// How many past days the demo replays detection over.
const DEMO_REPLAY_DAYS: u64 = 30;

/// The demo's configuration: the simulated cloud with waste discovery, one console channel
/// where `you` and `alex` approve and `viewer` may only look, and schedules sped up so
/// collection, detection and discovery visibly run while someone watches. Dry-run stays on.
fn demo_config(db: PathBuf, port: u16) -> Result<Config> {
    let toml = r##"
[costs]
source = "simulated"
backfill_days = 395
schedule = "0 * * * * *"
tag_keys = ["team"]

[waste]
schedule = "30 */2 * * * *"

[approvals]
dry_run = true

[[channels]]
platform = "console"
id = "demo"
name = "#finops"
min_severity = "medium"
approvers = ["you", "alex"]
"##;
    let mut config = Config::from_toml(toml)?;
    config.database.sqlite_path = db;
    config.server.listen = format!("127.0.0.1:{port}");
    config.web.demo_users = ["you", "alex", "viewer"].map(String::from).to_vec();
    debug_assert_eq!(config.costs.source, CostSourceKind::Simulated);
    Ok(config)
}

/// `costbot demo`: loads 13 months of daily and 14 days of hourly simulated history into an
/// SQLite file, replays detection over the last month, raises waste proposals, posts it all
/// to the console channel, then serves the console and dashboard until Ctrl-C.
pub(super) async fn demo(db: PathBuf, port: u16, no_serve: bool) -> Result<()> {
    let config = demo_config(db.clone(), port)?;
    // Bind first: a busy port should fail before a minute of loading, not after.
    let listener = if no_serve {
        None
    } else {
        let address = config.server.listen.clone();
        Some(
            tokio::net::TcpListener::bind(&address)
                .await
                .with_context(|| format!("cannot listen on {address}; try --port 0"))?,
        )
    };
    let now = Utc::now().naive_utc();
    let app = App::build(config, now).await.context("cannot set up the demo store")?;
    let today = now.date();
    let daily = app.collector_for(Granularity::Daily).run(today, None, None).await?;
    let hourly = app.collector_for(Granularity::Hourly).run(today, None, None).await?;
    // Replay detection over the last 30 days, as the hourly job would have run it, so the
    // demo shows anomalies that opened, grew and resolved, not only today's.
    // Only on a fresh store: replaying the past over anomalies a previous demo run recorded
    // would resolve them as of a month ago.
    let fresh = app.store.anomalies(false, 1).await?.is_empty();
    let mut detection = None;
    if let Some(d) = &app.detection {
        for days_ago in (1..=DEMO_REPLAY_DAYS).rev().filter(|_| fresh) {
            let as_of = (today - Days::new(days_ago)).and_hms_opt(6, 0, 0).unwrap_or(now);
            d.run(as_of).await?;
        }
        detection = Some(d.run(now).await?);
    }
    app.deliver_alerts(now).await?;
    let waste = app.discover_and_propose(now).await?;
    // Today's digest goes to the console at once rather than at 09:00, so a new user sees it.
    for channel in &app.config.channels {
        app.digests().post_now(channel, today, now).await?;
    }
    app.outbox().drain().await?;
    let path = std::fs::canonicalize(&db).unwrap_or(db);
    println!("costbot demo: SIMULATED cloud (no AWS account is used)\n");
    print!("{}{}", describe_run(&daily), describe_run(&hourly));
    if let Some(report) = &detection {
        println!("{}", describe_detection(report));
    }
    println!("store: {}", path.display());
    let last30 = DateRange::new(today - Days::new(30), today)?;
    println!("\nspend in the last 30 days ({last30}), per account:");
    for account in app.store.accounts().await? {
        let filter =
            FactFilter { granularity: Granularity::Daily, range: last30, accounts: Some(vec![account.id.clone()]) };
        let total = app.store.total(&filter).await?;
        println!("  {} {:<28} {:>14}", account.id, account.name.as_deref().unwrap_or(""), total.to_string());
    }
    let anomalies = app.store.anomalies(false, 200).await?;
    let open = anomalies.iter().filter(|a| a.status == Status::Open).count();
    println!("\nanomalies: {open} open, {} resolved (alerts are in the console)", anomalies.len() - open);
    if let Some((report, _)) = &waste {
        let pending = app.store.proposals_in(&["pending"]).await?.len();
        println!("waste: {} simulated resources, {pending} proposals waiting for approval (dry-run)", report.resources);
    }
    println!("digest: today's daily digest, with its chart, is in the console");
    let Some(listener) = listener else { return Ok(()) };
    let address = listener.local_addr()?;
    println!("\ncostbot demo is running at http://{address}/");
    println!("(the dashboard is at /dashboard; Ctrl-C stops it)");
    std::sync::Arc::new(app).serve_on(listener, shutdown_signal()).await
}
