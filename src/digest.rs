//! The daily digest job: works out which channels' digests are due, gathers their figures from
//! the store, renders them, and records each digest together with its outbox entry.
//!
//! Exactly one digest per channel and local date: the `digests` table's key decides, in the
//! same transaction that queues the message, so two replicas, a restart or a catch-up run can
//! race and still post once. A digest whose time passed while costbot was down is posted when
//! it comes back (marked late), unless the next one is nearer.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, Utc};

use crate::chat::Sender;
use crate::config::{ChannelConfig, Config, DigestSchedule};
use crate::domain::chat::message::Message;
use crate::domain::chat::{ChannelId, MessageRef, Platform};
use crate::domain::digest::{needed_from, summarize, ServiceDay};
use crate::domain::incident::Anomaly;
use crate::domain::outbox::OutboxEntry;
use crate::domain::proposal::{Proposal, State};
use crate::domain::{DateRange, Granularity};
use crate::render::alert::subject;
use crate::render::digest::{approval_what, digest, AnomalyItem, ApprovalItem, DigestView, Savings};
use crate::store::{
    AccountStore, AnomalyStore, AuditStore, CostStore, DigestRecord, DigestStore, OutboxStore, ProposalStore, RunStore,
    SpendGroup, SpendQuery, Store, TagGroup, TagQuery, TagStore,
};

/// The scheduled job's name in `job_runs`.
pub const JOB_DIGEST: &str = "digest";

/// A digest past its posting time and not yet recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The channel's local date it is for.
    pub date: NaiveDate,
    /// When it was due (UTC).
    pub scheduled_at: NaiveDateTime,
    /// When it was due, in the channel's own words ("09:00 Europe/Berlin, Nov 25").
    pub scheduled_text: String,
    /// True when it goes out more than [`LATE_AFTER`] after that.
    pub late: bool,
}

/// A digest that goes out this much after its time is marked late.
pub const LATE_AFTER: chrono::Duration = chrono::Duration::minutes(15);

/// The digest due at `now` under `schedule`: its latest occurrence at or before `now`, if that
/// is at most `catch_up` ago. Pure, so the schedule rules are tested without a clock.
pub fn due(schedule: &DigestSchedule, now: DateTime<Utc>, catch_up: chrono::Duration) -> Option<Due> {
    let local_now = now.with_timezone(&schedule.tz);
    let at = schedule.cron.find_previous_occurrence(&local_now, true).ok()?;
    let behind = now - at.with_timezone(&Utc);
    if behind > catch_up {
        return None;
    }
    Some(Due {
        date: at.date_naive(),
        scheduled_at: at.with_timezone(&Utc).naive_utc(),
        scheduled_text: format!("{} {}, {}", at.format("%H:%M"), schedule.tz.name(), at.format("%b %-d")),
        late: behind > LATE_AFTER,
    })
}

/// What a digest run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestReport {
    /// Digests recorded and queued by this run.
    pub posted: u32,
    /// Of those, late ones.
    pub late: u32,
    /// Due digests another run had already recorded.
    pub already: u32,
}

/// Builds and records digests.
/// The tables a digest reads and writes: spend, account names and the newest run for its
/// content, open anomalies and done proposals for its sections, the outbox for links to
/// posted alerts and for queuing it, and the digest records.
pub trait DigestTables:
    CostStore
    + AccountStore
    + RunStore
    + AnomalyStore
    + ProposalStore
    + OutboxStore
    + DigestStore
    + AuditStore
    + TagStore
    + crate::budgets::BudgetTables
{
}

impl<T> DigestTables for T where
    T: CostStore
        + TagStore
        + AccountStore
        + RunStore
        + AnomalyStore
        + ProposalStore
        + OutboxStore
        + DigestStore
        + AuditStore
        + crate::budgets::BudgetTables
        + ?Sized
{
}

pub struct Digests<S: ?Sized = dyn Store> {
    store: Arc<S>,
    config: Arc<Config>,
    senders: HashMap<Platform, Arc<dyn Sender>>,
}

// A derived `Clone` would ask for `S: Clone`; cloning shares the store handle instead.
impl<S: ?Sized> Clone for Digests<S> {
    fn clone(&self) -> Self {
        Digests { store: self.store.clone(), config: self.config.clone(), senders: self.senders.clone() }
    }
}

impl<S: DigestTables + ?Sized> Digests<S> {
    /// Digests over a store, for the configured channels; `senders` are asked for links to
    /// alerts.
    pub fn new(store: Arc<S>, config: Arc<Config>, senders: HashMap<Platform, Arc<dyn Sender>>) -> Digests<S> {
        Digests { store, config, senders }
    }

    /// Records and queues every digest due at `now`. Safe to run on every replica and as
    /// often as wanted.
    pub async fn run_due(&self, now: DateTime<Utc>) -> Result<DigestReport> {
        let catch_up = chrono::Duration::hours(self.config.digest.catch_up_hours.min(24 * 7) as i64);
        let mut report = DigestReport::default();
        for channel in &self.config.channels {
            let Some(schedule) = self.config.digest.schedule_for(channel)? else { continue };
            let Some(due) = due(&schedule, now, catch_up) else { continue };
            let platform = Platform::from(channel.platform);
            let id = ChannelId(channel.id.clone());
            if self.store.digest_recorded(platform, &id, due.date).await? {
                report.already += 1;
                continue;
            }
            if self.queue(channel, &due, now.naive_utc()).await? {
                tracing::info!(channel = %channel.id, date = %due.date, late = due.late, "daily digest queued");
                report.posted += 1;
                report.late += u32::from(due.late);
            } else {
                report.already += 1;
            }
        }
        Ok(report)
    }

    /// Records and queues a channel's digest for `date` now, outside its schedule (the CLI).
    /// False when that date's digest was already recorded.
    pub async fn post_now(&self, channel: &ChannelConfig, date: NaiveDate, now: NaiveDateTime) -> Result<bool> {
        let due = Due { date, scheduled_at: now, scheduled_text: String::new(), late: false };
        self.queue(channel, &due, now).await
    }

    /// Builds a due digest and records it with its outbox entry; false when the channel
    /// already had its digest for that date.
    async fn queue(&self, channel: &ChannelConfig, due: &Due, now: NaiveDateTime) -> Result<bool> {
        let late = due.late.then(|| due.scheduled_text.clone());
        let message = self.build(channel, due.date, now, late).await?;
        let record = DigestRecord {
            platform: Platform::from(channel.platform),
            channel: ChannelId(channel.id.clone()),
            date: due.date,
            data_day: due.date - Days::new(1),
            scheduled_at: due.scheduled_at,
            created_at: now,
            late: due.late,
        };
        self.store.record_digest(&record, &[entry(channel, due.date, message)]).await
    }

    /// The digest a channel gets for its local `date` (reporting the day before), as of `now`.
    pub async fn build(
        &self,
        channel: &ChannelConfig,
        date: NaiveDate,
        now: NaiveDateTime,
        late: Option<String>,
    ) -> Result<Message> {
        let day = date - Days::new(1);
        let scope = (!channel.accounts.is_empty()).then(|| channel.accounts.clone());
        let range = DateRange::new(needed_from(day), date)?;
        let query = SpendQuery { granularity: Granularity::Daily, range, accounts: scope, services: None };
        let tag_scope = channel.tag_scope();
        // A tag-scoped channel's figures are its values' spend only, by account: spend by tag
        // is collected per account, and every other figure holds other teams' spend.
        let rows = match &tag_scope {
            Some(scope) => {
                let query = TagQuery { spend: query, key: scope.key.clone(), values: Some(scope.values.clone()) };
                self.store.tag_matrix(&query, TagGroup::Account).await
            }
            None => self.store.spend_matrix(&query, SpendGroup::Service).await,
        };
        let names = self.account_names().await?;
        let matrix: Vec<ServiceDay> = rows
            .context("reading spend for the digest")?
            .into_iter()
            .map(|(at, row)| ServiceDay {
                day: at.date(),
                service: match (&tag_scope, names.get(&row.key)) {
                    (Some(_), Some(name)) => format!("{name} ({})", row.key),
                    _ => row.key,
                },
                amount: row.amount,
                estimated: row.estimated,
            })
            .collect();
        let summary = summarize(day, &matrix);
        let chart_png = if self.config.digest.chart {
            let by = if tag_scope.is_some() { "account" } else { "service" };
            crate::render::chart::png(&summary.chart, &format!("Last 30 days by {by} (USD)"))?
        } else {
            None
        };
        let view = DigestView {
            budgets: self.budgets(channel, date).await?,
            date,
            anomalies: self.anomalies(channel).await?,
            approvals: self.approvals(channel).await?,
            savings: self.savings(channel, day).await?,
            late,
            collected_at: self.store.recent_runs(1).await?.into_iter().next().and_then(|r| r.finished_at),
            audit_head: self.store.audit_head().await?,
            now,
            chart_png,
            summary,
            tag_scope: tag_scope.map(|s| s.describe()),
        };
        Ok(digest(&view))
    }

    /// The budgets the channel may see, as of its local `date`.
    async fn budgets(&self, channel: &ChannelConfig, date: NaiveDate) -> Result<Vec<crate::render::budget::BudgetRow>> {
        let answers = Arc::new(crate::answers::Answers::with_lookup_ttl(self.store.clone(), std::time::Duration::ZERO));
        let budgets = crate::budgets::Budgets::new(self.store.clone(), answers, self.config.clone(), "digest");
        budgets
            .rows(&crate::budgets::Viewer::of(channel), None, date)
            .await
            .context("working out budgets for the digest")
    }

    /// Open anomalies the channel may see, biggest impact first, with links to their alerts.
    async fn account_names(&self) -> Result<HashMap<String, String>> {
        Ok(self.store.accounts().await?.into_iter().filter_map(|a| a.name.map(|n| (a.id.to_string(), n))).collect())
    }

    async fn anomalies(&self, channel: &ChannelConfig) -> Result<Vec<AnomalyItem>> {
        let names = self.account_names().await?;
        let lookup = |id: &str| names.get(id).cloned();
        let mut open: Vec<Anomaly> =
            self.store.anomalies(true, 500).await?.into_iter().filter(|a| channel.may_see_series(&a.key)).collect();
        open.sort_by(|a, b| b.impact.cmp(&a.impact).then_with(|| a.id.0.cmp(&b.id.0)));
        let mut items = Vec::new();
        for a in open {
            items.push(AnomalyItem {
                subject: subject(&a, &lookup),
                severity: format!("{:?}", a.severity).to_lowercase(),
                impact: a.impact,
                since: a.start,
                link: self.alert_link(channel, &a.id.0).await,
            });
        }
        Ok(items)
    }

    /// A link to the alert posted in this channel, if it was posted and the platform can
    /// make one. A failure here only drops the link.
    async fn alert_link(&self, channel: &ChannelConfig, thread: &str) -> Option<String> {
        let platform = Platform::from(channel.platform);
        let id = ChannelId(channel.id.clone());
        let message = self.store.thread_message(platform, &id, thread).await.ok()??;
        self.senders.get(&platform)?.permalink(&MessageRef { channel: id, id: message }).await
    }

    /// Proposals waiting for a decision whose cards this channel shows, soonest expiry first.
    async fn approvals(&self, channel: &ChannelConfig) -> Result<Vec<ApprovalItem>> {
        let mut waiting: Vec<Proposal> = self
            .store
            .proposals_in(&["pending"])
            .await?
            .into_iter()
            .filter(|p| crate::proposals::shows_card(channel, p))
            .collect();
        waiting.sort_by_key(|p| p.expires_at);
        Ok(waiting
            .iter()
            .map(|p| ApprovalItem {
                what: approval_what(p),
                saving: p.finding.monthly_saving,
                approvals: (p.approvals.len(), p.required_approvals),
                expires_at: p.expires_at,
            })
            .collect())
    }

    /// Monthly savings of actions executed in `day`'s month on accounts the channel may see.
    async fn savings(&self, channel: &ChannelConfig, day: NaiveDate) -> Result<Savings> {
        let month_start = day.with_day(1).unwrap_or(day);
        let mut savings = Savings::default();
        for p in self.store.proposals_in(&["done"]).await? {
            if p.updated_at.date() < month_start || p.updated_at.date() > day + Days::new(1) {
                continue;
            }
            if !channel.may_see_resource(&p.finding.resource.reference.account, &p.finding.resource.tags) {
                continue;
            }
            let saving = p.finding.monthly_saving;
            match p.state {
                State::Done { dry_run: false, .. } => {
                    savings.actions += 1;
                    savings.realised += saving.unwrap_or_default();
                    savings.unknown += u32::from(saving.is_none());
                }
                State::Done { dry_run: true, .. } => {
                    savings.dry_run_actions += 1;
                    savings.dry_run += saving.unwrap_or_default();
                }
                _ => {}
            }
        }
        Ok(savings)
    }
}

fn entry(channel: &ChannelConfig, date: NaiveDate, message: Message) -> OutboxEntry {
    let platform = Platform::from(channel.platform);
    OutboxEntry {
        platform,
        channel: ChannelId(channel.id.clone()),
        thread: format!("digest-{date}"),
        message,
        dedupe_key: format!("digest:{}:{}:{date}", platform.as_str(), channel.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DigestConfig;

    fn schedule(cron: &str, tz: &str) -> DigestSchedule {
        let channel: ChannelConfig = toml::from_str(&format!(
            "platform = \"slack\"\nid = \"C1\"\ndigest_schedule = \"{cron}\"\ndigest_timezone = \"{tz}\""
        ))
        .unwrap();
        DigestConfig::default().schedule_for(&channel).unwrap().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_digest_is_due_in_the_channels_time_zone() {
        let berlin = schedule("0 0 9 * * *", "Europe/Berlin");
        // 09:00 in Berlin is 08:00 UTC in November.
        assert_eq!(due(&berlin, at("2026-11-25T07:59:00Z"), chrono::Duration::hours(12)), None);
        let on_time = due(&berlin, at("2026-11-25T08:00:30Z"), chrono::Duration::hours(12)).unwrap();
        assert_eq!(on_time.date, "2026-11-25".parse().unwrap());
        assert_eq!(on_time.scheduled_at, "2026-11-25T08:00:00".parse().unwrap());
        assert!(!on_time.late);
        assert_eq!(on_time.scheduled_text, "09:00 Europe/Berlin, Nov 25");
    }

    #[test]
    fn a_missed_digest_is_caught_up_late_unless_the_next_one_is_nearer() {
        let utc = schedule("0 0 9 * * *", "UTC");
        let late = due(&utc, at("2026-11-25T11:30:00Z"), chrono::Duration::hours(12)).unwrap();
        assert!(late.late);
        assert_eq!(late.date, "2026-11-25".parse().unwrap());
        assert_eq!(due(&utc, at("2026-11-26T08:00:00Z"), chrono::Duration::hours(12)), None);
    }

    #[test]
    fn weekday_schedules_skip_the_weekend() {
        let weekdays = schedule("0 30 8 * * Mon-Fri", "America/New_York");
        // Saturday Nov 28 2026 noon in New York: Friday's digest is more than 12 h old.
        assert_eq!(due(&weekdays, at("2026-11-28T17:00:00Z"), chrono::Duration::hours(12)), None);
    }
}
