//! Ed25519 verification of interaction requests, done before a single byte is parsed.
//!
//! Discord signs `timestamp + body` with the application's key and sends the signature in
//! `X-Signature-Ed25519`. This wraps serenity's [`Verifier`] so that a bad key in the
//! configuration is an error at start-up rather than a panic, and so tests (including the
//! Wycheproof vectors) go through exactly the function the endpoint uses.

use serenity::interactions_endpoint::Verifier;

/// The configured public key is not a 64-digit hex Ed25519 key.
#[derive(Debug, thiserror::Error)]
#[error("the Discord public key must be 64 hex digits of a valid Ed25519 key: {0}")]
pub struct InvalidPublicKey(String);

/// The request's signature did not verify (or its headers were missing or garbled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bad interaction signature")]
pub struct BadSignature;

/// How old (or how far in the future) a signed request's timestamp may be, in seconds. Discord
/// sends interactions as they happen; anything older is a captured request being replayed.
pub const MAX_AGE_SECS: i64 = 5 * 60;

/// The signed timestamp is outside [`MAX_AGE_SECS`] of now, or not a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interaction timestamp is outside the replay window")]
pub struct Stale;

/// Checks the (already verified) `X-Signature-Timestamp` against `now` (Unix seconds), with
/// checked arithmetic: any text a client sends is answered, never a panic.
pub fn check_age(timestamp: &str, now: i64) -> Result<(), Stale> {
    let signed: i64 = timestamp.trim().parse().map_err(|_| Stale)?;
    let age = now.checked_sub(signed).ok_or(Stale)?;
    (age.checked_abs().ok_or(Stale)? <= MAX_AGE_SECS).then_some(()).ok_or(Stale)
}

/// Checks interaction signatures against the application's public key.
#[derive(Clone)]
pub struct SignatureVerifier {
    inner: Verifier,
}

impl std::fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignatureVerifier")
    }
}

impl SignatureVerifier {
    /// Builds a verifier from the hex public key shown in the Developer Portal.
    pub fn from_hex(public_key: &str) -> Result<SignatureVerifier, InvalidPublicKey> {
        let bytes = hex::decode(public_key.trim()).map_err(|e| InvalidPublicKey(e.to_string()))?;
        let bytes: [u8; 32] =
            bytes.try_into().map_err(|b: Vec<u8>| InvalidPublicKey(format!("{} bytes, expected 32", b.len())))?;
        Self::from_bytes(bytes)
    }

    /// Builds a verifier from raw key bytes.
    pub fn from_bytes(public_key: [u8; 32]) -> Result<SignatureVerifier, InvalidPublicKey> {
        let inner = Verifier::try_new(public_key).map_err(|e| InvalidPublicKey(e.to_string()))?;
        Ok(SignatureVerifier { inner })
    }

    /// Verifies a hex signature over `timestamp` followed by `body`.
    pub fn verify(&self, signature_hex: &str, timestamp: &str, body: &[u8]) -> Result<(), BadSignature> {
        self.inner.verify(signature_hex, timestamp, body).map_err(|()| BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_signed_within_five_minutes_pass() {
        let now = 1_800_000_000;
        assert_eq!(check_age(&now.to_string(), now), Ok(()));
        assert_eq!(check_age(&(now - 300).to_string(), now), Ok(()));
        assert_eq!(check_age(&(now - 301).to_string(), now), Err(Stale));
        assert_eq!(check_age(&(now + 301).to_string(), now), Err(Stale));
        assert_eq!(check_age(&i64::MIN.to_string(), now), Err(Stale));
        assert_eq!(check_age("-9223372036854775808", i64::MAX), Err(Stale));
        assert_eq!(check_age("soon", now), Err(Stale));
    }
}
