//! `/cost budget [NAME]` and `/cost budget set NAME AMOUNT`, and the filter terms that budget
//! scopes share with `/cost` (so a filter `/cost` learns, a budget scope takes too).

use super::{missing, unknown, Builder, Command, Filters, ParseError};
use crate::domain::budget::{check_amount, BudgetName};
use crate::domain::Money;

/// What follows `budget`: nothing (every budget), a name, or `set NAME AMOUNT`.
pub(super) fn parse(rest: &[String]) -> Result<Command, ParseError> {
    match rest {
        [] => Ok(Command::Budget(None)),
        [verb, args @ ..] if verb.eq_ignore_ascii_case("set") => match args {
            [name, amount] => Ok(Command::BudgetSet { name: name_of(name)?, amount: amount_of(amount)? }),
            [_] | [] => {
                Err(missing("budget set", "a budget name and a monthly amount, e.g. `budget set payments 12000`"))
            }
            [_, _, extra, ..] => Err(unknown(&extra.to_lowercase())),
        },
        [name] => Ok(Command::Budget(Some(name_of(name)?))),
        [_, extra, ..] => Err(unknown(&extra.to_lowercase())),
    }
}

fn name_of(word: &str) -> Result<BudgetName, ParseError> {
    BudgetName::parse(word).map_err(|e| ParseError::Conflict(e.to_string()))
}

/// A monthly amount as people type it: `12000`, `12,000`, `$12,000.50`; more than zero.
fn amount_of(word: &str) -> Result<Money, ParseError> {
    let cleaned: String = word.trim().trim_start_matches('$').chars().filter(|c| *c != ',').collect();
    let amount = Money::parse(&cleaned)
        .ok()
        .filter(|_| cleaned.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-'))
        .ok_or_else(|| missing("budget set", "an amount in dollars like 12000 or 12,000.50"))?;
    check_amount(amount).map_err(|e| ParseError::Conflict(e.to_string()))
}

/// Parses filter terms alone (`account=payments service=ec2`), as a budget's scope is
/// written: the same `key=value` words `/cost` takes, through the same parser, and nothing
/// else.
pub fn parse_filters(text: &str) -> Result<Filters, ParseError> {
    parse_filters_in(text, &super::Vocabulary::default())
}

/// [`parse_filters`] with the configured tag keys, so a scope can say `team=payments`.
pub fn parse_filters_in(text: &str, vocabulary: &super::Vocabulary) -> Result<Filters, ParseError> {
    let mut builder = Builder { vocabulary: vocabulary.clone(), ..Builder::default() };
    for word in super::tokens(text) {
        match word.split_once('=') {
            Some((key, value)) => builder.filter(&key.to_lowercase(), value)?,
            None => return Err(missing(&word.to_lowercase(), "to be a filter like `account=prod` or `service=ec2`")),
        }
    }
    Ok(builder.filters)
}

#[cfg(test)]
mod tests {
    use super::super::parse as parse_command;
    use super::*;

    #[test]
    fn budget_questions_and_changes_parse() {
        assert_eq!(parse_command("budget"), Ok(Command::Budget(None)));
        assert_eq!(parse_command("budgets"), Ok(Command::Budget(None)));
        assert_eq!(parse_command("budget Payments"), Ok(Command::Budget(Some(BudgetName::parse("payments").unwrap()))));
        let set = parse_command("budget set payments $12,000.50").unwrap();
        assert_eq!(
            set,
            Command::BudgetSet {
                name: BudgetName::parse("payments").unwrap(),
                amount: Money::parse("12000.50").unwrap()
            }
        );
    }

    #[test]
    fn bad_budget_commands_say_what_is_wrong() {
        for (text, expected) in [
            ("budget set payments", "needs a budget name and a monthly amount"),
            ("budget set payments lots", "needs an amount in dollars"),
            ("budget set payments 0", "more than $0"),
            ("budget set payments -5", "more than $0"),
            ("budget set payments 1e3", "needs an amount in dollars"),
            ("budget set pay;ments 10", "is not a budget name"),
            ("budget payments extra", "I don't know `extra`"),
        ] {
            let error = parse_command(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn scopes_take_the_cost_filters_and_nothing_else() {
        let filters = parse_filters("account=payments service=ec2 \"service=AWS Lambda\"").unwrap();
        assert_eq!(filters.accounts, vec!["payments".to_string()]);
        assert_eq!(filters.services, vec!["Amazon Elastic Compute Cloud - Compute".to_string(), "AWS Lambda".into()]);
        assert_eq!(parse_filters("").unwrap(), Filters::default());
        assert!(parse_filters("by service").is_err());
        assert!(parse_filters("colour=blue").unwrap_err().to_string().contains("colour="));
    }
}
