//! The cost collector: for each source account, fetch the days that may have changed and
//! replace them in the store, recording what happened in a run record.
//!
//! The collector knows nothing about AWS: it talks to a [`CostSource`], which is either the
//! Cost Explorer adapter (`crate::aws`) or the simulated cloud (`crate::sim`).

use std::sync::Arc;

use anyhow::Result;
use chrono::{NaiveDate, Utc};
use futures::stream::{self, StreamExt};

use crate::domain::cost::{plan_fetch, FetchPlanInput};
use crate::domain::run::{CollectorRun, SourceReport};
use crate::domain::sources::{CostSource, FetchRequest};
use crate::domain::{AccountId, BreakdownDimension, BreakdownFact, CostFact, DateRange, Granularity};
use crate::store::{BreakdownStore, CostStore, RunStore, Store, TagStore, UsageStore};

mod tags;
mod usage;

/// The job name used in run records and schedule claims.
pub const JOB_COLLECT_COSTS: &str = "collect-costs";

/// Collector settings, from `[costs]`.
#[derive(Debug, Clone)]
pub struct CollectSettings {
    /// Day or hour facts.
    pub granularity: Granularity,
    /// Cost Explorer metric.
    pub metric: String,
    /// Days re-fetched before the last complete day.
    pub restatement_days: u64,
    /// How far back a new source reaches.
    pub backfill_days: u64,
    /// Refresh region and usage-type breakdowns at most this often (`None`: never).
    pub breakdown_every: Option<chrono::Duration>,
    /// Tag keys and cost categories collected on every run (one request per key and source).
    pub tag_keys: Vec<crate::domain::tags::TagKey>,
    /// Also collect usage-only facts for detection (`[anomaly] usage_only`).
    pub usage_only: bool,
}

/// Runs collections. Cheap to clone.
pub struct Collector<S: ?Sized = dyn Store> {
    store: Arc<S>,
    source: Arc<dyn CostSource>,
    sources: Vec<AccountId>,
    settings: CollectSettings,
}

// A derived `Clone` would ask for `S: Clone`; cloning shares the store handle instead.
impl<S: ?Sized> Clone for Collector<S> {
    fn clone(&self) -> Self {
        Collector {
            store: self.store.clone(),
            source: self.source.clone(),
            sources: self.sources.clone(),
            settings: self.settings.clone(),
        }
    }
}

/// How many sources are fetched at once: Cost Explorer's rate limit is per payer, but a
/// bound keeps a large organisation's run from opening dozens of connections.
const CONCURRENT_SOURCES: usize = 4;

impl<S: CostStore + BreakdownStore + TagStore + UsageStore + RunStore + ?Sized> Collector<S> {
    /// A collector over the given source accounts.
    pub fn new(
        store: Arc<S>,
        source: Arc<dyn CostSource>,
        sources: Vec<AccountId>,
        settings: CollectSettings,
    ) -> Collector<S> {
        Collector { store, source, sources, settings }
    }

    /// The same collector with other settings (another granularity, say).
    pub fn with_settings(&self, settings: CollectSettings) -> Collector<S> {
        Collector { settings, ..self.clone() }
    }

    /// The accounts queried each run.
    pub fn sources(&self) -> &[AccountId] {
        &self.sources
    }

    /// Runs one collection for all sources (or only `only`). A failing source is reported in
    /// the run record and does not stop the others; its earlier data is kept.
    pub async fn run(
        &self,
        today: NaiveDate,
        since: Option<NaiveDate>,
        only: Option<&AccountId>,
    ) -> Result<CollectorRun> {
        let selected: Vec<AccountId> = match only {
            Some(id) if self.sources.contains(id) => vec![id.clone()],
            Some(id) => anyhow::bail!("account {id} is not a Cost Explorer source in the configuration"),
            None => self.sources.clone(),
        };
        let run_id = self.store.start_run(JOB_COLLECT_COSTS, Utc::now().naive_utc()).await?;
        let reports: Vec<SourceReport> = stream::iter(selected)
            .map(|source| async move { self.collect_source(&source, today, since).await })
            .buffer_unordered(CONCURRENT_SOURCES)
            .collect()
            .await;
        self.store.finish_run(run_id, Utc::now().naive_utc(), &reports).await?;
        crate::metrics::record_collection(&reports);
        for report in &reports {
            match &report.error {
                None => tracing::info!(source = %report.source, range = %report.range, rows = report.rows_written,
                    api_calls = report.api_calls, "collected costs"),
                Some(error) => {
                    tracing::warn!(source = %report.source, range = %report.range, %error, "collection failed")
                }
            }
        }
        let runs = self.store.recent_runs(20).await?;
        let run = runs.into_iter().find(|r| r.id == run_id);
        run.ok_or_else(|| anyhow::anyhow!("run {} vanished from the store", run_id.0))
    }

    async fn collect_source(&self, source: &AccountId, today: NaiveDate, since: Option<NaiveDate>) -> SourceReport {
        let granularity = self.settings.granularity;
        let last_complete = self.store.last_complete_day(source, granularity).await;
        let range = plan_fetch(FetchPlanInput {
            today,
            last_complete: last_complete.as_ref().ok().copied().flatten(),
            since,
            restatement_days: self.settings.restatement_days,
            backfill_days: self.settings.backfill_days,
            granularity,
        });
        let mut report = SourceReport { source: source.clone(), range, rows_written: 0, api_calls: 0, error: None };
        if let Err(error) = last_complete {
            report.error = Some(format!("cannot read the store: {error:#}"));
            return report;
        }
        let request = FetchRequest { range, granularity, metric: self.settings.metric.clone() };
        match self.source.fetch(source, &request).await {
            Ok(fetched) => {
                report.api_calls = fetched.api_calls;
                let facts = keep_in_range(fetched.facts, &range);
                if facts.is_empty() && self.holds_data(source, &range).await {
                    // An empty answer for days that had spend is far likelier a glitch than
                    // real zero spend; replacing would wipe good data, so keep it.
                    tracing::warn!(%source, %range, "Cost Explorer returned no data for days that have data; kept them");
                    return report;
                }
                match self.store.replace_cost_facts(source, granularity, &range, &facts, Utc::now().naive_utc()).await {
                    Ok(rows) => report.rows_written = rows,
                    Err(error) => report.error = Some(format!("cannot write facts: {error:#}")),
                }
                if report.error.is_none() {
                    self.collect_breakdowns(source, &request, &mut report).await;
                    self.collect_tags(source, &request, &mut report).await;
                    self.collect_usage(source, &request, &mut report).await;
                }
            }
            Err(failure) => {
                report.api_calls = failure.api_calls;
                report.error = Some(format!("{:#}", failure.error));
            }
        }
        report
    }
}

impl<S: CostStore + BreakdownStore + TagStore + UsageStore + RunStore + ?Sized> Collector<S> {
    /// Refreshes the region, usage-type and record-type breakdowns when they are older than the configured
    /// interval. They change slowly and each costs a Cost Explorer request, so they are not
    /// fetched on every hourly run. A failure is reported; the facts already written stay.
    async fn collect_breakdowns(&self, source: &AccountId, request: &FetchRequest, report: &mut SourceReport) {
        let Some(every) = self.settings.breakdown_every else { return };
        for dimension in [BreakdownDimension::Region, BreakdownDimension::UsageType, BreakdownDimension::RecordType] {
            let last = self.store.last_breakdown_at(source, dimension).await.ok().flatten();
            if last.is_some_and(|at| Utc::now().naive_utc() - at < every) {
                continue;
            }
            match self.source.fetch_breakdown(source, request, dimension).await {
                Ok(fetched) => {
                    report.api_calls += fetched.api_calls;
                    let rows: Vec<BreakdownFact> =
                        fetched.rows.into_iter().filter(|r| request.range.contains(r.period_start)).collect();
                    let at = Utc::now().naive_utc();
                    if let Err(error) = self
                        .store
                        .replace_breakdowns(source, request.granularity, dimension, &request.range, &rows, at)
                        .await
                    {
                        report.error = Some(format!("cannot write {} breakdown: {error:#}", dimension.as_str()));
                    }
                }
                Err(failure) => {
                    report.api_calls += failure.api_calls;
                    report.error = Some(format!("{} breakdown: {:#}", dimension.as_str(), failure.error));
                }
            }
        }
    }

    async fn holds_data(&self, source: &AccountId, range: &DateRange) -> bool {
        let filter = crate::store::FactFilter { granularity: self.settings.granularity, range: *range, accounts: None };
        match self.store.source_fact_count(source, &filter).await {
            Ok(n) => n > 0,
            // If the store cannot tell, err on the side of keeping data.
            Err(_) => true,
        }
    }
}

/// Drops facts outside the requested range and keeps the last of any duplicated key, so a
/// source that misbehaves cannot overwrite days the run did not ask for.
fn keep_in_range(facts: Vec<CostFact>, range: &DateRange) -> Vec<CostFact> {
    let mut by_key = std::collections::BTreeMap::new();
    for fact in facts.into_iter().filter(|f| range.contains(f.period_start)) {
        let key = (fact.period_start, fact.account.clone(), fact.service.clone());
        if by_key.insert(key, fact).is_some() {
            tracing::warn!("a cost source returned the same period, account and service twice; keeping the last");
        }
    }
    by_key.into_values().collect()
}
