//! A simulated cloud for `costbot demo`: deterministic cost history for a few accounts and
//! services, behind the same [`CostSource`] interface as Cost Explorer.
//!
//! Every amount is a pure function of (seed, account, service, hour), so any range fetched
//! in any order gives the same numbers and incremental runs behave as they do against AWS.
//! Accounts are named "(simulated)" so nobody mistakes the demo for real spend.

use async_trait::async_trait;
use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, Timelike, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

use crate::domain::root_cause::{BreakdownRow, Dimension};
use crate::domain::sources::{
    BreakdownSource, CostSource, FetchError, FetchRequest, Fetched, FetchedBreakdown, FetchedTags,
};
use crate::domain::tags::{TagFact, TagKey};
use crate::domain::{
    Account, AccountId, BreakdownDimension, BreakdownFact, CostFact, DateRange, Granularity, Money, ServiceName,
};

/// Marks simulated data wherever it is shown.
pub const SIMULATED_LABEL: &str = "(simulated)";

/// One simulated service line in one account.
#[derive(Debug, Clone)]
struct Line {
    account: usize,
    service: &'static str,
    /// Typical weekday spend in dollars, at the start of the 13-month history.
    base_daily: f64,
    /// Weekend spend as a share of weekday spend.
    weekend: f64,
    /// Growth per 30 days (0.03 = 3 %).
    growth: f64,
    /// Relative day-to-day noise.
    noise: f64,
    /// Days before `today` the line starts; `None` for the whole history.
    starts_days_ago: Option<u64>,
}

/// An injected anomaly, positioned relative to `today`.
#[derive(Debug, Clone, Copy)]
pub struct Injected {
    account: usize,
    service: &'static str,
    /// First affected day, as days before today.
    from_days_ago: u64,
    /// Number of affected days (`u64::MAX` for "until now": a level shift).
    days: u64,
    /// Multiplier on the normal amount.
    factor: f64,
}

/// The simulated organisation: one payer whose data covers three linked accounts.
#[derive(Debug, Clone)]
pub struct SimulatedCloud {
    seed: u64,
    today: NaiveDate,
    /// Hours of today that have elapsed; today's data is partial, as in Cost Explorer.
    hours_today: u32,
    accounts: Vec<(AccountId, String)>,
    lines: Vec<Line>,
    injected: Vec<Injected>,
}

fn id(text: &str) -> AccountId {
    AccountId::parse(text).unwrap_or_else(|_| unreachable!("simulated account ids are valid"))
}

impl SimulatedCloud {
    /// The demo organisation as of `now` (UTC), with a spike, a level shift and a new service
    /// in the last two weeks and an older spike two months back.
    pub fn demo(seed: u64, now: NaiveDateTime) -> SimulatedCloud {
        let accounts = vec![
            (id("111111111111"), format!("sim-payer {SIMULATED_LABEL}")),
            (id("222222222222"), format!("sim-prod {SIMULATED_LABEL}")),
            (id("333333333333"), format!("sim-staging {SIMULATED_LABEL}")),
            (id("444444444444"), format!("sim-data {SIMULATED_LABEL}")),
        ];
        let line = |account, service, base_daily, weekend, growth| Line {
            account,
            service,
            base_daily,
            weekend,
            growth,
            noise: 0.06,
            starts_days_ago: None,
        };
        let mut lines = vec![
            line(0, "AWS Cost Explorer", 0.72, 1.0, 0.0),
            line(0, "AWS CloudTrail", 3.1, 1.0, 0.01),
            line(1, "Amazon Elastic Compute Cloud - Compute", 820.0, 0.7, 0.025),
            line(1, "EC2 - Other", 140.0, 0.95, 0.02),
            line(1, "Amazon Relational Database Service", 410.0, 1.0, 0.015),
            line(1, "Amazon Simple Storage Service", 95.0, 1.0, 0.03),
            line(1, "Amazon CloudFront", 60.0, 0.8, 0.02),
            line(1, "Elastic Load Balancing", 48.0, 1.0, 0.01),
            line(1, "AmazonCloudWatch", 33.0, 1.0, 0.02),
            line(1, "AWS Lambda", 21.0, 0.6, 0.04),
            line(2, "Amazon Elastic Compute Cloud - Compute", 180.0, 0.35, 0.01),
            line(2, "Amazon Relational Database Service", 95.0, 1.0, 0.0),
            line(2, "Amazon Simple Storage Service", 12.0, 1.0, 0.02),
            line(2, "AmazonCloudWatch", 6.5, 1.0, 0.0),
            line(3, "Amazon Redshift", 260.0, 1.0, 0.02),
            line(3, "Amazon Simple Storage Service", 140.0, 1.0, 0.04),
            line(3, "AWS Glue", 75.0, 0.5, 0.03),
            line(3, "Amazon Athena", 18.0, 0.3, 0.05),
        ];
        lines.push(Line { starts_days_ago: Some(3), noise: 0.04, ..line(3, "Amazon SageMaker", 180.0, 1.0, 0.0) });
        let injected = vec![
            Injected {
                account: 1,
                service: "Amazon Elastic Compute Cloud - Compute",
                from_days_ago: 9,
                days: 2,
                factor: 3.2,
            },
            Injected {
                account: 2,
                service: "Amazon Relational Database Service",
                from_days_ago: 5,
                days: u64::MAX,
                factor: 1.8,
            },
            Injected { account: 1, service: "Amazon Simple Storage Service", from_days_ago: 60, days: 1, factor: 4.0 },
        ];
        SimulatedCloud { seed, today: now.date(), hours_today: now.hour(), accounts, lines, injected }
    }

    /// The payer account, the only Cost Explorer source.
    pub fn payer(&self) -> AccountId {
        self.accounts[0].0.clone()
    }

    /// The simulated accounts with their names, for the store.
    pub fn accounts(&self) -> Vec<Account> {
        self.accounts
            .iter()
            .map(|(id, name)| Account { id: id.clone(), name: Some(name.clone()), configured: true })
            .collect()
    }

    /// Every fact in `[start, end)` at a granularity.
    pub fn facts(&self, request: &FetchRequest) -> Vec<CostFact> {
        let mut facts = Vec::new();
        for day in request.range.iter_days().filter(|d| *d <= self.today) {
            for line in &self.lines {
                if let Some(hours) = self.hourly_amounts(line, day) {
                    self.push_facts(&mut facts, line, day, &hours, request.granularity);
                }
            }
        }
        facts
    }

    fn push_facts(
        &self,
        out: &mut Vec<CostFact>,
        line: &Line,
        day: NaiveDate,
        hours: &[Money],
        granularity: Granularity,
    ) {
        // Cost Explorer marks the last day or two as estimated; so does the simulation.
        let estimated = day + Days::new(2) > self.today;
        let fact = |period_start, amount| CostFact {
            granularity,
            period_start,
            account: self.accounts[line.account].0.clone(),
            service: ServiceName::parse(line.service).unwrap_or_else(|_| unreachable!("names are set above")),
            amount,
            unit: "USD".to_string(),
            estimated,
        };
        match granularity {
            Granularity::Daily => out.push(fact(day.and_time(chrono::NaiveTime::MIN), hours.iter().sum())),
            Granularity::Hourly => {
                for (hour, amount) in hours.iter().enumerate() {
                    let at = day.and_hms_opt(hour as u32, 0, 0).unwrap_or_else(|| unreachable!("hour < 24"));
                    out.push(fact(at, *amount));
                }
            }
        }
    }

    /// The amounts of one line for each elapsed hour of a day, or `None` before it starts.
    /// The daily fact is the exact sum of these, so both granularities agree to the unit.
    fn hourly_amounts(&self, line: &Line, day: NaiveDate) -> Option<Vec<Money>> {
        self.amounts(line, day, true)
    }

    /// Like `hourly_amounts`, optionally without the injected anomalies, so the breakdown can
    /// attribute the extra spend to one usage type.
    fn amounts(&self, line: &Line, day: NaiveDate, injected: bool) -> Option<Vec<Money>> {
        let days_ago = (self.today - day).num_days().max(0) as u64;
        if line.starts_days_ago.is_some_and(|start| days_ago > start) {
            return None;
        }
        let age_days = 395.0 - days_ago as f64;
        let mut daily = line.base_daily * (1.0 + line.growth).powf(age_days / 30.0);
        if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            daily *= line.weekend;
        }
        for inj in self.injected.iter().filter(|i| injected && i.account == line.account && i.service == line.service) {
            let first = inj.from_days_ago;
            let last = first.saturating_sub(inj.days.saturating_sub(1));
            if days_ago <= first && days_ago >= last {
                daily *= inj.factor;
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.line_seed(line, day));
        daily *= 1.0 + rng.gen_range(-line.noise..=line.noise);
        let hours = if day == self.today { self.hours_today } else { 24 };
        // A gentle daytime bump: compute runs hotter in business hours.
        let shape: Vec<f64> =
            (0..24).map(|h| 1.0 + 0.25 * ((h as f64 - 14.0) / 24.0 * std::f64::consts::TAU).cos()).collect();
        let total: f64 = shape.iter().sum();
        let amounts = shape
            .iter()
            .take(hours as usize)
            .map(|s| Money::from_decimal(Decimal::from_f64(daily * s / total).unwrap_or_default().round_dp(10)))
            .collect();
        Some(amounts)
    }

    fn line_seed(&self, line: &Line, day: NaiveDate) -> u64 {
        // A stable mix of the inputs; the exact function only has to be deterministic.
        let mut h = self.seed ^ 0x9E37_79B9_7F4A_7C15;
        for part in [line.account as u64, line.service.len() as u64, day.num_days_from_ce() as u64] {
            h = (h ^ part).wrapping_mul(0x1000_0000_01B3);
            h ^= h >> 29;
        }
        h ^ line.service.bytes().fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)))
    }
}

/// Usage types of a simulated line: (name, region, share of normal spend). The first one also
/// takes any injected extra spend, which is what a root cause should point at.
fn usage_types(service: &str) -> [(&'static str, &'static str, Decimal); 3] {
    let (extra, usage, other) = if service.contains("Compute") {
        ("USE1-BoxUsage:p4d.24xlarge", "USE1-BoxUsage:m5.xlarge", "EUW1-BoxUsage:c6g.large")
    } else if service.contains("Relational") {
        ("USE1-InstanceUsage:db.r6g.4xl", "USE1-InstanceUsage:db.r6g.large", "USE1-RDS:GP3-Storage")
    } else {
        ("USE1-Requests-Tier1", "USE1-TimedStorage-ByteHrs", "EUW1-DataTransfer-Out-Bytes")
    };
    [
        (extra, "us-east-1", Decimal::new(1, 1)),
        (usage, "us-east-1", Decimal::new(7, 1)),
        (other, "eu-west-1", Decimal::new(2, 1)),
    ]
}

#[async_trait]
impl BreakdownSource for SimulatedCloud {
    async fn breakdown(
        &self,
        source: &AccountId,
        account: &AccountId,
        service: &ServiceName,
        range: DateRange,
    ) -> anyhow::Result<(Vec<BreakdownRow>, u64)> {
        anyhow::ensure!(source == &self.payer(), "account {source} is not part of the simulated organisation");
        let line = self
            .lines
            .iter()
            .find(|l| &self.accounts[l.account].0 == account && l.service == service.as_str())
            .ok_or_else(|| anyhow::anyhow!("the simulation has no {service} in {account}"))?;
        let mut rows = Vec::new();
        for day in range.iter_days().filter(|d| *d <= self.today) {
            let (Some(with), Some(without)) = (self.amounts(line, day, true), self.amounts(line, day, false)) else {
                continue;
            };
            let total: Money = with.iter().sum();
            let normal: Money = without.iter().sum();
            let parts = usage_types(line.service);
            let mut rest = total;
            for (i, (name, region, share)) in parts.iter().enumerate().rev() {
                // The first usage type gets what is left, so the parts sum exactly to the fact.
                let amount = if i == 0 { rest } else { Money::from_decimal(normal.as_decimal() * share) };
                rest = rest - amount;
                rows.push(BreakdownRow { dimension: Dimension::UsageType, name: (*name).to_string(), day, amount });
                rows.push(BreakdownRow { dimension: Dimension::Region, name: (*region).to_string(), day, amount });
            }
        }
        Ok((rows, 1))
    }
}

#[async_trait]
impl CostSource for SimulatedCloud {
    async fn fetch(&self, source: &AccountId, request: &FetchRequest) -> Result<Fetched, FetchError> {
        if source != &self.payer() {
            return Err(FetchError {
                error: anyhow::anyhow!("account {source} is not part of the simulated organisation"),
                api_calls: 0,
            });
        }
        let facts = self.facts(request);
        // Cost Explorer pages grouped results; count one simulated request per 5,000 groups.
        let api_calls = 1 + facts.len() as u64 / 5_000;
        Ok(Fetched { facts, api_calls })
    }

    async fn fetch_breakdown(
        &self,
        source: &AccountId,
        request: &FetchRequest,
        dimension: BreakdownDimension,
    ) -> Result<FetchedBreakdown, FetchError> {
        let fail = |error| FetchError { error, api_calls: 1 };
        // The simulation keeps breakdowns daily; hourly ones are not simulated.
        if request.granularity == Granularity::Hourly {
            return Ok(FetchedBreakdown { rows: Vec::new(), api_calls: 1 });
        }
        let mut sums: std::collections::BTreeMap<(NaiveDate, usize, String), Money> = std::collections::BTreeMap::new();
        // The simulated cloud bills usage only: every fact is one `Usage` record.
        if dimension == BreakdownDimension::RecordType {
            let fetched = self.fetch(source, request).await?;
            for fact in fetched.facts {
                let account = self.accounts.iter().position(|(id, _)| *id == fact.account).unwrap_or(0);
                *sums.entry((fact.period_start.date(), account, "Usage".to_string())).or_default() += fact.amount;
            }
        }
        for line in self.lines.iter().filter(|_| dimension != BreakdownDimension::RecordType) {
            let account = &self.accounts[line.account].0;
            let service = ServiceName::parse(line.service).map_err(|e| fail(e.into()))?;
            let (rows, _) = self.breakdown(source, account, &service, request.range).await.map_err(fail)?;
            for row in rows.into_iter().filter(|r| {
                matches!(
                    (r.dimension, dimension),
                    (Dimension::Region, BreakdownDimension::Region)
                        | (Dimension::UsageType, BreakdownDimension::UsageType)
                )
            }) {
                *sums.entry((row.day, line.account, row.name)).or_default() += row.amount;
            }
        }
        let today = self.today;
        let rows = sums
            .into_iter()
            .map(|((day, account, key), amount)| BreakdownFact {
                granularity: Granularity::Daily,
                period_start: day.and_time(chrono::NaiveTime::MIN),
                account: self.accounts[account].0.clone(),
                dimension,
                key,
                amount,
                estimated: day + Days::new(2) > today,
            })
            .collect();
        Ok(FetchedBreakdown { rows, api_calls: 1 })
    }

    /// The simulated cloud bills usage only, so its usage is its facts.
    async fn fetch_usage(&self, source: &AccountId, request: &FetchRequest) -> Result<Option<Fetched>, FetchError> {
        self.fetch(source, request).await.map(Some)
    }

    async fn fetch_tags(
        &self,
        source: &AccountId,
        request: &FetchRequest,
        key: &TagKey,
    ) -> Result<FetchedTags, FetchError> {
        let fetched = self.fetch(source, request).await?;
        let mut sums: std::collections::BTreeMap<(chrono::NaiveDateTime, AccountId, String), (Money, bool)> =
            std::collections::BTreeMap::new();
        for fact in fetched.facts {
            let value = self.tag_value(key, &fact.account, fact.service.as_str());
            let entry = sums.entry((fact.period_start, fact.account, value)).or_default();
            entry.0 += fact.amount;
            entry.1 |= fact.estimated;
        }
        let rows = sums
            .into_iter()
            .map(|((period_start, account, value), (amount, estimated))| TagFact {
                granularity: request.granularity,
                period_start,
                account,
                key: key.clone(),
                value,
                amount,
                estimated,
            })
            .collect();
        Ok(FetchedTags { rows, api_calls: 1 })
    }
}

impl SimulatedCloud {
    /// The simulated value of a tag on a line's spend, so tag answers add up to the facts:
    /// `team` follows the service (storage and functions are left untagged, as they often are
    /// in real accounts); any other key or category follows the account.
    fn tag_value(&self, key: &TagKey, account: &AccountId, service: &str) -> String {
        if key.kind == crate::domain::tags::TagKind::Tag && key.name == "team" {
            let team = if service.contains("Compute") {
                "payments"
            } else if service.contains("Relational") {
                "search"
            } else if service.contains("Storage") || service.contains("Lambda") {
                ""
            } else {
                "platform"
            };
            return team.to_string();
        }
        let name = self.accounts.iter().find(|(id, _)| id == account).map_or("", |(_, n)| n.as_str());
        name.split_whitespace().next().unwrap_or_default().trim_start_matches("sim-").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(start: &str, end: &str, granularity: Granularity) -> FetchRequest {
        let range = DateRange::new(start.parse().unwrap(), end.parse().unwrap()).unwrap();
        FetchRequest { range, granularity, metric: "UnblendedCost".into() }
    }

    fn cloud() -> SimulatedCloud {
        SimulatedCloud::demo(7, "2026-11-25T15:00:00".parse().unwrap())
    }

    #[test]
    fn is_deterministic_whatever_the_range() {
        let whole = cloud().facts(&request("2026-11-01", "2026-11-26", Granularity::Daily));
        let part = cloud().facts(&request("2026-11-10", "2026-11-12", Granularity::Daily));
        assert!(!part.is_empty());
        for fact in &part {
            assert!(whole.contains(fact), "{fact:?}");
        }
    }

    #[test]
    fn daily_facts_are_the_exact_sum_of_hourly_ones() {
        let daily = cloud().facts(&request("2026-11-20", "2026-11-21", Granularity::Daily));
        let hourly = cloud().facts(&request("2026-11-20", "2026-11-21", Granularity::Hourly));
        let d: Money = daily.iter().map(|f| f.amount).sum();
        let h: Money = hourly.iter().map(|f| f.amount).sum();
        assert_eq!(d, h);
        assert_eq!(hourly.len(), daily.len() * 24);
    }

    #[test]
    fn today_is_partial_and_estimated_and_the_new_service_is_recent() {
        let facts = cloud().facts(&request("2026-11-15", "2026-11-26", Granularity::Hourly));
        let today: Vec<_> = facts.iter().filter(|f| f.period_start.date().to_string() == "2026-11-25").collect();
        assert!(today.iter().all(|f| f.estimated && f.period_start.hour() < 15));
        let sagemaker_days: std::collections::BTreeSet<_> =
            facts.iter().filter(|f| f.service.as_str() == "Amazon SageMaker").map(|f| f.period_start.date()).collect();
        assert_eq!(sagemaker_days.len(), 4, "{sagemaker_days:?}");
    }

    #[test]
    fn the_injected_spike_stands_out() {
        let facts = cloud().facts(&request("2026-11-09", "2026-11-18", Granularity::Daily));
        let ec2: Vec<_> = facts
            .iter()
            .filter(|f| f.account.as_str() == "222222222222" && f.service.as_str().ends_with("Compute"))
            .map(|f| (f.period_start.date().to_string(), f.amount))
            .collect();
        let spike = ec2.iter().find(|(d, _)| d == "2026-11-16").unwrap().1;
        let normal = ec2.iter().find(|(d, _)| d == "2026-11-12").unwrap().1;
        assert!(spike.as_decimal() > normal.as_decimal() * Decimal::from(2), "{ec2:?}");
    }
}
