//! The anomaly lifecycle: open → updated → resolved, with a stable id, so an anomaly is
//! announced once and then changed in place instead of re-alerted on every run.
//!
//! [`reconcile`] is pure: given the anomalies still open and what the detector found on this
//! run, it says what changes. The store applies the changes; the chat adapters render the
//! events.

use std::fmt;

use chrono::{Duration, NaiveDateTime};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::anomaly::{Finding, Kind, Severity};
use super::feedback::Verdict;
use super::root_cause::Contributor;
use super::{AccountId, Granularity, Money, ServiceName};

/// Which series an anomaly is on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "level", rename_all = "snake_case")]
pub enum Scope {
    /// The whole organisation's spend.
    Organisation,
    /// One account's total.
    Account {
        /// The account.
        account: AccountId,
    },
    /// One service in one account.
    Service {
        /// The account.
        account: AccountId,
        /// The service.
        service: ServiceName,
    },
    /// Spend under one value of a tag key, over every account (`[anomaly] by_tags`), so a
    /// team sees its own spikes; the value is `""` for untagged spend.
    Tag {
        /// The tag key.
        key: super::tags::TagKey,
        /// The value.
        value: String,
    },
}

/// A series: a scope at a granularity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    /// Day or hour data.
    pub granularity: Granularity,
    /// What is summed.
    pub scope: Scope,
}

impl SeriesKey {
    /// The account, if the series belongs to one.
    pub fn account(&self) -> Option<&AccountId> {
        match &self.scope {
            Scope::Organisation | Scope::Tag { .. } => None,
            Scope::Account { account } | Scope::Service { account, .. } => Some(account),
        }
    }

    /// The key used for per-account / per-service threshold overrides: `account/service`,
    /// with `*` for a total.
    pub fn threshold_key(&self) -> String {
        match &self.scope {
            Scope::Organisation => "*/*".to_string(),
            Scope::Account { account } => format!("{account}/*"),
            Scope::Service { account, service } => format!("{account}/{service}"),
            Scope::Tag { key, value } => format!("{key}={value}"),
        }
    }
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.granularity, self.threshold_key())
    }
}

/// A stable anomaly id, derived from the series and the start it was opened with, so two
/// replicas that detect the same anomaly produce the same id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AnomalyId(pub String);

impl AnomalyId {
    /// `an-` and 16 hex digits of a 64-bit FNV-1a hash of the key and start.
    pub fn derive(key: &SeriesKey, start: NaiveDateTime) -> AnomalyId {
        let text = format!("{key}|{start}");
        let hash =
            text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        AnomalyId(format!("an-{hash:016x}"))
    }
}

impl fmt::Display for AnomalyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an anomaly is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Detected and still anomalous.
    Open,
    /// The detector no longer finds it.
    Resolved,
}

/// Who did something to an anomaly, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// A chat user id or `cli:<name>`.
    pub by: String,
    /// When (UTC).
    pub at: NaiveDateTime,
}

/// An anomaly as costbot tracks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Stable id.
    pub id: AnomalyId,
    /// The series.
    pub key: SeriesKey,
    /// Open or resolved.
    pub status: Status,
    /// Bumped on every material change, so a chat message can be edited in place and a stale
    /// view recognised.
    pub version: u32,
    /// Spike, level shift, new spend or drop.
    pub kind: Kind,
    /// Urgency.
    pub severity: Severity,
    /// First anomalous period.
    pub start: NaiveDateTime,
    /// Last anomalous period seen.
    pub end: NaiveDateTime,
    /// Expected spend over the duration.
    pub expected: Money,
    /// Actual spend over the duration.
    pub actual: Money,
    /// Actual minus expected: the dollar impact.
    pub impact: Money,
    /// Impact as a percentage of expected.
    pub percent: Decimal,
    /// Detector evidence.
    pub score: f64,
    /// Resting only on estimated data so far.
    pub provisional: bool,
    /// Ranked contributors to the increase.
    pub root_cause: Vec<Contributor>,
    /// When it was first detected.
    pub opened_at: NaiveDateTime,
    /// When its numbers last changed.
    pub updated_at: NaiveDateTime,
    /// When it was resolved.
    pub resolved_at: Option<NaiveDateTime>,
    /// Acknowledged by a person.
    pub acknowledged: Option<Mark>,
    /// Muted until this time (no chat notifications), by whom.
    pub muted_until: Option<(Mark, NaiveDateTime)>,
    /// The channel's verdict on it, by whom (absent in records stored before feedback
    /// existed, so old rows still read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<(Mark, Verdict)>,
}

impl Anomaly {
    /// True when chat notifications for it are muted at `now`.
    pub fn is_muted(&self, now: NaiveDateTime) -> bool {
        self.muted_until.as_ref().is_some_and(|(_, until)| *until > now)
    }

    fn from_finding(key: SeriesKey, finding: &Finding, now: NaiveDateTime) -> Anomaly {
        Anomaly {
            id: AnomalyId::derive(&key, finding.start),
            key,
            status: Status::Open,
            version: 1,
            kind: finding.kind,
            severity: finding.severity,
            start: finding.start,
            end: finding.end,
            expected: Money::from_decimal(finding.expected),
            actual: Money::from_decimal(finding.actual),
            impact: Money::from_decimal(finding.impact),
            percent: finding.percent,
            score: finding.score,
            provisional: finding.provisional,
            root_cause: Vec::new(),
            opened_at: now,
            updated_at: now,
            resolved_at: None,
            acknowledged: None,
            muted_until: None,
            feedback: None,
        }
    }

    /// The anomaly after a person's mark, with its version bumped, and the event that records
    /// it. Pure: the store swaps it in (compare-and-swap on the version) with its audit record.
    pub fn marked(&self, mark: &AnomalyMark, now: NaiveDateTime) -> (Anomaly, EventKind) {
        let mut next = self.clone();
        let kind = match mark {
            AnomalyMark::Acknowledge { by } => {
                next.acknowledged = Some(Mark { by: by.clone(), at: now });
                EventKind::Acknowledged
            }
            AnomalyMark::Mute { by, until } => {
                next.muted_until = Some((Mark { by: by.clone(), at: now }, *until));
                EventKind::Muted
            }
            AnomalyMark::Feedback { by, verdict } => {
                next.feedback = Some((Mark { by: by.clone(), at: now }, *verdict));
                EventKind::Feedback
            }
        };
        next.version += 1;
        (next, kind)
    }

    /// Whether a new finding differs enough to tell people again: severity or kind changed,
    /// it stopped being provisional, or the impact moved by at least 10 %.
    fn materially_differs(&self, finding: &Finding) -> bool {
        let old = self.impact.as_decimal().abs();
        let new = finding.impact.abs();
        let moved = if old.is_zero() { !new.is_zero() } else { (new - old).abs() * Decimal::from(10) >= old };
        self.severity != finding.severity
            || self.kind != finding.kind
            || (self.provisional && !finding.provisional)
            || moved
    }
}

/// What one run changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new anomaly: announce it.
    Opened(Anomaly),
    /// An open anomaly grew, shrank or changed severity: edit the announcement in place.
    Updated(Anomaly),
    /// An open anomaly lasted another period without a material change: the record follows
    /// the data, nobody is pinged.
    Extended(Anomaly),
    /// An open anomaly is no longer found: mark the announcement resolved.
    Resolved(Anomaly),
}

/// The slack allowed when matching a new finding to an open anomaly: re-scoring with more
/// history can move a finding's start or end by a period or two.
fn slack(granularity: Granularity) -> Duration {
    match granularity {
        Granularity::Daily => Duration::days(2),
        Granularity::Hourly => Duration::hours(3),
    }
}

/// Reconciles the open anomalies of the series that were scored with this run's findings.
///
/// `open` must hold only anomalies whose series was scored on this run; an open anomaly
/// without a matching finding is resolved. Each finding matches at most one open anomaly of
/// the same series (overlapping or touching periods); unmatched findings open new anomalies.
///
/// A run older than an anomaly's last update (a replay, or a late run from a paused replica)
/// knows less than the anomaly does, so it leaves that anomaly as it is: it neither resolves
/// it nor rewinds it, and a finding that matches it opens nothing.
pub fn reconcile(open: &[Anomaly], findings: &[(SeriesKey, Finding)], now: NaiveDateTime) -> Vec<Change> {
    let mut matched = vec![false; open.len()];
    let mut changes = Vec::new();
    for (key, finding) in findings {
        let hit = open.iter().enumerate().find(|(i, a)| {
            !matched[*i]
                && a.key == *key
                && finding.start <= a.end + slack(key.granularity)
                && finding.end + slack(key.granularity) >= a.start
        });
        match hit {
            Some((i, anomaly)) => {
                matched[i] = true;
                if anomaly.updated_at > now {
                    continue;
                }
                let material = anomaly.materially_differs(finding);
                if material || anomaly.end != finding.end {
                    let mut next = anomaly.clone();
                    next.kind = finding.kind;
                    next.severity = finding.severity;
                    next.end = finding.end.max(anomaly.end);
                    next.expected = Money::from_decimal(finding.expected);
                    next.actual = Money::from_decimal(finding.actual);
                    next.impact = Money::from_decimal(finding.impact);
                    next.percent = finding.percent;
                    next.score = finding.score;
                    next.provisional = finding.provisional;
                    next.updated_at = now;
                    if material {
                        next.version += 1;
                        changes.push(Change::Updated(next));
                    } else {
                        changes.push(Change::Extended(next));
                    }
                }
            }
            None => changes.push(Change::Opened(Anomaly::from_finding(key.clone(), finding, now))),
        }
    }
    for (anomaly, _) in open.iter().zip(&matched).filter(|(a, m)| !**m && a.updated_at <= now) {
        let mut resolved = anomaly.clone();
        resolved.status = Status::Resolved;
        resolved.version += 1;
        resolved.resolved_at = Some(now);
        resolved.updated_at = now;
        changes.push(Change::Resolved(resolved));
    }
    changes
}

/// Share of a total-level anomaly's impact that a more specific anomaly must explain for the
/// total-level one to be left unannounced.
const ROLLUP_SHARE_PERCENT: i64 = 50;

/// Drops new account- and organisation-level anomalies that a more specific anomaly already
/// explains, so one incident raises one alert rather than three (service, account, total).
///
/// A new total-level anomaly is dropped when an overlapping anomaly one or more levels below
/// it (open, or opened in this run) accounts for at least half of its impact. An account
/// total that rose because many small services crept up has no such child and still alerts.
pub fn suppress_rollups(changes: Vec<Change>, open: &[Anomaly]) -> Vec<Change> {
    let specific: Vec<Anomaly> = open
        .iter()
        .cloned()
        .chain(changes.iter().filter_map(|c| match c {
            Change::Opened(a) | Change::Updated(a) | Change::Extended(a) => Some(a.clone()),
            Change::Resolved(_) => None,
        }))
        .collect();
    changes
        .into_iter()
        .filter(|change| {
            let Change::Opened(total) = change else { return true };
            let explained = specific.iter().any(|child| {
                let below = match (&total.key.scope, &child.key.scope) {
                    (Scope::Account { account }, Scope::Service { account: a, .. }) => a == account,
                    (Scope::Organisation, Scope::Account { .. } | Scope::Service { .. } | Scope::Tag { .. }) => true,
                    _ => false,
                };
                below
                    && child.key.granularity == total.key.granularity
                    && child.start <= total.end
                    && child.end >= total.start
                    && child.impact.as_decimal().abs() * Decimal::from(100)
                        >= total.impact.as_decimal().abs() * Decimal::from(ROLLUP_SHARE_PERCENT)
            });
            !explained
        })
        .collect()
}

/// What happened to an anomaly, for the chat adapters to announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// First detected: post an alert.
    Opened,
    /// Grew, shrank or changed severity: edit the alert in place.
    Updated,
    /// No longer anomalous: mark the alert resolved.
    Resolved,
    /// A person acknowledged it.
    Acknowledged,
    /// A person muted it.
    Muted,
    /// A person said whether it was expected, not an anomaly, or real.
    Feedback,
}

impl EventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Updated => "updated",
            EventKind::Resolved => "resolved",
            EventKind::Acknowledged => "acknowledged",
            EventKind::Muted => "muted",
            EventKind::Feedback => "feedback",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<EventKind> {
        [
            EventKind::Opened,
            EventKind::Updated,
            EventKind::Resolved,
            EventKind::Acknowledged,
            EventKind::Muted,
            EventKind::Feedback,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One recorded event: "anomaly X reached version V through E".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Store sequence number; consumers remember the last one they handled.
    pub id: i64,
    /// The anomaly.
    pub anomaly: AnomalyId,
    /// The anomaly's version after the event.
    pub version: u32,
    /// What happened.
    pub kind: EventKind,
    /// Who did it, for acknowledgements and mutes.
    pub actor: Option<String>,
    /// When it was recorded.
    pub created_at: NaiveDateTime,
}

/// Something a person does to an anomaly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnomalyMark {
    /// "I have seen this."
    Acknowledge {
        /// Who.
        by: String,
    },
    /// "Stop telling me until then."
    Mute {
        /// Who.
        by: String,
        /// Until when (UTC).
        until: NaiveDateTime,
    },
    /// "This was expected / not an anomaly / real."
    Feedback {
        /// Who.
        by: String,
        /// What they said.
        verdict: Verdict,
    },
}

impl AnomalyMark {
    /// Who made the mark.
    pub fn by(&self) -> &str {
        match self {
            AnomalyMark::Acknowledge { by } | AnomalyMark::Mute { by, .. } | AnomalyMark::Feedback { by, .. } => by,
        }
    }
}

#[cfg(test)]
#[path = "incident_tests.rs"]
mod tests;
