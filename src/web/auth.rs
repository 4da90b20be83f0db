//! Who is asking: the web pages' sign-in.
//!
//! In `costbot demo` nobody signs in: the page offers the demo's identities and the request
//! names one. In `costbot serve` a request is signed in by a live session (the cookie the
//! `/login` form sets: a random id whose SHA-256 the store keeps with an expiry), by the
//! configured token as a bearer token, or by the header an authenticating proxy sets, which
//! is believed only from `trusted_proxies` or with the proxy secret. Anything else is refused
//! with 401 before it reaches a handler's logic.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::WebConfig;
use crate::domain::chat::UserId;
use crate::store::{AccessStore, WebSession};

/// The session cookie `/login` sets.
pub const COOKIE: &str = "costbot_session";
/// The header carrying the proxy secret.
pub const PROXY_SECRET_HEADER: &str = "x-costbot-proxy-secret";

/// How `serve` signs requests in.
pub struct Secured {
    /// The shared secret (bearer, or typed into the sign-in form).
    pub token: Option<SecretString>,
    /// Who a token holder acts as.
    pub token_user: UserId,
    /// The proxy's user header.
    pub user_header: Option<HeaderName>,
    /// Peers whose user header is believed.
    pub proxies: Vec<ipnet::IpNet>,
    /// With this secret in [`PROXY_SECRET_HEADER`], the user header is believed from anyone.
    pub proxy_secret: Option<SecretString>,
    /// How long a session lasts.
    pub session: chrono::Duration,
    /// Always mark the cookie `Secure`.
    pub secure_cookies: bool,
}

/// How requests are signed in.
pub enum Access {
    /// The demo: no sign-in; the request names one of these users (the first by default).
    Demo {
        /// The identities offered on the page.
        users: Vec<UserId>,
    },
    /// `serve`: a session, the token, or a trusted proxy's header.
    Secured(Secured),
}

/// The TCP peer's address, when the server was started with connection info (`serve` is);
/// without it no proxy header is believed.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

/// What a request presents.
pub struct Asking<'a> {
    /// Its headers.
    pub headers: &'a HeaderMap,
    /// Its TCP peer.
    pub peer: Peer,
    /// The demo identity the page asked for.
    pub requested: Option<&'a str>,
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
    /// The session store could not be read.
    Unavailable,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "Sign in first at /login with the configured web token, or come through the sign-in proxy.",
            )
                .into_response(),
            Refusal::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "costbot cannot check sign-ins just now; please try again.")
                    .into_response()
            }
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
        let proxy_secret = web.proxy_secret.as_ref().map(|s| s.resolve()).transpose().context("web.proxy_secret")?;
        Ok(Some(Access::Secured(Secured {
            token,
            token_user: UserId(web.token_user.clone()),
            user_header,
            proxies: web.proxies()?,
            proxy_secret,
            session: chrono::Duration::hours(i64::from(web.session_hours)),
            secure_cookies: web.secure_cookies,
        })))
    }

    /// True in the demo, where the page offers a choice of identity.
    pub fn demo_users(&self) -> Option<&[UserId]> {
        match self {
            Access::Demo { users } => Some(users),
            Access::Secured(_) => None,
        }
    }

    /// Signs a request in. `requested` counts only in the demo: in `serve`, who you are comes
    /// from a session, the token or a trusted proxy only.
    pub async fn identify(
        &self,
        asking: &Asking<'_>,
        sessions: &dyn AccessStore,
        now: NaiveDateTime,
    ) -> Result<Identity, Refusal> {
        match self {
            Access::Demo { users } => match asking.requested.filter(|r| !r.is_empty()) {
                None => users.first().map(|u| Identity { user: u.clone() }).ok_or(Refusal::Unauthenticated),
                Some(name) => users
                    .iter()
                    .find(|u| u.0 == name)
                    .map(|u| Identity { user: u.clone() })
                    .ok_or_else(|| Refusal::UnknownDemoUser(name.chars().take(64).collect())),
            },
            Access::Secured(secured) => secured.identify(asking, sessions, now).await,
        }
    }

    /// The `serve` settings; `None` in the demo.
    pub fn secured(&self) -> Option<&Secured> {
        match self {
            Access::Secured(secured) => Some(secured),
            Access::Demo { .. } => None,
        }
    }
}

impl Secured {
    async fn identify(
        &self,
        asking: &Asking<'_>,
        sessions: &dyn AccessStore,
        now: NaiveDateTime,
    ) -> Result<Identity, Refusal> {
        let headers = asking.headers;
        if let Some(name) = self.user_header.as_ref().and_then(|h| headers.get(h)).and_then(|v| v.to_str().ok()) {
            let name = name.trim();
            if !name.is_empty() && self.proxy_trusted(headers, asking.peer) {
                return Ok(Identity { user: UserId(name.to_string()) });
            }
        }
        if let Some(given) = bearer(headers) {
            return match &self.token {
                Some(expected) if same_secret(expected.expose_secret(), &given) => {
                    Ok(Identity { user: self.token_user.clone() })
                }
                _ => Err(Refusal::Unauthenticated),
            };
        }
        let Some(id) = session_cookie(headers) else { return Err(Refusal::Unauthenticated) };
        match sessions.live_session(&session_hash(&id), now).await {
            Ok(Some(session)) => Ok(Identity { user: UserId(session.user) }),
            Ok(None) => Err(Refusal::Unauthenticated),
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "cannot read web sessions");
                Err(Refusal::Unavailable)
            }
        }
    }

    /// Whether the proxy header may be believed: the peer is a configured proxy, or the
    /// request carries the proxy secret.
    fn proxy_trusted(&self, headers: &HeaderMap, peer: Peer) -> bool {
        let from_proxy = peer.0.is_some_and(|ip| self.proxies.iter().any(|net| net.contains(&ip)));
        let with_secret = self.proxy_secret.as_ref().is_some_and(|secret| {
            headers
                .get(PROXY_SECRET_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|given| same_secret(secret.expose_secret(), given))
        });
        from_proxy || with_secret
    }

    /// True when `given` is the configured token (the sign-in form).
    pub fn token_matches(&self, given: &str) -> bool {
        self.token.as_ref().is_some_and(|expected| same_secret(expected.expose_secret(), given))
    }

    /// A new session for the token user: the random id for the cookie, and the record to store.
    pub fn new_session(&self, now: NaiveDateTime) -> (String, WebSession) {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let id = hex::encode(bytes);
        let session = WebSession {
            id_hash: session_hash(&id),
            user: self.token_user.0.clone(),
            created_at: now,
            expires_at: now + self.session,
        };
        (id, session)
    }

    /// The `Set-Cookie` value for a session id: HttpOnly (no script reads it), SameSite=Strict
    /// (no other site's request carries it), expiring with the session, `Secure` behind HTTPS.
    pub fn cookie(&self, id: &str, headers: &HeaderMap, peer: Peer) -> String {
        let https = self.secure_cookies
            || (peer.0.is_some_and(|ip| self.proxies.iter().any(|net| net.contains(&ip)))
                && headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https"));
        let secure = if https { "; Secure" } else { "" };
        format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}", self.session.num_seconds())
    }
}

/// The cookie that ends a session in the browser.
pub fn cleared_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// The stored form of a session id.
pub fn session_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// The session id from the cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE && !value.is_empty()).then(|| value.to_string())
    })
}

/// The token from `Authorization: Bearer …`.
fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
}

/// Compares two secrets in time that does not depend on where they differ: both are hashed
/// first, so even their lengths are not compared directly.
fn same_secret(expected: &str, given: &str) -> bool {
    let (a, b) = (Sha256::digest(expected.as_bytes()), Sha256::digest(given.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::SqliteStore;

    fn secured(header: Option<&str>, proxies: &[&str], secret: Option<&str>) -> Access {
        Access::Secured(Secured {
            token: Some(SecretString::from("0123456789abcdef-token")),
            token_user: UserId("ops".into()),
            user_header: header.map(|h| HeaderName::from_bytes(h.as_bytes()).unwrap()),
            proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
            proxy_secret: secret.map(SecretString::from),
            session: chrono::Duration::hours(8),
            secure_cookies: false,
        })
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        map
    }

    fn now() -> NaiveDateTime {
        "2026-11-25T10:00:00".parse().unwrap()
    }

    async fn who(access: &Access, pairs: &[(&str, &str)], peer: Option<&str>) -> Result<Identity, Refusal> {
        let store = SqliteStore::in_memory().await.unwrap();
        let headers = headers(pairs);
        let asking = Asking { headers: &headers, peer: Peer(peer.map(|p| p.parse().unwrap())), requested: Some("you") };
        access.identify(&asking, &store, now()).await
    }

    #[tokio::test]
    async fn a_token_signs_in_as_the_token_user_by_bearer_only() {
        let access = secured(None, &[], None);
        let ops = Ok(Identity { user: UserId("ops".into()) });
        assert_eq!(who(&access, &[("authorization", "Bearer 0123456789abcdef-token")], None).await, ops);
        assert_eq!(who(&access, &[("authorization", "Bearer wrong")], None).await, Err(Refusal::Unauthenticated));
        let raw = [("cookie", "costbot_session=0123456789abcdef-token")];
        assert_eq!(who(&access, &raw, None).await, Err(Refusal::Unauthenticated), "the token is not a session");
        assert_eq!(who(&access, &[], None).await, Err(Refusal::Unauthenticated));
    }

    #[tokio::test]
    async fn the_proxy_header_is_believed_only_from_a_proxy_or_with_its_secret() {
        let forwarded = [("x-forwarded-user", "ana")];
        let ana = Ok(Identity { user: UserId("ana".into()) });
        let behind = secured(Some("X-Forwarded-User"), &["10.0.0.0/8"], Some("proxy-secret-0123456789"));
        assert_eq!(who(&secured(None, &["10.0.0.0/8"], None), &forwarded, Some("10.1.2.3")).await.ok(), None);
        assert_eq!(who(&behind, &forwarded, Some("10.1.2.3")).await, ana);
        assert_eq!(who(&behind, &forwarded, Some("192.0.2.7")).await, Err(Refusal::Unauthenticated), "not a proxy");
        assert_eq!(who(&behind, &forwarded, None).await, Err(Refusal::Unauthenticated), "peer unknown");
        let with_secret = [("x-forwarded-user", "ana"), (PROXY_SECRET_HEADER, "proxy-secret-0123456789")];
        assert_eq!(who(&behind, &with_secret, Some("192.0.2.7")).await, ana);
        let wrong_secret = [("x-forwarded-user", "ana"), (PROXY_SECRET_HEADER, "guess")];
        assert_eq!(who(&behind, &wrong_secret, Some("192.0.2.7")).await, Err(Refusal::Unauthenticated));
    }

    #[tokio::test]
    async fn a_stored_session_signs_in_until_it_expires_or_is_revoked() {
        let access = secured(None, &[], None);
        let secured = access.secured().unwrap();
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let (id, session) = secured.new_session(now());
        assert_ne!(session.id_hash, id, "only the hash is stored");
        store.create_session(&session).await.unwrap();
        let cookie = format!("costbot_session={id}");
        let headers = headers(&[("cookie", cookie.as_str())]);
        let asking = Asking { headers: &headers, peer: Peer(None), requested: None };
        assert_eq!(access.identify(&asking, &*store, now()).await.unwrap().user.0, "ops");
        let later = now() + chrono::Duration::hours(8);
        assert_eq!(access.identify(&asking, &*store, later).await, Err(Refusal::Unauthenticated), "expired");
        store.revoke_session(&session.id_hash).await.unwrap();
        assert_eq!(access.identify(&asking, &*store, now()).await, Err(Refusal::Unauthenticated), "revoked");
        let set = secured.cookie(&id, &HeaderMap::new(), Peer(None));
        assert!(set.contains("HttpOnly; SameSite=Strict; Path=/; Max-Age=28800") && !set.contains("Secure"), "{set}");
    }

    #[tokio::test]
    async fn the_demo_offers_its_users_only() {
        let store = SqliteStore::in_memory().await.unwrap();
        let demo = Access::Demo { users: vec![UserId("you".into()), UserId("viewer".into())] };
        let none = HeaderMap::new();
        let ask = |requested| Asking { headers: &none, peer: Peer(None), requested };
        assert_eq!(demo.identify(&ask(None), &store, now()).await.unwrap().user.0, "you");
        assert_eq!(demo.identify(&ask(Some("viewer")), &store, now()).await.unwrap().user.0, "viewer");
        assert_eq!(
            demo.identify(&ask(Some("mallory")), &store, now()).await,
            Err(Refusal::UnknownDemoUser("mallory".into()))
        );
    }
}
