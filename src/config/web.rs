//! `[web]`: the web console and dashboard in `costbot serve`, and who may open them.
//!
//! The pages show organisation-wide spend and let approvers decide proposals, so in `serve`
//! they are off until configured, and then only reachable with a token (as a bearer token, or
//! signed in once through the `/login` form, which sets a stored session cookie) or through an
//! authenticating proxy that puts the user's name in a header (`user_header`, believed only
//! from `trusted_proxies` or with `proxy_secret`). `costbot demo` sets
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
    /// user's name, e.g. `X-Forwarded-User`. Believed only from `trusted_proxies` or with
    /// `proxy_secret`; from anyone else it is ignored (401).
    pub user_header: Option<String>,
    /// The proxy's addresses as CIDRs (`10.0.0.0/8`, `::1/128`): only requests whose TCP peer
    /// is one of them may use `user_header`.
    pub trusted_proxies: Vec<String>,
    /// A secret the proxy sends in `X-Costbot-Proxy-Secret`; with it, `user_header` is believed
    /// from any address (for proxies whose address is not stable).
    pub proxy_secret: Option<SecretRef>,
    /// A separate address for the pages (`127.0.0.1:8081`), so the chat webhooks can be public
    /// while the console and dashboard stay internal. Unset: the pages share `server.listen`.
    pub listen: Option<String>,
    /// How long a sign-in lasts, in hours.
    pub session_hours: u32,
    /// Mark the session cookie `Secure` (browsers then send it over HTTPS only). Also set for
    /// a request a trusted proxy marks `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
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
            trusted_proxies: Vec::new(),
            proxy_secret: None,
            listen: None,
            session_hours: 8,
            secure_cookies: false,
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
            if self.trusted_proxies.is_empty() && self.proxy_secret.is_none() {
                bail!("web.user_header needs web.trusted_proxies or web.proxy_secret: anyone could send the header");
            }
        }
        self.proxies()?;
        if let Some(secret) = &self.proxy_secret {
            let value = secret.resolve().context("web.proxy_secret")?;
            if value.expose_secret().len() < MIN_TOKEN_LEN {
                bail!("web.proxy_secret must be at least {MIN_TOKEN_LEN} characters");
            }
        }
        if !(1..=24 * 30).contains(&self.session_hours) {
            bail!("web.session_hours must be between 1 and 720");
        }
        if self.token_user.trim().is_empty() {
            bail!("web.token_user must not be empty");
        }
        Ok(())
    }
}

impl WebConfig {
    /// `trusted_proxies` parsed, with an error naming a bad entry.
    pub fn proxies(&self) -> Result<Vec<ipnet::IpNet>> {
        self.trusted_proxies
            .iter()
            .map(|cidr| {
                // A bare address means just that address.
                let text = cidr.trim();
                text.parse::<ipnet::IpNet>()
                    .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| anyhow::anyhow!("web.trusted_proxies: `{cidr}` is not a CIDR like 10.0.0.0/8"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn enabled_pages_need_a_way_to_sign_in() {
        let err = Config::from_toml("[web]\nenabled = true\n").unwrap_err();
        assert!(err.to_string().contains("web.token or web.user_header"), "{err}");
        let proxied = "[web]\nenabled = true\nuser_header = \"X-Forwarded-User\"\n";
        let err = Config::from_toml(proxied).unwrap_err();
        assert!(err.to_string().contains("trusted_proxies or web.proxy_secret"), "{err}");
        assert!(Config::from_toml(&format!("{proxied}trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n")).is_ok());
        let err = Config::from_toml(&format!("{proxied}trusted_proxies = [\"10.0.0.0/33\"]\n")).unwrap_err();
        assert!(err.to_string().contains("10.0.0.0/33"), "{err}");
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
