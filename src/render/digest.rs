//! The daily digest: the message people read every morning. Yesterday against the day before
//! and the same weekday last week, the month so far against last month, where the month will
//! end, what moved, what is open, what waits for a decision, and what was saved.

use chrono::{Datelike, NaiveDate, NaiveDateTime};

use super::answer::{delta, sparkline};
use super::approval::kind_text;
use crate::domain::chat::message::{Attachment, Block, Message, Span, Tone};
use crate::domain::digest::{Comparison, SpendSummary};
use crate::domain::Money;

/// How many anomalies and approvals are listed before "and N more".
const LISTED: usize = 8;

/// An open anomaly as the digest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnomalyItem {
    /// What it is on, in words.
    pub subject: String,
    /// "high", "critical", …
    pub severity: String,
    /// Its dollar impact so far.
    pub impact: Money,
    /// When it started.
    pub since: NaiveDateTime,
    /// A link to its alert, where the platform gave one.
    pub link: Option<String>,
}

/// A proposal waiting for a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalItem {
    /// "stop EC2 instance i-0abc".
    pub what: String,
    /// Monthly saving, when the price is known.
    pub saving: Option<Money>,
    /// Approvals given and needed.
    pub approvals: (usize, u8),
    /// When it expires.
    pub expires_at: NaiveDateTime,
}

/// Savings from executed actions this month (monthly cost of what was stopped or removed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Savings {
    /// Sum of the known monthly savings of actions really executed.
    pub realised: Money,
    /// Actions really executed.
    pub actions: u32,
    /// Of those, actions whose saving is unknown (no price).
    pub unknown: u32,
    /// What dry-run executions would have saved.
    pub dry_run: Money,
    /// Dry-run executions.
    pub dry_run_actions: u32,
}

/// Everything one channel's digest shows.
#[derive(Debug, Clone)]
pub struct DigestView {
    /// The channel's local date the digest is for.
    pub date: NaiveDate,
    /// The spend figures.
    pub summary: SpendSummary,
    /// Open anomalies the channel may see.
    pub anomalies: Vec<AnomalyItem>,
    /// Proposals waiting for a decision in this channel.
    pub approvals: Vec<ApprovalItem>,
    /// Savings realised this month.
    pub savings: Savings,
    /// Set when the digest goes out late: when it was due, in the channel's words.
    pub late: Option<String>,
    /// When costs were last collected.
    pub collected_at: Option<NaiveDateTime>,
    /// The audit log's head when the digest was made: a checkpoint kept outside the
    /// database, in the channel's history.
    pub audit_head: Option<crate::domain::audit::Checkpoint>,
    /// Now (UTC), for "expires in".
    pub now: NaiveDateTime,
    /// The budgets the channel may see (no line when empty).
    pub budgets: Vec<super::budget::BudgetRow>,
    /// The chart, when drawn.
    pub chart_png: Option<Vec<u8>>,
    /// A tag-scoped channel's scope ("team = payments"): its figures are that spend only,
    /// broken down by account instead of by service.
    pub tag_scope: Option<String>,
}

fn day_text(day: NaiveDate) -> String {
    day.format("%a %b %-d").to_string()
}

fn span_text(from: NaiveDate, to: NaiveDate) -> String {
    if from == to {
        from.format("%b %-d").to_string()
    } else {
        format!("{}–{}", from.format("%b %-d"), to.format("%-d"))
    }
}

/// `$1,234.56` with the change against `previous`, or words for what is missing.
fn compared(c: Comparison, against: &str) -> String {
    match (c.current, c.previous) {
        (Some(now), Some(then)) => format!("{now}\n{} vs {against}", delta(now, then)),
        (Some(now), None) => format!("{now}\nno data for {against}"),
        (None, _) => "no data yet".to_string(),
    }
}

/// Only the change against an earlier figure, with that figure.
fn against(c: Comparison, label: &str) -> String {
    match (c.current, c.previous) {
        (Some(now), Some(then)) => format!("{}\nwas {then}", delta(now, then)),
        (Some(_), None) => format!("no data for {label}"),
        (None, _) => "no data yet".to_string(),
    }
}

fn spend_fields(s: &SpendSummary) -> Vec<(String, String)> {
    let day_before = s.day.pred_opt().unwrap_or(s.day);
    let week_ago = s.day - chrono::Days::new(7);
    let month_start = s.day.with_day(1).unwrap_or(s.day);
    let previous_start = s.previous_mtd_end.with_day(1).unwrap_or(s.previous_mtd_end);
    let mut mtd = compared(s.month_to_date, &span_text(previous_start, s.previous_mtd_end));
    if s.month_to_date.current.is_some() && s.mtd_days.0 < s.mtd_days.1 {
        mtd.push_str(&format!("\n{} of {} days have data", s.mtd_days.0, s.mtd_days.1));
    }
    let month_name = (s.day + chrono::Days::new(1)).format("%B").to_string();
    let forecast = match &s.forecast {
        Some(f) => format!("{}\nlikely {} to {}", f.projected, f.low, f.high),
        None => "not enough history yet".to_string(),
    };
    vec![
        (format!("Yesterday, {}", day_text(s.day)), compared(s.vs_day_before, &day_text(day_before))),
        (format!("Against last week, {}", day_text(week_ago)), against(s.vs_week_ago, &day_text(week_ago))),
        (format!("Month to date, {}", span_text(month_start, s.day)), mtd),
        (format!("{month_name} forecast"), forecast),
    ]
}

fn movers_block(s: &SpendSummary, heading: &str) -> Option<Block> {
    if s.movers.is_empty() {
        return None;
    }
    let before = s.day.pred_opt().unwrap_or(s.day);
    let rows = s
        .movers
        .iter()
        .map(|m| vec![m.service.clone(), m.before.to_string(), m.after.to_string(), delta(m.after, m.before)])
        .collect();
    Some(Block::Table {
        columns: vec![
            heading.into(),
            before.format("%b %-d").to_string(),
            s.day.format("%b %-d").to_string(),
            "Change".into(),
        ],
        right_align: vec![false, true, true, true],
        rows,
    })
}

fn anomaly_spans(items: &[AnomalyItem]) -> Vec<Span> {
    let mut spans = Vec::new();
    for a in items.iter().take(LISTED) {
        spans.push(Span::Plain("• ".into()));
        match &a.link {
            Some(url) => spans.push(Span::Link((url.clone(), a.subject.clone()))),
            None => spans.push(Span::Bold(a.subject.clone())),
        }
        spans.push(Span::Plain(format!(" {} impact, {}, since {}\n", a.impact, a.severity, a.since.format("%b %-d"))));
    }
    if items.len() > LISTED {
        spans.push(Span::Plain(format!("and {} more: /cost anomalies\n", items.len() - LISTED)));
    }
    spans
}

fn hours_left(until: NaiveDateTime, now: NaiveDateTime) -> String {
    let minutes = (until - now).num_minutes().max(0);
    if minutes >= 120 {
        format!("expires in {} h", minutes / 60)
    } else {
        format!("expires in {minutes} min")
    }
}

fn approval_spans(items: &[ApprovalItem], now: NaiveDateTime) -> Vec<Span> {
    let mut spans = Vec::new();
    for p in items.iter().take(LISTED) {
        let saving = p.saving.map_or("saving unknown".to_string(), |m| format!("saves {m}/month"));
        spans.push(Span::Plain("• ".into()));
        spans.push(Span::Bold(p.what.clone()));
        spans.push(Span::Plain(format!(
            " ({saving}), {} of {} approvals, {}\n",
            p.approvals.0,
            p.approvals.1,
            hours_left(p.expires_at, now)
        )));
    }
    if items.len() > LISTED {
        spans.push(Span::Plain(format!("and {} more waiting\n", items.len() - LISTED)));
    }
    spans
}

fn savings_text(s: &Savings) -> String {
    let mut text = if s.actions == 0 {
        "No actions executed this month yet.".to_string()
    } else {
        let unknown = if s.unknown > 0 { format!(" ({} with no known price)", s.unknown) } else { String::new() };
        format!(
            "{}/month from {} executed action{}{unknown}.",
            s.realised,
            s.actions,
            if s.actions == 1 { "" } else { "s" }
        )
    };
    if s.dry_run_actions > 0 {
        text.push_str(&format!(
            " Dry runs: {} approved action{} would save {}/month once dry_run is off.",
            s.dry_run_actions,
            if s.dry_run_actions == 1 { "" } else { "s" },
            s.dry_run
        ));
    }
    text
}

/// The text that stands in for the chart: a sparkline of daily totals and the top services.
pub fn chart_alt(s: &SpendSummary) -> String {
    let known: Vec<Money> = s.chart.totals.iter().flatten().copied().collect();
    if known.is_empty() {
        return "No cost data in the last 30 days.".to_string();
    }
    let (low, high) =
        (known.iter().min().copied().unwrap_or(Money::ZERO), known.iter().max().copied().unwrap_or(Money::ZERO));
    let top: Vec<&str> = s.chart.series.iter().map(|c| c.label.as_str()).filter(|l| *l != "Other").take(3).collect();
    format!("Last 30 days: {} ({low} to {high} a day); biggest: {}", sparkline(&known), top.join(", "))
}

/// Renders a digest.
pub fn digest(v: &DigestView) -> Message {
    let s = &v.summary;
    let title = format!("Daily cost digest, {}", v.date.format("%a %b %-d, %Y"));
    let mut blocks = vec![Block::Header { text: title.clone() }];
    if let Some(due) = &v.late {
        blocks.push(Block::Context {
            spans: vec![Span::Plain(format!("Late: this digest was due {due}; costbot was not running then."))],
        });
    }
    if let Some(scope) = &v.tag_scope {
        blocks.push(Block::Context { spans: vec![Span::Plain(format!("Only {scope}, by account"))] });
    }
    if s.vs_day_before.current.is_none() {
        blocks.push(Block::Text {
            spans: vec![
                Span::Bold(format!("No cost data for {} yet.", day_text(s.day))),
                Span::Plain(
                    " Cost Explorer can be a day behind; the figures below use the days that have data.".into(),
                ),
            ],
        });
    }
    blocks.push(Block::Fields { fields: spend_fields(s) });
    if let Some(table) = movers_block(s, if v.tag_scope.is_some() { "Account" } else { "Service" }) {
        blocks.push(Block::Text { spans: vec![Span::Bold("Top movers".into())] });
        blocks.push(table);
    }
    blocks.push(Block::Divider);
    let open = if v.anomalies.is_empty() { "none".to_string() } else { v.anomalies.len().to_string() };
    let mut spans = vec![Span::Bold(format!("Open anomalies: {open}")), Span::Plain("\n".into())];
    spans.extend(anomaly_spans(&v.anomalies));
    blocks.push(Block::Text { spans });
    let waiting = if v.approvals.is_empty() { "none".to_string() } else { v.approvals.len().to_string() };
    let mut spans = vec![Span::Bold(format!("Waiting for approval: {waiting}")), Span::Plain("\n".into())];
    spans.extend(approval_spans(&v.approvals, v.now));
    blocks.push(Block::Text { spans });
    blocks.extend(super::budget::digest_line(&v.budgets));
    blocks.push(Block::Text {
        spans: vec![
            Span::Bold("Savings realised this month:".into()),
            Span::Plain(format!(" {}", savings_text(&v.savings))),
        ],
    });
    let when = v.collected_at.map_or("never".to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string());
    let estimated = if s.estimated { " · yesterday's figures are estimated by Cost Explorer" } else { "" };
    blocks.push(Block::Context {
        spans: vec![Span::Plain(format!("USD, UTC cost days · last collected {when}{estimated}"))],
    });
    if let Some(head) = &v.audit_head {
        blocks.push(Block::Context {
            spans: vec![
                Span::Plain("Audit log head, a checkpoint for audit verify --head: ".into()),
                Span::Code(head.to_string()),
            ],
        });
    }
    let attachments = v
        .chart_png
        .iter()
        .map(|png| Attachment { name: format!("cost-digest-{}.png", v.date), alt: chart_alt(s), png: png.clone() })
        .collect();
    let yesterday = s.vs_day_before.current.map_or("no data yet".to_string(), |m| m.to_string());
    let tone = if v.anomalies.is_empty() { Tone::Neutral } else { Tone::Warning };
    Message {
        fallback: format!("{title}: yesterday {yesterday}, {} open anomalies", v.anomalies.len()),
        blocks,
        tone,
        attachments,
    }
}

/// A proposal's one-line description for the digest: "stop EC2 instance i-0abc".
pub fn approval_what(p: &crate::domain::proposal::Proposal) -> String {
    let r = &p.finding.resource.reference;
    format!("{} {} {}", p.finding.action.verb(), kind_text(r.kind), r.id)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::digest::{summarize, ServiceDay};
    use chrono::Days;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    /// A digest for Wed Nov 25 2026 with every section filled, posted late.
    pub(crate) fn sample() -> DigestView {
        let day: NaiveDate = "2026-11-24".parse().unwrap();
        let mut matrix = Vec::new();
        for i in 0..60u64 {
            for (service, base) in
                [("Amazon EC2", 120_000i64), ("Amazon RDS", 40_000), ("Amazon S3", 9_000), ("AWS Lambda", 1_500)]
            {
                let bump = if i == 0 && service == "Amazon EC2" { 35_000 } else { 0 };
                let amount = Money::from_cents(base + (i as i64 * 37) % 900 + bump);
                matrix.push(ServiceDay { day: day - Days::new(i), service: service.into(), amount, estimated: i == 0 });
            }
        }
        DigestView {
            date: "2026-11-25".parse().unwrap(),
            summary: summarize(day, &matrix),
            anomalies: vec![AnomalyItem {
                subject: "Amazon EC2 in prod (111111111111)".into(),
                severity: "high".into(),
                impact: m("350"),
                since: "2026-11-24T00:00:00".parse().unwrap(),
                link: Some("https://example.slack.com/archives/C1/p1000000000000002".into()),
            }],
            approvals: vec![ApprovalItem {
                what: "stop EC2 instance i-0abc".into(),
                saving: Some(m("30.37")),
                approvals: (1, 2),
                expires_at: "2026-11-25T20:00:00".parse().unwrap(),
            }],
            savings: Savings { realised: m("49.64"), actions: 1, unknown: 0, dry_run: m("4"), dry_run_actions: 1 },
            late: Some("09:00 Europe/Berlin, Nov 25".into()),
            collected_at: Some("2026-11-25T06:00:00".parse().unwrap()),
            audit_head: Some(crate::domain::audit::Checkpoint { seq: 42, hash: "ab".repeat(32) }),
            now: "2026-11-25T10:30:00".parse().unwrap(),
            chart_png: Some(vec![0x89, b'P', b'N', b'G']),
            tag_scope: None,
            budgets: Vec::new(),
        }
    }

    #[test]
    fn a_tag_scoped_digest_says_its_scope_and_moves_by_account() {
        let mut view = sample();
        view.tag_scope = Some("team = payments".into());
        let message = digest(&view);
        let text = crate::render::text::plain(&message);
        assert!(text.contains("Only team = payments, by account"), "{text}");
        insta::assert_json_snapshot!("digest_tag_scoped", message);
    }

    #[test]
    fn every_section_is_there_and_the_chart_has_a_text_stand_in() {
        let message = digest(&sample());
        let text = crate::render::text::plain(&message);
        for expected in [
            "Yesterday, Tue Nov 24",
            "Top movers",
            "Amazon EC2",
            "Open anomalies: 1",
            "Waiting for approval: 1",
            "1 of 2 approvals, expires in 9 h",
            "$49.64/month from 1 executed action",
            "Late: this digest was due 09:00 Europe/Berlin",
        ] {
            assert!(text.contains(expected), "missing `{expected}` in\n{text}");
        }
        assert_eq!(message.attachments[0].name, "cost-digest-2026-11-25.png");
        assert!(!text.contains("Budgets:"), "no budget, no line");
        let with_budgets = DigestView { budgets: crate::render::budget::tests::sample_rows(), ..sample() };
        let text = crate::render::text::plain(&digest(&with_budgets));
        assert!(text.contains("Budgets: payments 81.2 % of $8,500.00, forecast"), "{text}");
        assert!(message.attachments[0].alt.starts_with("Last 30 days: "));
    }
}
