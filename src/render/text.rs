//! A neutral [`Message`] as plain text, for the terminal (`costbot digest --dry-run`): what a
//! message says, without any platform's markup.

use crate::domain::chat::message::{Block, Message, Span};

fn spans_text(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Plain(t) | Span::Bold(t) | Span::Code(t) => t.clone(),
            Span::Link((url, label)) => format!("{label} <{url}>"),
            Span::Mention((_, user)) => format!("@{user}"),
        })
        .collect()
}

fn table(columns: &[String], right: &[bool], rows: &[Vec<String>]) -> String {
    let width = |i: usize| {
        rows.iter()
            .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
            .chain([columns[i].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns.len()).map(width).collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                if right.get(i).copied().unwrap_or(false) {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(columns);
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// Renders a message as plain text lines.
pub fn plain(message: &Message) -> String {
    let mut out = String::new();
    for block in &message.blocks {
        match block {
            Block::Header { text } => out.push_str(&format!("{text}\n{}\n", "=".repeat(text.chars().count()))),
            Block::Text { spans } => out.push_str(&format!("{}\n", spans_text(spans).trim_end())),
            Block::Context { spans } => out.push_str(&format!("({})\n", spans_text(spans).trim_end())),
            Block::Fields { fields } => {
                for (label, value) in fields {
                    out.push_str(&format!("{label}: {}\n", value.replace('\n', "\n    ")));
                }
            }
            Block::Table { columns, right_align, rows } => out.push_str(&table(columns, right_align, rows)),
            Block::Divider => out.push_str("----\n"),
            Block::Actions { buttons } => {
                let labels: Vec<String> = buttons.iter().map(|b| format!("[{}]", b.label)).collect();
                out.push_str(&format!("{}\n", labels.join(" ")));
            }
        }
    }
    for a in &message.attachments {
        out.push_str(&format!("[attached {} ({} bytes): {}]\n", a.name, a.png.len(), a.alt));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::chat::message::Tone;

    #[test]
    fn tables_align_and_links_keep_their_address() {
        let message = Message {
            fallback: "f".into(),
            tone: Tone::Neutral,
            attachments: Vec::new(),
            blocks: vec![
                Block::Header { text: "Digest".into() },
                Block::Text {
                    spans: vec![Span::Link(("https://x/1".into(), "EC2".into())), Span::Plain(" up".into())],
                },
                Block::Table {
                    columns: vec!["Service".into(), "Cost".into()],
                    right_align: vec![false, true],
                    rows: vec![vec!["EC2".into(), "$1.00".into()], vec!["Amazon RDS".into(), "$10.00".into()]],
                },
            ],
        };
        assert_eq!(
            plain(&message),
            "Digest\n======\nEC2 <https://x/1> up\n  Service       Cost\n  EC2          $1.00\n  Amazon RDS  $10.00\n"
        );
    }
}
