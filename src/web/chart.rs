//! The dashboard's cost trend as inline SVG: the bars are drawn by plotters
//! ([`crate::render::chart::trend_svg`], the same chart code as the digest's PNG), and this
//! wraps them in the page's `<svg>` with an accessible label and, over each bar, a hover title
//! with the day's exact amount. No script, no network, and the same picture in every browser.

use anyhow::Result;
use chrono::NaiveDate;
use maud::{html, Markup, PreEscaped};

use crate::domain::Money;
use crate::render::chart::{trend_svg, TREND_SIZE};

/// Daily spend as bars, one per day (estimated days paler), with a label on the first of each
/// month and a tooltip with each day's exact amount.
pub fn trend(days: &[(NaiveDate, Money, bool)]) -> Result<Markup> {
    let Some((plotted, boxes)) = trend_svg(days)? else {
        return Ok(html! { p.empty { "No cost data yet." } });
    };
    let (first, last) = (days[0].0, days[days.len() - 1].0);
    Ok(html! {
        svg.chart viewBox={ "0 0 " (TREND_SIZE.0) " " (TREND_SIZE.1) } role="img"
            aria-label={ "Daily spend, " (first) " to " (last) } {
            // plotters escapes the text it draws (our own dates and dollar labels).
            (PreEscaped(plotted))
            @for ((day, amount, estimated), b) in days.iter().zip(&boxes) {
                rect class=(if *estimated { "bar estimated" } else { "bar" })
                    x=(b.x) y=(b.y) width=(b.width) height=(b.height) {
                    title { (day.format("%a %b %-d")) ": " (amount) @if *estimated { " (estimated)" } }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_trend_as_svg() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 10, 30).unwrap() + chrono::Days::new(u64::from(d));
        let days = vec![
            (day(0), Money::parse("1200.5").unwrap(), false),
            (day(1), Money::parse("1800").unwrap(), false),
            (day(2), Money::parse("950.25").unwrap(), false),
            (day(3), Money::parse("400").unwrap(), true),
        ];
        let svg = trend(&days).unwrap().into_string();
        assert!(svg.contains("Nov 1: $950.25</title>"), "{svg}");
        assert!(svg.contains("class=\"bar estimated\""), "{svg}");
        assert!(svg.contains("aria-label=\"Daily spend, 2026-10-30 to 2026-11-02\""), "{svg}");
        insta::assert_snapshot!("dashboard_trend", svg);
    }

    #[test]
    fn no_days_is_a_sentence_not_a_chart() {
        assert_eq!(trend(&[]).unwrap().into_string(), "<p class=\"empty\">No cost data yet.</p>");
    }
}
