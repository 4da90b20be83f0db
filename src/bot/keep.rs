//! The **Keep** button (the resource's owner holds a proposal back, with a reason) and the
//! **Pause schedule** button of an approved off-hours schedule's card.
//!
//! Keep may come from the owner's direct message, which is no configured channel: the owner
//! is recognised by the user id resolved when the proposal was made, and an approver only in
//! a channel where they approve. Anyone else is refused, and the refusal is audited.

use anyhow::Result;
use chrono::NaiveDateTime;

use super::{audit_record, Bot, BotTables, Scope};
use crate::chat::{Actor, Reply};
use crate::domain::chat::message::{ActionRef, Message};
use crate::domain::owner::kept_until;
use crate::domain::proposal::{Proposal, ProposalId};
use crate::proposals::card_entries;
use crate::store::ProposalChange;

impl<S: BotTables + ?Sized> Bot<S> {
    /// The Keep button: the version on the card, the default reason.
    pub(super) async fn keep(&self, actor: &Actor, action: &ActionRef, now: NaiveDateTime) -> Result<Reply> {
        let id = ProposalId(action.target.clone());
        let kept = self.keep_with(actor, &id, Some(action.version), None, now).await?;
        Ok(match kept {
            Ok(next) if matches!(self.scope(actor), Scope::Unknown) => {
                Reply::UpdateOriginal(crate::render::approval_owner::owner_card(&next, now))
            }
            Ok(next) => Reply::UpdateOriginal(crate::render::approval::card(&next, now)),
            Err(refusal) => refusal,
        })
    }

    /// `/cost keep ID REASON`: the current version, the person's reason.
    pub(super) async fn keep_command(
        &self,
        actor: &Actor,
        id: &ProposalId,
        reason: &str,
        now: NaiveDateTime,
    ) -> Result<Reply> {
        Ok(match self.keep_with(actor, id, None, Some(reason), now).await? {
            Ok(_) => Reply::InChannel(Message::plain(format!(
                "Proposal `{}` is kept until {} UTC: {reason}. costbot does not act on it meanwhile.",
                id.0,
                kept_until(now).format("%Y-%m-%d %H:%M")
            ))),
            Err(refusal) => refusal,
        })
    }

    /// Keep: the proposal is not acted on until [`kept_until`]; every outcome is audited. The
    /// refusal is the reply to give; `shown` is the card's version (`None`: the current one,
    /// for the command); `reason` defaults to who kept it.
    async fn keep_with(
        &self,
        actor: &Actor,
        id: &ProposalId,
        shown: Option<u32>,
        reason: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<Result<Proposal, Reply>> {
        let verb = shown.map_or(format!("/cost keep {}", id.0), |v| format!("keep:{}:{v}", id.0));
        let Some(proposal) = self.store.proposal(id).await? else {
            self.audit(actor, "click_unknown_proposal", &id.0, serde_json::json!({"verb": verb}), now).await?;
            return Ok(Err(Reply::Ephemeral(Message::plain("That proposal does not exist (any more)."))));
        };
        let owner = proposal.owner.as_ref().is_some_and(|o| o.is(actor.platform, &actor.user));
        let visible = match self.scope(actor) {
            Scope::All => true,
            Scope::Only(ids) => ids.contains(&proposal.finding.resource.reference.account),
            Scope::Unknown => false,
        };
        let approver = visible && self.may_approve(actor);
        let reason = reason.unwrap_or(if owner { "its owner keeps it" } else { "an approver keeps it" });
        let by = self.identity(actor);
        let until = kept_until(now);
        let shown = shown.unwrap_or(proposal.version);
        let next = match proposal.keep(&by, owner || approver, reason, shown, until, now) {
            Ok(next) => next,
            Err(refusal) => {
                let detail = serde_json::json!({"verb": verb, "refusal": refusal.to_string(),
                    "owner": owner, "approver": approver});
                self.audit(actor, "keep_refused", &id.0, detail, now).await?;
                return Ok(Err(Reply::Ephemeral(Message::plain(format!("Not done: {refusal}.")))));
            }
        };
        let detail = serde_json::json!({"version": next.version, "reason": reason, "until": until, "owner": owner});
        // The keep, its audit record and every copy of the card commit together or not at all.
        let change = ProposalChange {
            next: &next,
            from_version: proposal.version,
            audit: audit_record(actor, "proposal_kept", &id.0, detail, now),
            cards: card_entries(&next, &self.config.channels, now),
            now,
        };
        if self.store.change_proposal(&change).await?.is_none() {
            let detail = serde_json::json!({"verb": verb, "refusal": "changed concurrently"});
            self.audit(actor, "keep_refused", &id.0, detail, now).await?;
            return Ok(Err(Reply::Ephemeral(Message::plain(
                "Someone changed this proposal at the same moment; look at the updated card.",
            ))));
        }
        Ok(Ok(next))
    }

    /// Pause schedule: exactly `/cost offhours pause <id>` without an end date, with the same
    /// permission (the channel's approvers) and audit record.
    pub(super) async fn pause_click(&self, actor: &Actor, action: &ActionRef, now: NaiveDateTime) -> Result<Reply> {
        let accounts = match self.scope(actor) {
            Scope::All => None,
            Scope::Only(ids) => Some(ids),
            Scope::Unknown => return Ok(Reply::Ephemeral(Message::plain(super::NOT_SET_UP))),
        };
        self.pause_schedule(actor, &ProposalId(action.target.clone()), None, accounts, now).await
    }
}
