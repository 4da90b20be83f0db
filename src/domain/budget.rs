//! Budgets (pure, exact): how a month's spend stands against a monthly amount, how fast it is
//! burning, where the month will end, which thresholds are crossed, and which alerts are due.
//!
//! Spend comes in as daily totals of the budget's scope (the store sums them); the forecast
//! is [`forecast::month_end`](super::forecast::month_end), and the day the forecast crosses
//! the budget comes from the same per-day projection, so the two always agree.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use super::forecast::{self, Forecast};
use super::Money;

/// The thresholds a budget alerts at when its configuration names none: per cent of the
/// monthly amount.
pub const DEFAULT_THRESHOLDS: [u32; 3] = [50, 80, 100];

/// The highest threshold a budget may set, in per cent (ten times the budget).
pub const MAX_THRESHOLD: u32 = 1_000;

/// Why a budget name, threshold or amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// Names are what people type in `/cost budget NAME` and what alert keys are made of.
    #[error(
        "`{0}` is not a budget name (1–40 lowercase letters, digits, `-` or `_`, starting with a letter or digit)"
    )]
    Name(String),
    /// A budget of zero or less cannot be crossed by a percentage.
    #[error("a budget's amount must be more than $0 (got {0})")]
    Amount(String),
    /// Thresholds are whole per cents from 1 to [`MAX_THRESHOLD`], each once.
    #[error("thresholds must be whole per cents from 1 to {MAX_THRESHOLD}, each once (got {0})")]
    Thresholds(String),
}

/// A budget's name: what `/cost budget NAME` and `/cost budget set NAME …` take, and part of
/// every alert's key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BudgetName(String);

impl BudgetName {
    /// Parses a name, case-insensitively (`Payments` is `payments`).
    pub fn parse(text: &str) -> Result<BudgetName, BudgetError> {
        let name = text.trim().to_lowercase();
        let ok = (1..=40).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if ok {
            Ok(BudgetName(name))
        } else {
            Err(BudgetError::Name(text.chars().take(40).collect()))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BudgetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for BudgetName {
    type Error = BudgetError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        BudgetName::parse(&value)
    }
}

impl From<BudgetName> for String {
    fn from(value: BudgetName) -> Self {
        value.0
    }
}

/// Checks a monthly amount: more than zero.
pub fn check_amount(amount: Money) -> Result<Money, BudgetError> {
    if amount > Money::ZERO {
        Ok(amount)
    } else {
        Err(BudgetError::Amount(amount.to_string()))
    }
}

/// Checks and sorts thresholds: whole per cents from 1 to [`MAX_THRESHOLD`], each once; an
/// empty list means [`DEFAULT_THRESHOLDS`].
pub fn check_thresholds(thresholds: &[u32]) -> Result<Vec<u32>, BudgetError> {
    if thresholds.is_empty() {
        return Ok(DEFAULT_THRESHOLDS.to_vec());
    }
    let mut sorted = thresholds.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let in_range = sorted.iter().all(|t| (1..=MAX_THRESHOLD).contains(t));
    if !in_range || sorted.len() != thresholds.len() {
        return Err(BudgetError::Thresholds(format!("{thresholds:?}")));
    }
    Ok(sorted)
}

/// How a budget stands on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetStatus {
    /// The budget.
    pub name: BudgetName,
    /// The first day of the month it is for.
    pub month: NaiveDate,
    /// The day it was worked out on (today, UTC).
    pub today: NaiveDate,
    /// The monthly amount in force.
    pub amount: Money,
    /// Spend so far this month, today's (estimated) part included: what `/cost mtd` says.
    pub actual: Money,
    /// `actual` as a percentage of `amount`, to one decimal.
    pub used_percent: Decimal,
    /// Average spend per complete day this month; `None` on the first of the month.
    pub burn_rate: Option<Money>,
    /// The month-end forecast; `None` with less than a week of history.
    pub forecast: Option<Forecast>,
    /// The configured thresholds, ascending.
    pub thresholds: Vec<u32>,
    /// The thresholds `actual` has reached, ascending.
    pub crossed: Vec<u32>,
    /// The day the forecast expects spend to pass the amount, while it has not yet.
    pub crossing: Option<NaiveDate>,
}

impl BudgetStatus {
    /// True when the month-end forecast is above the amount while actual spend is not yet.
    pub fn forecast_breach(&self) -> bool {
        self.actual < self.amount && self.forecast.as_ref().is_some_and(|f| f.projected > self.amount)
    }

    /// The forecast as a percentage of the amount, to one decimal.
    pub fn forecast_percent(&self) -> Option<Decimal> {
        self.forecast.as_ref().map(|f| percent_of(f.projected, self.amount))
    }
}

/// `part` as a percentage of `whole` (more than zero), to one decimal.
pub fn percent_of(part: Money, whole: Money) -> Decimal {
    if whole <= Money::ZERO {
        return Decimal::ZERO;
    }
    (part.as_decimal() * Decimal::from(100) / whole.as_decimal()).round_dp(1)
}

/// Works out a budget's status on `today` from the daily totals of its scope (`(day,
/// amount)`, any order, covering at least this month and [`forecast::HISTORY_DAYS`] before
/// today; later days are ignored).
pub fn status(
    name: BudgetName,
    amount: Money,
    thresholds: &[u32],
    today: NaiveDate,
    daily: &[(NaiveDate, Money)],
) -> BudgetStatus {
    let month = today.with_day(1).unwrap_or(today);
    let actual: Money = daily.iter().filter(|(d, _)| *d >= month && *d <= today).map(|(_, m)| *m).sum();
    let complete_days = today.day0();
    let complete: Money = daily.iter().filter(|(d, _)| *d >= month && *d < today).map(|(_, m)| *m).sum();
    let burn_rate =
        (complete_days > 0).then(|| Money::from_decimal(complete.as_decimal() / Decimal::from(complete_days)));
    let crossed: Vec<u32> = thresholds.iter().copied().filter(|t| reached(actual, amount, *t)).collect();
    let crossing = if actual >= amount {
        None
    } else {
        forecast::projected_days(today, daily).and_then(|days| {
            let mut running = complete;
            days.into_iter().find_map(|(day, projected)| {
                running += projected;
                (running > amount).then_some(day)
            })
        })
    };
    BudgetStatus {
        used_percent: percent_of(actual, amount),
        forecast: forecast::month_end(today, daily),
        thresholds: thresholds.to_vec(),
        name,
        month,
        today,
        amount,
        actual,
        burn_rate,
        crossed,
        crossing,
    }
}

/// True when `actual` is at least `threshold` per cent of `amount` (exact).
fn reached(actual: Money, amount: Money, threshold: u32) -> bool {
    actual.as_decimal() * Decimal::from(100) >= amount.as_decimal() * Decimal::from(threshold)
}

/// What a budget alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertKind {
    /// Actual spend reached this threshold (per cent).
    Threshold(u32),
    /// The month-end forecast is above the amount.
    Forecast,
}

impl AlertKind {
    /// The last part of the alert's key: the threshold, or `forecast`.
    pub fn as_key_part(&self) -> String {
        match self {
            AlertKind::Threshold(t) => t.to_string(),
            AlertKind::Forecast => "forecast".to_string(),
        }
    }
}

/// An alert a budget's status calls for. Whether it already fired this month is the store's
/// to say: its key is claimed in the same transaction that queues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetAlert {
    /// What it is about.
    pub kind: AlertKind,
    /// Its key: `budget:<name>:<yyyy-mm>:<threshold>` or `budget:<name>:<yyyy-mm>:forecast`.
    pub key: String,
    /// Keys of lower thresholds passed on the way, recorded as fired with it, so a budget
    /// first seen at 85 % says "80 %" once rather than "50 %" and then "80 %".
    pub passed: Vec<String>,
}

/// The key of a budget's alert of `kind` in the month starting `month`.
pub fn alert_key(name: &BudgetName, month: NaiveDate, kind: &AlertKind) -> String {
    format!("budget:{name}:{}:{}", month.format("%Y-%m"), kind.as_key_part())
}

/// The alerts a status calls for: the highest threshold reached (with the lower ones passed),
/// and the forecast breach while actual spend is still under the amount.
pub fn alerts(status: &BudgetStatus) -> Vec<BudgetAlert> {
    let key = |kind: &AlertKind| alert_key(&status.name, status.month, kind);
    let mut out = Vec::new();
    if let Some((highest, lower)) = status.crossed.split_last() {
        let kind = AlertKind::Threshold(*highest);
        out.push(BudgetAlert {
            key: key(&kind),
            passed: lower.iter().map(|t| key(&AlertKind::Threshold(*t))).collect(),
            kind,
        });
    }
    if status.forecast_breach() {
        out.push(BudgetAlert { key: key(&AlertKind::Forecast), passed: Vec::new(), kind: AlertKind::Forecast });
    }
    out
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
