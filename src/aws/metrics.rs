//! CloudWatch activity over the idle window, fetched with `GetMetricData` in batches.
//!
//! One `GetMetricData` request carries up to 500 metric queries, so a region with a thousand
//! running instances costs a handful of requests rather than three `GetMetricStatistics` per
//! instance. Which resources are asked about is decided by the caller (only those an enabled
//! rule could flag); this module plans the batches, sends them, and summarises the answers.
//!
//! "No data" is kept apart from "zero": when CloudWatch has no datapoints for a series, that
//! number is `None`, and the waste rules never call a resource idle on a `None`. Only an
//! answer with datapoints whose values are low counts as idle.
//!
//! Database connections use the Maximum statistic per hour rather than the average, so a
//! single short-lived connection in the whole window is enough to count as use.
//!
//! Every datapoint keeps its timestamp, so the rules that count days (Trusted Advisor's
//! low-utilization test: CPU and network per day; idle load balancers: requests per day) get
//! a day-by-day summary from the same queries.

use std::collections::HashMap;

use anyhow::Result;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_cloudwatch::Client;
use aws_smithy_types::DateTime;
use chrono::{Duration, NaiveDate, NaiveDateTime};

use super::inventory_act::sdk_error;
use crate::domain::resource::{Activity, DayActivity, ResourceKind, ResourceRef};

/// The most metric queries AWS accepts in one `GetMetricData` request.
pub(super) const MAX_QUERIES: usize = 500;

/// One hour: CPU is judged on hourly averages, so a one-minute spike does not count as use
/// and a busy hour does.
const HOUR: i32 = 3_600;
/// One day: network, byte and request numbers are summed or maxed per day.
const DAY: i32 = 86_400;

/// What a series measures, so its values land in the right [`Activity`] field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Signal {
    Cpu,
    NetworkIn,
    NetworkOut,
    Connections,
    Requests,
}

/// One series to ask CloudWatch for, per resource of a kind.
struct Series {
    namespace: &'static str,
    metric: &'static str,
    dimension: &'static str,
    period: i32,
    stat: &'static str,
    signal: Signal,
}

const EC2: &[Series] = &[
    Series {
        namespace: "AWS/EC2",
        metric: "CPUUtilization",
        dimension: "InstanceId",
        period: HOUR,
        stat: "Average",
        signal: Signal::Cpu,
    },
    Series {
        namespace: "AWS/EC2",
        metric: "NetworkIn",
        dimension: "InstanceId",
        period: DAY,
        stat: "Sum",
        signal: Signal::NetworkIn,
    },
    Series {
        namespace: "AWS/EC2",
        metric: "NetworkOut",
        dimension: "InstanceId",
        period: DAY,
        stat: "Sum",
        signal: Signal::NetworkOut,
    },
];

const RDS: &[Series] = &[Series {
    namespace: "AWS/RDS",
    metric: "DatabaseConnections",
    dimension: "DBInstanceIdentifier",
    period: HOUR,
    stat: "Maximum",
    signal: Signal::Connections,
}];

const NAT: &[Series] = &[Series {
    namespace: "AWS/NATGateway",
    metric: "BytesOutToDestination",
    dimension: "NatGatewayId",
    period: DAY,
    stat: "Sum",
    signal: Signal::NetworkOut,
}];

/// Requests a day: `RequestCount` counts HTTP requests (or, for a Classic load balancer's TCP
/// listener, connections); a Network Load Balancer has none, so its new flows stand in.
const ALB: &[Series] = &[Series {
    namespace: "AWS/ApplicationELB",
    metric: "RequestCount",
    dimension: "LoadBalancer",
    period: DAY,
    stat: "Sum",
    signal: Signal::Requests,
}];

const NLB: &[Series] = &[Series {
    namespace: "AWS/NetworkELB",
    metric: "NewFlowCount",
    dimension: "LoadBalancer",
    period: DAY,
    stat: "Sum",
    signal: Signal::Requests,
}];

const CLASSIC: &[Series] = &[Series {
    namespace: "AWS/ELB",
    metric: "RequestCount",
    dimension: "LoadBalancerName",
    period: DAY,
    stat: "Sum",
    signal: Signal::Requests,
}];

/// The series a resource is judged on (none for kinds without activity rules), and the
/// dimension value naming it: its id, except for a v2 load balancer, which CloudWatch names
/// by the end of its ARN (`app/web/50dc6c495c0c9188`).
fn series(r: &ResourceRef) -> (&'static [Series], &str) {
    match r.kind {
        ResourceKind::Ec2Instance => (EC2, &r.id),
        ResourceKind::RdsInstance => (RDS, &r.id),
        ResourceKind::NatGateway => (NAT, &r.id),
        ResourceKind::ClassicLoadBalancer => (CLASSIC, &r.id),
        ResourceKind::LoadBalancer => match r.id.split_once(":loadbalancer/").map(|(_, name)| name) {
            Some(name) if name.starts_with("app/") => (ALB, name),
            Some(name) if name.starts_with("net/") => (NLB, name),
            _ => (&[], &r.id),
        },
        _ => (&[], &r.id),
    }
}

/// One planned request: its queries, and whose series each query id is.
pub(super) struct Batch {
    pub(super) queries: Vec<MetricDataQuery>,
    /// Query id → (the caller's resource index, what the series measures).
    pub(super) owners: HashMap<String, (usize, Signal)>,
}

/// Packs every resource's series into requests of at most [`MAX_QUERIES`] queries, keeping
/// one resource's series in one request so a failed request leaves whole resources unknown.
/// Resources of kinds without series are left out.
pub(super) fn plan(resources: &[(usize, &ResourceRef)]) -> Vec<Batch> {
    let mut batches: Vec<Batch> = Vec::new();
    let mut next_id = 0usize;
    for (index, r) in resources {
        let (wanted, value) = series(r);
        if wanted.is_empty() {
            continue;
        }
        let fits = batches.last().is_some_and(|b| b.queries.len() + wanted.len() <= MAX_QUERIES);
        if !fits {
            batches.push(Batch { queries: Vec::new(), owners: HashMap::new() });
        }
        let Some(batch) = batches.last_mut() else { continue };
        for s in wanted {
            // Ids must start with a lower-case letter and be unique within a request.
            let id = format!("q{next_id}");
            next_id += 1;
            let metric = Metric::builder()
                .namespace(s.namespace)
                .metric_name(s.metric)
                .dimensions(Dimension::builder().name(s.dimension).value(value).build())
                .build();
            let stat = MetricStat::builder().metric(metric).period(s.period).stat(s.stat).build();
            batch.queries.push(MetricDataQuery::builder().id(&id).metric_stat(stat).return_data(true).build());
            batch.owners.insert(id, (*index, s.signal));
        }
    }
    batches
}

/// One datapoint: its timestamp (seconds since the epoch) and value.
pub(super) type Point = (i64, f64);

/// Sends one batch over `[start, end)`, following `NextToken` until CloudWatch has returned
/// every datapoint, and gives each query id's datapoints.
pub(super) async fn fetch(
    client: &Client,
    batch: &Batch,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> Result<HashMap<String, Vec<Point>>> {
    let stamp = |t: NaiveDateTime| DateTime::from_secs(t.and_utc().timestamp());
    let mut pages = client
        .get_metric_data()
        .set_metric_data_queries(Some(batch.queries.clone()))
        .start_time(stamp(start))
        .end_time(stamp(end))
        .into_paginator()
        .send();
    let mut values: HashMap<String, Vec<Point>> = HashMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error("cloudwatch:GetMetricData", e))?;
        for result in page.metric_data_results() {
            if let Some(id) = result.id() {
                // CloudWatch pairs `Timestamps` and `Values` by position.
                let points = result.timestamps().iter().map(|t| t.secs()).zip(result.values().iter().copied());
                values.entry(id.to_string()).or_default().extend(points);
            }
        }
    }
    Ok(values)
}

fn max(values: &[Point]) -> Option<f64> {
    values.iter().map(|(_, v)| *v).reduce(f64::max)
}

fn day_of(secs: i64) -> Option<NaiveDate> {
    chrono::DateTime::from_timestamp(secs, 0).map(|t| t.date_naive())
}

/// Day by day: the mean of the day's hourly CPU averages, the day's network bytes in plus
/// out, and its requests; days without any datapoint are left out.
fn daily(values: &HashMap<Signal, Vec<Point>>) -> Vec<DayActivity> {
    // Per day: the hourly CPU averages, the network bytes, the requests.
    type Day = (Vec<f64>, Option<f64>, Option<f64>);
    let mut days: std::collections::BTreeMap<NaiveDate, Day> = Default::default();
    for (signal, points) in values {
        for (at, value) in points {
            let Some(day) = day_of(*at) else { continue };
            let entry = days.entry(day).or_default();
            match signal {
                Signal::Cpu => entry.0.push(*value),
                Signal::NetworkIn | Signal::NetworkOut => *entry.1.get_or_insert(0.0) += value,
                Signal::Requests => *entry.2.get_or_insert(0.0) += value,
                Signal::Connections => {}
            }
        }
    }
    let whole = |v: f64| v.max(0.0).round() as u64;
    days.into_iter()
        .filter(|(_, (cpu, network, requests))| !cpu.is_empty() || network.is_some() || requests.is_some())
        .map(|(day, (cpu, network, requests))| DayActivity {
            day,
            cpu_percent: (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64),
            network_bytes: network.map(whole),
            requests: requests.map(whole),
        })
        .collect()
}

/// One resource's activity from its series' values: for an instance the highest hourly CPU
/// average and the network bytes in plus out; for a database the highest connection count.
pub(super) fn summarise(days: u32, values: &HashMap<Signal, Vec<Point>>) -> Activity {
    let get = |s: Signal| values.get(&s).map(Vec::as_slice).unwrap_or_default();
    let (inbound, outbound) = (get(Signal::NetworkIn), get(Signal::NetworkOut));
    // Bytes are whole numbers; summing per-day sums as f64 is exact far beyond any realistic
    // traffic (2^53 bytes), and the total is only compared to a threshold.
    let network_bytes = (!(inbound.is_empty() && outbound.is_empty()))
        .then(|| inbound.iter().chain(outbound).map(|(_, v)| v).sum::<f64>().max(0.0).round() as u64);
    Activity {
        days,
        max_cpu_percent: max(get(Signal::Cpu)),
        network_bytes,
        max_db_connections: max(get(Signal::Connections)),
        daily: daily(values),
        healthy_targets: None,
    }
}

/// The activity window ending at `now`.
pub(super) fn window(days: u32, now: NaiveDateTime) -> (NaiveDateTime, NaiveDateTime) {
    (now - Duration::days(i64::from(days)), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AccountId;

    fn r(kind: ResourceKind, id: &str) -> ResourceRef {
        ResourceRef {
            account: AccountId::parse("123456789012").unwrap(),
            region: "us-east-1".into(),
            kind,
            id: id.into(),
        }
    }

    #[test]
    fn batches_hold_at_most_500_queries_and_keep_a_resource_together() {
        let refs: Vec<ResourceRef> = (0..400).map(|i| r(ResourceKind::Ec2Instance, &format!("i-{i}"))).collect();
        let mut input: Vec<(usize, &ResourceRef)> = refs.iter().enumerate().collect();
        let volume = r(ResourceKind::EbsVolume, "vol-1");
        input.push((400, &volume));
        let batches = plan(&input);
        let sizes: Vec<usize> = batches.iter().map(|b| b.queries.len()).collect();
        // 400 instances x 3 series = 1,200 queries; 166 instances (498 queries) fit in one request.
        assert_eq!(sizes, [498, 498, 204]);
        assert!(batches.iter().all(|b| b.owners.len() == b.queries.len()));
        let owners: Vec<usize> = batches.iter().flat_map(|b| b.owners.values().map(|(i, _)| *i)).collect();
        assert!(!owners.contains(&400), "a volume has no activity series");
        let first_of_second: Vec<usize> =
            batches[1].owners.values().map(|(i, _)| *i).filter(|i| *i < 166 || *i >= 332).collect();
        assert!(first_of_second.is_empty(), "the second request holds instances 166..332 only");
    }

    #[test]
    fn no_values_is_unknown_and_values_are_summarised() {
        assert_eq!(summarise(14, &HashMap::new()), Activity { days: 14, ..Activity::default() });
        // 2026-11-01 00:00 UTC and the next day.
        let (d1, d2) = (1_793_491_200, 1_793_491_200 + 86_400);
        let values = HashMap::from([
            (Signal::Cpu, vec![(d1, 1.5), (d1 + 3_600, 80.0), (d2, 3.0)]),
            (Signal::NetworkIn, vec![(d1, 1000.0)]),
            (Signal::NetworkOut, vec![]),
        ]);
        let a = summarise(14, &values);
        assert_eq!((a.max_cpu_percent, a.network_bytes, a.max_db_connections), (Some(80.0), Some(1000), None));
        let days: Vec<_> = a.daily.iter().map(|d| (d.day.to_string(), d.cpu_percent, d.network_bytes)).collect();
        assert_eq!(
            days,
            [("2026-11-01".to_string(), Some(40.75), Some(1000)), ("2026-11-02".to_string(), Some(3.0), None)]
        );
    }
}
