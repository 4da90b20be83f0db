//! Reading millions of facts without building them: [`FactRef`] borrows each row's strings
//! and [`visit_fact_rows!`] streams the rows of `cost_facts` or `usage_facts` to a callback,
//! unsorted, for both engines.
//!
//! Detection reads every fact of its lookback on each run (12 M at 1,000 accounts × 30
//! services × 400 days). Building a [`CostFact`](crate::domain::CostFact) per row costs three
//! owned strings, two parses and, with `fetch_all`, the whole result in memory twice; this
//! path costs none of those, and the consumer parses a name once when it first sees it
//! (`benches/detection_scale.rs` measures both).

use chrono::NaiveDateTime;

use crate::domain::Money;

/// One stored fact, borrowed from the row it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactRef<'a> {
    /// Start of the period (midnight for daily facts).
    pub period_start: NaiveDateTime,
    /// The account, as stored (parsed by the consumer when it first meets it).
    pub account: &'a str,
    /// The service, as stored.
    pub service: &'a str,
    /// The exact amount in [`Money`] units (10⁻¹⁰ dollars), as stored.
    pub units: i128,
    /// Cost Explorer marked the period as estimated.
    pub estimated: bool,
}

impl FactRef<'_> {
    /// The exact amount.
    pub fn amount(&self) -> Money {
        Money::from_units(self.units)
    }
}

/// The callback a visit feeds; an error from it stops the read and is returned.
pub type FactVisitor<'v> = dyn FnMut(FactRef<'_>) -> anyhow::Result<()> + Send + 'v;

/// Streams the rows of `$table` that `$filter` selects to `$visit`, in no particular order,
/// and evaluates to the number of rows visited. Both tables have the columns read here.
macro_rules! visit_fact_rows {
    ($self:ident, $db:ty, $table:literal, $filter:ident, $visit:ident) => {{
        use futures::TryStreamExt as _;
        use sqlx::Row as _;
        let mut builder = sqlx::QueryBuilder::<$db>::new(concat!(
            "SELECT period_start, account_id, service, amount_units, estimated FROM ",
            $table
        ));
        // The filter function `impl_sql_store!` defines beside every store it implements.
        push_filter(&mut builder, $filter);
        // No ORDER BY: the consumer sums into slots by period, and sorting 12 M rows was
        // a large part of the read.
        let query = builder.build();
        let mut rows = query.fetch(&$self.pool);
        let mut visited = 0u64;
        while let Some(row) = rows.try_next().await? {
            let units: i64 = row.try_get(3)?;
            $visit($crate::store::FactRef {
                period_start: row.try_get(0)?,
                account: row.try_get(1)?,
                service: row.try_get(2)?,
                units: i128::from(units),
                estimated: row.try_get(4)?,
            })?;
            visited += 1;
        }
        anyhow::Ok(visited)
    }};
}

pub(super) use visit_fact_rows;
