//! Off-hours schedules (issue 19): stop development machines at night and at weekends, start
//! them in the morning. Pure: the schedule grammar, the transitions it yields in a time zone
//! (daylight saving included), how many hours a resource is off, and the re-check made right
//! before each transition.
//!
//! A schedule reads `19:00-07:00 Mon-Fri Europe/Berlin`: the resource is stopped at 19:00 and
//! started at 07:00 local time on each listed day. As in Cloud Custodian's `offhour` /
//! `onhour` pair, the days list when each switch happens, so a Mon–Fri schedule stops the
//! resource on Friday evening and starts it again on Monday morning: nights and weekends off.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::money::Money;
use super::resource::{Action, Resource, ResourceKind};

/// The tag that carries a schedule unless `[waste.offhours] tag` names another.
pub const DEFAULT_TAG: &str = "costbot:offhours";

/// Days looked back to find the switch in force at a moment. A schedule lists at least one
/// day, so within a week and a day there is always a switch.
const LOOKBACK_DAYS: u64 = 8;

/// A parsed off-hours schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Local time of the stop.
    pub off: NaiveTime,
    /// Local time of the start.
    pub on: NaiveTime,
    /// The days on which both switches happen.
    pub days: Vec<Weekday>,
    /// The time zone the times are in (UTC when the text names none).
    pub zone: Tz,
}

/// Why a schedule text was refused; shown to the person who wrote the tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The text does not have the `HH:MM-HH:MM days [zone]` shape.
    #[error("write it as `HH:MM-HH:MM days [time zone]`, e.g. `19:00-07:00 Mon-Fri Europe/Berlin`")]
    Shape,
    /// A time is not `HH:MM` on a 24-hour clock.
    #[error("`{0}` is not a time (use HH:MM, 24-hour)")]
    Time(String),
    /// Both times are the same, so the resource would never be off.
    #[error("the stop and start times are the same")]
    SameTimes,
    /// A day is not `Mon`…`Sun`, a range of them, `weekdays` or `daily`.
    #[error("`{0}` is not a day or a range of days (Mon-Fri, Sat,Sun, weekdays, daily)")]
    Days(String),
    /// The zone is not an IANA time zone name.
    #[error("`{0}` is not a time zone (use an IANA name such as Europe/Berlin)")]
    Zone(String),
}

/// Stop or start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Switch {
    /// The start of an off period.
    Stop,
    /// The end of an off period.
    Start,
}

impl Switch {
    /// The stored and displayed word.
    pub fn as_str(self) -> &'static str {
        match self {
            Switch::Stop => "stop",
            Switch::Start => "start",
        }
    }
}

/// One switch of a schedule at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Transition {
    /// When, in UTC.
    pub at: DateTime<Utc>,
    /// Stop or start.
    pub switch: Switch,
    /// The local day it belongs to; with `switch` it names the transition for exactly-once
    /// claims (`2026-03-30/stop`), whatever daylight saving does to `at`.
    pub local_day: NaiveDate,
}

impl Transition {
    /// The stable name of this transition within its schedule, for claims and the audit log.
    pub fn key(&self) -> String {
        format!("{}/{}", self.local_day, self.switch.as_str())
    }
}

impl Schedule {
    /// Parses `19:00-07:00 Mon-Fri Europe/Berlin` (the zone may be left out for UTC; days may
    /// be `Mon-Fri`, `Mon,Wed,Fri`, `Sat-Sun`, `weekdays` or `daily`, in any case).
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let (times, days, zone) = match words.as_slice() {
            [times, days] => (*times, *days, None),
            [times, days, zone] => (*times, *days, Some(*zone)),
            _ => return Err(ScheduleError::Shape),
        };
        let (off, on) = times.split_once('-').ok_or(ScheduleError::Shape)?;
        let (off, on) = (time(off)?, time(on)?);
        if off == on {
            return Err(ScheduleError::SameTimes);
        }
        let zone = match zone {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| ScheduleError::Zone(clip(name)))?,
        };
        Ok(Schedule { off, on, days: weekdays(days)?, zone })
    }

    /// The switches after `from`, up to and including `to`, oldest first.
    pub fn transitions(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Transition> {
        let first = from.with_timezone(&self.zone).date_naive().checked_sub_days(Days::new(1));
        let last = to.with_timezone(&self.zone).date_naive().checked_add_days(Days::new(1));
        let (Some(first), Some(last)) = (first, last) else { return Vec::new() };
        let mut out: Vec<Transition> = first
            .iter_days()
            .take_while(|day| *day <= last)
            .filter(|day| self.days.contains(&day.weekday()))
            .flat_map(|day| {
                [(Switch::Stop, self.off), (Switch::Start, self.on)].map(|(switch, time)| Transition {
                    at: self.instant(day.and_time(time)),
                    switch,
                    local_day: day,
                })
            })
            .filter(|t| t.at > from && t.at <= to)
            .collect();
        out.sort();
        out
    }

    /// The switch in force at `at`: `Stop` while the resource should be off.
    pub fn in_force(&self, at: DateTime<Utc>) -> Switch {
        let since = at - Duration::days(LOOKBACK_DAYS as i64);
        self.transitions(since, at).last().map_or(Switch::Start, |t| t.switch)
    }

    /// The next switch after `at`.
    pub fn next(&self, at: DateTime<Utc>) -> Option<Transition> {
        self.transitions(at, at + Duration::days(LOOKBACK_DAYS as i64)).into_iter().next()
    }

    /// Whole minutes the schedule keeps a resource off between `from` and `to`.
    pub fn minutes_off(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        // The periods are summed exactly and truncated once at the end: truncating each off
        // period lost a minute whenever `from` fell inside one, so a week's count depended on
        // the instant the scan ran (107 of 168 hours instead of 108).
        let mut total = Duration::zero();
        let mut cursor = from;
        let mut off = self.in_force(from) == Switch::Stop;
        for t in self.transitions(from, to) {
            if off {
                total += t.at - cursor;
            }
            cursor = t.at;
            off = t.switch == Switch::Stop;
        }
        if off {
            total += to - cursor;
        }
        total.num_minutes()
    }

    /// The saving of keeping a resource that costs `hourly` off between `from` and `to`:
    /// minutes off times the hourly price, in exact money.
    pub fn saving(&self, hourly: Money, from: DateTime<Utc>, to: DateTime<Utc>) -> Money {
        let minutes = rust_decimal::Decimal::from(self.minutes_off(from, to));
        Money::from_decimal(hourly.as_decimal() * minutes / rust_decimal::Decimal::from(60))
    }

    /// A local time as an instant. A time that happens twice (clocks go back) is the first
    /// one; a time that does not happen (clocks go forward) is the first minute after the gap,
    /// so a switch is never skipped and never happens twice.
    fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        for shift in 0..=180 {
            if let Some(at) = self.zone.from_local_datetime(&(local + Duration::minutes(shift))).earliest() {
                return at.with_timezone(&Utc);
            }
        }
        // No zone has a gap of three hours; treat the time as UTC rather than fail.
        Utc.from_utc_datetime(&local)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days: Vec<String> = self.days.iter().map(|d| d.to_string()).collect();
        write!(f, "{}-{} {} {}", self.off.format("%H:%M"), self.on.format("%H:%M"), days.join(","), self.zone)
    }
}

/// The `offhours` waste rule: a running EC2 instance or an available RDS database whose
/// `tag_key` tag holds a valid schedule is proposed for that schedule. The saving is its
/// monthly cost (its compute in this state) times the share of a week the schedule keeps it
/// off. A tag that does not parse proposes nothing (discovery logs it).
pub fn rule(r: &Resource, tag_key: &str, now: NaiveDateTime) -> Option<(Action, String, Option<Money>)> {
    let running = matches!(
        (r.reference.kind, r.state.as_str()),
        (ResourceKind::Ec2Instance, "running") | (ResourceKind::RdsInstance, "available")
    );
    if !running {
        return None;
    }
    let schedule = Schedule::parse(r.tag(tag_key)?).ok()?;
    let from = now.and_utc();
    let minutes = schedule.minutes_off(from, from + Duration::days(7));
    if minutes == 0 {
        return None;
    }
    let week = rust_decimal::Decimal::from(7 * 24 * 60);
    let share = rust_decimal::Decimal::from(minutes) / week;
    let saving = r.monthly_cost.map(|m| Money::from_decimal(m.as_decimal() * share));
    let hours = minutes / 60;
    let percent = (share * rust_decimal::Decimal::from(100)).round();
    let evidence = format!(
        "tagged {tag_key} = `{schedule}`: off {hours} of 168 hours a week ({percent} %); once approved, costbot stops and starts it at each switch"
    );
    Some((Action::OffHours, evidence, saving))
}

/// What to do at a transition, decided again right before it from the resource as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionDecision {
    /// Switch the resource.
    Act(Switch),
    /// Leave it, for the reason given (shown on the card and in the audit log).
    Skip(String),
}

/// The re-check before a transition: a resource that is gone, carries a protected tag, no
/// longer carries the approved schedule, or is not in the state the switch expects is left
/// alone, and the reason is said. `protected` is the protected tag found on it, if any.
pub fn decide_transition(
    approved: &Schedule,
    switch: Switch,
    state: Option<&str>,
    tags: &BTreeMap<String, String>,
    tag_key: &str,
    protected: Option<&str>,
) -> TransitionDecision {
    let Some(state) = state else { return TransitionDecision::Skip("the resource no longer exists".into()) };
    if let Some(tag) = protected {
        return TransitionDecision::Skip(format!("it now carries the protected tag {tag}"));
    }
    let tagged = tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(tag_key)).map(|(_, v)| Schedule::parse(v));
    match tagged {
        Some(Ok(current)) if current == *approved => {}
        Some(Ok(current)) => {
            return TransitionDecision::Skip(format!("its schedule changed to `{current}` and needs approving again"))
        }
        Some(Err(_)) | None => return TransitionDecision::Skip(format!("it no longer carries a valid {tag_key} tag")),
    }
    // EC2 says `running`/`stopped`; RDS says `available`/`stopped`.
    let expected = match switch {
        Switch::Stop => ["running", "available"].contains(&state),
        Switch::Start => state == "stopped",
    };
    if expected {
        TransitionDecision::Act(switch)
    } else {
        TransitionDecision::Skip(format!("it is {state}, so there is nothing to {}", switch.as_str()))
    }
}

fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

fn time(text: &str) -> Result<NaiveTime, ScheduleError> {
    let parsed = text.split_once(':').and_then(|(h, m)| {
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 23 && m <= 59 && text.len() <= 5).then(|| NaiveTime::from_hms_opt(h, m, 0)).flatten()
    });
    parsed.ok_or_else(|| ScheduleError::Time(clip(text)))
}

fn weekdays(text: &str) -> Result<Vec<Weekday>, ScheduleError> {
    const ALL: [Weekday; 7] =
        [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "daily" => return Ok(ALL.to_vec()),
        "weekdays" => return Ok(ALL[..5].to_vec()),
        _ => {}
    }
    let day = |word: &str| -> Result<Weekday, ScheduleError> {
        ALL.into_iter()
            .find(|d| d.to_string().eq_ignore_ascii_case(word))
            .ok_or_else(|| ScheduleError::Days(clip(text)))
    };
    let mut out = Vec::new();
    for part in lower.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    out.push(d);
                    if d == b {
                        break;
                    }
                    d = d.succ();
                }
            }
            None => out.push(day(part)?),
        }
    }
    let mut unique: Vec<Weekday> = ALL.into_iter().filter(|d| out.contains(d)).collect();
    unique.dedup();
    Ok(unique)
}

#[cfg(test)]
#[path = "offhours_tests.rs"]
mod tests;
