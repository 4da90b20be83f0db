//! End to end in a real browser: `costbot demo` as a child process, driven through Debian's
//! headless Chromium by chromedriver (W3C WebDriver over plain HTTP, spoken here with reqwest,
//! so no driver crate is needed). It loads the dashboard, types `/cost mtd by service` into
//! the console, clicks Approve on a proposal, and checks the card and the audit log change.
//! Screenshots go to `$CARGO_TARGET_DIR/screenshots/` (printed), for a reviewer to look at.
//!
//! `scripts/test.sh` installs `chromium` and `chromium-driver` when they are missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Datelike, Days, Utc};
use costbot::domain::{DateRange, Granularity};
use costbot::store::{CostStore, SpendGroup, SpendQuery, SqliteStore};
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Kills a child process when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `costbot demo --port 0` and returns it with the URL it printed.
fn start_demo(dir: &Path) -> (Reaped, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_costbot"))
        .args(["demo", "--port", "0", "--db"])
        .arg(dir.join("demo.sqlite"))
        .current_dir(dir)
        .env_remove("COSTBOT_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start costbot demo");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let child = Reaped(child);
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut printed = Vec::new();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) => {
                if let Some(url) = line.strip_prefix("costbot demo is running at ") {
                    return (child, url.trim().to_string());
                }
                printed.push(line);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    panic!("costbot demo printed no URL:\n{}", printed.join("\n"));
}

/// A W3C WebDriver session on chromedriver.
struct Browser {
    http: reqwest::Client,
    session: String,
    _driver: Reaped,
}

impl Browser {
    async fn start(profile: &Path) -> Browser {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "the browser test needs Debian's chromium and chromium-driver: run `bash scripts/test.sh`, or `apt-get install -y chromium chromium-driver`"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Reaped(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Flags from the machine notes: root needs --no-sandbox, and the closed network
        // refuses Chromium's background connections unless they are switched off.
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1400",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let created: Value =
            http.post(format!("{base}/session")).json(&capabilities).send().await.unwrap().json().await.unwrap();
        let session =
            created["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_string();
        Browser { http, session: format!("{base}/session/{session}"), _driver: driver }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        answer["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    async fn find(&self, css: &str) -> String {
        let found =
            self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    async fn text_of(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{element}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn script(&self, script: &str, args: Value) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// Waits up to `secs` for a script to return something other than null or false.
    async fn wait_for(&self, secs: u64, what: &str, script: &str, args: Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let value = self.script(script, args.clone()).await;
            if !(value.is_null() || value == json!(false)) {
                return value;
            }
            if Instant::now() >= deadline {
                let page = self.script("return document.getElementById('status')?.textContent;", json!([])).await;
                panic!("timed out waiting for {what}; the page's status line says {page}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(data.as_str().unwrap()).unwrap();
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
        let dir = target.join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        println!("screenshot: {}", path.display());
        path
    }
}

impl Drop for Browser {
    /// Ends the session, which closes Chromium (killing chromedriver alone would leave it
    /// running), also when an assertion failed. Blocking and raw, because `Drop` cannot await.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let Some((host, path)) = self.session.strip_prefix("http://").and_then(|rest| rest.split_once('/')) else {
            return;
        };
        if let Ok(mut stream) = std::net::TcpStream::connect(host) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
            let _ = write!(
                stream,
                "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
        }
    }
}

/// The card holding the first enabled Approve button whose action needs one approver, as
/// `[message id, action]`.
const FIRST_SINGLE_APPROVAL: &str = r#"
for (const b of document.querySelectorAll('#messages button[data-verb="approve"]')) {
  const card = b.closest('article');
  if (!b.disabled && card.textContent.includes('Waiting for 1 of 1 approvals') && !b.dataset.confirm) {
    return [card.dataset.id, b.dataset.action];
  }
}
return null;"#;

#[tokio::test]
async fn the_demo_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let (_demo, url) = start_demo(dir.path());
    let browser = Browser::start(&dir.path().join("chromium-profile")).await;

    // The dashboard, with month-to-date from the store.
    browser.goto(&format!("{url}dashboard")).await;
    let mtd = browser.text_of("#card-mtd .value").await;
    assert!(mtd.starts_with('$'), "{mtd}");
    browser.screenshot("demo-dashboard").await;

    // The console: type a command, see the answer with the store's numbers.
    browser.goto(&url).await;
    browser
        .wait_for(
            30,
            "the channel's messages",
            "return document.querySelectorAll('#messages article').length > 0;",
            json!([]),
        )
        .await;
    let input = browser.find("#command").await;
    browser
        .call(
            reqwest::Method::POST,
            &format!("/element/{input}/value"),
            Some(json!({"text": "/cost mtd by service\u{E007}"})),
        )
        .await;
    let answer = browser
        .wait_for(30, "the answer", "const a = [...document.querySelectorAll('#messages article:not(.mine)')].pop(); return a && a.textContent.includes('by service') ? a.innerText : null;", json!([]))
        .await;
    let answer = answer.as_str().unwrap().to_string();
    let store = SqliteStore::open(&dir.path().join("demo.sqlite")).await.unwrap();
    let today = Utc::now().date_naive();
    let month = DateRange::new(today.with_day(1).unwrap(), today + Days::new(1)).unwrap();
    let query = SpendQuery { granularity: Granularity::Daily, range: month, accounts: None, services: None };
    let top = store.spend(&query, SpendGroup::Service).await.unwrap()[0].clone();
    let total = store.spend(&query, SpendGroup::Total).await.unwrap()[0].amount;
    assert!(
        answer.contains(&top.key) && answer.contains(&top.amount.to_string()),
        "the top service row ({} {}) in:\n{answer}",
        top.key,
        top.amount
    );
    assert!(answer.contains(&total.to_string()), "the total {total} in:\n{answer}");
    browser.screenshot("demo-console-answer").await;

    // Approve a proposal as `you` (an approver): the card changes, then the dry run finishes.
    let found = browser.wait_for(30, "an approval card", FIRST_SINGLE_APPROVAL, json!([])).await;
    let (message, action) = (found[0].as_str().unwrap().to_string(), found[1].as_str().unwrap().to_string());
    let target = action.split(':').nth(1).unwrap().to_string();
    browser.script("document.getElementById('msg-' + arguments[0]).scrollIntoView();", json!([message])).await;
    let button = browser.find(&format!("#msg-{message} button[data-action=\"{action}\"]")).await;
    let clicked = browser.call(reqwest::Method::POST, &format!("/element/{button}/click"), Some(json!({}))).await;
    assert!(clicked.is_null(), "the click was refused by the browser: {clicked}");
    let card_text = "const c = document.getElementById('msg-' + arguments[0]); return c && !c.textContent.includes('Waiting for') ? c.innerText : null;";
    let changed = browser.wait_for(30, "the card to change", card_text, json!([message])).await;
    assert!(
        changed.as_str().unwrap().contains("Approved") || changed.as_str().unwrap().contains("Dry run"),
        "{changed}"
    );
    let dry_run = "const c = document.getElementById('msg-' + arguments[0]); return c && c.textContent.includes('Dry run') ? c.innerText : null;";
    let done = browser.wait_for(60, "the dry run's outcome on the card", dry_run, json!([message])).await;
    assert!(done.as_str().unwrap().contains("Nothing was changed"), "{done}");
    browser
        .script("document.getElementById('msg-' + arguments[0]).scrollIntoView({block: 'center'});", json!([message]))
        .await;
    browser.screenshot("demo-console-approved").await;

    // The audit log on the dashboard has the approval, and the chain verifies.
    browser.goto(&format!("{url}dashboard")).await;
    let audit = browser.text_of("#audit").await;
    assert!(
        audit.lines().any(|l| l.contains("console:you") && l.contains("proposal_approved") && l.contains(&target)),
        "{audit}"
    );
    let status = browser.text_of("#audit-status").await;
    assert!(status.contains("verified"), "{status}");
    let head = browser.text_of("#audit-head").await;
    assert!(head.contains("checkpoint") && head.contains(':'), "the head to keep outside the database: {head}");
    browser.script("document.getElementById('audit').scrollIntoView();", json!([])).await;
    browser.screenshot("demo-dashboard-audit").await;
}
