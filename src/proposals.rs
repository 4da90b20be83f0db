//! The proposer: turns waste findings into proposals (one per resource and rule), keeps them
//! in step with discovery, and puts their cards in the outbox for the channels that may
//! approve them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Result;
use chrono::NaiveDateTime;

use crate::config::ChannelConfig;
use crate::domain::audit::AuditRecord;
use crate::domain::chat::{ChannelId, Platform};
use crate::domain::outbox::{reply_thread, OutboxEntry};
use crate::domain::owner::{dm_channel, dm_user, Owner};
use crate::domain::proposal::{ApprovalRules, Proposal, ProposalId, State};
use crate::domain::resource::WasteFinding;
use crate::domain::AccountId;
use crate::render::approval::card;
use crate::store::{AuditStore, NewProposal, OutboxStore, ProposalChange, ProposalStore};

/// What a proposer run changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProposeReport {
    /// New proposals.
    pub proposed: usize,
    /// Proposals re-issued as a new version (changed finding, snooze over, expired, aborted).
    pub reproposed: usize,
    /// Pending or approved proposals whose waste went away.
    pub withdrawn: usize,
    /// Pending proposals that expired.
    pub expired: usize,
}

/// Which resources a set of findings speaks for: a proposal whose resource is covered but has
/// no finding any more is withdrawn; one outside (its target failed or was not searched) is
/// left as it is, since its waste may well still be there.
#[derive(Debug, Clone, Copy)]
pub enum Coverage<'a> {
    /// The findings cover every resource.
    All,
    /// Only resources in these (account, region) pairs.
    Only(&'a [(AccountId, String)]),
}

impl Coverage<'_> {
    fn covers(&self, p: &Proposal) -> bool {
        let r = &p.finding.resource.reference;
        match self {
            Coverage::All => true,
            Coverage::Only(targets) => targets.iter().any(|(a, region)| *a == r.account && *region == r.region),
        }
    }
}

/// [`propose_covering`] with findings that cover every resource.
pub async fn propose<S: ProposalStore + OutboxStore + AuditStore + ?Sized>(
    store: &Arc<S>,
    findings: &[WasteFinding],
    rules: &ApprovalRules,
    channels: &[ChannelConfig],
    now: NaiveDateTime,
) -> Result<ProposeReport> {
    propose_covering(store, findings, Coverage::All, rules, channels, now).await
}

/// [`propose_owned`] with no owners resolved.
pub async fn propose_covering<S: ProposalStore + OutboxStore + AuditStore + ?Sized>(
    store: &Arc<S>,
    findings: &[WasteFinding],
    coverage: Coverage<'_>,
    rules: &ApprovalRules,
    channels: &[ChannelConfig],
    now: NaiveDateTime,
) -> Result<ProposeReport> {
    propose_owned(store, findings, coverage, rules, channels, &Owners::new(), now).await
}

/// Resolved owners by resource (`ResourceRef`'s display form), from `crate::owners`.
pub type Owners = HashMap<String, Owner>;

/// Syncs proposals with the latest findings and enqueues the cards that changed. Each
/// proposal is handled on its own: one whose write fails is logged, counted in `/metrics` and
/// skipped, and unreadable stored rows are left alone (never re-proposed over). Every change
/// new proposal and every change of an existing one is audited with it, in one transaction.
/// A new or re-issued proposal carries its resource's owner from `owners`, resolved by the
/// caller beforehand (never on the chat request path).
pub async fn propose_owned<S: ProposalStore + OutboxStore + AuditStore + ?Sized>(
    store: &Arc<S>,
    findings: &[WasteFinding],
    coverage: Coverage<'_>,
    rules: &ApprovalRules,
    channels: &[ChannelConfig],
    owners: &Owners,
    now: NaiveDateTime,
) -> Result<ProposeReport> {
    let rows = store.proposal_rows(&[]).await?;
    for bad in &rows.unreadable {
        tracing::error!(proposal = %bad.id, error = %bad.error, "a stored proposal is unreadable; skipped");
        crate::metrics::record_proposal_error("unreadable");
    }
    let unreadable: HashSet<ProposalId> = rows.unreadable.into_iter().map(|u| u.id).collect();
    let existing: HashMap<ProposalId, Proposal> = rows.readable.into_iter().map(|p| (p.id.clone(), p)).collect();
    let mut report = ProposeReport::default();
    let mut seen = HashSet::new();
    for finding in findings {
        let Some(mut fresh) = Proposal::new(finding.clone(), rules, now) else { continue };
        fresh.owner = owners.get(&finding.resource.reference.to_string()).cloned();
        seen.insert(fresh.id.clone());
        if unreadable.contains(&fresh.id) {
            continue;
        }
        let outcome = match existing.get(&fresh.id) {
            None => insert(store, &fresh, channels, now).await.map(|new| new.then_some(Outcome::Proposed)),
            Some(old) => match next_version(old, fresh, rules, now) {
                Some(next) => {
                    let kind = if next.state == State::Expired { Outcome::Expired } else { Outcome::Reproposed };
                    let audit = if kind == Outcome::Expired { "proposal_expired" } else { "proposal_reissued" };
                    change(store, old, &next, audit, channels, now).await.map(|changed| changed.then_some(kind))
                }
                None => Ok(None),
            },
        };
        report.count(outcome);
    }
    for old in existing.values().filter(|p| withdrawable(p) && coverage.covers(p) && !seen.contains(&p.id)) {
        let next = old.with_state(State::Withdrawn, now);
        let outcome = change(store, old, &next, "proposal_withdrawn", channels, now).await;
        report.count(outcome.map(|changed| changed.then_some(Outcome::Withdrawn)));
    }
    Ok(report)
}

/// What one proposal's sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Proposed,
    Reproposed,
    Withdrawn,
    Expired,
}

impl ProposeReport {
    fn count(&mut self, outcome: Result<Option<Outcome>>) {
        match outcome {
            Ok(Some(Outcome::Proposed)) => self.proposed += 1,
            Ok(Some(Outcome::Reproposed)) => self.reproposed += 1,
            Ok(Some(Outcome::Withdrawn)) => self.withdrawn += 1,
            Ok(Some(Outcome::Expired)) => self.expired += 1,
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "one proposal could not be synced; skipped");
                crate::metrics::record_proposal_error("propose");
            }
        }
    }
}

/// Pending and approved proposals are withdrawn when discovery no longer finds their waste
/// (an approved one would be aborted by the re-check anyway; withdrawing says why sooner).
fn withdrawable(p: &Proposal) -> bool {
    matches!(p.state, State::Pending | State::Approved)
}

/// Stores a new proposal with its audit record and cards, in one transaction.
async fn insert<S: ProposalStore + ?Sized>(
    store: &Arc<S>,
    fresh: &Proposal,
    channels: &[ChannelConfig],
    now: NaiveDateTime,
) -> Result<bool> {
    let new = NewProposal {
        proposal: fresh,
        audit: record(fresh, "proposal_created", now),
        cards: card_entries(fresh, channels, now),
        now,
    };
    Ok(store.create_proposal(&new).await?.is_some())
}

/// One audited change of an existing proposal with its cards, in one transaction.
async fn change<S: ProposalStore + ?Sized>(
    store: &Arc<S>,
    old: &Proposal,
    next: &Proposal,
    action: &str,
    channels: &[ChannelConfig],
    now: NaiveDateTime,
) -> Result<bool> {
    let change = ProposalChange {
        next,
        from_version: old.version,
        audit: record(next, action, now),
        cards: card_entries(next, channels, now),
        now,
    };
    Ok(store.change_proposal(&change).await?.is_some())
}

fn record(p: &Proposal, action: &str, now: NaiveDateTime) -> AuditRecord {
    AuditRecord {
        at: now,
        actor: "system:proposer".into(),
        action: action.to_string(),
        target: p.id.0.clone(),
        channel: None,
        detail: serde_json::json!({ "resource": p.finding.resource.reference.to_string(), "version": p.version,
            "rule": p.finding.rule })
        .to_string(),
    }
}

/// What an existing proposal becomes given a fresh one for the same finding, if anything.
/// Decided proposals stay decided: a denial or a completed action is not asked again (a dry
/// run is not a completed action once dry runs are off).
fn next_version(old: &Proposal, fresh: Proposal, rules: &ApprovalRules, now: NaiveDateTime) -> Option<Proposal> {
    let reissue = || Proposal { version: old.version + 1, created_at: old.created_at, ..fresh.clone() };
    match &old.state {
        State::Pending if now >= old.expires_at => Some(old.with_state(State::Expired, now)),
        // A changed finding means earlier approvals were for something else.
        State::Pending if old.differs_from(&fresh.finding) => Some(reissue()),
        State::Snoozed { until, .. } | State::Kept { until, .. } if now >= *until => Some(reissue()),
        State::Expired | State::Aborted { .. } | State::Withdrawn => Some(reissue()),
        // A dry run changed nothing: once actions are real, the waste is asked about again.
        State::Done { dry_run: true, .. } if !rules.dry_run => Some(Proposal { earlier_dry_run: true, ..reissue() }),
        _ => None,
    }
}

/// True when a channel shows a proposal's card: it may see the account and has approvers (a
/// channel where nobody can approve would only show noise).
pub fn shows_card(channel: &ChannelConfig, p: &Proposal) -> bool {
    let resource = &p.finding.resource;
    !channel.approvers.is_empty() && channel.may_see_resource(&resource.reference.account, &resource.tags)
}

/// Outbox entries for a proposal's one reminder: a reply in the card's thread in every
/// channel that has the card, and in the owner's direct message. Its dedupe key names only the
/// proposal and the channel, so it is stored once however often (and by however many
/// replicas) it is asked for. The thread key is the card's with [`reply_thread`]'s suffix, so
/// the outbox posts it as a reply to the posted card.
pub fn reminder_entries(p: &Proposal, channels: &[ChannelConfig]) -> Vec<OutboxEntry> {
    let message = crate::render::approval::reminder(p);
    card_targets(p, channels)
        .into_iter()
        .map(|(platform, channel)| OutboxEntry {
            dedupe_key: format!("reminder:{}:{}:{}", platform.as_str(), channel.0, p.id),
            platform,
            channel,
            thread: reply_thread(&p.id.0, "reminder"),
            message: message.clone(),
        })
        .collect()
}

/// Outbox entries for a proposal's card in every channel that [`shows_card`], its team's
/// channel (`[[owners]]`) and the owner's direct message (with the owner's copy of the card).
pub fn card_entries(p: &Proposal, channels: &[ChannelConfig], now: NaiveDateTime) -> Vec<OutboxEntry> {
    let (channel_card, owner_card) = (card(p, now), crate::render::approval_owner::owner_card(p, now));
    card_targets(p, channels)
        .into_iter()
        .map(|(platform, channel)| OutboxEntry {
            dedupe_key: format!("proposal:{}:{}:{}:v{}", platform.as_str(), channel.0, p.id, p.version),
            message: if dm_user(&channel).is_some() { owner_card.clone() } else { channel_card.clone() },
            platform,
            channel,
            thread: p.id.0.clone(),
        })
        .collect()
}

/// Where a proposal's card goes: every channel that [`shows_card`]; the team channel of its
/// owner (a configured channel that may see the account, approvers or not); and the owner's
/// direct message, on a platform costbot has a channel on.
pub fn card_targets(p: &Proposal, channels: &[ChannelConfig]) -> Vec<(Platform, ChannelId)> {
    let mut targets: Vec<(Platform, ChannelId)> = channels
        .iter()
        .filter(|c| shows_card(c, p))
        .map(|c| (Platform::from(c.platform), ChannelId(c.id.clone())))
        .collect();
    let account = &p.finding.resource.reference.account;
    if let Some(team) = p.owner.as_ref().and_then(|o| o.team.as_ref()) {
        let configured = channels
            .iter()
            .any(|c| Platform::from(c.platform) == team.platform && c.id == team.channel.0 && c.may_see(Some(account)));
        if configured && !targets.iter().any(|t| *t == (team.platform, team.channel.clone())) {
            targets.push((team.platform, team.channel.clone()));
        }
    }
    if let Some(user) = p.owner.as_ref().and_then(|o| o.user.as_ref()) {
        if channels.iter().any(|c| Platform::from(c.platform) == user.platform) {
            targets.push((user.platform, dm_channel(&user.id)));
        }
    }
    targets
}
