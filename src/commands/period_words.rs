//! The words of the `/cost` grammar that name a period: `mtd`, `yesterday`, `7d`, a month
//! (`2026-10`), a day or a range of days, `this week` / `last month`. Each either is a period,
//! is not one (`Ok(None)`, so the parser tries the next meaning), or looks like one and is
//! wrong (`Err`, with the reason said back to the person).

use chrono::NaiveDate;

use super::period::{self, Period};
use super::{echo, ParseError};

pub(super) fn simple_period(word: &str) -> Result<Option<Period>, ParseError> {
    match word {
        "mtd" => return Ok(Some(Period::MonthToDate)),
        "today" => return Ok(Some(Period::Today)),
        "yesterday" => return Ok(Some(Period::Yesterday)),
        _ => {}
    }
    if let Some(n) = days(word) {
        return Ok(Some(Period::LastDays(n)));
    }
    if let Some((a, b)) = word.split_once("..") {
        let (Some(a), Some(b)) = (date(a)?, date(b)?) else { return Ok(None) };
        let span = (b - a).num_days().unsigned_abs();
        if span >= u64::from(period::MAX_DAYS) {
            return Err(bad_date(word, format!("covers more than {} days; ask for a shorter range", period::MAX_DAYS)));
        }
        return Ok(Some(Period::Between(a, b)));
    }
    if let Some(d) = date(word)? {
        return Ok(Some(Period::Between(d, d)));
    }
    match numbers(word).as_deref() {
        Some([y, m]) => {
            let y = year(word, y)?;
            let m = m.parse::<u32>().ok().filter(|m| (1..=12).contains(m));
            let m = m.ok_or_else(|| bad_date(word, "is not a month: months run from 01 to 12".into()))?;
            Ok(Some(Period::Month(y, m)))
        }
        _ => Ok(None),
    }
}

fn bad_date(word: &str, reason: String) -> ParseError {
    ParseError::BadDate { word: echo(word), reason }
}

/// The digit groups of a word shaped like `2026-10-03` or `2026-10` (a leading sign kept on
/// the first group), or `None` when it is not shaped like a date at all.
fn numbers(word: &str) -> Option<Vec<&str>> {
    // A leading sign, `+262142-12-31` or `-2026-01-01`, is a year chrono would accept and
    // costbot does not; it stays on the first group so the year check names it.
    let unsigned = word.strip_prefix(['+', '-']).unwrap_or(word);
    let mut groups: Vec<&str> = unsigned.split('-').collect();
    let digits = |g: &&str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&groups.len()) || !groups.iter().all(digits) {
        return None;
    }
    if unsigned.len() != word.len() {
        groups[0] = &word[..=groups[0].len()];
    }
    Some(groups)
}

/// A year within [`period::MIN_YEAR`]..=[`period::MAX_YEAR`], or an error naming the word.
fn year(word: &str, digits: &str) -> Result<i32, ParseError> {
    digits
        .parse::<i32>()
        .ok()
        .filter(|y| (period::MIN_YEAR..=period::MAX_YEAR).contains(y) && !digits.starts_with(['+', '-']))
        .ok_or_else(|| {
            bad_date(
                word,
                format!("is outside the years costbot answers for ({}–{})", period::MIN_YEAR, period::MAX_YEAR),
            )
        })
}

/// A calendar date `YYYY-MM-DD`; `Ok(None)` when the word is not shaped like one, an error
/// naming the problem when it is shaped like one but is not a date.
pub(super) fn date(word: &str) -> Result<Option<NaiveDate>, ParseError> {
    let Some([y, m, d]) = numbers(word).as_deref().and_then(|g| <[&str; 3]>::try_from(g).ok()) else {
        return Ok(None);
    };
    let y = year(word, y)?;
    let m = m.parse::<u32>().ok().filter(|m| (1..=12).contains(m));
    let m = m.ok_or_else(|| bad_date(word, "is not a calendar date: months run from 01 to 12".into()))?;
    let d = d.parse::<u32>().unwrap_or(u32::MAX);
    NaiveDate::from_ymd_opt(y, m, d).map(Some).ok_or_else(|| {
        let first = NaiveDate::from_ymd_opt(y, m, 1);
        let next = first.and_then(|f| f.checked_add_months(chrono::Months::new(1)));
        let length = first.zip(next).map_or(31, |(f, n)| (n - f).num_days());
        let month = first.map_or_else(String::new, |f| f.format("%B %Y").to_string());
        bad_date(word, format!("is not a calendar date: {month} has {length} days"))
    })
}

/// `7d`, `30d`, `90d` (any N from 1 to 400).
fn days(word: &str) -> Option<u32> {
    let n: u32 = word.strip_suffix('d')?.parse().ok()?;
    (1..=period::MAX_DAYS).contains(&n).then_some(n)
}

pub(super) fn relative(this_or_last: &str, unit: &str) -> Option<Period> {
    match (this_or_last, unit) {
        ("this", "week") => Some(Period::ThisWeek),
        ("this", "month") => Some(Period::ThisMonth),
        ("last", "week") => Some(Period::LastWeek),
        ("last", "month") => Some(Period::LastMonth),
        ("last", n) => {
            days(n).or_else(|| n.parse().ok().filter(|n| (1..=period::MAX_DAYS).contains(n))).map(Period::LastDays)
        }
        _ => None,
    }
}
