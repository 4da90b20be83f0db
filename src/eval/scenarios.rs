//! Generated daily cost scenarios with labelled events, written out in NAB layout so that
//! `costbot eval series` replays them through the detection job's own pass like any other
//! labelled data (there is no separate scenario replay).
//!
//! Every series has 400 days with weekly seasonality (weekend lower), compound growth,
//! multiplicative log-normal noise and ~1 % missing days. Families: anomaly-free, spikes
//! (1–3 days), level shifts up, new services, slow drift (unlabelled, should not alert),
//! rapid ramps, drops (spend falling to a fraction, labelled as a drop event), and monthly
//! recurring charges on the 1st (unlabelled).

use crate::domain::anomaly::Point;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

/// Days per generated series.
pub const DAYS: usize = 400;
/// Days at the end of each series where events are placed (the series' first 100 days are
/// event-free history).
pub const REPLAY_DAYS: usize = 300;

/// Small deterministic generator (xorshift64*), so scenarios do not depend on a rand crate.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator; a zero seed is remapped because xorshift would stay at zero.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [a, b).
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.unit()
    }
    /// Uniform integer in [a, b).
    pub fn int(&mut self, a: usize, b: usize) -> usize {
        a + (self.next_u64() % (b.saturating_sub(a).max(1) as u64)) as usize
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Labelled event kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// 1–3 days of extra spend.
    Spike,
    /// Persistent step up.
    LevelShift,
    /// First spend after a history of zero.
    NewService,
    /// Fast increase over 4–7 days.
    Ramp,
    /// Spend falls to a fraction of its level.
    Drop,
}

/// A labelled event; a finding starting in `start..=start + window` detects it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// Kind.
    pub kind: EventKind,
    /// First affected day index.
    pub start: usize,
    /// Detection tolerance in days.
    pub window: usize,
    /// False when the event's extra (or missing) spend over its first three days is under
    /// $50 or 20 %, the default gates: the product should stay silent, so such an event is
    /// neither counted as missed nor do alerts in its window count as false.
    pub material: bool,
}

/// Family of a generated series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// No event.
    Clean,
    /// Spikes.
    Spikes,
    /// Level shift up.
    Shift,
    /// New service.
    NewService,
    /// Slow unlabelled creep.
    Drift,
    /// Rapid ramp.
    Ramp,
    /// Drop.
    Drop,
    /// A recurring charge on the 1st of every month (support, subscriptions; unlabelled,
    /// should not alert once it has recurred).
    Monthly,
}

/// All families, in generation order.
pub const FAMILIES: [Family; 8] = [
    Family::Clean,
    Family::Spikes,
    Family::Shift,
    Family::NewService,
    Family::Drift,
    Family::Ramp,
    Family::Drop,
    Family::Monthly,
];

/// One generated series.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Family.
    pub family: Family,
    /// Daily points (some days missing).
    pub points: Vec<Point>,
    /// Labelled events.
    pub events: Vec<Event>,
}

/// Day 0 of every series (a Monday).
pub fn day0() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
}

/// Generate `per_family` series of every family from `seed`.
pub fn generate(seed: u64, per_family: usize) -> Vec<Scenario> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for k in 0..per_family {
        for fam in FAMILIES {
            out.push(one(&mut rng, fam, k));
        }
    }
    out
}

fn one(rng: &mut Rng, family: Family, k: usize) -> Scenario {
    // Every tenth series is tiny (cents a day) so the dollar gate is exercised.
    let level = if k % 10 == 9 { rng.range(0.1, 2.0) } else { (rng.range(5.0f64.ln(), 5000.0f64.ln())).exp() };
    let noise = rng.range(0.02, 0.15);
    let weekend = rng.range(0.4, 1.0);
    let growth = (1.0 + rng.range(0.0, 0.10)).powf(1.0 / 30.0);
    let mut mult = vec![1.0f64; DAYS];
    let (mut events, exists_from) = inject(rng, family, &mut mult);
    let base = |d: usize| {
        let season = if d % 7 >= 5 { weekend } else { 1.0 };
        level * growth.powi(d as i32) * season
    };
    mark_material(&mut events, &mult, base);
    let zero_rows = k.is_multiple_of(2);
    let mut points = Vec::with_capacity(DAYS);
    for (d, m) in mult.iter().enumerate() {
        if rng.unit() < 0.01 {
            continue;
        }
        let at = day0() + Duration::days(d as i64);
        let v = if d < exists_from {
            if !zero_rows {
                continue;
            }
            0.0
        } else {
            // Day 0 is a Monday, so d % 7 >= 5 is the weekend.
            base(d) * m * (noise * rng.normal()).exp()
        };
        let amount = Decimal::from_f64(v).unwrap_or_default().round_dp(2);
        points.push(Point { at, amount, estimated: false });
    }
    Scenario { family, points, events }
}

/// Inject the family's events into the multipliers; returns the labelled events and the
/// first day the key exists (0 unless it is a new service).
fn inject(rng: &mut Rng, family: Family, mult: &mut [f64]) -> (Vec<Event>, usize) {
    let mut events = Vec::new();
    let lo = DAYS - REPLAY_DAYS + 20;
    let mut exists_from = 0usize;
    match family {
        Family::Clean => {}
        Family::Monthly => {
            let fee = rng.range(1.0, 4.0);
            for (d, m) in mult.iter_mut().enumerate() {
                if (day0() + Duration::days(d as i64)).day() == 1 {
                    *m *= 1.0 + fee;
                }
            }
        }
        Family::Spikes => {
            let n = rng.int(1, 4);
            for j in 0..n {
                let seg = (DAYS - 10 - lo) / n;
                let s = lo + j * seg + rng.int(0, seg.saturating_sub(5).max(1));
                let len = rng.int(1, 4);
                let size = rng.range(0.6, 3.0);
                for m in &mut mult[s..(s + len).min(DAYS)] {
                    *m *= 1.0 + size;
                }
                events.push(Event { kind: EventKind::Spike, start: s, window: 3, material: true });
            }
        }
        Family::Shift | Family::Drop => {
            let s = rng.int(lo, DAYS - 10);
            let f = if family == Family::Shift { 1.0 + rng.range(0.4, 1.5) } else { rng.range(0.05, 0.5) };
            for m in &mut mult[s..] {
                *m *= f;
            }
            let kind = if family == Family::Shift { EventKind::LevelShift } else { EventKind::Drop };
            events.push(Event { kind, start: s, window: 3, material: true });
        }
        Family::NewService => {
            exists_from = rng.int(lo, DAYS - 10);
            events.push(Event { kind: EventKind::NewService, start: exists_from, window: 3, material: true });
        }
        Family::Drift => {
            // Slow creep: +0.2 % to +0.6 % a day, compounding, from a random day on.
            let s = rng.int(lo - 100, DAYS - 60);
            let r = rng.range(0.002, 0.006);
            for (i, m) in mult.iter_mut().enumerate().skip(s) {
                *m *= (1.0 + r).powi((i - s) as i32);
            }
        }
        Family::Ramp => {
            let s = rng.int(lo, DAYS - 12);
            let len = rng.int(4, 8);
            let total = rng.range(1.0, 2.5);
            for (i, m) in mult.iter_mut().enumerate().skip(s) {
                let frac = ((i - s + 1) as f64 / len as f64).min(1.0);
                *m *= 1.0 + total * frac;
            }
            events.push(Event { kind: EventKind::Ramp, start: s, window: 5, material: true });
        }
    }
    (events, exists_from)
}

/// An event is material when its extra (or missing) spend over its first three days
/// passes the default gates ($50 and 20 %).
fn mark_material(events: &mut [Event], mult: &[f64], base: impl Fn(usize) -> f64) {
    for e in events.iter_mut() {
        let days = e.start..(e.start + 3).min(DAYS);
        let (mut delta, mut before) = (0.0, 0.0);
        for d in days {
            let m = if e.kind == EventKind::NewService { 2.0 } else { mult[d] };
            delta += base(d) * (m - 1.0).abs();
            before += base(d);
        }
        e.material = delta >= 50.0 && delta >= 0.2 * before;
    }
}

/// File-name prefix of a family in the written layout (`data/scenarios/<prefix>_<k>.csv`).
pub fn family_prefix(f: Family) -> String {
    format!("{f:?}").to_lowercase()
}

fn nab_ts(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Write scenarios in NAB layout under `dir`, so `costbot eval series` reads them like any
/// other labelled data: `data/scenarios/<family>_<k>.csv` (`timestamp,value`, the exact
/// amounts), `labels/combined_windows.json` (per material event, its start day through
/// `start + window` days), `labels/combined_labels.json` (the event starts) and
/// `labels/neutral_windows.json` (events too small to pass the default gates: an alert there
/// is neither true nor false).
pub fn write_layout(dir: &std::path::Path, scenarios: &[Scenario]) -> Result<(), String> {
    use serde_json::{json, Map, Value};
    let data = dir.join("data/scenarios");
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    std::fs::create_dir_all(dir.join("labels")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (mut windows, mut labels, mut neutral) = (Map::new(), Map::new(), Map::new());
    let mut counts: std::collections::BTreeMap<Family, usize> = Default::default();
    for sc in scenarios {
        let k = counts.entry(sc.family).or_default();
        let file = format!("{}_{:04}.csv", family_prefix(sc.family), k);
        *k += 1;
        let mut csv = String::from("timestamp,value\n");
        for p in &sc.points {
            csv += &format!("{},{}\n", p.at.format("%Y-%m-%d %H:%M:%S"), p.amount);
        }
        std::fs::write(data.join(&file), csv).map_err(|e| format!("{file}: {e}"))?;
        let day = |d: usize| day0() + Duration::days(d as i64);
        let win = |e: &Event| json!([nab_ts(day(e.start)), nab_ts(day(e.start + e.window))]);
        let name = format!("scenarios/{file}");
        let material: Vec<&Event> = sc.events.iter().filter(|e| e.material).collect();
        windows.insert(name.clone(), Value::Array(material.iter().map(|e| win(e)).collect()));
        labels.insert(name.clone(), Value::Array(material.iter().map(|e| json!(nab_ts(day(e.start)))).collect()));
        neutral.insert(name, Value::Array(sc.events.iter().filter(|e| !e.material).map(win).collect()));
    }
    for (file, v) in
        [("combined_windows.json", windows), ("combined_labels.json", labels), ("neutral_windows.json", neutral)]
    {
        let text = serde_json::to_string_pretty(&Value::Object(v)).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("labels").join(file), text).map_err(|e| format!("{file}: {e}"))?;
    }
    Ok(())
}
