//! `costbot waste scan`: one discovery over the configured accounts and regions (or a subset),
//! the rules and the safety policy applied, and every finding printed with its evidence,
//! monthly saving and safety path. Nothing is proposed, stored or posted: the inventory lives
//! in an in-memory store for the length of the scan, and no chat platform is needed. It is
//! the first thing to run against a real account, like `custodian run --dryrun`.
//!
//! Exit codes (also in README): 0 every target scanned and nothing would be proposed; 1
//! costbot could not run (configuration, credentials, store); 2 bad arguments (clap); 3 every
//! target scanned and at least one finding would be proposed; 4 at least one target could
//! not be scanned (the others' findings are still printed).

use std::sync::Arc;

use anyhow::{bail, Result};
use chrono::NaiveDateTime;
use serde::Serialize;

use crate::aws::inventory::AwsInventory;
use crate::config::{Config, CostSourceKind};
use crate::discovery::{self, Discovery, TargetFailure};
use crate::domain::resource::{CloudInventory, SafetyPath, WasteFinding};
use crate::domain::waste::RULES;
use crate::domain::{AccountId, Money};
use crate::sim_inventory::{self, SimInventory};
use crate::store::SqliteStore;

/// Every target scanned, nothing would be proposed.
pub const EXIT_CLEAN: u8 = 0;
/// Every target scanned, at least one finding would be proposed.
pub const EXIT_FINDINGS: u8 = 3;
/// At least one target could not be scanned.
pub const EXIT_PARTIAL: u8 = 4;

/// How the findings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    /// Aligned columns with the evidence under each row, and a summary.
    Table,
    /// One JSON document: findings, failures and the number of targets scanned.
    Json,
    /// Comma-separated values with a header row, one finding per row.
    Csv,
}

/// What to scan: empty lists mean everything `[waste]` configures.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Only these accounts.
    pub accounts: Vec<String>,
    /// Only these regions (instead of `[waste] regions`).
    pub regions: Vec<String>,
    /// Only these rules.
    pub rules: Vec<String>,
}

/// What a scan found.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanReport {
    /// Targets scanned successfully.
    pub targets_ok: usize,
    /// Targets that failed, with why.
    pub failures: Vec<TargetFailure>,
    /// Every finding, excluded ones included, in a stable order.
    pub findings: Vec<WasteFinding>,
}

impl ScanReport {
    /// The process exit code for this report (see the module docs).
    pub fn exit_code(&self) -> u8 {
        if !self.failures.is_empty() {
            EXIT_PARTIAL
        } else if self.findings.iter().any(|f| !matches!(f.path, SafetyPath::Excluded { .. })) {
            EXIT_FINDINGS
        } else {
            EXIT_CLEAN
        }
    }
}

/// Runs one scan as of `now`.
pub async fn scan(config: &Config, options: &ScanOptions, now: NaiveDateTime) -> Result<ScanReport> {
    let mut rules = config.waste.rules();
    if let Some(unknown) = options.rules.iter().find(|r| !RULES.contains(&r.as_str())) {
        bail!("unknown rule `{unknown}` (known: {})", RULES.join(", "));
    }
    if !options.rules.is_empty() {
        rules.disabled =
            RULES.iter().filter(|r| !options.rules.iter().any(|o| o == *r)).map(|r| r.to_string()).collect();
    }
    let (inventory, configured): (Arc<dyn CloudInventory>, Vec<AccountId>) = match config.costs.source {
        CostSourceKind::Aws => {
            let aws = AwsInventory::from_config(config).await?.with_rules(rules.clone());
            let accounts = aws.accounts(config);
            (Arc::new(aws), accounts)
        }
        CostSourceKind::Simulated => {
            let sim = SimInventory::demo(now, &config.waste.price_table());
            let ids = [sim_inventory::PROD, sim_inventory::STAGING, sim_inventory::DATA];
            (Arc::new(sim), ids.iter().filter_map(|id| AccountId::parse(id).ok()).collect())
        }
    };
    let mut accounts = Vec::new();
    for wanted in &options.accounts {
        let id = AccountId::parse(wanted)?;
        if !configured.contains(&id) {
            bail!("account {id} is not one waste discovery searches");
        }
        accounts.push(id);
    }
    if accounts.is_empty() {
        accounts = configured;
    }
    let regions = match (options.regions.is_empty(), config.costs.source) {
        (false, _) => options.regions.clone(),
        (true, CostSourceKind::Simulated) => vec![sim_inventory::REGION.to_string()],
        (true, CostSourceKind::Aws) => config.waste.regions.clone(),
    };
    let job = Discovery {
        store: Arc::new(SqliteStore::in_memory().await?),
        inventory,
        targets: discovery::targets(&accounts, &regions),
        concurrency: config.waste.concurrency,
        rules,
        policy: config.waste.policy.clone(),
    };
    let report = job.run(now).await?;
    let mut findings = report.findings;
    let order = |f: &WasteFinding| {
        let rule = RULES.iter().position(|r| *r == f.rule).unwrap_or(RULES.len());
        (
            f.resource.reference.account.clone(),
            f.resource.reference.region.clone(),
            rule,
            f.resource.reference.id.clone(),
        )
    };
    findings.sort_by_key(order);
    Ok(ScanReport { targets_ok: report.targets_ok, failures: report.failures, findings })
}

/// A finding as printed in JSON and CSV.
#[derive(Debug, Serialize)]
struct Row<'a> {
    rule: &'a str,
    account: &'a str,
    region: &'a str,
    kind: &'a str,
    id: &'a str,
    action: String,
    monthly_saving: Option<String>,
    path: &'a str,
    reason: &'a str,
    evidence: &'a str,
}

fn path_parts(path: &SafetyPath) -> (&'static str, &str) {
    match path {
        SafetyPath::Normal => ("normal", ""),
        SafetyPath::Strict { reason } => ("strict", reason),
        SafetyPath::Excluded { reason } => ("excluded", reason),
    }
}

fn row(f: &WasteFinding) -> Row<'_> {
    let r = &f.resource.reference;
    let (path, reason) = path_parts(&f.path);
    let action = serde_json::to_value(f.action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    Row {
        rule: &f.rule,
        account: r.account.as_str(),
        region: &r.region,
        kind: r.kind.as_str(),
        id: &r.id,
        action,
        monthly_saving: f.monthly_saving.map(|m| format!("{:.2}", m.round_cents().as_decimal())),
        path,
        reason,
        evidence: &f.evidence,
    }
}

/// The findings as one JSON document.
pub fn render_json(report: &ScanReport) -> String {
    #[derive(Serialize)]
    struct Failure<'a> {
        account: &'a str,
        region: &'a str,
        error: &'a str,
    }
    let failures: Vec<Failure<'_>> = report
        .failures
        .iter()
        .map(|f| Failure { account: f.account.as_str(), region: &f.region, error: &f.error })
        .collect();
    let document = serde_json::json!({
        "targets_scanned": report.targets_ok,
        "findings": report.findings.iter().map(row).collect::<Vec<_>>(),
        "failures": failures,
    });
    serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
}

/// The findings as CSV with a header row (failures are not rows; see the exit code).
pub fn render_csv(report: &ScanReport) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if report.findings.is_empty() {
        writer.write_record([
            "rule",
            "account",
            "region",
            "kind",
            "id",
            "action",
            "monthly_saving",
            "path",
            "reason",
            "evidence",
        ])?;
    }
    for f in &report.findings {
        writer.serialize(row(f))?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}

/// The findings as a table: one line per finding with the evidence (and the safety reason)
/// indented under it, then failures and a summary.
pub fn render_table(report: &ScanReport) -> String {
    let rows: Vec<Row<'_>> = report.findings.iter().map(row).collect();
    let header = ["RULE", "ACCOUNT", "REGION", "RESOURCE", "ACTION", "SAVING/MO", "PATH"];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            let saving = r.monthly_saving.as_ref().map_or("unknown".to_string(), |s| format!("${s}"));
            [
                r.rule.to_string(),
                r.account.to_string(),
                r.region.to_string(),
                format!("{} {}", r.kind, r.id),
                r.action.clone(),
                saving,
                r.path.to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> =
        (0..7).map(|i| cells.iter().map(|c| c[i].len()).chain([header[i].len()]).max().unwrap_or(0)).collect();
    let line = |c: &[String]| {
        let padded: Vec<String> = c.iter().zip(&widths).map(|(t, w)| format!("{t:<w$}")).collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = Vec::new();
    if !cells.is_empty() {
        out.push(line(&header.map(String::from)));
        for (c, r) in cells.iter().zip(&rows) {
            out.push(line(c));
            out.push(format!("    evidence: {}", r.evidence));
            if !r.reason.is_empty() {
                out.push(format!("    {}: {}", r.path, r.reason));
            }
        }
        out.push(String::new());
    }
    for f in &report.failures {
        out.push(format!("failed: {} {}: {}", f.account, f.region, f.error));
    }
    out.push(summary(report));
    out.join("\n") + "\n"
}

fn summary(report: &ScanReport) -> String {
    let count = |p: &str| report.findings.iter().filter(|f| path_parts(&f.path).0 == p).count();
    let proposable = report.findings.iter().filter(|f| !matches!(f.path, SafetyPath::Excluded { .. }));
    let (known, unknown): (Vec<_>, Vec<_>) = proposable.map(|f| f.monthly_saving).partition(Option::is_some);
    let total: Money = known.into_iter().flatten().fold(Money::ZERO, |a, b| a + b);
    let unpriced = if unknown.is_empty() { String::new() } else { format!(" ({} unpriced)", unknown.len()) };
    format!(
        "{} findings: {} normal, {} strict (two approvers), {} excluded; about {} a month if all {} were acted on{unpriced}; {} targets scanned, {} failed; nothing was proposed",
        report.findings.len(),
        count("normal"),
        count("strict"),
        count("excluded"),
        total.round_cents(),
        count("normal") + count("strict"),
        report.targets_ok,
        report.failures.len()
    )
}

#[cfg(test)]
#[path = "waste_scan_tests.rs"]
mod tests;
