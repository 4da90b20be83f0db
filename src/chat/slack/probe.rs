//! Slack checks for `costbot doctor`: `auth.test` says whether the bot token works, and the
//! `x-oauth-scopes` header of its answer lists the scopes the token was granted, which are
//! compared with the bot scopes `manifests/slack-app.yaml` asks for.

use anyhow::{bail, Context, Result};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// The app manifest shipped with costbot.
pub const MANIFEST: &str = include_str!("../../../manifests/slack-app.yaml");

/// Who the bot token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackAuth {
    /// The workspace's name.
    pub team: String,
    /// The bot user's name.
    pub user: String,
    /// The granted scopes, when Slack sent the `x-oauth-scopes` header.
    pub scopes: Option<Vec<String>>,
}

/// Calls `auth.test` with `token` on Slack (or `api_url`, for tests). An answer with
/// `ok: false` is an error carrying Slack's code, such as `invalid_auth`.
pub async fn auth_test(token: &SecretString, api_url: Option<&str>) -> Result<SlackAuth> {
    let base = api_url.unwrap_or("https://slack.com/api").trim_end_matches('/');
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .context("building the HTTP client for Slack")?;
    let response = client
        .post(format!("{base}/auth.test"))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .context("cannot reach Slack")?;
    let status = response.status();
    let scopes = response
        .headers()
        .get("x-oauth-scopes")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect());
    let body: Value = response.json().await.with_context(|| format!("Slack answered {status} with no JSON"))?;
    if body["ok"] != Value::Bool(true) {
        bail!("Slack answered {}", body["error"].as_str().unwrap_or("an error without a code"));
    }
    let text = |key: &str| body[key].as_str().unwrap_or("?").to_string();
    Ok(SlackAuth { team: text("team"), user: text("user"), scopes })
}

/// The bot scopes listed under `oauth_config.scopes.bot` in an app manifest. The manifest is
/// simple, hand-written YAML, so its list is read by indentation rather than with a YAML
/// library.
pub fn manifest_bot_scopes(manifest: &str) -> Vec<String> {
    let mut scopes = Vec::new();
    let mut in_bot: Option<usize> = None;
    for line in manifest.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match in_bot {
            None if trimmed == "bot:" => in_bot = Some(indent),
            Some(bot) if indent > bot => {
                if let Some(item) = trimmed.strip_prefix("- ") {
                    scopes.push(item.split('#').next().unwrap_or_default().trim().to_string());
                }
            }
            Some(_) => in_bot = None,
            None => {}
        }
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_manifest_asks_for_the_bot_scopes_costbot_uses() {
        assert_eq!(
            manifest_bot_scopes(MANIFEST),
            [
                "commands",
                "chat:write",
                "files:write",
                "channels:history",
                "groups:history",
                "users:read",
                "users:read.email",
                "im:write"
            ]
        );
    }

    #[test]
    fn scopes_end_with_their_list() {
        let manifest =
            "oauth_config:\n  scopes:\n    bot:\n      # why\n      - a\n      - b # note\n    user:\n      - c\n";
        assert_eq!(manifest_bot_scopes(manifest), ["a", "b"]);
    }
}
