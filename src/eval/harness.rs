//! Evaluation harness, run as `costbot eval …` (build with `--release`: it scores
//! thousands of series).
//!
//! ```text
//! eval nab <NAB root> [--files]
//!                              costbot vs Windowed Gaussian on the files present, per part
//!                              of the fixed split and per category
//! eval nab-grid <NAB root> [refine]
//!                              the parameter grid (or its second stage), scored on the tuning part only
//!                              (in-sample and two-fold cross-validated)
//! eval nab-loco <NAB root> [refine]
//!                              leave-one-category-out: each category scored by the grid's
//!                              configuration and threshold chosen on the other categories
//! eval nab-verify <NAB root>   re-score shipped windowedGaussian results (port check)
//! eval nab-rows <csv> [score] the rows of one NAB-layout file that score at least [score] (0.9)
//!                              with the shipped parameters (to see where a detection lands)
//! eval series <dir>            the detection job's pass replayed over labelled daily or
//!                              hourly series in NAB layout, costbot vs the seed z-score
//! eval scenarios [per_family [min_score [seed]]]
//!                              generated cost scenarios written in that layout, then `series`
//! eval scenarios-write <dir> [per_family [seed]]
//!                              only write them
//! ```

use crate::domain::anomaly::StreamParams;
use crate::eval::nab_grid::{grid, refine_grid, render_grid, run_grid};
use crate::eval::nab_io::list_data_files;
use crate::eval::nab_loco::{render_loco, run_loco};
use crate::eval::nab_report::{evaluate, render, render_files, stream_scorer};
use crate::eval::nab_run::verify_shipped;
use crate::eval::scenarios::{generate, write_layout, DAYS, FAMILIES};
use crate::eval::series::Gates;
use crate::eval::split::{assign, Part};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// Runs the harness with `args` (what follows `costbot eval`); `gates` is the configured
/// `[anomaly]` section, used by `series` and `scenarios`.
pub fn run(args: &[String], gates: &Gates) -> ExitCode {
    let arg = |i: usize| args.get(i).map(String::as_str);
    let num = |i: usize| arg(i).and_then(|s| s.parse::<u64>().ok());
    let res = match (arg(0), arg(1)) {
        (Some("nab"), Some(root)) => nab(Path::new(root), arg(2) == Some("--files")),
        (Some("nab-grid"), Some(root)) => nab_grid(Path::new(root), arg(2) == Some("refine")),
        (Some("nab-loco"), Some(root)) => nab_loco(Path::new(root), arg(2) == Some("refine")),
        (Some("nab-verify"), Some(root)) => nab_verify(Path::new(root)),
        (Some("nab-rows"), Some(file)) => match arg(2).map(str::parse::<f64>) {
            None => nab_rows(Path::new(file), 0.9),
            Some(Ok(min)) if min.is_finite() => nab_rows(Path::new(file), min),
            Some(_) => Err(format!("nab-rows: the score must be a number, got {:?}", arg(2).unwrap_or_default())),
        },
        (Some("series"), Some(root)) => series(Path::new(root), gates),
        (Some("scenarios"), _) => {
            scenarios(num(1).unwrap_or(150) as usize, arg(2).and_then(|s| s.parse().ok()), num(3).unwrap_or(42), gates)
        }
        (Some("scenarios-write"), Some(dir)) => {
            write_layout(Path::new(dir), &generate(num(3).unwrap_or(42), num(2).unwrap_or(150) as usize))
        }
        _ => Err(USAGE.into()),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str =
    "usage: costbot eval nab|nab-grid|nab-loco|nab-verify <NAB root> [--files|refine] | costbot eval nab-rows <csv> [score] | \
                     costbot eval series <dir> | \
                     costbot eval scenarios [per_family [min_score [seed]]] | \
                     costbot eval scenarios-write <dir> [per_family [seed]]";

fn nab(root: &Path, per_file: bool) -> Result<(), String> {
    let t0 = Instant::now();
    let reports = evaluate(root, &stream_scorer(StreamParams::default()))?;
    let names = list_data_files(root)?;
    let parts = assign(&names);
    let tuning = parts.values().filter(|p| **p == Part::Tuning).count();
    println!(
        "costbot scored {} files in {:.2?}; split: {} tuning, {} untuned (per category by FNV-1a of the name)",
        names.len(),
        t0.elapsed(),
        tuning,
        names.len() - tuning
    );
    print!("{}", render(&reports));
    if per_file {
        if let Some(r) = reports.iter().find(|r| r.profile == "standard") {
            println!("\nPer file, standard profile:\n{}", render_files(r));
        }
    }
    println!(
        "\nNormalised NAB scores (100 = perfect, 0 = null detector) per group of files; WG = Windowed \
         Gaussian at NAB's shipped thresholds (chosen by NAB on all 58 files)."
    );
    Ok(())
}

/// The parameter grid on the tuning part only, in-sample and cross-validated inside it
/// ([`crate::eval::nab_grid`]); the cross-validated figures in [`StreamParams::default`]'s
/// documentation come from this table.
fn nab_grid(root: &Path, refine: bool) -> Result<(), String> {
    let t0 = Instant::now();
    let configs = if refine { refine_grid() } else { grid() };
    let rows = run_grid(root, &configs)?;
    println!("{} configurations scored on the tuning part in {:.2?}", rows.len(), t0.elapsed());
    print!("{}", render_grid(&rows));
    Ok(())
}

/// Leave-one-category-out over the grid on every file present ([`crate::eval::nab_loco`]).
fn nab_loco(root: &Path, refine: bool) -> Result<(), String> {
    let t0 = Instant::now();
    let configs = if refine { refine_grid() } else { grid() };
    let report = run_loco(root, &configs)?;
    println!(
        "{} configurations scored on every file present in {:.2?}; standard profile, each category \
         left out in turn (held out) beside the same selection on all files (in-sample)\n",
        configs.len(),
        t0.elapsed()
    );
    print!("{}", render_loco(&report));
    Ok(())
}

/// The rows of one file scoring at least `min` with [`StreamParams::default`].
fn nab_rows(file: &Path, min: f64) -> Result<(), String> {
    let s = crate::eval::nab_io::read_series(file, &file.display().to_string())?;
    let scores = stream_scorer(StreamParams::default())(&s);
    println!("{} rows; those scoring at least {min}:", scores.len());
    for (i, score) in scores.iter().enumerate().filter(|(_, v)| **v >= min) {
        println!("{i:>6} {} value {:>12.4} score {score:.5}", s.timestamps[i], s.values[i]);
    }
    Ok(())
}

fn nab_verify(root: &Path) -> Result<(), String> {
    let rows = verify_shipped(root, "windowedGaussian")?;
    let bad = rows.iter().filter(|r| !r.matches()).count();
    for r in rows.iter().filter(|r| !r.matches()) {
        println!("MISMATCH {} {}: ours {:?} shipped {:?}", r.profile, r.name, r.ours, r.shipped);
    }
    println!("{} passed, {} failed", rows.len() - bad, bad);
    if bad > 0 {
        Err("port mismatch".into())
    } else {
        Ok(())
    }
}

/// `eval series <dir>`: the detection job's pass replayed over a labelled directory.
fn series(root: &Path, gates: &Gates) -> Result<(), String> {
    let t0 = Instant::now();
    let report = crate::eval::series::evaluate(root, gates)?;
    println!(
        "{} replayed period by period in {:.2?}; gates ${} / {} % / score {}, lookback {} days\n",
        root.display(),
        t0.elapsed(),
        gates.thresholds.default.min_impact,
        gates.thresholds.default.min_percent,
        gates.thresholds.default.min_score,
        gates.lookback_days
    );
    print!("{}", crate::eval::series::render(&report));
    Ok(())
}

/// `eval scenarios`: generate, write in NAB layout to a scratch directory, run `series` on it.
fn scenarios(per_family: usize, min_score: Option<f64>, seed: u64, gates: &Gates) -> Result<(), String> {
    let mut gates = gates.clone();
    if let Some(s) = min_score {
        gates.thresholds.default.min_score = s;
    }
    // The generated scenarios label drops as anomalies to find, so they are scored with drops
    // announced (`[anomaly] alert_drops = true`); by default the product only informs of them.
    gates.thresholds.alert_drops = true;
    let dir = std::env::temp_dir().join(format!("costbot-scenarios-{seed}-{per_family}-{}", std::process::id()));
    write_layout(&dir, &generate(seed, per_family))?;
    println!("{} series x {} days (seed {seed}) written to {}", per_family * FAMILIES.len(), DAYS, dir.display());
    let res = series(&dir, &gates);
    // The directory is scratch; failing to remove it only leaves a temp dir behind.
    let _ = std::fs::remove_dir_all(&dir);
    res
}
