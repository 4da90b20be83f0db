//! The hostile-input harness (issue 16, item 7): seeded random and mutated inputs through the
//! paths that face the Internet, counting panics instead of stopping at the first.
//!
//! Targets:
//! - `commands`: arbitrary Unicode through `/cost` parsing, period checks and resolution; every
//!   `ANSWER_EVERY`-th parsed command is also answered from a small simulated store.
//! - `slack-command`, `slack-interaction`: the fixtures' form bodies and interaction JSON,
//!   mutated, signed, then verified and parsed exactly as `/slack/*` does.
//! - `discord`: the fixtures' interaction JSON, mutated, parsed and converted as
//!   `/discord/interactions` does after verification (every `VERIFY_EVERY`-th one is signed and
//!   verified too; Ed25519 signing dominates the cost otherwise).
//!
//! Shared by `examples/fuzz.rs` (the full run: `cargo run --release --example fuzz -- [inputs
//! per target] [seed] [targets]`) and the smoke run in the test suite (`security::hostile`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use chrono::Utc;
use costbot::answers::Answers;
use costbot::app::App;
use costbot::chat::discord::convert::convert;
use costbot::chat::discord::verify::SignatureVerifier;
use costbot::chat::slack::origin::Origin;
use costbot::chat::slack::{parse, verify};
use costbot::commands::{self, Command};
use costbot::config::Config;
use costbot::store::{DynStore, SqliteStore};
use ed25519_dalek::{Signer, SigningKey};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use secrecy::SecretString;

/// One answered report per this many parsed ones (an answer reads the store; a million of
/// them would measure SQLite, not hostile input).
const ANSWER_EVERY: u64 = 1_000;
/// One signed-and-verified Discord request per this many.
const VERIFY_EVERY: u64 = 100;

/// Words and fragments that have broken parsers before: huge years, signs, separators,
/// quotes, numbers past i64, and control characters.
const TOKENS: &[&str] = &[
    "+262142-12-31",
    "-2026-01-01",
    "9999-12-31",
    "2026-02-30",
    "2026-13",
    "..",
    "=",
    "\"",
    "“",
    "”",
    "last",
    "this",
    "by",
    "top",
    "compare",
    "forecast",
    "service=",
    "account=",
    "400d",
    "0d",
    "18446744073709551616",
    "-1",
    "\u{0}",
    "\u{202e}",
    "\u{1F4B8}",
    "%",
    "%ZZ",
    "&",
    "{",
    "}",
    "[",
    "]",
    ":",
    "null",
    "1e309",
    "-9223372036854775809",
    "\\u0000",
];

fn random_text(rng: &mut ChaCha8Rng) -> String {
    let mut text = String::new();
    for _ in 0..rng.gen_range(0..12) {
        if rng.gen_bool(0.5) {
            text.push_str(TOKENS[rng.gen_range(0..TOKENS.len())]);
        } else {
            for _ in 0..rng.gen_range(1..10) {
                // Any scalar value, including surrogates' neighbours and private use.
                text.push(char::from_u32(rng.gen_range(0..0x11_0000)).unwrap_or('\u{fffd}'));
            }
        }
        text.push(if rng.gen_bool(0.8) { ' ' } else { '\t' });
    }
    text
}

/// Byte-level mutations of a valid input: flips, insertions of tokens, deletions, splices.
fn mutate(rng: &mut ChaCha8Rng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..rng.gen_range(1..3) {
        let at = if out.is_empty() { 0 } else { rng.gen_range(0..out.len()) };
        match rng.gen_range(0..5) {
            0 if !out.is_empty() => out[at] ^= 1 << rng.gen_range(0..8),
            1 => {
                let token = TOKENS[rng.gen_range(0..TOKENS.len())].as_bytes();
                out.splice(at..at, token.iter().copied());
            }
            2 if !out.is_empty() => {
                let end = (at + rng.gen_range(1..32)).min(out.len());
                out.drain(at..end);
            }
            3 => {
                let end = (at + rng.gen_range(1..64)).min(out.len());
                let copy = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
            _ => {
                let byte = rng.gen::<u8>();
                out.insert(at, byte);
            }
        }
    }
    out
}

/// Panics seen: how many, and the first few inputs that caused one (whole, with where it
/// panicked, so a finding can be reproduced and fixed).
#[derive(Default)]
pub struct Panics {
    /// How many inputs panicked.
    pub count: u64,
    /// The first few of them, with the panic's message and location when the hook saw it.
    pub samples: Vec<(String, String)>,
}

impl Panics {
    fn record(&mut self, what: &str) {
        self.count += 1;
        let seen = LAST_PANIC.lock().ok().and_then(|mut last| last.take()).unwrap_or_default();
        if self.samples.len() < 20 {
            self.samples.push((what.to_string(), seen));
        }
    }
}

/// The last panic's message and location, kept by [`quiet_hook`].
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// A panic hook that prints nothing and keeps the panic's message and location for
/// [`Panics`]; the full run installs it so a million inputs do not flood the terminal.
#[allow(dead_code, reason = "used by examples/fuzz.rs; the suite's smoke run keeps the default hook")]
pub fn quiet_hook(info: &std::panic::PanicHookInfo<'_>) {
    if let Ok(mut last) = LAST_PANIC.lock() {
        *last = Some(info.to_string());
    }
}

/// Runs `input` once, counting a panic instead of stopping.
fn guarded(panics: &mut Panics, what: &str, input: impl FnOnce()) {
    // A panic caught inside the input (as the Discord parser does) must not be blamed on a
    // later one.
    if let Ok(mut last) = LAST_PANIC.lock() {
        last.take();
    }
    if catch_unwind(AssertUnwindSafe(input)).is_err() {
        panics.record(what);
    }
}

fn data(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_default()
}

async fn small_store() -> anyhow::Result<(DynStore, Arc<Answers<dyn costbot::store::Store>>)> {
    let store: DynStore = Arc::new(SqliteStore::in_memory().await?);
    let now = Utc::now().naive_utc();
    let config = Config::from_toml("[costs]\nsource = \"simulated\"\nbackfill_days = 14\nbreakdown_every_hours = 0\n")?;
    let app = App::with_store(config, store.clone(), now).await?;
    app.collector.run(now.date(), None, None).await?;
    Ok((store.clone(), Arc::new(Answers::new(store))))
}

/// What one target saw.
pub struct Outcome {
    /// The target's name.
    pub target: &'static str,
    /// Inputs tried.
    pub inputs: u64,
    /// Panics, and the first inputs that caused them.
    pub panics: Panics,
    /// What else was counted (how many verified, parsed, answered).
    pub note: String,
    /// Wall time.
    pub seconds: f64,
}

impl Outcome {
    fn new(target: &'static str, inputs: u64, panics: Panics, started: std::time::Instant, note: &str) -> Outcome {
        Outcome { target, inputs, panics, note: note.to_string(), seconds: started.elapsed().as_secs_f64() }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} inputs, {} panics, {}, {:.1} s",
            self.target, self.inputs, self.panics.count, self.note, self.seconds
        )?;
        for (input, seen) in &self.panics.samples {
            write!(f, "\n  panicked on: {input:?}\n  at: {seen}")?;
        }
        Ok(())
    }
}

/// The targets, in the order they run.
pub const TARGETS: [&str; 4] = ["commands", "slack-command", "slack-interaction", "discord"];

/// A target's own generator, so each target's inputs depend only on the seed and its name,
/// not on which other targets ran before it.
fn rng_for(seed: u64, target: &str) -> ChaCha8Rng {
    let name = target.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    ChaCha8Rng::seed_from_u64(seed ^ name)
}

/// Runs the targets named in `only` (every target when it is empty) with `n` inputs each
/// from `seed`; one outcome per target run.
pub async fn run(n: u64, seed: u64, only: &[&str]) -> anyhow::Result<Vec<Outcome>> {
    let selected = |target: &str| only.is_empty() || only.contains(&target);
    let mut outcomes = Vec::new();
    if selected("commands") {
        outcomes.push(commands_target(n, seed).await?);
    }
    for (name, is_command) in [("slack-command", true), ("slack-interaction", false)] {
        if selected(name) {
            outcomes.push(slack_target(name, is_command, n, seed));
        }
    }
    if selected("discord") {
        outcomes.push(discord_target(n, seed)?);
    }
    Ok(outcomes)
}

async fn commands_target(n: u64, seed: u64) -> anyhow::Result<Outcome> {
    let mut rng = rng_for(seed, "commands");
    let today = Utc::now().date_naive();
    let (_store, answers) = small_store().await?;
    let (mut panics, mut answered, mut reports) = (Panics::default(), 0u64, 0u64);
    let started = std::time::Instant::now();
    for _ in 0..n {
        let text = random_text(&mut rng);
        let mut parsed = None;
        guarded(&mut panics, &text, || {
            if let Ok(Command::Report(report)) = commands::parse(&text) {
                let _ = report.period.check(today);
                let _ = (report.period.resolve(today), report.period.previous(today), report.period.label());
                parsed = Some(report);
            }
        });
        reports += u64::from(parsed.is_some());
        if let Some(report) = parsed.filter(|_| reports % ANSWER_EVERY == 1) {
            let answer = AssertUnwindSafe(answers.report(&report, None, today));
            if futures::FutureExt::catch_unwind(answer).await.is_err() {
                panics.record(&format!("answer: {text}"));
            }
            answered += 1;
        }
    }
    Ok(Outcome::new(
        "commands",
        n,
        panics,
        started,
        &format!("{reports} parsed as reports, {answered} answered from the store"),
    ))
}

fn slack_target(name: &'static str, is_command: bool, n: u64, seed: u64) -> Outcome {
    let mut rng = rng_for(seed, name);
    let secret = SecretString::from("fuzz-signing-secret");
    let verifier = verify::Verifier::new(vec![secret.clone()]);
    let forms = [
        data("slack/slash_command.modified-real.form-urlencoded.txt"),
        data("slack/slash_command.slack-docs-example.form-urlencoded.txt"),
    ];
    let clicks: Vec<Vec<u8>> = [
        "block_actions.button.message-container.bolt-python.json",
        "block_actions.button.slack-docs-example.json",
        "block_actions.button-with-confirm.home-view.json",
    ]
    .iter()
    .map(|f| {
        serde_urlencoded::to_string([("payload", String::from_utf8_lossy(&data(&format!("slack/{f}"))).to_string())])
            .unwrap_or_default()
            .into_bytes()
    })
    .collect();
    let seeds = if is_command { &forms[..] } else { &clicks[..] };
    let (mut panics, started, mut verified) = (Panics::default(), std::time::Instant::now(), 0u64);
    for _ in 0..n {
        let pick = rng.gen_range(0..seeds.len());
        let body = mutate(&mut rng, &seeds[pick]);
        let ts = Utc::now().timestamp().to_string();
        let signature = verify::sign(&secret, &ts, &body);
        guarded(&mut panics, &String::from_utf8_lossy(&body), || {
            if verifier.verify_parts(&ts, &signature, &body).is_err() {
                return;
            }
            verified += 1;
            if is_command {
                let _ = Origin::of_command(&body);
                if let Ok(event) = parse::command_from_form(&body) {
                    let _ = parse::command_to_inbound(&event);
                }
            } else {
                let _ = Origin::of_interaction(&body);
                if let Ok(event) = parse::interaction_from_form(&body) {
                    let _ = parse::interaction_to_inbound(&event);
                }
            }
        });
    }
    Outcome::new(name, n, panics, started, &format!("{verified} verified"))
}

fn discord_target(n: u64, seed: u64) -> anyhow::Result<Outcome> {
    let mut rng = rng_for(seed, "discord");
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let discord_verifier = SignatureVerifier::from_bytes(key.verifying_key().to_bytes())?;
    let seeds = [
        data("discord/interaction.application_command.slash.discord-docs.json"),
        data("discord/interaction.message_component.button.discord-docs.json"),
    ];
    let (mut panics, started, mut converted) = (Panics::default(), std::time::Instant::now(), 0u64);
    for i in 0..n {
        let pick = rng.gen_range(0..seeds.len());
        let body = mutate(&mut rng, &seeds[pick]);
        let signed = (i % VERIFY_EVERY == 0).then(|| {
            let ts = Utc::now().timestamp().to_string();
            let signature = hex::encode(key.sign(&[ts.as_bytes(), &body].concat()).to_bytes());
            (ts, signature)
        });
        guarded(&mut panics, &String::from_utf8_lossy(&body), || {
            if let Some((ts, signature)) = &signed {
                if discord_verifier.verify(signature, ts, &body).is_err() {
                    return;
                }
            }
            if let Ok(interaction) = costbot::chat::discord::convert::parse_interaction(&body) {
                let _ = convert(&interaction);
                converted += 1;
            }
        });
    }
    Ok(Outcome::new("discord", n, panics, started, &format!("{converted} parsed and converted")))
}
