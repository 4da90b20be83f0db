//! Corpus-level NAB runs: verifying the port against shipped results, and scoring a detector's
//! per-row scores over whatever files are present.

use super::nab::{accumulate, normalize, optimize_threshold, score_at, sweep_file, CostMatrix, FileRows, Outcome};
use super::nab_io::{
    load_profiles, load_threshold, load_windows, read_scores_table, read_series, result_path, ShippedScore, Windows,
};
use chrono::NaiveDateTime;
use std::path::Path;

/// Our re-score of one shipped result file next to the shipped row.
#[derive(Debug, Clone)]
pub struct VerifyRow {
    /// Relative file name.
    pub name: String,
    /// Profile name.
    pub profile: String,
    /// Our outcome at the shipped threshold.
    pub ours: Outcome,
    /// The shipped row.
    pub shipped: ShippedScore,
}

impl VerifyRow {
    /// Exact agreement: counts equal and scores equal to the shipped 1e-9 precision.
    pub fn matches(&self) -> bool {
        let o = &self.ours;
        let s = &self.shipped;
        (o.score - s.score).abs() < 1e-8
            && o.tp == s.tp
            && o.tn == s.tn
            && o.fp == s.fp
            && o.fn_ == s.fn_
            && o.total == s.total
    }
}

/// Re-score every shipped per-row result file of `detector` that is present under `root`,
/// for every profile, at the threshold of `config/thresholds.json`.
pub fn verify_shipped(root: &Path, detector: &str) -> Result<Vec<VerifyRow>, String> {
    let windows = load_windows(root)?;
    let mut out = Vec::new();
    for (profile, cost) in load_profiles(root)? {
        let threshold = load_threshold(root, detector, &profile)?;
        let table = root.join("results").join(detector).join(format!("{detector}_{profile}_scores.csv"));
        for (name, shipped) in read_scores_table(&table)? {
            let path = result_path(root, detector, &name);
            if !path.exists() {
                continue;
            }
            let s = read_series(&path, &name)?;
            let ws = windows.get(&name).map(Vec::as_slice).unwrap_or(&[]);
            let rows = sweep_file(&s.timestamps, &s.scores, ws, cost, 0);
            let ours = score_at(&rows, threshold, cost);
            out.push(VerifyRow { name, profile: profile.clone(), ours, shipped });
        }
    }
    Ok(out)
}

/// Per-row scores of one file, as produced by a detector.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Relative file name.
    pub name: String,
    /// Row timestamps.
    pub timestamps: Vec<NaiveDateTime>,
    /// Row scores in [0, 1].
    pub scores: Vec<f64>,
}

/// Corpus result for one detector and profile.
#[derive(Debug, Clone)]
pub struct CorpusResult {
    /// Threshold used (optimised or given).
    pub threshold: f64,
    /// Per-file outcomes in input order.
    pub per_file: Vec<(String, Outcome)>,
    /// Corpus totals.
    pub total: Outcome,
    /// NAB-normalised score over these files.
    pub normalized: f64,
}

/// Score a corpus; with `threshold == None` the threshold is optimised over the corpus as
/// NAB's optimiser does.
pub fn score_corpus(files: &[Scored], windows: &Windows, cost: CostMatrix, threshold: Option<f64>) -> CorpusResult {
    let mut next_id = 0;
    let swept: Vec<FileRows> = files
        .iter()
        .map(|f| {
            let ws = windows.get(&f.name).map(Vec::as_slice).unwrap_or(&[]);
            let rows = sweep_file(&f.timestamps, &f.scores, ws, cost, next_id);
            next_id += ws.len();
            rows
        })
        .collect();
    let threshold = threshold.unwrap_or_else(|| optimize_threshold(&swept, cost).0);
    let mut total = Outcome::default();
    let mut per_file = Vec::new();
    for (f, rows) in files.iter().zip(&swept) {
        let o = score_at(rows, threshold, cost);
        accumulate(&mut total, &o);
        per_file.push((f.name.clone(), o));
    }
    let normalized = normalize(total.score, total.windows, cost);
    CorpusResult { threshold, per_file, total, normalized }
}

/// Load the shipped per-row scores of `detector` for the given relative names (files without
/// a shipped result are skipped).
pub fn load_shipped_scores(root: &Path, detector: &str, names: &[String]) -> Result<Vec<Scored>, String> {
    let mut out = Vec::new();
    for name in names {
        let path = result_path(root, detector, name);
        if !path.exists() {
            continue;
        }
        let s = read_series(&path, name)?;
        out.push(Scored { name: name.clone(), timestamps: s.timestamps, scores: s.scores });
    }
    Ok(out)
}
