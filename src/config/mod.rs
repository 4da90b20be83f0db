//! Configuration: one TOML file plus `COSTBOT_SECTION__KEY` environment overrides.
//!
//! Unknown keys are refused with their name, so a typo never silently falls back to a
//! default. Secrets (role external ids, the database URL) are never written in the clear:
//! external ids are references to an environment variable or a file, and every secret is held
//! in a `SecretString` whose `Debug` output is redacted.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::{AccountId, Granularity, RoleArn};

mod anomaly;
mod api;
mod approvals;
mod budget;
mod chat;
mod cron;
mod digest;
mod owners;
mod tags;
mod waste;
mod web;

pub use anomaly::{AnomalyConfig, ExactDecimal, ThresholdOverride};
pub use api::{sha256, ApiConfig, ApiTokenConfig};
pub use approvals::ApprovalsConfig;
pub use budget::BudgetConfig;
pub use chat::{
    ChannelConfig, ChannelPlatform, DiscordConfig, DiscordMode, MinSeverity, PersonConfig, SlackConfig, SlackMode,
};
pub use cron::parse_cron;
pub use digest::{DigestConfig, DigestSchedule};
pub use owners::{routes as owner_routes, OwnerRouteConfig};
pub use waste::{WasteConfig, DEFAULT_DISCOVERY_CONCURRENCY};
pub use web::WebConfig;

/// The whole configuration.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where data is kept.
    pub database: DatabaseConfig,
    /// The HTTP server of `costbot serve`.
    pub server: ServerConfig,
    /// How the AWS SDK clients are built.
    pub aws: AwsConfig,
    /// The cost collection job.
    pub costs: CostsConfig,
    /// Anomaly detection after each collection.
    pub anomaly: AnomalyConfig,
    /// Savings proposals: expiry, two-approver threshold, dry-run.
    pub approvals: ApprovalsConfig,
    /// The AWS accounts costbot watches.
    pub accounts: Vec<AccountConfig>,
    /// The Slack app.
    pub slack: SlackConfig,
    /// The Discord application.
    pub discord: DiscordConfig,
    /// Chat channels: what each one receives, who may act there, which accounts it sees.
    pub channels: Vec<ChannelConfig>,
    /// People and their identities on each platform; approvals count people, not identities.
    pub people: Vec<PersonConfig>,
    /// Waste discovery: regions, rules, safety policy, price overrides.
    pub waste: WasteConfig,
    /// The daily digest: default schedule and time zone.
    pub digest: DigestConfig,
    /// The web console and dashboard, and who may open them.
    pub web: WebConfig,
    /// Monthly budgets: scope, amount, thresholds and the channels they alert in.
    pub budgets: Vec<BudgetConfig>,
    /// Team names (owner tag values) and the channel that gets their cards.
    pub owners: Vec<OwnerRouteConfig>,
    /// The read-only REST API and its tokens (off without `[[api.tokens]]`).
    pub api: ApiConfig,
    /// True when the configuration has a `[waste]` section (in the file or as
    /// `COSTBOT_WASTE__…` variables). Such a configuration may leave cost collection off: a
    /// user who only wants waste control needs no Cost Explorer account.
    #[serde(skip)]
    pub waste_configured: bool,
}

/// Storage settings. Without a URL, costbot uses an embedded SQLite file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// A `postgres://` URL. Secret, because it may carry a password.
    pub url: Option<SecretString>,
    /// The SQLite file used when no URL is configured.
    pub sqlite_path: PathBuf,
    /// Connection pool size.
    pub max_connections: u32,
}

impl DatabaseConfig {
    /// The store's options for this section.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            url: self.url.clone(),
            sqlite_path: self.sqlite_path.clone(),
            max_connections: self.max_connections,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { url: None, sqlite_path: PathBuf::from("costbot.sqlite"), max_connections: 10 }
    }
}

/// The default of `[server] header_read_timeout_secs`: Slack and Discord send a request at
/// once, so ten seconds is generous.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;

/// HTTP server settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Seconds a replica's leadership lasts without renewal; the leader renews every third of
    /// it, and another replica takes over at most this long after a leader dies.
    pub leader_lease_seconds: u64,
    /// Commands and clicks one person may send at once before "slow down" (refilled one
    /// every 2 seconds).
    pub chat_burst_per_person: u32,
    /// The same for a whole channel (refilled two a second).
    pub chat_burst_per_channel: u32,
    /// Seconds a client may take to send a request's line and headers (and an idle
    /// kept-alive connection stays open) before the connection is closed.
    pub header_read_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".to_string(),
            leader_lease_seconds: 15,
            chat_burst_per_person: crate::limits::PERSON_BURST,
            chat_burst_per_channel: crate::limits::CHANNEL_BURST,
            header_read_timeout_secs: DEFAULT_HEADER_READ_TIMEOUT_SECS,
        }
    }
}

/// Which retry strategy the AWS SDK uses.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum RetryMode {
    /// Exponential backoff with jitter.
    #[default]
    Standard,
    /// Standard plus client-side rate limiting after throttling, which suits Cost
    /// Explorer's low request rate limits. Waste discovery's clients retry in standard mode
    /// whatever this says: a few requests per account and region make adaptive mode's limiter
    /// hold a throttled retry for tens of seconds (`aws::inventory`).
    Adaptive,
}

/// AWS SDK settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsConfig {
    /// Region for API calls; Cost Explorer itself is only in us-east-1.
    pub region: String,
    /// Overrides every service endpoint (used for tests against moto).
    pub endpoint_url: Option<String>,
    /// Retry strategy.
    pub retry_mode: RetryMode,
    /// Attempts per request, first one included.
    pub max_attempts: u32,
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            region: "us-east-1".to_string(),
            endpoint_url: None,
            retry_mode: RetryMode::Adaptive,
            max_attempts: 5,
        }
    }
}

/// Where cost data comes from.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum CostSourceKind {
    /// AWS Cost Explorer.
    #[default]
    Aws,
    /// The deterministic simulated cloud used by `costbot demo`.
    Simulated,
}

/// Cost collection settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostsConfig {
    /// AWS or the simulation.
    pub source: CostSourceKind,
    /// Daily (default) or hourly facts.
    pub granularity: Granularity,
    /// Cost Explorer metric, e.g. `UnblendedCost`, `AmortizedCost`, `NetUnblendedCost`.
    pub metric: String,
    /// Days before the last complete day that each run fetches again.
    pub restatement_days: u64,
    /// How far back the first run reaches.
    pub backfill_days: u64,
    /// Cron expression with a seconds field; the default runs at minute 5 of every hour.
    pub schedule: String,
    /// Hours between refreshes of the region and usage-type breakdowns (two extra Cost
    /// Explorer requests per payer); 0 turns them off.
    pub breakdown_every_hours: u64,
    /// Cost allocation tag keys spend is also collected by (one request per payer and key
    /// per run), for `by tag:KEY`, `KEY=value` filters and tag-scoped channels.
    pub tag_keys: Vec<String>,
    /// Cost categories collected the same way, for `by category:NAME`.
    pub cost_categories: Vec<String>,
}

impl Default for CostsConfig {
    fn default() -> Self {
        CostsConfig {
            source: CostSourceKind::Aws,
            granularity: Granularity::Daily,
            metric: "UnblendedCost".to_string(),
            restatement_days: 3,
            backfill_days: 90,
            schedule: "0 5 * * * *".to_string(),
            breakdown_every_hours: 24,
            tag_keys: Vec::new(),
            cost_categories: Vec::new(),
        }
    }
}

/// One watched AWS account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Twelve-digit account id.
    pub id: AccountId,
    /// Human name used in answers.
    pub name: Option<String>,
    /// Query this account's Cost Explorer (a payer, whose data covers its linked accounts, or
    /// a standalone account). Linked accounts covered by a payer leave this off, so each run
    /// makes one paginated query per payer rather than one per account.
    #[serde(default)]
    pub cost_explorer: bool,
    /// Role to assume to reach the account; without it the ambient credentials are used.
    pub role_arn: Option<RoleArn>,
    /// The ExternalId the role's trust policy requires.
    pub external_id: Option<SecretRef>,
}

/// Where a secret is read from. Inline values are not accepted, so secrets stay out of
/// configuration files and version control.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretRef {
    /// `{ env = "NAME" }`: an environment variable.
    Env {
        /// The variable's name.
        env: String,
    },
    /// `{ file = "/run/secrets/name" }`: a file (trailing newline stripped).
    File {
        /// The file's path.
        file: PathBuf,
    },
}

impl SecretRef {
    /// Reads the secret now, with an error naming where it looked (never the value).
    pub fn resolve(&self) -> Result<SecretString> {
        let value = match self {
            SecretRef::Env { env } => {
                std::env::var(env).with_context(|| format!("environment variable {env} is not set"))?
            }
            SecretRef::File { file } => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read secret file {}", file.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        };
        Ok(SecretString::from(value))
    }
}

impl Config {
    /// Loads the file (if given) and applies `COSTBOT_SECTION__KEY` overrides, then validates.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let mut figment = Figment::new();
        if let Some(path) = path {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        // Only keys with a section separator are configuration, so unrelated variables such
        // as COSTBOT_CONFIG or COSTBOT_LOG are not mistaken for unknown keys.
        let env = Env::prefixed("COSTBOT_")
            .filter_map(|key| key.as_str().contains("__").then(|| key.as_str().replace("__", ".").into()));
        let figment = figment.merge(env);
        let mut config: Config = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {}", e.to_string().replace("default.", "")))?;
        config.waste_configured = figment.find_value("waste").is_ok();
        config.validate()?;
        Ok(config)
    }

    /// True when there is a cost source: the simulation, or an account with
    /// `cost_explorer = true`. Without one (a waste-only configuration) the collection job is
    /// not scheduled and `/cost` has nothing to answer from.
    pub fn collects_costs(&self) -> bool {
        self.costs.source == CostSourceKind::Simulated || self.accounts.iter().any(|a| a.cost_explorer)
    }

    /// Parses configuration from TOML text alone, for tests and the demo.
    pub fn from_toml(text: &str) -> Result<Config> {
        let figment = Figment::new().merge(Toml::string(text));
        let mut config: Config = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {}", e.to_string().replace("default.", "")))?;
        config.waste_configured = figment.find_value("waste").is_ok();
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: cross-field rules, the cron expression and the secrets.
    pub fn validate(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for account in &self.accounts {
            if !seen.insert(account.id.clone()) {
                bail!("account {} is listed twice in [[accounts]]", account.id);
            }
            if let Some(arn) = &account.role_arn {
                if arn.account() != &account.id {
                    bail!("account {}: role_arn {arn} belongs to account {}", account.id, arn.account());
                }
            }
            if let Some(secret) = &account.external_id {
                if account.role_arn.is_none() {
                    bail!("account {}: external_id is set but role_arn is not", account.id);
                }
                let value = secret.resolve().with_context(|| format!("account {}: external_id", account.id))?;
                // STS refuses ExternalIds shorter than two characters; say so before AWS does.
                if value.expose_secret().len() < 2 {
                    bail!("account {}: external_id must be at least 2 characters", account.id);
                }
            }
        }
        // A waste-only configuration (a `[waste]` section, discovery on) needs no cost source.
        let waste_only = self.waste_configured && self.waste.enabled;
        let wants_costs = self.costs.source == CostSourceKind::Aws && !self.accounts.is_empty() && !waste_only;
        if wants_costs && !self.collects_costs() {
            bail!(
                "no account has cost_explorer = true, so there is nothing to collect from \
                 (set it on the payer account, or add a [waste] section to run waste control alone)"
            );
        }
        parse_cron(&self.costs.schedule).context("costs.schedule")?;
        self.digest.validate(&self.channels)?;
        if self.costs.metric.trim().is_empty() {
            bail!("costs.metric must not be empty");
        }
        if self.anomaly.min_score.is_nan() || self.anomaly.min_score < 0.0 {
            bail!("anomaly.min_score must be a number of at least 0");
        }
        if self.anomaly.lookback_days < 21 {
            bail!("anomaly.lookback_days must be at least 21 (three weeks of weekly seasonality)");
        }
        let mut channels = std::collections::HashSet::new();
        for channel in &self.channels {
            if !channels.insert((channel.platform, channel.id.as_str())) {
                bail!("channel {} is listed twice in [[channels]]", channel.id);
            }
        }
        self.validate_people()?;
        owners::validate(&self.owners, &self.channels)?;
        self.validate_slack()?;
        self.validate_tags()?;
        if self.costs.breakdown_every_hours > 8_760 {
            bail!("costs.breakdown_every_hours must be at most 8760 (a year)");
        }
        if self.discord.enabled() {
            self.discord.application_id()?;
            if self.discord.mode == DiscordMode::Http && self.discord.public_key.is_none() {
                bail!("discord.public_key is required in HTTP mode: interactions cannot be verified without it");
            }
        }
        let account_ids: Vec<AccountId> = self.accounts.iter().map(|a| a.id.clone()).collect();
        self.waste.validate(&account_ids)?;
        self.web.validate()?;
        budget::validate(&self.budgets, &self.channels)?;
        self.api.validate(&self.tag_keys())?;
        if !(2..=3_600).contains(&self.server.leader_lease_seconds) {
            bail!("server.leader_lease_seconds must be between 2 and 3600");
        }
        if !(1..=300).contains(&self.server.header_read_timeout_secs) {
            bail!("server.header_read_timeout_secs must be between 1 and 300");
        }
        if self.aws.max_attempts == 0 {
            bail!("aws.max_attempts must be at least 1");
        }
        Ok(())
    }

    /// The secrets each Slack transport needs, and a workspace boundary it can check.
    fn validate_slack(&self) -> Result<()> {
        let slack = &self.slack;
        if slack.enabled() && slack.mode == SlackMode::Http && slack.signing_secrets.is_empty() {
            bail!("slack.signing_secrets is required in HTTP mode: requests cannot be verified without it");
        }
        if slack.mode == SlackMode::Socket && slack.enabled() && slack.app_token.is_none() {
            bail!("slack.app_token is required when slack.mode = \"socket\"");
        }
        // Socket Mode events, as costbot receives them, carry no enterprise id, so the
        // workspace list has to draw the boundary there.
        if slack.mode == SlackMode::Socket && !slack.enterprise_ids.is_empty() && slack.team_ids.is_empty() {
            bail!(
                "slack.enterprise_ids cannot be checked in Socket Mode (its events carry no enterprise id); \
                 list the workspaces in slack.team_ids"
            );
        }
        Ok(())
    }

    /// Each person is named once and each identity belongs to at most one person; otherwise
    /// "one person, one approval" would depend on which entry is read first.
    fn validate_people(&self) -> Result<()> {
        use crate::domain::chat::Platform;
        let (mut names, mut identities) = (std::collections::HashSet::new(), std::collections::HashMap::new());
        for person in &self.people {
            if person.name.trim().is_empty() || !names.insert(person.name.as_str()) {
                bail!("[[people]]: `{}` is empty or listed twice", person.name);
            }
            for platform in [Platform::Slack, Platform::Discord, Platform::Console] {
                for id in person.ids(platform) {
                    if let Some(other) = identities.insert((platform, id.as_str()), person.name.as_str()) {
                        bail!("[[people]]: {}:{id} belongs to both `{other}` and `{}`", platform.as_str(), person.name);
                    }
                }
            }
        }
        Ok(())
    }

    /// The person who has this identity, if `[[people]]` names one.
    pub fn person(&self, platform: crate::domain::chat::Platform, user: &str) -> Option<&PersonConfig> {
        self.people.iter().find(|p| p.ids(platform).iter().any(|id| id == user))
    }

    /// The configured channel with this platform and id.
    pub fn channel(&self, platform: crate::domain::chat::Platform, id: &str) -> Option<&ChannelConfig> {
        self.channels.iter().find(|c| crate::domain::chat::Platform::from(c.platform) == platform && c.id == id)
    }

    /// The configured account with this id, or an error naming it.
    pub fn account(&self, id: &AccountId) -> Result<&AccountConfig> {
        self.accounts.iter().find(|a| &a.id == id).with_context(|| format!("account {id} is not in the configuration"))
    }

    /// A redacted, human-readable summary for `costbot config check`.
    pub fn summary(&self) -> String {
        let store = match &self.database.url {
            Some(_) => "postgres (url redacted)".to_string(),
            None => format!("sqlite at {}", self.database.sqlite_path.display()),
        };
        let mut lines = vec![
            format!("store: {store}"),
            format!("server: listening on {}", self.server.listen),
            format!(
                "costs: {:?} source, {} {}, schedule `{}`, restatement {} days, backfill {} days",
                self.costs.source,
                self.costs.granularity,
                self.costs.metric,
                self.costs.schedule,
                self.costs.restatement_days,
                self.costs.backfill_days
            ),
            format!("aws: region {}, {:?} retries x{}", self.aws.region, self.aws.retry_mode, self.aws.max_attempts),
        ];
        for a in &self.accounts {
            let how = match (&a.role_arn, a.cost_explorer) {
                (Some(arn), true) => format!("Cost Explorer via role {arn}"),
                (None, true) => "Cost Explorer with ambient credentials".to_string(),
                (_, false) if self.collects_costs() => "covered by a payer".to_string(),
                (_, false) => "waste control only (no cost collection)".to_string(),
            };
            let name = a.name.as_deref().unwrap_or("(no name)");
            let external = if a.external_id.is_some() { ", external id set" } else { "" };
            lines.push(format!("account {} {name}: {how}{external}", a.id));
        }
        lines.extend(self.tag_summary());
        lines.extend(self.api.summary());
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::from_toml("[costs]\nschedul = \"0 * * * * *\"\n").unwrap_err();
        assert!(err.to_string().contains("schedul"), "{err}");
        let err = Config::from_toml("[[accounts]]\nid = \"123456789012\"\nrole = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("role"), "{err}");
    }

    #[test]
    fn bad_values_are_explained() {
        let err = Config::from_toml("[[accounts]]\nid = \"1234\"\ncost_explorer = true\n").unwrap_err();
        assert!(err.to_string().contains("1234"), "{err}");
        let err = Config::from_toml("[costs]\nschedule = \"every hour\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("every hour"), "{err:#}");
        let toml = "[[accounts]]\nid = \"111111111111\"\ncost_explorer = true\nrole_arn = \"arn:aws:iam::222222222222:role/x\"\n";
        let err = Config::from_toml(toml).unwrap_err();
        assert!(err.to_string().contains("belongs to account 222222222222"), "{err}");
    }

    #[test]
    fn secrets_come_from_env_or_file_and_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ext");
        std::fs::write(&file, "s3cr3t-external\n").unwrap();
        let toml = format!(
            "[database]\nurl = \"postgres://u:hunter2@db/costbot\"\n[[accounts]]\nid = \"111111111111\"\ncost_explorer = true\nrole_arn = \"arn:aws:iam::111111111111:role/costbot\"\nexternal_id = {{ file = \"{}\" }}\n",
            file.display()
        );
        let config = Config::from_toml(&toml).unwrap();
        let secret = config.accounts[0].external_id.as_ref().unwrap().resolve().unwrap();
        assert_eq!(secret.expose_secret(), "s3cr3t-external");
        let shown = format!("{config:?}\n{}", config.summary());
        assert!(!shown.contains("hunter2") && !shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn a_missing_secret_names_the_variable() {
        let toml = "[[accounts]]\nid = \"111111111111\"\ncost_explorer = true\nrole_arn = \"arn:aws:iam::111111111111:role/costbot\"\nexternal_id = { env = \"COSTBOT_TEST_SURELY_UNSET\" }\n";
        let err = Config::from_toml(toml).unwrap_err();
        assert!(format!("{err:#}").contains("COSTBOT_TEST_SURELY_UNSET"), "{err:#}");
    }

    #[test]
    fn anomaly_thresholds_take_numbers_or_strings_exactly() {
        let toml = "[anomaly]\nmin_impact = 0.4\nmin_percent = \"12.5\"\n\
                    [[anomaly.overrides]]\naccount = \"123456789012\"\nservice = \"AWS Lambda\"\nmin_impact = 500\n";
        let config = Config::from_toml(toml).unwrap();
        let set = config.anomaly.threshold_set();
        assert_eq!(set.default.min_impact.to_string(), "0.4");
        assert_eq!(set.default.min_percent.to_string(), "12.5");
        let lambda = set.thresholds_for("123456789012/AWS Lambda");
        assert_eq!((lambda.min_impact.to_string(), lambda.min_percent.to_string()), ("500".into(), "12.5".into()));
        assert!(Config::from_toml("[anomaly]\nmin_impact = \"lots\"\n").is_err());
    }

    #[test]
    fn defaults_need_no_file() {
        let config = Config::from_toml("").unwrap();
        assert!(config.database.url.is_none());
        assert_eq!(config.costs.restatement_days, 3);
        assert_eq!(config.costs.granularity, Granularity::Daily);
    }
}
