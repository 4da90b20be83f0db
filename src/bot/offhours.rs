//! `/cost offhours`: listing, pausing and resuming off-hours schedules from chat. Only the
//! channel's approvers pause and resume; refusals are audited like refused clicks, and a pause
//! commits with its audit record.

use anyhow::Result;
use chrono::{NaiveDate, NaiveDateTime};

use super::{audit_record, Bot, BotTables};
use crate::chat::{Actor, Reply};
use crate::domain::chat::message::Message;
use crate::domain::proposal::{Proposal, ProposalId, State};
use crate::domain::resource::Action;
use crate::domain::AccountId;
use crate::store::SchedulePause;

impl<S: BotTables + ?Sized> Bot<S> {
    /// The approved off-hours schedules of the channel's accounts, from the store.
    pub(super) async fn offhours(&self, accounts: Option<&[AccountId]>, now: NaiveDateTime) -> Result<Message> {
        let tag = self.config.waste.rules().offhours_tag;
        let pauses = self.store.schedule_pauses().await?;
        let rows: Vec<_> = self
            .store
            .proposals_in(&["done"])
            .await?
            .iter()
            .filter(|p| in_scope(p, accounts))
            .filter_map(|p| {
                let pause = pauses.iter().find(|x| x.schedule == p.id.0 && x.holds_at(now));
                crate::schedules::listed(p, &tag, pause, now)
            })
            .collect();
        Ok(crate::render::offhours::schedules(&rows))
    }

    /// Pauses a schedule until the start of `until` (UTC), or until resumed.
    pub(super) async fn pause_schedule(
        &self,
        actor: &Actor,
        id: &ProposalId,
        until: Option<NaiveDate>,
        accounts: Option<&[AccountId]>,
        now: NaiveDateTime,
    ) -> Result<Reply> {
        let until = until.and_then(|d| d.and_hms_opt(0, 0, 0));
        if let Some(refusal) = self.schedule_refusal(actor, id, "pause", accounts, now).await? {
            return Ok(refusal);
        }
        if until.is_some_and(|u| u <= now) {
            return Ok(Reply::Ephemeral(Message::plain("That day has already begun; pause until a later day.")));
        }
        let by = self.identity(actor);
        let pause = SchedulePause { schedule: id.0.clone(), until, by: by.clone(), at: now };
        let detail = serde_json::json!({ "until": until, "by": by });
        self.store.pause_schedule(&pause, &audit_record(actor, "offhours_paused", &id.0, detail, now)).await?;
        let when = until
            .map_or("until someone resumes it".to_string(), |u| format!("until {}", u.format("%Y-%m-%d 00:00 UTC")));
        Ok(Reply::InChannel(Message::plain(format!(
            "Schedule `{id}` is paused {when}: no stop or start happens meanwhile (paused by {by}).",
            id = id.0
        ))))
    }

    /// Resumes a paused schedule.
    pub(super) async fn resume_schedule(
        &self,
        actor: &Actor,
        id: &ProposalId,
        accounts: Option<&[AccountId]>,
        now: NaiveDateTime,
    ) -> Result<Reply> {
        if let Some(refusal) = self.schedule_refusal(actor, id, "resume", accounts, now).await? {
            return Ok(refusal);
        }
        let detail = serde_json::json!({ "by": self.identity(actor) });
        let audit = audit_record(actor, "offhours_resumed", &id.0, detail, now);
        match self.store.resume_schedule(&id.0, &audit).await? {
            Some(_) => Ok(Reply::InChannel(Message::plain(format!(
                "Schedule `{}` follows its switches again from the next one.",
                id.0
            )))),
            None => Ok(Reply::Ephemeral(Message::plain(format!("Schedule `{}` is not paused.", id.0)))),
        }
    }

    /// Why `actor` may not pause or resume `id` here, as the reply (refusals by a
    /// non-approver are audited); `None` when they may.
    async fn schedule_refusal(
        &self,
        actor: &Actor,
        id: &ProposalId,
        verb: &str,
        accounts: Option<&[AccountId]>,
        now: NaiveDateTime,
    ) -> Result<Option<Reply>> {
        let found = self.store.proposal(id).await?;
        let schedule = found.filter(|p| {
            p.finding.action == Action::OffHours && matches!(p.state, State::Done { .. }) && in_scope(p, accounts)
        });
        // Unknown and out-of-scope ids get the same answer, so a channel learns nothing else.
        if schedule.is_none() {
            return Ok(Some(Reply::Ephemeral(Message::plain(format!(
                "No approved schedule `{}` in this channel; `/cost offhours` lists them.",
                id.0
            )))));
        }
        if !self.may_approve(actor) {
            let detail = serde_json::json!({ "verb": verb, "reason": "not an approver" });
            self.audit(actor, "offhours_refused", &id.0, detail, now).await?;
            return Ok(Some(Reply::Ephemeral(Message::plain(format!(
                "Only this channel's approvers can {verb} a schedule."
            )))));
        }
        Ok(None)
    }
}

fn in_scope(p: &Proposal, accounts: Option<&[AccountId]>) -> bool {
    accounts.is_none_or(|ids| ids.contains(&p.finding.resource.reference.account))
}
