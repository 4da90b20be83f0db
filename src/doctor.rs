//! `costbot doctor`: runs every check a deployment depends on and explains each in one line:
//! the configuration, the database and its migrations, the AWS identity and each account's
//! role, the IAM permissions each enabled feature needs, the Slack token and its scopes, and
//! the Discord application and its commands.
//!
//! Checks produce neutral [`CheckResult`]s; [`render`] turns them into text (a pure function,
//! snapshot-tested) and any [`Status::Fail`] makes the command exit non-zero. The probes
//! themselves live in the adapters (`aws::probe`, `chat::slack::probe`,
//! `chat::discord::probe`), so this module knows no SDK, Slack or Discord types.

use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;

use crate::aws::probe::{self, Probe, Verdict};
use crate::config::{AccountConfig, Config, CostSourceKind};
use crate::store::{self, MigrationStatus};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Works.
    Ok,
    /// Works, but something is missing or odd.
    Warn,
    /// Broken: costbot cannot do this.
    Fail,
    /// Not checked (not configured, or a check it depends on failed).
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

/// One check's outcome: what was checked, how it went, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// What was checked, like `database` or `account 123456789012`.
    pub name: String,
    /// How it went.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do, when there is something to do.
    pub hint: Option<String>,
}

impl CheckResult {
    fn new(name: impl Into<String>, status: Status, detail: impl Into<String>, hint: Option<&str>) -> CheckResult {
        CheckResult { name: name.into(), status, detail: detail.into(), hint: hint.map(str::to_string) }
    }

    fn ok(name: impl Into<String>, detail: impl Into<String>) -> CheckResult {
        CheckResult::new(name, Status::Ok, detail, None)
    }

    fn skip(name: impl Into<String>, detail: impl Into<String>) -> CheckResult {
        CheckResult::new(name, Status::Skip, detail, None)
    }

    fn with_hint(mut self, hint: impl Into<String>) -> CheckResult {
        self.hint = Some(hint.into());
        self
    }
}

/// Choices for a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Skip probes that AWS charges for (Cost Explorer: $0.01 a request).
    pub skip_paid: bool,
    /// Today (UTC), for the Cost Explorer probe's date range.
    pub today: NaiveDate,
}

/// The checks as text: one line each (`ok   database  postgres at db/costbot reachable`),
/// the hint after a dash, then a count.
pub fn render(results: &[CheckResult]) -> String {
    let width = results.iter().map(|r| r.name.chars().count()).max().unwrap_or(0).min(28);
    let mut out = String::new();
    for r in results {
        let hint = r.hint.as_deref().map(|h| format!(" — {h}")).unwrap_or_default();
        out.push_str(&format!("{:<4} {:<width$}  {}{hint}\n", r.status.label(), r.name, r.detail));
    }
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    out.push_str(&format!(
        "\n{} ok, {} warnings, {} failed, {} skipped\n",
        count(Status::Ok),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip)
    ));
    out
}

/// True when any check failed (the command then exits non-zero).
pub fn has_failures(results: &[CheckResult]) -> bool {
    results.iter().any(|r| r.status == Status::Fail)
}

/// Loads the configuration and runs every check. A configuration that does not load is the
/// only check then, since every other one depends on it.
pub async fn run(config_path: Option<&Path>, options: &Options) -> Vec<CheckResult> {
    let config = match Config::load(config_path) {
        Ok(config) => config,
        Err(error) => {
            let hint = "fix the file or the COSTBOT_* variable it names; `costbot config check` shows the result";
            return vec![CheckResult::new("config", Status::Fail, format!("{error:#}"), Some(hint))];
        }
    };
    let place = config_path.map_or("defaults and environment only".to_string(), |p| p.display().to_string());
    let mut results = vec![CheckResult::ok("config", format!("valid ({place})"))];
    results.extend(check(&config, options).await);
    results
}

/// Runs every check for a loaded configuration.
pub async fn check(config: &Config, options: &Options) -> Vec<CheckResult> {
    let mut results = database(config).await;
    results.extend(aws(config, options).await);
    results.extend(slack(config).await);
    results.extend(discord(config).await);
    results
}

async fn database(config: &Config) -> Vec<CheckResult> {
    let place = store::describe(&config.database.store_options());
    if config.database.url.is_none() && !config.database.sqlite_path.exists() {
        return vec![
            CheckResult::new("database", Status::Warn, format!("{place} does not exist yet"), None)
                .with_hint("`costbot migrate` or `costbot serve` creates it; set database.url for Postgres"),
            CheckResult::skip("migrations", "no database yet"),
        ];
    }
    // Opening an SQLite file applies its migrations (an embedded store has no separate
    // operator); opening Postgres does not.
    let store = match store::open(&config.database.store_options()).await {
        Ok(store) => store,
        Err(error) => {
            return vec![
                CheckResult::new("database", Status::Fail, format!("{place}: {error:#}"), None)
                    .with_hint("check database.url (or COSTBOT_DATABASE__URL) and that the server accepts connections"),
                CheckResult::skip("migrations", "the database is unreachable"),
            ]
        }
    };
    let reachable = match store.ping().await {
        Ok(()) => CheckResult::ok("database", format!("{place} reachable")),
        Err(error) => return vec![CheckResult::new("database", Status::Fail, format!("{place}: {error:#}"), None)],
    };
    let migrations = match store.migration_status().await {
        Ok(status) => migrations(&status),
        Err(error) => {
            CheckResult::new("migrations", Status::Fail, format!("cannot read the migration records: {error:#}"), None)
        }
    };
    vec![reachable, migrations]
}

/// The migrations line for a status.
pub fn migrations(status: &MigrationStatus) -> CheckResult {
    let versions = |v: &[i64]| v.iter().map(|v| format!("{v:04}")).collect::<Vec<_>>().join(", ");
    if !status.failed.is_empty() {
        return CheckResult::new(
            "migrations",
            Status::Fail,
            format!("migration {} failed part-way", versions(&status.failed)),
            None,
        )
        .with_hint("look at the database and the _sqlx_migrations table, then run `costbot migrate`");
    }
    if !status.pending.is_empty() {
        let names: Vec<String> = status.pending.iter().map(|(v, d)| format!("{v:04} {d}")).collect();
        let detail = format!("{} of {} not applied: {}", status.pending.len(), status.embedded, names.join(", "));
        return CheckResult::new("migrations", Status::Fail, detail, None)
            .with_hint("run `costbot migrate` (serve also applies them when it starts)");
    }
    if !status.unknown.is_empty() {
        let detail = format!(
            "all {} applied, plus {} this binary does not know ({})",
            status.embedded,
            status.unknown.len(),
            versions(&status.unknown)
        );
        return CheckResult::new("migrations", Status::Warn, detail, None)
            .with_hint("a newer costbot has migrated this database; run that version");
    }
    CheckResult::ok("migrations", format!("all {} applied", status.embedded))
}

async fn aws(config: &Config, options: &Options) -> Vec<CheckResult> {
    if config.costs.source == CostSourceKind::Simulated {
        return vec![CheckResult::skip("aws", "costs.source = simulated: costbot makes no AWS calls")];
    }
    let base = probe::Session::base(&config.aws).await;
    let me = match probe::identity(&base).await {
        Ok(me) => me,
        Err(error) => {
            let hint = "give costbot AWS credentials: IRSA on Kubernetes, an instance role, or AWS_PROFILE / AWS_ACCESS_KEY_ID";
            return vec![
                CheckResult::new("aws identity", Status::Fail, format!("{error:#}"), Some(hint)),
                CheckResult::skip("aws accounts", "no AWS identity"),
            ];
        }
    };
    let mut results = vec![CheckResult::ok("aws identity", format!("{} (account {})", me.arn, me.account))];
    let ids: Vec<_> = config.accounts.iter().map(|a| a.id.clone()).collect();
    let mut waste_targets = if config.waste.enabled { config.waste.target_accounts(&ids) } else { Vec::new() };
    let mut accounts = config.accounts.clone();
    if config.waste.enabled && config.waste.organization() {
        let (line, members) = organization(config, &base).await;
        results.push(line);
        waste_targets = members.iter().map(|a| a.id.clone()).collect();
        accounts.extend(members.into_iter().filter(|m| !ids.contains(&m.id)));
    }
    for account in &accounts {
        let searched = waste_targets.contains(&account.id);
        if !account.cost_explorer && !searched {
            // Named only; the payer's data covers it and costbot never calls AWS as it.
            continue;
        }
        let name = format!("account {}", account.id);
        let sdk = match account_identity(&base, account, &me, &name).await {
            Ok((sdk, line)) => {
                results.push(line);
                sdk
            }
            Err(line) => {
                results.push(line);
                continue;
            }
        };
        if account.cost_explorer {
            results.push(cost_explorer(&sdk, &account.id, options).await);
        }
        if searched {
            let region = config.waste.regions.first().map_or("us-east-1", String::as_str);
            let reads = probe::waste_reads(&sdk, region).await;
            results.push(waste_line(WasteProbe::Reads, &account.id, region, &reads, Status::Fail));
            // EC2 checks permissions on dry runs too, so a denied action breaks even dry-run
            // execution; it is a failure once costbot acts for real.
            let denied = if config.approvals.dry_run { Status::Warn } else { Status::Fail };
            let actions = probe::waste_actions(&sdk, region).await;
            results.push(waste_line(WasteProbe::Actions, &account.id, region, &actions, denied));
        }
    }
    if !waste_targets.is_empty() {
        let detail = format!(
            "{} not probed: RDS and Elastic Load Balancing have no dry run",
            probe::UNPROBED_ACTIONS.join(", ")
        );
        results.push(
            CheckResult::skip("waste actions without dry run", detail)
                .with_hint("check them with the IAM policy simulator"),
        );
    }
    results
}

/// `[waste] accounts = "organization"`: the organisation's ACTIVE members (one
/// `organizations:ListAccounts` with costbot's own identity) and how each is reached.
async fn organization(config: &Config, base: &probe::Session) -> (CheckResult, Vec<AccountConfig>) {
    let name = "waste organization";
    let members = match probe::organization_members(base).await {
        Ok(members) => members,
        Err(error) => {
            let hint = "grant organizations:ListAccounts (the ListOrganizationAccounts statement of deploy/iam/costbot-waste.json) to costbot's identity in the management or a delegated administrator account";
            return (CheckResult::new(name, Status::Fail, format!("{error:#}"), Some(hint)), Vec::new());
        }
    };
    match crate::aws::organizations::account_configs(config, &members) {
        Ok(accounts) => {
            let detail = format!("organizations:ListAccounts allowed: {} ACTIVE member accounts", accounts.len());
            (CheckResult::ok(name, detail), accounts)
        }
        Err(error) => (CheckResult::new(name, Status::Fail, format!("{error:#}"), None), Vec::new()),
    }
}

/// The account's credentials and its identity line, or the line saying why there are none.
async fn account_identity(
    base: &probe::Session,
    account: &AccountConfig,
    me: &probe::Identity,
    name: &str,
) -> Result<(probe::Session, CheckResult), CheckResult> {
    let fail = |detail: String, hint: &str| CheckResult::new(name, Status::Fail, detail, Some(hint));
    let template_hint = format!(
        "deploy deploy/iam/member-account-role.yaml in that account with CostbotPrincipalArn = {} and the same ExternalId",
        me.arn
    );
    let sdk = base.account(account).await.map_err(|e| fail(format!("{e:#}"), "check external_id"))?;
    let Some(role) = &account.role_arn else {
        if me.account != account.id.as_str() {
            let detail = format!("uses the ambient credentials, which belong to account {}", me.account);
            return Err(CheckResult::new(name, Status::Warn, detail, None)
                .with_hint("set role_arn (and external_id) for this account"));
        }
        return Ok((sdk, CheckResult::ok(name, "the ambient credentials belong to this account")));
    };
    match probe::identity(&sdk).await {
        Ok(who) if who.account == account.id.as_str() => {
            Ok((sdk, CheckResult::ok(name, format!("assumed {role}: {}", who.arn))))
        }
        Ok(who) => Err(fail(format!("assuming {role} gave credentials of account {}", who.account), "check role_arn")),
        Err(error) => Err(fail(format!("cannot assume {role}: {error:#}"), &template_hint)),
    }
}

async fn cost_explorer(sdk: &probe::Session, account: &crate::domain::AccountId, options: &Options) -> CheckResult {
    let name = format!("cost explorer {account}");
    if options.skip_paid {
        return CheckResult::skip(name, "ce:GetCostAndUsage not probed (--skip-paid; a request costs $0.01)");
    }
    let probe = probe::cost_explorer(sdk, options.today).await;
    match &probe.verdict {
        Verdict::Allowed | Verdict::NotRefused(_) => {
            CheckResult::ok(name, "ce:GetCostAndUsage allowed (one request, $0.01)")
        }
        Verdict::Denied(why) => {
            CheckResult::new(name, Status::Fail, format!("ce:GetCostAndUsage denied ({why})"), None).with_hint(
                "attach deploy/iam/costbot-cost-read.json, or EnableCostExplorer=true in the member-account template",
            )
        }
        Verdict::Failed(why) => CheckResult::new(name, Status::Fail, format!("ce:GetCostAndUsage failed: {why}"), None),
    }
}

/// Which half of waste handling a set of probes covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WasteProbe {
    /// Discovery's read-only calls.
    Reads,
    /// The EC2 actions of approved proposals.
    Actions,
}

/// One line for a feature's probes: every permission allowed, or which were denied.
fn waste_line(
    kind: WasteProbe,
    account: &crate::domain::AccountId,
    region: &str,
    probes: &[Probe],
    when_denied: Status,
) -> CheckResult {
    let reads = kind == WasteProbe::Reads;
    let name = format!("waste {} {account}", if reads { "reads" } else { "actions" });
    let list = |pick: &dyn Fn(&Verdict) -> bool| probes.iter().filter(|p| pick(&p.verdict)).collect::<Vec<_>>();
    let denied = list(&|v| matches!(v, Verdict::Denied(_)));
    let failed = list(&|v| matches!(v, Verdict::Failed(_)));
    if let Some(first) = denied.first() {
        let names: Vec<&str> = denied.iter().map(|p| p.permission).collect();
        let Verdict::Denied(why) = &first.verdict else { unreachable!("filtered on Denied") };
        let hint = if reads {
            "grant the WasteDiscoveryReadOnly statement of deploy/iam/costbot-waste.json (EnableWasteDiscovery=true in the template)"
        } else {
            "grant the action statements of deploy/iam/costbot-waste.json (EnableWasteActions=true in the template), or set [waste] enabled = false"
        };
        return CheckResult::new(
            name,
            when_denied,
            format!("denied in {region}: {} ({why})", names.join(", ")),
            Some(hint),
        );
    }
    if let Some(Probe { permission, verdict: Verdict::Failed(why) }) = failed.first() {
        return CheckResult::new(name, Status::Fail, format!("{permission} failed in {region}: {why}"), None);
    }
    let names: Vec<&str> = probes.iter().map(|p| p.permission).collect();
    let how = if reads { "allowed" } else { "allowed (DryRun, nothing changed)" };
    // AWS sometimes checks the (made-up) id before the permission; say so rather than claim more.
    let unconfirmed: Vec<&str> =
        probes.iter().filter(|p| matches!(p.verdict, Verdict::NotRefused(_))).map(|p| p.permission).collect();
    let note = if unconfirmed.is_empty() {
        String::new()
    } else {
        format!("; not refused but unconfirmed: {}", unconfirmed.join(", "))
    };
    CheckResult::ok(name, format!("{} {how} in {region}{note}", names.join(", ")))
}

async fn slack(config: &Config) -> Vec<CheckResult> {
    use crate::chat::slack::probe::{auth_test, manifest_bot_scopes, MANIFEST};
    let Some(token) = &config.slack.bot_token else {
        return vec![CheckResult::skip("slack", "not configured (no slack.bot_token)")];
    };
    let token = match token.resolve() {
        Ok(token) => token,
        Err(error) => {
            return vec![CheckResult::new("slack", Status::Fail, format!("slack.bot_token: {error:#}"), None)]
        }
    };
    let auth = match auth_test(&token, config.slack.api_url.as_deref()).await {
        Ok(auth) => auth,
        Err(error) => {
            let hint =
                "check slack.bot_token: the app's xoxb- Bot User OAuth Token (invalid_auth: mistyped or revoked)";
            return vec![CheckResult::new("slack", Status::Fail, format!("auth.test: {error:#}"), Some(hint))];
        }
    };
    let mut results =
        vec![CheckResult::ok("slack", format!("auth.test: bot {} in workspace {}", auth.user, auth.team))];
    let Some(granted) = auth.scopes else {
        results.push(CheckResult::new(
            "slack scopes",
            Status::Warn,
            "Slack sent no x-oauth-scopes header; scopes not compared",
            None,
        ));
        return results;
    };
    let missing: Vec<String> = manifest_bot_scopes(MANIFEST).into_iter().filter(|s| !granted.contains(s)).collect();
    results.push(if missing.is_empty() {
        CheckResult::ok("slack scopes", format!("granted {}", granted.join(", ")))
    } else {
        // Without these two, /cost and every posted card stop working; others are optional.
        let essential = missing.iter().any(|s| s == "commands" || s == "chat:write");
        let status = if essential { Status::Fail } else { Status::Warn };
        let detail = format!("missing {} (manifests/slack-app.yaml asks for them)", missing.join(", "));
        // The optional scopes fail quietly (a warning in the log, a line on a card), so the
        // hint says what each one's absence costs.
        let mut hint = "add them under OAuth & Permissions (or update the app from the manifest) and reinstall the app"
            .to_string();
        for cost in scope_costs(&missing) {
            hint.push_str("; ");
            hint.push_str(cost);
        }
        CheckResult::new("slack scopes", status, detail, Some(&hint))
    });
    results
}

/// What going without each missing optional scope costs, once per group of scopes.
fn scope_costs(missing: &[String]) -> Vec<&'static str> {
    let lacks = |names: &[&str]| missing.iter().any(|m| names.contains(&m.as_str()));
    let mut costs = Vec::new();
    if lacks(&["channels:history", "groups:history"]) {
        costs.push(
            "without channels:history / groups:history a post interrupted after Slack accepted it cannot be \
             found again and may be posted twice",
        );
    }
    if lacks(&["users:read", "users:read.email"]) {
        costs.push(
            "without users:read / users:read.email an owner tagged by email cannot be found (users.lookupByEmail): \
             the card says the owner is unknown, nobody is mentioned or sent the card, and only approvers can Keep",
        );
    }
    if lacks(&["im:write"]) {
        costs.push(
            "without im:write owners get no direct message (conversations.open): they see the card and the \
             reminder only in the channel",
        );
    }
    costs
}

async fn discord(config: &Config) -> Vec<CheckResult> {
    use crate::chat::discord::probe::{application, global_commands, manifest_command_names};
    if !config.discord.enabled() {
        return vec![CheckResult::skip("discord", "not configured (no discord.bot_token)")];
    }
    let sender = match crate::app::discord_sender(config) {
        Ok(Some(sender)) => sender,
        Ok(None) => return vec![CheckResult::skip("discord", "not configured (no discord.bot_token)")],
        Err(error) => return vec![CheckResult::new("discord", Status::Fail, format!("{error:#}"), None)],
    };
    let app = match application(&sender).await {
        Ok(app) => app,
        Err(error) => {
            let hint = "check discord.bot_token (the Bot token from the Developer Portal)";
            return vec![CheckResult::new("discord", Status::Fail, format!("{error:#}"), Some(hint))];
        }
    };
    if app.id != sender.application_id().to_string() {
        let detail = format!(
            "the token belongs to application {} ({}), not discord.application_id {}",
            app.name,
            app.id,
            sender.application_id()
        );
        return vec![CheckResult::new(
            "discord",
            Status::Fail,
            detail,
            Some("use the token and id of the same application"),
        )];
    }
    let mut results = vec![CheckResult::ok("discord", format!("application {} ({})", app.name, app.id))];
    let wanted = manifest_command_names(crate::chat::discord::commands::MANIFEST).unwrap_or_default();
    results.push(match global_commands(&sender).await {
        Err(error) => CheckResult::new("discord commands", Status::Fail, format!("{error:#}"), None),
        Ok(registered) => {
            let missing: Vec<&String> = wanted.iter().filter(|w| !registered.contains(w)).collect();
            if missing.is_empty() {
                CheckResult::ok("discord commands", format!("registered globally: {}", registered.join(", ")))
            } else {
                let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                CheckResult::new(
                    "discord commands",
                    Status::Warn,
                    format!("not registered globally: {}", names.join(", ")),
                    None,
                )
                .with_hint("run `costbot discord register` (commands registered with --guild are not listed here)")
            }
        }
    });
    results
}

/// `costbot doctor` as a command: prints the checks and fails if any check failed.
pub async fn command(config_path: Option<&Path>, skip_paid: bool) -> Result<()> {
    let options = Options { skip_paid, today: chrono::Utc::now().date_naive() };
    let results = run(config_path, &options).await;
    print!("{}", render(&results));
    let failed = results.iter().filter(|r| r.status == Status::Fail).count();
    anyhow::ensure!(failed == 0, "{failed} check(s) failed");
    Ok(())
}

#[cfg(test)]
#[path = "doctor_tests.rs"]
mod tests;
