//! The detection job: after each collection, score every series from the store, reconcile
//! with the open anomalies, add root causes to new ones, and record the alert events.
//!
//! Root causes for account × service anomalies need a breakdown Cost Explorer has and the
//! store does not (usage type, region); that is one small query per *new* anomaly, never per
//! series or per run. Account- and organisation-level root causes come from the store.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use chrono::{Days, NaiveDateTime, NaiveTime};

use crate::domain::anomaly::pass::run_pass;
use crate::domain::anomaly::{Detector, DetectorConfig, Point, ThresholdSet};
use crate::domain::feedback::tuning;
use crate::domain::incident::{Anomaly, Change, Scope, SeriesKey};
use crate::domain::root_cause::{rank_contributors, BreakdownRow, Dimension};
use crate::domain::sources::BreakdownSource;
use crate::domain::tags::{TagFact, TagKey};
use crate::domain::{AccountId, DateRange, Granularity, Money, ServiceName};
use crate::store::{
    AnomalyStore, CostStore, FactChangeStore, FactChanges, FactFilter, SpendQuery, Store, TagQuery, TagStore,
    UsageStore,
};

mod build;
mod cache;
#[cfg(test)]
mod series_tests;
mod tags;
use cache::SeriesCache;
use tags::{build_tag_series, tag_rows_by_account};

pub use build::SeriesBuilder;

/// Every series a run scores, by key.
pub type AllSeries = BTreeMap<SeriesKey, Vec<Point>>;

/// Detection settings, from `[anomaly]`.
#[derive(Debug, Clone)]
pub struct DetectionSettings {
    /// Day or hour series.
    pub granularity: Granularity,
    /// How much history is loaded: the detector's baseline plus its recent window.
    pub lookback_days: u64,
    /// Thresholds, with per `account/service` overrides.
    pub thresholds: ThresholdSet,
    /// Tag keys whose values each get a series of their own (`[anomaly] by_tags`).
    pub by_tags: Vec<TagKey>,
    /// Score usage-only facts where the store has them (`[anomaly] usage_only`).
    pub usage_only: bool,
}

/// What a detection run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DetectionReport {
    /// Series scored.
    pub series: usize,
    /// Findings over all series.
    pub findings: usize,
    /// Anomalies opened, updated (announced) and resolved.
    pub opened: usize,
    /// See `opened`.
    pub updated: usize,
    /// See `opened`.
    pub resolved: usize,
    /// Alert events recorded.
    pub events: u64,
    /// Cost Explorer requests made for root causes.
    pub root_cause_calls: u64,
    /// Facts read from the store for the series (tag facts aside): every fact of the
    /// lookback on a first run, only the replaced and newly covered periods after that.
    pub facts_read: u64,
}

/// Runs detection. Cheap to clone; clones share the series kept between runs.
pub struct Detection<S: ?Sized = dyn Store> {
    store: Arc<S>,
    breakdown: Arc<dyn BreakdownSource>,
    settings: DetectionSettings,
    /// The last run's series (see `cache.rs`); a tokio mutex because a run holds it across
    /// its reads, so two runs at once do not both rebuild.
    cache: Arc<tokio::sync::Mutex<Option<SeriesCache>>>,
}

// A derived `Clone` would ask for `S: Clone`; cloning shares the store handle instead.
impl<S: ?Sized> Clone for Detection<S> {
    fn clone(&self) -> Self {
        Detection {
            store: self.store.clone(),
            breakdown: self.breakdown.clone(),
            settings: self.settings.clone(),
            cache: self.cache.clone(),
        }
    }
}

/// Days before an anomaly that serve as its contributors' baseline.
const ROOT_CAUSE_BASELINE_DAYS: u64 = 14;

impl<S: CostStore + AnomalyStore + TagStore + UsageStore + FactChangeStore + ?Sized> Detection<S> {
    /// A detection job over a store.
    pub fn new(store: Arc<S>, breakdown: Arc<dyn BreakdownSource>, settings: DetectionSettings) -> Detection<S> {
        Detection { store, breakdown, settings, cache: Arc::default() }
    }

    /// Scores every series with data up to `as_of` (the current, partial period is ignored)
    /// and records what changed.
    pub async fn run(&self, as_of: NaiveDateTime) -> Result<DetectionReport> {
        let g = self.settings.granularity;
        let range = self.range(as_of)?;
        let (mut series, facts_read) = self.series_at(as_of).await?;
        let mut tag_facts = Vec::new();
        for key in &self.settings.by_tags {
            let spend = SpendQuery { granularity: g, range, accounts: None, services: None };
            tag_facts.extend(self.store.tag_facts(&TagQuery { spend, key: key.clone(), values: None }).await?);
        }
        series.extend(build_tag_series(&tag_facts, g));
        let open = self.store.open_anomalies(g).await?;
        // Every verdict ever given counts: an accepted level or a raised floor holds until
        // someone answers the series' alerts differently.
        let tuning = tuning(&self.store.anomaly_feedback(NaiveDateTime::default()).await?);
        // The pure part of the job, shared with `costbot eval series` so that what is
        // evaluated is what runs.
        let mut detector = Detector::new(DetectorConfig::default());
        let pass = run_pass(
            |points, granularity, at, gates| detector.detect(points, granularity, at, gates),
            series.iter().map(|(key, points)| (key, points.as_slice())),
            &open,
            as_of,
            &self.settings.thresholds,
            &tuning,
        );
        let mut changes = pass.changes;
        let mut report =
            DetectionReport { series: pass.series, findings: pass.findings, facts_read, ..Default::default() };
        for change in &mut changes {
            match change {
                Change::Opened(anomaly) => {
                    report.opened += 1;
                    report.root_cause_calls += self.explain(anomaly, &series, &tag_facts).await;
                }
                Change::Updated(anomaly) => {
                    // The anomaly grew or changed shape: its contributors may have changed too.
                    report.updated += 1;
                    report.root_cause_calls += self.explain(anomaly, &series, &tag_facts).await;
                }
                Change::Resolved(_) => report.resolved += 1,
                Change::Extended(_) => {}
            }
        }
        report.events = self.store.apply_anomaly_changes(&changes, as_of).await?;
        tracing::info!(
            series = report.series,
            opened = report.opened,
            updated = report.updated,
            resolved = report.resolved,
            root_cause_calls = report.root_cause_calls,
            facts_read = report.facts_read,
            "detection finished"
        );
        Ok(report)
    }

    fn range(&self, as_of: NaiveDateTime) -> Result<DateRange> {
        Ok(DateRange::new(as_of.date() - Days::new(self.settings.lookback_days), as_of.date() + Days::new(1))?)
    }

    /// The account × service, account and organisation series a run at `as_of` scores
    /// (tag series aside). With `[anomaly] usage_only`, an account's usage-only facts are
    /// scored when the store has any for it in the range, else its net facts (a source
    /// that cannot tell record types apart, or data collected before usage was). Usage is
    /// what a person changes; credits, refunds, tax and monthly fees move net spend on days
    /// nothing changed, and would alert.
    ///
    /// The series are kept between runs; a run re-reads only the periods replaced since the
    /// last one and the periods its range newly covers (`cache.rs`). Returns the series
    /// and how many facts were read for them.
    pub async fn series_at(&self, as_of: NaiveDateTime) -> Result<(AllSeries, u64)> {
        let range = self.range(as_of)?;
        let (g, usage_only) = (self.settings.granularity, self.settings.usage_only);
        let (start, end) = (range.start().and_time(NaiveTime::MIN), range.end().and_time(NaiveTime::MIN));
        let mut slot = self.cache.lock().await;
        // Taken out, and put back only after a complete read, so that a failed read never
        // leaves a half-updated cache for the next run.
        let kept = slot.take().filter(|cache| cache.fits(g, usage_only, start, end));
        let changes = match &kept {
            Some(cache) => Some(self.store.fact_changes(g, cache.watermark).await?),
            None => None,
        };
        let (cache, read) = match (kept, changes) {
            (Some(mut cache), Some(FactChanges { head, ranges: Some(ranges) })) => {
                let mut read = 0;
                for reread in cache.advance(start, ranges) {
                    read += self.read_into(&mut cache, reread).await?;
                }
                cache.watermark = head;
                (cache, read)
            }
            (kept, _) => {
                // Dropped before the new read, so that two sets of series are never held.
                drop(kept);
                self.read_all(range).await?
            }
        };
        let series = cache.series();
        *slot = Some(cache);
        Ok((series, read))
    }

    /// Every fact of `range`, into new series.
    async fn read_all(&self, range: DateRange) -> Result<(SeriesCache, u64)> {
        let (start, end) = (range.start().and_time(NaiveTime::MIN), range.end().and_time(NaiveTime::MIN));
        // The head is read first: a write committed after it is re-read by the next run.
        let head = self.store.fact_change_head().await?;
        let mut cache = SeriesCache::new(self.settings.granularity, self.settings.usage_only, start, end, head)?;
        let read = self.read_into(&mut cache, range).await?;
        Ok((cache, read))
    }

    /// Adds the facts of `range` (whose periods are empty in `cache`) to it, by source;
    /// returns how many were read.
    async fn read_into(&self, cache: &mut SeriesCache, range: DateRange) -> Result<u64> {
        let filter = FactFilter { granularity: self.settings.granularity, range, accounts: None };
        let mut read = 0;
        if let Some(usage) = cache.usage.as_mut() {
            read += self.store.visit_usage_facts(&filter, &mut |fact| usage.add(fact)).await?;
        }
        let net = &mut cache.net;
        read += self.store.visit_cost_facts(&filter, &mut |fact| net.add(fact)).await?;
        Ok(read)
    }

    /// Fills in an anomaly's root cause; returns the Cost Explorer requests it made. A failed
    /// breakdown leaves the root cause empty: the alert still goes out, saying so.
    async fn explain(&self, anomaly: &mut Anomaly, series: &AllSeries, tag_facts: &[TagFact]) -> u64 {
        let day = |t: NaiveDateTime| t.date();
        let Ok(anomaly_days) = DateRange::new(day(anomaly.start), day(anomaly.end) + Days::new(1)) else { return 0 };
        let Ok(baseline) =
            DateRange::new(anomaly_days.start() - Days::new(ROOT_CAUSE_BASELINE_DAYS), anomaly_days.start())
        else {
            return 0;
        };
        let (rows, calls) = match &anomaly.key.scope {
            Scope::Service { account, service } => {
                match self.service_breakdown(account, service, baseline, anomaly_days).await {
                    Ok(result) => result,
                    Err(error) => {
                        tracing::warn!(anomaly = %anomaly.id, error = %format!("{error:#}"), "root cause unavailable");
                        return 0;
                    }
                }
            }
            Scope::Account { account } => (rows_from_series(series, Some(account)), 0),
            Scope::Organisation => (rows_from_series(series, None), 0),
            Scope::Tag { key, value } => (tag_rows_by_account(tag_facts, key, value), 0),
        };
        anomaly.root_cause = rank_contributors(&rows, baseline, anomaly_days);
        calls
    }

    async fn service_breakdown(
        &self,
        account: &AccountId,
        service: &ServiceName,
        baseline: DateRange,
        anomaly_days: DateRange,
    ) -> Result<(Vec<BreakdownRow>, u64)> {
        let source = self.store.fact_source(account).await?.unwrap_or_else(|| account.clone());
        let range = DateRange::new(baseline.start(), anomaly_days.end())?;
        self.breakdown.breakdown(&source, account, service, range).await
    }
}

/// Daily rows for an account's services (or the organisation's accounts), from the series
/// the run built: the same facts, already summed, and no scan of them per anomaly.
fn rows_from_series(series: &AllSeries, account: Option<&AccountId>) -> Vec<BreakdownRow> {
    let mut rows = Vec::new();
    for (key, points) in series {
        let (dimension, name) = match (&key.scope, account) {
            (Scope::Service { account: a, service }, Some(wanted)) if a == wanted => {
                (Dimension::Service, service.to_string())
            }
            (Scope::Account { account: a }, None) => (Dimension::LinkedAccount, a.to_string()),
            _ => continue,
        };
        rows.extend(points.iter().map(|p| BreakdownRow {
            dimension,
            name: name.clone(),
            day: p.at.date(),
            amount: Money::from_decimal(p.amount),
        }));
    }
    rows
}

/// Exact sums per series and period into the detector's points.
fn points_of(sums: BTreeMap<SeriesKey, BTreeMap<NaiveDateTime, (Money, bool)>>) -> BTreeMap<SeriesKey, Vec<Point>> {
    sums.into_iter()
        .map(|(key, by_time)| {
            let points = by_time
                .into_iter()
                .map(|(at, (amount, estimated))| Point { at, amount: amount.as_decimal(), estimated })
                .collect();
            (key, points)
        })
        .collect()
}
