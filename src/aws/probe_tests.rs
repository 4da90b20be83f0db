//! The IAM files against the code: every operation `src/aws/` sends is in [`CALLS`], and the
//! policies grant exactly the actions [`CALLS`] names, none of them a wildcard.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::CALLS;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The operations sent in one source file: with whitespace removed, each `.send()` ends a
/// builder chain that starts at `client.<op>()`, `ec2.<op>()` (a client variable) or
/// `…)?.<op>()` (a client returned by a helper).
fn operations_sent(source: &str) -> Vec<String> {
    let text: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut found = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(".send()") {
        // Only the statement that sends: from its last `;` or `{`.
        let chain = &rest[..at];
        let chain = &chain[chain.rfind([';', '{']).map_or(0, |i| i + 1)..];
        let start = ["client.", ")?.", "ec2.", "rds.", "cloudwatch.", "elb.", "elbv2.", "organizations."]
            .iter()
            .filter_map(|p| chain.rfind(p).map(|i| i + p.len()))
            .max();
        if let Some(start) = start {
            let op: String = chain[start..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            found.push(op);
        }
        rest = &rest[at + ".send()".len()..];
    }
    found
}

fn listed_actions() -> BTreeSet<String> {
    CALLS.iter().flat_map(|(_, actions)| actions.iter().map(|a| a.to_string())).collect()
}

#[test]
fn every_operation_the_code_sends_is_listed_and_every_listed_one_is_sent() {
    let mut sent = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("src/aws")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("probe_tests.rs") {
            let source = std::fs::read_to_string(&path).unwrap();
            sent.extend(operations_sent(&source));
            if source.contains("AssumeRoleProvider::builder") {
                sent.insert("AssumeRoleProvider".to_string());
            }
        }
    }
    let listed: BTreeSet<String> = CALLS.iter().map(|(op, _)| op.to_string()).collect();
    assert!(sent.contains("get_cost_and_usage") && sent.contains("stop_instances"), "the scan finds calls: {sent:?}");
    let unlisted: Vec<_> = sent.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "add these operations and their IAM actions to aws::probe::CALLS and deploy/iam: {unlisted:?}"
    );
    let stale: Vec<_> = listed.difference(&sent).collect();
    assert!(stale.is_empty(), "aws::probe::CALLS lists operations nothing sends: {stale:?}");
}

/// Every action of every statement with this effect in a policy document.
fn actions(policy: &Value, effect: &str) -> BTreeSet<String> {
    let statements = policy["Statement"].as_array().expect("Statement is a list");
    statements
        .iter()
        .filter(|s| s["Effect"] == effect)
        .flat_map(|s| match &s["Action"] {
            Value::String(one) => vec![one.clone()],
            Value::Array(many) => many.iter().map(|a| a.as_str().expect("actions are strings").to_string()).collect(),
            other => panic!("unexpected Action {other}"),
        })
        .collect()
}

#[test]
fn the_json_policies_grant_exactly_the_listed_actions_and_no_wildcard() {
    let mut allowed = BTreeSet::new();
    for file in ["deploy/iam/costbot-cost-read.json", "deploy/iam/costbot-waste.json"] {
        let policy: Value = serde_json::from_str(&read(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let (allow, deny) = (actions(&policy, "Allow"), actions(&policy, "Deny"));
        for action in allow.iter().chain(&deny) {
            assert!(!action.contains('*'), "{file}: wildcard action {action}");
        }
        assert!(deny.is_subset(&allow), "{file}: a deny names an action never allowed: {:?}", deny.difference(&allow));
        allowed.extend(allow);
    }
    assert_eq!(allowed, listed_actions(), "deploy/iam/*.json must grant exactly aws::probe::CALLS' actions");
}

#[test]
fn the_member_account_template_names_the_same_actions_and_no_managed_policy() {
    let template = read("deploy/iam/member-account-role.yaml");
    let services = ["sts:", "ce:", "ec2:", "rds:", "cloudwatch:", "elasticloadbalancing:", "organizations:"];
    let mut named = BTreeSet::new();
    for line in template.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        let item = line.trim_start_matches("- ").trim_start_matches("Action:").trim();
        if services.iter().any(|s| item.starts_with(s)) && !item.contains(' ') {
            assert!(!item.contains('*'), "wildcard action {item}");
            named.insert(item.to_string());
        }
    }
    assert_eq!(named, listed_actions());
    for forbidden in ["ReadOnlyAccess", "ManagedPolicyArns", "ce:*", "Action: \"*\""] {
        assert!(!template.contains(forbidden), "the template must not use {forbidden}");
    }
    assert!(template.contains("sts:ExternalId: !Ref ExternalId") && template.contains("NoEcho: true"));
}

#[test]
fn the_scan_reads_chains_across_lines() {
    let source = "let r = client\n    .get_cost_and_usage()\n    .metrics(&m)\n    .send()\n    .await;\n\
                  self.ec2(a, r)?.stop_instances().instance_ids(&id).dry_run(d).send().await;\n// client.ignored().send()\n";
    assert_eq!(operations_sent(source), ["get_cost_and_usage", "stop_instances"]);
}
