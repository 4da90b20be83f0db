//! The hostile-input harness (issue 16, item 7): a million seeded random and mutated inputs
//! per target through the paths that face the Internet, counting panics instead of stopping
//! at the first. The targets are described in `tests/it/security/fuzz_harness.rs`, which the
//! test suite also runs as a smoke test; figures are in `docs/security.md`.
//!
//! Run: `cargo run --release --example fuzz -- [inputs per target] [seed]` (default 1,000,000
//! and 16). Exit status 1 if any input panicked.

#[path = "../tests/it/security/fuzz_harness.rs"]
mod fuzz_harness;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    // Panics are counted and summarised; the default hook would print every one.
    std::panic::set_hook(Box::new(|_| {}));
    let outcomes = fuzz_harness::run(n, seed).await?;
    for outcome in &outcomes {
        println!("{outcome}");
    }
    if outcomes.iter().any(|o| o.panics.count > 0) {
        std::process::exit(1);
    }
    Ok(())
}
