//! Block Kit rendering: snapshots of representative messages (reviewed by eye) and
//! property-style loops showing that no input, however long or multi-byte, panics or breaks a
//! Slack limit.

use costbot::chat::slack::render;
use costbot::domain::chat::message::{ActionRef, Block, Button, ButtonStyle, Confirm, Message, Span, Tone, Verb};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

fn rendered(message: &Message) -> Value {
    json!({ "text": render::fallback_text(message), "blocks": render::blocks(message) })
}

fn button(label: &str, verb: Verb, target: &str, style: ButtonStyle, confirm: Option<Confirm>) -> Button {
    Button { label: label.into(), action: ActionRef { verb, target: target.into(), version: 1 }, style, confirm }
}

fn fields(pairs: &[(&str, &str)]) -> Block {
    Block::Fields { fields: pairs.iter().map(|(l, v)| (l.to_string(), v.to_string())).collect() }
}

#[test]
fn alert_with_fields_and_an_ack_button() {
    let message = Message {
        fallback: "High anomaly: Amazon EC2 in prod-payments is up 312% ($1,204.50 vs $292.10 expected)".into(),
        tone: Tone::Danger,
        blocks: vec![
            Block::Header { text: "🔴 Spend anomaly: Amazon EC2".into() },
            Block::Text {
                spans: vec![
                    Span::Bold("Amazon EC2".into()),
                    Span::Plain(" in ".into()),
                    Span::Code("123456789012".into()),
                    Span::Plain(" cost 312% more than expected on 2024-09-14.".into()),
                ],
            },
            fields(&[
                ("Actual", "$1,204.50"),
                ("Expected", "$292.10"),
                ("Severity", "high"),
                ("Account", "prod-payments (simulated)"),
            ]),
            Block::Context {
                spans: vec![
                    Span::Plain("Data as of 2024-09-15 06:00 UTC · estimated · ".into()),
                    Span::Link(("https://console.aws.amazon.com/cost-management/home".into(), "Cost Explorer".into())),
                ],
            },
            Block::Actions {
                buttons: vec![
                    button("Acknowledge", Verb::Ack, "an-42", ButtonStyle::Primary, None),
                    button("Mute 7 days", Verb::Mute, "an-42", ButtonStyle::Default, None),
                ],
            },
        ],
        attachments: Vec::new(),
    };
    insta::assert_json_snapshot!("alert", rendered(&message));
}

#[test]
fn approval_card_with_a_confirmed_danger_button() {
    let confirm = Confirm {
        title: "Stop i-0abc123?".into(),
        text: "This stops the instance in prod-payments. Its EBS volumes are kept.".into(),
        confirm: "Stop it".into(),
        deny: "Cancel".into(),
    };
    let message = Message {
        fallback: "Approval needed: stop idle instance i-0abc123 (saves ~$61.20/month)".into(),
        tone: Tone::Warning,
        blocks: vec![
            Block::Header { text: "Approval needed: stop an idle instance".into() },
            Block::Text {
                spans: vec![
                    Span::Code("i-0abc123".into()),
                    Span::Plain(" has averaged <2% CPU for 14 days & nobody owns it.".into()),
                ],
            },
            fields(&[("Saves", "~$61.20/month"), ("Proposed by", "costbot"), ("Version", "1")]),
            Block::Actions {
                buttons: vec![
                    button("Approve", Verb::Approve, "pr-0123abcd", ButtonStyle::Danger, Some(confirm)),
                    button("Deny", Verb::Deny, "pr-0123abcd", ButtonStyle::Default, None),
                    button("Snooze 7 days", Verb::Snooze, "pr-0123abcd", ButtonStyle::Default, None),
                ],
            },
        ],
        attachments: Vec::new(),
    };
    insta::assert_json_snapshot!("approval_card", rendered(&message));
}

fn cost_table(rows: usize) -> Block {
    Block::Table {
        columns: vec!["Service".into(), "Yesterday".into(), "Change".into()],
        right_align: vec![false, true, true],
        rows: (0..rows)
            .map(|i| {
                vec![format!("Service <{i}>"), format!("${}.{:02}", 1000 - i, i % 100), format!("{:+}%", i as i64 - 5)]
            })
            .collect(),
    }
}

#[test]
fn table_answer() {
    let message = Message {
        fallback: "Top services yesterday".into(),
        tone: Tone::Neutral,
        blocks: vec![Block::Text { spans: vec![Span::Bold("Top services yesterday".into())] }, cost_table(5)],
        attachments: Vec::new(),
    };
    insta::assert_json_snapshot!("table_answer", rendered(&message));
}

#[test]
fn digest() {
    let message = Message {
        fallback: "Weekly digest: $8,412.77 (+4.1%)".into(),
        tone: Tone::Neutral,
        blocks: vec![
            Block::Header { text: "Weekly cost digest · 2024-09-09 → 2024-09-15".into() },
            fields(&[
                ("Total", "$8,412.77"),
                ("vs last week", "+4.1%"),
                ("Forecast (month)", "$36,100"),
                ("Open anomalies", "2"),
            ]),
            Block::Divider,
            Block::Text { spans: vec![Span::Bold("Biggest movers".into())] },
            cost_table(3),
            Block::Divider,
            Block::Context {
                spans: vec![
                    Span::Plain("Amounts are unblended, in USD. ".into()),
                    Span::Link(("https://costbot.example.com/digest/2024-37".into(), "Full digest".into())),
                ],
            },
        ],
        attachments: Vec::new(),
    };
    insta::assert_json_snapshot!("digest", rendered(&message));
}

fn oversized() -> Message {
    let long_confirm = Confirm {
        title: "T".repeat(150),
        text: "é".repeat(400),
        confirm: "Yes, really do it now please".repeat(2),
        deny: "No".repeat(20),
    };
    let mut blocks = vec![
        Block::Header { text: "H".repeat(200) },
        Block::Text { spans: vec![Span::Plain("ü<&>".repeat(1000))] },
        Block::Fields {
            fields: (0..23)
                .map(|i| (format!("Label {i}"), if i == 0 { "v".repeat(2500) } else { format!("value {i}") }))
                .collect(),
        },
        cost_table(500),
        Block::Actions {
            buttons: (0..30)
                .map(|i| {
                    button(
                        &format!("{i} {}", "B".repeat(90)),
                        Verb::Approve,
                        &format!("pr-{i}"),
                        ButtonStyle::Danger,
                        (i == 0).then(|| long_confirm.clone()),
                    )
                })
                .collect(),
        },
    ];
    blocks.extend((0..60).map(|_| Block::Divider));
    Message { fallback: "F".repeat(5000), blocks, tone: Tone::Danger, attachments: Vec::new() }
}

#[test]
fn oversized_message_hits_every_limit() {
    let message = oversized();
    let json = rendered(&message);
    let blocks = json["blocks"].as_array().unwrap();
    let chars = |v: &Value| v.as_str().unwrap().chars().count();
    assert_eq!(blocks.len(), render::MAX_BLOCKS);
    assert_eq!(chars(&blocks[0]["text"]["text"]), 150);
    assert_eq!(chars(&blocks[1]["text"]["text"]), 3000);
    let field_counts: Vec<usize> = blocks[2..5].iter().map(|b| b["fields"].as_array().unwrap().len()).collect();
    assert_eq!(field_counts, [10, 10, 3]);
    assert_eq!(chars(&blocks[2]["fields"][0]["text"]), 2000);
    let table = blocks[5]["text"]["text"].as_str().unwrap();
    assert!(table.chars().count() <= 3000 && table.starts_with("```") && table.ends_with("```"));
    assert!(table.contains(" more rows"), "{table}");
    assert_eq!(blocks[6]["elements"].as_array().unwrap().len(), 25);
    assert_eq!(blocks[7]["elements"].as_array().unwrap().len(), 5);
    let first = &blocks[6]["elements"][0];
    assert_eq!(chars(&first["text"]["text"]), 75);
    assert_eq!(
        (first["action_id"].as_str(), first["value"].as_str(), first["style"].as_str()),
        (Some("approve:pr-0:1"), Some("approve:pr-0:1"), Some("danger"))
    );
    assert_eq!(
        [
            chars(&first["confirm"]["title"]["text"]),
            chars(&first["confirm"]["text"]["text"]),
            chars(&first["confirm"]["confirm"]["text"]),
            chars(&first["confirm"]["deny"]["text"])
        ],
        [100, 300, 30, 30]
    );
    let last = &blocks[49];
    assert_eq!(last["type"], "context");
    assert!(last["elements"][0]["text"].as_str().unwrap().contains("more blocks were left out"));
    assert_eq!(chars(&json["text"]), render::MAX_FALLBACK);
    insta::assert_json_snapshot!("oversized", json);
}

/// Every text in a rendered message, with the limit that applies to it.
fn check_limits(value: &Value, limit: usize, path: &str) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let limit = match (map.get("type").and_then(Value::as_str), key.as_str()) {
                    (Some("header"), "text") => render::MAX_HEADER,
                    (_, "fields") => render::MAX_FIELD,
                    (_, "title") => 100,
                    (Some("button"), "text") => render::MAX_BUTTON_LABEL,
                    (_, "confirm") | (_, "deny") if map.contains_key("title") => 30,
                    _ => limit,
                };
                check_limits(child, limit, &format!("{path}.{key}"));
            }
        }
        Value::Array(items) => items.iter().for_each(|c| check_limits(c, limit, path)),
        Value::String(s) => assert!(s.chars().count() <= limit, "{path}: {} > {limit}", s.chars().count()),
        _ => {}
    }
}

fn random_text(rng: &mut ChaCha8Rng) -> String {
    const ALPHABET: &[char] =
        &['a', ' ', '<', '>', '&', '*', '`', '|', '\n', 'é', '€', '🔥', '中', '\u{200d}', '\u{0301}'];
    let len = [0, 1, 5, 80, 151, 2001, 3001, 6000][rng.gen_range(0..8)];
    (0..len).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())]).collect()
}

#[test]
fn random_unicode_and_oversized_input_never_panics_nor_breaks_limits() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..200 {
        let mut t = || random_text(&mut rng);
        let blocks = vec![
            Block::Header { text: t() },
            Block::Text { spans: vec![Span::Plain(t()), Span::Bold(t()), Span::Code(t()), Span::Link((t(), t()))] },
            Block::Context { spans: vec![Span::Plain(t())] },
            Block::Fields { fields: vec![(t(), t()), (t(), t())] },
            Block::Table {
                columns: vec![t(), t()],
                right_align: vec![true],
                rows: vec![vec![t()], vec![t(), t(), t()]],
            },
            Block::Actions {
                buttons: vec![button(
                    &t(),
                    Verb::Deny,
                    "x",
                    ButtonStyle::Primary,
                    Some(Confirm { title: t(), text: t(), confirm: t(), deny: t() }),
                )],
            },
        ];
        let message = Message { fallback: t(), blocks, tone: Tone::Neutral, attachments: Vec::new() };
        let json = rendered(&message);
        check_limits(&json["blocks"], render::MAX_TEXT, "blocks");
        assert!(json["text"].as_str().unwrap().chars().count() <= render::MAX_FALLBACK);
        for text in [t(), t()] {
            for max in [0, 1, 2, 10] {
                assert!(render::truncate(&text, max).chars().count() <= max);
            }
        }
    }
}

#[test]
fn random_bytes_never_panic_the_parsers_or_the_verifier() {
    use costbot::chat::slack::{parse, verify};
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let verifier = verify::Verifier::new(vec!["s".to_string().into()]).with_clock(std::sync::Arc::new(|| 0));
    for _ in 0..500 {
        let len = rng.gen_range(0..300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse::command_from_form(&bytes);
        let _ = parse::interaction_from_form(&bytes);
        let _ = parse::interaction_from_form(format!("payload={}", text).as_bytes());
        assert!(verifier.verify_parts(&text, &text, &bytes).is_err());
        assert!(verifier.verify_parts("0", &format!("v0={}", text), &bytes).is_err());
    }
}
