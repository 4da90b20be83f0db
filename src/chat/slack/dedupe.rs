//! Recognises a Slack request delivered twice, so the handler runs once.
//!
//! Slack redelivers a request it thinks went unanswered (with `X-Slack-Retry-Num`). The domain
//! is idempotent as well, but running a command twice would still post two answers. This set
//! is per process: with several replicas a redelivery can land on another one, which is where
//! the domain's own idempotency takes over.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Entries kept at most; beyond this the oldest are forgotten first, so a flood of distinct
/// (verified) requests cannot grow memory without bound.
const MAX_ENTRIES: usize = 10_000;

/// Digests of recently seen request bodies, each forgotten after a time-to-live.
pub(crate) struct SeenRequests {
    ttl: Duration,
    seen: Mutex<HashMap<[u8; 32], Instant>>,
}

impl SeenRequests {
    pub(crate) fn new(ttl: Duration) -> SeenRequests {
        SeenRequests { ttl, seen: Mutex::new(HashMap::new()) }
    }

    /// Records `body` and says whether it was new.
    pub(crate) fn first_time(&self, body: &[u8]) -> bool {
        let key: [u8; 32] = Sha256::digest(body).into();
        let now = Instant::now();
        // A poisoned lock only means another request panicked mid-insert; the map is still usable.
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.retain(|_, at| now.duration_since(*at) < self.ttl);
        if seen.contains_key(&key) {
            return false;
        }
        if seen.len() >= MAX_ENTRIES {
            if let Some(oldest) = seen.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k) {
                seen.remove(&oldest);
            }
        }
        seen.insert(key, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_the_ttl_and_forgets_after() {
        let seen = SeenRequests::new(Duration::from_millis(50));
        assert!(seen.first_time(b"a"));
        assert!(!seen.first_time(b"a"));
        assert!(seen.first_time(b"b"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(seen.first_time(b"a"));
    }
}
