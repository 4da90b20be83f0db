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
use crate::domain::proposal::ProposalId;
use crate::proposals::card_entries;
use crate::store::ProposalChange;

impl<S: BotTables + ?Sized> Bot<S> {
    /// Keep: the proposal is not acted on until [`kept_until`]; every outcome is audited.
    pub(super) async fn keep(&self, actor: &Actor, action: &ActionRef, now: NaiveDateTime) -> Result<Reply> {
        let id = ProposalId(action.target.clone());
        let Some(proposal) = self.store.proposal(&id).await? else {
            self.audit(actor, "click_unknown_proposal", &id.0, serde_json::json!({"verb": action.encode()}), now)
                .await?;
            return Ok(Reply::Ephemeral(Message::plain("That proposal does not exist (any more).")));
        };
        let owner = proposal.owner.as_ref().is_some_and(|o| o.is(actor.platform, &actor.user));
        let visible = match self.scope(actor) {
            Scope::All => true,
            Scope::Only(ids) => ids.contains(&proposal.finding.resource.reference.account),
            Scope::Unknown => false,
        };
        let approver = visible && self.may_approve(actor);
        let reason = if owner { "its owner keeps it" } else { "an approver keeps it" };
        let by = self.identity(actor);
        let until = kept_until(now);
        let next = match proposal.keep(&by, owner || approver, reason, action.version, until, now) {
            Ok(next) => next,
            Err(refusal) => {
                let detail = serde_json::json!({"verb": action.encode(), "refusal": refusal.to_string(),
                    "owner": owner, "approver": approver});
                self.audit(actor, "keep_refused", &id.0, detail, now).await?;
                return Ok(Reply::Ephemeral(Message::plain(format!("Not done: {refusal}."))));
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
            let detail = serde_json::json!({"verb": action.encode(), "refusal": "changed concurrently"});
            self.audit(actor, "keep_refused", &id.0, detail, now).await?;
            return Ok(Reply::Ephemeral(Message::plain(
                "Someone changed this proposal at the same moment; look at the updated card.",
            )));
        }
        let card = if matches!(self.scope(actor), Scope::Unknown) {
            crate::render::approval_owner::owner_card(&next, now)
        } else {
            crate::render::approval::card(&next, now)
        };
        Ok(Reply::UpdateOriginal(card))
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
