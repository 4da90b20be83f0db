//! `[api]`: the read-only REST API (`/api/v1/…`) and the tokens that may call it.
//!
//! The API is off until at least one `[[api.tokens]]` entry exists (deny by default: without
//! one every `/api/v1` route is refused). Each token is either a secret reference
//! (`token = { env = "…" }` or `{ file = "…" }`, like every other secret in costbot, for
//! Kubernetes secrets and vaults) or only the SHA-256 of the token (`token_sha256`, for a
//! configuration file kept in git): either way costbot holds and compares digests only. Each
//! token has its own scope of accounts; tokens are separate from the web sign-in, so a
//! dashboard's token never opens the approval buttons.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::SecretRef;
use crate::domain::AccountId;

/// Shortest token accepted: a guessable token would give out the organisation's spend.
pub const MIN_API_TOKEN_LEN: usize = 24;

/// The REST API's settings.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Who may call the API, and what each caller may see. Empty: the API is off.
    pub tokens: Vec<ApiTokenConfig>,
}

/// One API token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenConfig {
    /// A name for logs and errors (`grafana`); never the token itself.
    pub name: String,
    /// The token, as a secret reference.
    #[serde(default)]
    pub token: Option<SecretRef>,
    /// Or only its SHA-256, as 64 hex digits (`printf %s "$TOKEN" | sha256sum`).
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// The accounts this token may see; empty means every account (as for `[[channels]]`).
    /// A scoped token never sees organisation totals or other accounts' anomalies.
    #[serde(default)]
    pub accounts: Vec<AccountId>,
    /// Tag values this token may see (`{ team = ["payments"] }`). Refused until spend is kept
    /// per tag: a scope costbot could not apply would silently widen what the token sees.
    #[serde(default)]
    pub tags: BTreeMap<String, Vec<String>>,
}

impl ApiConfig {
    /// True when at least one token is configured.
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// One line per token for `costbot config check`: its name and scope, never the token.
    pub fn summary(&self) -> Vec<String> {
        self.tokens
            .iter()
            .map(|t| match t.accounts.as_slice() {
                [] => format!("api token {}: every account", t.name),
                ids => {
                    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                    format!("api token {}: accounts {}", t.name, ids.join(", "))
                }
            })
            .collect()
    }

    /// Checks every token: a name, exactly one of `token` and `token_sha256`, long enough,
    /// distinct, and no scope that cannot be applied.
    pub fn validate(&self, tag_keys: &[crate::domain::tags::TagKey]) -> Result<()> {
        let mut names = std::collections::HashSet::new();
        let mut digests = std::collections::HashSet::new();
        for entry in &self.tokens {
            let name = entry.name.trim();
            if name.is_empty() || !names.insert(name) {
                bail!("[[api.tokens]]: name `{name}` is empty or used twice");
            }
            // A token's tag scope is a channel's: one key from `[costs] tag_keys`, some values.
            if entry.tags.len() > 1 {
                bail!("api.tokens `{name}`: one tag key per token (spend by two keys cannot be combined exactly)");
            }
            if let Some((key, values)) = entry.tags.iter().next() {
                let known = tag_keys.iter().any(|k| k.kind == crate::domain::tags::TagKind::Tag && &k.name == key);
                if !known {
                    bail!("api.tokens `{name}`: tag key `{key}` is not in [costs] tag_keys");
                }
                if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
                    bail!("api.tokens `{name}`: tags.{key} needs one or more non-empty values");
                }
            }
            if !digests.insert(entry.digest().with_context(|| format!("api.tokens `{name}`"))?) {
                bail!("api.tokens `{name}`: the same token is configured twice");
            }
        }
        Ok(())
    }
}

/// The SHA-256 of `text`: what costbot keeps of an API token, and what it compares.
pub fn sha256(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(text.as_bytes()));
    out
}

impl ApiTokenConfig {
    /// The SHA-256 of the token, from whichever form it is configured in.
    pub fn digest(&self) -> Result<[u8; 32]> {
        match (&self.token, &self.token_sha256) {
            (Some(secret), None) => {
                let value = secret.resolve().context("token")?;
                if value.expose_secret().len() < MIN_API_TOKEN_LEN {
                    bail!("token must be at least {MIN_API_TOKEN_LEN} characters");
                }
                Ok(sha256(value.expose_secret()))
            }
            (None, Some(hexed)) => {
                let bytes = hex::decode(hexed.trim()).ok().filter(|b| b.len() == 32);
                let bytes = bytes.context("token_sha256 must be 64 hex digits (a SHA-256)")?;
                let mut out = [0u8; 32];
                out.copy_from_slice(&bytes);
                Ok(out)
            }
            _ => bail!("set exactly one of token and token_sha256"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn without_tokens_the_api_is_off() {
        assert!(!Config::from_toml("").unwrap().api.enabled());
        assert!(!Config::from_toml("[api]\n").unwrap().api.enabled());
    }

    #[test]
    fn a_token_is_a_secret_reference_or_a_hash() {
        let toml =
            format!("[[api.tokens]]\nname = \"grafana\"\ntoken_sha256 = \"{HASH}\"\naccounts = [\"111111111111\"]\n");
        let config = Config::from_toml(&toml).unwrap();
        assert!(config.api.enabled());
        assert_eq!(hex::encode(config.api.tokens[0].digest().unwrap()), HASH);
        assert!(config.summary().contains("api token grafana: accounts 111111111111"), "{}", config.summary());
        assert!(!config.summary().contains(HASH), "the summary names tokens, never their digests");
        std::env::set_var("COSTBOT_TEST_API_TOKEN_OK", "a-long-enough-api-token-123");
        let toml = "[[api.tokens]]\nname = \"ci\"\ntoken = { env = \"COSTBOT_TEST_API_TOKEN_OK\" }\n";
        assert!(Config::from_toml(toml).is_ok());
    }

    #[test]
    fn bad_tokens_are_refused_with_their_name() {
        let err = |toml: &str| format!("{:#}", Config::from_toml(toml).unwrap_err());
        assert!(err("[[api.tokens]]\nname = \"g\"\n").contains("exactly one of token and token_sha256"));
        assert!(err("[[api.tokens]]\nname = \"g\"\ntoken_sha256 = \"abc\"\n").contains("64 hex digits"));
        std::env::set_var("COSTBOT_TEST_API_TOKEN_SHORT", "short");
        let short = "[[api.tokens]]\nname = \"g\"\ntoken = { env = \"COSTBOT_TEST_API_TOKEN_SHORT\" }\n";
        assert!(err(short).contains("at least 24"));
        let twice = format!(
            "[[api.tokens]]\nname = \"a\"\ntoken_sha256 = \"{HASH}\"\n[[api.tokens]]\nname = \"b\"\ntoken_sha256 = \"{HASH}\"\n"
        );
        assert!(err(&twice).contains("configured twice"));
        let tagged =
            format!("[[api.tokens]]\nname = \"t\"\ntoken_sha256 = \"{HASH}\"\ntags = {{ team = [\"payments\"] }}\n");
        assert!(err(&tagged).contains("tag key `team` is not in [costs] tag_keys"));
        let known = format!("[costs]\nsource = \"simulated\"\ntag_keys = [\"team\"]\n{tagged}");
        assert!(Config::from_toml(&known).is_ok(), "a configured key is a valid token scope");
        assert!(err("[[api.tokens]]\nname = \"g\"\ntokn = \"x\"\n").contains("tokn"));
    }
}
