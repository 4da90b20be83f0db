//! The `/cost` grammar: a pure parser from what people type to a typed [`Command`], with the
//! help text generated from the same vocabulary table, so the two cannot disagree.
//!
//! ```text
//! /cost [period] [by service|account|region|usage-type|tag:KEY|category:NAME] [top N]
//!       [service=X] [account=Y] [KEY=V] [tag:KEY=V] [category:NAME=V] [compare]
//! /cost forecast [service=X] [account=Y] [KEY=V]
//! /cost anomalies | offhours | help
//! /cost offhours pause ID [until YYYY-MM-DD] | offhours resume ID
//! /cost budget [NAME] | budget set NAME AMOUNT
//! ```

mod aliases;
mod budget;
pub mod period;
mod period_words;
mod subcommands;
pub mod tags;

pub use aliases::{expand_service_alias, SERVICE_ALIASES};
pub use budget::{parse_filters, parse_filters_in};

use chrono::NaiveDate;

pub use period::{Elapsed, Period};
use period_words::{relative, simple_period};
pub use tags::{TagFilter, Vocabulary};

use crate::domain::chat::message::{Block, Message, Span, Tone};
use crate::domain::proposal::ProposalId;

/// How a report is broken down.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupBy {
    /// By Cost Explorer service.
    Service,
    /// By linked account.
    Account,
    /// By AWS region.
    Region,
    /// By usage type.
    UsageType,
    /// By the values of a tag key or cost category (`by tag:team`), untagged spend a row.
    Tag(crate::domain::tags::TagKey),
}

/// Narrowing by service and account, as typed (resolved against the store by the bot).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    /// `service=…` values, aliases already expanded (`ec2` → its Cost Explorer name).
    pub services: Vec<String>,
    /// `account=…` values: ids or configured names.
    pub accounts: Vec<String>,
    /// `team=payments`, `tag:env=prod`, `category:BusinessUnit=Retail`.
    pub tags: Vec<TagFilter>,
}

/// A spend report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Which days (month to date when not said).
    pub period: Period,
    /// Breakdown, if asked for.
    pub group: Option<GroupBy>,
    /// Only the N largest groups.
    pub top: Option<u32>,
    /// Narrowing.
    pub filters: Filters,
    /// Also show the previous period of the same length, with deltas.
    pub compare: bool,
}

/// What someone asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Spend over a period.
    Report(Report),
    /// Month-end projection.
    Forecast(Filters),
    /// Open anomalies.
    Anomalies,
    /// Alert precision measured from the channel's feedback.
    AnomalyStats,
    /// Approved off-hours schedules.
    Offhours,
    /// Pause a schedule: no switch until the start of `until` (UTC), or until resumed.
    OffhoursPause {
        /// The schedule's id, as `/cost offhours` lists it.
        id: ProposalId,
        /// The day it switches again.
        until: Option<NaiveDate>,
    },
    /// Resume a paused schedule.
    OffhoursResume {
        /// The schedule's id.
        id: ProposalId,
    },
    /// Budgets' status, burn rate and forecast: one, or every budget the channel may see.
    Budget(Option<crate::domain::budget::BudgetName>),
    /// An approver changes a budget's monthly amount.
    BudgetSet {
        /// The budget.
        name: crate::domain::budget::BudgetName,
        /// Its new monthly amount (more than zero).
        amount: crate::domain::Money,
    },
    /// Keep with a reason: the proposal is held back for 30 days (the owner or an approver).
    Keep {
        /// The proposal's id, as its card shows it.
        id: ProposalId,
        /// Why, in the person's words; shown on the card.
        reason: String,
    },
    /// How to use costbot.
    Help,
}

/// What a vocabulary word does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    Period(Period),
    /// `this` / `last` followed by `week`, `month` or `Nd`.
    Relative,
    By,
    Top,
    Compare,
    Forecast,
    Anomalies,
    /// `stats` after `anomalies`.
    Stats,
    Offhours,
    /// `budget …`; parsed on its own (see `budget.rs`), listed for help and suggestions.
    Budget,
    Keep,
    Help,
    /// `key=value`; parsed before the vocabulary is consulted, listed for help and suggestions.
    Filter,
    /// Dates and day counts; parsed by pattern, listed for help.
    Pattern,
}

/// One vocabulary entry: the words, what they do, and how help describes them.
struct Entry {
    words: &'static [&'static str],
    word: Word,
    usage: &'static str,
    help: &'static str,
}

const VOCABULARY: &[Entry] = &[
    Entry {
        words: &["mtd"],
        word: Word::Period(Period::MonthToDate),
        usage: "mtd",
        help: "month to date (the default)",
    },
    Entry { words: &["today"], word: Word::Period(Period::Today), usage: "today", help: "today so far (estimated)" },
    Entry { words: &["yesterday"], word: Word::Period(Period::Yesterday), usage: "yesterday", help: "yesterday" },
    Entry {
        words: &["this", "last"],
        word: Word::Relative,
        usage: "this week · last week · this month · last month · last 7d/30d/90d",
        help: "calendar weeks (Mon–Sun) and months, or the last N days",
    },
    Entry {
        words: &["7d", "30d", "90d"],
        word: Word::Pattern,
        usage: "2026-10 · 2026-10-01..2026-10-15",
        help: "a month, or a range of days (inclusive)",
    },
    Entry {
        words: &["by"],
        word: Word::By,
        usage: "by service|account|region|usage-type",
        help: "break the total down",
    },
    Entry {
        words: &["tag:", "category:"],
        word: Word::Pattern,
        usage: "by tag:team · by category:BusinessUnit",
        help: "by a cost allocation tag or cost category (untagged spend is its own row, with its share)",
    },
    Entry { words: &["top"], word: Word::Top, usage: "top N", help: "only the N largest (with `by`)" },
    Entry {
        words: &["service=", "account="],
        word: Word::Filter,
        usage: "service=ec2 · account=prod",
        help: "narrow to a service (aliases: ec2, rds, s3, lambda, …) or an account (id or name)",
    },
    Entry {
        words: &["team="],
        word: Word::Filter,
        usage: "team=payments · tag:env=prod · category:BusinessUnit=Retail",
        help: "narrow to a tag value (a configured tag key works without `tag:`) or a cost category value",
    },
    Entry {
        words: &["compare", "vs"],
        word: Word::Compare,
        usage: "compare",
        help: "against the previous period, like for like (one in progress against the same elapsed part), with deltas",
    },
    Entry {
        words: &["forecast"],
        word: Word::Forecast,
        usage: "forecast",
        help: "month-end projection with a range, from stored history",
    },
    Entry { words: &["anomalies", "alerts"], word: Word::Anomalies, usage: "anomalies", help: "open cost anomalies" },
    Entry {
        words: &["stats"],
        word: Word::Stats,
        usage: "anomalies stats",
        help: "alert precision per account from the channel's feedback, last 90 days",
    },
    Entry {
        words: &["offhours", "schedules"],
        word: Word::Offhours,
        usage: "offhours · offhours pause ID [until 2026-12-24] · offhours resume ID",
        help: "off-hours schedules: the next switch and the saving so far; approvers pause and resume them",
    },
    Entry {
        words: &["budget", "budgets"],
        word: Word::Budget,
        usage: "budget [NAME] · budget set NAME 12000",
        help: "budgets: spend against each, burn rate and month-end forecast; approvers change an amount",
    },
    Entry {
        words: &["keep"],
        word: Word::Keep,
        usage: "keep ID REASON",
        help: "the owner (or an approver) holds a proposal back for 30 days; the reason shows on its card",
    },
    Entry { words: &["help", "?"], word: Word::Help, usage: "help", help: "this help" },
];

/// Why a command was not understood. The message names the word and, where one is close, the
/// nearest valid word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A word outside the grammar.
    #[error("I don't know `{word}`{}", suggestion.as_ref().map(|s| format!(" — did you mean `{s}`?")).unwrap_or_default())]
    Unknown {
        /// The word (shortened if very long).
        word: String,
        /// The closest valid word, if any is close.
        suggestion: Option<String>,
    },
    /// A word that needs a value got none or a bad one.
    #[error("`{word}` needs {expected}")]
    Missing {
        /// The word.
        word: String,
        /// What should follow.
        expected: &'static str,
    },
    /// Two periods, two groupings, and the like.
    #[error("{0}")]
    Conflict(String),
    /// Something shaped like a date or a month that is not one, or is outside the years
    /// costbot answers for.
    #[error("`{word}` {reason}")]
    BadDate {
        /// The word (shortened if very long).
        word: String,
        /// Why it is not a usable date, e.g. "is not a calendar date: February 2026 has 28 days".
        reason: String,
    },
}

/// Longest word echoed back in an error, so a pasted novel does not come back at the user.
const MAX_ECHO: usize = 40;
/// Longest input considered; anything longer is not a command anyone typed.
const MAX_INPUT: usize = 1_000;

fn echo(word: &str) -> String {
    word.chars().take(MAX_ECHO).collect()
}

/// Splits on whitespace, keeping `"quoted values"` (straight or curly quotes) together.
fn tokens(text: &str) -> Vec<String> {
    let text: String = text.chars().take(MAX_INPUT).collect();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' | '“' | '”' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Parses the text after `/cost`. Never panics, whatever the input. Knows no tag keys:
/// `tag:` and `category:` are taken as typed; [`parse_in`] checks them against the
/// configured keys and accepts a bare `team=`.
pub fn parse(text: &str) -> Result<Command, ParseError> {
    parse_in(text, &Vocabulary::default())
}

/// [`parse`] with the configured tag keys and cost categories.
pub fn parse_in(text: &str, vocabulary: &Vocabulary) -> Result<Command, ParseError> {
    parse_words_in(&tokens(text), vocabulary)
}

/// Parses words already split apart (one `key=value` filter per word, values may hold
/// spaces): the REST API's query parameters go through the same grammar as `/cost` this way,
/// so a new word or filter kind reaches both at once. Never panics, whatever the input.
pub fn parse_words(words: &[String]) -> Result<Command, ParseError> {
    parse_words_in(words, &Vocabulary::default())
}

/// [`parse_words`] with the configured tag keys and cost categories.
pub fn parse_words_in(words: &[String], vocabulary: &Vocabulary) -> Result<Command, ParseError> {
    if let [first, rest @ ..] = words {
        if ["budget", "budgets"].contains(&first.to_lowercase().as_str()) {
            return budget::parse(rest);
        }
    }
    if let [first, verb, rest @ ..] = words {
        if ["offhours", "schedules"].contains(&first.to_lowercase().as_str()) {
            return subcommands::offhours(verb, rest);
        }
        if first.eq_ignore_ascii_case("keep") {
            return subcommands::keep(verb, rest);
        }
    }
    let mut state = Builder { vocabulary: vocabulary.clone(), ..Builder::default() };
    let mut i = 0;
    while i < words.len() {
        i += state.take(words, i)?;
    }
    state.finish()
}

#[derive(Default)]
struct Builder {
    period: Option<(Period, String)>,
    group: Option<GroupBy>,
    top: Option<u32>,
    filters: Filters,
    compare: bool,
    mode: Option<Word>,
    vocabulary: Vocabulary,
}

impl Builder {
    /// Consumes the token at `i` (and any value it takes); returns how many were used.
    fn take(&mut self, words: &[String], i: usize) -> Result<usize, ParseError> {
        let raw = &words[i];
        let word = raw.to_lowercase();
        let next = words.get(i + 1).map(|w| w.to_lowercase());
        if let Some((key, value)) = raw.split_once('=') {
            self.filter(key, value)?;
            return Ok(1);
        }
        if let Some(period) = simple_period(&word)? {
            self.set_period(period, &word)?;
            return Ok(1);
        }
        let entry = VOCABULARY.iter().find(|e| e.words.contains(&word.as_str()));
        match entry.map(|e| e.word) {
            Some(Word::Relative) => {
                let Some(unit) = next else {
                    return Err(missing(&word, "`week`, `month` or a number of days like `7d`"));
                };
                let period = relative(&word, &unit)
                    .ok_or_else(|| missing(&word, "`week`, `month` or a number of days like `7d`"))?;
                self.set_period(period, &format!("{word} {unit}"))?;
                Ok(2)
            }
            Some(Word::By) => {
                let tag = words.get(i + 1).and_then(|raw| self.vocabulary.group(raw)).transpose()?;
                let Some(g) = tag.or_else(|| next.as_deref().and_then(group)) else {
                    return Err(tags::unknown_group());
                };
                if self.group.replace(g).is_some() {
                    return Err(ParseError::Conflict("say `by` once".into()));
                }
                Ok(2)
            }
            Some(Word::Top) => {
                let n = next.as_deref().and_then(|n| n.parse::<u32>().ok()).filter(|n| (1..=100).contains(n));
                self.top = Some(n.ok_or_else(|| missing("top", "a number from 1 to 100"))?);
                Ok(2)
            }
            Some(Word::Compare) => {
                self.compare = true;
                Ok(1)
            }
            Some(mode @ (Word::Forecast | Word::Anomalies | Word::Stats | Word::Offhours | Word::Help)) => {
                // `anomalies stats` (in either order) asks for the statistics.
                if matches!(
                    (self.mode, mode),
                    (Some(Word::Anomalies), Word::Stats) | (Some(Word::Stats), Word::Anomalies)
                ) {
                    self.mode = Some(Word::Stats);
                    return Ok(1);
                }
                if self.mode.replace(mode).is_some_and(|m| m != mode) {
                    return Err(ParseError::Conflict("ask for one thing at a time".into()));
                }
                Ok(1)
            }
            Some(Word::Budget) => Err(ParseError::Conflict("say `budget` first: `/cost budget [NAME]`".into())),
            Some(Word::Keep) => Err(missing("keep", "a proposal id and a reason")),
            _ => Err(unknown(&word)),
        }
    }

    fn filter(&mut self, raw_key: &str, value: &str) -> Result<(), ParseError> {
        let key = raw_key.to_lowercase();
        let value = value.trim();
        if value.is_empty() {
            return Err(missing(&format!("{key}="), "a value"));
        }
        match key.as_str() {
            "service" | "services" | "svc" => self.filters.services.push(expand_service_alias(value)),
            "account" | "accounts" | "acct" => self.filters.accounts.push(value.to_string()),
            _ => match self.vocabulary.filter(raw_key, value) {
                Some(tag) => self.filters.tags.push(tag?),
                None => return Err(tags::unknown_filter(&key)),
            },
        }
        Ok(())
    }

    fn set_period(&mut self, period: Period, said: &str) -> Result<(), ParseError> {
        if let Some((_, before)) = &self.period {
            return Err(ParseError::Conflict(format!("two periods: `{before}` and `{said}`; say one")));
        }
        self.period = Some((period, said.to_string()));
        Ok(())
    }

    fn finish(self) -> Result<Command, ParseError> {
        match self.mode {
            Some(Word::Help) => Ok(Command::Help),
            Some(Word::Anomalies) => Ok(Command::Anomalies),
            Some(Word::Stats) => Ok(Command::AnomalyStats),
            Some(Word::Offhours) => Ok(Command::Offhours),
            Some(Word::Forecast) => Ok(Command::Forecast(self.filters)),
            _ => {
                if self.top.is_some() && self.group.is_none() {
                    return Err(ParseError::Conflict("`top N` needs a breakdown, e.g. `by service top 5`".into()));
                }
                let period = self.period.map_or(Period::MonthToDate, |(p, _)| p);
                Ok(Command::Report(Report {
                    period,
                    group: self.group,
                    top: self.top,
                    filters: self.filters,
                    compare: self.compare,
                }))
            }
        }
    }
}

fn missing(word: &str, expected: &'static str) -> ParseError {
    ParseError::Missing { word: echo(word), expected }
}

fn unknown(word: &str) -> ParseError {
    let candidates = VOCABULARY.iter().flat_map(|e| e.words.iter()).chain(GROUP_WORDS.iter().map(|(w, _)| w));
    let suggestion = candidates
        .map(|w| (strsim::damerau_levenshtein(word, w), *w))
        .filter(|(distance, w)| *distance <= (w.len() / 3).max(1))
        .min()
        .map(|(_, w)| w.to_string());
    ParseError::Unknown { word: echo(word), suggestion }
}

const GROUP_WORDS: &[(&str, GroupBy)] = &[
    ("service", GroupBy::Service),
    ("services", GroupBy::Service),
    ("account", GroupBy::Account),
    ("accounts", GroupBy::Account),
    ("region", GroupBy::Region),
    ("regions", GroupBy::Region),
    ("usage-type", GroupBy::UsageType),
    ("usage_type", GroupBy::UsageType),
    ("usagetype", GroupBy::UsageType),
    ("usage", GroupBy::UsageType),
];

fn group(word: &str) -> Option<GroupBy> {
    GROUP_WORDS.iter().find(|(w, _)| *w == word).map(|(_, g)| g.clone())
}

/// The help message, generated from the vocabulary.
pub fn help() -> Message {
    let rows = VOCABULARY.iter().map(|e| vec![e.usage.to_string(), e.help.to_string()]).collect();
    Message {
        fallback: "costbot commands".to_string(),
        blocks: vec![
            Block::Header { text: "/cost: ask about spend".to_string() },
            Block::Text {
                spans: vec![
                    Span::Plain("Combine words freely, e.g. ".into()),
                    Span::Code("/cost last month by service top 5 compare".into()),
                ],
            },
            Block::Table { columns: vec!["Say".into(), "Means".into()], right_align: vec![false, false], rows },
            Block::Context {
                spans: vec![Span::Plain("Answers come from costbot's store; they never wait on AWS.".into())],
            },
        ],
        tone: Tone::Neutral,
        attachments: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
