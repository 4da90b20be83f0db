//! `costbot eval series <dir>`: the product's own path on any labelled series.
//!
//! Each CSV of a directory in NAB layout (`data/<folder>/<file>.csv` with `timestamp,value`,
//! `labels/combined_windows.json`) is one cost series, daily or hourly. It is replayed period
//! by period as collections would arrive: at each period's end, one
//! [`run_pass`] (the detection job's pure part: the detector with the configured `[anomaly]`
//! gates, reconciliation with the open anomalies, roll-up suppression) over the history the
//! job would load (`lookback_days`), and [`apply`] keeps the open anomalies as the store
//! would. Every *opened* anomaly is one alert. The seed plan's z-score runs through the same
//! pass for comparison.
//!
//! Optional label files: `labels/combined_labels.json` (the anomaly instants; time to first
//! alert is measured from the label in a window, else from the window's start) and
//! `labels/neutral_windows.json` (windows where an alert is neither true nor false, such as
//! the generator's events too small to pass the gates).

use super::nab::{normalize, probationary_length, score_at, sweep_file, CostMatrix};
use super::nab_io::{list_data_files, load_windows, parse_ts, Windows};
use crate::domain::anomaly::baseline::ZScoreBaseline;
use crate::domain::anomaly::pass::{apply, run_pass};
use crate::domain::anomaly::{Detector, DetectorConfig, Point, ThresholdSet};
use crate::domain::incident::{Change, Scope, SeriesKey};
use crate::domain::{AccountId, Granularity, ServiceName};
use chrono::{Days, NaiveDateTime};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// What the detection job is configured with (`[anomaly]`).
#[derive(Debug, Clone)]
pub struct Gates {
    /// Thresholds with per-key overrides (keys are `000000000000/<folder>/<file>`).
    pub thresholds: ThresholdSet,
    /// Days of history the job loads for each run.
    pub lookback_days: u64,
}

/// One labelled series read from a directory.
#[derive(Debug, Clone)]
pub struct LabelledSeries {
    /// `"<folder>/<file>.csv"`.
    pub name: String,
    /// Daily or hourly, from the median spacing of the rows.
    pub granularity: Granularity,
    /// The rows as cost points.
    pub points: Vec<Point>,
}

/// The account every evaluated series is filed under (overrides use it).
pub const EVAL_ACCOUNT: &str = "000000000000";

/// Family of a file: its folder and the part of its name before the first `_`.
pub fn family(name: &str) -> String {
    let (folder, file) = name.split_once('/').unwrap_or(("", name));
    let stem = file.strip_suffix(".csv").unwrap_or(file);
    let prefix = stem.split('_').next().unwrap_or(stem);
    format!("{folder}/{prefix}")
}

/// Read every `data/*/*.csv` under `root` as a daily or hourly series; files with other
/// spacings (NAB's 5-minute metrics) are returned by name as skipped.
pub fn load_series(root: &Path) -> Result<(Vec<LabelledSeries>, Vec<String>), String> {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for name in list_data_files(root)? {
        let path = root.join("data").join(&name);
        let mut rdr = csv::Reader::from_path(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let headers = rdr.headers().map_err(|e| e.to_string())?.clone();
        let col = |n: &str| headers.iter().position(|h| h.trim() == n);
        let (Some(ts_i), Some(val_i)) = (col("timestamp"), col("value")) else {
            return Err(format!("{}: needs timestamp and value columns", path.display()));
        };
        let mut points = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
            let at = parse_ts(rec.get(ts_i).unwrap_or(""))?;
            let text = rec.get(val_i).unwrap_or("").trim();
            let amount = Decimal::from_str(text)
                .or_else(|_| Decimal::from_scientific(text))
                .map_err(|_| format!("{}: value {text:?} is not a number", path.display()))?;
            points.push(Point { at, amount, estimated: false });
        }
        points.sort_by_key(|p| p.at);
        match granularity_of(&points) {
            Some(granularity) => out.push(LabelledSeries { name, granularity, points }),
            None => skipped.push(name),
        }
    }
    Ok((out, skipped))
}

fn granularity_of(points: &[Point]) -> Option<Granularity> {
    let mut steps: Vec<i64> = points.windows(2).map(|w| (w[1].at - w[0].at).num_seconds()).collect();
    if steps.len() < 2 {
        return None;
    }
    let mid = steps.len() / 2;
    match *steps.select_nth_unstable(mid).1 {
        86_400 => Some(Granularity::Daily),
        3_600 => Some(Granularity::Hourly),
        _ => None,
    }
}

fn period_secs(g: Granularity) -> i64 {
    crate::domain::anomaly::Granularity::from(g).seconds()
}

/// One alert: when it was raised and the anomaly's first period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alert {
    /// `as_of` of the run that opened it (the end of the last complete period).
    pub raised: NaiveDateTime,
    /// First anomalous period.
    pub start: NaiveDateTime,
}

/// Which detector a replay runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The product detector.
    Costbot,
    /// The seed plan's z-score baseline.
    SeedZScore,
}

/// Periods at the start of a series that are not replayed: NAB's probation, and at least
/// the detector's baseline (12 weeks of days, 4 weeks of hours), so a replay starts where
/// the product would have had a full history.
pub fn warmup(s: &LabelledSeries) -> usize {
    let cfg = DetectorConfig::default();
    let base = match s.granularity {
        Granularity::Daily => cfg.daily_baseline_weeks * 7,
        Granularity::Hourly => cfg.hourly_baseline_weeks * 168,
    };
    (probationary_length(s.points.len()) as usize).max(base)
}

/// Replay one series period by period and return its alerts and the number of periods
/// replayed.
pub fn replay(s: &LabelledSeries, which: Which, gates: &Gates) -> (Vec<Alert>, usize) {
    let Some(first) = s.points.first() else { return (Vec::new(), 0) };
    let Some(last) = s.points.last() else { return (Vec::new(), 0) };
    let secs = period_secs(s.granularity);
    let slot = |t: NaiveDateTime| t.and_utc().timestamp().div_euclid(secs);
    let key = SeriesKey {
        granularity: s.granularity,
        scope: Scope::Service {
            account: AccountId::parse(EVAL_ACCOUNT).expect("constant account id is valid"),
            service: ServiceName::parse(&s.name).unwrap_or_else(|_| ServiceName::parse("series").expect("constant")),
        },
    };
    let mut det = Detector::default();
    let mut zb = ZScoreBaseline::default();
    let recent = det.config().recent_days;
    let mut open = Vec::new();
    let mut alerts = Vec::new();
    let (s0, s1) = (slot(first.at), slot(last.at));
    let from = s0 + warmup(s) as i64;
    for k in from..=s1 {
        let as_of = crate::domain::anomaly::series::time_of(k + 1, secs);
        let lo = as_of.date().checked_sub_days(Days::new(gates.lookback_days)).unwrap_or(as_of.date());
        let lo = lo.and_hms_opt(0, 0, 0).unwrap_or(as_of);
        let a = s.points.partition_point(|p| p.at < lo);
        let b = s.points.partition_point(|p| p.at < as_of);
        let window = &s.points[a..b];
        // Files carry no channel feedback, so no series is tuned.
        let untuned = std::collections::BTreeMap::new();
        let pass = match which {
            Which::Costbot => run_pass(
                |p, g, t, thr| det.detect(p, g, t, thr),
                [(&key, window)],
                &open,
                as_of,
                &gates.thresholds,
                &untuned,
            ),
            Which::SeedZScore => run_pass(
                |p, g, t, thr| zb.detect(p, g, t, thr, recent),
                [(&key, window)],
                &open,
                as_of,
                &gates.thresholds,
                &untuned,
            ),
        };
        for c in &pass.changes {
            if let Change::Opened(a) = c {
                alerts.push(Alert { raised: as_of, start: a.start });
            }
        }
        apply(&mut open, &pass.changes);
    }
    (alerts, (s1 - from + 1).max(0) as usize)
}

/// Counts for one family and one detector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FamilyScore {
    /// Series in the family.
    pub series: usize,
    /// Alerts that count (outside neutral windows).
    pub alerts: usize,
    /// Alerts whose anomaly starts inside a labelled window.
    pub true_alerts: usize,
    /// Labelled windows (after the warm-up).
    pub windows: usize,
    /// Windows with at least one true alert.
    pub detected: usize,
    /// Periods from the anomaly's start to the first alert, per detected window.
    pub latencies: Vec<f64>,
    /// Days replayed over all series.
    pub days: f64,
    /// Raw NAB score (standard profile) and windows counted, for normalisation.
    pub nab_raw: f64,
    /// Windows NAB counts (after its probation).
    pub nab_windows: usize,
}

impl FamilyScore {
    /// Share of alerts that are true.
    pub fn precision(&self) -> f64 {
        ratio(self.true_alerts, self.alerts)
    }
    /// Share of windows detected.
    pub fn recall(&self) -> f64 {
        ratio(self.detected, self.windows)
    }
    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    /// False alerts per series per 30 days.
    pub fn false_per_series_month(&self) -> f64 {
        if self.days == 0.0 {
            0.0
        } else {
            (self.alerts - self.true_alerts) as f64 * 30.0 / self.days
        }
    }
    /// Median periods to the first alert (NaN when nothing was detected).
    pub fn median_latency(&self) -> f64 {
        let mut l = self.latencies.clone();
        l.sort_by(f64::total_cmp);
        l.get(l.len() / 2).copied().unwrap_or(f64::NAN)
    }
    /// NAB standard score normalised over the family's windows.
    pub fn nab(&self) -> f64 {
        normalize(self.nab_raw, self.nab_windows, STANDARD)
    }

    fn add(&mut self, o: &FamilyScore) {
        self.series += o.series;
        self.alerts += o.alerts;
        self.true_alerts += o.true_alerts;
        self.windows += o.windows;
        self.detected += o.detected;
        self.latencies.extend_from_slice(&o.latencies);
        self.days += o.days;
        self.nab_raw += o.nab_raw;
        self.nab_windows += o.nab_windows;
    }
}

const STANDARD: CostMatrix = CostMatrix { tp: 1.0, fp: 0.11, fn_: 1.0 };

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Labels of a directory: windows, optional neutral windows, optional label instants.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    /// Anomaly windows per file.
    pub windows: Windows,
    /// Windows where alerts neither count as true nor as false.
    pub neutral: Windows,
    /// Labelled anomaly instants per file.
    pub instants: BTreeMap<String, Vec<NaiveDateTime>>,
}

/// Load `labels/combined_windows.json` and the optional label files.
pub fn load_labels(root: &Path) -> Result<Labels, String> {
    let windows = load_windows(root)?;
    let neutral_path = root.join("labels/neutral_windows.json");
    let neutral = if neutral_path.exists() { super::nab_io::load_windows_file(&neutral_path)? } else { Windows::new() };
    let instants_path = root.join("labels/combined_labels.json");
    let instants = if instants_path.exists() { super::nab_io::load_instants(&instants_path)? } else { BTreeMap::new() };
    Ok(Labels { windows, neutral, instants })
}

/// Score one series' alerts against its labels.
pub fn score_series_alerts(s: &LabelledSeries, alerts: &[Alert], replayed: usize, labels: &Labels) -> FamilyScore {
    let secs = period_secs(s.granularity) as f64;
    let empty = Vec::new();
    let ws = labels.windows.get(&s.name).unwrap_or(&empty);
    let neutral = labels.neutral.get(&s.name).unwrap_or(&empty);
    let instants = labels.instants.get(&s.name);
    let replay_from = s.points.get(warmup(s).min(s.points.len().saturating_sub(1))).map(|p| p.at);
    // Alerts carry period starts and NAB rows may sit a second past them (realAdExchange),
    // so windows are compared by period.
    let floor = |t: NaiveDateTime| crate::domain::anomaly::series::slot_of(t, secs as i64);
    let inside =
        |t: NaiveDateTime, w: &(NaiveDateTime, NaiveDateTime)| floor(t) >= floor(w.0) && floor(t) <= floor(w.1);
    let mut f = FamilyScore { series: 1, days: replayed as f64 * secs / 86_400.0, ..FamilyScore::default() };
    for a in alerts {
        if ws.iter().any(|w| inside(a.start, w)) {
            f.alerts += 1;
            f.true_alerts += 1;
        } else if !neutral.iter().any(|w| inside(a.start, w)) {
            f.alerts += 1;
        }
    }
    for w in ws.iter().filter(|w| replay_from.is_none_or(|r| w.1 >= r)) {
        f.windows += 1;
        let onset = instants.and_then(|v| v.iter().find(|t| inside(**t, w)).copied()).unwrap_or(w.0);
        let first = alerts.iter().filter(|a| inside(a.start, w)).map(|a| a.raised).min();
        if let Some(raised) = first {
            f.detected += 1;
            // 0 = raised by the first run that could see the first anomalous period.
            f.latencies.push(((raised - onset).num_seconds() as f64 / secs - 1.0).max(0.0));
        }
    }
    // NAB: a detection is the row of the last complete period when the alert was raised.
    let ts: Vec<NaiveDateTime> = s.points.iter().map(|p| p.at).collect();
    let mut scores = vec![0.0; ts.len()];
    for a in alerts {
        let row = ts.partition_point(|t| *t < a.raised).saturating_sub(1);
        if let Some(v) = scores.get_mut(row) {
            *v = 1.0;
        }
    }
    let rows = sweep_file(&ts, &scores, ws, STANDARD, 0);
    let o = score_at(&rows, 0.5, STANDARD);
    f.nab_raw = o.score;
    f.nab_windows = o.windows;
    f
}

/// Per family (and `"all"` last): costbot's and the seed z-score's scores.
pub type Families = Vec<(String, FamilyScore, FamilyScore)>;

/// The scores and the files that were not daily or hourly.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Per family, `"all"` last.
    pub families: Families,
    /// Files skipped because their rows are neither one day nor one hour apart.
    pub skipped: Vec<String>,
}

/// Replay every series under `root` with both detectors and score them per family.
pub fn evaluate(root: &Path, gates: &Gates) -> Result<Report, String> {
    let labels = load_labels(root)?;
    let (series, skipped) = load_series(root)?;
    if series.is_empty() {
        return Err(format!("{}: no daily or hourly series under data/*/*.csv", root.display()));
    }
    let mut fams: BTreeMap<String, (FamilyScore, FamilyScore)> = BTreeMap::new();
    for s in &series {
        let entry = fams.entry(family(&s.name)).or_default();
        let (ours, n) = replay(s, Which::Costbot, gates);
        entry.0.add(&score_series_alerts(s, &ours, n, &labels));
        let (seed, n) = replay(s, Which::SeedZScore, gates);
        entry.1.add(&score_series_alerts(s, &seed, n, &labels));
    }
    let mut all = (FamilyScore::default(), FamilyScore::default());
    let mut families: Families = Vec::new();
    for (name, (a, b)) in fams {
        all.0.add(&a);
        all.1.add(&b);
        families.push((name, a, b));
    }
    families.push(("all".to_string(), all.0, all.1));
    Ok(Report { families, skipped })
}

/// Plain-text table of a report.
pub fn render(report: &Report) -> String {
    let head = format!("{:>6} {:>5} {:>5} {:>5} {:>6} {:>7} {:>6}", "alerts", "P", "R", "F1", "TTA", "FA/s-m", "NAB");
    let mut s = format!("{:<28} {:>6} | {head} | {head}\n", "family", "series");
    for (name, a, b) in &report.families {
        let cols = |f: &FamilyScore| {
            format!(
                "{:>6} {:>5.3} {:>5.3} {:>5.3} {:>6.1} {:>7.3} {:>6.1}",
                f.alerts,
                f.precision(),
                f.recall(),
                f.f1(),
                f.median_latency(),
                f.false_per_series_month(),
                f.nab()
            )
        };
        s += &format!("{:<28} {:>6} | {} | {}\n", name, a.series, cols(a), cols(b));
    }
    s += "left: costbot (the detection job's pass); right: the seed plan's z-score through the same pass.\n\
          P/R/F1 over labelled windows; TTA = median periods from anomaly start to first alert (0 = the first \
          run that could see it); FA/s-m = false alerts per series-month; NAB = standard profile, normalised \
          over the family's windows.\n";
    if !report.skipped.is_empty() {
        s += &format!("skipped {} files that are neither daily nor hourly\n", report.skipped.len());
    }
    s
}
