//! Slack request signing: checks that an HTTP request really comes from Slack before anything
//! reads its body.
//!
//! Slack signs `v0:{timestamp}:{raw body}` with HMAC-SHA256 under the app's signing secret and
//! sends `X-Slack-Signature: v0=<hex>` plus `X-Slack-Request-Timestamp`. A request is accepted
//! when the timestamp is within five minutes of now (either side, so a replayed or a forged
//! "future" request fails) and the signature matches one of the configured secrets (two during
//! a secret rotation). slack-morphism has a verifier, but it always reads the real clock, so it
//! cannot be checked against Slack's documented 2018 test vector; this one takes the clock as
//! a parameter and uses the same `hmac`/`sha2` crates.

use std::sync::Arc;

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// Header carrying `v0=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// Header carrying the Unix time (seconds) Slack signed the request at.
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// Largest allowed distance between the request's timestamp and now, in seconds.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// A source of "now" in Unix seconds; injectable so tests can pin the clock.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The real clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    })
}

/// Why a request was refused. Every variant becomes a bare 401; the variant is only logged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// A signing header is absent or not valid text.
    #[error("missing or unreadable header {0}")]
    MissingHeader(&'static str),
    /// The timestamp is not an integer.
    #[error("timestamp is not a number")]
    BadTimestamp,
    /// The timestamp is more than five minutes in the past.
    #[error("timestamp is {0} s old")]
    Stale(i64),
    /// The timestamp is more than five minutes in the future.
    #[error("timestamp is {0} s in the future")]
    Future(i64),
    /// The signature is not `v0=` followed by 64 hex digits.
    #[error("signature is not v0=<hex>")]
    MalformedSignature,
    /// No configured secret produces this signature.
    #[error("signature does not match")]
    BadSignature,
}

/// Checks Slack request signatures against one or two signing secrets.
#[derive(Clone)]
pub struct Verifier {
    secrets: Vec<SecretString>,
    clock: Clock,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach logs, not even their count matters much, but it helps debugging.
        f.debug_struct("Verifier").field("secrets", &self.secrets.len()).finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier accepting any of `secrets` (the current one, and the previous one during a
    /// rotation), reading the system clock. Empty secrets are dropped, so an unset environment
    /// variable cannot turn into "accept a signature made with an empty key".
    pub fn new(secrets: Vec<SecretString>) -> Verifier {
        let secrets = secrets.into_iter().filter(|s| !s.expose_secret().is_empty()).collect();
        Verifier { secrets, clock: system_clock() }
    }

    /// The same verifier reading `clock` instead of the system clock.
    pub fn with_clock(self, clock: Clock) -> Verifier {
        Verifier { clock, ..self }
    }

    /// Verifies the signing headers against the raw body. Nothing is parsed before this passes.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        let timestamp = header(headers, TIMESTAMP_HEADER)?;
        let signature = header(headers, SIGNATURE_HEADER)?;
        self.verify_parts(timestamp, signature, body)
    }

    /// Verifies an already extracted timestamp and signature.
    pub fn verify_parts(&self, timestamp: &str, signature: &str, body: &[u8]) -> Result<(), VerifyError> {
        let ts: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
        let now = (self.clock)();
        let age = now.saturating_sub(ts);
        if age > MAX_SKEW_SECS {
            return Err(VerifyError::Stale(age));
        }
        if age < -MAX_SKEW_SECS {
            return Err(VerifyError::Future(-age));
        }
        let hex_digest = signature.strip_prefix("v0=").ok_or(VerifyError::MalformedSignature)?;
        let expected = hex::decode(hex_digest).map_err(|_| VerifyError::MalformedSignature)?;
        // Every secret is tried even after a match would be found, which keeps the timing the
        // same whichever secret signed; `verify_slice` itself compares in constant time.
        let mut matched = false;
        for secret in &self.secrets {
            matched |= mac(secret, timestamp, body).verify_slice(&expected).is_ok();
        }
        if matched {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }
}

/// Signs a body as Slack would; used by tests and by tools that replay requests locally.
pub fn sign(secret: &SecretString, timestamp: &str, body: &[u8]) -> String {
    format!("v0={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

fn mac(secret: &SecretString, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, VerifyError> {
    headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty()).ok_or(VerifyError::MissingHeader(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(now: i64) -> Verifier {
        Verifier::new(vec![SecretString::from("s3cret")]).with_clock(Arc::new(move || now))
    }

    #[test]
    fn window_is_five_minutes_each_side() {
        let body = b"a=b";
        let sig = sign(&SecretString::from("s3cret"), "1000", body);
        assert_eq!(at(1000 + 300).verify_parts("1000", &sig, body), Ok(()));
        assert_eq!(at(1000 - 300).verify_parts("1000", &sig, body), Ok(()));
        assert_eq!(at(1000 + 301).verify_parts("1000", &sig, body), Err(VerifyError::Stale(301)));
        assert_eq!(at(1000 - 301).verify_parts("1000", &sig, body), Err(VerifyError::Future(301)));
    }

    #[test]
    fn garbage_signatures_are_refused_without_panicking() {
        let v = at(1000);
        for sig in ["", "v0=", "v1=00", "v0=zz", "v0=abc", "v0=ééé", "v0=00"] {
            assert!(v.verify_parts("1000", sig, b"x").is_err(), "{sig}");
        }
        assert_eq!(v.verify_parts("soon", "v0=00", b"x"), Err(VerifyError::BadTimestamp));
        assert_eq!(v.verify_parts(&i64::MIN.to_string(), "v0=00", b"x"), Err(VerifyError::Stale(i64::MAX)));
    }

    #[test]
    fn empty_secrets_never_verify() {
        let v = Verifier::new(vec![SecretString::from("")]).with_clock(Arc::new(|| 1000));
        let sig = sign(&SecretString::from(""), "1000", b"x");
        assert_eq!(v.verify_parts("1000", &sig, b"x"), Err(VerifyError::BadSignature));
    }
}
