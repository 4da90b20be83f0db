//! The `/cost` grammar: a pure parser from what people type to a typed [`Command`], with the
//! help text generated from the same table, so the two cannot disagree.

use crate::chat::message::{Block, Message, Span, Tone};

/// What someone asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Month-to-date spend by service (what a bare `/cost` shows).
    Summary,
    /// Open anomalies.
    Anomalies,
    /// How to use costbot.
    Help,
}

/// One line of the grammar: the words that select a command, and how help describes it.
struct Entry {
    words: &'static [&'static str],
    usage: &'static str,
    description: &'static str,
    command: Command,
}

const GRAMMAR: &[Entry] = &[
    Entry {
        words: &["", "mtd", "summary"],
        usage: "/cost",
        description: "month-to-date spend by service, with the total",
        command: Command::Summary,
    },
    Entry { words: &["anomalies", "alerts"], usage: "/cost anomalies", description: "open cost anomalies", command: Command::Anomalies },
    Entry { words: &["help", "?"], usage: "/cost help", description: "this help", command: Command::Help },
];

/// Why a command was not understood, with the nearest word that would have been.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("I don't know `{word}`{}", suggestion.as_ref().map(|s| format!(" — did you mean `{s}`?")).unwrap_or_default())]
pub struct ParseError {
    /// The word that was not understood (shortened if very long).
    pub word: String,
    /// The closest known word, if any is close.
    pub suggestion: Option<String>,
}

/// Longest word echoed back in an error, so a pasted novel does not come back at the user.
const MAX_ECHO: usize = 40;

/// Parses the text after `/cost`. Never panics, whatever the input.
pub fn parse(text: &str) -> Result<Command, ParseError> {
    let normalised = text.trim().to_lowercase();
    let first = normalised.split_whitespace().next().unwrap_or("");
    if let Some(entry) = GRAMMAR.iter().find(|e| e.words.contains(&first)) {
        return Ok(entry.command.clone());
    }
    let suggestion = GRAMMAR
        .iter()
        .flat_map(|e| e.words.iter())
        .filter(|w| !w.is_empty())
        .map(|w| (strsim::damerau_levenshtein(first, w), *w))
        .filter(|(distance, w)| *distance <= (w.len() / 2).max(1))
        .min()
        .map(|(_, w)| w.to_string());
    Err(ParseError { word: first.chars().take(MAX_ECHO).collect(), suggestion })
}

/// The help message, generated from the grammar.
pub fn help() -> Message {
    let rows = GRAMMAR.iter().map(|e| vec![e.usage.to_string(), e.description.to_string()]).collect();
    Message {
        fallback: "costbot commands".to_string(),
        blocks: vec![
            Block::Header { text: "costbot commands".to_string() },
            Block::Table { columns: vec!["Command".into(), "What it shows".into()], right_align: vec![false, false], rows },
            Block::Context { spans: vec![Span::Plain("Answers come from costbot's store; they never wait on AWS.".into())] },
        ],
        tone: Tone::Neutral,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_words_parse_case_insensitively() {
        assert_eq!(parse(""), Ok(Command::Summary));
        assert_eq!(parse("  MTD "), Ok(Command::Summary));
        assert_eq!(parse("Anomalies"), Ok(Command::Anomalies));
        assert_eq!(parse("help"), Ok(Command::Help));
    }

    #[test]
    fn unknown_words_are_named_with_a_suggestion() {
        let err = parse("anomalys please").unwrap_err();
        assert_eq!(err.to_string(), "I don't know `anomalys` — did you mean `anomalies`?");
        let err = parse("'; drop table cost_facts; --").unwrap_err();
        assert_eq!((err.word.as_str(), err.suggestion), ("';", None));
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let long = "x".repeat(100_000);
        for text in [long.as_str(), "\u{0}\u{202e}ﷺ𝕏", "🙂🙂🙂", "\n\t", "mtd\u{a0}by"] {
            if let Err(e) = parse(text) {
                assert!(e.word.chars().count() <= MAX_ECHO);
            }
        }
    }

    #[test]
    fn help_lists_every_command() {
        let text = serde_json::to_string(&help()).unwrap();
        for entry in GRAMMAR {
            assert!(text.contains(entry.usage), "{}", entry.usage);
        }
    }
}
