//! Generated daily cost scenarios with labelled events, and a replay evaluation that runs a
//! detector the way the product does (once per day on the data collected so far).
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
/// Days replayed at the end of each series.
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

/// Replay counts for one detector.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Distinct alerts (series, start day).
    pub alerts: usize,
    /// Alerts whose start lies in a labelled event window.
    pub true_alerts: usize,
    /// Labelled events.
    pub events: usize,
    /// Events with at least one alert in their window.
    pub detected: usize,
    /// Per kind: (events, detected).
    pub per_kind: std::collections::BTreeMap<EventKind, (usize, usize)>,
    /// Per family: (series, false alerts).
    pub false_by_family: std::collections::BTreeMap<Family, (usize, usize)>,
}

impl Tally {
    /// Alert precision.
    pub fn precision(&self) -> f64 {
        ratio(self.true_alerts, self.alerts)
    }
    /// Event recall.
    pub fn recall(&self) -> f64 {
        ratio(self.detected, self.events)
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
    /// False alerts per series per 30 days for one family.
    pub fn false_per_month(&self, f: Family) -> f64 {
        let (series, fa) = self.false_by_family.get(&f).copied().unwrap_or((0, 0));
        ratio(fa, series) * 30.0 / REPLAY_DAYS as f64
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Replay every scenario: for each of the last [`REPLAY_DAYS`] days `d`, call `detect` with
/// the series and `as_of = d + 1` (so day `d` is the last complete day) and collect the
/// findings' `(start, end)`. As the product would, a finding that overlaps or touches an
/// incident already alerted on (see [`crate::domain::anomaly::Finding::same_incident`]) extends that
/// incident instead of raising a new alert; each incident counts once, by its first start.
pub fn replay<F>(scenarios: &[Scenario], mut detect: F) -> Tally
where
    F: FnMut(&[Point], NaiveDateTime) -> Vec<(NaiveDateTime, NaiveDateTime)>,
{
    let mut t = Tally::default();
    for sc in scenarios {
        let mut incidents: Vec<(i64, i64, i64)> = Vec::new(); // (first start, start, end)
        for d in DAYS - REPLAY_DAYS..DAYS {
            let as_of = day0() + Duration::days(d as i64 + 1);
            for (s, e) in detect(&sc.points, as_of) {
                let (s, e) = ((s - day0()).num_days(), (e - day0()).num_days());
                match incidents.iter_mut().find(|(_, a, b)| s <= *b + 1 && e + 1 >= *a) {
                    Some(inc) => {
                        inc.1 = inc.1.min(s);
                        inc.2 = inc.2.max(e);
                    }
                    None => incidents.push((s, s, e)),
                }
            }
        }
        let starts: Vec<i64> = incidents.iter().map(|i| i.0).collect();
        let in_window = |e: &Event, s: i64| s >= e.start as i64 && s <= (e.start + e.window) as i64;
        let mut false_alerts = 0;
        for &s in &starts {
            if sc.events.iter().any(|e| in_window(e, s) && e.material) {
                t.alerts += 1;
                t.true_alerts += 1;
            } else if !sc.events.iter().any(|e| in_window(e, s)) {
                t.alerts += 1;
                false_alerts += 1;
            }
        }
        for e in sc.events.iter().filter(|e| e.material) {
            let hit = starts.iter().any(|&s| in_window(e, s));
            t.events += 1;
            t.detected += usize::from(hit);
            let k = t.per_kind.entry(e.kind).or_default();
            k.0 += 1;
            k.1 += usize::from(hit);
        }
        let f = t.false_by_family.entry(sc.family).or_default();
        f.0 += 1;
        f.1 += false_alerts;
    }
    t
}
