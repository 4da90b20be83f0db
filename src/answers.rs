//! Answers to `/cost` commands, from the store only (never from AWS): filters are resolved
//! against what the store knows, sums are computed in SQL, and a channel's account scope is
//! applied to every query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike, Days, NaiveDate};

use crate::commands::{Filters, GroupBy, Report};
use crate::domain::chat::message::Message;
use crate::domain::forecast::{month_end, HISTORY_DAYS};
use crate::domain::{AccountId, BreakdownDimension, DateRange, Granularity, Money, ServiceName};
use crate::render::answer::{self, Line, SpendView};
mod api;
mod compare;
mod tags;

pub use tags::AnswerScope;
use tags::TagSelect;

use crate::store::{
    AccountStore, BreakdownStore, CostStore, RunStore, SpendGroup, SpendQuery, SpendRow, Store, TagGroup, TagStore,
};

/// Why a question could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// Something the person can fix; the text is shown to them.
    #[error("{0}")]
    User(String),
    /// Our fault; logged in full, shown as a short apology.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

type Answer<T> = Result<T, AnswerError>;

/// How long the list of known services is reused before it is read again.
const SERVICES_TTL: Duration = Duration::from_secs(60);

/// How long account names and the last collection time are reused: they change at most once
/// per collection, and re-reading them on every question would double its cost.
const LOOKUP_TTL: Duration = Duration::from_secs(5);

/// Answers kept at most; the cache is emptied when full (answers are cheap to recompute).
const CACHED_ANSWERS: usize = 1_024;

/// The newest collector run: its id and when it finished. Answers change only when it does.
type DataVersion = Option<(i64, Option<chrono::NaiveDateTime>)>;

/// What decides an answer: the question, the channel's scope and the day it is asked.
type AnswerKey = (String, Option<Vec<AccountId>>, NaiveDate);

/// Answers given since the newest collector run, so a question people repeat (everyone's
/// morning `/cost mtd`) is answered without reading the facts again.
#[derive(Default)]
struct AnswerCache {
    version: DataVersion,
    answers: HashMap<AnswerKey, Message>,
}

/// The tables answers read: cost facts, breakdowns and tag spend, account names, the newest run.
pub trait AnswerTables: CostStore + BreakdownStore + TagStore + AccountStore + RunStore {}

impl<T: CostStore + BreakdownStore + TagStore + AccountStore + RunStore + ?Sized> AnswerTables for T {}

/// Answers questions from the store.
pub struct Answers<S: ?Sized = dyn Store> {
    store: Arc<S>,
    services: Mutex<Option<(Instant, Vec<ServiceName>)>>,
    accounts: Mutex<Option<(Instant, Vec<crate::domain::Account>)>>,
    latest_run: Mutex<Option<(Instant, DataVersion)>>,
    cache: Mutex<AnswerCache>,
    lookup_ttl: Duration,
}

/// The channel's account scope: `None` means every account.
pub type Scope<'a> = Option<&'a [AccountId]>;

impl<S: AnswerTables + ?Sized> Answers<S> {
    /// Answers over a store.
    pub fn new(store: Arc<S>) -> Answers<S> {
        Answers::with_lookup_ttl(store, LOOKUP_TTL)
    }

    /// Answers that re-read account names and the newest run after `ttl` (tests use zero to
    /// see a new collection at once).
    pub fn with_lookup_ttl(store: Arc<S>, ttl: Duration) -> Answers<S> {
        Answers {
            lookup_ttl: ttl,
            store,
            services: Mutex::new(None),
            accounts: Mutex::new(None),
            latest_run: Mutex::new(None),
            cache: Mutex::new(AnswerCache::default()),
        }
    }

    /// A spend report, from the cache when the same question was answered since the newest
    /// collection.
    pub async fn report(&self, report: &Report, scope: Scope<'_>, today: NaiveDate) -> Answer<Message> {
        self.report_in(report, &AnswerScope::accounts(scope), today).await
    }

    /// [`Answers::report`] in a scope of accounts and tag values (a tag-scoped channel).
    pub async fn report_in(&self, report: &Report, scope: &AnswerScope, today: NaiveDate) -> Answer<Message> {
        let key = (format!("report {report:?} {:?}", scope.tags), scope.accounts.clone(), today);
        if let Some(hit) = self.cached_answer(&key).await? {
            return Ok(hit);
        }
        let answer = self.report_uncached(report, scope, today).await?;
        self.remember(key, &answer).await?;
        Ok(answer)
    }

    /// A month-end forecast, cached like [`Answers::report`].
    pub async fn forecast(&self, filters: &Filters, scope: Scope<'_>, today: NaiveDate) -> Answer<Message> {
        self.forecast_in(filters, &AnswerScope::accounts(scope), today).await
    }

    /// [`Answers::forecast`] in a scope of accounts and tag values.
    pub async fn forecast_in(&self, filters: &Filters, scope: &AnswerScope, today: NaiveDate) -> Answer<Message> {
        let key = (format!("forecast {filters:?} {:?}", scope.tags), scope.accounts.clone(), today);
        if let Some(hit) = self.cached_answer(&key).await? {
            return Ok(hit);
        }
        let answer = self.forecast_uncached(filters, scope, today).await?;
        self.remember(key, &answer).await?;
        Ok(answer)
    }

    /// The cached answer to `key`, if the data has not changed since it was given.
    async fn cached_answer(&self, key: &AnswerKey) -> anyhow::Result<Option<Message>> {
        let version = self.data_version().await?;
        let mut cache = self.cache.lock().map_err(|_| anyhow::anyhow!("answer cache poisoned"))?;
        if cache.version != version {
            *cache = AnswerCache { version, answers: HashMap::new() };
        }
        Ok(cache.answers.get(key).cloned())
    }

    async fn remember(&self, key: AnswerKey, answer: &Message) -> anyhow::Result<()> {
        let version = self.data_version().await?;
        let mut cache = self.cache.lock().map_err(|_| anyhow::anyhow!("answer cache poisoned"))?;
        // An answer computed while a collection finished belongs to neither version for sure.
        if cache.version == version {
            if cache.answers.len() >= CACHED_ANSWERS {
                cache.answers.clear();
            }
            cache.answers.insert(key, answer.clone());
        }
        Ok(())
    }

    async fn report_uncached(&self, report: &Report, scope: &AnswerScope, today: NaiveDate) -> Answer<Message> {
        Ok(answer::spend(&self.report_view(report, scope, today).await?))
    }

    /// What a spend report shows, before it is rendered as a chat message: the numbers the
    /// REST API and `costbot ask --format json|csv` give out, so they equal the `/cost` answer.
    pub async fn report_view(&self, report: &Report, scope: &AnswerScope, today: NaiveDate) -> Answer<SpendView> {
        let select = tags::select(report, scope)?;
        let names = self.account_names().await?;
        let (accounts, mut filters) =
            self.resolve_accounts(&report.filters.accounts, scope.accounts.as_deref(), &names).await?;
        let services = self.resolve_services(&report.filters.services, today).await?;
        filters.extend(services.iter().flatten().map(|s| format!("service = {s}")));
        filters.extend(select.as_ref().and_then(tags::said));
        let range = report.period.resolve(today);
        let query = SpendQuery { granularity: Granularity::Daily, range, accounts, services };
        let group = match (&select, &report.group) {
            (Some(select), group) => {
                let label = match group {
                    Some(GroupBy::Account) => Some("account".to_string()),
                    Some(GroupBy::Tag(key)) => Some(key.name.clone()),
                    _ => None,
                };
                Some((Grouping::Tags(select.clone(), tags::tag_group(group.as_ref())), label))
            }
            (None, None) => None,
            (None, Some(GroupBy::Service)) => Some((Grouping::Spend(SpendGroup::Service), Some("service".into()))),
            (None, Some(GroupBy::Account)) => Some((Grouping::Spend(SpendGroup::Account), Some("account".into()))),
            (None, Some(GroupBy::Region)) => {
                Some((Grouping::Dimension(BreakdownDimension::Region), Some("region".into())))
            }
            (None, Some(GroupBy::UsageType)) => {
                Some((Grouping::Dimension(BreakdownDimension::UsageType), Some("usage type".into())))
            }
            // `tags::select` reads every `by tag:`, so none is left here.
            (None, Some(GroupBy::Tag(_))) => None,
        };
        if matches!(group, Some((Grouping::Dimension(_), _))) && query.services.is_some() {
            return Err(AnswerError::User(
                "Region and usage-type breakdowns are per account; drop `service=` or break down `by service`.".into(),
            ));
        }
        let (current, previous, comparison_note) = if report.compare {
            let c = self.compared(report, &query, group.as_ref().map(|g| &g.0), today).await?;
            (c.current, c.previous, c.note)
        } else {
            (self.rows(&query, group.as_ref().map(|g| &g.0)).await?, None, None)
        };
        let previous_range = previous.as_ref().map(|(range, _)| *range);
        let previous = previous.map(|(_, rows)| rows);
        let label = |key: &str| match group.as_ref().map(|g| &g.0) {
            Some(Grouping::Spend(SpendGroup::Account) | Grouping::Tags(_, TagGroup::Account)) => {
                names.get(key).map_or_else(|| key.to_string(), |n| format!("{n} ({key})"))
            }
            Some(Grouping::Tags(select, TagGroup::Value)) => select.key.value_label(key),
            _ => key.to_string(),
        };
        let untagged_share = match group.as_ref().map(|g| &g.0) {
            Some(Grouping::Tags(select, TagGroup::Value)) => {
                tags::untagged_share(select, &current.grouped, current.total)
            }
            _ => None,
        };
        let prev_of = |key: &str| {
            previous.as_ref().map(|p| p.grouped.iter().find(|r| r.key == key).map_or(Money::ZERO, |r| r.amount))
        };
        let mut lines: Vec<Line> = current
            .grouped
            .iter()
            .map(|r| Line { key: r.key.clone(), label: label(&r.key), amount: r.amount, previous: prev_of(&r.key) })
            .collect();
        let other = match report.top {
            Some(n) if lines.len() > n as usize => {
                let rest = lines.split_off(n as usize);
                let amount = rest.iter().map(|l| l.amount).sum();
                let prev = previous.as_ref().map(|_| rest.iter().filter_map(|l| l.previous).sum());
                Some((rest.len(), amount, prev))
            }
            _ => None,
        };
        let view = SpendView {
            period_label: report.period.label(),
            range,
            previous_range,
            group_label: group.as_ref().and_then(|g| g.1.clone()),
            filters,
            lines,
            other,
            total: current.total,
            previous_total: previous.as_ref().map(|p| p.total),
            comparison_note,
            daily: current.daily,
            estimated: current.estimated,
            collected_at: self.collected_at().await?,
            charges: if select.is_some() { Vec::new() } else { self.charges(&query).await? },
            untagged_share,
        };
        Ok(view)
    }

    async fn forecast_uncached(&self, filters: &Filters, scope: &AnswerScope, today: NaiveDate) -> Answer<Message> {
        let month_start = today.with_day(1).unwrap_or(today);
        let start = month_start.min(today - Days::new(HISTORY_DAYS));
        let range = DateRange::new(start, today + Days::new(1)).map_err(anyhow::Error::from)?;
        let spend = self.daily_spend(filters, scope, range, today).await?;
        Ok(answer::forecast(month_end(today, &spend.days).as_ref(), &spend.said, self.collected_at().await?))
    }

    /// Daily spend in `range` of what `filters` select inside `scope`, resolved exactly as
    /// `/cost` resolves them (budgets use it for their scopes), with the accounts they
    /// resolved to (`None`: every account) and the filters in words. A tag filter (or a
    /// tag-scoped channel) reads the tag table, which is per account, not per service.
    pub async fn daily_spend(
        &self,
        filters: &Filters,
        scope: &AnswerScope,
        range: DateRange,
        today: NaiveDate,
    ) -> Answer<DailySpend> {
        let select = tags::selection(filters, scope, None)?;
        if select.is_some() && !filters.services.is_empty() {
            return Err(AnswerError::User(
                "Spend by tag is collected per account, so `service=` cannot narrow it.".into(),
            ));
        }
        let names = self.account_names().await?;
        let (accounts, mut said) = self.resolve_accounts(&filters.accounts, scope.accounts.as_deref(), &names).await?;
        let services = self.resolve_services(&filters.services, today).await?;
        said.extend(services.iter().flatten().map(|s| format!("service = {s}")));
        said.extend(select.as_ref().and_then(tags::said));
        let query = SpendQuery { granularity: Granularity::Daily, range, accounts: accounts.clone(), services };
        let days: Vec<(NaiveDate, Money)> = match &select {
            Some(select) => {
                let rows = self.store.tag_matrix(&select.query(&query), TagGroup::Total).await?;
                rows.iter().map(|(at, row)| (at.date(), row.amount)).collect()
            }
            None => {
                self.store.spend_per_period(&query).await?.iter().map(|(at, amount, _)| (at.date(), *amount)).collect()
            }
        };
        Ok(DailySpend { accounts, said, days })
    }

    /// The query's spend by Cost Explorer record type (usage, credits, refunds, tax, fees),
    /// for the gross / credits / net line. Record types are collected per account, so a
    /// service filter leaves it out; so does a store without them (the rows are empty).
    async fn charges(&self, query: &SpendQuery) -> anyhow::Result<Vec<(String, Money)>> {
        if query.services.is_some() {
            return Ok(Vec::new());
        }
        let rows = self.store.spend_by_dimension(query, BreakdownDimension::RecordType).await?;
        Ok(rows.into_iter().map(|r| (r.key, r.amount)).collect())
    }

    /// Total, breakdown and daily trend of a query from one scan of the facts (plus one of
    /// the breakdown table for region and usage type). Sums of the matrix are exact.
    async fn rows(&self, query: &SpendQuery, group: Option<&Grouping>) -> anyhow::Result<Rows> {
        self.rows_until(query, group, None).await
    }

    /// [`Answers::rows`] of the periods that start before `until` only (for hour-for-hour
    /// comparisons; breakdowns by region and usage type are daily and ignore it).
    async fn rows_until(
        &self,
        query: &SpendQuery,
        group: Option<&Grouping>,
        until: Option<chrono::NaiveDateTime>,
    ) -> anyhow::Result<Rows> {
        // Whole periods of spend by service or account: the trend and the groups are two
        // small sums in one statement, not a period × group matrix summed here.
        let summary_group = match group {
            None | Some(Grouping::Dimension(_)) => Some(SpendGroup::Total),
            Some(Grouping::Spend(g)) => Some(*g),
            Some(Grouping::Tags(..)) => None,
        };
        if let (None, Some(by)) = (until, summary_group) {
            let summary = self.store.spend_summary(query, by).await?;
            let total = summary.periods.iter().map(|(_, amount, _)| *amount).sum();
            let estimated = summary.periods.iter().any(|(_, _, estimated)| *estimated);
            let grouped = match group {
                Some(Grouping::Dimension(d)) => self.store.spend_by_dimension(query, *d).await?,
                _ => summary.groups,
            };
            let daily = summary.periods.into_iter().map(|(at, amount, _)| (at, amount)).collect();
            return Ok(Rows { total, estimated, grouped, daily });
        }
        let mut matrix = match group {
            Some(Grouping::Tags(select, by)) => self.store.tag_matrix(&select.query(query), *by).await?,
            Some(Grouping::Spend(g)) => self.store.spend_matrix(query, *g).await?,
            _ => self.store.spend_matrix(query, SpendGroup::Total).await?,
        };
        if let Some(until) = until {
            matrix.retain(|(at, _)| *at < until);
        }
        let mut daily: std::collections::BTreeMap<chrono::NaiveDateTime, Money> = std::collections::BTreeMap::new();
        let mut groups: HashMap<String, Money> = HashMap::new();
        let mut total = Money::ZERO;
        let mut estimated = false;
        for (at, row) in &matrix {
            *daily.entry(*at).or_default() += row.amount;
            *groups.entry(row.key.clone()).or_default() += row.amount;
            total += row.amount;
            estimated |= row.estimated;
        }
        let grouped = match group {
            Some(Grouping::Tags(_, TagGroup::Total)) => Vec::new(),
            Some(Grouping::Spend(_) | Grouping::Tags(..)) => {
                let mut rows: Vec<SpendRow> =
                    groups.into_iter().map(|(key, amount)| SpendRow { key, amount, estimated: false }).collect();
                rows.sort_by(|a, b| b.amount.cmp(&a.amount).then_with(|| a.key.cmp(&b.key)));
                rows
            }
            Some(Grouping::Dimension(d)) => self.store.spend_by_dimension(query, *d).await?,
            None => Vec::new(),
        };
        Ok(Rows { total, estimated, grouped, daily: daily.into_iter().collect() })
    }

    /// The newest collector run, re-read at most every `lookup_ttl`.
    async fn data_version(&self) -> anyhow::Result<DataVersion> {
        if let Some(version) = cached(&self.latest_run, self.lookup_ttl) {
            return Ok(version);
        }
        let version = self.store.recent_runs(1).await?.into_iter().next().map(|r| (r.id.0, r.finished_at));
        store_cache(&self.latest_run, version);
        Ok(version)
    }

    async fn collected_at(&self) -> anyhow::Result<Option<chrono::NaiveDateTime>> {
        Ok(self.data_version().await?.and_then(|(_, finished)| finished))
    }

    async fn known_accounts(&self) -> anyhow::Result<Vec<crate::domain::Account>> {
        if let Some(list) = cached(&self.accounts, self.lookup_ttl) {
            return Ok(list);
        }
        let list = self.store.accounts().await?;
        store_cache(&self.accounts, list.clone());
        Ok(list)
    }

    /// Account ids and names the store knows.
    pub async fn account_names(&self) -> anyhow::Result<HashMap<String, String>> {
        Ok(self.known_accounts().await?.into_iter().filter_map(|a| a.name.map(|n| (a.id.to_string(), n))).collect())
    }

    /// Resolves `account=` values (ids or names) inside the channel's scope. A foreign or
    /// unknown account gets the same answer, so a scoped channel learns nothing about others.
    async fn resolve_accounts(
        &self,
        raw: &[String],
        scope: Scope<'_>,
        names: &HashMap<String, String>,
    ) -> Answer<(Option<Vec<AccountId>>, Vec<String>)> {
        if raw.is_empty() {
            return Ok((scope.map(<[AccountId]>::to_vec), Vec::new()));
        }
        let known = self.known_accounts().await?;
        let mut ids = Vec::new();
        let mut said = Vec::new();
        for value in raw {
            let found = known.iter().find(|a| {
                a.id.as_str() == value.trim() || a.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(value.trim()))
            });
            let visible = found.filter(|a| scope.is_none_or(|s| s.contains(&a.id)));
            let Some(account) = visible else {
                return Err(AnswerError::User(format!(
                    "No account `{}` is available in this channel.",
                    value.chars().take(40).collect::<String>()
                )));
            };
            said.push(format!(
                "account = {}",
                names.get(account.id.as_str()).map_or(account.id.to_string(), |n| format!("{n} ({})", account.id))
            ));
            ids.push(account.id.clone());
        }
        Ok((Some(ids), said))
    }

    /// Resolves `service=` values: an exact name (any case), else the one service containing
    /// the text; otherwise a reply naming the nearest service.
    async fn resolve_services(&self, raw: &[String], today: NaiveDate) -> Answer<Option<Vec<ServiceName>>> {
        if raw.is_empty() {
            return Ok(None);
        }
        let known = self.known_services(today).await?;
        let mut out = Vec::new();
        for value in raw {
            let lower = value.to_lowercase();
            let exact = known.iter().find(|s| s.as_str().to_lowercase() == lower);
            let containing: Vec<&ServiceName> =
                known.iter().filter(|s| s.as_str().to_lowercase().contains(&lower)).collect();
            let only = match containing.as_slice() {
                [one] => Some(*one),
                _ => None,
            };
            match exact.or(only) {
                Some(s) => out.push(s.clone()),
                None => {
                    let nearest = known
                        .iter()
                        .map(|s| (strsim::normalized_levenshtein(&lower, &s.as_str().to_lowercase()), s))
                        .max_by(|a, b| a.0.total_cmp(&b.0))
                        .filter(|(score, _)| *score > 0.4)
                        .map(|(_, s)| format!(" — did you mean `{s}`?"))
                        .unwrap_or_default();
                    let value: String = value.chars().take(40).collect();
                    return Err(AnswerError::User(format!("No service matches `{value}`{nearest}")));
                }
            }
        }
        Ok(Some(out))
    }

    async fn known_services(&self, today: NaiveDate) -> anyhow::Result<Vec<ServiceName>> {
        if let Some(list) = cached(&self.services, SERVICES_TTL) {
            return Ok(list);
        }
        let list = self.store.services_since(today - Days::new(400)).await?;
        store_cache(&self.services, list.clone());
        Ok(list)
    }
}

/// A cached value if it is younger than `ttl`.
fn cached<T: Clone>(slot: &Mutex<Option<(Instant, T)>>, ttl: Duration) -> Option<T> {
    let guard = slot.lock().ok()?;
    guard.as_ref().filter(|(at, _)| at.elapsed() < ttl).map(|(_, v)| v.clone())
}

fn store_cache<T>(slot: &Mutex<Option<(Instant, T)>>, value: T) {
    if let Ok(mut guard) = slot.lock() {
        *guard = Some((Instant::now(), value));
    }
}

/// Daily spend of a filtered question: see [`Answers::daily_spend`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailySpend {
    /// The accounts the filters resolved to; `None` means every account.
    pub accounts: Option<Vec<AccountId>>,
    /// The filters in words ("account = payments (111111111111)").
    pub said: Vec<String>,
    /// Spend per day, oldest first.
    pub days: Vec<(NaiveDate, Money)>,
}

/// Which table a breakdown reads.
#[derive(Clone, PartialEq, Eq)]
enum Grouping {
    /// Cost facts, by service or account.
    Spend(SpendGroup),
    /// Breakdown facts, by region or usage type.
    Dimension(BreakdownDimension),
    /// Spend by tag: one key's selected values, as a total, by account or by value.
    Tags(TagSelect, TagGroup),
}

struct Rows {
    total: Money,
    estimated: bool,
    grouped: Vec<SpendRow>,
    daily: Vec<(chrono::NaiveDateTime, Money)>,
}

impl Rows {
    /// These rows followed by `later` ones: totals and groups added, days appended.
    fn merged(mut self, later: Rows) -> Rows {
        self.total += later.total;
        self.estimated |= later.estimated;
        self.daily.extend(later.daily);
        for row in later.grouped {
            match self.grouped.iter_mut().find(|r| r.key == row.key) {
                Some(mine) => mine.amount += row.amount,
                None => self.grouped.push(row),
            }
        }
        self.grouped.sort_by(|a, b| b.amount.cmp(&a.amount).then_with(|| a.key.cmp(&b.key)));
        self
    }
}
