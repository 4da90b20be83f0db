//! `costbot doctor` against real peers: moto for AWS identity, roles and permissions; a fake
//! AWS endpoint that refuses everything, for the denials moto (which does not enforce IAM)
//! cannot produce; the fake Slack and Discord APIs; Postgres before and after migrating; and
//! the binary itself with a broken database URL.

use std::process::Command;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use costbot::config::Config;
use costbot::doctor::{check, CheckResult, Options, Status};
use costbot::store::{SchemaStore, SqliteStore};
use serde_json::json;

use crate::slack::fake::{Answer, FakeSlack};
use crate::support::{Moto, EXTERNAL_ID_ENV};

/// moto's default account: what the ambient test credentials map to.
const PAYER: &str = "123456789012";
/// A member account reached through a role with an ExternalId.
const MEMBER: &str = "210987654321";

fn options() -> Options {
    Options { skip_paid: false, today: chrono::Utc::now().date_naive() }
}

/// The result named `name`, or a panic listing them all.
fn line<'a>(results: &'a [CheckResult], name: &str) -> &'a CheckResult {
    results.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no `{name}` check in {results:#?}"))
}

/// An SQLite store that exists and is migrated, in `dir`.
async fn sqlite_in(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("doctor.sqlite");
    SqliteStore::open(&path).await.unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn against_moto_identity_roles_and_every_permission_are_ok() {
    let moto = Moto::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[database]\nsqlite_path = \"{}\"\n\
         [aws]\nendpoint_url = \"{}\"\nretry_mode = \"standard\"\nmax_attempts = 1\n\
         [[accounts]]\nid = \"{PAYER}\"\ncost_explorer = true\n\
         [[accounts]]\nid = \"{MEMBER}\"\nrole_arn = \"arn:aws:iam::{MEMBER}:role/costbot-read\"\nexternal_id = {{ env = \"{EXTERNAL_ID_ENV}\" }}\n",
        sqlite_in(&dir).await,
        moto.url
    );
    let results = check(&Config::from_toml(&toml).unwrap(), &options()).await;
    let failures: Vec<_> = results.iter().filter(|r| r.status != Status::Ok && r.status != Status::Skip).collect();
    assert!(failures.is_empty(), "{}", costbot::doctor::render(&results));

    assert!(line(&results, "database").detail.contains("reachable"));
    assert!(line(&results, "migrations").detail.starts_with("all "));
    assert!(line(&results, "aws identity").detail.contains(PAYER));
    let member = line(&results, &format!("account {MEMBER}"));
    assert!(
        member.detail.contains("assumed")
            && member.detail.contains(&format!("arn:aws:sts::{MEMBER}:assumed-role/costbot-read")),
        "{member:?}"
    );
    assert_eq!(line(&results, &format!("account {PAYER}")).detail, "the ambient credentials belong to this account");
    assert!(line(&results, &format!("cost explorer {PAYER}")).detail.contains("$0.01"));
    for account in [PAYER, MEMBER] {
        assert!(line(&results, &format!("waste reads {account}")).detail.contains("ec2:DescribeInstances"));
        let actions = line(&results, &format!("waste actions {account}"));
        assert!(actions.detail.contains("ec2:StopInstances") && actions.detail.contains("DryRun"), "{actions:?}");
    }
    assert_eq!(
        line(&results, "waste actions without dry run").status,
        Status::Skip,
        "RDS and ELB cannot be probed and say so"
    );
    assert_eq!(line(&results, "slack").status, Status::Skip);
    assert_eq!(line(&results, "discord").status, Status::Skip);

    // --skip-paid leaves Cost Explorer alone.
    let free = check(&Config::from_toml(&toml).unwrap(), &Options { skip_paid: true, ..options() }).await;
    assert_eq!(line(&free, &format!("cost explorer {PAYER}")).status, Status::Skip);
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_fails_with_the_template_to_deploy() {
    // moto lets anyone assume any role, so this runs against the refusing fake, whose STS
    // answers GetCallerIdentity but refuses AssumeRole with AccessDenied.
    let url = refusing_aws().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[database]\nsqlite_path = \"{}\"\n[aws]\nendpoint_url = \"{url}\"\nmax_attempts = 1\n[waste]\nenabled = false\n\
         [[accounts]]\nid = \"{MEMBER}\"\ncost_explorer = true\nrole_arn = \"arn:aws:iam::{MEMBER}:role/costbot-read\"\n\
         external_id = {{ env = \"{EXTERNAL_ID_ENV}\" }}\n",
        sqlite_in(&dir).await
    );
    let results = check(&Config::from_toml(&toml).unwrap(), &options()).await;
    assert_eq!(line(&results, "aws identity").detail, format!("arn:aws:iam::{PAYER}:user/costbot (account {PAYER})"));
    let member = line(&results, &format!("account {MEMBER}"));
    assert_eq!(member.status, Status::Fail, "{member:?}");
    assert!(member.detail.contains("cannot assume"), "{member:?}");
    let hint = member.hint.as_deref().unwrap();
    assert!(
        hint.contains("member-account-role.yaml") && hint.contains(&format!("arn:aws:iam::{PAYER}:user/costbot")),
        "{hint}"
    );
    assert!(
        results.iter().all(|r| r.name != format!("cost explorer {MEMBER}")),
        "nothing is probed with credentials that do not exist"
    );
}

/// A fake AWS that knows who you are (STS GetCallerIdentity) and refuses everything else the
/// way each service does: EC2 `UnauthorizedOperation`, RDS and CloudWatch `AccessDenied`,
/// Cost Explorer `AccessDeniedException`. Returns its URL.
async fn refusing_aws() -> String {
    crate::support::init();
    let app = axum::Router::new().fallback(|headers: HeaderMap, body: Bytes| async move {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        // The credential scope names the service: Credential=KEY/DATE/REGION/SERVICE/aws4_request.
        let service = auth.split("Credential=").nth(1).and_then(|c| c.split('/').nth(3)).unwrap_or_default().to_string();
        let form = String::from_utf8_lossy(&body).to_string();
        let xml = |status: StatusCode, text: String| (status, [("content-type", "text/xml")], text).into_response();
        match service.as_str() {
            "sts" if form.contains("Action=GetCallerIdentity") => xml(
                StatusCode::OK,
                format!(
                    "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
                     <Arn>arn:aws:iam::{PAYER}:user/costbot</Arn><UserId>AIDAFAKE</UserId><Account>{PAYER}</Account>\
                     </GetCallerIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
                ),
            ),
            "ec2" => xml(
                StatusCode::FORBIDDEN,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>UnauthorizedOperation</Code>\
                 <Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>fake</RequestID></Response>"
                    .to_string(),
            ),
            "ce" => {
                let error = json!({"__type": "AccessDeniedException", "Message": "User is not authorized to perform: ce:GetCostAndUsage"});
                (StatusCode::BAD_REQUEST, [("content-type", "application/x-amz-json-1.1")], error.to_string()).into_response()
            }
            _ => xml(
                StatusCode::FORBIDDEN,
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized</Message></Error>\
                 <RequestId>fake</RequestId></ErrorResponse>"
                    .to_string(),
            ),
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn refused_config(endpoint: &str, sqlite: &str, dry_run: bool) -> Config {
    let toml = format!(
        "[database]\nsqlite_path = \"{sqlite}\"\n[aws]\nendpoint_url = \"{endpoint}\"\nretry_mode = \"standard\"\nmax_attempts = 1\n\
         [approvals]\ndry_run = {dry_run}\n[[accounts]]\nid = \"{PAYER}\"\ncost_explorer = true\n"
    );
    Config::from_toml(&toml).unwrap()
}

#[tokio::test]
async fn denied_permissions_are_named_with_the_policy_to_attach() {
    let url = refusing_aws().await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_in(&dir).await;
    let results = check(&refused_config(&url, &sqlite, false), &options()).await;

    assert_eq!(line(&results, "aws identity").status, Status::Ok);
    let ce = line(&results, &format!("cost explorer {PAYER}"));
    assert_eq!(ce.status, Status::Fail);
    assert!(ce.detail.contains("ce:GetCostAndUsage denied") && ce.detail.contains("AccessDeniedException"), "{ce:?}");
    assert!(ce.hint.as_deref().unwrap().contains("costbot-cost-read.json"), "{ce:?}");

    let reads = line(&results, &format!("waste reads {PAYER}"));
    assert_eq!(reads.status, Status::Fail);
    for permission in [
        "ec2:DescribeInstances",
        "ec2:DescribeVolumes",
        "ec2:DescribeAddresses",
        "rds:DescribeDBInstances",
        "cloudwatch:GetMetricData",
    ] {
        assert!(reads.detail.contains(permission), "{permission} is named: {reads:?}");
    }
    assert!(reads.hint.as_deref().unwrap().contains("WasteDiscoveryReadOnly"), "{reads:?}");

    let actions = line(&results, &format!("waste actions {PAYER}"));
    assert_eq!(actions.status, Status::Fail, "acting for real without the permission is a failure: {actions:?}");
    assert!(
        actions.detail.contains("ec2:StopInstances") && actions.detail.contains("UnauthorizedOperation"),
        "{actions:?}"
    );

    // In dry-run mode the same denial is a warning: nothing is at stake yet.
    let dry = check(&refused_config(&url, &sqlite, true), &options()).await;
    assert_eq!(line(&dry, &format!("waste actions {PAYER}")).status, Status::Warn);
}

/// A configuration with only Slack and/or Discord enabled (AWS simulated), over SQLite.
fn chat_config(sqlite: &str, extra: &str) -> Config {
    std::env::set_var("COSTBOT_DOCTOR_TEST_TOKEN", "xoxb-doctor-test");
    Config::from_toml(&format!("[database]\nsqlite_path = \"{sqlite}\"\n[costs]\nsource = \"simulated\"\n{extra}"))
        .unwrap()
}

#[tokio::test]
async fn slack_token_and_scopes_are_checked_against_the_manifest() {
    crate::support::init();
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let slack = format!(
        "[slack]\nbot_token = {{ env = \"COSTBOT_DOCTOR_TEST_TOKEN\" }}\nsigning_secrets = [{{ env = \"COSTBOT_DOCTOR_TEST_TOKEN\" }}]\napi_url = \"{}\"\n",
        fake.api_url()
    );
    let config = chat_config(&sqlite_in(&dir).await, &slack);

    let results = check(&config, &options()).await;
    assert_eq!(line(&results, "aws").status, Status::Skip);
    let ok = line(&results, "slack");
    assert_eq!((ok.status, ok.detail.as_str()), (Status::Ok, "auth.test: bot costbot in workspace Acme"));
    assert_eq!(
        line(&results, "slack scopes").detail,
        "granted commands, chat:write, files:write, channels:history, groups:history, users:read, users:read.email, \
         im:write"
    );
    let sent = fake.received("/api/auth.test");
    assert_eq!(sent[0].headers.get("authorization").unwrap(), "Bearer xoxb-doctor-test");

    let with_scopes = |scopes: &str| Answer {
        status: 200,
        headers: vec![("x-oauth-scopes", scopes.to_string())],
        body: json!({"ok": true, "team": "Acme", "user": "costbot"}),
    };
    fake.script(
        "/api/auth.test",
        vec![
            with_scopes("commands,chat:write,files:write,users:read,users:read.email,im:write"),
            with_scopes("commands,chat:write,users:read,users:read.email,im:write"),
            with_scopes("commands,chat:write,files:write,channels:history,groups:history"),
            with_scopes("commands"),
            Answer::ok(json!({"ok": false, "error": "invalid_auth"})),
        ],
    );
    let no_history = check(&config, &options()).await;
    let scopes = line(&no_history, "slack scopes");
    assert_eq!(
        (scopes.status, scopes.detail.as_str()),
        (Status::Warn, "missing channels:history, groups:history (manifests/slack-app.yaml asks for them)")
    );
    assert!(scopes.hint.as_deref().unwrap().contains("posted twice"), "says what is lost: {scopes:?}");
    let optional_missing = check(&config, &options()).await;
    let scopes = line(&optional_missing, "slack scopes");
    assert_eq!(
        (scopes.status, scopes.detail.as_str()),
        (
            Status::Warn,
            "missing files:write, channels:history, groups:history (manifests/slack-app.yaml asks for them)"
        )
    );
    // Without the owner scopes the check says what is lost: owners by email and their DMs.
    let no_owners = check(&config, &options()).await;
    let scopes = line(&no_owners, "slack scopes");
    assert_eq!(
        (scopes.status, scopes.detail.as_str()),
        (Status::Warn, "missing users:read, users:read.email, im:write (manifests/slack-app.yaml asks for them)")
    );
    let hint = scopes.hint.as_deref().unwrap();
    assert!(hint.contains("users.lookupByEmail") && hint.contains("owners get no direct message"), "{hint}");
    assert!(!hint.contains("posted twice"), "only what these scopes cost: {hint}");
    let essential_missing = check(&config, &options()).await;
    assert_eq!(line(&essential_missing, "slack scopes").status, Status::Fail);
    let revoked = check(&config, &options()).await;
    let slack = line(&revoked, "slack");
    assert_eq!(slack.status, Status::Fail);
    assert!(
        slack.detail.contains("invalid_auth") && slack.hint.as_deref().unwrap().contains("slack.bot_token"),
        "{slack:?}"
    );
}

#[tokio::test]
async fn discord_application_and_commands_are_checked_against_the_manifest() {
    use crate::discord::{key_pair, FakeDiscord, APP_ID};
    crate::support::init();
    let (fake, url) = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_in(&dir).await;
    let discord = |app: u64| {
        format!(
            "[discord]\nbot_token = {{ env = \"COSTBOT_DOCTOR_TEST_TOKEN\" }}\napplication_id = \"{app}\"\npublic_key = \"{}\"\napi_url = \"{url}\"\n",
            key_pair().1
        )
    };
    let config = chat_config(&sqlite, &discord(APP_ID));

    let before = check(&config, &options()).await;
    assert_eq!(line(&before, "discord").detail, format!("application costbot ({APP_ID})"));
    let commands = line(&before, "discord commands");
    assert_eq!((commands.status, commands.detail.as_str()), (Status::Warn, "not registered globally: cost"));
    assert!(commands.hint.as_deref().unwrap().contains("costbot discord register"));

    let sender = FakeDiscord::sender(&url);
    costbot::chat::discord::register_commands(sender.http(), None, costbot::chat::discord::commands::MANIFEST)
        .await
        .unwrap();
    let after = check(&config, &options()).await;
    let commands = line(&after, "discord commands");
    assert_eq!((commands.status, commands.detail.as_str()), (Status::Ok, "registered globally: cost"));
    assert!(fake.requests().iter().any(|r| r.path == "/api/v10/oauth2/applications/@me"));

    let wrong = check(&chat_config(&sqlite, &discord(1234)), &options()).await;
    let app = line(&wrong, "discord");
    assert_eq!(app.status, Status::Fail);
    assert!(app.detail.contains("not discord.application_id 1234"), "{app:?}");
}

#[sqlx::test(migrations = false)]
async fn an_unmigrated_postgres_fails_until_costbot_migrate(pool: sqlx::PgPool) {
    crate::support::init();
    let db: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&pool).await.unwrap();
    let base = std::env::var("DATABASE_URL").unwrap();
    let url = format!("{}/{db}", base.rsplit_once('/').unwrap().0);
    let config = Config::from_toml(&format!("[database]\nurl = \"{url}\"\n[costs]\nsource = \"simulated\"\n")).unwrap();

    let before = check(&config, &options()).await;
    assert_eq!(line(&before, "database").status, Status::Ok);
    let pending = line(&before, "migrations");
    assert_eq!(pending.status, Status::Fail);
    assert!(pending.detail.contains("not applied: 0001 cost pipeline"), "{pending:?}");
    assert!(pending.hint.as_deref().unwrap().contains("costbot migrate"));

    costbot::store::PgStore::from_pool(pool).migrate().await.unwrap();
    let after = check(&config, &options()).await;
    assert_eq!(line(&after, "migrations").status, Status::Ok, "{after:?}");
}

fn costbot(args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_costbot"))
        .args(args)
        .current_dir(dir)
        .env_remove("COSTBOT_CONFIG")
        .envs(env.iter().copied())
        .output()
        .expect("run costbot");
    (
        output.status.success(),
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    )
}

#[test]
fn the_command_exits_non_zero_on_a_failure_and_never_prints_the_password() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "[costs]\nsource = \"simulated\"\n").unwrap();
    // Nothing listens on port 1.
    let broken = [("COSTBOT_DATABASE__URL", "postgres://costbot:hunter2@127.0.0.1:1/costbot")];
    let (ok, out) = costbot(&["--config", "c.toml", "doctor"], dir.path(), &broken);
    assert!(!ok, "{out}");
    assert!(
        out.contains("FAIL database")
            && out.contains("postgres at 127.0.0.1:1/costbot")
            && out.contains("check database.url"),
        "{out}"
    );
    assert!(out.contains("skip migrations") && out.contains("1 check(s) failed"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");

    // A fresh machine with the simulated cloud: nothing fails, the missing store is a warning.
    let (ok, out) = costbot(&["--config", "c.toml", "doctor"], dir.path(), &[]);
    assert!(ok, "{out}");
    assert!(out.contains("warn database") && out.contains("skip aws"), "{out}");

    let (ok, out) = costbot(&["--config", "missing.toml", "doctor"], dir.path(), &[]);
    assert!(!ok && out.contains("FAIL config") && out.contains("missing.toml"), "{out}");
}

#[tokio::test]
async fn with_the_organization_every_active_member_is_listed_and_checked_through_the_role_template() {
    let moto = Moto::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[database]\nsqlite_path = \"{}\"\n\
         [aws]\nendpoint_url = \"{}\"\nretry_mode = \"standard\"\nmax_attempts = 1\n\
         [waste]\naccounts = \"organization\"\n\
         [waste.organization]\nexternal_id = {{ env = \"{EXTERNAL_ID_ENV}\" }}\n\
         [[accounts]]\nid = \"{PAYER}\"\ncost_explorer = true\n",
        sqlite_in(&dir).await,
        moto.url
    );
    let config = Config::from_toml(&toml).unwrap();
    let base = costbot::aws::base_config(&config.aws).await;
    let org =
        aws_sdk_organizations::Client::new(&base.to_builder().region(aws_config::Region::new("us-east-1")).build());
    org.create_organization().send().await.unwrap();
    let out = org.create_account().email("dev@example.com").account_name("dev").send().await.unwrap();
    let member = out.create_account_status().unwrap().account_id().unwrap().to_string();

    let results = check(&config, &options()).await;
    let listed = line(&results, "waste organization");
    assert_eq!(
        (listed.status, listed.detail.as_str()),
        (Status::Ok, "organizations:ListAccounts allowed: 2 ACTIVE member accounts")
    );
    let reached = line(&results, &format!("account {member}"));
    assert!(reached.detail.contains("assumed-role/costbot-read"), "the default role template: {reached:?}");
    assert_eq!(line(&results, &format!("waste reads {member}")).status, Status::Ok);
}
