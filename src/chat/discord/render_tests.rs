//! Snapshot and limit tests for [`super::render::render`].

use serde_json::Value;

use super::render::*;
use crate::domain::chat::message::{ActionRef, Block, Button, ButtonStyle, Confirm, Message, Span, Tone, Verb};

fn button(label: &str, verb: Verb, target: &str, style: ButtonStyle) -> Button {
    Button { label: label.into(), action: ActionRef { verb, target: target.into(), version: 2 }, style, confirm: None }
}

fn alert() -> Message {
    Message {
        fallback: "Amazon EC2 in prod: +$1,234.50 (+220%)".into(),
        tone: Tone::Danger,
        blocks: vec![
            Block::Header { text: "Spend spike: Amazon EC2 in prod (123456789012)".into() },
            Block::Text {
                spans: vec![
                    Span::Bold("+$1,234.50".into()),
                    Span::Plain(" above the usual *weekday* level since Nov 6 (tag team_a > 5).\n".into()),
                    Span::Plain("• Usage type ".into()),
                    Span::Code("BoxUsage:m5.24xlarge".into()),
                    Span::Plain(" +$1,100.00 (89% of the increase)".into()),
                ],
            },
            Block::Fields {
                fields: vec![
                    ("Impact".into(), "+$1,234.50".into()),
                    ("Expected".into(), "$560.00".into()),
                    ("Actual".into(), "$1,794.50".into()),
                    ("Severity".into(), "high".into()),
                ],
            },
            Block::Context {
                spans: vec![Span::Plain("Last collected: 2026-11-07 06:00 UTC · anomaly an-0123abcd v2".into())],
            },
            Block::Actions {
                buttons: vec![
                    button("Acknowledge", Verb::Ack, "an-0123abcd", ButtonStyle::Primary),
                    button("Mute 7 days", Verb::Mute, "an-0123abcd", ButtonStyle::Default),
                ],
            },
        ],
        attachments: Vec::new(),
    }
}

fn approval() -> Message {
    let mut approve = button("Approve", Verb::Approve, "pr-77aa", ButtonStyle::Danger);
    approve.confirm = Some(Confirm {
        title: "Stop i-0abc?".into(),
        text: "Approve will stop instance i-0abc123 (m5.large, idle 14 days) in 123456789012.".into(),
        confirm: "Stop it".into(),
        deny: "Cancel".into(),
    });
    Message {
        fallback: "Proposal: stop idle instance i-0abc123, saves $69.12/month".into(),
        tone: Tone::Warning,
        blocks: vec![
            Block::Header { text: "Proposal: stop idle instance i-0abc123".into() },
            Block::Text {
                spans: vec![
                    Span::Plain("CPU below 2% for 14 days. Saves about ".into()),
                    Span::Bold("$69.12/month".into()),
                ],
            },
            Block::Fields {
                fields: vec![("Account".into(), "prod (123456789012)".into()), ("Region".into(), "eu-west-1".into())],
            },
            Block::Actions {
                buttons: vec![
                    approve,
                    button("Deny", Verb::Deny, "pr-77aa", ButtonStyle::Default),
                    button("Snooze 7 days", Verb::Snooze, "pr-77aa", ButtonStyle::Default),
                ],
            },
        ],
        attachments: Vec::new(),
    }
}

fn table_answer() -> Message {
    Message {
        fallback: "Month to date: $2,345.67".into(),
        tone: Tone::Neutral,
        blocks: vec![
            Block::Header { text: "Month to date (2026-11-01..2026-11-08)".into() },
            Block::Table {
                columns: vec!["Service".into(), "Cost".into()],
                right_align: vec![false, true],
                rows: vec![
                    vec!["Amazon Elastic Compute Cloud - Compute".into(), "$1,794.50".into()],
                    vec!["Amazon RDS".into(), "$417.77".into()],
                    vec!["Amazon S3 `logs`".into(), "$133.40".into()],
                    vec!["Total".into(), "$2,345.67".into()],
                ],
            },
            Block::Context { spans: vec![Span::Plain("Last collected: 2026-11-08 06:00 UTC".into())] },
        ],
        attachments: Vec::new(),
    }
}

fn digest() -> Message {
    Message {
        fallback: "Weekly digest: $8,120.00 (+4%)".into(),
        tone: Tone::Neutral,
        blocks: vec![
            Block::Header { text: "Weekly cost digest".into() },
            Block::Text {
                spans: vec![
                    Span::Plain("Spend this week: ".into()),
                    Span::Bold("$8,120.00".into()),
                    Span::Plain(" (+4% on last week)".into()),
                ],
            },
            Block::Divider,
            Block::Fields {
                fields: vec![("Open anomalies".into(), "2".into()), ("Proposals waiting".into(), "1".into())],
            },
            Block::Divider,
            Block::Header { text: "Top services".into() },
            Block::Table {
                columns: vec!["Service".into(), "Week".into(), "Change".into()],
                right_align: vec![false, true, true],
                rows: vec![
                    vec!["Amazon EC2".into(), "$5,010.00".into(), "+6%".into()],
                    vec!["Amazon RDS".into(), "$2,100.00".into(), "-1%".into()],
                ],
            },
            Block::Text {
                spans: vec![Span::Link(("https://example.com/dash (costs)".into(), "Open the dashboard".into()))],
            },
            Block::Context { spans: vec![Span::Plain("Data up to Nov 8".into())] },
        ],
        attachments: Vec::new(),
    }
}

fn oversized() -> Message {
    let mut blocks = vec![
        Block::Header { text: "Ü".repeat(300) },
        Block::Text { spans: vec![Span::Plain("é😀 ".repeat(2000))] },
        Block::Fields { fields: (0..30).map(|i| (format!("F{i} {}", "n".repeat(300)), "v".repeat(1100))).collect() },
        Block::Table {
            columns: vec!["Name".into(), "Amount".into()],
            right_align: vec![false, true],
            rows: (0..400).map(|i| vec![format!("service-{i}-{}", "x".repeat(60)), format!("${i}.00")]).collect(),
        },
        Block::Context { spans: vec![Span::Plain("c".repeat(3000))] },
    ];
    for i in 0..12 {
        blocks.push(Block::Header { text: format!("Section {i}") });
        blocks.push(Block::Text { spans: vec![Span::Plain(format!("Body {i}"))] });
    }
    for row in 0..7 {
        let buttons = (0..7)
            .map(|i| button(&"L".repeat(100), Verb::Ack, &format!("an-{row}-{i}"), ButtonStyle::Default))
            .collect();
        blocks.push(Block::Actions { buttons });
    }
    Message { fallback: "big".into(), tone: Tone::Warning, blocks, attachments: Vec::new() }
}

fn len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Checks every Discord limit the renderer promises to keep.
fn assert_within_limits(out: &Value) {
    let embeds = out["embeds"].as_array().expect("embeds");
    assert!(embeds.len() <= MAX_EMBEDS);
    let mut total = 0;
    for e in embeds {
        assert!(len(&e["title"]) <= MAX_TITLE);
        assert!(len(&e["description"]) <= MAX_DESCRIPTION);
        assert!(len(&e["footer"]["text"]) <= MAX_FOOTER);
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        assert!(fields.len() <= MAX_FIELDS);
        for f in &fields {
            assert!((1..=MAX_FIELD_NAME).contains(&len(&f["name"])));
            assert!((1..=MAX_FIELD_VALUE).contains(&len(&f["value"])));
            total += len(&f["name"]) + len(&f["value"]);
        }
        total += len(&e["title"]) + len(&e["description"]) + len(&e["footer"]["text"]);
        let fences = e["description"].as_str().unwrap_or("").matches("```").count();
        assert_eq!(fences % 2, 0, "unclosed code block");
    }
    assert!(total <= MAX_EMBED_TOTAL, "{total}");
    assert!(len(&out["content"]) <= MAX_CONTENT);
    let rows = out["components"].as_array().expect("components");
    assert!(rows.len() <= MAX_ROWS);
    for row in rows {
        let buttons = row["components"].as_array().expect("buttons");
        assert!((1..=MAX_BUTTONS_PER_ROW).contains(&buttons.len()));
        for b in buttons {
            assert!((1..=MAX_LABEL).contains(&len(&b["label"])));
            assert!((1..=MAX_CUSTOM_ID).contains(&len(&b["custom_id"])));
            assert!(ActionRef::decode(b["custom_id"].as_str().unwrap_or("")).is_ok());
        }
    }
}

#[test]
fn alert_with_fields_and_ack_mute_buttons() {
    let out = render(&alert());
    assert_within_limits(&out);
    insta::assert_json_snapshot!("alert", out);
}

#[test]
fn approval_card_shows_the_confirmation_text_and_a_danger_button() {
    let out = render(&approval());
    assert_within_limits(&out);
    assert_eq!(out["components"][0]["components"][0]["style"], 4);
    assert!(out["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .contains("⚠ **Approve** — Approve will stop instance i-0abc123"));
    insta::assert_json_snapshot!("approval", out);
}

#[test]
fn table_answer_is_a_code_block() {
    let out = render(&table_answer());
    assert_within_limits(&out);
    insta::assert_json_snapshot!("table", out);
}

#[test]
fn digest_keeps_block_order_across_embeds() {
    let out = render(&digest());
    assert_within_limits(&out);
    insta::assert_json_snapshot!("digest", out);
}

#[test]
fn oversized_message_hits_every_limit_and_stays_valid() {
    let out = render(&oversized());
    assert_within_limits(&out);
    let embeds = out["embeds"].as_array().unwrap();
    assert!(!embeds.is_empty());
    assert_eq!(out["components"].as_array().unwrap().len(), MAX_ROWS);
    assert!(embeds[0]["title"].as_str().unwrap().ends_with('…'));
    let last_footer = embeds.last().unwrap()["footer"]["text"].as_str().unwrap();
    assert!(last_footer.ends_with("… shortened to fit Discord's limits"), "{last_footer}");
    insta::assert_json_snapshot!("oversized", out);
}

#[test]
fn sections_beyond_ten_embeds_fold_into_the_last_one() {
    let blocks = (0..12)
        .flat_map(|i| {
            [
                Block::Header { text: format!("Section {i}") },
                Block::Text { spans: vec![Span::Plain(format!("Body {i}"))] },
            ]
        })
        .collect();
    let out = render(&Message { fallback: "sections".into(), blocks, tone: Tone::Neutral, attachments: Vec::new() });
    assert_within_limits(&out);
    let embeds = out["embeds"].as_array().unwrap();
    assert_eq!(embeds.len(), MAX_EMBEDS);
    assert_eq!(embeds[9]["title"], "Section 9");
    assert_eq!(embeds[9]["description"], "Body 9\n**Section 10**\nBody 10\n**Section 11**\nBody 11");
}

#[test]
fn long_tables_say_how_many_rows_are_missing() {
    let mut message = table_answer();
    if let Block::Table { rows, .. } = &mut message.blocks[1] {
        *rows = (0..500).map(|i| vec![format!("service {i}"), format!("${i}.00")]).collect();
    }
    let out = render(&message);
    assert_within_limits(&out);
    let description = out["embeds"][0]["description"].as_str().unwrap();
    let shown = description.lines().filter(|l| l.starts_with("service ")).count();
    assert!(description.contains(&format!("… {} more rows", 500 - shown)), "{description}");
}

#[test]
fn plain_text_is_escaped_and_truncation_respects_characters() {
    assert_eq!(escape("a*b_c `d` [x](y) <@1>"), "a\\*b\\_c \\`d\\` \\[x\\](y) \\<@1>");
    assert_eq!(escape("- item\n# head\nx-y"), "\\- item\n\\# head\nx-y");
    assert_eq!(truncate("😀😀😀", 2), "😀…");
    assert_eq!(truncate("abc", 3), "abc");
    assert_eq!(truncate("abc", 0), "");
}

#[test]
fn every_size_of_message_stays_within_limits() {
    for n in [0usize, 1, 7, 26, 99, 401] {
        let blocks = (0..n)
            .map(|i| match i % 6 {
                0 => Block::Header { text: "h".repeat(i * 3) },
                1 => Block::Text { spans: vec![Span::Plain("t".repeat(i * 37)), Span::Code("c".repeat(i))] },
                2 => Block::Fields { fields: vec![(String::new(), "v".repeat(i * 11)); i % 30] },
                3 => {
                    Block::Table { columns: vec!["a".into()], right_align: vec![], rows: vec![vec!["r".repeat(i)]; i] }
                }
                4 => Block::Context { spans: vec![Span::Plain("x".repeat(i * 13))] },
                _ => Block::Divider,
            })
            .collect();
        let out = render(&Message { fallback: "f".repeat(n * 10), blocks, tone: Tone::Good, attachments: Vec::new() });
        assert_within_limits(&out);
    }
}
