//! The console's renderer: a neutral [`Message`] as an HTML fragment. Pure, and built with
//! maud's `html!`, which escapes every interpolated value, so nothing a message carries (a
//! resource's tag, a user's typed command) can become markup or script in the page.

use base64::Engine as _;
use maud::{html, Markup};

use crate::domain::chat::message::{Block, Button, ButtonStyle, Message, Span, Tone};

fn tone_class(tone: Tone) -> &'static str {
    match tone {
        Tone::Neutral => "tone-neutral",
        Tone::Good => "tone-good",
        Tone::Warning => "tone-warning",
        Tone::Danger => "tone-danger",
    }
}

/// Only web links become anchors; anything else (`javascript:`, `data:`) is shown as text.
fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

fn spans(spans: &[Span]) -> Markup {
    html! {
        @for span in spans {
            @match span {
                Span::Plain(t) => (t),
                Span::Bold(t) => strong { (t) },
                Span::Code(t) => code { (t) },
                Span::Link((url, label)) if safe_url(url) => {
                    a href=(url) target="_blank" rel="noopener noreferrer" { (label) }
                }
                Span::Link((url, label)) => { (label) " (" (url) ")" }
                Span::Mention((_, user)) => { "@" (user) }
            }
        }
    }
}

fn button(b: &Button) -> Markup {
    let style = match b.style {
        ButtonStyle::Default => "btn",
        ButtonStyle::Primary => "btn btn-primary",
        ButtonStyle::Danger => "btn btn-danger",
    };
    let confirm = b.confirm.as_ref().map(|c| format!("{}\n\n{}", c.title, c.text));
    let action = b.action.encode();
    let verb = action.split(':').next().unwrap_or_default();
    html! {
        button type="button" class=(style) data-action=(action) data-verb=(verb) data-confirm=[confirm] { (b.label) }
    }
}

/// A table cell's class: `num` for a right-aligned column, none otherwise.
fn num(right_align: &[bool], i: usize) -> Option<&'static str> {
    right_align.get(i).copied().unwrap_or(false).then_some("num")
}

fn block(b: &Block) -> Markup {
    html! {
        @match b {
            Block::Header { text } => h3.m-header { (text) },
            Block::Text { spans: s } => p.m-text { (spans(s)) },
            Block::Context { spans: s } => p.m-context { (spans(s)) },
            Block::Divider => hr.m-divider;,
            Block::Fields { fields } => dl.m-fields {
                @for (label, value) in fields { div { dt { (label) } dd { (value) } } }
            },
            Block::Table { columns, right_align, rows } => table.m-table {
                thead { tr { @for (i, c) in columns.iter().enumerate() { th class=[num(right_align, i)] { (c) } } } }
                tbody {
                    @for row in rows {
                        tr { @for (i, c) in row.iter().enumerate() { td class=[num(right_align, i)] { (c) } } }
                    }
                }
            },
            Block::Actions { buttons } => div.m-actions { @for b in buttons { (button(b)) } },
        }
    }
}

/// The message's body as an HTML fragment: its blocks top to bottom, then its attachments as
/// inline PNG images with their alt text. The fallback text is used when there are no blocks.
pub fn markup(message: &Message) -> Markup {
    html! {
        div class={ "m-body " (tone_class(message.tone)) } {
            @if message.blocks.is_empty() { p.m-text { (message.fallback) } }
            @for b in &message.blocks { (block(b)) }
            @for a in &message.attachments {
                figure.m-attachment {
                    img src={ "data:image/png;base64," (base64::engine::general_purpose::STANDARD.encode(&a.png)) }
                        alt=(a.alt);
                    figcaption { (a.name) }
                }
            }
        }
    }
}

/// [`markup`] as a string, for the JSON the page polls.
pub fn html(message: &Message) -> String {
    markup(message).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::chat::message::{ActionRef, Attachment, Confirm, Verb};

    fn at(s: &str) -> chrono::NaiveDateTime {
        s.parse().unwrap()
    }

    #[test]
    fn the_alert_as_console_html() {
        let message = crate::render::alert::alert(
            &crate::render::alert::tests::sample(),
            &|_: &str| Some("prod".to_string()),
            at("2026-11-18T07:00:00"),
        );
        insta::assert_snapshot!("console_alert", html(&message));
    }

    #[test]
    fn the_approval_card_as_console_html() {
        let html = html(&crate::render::approval::tests::strict_terminate_card());
        assert!(html.contains("data-action=\"approve:"), "{html}");
        insta::assert_snapshot!("console_approval", html);
    }

    #[test]
    fn help_as_console_html() {
        insta::assert_snapshot!("console_help", html(&crate::commands::help()));
    }

    #[test]
    fn everything_is_escaped_and_only_web_links_are_links() {
        let message = Message {
            fallback: "x".into(),
            blocks: vec![
                Block::Header { text: "<script>alert(1)</script>".into() },
                Block::Text {
                    spans: vec![
                        Span::Bold("a&b".into()),
                        Span::Link(("javascript:alert(1)".into(), "click".into())),
                        Span::Link(("https://example.com/?a=1&b=\"2\"".into(), "ok".into())),
                    ],
                },
                Block::Fields { fields: vec![("k\"ey".into(), "<v>".into())] },
                Block::Table { columns: vec!["<c>".into()], right_align: vec![true], rows: vec![vec!["'x'".into()]] },
                Block::Actions {
                    buttons: vec![Button {
                        label: "<b>".into(),
                        action: ActionRef { verb: Verb::Approve, target: "pr-1".into(), version: 2 },
                        style: ButtonStyle::Danger,
                        confirm: Some(Confirm {
                            title: "\"sure\"".into(),
                            text: "<x>".into(),
                            confirm: "y".into(),
                            deny: "n".into(),
                        }),
                    }],
                },
            ],
            tone: Tone::Danger,
            attachments: vec![Attachment {
                name: "c<.png".into(),
                alt: "\"trend\"".into(),
                png: vec![0x89, b'P', b'N', b'G'],
            }],
        };
        let html = html(&message);
        for raw in ["<script>", "<v>", "<c>", "<b>", "<x>", "href=\"javascript", "k\"ey", "\"sure\"", "c<.png"] {
            assert!(!html.contains(raw), "{raw} leaked into {html}");
        }
        assert!(
            html.contains("&lt;script&gt;") && html.contains("a&amp;b") && html.contains("click (javascript:alert(1))"),
            "{html}"
        );
        assert!(html.contains("href=\"https://example.com/?a=1&amp;b=&quot;2&quot;\""), "{html}");
        assert!(html.contains("<img src=\"data:image/png;base64,iVBORw==\" alt=\"&quot;trend&quot;\">"), "{html}");
        insta::assert_snapshot!("console_escaping", html);
    }
}
