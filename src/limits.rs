//! Per-person and per-channel token buckets on commands and clicks (the `governor` crate's
//! GCRA), so one flooding user or channel cannot monopolise the store or the audit log.
//!
//! The buckets are per replica: behind a load balancer spreading requests over N replicas a
//! person gets up to N times the rate, which is still bounded.

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota};

use crate::chat::Actor;

/// Commands and clicks one person may send at once, then one more every
/// [`PERSON_REFILL_SECS`] seconds. Chosen, not tuned: a person asks a few questions a minute
/// and clicks a card's buttons in short bursts; ten at once covers both.
pub const PERSON_BURST: u32 = 10;
/// See [`PERSON_BURST`].
const PERSON_REFILL_SECS: u64 = 2;
/// A channel's burst and refill (per second): several people working one card at once.
/// Chosen, not tuned, as for [`PERSON_BURST`].
pub const CHANNEL_BURST: u32 = 60;
/// See [`CHANNEL_BURST`].
const CHANNEL_PER_SECOND: u32 = 2;
/// Keys kept before idle ones are dropped, so made-up user ids cannot grow memory for ever.
const MAX_KEYS: usize = 10_000;

/// Which bucket ran dry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// The person's.
    Person,
    /// The channel's.
    Channel,
}

/// The buckets.
pub struct Limits {
    people: DefaultKeyedRateLimiter<String>,
    channels: DefaultKeyedRateLimiter<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(PERSON_BURST, CHANNEL_BURST)
    }
}

impl Limits {
    /// Buckets with these bursts (`[server] chat_burst_per_person`, `chat_burst_per_channel`).
    pub fn new(person_burst: u32, channel_burst: u32) -> Limits {
        let burst = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let person = Quota::with_period(std::time::Duration::from_secs(PERSON_REFILL_SECS))
            .map_or_else(|| Quota::per_second(burst(1)), |q| q.allow_burst(burst(person_burst)));
        let channel = Quota::per_second(burst(CHANNEL_PER_SECOND)).allow_burst(burst(channel_burst));
        Limits { people: governor::RateLimiter::keyed(person), channels: governor::RateLimiter::keyed(channel) }
    }

    /// Takes one token from the person's bucket and the channel's; which one is empty, if any.
    /// `person` is the identity approvals count (one person across platforms shares a bucket).
    pub fn check(&self, person: &str, actor: &Actor) -> Result<(), Limited> {
        for limiter in [&self.people, &self.channels] {
            if limiter.len() > MAX_KEYS {
                limiter.retain_recent();
            }
        }
        self.people.check_key(&person.to_string()).map_err(|_| Limited::Person)?;
        let channel = format!("{}:{}", actor.platform.as_str(), actor.channel.0);
        self.channels.check_key(&channel).map_err(|_| Limited::Channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::chat::{ChannelId, Platform, UserId};

    fn actor(user: &str, channel: &str) -> Actor {
        Actor {
            platform: Platform::Slack,
            user: UserId(user.into()),
            roles: vec![],
            channel: ChannelId(channel.into()),
        }
    }

    #[test]
    fn a_person_gets_a_burst_then_is_limited_and_others_are_not() {
        let limits = Limits::default();
        let allowed = (0..50).filter(|_| limits.check("slack:U1", &actor("U1", "C1")).is_ok()).count();
        assert_eq!(allowed, PERSON_BURST as usize);
        assert_eq!(limits.check("slack:U1", &actor("U1", "C1")), Err(Limited::Person));
        assert_eq!(limits.check("slack:U2", &actor("U2", "C1")), Ok(()), "another person is not limited");
    }

    #[test]
    fn a_channel_has_its_own_bucket() {
        let limits = Limits::default();
        let allowed =
            (0..200).filter(|i| limits.check(&format!("slack:U{i}"), &actor(&format!("U{i}"), "C1")).is_ok()).count();
        assert_eq!(allowed, CHANNEL_BURST as usize);
        assert_eq!(limits.check("slack:new", &actor("new", "C1")), Err(Limited::Channel));
        assert_eq!(limits.check("slack:new", &actor("new", "C2")), Ok(()));
    }
}
