//! Wiring: turns a [`Config`] into a store, a cost source and a collector, and runs the
//! server with its scheduled jobs. This is the only place that decides which adapters run.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{NaiveDate, NaiveDateTime, Utc};

use std::collections::HashMap;

use crate::aws::cost_explorer::CostExplorerSource;
use crate::bot::Bot;
use crate::chat::dispatch::dispatch_alerts;
use crate::chat::outbox::OutboxWorker;
use crate::chat::{Platform, Sender};
use crate::collector::{CollectSettings, Collector, CostSource, JOB_COLLECT_COSTS};
use crate::config::{Config, CostSourceKind};
use crate::detection::{BreakdownSource, Detection, DetectionReport, DetectionSettings};
use crate::domain::run::CollectorRun;
use crate::domain::{Account, AccountId, Granularity};
use crate::scheduler::{JobFn, ScheduledJob, Scheduler};
use crate::sim::SimulatedCloud;
use crate::store::{self, DynStore};

/// Seed of the demo's simulated cloud; fixed so every demo shows the same story.
pub const DEMO_SEED: u64 = 2026;

/// The assembled application.
pub struct App {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The store, migrated.
    pub store: DynStore,
    /// The cost collector for the configured granularity.
    pub collector: Collector,
    /// Anomaly detection, run after each collection (unless disabled).
    pub detection: Option<Detection>,
    /// The chat brain shared by every platform adapter.
    pub bot: Arc<Bot>,
    /// Outbound senders, one per enabled chat platform.
    pub senders: HashMap<Platform, Arc<dyn Sender>>,
}

impl App {
    /// Opens and migrates the store, records the configured accounts and builds the collector.
    pub async fn build(config: Config, now: NaiveDateTime) -> Result<App> {
        let store = store::open(&config.database).await?;
        store.migrate().await?;
        Self::with_store(config, store, now).await
    }

    /// Like [`App::build`] with a store the caller opened (tests use per-test databases).
    pub async fn with_store(config: Config, store: DynStore, now: NaiveDateTime) -> Result<App> {
        let (source, breakdown, sources, accounts): (Arc<dyn CostSource>, Arc<dyn BreakdownSource>, _, _) =
            match config.costs.source {
                CostSourceKind::Aws => {
                    let source = Arc::new(CostExplorerSource::from_config(&config).await?);
                    let sources = config.accounts.iter().filter(|a| a.cost_explorer).map(|a| a.id.clone()).collect();
                    let accounts = config
                        .accounts
                        .iter()
                        .map(|a| Account { id: a.id.clone(), name: a.name.clone(), configured: true })
                        .collect::<Vec<_>>();
                    (source.clone(), source, sources, accounts)
                }
                CostSourceKind::Simulated => {
                    let sim = Arc::new(SimulatedCloud::demo(DEMO_SEED, now));
                    let sources = vec![sim.payer()];
                    let accounts = sim.accounts();
                    (sim.clone(), sim, sources, accounts)
                }
            };
        store.upsert_accounts(&accounts).await.context("cannot record the configured accounts")?;
        let collector = Collector::new(store.clone(), source, sources, collect_settings(&config, config.costs.granularity));
        let detection = config.anomaly.enabled.then(|| {
            let settings = DetectionSettings {
                granularity: config.costs.granularity,
                lookback_days: config.anomaly.lookback_days,
                thresholds: config.anomaly.threshold_set(),
            };
            Detection::new(store.clone(), breakdown, settings)
        });
        let config = Arc::new(config);
        let bot = Arc::new(Bot::new(store.clone(), config.clone()));
        let senders = HashMap::new();
        Ok(App { config, store, collector, detection, bot, senders })
    }

    /// Collects costs, then (if enabled) runs detection on what landed, so an alert is ready
    /// seconds after the data. A detection failure is reported but does not undo the
    /// collection.
    pub async fn collect_and_detect(
        &self,
        now: NaiveDateTime,
        since: Option<NaiveDate>,
        only: Option<&AccountId>,
    ) -> Result<(CollectorRun, Option<DetectionReport>)> {
        let run = self.collector.run(now.date(), since, only).await?;
        let report = match &self.detection {
            Some(detection) => Some(detection.run(now).await.context("anomaly detection failed")?),
            None => None,
        };
        self.deliver_alerts(now).await?;
        Ok((run, report))
    }

    /// Turns new alert events into outbox entries and tries to deliver them right away, so an
    /// alert reaches chat seconds after the data lands. Whatever cannot be delivered now stays
    /// in the outbox for the delivery loop.
    pub async fn deliver_alerts(&self, now: NaiveDateTime) -> Result<()> {
        dispatch_alerts(&self.store, &self.config.channels, now).await.context("cannot dispatch alerts")?;
        self.outbox().drain().await.context("cannot deliver the outbox")?;
        Ok(())
    }

    /// The outbox worker over this app's senders.
    pub fn outbox(&self) -> OutboxWorker {
        OutboxWorker::new(self.store.clone(), self.senders.clone())
    }

    /// A collector like the configured one but at another granularity (the demo loads both).
    pub fn collector_for(&self, granularity: Granularity) -> Collector {
        self.collector.with_settings(collect_settings(&self.config, granularity))
    }

    /// The scheduled jobs this replica takes part in.
    pub fn jobs(self: &Arc<Self>) -> Vec<ScheduledJob> {
        let app = self.clone();
        let run: JobFn = Arc::new(move || {
            let app = app.clone();
            Box::pin(async move {
                app.collect_and_detect(Utc::now().naive_utc(), None, None).await?;
                Ok(())
            })
        });
        vec![ScheduledJob { name: JOB_COLLECT_COSTS.to_string(), cron: self.config.costs.schedule.clone(), run }]
    }

    /// Runs the HTTP server and the scheduler until `shutdown` resolves.
    pub async fn serve(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<()> {
        let owner = replica_name();
        let scheduler = Scheduler::start(self.store.clone(), owner.clone(), self.jobs()).await?;
        let listener = tokio::net::TcpListener::bind(&self.config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", self.config.server.listen))?;
        tracing::info!(replica = %owner, address = %listener.local_addr()?, "costbot is serving");
        let router = crate::server::router(self.store.clone());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let delivery = tokio::spawn(delivery_loop(self.outbox(), stopped));
        axum::serve(listener, router).with_graceful_shutdown(shutdown).await?;
        scheduler.shutdown().await?;
        let _ = stop.send(true);
        let _ = delivery.await;
        Ok(())
    }
}

/// How often every replica looks for due outbox entries (retries, and entries another replica
/// enqueued). Thread leases make running it everywhere safe.
const DELIVERY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

async fn delivery_loop(outbox: OutboxWorker, mut stopped: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(error) = outbox.drain().await {
            tracing::warn!(error = %format!("{error:#}"), "outbox delivery failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(DELIVERY_INTERVAL) => {}
            _ = stopped.changed() => return,
        }
    }
}

fn collect_settings(config: &Config, granularity: Granularity) -> CollectSettings {
    CollectSettings {
        granularity,
        metric: config.costs.metric.clone(),
        restatement_days: config.costs.restatement_days,
        backfill_days: config.costs.backfill_days,
        // Validation caps the hours at a year, so the conversion cannot overflow.
        breakdown_every: (config.costs.breakdown_every_hours > 0)
            .then(|| chrono::Duration::hours(config.costs.breakdown_every_hours.min(8_760) as i64)),
    }
}

/// A name for this replica in claim rows: host name and process id, plus a random suffix so
/// two processes in one container never share a name.
pub fn replica_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "costbot".to_string());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &suffix[..8])
}
