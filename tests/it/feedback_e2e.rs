//! Alert feedback and the alert's chart end to end, on each platform: the real server, the
//! simulated cloud, and the fake Slack and Discord APIs (the console through its HTTP API).
//! Detection posts each card with its chart (uploaded with alt text); *Expected*, *Not an
//! anomaly* and *Real* go through the same click path as Acknowledge, are audited and shown
//! on the card; `/cost anomalies stats` reports them; and the next detection run silences
//! the expected new service while the real level shift stays open (what a raised floor
//! silences is shown through the detection pass in `domain::feedback::tests`).

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use chrono::{NaiveDateTime, Utc};
use costbot::app::App;
use costbot::config::Config;
use costbot::domain::anomaly::{Kind, Severity};
use costbot::domain::incident::{reconcile, Anomaly, Change, Status};
use costbot::domain::Granularity;
use costbot::store::{DynStore, SqliteStore};
use serde_json::{json, Value};

use crate::slack::fake::{command_body, post_signed};
use crate::store_contract::{ec2_key, spike};

/// The three verdicts: the button's verb, the audit action, and what the card then says.
const VERDICTS: [(&str, &str, &str); 3] = [
    ("expected", "anomaly_feedback_expected", "Marked expected by"),
    ("notanomaly", "anomaly_feedback_not_an_anomaly", "Marked not an anomaly by"),
    ("real", "anomaly_feedback_real", "Confirmed real by"),
];

/// The three anomalies the verdicts go to, in order: the simulation's new service (Expected),
/// a spike filed directly in the store and announced (Not an anomaly; the simulation's own
/// spike is older than the detector's recent week), and its level shift (Real).
async fn three_to_judge(app: &App, now: NaiveDateTime) -> Vec<Anomaly> {
    let open = app.store.open_anomalies(Granularity::Daily).await.unwrap();
    let of =
        |kind: Kind| open.iter().find(|a| a.kind == kind).cloned().unwrap_or_else(|| panic!("{kind:?} in {open:?}"));
    let (new_service, shift) = (of(Kind::NewSpend), of(Kind::LevelShift));
    let day = (now.date() - chrono::Days::new(3)).to_string();
    let spike = reconcile(&[], &[(ec2_key(), spike(&day, &day, 300, Severity::High))], now);
    app.store.apply_anomaly_changes(&spike, now).await.unwrap();
    app.deliver_alerts(now).await.unwrap();
    let Change::Opened(spike) = &spike[0] else { unreachable!() };
    vec![new_service, spike.clone(), shift]
}

/// After the verdicts: each is audited by `actor`; the next detection run resolves the
/// expected and the false alarm (silenced by their feedback) and keeps the real one open.
async fn verdicts_are_audited_and_acted_on(app: &App, judged: &[Anomaly], actor: &str, now: NaiveDateTime) {
    let audit = app.store.audit_entries(0, 1000).await.unwrap();
    for (anomaly, (_, action, _)) in judged.iter().zip(VERDICTS) {
        assert!(
            audit
                .iter()
                .any(|e| e.record.action == action && e.record.target == anomaly.id.0 && e.record.actor == actor),
            "{action} on {} by {actor} in {audit:?}",
            anomaly.id
        );
    }
    app.collect_and_detect(now, None, None).await.unwrap();
    let mut statuses = Vec::new();
    for anomaly in judged {
        statuses.push(app.store.anomaly(&anomaly.id).await.unwrap().unwrap().status);
    }
    assert_eq!(statuses, [Status::Resolved, Status::Resolved, Status::Open], "expected, not an anomaly, real");
    let reopened = app.store.open_anomalies(Granularity::Daily).await.unwrap();
    assert!(reopened.iter().all(|a| a.key != judged[0].key), "no new alert for the expected new service: {reopened:?}");
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn on_slack_feedback_is_recorded_shown_counted_and_acted_on(pool: sqlx::PgPool) {
    use crate::slack_e2e::{click, serve, slack_app, SECRET};
    let (fake, app, now) = slack_app(pool).await;
    app.collect_and_detect(now, None, None).await.unwrap();
    let judged = three_to_judge(&app, now).await;
    let open = app.store.open_anomalies(Granularity::Daily).await.unwrap().len();

    // Each card is an ordinary (editable) message; its chart was uploaded with alt text and
    // shared into the card's thread.
    let cards = fake.received("/api/chat.postMessage");
    assert_eq!(cards.len(), open, "one card per anomaly");
    let card = cards[0].json();
    assert!(card["blocks"].to_string().contains("notanomaly:"), "the feedback buttons: {card}");
    let asked = fake.received("/api/files.getUploadURLExternal");
    assert_eq!(asked.len(), open, "one chart per card");
    let query = String::from_utf8_lossy(&asked[0].body).to_string();
    assert!(query.contains("alt_txt=Last+30+days+of") || query.contains("alt_txt=Last%2030%20days%20of"), "{query}");
    let uploads = fake.received("/upload/F0CHART");
    assert!(uploads.iter().all(|u| u.body.starts_with(b"\x89PNG\r\n\x1a\n")), "the charts are PNGs");
    let shared = fake.received("/api/files.completeUploadExternal");
    assert_eq!(shared.len(), open);
    assert!(shared[0].json()["thread_ts"].as_str().is_some_and(|ts| ts.starts_with("100.")), "{}", shared[0].json());

    let (base, stop, server) = serve(&app).await;
    let ts = Utc::now().timestamp();
    for (i, (anomaly, (verb, _, says))) in judged.iter().zip(VERDICTS).enumerate() {
        let action = format!("{verb}:{}:{}", anomaly.id, anomaly.version);
        let reply_to = fake.response_url(&format!("verdict{i}"));
        let clicked =
            post_signed(&format!("{base}/slack/interactions"), SECRET, ts, &click(&action, &reply_to), &[]).await;
        assert_eq!(clicked.status(), 200);
        let replaced =
            fake.wait_for(&format!("/respond/verdict{i}"), Duration::from_secs(10)).await.expect("a reply").json();
        assert_eq!(replaced["replace_original"], true);
        assert!(replaced.to_string().contains(&format!("{says} slack:U1")), "{replaced}");
        assert!(!replaced.to_string().contains("notanomaly:"), "one verdict per card: {replaced}");
    }
    let edited = fake.wait_for("/api/chat.update", Duration::from_secs(10)).await.expect("a card edited in place");
    assert!(String::from_utf8_lossy(&edited.body).contains("slack:U1"));

    let body = command_body("anomalies stats", &fake.response_url("stats"), "t.stats");
    let answer: Value =
        post_signed(&format!("{base}/slack/commands"), SECRET, ts, &body, &[]).await.json().await.unwrap();
    let text = answer.to_string();
    assert!(
        text.contains("Alert precision from feedback, last 90 days") && text.contains("from 2 judged alerts"),
        "{text}"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    verdicts_are_audited_and_acted_on(&app, &judged, "slack:U1", now).await;
}

#[sqlx::test(migrations = "migrations/postgres")]
async fn on_discord_feedback_is_recorded_shown_counted_and_acted_on(pool: sqlx::PgPool) {
    use crate::discord_e2e::{button, command, discord_app, post_signed, CHANNEL, USER};
    let (fake, key, app, now) = discord_app(pool).await;
    app.collect_and_detect(now, None, None).await.unwrap();
    let judged = three_to_judge(&app, now).await;

    // Each card carries its chart as an attachment with a description (alt text), shown as
    // the embed's image.
    let posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::POST && r.path.ends_with(&format!("/channels/{CHANNEL}/messages")))
        .collect();
    assert!(!posts.is_empty() && posts.iter().all(|p| p.files.len() == 1), "one chart per card");
    assert!(posts[0].files[0].1.starts_with(b"\x89PNG"), "the chart is a PNG");
    let description = posts[0].body["attachments"][0]["description"].as_str().unwrap_or_default();
    assert!(description.starts_with("Last 30 days of"), "alt text: {}", posts[0].body);
    let embeds = posts[0].body["embeds"].as_array().expect("embeds");
    assert!(embeds.last().unwrap()["image"]["url"].as_str().unwrap_or_default().starts_with("attachment://an-"));

    let (base, stop, server) = crate::slack_e2e::serve(&app).await;
    let endpoint = format!("{base}/discord/interactions");
    for (anomaly, (verb, _, says)) in judged.iter().zip(VERDICTS) {
        let custom_id = format!("{verb}:{}:{}", anomaly.id, anomaly.version);
        let clicked: Value = post_signed(&endpoint, &key, &button(&custom_id)).await.json().await.unwrap();
        assert_eq!(clicked["type"], 7, "the card updates: {clicked}");
        assert!(clicked.to_string().contains(&format!("{says} discord:{USER}")), "{clicked}");
    }
    let edit = fake
        .wait_for(Duration::from_secs(10), |r| {
            r.method == Method::PATCH && r.path.contains(&format!("/channels/{CHANNEL}/messages/"))
        })
        .await;
    assert!(edit.body.to_string().contains(&format!("discord:{USER}")), "{}", edit.body);
    let stats: Value = post_signed(&endpoint, &key, &command("anomalies stats")).await.json().await.unwrap();
    let text = stats.to_string();
    assert!(text.contains("Alert precision from feedback") && text.contains("Not an anomaly"), "{text}");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    verdicts_are_audited_and_acted_on(&app, &judged, &format!("discord:{USER}"), now).await;
}

#[tokio::test]
async fn on_the_console_feedback_is_recorded_shown_counted_and_acted_on() {
    let config = "[costs]\nsource = \"simulated\"\nbackfill_days = 120\nbreakdown_every_hours = 0\n\
         [web]\nenabled = true\nuser_header = \"X-Forwarded-User\"\ntrusted_proxies = [\"127.0.0.1/32\"]\n\
         [[channels]]\nplatform = \"console\"\nid = \"finops\"\nname = \"#finops\"\nmin_severity = \"low\"\napprovers = [\"ana\"]\n";
    let now = Utc::now().naive_utc();
    let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
    let app = App::with_store(Config::from_toml(config).unwrap(), store.clone(), now).await.unwrap();
    app.collect_and_detect(now, None, None).await.unwrap();
    let judged = three_to_judge(&app, now).await;
    let router = app.router().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
    });
    let http = reqwest::Client::new();
    let messages: Value = http
        .get(format!("{base}/api/console/messages?channel=finops"))
        .header("x-forwarded-user", "ana")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = messages["messages"].as_array().unwrap().clone();
    // Each card shows its chart inline, with the alt text.
    let card_of = |anomaly: &Anomaly| {
        messages
            .iter()
            .find(|m| m["html"].as_str().is_some_and(|h| h.contains(&format!("expected:{}:", anomaly.id))))
            .unwrap_or_else(|| panic!("a card for {} in {messages:?}", anomaly.id))
            .clone()
    };
    let html = card_of(&judged[0])["html"].as_str().unwrap().to_string();
    assert!(html.contains("<img src=\"data:image/png;base64,") && html.contains("alt=\"Last 30 days of"), "{html}");

    for (anomaly, (verb, _, says)) in judged.iter().zip(VERDICTS) {
        let card = card_of(anomaly);
        let body = json!({"channel": "finops", "message": card["id"], "action": format!("{verb}:{}:{}", anomaly.id, anomaly.version)});
        let response = http
            .post(format!("{base}/api/console/click"))
            .header("x-forwarded-user", "ana")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let changed: Vec<Value> = response.json().await.unwrap();
        assert_eq!(changed[0]["id"], card["id"], "the card itself changed");
        assert!(changed[0]["html"].as_str().unwrap().contains(&format!("{says} console:ana")), "{changed:?}");
    }
    let body = json!({"channel": "finops", "text": "/cost anomalies stats"});
    let response = http
        .post(format!("{base}/api/console/command"))
        .header("x-forwarded-user", "ana")
        .json(&body)
        .send()
        .await
        .unwrap();
    let stored: Vec<Value> = response.json().await.unwrap();
    let answer = stored[1]["html"].as_str().unwrap();
    assert!(answer.contains("Alert precision from feedback") && answer.contains("Expected"), "{answer}");
    verdicts_are_audited_and_acted_on(&app, &judged, "console:ana", now).await;
}
