//! Deny by default: unconfigured channels and DMs, foreign Slack workspaces, and one person
//! with several identities.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use costbot::bot::Bot;
use costbot::chat::{Actor, FollowUp, Inbound, Reply};
use costbot::config::Config;
use costbot::domain::chat::message::{ActionRef, Verb};
use costbot::domain::chat::{ChannelId, Platform, UserId};
use costbot::domain::proposal::State;
use costbot::domain::resource::SafetyPath;
use costbot::proposals::propose;
use costbot::store::{DynStore, SqliteStore};
use serde_json::{json, Value};

use super::{discord_command, discord_post, serve_all, Peers, SLACK_SECRET};
use crate::approvals::{finding, instance};
use crate::slack::fake::{command_body, data, interaction_body, post_signed};

const NOT_SET_UP: &str = "This channel is not set up for costbot";

fn slack_command(channel: &str, team: &str, response_url: &str) -> String {
    command_body("mtd", response_url, "t.1")
        .replace("channel_id=C1", &format!("channel_id={channel}"))
        .replace("team_id=T1", &format!("team_id={team}"))
}

fn slack_click(channel: &str, team: &str, response_url: &str) -> String {
    let mut payload: Value =
        serde_json::from_str(&data("block_actions.button.message-container.bolt-python.json")).unwrap();
    payload["actions"][0]["action_id"] = json!("ack:an-0000:1");
    payload["channel"]["id"] = json!(channel);
    payload["container"]["channel_id"] = json!(channel);
    payload["team"]["id"] = json!(team);
    payload["user"]["id"] = json!("U1");
    payload["response_url"] = json!(response_url);
    interaction_body(&payload)
}

#[tokio::test]
async fn an_unconfigured_channel_or_dm_gets_the_set_up_reply_for_commands_and_clicks() {
    let Peers { base, slack, key, .. } = serve_all("", "").await;
    let ts = Utc::now().timestamp();
    let body = slack_command("C9", "T1", &slack.response_url("c9"));
    let answer: Value =
        post_signed(&format!("{base}/slack/commands"), SLACK_SECRET, ts, &body, &[]).await.json().await.unwrap();
    assert!(answer.to_string().contains(NOT_SET_UP), "{answer}");
    assert_ne!(answer["response_type"], "in_channel", "{answer}");

    let click = slack_click("C9", "T1", &slack.response_url("click9"));
    assert_eq!(post_signed(&format!("{base}/slack/interactions"), SLACK_SECRET, ts, &click, &[]).await.status(), 200);
    let reply = slack.wait_for("/respond/click9", Duration::from_secs(10)).await.expect("a reply").json();
    assert!(reply.to_string().contains(NOT_SET_UP), "{reply}");

    // A DM: no guild, the user at the top level, a channel no one configured.
    let mut dm = discord_command("mtd");
    let user = dm["member"]["user"].clone();
    let object = dm.as_object_mut().unwrap();
    object.remove("member");
    object.remove("guild_id");
    object.insert("user".into(), user);
    object.insert("channel_id".into(), json!("111111111111111111"));
    let answer: Value = discord_post(&base, &key, ts, &dm).await.json().await.unwrap();
    assert!(answer.to_string().contains(NOT_SET_UP), "{answer}");
}

#[tokio::test]
async fn a_foreign_team_id_is_refused_and_audited() {
    let Peers { base, slack, store, .. } = serve_all("team_ids = [\"T1\"]\napp_ids = [\"A1\"]", "").await;
    let ts = Utc::now().timestamp();
    let url = format!("{base}/slack/commands");
    let foreign = slack_command("C1", "T9", &slack.response_url("t9"));
    let answer: Value = post_signed(&url, SLACK_SECRET, ts, &foreign, &[]).await.json().await.unwrap();
    assert!(answer.to_string().contains("This workspace is not set up for costbot"), "{answer}");
    let ours = format!("{}&api_app_id=A1", slack_command("C1", "T1", &slack.response_url("t1")));
    let answer: Value = post_signed(&url, SLACK_SECRET, ts, &ours, &[]).await.json().await.unwrap();
    assert_eq!(answer["response_type"], "in_channel", "our workspace and app are answered: {answer}");
    let other_app = format!("{}&api_app_id=A2", slack_command("C1", "T1", &slack.response_url("a2")));
    let answer: Value = post_signed(&url, SLACK_SECRET, ts, &other_app, &[]).await.json().await.unwrap();
    assert!(answer.to_string().contains("not set up"), "{answer}");
    let click = slack_click("C1", "T9", &slack.response_url("click-t9"));
    assert_eq!(post_signed(&format!("{base}/slack/interactions"), SLACK_SECRET, ts, &click, &[]).await.status(), 200);
    assert_eq!(
        super::refusals(&store).await,
        [
            "slack workspace T9 is not configured",
            "slack app A2 is not configured",
            "slack workspace T9 is not configured"
        ],
        "every refusal is audited"
    );
}

const PEOPLE: &str = r#"
[[channels]]
platform = "slack"
id = "C1"
approvers = ["U1", "U2"]

[[channels]]
platform = "console"
id = "finops"
approvers = ["person:ana"]

[[people]]
name = "ana"
slack = ["U1"]
console = ["ana"]
"#;

fn actor(platform: Platform, user: &str, channel: &str) -> Actor {
    Actor { platform, user: UserId(user.into()), roles: vec![], channel: ChannelId(channel.into()) }
}

#[tokio::test]
async fn two_identities_of_one_person_leave_a_two_approver_proposal_waiting() {
    let store: DynStore = Arc::new(SqliteStore::in_memory().await.unwrap());
    let config = Arc::new(Config::from_toml(PEOPLE).unwrap());
    let now = Utc::now().naive_utc();
    let finding = finding(instance("i-people", "running", &[]), "900", SafetyPath::Normal);
    propose(&store, &[finding], &config.approvals.rules(), &config.channels, now).await.unwrap();
    let bot = Bot::new(store.clone(), config.clone());
    let proposal = store.proposals_in(&[]).await.unwrap().remove(0);
    assert_eq!(proposal.required_approvals, 2);
    let approve = |actor: Actor, version: u32| {
        let action = ActionRef { verb: Verb::Approve, target: proposal.id.0.clone(), version };
        bot.handle_at(Inbound::Click { actor, action, message: None, follow_up: FollowUp::None }, now)
    };
    assert!(matches!(approve(actor(Platform::Slack, "U1", "C1"), 1).await, Reply::UpdateOriginal(_)));
    let again = approve(actor(Platform::Console, "ana", "finops"), 2).await;
    assert!(serde_json::to_string(&again).unwrap().contains("second, different approver"), "{again:?}");
    assert_eq!(store.proposals_in(&[]).await.unwrap()[0].state, State::Pending, "one person counted once");
    assert!(matches!(approve(actor(Platform::Slack, "U2", "C1"), 2).await, Reply::UpdateOriginal(_)));
    assert_eq!(store.proposals_in(&[]).await.unwrap()[0].state, State::Approved);
}
