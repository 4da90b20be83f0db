//! Turning a sparse, possibly messy `&[Point]` into a dense, bounded window of slots.
//!
//! Detection only ever looks at the last few weeks, so the window is filled by binary search
//! to its start and touches O(window) points regardless of how long the input is. Buffers are
//! owned by [`Dense`] and reused between series, which keeps the hot path allocation-free.

use super::{Granularity, Point};
use chrono::{DateTime, NaiveDateTime};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// Slot number (periods since the Unix epoch) of a timestamp.
pub fn slot_of(at: NaiveDateTime, secs: i64) -> i64 {
    at.and_utc().timestamp().div_euclid(secs)
}

/// Start time of a slot. Slots always come from valid timestamps, so the fallback is never
/// expected to be used; it only keeps the function total.
pub fn time_of(slot: i64, secs: i64) -> NaiveDateTime {
    slot.checked_mul(secs)
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .map(|d| d.naive_utc())
        .unwrap_or(NaiveDateTime::MIN)
}

/// Decimal to f64 for statistics only (money stays Decimal). Dividing the integer mantissa
/// by an exact power of ten is several times faster than the generic conversion, and this
/// runs for every slot of every series.
pub fn fast_f64(d: Decimal) -> f64 {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ];
    let m = d.mantissa();
    // i64 to f64 is a single instruction; the i128 conversion is a library call.
    let m = i64::try_from(m).map_or(m as f64, |v| v as f64);
    match POW10.get(d.scale() as usize) {
        Some(p) => m / p,
        None => d.to_f64().unwrap_or(0.0),
    }
}

/// Index of the first point at or after `s0_at`, for a window of `n` slots ending at the end
/// of `points`.
///
/// With one point per slot the answer is `len - n`, so the search starts there and walks
/// forward over the few gaps; only duplicates push it further back, where a binary search
/// takes over. Walking near the end keeps memory access sequential: with thousands of series
/// the points are not in cache, and a binary search over the whole history costs a cache
/// miss per probe.
fn window_start(points: &[Point], s0_at: NaiveDateTime, n: usize) -> usize {
    let mut i = points.len().saturating_sub(n);
    if i > 0 && points[i - 1].at >= s0_at {
        return points[..i].partition_point(|p| p.at < s0_at);
    }
    while i < points.len() && points[i].at < s0_at {
        i += 1;
    }
    i
}

/// Dense window buffers. `vals[i]` is NaN where slot `s0 + i` has no data; NaN never leaves
/// the detector, it is only the "missing" marker inside these buffers.
#[derive(Debug, Default, Clone)]
pub struct Dense {
    /// Amount as f64 per slot (NaN = missing).
    pub vals: Vec<f64>,
    /// Exact amount per slot (zero where missing).
    pub amounts: Vec<Decimal>,
    /// Provisional flag per slot.
    pub estimated: Vec<bool>,
    /// Slot number of index 0.
    pub s0: i64,
    /// Seconds per slot.
    pub secs: i64,
    /// Largest |amount| seen in the first `hist_len` slots (used to recognise new spend).
    pub hist_max_abs: f64,
    /// Number of present slots in the first `hist_len` slots.
    pub hist_present: usize,
    /// Index of the last slot with data (0 when none).
    pub last_present: usize,
    /// Number of leading history slots that are missing or ~zero (see [`Dense::fill`]).
    pub lead: usize,
    scratch: Vec<f64>,
}

impl Dense {
    /// Fill a window of `n` slots that ends with the last complete slot before `as_of`.
    ///
    /// The window is anchored on `as_of`, not on the last point, so a key that stopped
    /// reporting long ago yields an empty recent window instead of re-reporting its last
    /// incident forever; a day or two of collection lag just leaves the last slots missing.
    /// Points in the slot containing `as_of` or later are ignored because that period is
    /// still incomplete. Duplicated slots keep the last point, matching "latest collection
    /// wins". Returns false when there is no usable data at all.
    pub fn fill(
        &mut self,
        points: &[Point],
        granularity: Granularity,
        as_of: NaiveDateTime,
        n: usize,
        hist_len: usize,
    ) -> bool {
        let secs = granularity.seconds();
        self.secs = secs;
        let cutoff = slot_of(as_of, secs);
        // Comparing timestamps against slot starts is equivalent to comparing slot numbers
        // (slots are floors) and much cheaper.
        let cutoff_at = time_of(cutoff, secs);
        let idx_end = match points.last() {
            Some(p) if p.at < cutoff_at => points.len(),
            _ => points.partition_point(|p| p.at < cutoff_at),
        };
        if idx_end == 0 || n == 0 {
            return false;
        }
        self.s0 = cutoff - n as i64;
        let s0 = self.s0;
        let s0_at = time_of(s0, secs);
        let idx_start = window_start(&points[..idx_end], s0_at, n);
        self.vals.clear();
        self.vals.resize(n, f64::NAN);
        self.amounts.clear();
        self.amounts.resize(n, Decimal::ZERO);
        self.estimated.clear();
        self.estimated.resize(n, false);
        let mut first_present = n;
        self.last_present = 0;
        for p in &points[idx_start..idx_end] {
            let i = slot_of(p.at, secs) - s0;
            // Unsorted input can put a point outside the window; skipping it is the safe choice.
            if i < 0 || i >= n as i64 {
                continue;
            }
            let i = i as usize;
            self.vals[i] = fast_f64(p.amount);
            self.amounts[i] = p.amount;
            self.estimated[i] = p.estimated;
            first_present = first_present.min(i);
            self.last_present = self.last_present.max(i);
        }
        // A key with no data before this window and no data in its history part is treated
        // as new: its earlier slots count as zero spend so that its first spend can be judged
        // as "new spend" rather than being unscoreable for lack of history.
        if idx_start == 0 && first_present >= hist_len {
            for v in &mut self.vals[..first_present] {
                *v = 0.0;
            }
        }
        let hist_len = hist_len.min(n);
        self.hist_max_abs = 0.0;
        self.hist_present = 0;
        for v in &self.vals[..hist_len] {
            if !v.is_nan() {
                self.hist_present += 1;
                self.hist_max_abs = self.hist_max_abs.max(v.abs());
            }
        }
        self.lead = self.leading_trivial(hist_len);
        true
    }

    /// Leading history slots that are missing or at most 2 % of the recent typical amount.
    ///
    /// A service that started a few weeks ago has a history of zeros followed by real spend;
    /// fitting seasonality and noise across both would make every weekend look like a drop,
    /// so the fit skips this prefix. The reference is the median |amount| of the last 14
    /// history slots, so a normally small but occasionally spiky series is not trimmed.
    fn leading_trivial(&mut self, hist_len: usize) -> usize {
        // Fast path: the typical amount is at most the largest one, so a first value above
        // 2 % of the largest is never trivial and the median is not needed.
        if let Some(first) = self.vals[..hist_len].iter().position(|v| !v.is_nan()) {
            if self.vals[first].abs() > 0.02 * self.hist_max_abs {
                return first;
            }
        }
        self.scratch.clear();
        let tail = &self.vals[hist_len.saturating_sub(14)..hist_len];
        self.scratch.extend(tail.iter().filter(|v| !v.is_nan()).map(|v| v.abs()));
        let typical = super::stats::median_in_place(&mut self.scratch).unwrap_or(0.0);
        let tiny = 0.02 * typical;
        self.vals[..hist_len].iter().position(|v| !v.is_nan() && v.abs() > tiny).unwrap_or(hist_len)
    }

    /// Slot phase for a period (for example the weekday when `period == 7` on daily slots).
    pub fn phase(&self, i: usize, period: usize) -> usize {
        (self.s0 + i as i64).rem_euclid(period.max(1) as i64) as usize
    }

    /// Start time of window index `i`.
    pub fn time(&self, i: usize) -> NaiveDateTime {
        time_of(self.s0 + i as i64, self.secs)
    }
}
