//! The inventory the fake AWS serves: the same 50 resources in every (account, region), built
//! from the resource's index, so nothing is stored and any number of accounts costs no memory.
//! Each resource's index decides what it is and whether a waste rule should flag it; the
//! expected findings per (account, region) are [`EXPECTED`].
//!
//! | index  | what                                         | expected finding   |
//! |--------|----------------------------------------------|--------------------|
//! | 0–3    | m5.large stopped 40 days ago                 | `stopped_instance` |
//! | 4–5    | m5.large running, `expires-at` 30 days ago   | `expired_ttl`      |
//! | 6–11   | m5.large running, 1 % CPU, 100 bytes a day   | `idle_instance`    |
//! | 12–19  | m5.large running, 60 % CPU, 5 GB a day       | none               |
//! | 20–25  | 100 GiB gp3 volume, available                | `unattached_volume`|
//! | 26–35  | 100 GiB gp3 volume, attached to 6–15         | none               |
//! | 36–38  | Elastic IP, unassociated                     | `unassociated_ip`  |
//! | 39–43  | Elastic IP, associated with 12–16            | none               |
//! | 44–45  | db.m5.large available, no connections        | `idle_database`    |
//! | 46–49  | db.m5.large available, 7 connections at most | none               |

use chrono::{Duration, NaiveDateTime};

/// Resources per (account, region).
pub const RESOURCES: usize = 50;

/// The findings each (account, region) should give, by rule.
pub const EXPECTED: [(&str, usize); 6] = [
    ("stopped_instance", 4),
    ("expired_ttl", 2),
    ("idle_instance", 6),
    ("unattached_volume", 6),
    ("unassociated_ip", 3),
    ("idle_database", 2),
];

/// Every resource is this old: older than any rule's window (idle 14 days, stopped 14,
/// unattached 7), so age never keeps a finding back.
const AGE_DAYS: i64 = 60;

/// One (account, region)'s inventory, as of `now`.
pub struct Pair<'a> {
    pub account: &'a str,
    pub region: usize,
    pub now: NaiveDateTime,
}

fn iso(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

impl Pair<'_> {
    /// A resource's id: its kind's prefix, the account, the region and the index; the last
    /// two digits are always the index, which is how CloudWatch answers are looked up.
    fn id(&self, prefix: &str, index: usize) -> String {
        format!("{prefix}-{}{:02}{index:02}", self.account, self.region)
    }

    fn created(&self) -> String {
        iso(self.now - Duration::days(AGE_DAYS))
    }

    fn instance(&self, index: usize) -> String {
        let (code, state) = if index < 4 { (80, "stopped") } else { (16, "running") };
        let reason = if index < 4 {
            (self.now - Duration::days(40)).format("User initiated (%Y-%m-%d %H:%M:%S GMT)").to_string()
        } else {
            String::new()
        };
        let tags = if (4..6).contains(&index) {
            let day = (self.now - Duration::days(30)).format("%Y-%m-%d");
            format!("<tagSet><item><key>expires-at</key><value>{day}</value></item></tagSet>")
        } else {
            "<tagSet/>".to_string()
        };
        format!(
            "<item><instanceId>{}</instanceId><imageId>ami-12345678</imageId>\
             <instanceState><code>{code}</code><name>{state}</name></instanceState>\
             <reason>{reason}</reason><instanceType>m5.large</instanceType>\
             <launchTime>{}</launchTime>{tags}</item>",
            self.id("i", index),
            self.created()
        )
    }

    /// `DescribeInstances`: every instance in one reservation, one page.
    pub fn instances(&self) -> String {
        let items: String = (0..20).map(|i| self.instance(i)).collect();
        format!(
            "<reservationSet><item><reservationId>r-{}</reservationId><ownerId>{}</ownerId>\
             <instancesSet>{items}</instancesSet></item></reservationSet>",
            self.id("r", 0),
            self.account
        )
    }

    /// `DescribeVolumes`: every volume, one page.
    pub fn volumes(&self) -> String {
        let items: String = (20..36)
            .map(|i| {
                let (status, attachments) = if i < 26 {
                    ("available", "<attachmentSet/>".to_string())
                } else {
                    let instance = self.id("i", i - 20);
                    let attachment = format!(
                        "<item><volumeId>{}</volumeId><instanceId>{instance}</instanceId>\
                         <device>/dev/sdf</device><status>attached</status></item>",
                        self.id("vol", i)
                    );
                    ("in-use", format!("<attachmentSet>{attachment}</attachmentSet>"))
                };
                format!(
                    "<item><volumeId>{}</volumeId><size>100</size><availabilityZone>az-a</availabilityZone>\
                     <status>{status}</status><createTime>{}</createTime>{attachments}\
                     <volumeType>gp3</volumeType><tagSet/></item>",
                    self.id("vol", i),
                    self.created()
                )
            })
            .collect();
        format!("<volumeSet>{items}</volumeSet>")
    }

    /// `DescribeAddresses`: every Elastic IP.
    pub fn addresses(&self) -> String {
        let items: String = (36..44)
            .map(|i| {
                let association = if i < 39 {
                    String::new()
                } else {
                    format!(
                        "<associationId>{}</associationId><instanceId>{}</instanceId>",
                        self.id("eipassoc", i),
                        self.id("i", i - 27)
                    )
                };
                format!(
                    "<item><allocationId>{}</allocationId><publicIp>198.51.100.{i}</publicIp>\
                     <domain>vpc</domain>{association}<tagSet/></item>",
                    self.id("eipalloc", i)
                )
            })
            .collect();
        format!("<addressesSet>{items}</addressesSet>")
    }

    /// `DescribeDBInstances`: every database, one page.
    pub fn databases(&self) -> String {
        let items: String = (44..50)
            .map(|i| {
                format!(
                    "<DBInstance><DBInstanceIdentifier>{}</DBInstanceIdentifier>\
                     <DBInstanceClass>db.m5.large</DBInstanceClass><DBInstanceStatus>available</DBInstanceStatus>\
                     <InstanceCreateTime>{}</InstanceCreateTime><AllocatedStorage>100</AllocatedStorage>\
                     <StorageType>gp3</StorageType><TagList/></DBInstance>",
                    self.id("db", i),
                    self.created()
                )
            })
            .collect();
        format!("<DBInstances>{items}</DBInstances>")
    }
}

/// True for the resources whose metrics say idle (see the table above).
fn idle(index: usize) -> bool {
    (6..12).contains(&index) || (44..46).contains(&index)
}

/// One metric's value per datapoint for the resource named `dimension` (its id).
pub fn metric_value(metric: &str, dimension: &str) -> f64 {
    let index: usize = dimension.get(dimension.len().saturating_sub(2)..).and_then(|s| s.parse().ok()).unwrap_or(0);
    match (metric, idle(index)) {
        ("CPUUtilization", true) => 1.0,
        ("CPUUtilization", false) => 60.0,
        ("NetworkIn" | "NetworkOut", true) => 100.0,
        ("NetworkIn" | "NetworkOut", false) => 5e9,
        ("DatabaseConnections", true) => 0.0,
        ("DatabaseConnections", false) => 7.0,
        _ => 0.0,
    }
}

/// One `MetricDataResults` member: three daily datapoints of the metric's value.
pub fn metric_result(id: &str, metric: &str, dimension: &str, now: NaiveDateTime) -> String {
    let value = metric_value(metric, dimension);
    let days = [1, 2, 3].map(|d| now - Duration::days(d));
    let stamps: String = days.iter().map(|t| format!("<member>{}</member>", iso(*t))).collect();
    let values: String = days.iter().map(|_| format!("<member>{value}</member>")).collect();
    format!(
        "<member><Id>{id}</Id><Label>{metric}</Label><StatusCode>Complete</StatusCode>\
         <Timestamps>{stamps}</Timestamps><Values>{values}</Values></member>"
    )
}
