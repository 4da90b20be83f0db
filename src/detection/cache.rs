//! Series kept between detection runs, so that a run re-reads only the periods the fact
//! writes since the last run replaced (`store::FactChangeStore`), not every fact of its
//! lookback: at 1,000 accounts × 30 services × 400 days that read was 12 M rows and nearly
//! all of a run (`benches/detection_scale.rs`).
//!
//! The cache is a view of the store, never a source of truth: any doubt (a different range
//! length or setting, a range that moved back, a change log that no longer reaches back to
//! the cache's watermark, a failed read) drops it and the run reads everything again.
//! Memory: about 17 bytes per series and period, for each source held (net, and usage with
//! `[anomaly] usage_only`): 31,000 series × 401 days ≈ 210 MB a source.

use anyhow::Result;
use chrono::NaiveDateTime;

use super::build::SeriesBuilder;
use super::AllSeries;
use crate::domain::{DateRange, Granularity};

/// The series of one range, by source, and the last fact change they include.
pub(super) struct SeriesCache {
    /// The newest fact change the series include.
    pub watermark: u64,
    /// Usage-only facts, with `[anomaly] usage_only`.
    pub usage: Option<SeriesBuilder>,
    /// Net facts.
    pub net: SeriesBuilder,
    granularity: Granularity,
}

impl SeriesCache {
    /// Empty builders for `[start, end)`, before the first read.
    pub fn new(
        granularity: Granularity,
        usage_only: bool,
        start: NaiveDateTime,
        end: NaiveDateTime,
        watermark: u64,
    ) -> Result<SeriesCache> {
        let usage = usage_only.then(|| SeriesBuilder::new(granularity, start, end)).transpose()?;
        Ok(SeriesCache { watermark, usage, net: SeriesBuilder::new(granularity, start, end)?, granularity })
    }

    /// Whether this cache can be moved on to `[start, end)` with the same settings: the
    /// same length, starting no earlier and overlapping what is held.
    pub fn fits(&self, granularity: Granularity, usage_only: bool, start: NaiveDateTime, end: NaiveDateTime) -> bool {
        let (held_start, held_end) = (self.net.start(), self.net.end());
        self.granularity == granularity
            && self.usage.is_some() == usage_only
            && end - start == held_end - held_start
            && start >= held_start
            && start < held_end
    }

    /// Moves the range on to start at `start` (which [`fits`](Self::fits) accepted) and
    /// returns the date ranges to read again: the changed `ranges` and the newly opened
    /// periods at the end, merged and clamped to the range. Their periods are cleared.
    pub fn advance(&mut self, start: NaiveDateTime, mut ranges: Vec<DateRange>) -> Vec<DateRange> {
        let old_end = self.net.end();
        for builder in self.builders() {
            builder.advance(start);
        }
        let end = self.net.end();
        if let Ok(opened) = DateRange::new(old_end.max(start).date(), end.date()) {
            ranges.push(opened);
        }
        let Ok(held) = DateRange::new(start.date(), end.date()) else { return Vec::new() };
        let reread: Vec<DateRange> =
            DateRange::merge_all(ranges).into_iter().filter_map(|r| r.intersection(&held)).collect();
        for range in &reread {
            let (from, to) = (midnight(range.start()), midnight(range.end()));
            for builder in self.builders() {
                builder.clear(from, to);
            }
        }
        reread
    }

    /// The series a run scores: an account's usage-only series where it has any usage in
    /// the range, else its net series.
    pub fn series(&self) -> AllSeries {
        match &self.usage {
            Some(usage) => usage.series_preferred_over(Some(&self.net)),
            None => self.net.series_preferred_over(None),
        }
    }

    fn builders(&mut self) -> impl Iterator<Item = &mut SeriesBuilder> {
        self.usage.as_mut().into_iter().chain(std::iter::once(&mut self.net))
    }
}

fn midnight(day: chrono::NaiveDate) -> NaiveDateTime {
    day.and_time(chrono::NaiveTime::MIN)
}
