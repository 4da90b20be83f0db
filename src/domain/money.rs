//! Exact money.
//!
//! Cost Explorer reports amounts as decimal strings with up to ten fractional digits
//! (`"0.0000000036"`). Summing those as floats loses cents over a month of hourly rows, so
//! costbot keeps every amount as an exact decimal and stores it as an integer count of
//! 10⁻¹⁰ USD ("units"). Sums in SQL are then integer sums, which both Postgres and SQLite
//! compute exactly.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub};
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Number of fractional digits costbot keeps. Cost Explorer never sends more than this.
pub const SCALE: u32 = 10;

/// An exact amount of money in one currency (costbot only handles USD, as Cost Explorer does).
///
/// Invariant: the inner decimal never has more than [`SCALE`] fractional digits, so
/// [`Money::to_units`] is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Money(Decimal);

/// Why a string is not a valid amount.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    /// The text is not a decimal number.
    #[error("`{0}` is not a decimal amount")]
    NotADecimal(String),
    /// The amount is too large to be stored as 10⁻¹⁰ units in a signed 64-bit integer.
    #[error("amount `{0}` is out of range")]
    OutOfRange(String),
}

impl Money {
    /// Zero dollars.
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Parses a decimal string such as Cost Explorer's `"40.3543773134"`.
    ///
    /// Digits beyond the tenth decimal place are rounded half-to-even (banker's rounding),
    /// because they are below any unit a bill is paid in and Cost Explorer does not send them.
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        let trimmed = text.trim();
        let value = Decimal::from_str(trimmed)
            .or_else(|_| Decimal::from_scientific(trimmed))
            .map_err(|_| MoneyError::NotADecimal(text.to_string()))?;
        let money = Money::from_decimal(value);
        // Reject amounts that cannot be stored, instead of failing later in the store.
        i64::try_from(money.to_units()).map_err(|_| MoneyError::OutOfRange(text.to_string()))?;
        Ok(money)
    }

    /// Wraps a decimal, rounding it to [`SCALE`] fractional digits.
    pub fn from_decimal(value: Decimal) -> Money {
        let rounded = if value.scale() > SCALE {
            value.round_dp_with_strategy(SCALE, RoundingStrategy::MidpointNearestEven)
        } else {
            value
        };
        Money(rounded.normalize())
    }

    /// Builds an amount from whole cents, which is how tests and thresholds are written.
    pub fn from_cents(cents: i64) -> Money {
        Money(Decimal::new(cents, 2).normalize())
    }

    /// Builds an amount from 10⁻¹⁰ units, the stored representation.
    pub fn from_units(units: i128) -> Money {
        Money(Decimal::from_i128_with_scale(units, SCALE).normalize())
    }

    /// The amount as an integer count of 10⁻¹⁰ units. Exact by the type's invariant.
    pub fn to_units(self) -> i128 {
        let mut value = self.0;
        value.rescale(SCALE);
        value.mantissa()
    }

    /// The exact decimal value.
    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    /// Rounds to whole cents (half away from zero, as invoices do) for display.
    pub fn round_cents(self) -> Money {
        Money(self.0.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
    }

    /// True when the amount is below zero (credits and refunds are negative).
    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    /// The absolute value.
    pub fn abs(self) -> Money {
        Money(self.0.abs())
    }
}

/// A decimal as people write it in configuration: a TOML integer, float or string (`50`,
/// `0.4`, `"12.5"`). Types that must stay exact deserialize through it with
/// `#[serde(try_from = "NumberOrText")]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NumberOrText {
    /// `50`
    Int(i64),
    /// `0.4`
    Float(f64),
    /// `"0.40"`
    Text(String),
}

impl NumberOrText {
    /// The text the person wrote. A TOML float prints back as the shortest text that reads as
    /// the same float, which is what was written (`0.4`), so parsing this text keeps it exact.
    pub fn into_text(self) -> String {
        match self {
            NumberOrText::Int(i) => i.to_string(),
            NumberOrText::Float(f) => f.to_string(),
            NumberOrText::Text(t) => t,
        }
    }
}

impl fmt::Display for Money {
    /// Formats as dollars with a thousands separator and two decimals: `$1,234.57`, `-$3.10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cents = self.round_cents().0;
        let sign = if cents.is_sign_negative() && !cents.is_zero() { "-" } else { "" };
        let text = format!("{:.2}", cents.abs());
        let (whole, frac) = text.split_once('.').unwrap_or((&text, "00"));
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        write!(f, "{sign}${grouped}.{frac}")
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl TryFrom<String> for Money {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Money::parse(&value)
    }
}

impl From<Money> for String {
    fn from(value: Money) -> String {
        value.0.to_string()
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 += rhs.0;
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Money> for Money {
    fn sum<I: Iterator<Item = &'a Money>>(iter: I) -> Money {
        iter.copied().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cost_explorer_amounts_exactly() {
        let a = Money::parse("40.3543773134").unwrap();
        let b = Money::parse("0.2682364644").unwrap();
        assert_eq!((a + b).to_string(), "$40.62");
        assert_eq!((a + b).as_decimal().to_string(), "40.6226137778");
        assert_eq!(a.to_units(), 403_543_773_134);
    }

    #[test]
    fn many_small_amounts_sum_exactly_where_floats_drift() {
        let tenth_cent = Money::parse("0.001").unwrap();
        let total: Money = std::iter::repeat_n(tenth_cent, 1_000_000).sum();
        assert_eq!(total, Money::from_cents(100_000));
        let float_total: f64 = std::iter::repeat_n(0.001f64, 1_000_000).sum();
        assert_ne!(float_total, 1000.0, "the float sum is the reason Money exists");
    }

    #[test]
    fn units_round_trip() {
        for text in ["0", "-12.5", "0.0000000001", "123456789.0123456789", "1e-3"] {
            let m = Money::parse(text).unwrap();
            assert_eq!(Money::from_units(m.to_units()), m, "{text}");
        }
    }

    #[test]
    fn extra_digits_round_half_even() {
        assert_eq!(Money::parse("0.00000000005").unwrap(), Money::ZERO);
        assert_eq!(Money::parse("0.00000000015").unwrap().to_units(), 2);
    }

    #[test]
    fn rejects_garbage_and_out_of_range() {
        assert!(matches!(Money::parse("12,50"), Err(MoneyError::NotADecimal(_))));
        assert!(matches!(Money::parse(""), Err(MoneyError::NotADecimal(_))));
        assert!(matches!(Money::parse("NaN"), Err(MoneyError::NotADecimal(_))));
        assert!(matches!(Money::parse("1000000000000"), Err(MoneyError::OutOfRange(_))));
    }

    #[test]
    fn displays_dollars_with_separators() {
        assert_eq!(Money::parse("1234567.891").unwrap().to_string(), "$1,234,567.89");
        assert_eq!(Money::parse("-3.1").unwrap().to_string(), "-$3.10");
        assert_eq!(Money::parse("-0.001").unwrap().to_string(), "$0.00");
        assert_eq!(Money::parse("0.005").unwrap().to_string(), "$0.01");
    }
}
