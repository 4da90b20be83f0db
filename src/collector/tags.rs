//! Spend by tag key and cost category, collected beside the facts on every run: one paginated
//! query per source and key (LINKED_ACCOUNT × the key), so a run's requests grow with
//! payers × keys. Tags follow the facts rather than the daily breakdown refresh because
//! tag-scoped channels and `team=` answers must add up to the same days as the totals.

use chrono::Utc;

use super::Collector;
use crate::domain::run::SourceReport;
use crate::domain::sources::FetchRequest;
use crate::domain::tags::TagFact;
use crate::domain::AccountId;
use crate::store::{BreakdownStore, CostStore, RunStore, TagStore};

impl<S: CostStore + BreakdownStore + TagStore + RunStore + ?Sized> Collector<S> {
    /// Fetches and replaces each configured key's spend for the run's range. A failing key is
    /// reported and the others still run; the facts already written stay.
    pub(super) async fn collect_tags(&self, source: &AccountId, request: &FetchRequest, report: &mut SourceReport) {
        for key in &self.settings.tag_keys {
            match self.source.fetch_tags(source, request, key).await {
                Ok(fetched) => {
                    report.api_calls += fetched.api_calls;
                    let rows: Vec<TagFact> =
                        fetched.rows.into_iter().filter(|r| request.range.contains(r.period_start)).collect();
                    // Every dollar has a value (untagged included), so no rows beside facts is a
                    // glitch, not spend that lost its tags; replacing would wipe good rows.
                    if rows.is_empty() && report.rows_written > 0 {
                        tracing::warn!(%source, key = %key, "Cost Explorer returned no spend by tag beside facts; kept the stored rows");
                        continue;
                    }
                    let at = Utc::now().naive_utc();
                    match self
                        .store
                        .replace_tag_facts(source, request.granularity, key, &request.range, &rows, at)
                        .await
                    {
                        // Each request costs $0.01; the run record sums them with the others.
                        Ok(written) => {
                            tracing::info!(%source, key = %key, rows = written, requests = fetched.api_calls,
                            price_usd = %format!("{}.{:02}", fetched.api_calls / 100, fetched.api_calls % 100),
                            "collected spend by tag")
                        }
                        Err(error) => report.error = Some(format!("cannot write spend by {key}: {error:#}")),
                    }
                }
                Err(failure) => {
                    report.api_calls += failure.api_calls;
                    report.error = Some(format!("spend by {key}: {:#}", failure.error));
                }
            }
        }
    }
}
