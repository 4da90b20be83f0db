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
