//! Usage-only facts, collected beside the net facts on every run for anomaly detection: one
//! more paginated query per source, grouped like the facts and filtered to the usage record
//! types. They follow the facts on every run (not the breakdown refresh) because detection
//! runs after every collection and must see the same days.

use chrono::Utc;

use super::Collector;
use crate::domain::run::SourceReport;
use crate::domain::sources::FetchRequest;
use crate::domain::AccountId;
use crate::store::{BreakdownStore, CostStore, RunStore, TagStore, UsageStore};

impl<S: CostStore + BreakdownStore + TagStore + UsageStore + RunStore + ?Sized> Collector<S> {
    /// Fetches and replaces the source's usage for the run's range. A failure is reported;
    /// the facts already written stay, and detection scores the net facts of a source
    /// without usage rows.
    pub(super) async fn collect_usage(&self, source: &AccountId, request: &FetchRequest, report: &mut SourceReport) {
        if !self.settings.usage_only {
            return;
        }
        match self.source.fetch_usage(source, request).await {
            Ok(None) => {}
            Ok(Some(fetched)) => {
                report.api_calls += fetched.api_calls;
                let facts = super::keep_in_range(fetched.facts, &request.range);
                let at = Utc::now().naive_utc();
                if let Err(error) =
                    self.store.replace_usage_facts(source, request.granularity, &request.range, &facts, at).await
                {
                    report.error = Some(format!("cannot write usage facts: {error:#}"));
                }
            }
            Err(failure) => {
                report.api_calls += failure.api_calls;
                report.error = Some(format!("usage facts: {:#}", failure.error));
            }
        }
    }
}
