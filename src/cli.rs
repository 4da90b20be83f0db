//! The command line: `costbot serve | demo | ask | migrate | collect costs | config check`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::Config;
use crate::detection::DetectionReport;
use crate::domain::incident::Anomaly;
use crate::domain::run::CollectorRun;
use crate::domain::AccountId;
use crate::store;

mod demo;
use demo::demo;

/// costbot keeps AWS spend under control from Slack and Discord.
#[derive(Debug, Parser)]
#[command(name = "costbot", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Environment variables COSTBOT_SECTION__KEY override it.
    #[arg(long, global = true, env = "COSTBOT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    pub json_logs: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: HTTP endpoints and the scheduled collection.
    Serve,
    /// The whole product on a simulated cloud: fills an embedded store with history, then
    /// serves the chat console and the dashboard on 127.0.0.1 with sped-up schedules.
    Demo {
        /// Where the demo's SQLite file goes.
        #[arg(long, default_value = "costbot-demo.sqlite")]
        db: PathBuf,
        /// Port on 127.0.0.1 for the console and dashboard; 0 picks a free one.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Load the history, print the summary and exit instead of serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Apply database migrations.
    Migrate,
    /// Collect data now.
    Collect {
        /// What to collect.
        #[command(subcommand)]
        what: CollectWhat,
    },
    /// Evaluate the anomaly detector: `eval nab <NAB root> [--files]`, `eval nab-verify <NAB root>`,
    /// `eval nab-grid <NAB root>`, `eval series <dir>` (the detection job's pass with the
    /// configured `[anomaly]` gates, replayed over labelled daily or hourly series),
    /// `eval scenarios [per_family [min_score [seed]]]`, `eval scenarios-write <dir> [per_family [seed]]`.
    /// Build with `--release`.
    Eval {
        /// The harness's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Discord set-up.
    Discord {
        /// What to do.
        #[command(subcommand)]
        action: DiscordAction,
    },
    /// Check or export the audit log.
    Audit {
        /// What to do.
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Preview or post a channel's daily digest.
    Digest {
        /// The channel: its id or its configured name.
        #[arg(long)]
        channel: String,
        /// Print the digest instead of posting it.
        #[arg(long)]
        dry_run: bool,
        /// The channel's local date the digest is for (default: today in the channel's zone).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// How to print it with --dry-run: text, slack (Block Kit JSON) or discord (JSON).
        #[arg(long, default_value = "text")]
        format: PreviewFormat,
        /// Also write the chart PNG to this file.
        #[arg(long)]
        chart: Option<PathBuf>,
    },
    /// Check the database, AWS, Slack and Discord set-up, one line each; exits non-zero if
    /// any check fails.
    Doctor {
        /// Skip probes AWS charges for (one Cost Explorer request per source account, $0.01).
        #[arg(long)]
        skip_paid: bool,
    },
    /// Waste control without chat: `waste scan`.
    Waste {
        /// What to do.
        #[command(subcommand)]
        action: WasteAction,
    },
    /// Answer a `/cost` question from the store, in the terminal: `costbot ask "mtd by service"`.
    /// Exit code 2 when the question is not understood.
    Ask {
        /// The question, in the `/cost` grammar (`costbot ask help` lists it).
        question: String,
        /// text (as chat shows it), json or csv (exact decimal amounts).
        #[arg(long, default_value = "text")]
        format: crate::ask::AskFormat,
    },
    /// Work with the configuration.
    Config {
        /// What to do with it.
        #[command(subcommand)]
        action: ConfigAction,
    },
}

/// `costbot collect …`
#[derive(Debug, Subcommand)]
pub enum CollectWhat {
    /// Fetch costs from Cost Explorer into the store.
    Costs {
        /// Fetch from this day (YYYY-MM-DD) instead of the incremental start.
        #[arg(long)]
        since: Option<NaiveDate>,
        /// Only this source account.
        #[arg(long)]
        account: Option<String>,
    },
}

/// `costbot waste …`
#[derive(Debug, Subcommand)]
pub enum WasteAction {
    /// Discover once, apply the rules and the safety policy, and print every finding with its
    /// evidence and saving. Nothing is proposed, stored or posted. Exit codes: 0 nothing to
    /// propose, 1 error, 2 bad arguments, 3 findings to propose, 4 some targets failed.
    Scan {
        /// Only this account (repeatable).
        #[arg(long)]
        account: Vec<String>,
        /// Only this region instead of `[waste] regions` (repeatable).
        #[arg(long)]
        region: Vec<String>,
        /// Only this rule (repeatable).
        #[arg(long)]
        rule: Vec<String>,
        /// table, json or csv.
        #[arg(long, default_value = "table")]
        format: crate::waste_scan::ScanFormat,
    },
}

/// A command that finished and wants this process exit code (without an error message).
#[derive(Debug, thiserror::Error)]
#[error("exit code {0}")]
pub struct ExitWith(pub u8);

/// `costbot discord …`
#[derive(Debug, Subcommand)]
pub enum DiscordAction {
    /// Register exactly the commands in manifests/discord-commands.json (globally, or in one
    /// guild, where changes show at once).
    Register {
        /// A guild (server) id.
        #[arg(long)]
        guild: Option<u64>,
    },
}

/// `costbot audit …`
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Recompute the hash chain and report the first broken entry; prints the head to keep as
    /// a checkpoint.
    Verify {
        /// A head printed earlier (by `verify`, the logs, the digest or the dashboard), as
        /// SEQ:HASH: also prove that nothing up to it was rewritten or cut off.
        #[arg(long, value_parser = parse_checkpoint)]
        head: Option<crate::domain::audit::Checkpoint>,
    },
    /// Write every entry to standard output.
    Export {
        /// `csv` or `json` (JSON lines).
        #[arg(long, default_value = "csv")]
        format: ExportFormat,
    },
}

fn parse_checkpoint(text: &str) -> Result<crate::domain::audit::Checkpoint, String> {
    text.parse()
}

/// Audit export formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Json,
}

/// How `costbot digest --dry-run` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PreviewFormat {
    /// Plain text.
    Text,
    /// Slack Block Kit JSON.
    Slack,
    /// Discord message JSON.
    Discord,
}

/// `costbot config …`
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate the configuration and print a redacted summary.
    Check,
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Config { action: ConfigAction::Check } => {
            let config = Config::load(cli.config.as_deref())?;
            crate::budgets::check(&config)?;
            println!("{}\nconfiguration is valid", config.summary());
            Ok(())
        }
        Command::Migrate => {
            let config = Config::load(cli.config.as_deref())?;
            let store = store::open(&config.database.store_options()).await?;
            store.migrate().await?;
            println!("migrations applied to {}", store::describe(&config.database.store_options()));
            Ok(())
        }
        Command::Collect { what: CollectWhat::Costs { since, account } } => {
            let config = Config::load(cli.config.as_deref())?;
            anyhow::ensure!(
                config.collects_costs(),
                "cost collection is off: no account has cost_explorer = true (this configuration runs waste control only)"
            );
            let only = account.map(|a| AccountId::parse(&a)).transpose()?;
            if let Some(id) = &only {
                config.account(id)?;
            }
            let app = App::build(config, Utc::now().naive_utc()).await?;
            let (run, detection) = app.collect_and_detect(Utc::now().naive_utc(), since, only.as_ref()).await?;
            print!("{}", describe_run(&run));
            if let Some(report) = detection {
                println!("{}", describe_detection(&report));
            }
            anyhow::ensure!(run.error.is_none(), "collection did not complete for every account");
            Ok(())
        }
        Command::Serve => {
            let config = Config::load(cli.config.as_deref())?;
            let app = App::build(config, Utc::now().naive_utc()).await?;
            std::sync::Arc::new(app).serve(shutdown_signal()).await
        }
        Command::Demo { db, port, no_serve } => demo(db, port, no_serve).await,
        Command::Ask { question, format } => {
            crate::ask::command(&Config::load(cli.config.as_deref())?, &question, format).await
        }
        Command::Digest { channel, dry_run, date, format, chart } => {
            let config = Config::load(cli.config.as_deref())?;
            digest(config, &channel, dry_run, date, format, chart).await
        }
        Command::Waste { action: WasteAction::Scan { account, region, rule, format } } => {
            let config = Config::load(cli.config.as_deref())?;
            let options = crate::waste_scan::ScanOptions { accounts: account, regions: region, rules: rule };
            let report = crate::waste_scan::scan(&config, &options, Utc::now().naive_utc()).await?;
            let text = match format {
                crate::waste_scan::ScanFormat::Table => crate::waste_scan::render_table(&report),
                crate::waste_scan::ScanFormat::Json => crate::waste_scan::render_json(&report),
                crate::waste_scan::ScanFormat::Csv => crate::waste_scan::render_csv(&report)?,
            };
            print!("{text}");
            match report.exit_code() {
                0 => Ok(()),
                code => Err(ExitWith(code).into()),
            }
        }
        Command::Doctor { skip_paid } => crate::doctor::command(cli.config.as_deref(), skip_paid).await,
        Command::Discord { action: DiscordAction::Register { guild } } => {
            let config = Config::load(cli.config.as_deref())?;
            let sender = crate::app::discord_sender(&config)?
                .ok_or_else(|| anyhow::anyhow!("discord.bot_token is not configured"))?;
            let guild = guild.map(Into::into);
            let count =
                crate::chat::discord::register_commands(sender.http(), guild, crate::chat::discord::commands::MANIFEST)
                    .await?;
            let place = guild.map_or("globally".to_string(), |g| format!("in guild {g}"));
            println!("registered {count} command(s) {place}");
            Ok(())
        }
        Command::Audit { action } => {
            let config = Config::load(cli.config.as_deref())?;
            // No migration here: on Postgres this may run as the runtime role, which can read
            // the log but not change the schema (an SQLite file is migrated when opened).
            let store = store::open(&config.database.store_options()).await?;
            let entries = store.all_audit_entries().await.context("cannot read the audit log")?;
            match action {
                AuditAction::Verify { head } => {
                    use crate::domain::audit::{verify_chain, verify_with_checkpoint};
                    let verified = match &head {
                        Some(checkpoint) => verify_with_checkpoint(&entries, checkpoint),
                        None => verify_chain(&entries),
                    };
                    verified.map_err(|e| anyhow::anyhow!("audit log is broken: {e}"))?;
                    let last = entries.last().map_or_else(|| "empty".to_string(), |e| e.checkpoint().to_string());
                    match head {
                        Some(checkpoint) => println!(
                            "audit log intact: {} entries, checkpoint {checkpoint} holds; head {last}",
                            entries.len()
                        ),
                        None => println!("audit log intact: {} entries; head {last}", entries.len()),
                    }
                }
                AuditAction::Export { format } => export_audit(&entries, format)?,
            }
            Ok(())
        }
        Command::Eval { args } => {
            // `eval series` runs the detection job's pass, so it uses the configured
            // `[anomaly]` gates; without a configuration file that loads, the defaults.
            let anomaly = match Config::load(cli.config.as_deref()) {
                Ok(config) => config.anomaly,
                Err(_) if cli.config.is_none() => crate::config::AnomalyConfig::default(),
                Err(error) => return Err(error),
            };
            let gates = crate::eval::series::Gates {
                thresholds: anomaly.threshold_set(),
                lookback_days: anomaly.lookback_days,
            };
            let code = tokio::task::spawn_blocking(move || crate::eval::harness::run(&args, &gates)).await?;
            anyhow::ensure!(code == std::process::ExitCode::SUCCESS, "evaluation failed");
            Ok(())
        }
    }
}

/// `costbot digest`: builds a channel's digest and prints it, or records and posts it.
async fn digest(
    config: Config,
    channel: &str,
    dry_run: bool,
    date: Option<NaiveDate>,
    format: PreviewFormat,
    chart: Option<PathBuf>,
) -> Result<()> {
    let found = config
        .channels
        .iter()
        .find(|c| {
            c.id == channel
                || c.name.as_deref().is_some_and(|n| n.trim_start_matches('#') == channel.trim_start_matches('#'))
        })
        .cloned();
    let Some(found) = found else {
        let known: Vec<String> =
            config.channels.iter().map(|c| c.name.clone().unwrap_or_else(|| c.id.clone())).collect();
        anyhow::bail!("no [[channels]] entry has id or name `{channel}`; configured: {}", known.join(", "));
    };
    let now = Utc::now();
    let schedule = config.digest.schedule_for(&found)?;
    let zone = schedule.as_ref().map_or(chrono_tz::UTC, |s| s.tz);
    let date = date.unwrap_or_else(|| now.with_timezone(&zone).date_naive());
    let app = App::build(config, now.naive_utc()).await?;
    let digests = app.digests();
    if dry_run {
        let message = digests.build(&found, date, now.naive_utc(), None).await?;
        if let (Some(path), Some(a)) = (&chart, message.attachments.first()) {
            std::fs::write(path, &a.png).with_context(|| format!("cannot write {}", path.display()))?;
        }
        match format {
            PreviewFormat::Text => print!("{}", crate::render::text::plain(&message)),
            PreviewFormat::Slack => {
                println!("{}", serde_json::to_string_pretty(&crate::chat::slack::render::blocks(&message))?)
            }
            PreviewFormat::Discord => {
                println!("{}", serde_json::to_string_pretty(&crate::chat::discord::render::render(&message))?)
            }
        }
        return Ok(());
    }
    if !digests.post_now(&found, date, now.naive_utc()).await? {
        println!("channel {} already has its digest for {date}; nothing posted", found.id);
        return Ok(());
    }
    app.outbox().drain().await?;
    let counts = app.store.outbox_counts().await?;
    println!(
        "digest for {date} queued for channel {} ({} pending, {} failed in the outbox)",
        found.id, counts.pending, counts.failed
    );
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, so Kubernetes can stop a replica gracefully.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

fn export_audit(entries: &[crate::domain::audit::AuditEntry], format: ExportFormat) -> Result<()> {
    let stdout = std::io::stdout();
    match format {
        ExportFormat::Json => {
            for e in entries {
                println!("{}", serde_json::to_string(e)?);
            }
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(stdout.lock());
            // `hash_version` says how to recompute `hash`; under version 2 an absent channel
            // and an empty one hash differently, which this column cannot show (both are empty).
            let header =
                ["seq", "at", "actor", "action", "target", "channel", "detail", "prev_hash", "hash", "hash_version"];
            w.write_record(header)?;
            for e in entries {
                let r = &e.record;
                w.write_record([
                    e.seq.to_string(),
                    r.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                    r.actor.clone(),
                    r.action.clone(),
                    r.target.clone(),
                    r.channel.clone().unwrap_or_default(),
                    r.detail.clone(),
                    e.prev_hash.clone(),
                    e.hash.clone(),
                    e.hash_version.to_string(),
                ])?;
            }
            w.flush()?;
        }
    }
    Ok(())
}

/// A run record in a few lines.
pub fn describe_run(run: &CollectorRun) -> String {
    let mut out = format!(
        "run {} {}: {} facts written, {} Cost Explorer requests (${}.{:02})\n",
        run.id.0,
        run.status.as_str(),
        run.rows_written,
        run.api_calls,
        run.api_calls / 100,
        run.api_calls % 100
    );
    for s in &run.sources {
        let outcome = s.error.as_deref().map_or_else(|| "ok".to_string(), |e| format!("FAILED: {e}"));
        out.push_str(&format!(
            "  account {} {}: {} facts, {} requests, {outcome}\n",
            s.source, s.range, s.rows_written, s.api_calls
        ));
    }
    out
}

/// A detection report in one line.
pub fn describe_detection(r: &DetectionReport) -> String {
    format!(
        "anomaly detection: {} series scored, {} opened, {} updated, {} resolved, {} root-cause requests",
        r.series, r.opened, r.updated, r.resolved, r.root_cause_calls
    )
}

/// An anomaly and its top contributors, for terminal output.
pub fn describe_anomaly(a: &Anomaly) -> String {
    let mut out = format!(
        "  [{:?}] {:?} on {} from {}: {} actual vs {} expected ({} impact, {}%)",
        a.severity,
        a.kind,
        a.key,
        a.start.date(),
        a.actual,
        a.expected,
        a.impact,
        a.percent
    );
    for c in a.root_cause.iter().take(3) {
        out.push_str(&format!(
            "\n      {} {}: +{} ({}% of the increase)",
            c.dimension.label(),
            c.name,
            c.increase,
            c.share_percent
        ));
    }
    out
}
