//! The robust seasonal baseline shared by the cost detector and the NAB streaming scorer.
//!
//! The history is cut into blocks of one seasonal period (a week of days, a week of hours,
//! a day of 5-minute rows). Each block's median is its local level, so a slow trend or a
//! level shift inside the history barely disturbs the seasonal profile, which is the median
//! per phase of the values relative to their block's level. The noise scale is the MAD of
//! what is left. At scoring time the level is the median of the recent deseasonalised values,
//! so a new level becomes "normal" once it fills half of the level window.
//!
//! The model is multiplicative (weekend = 60 % of a weekday) when every block level is
//! positive, which suits costs that grow, and additive otherwise, because ratios are
//! meaningless around zero and for credits.

use super::stats::{finite_or, median_in_place, median_mad_in_place, MAD_TO_SIGMA};

/// Robust standard deviation of `buf` (reordered): 1.4826 * MAD, or, when more than half the
/// values are identical and the MAD is zero, 1.2533 * the mean absolute deviation from the
/// median (the usual fallback for the modified z-score), so quantised metrics keep a scale.
fn robust_sigma(buf: &mut [f64]) -> f64 {
    let Some((_, mad)) = median_mad_in_place(buf) else {
        return 0.0;
    };
    if mad > 0.0 {
        return MAD_TO_SIGMA * mad;
    }
    // After median_mad_in_place the buffer holds absolute deviations from the median.
    let mean_ad = buf.iter().sum::<f64>() / buf.len() as f64;
    1.2533 * mean_ad
}

/// The `q` quantile of `|buf|` divided by the two-sided Gaussian quantile for `q` (reorders
/// `buf`, which must be NaN-free and non-empty).
fn tail_sigma(buf: &mut [f64], q: f64) -> f64 {
    for v in buf.iter_mut() {
        *v = v.abs();
    }
    let k = ((buf.len() - 1) as f64 * q).round() as usize;
    let (_, x, _) = buf.select_nth_unstable_by(k.min(buf.len() - 1), f64::total_cmp);
    *x / normal_quantile(0.5 + q / 2.0)
}

/// Inverse of the standard normal distribution for `p` in `(0.5, 1)` (Abramowitz & Stegun
/// 26.2.23, absolute error below 4.5e-4).
fn normal_quantile(p: f64) -> f64 {
    let t = (-2.0 * (1.0 - p).max(1e-300).ln()).sqrt();
    t - (2.515_517 + 0.802_853 * t + 0.010_328 * t * t)
        / (1.0 + 1.432_788 * t + 0.189_269 * t * t + 0.001_308 * t * t * t)
}

/// Shape and floors of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelParams {
    /// Seasonal period in slots (1 = no seasonality).
    pub period: usize,
    /// Block length used when `period == 1` (the level is then a plain robust local median).
    pub plain_block: usize,
    /// Smallest noise scale as a fraction of the expected value, so a perfectly flat series
    /// does not turn a one-cent change into an infinite score.
    pub rel_floor: f64,
    /// Smallest noise scale in absolute units (dollars for costs).
    pub abs_floor: f64,
    /// Scores are clamped to ±`z_cap` so outputs stay finite.
    pub z_cap: f64,
    /// Allow the multiplicative form when all levels are positive.
    pub allow_multiplicative: bool,
    /// When in `(0, 1)`, the noise scale is at least the `tail_quantile` quantile of the
    /// absolute residuals divided by the matching Gaussian quantile. For Gaussian noise this
    /// changes nothing; for quantised or heavy-tailed metrics (a CPU reading that sits at
    /// 0.066 and jumps to 0.134 one time in five) the MAD is far too small and every common
    /// jump would score as extreme. 0 turns it off.
    pub tail_quantile: f64,
}

/// Current level of a series and the robust spread of the values it was computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Median of the deseasonalised values in the level window.
    pub value: f64,
    /// Robust standard deviation of those values (0 when too few).
    pub spread: f64,
}

/// A fitted model plus scratch buffers (reused between fits).
#[derive(Debug, Clone)]
pub struct Model {
    /// Parameters used by `fit`.
    pub params: ModelParams,
    mult: bool,
    season: Vec<f64>,
    sigma: f64,
    block_med: Vec<f64>,
    dev: Vec<f64>,
    scratch: Vec<f64>,
}

impl Model {
    /// A model with empty buffers.
    pub fn new(params: ModelParams) -> Self {
        Model {
            params,
            mult: false,
            season: Vec::new(),
            sigma: 0.0,
            block_med: Vec::new(),
            dev: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Whether the last fit chose the multiplicative form.
    pub fn is_multiplicative(&self) -> bool {
        self.mult
    }

    fn block_len(&self) -> usize {
        if self.params.period > 1 {
            self.params.period
        } else {
            self.params.plain_block.max(2)
        }
    }

    /// Fit seasonality and noise on `hist` (NaN = missing); `phase0` is the phase of `hist[0]`.
    pub fn fit(&mut self, hist: &[f64], phase0: usize) {
        let p = self.params.period.max(1);
        let b = self.block_len();
        let nb = hist.len() / b;
        let off = hist.len() - nb * b;
        self.season.clear();
        self.season.resize(p, f64::NAN);
        self.block_med.clear();
        for k in 0..nb {
            let block = &hist[off + k * b..off + (k + 1) * b];
            self.scratch.clear();
            self.scratch.extend(block.iter().copied().filter(|v| !v.is_nan()));
            // Half a block is enough for a level; fewer points would let one day dominate.
            let med = if self.scratch.len() * 2 >= b {
                median_in_place(&mut self.scratch).unwrap_or(f64::NAN)
            } else {
                f64::NAN
            };
            self.block_med.push(med);
        }
        let valid = self.block_med.iter().filter(|m| !m.is_nan()).count();
        self.mult =
            self.params.allow_multiplicative && valid >= 2 && self.block_med.iter().all(|m| m.is_nan() || *m > 0.0);
        if p > 1 && valid >= 2 {
            self.fit_season(hist, phase0, off, nb);
        }
        let neutral = if self.mult { 1.0 } else { 0.0 };
        for s in &mut self.season {
            if s.is_nan() {
                *s = neutral;
            }
        }
        self.fit_sigma(hist, phase0, off, nb, valid);
    }

    fn fit_season(&mut self, hist: &[f64], phase0: usize, off: usize, nb: usize) {
        let p = self.params.period;
        self.dev.clear();
        self.dev.resize(p * nb, f64::NAN);
        for k in 0..nb {
            let m = self.block_med[k];
            if m.is_nan() {
                continue;
            }
            for j in 0..p {
                let i = off + k * p + j;
                let x = hist[i];
                if x.is_nan() {
                    continue;
                }
                let phase = (phase0 + i) % p;
                self.dev[phase * nb + k] = if self.mult { x / m } else { x - m };
            }
        }
        for phase in 0..p {
            self.scratch.clear();
            let row = &self.dev[phase * nb..(phase + 1) * nb];
            self.scratch.extend(row.iter().copied().filter(|v| !v.is_nan()));
            if self.scratch.len() >= 2 {
                let s = median_in_place(&mut self.scratch).unwrap_or(f64::NAN);
                // Clamping keeps a weekday that is usually ~0 from producing absurd ratios.
                self.season[phase] = if self.mult { s.clamp(0.05, 20.0) } else { s };
            }
        }
    }

    fn fit_sigma(&mut self, hist: &[f64], phase0: usize, off: usize, nb: usize, valid: usize) {
        let b = self.block_len();
        let p = self.params.period.max(1);
        self.scratch.clear();
        if valid == 0 {
            self.scratch.extend(hist.iter().copied().filter(|v| !v.is_nan()));
        } else {
            for k in 0..nb {
                let m = self.block_med[k];
                if m.is_nan() {
                    continue;
                }
                for j in 0..b {
                    let i = off + k * b + j;
                    let x = hist[i];
                    if x.is_nan() {
                        continue;
                    }
                    let s = self.season[(phase0 + i) % p];
                    if !self.mult {
                        self.scratch.push(x - m - s);
                    } else {
                        // Relative deviations: for noise of a few tens of percent their MAD
                        // matches the MAD of the log ratios used when scoring to within a
                        // few percent, and it avoids a logarithm per slot on the hot path.
                        self.scratch.push(x / (m * s) - 1.0);
                    }
                }
            }
        }
        // Fewer than five residuals say nothing about noise; the floors take over then.
        let q = self.params.tail_quantile;
        let tail = if q > 0.0 && q < 1.0 && self.scratch.len() >= 20 { tail_sigma(&mut self.scratch, q) } else { 0.0 };
        self.sigma = if self.scratch.len() >= 5 { robust_sigma(&mut self.scratch).max(tail) } else { 0.0 };
        self.sigma = finite_or(self.sigma, 0.0);
    }

    /// Remove the seasonal component from `x` at `phase` (NaN stays NaN).
    pub fn deseason(&self, x: f64, phase: usize) -> f64 {
        let s = self.season.get(phase).copied().unwrap_or(if self.mult { 1.0 } else { 0.0 });
        if self.mult {
            x / s
        } else {
            x - s
        }
    }

    /// Expected value at `phase` given a deseasonalised level.
    pub fn expected(&self, level: f64, phase: usize) -> f64 {
        let s = self.season.get(phase).copied().unwrap_or(if self.mult { 1.0 } else { 0.0 });
        finite_or(if self.mult { level * s } else { level + s }, 0.0)
    }

    /// Level (median) and spread (1.4826 * MAD, 0 with fewer than 7 values) of the present
    /// values in `u`, a slice of deseasonalised values; `None` when fewer than three are
    /// present, because a level from one or two points is a guess.
    pub fn level(&mut self, u: &[f64]) -> Option<Level> {
        self.scratch.clear();
        self.scratch.extend(u.iter().copied().filter(|v| !v.is_nan()));
        let n = self.scratch.len();
        if n < 3 {
            return None;
        }
        let (value, mad) = median_mad_in_place(&mut self.scratch)?;
        let spread = if n >= 7 { MAD_TO_SIGMA * mad } else { 0.0 };
        Some(Level { value, spread })
    }

    /// Signed robust score of `x` against `expected`, clamped to ±`z_cap`.
    ///
    /// In the multiplicative form the residual is `ln(x / expected)` in units of the log
    /// noise, so a +40 % day on 10 % noise scores like a -29 % day; where a log is undefined
    /// (credits, zero) the linear residual is used with the noise scaled to the expectation.
    ///
    /// The noise scale is the larger of the history's and the level window's (`level`), so a
    /// series whose history does not describe its present (a new service, a fresh level)
    /// is not judged against a stale, too-small noise.
    pub fn score(&self, x: f64, expected: f64, level: &Level) -> f64 {
        if self.mult && x > 0.0 && expected > 0.0 && level.value > 0.0 {
            let recent = level.spread / level.value;
            let scale = self.sigma.max(recent).max(self.params.rel_floor).max(1e-9);
            let z = (x / expected).ln() / scale;
            return finite_or(z, 0.0).clamp(-self.params.z_cap, self.params.z_cap);
        }
        let mag = expected.abs();
        let noise = if self.mult { self.sigma * mag } else { self.sigma }.max(level.spread);
        let scale = noise.max(self.params.rel_floor * mag).max(self.params.abs_floor).max(f64::MIN_POSITIVE);
        let z = (x - expected) / scale;
        finite_or(z, 0.0).clamp(-self.params.z_cap, self.params.z_cap)
    }
}
