//! What the REST API answers, as JSON: every amount an exact decimal string in USD (never a
//! float, so a sum of the rows equals the total to the last digit), every time RFC 3339 in UTC
//! (`2026-12-01T00:00:00Z`), so a chart never shifts it into the viewer's zone. The
//! OpenAPI document is generated from these types, and `costbot ask --format json|csv` prints
//! the same shapes.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::incident::{Anomaly, Scope};
use crate::domain::proposal::Proposal;
use crate::domain::Money;
use crate::render::answer::SpendView;

/// An amount as an exact decimal string: trailing zeros dropped, so both stores give the same
/// text for the same sum (`"1234.5"`, `"0.0000000036"`, `"-12"`).
pub fn exact(money: Money) -> String {
    money.as_decimal().normalize().to_string()
}

/// Spend over a period, as `/cost` answers it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CostsResponse {
    /// The period as people say it: "month to date", "last 7 days", "2026-10".
    pub period: String,
    /// First day covered (UTC).
    pub start: NaiveDate,
    /// The day after the last day covered (the range is half-open).
    pub end: NaiveDate,
    /// The breakdown (`service`, `account`, `region`, `usage type`); absent for a plain total.
    pub group_by: Option<String>,
    /// The filters applied, in words ("service = AWS Lambda").
    pub filters: Vec<String>,
    /// Always `USD`: Cost Explorer reports in USD.
    pub currency: String,
    /// The total of everything the question covers.
    #[schema(example = "1234.5678")]
    pub total: String,
    /// True when any day is still estimated by Cost Explorer.
    pub estimated: bool,
    /// One row per group, largest first, cut to `top`.
    pub rows: Vec<CostRow>,
    /// The groups `top` folded away, if any.
    pub other: Option<OtherRow>,
    /// The previous period, with `compare`.
    pub previous: Option<PreviousPeriod>,
    /// What `compare` set against what, when it is not simply the two whole periods.
    pub comparison_note: Option<String>,
    /// The total per day (per hour for the part of today compared hour for hour), oldest first.
    pub series: Vec<SeriesPoint>,
    /// The same spend by Cost Explorer record type (usage, credits, tax, …); empty when not
    /// collected or with a service filter.
    pub charges: Vec<ChargeRow>,
    /// When costs were last collected.
    pub collected_at: Option<DateTime<Utc>>,
}

/// One group of a breakdown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CostRow {
    /// The group as stored: a service name, an account id, a region.
    pub key: String,
    /// The group as people read it ("prod (222222222222)").
    pub label: String,
    /// Spend in the period.
    pub amount: String,
    /// Spend in the previous period, with `compare`.
    pub previous: Option<String>,
}

/// The groups beyond `top`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OtherRow {
    /// How many groups.
    pub groups: usize,
    /// Their spend.
    pub amount: String,
    /// Their spend in the previous period, with `compare`.
    pub previous: Option<String>,
}

/// The period `compare` set the answer against.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviousPeriod {
    /// First day.
    pub start: NaiveDate,
    /// The day after the last.
    pub end: NaiveDate,
    /// Its total.
    pub total: String,
}

/// One point of the spend series.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeriesPoint {
    /// The day (or hour) it starts, UTC.
    pub at: DateTime<Utc>,
    /// Spend in it.
    pub amount: String,
}

/// Spend of one Cost Explorer record type.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChargeRow {
    /// `Usage`, `Credit`, `Tax`, …
    pub record_type: String,
    /// Its spend.
    pub amount: String,
}

impl From<&SpendView> for CostsResponse {
    fn from(view: &SpendView) -> CostsResponse {
        let previous = view.previous_range.zip(view.previous_total).map(|(range, total)| PreviousPeriod {
            start: range.start(),
            end: range.end(),
            total: exact(total),
        });
        CostsResponse {
            period: view.period_label.clone(),
            start: view.range.start(),
            end: view.range.end(),
            group_by: view.group_label.clone(),
            filters: view.filters.clone(),
            currency: "USD".to_string(),
            total: exact(view.total),
            estimated: view.estimated,
            rows: view
                .lines
                .iter()
                .map(|l| CostRow {
                    key: l.key.clone(),
                    label: l.label.clone(),
                    amount: exact(l.amount),
                    previous: l.previous.map(exact),
                })
                .collect(),
            other: view.other.map(|(groups, amount, previous)| OtherRow {
                groups,
                amount: exact(amount),
                previous: previous.map(exact),
            }),
            previous,
            comparison_note: view.comparison_note.clone(),
            series: view
                .daily
                .iter()
                .map(|(at, amount)| SeriesPoint { at: at.and_utc(), amount: exact(*amount) })
                .collect(),
            charges: view
                .charges
                .iter()
                .map(|(record_type, amount)| ChargeRow { record_type: record_type.clone(), amount: exact(*amount) })
                .collect(),
            collected_at: view.collected_at.map(|t| t.and_utc()),
        }
    }
}

/// One cost anomaly.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnomalyItem {
    /// Stable id (`an-…`).
    pub id: String,
    /// `open` or `resolved`.
    pub status: String,
    /// `spike`, `level_shift`, `new_spend`, `drop`.
    pub kind: String,
    /// `low`, `medium`, `high`, `critical`.
    pub severity: String,
    /// `daily` or `hourly`.
    pub granularity: String,
    /// The account, absent for an organisation-wide anomaly.
    pub account: Option<String>,
    /// The service, for a service series.
    pub service: Option<String>,
    /// First anomalous period.
    pub start: DateTime<Utc>,
    /// Last anomalous period seen.
    pub end: DateTime<Utc>,
    /// Expected spend over the anomaly.
    pub expected: String,
    /// Actual spend over the anomaly.
    pub actual: String,
    /// Actual minus expected.
    pub impact: String,
    /// Impact as a percentage of expected.
    pub percent: String,
    /// True while it rests on estimated data only.
    pub provisional: bool,
    /// When it was first detected.
    pub opened_at: DateTime<Utc>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Ranked contributors to the increase.
    pub root_cause: Vec<Contributor>,
}

/// One ranked contributor to an anomaly.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Contributor {
    /// `usage type`, `region`, `service` or `account`.
    pub dimension: String,
    /// Its name.
    pub name: String,
    /// Spend during the anomaly minus its baseline.
    pub increase: String,
    /// Share of the total increase, in percent.
    pub share_percent: String,
}

/// `LevelShift` → `level_shift`: serde's names of the domain enums, as the API spells them.
fn snake(debug: impl std::fmt::Debug) -> String {
    let text = format!("{debug:?}");
    let mut out = String::with_capacity(text.len() + 4);
    for (i, c) in text.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

impl From<&Anomaly> for AnomalyItem {
    fn from(a: &Anomaly) -> AnomalyItem {
        let service = match &a.key.scope {
            Scope::Service { service, .. } => Some(service.to_string()),
            _ => None,
        };
        AnomalyItem {
            id: a.id.to_string(),
            status: snake(a.status),
            kind: snake(a.kind),
            severity: snake(a.severity),
            granularity: a.key.granularity.to_string(),
            account: a.key.account().map(ToString::to_string),
            service,
            start: a.start.and_utc(),
            end: a.end.and_utc(),
            expected: exact(a.expected),
            actual: exact(a.actual),
            impact: exact(a.impact),
            percent: a.percent.normalize().to_string(),
            provisional: a.provisional,
            opened_at: a.opened_at.and_utc(),
            resolved_at: a.resolved_at.map(|t| t.and_utc()),
            root_cause: a
                .root_cause
                .iter()
                .map(|c| Contributor {
                    dimension: c.dimension.label().to_string(),
                    name: c.name.clone(),
                    increase: exact(c.increase),
                    share_percent: c.share_percent.normalize().to_string(),
                })
                .collect(),
        }
    }
}

/// One savings proposal.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalItem {
    /// Stable id (`pr-…`).
    pub id: String,
    /// Bumped on every change.
    pub version: u32,
    /// `pending`, `approved`, `executing`, `done`, `aborted`, `failed`, `denied`, `snoozed`,
    /// `expired` or `withdrawn`.
    pub state: String,
    /// The resource's account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Its kind (`ec2_instance`, `ebs_volume`, …).
    pub resource_kind: String,
    /// Its id.
    pub resource_id: String,
    /// The waste rule that found it.
    pub rule: String,
    /// The evidence, in a sentence.
    pub evidence: String,
    /// The proposed action (`stop_instance`, `delete_volume`, …).
    pub action: String,
    /// The monthly saving; absent when the price is unknown.
    pub monthly_saving: Option<String>,
    /// Approvals needed.
    pub required_approvals: u8,
    /// Approvals so far.
    pub approvals: usize,
    /// When it was proposed.
    pub created_at: DateTime<Utc>,
    /// When it stops accepting decisions.
    pub expires_at: DateTime<Utc>,
}

impl From<&Proposal> for ProposalItem {
    fn from(p: &Proposal) -> ProposalItem {
        let r = &p.finding.resource.reference;
        ProposalItem {
            id: p.id.to_string(),
            version: p.version,
            state: p.state.name().to_string(),
            account: r.account.to_string(),
            region: r.region.clone(),
            resource_kind: r.kind.as_str().to_string(),
            resource_id: r.id.clone(),
            rule: p.finding.rule.clone(),
            evidence: p.finding.evidence.clone(),
            action: snake(p.finding.action),
            monthly_saving: p.finding.monthly_saving.map(exact),
            required_approvals: p.required_approvals,
            approvals: p.approvals.len(),
            created_at: p.created_at.and_utc(),
            expires_at: p.expires_at.and_utc(),
        }
    }
}

/// A list of anomalies.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnomaliesResponse {
    /// Newest first.
    pub anomalies: Vec<AnomalyItem>,
}

/// A list of proposals.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalsResponse {
    /// As the store lists them.
    pub proposals: Vec<ProposalItem>,
}

/// A list of budgets, as the `/cost budget` answer shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BudgetsResponse {
    /// The budgets the token may see, in configuration order.
    pub budgets: Vec<BudgetItem>,
}

/// One budget this month.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BudgetItem {
    /// Its name from `[[budgets]]`.
    pub name: String,
    /// Its scope in words; empty: every account.
    pub scope: Vec<String>,
    /// The monthly amount in force (exact decimal, USD).
    pub amount: String,
    /// Where the amount comes from when an approver set it from chat.
    pub amount_note: Option<String>,
    /// Spend so far this month (exact decimal); absent when `error` says why it is unknown.
    pub actual: Option<String>,
    /// `actual` as a percentage of `amount`, to one decimal.
    pub used_percent: Option<String>,
    /// Average spend per complete day this month.
    pub burn_rate: Option<String>,
    /// The month-end forecast (exact decimal).
    pub forecast: Option<String>,
    /// The configured thresholds in percent, and those reached.
    pub thresholds: Vec<u32>,
    /// See `thresholds`.
    pub crossed: Vec<u32>,
    /// The day the forecast expects spend to pass the amount.
    pub crossing: Option<chrono::NaiveDate>,
    /// Alerts that fired this month, in words.
    pub fired: Vec<String>,
    /// Why the status cannot be said now (a scope naming what the store does not know yet).
    pub error: Option<String>,
}

impl From<&crate::render::budget::BudgetRow> for BudgetItem {
    fn from(row: &crate::render::budget::BudgetRow) -> BudgetItem {
        let status = row.status.as_ref().ok();
        BudgetItem {
            name: row.name.to_string(),
            scope: row.scope.clone(),
            amount: exact(row.amount),
            amount_note: row.amount_note.clone(),
            actual: status.map(|s| exact(s.actual)),
            used_percent: status.map(|s| s.used_percent.normalize().to_string()),
            burn_rate: status.and_then(|s| s.burn_rate).map(exact),
            forecast: status.and_then(|s| s.forecast.as_ref()).map(|f| exact(f.projected)),
            thresholds: status.map(|s| s.thresholds.clone()).unwrap_or_default(),
            crossed: status.map(|s| s.crossed.clone()).unwrap_or_default(),
            crossing: status.and_then(|s| s.crossing),
            fired: row.fired.clone(),
            error: row.status.as_ref().err().cloned(),
        }
    }
}

/// Why a request was not answered; always with a 4xx status (503 when the store is down).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in a sentence the caller can act on.
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_and_the_same_whatever_their_scale() {
        let m = |s: &str| Money::parse(s).unwrap();
        assert_eq!(exact(m("1234.5000")), "1234.5");
        assert_eq!(exact(m("0.0000000036")), "0.0000000036");
        assert_eq!(exact(m("-12.00")), "-12");
        assert_eq!(exact(Money::ZERO), "0");
        assert_eq!(snake(crate::domain::anomaly::Kind::Spike), "spike");
    }
}
