//! The anomaly alert: what people see in the channel when spend jumps.
//!
//! Every alert says how much money is at stake (the impact), compared with what, since when,
//! and why (the ranked root cause), so nobody has to open the AWS console to triage it.

use chrono::NaiveDateTime;

use super::{money_delta, percent_text, short_day};
use crate::domain::anomaly::{Kind, Severity};
use crate::domain::chat::message::{ActionRef, Block, Button, ButtonStyle, Message, Span, Tone, Verb};
use crate::domain::incident::{Anomaly, Scope, Status};
use crate::domain::root_cause::Contributor;

/// How many root-cause lines an alert shows.
const CAUSES_SHOWN: usize = 3;

/// Names the alert uses for the accounts involved.
pub trait AccountNames {
    /// A person-friendly name for an account id, if one is configured.
    fn name(&self, account: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> AccountNames for F {
    fn name(&self, account: &str) -> Option<String> {
        self(account)
    }
}

fn label_account(names: &dyn AccountNames, account: &str) -> String {
    match names.name(account) {
        Some(name) => format!("{name} ({account})"),
        None => account.to_string(),
    }
}

/// What the anomaly is on, in words: "Amazon EC2 in prod (1234…)", "prod (1234…)", "all accounts".
pub fn subject(anomaly: &Anomaly, names: &dyn AccountNames) -> String {
    match &anomaly.key.scope {
        Scope::Organisation => "all accounts".to_string(),
        Scope::Account { account } => label_account(names, account.as_str()),
        Scope::Service { account, service } => format!("{service} in {}", label_account(names, account.as_str())),
    }
}

fn kind_text(kind: Kind) -> &'static str {
    match kind {
        Kind::Spike => "spike",
        Kind::LevelShift => "level shift",
        Kind::NewSpend => "new spend",
        Kind::Drop => "drop",
    }
}

fn severity_text(severity: Severity) -> &'static str {
    match severity {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

fn tone(anomaly: &Anomaly) -> Tone {
    match (anomaly.status, anomaly.severity) {
        (Status::Resolved, _) => Tone::Good,
        (_, Severity::High | Severity::Critical) => Tone::Danger,
        _ => Tone::Warning,
    }
}

fn cause_line(c: &Contributor) -> Vec<Span> {
    vec![
        Span::Plain(format!("• {} ", c.dimension.label())),
        Span::Code(c.name.clone()),
        Span::Plain(format!(" {} ({}% of the increase)\n", money_delta(c.increase), c.share_percent.round_dp(0))),
    ]
}

/// Renders an anomaly as an alert. Resolved anomalies lose their buttons; acknowledgements and
/// mutes are shown with who did them.
pub fn alert(anomaly: &Anomaly, names: &dyn AccountNames, now: NaiveDateTime) -> Message {
    let subject = subject(anomaly, names);
    let header = match anomaly.status {
        Status::Open => format!("Cost {}: {subject}", kind_text(anomaly.kind)),
        Status::Resolved => format!("Resolved: {} on {subject}", kind_text(anomaly.kind)),
    };
    let change = if anomaly.kind == Kind::NewSpend { "new spend".to_string() } else { percent_text(anomaly.percent) };
    let mut blocks = vec![
        Block::Header { text: header.clone() },
        Block::Text {
            spans: vec![
                Span::Bold(money_delta(anomaly.impact)),
                Span::Plain(format!(
                    " vs expected since {} ({} actual, {} expected, {change})",
                    short_day(anomaly.start),
                    anomaly.actual,
                    anomaly.expected
                )),
            ],
        },
        Block::Fields {
            fields: vec![
                ("Severity".into(), severity_text(anomaly.severity).into()),
                ("Kind".into(), kind_text(anomaly.kind).into()),
                ("Period".into(), period_text(anomaly)),
                ("Status".into(), status_text(anomaly, now)),
            ],
        },
    ];
    if anomaly.root_cause.is_empty() {
        blocks.push(Block::Text { spans: vec![Span::Plain("Root cause: not available yet.".into())] });
    } else {
        // Whitespace stays outside bold spans: Markdown does not close `**…**` after a space.
        let mut spans = vec![Span::Bold("Top causes".into()), Span::Plain("\n".into())];
        spans.extend(anomaly.root_cause.iter().take(CAUSES_SHOWN).flat_map(cause_line));
        blocks.push(Block::Text { spans });
    }
    let mut context = vec![Span::Plain(format!("{} · v{}", anomaly.id, anomaly.version))];
    if anomaly.provisional {
        context.push(Span::Plain(" · based on estimated data, may still change".into()));
    }
    blocks.push(Block::Context { spans: context });
    if anomaly.status == Status::Open {
        blocks.push(Block::Actions { buttons: buttons(anomaly) });
    }
    let fallback = format!("{header}: {} vs expected since {}", money_delta(anomaly.impact), short_day(anomaly.start));
    Message { fallback, blocks, tone: tone(anomaly), attachments: Vec::new() }
}

fn buttons(anomaly: &Anomaly) -> Vec<Button> {
    let action = |verb| ActionRef { verb, target: anomaly.id.0.clone(), version: anomaly.version };
    let mut out = Vec::new();
    if anomaly.acknowledged.is_none() {
        out.push(Button {
            label: "Acknowledge".into(),
            action: action(Verb::Ack),
            style: ButtonStyle::Primary,
            confirm: None,
        });
    }
    out.push(Button {
        label: "Mute 7 days".into(),
        action: action(Verb::Mute),
        style: ButtonStyle::Default,
        confirm: None,
    });
    out
}

fn period_text(anomaly: &Anomaly) -> String {
    let (start, end) = (short_day(anomaly.start), short_day(anomaly.end));
    let ongoing = if anomaly.status == Status::Open { ", ongoing" } else { "" };
    if start == end {
        format!("{start}{ongoing}")
    } else {
        format!("{start} – {end}{ongoing}")
    }
}

fn status_text(anomaly: &Anomaly, now: NaiveDateTime) -> String {
    let mut parts = vec![match anomaly.status {
        Status::Open => "open".to_string(),
        Status::Resolved => format!("resolved {}", anomaly.resolved_at.map(short_day).unwrap_or_default()),
    }];
    if let Some(ack) = &anomaly.acknowledged {
        parts.push(format!("acknowledged by {}", ack.by));
    }
    if let (Some((mark, until)), true) = (&anomaly.muted_until, anomaly.is_muted(now)) {
        parts.push(format!("muted by {} until {}", mark.by, short_day(*until)));
    }
    parts.join(", ")
}

/// The `/cost anomalies` answer: the open anomalies a channel may see, newest first, as a table
/// of subject, impact and start; a sentence when there are none.
pub fn open_anomalies(anomalies: &[Anomaly], names: &dyn AccountNames) -> Message {
    let rows: Vec<Vec<String>> =
        anomalies.iter().map(|a| vec![subject(a, names), money_delta(a.impact), short_day(a.start)]).collect();
    let mut blocks = vec![Block::Header { text: format!("Open anomalies ({})", rows.len()) }];
    if rows.is_empty() {
        blocks.push(Block::Text { spans: vec![Span::Plain("Nothing unusual right now.".into())] });
    } else {
        blocks.push(Block::Table {
            columns: vec!["On".into(), "Impact".into(), "Since".into()],
            right_align: vec![false, true, false],
            rows,
        });
    }
    Message {
        fallback: format!("{} open anomalies", anomalies.len()),
        blocks,
        tone: Tone::Neutral,
        attachments: Vec::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::incident::{AnomalyId, Mark, SeriesKey};
    use crate::domain::root_cause::Dimension;
    use crate::domain::{AccountId, Granularity, Money, ServiceName};

    fn at(s: &str) -> NaiveDateTime {
        s.parse().unwrap()
    }

    fn names(account: &str) -> Option<String> {
        (account == "222222222222").then(|| "prod".to_string())
    }

    /// An EC2 spike like the demo's, with a root cause.
    pub(crate) fn sample() -> Anomaly {
        Anomaly {
            id: AnomalyId("an-5f0c2a9e41d7b3c8".into()),
            key: SeriesKey {
                granularity: Granularity::Daily,
                scope: Scope::Service {
                    account: AccountId::parse("222222222222").unwrap(),
                    service: ServiceName::parse("Amazon Elastic Compute Cloud - Compute").unwrap(),
                },
            },
            status: Status::Open,
            version: 2,
            kind: Kind::Spike,
            severity: Severity::Critical,
            start: at("2026-11-16T00:00:00"),
            end: at("2026-11-17T00:00:00"),
            expected: Money::parse("2294.66").unwrap(),
            actual: Money::parse("7350.6112").unwrap(),
            impact: Money::parse("5055.9512").unwrap(),
            percent: "220.34".parse().unwrap(),
            score: 41.5,
            provisional: true,
            root_cause: vec![
                Contributor {
                    dimension: Dimension::UsageType,
                    name: "USE1-BoxUsage:p4d.24xlarge".into(),
                    increase: Money::parse("5077.84").unwrap(),
                    share_percent: "95.87".parse().unwrap(),
                },
                Contributor {
                    dimension: Dimension::UsageType,
                    name: "USE1-BoxUsage:m5.xlarge".into(),
                    increase: Money::parse("170.06").unwrap(),
                    share_percent: "3.21".parse().unwrap(),
                },
                Contributor {
                    dimension: Dimension::Region,
                    name: "us-east-1".into(),
                    increase: Money::parse("5247.9").unwrap(),
                    share_percent: "100".parse().unwrap(),
                },
            ],
            opened_at: at("2026-11-17T06:00:00"),
            updated_at: at("2026-11-18T06:00:00"),
            resolved_at: None,
            acknowledged: None,
            muted_until: None,
        }
    }

    #[test]
    fn an_open_alert_has_impact_cause_and_buttons() {
        let message = alert(&sample(), &names, at("2026-11-18T07:00:00"));
        insta::assert_json_snapshot!("alert_open", message);
        assert!(message.fallback.contains("+$5,055.95"));
    }

    #[test]
    fn a_resolved_acknowledged_alert_has_no_buttons() {
        let mut anomaly = sample();
        anomaly.status = Status::Resolved;
        anomaly.resolved_at = Some(at("2026-11-19T06:00:00"));
        anomaly.acknowledged = Some(Mark { by: "<@U024BE7LH>".into(), at: at("2026-11-18T08:00:00") });
        anomaly.provisional = false;
        let message = alert(&anomaly, &names, at("2026-11-19T07:00:00"));
        assert!(!message.blocks.iter().any(|b| matches!(b, Block::Actions { .. })));
        insta::assert_json_snapshot!("alert_resolved", message);
    }

    #[test]
    fn new_spend_says_so_instead_of_a_clamped_percentage() {
        let mut anomaly = sample();
        anomaly.kind = Kind::NewSpend;
        anomaly.percent = "10000".parse().unwrap();
        anomaly.root_cause.clear();
        let message = alert(&anomaly, &|_: &str| None, at("2026-11-18T07:00:00"));
        let text = serde_json::to_string(&message).unwrap();
        assert!(text.contains("new spend") && !text.contains("10000") && text.contains("not available yet"), "{text}");
    }

    #[test]
    fn the_open_anomalies_table_lists_subject_impact_and_start() {
        let message = open_anomalies(&[sample()], &names);
        insta::assert_json_snapshot!("open_anomalies", message);
        let empty = open_anomalies(&[], &names);
        assert_eq!(empty.fallback, "0 open anomalies");
        assert!(serde_json::to_string(&empty).unwrap().contains("Nothing unusual right now."));
    }
}
