//! `costbot eval nab-grid`: choosing the NAB parameters on the tuning part only, by
//! cross-validation inside it.
//!
//! Only the tuning files are read: the untuned part cannot be looked at here even by
//! accident. Every configuration gets two figures. The in-sample score thresholds and scores
//! the same 21 files, which is what the tuned part reports; it rewards whatever fits those
//! files. The cross-validated score chooses the threshold on one fold of the tuning part
//! ([`super::split::tuning_folds`]), scores the other fold with it, does the same the other
//! way round and normalises the sum: every file is scored by a threshold not fitted on it.
//! The gap between the two figures shows how much of a configuration's tuning score is the
//! threshold fitting those files. With folds of about ten files, choosing by the second
//! figure did not generalise better on the untuned part (see [`StreamParams::default`]), so
//! the table is a diagnostic beside the in-sample score, not a selection rule.

use super::nab::{accumulate, normalize, CostMatrix, Outcome};
use super::nab_io::{list_data_files, load_profiles, load_windows, read_series, Series, Windows};
use super::nab_report::median_step;
use super::nab_run::{score_corpus, Scored};
use super::split::tuning_folds;
use crate::domain::anomaly::{score_series, StreamParams};
use std::collections::BTreeMap;
use std::path::Path;

/// One configuration's figures (normalised NAB scores over the tuning part).
#[derive(Debug, Clone)]
pub struct GridRow {
    /// The configuration (given for 5-minute rows).
    pub params: StreamParams,
    /// Standard profile, threshold chosen on all tuning files and applied to them.
    pub in_sample: f64,
    /// Standard profile, two-fold cross-validated threshold.
    pub cv: f64,
    /// Reward-low-FP profile, cross-validated.
    pub cv_low_fp: f64,
    /// Reward-low-FN profile, cross-validated.
    pub cv_low_fn: f64,
}

/// The cross-validated normalised score of already scored tuning files: for each fold, the
/// threshold is optimised on the other fold and applied to this one; outcomes are summed
/// over both folds. Files without a fold are ignored.
pub fn cross_validated(files: &[Scored], folds: &BTreeMap<String, u8>, windows: &Windows, cost: CostMatrix) -> f64 {
    let mut total = Outcome::default();
    for held in 0..2u8 {
        let in_fold = |s: &&Scored| folds.get(&s.name) == Some(&held);
        let out_fold = |s: &&Scored| folds.get(&s.name).is_some_and(|f| *f != held);
        let fit: Vec<Scored> = files.iter().filter(out_fold).cloned().collect();
        let test: Vec<Scored> = files.iter().filter(in_fold).cloned().collect();
        let threshold = score_corpus(&fit, windows, cost, None).threshold;
        accumulate(&mut total, &score_corpus(&test, windows, cost, Some(threshold)).total);
    }
    normalize(total.score, total.windows, cost)
}

/// The configurations of the grid: the chosen defaults and their neighbours, a full
/// factorial over the parameters the tuning part can tell apart.
pub fn grid() -> Vec<StreamParams> {
    let base = StreamParams::default();
    let mut out = Vec::new();
    for level_window in [12usize, 24, 36] {
        for likelihood_window in [1000usize, 2000, 4000] {
            for min_sd in [0.1, 0.2, 0.3] {
                for tail_quantile in [0.998, 0.999] {
                    for suppress in [144usize, 288] {
                        out.push(StreamParams {
                            level_window,
                            likelihood_window,
                            min_sd,
                            tail_quantile,
                            suppress,
                            ..base.clone()
                        });
                    }
                }
            }
        }
    }
    out
}

/// The second stage: a finer grid around the region the first one's cross-validated scores
/// pointed to (a one-thousand-row likelihood window, a 0.1 deviation floor, half-day
/// suppression at the 0.998 tail), kept as the record of how the candidate that was tried and
/// not kept was found.
pub fn refine_grid() -> Vec<StreamParams> {
    let base = StreamParams::default();
    let mut out = Vec::new();
    for level_window in [24usize, 36] {
        for likelihood_window in [750usize, 1000, 1500] {
            for min_sd in [0.05, 0.1, 0.15] {
                for suppress in [72usize, 144, 216] {
                    out.push(StreamParams {
                        level_window,
                        likelihood_window,
                        min_sd,
                        tail_quantile: 0.998,
                        suppress,
                        ..base.clone()
                    });
                }
            }
        }
    }
    out
}

/// Every file of `series` scored with `params` (given for 5-minute rows, rescaled to each
/// file's median step).
pub fn score_files(series: &[Series], params: &StreamParams) -> Vec<Scored> {
    series
        .iter()
        .map(|s| Scored {
            name: s.name.clone(),
            timestamps: s.timestamps.clone(),
            scores: score_series(&s.values, &params.scaled_to_step(median_step(&s.timestamps))),
        })
        .collect()
}

/// Score `configs` on the tuning part of the NAB checkout at `root`.
pub fn run_grid(root: &Path, configs: &[StreamParams]) -> Result<Vec<GridRow>, String> {
    let windows = load_windows(root)?;
    let names = list_data_files(root)?;
    let folds = tuning_folds(&names);
    let series: Vec<Series> = names
        .iter()
        .filter(|n| folds.contains_key(*n))
        .map(|n| read_series(&root.join("data").join(n), n))
        .collect::<Result<_, _>>()?;
    let profiles: BTreeMap<String, CostMatrix> = load_profiles(root)?.into_iter().collect();
    let cost = |p: &str| profiles.get(p).copied().ok_or_else(|| format!("profile {p} missing"));
    let (standard, low_fp, low_fn) = (cost("standard")?, cost("reward_low_FP_rate")?, cost("reward_low_FN_rate")?);
    let mut rows = Vec::new();
    for params in configs {
        let scored = score_files(&series, params);
        rows.push(GridRow {
            params: params.clone(),
            in_sample: score_corpus(&scored, &windows, standard, None).normalized,
            cv: cross_validated(&scored, &folds, &windows, standard),
            cv_low_fp: cross_validated(&scored, &folds, &windows, low_fp),
            cv_low_fn: cross_validated(&scored, &folds, &windows, low_fn),
        });
    }
    Ok(rows)
}

/// The table `eval nab-grid` prints, best cross-validated standard score first.
pub fn render_grid(rows: &[GridRow]) -> String {
    let mut sorted: Vec<&GridRow> = rows.iter().collect();
    sorted.sort_by(|a, b| b.cv.total_cmp(&a.cv));
    let mut s = format!(
        "{:>7} {:>6} {:>6} {:>6} {:>6} {:>10} {:>8} {:>8} {:>8}\n",
        "tail_q", "level", "lw", "min_sd", "supp", "in-sample", "CV std", "CV lowFP", "CV lowFN"
    );
    for r in sorted {
        let p = &r.params;
        s += &format!(
            "{:>7} {:>6} {:>6} {:>6} {:>6} {:>10.2} {:>8.2} {:>8.2} {:>8.2}\n",
            p.tail_quantile,
            p.level_window,
            p.likelihood_window,
            p.min_sd,
            p.suppress,
            r.in_sample,
            r.cv,
            r.cv_low_fp,
            r.cv_low_fn
        );
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    /// A 1,000-row five-minute file with one label window at rows 600..=650 and the given
    /// scores at the given rows (0 elsewhere).
    pub(crate) fn file(name: &str, hits: &[(usize, f64)], windows: &mut Windows) -> Scored {
        let t0 = NaiveDate::from_ymd_opt(2020, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("valid date");
        let timestamps: Vec<_> = (0..1000).map(|i| t0 + Duration::minutes(5 * i)).collect();
        windows.insert(name.to_string(), vec![(timestamps[600], timestamps[650])]);
        let mut scores = vec![0.0; 1000];
        for &(i, s) in hits {
            scores[i] = s;
        }
        Scored { name: name.to_string(), timestamps, scores }
    }

    #[test]
    fn a_threshold_fitted_on_one_fold_is_what_scores_the_other() {
        let std = CostMatrix { tp: 1.0, fp: 0.11, fn_: 1.0 };
        let mut windows = Windows::new();
        // Fold 0 detects its window at 0.9 and has a 0.6 false positive; fold 1 only reaches
        // 0.5 inside its window. In-sample, one threshold of 0.5 catches both windows for one
        // false positive; fold 0's threshold (0.9) misses fold 1's window, and fold 1's (0.5)
        // keeps fold 0's false positive.
        let files = vec![
            file("c/a.csv", &[(610, 0.9), (900, 0.6)], &mut windows),
            file("c/b.csv", &[(610, 0.5)], &mut windows),
        ];
        let folds: BTreeMap<String, u8> = [("c/a.csv".to_string(), 0), ("c/b.csv".to_string(), 1)].into();
        let in_sample = score_corpus(&files, &windows, std, None).normalized;
        let cv = cross_validated(&files, &folds, &windows, std);
        assert!(cv < in_sample - 10.0, "cv {cv:.2} in-sample {in_sample:.2}");
        // With both folds alike, the cross-validated score is the in-sample one.
        let alike = vec![file("c/a.csv", &[(610, 0.9)], &mut windows), file("c/b.csv", &[(610, 0.9)], &mut windows)];
        let (cv, ins) =
            (cross_validated(&alike, &folds, &windows, std), score_corpus(&alike, &windows, std, None).normalized);
        assert!((cv - ins).abs() < 1e-9 && ins > 90.0, "cv {cv:.2} in-sample {ins:.2}");
    }
}
