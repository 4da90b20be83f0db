//! `/cost offhours`: the approved off-hours schedules, their next switch and what they saved.

use chrono::{DateTime, Utc};

use crate::domain::chat::message::{Block, Message, Span, Tone};
use crate::domain::offhours::Switch;
use crate::domain::Money;

/// One approved schedule, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRow {
    /// The schedule's id (its proposal's), for `/cost offhours pause ID`.
    pub id: String,
    /// "paused by person:ana until 2026-12-24", while paused.
    pub paused: Option<String>,
    /// The resource, as people know it (`ec2_instance i-0abc in 123456789012 us-east-1`).
    pub resource: String,
    /// The schedule as written in its tag, canonical (`19:00-07:00 Mon,…,Fri Europe/Berlin`).
    pub schedule: String,
    /// The next switch and when it happens.
    pub next: Option<(DateTime<Utc>, Switch)>,
    /// Hours off times the hourly price since it was approved; `None` when the price is unknown.
    pub saved: Option<Money>,
    /// True when it was approved while dry run was on: its switches are only checked.
    pub dry_run: bool,
}

/// Renders the list of schedules.
pub fn schedules(rows: &[ScheduleRow]) -> Message {
    let mut blocks = vec![Block::Header { text: format!("Off-hours schedules ({})", rows.len()) }];
    if rows.is_empty() {
        blocks.push(Block::Text {
            spans: vec![
                Span::Plain("No approved schedule yet. Tag an instance or database ".into()),
                Span::Code("costbot:offhours = 19:00-07:00 Mon-Fri Europe/Berlin".into()),
                Span::Plain(" and approve the proposal costbot posts.".into()),
            ],
        });
    } else {
        let table = rows
            .iter()
            .map(|r| {
                let next = match (&r.paused, r.next) {
                    (Some(paused), _) => paused.clone(),
                    (None, Some((at, switch))) => format!("{} {}", switch.as_str(), at.format("%a %b %-d %H:%M UTC")),
                    (None, None) => "none within a week".to_string(),
                };
                let saved = match (r.dry_run, r.saved) {
                    (true, _) => "dry run".to_string(),
                    (false, Some(m)) => m.to_string(),
                    (false, None) => "price unknown".to_string(),
                };
                vec![r.id.clone(), r.resource.clone(), r.schedule.clone(), next, saved]
            })
            .collect();
        blocks.push(Block::Table {
            columns: vec!["Id".into(), "Resource".into(), "Schedule".into(), "Next".into(), "Saved so far".into()],
            right_align: vec![false, false, false, false, true],
            rows: table,
        });
        blocks.push(Block::Context {
            spans: vec![Span::Plain(
                "Saved so far: hours off since approval times the hourly price (monthly price / 730). Switches are re-checked first and audited."
                    .into(),
            )],
        });
    }
    Message {
        fallback: format!("{} off-hours schedules", rows.len()),
        blocks,
        tone: Tone::Neutral,
        attachments: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_render_with_next_switch_and_savings() {
        let rows = vec![
            ScheduleRow {
                id: "p-1a2b".into(),
                paused: None,
                resource: "ec2_instance i-0abc in 123456789012 us-east-1".into(),
                schedule: "19:00-07:00 Mon,Tue,Wed,Thu,Fri Europe/Berlin".into(),
                next: Some(("2026-12-07T06:00:00Z".parse().unwrap(), Switch::Start)),
                saved: Some(Money::parse("12.34").unwrap()),
                dry_run: false,
            },
            ScheduleRow {
                id: "p-3c4d".into(),
                paused: Some("paused by person:ana until 2026-12-24".into()),
                resource: "rds_instance reports-dev in 123456789012 us-east-1".into(),
                schedule: "22:00-06:00 Mon,Tue,Wed,Thu,Fri,Sat,Sun UTC".into(),
                next: None,
                saved: None,
                dry_run: true,
            },
        ];
        insta::assert_json_snapshot!("offhours_schedules", schedules(&rows));
        insta::assert_json_snapshot!("offhours_none", schedules(&[]));
    }
}
