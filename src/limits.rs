//! Per-person and per-channel token buckets on commands and clicks (the `governor` crate's
//! GCRA), so one flooding user or channel cannot monopolise the store or the audit log.
//!
//! The buckets are per replica: behind a load balancer spreading requests over N replicas a
//! person gets up to N times the rate, which is still bounded.
//!
//! Every refusal is counted in `/metrics`; the audit log gets the first refusal per person
//! (and per channel) in each window (the time a drained bucket takes to fill again), with the
//! number of refusals suppressed since the previous audited one. A flood therefore leaves at
//! most one audit record per key and window, and each record says how much was left out.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

impl Limited {
    /// The bucket's name in the audit log and the metric's label.
    pub fn as_str(self) -> &'static str {
        match self {
            Limited::Person => "person",
            Limited::Channel => "channel",
        }
    }
}

/// A refused command or click.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The bucket that ran dry.
    pub bucket: Limited,
    /// `Some(n)` when this refusal is to be audited (the first of its key's window): `n`
    /// refusals of that key were suppressed since the previous audited one. `None` when it is
    /// only counted.
    pub audit: Option<u64>,
}

/// The buckets.
pub struct Limits {
    people: DefaultKeyedRateLimiter<String>,
    channels: DefaultKeyedRateLimiter<String>,
    people_audit: Suppressor,
    channels_audit: Suppressor,
}

/// Which refusals of a key are audited: the first in each window; the rest are counted until
/// the next audited one carries their number.
struct Suppressor {
    window: Duration,
    keys: Mutex<HashMap<String, Audited>>,
}

/// The last audited refusal of a key and the refusals suppressed since.
struct Audited {
    at: Instant,
    suppressed: u64,
}

impl Suppressor {
    fn new(window: Duration) -> Suppressor {
        Suppressor { window, keys: Mutex::new(HashMap::new()) }
    }

    /// Notes a refusal of `key` at `at`; `Some(suppressed since the last audited one)` when
    /// this one is to be audited. When [`MAX_KEYS`] keys were all refused within the window, a
    /// new key's refusal is only counted, so made-up identities cannot grow memory or the log.
    fn refused(&self, key: &str, at: Instant) -> Option<u64> {
        let mut keys = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let window = self.window;
        if keys.len() >= MAX_KEYS && !keys.contains_key(key) {
            keys.retain(|_, seen| at.saturating_duration_since(seen.at) < window);
            if keys.len() >= MAX_KEYS {
                return None;
            }
        }
        match keys.get_mut(key) {
            None => {
                keys.insert(key.to_string(), Audited { at, suppressed: 0 });
                Some(0)
            }
            Some(seen) if at.saturating_duration_since(seen.at) < window => {
                seen.suppressed += 1;
                None
            }
            Some(seen) => {
                seen.at = at;
                Some(std::mem::take(&mut seen.suppressed))
            }
        }
    }
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
        let (people_audit, channels_audit) =
            (Suppressor::new(refill_time(&person)), Suppressor::new(refill_time(&channel)));
        Limits {
            people: governor::RateLimiter::keyed(person),
            channels: governor::RateLimiter::keyed(channel),
            people_audit,
            channels_audit,
        }
    }

    /// Takes one token from the person's bucket and the channel's; which one is empty, if any,
    /// and whether this refusal is to be audited. `person` is the identity approvals count (one
    /// person across platforms shares a bucket).
    pub fn check(&self, person: &str, actor: &Actor) -> Result<(), Refusal> {
        self.check_at(person, actor, Instant::now())
    }

    /// [`Limits::check`] with the moment the audit windows are measured at.
    fn check_at(&self, person: &str, actor: &Actor, at: Instant) -> Result<(), Refusal> {
        for limiter in [&self.people, &self.channels] {
            if limiter.len() > MAX_KEYS {
                limiter.retain_recent();
            }
        }
        if self.people.check_key(&person.to_string()).is_err() {
            return Err(Refusal { bucket: Limited::Person, audit: self.people_audit.refused(person, at) });
        }
        let channel = format!("{}:{}", actor.platform.as_str(), actor.channel.0);
        if self.channels.check_key(&channel).is_err() {
            return Err(Refusal { bucket: Limited::Channel, audit: self.channels_audit.refused(&channel, at) });
        }
        Ok(())
    }
}

/// How long a drained bucket takes to fill again: the window in which a key's refusals after
/// the first are only counted.
fn refill_time(quota: &Quota) -> Duration {
    (quota.replenish_interval() * quota.burst_size().get()).max(Duration::from_secs(1))
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
        assert_eq!(limits.check("slack:U1", &actor("U1", "C1")).map_err(|r| r.bucket), Err(Limited::Person));
        assert_eq!(limits.check("slack:U2", &actor("U2", "C1")), Ok(()), "another person is not limited");
    }

    #[test]
    fn a_channel_has_its_own_bucket() {
        let limits = Limits::default();
        let allowed =
            (0..200).filter(|i| limits.check(&format!("slack:U{i}"), &actor(&format!("U{i}"), "C1")).is_ok()).count();
        assert_eq!(allowed, CHANNEL_BURST as usize);
        assert_eq!(limits.check("slack:new", &actor("new", "C1")).map_err(|r| r.bucket), Err(Limited::Channel));
        assert_eq!(limits.check("slack:new", &actor("new", "C2")), Ok(()));
    }

    #[test]
    fn the_first_refusal_per_person_and_window_is_audited_with_the_count_suppressed_since() {
        let limits = Limits::default();
        let start = Instant::now();
        let window = Duration::from_secs(PERSON_REFILL_SECS * u64::from(PERSON_BURST));
        let audits = |at: Instant, n: usize| -> Vec<Option<u64>> {
            (0..n).filter_map(|_| limits.check_at("slack:U1", &actor("U1", "C1"), at).err()).map(|r| r.audit).collect()
        };
        let burst = audits(start, 500);
        assert_eq!(burst.len(), 500 - PERSON_BURST as usize);
        assert_eq!(burst.iter().flatten().collect::<Vec<_>>(), [&0], "one audited refusal, the first");
        // The next window's first refusal is audited with the number left out before it.
        let next = audits(start + window, 3);
        assert_eq!(next[0], Some(burst.len() as u64 - 1));
        assert_eq!(&next[1..], [None, None]);
        let other = limits.check_at("slack:U2", &actor("U2", "C2"), start + window);
        assert_eq!(other, Ok(()), "others are not limited");
    }

    #[test]
    fn the_first_refusal_per_channel_and_window_is_audited_too() {
        let limits = Limits::default();
        let at = Instant::now();
        let refusals: Vec<Refusal> = (0..300)
            .filter_map(|i| limits.check_at(&format!("slack:U{i}"), &actor(&format!("U{i}"), "C1"), at).err())
            .collect();
        assert!(refusals.iter().all(|r| r.bucket == Limited::Channel));
        assert_eq!(refusals.iter().filter(|r| r.audit.is_some()).count(), 1);
    }

    #[test]
    fn a_flood_of_new_keys_audits_at_most_max_keys_per_window() {
        let suppressor = Suppressor::new(Duration::from_secs(20));
        let at = Instant::now();
        let audited = (0..MAX_KEYS + 500).filter(|i| suppressor.refused(&format!("k{i}"), at).is_some()).count();
        assert_eq!(audited, MAX_KEYS);
        assert_eq!(suppressor.refused("late", at + Duration::from_secs(21)), Some(0), "old keys make room");
    }
}
