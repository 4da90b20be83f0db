//! Budgets: each `[[budgets]]` entry's scope resolved like a `/cost` question, its status
//! worked out by `domain::budget`, and its alerts sent once a month each.
//!
//! The job runs after every collection (and may run on any number of replicas): for each
//! budget it computes the alerts the status calls for, and the store claims each alert's key
//! (`budget:<name>:<yyyy-mm>:<threshold|forecast>`) in the same transaction that queues its
//! messages and appends its audit record. A key claimed before, by any replica or before a
//! restart, writes nothing, so each threshold and the forecast breach fire once per month.
//!
//! A channel scoped to some accounts sees a budget only when the budget's own scope names
//! accounts and all of them are the channel's: a budget over the organisation, or over
//! someone else's account, is organisation data it may not see.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chrono::{Datelike, Days, NaiveDate, NaiveDateTime};

use crate::answers::{AnswerError, AnswerTables, Answers};
use crate::commands::{parse_filters_in, Filters};
use crate::config::{BudgetConfig, ChannelConfig, Config};
use crate::domain::audit::AuditRecord;
use crate::domain::budget::{self, BudgetAlert, BudgetName, BudgetStatus};
use crate::domain::chat::{ChannelId, Platform};
use crate::domain::forecast::HISTORY_DAYS;
use crate::domain::outbox::OutboxEntry;
use crate::domain::{AccountId, DateRange, Money};
use crate::render::budget::BudgetRow;
use crate::store::{AuditStore, BudgetAmount, BudgetStore, OutboxStore, Store};

/// The tables budgets read and write: what answers read (spend, account and service names),
/// the amounts set from chat, the outbox and the audit log.
pub trait BudgetTables: AnswerTables + BudgetStore + OutboxStore + AuditStore {}

impl<T: AnswerTables + BudgetStore + OutboxStore + AuditStore + ?Sized> BudgetTables for T {}

/// One configured budget with its scope parsed.
#[derive(Debug, Clone)]
pub struct Budget {
    /// The configuration entry.
    pub config: BudgetConfig,
    /// Its scope as `/cost` filters.
    pub filters: Filters,
}

/// Parses every budget's scope with the `/cost` grammar, and checks that each scoped alert
/// channel may see the accounts the budget names. Run when costbot starts (`serve`, `demo`,
/// `config check`), so a typo stops it with the budget's name rather than alerting wrongly.
pub fn check(config: &Config) -> Result<Vec<Budget>> {
    let mut out = Vec::new();
    for entry in &config.budgets {
        let filters = parse_filters_in(&entry.scope, &crate::commands::Vocabulary { tag_keys: config.tag_keys() })
            .map_err(|e| anyhow::anyhow!("[[budgets]] {}: scope `{}`: {e}", entry.name, entry.scope))?;
        for channel in entry.alert_channels(&config.channels).filter(|c| !c.accounts.is_empty()) {
            let named: Vec<Option<&AccountId>> = filters
                .accounts
                .iter()
                .map(|a| {
                    let a = a.as_str();
                    config.accounts.iter().find(|c| c.id.as_str() == a || c.name.as_deref() == Some(a)).map(|c| &c.id)
                })
                .collect();
            if named.is_empty() || named.iter().any(|id| id.is_none_or(|id| !channel.accounts.contains(id))) {
                bail!(
                    "[[budgets]] {}: channel `{}` may see only some accounts, and this budget's scope `{}` is not \
                     within them (name its accounts with account=, from [[accounts]])",
                    entry.name,
                    channel.id,
                    entry.scope
                );
            }
        }
        out.push(Budget { config: entry.clone(), filters });
    }
    Ok(out)
}

/// A budget worked out on a day: its status (or why it cannot be), the accounts its scope
/// resolved to, and its row as channels see it.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// The budget.
    pub budget: Budget,
    /// The accounts its scope resolved to; `None`: every account (or not resolved).
    pub accounts: Option<Vec<AccountId>>,
    /// The row `/cost budget`, the digest and the alerts render.
    pub row: BudgetRow,
}

impl Evaluated {
    /// True when a channel may see this budget (see the module's note on scoped channels).
    pub fn visible_in(&self, scope: Option<&[AccountId]>) -> bool {
        match (scope, &self.accounts) {
            (None, _) => true,
            (Some(channel), Some(mine)) => {
                !self.budget.filters.accounts.is_empty() && mine.iter().all(|a| channel.contains(a))
            }
            (Some(_), None) => false,
        }
    }

    /// True when this viewer may see the budget. A tag-scoped channel sees only budgets whose
    /// scope is its own tag values and nothing else (no account or service term): any other
    /// budget sums spend of other teams.
    pub fn visible_to(&self, viewer: &Viewer) -> bool {
        match viewer {
            Viewer::All => true,
            Viewer::Accounts(accounts) => self.visible_in(Some(accounts)),
            Viewer::Tags(scope) => {
                let f = &self.budget.filters;
                f.accounts.is_empty()
                    && f.services.is_empty()
                    && !f.tags.is_empty()
                    && f.tags.iter().all(|t| scope.allows(&t.key, &t.value))
            }
        }
    }
}

/// Who is looking at budgets: a channel's scope, resolved from its configuration.
#[derive(Debug, Clone)]
pub enum Viewer<'a> {
    /// A channel without a scope (or the API's unscoped token).
    All,
    /// A channel limited to these accounts.
    Accounts(&'a [AccountId]),
    /// A channel limited to some values of one tag key.
    Tags(crate::domain::tags::TagScope),
}

impl<'a> Viewer<'a> {
    /// The viewer a configured channel is.
    pub fn of(channel: &'a ChannelConfig) -> Viewer<'a> {
        match channel.tag_scope() {
            Some(scope) => Viewer::Tags(scope),
            None if channel.accounts.is_empty() => Viewer::All,
            None => Viewer::Accounts(&channel.accounts),
        }
    }
}

/// What one run did: the keys of the alerts it fired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetReport {
    /// Keys fired by this run (an alert another replica fired first is not here).
    pub fired: Vec<String>,
}

/// Budgets over a store.
pub struct Budgets<S: ?Sized = dyn Store> {
    store: Arc<S>,
    answers: Arc<Answers<S>>,
    config: Arc<Config>,
    budgets: Vec<Budget>,
    owner: String,
}

impl<S: BudgetTables + ?Sized> Budgets<S> {
    /// Budgets of the configuration, answering through `answers`; `owner` names the replica
    /// in audit records. A budget whose scope does not parse is left out and logged
    /// ([`check`] refuses such a configuration when costbot starts).
    pub fn new(store: Arc<S>, answers: Arc<Answers<S>>, config: Arc<Config>, owner: &str) -> Budgets<S> {
        let vocabulary = crate::commands::Vocabulary { tag_keys: config.tag_keys() };
        let budgets = config
            .budgets
            .iter()
            .filter_map(|entry| match parse_filters_in(&entry.scope, &vocabulary) {
                Ok(filters) => Some(Budget { config: entry.clone(), filters }),
                Err(error) => {
                    tracing::error!(budget = %entry.name, %error, "a budget's scope does not parse; left out");
                    None
                }
            })
            .collect();
        Budgets { store, answers, config, budgets, owner: owner.to_string() }
    }

    /// The configured budget with this name.
    pub fn budget(&self, name: &BudgetName) -> Option<&Budget> {
        self.budgets.iter().find(|b| &b.config.name == name)
    }

    /// Every budget worked out on `today` (UTC).
    pub async fn evaluate(&self, today: NaiveDate) -> Result<Vec<Evaluated>> {
        let amounts: HashMap<BudgetName, BudgetAmount> =
            self.store.budget_amounts().await?.into_iter().map(|a| (a.budget.clone(), a)).collect();
        let month = today.with_day(1).unwrap_or(today);
        let this_month = self.store.budget_alerts(month).await?;
        let start = month.min(today - Days::new(HISTORY_DAYS));
        let range = DateRange::new(start, today + Days::new(1))?;
        let mut out = Vec::new();
        for b in &self.budgets {
            let set = amounts.get(&b.config.name);
            let amount = set.map_or_else(|| b.config.amount(), |a| a.amount);
            let amount_note = set.map(|a| {
                format!(
                    "set by {} on {}; the configuration says {}",
                    a.set_by,
                    a.set_at.format("%b %-d"),
                    b.config.amount()
                )
            });
            let fired = this_month
                .iter()
                .filter(|f| f.budget == b.config.name && f.alerted)
                .map(|f| {
                    let what = if f.kind == "forecast" { "forecast".to_string() } else { format!("{} %", f.kind) };
                    format!("{what} on {}", f.fired_at.format("%b %-d"))
                })
                .collect();
            let (accounts, scope, status) = match self
                .answers
                .daily_spend(&b.filters, &crate::answers::AnswerScope::accounts(None), range, today)
                .await
            {
                Ok(spend) => {
                    let status =
                        budget::status(b.config.name.clone(), amount, &b.config.thresholds(), today, &spend.days);
                    (spend.accounts, spend.said, Ok(status))
                }
                Err(AnswerError::User(why)) => (None, scope_words(&b.filters), Err(why)),
                Err(AnswerError::Internal(error)) => return Err(error),
            };
            let row = BudgetRow { name: b.config.name.clone(), scope, amount, amount_note, status, fired };
            out.push(Evaluated { budget: b.clone(), accounts, row });
        }
        Ok(out)
    }

    /// The budgets a channel may see, worked out on `today`; one when `name` is given.
    pub async fn rows(
        &self,
        viewer: &Viewer<'_>,
        name: Option<&BudgetName>,
        today: NaiveDate,
    ) -> Result<Vec<BudgetRow>> {
        Ok(self
            .evaluate(today)
            .await?
            .into_iter()
            .filter(|e| e.visible_to(viewer) && name.is_none_or(|n| &e.row.name == n))
            .map(|e| e.row)
            .collect())
    }

    /// Sends every alert due at `now` that no run has sent this month. Safe on any number of
    /// replicas, as often as wanted.
    pub async fn run(&self, now: NaiveDateTime) -> Result<BudgetReport> {
        let mut report = BudgetReport::default();
        for e in self.evaluate(now.date()).await? {
            let status = match &e.row.status {
                Ok(status) => status,
                Err(why) => {
                    tracing::warn!(budget = %e.row.name, reason = %why, "a budget's scope cannot be resolved yet");
                    continue;
                }
            };
            for alert in budget::alerts(status) {
                if self.fire(&e, status, &alert, now).await? {
                    tracing::info!(budget = %e.row.name, key = %alert.key, "budget alert queued");
                    report.fired.push(alert.key);
                }
            }
        }
        Ok(report)
    }

    /// Queues one alert to the budget's channels with its audit record, if its key is free.
    async fn fire(
        &self,
        e: &Evaluated,
        status: &BudgetStatus,
        alert: &BudgetAlert,
        now: NaiveDateTime,
    ) -> Result<bool> {
        let message = crate::render::budget::alert(&e.row, status, &alert.kind);
        let channels: Vec<&ChannelConfig> = e
            .budget
            .config
            .alert_channels(&self.config.channels)
            // Deny by default: a scoped channel that may not see the budget gets nothing.
            .filter(|c| e.visible_to(&Viewer::of(c)))
            .collect();
        let entries: Vec<OutboxEntry> = channels
            .iter()
            .map(|c| {
                let platform = Platform::from(c.platform);
                OutboxEntry {
                    platform,
                    channel: ChannelId(c.id.clone()),
                    thread: alert.key.clone(),
                    message: message.clone(),
                    dedupe_key: format!("{}:{}:{}", alert.key, platform.as_str(), c.id),
                }
            })
            .collect();
        let detail = serde_json::json!({
            "kind": alert.kind.as_key_part(),
            "passed": alert.passed,
            "actual": status.actual.as_decimal().to_string(),
            "amount": status.amount.as_decimal().to_string(),
            "forecast": status.forecast.as_ref().map(|f| f.projected.as_decimal().to_string()),
            "crossing": status.crossing,
            "channels": channels.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        });
        let audit = AuditRecord {
            at: now,
            actor: format!("system:{}", self.owner),
            action: "budget_alerted".to_string(),
            target: alert.key.clone(),
            channel: None,
            detail: detail.to_string(),
        };
        self.store
            .record_budget_alert(&e.row.name, status.month, alert, &entries, &audit)
            .await
            .with_context(|| format!("recording budget alert {}", alert.key))
    }

    /// The amount a budget has now, and whether it is the configuration's.
    pub async fn amount(&self, name: &BudgetName) -> Result<Option<(Money, bool)>> {
        let Some(b) = self.budget(name) else { return Ok(None) };
        let set = self.store.budget_amounts().await?.into_iter().find(|a| &a.budget == name);
        Ok(Some(set.map_or((b.config.amount(), true), |a| (a.amount, false))))
    }
}

/// A scope in words when the store cannot resolve it (the filters as written).
fn scope_words(filters: &Filters) -> Vec<String> {
    let accounts = filters.accounts.iter().map(|a| format!("account = {a}"));
    accounts.chain(filters.services.iter().map(|s| format!("service = {s}"))).collect()
}

/// The REST API's budgets: the same evaluation and visibility as `/cost budget`.
#[async_trait::async_trait]
impl<S: BudgetTables + ?Sized> crate::web::api::BudgetSource for Budgets<S> {
    async fn budgets(
        &self,
        accounts: Option<&[AccountId]>,
        tags: Option<&crate::domain::tags::TagScope>,
        today: NaiveDate,
    ) -> Result<Vec<BudgetRow>> {
        let viewer = match (tags, accounts) {
            (Some(scope), _) => Viewer::Tags(scope.clone()),
            (None, Some(accounts)) => Viewer::Accounts(accounts),
            (None, None) => Viewer::All,
        };
        self.rows(&viewer, None, today).await
    }
}
