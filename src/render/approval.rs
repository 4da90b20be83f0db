//! The approval card: what costbot proposes to do, why, what it saves, and the buttons that
//! decide it. The same card shows the outcome once decided or executed.

use chrono::NaiveDateTime;

use super::approval_owner as owner;
use crate::domain::chat::message::{ActionRef, Block, Button, ButtonStyle, Confirm, Message, Span, Tone, Verb};
use crate::domain::proposal::{Proposal, State};
use crate::domain::resource::{ResourceKind, SafetyPath};

/// A resource kind in words.
pub(crate) fn kind_text(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Ec2Instance => "EC2 instance",
        ResourceKind::EbsVolume => "EBS volume",
        ResourceKind::ElasticIp => "Elastic IP",
        ResourceKind::RdsInstance => "RDS database",
        ResourceKind::EbsSnapshot => "EBS snapshot",
        ResourceKind::RdsSnapshot => "RDS snapshot",
        ResourceKind::NatGateway => "NAT gateway",
        ResourceKind::LoadBalancer => "load balancer",
        ResourceKind::ClassicLoadBalancer => "Classic load balancer",
    }
}

fn state_line(p: &Proposal, now: NaiveDateTime) -> (String, Tone) {
    let at = |t: NaiveDateTime| t.format("%b %-d %H:%M UTC").to_string();
    match &p.state {
        State::Pending if now >= p.expires_at => ("Expired without a decision.".into(), Tone::Neutral),
        State::Pending => {
            let have = p.approvals.len();
            let need = usize::from(p.required_approvals);
            let who: Vec<&str> = p.approvals.iter().map(|a| a.by.as_str()).collect();
            let so_far = if who.is_empty() { String::new() } else { format!(" (approved by {})", who.join(", ")) };
            (
                format!("Waiting for {} of {need} approvals{so_far}; expires {}.", need - have, at(p.expires_at)),
                Tone::Warning,
            )
        }
        State::Approved => ("Approved; executing shortly.".into(), Tone::Warning),
        State::Executing { by, dry_run: true, .. } => (format!("Executing as a dry run (worker {by})…"), Tone::Warning),
        State::Executing { by, .. } => (format!("Executing for real (worker {by})…"), Tone::Warning),
        State::Done { outcome, dry_run: true } => (format!("Dry run: {outcome}. Nothing was changed."), Tone::Good),
        State::Done { outcome, dry_run: false } => (format!("Done: {outcome}."), Tone::Good),
        State::Aborted { reason } => (format!("Not executed: {reason}."), Tone::Neutral),
        State::Failed { error } => (format!("Failed: {error}."), Tone::Danger),
        State::Denied { by } => (format!("Denied by {by}."), Tone::Neutral),
        State::Snoozed { by, until } => (format!("Snoozed by {by} until {}.", at(*until)), Tone::Neutral),
        State::Kept { by, until, reason } => (
            format!("Kept by {by} until {}: {reason}. costbot does not act on it meanwhile.", at(*until)),
            Tone::Neutral,
        ),
        State::Expired if !p.approvals.is_empty() && p.approvals.len() >= usize::from(p.required_approvals) => {
            ("Approval lapsed before it could be executed; costbot will ask again.".into(), Tone::Neutral)
        }
        State::Expired => ("Expired without a decision.".into(), Tone::Neutral),
        State::Withdrawn => ("Withdrawn: the waste is gone.".into(), Tone::Good),
    }
}

/// The one reminder before a pending proposal expires: what waits, how many approvals it
/// has, and when it lapses.
pub fn reminder(p: &Proposal) -> Message {
    let r = &p.finding.resource.reference;
    let text = format!(
        "Reminder: the proposal to {} {} {} expires at {} UTC with {} of {} approvals. Decide on the card this replies to.",
        p.finding.action.verb(),
        kind_text(r.kind),
        r.id,
        p.expires_at.format("%Y-%m-%d %H:%M"),
        p.approvals.len(),
        p.required_approvals
    );
    let mut spans = vec![Span::Plain(text.clone())];
    if let Some(user) = p.owner.as_ref().and_then(|o| o.user.as_ref()) {
        spans.extend([Span::Plain(" Owner: ".into()), Span::Mention((user.platform, user.id.0.clone()))]);
    }
    Message { fallback: text, blocks: vec![Block::Text { spans }], tone: Tone::Warning, attachments: Vec::new() }
}

/// Renders a proposal as an approval card (with buttons while it is open).
pub fn card(p: &Proposal, now: NaiveDateTime) -> Message {
    let f = &p.finding;
    let r = &f.resource.reference;
    let action = f.action.verb();
    let saving = f.monthly_saving.map_or("unknown (price not in the table)".to_string(), |m| format!("{m}/month"));
    let title = format!("Proposal: {action} {} {}", kind_text(r.kind), r.id);
    let (status, tone) = state_line(p, now);
    let mut fields = vec![
        ("Account".to_string(), r.account.to_string()),
        ("Region".to_string(), r.region.clone()),
        ("Owner".to_string(), f.resource.tag("owner").unwrap_or("(no owner tag)").to_string()),
        ("Saves".to_string(), saving.clone()),
        ("Rule".to_string(), f.rule.clone()),
        ("Action".to_string(), action.to_string()),
    ];
    // A resolved owner is shown (and mentioned) on a line of its own instead.
    if p.owner.is_some() {
        fields.retain(|(label, _)| label != "Owner");
    }
    if let SafetyPath::Strict { reason } = &f.path {
        fields.push(("Needs two approvers".to_string(), reason.clone()));
    }
    let mut blocks = vec![
        Block::Header { text: title.clone() },
        Block::Text { spans: vec![Span::Bold("Evidence:".into()), Span::Plain(format!(" {}", f.evidence))] },
        Block::Fields { fields },
    ];
    blocks.extend(p.owner.as_ref().map(|o| Block::Text { spans: owner::line(o) }));
    blocks.extend([
        Block::Text { spans: vec![Span::Plain(status)] },
        Block::Context { spans: vec![Span::Plain(format!("{} · v{}", p.id, p.version))] },
    ]);
    if p.earlier_dry_run {
        let note = "Asked again: an earlier approval of this ran as a dry run only, so nothing was changed then.";
        let at = blocks.len() - 1;
        blocks.insert(at, Block::Context { spans: vec![Span::Plain(note.into())] });
    }
    if p.is_open(now) {
        let mut buttons = buttons(p);
        buttons.extend(p.owner.as_ref().is_some_and(|o| o.user.is_some()).then(|| owner::keep_button(p)));
        blocks.push(Block::Actions { buttons });
    } else if let Some(pause) = owner::pause_button(p) {
        blocks.push(Block::Actions { buttons: vec![pause] });
    }
    Message { fallback: format!("{title} (saves {saving})"), blocks, tone, attachments: Vec::new() }
}

fn buttons(p: &Proposal) -> Vec<Button> {
    let action = |verb| ActionRef { verb, target: p.id.0.clone(), version: p.version };
    let f = &p.finding;
    let destructive = f.action.destructive();
    let confirm = destructive.then(|| Confirm {
        title: "Are you sure?".into(),
        text: format!(
            "costbot will {} {} in {}. This cannot be undone.",
            f.action.verb(),
            f.resource.reference.id,
            f.resource.reference.account
        ),
        confirm: format!("Yes, {}", f.action.verb()),
        deny: "Cancel".into(),
    });
    vec![
        Button {
            label: "Approve".into(),
            action: action(Verb::Approve),
            style: if destructive { ButtonStyle::Danger } else { ButtonStyle::Primary },
            confirm,
        },
        Button { label: "Deny".into(), action: action(Verb::Deny), style: ButtonStyle::Default, confirm: None },
        Button {
            label: "Snooze 7 days".into(),
            action: action(Verb::Snooze),
            style: ButtonStyle::Default,
            confirm: None,
        },
    ]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::proposal::{ApprovalRules, Decision};
    use crate::domain::resource::{Action, Resource, ResourceRef, WasteFinding};
    use crate::domain::{AccountId, Money};

    fn at(s: &str) -> NaiveDateTime {
        format!("2026-11-25T{s}").parse().unwrap()
    }

    pub(crate) fn proposal(action: Action, path: SafetyPath) -> Proposal {
        let resource = Resource {
            reference: ResourceRef {
                account: AccountId::parse("333333333333").unwrap(),
                region: "us-east-1".into(),
                kind: ResourceKind::Ec2Instance,
                id: "i-0f00dfeed".into(),
            },
            state: "stopped".into(),
            tags: [("owner".to_string(), "ana@example.com".to_string())].into(),
            created_at: None,
            state_since: None,
            size_class: Some("m5.xlarge".into()),
            storage_gib: None,
            monthly_cost: Some(Money::parse("16").unwrap()),
            dependencies: vec![],
            activity: None,
        };
        let finding = WasteFinding {
            resource,
            rule: "stopped_instance".into(),
            evidence: "stopped since Oct 16 (40 days); its 200 GiB gp3 volume still costs $16.00 a month".into(),
            monthly_saving: Some(Money::parse("16").unwrap()),
            action,
            path,
        };
        let rules = ApprovalRules {
            expires_after: chrono::Duration::hours(24),
            two_approvers_above: Money::parse("500").unwrap(),
            dry_run: true,
        };
        Proposal::new(finding, &rules, at("09:00:00")).unwrap()
    }

    /// The strict terminate card the snapshots use.
    pub(crate) fn strict_terminate_card() -> Message {
        let p = proposal(Action::TerminateInstance, SafetyPath::Strict { reason: "launched 3 days ago".into() });
        card(&p, at("10:00:00"))
    }

    #[test]
    fn the_reminder_says_what_waits_and_when_it_lapses() {
        let p = proposal(Action::TerminateInstance, SafetyPath::Strict { reason: "launched 3 days ago".into() });
        let once = p.decide("slack:U1", true, Decision::Approve, 1, at("10:00:00")).unwrap();
        insta::assert_json_snapshot!("approval_reminder", reminder(&once));
    }

    #[test]
    fn a_destructive_proposal_has_a_red_approve_with_a_confirm_dialog() {
        let p = proposal(Action::TerminateInstance, SafetyPath::Strict { reason: "launched 3 days ago".into() });
        insta::assert_json_snapshot!("approval_pending_strict", card(&p, at("10:00:00")));
    }

    #[test]
    fn decided_cards_lose_their_buttons_and_say_what_happened() {
        let p = proposal(Action::StopInstance, SafetyPath::Normal);
        let approved = p.decide("slack:U1", true, Decision::Approve, 1, at("10:00:00")).unwrap();
        let done =
            approved.with_state(State::Done { outcome: "instance is stopping".into(), dry_run: true }, at("10:00:05"));
        let message = card(&done, at("10:00:06"));
        assert!(!message.blocks.iter().any(|b| matches!(b, Block::Actions { .. })));
        insta::assert_json_snapshot!("approval_done_dry_run", message);
        let stop = card(&p, at("10:00:00"));
        let Some(Block::Actions { buttons }) = stop.blocks.last() else { panic!("buttons") };
        assert_eq!(
            (buttons[0].style, buttons[0].confirm.is_none()),
            (ButtonStyle::Primary, true),
            "stopping is reversible"
        );
    }
}
