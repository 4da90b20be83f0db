//! The honest NAB protocol: thresholds are chosen on the tuning part of the fixed split
//! ([`super::split`]) and applied unchanged to the untuned part and to every file; scores are
//! reported per part and per category beside Windowed Gaussian on the same files.
//!
//! Windowed Gaussian is scored at NAB's shipped thresholds (`config/thresholds.json`), which
//! NAB chose on all 58 files: that favours the baseline, not costbot.

use super::nab::{accumulate, normalize, CostMatrix, Outcome};
use super::nab_io::{list_data_files, load_profiles, load_threshold, load_windows, read_series, Series, Windows};
use super::nab_run::{load_shipped_scores, score_corpus, Scored};
use super::split::{assign, category, Part};
use crate::domain::anomaly::{score_series, StreamParams};
use std::collections::BTreeMap;
use std::path::Path;

/// An outcome summed over some files, with its NAB-normalised score.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summed {
    /// Files summed.
    pub files: usize,
    /// Summed outcome (raw score, counts, windows).
    pub outcome: Outcome,
    /// `100 * (raw - null) / (perfect - null)`; 0 when the files have no windows.
    pub normalized: f64,
}

/// One group of files (a part, a category, or everything) for one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// `"tuning"`, `"untuned"`, `"all"` or a category name.
    pub name: String,
    /// costbot at the threshold chosen on the tuning part.
    pub ours: Summed,
    /// Windowed Gaussian at NAB's shipped threshold, over the same files that have results.
    pub wg: Option<Summed>,
}

/// The report for one NAB profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileReport {
    /// Profile name (`standard`, `reward_low_FP_rate`, `reward_low_FN_rate`).
    pub profile: String,
    /// costbot's threshold, optimised on the tuning part only.
    pub threshold: f64,
    /// Tuning part, untuned part, all files.
    pub parts: Vec<Group>,
    /// Per category (all files of the category).
    pub categories: Vec<Group>,
    /// Per category and part: `"<category> tuning"` and `"<category> untuned"`.
    pub category_parts: Vec<Group>,
    /// Per file: name, part, costbot outcome, Windowed Gaussian outcome.
    pub files: Vec<(String, Part, Outcome, Option<Outcome>)>,
}

impl ProfileReport {
    /// The part or category group called `name`.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.parts.iter().chain(&self.categories).chain(&self.category_parts).find(|g| g.name == name)
    }
}

/// Median spacing of the timestamps in seconds (NaN with fewer than two rows).
pub fn median_step(ts: &[chrono::NaiveDateTime]) -> f64 {
    let mut steps: Vec<i64> = ts.windows(2).map(|w| (w[1] - w[0]).num_seconds()).collect();
    if steps.is_empty() {
        return f64::NAN;
    }
    let mid = steps.len() / 2;
    *steps.select_nth_unstable(mid).1 as f64
}

/// costbot's NAB scorer: `params` (given for 5-minute rows) rescaled to each file's median
/// sampling step, then [`score_series`].
pub fn stream_scorer(params: StreamParams) -> impl Fn(&Series) -> Vec<f64> {
    move |s: &Series| score_series(&s.values, &params.scaled_to_step(median_step(&s.timestamps)))
}

/// Score every data file under `root` with `scorer` and report every profile.
pub fn evaluate(root: &Path, scorer: &dyn Fn(&Series) -> Vec<f64>) -> Result<Vec<ProfileReport>, String> {
    let windows = load_windows(root)?;
    let names = list_data_files(root)?;
    let mut ours = Vec::new();
    for name in &names {
        let s = read_series(&root.join("data").join(name), name)?;
        let scores = scorer(&s);
        ours.push(Scored { name: name.clone(), timestamps: s.timestamps, scores });
    }
    let wg = load_shipped_scores(root, "windowedGaussian", &names)?;
    let mut out = Vec::new();
    for (profile, cost) in load_profiles(root)? {
        let wg_thr = load_threshold(root, "windowedGaussian", &profile).ok();
        out.push(report(&profile, cost, &ours, wg_thr.map(|t| (&wg[..], t)), &windows));
    }
    Ok(out)
}

/// The report for one profile from already scored files.
pub fn report(
    profile: &str,
    cost: CostMatrix,
    ours: &[Scored],
    wg: Option<(&[Scored], f64)>,
    windows: &Windows,
) -> ProfileReport {
    let names: Vec<String> = ours.iter().map(|s| s.name.clone()).collect();
    let parts = assign(&names);
    let tuning: Vec<Scored> = ours.iter().filter(|s| parts.get(&s.name) == Some(&Part::Tuning)).cloned().collect();
    let threshold = score_corpus(&tuning, windows, cost, None).threshold;
    let ours_all = score_corpus(ours, windows, cost, Some(threshold));
    let wg_all: BTreeMap<String, Outcome> = wg
        .map(|(files, t)| score_corpus(files, windows, cost, Some(t)).per_file.into_iter().collect())
        .unwrap_or_default();
    let files: Vec<(String, Part, Outcome, Option<Outcome>)> = ours_all
        .per_file
        .iter()
        .map(|(n, o)| (n.clone(), parts.get(n).copied().unwrap_or(Part::Untuned), *o, wg_all.get(n).copied()))
        .collect();
    let group = |name: &str, keep: &dyn Fn(&str, Part) -> bool| {
        let sel: Vec<_> = files.iter().filter(|(n, p, _, _)| keep(n, *p)).collect();
        let ours = sum(sel.iter().map(|f| f.2), cost);
        let wg_sel: Vec<Outcome> = sel.iter().filter_map(|f| f.3).collect();
        let wg = (!wg_sel.is_empty()).then(|| sum(wg_sel.into_iter(), cost));
        Group { name: name.to_string(), ours, wg }
    };
    let part_groups = vec![
        group("tuning", &|_, p| p == Part::Tuning),
        group("untuned", &|_, p| p == Part::Untuned),
        group("all", &|_, _| true),
    ];
    let mut cats: Vec<&str> = names.iter().map(|n| category(n)).collect();
    cats.dedup();
    let categories = cats.iter().map(|c| group(c, &|n, _| category(n) == *c)).collect();
    let mut category_parts = Vec::new();
    for c in &cats {
        for (label, part) in [("tuning", Part::Tuning), ("untuned", Part::Untuned)] {
            let g = group(&format!("{c} {label}"), &|n, p| category(n) == *c && p == part);
            if g.ours.files > 0 {
                category_parts.push(g);
            }
        }
    }
    ProfileReport { profile: profile.to_string(), threshold, parts: part_groups, categories, category_parts, files }
}

fn sum(outcomes: impl Iterator<Item = Outcome>, cost: CostMatrix) -> Summed {
    let mut total = Outcome::default();
    let mut files = 0;
    for o in outcomes {
        accumulate(&mut total, &o);
        files += 1;
    }
    Summed { files, outcome: total, normalized: normalize(total.score, total.windows, cost) }
}

/// Plain-text rendering of the reports (what `costbot eval nab` prints).
pub fn render(reports: &[ProfileReport]) -> String {
    let mut s = String::new();
    let fmt_wg = |g: &Group, f: &dyn Fn(&Summed) -> String| g.wg.as_ref().map_or("-".to_string(), f);
    for r in reports {
        s += &format!(
            "\nProfile {} (costbot threshold {:.4}, chosen on the tuning part only)\n",
            r.profile, r.threshold
        );
        s += &format!(
            "{:<24} {:>5} {:>7} {:>10} {:>10} {:>10} {:>10}\n",
            "files", "n", "windows", "costbot", "WG", "raw", "WG raw"
        );
        for g in r.parts.iter().chain(&r.categories).chain(&r.category_parts) {
            s += &format!(
                "{:<24} {:>5} {:>7} {:>10.2} {:>10} {:>10.3} {:>10}\n",
                g.name,
                g.ours.files,
                g.ours.outcome.windows,
                g.ours.normalized,
                fmt_wg(g, &|w| format!("{:.2}", w.normalized)),
                g.ours.outcome.score,
                fmt_wg(g, &|w| format!("{:.3}", w.outcome.score)),
            );
        }
    }
    s
}

/// Per-file table of one profile report (raw NAB scores and counts).
pub fn render_files(r: &ProfileReport) -> String {
    let mut s =
        format!("{:<58} {:>8} {:>4} {:>9} {:>5} {:>5} {:>9}\n", "file", "part", "win", "raw", "TP", "FP", "WG raw");
    for (name, part, o, wg) in &r.files {
        s += &format!(
            "{:<58} {:>8} {:>4} {:>9.3} {:>5} {:>5} {:>9}\n",
            name,
            if *part == Part::Tuning { "tuning" } else { "untuned" },
            o.windows,
            o.score,
            o.tp,
            o.fp,
            wg.map_or("-".to_string(), |w| format!("{:.3}", w.score)),
        );
    }
    s
}
