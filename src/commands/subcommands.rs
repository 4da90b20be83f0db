//! The subcommands that name a proposal or a schedule by id: `offhours pause|resume` and
//! `keep`. They take the words after their first one, so they are parsed apart from the
//! report vocabulary.

use super::period_words::date;
use super::{missing, unknown, Command, ParseError};
use crate::domain::proposal::ProposalId;

/// The longest Keep reason kept; the rest is cut so a card stays readable.
const MAX_REASON: usize = 200;

/// `pause ID [until DATE]` and `resume ID`, after `offhours`.
pub(super) fn offhours(verb: &str, rest: &[String]) -> Result<Command, ParseError> {
    let verb = verb.to_lowercase();
    let id = || {
        rest.first()
            .filter(|id| id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .map(|id| ProposalId(id.clone()))
            .ok_or_else(|| missing(&format!("offhours {verb}"), "a schedule id from `/cost offhours`"))
    };
    match (verb.as_str(), rest) {
        ("pause", [_]) => Ok(Command::OffhoursPause { id: id()?, until: None }),
        ("pause", [_, word, day]) if word.eq_ignore_ascii_case("until") => {
            let until = date(day)?.ok_or_else(|| missing("until", "a date like 2026-12-24"))?;
            Ok(Command::OffhoursPause { id: id()?, until: Some(until) })
        }
        ("pause", [_, word, ..]) if word.eq_ignore_ascii_case("until") => {
            Err(missing("until", "a date like 2026-12-24"))
        }
        ("pause", []) | ("resume", []) => Err(id().unwrap_err()),
        ("resume", [_]) => Ok(Command::OffhoursResume { id: id()? }),
        ("pause" | "resume", [_, extra, ..]) => Err(unknown(&extra.to_lowercase())),
        _ => Err(unknown(&verb)),
    }
}

/// `keep ID REASON…`: the reason is every word after the id.
pub(super) fn keep(id: &str, reason: &[String]) -> Result<Command, ParseError> {
    let valid = id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(missing("keep", "a proposal id from its card"));
    }
    let reason: String = reason.join(" ").trim().chars().take(MAX_REASON).collect();
    if reason.is_empty() {
        return Err(missing(&format!("keep {id}"), "a reason, e.g. `keep pr-1 needed for the release`"));
    }
    Ok(Command::Keep { id: ProposalId(id.to_string()), reason })
}
