//! Budgets in chat: `/cost budget` (every budget, or one in detail), the alert when a
//! threshold is reached or the forecast passes the amount, and the digest's budgets line.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::domain::budget::{AlertKind, BudgetName, BudgetStatus};
use crate::domain::chat::message::{Block, Message, Span, Tone};
use crate::domain::forecast::HISTORY_DAYS;
use crate::domain::Money;

/// One budget as a channel sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetRow {
    /// The budget.
    pub name: BudgetName,
    /// Its scope in words ("account = payments (111111111111)"); empty: every account.
    pub scope: Vec<String>,
    /// The monthly amount in force.
    pub amount: Money,
    /// Where the amount comes from when an approver set it ("set by person:ana on Dec 2;
    /// the configuration says $10,000.00"); `None` when it is the configuration's.
    pub amount_note: Option<String>,
    /// How it stands, or why that cannot be said now (its scope names an account or service
    /// the store does not know yet).
    pub status: Result<BudgetStatus, String>,
    /// Alerts that fired this month, in words ("80 % on Dec 20").
    pub fired: Vec<String>,
}

/// "85 %", "112.5 %".
fn percent(p: Decimal) -> String {
    format!("{} %", p.normalize())
}

fn day(d: NaiveDate) -> String {
    d.format("%b %-d").to_string()
}

fn month(d: NaiveDate) -> String {
    d.format("%B %Y").to_string()
}

fn scope_text(scope: &[String]) -> String {
    if scope.is_empty() {
        "All accounts".to_string()
    } else {
        format!("Only {}", scope.join(", "))
    }
}

/// "Dec 24", "already passed", "not this month" (or "no forecast yet").
fn crossing_text(s: &BudgetStatus) -> String {
    match (&s.forecast, s.crossing) {
        _ if s.actual >= s.amount => "already passed".to_string(),
        (_, Some(d)) => day(d),
        (Some(_), None) => "not this month".to_string(),
        (None, None) => "no forecast yet".to_string(),
    }
}

fn forecast_text(s: &BudgetStatus) -> String {
    match (&s.forecast, s.forecast_percent()) {
        (Some(f), Some(p)) => format!("{} ({})", f.projected, percent(p)),
        _ => "not enough history".to_string(),
    }
}

fn burn_text(s: &BudgetStatus) -> String {
    s.burn_rate.map_or("from tomorrow".to_string(), |b| format!("{b} a day"))
}

fn tone(s: &BudgetStatus) -> Tone {
    if s.actual >= s.amount {
        Tone::Danger
    } else if s.forecast_breach() || !s.crossed.is_empty() {
        Tone::Warning
    } else {
        Tone::Neutral
    }
}

const HOW: &str = "Spent: this month so far, today's estimated part included. Per day: the average complete day. Forecast: complete days plus, for each day left, the median weekday or weekend day of the last";

fn how() -> Block {
    Block::Context {
        spans: vec![Span::Plain(format!("{HOW} {HISTORY_DAYS} days. From costbot's store, no AWS call."))],
    }
}

/// `/cost budget`: every budget the channel may see, or the one asked for in detail.
pub fn budgets(rows: &[BudgetRow], asked: Option<&BudgetName>) -> Message {
    match (rows, asked) {
        ([row], Some(_)) => one(row),
        ([], Some(name)) => Message::plain(format!("No budget `{name}` in this channel; `/cost budget` lists them.")),
        _ => table(rows),
    }
}

fn table(rows: &[BudgetRow]) -> Message {
    let title = format!("Budgets ({})", rows.len());
    let mut blocks = vec![Block::Header { text: title.clone() }];
    if rows.is_empty() {
        blocks.push(Block::Text {
            spans: vec![
                Span::Plain("No budget covers this channel's spend. Add one with a ".into()),
                Span::Code("[[budgets]]".into()),
                Span::Plain(" section in the configuration.".into()),
            ],
        });
        return Message { fallback: title, blocks, tone: Tone::Neutral, attachments: Vec::new() };
    }
    let cells = rows
        .iter()
        .map(|r| match &r.status {
            Ok(s) => vec![
                r.name.to_string(),
                s.actual.to_string(),
                r.amount.to_string(),
                percent(s.used_percent),
                s.burn_rate.map_or("–".to_string(), |b| b.to_string()),
                forecast_text(s),
                crossing_text(s),
            ],
            Err(why) => {
                vec![
                    r.name.to_string(),
                    "–".into(),
                    r.amount.to_string(),
                    "–".into(),
                    "–".into(),
                    why.clone(),
                    "–".into(),
                ]
            }
        })
        .collect();
    blocks.push(Block::Table {
        columns: ["Budget", "Spent", "Amount", "Used", "Per day", "Forecast", "Crosses"].map(String::from).to_vec(),
        right_align: vec![false, true, true, true, true, true, false],
        rows: cells,
    });
    blocks.push(how());
    let worst = rows.iter().filter_map(|r| r.status.as_ref().ok()).map(tone).max_by_key(|t| *t as u8);
    Message { fallback: title, blocks, tone: worst.unwrap_or_default(), attachments: Vec::new() }
}

fn one(row: &BudgetRow) -> Message {
    let s = match &row.status {
        Ok(s) => s,
        Err(why) => return Message::plain(format!("Budget `{}` cannot be worked out now: {why}", row.name)),
    };
    let title = format!("Budget {}: {}", row.name, month(s.month));
    let mut blocks = vec![
        Block::Header { text: title.clone() },
        Block::Context { spans: vec![Span::Plain(scope_text(&row.scope))] },
        Block::Text {
            spans: vec![
                Span::Bold(format!("{} of {} ({})", s.actual, row.amount, percent(s.used_percent))),
                Span::Plain(" spent so far".into()),
            ],
        },
    ];
    let thresholds = s
        .thresholds
        .iter()
        .map(|t| if s.crossed.contains(t) { format!("{t} % reached") } else { format!("{t} %") })
        .collect::<Vec<_>>()
        .join(" · ");
    let mut fields = vec![
        ("Burn rate".to_string(), burn_text(s)),
        ("Month-end forecast".to_string(), forecast_text(s)),
        ("Crosses the budget".to_string(), crossing_text(s)),
        ("Thresholds".to_string(), thresholds),
    ];
    if let Some(f) = &s.forecast {
        fields.push(("Forecast range".to_string(), format!("{} – {}", f.low, f.high)));
    }
    fields.push((
        "Alerts this month".to_string(),
        if row.fired.is_empty() { "none".to_string() } else { row.fired.join(", ") },
    ));
    blocks.push(Block::Fields { fields });
    if let Some(note) = &row.amount_note {
        blocks.push(Block::Context { spans: vec![Span::Plain(format!("Amount {note}."))] });
    }
    blocks.push(how());
    Message {
        fallback: format!("{title}: {} of {}", s.actual, row.amount),
        blocks,
        tone: tone(s),
        attachments: Vec::new(),
    }
}

/// The alert a budget sends when `kind` fires.
pub fn alert(row: &BudgetRow, status: &BudgetStatus, kind: &AlertKind) -> Message {
    let s = status;
    let (title, lead) = match kind {
        AlertKind::Threshold(t) => (
            format!("Budget {}: {t} % reached", row.name),
            format!(
                "{} of {} spent in {} so far ({}), {}.",
                s.actual,
                s.amount,
                s.month.format("%B"),
                percent(s.used_percent),
                burn_text(s)
            ),
        ),
        AlertKind::Forecast => (
            format!("Budget {}: forecast over budget", row.name),
            format!(
                "The month-end forecast is {}, {} of the {} budget; {} spent so far ({}).",
                s.forecast.as_ref().map_or(Money::ZERO, |f| f.projected),
                s.forecast_percent().map_or("–".to_string(), percent),
                s.amount,
                s.actual,
                percent(s.used_percent)
            ),
        ),
    };
    let mut spans = vec![Span::Plain(lead)];
    match (s.crossing, &s.forecast) {
        (Some(d), _) => {
            // The space stays outside the bold span: Discord does not embolden `** text**`.
            spans.push(Span::Plain(" ".into()));
            spans.push(Span::Bold(format!("At this pace it passes the budget on {}.", day(d))));
        }
        (None, Some(_)) if s.actual < s.amount => {
            spans.push(Span::Plain(format!(" Forecast for the month: {}.", forecast_text(s))))
        }
        _ => {}
    }
    let blocks = vec![
        Block::Header { text: title.clone() },
        Block::Text { spans },
        Block::Context {
            spans: vec![
                Span::Plain(format!("{}. Details: ", scope_text(&row.scope))),
                Span::Code(format!("/cost budget {}", row.name)),
            ],
        },
    ];
    let tone = if matches!(kind, AlertKind::Threshold(t) if *t >= 100) { Tone::Danger } else { Tone::Warning };
    Message { fallback: title, blocks, tone, attachments: Vec::new() }
}

/// The digest's budgets line; `None` when no budget covers the channel.
pub fn digest_line(rows: &[BudgetRow]) -> Option<Block> {
    if rows.is_empty() {
        return None;
    }
    let parts: Vec<String> = rows
        .iter()
        .map(|r| match &r.status {
            Ok(s) => {
                let forecast = match (s.forecast_percent(), s.crossing) {
                    (Some(p), Some(d)) => format!(", forecast {} (crosses {})", percent(p), day(d)),
                    (Some(p), None) => format!(", forecast {}", percent(p)),
                    (None, _) => String::new(),
                };
                format!("{} {} of {}{forecast}", r.name, percent(s.used_percent), r.amount)
            }
            Err(_) => format!("{} cannot be worked out now", r.name),
        })
        .collect();
    Some(Block::Text { spans: vec![Span::Bold("Budgets:".into()), Span::Plain(format!(" {}", parts.join(" · ")))] })
}

#[cfg(test)]
#[path = "budget_tests.rs"]
pub(crate) mod tests;
