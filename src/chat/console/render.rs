//! The console's renderer: a neutral [`Message`] as an HTML fragment. Pure, and every piece of
//! text is escaped, so nothing a message carries (a resource's tag, a user's typed command)
//! can become markup or script in the page.

use base64::Engine as _;

use crate::domain::chat::message::{Block, Button, ButtonStyle, Message, Span, Tone};

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

fn spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|span| match span {
            Span::Plain(t) => escape(t),
            Span::Bold(t) => format!("<strong>{}</strong>", escape(t)),
            Span::Code(t) => format!("<code>{}</code>", escape(t)),
            Span::Link((url, label)) if safe_url(url) => {
                format!(
                    "<a href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">{}</a>",
                    escape(url),
                    escape(label)
                )
            }
            Span::Link((url, label)) => format!("{} ({})", escape(label), escape(url)),
        })
        .collect()
}

fn button(b: &Button) -> String {
    let style = match b.style {
        ButtonStyle::Default => "btn",
        ButtonStyle::Primary => "btn btn-primary",
        ButtonStyle::Danger => "btn btn-danger",
    };
    let confirm = b
        .confirm
        .as_ref()
        .map(|c| format!(" data-confirm=\"{}\"", escape(&format!("{}\n\n{}", c.title, c.text))))
        .unwrap_or_default();
    let verb = b.action.encode();
    let verb = verb.split(':').next().unwrap_or_default();
    format!(
        "<button type=\"button\" class=\"{style}\" data-action=\"{}\" data-verb=\"{}\"{confirm}>{}</button>",
        escape(&b.action.encode()),
        escape(verb),
        escape(&b.label)
    )
}

fn block(b: &Block) -> String {
    match b {
        Block::Header { text } => format!("<h3 class=\"m-header\">{}</h3>", escape(text)),
        Block::Text { spans: s } => format!("<p class=\"m-text\">{}</p>", spans(s)),
        Block::Context { spans: s } => format!("<p class=\"m-context\">{}</p>", spans(s)),
        Block::Divider => "<hr class=\"m-divider\">".to_string(),
        Block::Fields { fields } => {
            let items: String = fields
                .iter()
                .map(|(label, value)| format!("<div><dt>{}</dt><dd>{}</dd></div>", escape(label), escape(value)))
                .collect();
            format!("<dl class=\"m-fields\">{items}</dl>")
        }
        Block::Table { columns, right_align, rows } => {
            let class = |i: usize| if right_align.get(i).copied().unwrap_or(false) { " class=\"num\"" } else { "" };
            let head: String =
                columns.iter().enumerate().map(|(i, c)| format!("<th{}>{}</th>", class(i), escape(c))).collect();
            let body: String = rows
                .iter()
                .map(|row| {
                    let cells: String =
                        row.iter().enumerate().map(|(i, c)| format!("<td{}>{}</td>", class(i), escape(c))).collect();
                    format!("<tr>{cells}</tr>")
                })
                .collect();
            format!("<table class=\"m-table\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        }
        Block::Actions { buttons } => {
            let buttons: String = buttons.iter().map(button).collect();
            format!("<div class=\"m-actions\">{buttons}</div>")
        }
    }
}

/// The message's body as an HTML fragment: its blocks top to bottom, then its attachments as
/// inline PNG images with their alt text. The fallback text is used when there are no blocks.
pub fn html(message: &Message) -> String {
    let mut out = format!("<div class=\"m-body {}\">", tone_class(message.tone));
    if message.blocks.is_empty() {
        out.push_str(&format!("<p class=\"m-text\">{}</p>", escape(&message.fallback)));
    }
    for b in &message.blocks {
        out.push_str(&block(b));
    }
    for a in &message.attachments {
        let data = base64::engine::general_purpose::STANDARD.encode(&a.png);
        out.push_str(&format!(
            "<figure class=\"m-attachment\"><img src=\"data:image/png;base64,{data}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
            escape(&a.alt),
            escape(&a.name)
        ));
    }
    out.push_str("</div>");
    out
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
