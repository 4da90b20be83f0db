//! `[anomaly]`: detection thresholds, with per-account and per-service overrides.

use serde::Deserialize;

use crate::domain::money::NumberOrText;
use crate::domain::AccountId;

/// A decimal written as a TOML number or string (`50`, `12.5`, `"0.40"`), kept exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "NumberOrText")]
pub struct ExactDecimal(pub rust_decimal::Decimal);

impl TryFrom<NumberOrText> for ExactDecimal {
    type Error = String;
    fn try_from(value: NumberOrText) -> Result<Self, Self::Error> {
        let text = value.into_text();
        text.trim().parse().map(ExactDecimal).map_err(|_| format!("`{text}` is not a decimal number"))
    }
}

/// Anomaly detection settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalyConfig {
    /// Run detection after each collection.
    pub enabled: bool,
    /// Days of history loaded for scoring.
    pub lookback_days: u64,
    /// Minimum dollar impact over the anomaly's duration.
    pub min_impact: ExactDecimal,
    /// Minimum impact as a percentage of expected spend.
    pub min_percent: ExactDecimal,
    /// Minimum robust score (how far outside the noise).
    pub min_score: f64,
    /// Per-account or per-service thresholds.
    pub overrides: Vec<ThresholdOverride>,
    /// Announce drops in spend too (off: a drop is information, not an alert).
    pub alert_drops: bool,
    /// Tag keys (from `[costs] tag_keys`) whose values each get their own series, so a team
    /// sees its own spikes.
    pub by_tags: Vec<String>,
    /// Score usage only (Cost Explorer's usage record types), not net spend, so credits,
    /// refunds, tax and monthly fees never alert. Costs one more request per payer and run.
    pub usage_only: bool,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            enabled: true,
            lookback_days: 100,
            min_impact: ExactDecimal(rust_decimal::Decimal::new(50, 0)),
            min_percent: ExactDecimal(rust_decimal::Decimal::new(20, 0)),
            min_score: 7.0,
            overrides: Vec::new(),
            alert_drops: false,
            by_tags: Vec::new(),
            usage_only: true,
        }
    }
}

/// Thresholds for one account, or one service in one account; unset values fall back to the
/// defaults in `[anomaly]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdOverride {
    /// The account.
    pub account: AccountId,
    /// The service; without it the override applies to the account's total.
    pub service: Option<String>,
    /// See [`AnomalyConfig::min_impact`].
    pub min_impact: Option<ExactDecimal>,
    /// See [`AnomalyConfig::min_percent`].
    pub min_percent: Option<ExactDecimal>,
    /// See [`AnomalyConfig::min_score`].
    pub min_score: Option<f64>,
}

impl AnomalyConfig {
    /// The detector's threshold set: defaults plus overrides keyed `account/service` (or
    /// `account/*` for the account total).
    pub fn threshold_set(&self) -> crate::domain::anomaly::ThresholdSet {
        use crate::domain::anomaly::{ThresholdSet, Thresholds};
        let default =
            Thresholds { min_impact: self.min_impact.0, min_percent: self.min_percent.0, min_score: self.min_score };
        let overrides = self
            .overrides
            .iter()
            .map(|o| {
                let key = format!("{}/{}", o.account, o.service.as_deref().unwrap_or("*"));
                let t = Thresholds {
                    min_impact: o.min_impact.map_or(default.min_impact, |d| d.0),
                    min_percent: o.min_percent.map_or(default.min_percent, |d| d.0),
                    min_score: o.min_score.unwrap_or(default.min_score),
                };
                (key, t)
            })
            .collect();
        ThresholdSet { default, overrides, alert_drops: self.alert_drops }
    }
}
