//! Wiring: turns a [`Config`] into a store, a cost source and a collector, and runs the
//! server with its scheduled jobs. This is the only place that decides which adapters run.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{NaiveDate, NaiveDateTime, Utc};

use std::collections::HashMap;

use crate::aws::cost_explorer::CostExplorerSource;
use crate::aws::inventory::AwsInventory;
use crate::bot::Bot;
use crate::chat::discord::{DiscordSender, DiscordState};
use crate::chat::dispatch::dispatch_alerts;
use crate::chat::outbox::OutboxWorker;
use crate::chat::slack::api::SlackSender;
use crate::chat::slack::SlackState;
use crate::chat::Sender;
use crate::collector::{CollectSettings, Collector, JOB_COLLECT_COSTS};
use crate::config::{Config, CostSourceKind, DiscordMode, SlackMode};
use crate::detection::{Detection, DetectionReport, DetectionSettings};
use crate::discovery::{self, Discovery, DiscoveryReport};
use crate::domain::chat::Platform;
use crate::domain::resource::CloudInventory;
use crate::domain::run::CollectorRun;
use crate::domain::sources::{BreakdownSource, CostSource};
use crate::domain::{Account, AccountId, Granularity};
use crate::execution::Executor;
use crate::leadership::{Leadership, LeaseTiming};
use crate::proposals::{propose_owned, Coverage, ProposeReport};
use crate::scheduler::{JobFn, ScheduledJob};
use crate::sim::SimulatedCloud;
use crate::sim_inventory::{self, SimInventory};
use crate::store::{self, DynStore};

mod loops;
use loops::{delivery_loop, execution_loop};

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
    /// The Discord client, when Discord is configured (the endpoint and gateway need it).
    pub discord: Option<Arc<DiscordSender>>,
    /// The cloud that waste is discovered in and acted on.
    pub inventory: Option<Arc<dyn CloudInventory>>,
    /// Waste discovery over that cloud, when enabled.
    pub discovery: Option<Arc<Discovery>>,
    /// Finds each finding's owner before its proposal is made (Slack's directory, cached).
    pub owners: Arc<crate::owners::OwnerResolver>,
}

impl App {
    /// Opens and migrates the store, records the configured accounts and builds the collector.
    pub async fn build(config: Config, now: NaiveDateTime) -> Result<App> {
        let store = store::open(&config.database.store_options()).await?;
        store.migrate().await?;
        Self::with_store(config, store, now).await
    }

    /// Like [`App::build`] with a store the caller opened (tests use per-test databases).
    pub async fn with_store(config: Config, store: DynStore, now: NaiveDateTime) -> Result<App> {
        crate::budgets::check(&config)?;
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
        let collector =
            Collector::new(store.clone(), source, sources, collect_settings(&config, config.costs.granularity));
        let detection = config.anomaly.enabled.then(|| {
            let settings = DetectionSettings {
                granularity: config.costs.granularity,
                lookback_days: config.anomaly.lookback_days,
                thresholds: config.anomaly.threshold_set(),
                by_tags: config.anomaly_tag_keys(),
                usage_only: config.anomaly.usage_only,
            };
            Detection::new(store.clone(), breakdown, settings)
        });
        let config = Arc::new(config);
        let bot = Arc::new(Bot::new(store.clone(), config.clone()));
        let mut senders: HashMap<Platform, Arc<dyn Sender>> = HashMap::new();
        let mut directory: Option<Arc<dyn crate::domain::owner::UserDirectory>> = None;
        if let Some(token) = &config.slack.bot_token {
            let token = token.resolve().context("slack.bot_token")?;
            let api_url = config.slack.api_url.as_deref();
            let lookups = crate::chat::slack::users::SlackDirectory::new(token.clone(), api_url)
                .context("cannot set up the Slack directory")?;
            directory = Some(Arc::new(lookups));
            let sender = SlackSender::new(token, api_url).context("cannot set up the Slack client")?;
            senders.insert(Platform::Slack, Arc::new(sender));
        }
        let owners = Arc::new(crate::owners::OwnerResolver::from_config(&config, directory));
        let discord = discord_sender(&config)?;
        if let Some(sender) = &discord {
            senders.insert(Platform::Discord, sender.clone());
        }
        senders.insert(Platform::Console, Arc::new(crate::chat::console::ConsoleSender::new(store.clone())));
        let (inventory, discovery) = waste_discovery(&config, &store, now).await?;
        Ok(App { config, store, collector, detection, bot, senders, discord, inventory, discovery, owners })
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
        Ok((run, self.after_collection(now).await?))
    }

    /// What follows a collection: detection on what landed, budget alerts, and delivery of
    /// the alerts (`benches/alert_latency.rs` times this, from data landed to delivered).
    pub async fn after_collection(&self, now: NaiveDateTime) -> Result<Option<DetectionReport>> {
        let report = match &self.detection {
            Some(detection) => Some(detection.run(now).await.context("anomaly detection failed")?),
            None => None,
        };
        // A budget that cannot be checked must not hold back the anomaly alerts; the next
        // collection checks it again, and its alerts still fire once.
        if let Err(error) = self.budgets().run(now).await {
            tracing::error!(error = %format!("{error:#}"), "budget alerts failed");
        }
        self.deliver_alerts(now).await?;
        Ok(report)
    }

    /// Turns new alert events into outbox entries and tries to deliver them right away, so an
    /// alert reaches chat seconds after the data lands. Whatever cannot be delivered now stays
    /// in the outbox for the delivery loop.
    pub async fn deliver_alerts(&self, now: NaiveDateTime) -> Result<()> {
        dispatch_alerts(&self.store, &self.config.channels, now).await.context("cannot dispatch alerts")?;
        self.outbox().drain().await.context("cannot deliver the outbox")?;
        Ok(())
    }

    /// Discovers waste, turns the findings into proposals and delivers their cards. Returns
    /// `None` when waste discovery is off.
    pub async fn discover_and_propose(&self, now: NaiveDateTime) -> Result<Option<(DiscoveryReport, ProposeReport)>> {
        let Some(discovery) = &self.discovery else { return Ok(None) };
        let report = discovery.run(now).await.context("waste discovery failed")?;
        let coverage = Coverage::Only(&report.covered);
        let (rules, channels) = (self.config.approvals.rules(), &self.config.channels);
        // Owners are looked up here, in the job, so the cards and the Keep button need nothing
        // from Slack's directory on the chat request path.
        let owners = self.owners.resolve(&report.findings, now).await;
        let proposed = propose_owned(&self.store, &report.findings, coverage, &rules, channels, &owners, now).await?;
        tracing::info!(
            resources = report.resources,
            findings = report.findings.len(),
            proposed = proposed.proposed,
            reproposed = proposed.reproposed,
            failures = report.failures.len(),
            "waste discovery finished"
        );
        self.outbox().drain().await?;
        Ok(Some((report, proposed)))
    }

    /// The configured budgets, reading spend as it is now (no cached lookups).
    pub fn budgets(&self) -> crate::budgets::Budgets {
        let answers = Arc::new(crate::answers::Answers::with_lookup_ttl(self.store.clone(), std::time::Duration::ZERO));
        crate::budgets::Budgets::new(self.store.clone(), answers, self.config.clone(), &replica_name())
    }

    /// The outbox worker over this app's senders.
    pub fn outbox(&self) -> OutboxWorker {
        OutboxWorker::new(self.store.clone(), self.senders.clone())
    }

    /// The daily digests of the configured channels.
    pub fn digests(&self) -> crate::digest::Digests {
        crate::digest::Digests::new(self.store.clone(), self.config.clone(), self.senders.clone())
    }

    /// Queues the digests due at `now` and delivers them.
    pub async fn post_due_digests(&self, now: chrono::DateTime<Utc>) -> Result<crate::digest::DigestReport> {
        let report = self.digests().run_due(now).await.context("cannot build the daily digests")?;
        if report.posted > 0 {
            self.outbox().drain().await.context("cannot deliver the outbox")?;
        }
        Ok(report)
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
        let mut jobs = Vec::new();
        // A waste-only configuration has no cost source, so there is nothing to collect.
        if self.config.collects_costs() {
            jobs.push(ScheduledJob {
                name: JOB_COLLECT_COSTS.to_string(),
                cron: self.config.costs.schedule.clone(),
                run,
            });
        }
        if self.discovery.is_some() {
            let app = self.clone();
            let run: JobFn = Arc::new(move || {
                let app = app.clone();
                Box::pin(async move {
                    app.discover_and_propose(Utc::now().naive_utc()).await?;
                    Ok(())
                })
            });
            jobs.push(ScheduledJob {
                name: JOB_DISCOVER_WASTE.to_string(),
                cron: self.config.waste.schedule.clone(),
                run,
            });
        }
        let wants_digest =
            self.config.channels.iter().any(|c| matches!(self.config.digest.schedule_for(c), Ok(Some(_))));
        if wants_digest {
            // The job only looks for due digests; each channel's own schedule and time zone
            // decide when one is due, and the digests table makes posting it idempotent.
            let app = self.clone();
            let run: JobFn = Arc::new(move || {
                let app = app.clone();
                Box::pin(async move {
                    app.post_due_digests(Utc::now()).await?;
                    Ok(())
                })
            });
            jobs.push(ScheduledJob {
                name: crate::digest::JOB_DIGEST.to_string(),
                cron: self.config.digest.check_schedule.clone(),
                run,
            });
        }
        jobs
    }

    /// The HTTP routes: operations endpoints, plus Slack's when Slack runs in HTTP mode.
    pub fn router(&self) -> Result<axum::Router> {
        let mut router = crate::server::router(self.store.clone());
        let slack = &self.config.slack;
        if let (Some(sender), SlackMode::Http) = (self.senders.get(&Platform::Slack), slack.mode) {
            let secrets = slack
                .signing_secrets
                .iter()
                .map(|s| s.resolve())
                .collect::<Result<Vec<_>>>()
                .context("slack.signing_secrets")?;
            let state = SlackState::new(secrets, self.bot.clone(), sender.clone())
                .with_workspaces(slack_workspaces(slack))
                .with_replays(self.store.clone());
            router = router.merge(crate::chat::slack::router(state));
        }
        // With `[web] listen` the pages get their own listener (see `serve_on`), so the chat
        // webhooks can be public while the console and dashboard stay internal.
        if self.config.web.listen.is_none() {
            if let Some(web) = self.web_router()? {
                router = router.merge(web);
            }
        }
        // Always mounted: without `[[api.tokens]]` it refuses every request (deny by default).
        router = router.merge(self.api_router()?);
        if let (Some(sender), DiscordMode::Http) = (&self.discord, self.config.discord.mode) {
            let key = self.config.discord.public_key.as_deref().unwrap_or_default();
            let state = DiscordState::new(key, self.bot.clone(), sender.clone())
                .context("discord.public_key")?
                .with_replays(self.store.clone());
            router = router.merge(crate::chat::discord::router(state));
        }
        Ok(router)
    }

    /// The read-only REST API (`/api/v1`), its spend answered by the same functions as `/cost`.
    pub fn api_router(&self) -> Result<axum::Router> {
        let answers: Arc<dyn crate::web::api::SpendSource> = Arc::new(crate::answers::Answers::new(self.store.clone()));
        let budgets = crate::budgets::Budgets::new(
            self.store.clone(),
            Arc::new(crate::answers::Answers::new(self.store.clone())),
            self.config.clone(),
            "api",
        );
        let state = crate::web::api::ApiState::new(self.store.clone(), &self.config.api, answers)?
            .with_vocabulary(crate::commands::Vocabulary { tag_keys: self.config.tag_keys() })
            .with_budgets(Arc::new(budgets));
        Ok(crate::web::api::router(state))
    }

    /// The console and dashboard routes, when the configuration serves them.
    pub fn web_router(&self) -> Result<Option<axum::Router>> {
        crate::web::router(self.store.clone(), self.config.clone(), self.bot.clone())
    }

    /// Serves the pages on `[web] listen` until `stop` turns true, when that is configured.
    async fn serve_pages(
        &self,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>> {
        let (Some(address), Some(pages)) = (&self.config.web.listen, self.web_router()?) else { return Ok(None) };
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on web.listen {address}"))?;
        tracing::info!(address = %listener.local_addr()?, "serving the console and dashboard");
        let pages = crate::server::harden(pages);
        let header_timeout = self.header_read_timeout();
        Ok(Some(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            };
            if let Err(error) = crate::server::serve(listener, pages, header_timeout, shutdown).await {
                tracing::error!(%error, "the web pages' listener failed");
            }
        })))
    }

    /// `[server] header_read_timeout_secs`, which every listener applies.
    fn header_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.config.server.header_read_timeout_secs)
    }

    /// Binds `server.listen`, then runs [`App::serve_on`].
    pub async fn serve(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let listener = tokio::net::TcpListener::bind(&self.config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", self.config.server.listen))?;
        self.serve_on(listener, shutdown).await
    }

    /// Runs the HTTP server on `listener`, leader election (the leader runs the scheduled
    /// jobs), the outbox delivery and execution loops and (if configured) Slack Socket Mode
    /// or the Discord gateway, until `shutdown` resolves. Then it shuts down gracefully: stops
    /// accepting connections and lets in-flight requests finish, stops the scheduler, waits
    /// (at most [`SHUTDOWN_GRACE`]) for a running job and an in-flight execution to record
    /// their outcome, and releases leadership so another replica takes over at once.
    pub async fn serve_on(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let owner = replica_name();
        let timing = LeaseTiming::from_ttl(std::time::Duration::from_secs(self.config.server.leader_lease_seconds));
        let app = self.clone();
        let leadership = Leadership::start(self.store.clone(), owner.clone(), timing, Arc::new(move || app.jobs()));
        tracing::info!(replica = %owner, address = %listener.local_addr()?, "costbot is serving");
        let router = crate::server::harden(self.router()?);
        let socket = self.start_socket_mode()?;
        let gateway = self.start_gateway()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let pages = self.serve_pages(stopped.clone()).await?;
        let delivery = tokio::spawn(delivery_loop(self.clone(), stopped.clone()));
        let execution = self
            .executor(&owner)
            .map(|executor| tokio::spawn(execution_loop(executor, self.switcher(&owner), stopped)));
        crate::server::serve(listener, router, self.header_read_timeout(), shutdown).await?;
        tracing::info!(replica = %owner, "stopped accepting requests; finishing in-flight work");
        let _ = stop.send(true);
        let finishing = async {
            // An action in flight finishes and records its outcome before the process exits.
            let execution = async {
                if let Some(execution) = execution {
                    let _ = execution.await;
                }
            };
            let pages = async {
                if let Some(pages) = pages {
                    let _ = pages.await;
                }
            };
            let _ = tokio::join!(leadership.shutdown(SHUTDOWN_GRACE), delivery, execution, pages);
        };
        if tokio::time::timeout(SHUTDOWN_GRACE + std::time::Duration::from_secs(2), finishing).await.is_err() {
            tracing::warn!("in-flight work did not finish within the shutdown grace period");
        }
        for task in [socket, gateway].into_iter().flatten() {
            task.abort();
        }
        tracing::info!(replica = %owner, "shut down");
        Ok(())
    }

    /// Connects to Discord's gateway in the background when configured.
    fn start_gateway(&self) -> Result<Option<tokio::task::JoinHandle<()>>> {
        let discord = &self.config.discord;
        let (DiscordMode::Gateway, Some(token)) = (discord.mode, &discord.bot_token) else {
            return Ok(None);
        };
        let token = token.resolve().context("discord.bot_token")?;
        let handler: Arc<dyn crate::chat::ChatHandler> = self.bot.clone();
        Ok(Some(tokio::spawn(async move {
            if let Err(error) = crate::chat::discord::run_gateway(token, handler).await {
                tracing::error!(error = %format!("{error:#}"), "Discord gateway stopped");
            }
        })))
    }

    /// The execution worker, when there is a cloud to act on.
    pub fn executor(&self, owner: &str) -> Option<Executor> {
        let cloud = self.inventory.clone()?;
        let channels = Arc::new(self.config.channels.clone());
        let executor =
            Executor::new(self.store.clone(), cloud, channels, self.config.approvals.dry_run, owner.to_string());
        let executor = executor.with_reminders(self.config.approvals.remind_before());
        Some(executor.with_waste_policy(self.config.waste.rules(), self.config.waste.policy.clone()))
    }

    /// The off-hours switcher, when there is a cloud to act on: it runs beside the executor.
    pub fn switcher(&self, owner: &str) -> Option<crate::schedules::Switcher<dyn crate::store::Store>> {
        let cloud = self.inventory.clone()?;
        let rules = self.config.waste.rules();
        Some(crate::schedules::Switcher::new(
            self.store.clone(),
            cloud,
            self.config.approvals.dry_run,
            self.config.waste.policy.clone(),
            rules.offhours_tag,
            owner.to_string(),
        ))
    }

    /// Starts Slack Socket Mode in the background when configured.
    fn start_socket_mode(&self) -> Result<Option<tokio::task::JoinHandle<()>>> {
        let slack = &self.config.slack;
        let (SlackMode::Socket, Some(bot), Some(app)) = (slack.mode, &slack.bot_token, &slack.app_token) else {
            return Ok(None);
        };
        let (bot, app) = (bot.resolve().context("slack.bot_token")?, app.resolve().context("slack.app_token")?);
        let handler: Arc<dyn crate::chat::ChatHandler> = self.bot.clone();
        let api_url = slack.api_url.clone();
        let workspaces = slack_workspaces(slack);
        Ok(Some(tokio::spawn(async move {
            if let Err(error) =
                crate::chat::slack::socket::run_socket_mode(app, bot, handler, workspaces, api_url).await
            {
                tracing::error!(error = %format!("{error:#}"), "Slack Socket Mode stopped");
            }
        })))
    }
}

/// The workspaces, enterprises and apps `[slack]` admits, for both transports.
fn slack_workspaces(slack: &crate::config::SlackConfig) -> crate::chat::slack::origin::Workspaces {
    crate::chat::slack::origin::Workspaces::new(
        slack.team_ids.clone(),
        slack.enterprise_ids.clone(),
        slack.app_ids.clone(),
    )
}

/// How long graceful shutdown waits for running work (a scheduled job, an execution) to
/// record its outcome; under Kubernetes' default 30-second termination grace period.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(25);

/// The job name of waste discovery in schedule claims.
pub const JOB_DISCOVER_WASTE: &str = "discover-waste";

/// The cloud inventory and the discovery job for the configured source: AWS (through the
/// accounts' credentials) or the demo's simulated cloud.
async fn waste_discovery(
    config: &Config,
    store: &DynStore,
    now: NaiveDateTime,
) -> Result<(Option<Arc<dyn CloudInventory>>, Option<Arc<Discovery>>)> {
    if !config.waste.enabled {
        return Ok((None, None));
    }
    match config.costs.source {
        CostSourceKind::Aws => {
            let aws = AwsInventory::from_config(config).await?;
            // The organisation's members are named in answers (`/cost`) from the same list.
            let named = crate::aws::organizations::named_accounts(config, aws.members());
            store.upsert_accounts(&named).await.context("cannot record the organization's accounts")?;
            let accounts = aws.accounts(config);
            let inventory: Arc<dyn CloudInventory> = Arc::new(aws);
            let mut discovery = Discovery::from_config(config, store.clone(), inventory.clone())?;
            discovery.targets = discovery::targets(&accounts, &config.waste.regions);
            Ok((Some(inventory), Some(Arc::new(discovery))))
        }
        CostSourceKind::Simulated => {
            let inventory: Arc<dyn CloudInventory> = Arc::new(SimInventory::demo(now, &config.waste.price_table()));
            let accounts: Vec<AccountId> = [sim_inventory::PROD, sim_inventory::STAGING, sim_inventory::DATA]
                .iter()
                .filter_map(|id| AccountId::parse(id).ok())
                .collect();
            let discovery = Discovery {
                store: store.clone(),
                inventory: inventory.clone(),
                targets: discovery::targets(&accounts, &[sim_inventory::REGION.to_string()]),
                concurrency: config.waste.concurrency,
                rules: config.waste.rules(),
                policy: config.waste.policy.clone(),
            };
            Ok((Some(inventory), Some(Arc::new(discovery))))
        }
    }
}

/// The Discord client, when a bot token is configured.
pub fn discord_sender(config: &Config) -> Result<Option<Arc<DiscordSender>>> {
    let Some(token) = &config.discord.bot_token else { return Ok(None) };
    let token = token.resolve().context("discord.bot_token")?;
    let sender = DiscordSender::new(&token, config.discord.application_id()?, config.discord.api_url.as_deref())
        .context("cannot set up the Discord client")?;
    Ok(Some(Arc::new(sender)))
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
        tag_keys: config.tag_keys(),
        usage_only: config.anomaly.enabled && config.anomaly.usage_only,
    }
}

/// A name for this replica in claim rows: host name and process id, plus a random suffix so
/// two processes in one container never share a name.
pub fn replica_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "costbot".to_string());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &suffix[..8])
}
