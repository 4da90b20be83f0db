//! `costbot eval nab-loco`: choosing the NAB parameters by leave-one-category-out, so every
//! file is scored by a configuration and a threshold chosen without any file of its kind.
//!
//! The fixed split ([`super::split`]) puts every category on both sides, so its untuned part
//! only asks whether the choice carries to more files of kinds it has seen. A product's
//! detector meets kinds of series nobody tuned on, which is what this protocol asks: for each
//! category, the configuration of the grid with the best in-sample score on all the *other*
//! files is chosen automatically, with its corpus threshold optimised on those files, and then
//! scores the held-out category unchanged. The held-out outcomes of all categories summed are
//! the untuned figure. The tuned figure is the same selection made on all files and scored on
//! them. Both figures are over the same files, so their gap is what the choice costs on kinds it
//! did not see, not a difference between easy and hard files (which is most of the fixed
//! split's gap: Windowed Gaussian itself scores six points higher on that untuned part).
//!
//! The selection rules are fixed in code ([`Rule`]: the pooled in-sample standard score, which
//! was fixed first, and the mean of the categories' scores, added after the first one's result
//! was seen; the first configuration of the grid wins ties) and nobody picks between their
//! results. The grid itself ([`super::nab_grid::grid`]) is centred on the defaults chosen on
//! the fixed split's tuning part, which is written beside the figures.

use super::nab::{accumulate, normalize, CostMatrix, Outcome};
use super::nab_grid::score_files;
use super::nab_io::{list_data_files, load_profiles, load_threshold, load_windows, read_series, Series, Windows};
use super::nab_run::{load_shipped_scores, score_corpus, Scored};
use super::split::category;
use crate::domain::anomaly::StreamParams;
use std::collections::BTreeMap;
use std::path::Path;

/// How a configuration's in-sample fit over a set of files is summed into one figure to
/// select by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// NAB's corpus score over the files pooled: categories weigh by their windows.
    Pooled,
    /// The mean of the categories' normalised scores (categories with windows only), so a
    /// category of few windows weighs as much as one of many.
    MeanOfCategories,
}

/// A configuration's in-sample fit over some files, by each rule.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Fit {
    /// [`Rule::Pooled`].
    pub pooled: f64,
    /// [`Rule::MeanOfCategories`].
    pub mean_of_categories: f64,
}

impl Fit {
    fn by(&self, rule: Rule) -> f64 {
        match rule {
            Rule::Pooled => self.pooled,
            Rule::MeanOfCategories => self.mean_of_categories,
        }
    }
}

/// One configuration's figures: what the selection in every fold needs.
#[derive(Debug, Clone)]
pub struct ConfigFigures {
    /// In-sample fit over all files (threshold optimised on all of them).
    pub all_fit: Fit,
    /// Per category, in-sample over all files: the outcome of the category's files at the
    /// all-files threshold.
    pub all_by_category: BTreeMap<String, Outcome>,
    /// Per held-out category: the in-sample fit over the other files, and the held-out
    /// category's outcome at the threshold optimised on them.
    pub folds: BTreeMap<String, (Fit, Outcome)>,
}

/// The result of one selection: per category, the configuration chosen and the category's
/// outcome under it.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Per category: index into the grid of the configuration used, and its outcome.
    pub by_category: BTreeMap<String, (usize, Outcome)>,
    /// The outcomes of all categories summed.
    pub total: Outcome,
    /// NAB-normalised `total`.
    pub normalized: f64,
}

/// Per-category outcomes summed into a selection.
fn selection(by_category: BTreeMap<String, (usize, Outcome)>, cost: CostMatrix) -> Selection {
    let mut total = Outcome::default();
    for (_, o) in by_category.values() {
        accumulate(&mut total, o);
    }
    let normalized = normalize(total.score, total.windows, cost);
    Selection { by_category, total, normalized }
}

/// The index of the first maximum of `score` over `0..n` (ties keep the earlier one).
fn first_best(n: usize, score: impl Fn(usize) -> f64) -> usize {
    (0..n).fold(0, |best, k| if score(k) > score(best) { k } else { best })
}

/// Leave-one-category-out: each category scored by the configuration and threshold that did
/// best on the other categories by `rule`.
pub fn held_out(figures: &[ConfigFigures], rule: Rule, cost: CostMatrix) -> Selection {
    let cats: Vec<String> = figures.first().map(|f| f.folds.keys().cloned().collect()).unwrap_or_default();
    let by_category = cats
        .into_iter()
        .map(|c| {
            let k = first_best(figures.len(), |k| figures[k].folds[&c].0.by(rule));
            let outcome = figures[k].folds[&c].1;
            (c, (k, outcome))
        })
        .collect();
    selection(by_category, cost)
}

/// The same rule on all files at once, scored on them: the tuned figure.
pub fn in_sample(figures: &[ConfigFigures], rule: Rule, cost: CostMatrix) -> Selection {
    let k = first_best(figures.len(), |k| figures[k].all_fit.by(rule));
    let by_category = figures
        .get(k)
        .map_or_else(BTreeMap::new, |f| f.all_by_category.iter().map(|(c, o)| (c.clone(), (k, *o))).collect());
    selection(by_category, cost)
}

/// One fixed configuration (grid index `k`) with only the threshold left out per category:
/// how much of the gap is the threshold alone.
pub fn threshold_only(figures: &[ConfigFigures], k: usize, cost: CostMatrix) -> Selection {
    let by_category = figures[k].folds.iter().map(|(c, (_, o))| (c.clone(), (k, *o))).collect();
    selection(by_category, cost)
}

/// Per-category outcomes of a scored corpus.
fn by_category(per_file: &[(String, Outcome)]) -> BTreeMap<String, Outcome> {
    let mut out: BTreeMap<String, Outcome> = BTreeMap::new();
    for (name, o) in per_file {
        accumulate(out.entry(category(name).to_string()).or_default(), o);
    }
    out
}

/// The fit of a scored corpus by each rule.
fn fit(normalized: f64, per_file: &[(String, Outcome)], cost: CostMatrix) -> Fit {
    let cats: Vec<f64> =
        by_category(per_file).values().filter(|o| o.windows > 0).map(|o| normalize(o.score, o.windows, cost)).collect();
    let mean_of_categories = if cats.is_empty() { 0.0 } else { cats.iter().sum::<f64>() / cats.len() as f64 };
    Fit { pooled: normalized, mean_of_categories }
}

/// The figures of one configuration's scores (`scored`, all files, in any order).
pub fn figures(scored: &[Scored], windows: &Windows, cost: CostMatrix) -> ConfigFigures {
    let all = score_corpus(scored, windows, cost, None);
    let all_by_category = by_category(&all.per_file);
    let folds = all_by_category
        .keys()
        .map(|c| {
            let (held, rest): (Vec<Scored>, Vec<Scored>) = scored.iter().cloned().partition(|s| category(&s.name) == c);
            let fitted = score_corpus(&rest, windows, cost, None);
            let tested = score_corpus(&held, windows, cost, Some(fitted.threshold));
            (c.clone(), (fit(fitted.normalized, &fitted.per_file, cost), tested.total))
        })
        .collect();
    ConfigFigures { all_fit: fit(all.normalized, &all.per_file, cost), all_by_category, folds }
}

/// Everything `eval nab-loco` prints.
#[derive(Debug, Clone)]
pub struct LocoReport {
    /// The configurations, in grid order.
    pub configs: Vec<StreamParams>,
    /// Per rule: each category left out in turn, and the same rule on all files scored on them.
    pub selections: Vec<(Rule, Selection, Selection)>,
    /// The shipped defaults ([`StreamParams::default`]) with only the threshold left out, when
    /// the grid holds them.
    pub defaults_threshold_only: Option<Selection>,
    /// The shipped defaults, in-sample over all files.
    pub defaults_in_sample: Option<f64>,
    /// Windowed Gaussian per category at NAB's shipped threshold.
    pub wg: BTreeMap<String, Outcome>,
    /// The standard profile's weights every figure was scored with.
    pub cost: CostMatrix,
}

/// Score `configs` on every file under `root` and run both selections (standard profile).
pub fn run_loco(root: &Path, configs: &[StreamParams]) -> Result<LocoReport, String> {
    let windows = load_windows(root)?;
    let names = list_data_files(root)?;
    let series: Vec<Series> =
        names.iter().map(|n| read_series(&root.join("data").join(n), n)).collect::<Result<_, _>>()?;
    let profiles: BTreeMap<String, CostMatrix> = load_profiles(root)?.into_iter().collect();
    let cost = *profiles.get("standard").ok_or("profile standard missing")?;
    let score_config = |params: &StreamParams| figures(&score_files(&series, params), &windows, cost);
    // Configurations are independent; two threads, because the machine this is measured on
    // has two cores.
    let half = configs.len().div_ceil(2).max(1);
    let figs: Vec<ConfigFigures> = std::thread::scope(|s| {
        let handles: Vec<_> = configs
            .chunks(half)
            .map(|chunk| s.spawn(move || chunk.iter().map(score_config).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    if figs.len() != configs.len() {
        return Err("a scoring thread failed".into());
    }
    let defaults = configs.iter().position(|p| *p == StreamParams::default());
    let wg_threshold = load_threshold(root, "windowedGaussian", "standard")?;
    let wg_scores = load_shipped_scores(root, "windowedGaussian", &names)?;
    let wg = by_category(&score_corpus(&wg_scores, &windows, cost, Some(wg_threshold)).per_file);
    Ok(LocoReport {
        configs: configs.to_vec(),
        selections: [Rule::Pooled, Rule::MeanOfCategories]
            .into_iter()
            .map(|rule| (rule, held_out(&figs, rule, cost), in_sample(&figs, rule, cost)))
            .collect(),
        defaults_threshold_only: defaults.map(|k| threshold_only(&figs, k, cost)),
        defaults_in_sample: defaults.map(|k| figs[k].all_fit.pooled),
        wg,
        cost,
    })
}

/// The table `eval nab-loco` prints (standard profile, normalised scores; raw for a category
/// without windows): one block per selection rule.
pub fn render_loco(r: &LocoReport) -> String {
    let cost = r.cost;
    let norm = |o: &Outcome| {
        if o.windows == 0 {
            format!("{:.3} raw", o.score)
        } else {
            format!("{:.2}", normalize(o.score, o.windows, cost))
        }
    };
    let describe = |k: usize| {
        let p = &r.configs[k];
        format!("{} {} {} {} {}", p.tail_quantile, p.level_window, p.likelihood_window, p.min_sd, p.suppress)
    };
    let mut wg_total = Outcome::default();
    for o in r.wg.values() {
        accumulate(&mut wg_total, o);
    }
    let mut s = String::new();
    for (rule, held, ins) in &r.selections {
        s += &format!("Selection by {rule:?} in-sample score\n");
        s += &format!(
            "{:<24} {:>7} {:>10} {:>10} {:>13} {:>10}  {}\n",
            "category", "windows", "held out", "in-sample", "defaults LOCO", "WG", "chosen without it"
        );
        for (c, (k, o)) in &held.by_category {
            let i = ins.by_category.get(c).map_or("-".into(), |(_, o)| norm(o));
            let d = r
                .defaults_threshold_only
                .as_ref()
                .and_then(|d| d.by_category.get(c))
                .map_or("-".into(), |(_, o)| norm(o));
            let wg = r.wg.get(c).map_or("-".into(), norm);
            s += &format!("{c:<24} {:>7} {:>10} {i:>10} {d:>13} {wg:>10}  {}\n", o.windows, norm(o), describe(*k));
        }
        let chosen_all = ins.by_category.values().next().map_or(String::new(), |(k, _)| describe(*k));
        s += &format!(
            "{:<24} {:>7} {:>10.2} {:>10.2} {:>13} {:>10}  {chosen_all} (in-sample)\n\n",
            "all",
            held.total.windows,
            held.normalized,
            ins.normalized,
            r.defaults_threshold_only.as_ref().map_or("-".into(), |d| format!("{:.2}", d.normalized)),
            norm(&wg_total)
        );
    }
    if let Some(d) = r.defaults_in_sample {
        s += &format!(
            "Shipped defaults, in-sample over all files: {d:.2}; `defaults LOCO` keeps them and leaves only \
             the threshold out per category.\n"
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::nab_grid::tests::file;

    const STD: CostMatrix = CostMatrix { tp: 1.0, fp: 0.11, fn_: 1.0 };

    #[test]
    fn a_category_is_scored_by_the_threshold_of_the_others() {
        let mut windows = Windows::new();
        // Category a reaches 0.9 in its windows and has a 0.6 false positive; category b only
        // reaches 0.5. On all files one threshold of 0.5 catches every window; left out, b is
        // scored at a's 0.9 and misses its window, and a at b's 0.5 keeps its false positive.
        let files = vec![
            file("a/1.csv", &[(610, 0.9), (900, 0.6)], &mut windows),
            file("a/2.csv", &[(610, 0.9)], &mut windows),
            file("b/1.csv", &[(610, 0.5)], &mut windows),
        ];
        let figs = vec![figures(&files, &windows, STD)];
        let ins = in_sample(&figs, Rule::Pooled, STD);
        let out = held_out(&figs, Rule::Pooled, STD);
        assert_eq!(ins.total.windows, 3);
        assert_eq!(out.total.windows, 3);
        assert_eq!((ins.total.windows_hit, out.total.windows_hit), (3, 2));
        assert_eq!(out.by_category["a"].1.fp, 1);
        assert!(
            out.normalized < ins.normalized - 10.0,
            "held out {:.2} in-sample {:.2}",
            out.normalized,
            ins.normalized
        );
    }

    #[test]
    fn each_fold_picks_the_configuration_best_on_the_other_categories() {
        let mut windows = Windows::new();
        // Configuration 0 is perfect on a and blind on b; configuration 1 the reverse. Left
        // out, a is scored by the configuration that did best on b (1, blind on a), and b by
        // 0: held out, neither window is found, where in-sample one of them is.
        let c0 = vec![file("a/1.csv", &[(610, 0.9)], &mut windows), file("b/1.csv", &[], &mut windows)];
        let c1 = vec![file("a/1.csv", &[], &mut windows), file("b/1.csv", &[(610, 0.9)], &mut windows)];
        let figs = vec![figures(&c0, &windows, STD), figures(&c1, &windows, STD)];
        let out = held_out(&figs, Rule::Pooled, STD);
        assert_eq!(out.by_category["a"].0, 1);
        assert_eq!(out.by_category["b"].0, 0);
        assert_eq!(out.total.windows_hit, 0);
        let ins = in_sample(&figs, Rule::Pooled, STD);
        assert_eq!(ins.total.windows_hit, 1);
        assert!(ins.by_category.values().all(|(k, _)| *k == 0), "ties keep the first configuration");
    }

    #[test]
    fn the_mean_of_categories_weighs_a_small_category_like_a_large_one() {
        let mut windows = Windows::new();
        // Category a has three windows and b one. Configuration 0 finds all of a and misses b;
        // configuration 1 finds one of a and b's. Pooled, 0 finds more windows; by the mean of
        // the categories, 1 is better (b counts as much as a).
        let names = ["a/1.csv", "a/2.csv", "a/3.csv", "b/1.csv"];
        let mut config = |hits: [bool; 4]| -> Vec<Scored> {
            names.iter().zip(hits).map(|(n, y)| file(n, if y { &[(610, 0.9)] } else { &[] }, &mut windows)).collect()
        };
        let c0 = config([true, true, true, false]);
        let c1 = config([true, false, false, true]);
        let figs = vec![figures(&c0, &windows, STD), figures(&c1, &windows, STD)];
        let chosen = |rule| in_sample(&figs, rule, STD).by_category["a"].0;
        assert_eq!(chosen(Rule::Pooled), 0);
        assert_eq!(chosen(Rule::MeanOfCategories), 1);
    }
}
