//! The charts, both drawn with plotters: the digest's last 30 days of spend by top service as
//! stacked areas in a PNG ([`BitMapBackend`]), and the dashboard's daily spend as bars in SVG
//! ([`SVGBackend`]). Both frames come from one function, [`axes`], generic over the backend: a
//! day axis labelled where the caller says and a dollar axis from zero to a round maximum.
//! Pure (bytes and strings in memory, no files); the font is bundled so no system font library
//! is needed. Amounts are plotted as whole cents (`i64`), so the stacking sums are exact and no
//! float ever holds money.

use std::ops::Range;
use std::sync::Once;

use anyhow::{anyhow, Context, Result};
use chrono::{Datelike, NaiveDate};
use plotters::coord::combinators::{BindKeyPoints, WithKeyPoints};
use plotters::coord::types::{RangedCoordi32, RangedCoordi64};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::domain::band::BandDay;
use crate::domain::digest::Chart;
use crate::domain::Money;

/// Width of the digest's chart in pixels.
pub const WIDTH: u32 = 800;
/// Height of the digest's chart in pixels.
pub const HEIGHT: u32 = 400;
/// Size of the dashboard's trend in SVG user units. The page scales it to its width (about
/// 1,050 CSS pixels in the browser test's 1280-pixel window), so it is drawn at twice that
/// scale's resolution: plotters rounds to whole units, and at 90 bars a coarser grid made
/// neighbouring bars visibly unequal.
pub const TREND_SIZE: (u32, u32) = (1720, 480);

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
/// The page's colours (`assets/web/costbot.css`: `--accent`, `--line`, `--muted`), so the
/// dashboard's chart matches the page around it; estimated days are a paler accent.
const ACCENT: RGBColor = RGBColor(0x24, 0x57, 0xc5);
const ESTIMATED: RGBColor = RGBColor(0x9d, 0xb4, 0xe6);
const GRID: RGBColor = RGBColor(0xdf, 0xe3, 0xe8);
const MUTED: RGBColor = RGBColor(0x5d, 0x68, 0x75);

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

/// Ticks per day on the day axis, so a bar can take part of its day's column.
const TENTHS: i32 = 10;

/// An amount in whole cents (towards zero), the charts' vertical unit.
fn cents(m: Money) -> i64 {
    i64::try_from(m.to_units() / 100_000_000).unwrap_or(0)
}

/// A day index on the day axis.
fn day_x(index: usize) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX / TENTHS) * TENTHS
}

/// A round axis maximum in cents at or above `max`: 1, 2, 4, 6 or 8 times a power of ten, and
/// at least one dollar. Those steps keep the quarter grid lines on round amounts too, and leave
/// at most half the height empty (1, 2, 5 left the demo's $5,700 peak under a $10,000 top).
fn nice_ceiling(max: i64) -> i64 {
    let max = max.max(100);
    let mut magnitude = 1i64;
    while let Some(next) = magnitude.checked_mul(10).filter(|m| *m <= max) {
        magnitude = next;
    }
    [1, 2, 4, 6, 8]
        .into_iter()
        .filter_map(|m| magnitude.checked_mul(m))
        .find(|v| *v >= max)
        .unwrap_or_else(|| magnitude.checked_mul(10).unwrap_or(max))
}

/// Whole dollars with thousands separators, for axis labels.
fn dollars(cents: i64) -> String {
    let text = Money::from_cents(cents).to_string();
    text.strip_suffix(".00").map(str::to_string).unwrap_or(text)
}

/// One chart's frame, in the backend's pixels (or SVG units).
struct Axes<'a> {
    caption: Option<&'a str>,
    /// The day axis, in tenths of a day.
    x: Range<i32>,
    /// The day axis's labels and where they go.
    ticks: Vec<(i32, String)>,
    /// The largest value drawn, in cents; the axis runs to a round amount at or above it.
    max: i64,
    /// Label size.
    font: u32,
    /// Outer margin, and the room for the day and dollar labels.
    margin: u32,
    label_area: (u32, u32),
}

type Coords = Cartesian2d<WithKeyPoints<RangedCoordi32>, WithKeyPoints<RangedCoordi64>>;
type Drawn<T, DB> = std::result::Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The frame both charts share: horizontal grid lines at quarters of a round dollar maximum,
/// muted labels, and day labels only at the given points.
fn axes<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    a: &Axes<'_>,
) -> Drawn<ChartContext<'a, DB, Coords>, DB> {
    let ceiling = nice_ceiling(a.max);
    let quarters: Vec<i64> = (0..=4).map(|i| ceiling / 4 * i).collect();
    let mut builder = ChartBuilder::on(root);
    if let Some(caption) = a.caption {
        builder.caption(caption, ("sans-serif", a.font * 3 / 2));
    }
    let mut ctx = builder
        .margin(a.margin)
        .margin_right(a.margin * 3)
        .x_label_area_size(a.label_area.0)
        .y_label_area_size(a.label_area.1)
        .build_cartesian_2d(
            a.x.clone().with_key_points(a.ticks.iter().map(|(at, _)| *at).collect()),
            (0..ceiling).with_key_points(quarters),
        )?;
    let label = |x: &i32| a.ticks.iter().find(|(at, _)| at == x).map(|(_, l)| l.clone()).unwrap_or_default();
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&label)
        .y_label_formatter(&|v| dollars(*v))
        .label_style(("sans-serif", a.font).into_font().color(&MUTED))
        // Grid lines scale with the labels: one pixel in the digest, two units on the dashboard.
        .bold_line_style(GRID.stroke_width((a.font / 12).max(1)))
        // No axis lines: the grid line at zero is the base. The (invisible) tick marks keep the
        // labels a little away from the plot.
        .axis_style(TRANSPARENT)
        .set_all_tick_mark_size(a.font / 2)
        .draw()?;
    Ok(ctx)
}

/// Draws the digest's chart as a PNG of [`WIDTH`] × [`HEIGHT`] pixels. `None` when there is
/// nothing to draw (no day has data).
pub fn png(chart: &Chart, title: &str) -> Result<Option<Vec<u8>>> {
    if chart.totals.iter().all(Option::is_none) || chart.series.is_empty() {
        return Ok(None);
    }
    register_font()?;
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        stacked_areas(&root, chart, title).map_err(|e| anyhow!("drawing the chart: {e}"))?;
    }
    encode_png(&rgb, WIDTH, HEIGHT).map(Some)
}

fn stacked_areas<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart, title: &str) -> Drawn<(), DB> {
    root.fill(&WHITE)?;
    let days = chart.days.len();
    // Stack the series bottom-up: each band's top is the running sum of the series so far.
    let mut running = vec![0i64; days];
    let mut tops: Vec<Vec<i64>> = Vec::with_capacity(chart.series.len());
    for series in &chart.series {
        for (i, v) in series.values.iter().enumerate() {
            running[i] += v.map(cents).unwrap_or(0);
        }
        tops.push(running.clone());
    }
    let max = running.iter().copied().max().unwrap_or(0);
    let ticks = chart.days.iter().enumerate().step_by(5).map(|(i, d)| (day_x(i), d.format("%b %-d").to_string()));
    let frame = Axes {
        caption: Some(title),
        x: 0..day_x(days.saturating_sub(1).max(1)),
        ticks: ticks.collect(),
        max,
        font: 13,
        margin: 12,
        label_area: (30, 70),
    };
    let mut ctx = axes(root, &frame)?;
    // Draw the tallest band first so each smaller one paints over it.
    for (index, series) in chart.series.iter().enumerate().rev() {
        let color = if series.label == "Other" { OTHER } else { PALETTE[index % PALETTE.len()] };
        let points: Vec<(i32, i64)> = tops[index].iter().enumerate().map(|(i, v)| (day_x(i), *v)).collect();
        ctx.draw_series(AreaSeries::new(points, 0, color.mix(0.85)).border_style(color))?
            .label(series.label.chars().take(40).collect::<String>())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    legend(&mut ctx, 12)?;
    root.present()?;
    Ok(())
}

/// The legend both PNG charts draw in their upper left corner.
fn legend<'a, DB: DrawingBackend + 'a>(ctx: &mut ChartContext<'a, DB, Coords>, size: u32) -> Drawn<(), DB> {
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", size))
        .draw()
}

/// Size of an alert card's chart in pixels: small, because it sits under a card.
pub const ALERT_SIZE: (u32, u32) = (640, 260);
/// The band's colour (the palette's sky blue) and the anomalous days' (vermilion).
const BAND: RGBColor = RGBColor(86, 180, 233);
const ANOMALOUS: RGBColor = RGBColor(213, 94, 0);

/// Draws an alert's chart as a PNG of [`ALERT_SIZE`]: the expected band (p10–p90) as a pale
/// area, the daily spend as a line, the anomaly's days as larger orange dots. `None` when
/// there are no days.
pub fn band_png(days: &[BandDay], title: &str) -> Result<Option<Vec<u8>>> {
    if days.is_empty() {
        return Ok(None);
    }
    register_font()?;
    let (width, height) = ALERT_SIZE;
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, ALERT_SIZE).into_drawing_area();
        band_chart(&root, days, title).map_err(|e| anyhow!("drawing the alert chart: {e}"))?;
    }
    encode_png(&rgb, width, height).map(Some)
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().context("writing the PNG header")?;
    writer.write_image_data(rgb).context("encoding the chart")?;
    writer.finish().context("finishing the PNG")?;
    Ok(out)
}

fn band_chart<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, days: &[BandDay], title: &str) -> Drawn<(), DB> {
    root.fill(&WHITE)?;
    let actual: Vec<i64> = days.iter().map(|d| cents(d.actual).max(0)).collect();
    let low: Vec<i64> = days.iter().map(|d| cents(d.low).max(0)).collect();
    let high: Vec<i64> = days.iter().map(|d| cents(d.high).max(0)).collect();
    let max = actual.iter().chain(&high).copied().max().unwrap_or(0);
    let ticks = days.iter().enumerate().step_by(7).map(|(i, d)| (day_x(i), d.day.format("%b %-d").to_string()));
    let frame = Axes {
        caption: Some(title),
        x: 0..day_x(days.len().saturating_sub(1).max(1)),
        ticks: ticks.collect(),
        max,
        font: 12,
        margin: 8,
        label_area: (24, 64),
    };
    let mut ctx = axes(root, &frame)?;
    // The band: along the high edge, then back along the low edge.
    let outline: Vec<(i32, i64)> = high
        .iter()
        .enumerate()
        .map(|(i, v)| (day_x(i), *v))
        .chain(low.iter().enumerate().rev().map(|(i, v)| (day_x(i), *v)))
        .collect();
    ctx.draw_series(std::iter::once(Polygon::new(outline, BAND.mix(0.5).filled())))?
        .label("expected (p10–p90)")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], BAND.mix(0.5).filled()));
    let line: Vec<(i32, i64)> = actual.iter().enumerate().map(|(i, v)| (day_x(i), *v)).collect();
    ctx.draw_series(LineSeries::new(line, ACCENT.stroke_width(2)))?
        .label("daily spend")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 10, y)], ACCENT.stroke_width(2)));
    ctx.draw_series(
        days.iter()
            .zip(&actual)
            .enumerate()
            .filter(|(_, (d, _))| d.anomalous)
            .map(|(i, (_, v))| Circle::new((day_x(i), *v), 4, ANOMALOUS.filled())),
    )?;
    legend(&mut ctx, 11)?;
    root.present()?;
    Ok(())
}

/// Where one day's bar was drawn on the dashboard's trend, in SVG units, so the page can give
/// it a hover title with the day's exact amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarBox {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub width: i32,
    /// Height.
    pub height: i32,
}

/// Draws the dashboard's daily spend as SVG of [`TREND_SIZE`]: one bar per day (estimated days
/// paler) with a label on the first of each month. Returns the SVG and each day's bar box, in
/// the order of `days`; `None` when there are no days.
pub fn trend_svg(days: &[(NaiveDate, Money, bool)]) -> Result<Option<(String, Vec<BarBox>)>> {
    if days.is_empty() {
        return Ok(None);
    }
    register_font()?;
    let mut svg = String::new();
    let boxes = {
        let root = SVGBackend::with_string(&mut svg, TREND_SIZE).into_drawing_area();
        daily_bars(&root, days).map_err(|e| anyhow!("drawing the trend: {e}"))?
    };
    Ok(Some((svg, boxes)))
}

fn daily_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    days: &[(NaiveDate, Money, bool)],
) -> Drawn<Vec<BarBox>, DB> {
    let values: Vec<i64> = days.iter().map(|(_, m, _)| cents(*m).max(0)).collect();
    let ticks = days.iter().enumerate().filter(|(_, (day, _, _))| day.day() == 1);
    let frame = Axes {
        caption: None,
        x: 0..day_x(days.len()),
        ticks: ticks.map(|(i, (day, _, _))| (day_x(i) + TENTHS / 2, day.format("%b %-d").to_string())).collect(),
        max: values.iter().copied().max().unwrap_or(0),
        font: 26,
        margin: 16,
        label_area: (44, 130),
    };
    let mut ctx = axes(root, &frame)?;
    // Each bar takes the middle four fifths of its day's column.
    let corners = |i: usize, value: i64| [(day_x(i) + 1, value), (day_x(i) + TENTHS - 1, 0)];
    ctx.draw_series(days.iter().zip(&values).enumerate().map(|(i, ((_, _, estimated), value))| {
        let color = if *estimated { ESTIMATED } else { ACCENT };
        Rectangle::new(corners(i, *value), color.filled())
    }))?;
    root.present()?;
    let boxes = values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let [top_left, bottom_right] = corners(i, *value).map(|c| ctx.backend_coord(&c));
            BarBox {
                x: top_left.0,
                y: top_left.1,
                width: bottom_right.0 - top_left.0,
                height: bottom_right.1 - top_left.1,
            }
        })
        .collect();
    Ok(boxes)
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
    fn axis_maxima_are_round() {
        assert_eq!(nice_ceiling(0), 100);
        assert_eq!(nice_ceiling(87_000), 100_000);
        assert_eq!(nice_ceiling(123_400), 200_000);
        assert_eq!(nice_ceiling(350_000), 400_000);
        assert_eq!(nice_ceiling(570_000), 600_000);
        assert_eq!(nice_ceiling(800_000), 800_000);
        assert_eq!(nice_ceiling(800_001), 1_000_000);
        assert_eq!(nice_ceiling(i64::MAX), i64::MAX, "no round amount above it fits, so no overflow either");
        assert_eq!(dollars(250_000), "$2,500");
        assert_eq!(cents(Money::parse("12.349").unwrap()), 1234);
    }

    #[test]
    fn the_trend_is_svg_with_one_box_per_day_inside_the_picture() {
        let day: NaiveDate = "2026-10-30".parse().unwrap();
        let days: Vec<(NaiveDate, Money, bool)> =
            (0..4u64).map(|i| (day + Days::new(i), Money::from_cents(100_000 + 50_000 * i as i64), i == 3)).collect();
        let (svg, boxes) = trend_svg(&days).unwrap().expect("a chart");
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"), "{svg}");
        assert!(svg.contains("Nov 1") && svg.contains("$3,000"), "day and dollar labels: {svg}");
        assert_eq!(boxes.len(), days.len());
        // Taller amounts are taller bars, left to right, all inside the drawing.
        for pair in boxes.windows(2) {
            assert!(pair[0].x < pair[1].x && pair[0].height < pair[1].height, "{boxes:?}");
        }
        let (w, h) = (TREND_SIZE.0 as i32, TREND_SIZE.1 as i32);
        assert!(boxes.iter().all(|b| b.x > 0 && b.y > 0 && b.x + b.width < w && b.y + b.height < h), "{boxes:?}");
        assert_eq!(trend_svg(&[]).unwrap(), None);
    }

    #[test]
    fn the_alert_chart_is_a_small_png_with_the_band() {
        use crate::domain::band::expected_band;
        let day: NaiveDate = "2026-11-20".parse().unwrap();
        let daily: Vec<(NaiveDate, Money)> = (0..90u64)
            .map(|i| {
                let d = day - Days::new(i);
                (d, Money::from_cents(if i < 3 { 60_000 } else { 10_000 + (i as i64 % 7) * 500 }))
            })
            .collect();
        let days = expected_band(&daily, day - Days::new(2), day, day);
        let bytes = band_png(&days, "Amazon EC2, last 30 days").unwrap().expect("a chart");
        let reader = png::Decoder::new(std::io::Cursor::new(&bytes)).read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), ALERT_SIZE);
        assert!(bytes.len() > 3_000, "a real picture: {} bytes", bytes.len());
        assert_eq!(band_png(&[], "x").unwrap(), None);
    }

    #[test]
    fn nothing_to_draw_is_no_chart() {
        let day: NaiveDate = "2026-11-24".parse().unwrap();
        assert_eq!(png(&summarize(day, &[]).chart, "x").unwrap(), None);
    }
}
