//! Port of the Numenta Anomaly Benchmark scorer (numenta/NAB @ ea702d7, `nab/sweeper.py`,
//! `nab/runner.py`): probationary period, label windows, scaled sigmoid, best true positive
//! per window, false positives weighted by their distance past the previous window, missed
//! windows, the three cost profiles, the corpus-wide threshold sweep and normalisation.
//!
//! Everything here is pure; loading files lives in [`super::nab_io`].

use chrono::NaiveDateTime;

/// Weights of one NAB profile (`config/profiles.json`; `tnWeight` is unused by NAB).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostMatrix {
    /// Reward for the best detection in a window.
    pub tp: f64,
    /// Cost of a false positive.
    pub fp: f64,
    /// Cost of a window without detection.
    pub fn_: f64,
}

/// NAB's probationary fraction.
pub const PROBATION_PERCENT: f64 = 0.15;

/// `2 / (1 + e^(5y)) - 1`, and `-1` beyond three window widths past a window.
pub fn scaled_sigmoid(y: f64) -> f64 {
    if y > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * y).exp()) - 1.0
    }
}

/// Rows at the start of a file that are neither rewarded nor penalised:
/// `min(floor(0.15 * n), 0.15 * 5000)`, compared as NAB does (`i >= length`).
pub fn probationary_length(n: usize) -> f64 {
    (PROBATION_PERCENT * n as f64).floor().min(PROBATION_PERCENT * 5000.0)
}

/// One scorable row after the sweep pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepRow {
    /// Detector output for the row.
    pub anomaly_score: f64,
    /// Weighted score the row contributes if it is a detection.
    pub sweep_score: f64,
    /// Corpus-unique window id when the row lies in a label window.
    pub window: Option<usize>,
}

/// Rows of one file ready for threshold scoring.
#[derive(Debug, Clone, Default)]
pub struct FileRows {
    /// Scorable rows (after the probationary period).
    pub rows: Vec<SweepRow>,
    /// Window ids that have at least one scorable row.
    pub windows: Vec<usize>,
    /// Number of rows in the file (NAB's `Total_Count`).
    pub total: usize,
}

/// Compute sweep scores for one file (NAB `calcSweepScore`).
///
/// A window starts at the first row at or after its start time and ends at the last row at
/// or before its end time; for NAB's files those are exact matches, as in the original.
/// `first_window_id` makes window ids unique across a corpus.
pub fn sweep_file(
    timestamps: &[NaiveDateTime],
    scores: &[f64],
    windows: &[(NaiveDateTime, NaiveDateTime)],
    cost: CostMatrix,
    first_window_id: usize,
) -> FileRows {
    let n = timestamps.len().min(scores.len());
    let prob = probationary_length(n);
    let max_tp = scaled_sigmoid(-1.0);
    let mut out = FileRows { total: n, ..FileRows::default() };
    let mut next = 0usize;
    let mut cur: Option<(usize, usize, f64)> = None; // (window index, right index, width)
    let mut prev: Option<(usize, f64)> = None; // (right index, width)
    for i in 0..n {
        let t = timestamps[i];
        if cur.is_none() && next < windows.len() && t >= windows[next].0 {
            let end = windows[next].1;
            let right = i + timestamps[i..n].partition_point(|x| *x <= end).saturating_sub(1);
            cur = Some((next, right, (right - i + 1) as f64));
            next += 1;
        }
        let sweep = match (cur, prev) {
            (Some((_, right, width)), _) => {
                let y = -((right as f64) - i as f64 + 1.0) / width;
                scaled_sigmoid(y) * cost.tp / max_tp
            }
            (None, None) => -cost.fp,
            (None, Some((pr, pw))) => {
                let y = (i as f64 - pr as f64).abs() / (pw - 1.0);
                // A one-row window makes the denominator zero; NAB then gets +inf and -1.
                let y = if y.is_nan() { f64::INFINITY } else { y };
                scaled_sigmoid(y) * cost.fp
            }
        };
        if i as f64 >= prob {
            let window = cur.map(|(w, _, _)| first_window_id + w);
            if let Some(w) = window {
                if out.windows.last() != Some(&w) {
                    out.windows.push(w);
                }
            }
            let s = scores[i];
            let s = if s.is_finite() { s } else { 0.0 };
            out.rows.push(SweepRow { anomaly_score: s, sweep_score: sweep, window });
        }
        if let Some((_, right, width)) = cur {
            if i >= right {
                prev = Some((right, width));
                cur = None;
            }
        }
    }
    out
}

/// Score and confusion counts of one file (or a corpus) at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Outcome {
    /// Raw NAB score.
    pub score: f64,
    /// Detected rows inside windows.
    pub tp: usize,
    /// Undetected rows outside windows.
    pub tn: usize,
    /// Detected rows outside windows.
    pub fp: usize,
    /// Undetected rows inside windows.
    pub fn_: usize,
    /// Rows in the file(s), probation included.
    pub total: usize,
    /// Label windows that count (have scorable rows).
    pub windows: usize,
    /// Windows with at least one detection.
    pub windows_hit: usize,
}

/// Score one file at `threshold` (a row is a detection when `score >= threshold`).
pub fn score_at(file: &FileRows, threshold: f64, cost: CostMatrix) -> Outcome {
    let mut best: Vec<(usize, f64)> = file.windows.iter().map(|w| (*w, f64::NEG_INFINITY)).collect();
    let mut o = Outcome { total: file.total, windows: file.windows.len(), ..Outcome::default() };
    let mut fp_score = 0.0;
    for r in &file.rows {
        let hit = r.anomaly_score >= threshold;
        match (r.window, hit) {
            (Some(w), true) => {
                o.tp += 1;
                if let Some(b) = best.iter_mut().find(|b| b.0 == w) {
                    b.1 = b.1.max(r.sweep_score);
                }
            }
            (Some(_), false) => o.fn_ += 1,
            (None, true) => {
                o.fp += 1;
                fp_score += r.sweep_score;
            }
            (None, false) => o.tn += 1,
        }
    }
    let mut tp_score = 0.0;
    for (_, b) in &best {
        if b.is_finite() {
            tp_score += b;
            o.windows_hit += 1;
        } else {
            tp_score -= cost.fn_;
        }
    }
    o.score = tp_score + fp_score;
    o
}

/// Add `b` into `a` (corpus totals).
pub fn accumulate(a: &mut Outcome, b: &Outcome) {
    a.score += b.score;
    a.tp += b.tp;
    a.tn += b.tn;
    a.fp += b.fp;
    a.fn_ += b.fn_;
    a.total += b.total;
    a.windows += b.windows;
    a.windows_hit += b.windows_hit;
}

/// NAB's corpus threshold optimisation (`optimizer.optimizeThreshold` via
/// `calcScoreByThreshold`): every distinct anomaly score is a candidate threshold, the corpus
/// score is updated incrementally while lowering the threshold, and the best is returned as
/// `(threshold, raw corpus score)`. Ties keep the higher threshold, as NAB's stable sort does.
/// With no rows the "threshold" is 1.1 (nothing detected), NAB's starting point.
pub fn optimize_threshold(files: &[FileRows], cost: CostMatrix) -> (f64, f64) {
    let mut rows: Vec<&SweepRow> = files.iter().flat_map(|f| f.rows.iter()).collect();
    rows.sort_by(|a, b| b.anomaly_score.total_cmp(&a.anomaly_score));
    let max_id = files.iter().flat_map(|f| f.windows.iter()).copied().max().map_or(0, |m| m + 1);
    let n_windows: usize = files.iter().map(|f| f.windows.len()).sum();
    let mut best_w = vec![f64::NAN; max_id];
    let mut total = -cost.fn_ * n_windows as f64;
    let mut best = (1.1, total);
    let mut i = 0;
    while i < rows.len() {
        let thr = rows[i].anomaly_score;
        while i < rows.len() && rows[i].anomaly_score == thr {
            let r = rows[i];
            match r.window {
                None => total += r.sweep_score,
                Some(w) => {
                    let old = if best_w[w].is_nan() { -cost.fn_ } else { best_w[w] };
                    if best_w[w].is_nan() || r.sweep_score > old {
                        best_w[w] = r.sweep_score;
                        total += r.sweep_score - old;
                    }
                }
            }
            i += 1;
        }
        if total > best.1 {
            best = (thr, total);
        }
    }
    best
}

/// `100 * (raw - null) / (perfect - null)` with `null = -fn * windows` and
/// `perfect = tp * windows`; 0 when there are no windows.
pub fn normalize(raw: f64, windows: usize, cost: CostMatrix) -> f64 {
    let null = -cost.fn_ * windows as f64;
    let perfect = cost.tp * windows as f64;
    if perfect - null == 0.0 {
        0.0
    } else {
        100.0 * (raw - null) / (perfect - null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_matches_nab() {
        assert!((scaled_sigmoid(0.0)).abs() < 1e-12);
        assert!((scaled_sigmoid(-1.0) - 0.986_614_298_151_430_3).abs() < 1e-12);
        assert_eq!(scaled_sigmoid(3.5), -1.0);
    }

    #[test]
    fn probation_caps_at_750() {
        assert_eq!(probationary_length(4032), 604.0);
        assert_eq!(probationary_length(15858), 750.0);
    }

    #[test]
    fn normalisation_worked_example() {
        let std = CostMatrix { tp: 1.0, fp: 0.11, fn_: 1.0 };
        assert!((normalize(-24.0131, 116, std) - 39.65).abs() < 0.01);
        let low_fn = CostMatrix { tp: 1.0, fp: 0.11, fn_: 2.0 };
        assert!((normalize(-67.0131, 116, low_fn) - 47.41).abs() < 0.01);
    }
}
