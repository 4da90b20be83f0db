//! The dashboard: month to date and the projected month end, the daily trend, spend by
//! service and account, open anomalies, proposals (open and decided, with their savings) and
//! the audit log with its hash chain checked. Everything comes from the store, summed exactly
//! (in SQL or as `Money`), and is rendered on the server.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{Datelike, Days, NaiveDate, NaiveDateTime};
use maud::{html, Markup};

use super::chart;
use super::pages::frame;
use crate::domain::audit::{verify_chain_after, AuditEntry, GENESIS};
use crate::domain::chat::UserId;
use crate::domain::forecast::{month_end, Forecast, HISTORY_DAYS};
use crate::domain::incident::Anomaly;
use crate::domain::proposal::Proposal;
use crate::domain::{DateRange, Granularity, Money};
use crate::render::alert::subject;
use crate::store::{
    AccessStore, AccountStore, AnomalyStore, AuditCheckpoint, AuditStore, CostStore, ProposalStore, RunStore,
    SpendGroup, SpendQuery, SpendRow,
};

/// Days the trend chart covers.
const TREND_DAYS: u64 = 90;
/// Rows in each breakdown table.
const TOP_ROWS: usize = 10;
/// Audit entries listed (the chain check covers all of them).
const AUDIT_ROWS: usize = 30;

/// Everything the dashboard shows, read from the store.
pub struct Dashboard {
    today: NaiveDate,
    mtd: Money,
    estimated: bool,
    forecast: Option<Forecast>,
    trend: Vec<(NaiveDate, Money, bool)>,
    by_service: Vec<SpendRow>,
    by_account: Vec<SpendRow>,
    names: HashMap<String, String>,
    anomalies: Vec<Anomaly>,
    proposals: Vec<Proposal>,
    audit: Vec<AuditEntry>,
    /// The newest entry the chain is verified through (0: the log is empty).
    verified_through: i64,
    chain: Result<(), String>,
    collected_at: Option<NaiveDateTime>,
}

fn day_range(start: NaiveDate, end: NaiveDate) -> Result<DateRange> {
    Ok(DateRange::new(start, end)?)
}

/// Reads the dashboard's data as of `now`: spend, accounts, runs, anomalies, proposals and
/// the audit log. The only thing it writes is the audit checkpoint, when it verified more.
pub async fn gather<S>(store: &S, now: NaiveDateTime) -> Result<Dashboard>
where
    S: CostStore + AccountStore + RunStore + AnomalyStore + ProposalStore + AuditStore + AccessStore + ?Sized,
{
    let today = now.date();
    let month_start = today.with_day(1).unwrap_or(today);
    let tomorrow = today + Days::new(1);
    let query = |range| SpendQuery { granularity: Granularity::Daily, range, accounts: None, services: None };
    let mtd_query = query(day_range(month_start, tomorrow)?);
    let by_service = store.spend(&mtd_query, SpendGroup::Service).await?;
    let by_account = store.spend(&mtd_query, SpendGroup::Account).await?;
    let mtd = by_service.iter().map(|r| r.amount).sum();
    let estimated = by_service.iter().any(|r| r.estimated);
    let history_start = month_start.min(today - Days::new(HISTORY_DAYS));
    let history = store.spend_per_period(&query(day_range(history_start, tomorrow)?)).await?;
    let days: Vec<(NaiveDate, Money)> = history.iter().map(|(at, amount, _)| (at.date(), *amount)).collect();
    let trend_rows = store.spend_per_period(&query(day_range(today - Days::new(TREND_DAYS), tomorrow)?)).await?;
    let (audit, verified_through, chain) = verify_audit(store, now).await?;
    Ok(Dashboard {
        today,
        mtd,
        estimated,
        forecast: month_end(today, &days),
        trend: trend_rows.into_iter().map(|(at, amount, estimated)| (at.date(), amount, estimated)).collect(),
        by_service,
        by_account,
        names: store.accounts().await?.into_iter().filter_map(|a| a.name.map(|n| (a.id.to_string(), n))).collect(),
        anomalies: store.anomalies(true, 50).await?,
        proposals: store.proposals_in(&[]).await?,
        audit: audit.into_iter().rev().take(AUDIT_ROWS).collect(),
        verified_through,
        chain,
        collected_at: store.recent_runs(1).await?.into_iter().next().and_then(|r| r.finished_at),
    })
}

/// Verifies the audit chain from the last checkpoint instead of from the start, so a
/// dashboard load costs the entries written since the last one, not the whole log; `costbot
/// audit verify` still checks everything. Returns the entries read (for the latest rows), the
/// entry verified through, and the outcome.
async fn verify_audit<S>(store: &S, now: NaiveDateTime) -> Result<(Vec<AuditEntry>, i64, Result<(), String>)>
where
    S: AuditStore + AccessStore + ?Sized,
{
    let checkpoint = store.audit_checkpoint().await?;
    let (start, prev) = checkpoint.as_ref().map_or((0, GENESIS.to_string()), |c| (c.seq, c.hash.clone()));
    // A few entries before the checkpoint too, for the table of the latest ones.
    let shown_from = start.saturating_sub(i64::try_from(AUDIT_ROWS).unwrap_or(i64::MAX));
    let mut entries: Vec<AuditEntry> = Vec::new();
    loop {
        let after = entries.last().map_or(shown_from, |e| e.seq);
        let page = store.audit_entries(after, 10_000).await?;
        if page.is_empty() {
            break;
        }
        entries.extend(page);
    }
    let split = entries.partition_point(|e| e.seq <= start);
    let anchored = checkpoint.is_none() || entries[..split].last().is_some_and(|e| e.seq == start && e.hash == prev);
    let chain = if anchored {
        verify_chain_after(&prev, &entries[split..]).map_err(|e| e.to_string())
    } else {
        Err(format!("the last verified entry #{start} is not as it was verified"))
    };
    let newest = entries.last().filter(|_| chain.is_ok() && split < entries.len());
    if let Some(last) = newest {
        store
            .save_audit_checkpoint(&AuditCheckpoint { seq: last.seq, hash: last.hash.clone(), verified_at: now })
            .await?;
    }
    let through = if chain.is_ok() { newest.map_or(start, |e| e.seq) } else { start };
    Ok((entries, through, chain))
}

fn card(id: &str, label: &str, value: &str, note: &str) -> Markup {
    html! { div.card id=(id) { div.label { (label) } div.value { (value) } div.note { (note) } } }
}

/// A table of text cells; columns listed in `numeric` are right-aligned.
fn table(id: &str, columns: &[&str], numeric: &[usize], rows: &[Vec<String>], empty: &str) -> Markup {
    let class = |i: usize| numeric.contains(&i).then_some("num");
    html! {
        @if rows.is_empty() {
            p.empty id=(id) { (empty) }
        } @else {
            table.data id=(id) {
                thead { tr { @for (i, c) in columns.iter().enumerate() { th class=[class(i)] { (c) } } } }
                tbody {
                    @for r in rows { tr { @for (i, c) in r.iter().enumerate() { td class=[class(i)] { (c) } } } }
                }
            }
        }
    }
}

fn share(part: Money, whole: Money) -> String {
    if whole.as_decimal().is_zero() {
        return String::new();
    }
    format!("{}%", (part.as_decimal() * rust_decimal::Decimal::from(100) / whole.as_decimal()).round_dp(1))
}

fn saving(p: &Proposal) -> String {
    p.finding.monthly_saving.map_or("unknown".to_string(), |m| format!("{m}/month"))
}

fn proposal_rows(proposals: &[&Proposal]) -> Vec<Vec<String>> {
    proposals
        .iter()
        .map(|p| {
            let r = &p.finding.resource.reference;
            vec![
                p.id.0.clone(),
                format!("{} {}", p.finding.action.verb(), r.id),
                r.account.to_string(),
                saving(p),
                p.state.name().to_string(),
            ]
        })
        .collect()
}

fn sum_savings(proposals: &[&Proposal]) -> Money {
    proposals.iter().filter_map(|p| p.finding.monthly_saving).sum()
}

/// The four figures at the top: month to date, projected month end, open anomalies, savings.
fn cards(d: &Dashboard) -> Markup {
    let estimated = if d.estimated { " · includes estimated days" } else { "" };
    let (projected, range) = match &d.forecast {
        Some(f) => {
            (f.projected.to_string(), format!("likely {} – {} by {}", f.low, f.high, f.month_end.format("%b %-d")))
        }
        None => (
            "not enough history".to_string(),
            format!("needs {} days of data", crate::domain::forecast::MIN_HISTORY_DAYS),
        ),
    };
    let open = open_proposals(d);
    let decided = decided_proposals(d);
    // Only real executions save money; dry runs are shown apart, as what they would save.
    let (dry_runs, executed): (Vec<&Proposal>, Vec<&Proposal>) = decided
        .iter()
        .copied()
        .filter(|p| p.state.name() == "done")
        .partition(|p| matches!(p.state, crate::domain::proposal::State::Done { dry_run: true, .. }));
    let month = format!(
        "{} to {}{estimated}",
        d.today.with_day(1).unwrap_or(d.today).format("%b %-d"),
        d.today.format("%b %-d")
    );
    let savings = format!(
        "{} executed · {} dry runs would save {}/month · {} waiting: {}/month",
        executed.len(),
        dry_runs.len(),
        sum_savings(&dry_runs),
        open.len(),
        sum_savings(&open)
    );
    html! {
        (card("card-mtd", "Month to date", &d.mtd.to_string(), &month))
        (card("card-forecast", "Projected month end", &projected, &range))
        (card("card-anomalies", "Open anomalies", &d.anomalies.len().to_string(), "medium and up are alerted in chat"))
        (card("card-savings", "Savings executed", &format!("{}/month", sum_savings(&executed)), &savings))
    }
}

fn open_proposals(d: &Dashboard) -> Vec<&Proposal> {
    d.proposals.iter().filter(|p| matches!(p.state.name(), "pending" | "approved" | "executing")).collect()
}

fn decided_proposals(d: &Dashboard) -> Vec<&Proposal> {
    d.proposals.iter().filter(|p| matches!(p.state.name(), "done" | "aborted" | "failed" | "denied")).collect()
}

/// Month to date by service and by account, each with its share of the whole.
fn breakdowns(d: &Dashboard) -> Markup {
    let label = |id: &str| d.names.get(id).map_or(id.to_string(), |n| format!("{n} ({id})"));
    let rows = |spend: &[SpendRow], key: &dyn Fn(&str) -> String| -> Vec<Vec<String>> {
        spend.iter().take(TOP_ROWS).map(|r| vec![key(&r.key), r.amount.to_string(), share(r.amount, d.mtd)]).collect()
    };
    let services = rows(&d.by_service, &|k| k.to_string());
    let accounts = rows(&d.by_account, &label);
    html! {
        div.two {
            section {
                h2 { "Month to date by service" }
                (table("by-service", &["Service", "Spend", "Share"], &[1, 2], &services, "No spend this month yet."))
            }
            section {
                h2 { "Month to date by account" }
                (table("by-account", &["Account", "Spend", "Share"], &[1, 2], &accounts, "No spend this month yet."))
            }
        }
    }
}

fn anomaly_rows(d: &Dashboard) -> Vec<Vec<String>> {
    let lookup = |id: &str| d.names.get(id).cloned();
    d.anomalies
        .iter()
        .map(|a| {
            vec![
                subject(a, &lookup),
                format!("{:?}", a.severity).to_lowercase(),
                a.start.format("%b %-d").to_string(),
                a.actual.to_string(),
                a.expected.to_string(),
                crate::render::money_delta(a.impact),
            ]
        })
        .collect()
}

/// The latest audit entries, after whether the whole hash chain verifies.
fn audit(d: &Dashboard) -> Markup {
    let rows: Vec<Vec<String>> = d
        .audit
        .iter()
        .map(|e| {
            let r = &e.record;
            vec![
                e.seq.to_string(),
                r.at.format("%b %-d %H:%M:%S").to_string(),
                r.actor.clone(),
                r.action.clone(),
                r.target.clone(),
                e.hash.chars().take(12).collect(),
            ]
        })
        .collect();
    html! {
        @match &d.chain {
            Ok(()) => p.verified.ok #audit-status { "Hash chain verified through entry #" (d.verified_through) ": intact." },
            Err(e) => p.verified.broken #audit-status { "Hash chain BROKEN: " (e) },
        }
        @if let Some(head) = d.audit.first() {
            // Kept outside the database (a screenshot, a ticket), it lets
            // `costbot audit verify --head` prove later that nothing up to it was cut or rewritten.
            p #audit-head { "Head, to keep as a checkpoint: " code { (head.checkpoint()) } }
        }
        (table("audit", &["#", "When (UTC)", "Who", "What", "Target", "Hash"], &[0], &rows, "The audit log is empty."))
    }
}

/// The dashboard page.
pub fn page(d: &Dashboard, user: &UserId, demo_users: Option<&[UserId]>) -> Result<String> {
    let fresh = d
        .collected_at
        .map_or("no collection yet".to_string(), |t| format!("data collected {}", t.format("%b %-d %H:%M UTC")));
    let proposal_columns = ["Proposal", "Action", "Account", "Saves", "State"];
    let anomaly_columns = ["On", "Severity", "Since", "Actual", "Expected", "Impact"];
    let body = html! {
        div.dashboard {
            p.fresh { (fresh) }
            div.cards { (cards(d)) }
            section { h2 { "Daily spend, last " (TREND_DAYS) " days" } (chart::trend(&d.trend)?) }
            (breakdowns(d))
            section {
                h2 { "Open anomalies" }
                (table("anomalies", &anomaly_columns, &[3, 4, 5], &anomaly_rows(d), "Nothing unusual right now."))
            }
            section {
                h2 { "Waiting for a decision or running" }
                (table("open-proposals", &proposal_columns, &[3], &proposal_rows(&open_proposals(d)), "No proposals waiting."))
            }
            section {
                h2 { "Decided and executed" }
                (table("decided-proposals", &proposal_columns, &[3], &proposal_rows(&decided_proposals(d)), "Nothing decided yet."))
            }
            section { h2 { "Audit log" } (audit(d)) }
        }
    };
    Ok(frame("Dashboard", "dashboard", user, demo_users, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_audit_chain_is_verified_from_the_last_checkpoint() {
        use crate::domain::audit::AuditRecord;
        let store = crate::store::SqliteStore::in_memory().await.unwrap();
        let now: NaiveDateTime = "2026-11-25T10:00:00".parse().unwrap();
        let record = |action: &str| AuditRecord {
            at: now,
            actor: "console:ana".into(),
            action: action.into(),
            target: "pr-1".into(),
            channel: None,
            detail: "{}".into(),
        };
        for action in ["a", "b", "c"] {
            store.append_audit(&record(action)).await.unwrap();
        }
        let (_, through, chain) = verify_audit(&store, now).await.unwrap();
        assert_eq!((through, chain), (3, Ok(())));
        assert_eq!(store.audit_checkpoint().await.unwrap().map(|c| c.seq), Some(3));
        let last = store.append_audit(&record("d")).await.unwrap();
        let (entries, through, chain) = verify_audit(&store, now).await.unwrap();
        assert_eq!((through, chain), (4, Ok(())));
        assert_eq!(entries.len(), 4, "the latest rows are still shown");
        // A checkpoint that no longer matches its entry is reported, not trusted.
        let forged = AuditCheckpoint { seq: 5, hash: "forged".into(), verified_at: now };
        store.save_audit_checkpoint(&forged).await.unwrap();
        let (_, _, chain) = verify_audit(&store, now).await.unwrap();
        assert!(chain.unwrap_err().contains("#5"), "last real entry was #{}", last.seq);
    }

    #[test]
    fn hostile_cells_and_figures_are_text() {
        let evil = "\"><script>alert(1)</script>";
        let rows = vec![vec![evil.to_string(), "$1.00".to_string()]];
        let html = table("by-service", &[evil, "Spend"], &[1], &rows, evil).into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert_eq!(
            html,
            "<table class=\"data\" id=\"by-service\"><thead><tr><th>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</th>\
             <th class=\"num\">Spend</th></tr></thead><tbody><tr><td>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td>\
             <td class=\"num\">$1.00</td></tr></tbody></table>"
        );
        let empty = table("audit", &["#"], &[0], &[], evil).into_string();
        assert_eq!(empty, "<p class=\"empty\" id=\"audit\">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</p>");
        let card = card("card-mtd", "Month to date", evil, "<b>").into_string();
        assert!(card.contains("<div class=\"value\">&quot;&gt;&lt;script&gt;") && card.contains("&lt;b&gt;"), "{card}");
    }
}
