//! The `costbot` binary as a user runs it.

use std::process::Command;

fn costbot(args: &[&str], dir: &std::path::Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_costbot"))
        .args(args)
        .current_dir(dir)
        .env_remove("COSTBOT_CONFIG")
        .output()
        .expect("run costbot");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn demo_fills_an_embedded_store_and_says_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = costbot(&["demo", "--db", "demo.sqlite", "--no-serve"], dir.path());
    assert!(ok, "{out}");
    assert!(out.contains("SIMULATED"), "{out}");
    let path = std::fs::canonicalize(dir.path().join("demo.sqlite")).unwrap();
    assert!(out.contains(&path.display().to_string()), "{out}");
    assert!(out.contains("(simulated)"), "every account is labelled: {out}");
    // Running the demo again reuses the store: the collection is incremental.
    let (ok, again) = costbot(&["demo", "--db", "demo.sqlite", "--no-serve"], dir.path());
    assert!(ok, "{again}");
}

#[test]
fn config_check_names_unknown_keys_and_never_prints_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "[aws]\nregoin = \"eu-west-1\"\n").unwrap();
    let (ok, out) = costbot(&["--config", "bad.toml", "config", "check"], dir.path());
    assert!(!ok);
    assert!(out.contains("regoin"), "{out}");

    std::fs::write(
        dir.path().join("good.toml"),
        "[database]\nurl = \"postgres://costbot:hunter2@db.internal/costbot\"\n\
         [[accounts]]\nid = \"123456789012\"\nname = \"payer\"\ncost_explorer = true\n",
    )
    .unwrap();
    let (ok, out) = costbot(&["--config", "good.toml", "config", "check"], dir.path());
    assert!(ok, "{out}");
    assert!(out.contains("123456789012 payer") && !out.contains("hunter2"), "{out}");

    let (ok, out) = costbot(&["--config", "missing.toml", "config", "check"], dir.path());
    assert!(!ok && out.contains("missing.toml"), "{out}");
}

#[test]
fn collecting_an_unknown_account_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[database]\nsqlite_path = \"c.sqlite\"\n[[accounts]]\nid = \"123456789012\"\ncost_explorer = true\n",
    )
    .unwrap();
    let (ok, out) = costbot(&["--config", "c.toml", "collect", "costs", "--account", "999999999999"], dir.path());
    assert!(!ok);
    assert!(out.contains("999999999999") && out.contains("not in the configuration"), "{out}");
    let (ok, out) = costbot(&["--config", "c.toml", "collect", "costs", "--account", "12"], dir.path());
    assert!(!ok && out.contains("not an AWS account id"), "{out}");
}

#[test]
fn the_example_configuration_stays_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(env!("CARGO_BIN_EXE_costbot"))
        .args(["--config", "costbot.example.toml", "config", "check"])
        .current_dir(root)
        .env("COSTBOT_ACQUIRED_EXTERNAL_ID", "example-external-id")
        .env("COSTBOT_SLACK_BOT_TOKEN", "xoxb-example")
        .env("COSTBOT_SLACK_SIGNING_SECRET", "example-secret")
        .output()
        .expect("run costbot");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("configuration is valid"), "{text}");
}
