//! The bot: the one [`ChatHandler`] behind Slack, Discord and the console.
//!
//! Commands are answered from the store only (never from AWS), scoped to the accounts the
//! channel may see. Clicks are checked against the channel's allow-list; every decision and
//! every refusal is written to the audit log. Internal errors are logged in full and the user
//! gets a short, honest reply.

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;
use chrono::{Days, NaiveDateTime, Utc};

use crate::answers::AnswerTables;
use crate::answers::{AnswerError, AnswerScope, Answers};
use crate::chat::{Actor, ChatHandler, Inbound, Reply};
use crate::commands::{self, Command};
use crate::config::{ChannelConfig, Config};
use crate::domain::audit::AuditRecord;
use crate::domain::chat::message::{ActionRef, Message, Tone, Verb};
use crate::domain::feedback::{precision, Feedback, Verdict};
use crate::domain::incident::{AnomalyId, AnomalyMark, Status};
use crate::domain::proposal::{Decision, ProposalId, State as ProposalState};
use crate::domain::AccountId;
use crate::limits::{Limited, Limits, Refusal};
use crate::proposals::card_entries;
use crate::render::alert::{alert, feedback_stats, open_anomalies};
use crate::render::approval::card as approval_card;
use crate::store::{
    AnomalyMarkChange, AnomalyStore, AuditStore, BudgetStore, OutboxStore, ProposalChange, ProposalStore,
    ScheduleStore, Store,
};

mod budget;
mod keep;
mod offhours;

/// How long "Mute" silences an anomaly.
const MUTE_DAYS: u64 = 7;
/// The window `/cost anomalies stats` measures precision over.
const STATS_DAYS: u64 = 90;

/// The bot's dependencies.
/// The tables the bot touches: what answers read, plus anomalies and proposals (read and
/// changed by clicks), the outbox (updated cards) and the audit log (every decision).
pub trait BotTables:
    AnswerTables + AnomalyStore + ProposalStore + OutboxStore + AuditStore + ScheduleStore + BudgetStore
{
}

impl<T> BotTables for T where
    T: AnswerTables + AnomalyStore + ProposalStore + OutboxStore + AuditStore + ScheduleStore + BudgetStore + ?Sized
{
}

pub struct Bot<S: ?Sized = dyn Store> {
    store: Arc<S>,
    config: Arc<Config>,
    answers: Arc<Answers<S>>,
    limits: Arc<Limits>,
}

// A derived `Clone` would ask for `S: Clone`; cloning shares the store handle instead.
impl<S: ?Sized> Clone for Bot<S> {
    fn clone(&self) -> Self {
        Bot {
            store: self.store.clone(),
            config: self.config.clone(),
            answers: self.answers.clone(),
            limits: self.limits.clone(),
        }
    }
}

/// What a channel may see, resolved from configuration.
enum Scope<'a> {
    /// Every account (a configured channel without an account list).
    All,
    /// Only these accounts.
    Only(&'a [AccountId]),
    /// The channel (or DM) is not in `[[channels]]`: deny by default, it sees nothing.
    Unknown,
}

/// The answer to anything from a channel that is not configured, commands and clicks alike.
const NOT_SET_UP: &str = "This channel is not set up for costbot. Ask an admin to add it to [[channels]].";

impl<S: BotTables + ?Sized> Bot<S> {
    /// A bot over a store and configuration.
    pub fn new(store: Arc<S>, config: Arc<Config>) -> Bot<S> {
        let limits = Arc::new(Limits::new(config.server.chat_burst_per_person, config.server.chat_burst_per_channel));
        Bot { answers: Arc::new(Answers::new(store.clone())), store, config, limits }
    }

    fn channel(&self, actor: &Actor) -> Option<&ChannelConfig> {
        self.config.channel(actor.platform, &actor.channel.0)
    }

    fn scope(&self, actor: &Actor) -> Scope<'_> {
        match self.channel(actor) {
            // A tag-scoped channel sees no account-level data (schedules, statistics, proposals):
            // those hold every team's resources. Its answers go through the tag scope instead.
            Some(c) if !c.tags.is_empty() => Scope::Only(&[]),
            Some(c) if c.accounts.is_empty() => Scope::All,
            Some(c) => Scope::Only(&c.accounts),
            None => Scope::Unknown,
        }
    }

    /// Who is asking about budgets; a channel that is not configured sees none.
    fn viewer(&self, actor: &Actor) -> crate::budgets::Viewer<'_> {
        self.channel(actor).map(crate::budgets::Viewer::of).unwrap_or(crate::budgets::Viewer::Accounts(&[]))
    }

    /// Who decided, as approvals count them: the `[[people]]` entry the identity belongs to
    /// (`person:ana`), else the platform identity (`slack:U1`). One person, one approval.
    fn identity(&self, actor: &Actor) -> String {
        match self.config.person(actor.platform, &actor.user.0) {
            Some(person) => format!("person:{}", person.name),
            None => format!("{}:{}", actor.platform.as_str(), actor.user),
        }
    }

    async fn command(&self, actor: &Actor, text: &str, now: NaiveDateTime) -> Result<Reply> {
        let vocabulary = commands::Vocabulary { tag_keys: self.config.tag_keys() };
        let command = match commands::parse_in(text, &vocabulary) {
            Ok(c) => c,
            Err(e) => return Ok(Reply::Ephemeral(Message::plain(format!("{e}. Try `/cost help`.")))),
        };
        // The owner may keep from their direct message, which is no configured channel;
        // `keep_command` checks who they are instead.
        if let Command::Keep { id, reason } = &command {
            return self.keep_command(actor, id, reason, now).await;
        }
        let accounts = match self.scope(actor) {
            Scope::Unknown => return Ok(Reply::Ephemeral(Message::plain(NOT_SET_UP))),
            Scope::All => None,
            Scope::Only(ids) => Some(ids),
        };
        let answer_scope = match self.channel(actor) {
            Some(c) => {
                AnswerScope { accounts: (!c.accounts.is_empty()).then(|| c.accounts.clone()), tags: c.tag_scope() }
            }
            None => return Ok(Reply::Ephemeral(Message::plain(NOT_SET_UP))),
        };
        let today = now.date();
        if let Command::Report(report) = &command {
            if report.period.check(today).is_err() {
                return Ok(Reply::Ephemeral(Message::plain(
                    "That period hasn't started yet; ask about today or earlier.",
                )));
            }
        }
        let answer = match &command {
            Command::Help => return Ok(Reply::Ephemeral(commands::help())),
            Command::Anomalies => return Ok(Reply::InChannel(self.anomalies(self.channel(actor)).await?)),
            Command::AnomalyStats => return Ok(Reply::InChannel(self.anomaly_stats(accounts, now).await?)),
            Command::Offhours => return Ok(Reply::InChannel(self.offhours(accounts, now).await?)),
            Command::OffhoursPause { id, until } => return self.pause_schedule(actor, id, *until, accounts, now).await,
            Command::OffhoursResume { id } => return self.resume_schedule(actor, id, accounts, now).await,
            Command::Budget(name) => {
                return Ok(Reply::InChannel(self.budget_answer(&self.viewer(actor), name.as_ref(), now).await?))
            }
            Command::BudgetSet { name, amount } => {
                return self.set_budget(actor, name, *amount, &self.viewer(actor), now).await
            }
            Command::Report(report) => self.answers.report_in(report, &answer_scope, today).await,
            Command::Forecast(filters) => self.answers.forecast_in(filters, &answer_scope, today).await,
            Command::Keep { id, reason } => return self.keep_command(actor, id, reason, now).await,
        };
        match answer {
            Ok(message) => Ok(Reply::InChannel(message)),
            Err(AnswerError::User(text)) => Ok(Reply::Ephemeral(Message::plain(text))),
            Err(AnswerError::Internal(error)) => Err(error),
        }
    }

    async fn anomalies(&self, channel: Option<&ChannelConfig>) -> Result<Message> {
        let names = self.account_names().await?;
        let lookup = |id: &str| names.get(id).cloned();
        let visible: Vec<_> = self
            .store
            .anomalies(true, 50)
            .await?
            .into_iter()
            .filter(|a| channel.is_some_and(|c| c.may_see_series(&a.key)))
            .collect();
        Ok(open_anomalies(&visible, &lookup))
    }

    async fn account_names(&self) -> Result<std::collections::HashMap<String, String>> {
        self.answers.account_names().await
    }

    fn may_approve(&self, actor: &Actor) -> bool {
        let person = self.config.person(actor.platform, &actor.user.0).map(|p| p.name.as_str());
        self.channel(actor).is_some_and(|c| {
            c.approvers.iter().any(|a| {
                a == &actor.user.0
                    || a.strip_prefix("role:").is_some_and(|r| actor.roles.iter().any(|x| x == r))
                    || a.strip_prefix("person:").is_some_and(|p| person == Some(p))
            })
        })
    }

    async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        detail: serde_json::Value,
        now: NaiveDateTime,
    ) -> Result<()> {
        self.store.append_audit(&audit_record(actor, action, target, detail, now)).await?;
        Ok(())
    }

    async fn click(&self, actor: &Actor, action: &ActionRef, now: NaiveDateTime) -> Result<Reply> {
        // The owner presses Keep in their direct message, which is no configured channel;
        // `keep` checks who they are instead.
        if action.verb == Verb::Keep {
            return self.keep(actor, action, now).await;
        }
        if matches!(self.scope(actor), Scope::Unknown) {
            let detail = serde_json::json!({"verb": action.encode(), "refusal": "channel not set up"});
            self.audit(actor, "click_refused", &action.target, detail, now).await?;
            return Ok(Reply::Ephemeral(Message::plain(NOT_SET_UP)));
        }
        match action.verb {
            Verb::Approve | Verb::Deny | Verb::Snooze => self.decide(actor, action, now).await,
            Verb::Ack | Verb::Mute | Verb::Expected | Verb::NotAnAnomaly | Verb::Real => {
                self.mark(actor, action, now).await
            }
            Verb::Keep => self.keep(actor, action, now).await,
            Verb::Pause => self.pause_click(actor, action, now).await,
        }
    }

    /// Approve, deny or snooze a proposal: the allow-list, the card's version and the expiry
    /// are checked by the domain; every outcome, refusals included, is audited.
    async fn decide(&self, actor: &Actor, action: &ActionRef, now: NaiveDateTime) -> Result<Reply> {
        let id = ProposalId(action.target.clone());
        let Some(proposal) = self.store.proposal(&id).await? else {
            self.audit(actor, "click_unknown_proposal", &id.0, serde_json::json!({"verb": action.encode()}), now)
                .await?;
            return Ok(Reply::Ephemeral(Message::plain("That proposal does not exist (any more).")));
        };
        let resource = &proposal.finding.resource;
        let visible =
            self.channel(actor).is_some_and(|c| c.may_see_resource(&resource.reference.account, &resource.tags));
        let allowed = visible && self.may_approve(actor);
        let decision = match action.verb {
            Verb::Deny => Decision::Deny,
            Verb::Snooze => Decision::Snooze,
            _ => Decision::Approve,
        };
        let by = self.identity(actor);
        let next = match proposal.decide(&by, allowed, decision, action.version, now) {
            Ok(next) => next,
            Err(refusal) => {
                let detail = serde_json::json!({"verb": action.encode(), "refusal": refusal.to_string()});
                self.audit(actor, "decision_refused", &id.0, detail, now).await?;
                return Ok(Reply::Ephemeral(Message::plain(format!("Not done: {refusal}."))));
            }
        };
        let verb = match decision {
            Decision::Approve if next.state == ProposalState::Approved => "proposal_approved",
            Decision::Approve => "proposal_approval_recorded",
            Decision::Deny => "proposal_denied",
            Decision::Snooze => "proposal_snoozed",
        };
        // The decision, its audit record and the updated cards commit together or not at all.
        let change = ProposalChange {
            next: &next,
            from_version: proposal.version,
            audit: audit_record(
                actor,
                verb,
                &id.0,
                serde_json::json!({"version": next.version, "approvals": next.approvals.len()}),
                now,
            ),
            cards: card_entries(&next, &self.config.channels, now),
            now,
        };
        if self.store.change_proposal(&change).await?.is_none() {
            self.audit(
                actor,
                "decision_refused",
                &id.0,
                serde_json::json!({"verb": action.encode(), "refusal": "changed concurrently"}),
                now,
            )
            .await?;
            return Ok(Reply::Ephemeral(Message::plain(
                "Someone changed this proposal at the same moment; look at the updated card.",
            )));
        }
        Ok(Reply::UpdateOriginal(approval_card(&next, now)))
    }

    async fn mark(&self, actor: &Actor, action: &ActionRef, now: NaiveDateTime) -> Result<Reply> {
        let id = AnomalyId(action.target.clone());
        let Some(anomaly) = self.store.anomaly(&id).await? else {
            self.audit(actor, "click_unknown_anomaly", &id.0, serde_json::json!({"verb": action.encode()}), now)
                .await?;
            return Ok(Reply::Ephemeral(Message::plain("That anomaly no longer exists.")));
        };
        // Acknowledging and calling an alert real are harmless; muting, "expected" and "not an
        // anomaly" silence alerts (the last two for good, on that series), so they need an
        // approver.
        let allowed = match action.verb {
            Verb::Mute | Verb::Expected | Verb::NotAnAnomaly => self.may_approve(actor),
            _ => !matches!(self.scope(actor), Scope::Unknown),
        };
        let visible = self.channel(actor).is_some_and(|c| c.may_see_series(&anomaly.key));
        if !allowed || !visible {
            self.audit(actor, "click_refused", &id.0, serde_json::json!({"verb": action.encode()}), now).await?;
            return Ok(Reply::Ephemeral(Message::plain("You are not allowed to do that in this channel.")));
        }
        // An anomaly takes one verdict: the first one acted on detection already.
        let refusal = if anomaly.status == Status::Resolved {
            Some(("already resolved".to_string(), "Not done: that anomaly is already resolved.".to_string()))
        } else {
            anomaly
                .feedback
                .as_ref()
                .filter(|_| matches!(action.verb, Verb::Expected | Verb::NotAnAnomaly | Verb::Real))
                .map(|(mark, verdict)| {
                    let said = format!("already answered {} by {}", verdict.label(), mark.by);
                    let reply = format!("Not done: {} already answered this one: {}.", mark.by, verdict.label());
                    (said, reply)
                })
        };
        if let Some((refusal, reply)) = refusal {
            self.audit(
                actor,
                "click_refused",
                &id.0,
                serde_json::json!({"verb": action.encode(), "refusal": refusal}),
                now,
            )
            .await?;
            return Ok(Reply::Ephemeral(Message::plain(reply)));
        }
        let by = self.identity(actor);
        let (mark, verb) = match action.verb {
            Verb::Mute => (AnomalyMark::Mute { by, until: now + Days::new(MUTE_DAYS) }, "anomaly_muted"),
            Verb::Expected => (AnomalyMark::Feedback { by, verdict: Verdict::Expected }, "anomaly_feedback_expected"),
            Verb::NotAnAnomaly => {
                (AnomalyMark::Feedback { by, verdict: Verdict::NotAnAnomaly }, "anomaly_feedback_not_an_anomaly")
            }
            Verb::Real => (AnomalyMark::Feedback { by, verdict: Verdict::Real }, "anomaly_feedback_real"),
            _ => (AnomalyMark::Acknowledge { by }, "anomaly_acknowledged"),
        };
        // The mark, its alert event, its feedback row and its audit record commit together or
        // not at all.
        let detail = serde_json::json!({"version": anomaly.version + 1, "impact": anomaly.impact.to_string()});
        let change =
            AnomalyMarkChange { anomaly: &anomaly, mark, audit: audit_record(actor, verb, &id.0, detail, now), now };
        let Some((updated, _)) = self.store.mark_anomaly(&change).await? else {
            let detail = serde_json::json!({"verb": action.encode(), "refusal": "changed concurrently"});
            self.audit(actor, "click_refused", &id.0, detail, now).await?;
            return Ok(Reply::Ephemeral(Message::plain(
                "Someone changed this anomaly at the same moment; look at the updated card.",
            )));
        };
        let names = self.account_names().await?;
        Ok(Reply::UpdateOriginal(alert(&updated, &|a: &str| names.get(a).cloned(), now)))
    }

    /// `/cost anomalies stats`: precision measured from the channel's feedback over the last
    /// [`STATS_DAYS`] days, per account the channel may see.
    async fn anomaly_stats(&self, accounts: Option<&[AccountId]>, now: NaiveDateTime) -> Result<Message> {
        let since = now - Days::new(STATS_DAYS);
        let visible: Vec<Feedback> = self
            .store
            .anomaly_feedback(since)
            .await?
            .into_iter()
            .filter(|f| accounts.is_none_or(|ids| f.key.account().is_some_and(|acc| ids.contains(acc))))
            .collect();
        let names = self.account_names().await?;
        Ok(feedback_stats(&precision(&visible, since), STATS_DAYS, &|a: &str| names.get(a).cloned()))
    }
}

/// The audit record of something a person did in chat.
fn audit_record(
    actor: &Actor,
    action: &str,
    target: &str,
    detail: serde_json::Value,
    now: NaiveDateTime,
) -> AuditRecord {
    AuditRecord {
        at: now,
        actor: format!("{}:{}", actor.platform.as_str(), actor.user),
        action: action.to_string(),
        target: target.to_string(),
        channel: Some(actor.channel.0.clone()),
        detail: detail.to_string(),
    }
}

impl<S: BotTables + ?Sized> Bot<S> {
    /// Handles an event as if it were `now` (tests pin the clock; [`ChatHandler::handle`] uses
    /// the real one).
    pub async fn handle_at(&self, event: Inbound, now: NaiveDateTime) -> Reply {
        let actor = match &event {
            Inbound::Command { actor, .. } | Inbound::Click { actor, .. } => actor,
        };
        if let Err(refusal) = self.limits.check(&self.identity(actor), actor) {
            return self.slow_down(&event, refusal, now).await;
        }
        let result = match &event {
            Inbound::Command { actor, text, .. } => self.command(actor, text, now).await,
            Inbound::Click { actor, action, .. } => self.click(actor, action, now).await,
        };
        result.unwrap_or_else(|error| {
            tracing::error!(error = %format!("{error:#}"), ?event, "handling a chat event failed");
            Reply::Ephemeral(Message {
                tone: Tone::Danger,
                ..Message::plain("Sorry, something went wrong on costbot's side. It has been logged; please try again.")
            })
        })
    }
}

impl<S: BotTables + ?Sized> Bot<S> {
    /// The "slow down" reply. Every refusal is counted in `/metrics`; the first per person (or
    /// channel) and window is also audited as `request_refused` with reason `rate_limited` and
    /// the number suppressed since, so a flood cannot flood the audit log (`crate::limits`).
    async fn slow_down(&self, event: &Inbound, refusal: Refusal, now: NaiveDateTime) -> Reply {
        let (actor, what) = match event {
            Inbound::Command { actor, .. } => (actor, "command".to_string()),
            Inbound::Click { actor, action, .. } => (actor, action.encode()),
        };
        tracing::debug!(?refusal, user = %actor.user, "rate limited a chat event");
        crate::metrics::record_rate_limited(refusal.bucket.as_str(), refusal.audit.is_some());
        if let Some(suppressed) = refusal.audit {
            let detail = serde_json::json!({ "refusal": "rate_limited", "bucket": refusal.bucket.as_str(),
                "event": what, "suppressed_since_last": suppressed });
            if let Err(error) = self.audit(actor, "request_refused", "rate_limited", detail, now).await {
                tracing::error!(error = %format!("{error:#}"), "cannot audit a rate-limited request");
            }
        }
        let text = match refusal.bucket {
            Limited::Person => {
                "Slow down: that is more than costbot answers from one person at once. Try again in a few seconds."
            }
            Limited::Channel => {
                "Slow down: this channel is asking faster than costbot answers. Try again in a few seconds."
            }
        };
        Reply::Ephemeral(Message::plain(text))
    }
}

#[async_trait]
impl<S: BotTables + ?Sized> ChatHandler for Bot<S> {
    async fn handle(&self, event: Inbound) -> Reply {
        self.handle_at(event, Utc::now().naive_utc()).await
    }

    async fn refused(&self, actor: &Actor, reason: &str) {
        let detail = serde_json::json!({ "refusal": reason });
        if let Err(error) = self.audit(actor, "request_refused", reason, detail, Utc::now().naive_utc()).await {
            tracing::error!(error = %format!("{error:#}"), "cannot audit a refused request");
        }
    }
}
