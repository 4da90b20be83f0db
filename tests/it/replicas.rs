//! Scale-out: three `costbot serve` processes on loopback ports share one Postgres database.
//! Exactly one leads and runs the scheduled jobs, each tick runs once, every replica answers
//! HTTP, a killed leader is replaced within a bounded time, a leader stopped with SIGTERM hands
//! over at once, and approvals made before and during the takeover are each executed exactly
//! once.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use costbot::domain::proposal::{Proposal, State};
use costbot::leadership::LEADER_LEASE;
use costbot::store::{DynStore, PgStore};
use serde_json::{json, Value};

use crate::slack::fake::{command_body, data, interaction_body, post_signed, FakeSlack};

pub const SECRET: &str = "replica-signing-secret";

/// A `costbot serve` child process.
pub struct Replica {
    /// Its `HOSTNAME`, the prefix of its replica name in lease and claim rows.
    pub name: String,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its stderr (the logs), as a file.
    pub log: PathBuf,
    child: tokio::process::Child,
}

impl Replica {
    /// Starts `costbot serve` with `config` (a `[server] listen` line is added) and JSON logs.
    pub fn start(dir: &Path, name: &str, config: &str) -> Replica {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, format!("{config}\n[server]\nlisten = \"127.0.0.1:{port}\"\nleader_lease_seconds = 3\n"))
            .unwrap();
        let log = dir.join(format!("{name}.log"));
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_costbot"))
            .args(["--config", file.to_str().unwrap(), "serve"])
            .current_dir(dir)
            .env("HOSTNAME", name)
            .env("COSTBOT_LOG_FORMAT", "json")
            .env("COSTBOT_LOG", "info,costbot::scheduler=debug")
            .env("REPLICA_SLACK_TOKEN", "xoxb-replica")
            .env("REPLICA_SLACK_SECRET", SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .kill_on_drop(true)
            .spawn()
            .expect("start costbot serve");
        Replica { name: name.to_string(), url: format!("http://127.0.0.1:{port}"), log, child }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Waits until `/readyz` answers 200.
    pub async fn ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if get(&format!("{}/readyz", self.url)).await.is_some_and(|(status, _)| status == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{} was not ready within {within:?}; log:\n{}", self.name, self.logs());
    }

    /// This replica's `costbot_is_leader`, if it answers.
    pub async fn is_leader(&self) -> Option<bool> {
        let (_, text) = get(&format!("{}/metrics", self.url)).await?;
        sample(&text, "costbot_is_leader").map(|v| v == 1.0)
    }

    /// Sends SIGTERM and waits for the exit code.
    pub async fn terminate(&mut self, within: Duration) -> Option<i32> {
        let pid = self.pid().to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success());
        let status = tokio::time::timeout(within, self.child.wait()).await.expect("exits after SIGTERM").unwrap();
        status.code()
    }

    /// Kills the process (SIGKILL: no chance to release anything) and reaps it.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// Everything it logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// GET with a short timeout: `(status, body)`, or `None` when nothing answers.
pub async fn get(url: &str) -> Option<(u16, String)> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let response = client.get(url).send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// The value of an unlabelled sample, or of the first sample whose name and labels start
/// with `prefix`, in Prometheus text.
pub fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(&format!("{prefix} ")) || (prefix.contains('{') && l.starts_with(prefix)))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The URL of this test's own database (same server and credentials as `DATABASE_URL`).
fn database_url(pool: &sqlx::PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (server, _) = base.rsplit_once('/').expect("DATABASE_URL names a database");
    let name = pool.connect_options().get_database().expect("a per-test database").to_string();
    format!("{server}/{name}")
}

fn config(database: &str, slack_api: &str) -> String {
    format!(
        "[database]\nurl = \"{database}\"\nmax_connections = 4\n\
         [costs]\nsource = \"simulated\"\nschedule = \"*/2 * * * * *\"\nbackfill_days = 20\nbreakdown_every_hours = 0\n\
         [anomaly]\nenabled = false\n\
         [waste]\nschedule = \"1/3 * * * * *\"\n\
         [slack]\nbot_token = {{ env = \"REPLICA_SLACK_TOKEN\" }}\nsigning_secrets = [{{ env = \"REPLICA_SLACK_SECRET\" }}]\napi_url = \"{slack_api}\"\n\
         [[channels]]\nplatform = \"slack\"\nid = \"C1\"\napprovers = [\"U1\", \"U2\"]\n"
    )
}

/// The replica (by index) that reports leading, when exactly one of the live ones does.
async fn sole_leader(replicas: &[Replica], live: &[usize]) -> Option<usize> {
    let mut leaders = Vec::new();
    for &i in live {
        if replicas[i].is_leader().await? {
            leaders.push(i);
        }
    }
    (leaders.len() == 1).then(|| leaders[0])
}

/// Clicks Approve on `proposal` as each approver in turn, through `replica`'s Slack endpoint,
/// until it is approved (or done: a fast worker may have executed it already).
async fn approve(replica: &Replica, store: &DynStore, proposal: &Proposal, fake: &FakeSlack) {
    for user in ["U1", "U2"] {
        let current = store.proposal(&proposal.id).await.unwrap().unwrap();
        if current.state != State::Pending {
            break;
        }
        let mut payload: Value =
            serde_json::from_str(&data("block_actions.button.message-container.bolt-python.json")).unwrap();
        payload["actions"][0]["action_id"] = json!(format!("approve:{}:{}", current.id.0, current.version));
        payload["channel"]["id"] = json!("C1");
        payload["container"]["channel_id"] = json!("C1");
        payload["user"]["id"] = json!(user);
        payload["response_url"] = json!(fake.response_url(&format!("{}-{user}", current.id.0)));
        let clicked = post_signed(
            &format!("{}/slack/interactions", replica.url),
            SECRET,
            Utc::now().timestamp(),
            &interaction_body(&payload),
            &[],
        )
        .await;
        assert_eq!(clicked.status(), 200);
        // The click is acknowledged at once and decided in the background; wait for the decision.
        let version = current.version;
        eventually("the approval is recorded", Duration::from_secs(10), || async {
            let now = store.proposal(&proposal.id).await.unwrap().unwrap();
            (now.version > version).then_some(())
        })
        .await;
    }
}

async fn done(store: &DynStore, proposal: &Proposal) -> Option<Proposal> {
    let p = store.proposal(&proposal.id).await.unwrap()?;
    matches!(p.state, State::Done { .. }).then_some(p)
}

/// `(tick, claimed_by)` of every claimed collection tick, oldest first.
async fn ticks(pool: &sqlx::PgPool) -> Vec<(NaiveDateTime, String)> {
    sqlx::query_as(
        "SELECT scheduled_tick, claimed_by FROM job_runs WHERE job = 'collect-costs' ORDER BY scheduled_tick",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn three_replicas_run_each_tick_once_and_survive_losing_the_leader(pool: sqlx::PgPool) {
    crate::support::init();
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&database_url(&pool), &fake.api_url());
    let store: DynStore = Arc::new(PgStore::from_pool(pool.clone()));
    let mut replicas: Vec<Replica> =
        ["replica-a", "replica-b", "replica-c"].iter().map(|n| Replica::start(dir.path(), n, &config)).collect();
    for replica in &replicas {
        replica.ready(Duration::from_secs(60)).await;
    }

    // Exactly one leads, the lease row agrees, and it runs the jobs.
    let all = [0, 1, 2];
    let first = eventually("exactly one leader", Duration::from_secs(20), || sole_leader(&replicas, &all)).await;
    let lease = store.live_lease(LEADER_LEASE).await.unwrap().expect("a live lease");
    assert!(lease.holder.starts_with(&format!("{}-", replicas[first].name)), "{lease:?}");
    let pending = eventually("a few ticks and some proposals", Duration::from_secs(30), || async {
        let pending = store.proposals_in(&["pending"]).await.unwrap();
        (ticks(&pool).await.len() >= 3 && pending.len() >= 2).then_some(pending)
    })
    .await;

    // Every replica answers HTTP, leader or not, including a signed slash command.
    for replica in &replicas {
        assert_eq!(get(&format!("{}/healthz", replica.url)).await.map(|r| r.0), Some(200));
        assert_eq!(get(&format!("{}/readyz", replica.url)).await, Some((200, "ready".to_string())));
        let body = command_body("mtd", &fake.response_url("cmd"), &format!("t.{}", replica.name));
        let answer =
            post_signed(&format!("{}/slack/commands", replica.url), SECRET, Utc::now().timestamp(), &body, &[]).await;
        assert_eq!(answer.status(), 200, "{}", replica.name);
    }

    // An approval made through a follower before the leader dies is executed once.
    let follower = (first + 1) % 3;
    approve(&replicas[follower], &store, &pending[0], &fake).await;
    eventually("the first approval is executed", Duration::from_secs(30), || done(&store, &pending[0])).await;

    // Kill the leader outright. Another replica takes over within the lease (3 s), one renewal
    // interval (1 s) and generous slack for a loaded machine.
    let killed_at = Instant::now();
    replicas[first].kill().await;
    let survivors: Vec<usize> = all.iter().copied().filter(|&i| i != first).collect();
    // An approval made while nobody leads is not lost.
    approve(&replicas[survivors[0]], &store, &pending[1], &fake).await;
    let second = eventually("a new leader", Duration::from_secs(30), || sole_leader(&replicas, &survivors)).await;
    let takeover = killed_at.elapsed();
    eprintln!("takeover after killing {} took {takeover:?}", replicas[first].name);
    assert!(takeover < Duration::from_secs(20), "takeover took {takeover:?}");
    let new_lease = store.live_lease(LEADER_LEASE).await.unwrap().expect("a live lease");
    assert!(
        new_lease.holder.starts_with(&format!("{}-", replicas[second].name)) && new_lease.term > lease.term,
        "{new_lease:?}"
    );
    let claimed_by_new = |t: &[(NaiveDateTime, String)]| t.iter().filter(|(_, by)| by == &new_lease.holder).count();
    eventually("the new leader runs the jobs", Duration::from_secs(20), || async {
        (claimed_by_new(&ticks(&pool).await) >= 2).then_some(())
    })
    .await;
    eventually("the approval made during the takeover is executed", Duration::from_secs(30), || {
        done(&store, &pending[1])
    })
    .await;

    // SIGTERM the new leader: it exits 0 and releases the lease, and the last replica leads.
    let last = *survivors.iter().find(|&&i| i != second).unwrap();
    assert_eq!(replicas[second].terminate(Duration::from_secs(30)).await, Some(0), "{}", replicas[second].logs());
    let after = store.live_lease(LEADER_LEASE).await.unwrap();
    assert!(after.as_ref().is_none_or(|l| l.holder != new_lease.holder), "the lease was released: {after:?}");
    assert!(replicas[second].logs().contains("released leadership"), "{}", replicas[second].logs());
    let only_last = [last];
    eventually("the last replica leads", Duration::from_secs(15), || sole_leader(&replicas, &only_last)).await;

    check_ticks(&pool, &lease.holder, &new_lease.holder).await;
    check_executed_once(&store, &pending[..2]).await;
    check_json_logs(&replicas);
    let _ = replicas[last].terminate(Duration::from_secs(30)).await;
}

/// Each claimed tick ran one collection; ticks are claimed by one leader at a time (no
/// interleaving), with no gap longer than a takeover.
async fn check_ticks(pool: &sqlx::PgPool, first: &str, second: &str) {
    let ticks = ticks(pool).await;
    eprintln!("claimed ticks: {ticks:?}");
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM collector_runs").fetch_one(pool).await.unwrap();
    let claimed = ticks.len() as i64;
    // The killed leader may have claimed a tick and died before recording its run.
    assert!(runs == claimed || runs == claimed - 1, "{runs} runs for {claimed} claimed ticks");
    let owners: Vec<&str> = ticks.iter().map(|(_, by)| by.as_str()).collect();
    let first_new = owners.iter().position(|o| *o != first).expect("ticks after the takeover");
    assert!(owners[..first_new].iter().all(|o| *o == first), "{owners:?}");
    assert_eq!(owners[first_new], second, "{owners:?}");
    let handover = owners.iter().skip(first_new).position(|o| *o != second).map_or(owners.len(), |p| p + first_new);
    assert!(
        owners[handover..].iter().all(|o| *o != first && *o != second),
        "no tick claimed by a former leader: {owners:?}"
    );
    for pair in ticks.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap >= chrono::Duration::seconds(2), "ticks are distinct: {pair:?}");
        assert!(gap <= chrono::Duration::seconds(24), "no long gap: {pair:?}");
    }
}

/// Each approved proposal was claimed and finished once, in dry-run, by exactly one replica.
async fn check_executed_once(store: &DynStore, proposals: &[Proposal]) {
    let audit = store.audit_entries(0, 10_000).await.unwrap();
    for p in proposals {
        let actions: Vec<&str> =
            audit.iter().filter(|e| e.record.target == p.id.0).map(|e| e.record.action.as_str()).collect();
        assert_eq!(actions.iter().filter(|a| **a == "execution_claimed").count(), 1, "{}: {actions:?}", p.id.0);
        assert_eq!(actions.iter().filter(|a| **a == "execution_done").count(), 1, "{}: {actions:?}", p.id.0);
        let final_state = store.proposal(&p.id).await.unwrap().unwrap().state;
        assert!(matches!(final_state, State::Done { dry_run: true, .. }), "{final_state:?}");
    }
}

/// Every log line is one JSON object with a level, a target and a message; a scheduled job's
/// lines carry the job's span fields.
fn check_json_logs(replicas: &[Replica]) {
    let mut job_lines = 0;
    for replica in replicas {
        for line in replica.logs().lines() {
            let event: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", replica.name));
            assert!(
                event["level"].is_string() && event["target"].is_string() && event["message"].is_string(),
                "{line}"
            );
            if event["message"] == "running scheduled job" {
                assert_eq!(event["span"]["name"], "job", "{line}");
                assert!(event["span"]["job"].is_string() && event["span"]["tick"].is_string(), "{line}");
                job_lines += 1;
            }
        }
    }
    assert!(job_lines >= 3, "scheduled jobs were logged with their span");
}
