//! A bundled on-demand price table, used to estimate what a wasteful resource costs per month.
//!
//! Source: the AWS public on-demand pricing pages (the same numbers the AWS Price List API
//! serves), region **us-east-1 (N. Virginia)**, Linux/Unix EC2 on-demand, RDS for MySQL
//! single-AZ on-demand (PostgreSQL is priced within a few percent; Oracle and SQL Server with
//! licence included cost more), EBS and RDS storage per GiB-month, and the public IPv4 charge
//! that applies to idle Elastic IPs, the NAT gateway and load balancer hourly charges (their
//! per-GB and capacity-unit charges are not counted), and the previous-generation EC2 types
//! (t2, m3, m4, c3, c4, r3, r4) the `previous_generation` rule compares with their
//! successors. Prices are **as of 2025**. They are an **estimate**:
//! other regions differ (often by 10–30 %), savings plans, reserved instances and credits are
//! ignored, and AWS changes prices. Operators override any entry in `[waste.prices]`; see
//! `docs/prices.md`.
//!
//! A month is 730 hours (AWS's own convention: 8,760 hours / 12). A type that is not in the
//! table has an unknown price (`None`): costbot shows "unknown" rather than guessing.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::money::NumberOrText;
use super::Money;

/// Hours in a month, as AWS's pricing calculator counts them.
pub const HOURS_PER_MONTH: i64 = 730;

/// A price written in configuration as a TOML number or a decimal string (`0.096`, `"0.096"`),
/// kept exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "NumberOrText")]
pub struct Price(pub Money);

impl TryFrom<NumberOrText> for Price {
    type Error = String;
    fn try_from(value: NumberOrText) -> Result<Self, Self::Error> {
        let text = value.into_text();
        let money = Money::parse(&text).map_err(|e| e.to_string())?;
        if money.is_negative() {
            return Err(format!("price `{text}` must not be negative"));
        }
        Ok(Price(money))
    }
}

/// Price overrides from `[waste.prices]`. Each entry replaces (or adds to) the bundled table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriceOverrides {
    /// EC2 instance type → USD per hour (`"m5.large" = 0.096`).
    pub ec2: BTreeMap<String, Price>,
    /// EBS volume type → USD per GiB-month (`gp3 = 0.08`).
    pub ebs: BTreeMap<String, Price>,
    /// RDS instance class → USD per hour (`"db.t3.micro" = 0.017`).
    pub rds: BTreeMap<String, Price>,
    /// RDS storage type → USD per GiB-month.
    pub rds_storage: BTreeMap<String, Price>,
    /// An Elastic IP (public IPv4 address), USD per hour.
    pub elastic_ip: Option<Price>,
    /// EBS snapshot storage (standard tier), USD per GiB-month.
    pub ebs_snapshot: Option<Price>,
    /// RDS snapshot storage beyond the free allowance, USD per GiB-month.
    pub rds_snapshot: Option<Price>,
    /// A NAT gateway, USD per hour (data processing is extra and not counted).
    pub nat_gateway: Option<Price>,
    /// Load balancer type (`application`, `network`, `classic`) → USD per hour (capacity
    /// units and data are extra and not counted).
    pub load_balancer: BTreeMap<String, Price>,
}

/// The price table: bundled us-east-1 prices with any overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    ec2: BTreeMap<String, Money>,
    ebs: BTreeMap<String, Money>,
    rds: BTreeMap<String, Money>,
    rds_storage: BTreeMap<String, Money>,
    elastic_ip: Money,
    ebs_snapshot: Money,
    rds_snapshot: Money,
    nat_gateway: Money,
    load_balancer: BTreeMap<String, Money>,
}

/// EC2 Linux on-demand, us-east-1, USD per hour.
const EC2_HOURLY: &[(&str, &str)] = &[
    ("t3.nano", "0.0052"),
    ("t3.micro", "0.0104"),
    ("t3.small", "0.0208"),
    ("t3.medium", "0.0416"),
    ("t3.large", "0.0832"),
    ("t3.xlarge", "0.1664"),
    ("t3.2xlarge", "0.3328"),
    ("t4g.nano", "0.0042"),
    ("t4g.micro", "0.0084"),
    ("t4g.small", "0.0168"),
    ("t4g.medium", "0.0336"),
    ("t4g.large", "0.0672"),
    ("t4g.xlarge", "0.1344"),
    ("t4g.2xlarge", "0.2688"),
    ("m5.large", "0.096"),
    ("m5.xlarge", "0.192"),
    ("m5.2xlarge", "0.384"),
    ("m5.4xlarge", "0.768"),
    ("m6i.large", "0.096"),
    ("m6i.xlarge", "0.192"),
    ("m6i.2xlarge", "0.384"),
    ("m6i.4xlarge", "0.768"),
    ("m7g.large", "0.0816"),
    ("m7g.xlarge", "0.1632"),
    ("m7g.2xlarge", "0.3264"),
    ("m7g.4xlarge", "0.6528"),
    ("c5.large", "0.085"),
    ("c5.xlarge", "0.17"),
    ("c5.2xlarge", "0.34"),
    ("c5.4xlarge", "0.68"),
    ("c6i.large", "0.085"),
    ("c6i.xlarge", "0.17"),
    ("c6i.2xlarge", "0.34"),
    ("c6i.4xlarge", "0.68"),
    ("r5.large", "0.126"),
    ("r5.xlarge", "0.252"),
    ("r5.2xlarge", "0.504"),
    ("r5.4xlarge", "1.008"),
    ("r6i.large", "0.126"),
    ("r6i.xlarge", "0.252"),
    ("r6i.2xlarge", "0.504"),
    ("r6i.4xlarge", "1.008"),
    ("p3.2xlarge", "3.06"),
    ("p3.8xlarge", "12.24"),
    ("p3.16xlarge", "24.48"),
    ("p4d.24xlarge", "32.7726"),
    ("g5.xlarge", "1.006"),
    ("g5.2xlarge", "1.212"),
    ("g5.4xlarge", "1.624"),
    // Previous generations, for the `previous_generation` rule's price difference.
    ("t2.nano", "0.0058"),
    ("t2.micro", "0.0116"),
    ("t2.small", "0.023"),
    ("t2.medium", "0.0464"),
    ("t2.large", "0.0928"),
    ("t2.xlarge", "0.1856"),
    ("t2.2xlarge", "0.3712"),
    ("m3.medium", "0.067"),
    ("m3.large", "0.133"),
    ("m3.xlarge", "0.266"),
    ("m3.2xlarge", "0.532"),
    ("m4.large", "0.10"),
    ("m4.xlarge", "0.20"),
    ("m4.2xlarge", "0.40"),
    ("m4.4xlarge", "0.80"),
    ("c3.large", "0.105"),
    ("c3.xlarge", "0.21"),
    ("c3.2xlarge", "0.42"),
    ("c3.4xlarge", "0.84"),
    ("c4.large", "0.10"),
    ("c4.xlarge", "0.199"),
    ("c4.2xlarge", "0.398"),
    ("c4.4xlarge", "0.796"),
    ("r3.large", "0.166"),
    ("r3.xlarge", "0.333"),
    ("r3.2xlarge", "0.665"),
    ("r3.4xlarge", "1.33"),
    ("r4.large", "0.133"),
    ("r4.xlarge", "0.266"),
    ("r4.2xlarge", "0.532"),
    ("r4.4xlarge", "1.064"),
];

/// EBS, us-east-1, USD per GiB-month (provisioned IOPS and throughput are not included).
const EBS_GIB_MONTH: &[(&str, &str)] = &[
    ("gp2", "0.10"),
    ("gp3", "0.08"),
    ("io1", "0.125"),
    ("io2", "0.125"),
    ("st1", "0.045"),
    ("sc1", "0.015"),
    ("standard", "0.05"),
];

/// RDS for MySQL single-AZ on-demand, us-east-1, USD per hour.
const RDS_HOURLY: &[(&str, &str)] = &[
    ("db.t3.micro", "0.017"),
    ("db.t3.small", "0.034"),
    ("db.t3.medium", "0.068"),
    ("db.t3.large", "0.136"),
    ("db.t3.xlarge", "0.272"),
    ("db.t3.2xlarge", "0.544"),
    ("db.t4g.micro", "0.016"),
    ("db.t4g.small", "0.032"),
    ("db.t4g.medium", "0.065"),
    ("db.t4g.large", "0.129"),
    ("db.t4g.xlarge", "0.258"),
    ("db.t4g.2xlarge", "0.516"),
    ("db.m5.large", "0.171"),
    ("db.m5.xlarge", "0.342"),
    ("db.m5.2xlarge", "0.684"),
    ("db.m5.4xlarge", "1.368"),
    ("db.m6g.large", "0.152"),
    ("db.m6g.xlarge", "0.304"),
    ("db.m6g.2xlarge", "0.608"),
    ("db.m6g.4xlarge", "1.216"),
    ("db.r5.large", "0.24"),
    ("db.r5.xlarge", "0.48"),
    ("db.r5.2xlarge", "0.96"),
    ("db.r5.4xlarge", "1.92"),
    ("db.r6g.large", "0.215"),
    ("db.r6g.xlarge", "0.43"),
    ("db.r6g.2xlarge", "0.86"),
    ("db.r6g.4xlarge", "1.72"),
];

/// RDS single-AZ storage, us-east-1, USD per GiB-month.
const RDS_STORAGE_GIB_MONTH: &[(&str, &str)] =
    &[("gp2", "0.115"), ("gp3", "0.115"), ("io1", "0.125"), ("standard", "0.10")];

/// A public IPv4 address (in use or idle), us-east-1, USD per hour.
const ELASTIC_IP_HOURLY: &str = "0.005";

/// EBS snapshot storage, standard tier, us-east-1, USD per GiB-month.
const EBS_SNAPSHOT_GIB_MONTH: &str = "0.05";

/// RDS backup storage beyond the free allowance, us-east-1, USD per GiB-month.
const RDS_SNAPSHOT_GIB_MONTH: &str = "0.095";

/// A NAT gateway, us-east-1, USD per hour (plus $0.045 per GB processed, not counted).
const NAT_GATEWAY_HOURLY: &str = "0.045";

/// Load balancers, us-east-1, USD per hour (Elastic Load Balancing pricing page: Application
/// and Network $0.0225 plus LCUs, Classic $0.025 plus $0.008 per GB; the extras are not
/// counted, so an idle load balancer's saving is its hourly charge).
const LOAD_BALANCER_HOURLY: &[(&str, &str)] = &[("application", "0.0225"), ("network", "0.0225"), ("classic", "0.025")];

fn table(entries: &[(&str, &str)]) -> BTreeMap<String, Money> {
    entries
        .iter()
        .map(|(name, price)| {
            let money = Money::parse(price).unwrap_or_else(|_| unreachable!("bundled price {price} is a decimal"));
            (name.to_string(), money)
        })
        .collect()
}

fn apply(table: &mut BTreeMap<String, Money>, overrides: &BTreeMap<String, Price>) {
    for (name, price) in overrides {
        table.insert(name.trim().to_ascii_lowercase(), price.0);
    }
}

fn monthly(hourly: Money) -> Money {
    Money::from_decimal(hourly.as_decimal() * Decimal::from(HOURS_PER_MONTH))
}

fn per_gib(price: Money, gib: u32) -> Money {
    Money::from_decimal(price.as_decimal() * Decimal::from(gib))
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable::bundled()
    }
}

impl PriceTable {
    /// The bundled us-east-1 table.
    pub fn bundled() -> PriceTable {
        PriceTable {
            ec2: table(EC2_HOURLY),
            ebs: table(EBS_GIB_MONTH),
            rds: table(RDS_HOURLY),
            rds_storage: table(RDS_STORAGE_GIB_MONTH),
            elastic_ip: Money::parse(ELASTIC_IP_HOURLY).unwrap_or_default(),
            ebs_snapshot: Money::parse(EBS_SNAPSHOT_GIB_MONTH).unwrap_or_default(),
            rds_snapshot: Money::parse(RDS_SNAPSHOT_GIB_MONTH).unwrap_or_default(),
            nat_gateway: Money::parse(NAT_GATEWAY_HOURLY).unwrap_or_default(),
            load_balancer: table(LOAD_BALANCER_HOURLY),
        }
    }

    /// The bundled table with configured overrides applied (names are case-insensitive).
    pub fn with_overrides(overrides: &PriceOverrides) -> PriceTable {
        let mut prices = PriceTable::bundled();
        apply(&mut prices.ec2, &overrides.ec2);
        apply(&mut prices.ebs, &overrides.ebs);
        apply(&mut prices.rds, &overrides.rds);
        apply(&mut prices.rds_storage, &overrides.rds_storage);
        apply(&mut prices.load_balancer, &overrides.load_balancer);
        for (price, slot) in [
            (overrides.elastic_ip, &mut prices.elastic_ip),
            (overrides.ebs_snapshot, &mut prices.ebs_snapshot),
            (overrides.rds_snapshot, &mut prices.rds_snapshot),
            (overrides.nat_gateway, &mut prices.nat_gateway),
        ] {
            if let Some(price) = price {
                *slot = price.0;
            }
        }
        prices
    }

    /// An EC2 instance type's hourly price, if known.
    pub fn ec2_hourly(&self, instance_type: &str) -> Option<Money> {
        self.ec2.get(&instance_type.to_ascii_lowercase()).copied()
    }

    /// An EC2 instance type's monthly price (730 hours), if known.
    pub fn ec2_monthly(&self, instance_type: &str) -> Option<Money> {
        self.ec2_hourly(instance_type).map(monthly)
    }

    /// A volume's monthly storage price, if its type is known.
    pub fn ebs_monthly(&self, volume_type: &str, gib: u32) -> Option<Money> {
        self.ebs.get(&volume_type.to_ascii_lowercase()).map(|p| per_gib(*p, gib))
    }

    /// An RDS instance class's monthly compute price, if known.
    pub fn rds_monthly(&self, class: &str) -> Option<Money> {
        self.rds.get(&class.to_ascii_lowercase()).copied().map(monthly)
    }

    /// An RDS instance's monthly storage price, if its storage type is known.
    pub fn rds_storage_monthly(&self, storage_type: &str, gib: u32) -> Option<Money> {
        self.rds_storage.get(&storage_type.to_ascii_lowercase()).map(|p| per_gib(*p, gib))
    }

    /// An Elastic IP's monthly price.
    pub fn elastic_ip_monthly(&self) -> Money {
        monthly(self.elastic_ip)
    }

    /// An EBS snapshot's monthly price at most: snapshots are incremental, so `gib` (the
    /// source volume's size) is an upper bound on what it stores.
    pub fn ebs_snapshot_monthly(&self, gib: u32) -> Money {
        per_gib(self.ebs_snapshot, gib)
    }

    /// A manual RDS snapshot's monthly price (`gib` is the database's allocated storage).
    pub fn rds_snapshot_monthly(&self, gib: u32) -> Money {
        per_gib(self.rds_snapshot, gib)
    }

    /// A NAT gateway's monthly hourly charge.
    pub fn nat_gateway_monthly(&self) -> Money {
        monthly(self.nat_gateway)
    }

    /// A load balancer's monthly hourly charge by type (`application`, `network`,
    /// `classic`), if known.
    pub fn load_balancer_monthly(&self, kind: &str) -> Option<Money> {
        self.load_balancer.get(&kind.to_ascii_lowercase()).copied().map(monthly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Money {
        Money::parse(text).unwrap()
    }

    #[test]
    fn a_known_type_costs_its_hourly_price_times_730() {
        let prices = PriceTable::bundled();
        assert_eq!(prices.ec2_hourly("m5.large"), Some(money("0.096")));
        assert_eq!(prices.ec2_monthly("m5.large"), Some(money("70.08")));
        assert_eq!(prices.ec2_monthly("M5.LARGE"), Some(money("70.08")), "type names are case-insensitive");
        assert_eq!(prices.rds_monthly("db.t3.micro"), Some(money("12.41")));
        assert_eq!(prices.ebs_monthly("gp3", 100), Some(money("8")));
        assert_eq!(prices.elastic_ip_monthly(), money("3.65"));
        assert_eq!(prices.rds_storage_monthly("gp2", 20), Some(money("2.3")));
        assert_eq!(prices.ebs_snapshot_monthly(100), money("5"));
        assert_eq!(prices.rds_snapshot_monthly(20), money("1.9"));
        assert_eq!(prices.nat_gateway_monthly(), money("32.85"));
        assert_eq!(prices.load_balancer_monthly("application"), Some(money("16.425")));
        assert_eq!(prices.load_balancer_monthly("classic"), Some(money("18.25")));
        assert_eq!(prices.load_balancer_monthly("gateway"), None);
        assert_eq!(prices.ec2_monthly("m4.large"), Some(money("73")));
    }

    #[test]
    fn an_unknown_type_has_no_price_rather_than_a_guess() {
        let prices = PriceTable::bundled();
        assert_eq!(prices.ec2_monthly("x9z.mega"), None);
        assert_eq!(prices.ebs_monthly("io9", 10), None);
        assert_eq!(prices.rds_monthly("db.x2iedn.32xlarge"), None);
    }

    #[test]
    fn overrides_win_and_stay_exact() {
        let overrides: PriceOverrides = toml::from_str(
            "ec2 = { \"m5.large\" = 0.1, \"x9z.mega\" = \"1.0000000001\" }\nebs = { gp3 = \"0.07\" }\nelastic_ip = 0",
        )
        .unwrap();
        let prices = PriceTable::with_overrides(&overrides);
        assert_eq!(prices.ec2_monthly("m5.large"), Some(money("73")));
        // 1.0000000001 × 730 is exact in decimals; a float would print 730.0000000730001.
        assert_eq!(prices.ec2_monthly("x9z.mega"), Some(money("730.000000073")));
        assert_eq!(prices.ebs_monthly("gp3", 3), Some(money("0.21")));
        assert_eq!(prices.elastic_ip_monthly(), Money::ZERO);
        assert_eq!(
            prices.ec2_monthly("t3.micro"),
            PriceTable::bundled().ec2_monthly("t3.micro"),
            "others keep the bundled price"
        );
    }

    #[test]
    fn bad_overrides_are_refused() {
        assert!(toml::from_str::<PriceOverrides>("ec2 = { \"m5.large\" = \"cheap\" }").is_err());
        assert!(toml::from_str::<PriceOverrides>("ec2 = { \"m5.large\" = -1 }").is_err());
        assert!(toml::from_str::<PriceOverrides>("ecs = {}").is_err());
    }
}
