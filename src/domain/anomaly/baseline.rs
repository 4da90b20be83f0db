//! The seed plan's detector, kept only as a comparison baseline for the evaluation.
//!
//! Each recent point is compared with the mean and standard deviation of the same hour of day
//! over the last 30 days (hourly data) or of the plain trailing 30 days (daily data); it is
//! anomalous when `z > 2` with at least 7 samples. To isolate the statistics, runs are merged
//! and gated on `min_impact` / `min_percent` exactly like the product detector, with the
//! score bar fixed at 2.

use super::finding::{assemble, collect_runs, Finding, RunContext, ScoredPoint};
use super::series::Dense;
use super::{Granularity, Point, Thresholds};
use chrono::NaiveDateTime;

const Z_BAR: f64 = 2.0;
const MIN_SAMPLES: usize = 7;
const DAYS: usize = 30;

/// Reusable z-score baseline detector.
#[derive(Debug, Clone, Default)]
pub struct ZScoreBaseline {
    dense: Dense,
    expected: Vec<f64>,
    z: Vec<f64>,
    dir: Vec<i8>,
    runs: Vec<(usize, usize)>,
    pts: Vec<ScoredPoint>,
}

impl ZScoreBaseline {
    /// Findings in the last `recent_days` complete days, like [`super::Detector::detect`].
    pub fn detect(
        &mut self,
        points: &[Point],
        granularity: Granularity,
        as_of: NaiveDateTime,
        thresholds: &Thresholds,
        recent_days: usize,
    ) -> Vec<Finding> {
        let (step, recent) = match granularity {
            Granularity::Daily => (1usize, recent_days.max(1)),
            Granularity::Hourly => (24usize, recent_days.max(1) * 24),
        };
        let hist = DAYS * step;
        let n = hist + recent;
        if !self.dense.fill(points, granularity, as_of, n, hist) {
            return Vec::new();
        }
        self.expected.clear();
        self.expected.resize(n, 0.0);
        self.z.clear();
        self.z.resize(n, 0.0);
        self.dir.clear();
        self.dir.resize(n, 0);
        for i in hist..n {
            let x = self.dense.vals[i];
            if x.is_nan() {
                continue;
            }
            let (mut cnt, mut sum, mut sq) = (0usize, 0.0f64, 0.0f64);
            for k in 1..=DAYS {
                let v = self.dense.vals[i - k * step];
                if !v.is_nan() {
                    cnt += 1;
                    sum += v;
                    sq += v * v;
                }
            }
            if cnt < MIN_SAMPLES {
                continue;
            }
            let mean = sum / cnt as f64;
            let var = (sq / cnt as f64 - mean * mean).max(0.0);
            let sd = var.sqrt();
            let z = if sd > 0.0 {
                (x - mean) / sd
            } else if x > mean {
                1000.0
            } else {
                0.0
            };
            let z = if z.is_finite() { z.clamp(-1000.0, 1000.0) } else { 0.0 };
            self.expected[i] = if mean.is_finite() { mean } else { 0.0 };
            self.z[i] = z;
            self.dir[i] = i8::from(z > Z_BAR);
        }
        let gate = Thresholds { min_score: Z_BAR, ..thresholds.clone() };
        collect_runs(&self.dir, hist, n, &mut self.runs);
        let mut out = Vec::new();
        for &(a, b) in &self.runs {
            self.pts.clear();
            self.pts.extend((a..=b).map(|i| ScoredPoint {
                actual: self.dense.amounts[i],
                expected: self.expected[i],
                z: self.z[i],
                estimated: false,
            }));
            let ctx = RunContext {
                thresholds: &gate,
                start: self.dense.time(a),
                end: self.dense.time(b),
                ongoing: b >= self.dense.last_present,
                spike_max_len: 3 * step.min(4),
                hist_max_abs: self.dense.hist_max_abs,
                established: true,
                drop_factor: 1.0,
                estimated_factor: 1.0,
            };
            out.extend(assemble(&self.pts, &ctx));
        }
        out
    }
}
