//! The digest's chart: the last 30 days of spend by top service, drawn as stacked areas into
//! a PNG. Pure (bytes in memory, no files); the font is bundled so no system font library is
//! needed. Floats appear only as pixel coordinates, never in a sum of money.

use std::sync::Once;

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::domain::digest::Chart;
use crate::domain::Money;

/// Width of the chart in pixels.
pub const WIDTH: u32 = 800;
/// Height of the chart in pixels.
pub const HEIGHT: u32 = 400;

/// DejaVu Sans (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Colour-blind-safe palette (Okabe–Ito), one per series; "Other" is grey.
const PALETTE: [RGBColor; 5] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
];
const OTHER: RGBColor = RGBColor(160, 160, 160);

fn register_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut ok = true;
    ONCE.call_once(|| ok = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the bundled chart font could not be loaded"))
    }
}

fn dollars(m: Money) -> f64 {
    m.as_decimal().try_into().unwrap_or(0.0)
}

/// Draws the chart as a PNG of [`WIDTH`] × [`HEIGHT`] pixels. `None` when there is nothing to
/// draw (no day has data).
pub fn png(chart: &Chart, title: &str) -> Result<Option<Vec<u8>>> {
    if chart.totals.iter().all(Option::is_none) || chart.series.is_empty() {
        return Ok(None);
    }
    register_font()?;
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw(chart, title, &mut rgb).map_err(|e| anyhow!("drawing the chart: {e}"))?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().context("writing the PNG header")?;
    writer.write_image_data(&rgb).context("encoding the chart")?;
    writer.finish().context("finishing the PNG")?;
    Ok(Some(out))
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn draw(chart: &Chart, title: &str, rgb: &mut [u8]) -> DrawResult {
    let root = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let days = chart.days.len();
    // Stack the series bottom-up: each band's top is the running sum of the series so far.
    let mut tops: Vec<Vec<f64>> = Vec::with_capacity(chart.series.len());
    let mut running = vec![0.0f64; days];
    for series in &chart.series {
        for (i, v) in series.values.iter().enumerate() {
            running[i] += v.map(dollars).unwrap_or(0.0);
        }
        tops.push(running.clone());
    }
    let max = running.iter().copied().fold(0.0f64, f64::max).max(1.0) * 1.1;
    let mut ctx = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0usize..days.saturating_sub(1).max(1), 0.0..max)?;
    let labels: Vec<String> = chart.days.iter().map(|d| d.format("%b %-d").to_string()).collect();
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_labels(6)
        .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
        .y_label_formatter(&|v| format!("${v:.0}"))
        .label_style(("sans-serif", 13))
        .draw()?;
    // Draw the tallest band first so each smaller one paints over it.
    for (index, series) in chart.series.iter().enumerate().rev() {
        let color = if series.label == "Other" { OTHER } else { PALETTE[index % PALETTE.len()] };
        let points: Vec<(usize, f64)> = tops[index].iter().copied().enumerate().collect();
        ctx.draw_series(AreaSeries::new(points, 0.0, color.mix(0.85)).border_style(color))?
            .label(series.label.chars().take(40).collect::<String>())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 12))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::digest::{summarize, ServiceDay};
    use chrono::{Days, NaiveDate};

    #[test]
    fn the_chart_is_a_png_of_the_promised_size() {
        let day: NaiveDate = "2026-11-24".parse().unwrap();
        let matrix: Vec<ServiceDay> = (0..30u64)
            .flat_map(|i| {
                ["Amazon EC2", "Amazon RDS", "Amazon S3"].into_iter().enumerate().map(move |(k, s)| ServiceDay {
                    day: day - Days::new(i),
                    service: s.into(),
                    amount: Money::from_cents(10_000 / (k as i64 + 1) + i as i64 * 100),
                    estimated: false,
                })
            })
            .collect();
        let summary = summarize(day, &matrix);
        let bytes = png(&summary.chart, "Last 30 days").unwrap().expect("a chart");
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (WIDTH, HEIGHT));
        assert!(bytes.len() > 5_000, "a real picture, not a blank: {} bytes", bytes.len());
    }

    #[test]
    fn nothing_to_draw_is_no_chart() {
        let day: NaiveDate = "2026-11-24".parse().unwrap();
        assert_eq!(png(&summarize(day, &[]).chart, "x").unwrap(), None);
    }
}
