//! Who is asking: the web pages' sign-in.
//!
//! In `costbot demo` nobody signs in: the page offers the demo's identities and the request
//! names one. In `costbot serve` a request is signed in by the configured token (a bearer
//! token, or the cookie `/login?token=…` sets) or by a header an authenticating proxy sets.
//! Anything else is refused with 401 before it reaches a handler's logic.

use anyhow::{Context, Result};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::WebConfig;
use crate::domain::chat::UserId;

/// The cookie `/login` sets.
pub const COOKIE: &str = "costbot_token";

/// How requests are signed in.
pub enum Access {
    /// The demo: no sign-in; the request names one of these users (the first by default).
    Demo {
        /// The identities offered on the page.
        users: Vec<UserId>,
    },
    /// `serve`: a token, a trusted proxy header, or both.
    Secured {
        /// The shared secret.
        token: Option<SecretString>,
        /// Who a token holder acts as.
        token_user: UserId,
        /// The proxy's user header.
        user_header: Option<HeaderName>,
    },
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The console user id (what `approvers` lists).
    pub user: UserId,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not signed in.
    Unauthenticated,
    /// The demo has no such user.
    UnknownDemoUser(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "Sign in first: open /login?token=… with the configured web token, or come through the sign-in proxy.",
            )
                .into_response(),
            Refusal::UnknownDemoUser(name) => {
                (StatusCode::BAD_REQUEST, format!("`{name}` is not one of the demo's users")).into_response()
            }
        }
    }
}

impl Access {
    /// The access the configuration asks for; `None` when the pages are off.
    pub fn from_config(web: &WebConfig) -> Result<Option<Access>> {
        if !web.demo_users.is_empty() {
            return Ok(Some(Access::Demo { users: web.demo_users.iter().cloned().map(UserId).collect() }));
        }
        if !web.enabled {
            return Ok(None);
        }
        let token = web.token.as_ref().map(|t| t.resolve()).transpose().context("web.token")?;
        let user_header = web
            .user_header
            .as_deref()
            .map(|h| HeaderName::from_bytes(h.as_bytes()).with_context(|| format!("web.user_header `{h}`")))
            .transpose()?;
        Ok(Some(Access::Secured { token, token_user: UserId(web.token_user.clone()), user_header }))
    }

    /// True in the demo, where the page offers a choice of identity.
    pub fn demo_users(&self) -> Option<&[UserId]> {
        match self {
            Access::Demo { users } => Some(users),
            Access::Secured { .. } => None,
        }
    }

    /// Signs a request in. `requested` is the demo identity the page asked for (ignored
    /// outside the demo: there, who you are comes from the token or the proxy only).
    pub fn identify(&self, headers: &HeaderMap, requested: Option<&str>) -> Result<Identity, Refusal> {
        match self {
            Access::Demo { users } => match requested.filter(|r| !r.is_empty()) {
                None => users.first().map(|u| Identity { user: u.clone() }).ok_or(Refusal::Unauthenticated),
                Some(name) => users
                    .iter()
                    .find(|u| u.0 == name)
                    .map(|u| Identity { user: u.clone() })
                    .ok_or_else(|| Refusal::UnknownDemoUser(name.chars().take(64).collect())),
            },
            Access::Secured { token, token_user, user_header } => {
                if let Some(name) = user_header.as_ref().and_then(|h| headers.get(h)).and_then(|v| v.to_str().ok()) {
                    let name = name.trim();
                    if !name.is_empty() {
                        return Ok(Identity { user: UserId(name.to_string()) });
                    }
                }
                match (token, presented_token(headers)) {
                    (Some(expected), Some(given)) if same_secret(expected.expose_secret(), &given) => {
                        Ok(Identity { user: token_user.clone() })
                    }
                    _ => Err(Refusal::Unauthenticated),
                }
            }
        }
    }

    /// True when `given` is the configured token (for `/login`).
    pub fn token_matches(&self, given: &str) -> bool {
        matches!(self, Access::Secured { token: Some(expected), .. } if same_secret(expected.expose_secret(), given))
    }
}

/// The token from `Authorization: Bearer …` or the sign-in cookie.
fn presented_token(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    bearer.or_else(|| {
        headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(
            |pair| {
                let (name, value) = pair.trim().split_once('=')?;
                (name == COOKIE).then(|| value.to_string())
            },
        )
    })
}

/// Compares two secrets in time that does not depend on where they differ: both are hashed
/// first, so even their lengths are not compared directly.
fn same_secret(expected: &str, given: &str) -> bool {
    let (a, b) = (Sha256::digest(expected.as_bytes()), Sha256::digest(given.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secured(header: Option<&str>) -> Access {
        Access::Secured {
            token: Some(SecretString::from("0123456789abcdef-token")),
            token_user: UserId("ops".into()),
            user_header: header.map(|h| HeaderName::from_bytes(h.as_bytes()).unwrap()),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        map
    }

    #[test]
    fn a_token_signs_in_as_the_token_user_by_bearer_or_cookie() {
        let access = secured(None);
        let ops = Ok(Identity { user: UserId("ops".into()) });
        assert_eq!(access.identify(&headers(&[("authorization", "Bearer 0123456789abcdef-token")]), None), ops);
        assert_eq!(
            access.identify(&headers(&[("cookie", "a=b; costbot_token=0123456789abcdef-token")]), Some("you")),
            ops
        );
        assert_eq!(
            access.identify(&headers(&[("authorization", "Bearer wrong")]), None),
            Err(Refusal::Unauthenticated)
        );
        assert_eq!(access.identify(&headers(&[]), None), Err(Refusal::Unauthenticated));
    }

    #[test]
    fn the_proxy_header_is_trusted_only_when_configured() {
        let forwarded = headers(&[("x-forwarded-user", "ana")]);
        assert_eq!(secured(None).identify(&forwarded, None), Err(Refusal::Unauthenticated));
        assert_eq!(
            secured(Some("X-Forwarded-User")).identify(&forwarded, None),
            Ok(Identity { user: UserId("ana".into()) })
        );
    }

    #[test]
    fn the_demo_offers_its_users_only() {
        let demo = Access::Demo { users: vec![UserId("you".into()), UserId("viewer".into())] };
        assert_eq!(demo.identify(&headers(&[]), None).unwrap().user.0, "you");
        assert_eq!(demo.identify(&headers(&[]), Some("viewer")).unwrap().user.0, "viewer");
        assert_eq!(demo.identify(&headers(&[]), Some("mallory")), Err(Refusal::UnknownDemoUser("mallory".into())));
    }
}
