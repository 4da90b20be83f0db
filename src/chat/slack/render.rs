//! Renders the neutral [`Message`] into Slack Block Kit, within Slack's size limits.
//!
//! Slack rejects a whole message (`invalid_blocks`) when one block breaks a limit, so every
//! limit is enforced here rather than hoped for: long text is cut on a character boundary with
//! a visible "…", long field lists and button rows are split across blocks, tables that do not
//! fit show how many rows were left out, and a message of more than 50 blocks ends with a
//! context line saying that some were dropped. All functions are pure.

use slack_morphism::prelude::{
    SlackActionBlockElement, SlackActionsBlock, SlackBlock, SlackBlockButtonElement, SlackBlockButtonStyle,
    SlackBlockConfirmItem, SlackBlockMarkDownText, SlackBlockPlainText, SlackBlockText, SlackContextBlock,
    SlackContextBlockElement, SlackDividerBlock, SlackHeaderBlock, SlackSectionBlock,
};

use crate::domain::chat::message::{Block, Button, ButtonStyle, Confirm, Message, Span};
use crate::domain::chat::Platform;

/// Blocks per message.
pub const MAX_BLOCKS: usize = 50;
/// Header text, in characters.
pub const MAX_HEADER: usize = 150;
/// Section and context text, in characters.
pub const MAX_TEXT: usize = 3000;
/// Fields per section.
pub const MAX_FIELDS: usize = 10;
/// Characters per field.
pub const MAX_FIELD: usize = 2000;
/// Buttons per actions block.
pub const MAX_BUTTONS: usize = 25;
/// Button label, in characters.
pub const MAX_BUTTON_LABEL: usize = 75;
/// Confirm dialog title, text and button labels, in characters.
pub const MAX_CONFIRM: (usize, usize, usize) = (100, 300, 30);
/// The plain `text` sent alongside blocks (notifications, screen readers). Slack truncates
/// messages at 40,000 characters; a notification needs far less.
pub const MAX_FALLBACK: usize = 3000;

/// The Block Kit blocks for a message, never more than [`MAX_BLOCKS`].
pub fn blocks(message: &Message) -> Vec<SlackBlock> {
    let mut out: Vec<SlackBlock> = message.blocks.iter().flat_map(block).collect();
    if out.len() > MAX_BLOCKS {
        let dropped = out.len() - (MAX_BLOCKS - 1);
        out.truncate(MAX_BLOCKS - 1);
        let note = format!("_… {dropped} more blocks were left out: Slack shows at most {MAX_BLOCKS} per message._");
        out.push(context_block(note));
    }
    out
}

/// The plain text Slack shows in notifications and where blocks cannot be shown.
pub fn fallback_text(message: &Message) -> String {
    let text = if message.fallback.trim().is_empty() { "costbot" } else { message.fallback.as_str() };
    truncate(&escape(text), MAX_FALLBACK)
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Spans as one mrkdwn string.
pub fn mrkdwn(spans: &[Span]) -> String {
    spans.iter().map(span).collect()
}

/// Cuts `text` to at most `max` characters, ending with "…" when something was cut. Works on
/// character boundaries, so multi-byte text never panics.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some(_) if max == 0 => String::new(),
        Some(_) => {
            let (cut, _) = text.char_indices().nth(max - 1).unwrap_or((0, ' '));
            format!("{}…", &text[..cut])
        }
    }
}

fn span(span: &Span) -> String {
    match span {
        Span::Plain(text) => escape(text),
        // Formatting marks around empty or padded text make Slack print the marks literally.
        Span::Bold(text) => wrap("*", text),
        // mrkdwn has no way to escape a backtick inside code, so it is swapped for a look-alike.
        Span::Code(text) => wrap("`", &text.replace('`', "ˋ")),
        Span::Link((url, label)) => {
            let url = escape(url).replace('|', "%7C");
            let label = escape(label).replace('|', "¦");
            if label.trim().is_empty() {
                format!("<{url}>")
            } else {
                format!("<{url}|{label}>")
            }
        }
        // Only a well-formed Slack id becomes a mention; anything else stays text.
        Span::Mention((Platform::Slack, user)) if user.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            format!("<@{user}>")
        }
        Span::Mention((_, user)) => escape(&format!("@{user}")),
    }
}

fn wrap(mark: &str, text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return escape(text);
    }
    let start = &text[..text.len() - text.trim_start().len()];
    let end = &text[text.trim_end().len()..];
    format!("{start}{mark}{}{mark}{end}", escape(trimmed))
}

fn block(block: &Block) -> Vec<SlackBlock> {
    match block {
        Block::Header { text } if !text.trim().is_empty() => {
            vec![SlackHeaderBlock::new(SlackBlockPlainText::new(truncate(text.trim(), MAX_HEADER)).into()).into()]
        }
        Block::Text { spans } => section_text(mrkdwn(spans)).into_iter().collect(),
        Block::Context { spans } => {
            let text = mrkdwn(spans);
            if text.trim().is_empty() {
                Vec::new()
            } else {
                vec![context_block(text)]
            }
        }
        Block::Fields { fields } => fields_blocks(fields),
        Block::Table { columns, right_align, rows } => {
            section_text(table(columns, right_align, rows)).into_iter().collect()
        }
        Block::Divider => vec![SlackDividerBlock::new().into()],
        Block::Actions { buttons } => buttons
            .chunks(MAX_BUTTONS)
            .map(|row| SlackActionsBlock::new(row.iter().map(button).collect()).into())
            .collect(),
        Block::Header { .. } => Vec::new(),
    }
}

fn markdown(text: String) -> SlackBlockText {
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text))
}

/// A section of mrkdwn text; Slack refuses empty text, so empty paragraphs are dropped.
fn section_text(text: String) -> Option<SlackBlock> {
    if text.trim().is_empty() {
        return None;
    }
    Some(SlackSectionBlock::new().with_text(markdown(truncate(&text, MAX_TEXT))).into())
}

fn context_block(text: String) -> SlackBlock {
    SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(SlackBlockMarkDownText::new(truncate(
        &text, MAX_TEXT,
    )))])
    .into()
}

/// Label/value pairs as section fields, ten per section (Slack's limit), label in bold.
fn fields_blocks(fields: &[(String, String)]) -> Vec<SlackBlock> {
    fields
        .chunks(MAX_FIELDS)
        .map(|chunk| {
            let texts = chunk
                .iter()
                .map(|(label, value)| {
                    let value = if value.trim().is_empty() { "–".to_string() } else { escape(value) };
                    markdown(truncate(&format!("{}\n{}", wrap("*", label), value), MAX_FIELD))
                })
                .collect();
            SlackSectionBlock::new().with_fields(texts).into()
        })
        .collect()
}

/// A table as a monospaced code block that fits one section, with a visible count of the rows
/// that did not fit.
fn table(columns: &[String], right_align: &[bool], rows: &[Vec<String>]) -> String {
    const FENCE: &str = "```";
    // Cells are cut so one very wide cell cannot push every other column out of the block.
    const MAX_CELL: usize = 40;
    // Cells are padded as people will see them, so escaping waits until a line is complete.
    let cell = |text: &str| truncate(&text.replace(['\n', '\r', '`'], " "), MAX_CELL);
    let header: Vec<String> = columns.iter().map(|c| cell(c)).collect();
    let body: Vec<Vec<String>> =
        rows.iter().map(|r| (0..columns.len()).map(|i| cell(r.get(i).map_or("", |s| s))).collect()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &body {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(
                |(i, (c, w))| {
                    if right_align.get(i).copied().unwrap_or(false) {
                        format!("{c:>w$}")
                    } else {
                        format!("{c:<w$}")
                    }
                },
            )
            .collect();
        escape(padded.join("  ").trim_end())
    };
    let mut lines = vec![line(&header), widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  ")];
    if body.is_empty() {
        lines.push("(no rows)".to_string());
    }
    // Room for the fences, newlines and the "more rows" line is kept back from the start.
    let budget = MAX_TEXT - 2 * FENCE.len() - 2 - 40;
    let mut used: usize = lines.iter().map(|l| l.chars().count() + 1).sum();
    let mut shown = 0;
    for row in &body {
        let text = line(row);
        let cost = text.chars().count() + 1;
        if used + cost > budget {
            break;
        }
        used += cost;
        lines.push(text);
        shown += 1;
    }
    if shown < body.len() {
        lines.push(format!("… {} more rows", body.len() - shown));
    }
    // A header wider than the whole budget still has to fit.
    truncate(&format!("{FENCE}\n{}\n{FENCE}", lines.join("\n")), MAX_TEXT)
}

fn button(button: &Button) -> SlackActionBlockElement {
    let id = button.action.encode();
    let label = if button.label.trim().is_empty() { id.clone() } else { button.label.clone() };
    let mut element = SlackBlockButtonElement::new(SlackBlockPlainText::new(truncate(&label, MAX_BUTTON_LABEL)).into())
        .with_action_id(id.clone().into())
        .with_value(id);
    match button.style {
        ButtonStyle::Default => {}
        ButtonStyle::Primary => element = element.with_style(SlackBlockButtonStyle::Primary),
        ButtonStyle::Danger => element = element.with_style(SlackBlockButtonStyle::Danger),
    }
    if let Some(c) = &button.confirm {
        element = element.with_confirm(confirm(c, button.style));
    }
    SlackActionBlockElement::Button(element)
}

fn confirm(c: &Confirm, style: ButtonStyle) -> SlackBlockConfirmItem {
    let (title, text, label) = MAX_CONFIRM;
    let plain = |s: &str, max: usize, default: &str| {
        let s = if s.trim().is_empty() { default } else { s };
        SlackBlockPlainText::new(truncate(s, max)).into()
    };
    let item = SlackBlockConfirmItem::new(
        plain(&c.title, title, "Are you sure?"),
        SlackBlockText::Plain(SlackBlockPlainText::new(truncate(
            if c.text.trim().is_empty() { "Are you sure?" } else { &c.text },
            text,
        ))),
        plain(&c.confirm, label, "Yes"),
        plain(&c.deny, label, "Cancel"),
    );
    // The dialog's confirm button turns red for destructive actions, matching the button.
    match style {
        ButtonStyle::Danger => item.with_style("danger".to_string()),
        _ => item,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("ééééé", 2), "é…");
        assert_eq!(truncate("x", 0), "");
        assert_eq!(truncate("", 0), "");
    }

    #[test]
    fn mrkdwn_escapes_and_formats() {
        let spans = vec![
            Span::Plain("a < b & c > d ".into()),
            Span::Bold(" bold ".into()),
            Span::Code("x`y".into()),
            Span::Link(("https://e.com/?a=1&b=2".into(), "the <site>".into())),
        ];
        assert_eq!(
            mrkdwn(&spans),
            "a &lt; b &amp; c &gt; d  *bold* `xˋy`<https://e.com/?a=1&amp;b=2|the &lt;site&gt;>"
        );
    }
}
