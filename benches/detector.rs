//! The main crate's benchmark: score 10,000 daily series of 400 points each (target < 100 ms
//! on one core).

use chrono::Duration;
use costbot::domain::anomaly::{Detector, Finding, Granularity, Point, Thresholds};
use costbot::eval::scenarios::{day0, generate, FAMILIES};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::time::Duration as StdDuration;

fn series() -> Vec<Vec<Point>> {
    generate(7, 10_000 / FAMILIES.len() + 1).into_iter().take(10_000).map(|s| s.points).collect()
}

fn bench(c: &mut Criterion) {
    let all = series();
    let as_of = day0() + Duration::days(400);
    let thr = Thresholds::default();
    let mut det = Detector::default();
    let mut out: Vec<Finding> = Vec::new();
    let mut g = c.benchmark_group("detector");
    g.sample_size(10).measurement_time(StdDuration::from_secs(5));
    g.bench_function("10k_series_x_400_days", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for s in &all {
                det.detect_into(black_box(s), Granularity::Daily, as_of, &thr, &mut out);
                n += out.len();
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
