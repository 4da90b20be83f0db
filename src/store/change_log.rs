//! Which periods each fact write replaced (`fact_changes`, migration 0150), so that a reader
//! that keeps series in memory re-reads only those periods instead of every fact it holds.
//!
//! Every transaction that replaces cost or usage facts ends with [`record_fact_change`]: it
//! bumps the one row of `fact_change_head` and logs the replaced range under the new number.
//! The bump's row lock is held until commit, so numbers are given out in commit order: a
//! reader that sees head N sees every change numbered up to N, and none is committed later
//! with a smaller number. A rolled-back write rolls its bump back too, so the committed
//! numbers have no gaps, which is how a reader knows the log still reaches back far enough.

use anyhow::Result;
use async_trait::async_trait;

use crate::domain::{DateRange, Granularity};

/// How many changes the log keeps; a reader further behind than this rebuilds from the facts.
/// At 50 payers collected hourly, cost and usage, that is four days of changes.
pub(super) const KEPT_CHANGES: i64 = 10_000;

/// The changes after a reader's watermark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactChanges {
    /// The newest change committed; the reader's next watermark.
    pub head: u64,
    /// The ranges of the asked granularity replaced after the watermark, up to `head`;
    /// `None` when the log no longer holds them all and the reader must read everything.
    pub ranges: Option<Vec<DateRange>>,
}

/// The fact change log.
#[async_trait]
pub trait FactChangeStore: Send + Sync {
    /// The newest change committed. Read it before reading facts: a fact write committed
    /// after it is then seen again by the next [`fact_changes`](Self::fact_changes).
    async fn fact_change_head(&self) -> Result<u64>;

    /// The ranges of `granularity` replaced after change `after`.
    async fn fact_changes(&self, granularity: Granularity, after: u64) -> Result<FactChanges>;
}

/// Records, as the last statement of a fact write's transaction `$tx`, that `$granularity`
/// facts in `$range` were replaced.
macro_rules! record_fact_change {
    ($tx:expr, $granularity:expr, $range:expr) => {{
        let seq: i64 = sqlx::query_scalar("UPDATE fact_change_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
            .fetch_one(&mut *$tx)
            .await?;
        sqlx::query("INSERT INTO fact_changes (seq, granularity, period_from, period_to) VALUES ($1, $2, $3, $4)")
            .bind(seq)
            .bind($granularity.as_str())
            .bind($range.start().and_hms_opt(0, 0, 0))
            .bind($range.end().and_hms_opt(0, 0, 0))
            .execute(&mut *$tx)
            .await?;
        sqlx::query("DELETE FROM fact_changes WHERE seq <= $1")
            .bind(seq - $crate::store::change_log::KEPT_CHANGES)
            .execute(&mut *$tx)
            .await?;
    }};
}

pub(super) use record_fact_change;

/// Implements [`FactChangeStore`] for a struct with a `pool` field.
macro_rules! impl_fact_change_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::FactChangeStore for $store {
            async fn fact_change_head(&self) -> anyhow::Result<u64> {
                let head: i64 =
                    sqlx::query_scalar("SELECT seq FROM fact_change_head WHERE id = 1").fetch_one(&self.pool).await?;
                Ok(u64::try_from(head)?)
            }

            async fn fact_changes(
                &self,
                granularity: $crate::domain::Granularity,
                after: u64,
            ) -> anyhow::Result<$crate::store::FactChanges> {
                use anyhow::Context as _;
                let head = self.fact_change_head().await?;
                // A head behind the reader (a restored database, a failover that lost the
                // newest commits) means the reader holds writes the store no longer has.
                if after > head {
                    return Ok($crate::store::FactChanges { head, ranges: None });
                }
                let rows: Vec<(i64, String, chrono::NaiveDateTime, chrono::NaiveDateTime)> = sqlx::query_as(
                    "SELECT seq, granularity, period_from, period_to FROM fact_changes
                     WHERE seq > $1 AND seq <= $2 ORDER BY seq",
                )
                .bind(i64::try_from(after)?)
                .bind(i64::try_from(head)?)
                .fetch_all(&self.pool)
                .await?;
                // Numbers have no gaps (see the module), so a missing one was pruned.
                if rows.len() as u64 != head - after {
                    return Ok($crate::store::FactChanges { head, ranges: None });
                }
                let mut ranges = Vec::new();
                for (_, stored, from, to) in rows.iter().filter(|r| r.1 == granularity.as_str()) {
                    let range = $crate::domain::DateRange::new(from.date(), to.date())
                        .with_context(|| format!("a logged {stored} fact change"))?;
                    ranges.push(range);
                }
                Ok($crate::store::FactChanges { head, ranges: Some(ranges) })
            }
        }
    };
}

pub(super) use impl_fact_change_store;

/// Refuses a write whose facts fall outside the granularity and range it replaces: those
/// would be stored under a range the log does not name, and never re-read by detection.
pub(super) fn check_in_range(
    granularity: Granularity,
    range: &DateRange,
    facts: &[crate::domain::CostFact],
) -> Result<()> {
    if let Some(fact) = facts.iter().find(|f| f.granularity != granularity || !range.contains(f.period_start)) {
        anyhow::bail!(
            "a {} fact at {} is outside the {} range {}..{} being replaced",
            fact.granularity.as_str(),
            fact.period_start,
            granularity.as_str(),
            range.start(),
            range.end()
        );
    }
    Ok(())
}
