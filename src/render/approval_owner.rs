//! The owner's parts of the approval card: the owner line (with the mention), the **Keep**
//! button, the owner's own copy sent as a direct message, and the **Pause schedule** button
//! of an approved off-hours schedule.

use chrono::NaiveDateTime;

use crate::domain::chat::message::{ActionRef, Block, Button, ButtonStyle, Message, Span, Verb};
use crate::domain::owner::Owner;
use crate::domain::proposal::{Proposal, State};
use crate::domain::resource::Action;

/// "Owner: @ana (from `owner=ana@example.com`)", or why costbot does not know the owner.
pub fn line(o: &Owner) -> Vec<Span> {
    let mut spans = vec![Span::Bold("Owner:".into()), Span::Plain(" ".into())];
    match (&o.user, &o.tag) {
        (Some(user), tag) => {
            spans.push(Span::Mention((user.platform, user.id.0.clone())));
            if let Some(tag) = tag {
                spans.extend([Span::Plain(" (from ".into()), Span::Code(tag.clone()), Span::Plain(")".into())]);
            }
        }
        (None, Some(tag)) => {
            let why = o.unknown.as_deref().unwrap_or("not found");
            spans.extend([
                Span::Plain("unknown: ".into()),
                Span::Code(tag.clone()),
                Span::Plain(format!(" ({why}); the approvers here decide as usual.")),
            ]);
        }
        (None, None) => spans.push(Span::Plain("unknown (no owner tag); the approvers here decide as usual.".into())),
    }
    if let Some(team) = &o.team {
        spans.push(Span::Plain(format!(" Team {}.", team.team)));
    }
    spans
}

/// The owner's **Keep**: not now, and not for a while (see `domain::owner::KEEP`).
pub fn keep_button(p: &Proposal) -> Button {
    Button {
        label: "Keep (owner)".into(),
        action: ActionRef { verb: Verb::Keep, target: p.id.0.clone(), version: p.version },
        style: ButtonStyle::Default,
        confirm: None,
    }
}

/// **Pause schedule** on an approved off-hours schedule's card: the same as
/// `/cost offhours pause <id>` with no end date. `None` for every other card.
pub fn pause_button(p: &Proposal) -> Option<Button> {
    (p.finding.action == Action::OffHours && matches!(p.state, State::Done { .. })).then(|| Button {
        label: "Pause schedule".into(),
        action: ActionRef { verb: Verb::Pause, target: p.id.0.clone(), version: p.version },
        style: ButtonStyle::Default,
        confirm: None,
    })
}

/// The owner's copy of the card, sent as a direct message: the same card, but only the
/// buttons that work outside an approvers' channel (Keep), and a line saying why it came.
pub fn owner_card(p: &Proposal, now: NaiveDateTime) -> Message {
    let mut message = crate::render::approval::card(p, now);
    for block in &mut message.blocks {
        if let Block::Actions { buttons } = block {
            buttons.retain(|b| b.action.verb == Verb::Keep);
        }
    }
    message.blocks.retain(|b| !matches!(b, Block::Actions { buttons } if buttons.is_empty()));
    let why = "You get this because you own this resource. Keep holds it back for 30 days; the approvers decide in their channel.";
    message.blocks.push(Block::Context { spans: vec![Span::Plain(why.into())] });
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::chat::{ChannelId, Platform, UserId};
    use crate::domain::owner::{ChatUser, TeamRoute};
    use crate::domain::resource::SafetyPath;

    fn at(s: &str) -> NaiveDateTime {
        format!("2026-11-25T{s}").parse().unwrap()
    }

    fn owned(owner: Owner) -> Proposal {
        let p = crate::render::approval::tests::proposal(Action::StopInstance, SafetyPath::Normal);
        Proposal { owner: Some(owner), ..p }
    }

    fn ana() -> Owner {
        Owner {
            tag: Some("owner=ana@example.com".into()),
            user: Some(ChatUser { platform: Platform::Slack, id: UserId("U0ANA00001".into()) }),
            team: Some(TeamRoute {
                team: "payments".into(),
                platform: Platform::Slack,
                channel: ChannelId("CPAY".into()),
            }),
            unknown: None,
        }
    }

    #[test]
    fn the_card_mentions_the_owner_and_offers_keep() {
        let p = owned(ana());
        let card = crate::render::approval::card(&p, at("10:00:00"));
        insta::assert_json_snapshot!("approval_owned", card);
        let Some(Block::Actions { buttons }) = card.blocks.last() else { panic!("buttons") };
        assert_eq!(buttons.last().map(|b| b.action.verb), Some(Verb::Keep));
    }

    #[test]
    fn an_unknown_owner_is_said_and_the_card_is_as_today() {
        let unknown = Owner {
            tag: Some("owner=bob@example.com".into()),
            user: None,
            team: None,
            unknown: Some("no Slack user has that email".into()),
        };
        let text = crate::render::text::plain(&crate::render::approval::card(&owned(unknown), at("10:00:00")));
        assert!(text.contains("Owner: unknown: owner=bob@example.com (no Slack user has that email)"), "{text}");
        assert!(text.contains("Approve") && text.contains("Deny"), "{text}");
    }

    #[test]
    fn the_owners_copy_has_only_keep_and_a_kept_card_says_why() {
        let p = owned(ana());
        let copy = owner_card(&p, at("10:00:00"));
        insta::assert_json_snapshot!("approval_owner_copy", copy);
        let kept = p
            .keep(
                "slack:U0ANA00001",
                true,
                "the owner keeps it",
                p.version,
                at("10:00:00") + chrono::Duration::days(30),
                at("10:00:00"),
            )
            .unwrap();
        let card = crate::render::approval::card(&kept, at("10:01:00"));
        let text = crate::render::text::plain(&card);
        assert!(text.contains("Kept by slack:U0ANA00001 until Dec 25 10:00 UTC: the owner keeps it."), "{text}");
        assert!(!card.blocks.iter().any(|b| matches!(b, Block::Actions { .. })), "no buttons while kept");
    }

    #[test]
    fn an_approved_schedule_card_has_a_pause_button_and_others_do_not() {
        let mut p = crate::render::approval::tests::proposal(Action::OffHours, SafetyPath::Normal);
        p.state = State::Done { outcome: "schedule approved".into(), dry_run: true };
        let card = crate::render::approval::card(&p, at("10:00:00"));
        insta::assert_json_snapshot!("approval_schedule_pause", card);
        assert_eq!(pause_button(&p).map(|b| b.action.encode()), Some(format!("pause:{}:{}", p.id, p.version)));
        let stop = crate::render::approval::tests::proposal(Action::StopInstance, SafetyPath::Normal);
        assert_eq!(pause_button(&Proposal { state: p.state.clone(), ..stop }), None);
    }
}
