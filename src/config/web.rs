//! `[web]`: the web console and dashboard in `costbot serve`, and who may open them.
//!
//! The pages show organisation-wide spend and let approvers decide proposals, so in `serve`
//! they are off until configured, and then only reachable with a token (as a bearer token or
//! a cookie set by `/login?token=…`) or through an authenticating proxy that puts the user's
//! name in a header (`user_header`, trusted only when configured). `costbot demo` sets
//! [`WebConfig::demo_users`] in code; no file or environment variable can.

use anyhow::{bail, Context, Result};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::SecretRef;

/// Shortest token accepted: a guessable token would open the approval buttons to anyone.
pub const MIN_TOKEN_LEN: usize = 16;

/// The web pages' settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Serve `/` (the console) and `/dashboard` from `costbot serve`.
    pub enabled: bool,
    /// A shared secret: `Authorization: Bearer …`, or the cookie `/login?token=…` sets.
    pub token: Option<SecretRef>,
    /// The console user a token holder acts as (list it in a console channel's `approvers`
    /// to let them approve).
    pub token_user: String,
    /// A header an authenticating proxy (oauth2-proxy, an OIDC ingress) sets to the signed-in
    /// user's name, e.g. `X-Forwarded-User`. Trusted only when set here, so costbot must then
    /// be reachable only through that proxy.
    pub user_header: Option<String>,
    /// The demo's identities, chosen on the page with no sign-in. Set only by `costbot demo`.
    #[serde(skip)]
    pub demo_users: Vec<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            enabled: false,
            token: None,
            token_user: "web".to_string(),
            user_header: None,
            demo_users: Vec::new(),
        }
    }
}

impl WebConfig {
    /// True when the pages are served: in the demo, or when enabled.
    pub fn serves_pages(&self) -> bool {
        self.enabled || !self.demo_users.is_empty()
    }

    /// Checks that enabled pages have a way to sign in and that the token is long enough.
    pub fn validate(&self) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        if self.token.is_none() && self.user_header.is_none() {
            bail!("web.enabled needs web.token or web.user_header: the pages must not be open to anyone");
        }
        if let Some(token) = &self.token {
            let value = token.resolve().context("web.token")?;
            if value.expose_secret().len() < MIN_TOKEN_LEN {
                bail!("web.token must be at least {MIN_TOKEN_LEN} characters");
            }
        }
        if let Some(header) = &self.user_header {
            if axum::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                bail!("web.user_header `{header}` is not a valid header name");
            }
        }
        if self.token_user.trim().is_empty() {
            bail!("web.token_user must not be empty");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn enabled_pages_need_a_way_to_sign_in() {
        let err = Config::from_toml("[web]\nenabled = true\n").unwrap_err();
        assert!(err.to_string().contains("web.token or web.user_header"), "{err}");
        assert!(Config::from_toml("[web]\nenabled = true\nuser_header = \"X-Forwarded-User\"\n").is_ok());
        let err = Config::from_toml("[web]\nenabled = true\nuser_header = \"bad header\"\n").unwrap_err();
        assert!(err.to_string().contains("bad header"), "{err}");
        assert!(
            Config::from_toml("[web]\ndemo_users = [\"me\"]\n").is_err(),
            "the demo's open access cannot come from a file"
        );
    }

    #[test]
    fn a_short_token_is_refused() {
        std::env::set_var("COSTBOT_TEST_WEB_SHORT_TOKEN", "short");
        let err = Config::from_toml("[web]\nenabled = true\ntoken = { env = \"COSTBOT_TEST_WEB_SHORT_TOKEN\" }\n")
            .unwrap_err();
        assert!(format!("{err:#}").contains("at least 16"), "{err:#}");
    }
}
