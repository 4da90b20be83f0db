//! Cost Explorer as a [`CostSource`]: one paginated GetCostAndUsage per source account per
//! run, grouped by linked account and service; and as a [`BreakdownSource`] for root causes.

use std::collections::HashMap;

use anyhow::{anyhow, Context, Result};
use async_trait::async_trait;
use aws_sdk_costexplorer::error::DisplayErrorContext;
use aws_sdk_costexplorer::types::{
    DateInterval, Dimension, DimensionValues, Expression, GroupDefinition, GroupDefinitionType, ResultByTime,
};
use aws_sdk_costexplorer::Client;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::config::Config;
use crate::domain::root_cause::{BreakdownRow, Dimension as RootDimension};
use crate::domain::sources::{
    BreakdownSource, CostSource, FetchError, FetchRequest, Fetched, FetchedBreakdown, FetchedTags, USAGE_RECORD_TYPES,
};
use crate::domain::tags::TagKey;
use crate::domain::{
    AccountId, BreakdownDimension, BreakdownFact, CostFact, DateRange, Granularity, Money, ServiceName,
};

/// Cost Explorer clients, one per source account, each with that account's credentials.
pub struct CostExplorerSource {
    clients: HashMap<AccountId, Client>,
    metric: String,
}

impl CostExplorerSource {
    /// Builds a client for every account with `cost_explorer = true`.
    pub async fn from_config(config: &Config) -> Result<CostExplorerSource> {
        let base = super::base_config(&config.aws).await;
        let mut clients = HashMap::new();
        for account in config.accounts.iter().filter(|a| a.cost_explorer) {
            let sdk = super::account_config(&base, account)
                .await
                .with_context(|| format!("account {}: cannot set up credentials", account.id))?;
            clients.insert(account.id.clone(), Client::new(&sdk));
        }
        Ok(CostExplorerSource { clients, metric: config.costs.metric.clone() })
    }
}

impl CostExplorerSource {
    fn client(&self, source: &AccountId) -> Result<&Client> {
        self.clients
            .get(source)
            .ok_or_else(|| anyhow!("account {source} has no Cost Explorer client (is cost_explorer = true set?)"))
    }
}

/// One GetCostAndUsage query followed through every page. Returns every page's results and
/// the number of requests made, also on failure.
async fn query_all(
    client: &Client,
    request: &FetchRequest,
    group_by: [&str; 2],
    filter: Option<Expression>,
) -> Result<(Vec<ResultByTime>, u64), FetchError> {
    let groups = group_by.map(|key| group(GroupDefinitionType::Dimension, key));
    query_grouped(client, request, groups, filter).await
}

/// [`query_all`] with any two group definitions (a dimension, a tag, a cost category).
pub(super) async fn query_grouped(
    client: &Client,
    request: &FetchRequest,
    group_by: [GroupDefinition; 2],
    filter: Option<Expression>,
) -> Result<(Vec<ResultByTime>, u64), FetchError> {
    let interval = date_interval(request).map_err(|error| FetchError { error, api_calls: 0 })?;
    let mut results = Vec::new();
    let mut api_calls = 0;
    let mut token: Option<String> = None;
    loop {
        let response = client
            .get_cost_and_usage()
            .time_period(interval.clone())
            .granularity(sdk_granularity(request.granularity))
            .metrics(&request.metric)
            .group_by(group_by[0].clone())
            .group_by(group_by[1].clone())
            .set_filter(filter.clone())
            .set_next_page_token(token.take())
            .send()
            .await;
        api_calls += 1;
        let page = response.map_err(|e| FetchError {
            error: anyhow!("Cost Explorer GetCostAndUsage failed: {}", DisplayErrorContext(&e)),
            api_calls,
        })?;
        results.extend(page.results_by_time().iter().cloned());
        match page.next_page_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok((results, api_calls))
}

#[async_trait]
impl CostSource for CostExplorerSource {
    async fn fetch(&self, source: &AccountId, request: &FetchRequest) -> Result<Fetched, FetchError> {
        let client = self.client(source).map_err(|error| FetchError { error, api_calls: 0 })?;
        let (results, api_calls) = query_all(client, request, ["LINKED_ACCOUNT", "SERVICE"], None).await?;
        let facts = facts_from_results(&results, request).map_err(|error| FetchError { error, api_calls })?;
        Ok(Fetched { facts, api_calls })
    }

    async fn fetch_breakdown(
        &self,
        source: &AccountId,
        request: &FetchRequest,
        dimension: BreakdownDimension,
    ) -> Result<FetchedBreakdown, FetchError> {
        let client = self.client(source).map_err(|error| FetchError { error, api_calls: 0 })?;
        let (results, api_calls) =
            query_all(client, request, ["LINKED_ACCOUNT", dimension.cost_explorer_key()], None).await?;
        let rows = dimension_facts(&results, request, dimension).map_err(|error| FetchError { error, api_calls })?;
        Ok(FetchedBreakdown { rows, api_calls })
    }

    async fn fetch_tags(
        &self,
        source: &AccountId,
        request: &FetchRequest,
        key: &TagKey,
    ) -> Result<FetchedTags, FetchError> {
        let client = self.client(source).map_err(|error| FetchError { error, api_calls: 0 })?;
        super::cost_tags::fetch(client, request, key).await
    }

    async fn fetch_usage(&self, source: &AccountId, request: &FetchRequest) -> Result<Option<Fetched>, FetchError> {
        let client = self.client(source).map_err(|error| FetchError { error, api_calls: 0 })?;
        let values = USAGE_RECORD_TYPES.map(String::from).to_vec();
        let usage = DimensionValues::builder().key(Dimension::RecordType).set_values(Some(values)).build();
        let filter = Expression::builder().dimensions(usage).build();
        let (results, api_calls) = query_all(client, request, ["LINKED_ACCOUNT", "SERVICE"], Some(filter)).await?;
        let facts = facts_from_results(&results, request).map_err(|error| FetchError { error, api_calls })?;
        Ok(Some(Fetched { facts, api_calls }))
    }
}

/// Converts results grouped by `[LINKED_ACCOUNT, REGION | USAGE_TYPE]` into breakdown facts.
fn dimension_facts(
    results: &[ResultByTime],
    request: &FetchRequest,
    dimension: BreakdownDimension,
) -> Result<Vec<BreakdownFact>> {
    let mut rows = Vec::new();
    for result in results {
        let start = result.time_period().map(|p| p.start()).context("result without a time period")?;
        let period_start = parse_period_start(start)?;
        for group in result.groups() {
            let [account, key] = group.keys() else {
                return Err(anyhow!(
                    "Cost Explorer returned group keys {:?}, expected [account, {}]",
                    group.keys(),
                    dimension.as_str()
                ));
            };
            let amount = group.metrics().and_then(|m| m.get(&request.metric)).and_then(|v| v.amount()).unwrap_or("0");
            rows.push(BreakdownFact {
                granularity: request.granularity,
                period_start,
                account: AccountId::parse(account)?,
                dimension,
                key: key.clone(),
                amount: Money::parse(amount)?,
                estimated: result.estimated(),
            });
        }
    }
    Ok(rows)
}

#[async_trait]
impl BreakdownSource for CostExplorerSource {
    async fn breakdown(
        &self,
        source: &AccountId,
        account: &AccountId,
        service: &ServiceName,
        range: DateRange,
    ) -> Result<(Vec<BreakdownRow>, u64)> {
        let client = self.client(source)?;
        let request = FetchRequest { range, granularity: Granularity::Daily, metric: self.metric.clone() };
        let only = |key: Dimension, value: &str| {
            Expression::builder().dimensions(DimensionValues::builder().key(key).values(value).build()).build()
        };
        let filter = Expression::builder()
            .and(only(Dimension::LinkedAccount, account.as_str()))
            .and(only(Dimension::Service, service.as_str()))
            .build();
        let (results, calls) = query_all(client, &request, ["USAGE_TYPE", "REGION"], Some(filter))
            .await
            .map_err(|f| f.error.context(format!("root cause for {account} / {service}")))?;
        Ok((breakdown_rows(&results, &request.metric)?, calls))
    }
}

/// Turns results grouped by `[USAGE_TYPE, REGION]` into one row per dimension per group, so
/// each dimension's rows sum to the service's spend.
fn breakdown_rows(results: &[ResultByTime], metric: &str) -> Result<Vec<BreakdownRow>> {
    let mut rows = Vec::new();
    for result in results {
        let start = result.time_period().map(|p| p.start()).context("result without a time period")?;
        let day = parse_period_start(start)?.date();
        for group in result.groups() {
            let [usage_type, region] = group.keys() else {
                return Err(anyhow!(
                    "Cost Explorer returned group keys {:?}, expected [usage type, region]",
                    group.keys()
                ));
            };
            let amount = group.metrics().and_then(|m| m.get(metric)).and_then(|v| v.amount()).unwrap_or("0");
            let amount = Money::parse(amount)?;
            for (dimension, name) in [(RootDimension::UsageType, usage_type), (RootDimension::Region, region)] {
                rows.push(BreakdownRow { dimension, name: name.clone(), day, amount });
            }
        }
    }
    Ok(rows)
}

pub(super) fn group(kind: GroupDefinitionType, key: &str) -> GroupDefinition {
    GroupDefinition::builder().r#type(kind).key(key).build()
}

fn sdk_granularity(granularity: Granularity) -> aws_sdk_costexplorer::types::Granularity {
    match granularity {
        Granularity::Daily => aws_sdk_costexplorer::types::Granularity::Daily,
        Granularity::Hourly => aws_sdk_costexplorer::types::Granularity::Hourly,
    }
}

/// Cost Explorer wants `yyyy-MM-dd` for daily and `yyyy-MM-ddThh:mm:ssZ` for hourly ranges.
fn date_interval(request: &FetchRequest) -> Result<DateInterval> {
    let format = |d: NaiveDate| match request.granularity {
        Granularity::Daily => d.format("%Y-%m-%d").to_string(),
        Granularity::Hourly => d.format("%Y-%m-%dT00:00:00Z").to_string(),
    };
    DateInterval::builder()
        .start(format(request.range.start()))
        .end(format(request.range.end()))
        .build()
        .context("cannot build the Cost Explorer time period")
}

/// Parses a result period start: a date, or an RFC 3339 time for hourly data.
pub(super) fn parse_period_start(text: &str) -> Result<NaiveDateTime> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(NaiveTime::MIN));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.naive_utc())
        .with_context(|| format!("Cost Explorer returned an unreadable period start `{text}`"))
}

/// Converts one page of results into facts. Groups are `[LINKED_ACCOUNT, SERVICE]`, in the
/// order the request asked for them.
pub fn facts_from_results(results: &[ResultByTime], request: &FetchRequest) -> Result<Vec<CostFact>> {
    let mut facts = Vec::new();
    for result in results {
        let start =
            result.time_period().map(|p| p.start()).context("Cost Explorer returned a result without a time period")?;
        let period_start = parse_period_start(start)?;
        for group in result.groups() {
            let [account, service] = group.keys() else {
                return Err(anyhow!(
                    "Cost Explorer returned group keys {:?}, expected [account, service]",
                    group.keys()
                ));
            };
            let Some(metric) = group.metrics().and_then(|m| m.get(&request.metric)) else {
                return Err(anyhow!("Cost Explorer returned no {} for {account}/{service}", request.metric));
            };
            let amount = metric.amount().context("metric without an amount")?;
            facts.push(CostFact {
                granularity: request.granularity,
                period_start,
                account: AccountId::parse(account)?,
                service: ServiceName::parse(service)?,
                amount: Money::parse(amount).with_context(|| format!("amount for {account}/{service}"))?,
                unit: metric.unit().unwrap_or("USD").to_string(),
                estimated: result.estimated(),
            });
        }
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DateRange;
    use aws_sdk_costexplorer::types::{Group, MetricValue};

    fn request() -> FetchRequest {
        let range = DateRange::new("2026-11-01".parse().unwrap(), "2026-11-03".parse().unwrap()).unwrap();
        FetchRequest { range, granularity: Granularity::Daily, metric: "UnblendedCost".into() }
    }

    fn result(start: &str, estimated: bool, groups: Vec<Group>) -> ResultByTime {
        let period = DateInterval::builder().start(start).end("x").build().unwrap();
        ResultByTime::builder().time_period(period).estimated(estimated).set_groups(Some(groups)).build()
    }

    fn group(keys: &[&str], amount: &str) -> Group {
        let value = MetricValue::builder().amount(amount).unit("USD").build();
        let mut g = Group::builder().metrics("UnblendedCost", value);
        for k in keys {
            g = g.keys(*k);
        }
        g.build()
    }

    #[test]
    fn converts_groups_exactly() {
        let results = vec![result(
            "2026-11-01",
            true,
            vec![group(&["123456789012", "Amazon Simple Storage Service"], "40.3543773134")],
        )];
        let facts = facts_from_results(&results, &request()).unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(facts[0].amount.as_decimal().to_string(), "40.3543773134");
        assert!(facts[0].estimated);
        assert_eq!(facts[0].period_start.to_string(), "2026-11-01 00:00:00");
    }

    #[test]
    fn hourly_periods_parse() {
        let results = vec![result("2026-11-01T13:00:00Z", false, vec![group(&["123456789012", "AWS Lambda"], "0.5")])];
        let facts = facts_from_results(&results, &request()).unwrap();
        assert_eq!(facts[0].period_start.to_string(), "2026-11-01 13:00:00");
    }

    #[test]
    fn malformed_results_are_errors_not_panics() {
        let bad_keys = vec![result("2026-11-01", false, vec![group(&["Amazon S3"], "1")])];
        assert!(facts_from_results(&bad_keys, &request()).unwrap_err().to_string().contains("group keys"));
        let bad_amount = vec![result("2026-11-01", false, vec![group(&["123456789012", "S3"], "1,5")])];
        assert!(format!("{:#}", facts_from_results(&bad_amount, &request()).unwrap_err()).contains("1,5"));
        let bad_account = vec![result("2026-11-01", false, vec![group(&["NoAccount", "S3"], "1")])];
        assert!(facts_from_results(&bad_account, &request()).is_err());
        let bad_date = vec![result("yesterday", false, vec![])];
        assert!(facts_from_results(&bad_date, &request()).is_err());
    }
}
