//! Query strings into questions. `/api/v1/costs` takes the `/cost` grammar's terms as
//! parameters (`?period=last month&by=service&top=5&service=ec2&account=prod&compare=true`)
//! and hands them to [`commands::parse_words`] as words, so every filter kind the grammar
//! knows, now or later, is a parameter here too, with the grammar's own error messages.

use crate::commands::{self, Command, Report, Vocabulary};

/// Parameters read at most per request; more is not a question anyone asks.
const MAX_PARAMS: usize = 50;
/// Longest parameter value accepted.
const MAX_VALUE: usize = 200;

/// Why a query string is not a question; answered with 400 and this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadQuery(pub String);

/// The `key=value` pairs of a query string, in order, repeated keys kept.
pub fn pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, BadQuery> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|e| BadQuery(format!("the query string cannot be read: {e}")))?;
    if pairs.len() > MAX_PARAMS {
        return Err(BadQuery(format!("at most {MAX_PARAMS} query parameters")));
    }
    if let Some((key, _)) = pairs.iter().find(|(k, v)| k.chars().count() > MAX_VALUE || v.chars().count() > MAX_VALUE) {
        let key: String = key.chars().take(40).collect();
        return Err(BadQuery(format!("`{key}` is longer than {MAX_VALUE} characters")));
    }
    Ok(pairs)
}

/// The spend report a `/api/v1/costs` query asks for.
pub fn report(pairs: &[(String, String)], vocabulary: &Vocabulary) -> Result<Report, BadQuery> {
    let mut words: Vec<String> = Vec::new();
    let mut period_seen = false;
    for (key, value) in pairs {
        let value = value.trim();
        match key.as_str() {
            "period" => {
                if std::mem::replace(&mut period_seen, true) {
                    return Err(BadQuery("give `period` once".into()));
                }
                words.extend(period_words(value)?);
            }
            "by" | "top" => {
                if value.is_empty() || value.contains(char::is_whitespace) {
                    return Err(BadQuery(format!("`{key}` takes one word, e.g. `by=service` or `top=5`")));
                }
                words.extend([key.clone(), value.to_string()]);
            }
            "compare" => match value {
                "" | "true" | "1" | "yes" => words.push("compare".into()),
                "false" | "0" | "no" => {}
                _ => return Err(BadQuery("`compare` is true or false".into())),
            },
            // Everything else is a filter (`service`, `account`, and whatever kinds the grammar
            // adds); a key the grammar does not know comes back as its "I don't know" error.
            _ => {
                if key.is_empty() || key.contains(|c: char| c == '=' || c.is_whitespace()) {
                    return Err(BadQuery(format!("`{}` is not a parameter", key.chars().take(40).collect::<String>())));
                }
                words.push(format!("{key}={value}"));
            }
        }
    }
    match commands::parse_words_in(&words, vocabulary) {
        Ok(Command::Report(report)) => Ok(report),
        Ok(_) => Err(BadQuery("/api/v1/costs answers spend questions only".into())),
        Err(e) => Err(BadQuery(e.to_string())),
    }
}

/// The words of a `period` value, checked to be a period and nothing else (so `period` cannot
/// smuggle in `forecast` or a breakdown).
fn period_words(value: &str) -> Result<Vec<String>, BadQuery> {
    let words: Vec<String> = value.split_whitespace().map(str::to_string).collect();
    let refuse = || {
        BadQuery(format!(
            "`{}` is not a period; try mtd, last month, 2026-10 or 2026-10-01..2026-10-15",
            value.chars().take(40).collect::<String>()
        ))
    };
    if words.is_empty() || words.iter().any(|w| w.contains('=')) {
        return Err(refuse());
    }
    match commands::parse_words(&words) {
        Ok(Command::Report(r)) if r.group.is_none() && r.top.is_none() && !r.compare => Ok(words),
        _ => Err(refuse()),
    }
}

/// A list parameter's values: `key=a&key=b`, and `key=a,b` too.
pub fn values<'a>(pairs: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

/// Refuses parameters a route does not take, so a typo is a 400 rather than ignored.
pub fn only(pairs: &[(String, String)], allowed: &[&str]) -> Result<(), BadQuery> {
    match pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        Some((key, _)) => Err(BadQuery(format!(
            "`{}` is not a parameter here; use {}",
            key.chars().take(40).collect::<String>(),
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{GroupBy, Period};

    fn ask(query: &str) -> Result<Report, BadQuery> {
        report(&pairs(Some(query))?, &Vocabulary::default())
    }

    #[test]
    fn parameters_are_the_grammars_words() {
        let r = ask("period=last%20month&by=service&top=3&service=ec2&account=prod&account=123456789012&compare=true")
            .unwrap();
        assert_eq!(r.period, Period::LastMonth);
        assert_eq!((r.group, r.top, r.compare), (Some(GroupBy::Service), Some(3), true));
        assert_eq!(r.filters.services, ["Amazon Elastic Compute Cloud - Compute"]);
        assert_eq!(r.filters.accounts, ["prod", "123456789012"]);
        let plain = ask("").unwrap();
        assert_eq!((plain.period, plain.group), (Period::MonthToDate, None));
        let spaced = ask("service=Amazon+Simple+Storage+Service&period=2026-10-01..2026-10-15").unwrap();
        assert_eq!(spaced.filters.services, ["Amazon Simple Storage Service"]);
    }

    #[test]
    fn bad_parameters_are_explained() {
        let err = |q: &str| ask(q).unwrap_err().0;
        assert!(err("by=servce").contains("`by` needs"), "{}", err("by=servce"));
        assert!(err("period=forecast").contains("is not a period"));
        assert!(err("period=mtd%20by%20service").contains("is not a period"));
        assert!(err("period=mtd&period=today").contains("once"));
        assert!(err("colour=red").contains("colour="));
        assert!(err("top=0&by=service").contains("1 to 100"));
        assert!(err("top=5").contains("needs a breakdown"));
        assert!(err("compare=maybe").contains("true or false"));
        assert!(err("period=2026-02-30").contains("2026-02-30"));
        assert!(pairs(Some(&"a=1&".repeat(51))).unwrap_err().0.contains("at most 50"));
        assert!(only(&pairs(Some("status=open&limt=3")).unwrap(), &["status", "limit"])
            .unwrap_err()
            .0
            .contains("limt"));
    }
}
