//! Reading millions of facts without building them: [`FactRef`] borrows each row's strings,
//! and each engine streams the rows of `cost_facts` or `usage_facts` to a callback, unsorted,
//! its fastest way: Postgres with `COPY … TO STDOUT (FORMAT binary)` parsed here, SQLite row
//! by row.
//!
//! Detection reads every fact of its lookback on each run (12 M at 1,000 accounts × 30
//! services × 400 days). Building a [`CostFact`](crate::domain::CostFact) per row costs three
//! owned strings, two parses and, with `fetch_all`, the whole result in memory twice; this
//! path costs none of those, and the consumer parses a name once when it first sees it
//! (`benches/detection_scale.rs` measures both).

use anyhow::{bail, ensure, Context, Result};
use chrono::{DateTime, NaiveDateTime};
use futures::TryStreamExt as _;
use sqlx::Row as _;

use super::pg_copy::{PG_EPOCH_MICROS, SIGNATURE};
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::FactFilter;
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

/// The columns read, in the order both engines return them.
const COLUMNS: &str = "period_start, account_id, service, amount_units, estimated";

impl SqliteStore {
    /// Streams the rows of `table` that `filter` selects to `visit`; returns how many.
    pub(super) async fn visit_fact_table(
        &self,
        table: &'static str,
        filter: &FactFilter,
        visit: &mut FactVisitor<'_>,
    ) -> Result<u64> {
        let mut builder = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!("SELECT {COLUMNS} FROM {table}"));
        super::sqlite::push_filter(&mut builder, filter);
        // No ORDER BY: the consumer sums into slots by period.
        let query = builder.build();
        let mut rows = query.fetch(self.pool());
        let mut visited = 0u64;
        while let Some(row) = rows.try_next().await? {
            let units: i64 = row.try_get(3)?;
            visit(FactRef {
                period_start: row.try_get(0)?,
                account: row.try_get(1)?,
                service: row.try_get(2)?,
                units: i128::from(units),
                estimated: row.try_get(4)?,
            })?;
            visited += 1;
        }
        Ok(visited)
    }
}

impl PgStore {
    /// Streams the rows of `table` that `filter` selects to `visit`; returns how many. Binary
    /// `COPY` skips the per-row protocol messages and text conversions of a query (5.6 s for
    /// 12 M rows through sqlx rows; see `benches/detection_scale.rs` for this path).
    pub(super) async fn visit_fact_table(
        &self,
        table: &'static str,
        filter: &FactFilter,
        visit: &mut FactVisitor<'_>,
    ) -> Result<u64> {
        let sql = copy_statement(table, filter);
        let mut conn = self.pool().acquire().await?;
        let outcome = async {
            let mut chunks = conn.copy_out_raw(&sql).await?;
            let mut reader = CopyReader::default();
            while let Some(chunk) = chunks.try_next().await? {
                reader.feed(&chunk, visit)?;
            }
            reader.finish()
        }
        .await;
        if outcome.is_err() {
            // A COPY stopped half way leaves the connection mid-stream; close it rather than
            // hand it back to the pool.
            drop(conn.detach());
        }
        outcome
    }
}

/// The `COPY` statement for a filter. COPY takes no bind parameters, so the values are
/// written into the text: the granularity and dates are formatted by the program, and
/// account ids are twelve ASCII digits by their type.
fn copy_statement(table: &str, filter: &FactFilter) -> String {
    let mut sql = format!(
        "COPY (SELECT {COLUMNS} FROM {table} WHERE granularity = '{}' AND period_start >= '{} 00:00:00' \
         AND period_start < '{} 00:00:00'",
        filter.granularity.as_str(),
        filter.range.start(),
        filter.range.end()
    );
    if let Some(accounts) = &filter.accounts {
        let list: Vec<String> = accounts.iter().map(|a| format!("'{}'", a.as_str())).collect();
        // An empty allow-list must select nothing, not everything.
        let list = if list.is_empty() { "NULL".to_string() } else { list.join(", ") };
        sql.push_str(&format!(" AND account_id IN ({list})"));
    }
    sql.push_str(") TO STDOUT (FORMAT binary)");
    sql
}

/// Parses Postgres's binary COPY format across chunk boundaries.
#[derive(Default)]
struct CopyReader {
    buffer: Vec<u8>,
    header_done: bool,
    ended: bool,
    visited: u64,
}

impl CopyReader {
    fn feed(&mut self, chunk: &[u8], visit: &mut FactVisitor<'_>) -> Result<()> {
        self.buffer.extend_from_slice(chunk);
        let mut at = 0;
        if !self.header_done {
            let Some(end) = header_end(&self.buffer)? else { return Ok(()) };
            at = end;
            self.header_done = true;
        }
        while !self.ended {
            match tuple(&self.buffer[at..])? {
                Tuple::Incomplete => break,
                Tuple::Trailer => {
                    self.ended = true;
                    at += 2;
                }
                Tuple::Row(fact, len) => {
                    visit(fact)?;
                    self.visited += 1;
                    at += len;
                }
            }
        }
        self.buffer.drain(..at);
        Ok(())
    }

    fn finish(self) -> Result<u64> {
        ensure!(self.ended && self.buffer.is_empty(), "the COPY stream ended before its trailer");
        Ok(self.visited)
    }
}

/// Where the header ends, once the buffer holds all of it.
fn header_end(buffer: &[u8]) -> Result<Option<usize>> {
    if buffer.len() < SIGNATURE.len() + 8 {
        return Ok(None);
    }
    ensure!(buffer.starts_with(SIGNATURE), "not a binary COPY stream");
    let extension =
        usize::try_from(be_i32(&buffer[SIGNATURE.len() + 4..])).context("a COPY header extension length")?;
    let end = (SIGNATURE.len() + 8).checked_add(extension).context("a COPY header extension length")?;
    Ok((buffer.len() >= end).then_some(end))
}

enum Tuple<'a> {
    Incomplete,
    Trailer,
    Row(FactRef<'a>, usize),
}

/// One tuple from the start of `bytes`: five non-null fields in [`COLUMNS`]' order.
fn tuple(bytes: &[u8]) -> Result<Tuple<'_>> {
    if bytes.len() < 2 {
        return Ok(Tuple::Incomplete);
    }
    let fields = i16::from_be_bytes([bytes[0], bytes[1]]);
    if fields == -1 {
        return Ok(Tuple::Trailer);
    }
    ensure!(fields == 5, "a COPY row has {fields} fields, not 5");
    let mut at = 2;
    let mut values: [&[u8]; 5] = [&[]; 5];
    for value in &mut values {
        if bytes.len() < at + 4 {
            return Ok(Tuple::Incomplete);
        }
        let len = be_i32(&bytes[at..]);
        ensure!(len >= 0, "a stored fact has a NULL column");
        at += 4;
        let len = len as usize;
        if bytes.len() < at + len {
            return Ok(Tuple::Incomplete);
        }
        *value = &bytes[at..at + len];
        at += len;
    }
    let [period, account, service, units, estimated] = values;
    ensure!(period.len() == 8 && units.len() == 8 && estimated.len() == 1, "unexpected COPY column widths");
    let micros = i64::from_be_bytes(period.try_into()?) + PG_EPOCH_MICROS;
    let Some(period_start) = DateTime::from_timestamp_micros(micros).map(|t| t.naive_utc()) else {
        bail!("a stored period start is out of range");
    };
    let fact = FactRef {
        period_start,
        account: std::str::from_utf8(account).context("a stored account id")?,
        service: std::str::from_utf8(service).context("a stored service name")?,
        units: i128::from(i64::from_be_bytes(units.try_into()?)),
        estimated: estimated[0] != 0,
    };
    Ok(Tuple::Row(fact, at))
}

fn be_i32(bytes: &[u8]) -> i32 {
    i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        out.extend_from_slice(bytes);
    }

    /// A binary COPY stream as Postgres writes it, with a header extension to skip.
    fn stream(rows: &[(i64, &str, &str, i64, bool)]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&3i32.to_be_bytes());
        out.extend_from_slice(b"ext");
        for (micros, account, service, units, estimated) in rows {
            out.extend_from_slice(&5i16.to_be_bytes());
            field(&mut out, &(micros - PG_EPOCH_MICROS).to_be_bytes());
            field(&mut out, account.as_bytes());
            field(&mut out, service.as_bytes());
            field(&mut out, &units.to_be_bytes());
            field(&mut out, &[u8::from(*estimated)]);
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    /// A parsed row, owned.
    type Seen = (NaiveDateTime, String, String, i128, bool);

    fn read(bytes: &[u8], chunk: usize) -> Result<Vec<Seen>> {
        let mut seen = Vec::new();
        let mut reader = CopyReader::default();
        let mut visit = |f: FactRef<'_>| {
            seen.push((f.period_start, f.account.to_string(), f.service.to_string(), f.units, f.estimated));
            Ok(())
        };
        for piece in bytes.chunks(chunk) {
            reader.feed(piece, &mut visit)?;
        }
        let n = reader.finish()?;
        assert_eq!(n as usize, seen.len());
        Ok(seen)
    }

    #[test]
    fn rows_split_anywhere_between_chunks_parse_the_same() {
        let day = 1_761_955_200_000_000; // 2025-11-01T00:00:00Z
        let rows = [
            (day, "123456789012", "AWS Lambda", 1_234_567_890_123, false),
            (day + 3_600_000_000, "210987654321", "Tax", -125_000_000_000, true),
            (day + 86_400_000_000, "123456789012", "Amazon Simple Storage Service", 1, false),
        ];
        let bytes = stream(&rows);
        let whole = read(&bytes, bytes.len()).unwrap();
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0].0, "2025-11-01T00:00:00".parse::<NaiveDateTime>().unwrap());
        assert_eq!(whole[1].0, "2025-11-01T01:00:00".parse::<NaiveDateTime>().unwrap());
        assert_eq!((whole[1].3, whole[1].4), (-125_000_000_000, true));
        assert_eq!(whole[2].2, "Amazon Simple Storage Service");
        for chunk in 1..bytes.len() {
            assert_eq!(read(&bytes, chunk).unwrap(), whole, "chunks of {chunk} bytes");
        }
    }

    #[test]
    fn a_stream_cut_short_or_malformed_is_an_error() {
        let bytes = stream(&[(PG_EPOCH_MICROS, "123456789012", "AWS Lambda", 5, false)]);
        assert!(read(&bytes[..bytes.len() - 2], 7).is_err(), "no trailer");
        assert!(read(b"NOTCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0", 4).is_err(), "no signature");
        let mut four_fields = bytes.clone();
        four_fields[SIGNATURE.len() + 11] = 4;
        assert!(read(&four_fields, 64).is_err(), "wrong field count");
        let mut negative_extension = bytes.clone();
        negative_extension[SIGNATURE.len() + 4..SIGNATURE.len() + 8].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(read(&negative_extension, 64).is_err(), "a negative header extension length");
    }

    #[test]
    fn the_copy_statement_inlines_only_typed_values() {
        let range =
            crate::domain::DateRange::new("2026-11-01".parse().unwrap(), "2026-11-08".parse().unwrap()).unwrap();
        let account = crate::domain::AccountId::parse("123456789012").unwrap();
        let filter =
            FactFilter { granularity: crate::domain::Granularity::Daily, range, accounts: Some(vec![account]) };
        assert_eq!(
            copy_statement("cost_facts", &filter),
            "COPY (SELECT period_start, account_id, service, amount_units, estimated FROM cost_facts WHERE \
             granularity = 'daily' AND period_start >= '2026-11-01 00:00:00' AND period_start < '2026-11-08 00:00:00' \
             AND account_id IN ('123456789012')) TO STDOUT (FORMAT binary)"
        );
        let none = FactFilter { accounts: Some(vec![]), ..filter };
        assert!(copy_statement("usage_facts", &none).contains("account_id IN (NULL)"));
    }
}
