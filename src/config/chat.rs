//! `[slack]` and `[[channels]]`: how chat reaches costbot, and what each channel receives,
//! who may act there and which accounts it may see.

use serde::Deserialize;

use super::SecretRef;
use crate::domain::AccountId;

/// How Slack reaches costbot.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    /// Slack posts to `/slack/commands` and `/slack/interactions` (needs a public URL).
    #[default]
    Http,
    /// costbot opens a WebSocket to Slack (no public URL needed).
    Socket,
}

/// The Slack app's settings. Slack is off until a bot token is configured.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// HTTP endpoints or Socket Mode.
    pub mode: SlackMode,
    /// The bot token (`xoxb-…`).
    pub bot_token: Option<SecretRef>,
    /// Signing secrets; during rotation list the new and the old one.
    pub signing_secrets: Vec<SecretRef>,
    /// The app-level token (`xapp-…`) for Socket Mode.
    pub app_token: Option<SecretRef>,
    /// Web API base URL; only tests change it.
    pub api_url: Option<String>,
    /// Workspace ids (`T…`) costbot answers; a signed request from another workspace the app
    /// is installed in is refused and audited. Empty: any workspace (set it in production).
    pub team_ids: Vec<String>,
    /// Enterprise Grid ids (`E…`); when set, a request must carry one of them.
    pub enterprise_ids: Vec<String>,
    /// The app's own id (`A…`); when set, a request for another app is refused.
    pub app_ids: Vec<String>,
}

impl SlackConfig {
    /// Slack is enabled when a bot token is configured.
    pub fn enabled(&self) -> bool {
        self.bot_token.is_some()
    }
}

/// How Discord reaches costbot.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum DiscordMode {
    /// Discord posts interactions to `/discord/interactions` (needs a public URL).
    #[default]
    Http,
    /// costbot connects to Discord's gateway (no public URL needed).
    Gateway,
}

/// The Discord application's settings. Discord is off until a bot token is configured.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// HTTP interactions endpoint or gateway.
    pub mode: DiscordMode,
    /// The bot token.
    pub bot_token: Option<SecretRef>,
    /// The application id (a snowflake).
    pub application_id: Option<String>,
    /// The application's Ed25519 public key (hex, from the Developer Portal); not a secret.
    pub public_key: Option<String>,
    /// Replaces `https://discord.com` for API calls; only tests set it.
    pub api_url: Option<String>,
}

impl DiscordConfig {
    /// Discord is enabled when a bot token is configured.
    pub fn enabled(&self) -> bool {
        self.bot_token.is_some()
    }

    /// The application id as a number, with an error naming the key.
    pub fn application_id(&self) -> anyhow::Result<u64> {
        let text =
            self.application_id.as_deref().ok_or_else(|| anyhow::anyhow!("discord.application_id is not set"))?;
        text.trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("discord.application_id `{text}` is not a Discord id (digits only)"))
    }
}

/// A chat platform in configuration.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ChannelPlatform {
    /// Slack.
    Slack,
    /// Discord.
    Discord,
    /// The demo console.
    Console,
}

impl From<ChannelPlatform> for crate::domain::chat::Platform {
    fn from(value: ChannelPlatform) -> Self {
        match value {
            ChannelPlatform::Slack => crate::domain::chat::Platform::Slack,
            ChannelPlatform::Discord => crate::domain::chat::Platform::Discord,
            ChannelPlatform::Console => crate::domain::chat::Platform::Console,
        }
    }
}

/// Least severity a channel is alerted about.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord, Default)]
#[serde(rename_all = "lowercase")]
pub enum MinSeverity {
    /// Everything.
    Low,
    /// Medium and up (the default).
    #[default]
    Medium,
    /// High and critical.
    High,
    /// Critical only.
    Critical,
}

/// One chat channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Its platform.
    pub platform: ChannelPlatform,
    /// Its id (Slack `C0123ABC`, a Discord snowflake).
    pub id: String,
    /// A name for logs and the console.
    pub name: Option<String>,
    /// Post anomaly alerts here.
    #[serde(default = "yes")]
    pub alerts: bool,
    /// Least severity alerted.
    #[serde(default)]
    pub min_severity: MinSeverity,
    /// User ids (and, on Discord, `role:<id>`) allowed to approve, deny, snooze and mute here.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Accounts this channel may see; empty means all. A scoped channel never sees other
    /// accounts' costs or organisation-wide totals.
    #[serde(default)]
    pub accounts: Vec<AccountId>,
    /// Tag values this channel may see, e.g. `{ team = ["payments"] }` (one key from
    /// `[costs] tag_keys`); empty means no tag scope. A tag-scoped channel sees only spend
    /// under those values: never account, service or organisation totals.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, Vec<String>>,
    /// Post the daily digest here (see `[digest]`).
    #[serde(default = "yes")]
    pub digest: bool,
    /// This channel's digest schedule instead of `digest.schedule`.
    #[serde(default)]
    pub digest_schedule: Option<String>,
    /// This channel's time zone instead of `digest.timezone`.
    #[serde(default)]
    pub digest_timezone: Option<String>,
}

/// One person and their identities on each platform (`[[people]]`), so that approvals count
/// people: the same person approving from Slack and from the console counts once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    /// A name for cards and the audit log; `person:<name>` in a channel's `approvers` allows
    /// every identity of this person.
    pub name: String,
    /// Slack user ids (`U…`).
    #[serde(default)]
    pub slack: Vec<String>,
    /// Discord user ids (snowflakes).
    #[serde(default)]
    pub discord: Vec<String>,
    /// Console user names (the token user or the proxy's user header).
    #[serde(default)]
    pub console: Vec<String>,
}

impl PersonConfig {
    /// This person's ids on `platform`.
    pub fn ids(&self, platform: crate::domain::chat::Platform) -> &[String] {
        use crate::domain::chat::Platform;
        match platform {
            Platform::Slack => &self.slack,
            Platform::Discord => &self.discord,
            Platform::Console => &self.console,
        }
    }
}

fn yes() -> bool {
    true
}

impl ChannelConfig {
    /// True when the channel may see this account's data (`None`: organisation-wide data).
    pub fn may_see(&self, account: Option<&AccountId>) -> bool {
        match account {
            // Account and organisation figures hold every team's spend.
            _ if !self.tags.is_empty() => false,
            _ if self.accounts.is_empty() => true,
            Some(account) => self.accounts.contains(account),
            None => false,
        }
    }
}
