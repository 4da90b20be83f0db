//! The hostile-input harness (issue 16, item 7): a million seeded random and mutated inputs
//! per target through the paths that face the Internet, counting panics instead of stopping
//! at the first. The targets are described in `tests/it/security/fuzz_harness.rs`, which the
//! test suite also runs as a smoke test; figures are in `docs/security.md`.
//!
//! Run: `cargo run --release --example fuzz -- [inputs per target] [seed] [targets]` (default
//! 1,000,000, 16 and every target; targets are comma-separated names from
//! `fuzz_harness::TARGETS`). Exit status 1 if any input panicked.

#[path = "../tests/it/security/fuzz_harness.rs"]
mod fuzz_harness;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let only: Vec<String> = args.next().map(|a| a.split(',').map(str::to_string).collect()).unwrap_or_default();
    if let Some(unknown) = only.iter().find(|t| !fuzz_harness::TARGETS.contains(&t.as_str())) {
        anyhow::bail!("unknown target `{unknown}`; the targets are {}", fuzz_harness::TARGETS.join(", "));
    }
    let only: Vec<&str> = only.iter().map(String::as_str).collect();
    // Panics are counted and summarised; the default hook would print every one.
    std::panic::set_hook(Box::new(fuzz_harness::quiet_hook));
    let outcomes = fuzz_harness::run(n, seed, &only).await?;
    for outcome in &outcomes {
        println!("{outcome}");
    }
    if outcomes.iter().any(|o| o.panics.count > 0) {
        std::process::exit(1);
    }
    Ok(())
}
