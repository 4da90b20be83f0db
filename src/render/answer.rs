//! Answers to `/cost`: spend tables with totals, deltas with arrows, a sparkline of the daily
//! trend, the data's freshness, and the month-end forecast.

use chrono::NaiveDateTime;

use super::{money_delta, percent_text};
use crate::domain::chat::message::{Block, Message, Span, Tone};
use crate::domain::cost::is_credit;
use crate::domain::forecast::{Forecast, HISTORY_DAYS};
use crate::domain::{DateRange, Money};

/// Days of daily totals the sparkline shows at most.
pub const SPARKLINE_DAYS: usize = 62;

/// One line of a spend table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The group's key as stored (a service name, an account id).
    pub key: String,
    /// What the line is (a service, an account name).
    pub label: String,
    /// Spend in the period.
    pub amount: Money,
    /// Spend in the previous period, when comparing.
    pub previous: Option<Money>,
}

/// Everything a spend answer shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendView {
    /// "month to date", "last 7 days".
    pub period_label: String,
    /// The days covered.
    pub range: DateRange,
    /// The previous range, when comparing.
    pub previous_range: Option<DateRange>,
    /// "service", "account"; `None` for a plain total.
    pub group_label: Option<String>,
    /// Filters in words ("service = AWS Lambda"), shown under the title.
    pub filters: Vec<String>,
    /// Table lines, already sorted and cut to `top`.
    pub lines: Vec<Line>,
    /// Groups folded into "other" by `top`, and their total.
    pub other: Option<(usize, Money, Option<Money>)>,
    /// The total of everything.
    pub total: Money,
    /// The previous period's total, when comparing.
    pub previous_total: Option<Money>,
    /// What `compare` set against what, when it is not simply the two whole periods.
    pub comparison_note: Option<String>,
    /// The total of each day (each hour, for the part of today compared hour for hour), oldest
    /// first; the sparkline shows the last [`SPARKLINE_DAYS`].
    pub daily: Vec<(NaiveDateTime, Money)>,
    /// True when any day is estimated.
    pub estimated: bool,
    /// When costs were last collected.
    pub collected_at: Option<NaiveDateTime>,
    /// The same spend by Cost Explorer record type (`Usage`, `Credit`, `Tax`, …), largest
    /// first; empty when not collected or when a service filter makes it inapplicable (record
    /// types are per account).
    pub charges: Vec<(String, Money)>,
    /// For a breakdown by tag over all its values: what untagged spend is called ("no team
    /// tag") and its share of the total in whole percent.
    pub untagged_share: Option<(String, i64)>,
}

/// "Gross $1,200.00 · credits -$200.00 · net $1,000.00 (Usage $1,150.00, Tax $50.00, Credit
/// -$200.00)": gross is every charge, credits every credit and refund
/// ([`crate::domain::cost::is_credit`]), net their sum. `None` without record types.
fn charges_line(charges: &[(String, Money)]) -> Option<String> {
    if charges.is_empty() {
        return None;
    }
    let credits: Money = charges.iter().filter(|(k, _)| is_credit(k)).map(|(_, m)| *m).sum();
    let gross: Money = charges.iter().filter(|(k, _)| !is_credit(k)).map(|(_, m)| *m).sum();
    let parts: Vec<String> = charges.iter().map(|(k, m)| format!("{k} {m}")).collect();
    Some(format!("Gross {gross} · credits {credits} · net {} ({})", gross + credits, parts.join(", ")))
}

/// `▲ +$12.00 (+4.1%)`, `▼ -$3.00 (-1%)`, `= $0.00`.
pub fn delta(current: Money, previous: Money) -> String {
    let change = current - previous;
    let arrow = if change > Money::ZERO {
        "▲"
    } else if change < Money::ZERO {
        "▼"
    } else {
        "="
    };
    if previous.as_decimal().is_zero() {
        return format!("{arrow} {}", money_delta(change));
    }
    let pct = change.as_decimal() * rust_decimal::Decimal::from(100) / previous.as_decimal().abs();
    format!("{arrow} {} ({})", money_delta(change), percent_text(pct))
}

/// A unicode sparkline of values (min to max), for the daily trend. Display only: the floats
/// here never feed back into a sum.
pub fn sparkline(values: &[Money]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let floats: Vec<f64> = values.iter().map(|m| m.as_decimal().try_into().unwrap_or(0.0)).collect();
    let (min, max) = floats.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    floats
        .iter()
        .map(|v| {
            let level = if max > min { ((v - min) / (max - min) * 7.0).round() as usize } else { 3 };
            BARS[level.min(7)]
        })
        .collect()
}

fn freshness(estimated: bool, collected_at: Option<NaiveDateTime>) -> Block {
    let when = collected_at.map_or("never".to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string());
    let mut spans = vec![Span::Plain(format!("Last collected {when}"))];
    if estimated {
        spans.push(Span::Plain(" · includes days Cost Explorer marks estimated".into()));
    }
    Block::Context { spans }
}

/// Renders a spend answer.
pub fn spend(view: &SpendView) -> Message {
    let title = match &view.group_label {
        Some(g) => format!("Spend by {g}, {} ({})", view.period_label, view.range),
        None => format!("Spend, {} ({})", view.period_label, view.range),
    };
    let mut blocks = vec![Block::Header { text: title.clone() }];
    if !view.filters.is_empty() {
        blocks.push(Block::Context { spans: vec![Span::Plain(format!("Only {}", view.filters.join(", ")))] });
    }
    let comparing = view.previous_total.is_some();
    let mut total_spans = vec![Span::Plain("Total ".into()), Span::Bold(view.total.to_string())];
    if let (Some(prev), Some(range)) = (view.previous_total, view.previous_range) {
        total_spans.push(Span::Plain(format!(" · {} vs {} ({range})", delta(view.total, prev), prev)));
    }
    blocks.push(Block::Text { spans: total_spans });
    if let Some(note) = &view.comparison_note {
        blocks.push(Block::Context { spans: vec![Span::Plain(note.clone())] });
    }
    if view.group_label.is_some() && !view.lines.is_empty() {
        blocks.push(table(view, comparing));
    }
    if let Some((label, percent)) = &view.untagged_share {
        blocks.push(Block::Text {
            spans: vec![Span::Bold(format!("{percent} %")), Span::Plain(format!(" of spend has {label}."))],
        });
    }
    if view.daily.len() > 1 {
        let recent: Vec<Money> = view.daily.iter().rev().take(SPARKLINE_DAYS).rev().map(|(_, m)| *m).collect();
        blocks.push(Block::Text { spans: vec![Span::Plain("Daily ".into()), Span::Code(sparkline(&recent))] });
    }
    if view.total.as_decimal().is_zero() && view.lines.is_empty() {
        blocks.push(Block::Text { spans: vec![Span::Plain("No cost data for this period.".into())] });
    }
    if let Some(line) = charges_line(&view.charges) {
        blocks.push(Block::Context { spans: vec![Span::Plain(line)] });
    }
    blocks.push(freshness(view.estimated, view.collected_at));
    Message { fallback: format!("{title}: {}", view.total), blocks, tone: Tone::Neutral, attachments: Vec::new() }
}

fn table(view: &SpendView, comparing: bool) -> Block {
    let heading = view.group_label.as_deref().map(|g| {
        let mut chars = g.chars();
        chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
    });
    let mut columns = vec![heading.unwrap_or_default(), "Cost".into()];
    let mut right_align = vec![false, true];
    if comparing {
        columns.extend(["Before".to_string(), "Change".to_string()]);
        right_align.extend([true, false]);
    }
    let row = |label: String, amount: Money, previous: Option<Money>| {
        let mut cells = vec![label, amount.to_string()];
        if comparing {
            let prev = previous.unwrap_or(Money::ZERO);
            cells.extend([prev.to_string(), delta(amount, prev)]);
        }
        cells
    };
    let mut rows: Vec<Vec<String>> = view.lines.iter().map(|l| row(l.label.clone(), l.amount, l.previous)).collect();
    if let Some((count, amount, previous)) = view.other {
        rows.push(row(format!("{count} more"), amount, previous));
    }
    rows.push(row("Total".into(), view.total, view.previous_total));
    Block::Table { columns, right_align, rows }
}

/// Renders a month-end forecast, or says why there is none.
pub fn forecast(forecast: Option<&Forecast>, filters: &[String], collected_at: Option<NaiveDateTime>) -> Message {
    let Some(f) = forecast else {
        return Message::plain(
            "Not enough history for a forecast yet: costbot needs at least a week of complete days.",
        );
    };
    let title = format!("Month-end forecast ({})", f.month_end.format("%b %-d"));
    let mut blocks = vec![Block::Header { text: title.clone() }];
    if !filters.is_empty() {
        blocks.push(Block::Context { spans: vec![Span::Plain(format!("Only {}", filters.join(", ")))] });
    }
    blocks.push(Block::Text {
        spans: vec![
            Span::Bold(f.projected.to_string()),
            Span::Plain(format!(" projected (likely {} – {})", f.low, f.high)),
        ],
    });
    blocks.push(Block::Fields {
        fields: vec![
            ("Spent so far".into(), f.actual.to_string()),
            ("Days left".into(), f.days_left.to_string()),
            ("Still to come".into(), (f.projected - f.actual).to_string()),
        ],
    });
    blocks.push(Block::Context {
        spans: vec![Span::Plain(format!(
            "How: complete days so far, plus the median weekday or weekend day of the last {HISTORY_DAYS} days for each day left; the range uses the 20th and 80th percentile days. Computed from costbot's store, no AWS call."
        ))],
    });
    blocks.push(freshness(false, collected_at));
    Message { fallback: format!("{title}: {}", f.projected), blocks, tone: Tone::Neutral, attachments: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn deltas_have_arrows_and_percentages() {
        assert_eq!(delta(m("110"), m("100")), "▲ +$10.00 (+10%)");
        assert_eq!(delta(m("90"), m("100")), "▼ -$10.00 (-10%)");
        assert_eq!(delta(m("5"), m("0")), "▲ +$5.00");
        assert_eq!(delta(m("0"), m("0")), "= +$0.00");
    }

    #[test]
    fn sparklines_span_the_range() {
        assert_eq!(sparkline(&[m("1"), m("5"), m("9")]), "▁▅█");
        assert_eq!(sparkline(&[m("3"), m("3")]), "▄▄");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn a_compared_breakdown_renders() {
        let range = DateRange::new("2026-11-01".parse().unwrap(), "2026-11-26".parse().unwrap()).unwrap();
        let previous = DateRange::new("2026-10-01".parse().unwrap(), "2026-10-26".parse().unwrap()).unwrap();
        let view = SpendView {
            period_label: "month to date".into(),
            range,
            previous_range: Some(previous),
            group_label: Some("service".into()),
            filters: vec!["account = prod (222222222222)".into()],
            lines: vec![
                Line {
                    key: "Amazon Elastic Compute Cloud - Compute".into(),
                    label: "Amazon Elastic Compute Cloud - Compute".into(),
                    amount: m("20500.1"),
                    previous: Some(m("18000")),
                },
                Line {
                    key: "Amazon Relational Database Service".into(),
                    label: "Amazon Relational Database Service".into(),
                    amount: m("10250.55"),
                    previous: Some(m("10400")),
                },
            ],
            other: Some((6, m("3100.25"), Some(m("2950")))),
            total: m("33850.9"),
            previous_total: Some(m("31350")),
            comparison_note: Some("Whole days only: 2026-11-01..2026-11-25 against 2026-10-01..2026-10-25.".into()),
            daily: ["1200", "1300", "900", "1400"]
                .iter()
                .enumerate()
                .map(|(day, amount)| {
                    (range.start().and_hms_opt(0, 0, 0).unwrap() + chrono::Days::new(day as u64), m(amount))
                })
                .collect(),
            estimated: true,
            collected_at: Some("2026-11-25T10:05:00".parse().unwrap()),
            charges: vec![("Usage".into(), m("33500.9")), ("Tax".into(), m("650")), ("Credit".into(), m("-300"))],
            untagged_share: None,
        };
        let message = spend(&view);
        let text = serde_json::to_string(&message).unwrap();
        assert!(text.contains("Gross $34,150.90 · credits -$300.00 · net $33,850.90"), "{text}");
        insta::assert_json_snapshot!("spend_by_service_compare", message);
    }

    #[test]
    fn a_breakdown_by_tag_shows_untagged_spend_as_a_row_with_its_share() {
        let range = DateRange::new("2026-11-01".parse().unwrap(), "2026-11-26".parse().unwrap()).unwrap();
        let line = |label: &str, amount: &str| Line {
            key: label.into(),
            label: label.into(),
            amount: m(amount),
            previous: None,
        };
        let view = SpendView {
            period_label: "month to date".into(),
            range,
            previous_range: None,
            group_label: Some("team".into()),
            filters: vec![],
            lines: vec![line("payments", "5200"), line("search", "3600"), line("(no team tag)", "1200")],
            other: None,
            total: m("10000"),
            previous_total: None,
            comparison_note: None,
            daily: vec![
                ("2026-11-01T00:00:00".parse().unwrap(), m("400")),
                ("2026-11-02T00:00:00".parse().unwrap(), m("420")),
            ],
            estimated: false,
            collected_at: Some("2026-11-25T10:05:00".parse().unwrap()),
            charges: vec![],
            untagged_share: Some(("no team tag".into(), 12)),
        };
        let message = spend(&view);
        let text = crate::render::text::plain(&message);
        assert!(text.contains("12 % of spend has no team tag."), "{text}");
        insta::assert_json_snapshot!("spend_by_tag_team", message);
    }
}
