//! The anomaly alert: what people see in the channel when spend jumps.
//!
//! Every alert says how much money is at stake (the impact), compared with what, since when,
//! and why (the ranked root cause), so nobody has to open the AWS console to triage it.

use chrono::NaiveDateTime;

use super::answer::sparkline;
use super::chart::band_png;
use super::{money_delta, percent_text, short_day};
use crate::domain::anomaly::{Kind, Severity};
use crate::domain::band::{BandDay, BAND_WEEKS};
use crate::domain::chat::message::{ActionRef, Attachment, Block, Button, ButtonStyle, Message, Span, Tone, Verb};
use crate::domain::feedback::{Precision, Verdict, FLOOR_FACTOR};
use crate::domain::incident::{Anomaly, Scope, Status};
use crate::domain::root_cause::Contributor;
use crate::domain::Money;

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
        Scope::Tag { key, value } if value.is_empty() => format!("spend with {}", key.untagged_label()),
        Scope::Tag { key, value } => format!("{} = {value}", key.name),
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
    if let Some(line) = feedback_line(anomaly) {
        blocks.push(Block::Context { spans: vec![Span::Plain(line)] });
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

/// The chart that goes with an alert: the series' last 30 days against the band that was
/// normal before the anomaly, and the text that stands in for it where files are refused.
/// `None` when there is nothing to draw.
pub fn chart(anomaly: &Anomaly, days: &[BandDay], names: &dyn AccountNames) -> anyhow::Result<Option<Attachment>> {
    let subject = subject(anomaly, names);
    // The card names the series; the title stays short enough for the small picture.
    let title = format!("Daily spend, last {} days, against the expected band", days.len());
    let Some(png) = band_png(days, &title)? else { return Ok(None) };
    Ok(Some(Attachment { name: format!("{}.png", anomaly.id), alt: chart_alt(&subject, days), png }))
}

/// "Last 30 days of Amazon EC2 in prod: ▁▁▂▁█ ($12.00 to $480.00 a day); expected $10.00 to
/// $14.00 on Nov 16, the anomaly's first day (p10–p90 of the 8 weeks before)."
fn chart_alt(subject: &str, days: &[BandDay]) -> String {
    let actual: Vec<Money> = days.iter().map(|d| d.actual).collect();
    let low = actual.iter().min().copied().unwrap_or(Money::ZERO);
    let high = actual.iter().max().copied().unwrap_or(Money::ZERO);
    let mut text = format!(
        "Last {} days of {subject}: {} ({} to {} a day)",
        days.len(),
        sparkline(&actual),
        low.round_cents(),
        high.round_cents()
    );
    if let Some(first) = days.iter().find(|d| d.anomalous) {
        text.push_str(&format!(
            "; expected {} to {} on {}, the anomaly's first day (p10–p90 of the {BAND_WEEKS} weeks before)",
            first.low.round_cents(),
            first.high.round_cents(),
            first.day.format("%b %-d")
        ));
    }
    text.push('.');
    text
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
    // One verdict per anomaly: once given, the card shows it instead of asking again.
    if anomaly.feedback.is_none() {
        for (label, verb) in
            [("Expected", Verb::Expected), ("Not an anomaly", Verb::NotAnAnomaly), ("Real", Verb::Real)]
        {
            out.push(Button { label: label.into(), action: action(verb), style: ButtonStyle::Default, confirm: None });
        }
    }
    out
}

/// Who gave the card's verdict, and what it does to detection.
fn feedback_line(anomaly: &Anomaly) -> Option<String> {
    let (mark, verdict) = anomaly.feedback.as_ref()?;
    let when = short_day(mark.at);
    Some(match verdict {
        Verdict::Expected => {
            format!("Marked expected by {} on {when}: this level is normal for this series from now on.", mark.by)
        }
        Verdict::NotAnAnomaly => {
            let floor = Money::from_decimal(anomaly.impact.as_decimal().abs() * FLOOR_FACTOR).round_cents();
            format!(
                "Marked not an anomaly by {} on {when}: alerts on this series now need an impact of at least {floor}.",
                mark.by
            )
        }
        Verdict::Real => format!("Confirmed real by {} on {when}.", mark.by),
    })
}

/// The `/cost anomalies stats` answer: per account, how many alerts the channel called real,
/// not an anomaly and expected over the last `days` days, and the precision that makes.
pub fn feedback_stats(rows: &[Precision], days: u64, names: &dyn AccountNames) -> Message {
    let mut blocks = vec![Block::Header { text: format!("Alert precision from feedback, last {days} days") }];
    if rows.is_empty() {
        blocks.push(Block::Text {
            spans: vec![Span::Plain(
                "No feedback yet. Answer alerts with Expected, Not an anomaly or Real to measure precision.".into(),
            )],
        });
    } else {
        let table = rows
            .iter()
            .map(|r| {
                vec![
                    r.account
                        .as_ref()
                        .map_or("all accounts (totals)".to_string(), |a| label_account(names, a.as_str())),
                    r.percent().map_or("–".to_string(), |p| format!("{}%", p.normalize())),
                    r.real.to_string(),
                    r.not_an_anomaly.to_string(),
                    r.expected.to_string(),
                ]
            })
            .collect();
        blocks.push(Block::Table {
            columns: vec![
                "Account".into(),
                "Precision".into(),
                "Real".into(),
                "Not an anomaly".into(),
                "Expected".into(),
            ],
            right_align: vec![false, true, true, true, true],
            rows: table,
        });
    }
    blocks.push(Block::Context {
        spans: vec![Span::Plain(
            "Precision = real / (real + not an anomaly). Expected (planned) alerts are counted apart.".into(),
        )],
    });
    let judged: u32 = rows.iter().map(|r| r.real + r.not_an_anomaly).sum();
    Message {
        fallback: format!("Alert precision from {judged} judged alerts, last {days} days"),
        blocks,
        tone: Tone::Neutral,
        attachments: Vec::new(),
    }
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
    if let Some((mark, verdict)) = &anomaly.feedback {
        parts.push(format!("{} according to {}", verdict.label(), mark.by));
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
            feedback: None,
        }
    }

    #[test]
    fn an_open_alert_has_impact_cause_and_buttons() {
        let message = alert(&sample(), &names, at("2026-11-18T07:00:00"));
        insta::assert_json_snapshot!("alert_open", message);
        assert!(message.fallback.contains("+$5,055.95"));
    }

    #[test]
    fn a_per_tag_alert_names_the_team_and_ranks_its_accounts() {
        let mut anomaly = sample();
        anomaly.key.scope = Scope::Tag { key: crate::domain::tags::TagKey::tag("team"), value: "payments".into() };
        anomaly.root_cause = vec![Contributor {
            dimension: Dimension::LinkedAccount,
            name: "222222222222".into(),
            increase: Money::parse("5077.84").unwrap(),
            share_percent: "100".parse().unwrap(),
        }];
        let message = alert(&anomaly, &names, at("2026-11-18T07:00:00"));
        assert!(message.fallback.contains("team = payments"), "{}", message.fallback);
        insta::assert_json_snapshot!("alert_tag_payments", message);
        anomaly.key.scope = Scope::Tag { key: crate::domain::tags::TagKey::tag("team"), value: String::new() };
        assert_eq!(subject(&anomaly, &names), "spend with no team tag");
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
    fn a_verdict_shows_who_gave_it_and_what_it_does_and_the_buttons_go() {
        use crate::domain::feedback::Verdict;
        let open = alert(&sample(), &names, at("2026-11-18T07:00:00"));
        let labels = |m: &Message| -> Vec<String> {
            m.blocks
                .iter()
                .flat_map(|b| match b {
                    Block::Actions { buttons } => buttons.iter().map(|b| b.label.clone()).collect(),
                    _ => Vec::new(),
                })
                .collect()
        };
        assert_eq!(labels(&open), ["Acknowledge", "Mute 7 days", "Expected", "Not an anomaly", "Real"]);
        for (verdict, name) in
            [(Verdict::Expected, "expected"), (Verdict::NotAnAnomaly, "not_an_anomaly"), (Verdict::Real, "real")]
        {
            let mut anomaly = sample();
            anomaly.feedback = Some((Mark { by: "person:ana".into(), at: at("2026-11-18T08:00:00") }, verdict));
            let message = alert(&anomaly, &names, at("2026-11-18T09:00:00"));
            assert_eq!(labels(&message), ["Acknowledge", "Mute 7 days"], "{name}");
            insta::assert_json_snapshot!(format!("alert_feedback_{name}"), message);
        }
    }

    #[test]
    fn the_chart_has_alt_text_with_the_trend_and_the_band() {
        use crate::domain::band::expected_band;
        let anomaly = sample();
        let last = anomaly.end.date();
        let daily: Vec<_> = (0..90u64)
            .map(|i| {
                let day = last - chrono::Days::new(i);
                (day, Money::from_cents(if day >= anomaly.start.date() { 360_000 } else { 110_000 }))
            })
            .collect();
        let days = expected_band(&daily, anomaly.start.date(), last, last);
        let attachment = chart(&anomaly, &days, &names).unwrap().expect("a chart");
        assert_eq!(attachment.name, "an-5f0c2a9e41d7b3c8.png");
        assert!(attachment.png.starts_with(&[0x89, b'P', b'N', b'G']));
        insta::assert_snapshot!("alert_chart_alt", attachment.alt);
    }

    #[test]
    fn feedback_stats_show_precision_and_counts_per_account() {
        use crate::domain::feedback::Precision;
        let rows = vec![
            Precision {
                account: Some(AccountId::parse("222222222222").unwrap()),
                real: 3,
                not_an_anomaly: 1,
                expected: 2,
            },
            Precision {
                account: Some(AccountId::parse("333333333333").unwrap()),
                real: 0,
                not_an_anomaly: 0,
                expected: 1,
            },
            Precision { account: None, real: 1, not_an_anomaly: 2, expected: 0 },
        ];
        let message = feedback_stats(&rows, 90, &names);
        insta::assert_json_snapshot!("feedback_stats", message);
        let text = serde_json::to_string(&message).unwrap();
        assert!(text.contains("75%") && text.contains("33.3%") && text.contains("prod (222222222222)"), "{text}");
        let empty = feedback_stats(&[], 90, &names);
        assert!(serde_json::to_string(&empty).unwrap().contains("No feedback yet"));
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
