//! Each engine's fastest way to write a batch of cost facts inside the replacing transaction
//! ([`FactRows`]): Postgres streams them with `COPY` into a temporary table and upserts from
//! it in one statement; SQLite runs prepared multi-row inserts. Both upsert, because another
//! source may hold the same day, account and service.

use std::fmt::Write as _;

use anyhow::Result;

use super::postgres::PgStore;
use super::sql::{to_stored_units, FactRows, INSERT_CHUNK};
use super::sqlite::SqliteStore;
use crate::domain::{AccountId, CostFact};

/// The columns both engines write, in order.
const COLUMNS: &str =
    "granularity, period_start, account_id, service, amount_units, unit, estimated, source_account_id, collected_at";

/// The upsert both engines end with: a row another source wrote for the same key is replaced.
const ON_CONFLICT: &str = " ON CONFLICT (granularity, period_start, account_id, service) DO UPDATE SET
     amount_units = excluded.amount_units, unit = excluded.unit, estimated = excluded.estimated,
     source_account_id = excluded.source_account_id, collected_at = excluded.collected_at";

/// Bytes of COPY text sent per message; large enough that framing costs nothing, small
/// enough that a million facts never sit in memory twice.
const COPY_BATCH_BYTES: usize = 1 << 20;

/// Appends `text` to a COPY text-format row, escaping what the format gives a meaning to.
fn push_copy_field(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[async_trait::async_trait]
impl FactRows for PgStore {
    type Db = sqlx::Postgres;

    async fn write_fact_rows(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        source: &AccountId,
        facts: &[CostFact],
        collected_at: chrono::NaiveDateTime,
    ) -> Result<u64> {
        if facts.is_empty() {
            return Ok(0);
        }
        // Every amount is converted before COPY starts, so nothing but the connection can
        // fail while the connection is streaming (an unfinished COPY poisons it).
        let units: Vec<i64> = facts.iter().map(|f| to_stored_units(f.amount)).collect::<Result<_>>()?;
        // A per-connection scratch table, emptied at every commit; created once per pooled
        // connection, and rolled back with the transaction if that fails.
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS cost_facts_in (LIKE cost_facts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
        )
        .execute(&mut **tx)
        .await?;
        let mut copy = tx.copy_in_raw(&format!("COPY cost_facts_in ({COLUMNS}) FROM STDIN")).await?;
        let mut text = String::with_capacity(COPY_BATCH_BYTES + 512);
        for (fact, units) in facts.iter().zip(&units) {
            push_copy_field(&mut text, fact.granularity.as_str());
            // `NaiveDateTime` prints as `2026-11-24 00:00:00`, which Postgres reads as is.
            let _ = write!(text, "\t{}\t", fact.period_start);
            push_copy_field(&mut text, fact.account.as_str());
            text.push('\t');
            push_copy_field(&mut text, fact.service.as_str());
            let _ = write!(text, "\t{units}\t");
            push_copy_field(&mut text, &fact.unit);
            text.push_str(if fact.estimated { "\tt\t" } else { "\tf\t" });
            push_copy_field(&mut text, source.as_str());
            let _ = writeln!(text, "\t{collected_at}");
            if text.len() >= COPY_BATCH_BYTES {
                copy.send(text.as_bytes()).await?;
                text.clear();
            }
        }
        if !text.is_empty() {
            copy.send(text.as_bytes()).await?;
        }
        copy.finish().await?;
        let written = sqlx::query(&format!(
            "INSERT INTO cost_facts ({COLUMNS}) SELECT {COLUMNS} FROM cost_facts_in{ON_CONFLICT}"
        ))
        .execute(&mut **tx)
        .await?
        .rows_affected();
        sqlx::query("TRUNCATE cost_facts_in").execute(&mut **tx).await?;
        Ok(written)
    }
}

#[async_trait::async_trait]
impl FactRows for SqliteStore {
    type Db = sqlx::Sqlite;

    async fn write_fact_rows(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        source: &AccountId,
        facts: &[CostFact],
        collected_at: chrono::NaiveDateTime,
    ) -> Result<u64> {
        let mut written = 0u64;
        for chunk in facts.chunks(INSERT_CHUNK) {
            let units: Vec<i64> = chunk.iter().map(|f| to_stored_units(f.amount)).collect::<Result<_>>()?;
            let mut builder = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!("INSERT INTO cost_facts ({COLUMNS}) "));
            builder.push_values(chunk.iter().zip(&units), |mut row, (fact, units)| {
                row.push_bind(fact.granularity.as_str())
                    .push_bind(fact.period_start)
                    .push_bind(fact.account.as_str())
                    .push_bind(fact.service.as_str())
                    .push_bind(*units)
                    .push_bind(fact.unit.as_str())
                    .push_bind(fact.estimated)
                    .push_bind(source.as_str())
                    .push_bind(collected_at);
            });
            builder.push(ON_CONFLICT);
            written += builder.build().execute(&mut **tx).await?.rows_affected();
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::push_copy_field;

    #[test]
    fn copy_fields_escape_what_the_text_format_reads_specially() {
        let mut out = String::new();
        push_copy_field(&mut out, "a\tb\\c\nd\re");
        assert_eq!(out, "a\\tb\\\\c\\nd\\re");
    }
}
