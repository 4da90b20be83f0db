//! The dashboard's cost trend as inline SVG, drawn in Rust: no chart library, no script, no
//! network, and the same picture in every browser. Amounts become pixel positions through
//! `f64` only for drawing; every number printed comes from the exact `Money`.

use chrono::{Datelike, NaiveDate};
use rust_decimal::prelude::ToPrimitive;

use crate::chat::console::render::escape;
use crate::domain::Money;

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A round axis maximum at or above `max`: 1, 2 or 5 times a power of ten.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|v| *v >= max).unwrap_or(10.0 * magnitude)
}

/// Whole dollars with thousands separators, for axis labels.
fn dollars(value: f64) -> String {
    let text = Money::from_cents((value * 100.0).round() as i64).to_string();
    text.strip_suffix(".00").map(str::to_string).unwrap_or(text)
}

/// Daily spend as bars, one per day (estimated days paler), with a label on the first of each
/// month and a tooltip with each day's exact amount.
pub fn trend(days: &[(NaiveDate, Money, bool)]) -> String {
    if days.is_empty() {
        return "<p class=\"empty\">No cost data yet.</p>".to_string();
    }
    let values: Vec<f64> = days.iter().map(|(_, m, _)| m.as_decimal().to_f64().unwrap_or(0.0).max(0.0)).collect();
    let ceiling = nice_ceiling(values.iter().copied().fold(0.0, f64::max));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let step = plot_w / days.len() as f64;
    let bar = (step * 0.8).max(1.0);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"Daily spend, {} to {}\">",
        days[0].0,
        days[days.len() - 1].0
    );
    for i in 0..=4 {
        let value = ceiling * f64::from(i) / 4.0;
        let y = TOP + plot_h - plot_h * f64::from(i) / 4.0;
        svg.push_str(&format!(
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            dollars(value)
        ));
    }
    for (i, ((day, amount, estimated), value)) in days.iter().zip(&values).enumerate() {
        let x = LEFT + step * i as f64 + (step - bar) / 2.0;
        let h = plot_h * value / ceiling;
        let class = if *estimated { "bar estimated" } else { "bar" };
        let note = if *estimated { " (estimated)" } else { "" };
        svg.push_str(&format!(
            "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\"><title>{}: {}{note}</title></rect>",
            TOP + plot_h - h,
            day.format("%a %b %-d"),
            escape(&amount.to_string())
        ));
        if day.day() == 1 {
            svg.push_str(&format!(
                "<text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
                HEIGHT - 8.0,
                day.format("%b %-d")
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(870.0), 1000.0);
        assert_eq!(nice_ceiling(1_234.0), 2000.0);
        assert_eq!(nice_ceiling(4_100.0), 5000.0);
        assert_eq!(dollars(2500.0), "$2,500");
    }

    #[test]
    fn a_small_trend_as_svg() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 10, 30).unwrap() + chrono::Days::new(u64::from(d));
        let days = vec![
            (day(0), Money::parse("1200.5").unwrap(), false),
            (day(1), Money::parse("1800").unwrap(), false),
            (day(2), Money::parse("950.25").unwrap(), false),
            (day(3), Money::parse("400").unwrap(), true),
        ];
        let svg = trend(&days);
        assert!(svg.contains("Nov 1: $950.25</title>"), "{svg}");
        assert!(svg.contains("class=\"bar estimated\""), "{svg}");
        insta::assert_snapshot!("dashboard_trend", svg);
    }
}
