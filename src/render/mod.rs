//! Pure functions from domain values to the neutral [`Message`](crate::domain::chat::message::Message)
//! model. Every message costbot sends is built here, so Slack, Discord and the console say the
//! same thing, and each is covered by snapshot tests.

pub mod alert;
pub mod answer;
pub mod approval;
pub mod approval_owner;
pub mod budget;
pub mod chart;
pub mod digest;
pub mod offhours;
mod platforms;
pub mod text;

use chrono::NaiveDateTime;
use rust_decimal::Decimal;

use crate::domain::Money;

/// A signed dollar change: `+$1,234.50`, `-$3.10`.
pub fn money_delta(amount: Money) -> String {
    if amount.is_negative() {
        amount.to_string()
    } else {
        format!("+{amount}")
    }
}

/// A signed percentage with at most one decimal: `+220.3%`, `-12%`.
pub fn percent_text(percent: Decimal) -> String {
    let rounded = percent.round_dp(1).normalize();
    if rounded.is_sign_negative() && !rounded.is_zero() {
        format!("{rounded}%")
    } else {
        format!("+{rounded}%")
    }
}

/// `Nov 16` for a timestamp, as people say dates in chat.
pub fn short_day(at: NaiveDateTime) -> String {
    at.format("%b %-d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_and_percentages_are_signed() {
        assert_eq!(money_delta(Money::parse("1234.5").unwrap()), "+$1,234.50");
        assert_eq!(money_delta(Money::parse("-3.1").unwrap()), "-$3.10");
        assert_eq!(percent_text("220.34".parse().unwrap()), "+220.3%");
        assert_eq!(percent_text("-12.00".parse().unwrap()), "-12%");
        assert_eq!(short_day("2026-11-06T00:00:00".parse().unwrap()), "Nov 6");
    }
}
