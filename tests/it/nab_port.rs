//! Exact-match check of the NAB scorer port against NAB's shipped Windowed Gaussian results.

use costbot::eval::nab_run::verify_shipped;
use std::path::{Path, PathBuf};

fn check(root: &Path, min_rows: usize) {
    check_detector(root, "windowedGaussian", min_rows);
}

fn check_detector(root: &Path, detector: &str, min_rows: usize) {
    let rows = verify_shipped(root, detector).expect("verify");
    assert!(rows.len() >= min_rows, "only {} rows verified under {}", rows.len(), root.display());
    for r in &rows {
        assert!(r.matches(), "{} {}: ours {:?} shipped {:?}", r.profile, r.name, r.ours, r.shipped);
    }
    println!("{detector}: {} file/profile rows match exactly under {}", rows.len(), root.display());
}

#[test]
fn port_matches_bundled_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nab");
    // Two files times three profiles.
    check(&root, 6);
}

#[test]
fn port_matches_full_nab_checkout_when_present() {
    // The main repository sits next to `shared/`; this scratch crate sits one level deeper.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = std::env::var_os("COSTBOT_NAB_DIR").map(PathBuf::from).unwrap_or_else(|| {
        [here.join("../shared/data/nab"), here.join("../../shared/data/nab")]
            .into_iter()
            .find(|p| p.is_dir())
            .unwrap_or_else(|| here.join("../shared/data/nab"))
    });
    if !root.join("results/windowedGaussian").is_dir() {
        println!("skipping: no NAB checkout at {} (set COSTBOT_NAB_DIR)", root.display());
        return;
    }
    check(&root, 1);
    if root.join("results/null").is_dir() {
        check_detector(&root, "null", 1);
    }
}

/// costbot's NAB scores on the bundled excerpt, pinned so that a change that lowers them
/// fails here. The figures come from `costbot eval nab tests/data/nab`; a change that raises
/// them fails too, on purpose: update the pins (and docs/benchmarks.md) in the same commit,
/// so a higher figure is always one that was measured.
#[test]
fn costbot_scores_on_the_bundled_excerpt_are_pinned() {
    use costbot::domain::anomaly::StreamParams;
    use costbot::eval::nab_report::{evaluate, stream_scorer};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nab");
    let reports = evaluate(&root, &stream_scorer(StreamParams::default())).expect("evaluate the excerpt");
    // (profile, group, normalised score)
    let pinned: [(&str, &str, f64); 10] = [
        ("standard", "tuning", 31.03),
        ("standard", "untuned", 72.29),
        ("standard", "all", 58.54),
        ("standard", "artificialNoAnomaly", 0.00),
        ("standard", "artificialWithAnomaly", 93.03),
        ("standard", "realAWSCloudwatch", 16.39),
        ("standard", "realAdExchange", 92.06),
        ("reward_low_FN_rate", "all", 61.25),
        ("reward_low_FP_rate", "all", 54.87),
        ("reward_low_FP_rate", "untuned", 66.79),
    ];
    let mut failures = Vec::new();
    for (profile, group, want) in pinned {
        let r = reports.iter().find(|r| r.profile == profile).expect("profile present");
        let got = r.group(group).expect("group present").ours.normalized;
        if (got - want).abs() > 0.005 {
            failures.push(format!("{profile}/{group}: {got:.2}, pinned {want:.2}"));
        }
    }
    // The artificial file without anomalies must stay free of detections at the tuned threshold.
    let std = reports.iter().find(|r| r.profile == "standard").expect("standard");
    let quiet = std.group("artificialNoAnomaly").expect("category present");
    assert_eq!(quiet.ours.outcome.fp, 0, "false positives on art_daily_small_noise");
    assert!(
        failures.is_empty(),
        "NAB scores moved (update the pins only with a measured change):\n{}",
        failures.join("\n")
    );
}

/// Leave-one-category-out end to end on the bundled excerpt (files read, every category left
/// out, Windowed Gaussian from the shipped results), with two configurations so the test
/// stays quick in a debug build; the full grid runs through `costbot eval nab-loco`.
#[test]
fn leave_one_category_out_scores_every_file_once_and_matches_the_report_for_wg() {
    use costbot::domain::anomaly::StreamParams;
    use costbot::eval::nab::normalize;
    use costbot::eval::nab_loco::{run_loco, Rule};
    use costbot::eval::nab_report::{evaluate, stream_scorer};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nab");
    let other = StreamParams { likelihood_window: 1000, min_sd: 0.1, ..StreamParams::default() };
    let report = run_loco(&root, &[other, StreamParams::default()]).expect("loco on the excerpt");
    let cost = report.cost;
    let reports = evaluate(&root, &stream_scorer(StreamParams::default())).expect("evaluate the excerpt");
    let standard = reports.iter().find(|r| r.profile == "standard").expect("standard");
    let all = standard.group("all").expect("all");
    for (rule, held, ins) in &report.selections {
        // Every category is scored once on each side, so both sides cover every window.
        assert_eq!(held.total.windows, all.ours.outcome.windows, "{rule:?}");
        assert_eq!(ins.total.windows, all.ours.outcome.windows, "{rule:?}");
        assert_eq!(held.total.total, all.ours.outcome.total, "{rule:?} rows");
        assert_eq!(held.by_category.len(), 4, "{rule:?}: the excerpt's four categories");
    }
    // The shipped defaults are the second configuration: with only the threshold left out.
    let defaults = report.defaults_threshold_only.as_ref().expect("the defaults are in the grid");
    assert!(defaults.by_category.values().all(|(k, _)| *k == 1));
    // The pooled in-sample figure of the defaults is NAB's corpus optimum over all files, at
    // least what the fixed split's tuning-part threshold gives them.
    let pooled = report.defaults_in_sample.expect("defaults in the grid");
    assert!(pooled >= all.ours.normalized - 1e-9, "in-sample {pooled:.2} below the split's {:.2}", all.ours.normalized);
    // Windowed Gaussian per category is the report's.
    for (c, o) in &report.wg {
        let g = standard.group(c).and_then(|g| g.wg).expect("WG for the category");
        assert!((normalize(o.score, o.windows, cost) - g.normalized).abs() < 1e-9, "{c}");
    }
    assert!(report.selections.iter().any(|(r, _, _)| *r == Rule::MeanOfCategories));
}

/// `costbot eval nab-rows` lists the rows of one file at or above a score, with their
/// timestamps: on the excerpt's jump, the strongest rows are inside its label window.
#[test]
fn nab_rows_lists_the_detections_of_one_file() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nab/data/artificialWithAnomaly/art_daily_jumpsup.csv");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_costbot"))
        .args(["eval", "nab-rows", file.to_str().expect("utf-8 path"), "0.99"])
        .output()
        .expect("run costbot");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let rows = std::fs::read_to_string(&file).expect("read the csv").lines().count() - 1;
    assert!(text.starts_with(&format!("{rows} rows;")), "{text}");
    let listed: Vec<&str> = text.lines().skip(1).collect();
    assert!(!listed.is_empty(), "the jump scores at least 0.99 somewhere");
    for line in &listed {
        let score: f64 = line.rsplit(' ').next().and_then(|s| s.parse().ok()).expect("a score at the end");
        assert!(score >= 0.99, "{line}");
        // The label window of art_daily_jumpsup is 2014-04-10 16:15 to 2014-04-12 01:45.
        assert!(line.contains("2014-04-10") || line.contains("2014-04-11") || line.contains("2014-04-12"), "{line}");
    }
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_costbot"))
        .args(["eval", "nab-rows", file.to_str().expect("utf-8 path"), "high"])
        .output()
        .expect("run costbot");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("the score must be a number"));
}

/// The NAB commands refuse a root that is not in NAB layout instead of reporting zeros: a
/// missing root names the labels file it needs, and a root whose data folders hold no CSV
/// says so (before this check, `nab-loco` printed 0.00 for every figure and exited 0).
#[test]
fn nab_commands_refuse_a_root_without_files() {
    let excerpt = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nab");
    let empty = tempfile::tempdir().expect("temp dir");
    for sub in ["config", "labels", "results"] {
        copy_dir(&excerpt.join(sub), &empty.path().join(sub));
    }
    std::fs::create_dir_all(empty.path().join("data/realTweets")).expect("empty category");
    let missing = empty.path().join("missing");
    for command in ["nab", "nab-loco", "nab-grid"] {
        let run = |root: &Path| {
            std::process::Command::new(env!("CARGO_BIN_EXE_costbot"))
                .args(["eval", command, root.to_str().expect("utf-8 path")])
                .output()
                .expect("run costbot")
        };
        let out = run(&missing);
        assert!(!out.status.success(), "{command} on a missing root");
        assert!(String::from_utf8_lossy(&out.stderr).contains("No such file"), "{command}: {out:?}");
        let out = run(empty.path());
        assert!(!out.status.success(), "{command} on a root without CSV files");
        assert!(String::from_utf8_lossy(&out.stderr).contains("no CSV files"), "{command}: {out:?}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}
