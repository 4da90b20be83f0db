//! The proposer: turns waste findings into proposals (one per resource and rule), keeps them
//! in step with discovery, and puts their cards in the outbox for the channels that may
//! approve them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Result;
use chrono::NaiveDateTime;

use crate::config::ChannelConfig;
use crate::domain::chat::{ChannelId, Platform};
use crate::domain::outbox::OutboxEntry;
use crate::domain::proposal::{ApprovalRules, Proposal, ProposalId, State};
use crate::domain::resource::WasteFinding;
use crate::render::approval::card;
use crate::store::{OutboxStore, ProposalStore};

/// What a proposer run changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProposeReport {
    /// New proposals.
    pub proposed: usize,
    /// Proposals re-issued as a new version (changed finding, snooze over, expired, aborted).
    pub reproposed: usize,
    /// Pending proposals whose waste went away.
    pub withdrawn: usize,
    /// Pending proposals that expired.
    pub expired: usize,
}

/// Syncs proposals with the latest findings and enqueues the cards that changed.
pub async fn propose<S: ProposalStore + OutboxStore + ?Sized>(
    store: &Arc<S>,
    findings: &[WasteFinding],
    rules: &ApprovalRules,
    channels: &[ChannelConfig],
    now: NaiveDateTime,
) -> Result<ProposeReport> {
    let existing: HashMap<ProposalId, Proposal> =
        store.proposals_in(&[]).await?.into_iter().map(|p| (p.id.clone(), p)).collect();
    let mut report = ProposeReport::default();
    let mut changed = Vec::new();
    let mut seen = HashSet::new();
    for finding in findings {
        let Some(fresh) = Proposal::new(finding.clone(), rules, now) else { continue };
        seen.insert(fresh.id.clone());
        match existing.get(&fresh.id) {
            None => {
                if store.insert_proposal(&fresh).await? {
                    report.proposed += 1;
                    changed.push(fresh);
                }
            }
            Some(old) => {
                if let Some(next) = next_version(old, fresh, now) {
                    if store.save_proposal(&next, old.version).await? {
                        if next.state == State::Expired {
                            report.expired += 1
                        } else {
                            report.reproposed += 1
                        }
                        changed.push(next);
                    }
                }
            }
        }
    }
    for old in existing.values().filter(|p| p.state == State::Pending && !seen.contains(&p.id)) {
        let next = old.with_state(State::Withdrawn, now);
        if store.save_proposal(&next, old.version).await? {
            report.withdrawn += 1;
            changed.push(next);
        }
    }
    let entries: Vec<OutboxEntry> = changed.iter().flat_map(|p| card_entries(p, channels, now)).collect();
    store.enqueue(&entries, now).await?;
    Ok(report)
}

/// What an existing proposal becomes given a fresh one for the same finding, if anything.
/// Decided proposals stay decided: a denial or a completed action is not asked again.
fn next_version(old: &Proposal, fresh: Proposal, now: NaiveDateTime) -> Option<Proposal> {
    let reissue = || Proposal { version: old.version + 1, created_at: old.created_at, ..fresh.clone() };
    match &old.state {
        State::Pending if now >= old.expires_at => Some(old.with_state(State::Expired, now)),
        // A changed finding means earlier approvals were for something else.
        State::Pending if old.differs_from(&fresh.finding) => Some(reissue()),
        State::Snoozed { until, .. } if now >= *until => Some(reissue()),
        State::Expired | State::Aborted { .. } | State::Withdrawn => Some(reissue()),
        _ => None,
    }
}

/// True when a channel shows a proposal's card: it may see the account and has approvers (a
/// channel where nobody can approve would only show noise).
pub fn shows_card(channel: &ChannelConfig, p: &Proposal) -> bool {
    !channel.approvers.is_empty() && channel.may_see(Some(&p.finding.resource.reference.account))
}

/// Outbox entries for a proposal's card in every channel that [`shows_card`].
pub fn card_entries(p: &Proposal, channels: &[ChannelConfig], now: NaiveDateTime) -> Vec<OutboxEntry> {
    channels
        .iter()
        .filter(|c| shows_card(c, p))
        .map(|c| {
            let platform = Platform::from(c.platform);
            OutboxEntry {
                platform,
                channel: ChannelId(c.id.clone()),
                thread: p.id.0.clone(),
                message: card(p, now),
                dedupe_key: format!("proposal:{}:{}:{}:v{}", platform.as_str(), c.id, p.id, p.version),
            }
        })
        .collect()
}
