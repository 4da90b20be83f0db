//! `[digest]` and the per-channel `digest*` keys: when each channel's daily digest is posted.

use anyhow::{Context, Result};
use chrono_tz::Tz;
use croner::Cron;
use serde::Deserialize;

use super::ChannelConfig;

/// Digest defaults; each channel can override the schedule and the time zone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigestConfig {
    /// Post digests at all.
    pub enabled: bool,
    /// When, in the channel's local time: cron with a seconds field (default 09:00 daily).
    pub schedule: String,
    /// The IANA time zone the schedule is read in, e.g. `Europe/Berlin`.
    pub timezone: String,
    /// Attach a PNG chart of the last 30 days (a sparkline stands in where uploads fail).
    pub chart: bool,
    /// A digest more than this many hours behind its schedule (costbot was down) is skipped,
    /// because the next one is nearer; a shorter delay posts it once, marked late.
    pub catch_up_hours: u64,
    /// How often due digests are looked for (cron with seconds). Tests make it faster.
    pub check_schedule: String,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            enabled: true,
            schedule: "0 0 9 * * *".into(),
            timezone: "UTC".into(),
            chart: true,
            catch_up_hours: 12,
            check_schedule: "0 * * * * *".into(),
        }
    }
}

/// One channel's resolved digest schedule.
#[derive(Debug, Clone)]
pub struct DigestSchedule {
    /// The cron (local time).
    pub cron: Cron,
    /// Its text, for messages.
    pub text: String,
    /// The time zone.
    pub tz: Tz,
}

impl DigestConfig {
    /// The schedule a channel's digest follows, or `None` when it gets no digest.
    pub fn schedule_for(&self, channel: &ChannelConfig) -> Result<Option<DigestSchedule>> {
        if !self.enabled || !channel.digest {
            return Ok(None);
        }
        let text = channel.digest_schedule.clone().unwrap_or_else(|| self.schedule.clone());
        let zone = channel.digest_timezone.as_deref().unwrap_or(&self.timezone);
        let cron = super::parse_cron(&text).with_context(|| format!("channel {}: digest schedule", channel.id))?;
        let tz: Tz = zone.parse().map_err(|_| {
            anyhow::anyhow!("channel {}: `{zone}` is not an IANA time zone (e.g. `Europe/Berlin`)", channel.id)
        })?;
        Ok(Some(DigestSchedule { cron, text, tz }))
    }

    /// Checks every channel's schedule and the check cadence.
    pub fn validate(&self, channels: &[ChannelConfig]) -> Result<()> {
        super::parse_cron(&self.check_schedule).context("digest.check_schedule")?;
        for channel in channels {
            self.schedule_for(channel)?;
        }
        Ok(())
    }
}
