//! Neutral [`Message`] → Discord message JSON (`content`, `embeds`, `components`).
//!
//! Pure and total: whatever the message holds, the output stays within Discord's limits, so a
//! long answer is shortened visibly ("… N more rows") instead of being refused by the API.
//! Layout: a header starts an embed (its title); text and tables fill the description; fields
//! become inline fields; context becomes the footer; the tone is the embed colour. Embeds
//! show the description above the fields and the footer last, so a block that would appear
//! out of order starts a new embed of the same colour. Discord buttons have no confirmation
//! dialog, so what a confirmed button will do is written into the first embed instead.

use serde_json::{json, Value};

use crate::domain::chat::message::{Block, Button, ButtonStyle, Message, Span, Tone};
use crate::domain::chat::Platform;

/// Embeds per message.
pub const MAX_EMBEDS: usize = 10;
/// Fields per embed.
pub const MAX_FIELDS: usize = 25;
/// Characters in an embed title.
pub const MAX_TITLE: usize = 256;
/// Characters in an embed description.
pub const MAX_DESCRIPTION: usize = 4096;
/// Characters in a field name.
pub const MAX_FIELD_NAME: usize = 256;
/// Characters in a field value.
pub const MAX_FIELD_VALUE: usize = 1024;
/// Characters in an embed footer.
pub const MAX_FOOTER: usize = 2048;
/// Characters across all embeds of one message (titles, descriptions, fields, footers).
pub const MAX_EMBED_TOTAL: usize = 6000;
/// Characters in a message's plain content.
pub const MAX_CONTENT: usize = 2000;
/// Buttons per action row.
pub const MAX_BUTTONS_PER_ROW: usize = 5;
/// Action rows per message.
pub const MAX_ROWS: usize = 5;
/// Characters in a button label.
pub const MAX_LABEL: usize = 80;
/// Characters in a custom_id.
pub const MAX_CUSTOM_ID: usize = 100;
/// Widest table cell, so one long name cannot push every other column off screen.
const MAX_CELL: usize = 40;

/// The footer line of a message that had to be cut to fit Discord's 6000-character total.
const SHORTENED: &str = "… shortened to fit Discord's limits";

/// Discord's "empty" text: fields and labels may not be blank.
const BLANK: &str = "\u{200b}";

/// One embed while it is being filled.
#[derive(Debug, Default)]
struct Embed {
    title: Option<String>,
    body: String,
    fields: Vec<(String, String)>,
    footer: Option<String>,
    /// What confirmed buttons will do; kept whole when the rest is shortened.
    notice: String,
}

impl Embed {
    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.body.is_empty()
            && self.fields.is_empty()
            && self.footer.is_none()
            && self.notice.is_empty()
    }

    /// Characters that count towards [`MAX_EMBED_TOTAL`], notice excluded.
    fn text_len(&self) -> usize {
        self.title.as_deref().map_or(0, chars)
            + chars(&self.body)
            + self.fields.iter().map(|(n, v)| chars(n) + chars(v)).sum::<usize>()
            + self.footer.as_deref().map_or(0, chars)
    }

    fn description(&self) -> String {
        match (self.body.is_empty(), self.notice.is_empty()) {
            (_, true) => self.body.clone(),
            (true, false) => self.notice.clone(),
            (false, false) => format!("{}\n\n{}", self.body, self.notice),
        }
    }

    fn to_json(&self, colour: u32) -> Value {
        let mut embed = serde_json::Map::new();
        embed.insert("color".into(), json!(colour));
        if let Some(title) = &self.title {
            embed.insert("title".into(), json!(title));
        }
        let description = self.description();
        if !description.is_empty() {
            embed.insert("description".into(), json!(description));
        }
        if !self.fields.is_empty() {
            let fields: Vec<Value> =
                self.fields.iter().map(|(n, v)| json!({"name": n, "value": v, "inline": true})).collect();
            embed.insert("fields".into(), json!(fields));
        }
        if let Some(footer) = &self.footer {
            embed.insert("footer".into(), json!({"text": footer}));
        }
        Value::Object(embed)
    }
}

/// Fills embeds block by block.
struct Layout {
    embeds: Vec<Embed>,
    /// The next content block starts a new embed (after a divider, or to keep order).
    break_pending: bool,
    dropped_fields: usize,
}

impl Layout {
    fn current(&mut self) -> &mut Embed {
        let full = self.embeds.len() >= MAX_EMBEDS;
        if self.embeds.is_empty() || (self.break_pending && !full) {
            self.embeds.push(Embed::default());
        }
        self.break_pending = false;
        self.embeds.last_mut().expect("an embed was just ensured")
    }

    /// Starts a new embed unless the current one can still take this kind of block in order.
    fn current_for(&mut self, fits: impl Fn(&Embed) -> bool) -> &mut Embed {
        if self.embeds.last().is_some_and(|e| !fits(e)) {
            self.break_pending = true;
        }
        self.current()
    }

    fn push_paragraph(&mut self, text: &str, fits: impl Fn(&Embed) -> bool) {
        let embed = self.current_for(fits);
        let separator = if embed.body.is_empty() { "" } else { "\n" };
        let room = MAX_DESCRIPTION.saturating_sub(chars(&embed.body) + separator.len());
        if room > 0 {
            embed.body = format!("{}{separator}{}", embed.body, truncate(text.trim_end(), room));
        }
    }

    fn header(&mut self, text: &str) {
        let embed = self.current_for(Embed::is_empty);
        if embed.title.is_none() && embed.is_empty() {
            embed.title = Some(truncate(text, MAX_TITLE));
        } else {
            // Ten embeds are in use: the header becomes a bold line in the last one.
            let line = format!("**{}**", escape(text));
            self.push_paragraph(&line, |_| true);
        }
    }

    fn fields(&mut self, pairs: &[(String, String)]) {
        for (name, value) in pairs {
            let embed = self.current_for(|e| e.footer.is_none() && e.fields.len() < MAX_FIELDS);
            if embed.fields.len() >= MAX_FIELDS {
                self.dropped_fields += 1;
                continue;
            }
            embed.fields.push((non_blank(truncate(name, MAX_FIELD_NAME)), non_blank(truncate(value, MAX_FIELD_VALUE))));
        }
    }

    fn table(&mut self, columns: &[String], right_align: &[bool], rows: &[Vec<String>]) {
        let embed = self.current_for(|e| e.fields.is_empty() && e.footer.is_none());
        let used = chars(&embed.body) + usize::from(!embed.body.is_empty());
        let block = code_table(columns, right_align, rows, MAX_DESCRIPTION.saturating_sub(used));
        if !block.is_empty() {
            embed.body = if embed.body.is_empty() { block } else { format!("{}\n{block}", embed.body) };
        }
    }

    fn context(&mut self, text: &str) {
        let embed = self.current();
        let footer = match embed.footer.take() {
            Some(old) => format!("{old}\n{text}"),
            None => text.to_string(),
        };
        embed.footer = Some(truncate(&footer, MAX_FOOTER));
    }

    fn divider(&mut self) {
        match self.embeds.last_mut() {
            Some(e) if e.fields.is_empty() && e.footer.is_none() && !e.body.is_empty() => e.body.push('\n'),
            Some(_) => self.break_pending = true,
            None => {}
        }
    }
}

/// Renders a message as Discord JSON for a message create or edit, or an interaction answer.
///
/// `content`, `embeds` and `components` are always present so an edit replaces all three.
/// Mentions are disabled: text that comes from AWS (tags, names) must never ping anyone.
pub fn render(message: &Message) -> Value {
    let mut layout = Layout { embeds: Vec::new(), break_pending: false, dropped_fields: 0 };
    let mut buttons: Vec<Vec<&Button>> = Vec::new();
    for block in &message.blocks {
        match block {
            Block::Header { text } => layout.header(text),
            Block::Text { spans } => {
                layout.push_paragraph(&markdown(spans), |e| e.fields.is_empty() && e.footer.is_none())
            }
            Block::Fields { fields } => layout.fields(fields),
            Block::Table { columns, right_align, rows } => layout.table(columns, right_align, rows),
            Block::Context { spans } => layout.context(&markdown(spans)),
            Block::Divider => layout.divider(),
            Block::Actions { buttons: row } => buttons.push(row.iter().collect()),
        }
    }
    if layout.dropped_fields > 0 {
        let note = format!("… {} more fields not shown", layout.dropped_fields);
        layout.push_paragraph(&note, |_| true);
    }
    let mut embeds = layout.embeds;
    let notice = confirm_notice(buttons.iter().flatten().copied());
    if !notice.is_empty() {
        if embeds.is_empty() {
            embeds.push(Embed::default());
        }
        embeds[0].notice = truncate(&notice, MAX_FIELD_VALUE);
    }
    enforce_total(&mut embeds);
    let colour = colour(message.tone);
    let components = action_rows(&buttons);
    let content = if embeds.is_empty() {
        let text: &str =
            if message.fallback.trim().is_empty() && components.is_empty() { BLANK } else { &message.fallback };
        truncate(&escape(text), MAX_CONTENT)
    } else {
        String::new()
    };
    json!({
        "content": content,
        "embeds": embeds.iter().map(|e| e.to_json(colour)).collect::<Vec<_>>(),
        "components": components,
        "allowed_mentions": {"parse": []},
    })
}

/// The embed colour for a tone (Discord's own palette).
pub fn colour(tone: Tone) -> u32 {
    match tone {
        Tone::Neutral => 0x5865F2,
        Tone::Good => 0x57F287,
        Tone::Warning => 0xFEE75C,
        Tone::Danger => 0xED4245,
    }
}

/// "⚠ **Approve** — Stops i-0abc…" lines for buttons that ask for confirmation elsewhere.
fn confirm_notice<'a>(buttons: impl Iterator<Item = &'a Button>) -> String {
    let lines: Vec<String> = buttons
        .filter_map(|b| b.confirm.as_ref().map(|c| format!("⚠ **{}** — {}", escape(&b.label), escape(&c.text))))
        .collect();
    lines.join("\n")
}

/// Buttons as action rows: each Actions block starts a row, long rows wrap at five, at most
/// five rows; a button whose custom_id Discord would refuse, or that repeats one, is left out.
fn action_rows(blocks: &[Vec<&Button>]) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::new();
    for block in blocks {
        let usable: Vec<Value> = block
            .iter()
            .filter_map(|b| {
                let id = b.action.encode();
                (id.len() <= MAX_CUSTOM_ID && seen.insert(id.clone())).then(|| button(b, id))
            })
            .collect();
        for chunk in usable.chunks(MAX_BUTTONS_PER_ROW) {
            rows.push(json!({"type": 1, "components": chunk}));
        }
    }
    rows.truncate(MAX_ROWS);
    rows
}

fn button(b: &Button, custom_id: String) -> Value {
    let style = match b.style {
        ButtonStyle::Primary => 1,
        ButtonStyle::Default => 2,
        ButtonStyle::Danger => 4,
    };
    json!({"type": 2, "style": style, "label": non_blank(truncate(&b.label, MAX_LABEL)), "custom_id": custom_id})
}

/// Shortens the embeds so all their text fits in [`MAX_EMBED_TOTAL`], front to back: the top
/// of a message matters most. Notices are reserved first so a warning is never cut.
/// When that cuts anything, the last footer says so, so nobody mistakes a shortened answer for
/// the whole of it.
fn enforce_total(embeds: &mut Vec<Embed>) {
    let notices: usize = embeds.iter().map(|e| chars(&e.notice)).sum();
    let text: usize = embeds.iter().map(Embed::text_len).sum();
    let shortened = notices + text > MAX_EMBED_TOTAL;
    let reserve = if shortened { chars(SHORTENED) + 1 } else { 0 };
    let mut remaining = MAX_EMBED_TOTAL.saturating_sub(notices + reserve);
    for embed in embeds.iter_mut() {
        if let Some(title) = embed.title.take() {
            let title = truncate(&title, remaining.min(MAX_TITLE));
            remaining -= chars(&title);
            embed.title = (!title.is_empty()).then_some(title);
        }
        let notice_cost = if embed.notice.is_empty() { 0 } else { chars(&embed.notice) + 2 };
        let body_room = MAX_DESCRIPTION.saturating_sub(notice_cost).min(remaining);
        // A divider at the end of a section leaves a trailing blank line that shows nothing.
        embed.body = truncate_markdown(embed.body.trim_end(), body_room);
        remaining -= chars(&embed.body);
        let mut kept = Vec::new();
        for (name, value) in embed.fields.drain(..) {
            let name_len = chars(&name);
            if name_len + 1 > remaining {
                break;
            }
            let value = truncate(&value, (remaining - name_len).min(MAX_FIELD_VALUE));
            remaining -= name_len + chars(&value);
            kept.push((name, value));
        }
        embed.fields = kept;
        if let Some(footer) = embed.footer.take() {
            let footer = truncate(&footer, remaining.min(MAX_FOOTER));
            remaining -= chars(&footer);
            embed.footer = (!footer.is_empty()).then_some(footer);
        }
    }
    embeds.retain(|e| !e.is_empty());
    if let Some(last) = embeds.last_mut().filter(|_| shortened) {
        last.footer = Some(match last.footer.take() {
            Some(old) => format!("{}\n{SHORTENED}", truncate(&old, MAX_FOOTER - reserve)),
            None => SHORTENED.to_string(),
        });
    }
}

/// A table as a monospaced code block that fits in `room` characters, with a visible
/// "… N more rows" line when rows had to be left out. Empty if not even the heading fits.
fn code_table(columns: &[String], right_align: &[bool], rows: &[Vec<String>], room: usize) -> String {
    let cell = |s: &str| truncate(&s.replace('`', "'").replace('\n', " "), MAX_CELL);
    let head: Vec<String> = columns.iter().map(|c| cell(c)).collect();
    let body: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| cell(c)).collect()).collect();
    let mut widths: Vec<usize> = head.iter().map(|c| chars(c)).collect();
    for row in &body {
        for (i, c) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(chars(c));
            }
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .take(widths.len())
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(widths[i] - chars(c));
                if right_align.get(i).copied().unwrap_or(false) {
                    format!("{pad}{c}")
                } else {
                    format!("{c}{pad}")
                }
            })
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let fence = 8; // "```\n" and "\n```"
    let header = line(&head);
    let mut used = fence + chars(&header);
    if used > room {
        return String::new();
    }
    let mut lines = vec![header];
    for (i, row) in body.iter().enumerate() {
        let text = line(row);
        let more = body.len() - i - 1;
        // Keep room for the "more rows" line unless this is the last row.
        let reserve = if more > 0 { 24 } else { 0 };
        if used + 1 + chars(&text) + reserve > room {
            let omitted = body.len() - i;
            lines.push(format!("… {omitted} more rows"));
            break;
        }
        used += 1 + chars(&text);
        lines.push(text);
    }
    format!("```\n{}\n```", lines.join("\n"))
}

/// Spans as Discord markdown; plain text is escaped so it shows as typed.
fn markdown(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|span| match span {
            Span::Plain(text) => escape(text),
            Span::Bold(text) => format!("**{}**", escape(text)),
            Span::Code(text) if text.contains('`') => format!("`` {} ``", text.replace("``", "` `")),
            Span::Code(text) => format!("`{text}`"),
            Span::Link((url, label)) => link(url, label),
            // Only a snowflake becomes a mention; anything else stays text.
            Span::Mention((Platform::Discord, user)) if user.bytes().all(|b| b.is_ascii_digit()) => {
                format!("<@{user}>")
            }
            Span::Mention((_, user)) => escape(&format!("@{user}")),
        })
        .collect()
}

/// A masked link, for http(s) URLs only; anything else shows as its escaped label.
fn link(url: &str, label: &str) -> String {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return escape(label);
    }
    let safe_url = url.replace(' ', "%20").replace('(', "%28").replace(')', "%29");
    format!("[{}]({safe_url})", escape(label))
}

/// Escapes Discord markdown so plain text is shown literally. `-`, `#` and `>` only matter at
/// the start of a line (lists, headings, quotes), so ids like `pr-0123` stay readable; `<`
/// is escaped so text cannot form a mention or a timestamp tag.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut line_start = true;
    for c in text.chars() {
        let special = matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '<')
            || (line_start && matches!(c, '-' | '#' | '>'));
        if special {
            out.push('\\');
        }
        out.push(c);
        line_start = c == '\n' || (line_start && c == ' ');
    }
    out
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn non_blank(s: String) -> String {
    if s.trim().is_empty() {
        BLANK.to_string()
    } else {
        s
    }
}

/// Cuts `s` to at most `max` characters (not bytes), ending in "…" when anything was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if chars(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Like [`truncate`], but a code block cut in the middle is closed again so the rest of the
/// message is not swallowed into it.
fn truncate_markdown(s: &str, max: usize) -> String {
    let cut = truncate(s, max);
    if cut.len() == s.len() || cut.matches("```").count().is_multiple_of(2) {
        return cut;
    }
    let mut out = truncate(s, max.saturating_sub(4));
    if out.matches("```").count() % 2 == 1 {
        out.push_str("\n```");
    }
    out
}
