//! CloudWatch activity for one instance or database over the idle window.
//!
//! "No data" is kept apart from "zero": when CloudWatch has no datapoints for a metric, that
//! number is `None`, and the waste rules never call a resource idle on a `None`. Only an
//! answer with datapoints whose values are low counts as idle.
//!
//! Database connections use the Maximum statistic per hour rather than the average, so a
//! single short-lived connection in the whole window is enough to count as use.

use anyhow::Result;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_cloudwatch::Client;
use aws_smithy_types::DateTime;
use chrono::{Duration, NaiveDateTime};

use super::inventory_act::sdk_error;
use crate::domain::resource::{Activity, ResourceKind, ResourceRef};

/// One hour: CPU is judged on hourly averages, so a one-minute spike does not count as use
/// and a busy hour does.
const HOUR: i32 = 3_600;
/// One day: network and connection numbers are summed or maxed per day, which keeps every
/// request far below CloudWatch's 1,440-datapoint limit.
const DAY: i32 = 86_400;

struct Query<'a> {
    namespace: &'a str,
    metric: &'a str,
    dimension: &'a str,
    id: &'a str,
    period: i32,
    statistic: Statistic,
}

/// Every datapoint's value for one statistic over `[start, end)`.
async fn values(client: &Client, q: Query<'_>, start: NaiveDateTime, end: NaiveDateTime) -> Result<Vec<f64>> {
    let stamp = |t: NaiveDateTime| DateTime::from_secs(t.and_utc().timestamp());
    let out = client
        .get_metric_statistics()
        .namespace(q.namespace)
        .metric_name(q.metric)
        .dimensions(Dimension::builder().name(q.dimension).value(q.id).build())
        .start_time(stamp(start))
        .end_time(stamp(end))
        .period(q.period)
        .statistics(q.statistic.clone())
        .send()
        .await
        .map_err(|e| sdk_error("cloudwatch:GetMetricStatistics", e))?;
    Ok(out
        .datapoints()
        .iter()
        .filter_map(|d| match q.statistic {
            Statistic::Average => d.average(),
            Statistic::Sum => d.sum(),
            _ => d.maximum(),
        })
        .collect())
}

fn max(values: &[f64]) -> Option<f64> {
    values.iter().copied().reduce(f64::max)
}

/// Activity over the `days` before `now`: for an instance the highest hourly CPU average and
/// the network bytes in plus out; for a database the highest connection count.
pub(super) async fn activity(client: &Client, r: &ResourceRef, days: u32, now: NaiveDateTime) -> Result<Activity> {
    let start = now - Duration::days(i64::from(days));
    let mut activity = Activity { days, ..Activity::default() };
    match r.kind {
        ResourceKind::Ec2Instance => {
            let q = |metric, period, statistic| Query {
                namespace: "AWS/EC2",
                metric,
                dimension: "InstanceId",
                id: &r.id,
                period,
                statistic,
            };
            activity.max_cpu_percent =
                max(&values(client, q("CPUUtilization", HOUR, Statistic::Average), start, now).await?);
            let inbound = values(client, q("NetworkIn", DAY, Statistic::Sum), start, now).await?;
            let outbound = values(client, q("NetworkOut", DAY, Statistic::Sum), start, now).await?;
            // Bytes are whole numbers; summing per-day sums as f64 is exact far beyond any
            // realistic traffic (2^53 bytes), and the total is only compared to a threshold.
            if !(inbound.is_empty() && outbound.is_empty()) {
                let total: f64 = inbound.iter().chain(&outbound).sum();
                activity.network_bytes = Some(total.max(0.0).round() as u64);
            }
        }
        ResourceKind::RdsInstance => {
            let q = Query {
                namespace: "AWS/RDS",
                metric: "DatabaseConnections",
                dimension: "DBInstanceIdentifier",
                id: &r.id,
                period: HOUR,
                statistic: Statistic::Maximum,
            };
            activity.max_db_connections = max(&values(client, q, start, now).await?);
        }
        ResourceKind::EbsVolume | ResourceKind::ElasticIp => {}
    }
    Ok(activity)
}
