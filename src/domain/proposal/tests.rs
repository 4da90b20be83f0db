//! Tests of the approval state machine and the pre-action re-check.

use std::collections::BTreeMap;

use super::*;
use crate::domain::resource::{Action, ResourceKind, ResourceRef};
use crate::domain::AccountId;

fn at(s: &str) -> NaiveDateTime {
    format!("2026-11-25T{s}").parse().unwrap()
}

fn resource(state: &str, tags: &[(&str, &str)]) -> Resource {
    Resource {
        reference: ResourceRef {
            account: AccountId::parse("222222222222").unwrap(),
            region: "us-east-1".into(),
            kind: ResourceKind::Ec2Instance,
            id: "i-0abc".into(),
        },
        state: state.into(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        created_at: None,
        state_since: None,
        size_class: Some("m5.large".into()),
        storage_gib: None,
        monthly_cost: Some(Money::parse("70.08").unwrap()),
        dependencies: vec![],
        activity: None,
    }
}

fn finding(saving: &str, path: SafetyPath) -> WasteFinding {
    WasteFinding {
        resource: resource("stopped", &[("Owner", "ana")]),
        rule: "stopped_instance".into(),
        evidence: "stopped for 40 days".into(),
        monthly_saving: Some(Money::parse(saving).unwrap()),
        action: Action::TerminateInstance,
        path,
    }
}

fn rules() -> ApprovalRules {
    ApprovalRules {
        expires_after: Duration::hours(24),
        two_approvers_above: Money::parse("500").unwrap(),
        dry_run: true,
    }
}

fn pending(saving: &str, path: SafetyPath) -> Proposal {
    Proposal::new(finding(saving, path), &rules(), at("10:00:00")).unwrap()
}

#[test]
fn one_allowed_approver_approves_a_small_normal_proposal() {
    let p = pending("40", SafetyPath::Normal);
    assert_eq!((p.required_approvals, p.version), (1, 1));
    let approved = p.decide("slack:U1", true, Decision::Approve, 1, at("11:00:00")).unwrap();
    assert_eq!((approved.state.clone(), approved.version), (State::Approved, 2));
    assert_eq!(approved.expires_at, at("11:00:00") + APPROVAL_HOLDS, "the approval holds for a while, not forever");
    assert_eq!(approved.approvals[0].by, "slack:U1");
}

#[test]
fn strict_or_costly_proposals_need_two_different_approvers() {
    for p in
        [pending("40", SafetyPath::Strict { reason: "launched 2 days ago".into() }), pending("900", SafetyPath::Normal)]
    {
        assert_eq!(p.required_approvals, 2);
        let one = p.decide("slack:U1", true, Decision::Approve, 1, at("11:00:00")).unwrap();
        assert_eq!((one.state.clone(), one.version), (State::Pending, 2), "one of two");
        assert_eq!(
            one.decide("slack:U1", true, Decision::Approve, 2, at("11:01:00")),
            Err(DecisionError::SameApprover)
        );
        let two = one.decide("slack:U2", true, Decision::Approve, 2, at("11:02:00")).unwrap();
        assert_eq!(two.state, State::Approved);
    }
}

#[test]
fn refusals_change_nothing() {
    let p = pending("40", SafetyPath::Normal);
    assert_eq!(p.decide("slack:U9", false, Decision::Approve, 1, at("11:00:00")), Err(DecisionError::NotAllowed));
    assert_eq!(
        p.decide("slack:U1", true, Decision::Approve, 0, at("11:00:00")),
        Err(DecisionError::Stale { shown: 0, current: 1 })
    );
    assert_eq!(
        p.decide("slack:U1", true, Decision::Approve, 1, at("10:00:00") + Duration::hours(24)),
        Err(DecisionError::Expired)
    );
    let denied = p.decide("slack:U1", true, Decision::Deny, 1, at("11:00:00")).unwrap();
    assert_eq!(denied.state, State::Denied { by: "slack:U1".into() });
    assert_eq!(
        denied.decide("slack:U2", true, Decision::Approve, 2, at("11:01:00")),
        Err(DecisionError::Closed("denied"))
    );
}

#[test]
fn snooze_lasts_a_week_and_excluded_findings_are_never_proposed() {
    let p = pending("40", SafetyPath::Normal);
    let snoozed = p.decide("slack:U1", true, Decision::Snooze, 1, at("11:00:00")).unwrap();
    assert_eq!(snoozed.state, State::Snoozed { by: "slack:U1".into(), until: at("11:00:00") + Duration::days(7) });
    assert!(Proposal::new(
        finding("40", SafetyPath::Excluded { reason: "Environment=Production".into() }),
        &rules(),
        at("10:00:00")
    )
    .is_none());
}

#[test]
fn a_changed_finding_is_a_different_proposal_content_but_the_same_id() {
    let p = pending("40", SafetyPath::Normal);
    let mut changed = finding("40", SafetyPath::Normal);
    assert!(!p.differs_from(&changed));
    changed.action = Action::StopInstance;
    assert!(p.differs_from(&changed));
    assert_eq!(ProposalId::derive(&changed), p.id);
}

#[test]
fn the_recheck_refuses_gone_changed_or_retagged_resources() {
    let shown = resource("stopped", &[("Owner", "ana")]);
    assert_eq!(recheck(&shown, Some(&shown.clone())), None);
    assert_eq!(recheck(&shown, None).as_deref(), Some("the resource no longer exists"));
    let running = resource("running", &[("Owner", "ana")]);
    assert_eq!(recheck(&shown, Some(&running)).as_deref(), Some("its state changed from `stopped` to `running`"));
    let protected = resource("stopped", &[("Owner", "ana"), ("Environment", "Production")]);
    assert_eq!(recheck(&shown, Some(&protected)).as_deref(), Some("its tags changed (Environment=Production)"));
    // A resize is approved for one type; someone else resizing first changes what it would do.
    let resized = Resource { size_class: Some("m5.large".into()), ..shown.clone() };
    let said = recheck(&Resource { size_class: Some("m5.xlarge".into()), ..shown }, Some(&resized));
    assert_eq!(said.as_deref(), Some("its type changed from `m5.xlarge` to `m5.large`"));
}

#[test]
fn keep_holds_a_pending_or_approved_proposal_for_the_owner_or_an_approver_only() {
    let p = pending("40", SafetyPath::Normal);
    let until = at("11:00:00") + Duration::days(30);
    let keep = |p: &Proposal, allowed: bool, shown: u32| {
        p.keep("slack:UANA", allowed, "still needed", shown, until, at("11:00:00"))
    };
    assert_eq!(keep(&p, false, 1), Err(DecisionError::NotOwner), "neither owner nor approver");
    assert_eq!(keep(&p, true, 7), Err(DecisionError::Stale { shown: 7, current: 1 }));
    let kept = keep(&p, true, 1).unwrap();
    let expected = State::Kept { by: "slack:UANA".into(), until, reason: "still needed".into() };
    assert_eq!((kept.state.clone(), kept.version, kept.state.name()), (expected, 2, "kept"));
    assert_eq!(keep(&kept, true, 2), Err(DecisionError::Closed("kept")), "kept once");
    // An approved proposal the worker has not claimed yet can still be kept.
    let approved = p.decide("slack:U1", true, Decision::Approve, 1, at("10:30:00")).unwrap();
    assert!(matches!(keep(&approved, true, 2).map(|k| k.state), Ok(State::Kept { .. })));
    let late = p.keep("slack:UANA", true, "still needed", 1, until, at("10:00:00") + Duration::hours(25));
    assert_eq!(late, Err(DecisionError::Expired));
}
