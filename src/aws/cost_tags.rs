//! Spend by cost allocation tag or cost category from Cost Explorer: one paginated
//! GetCostAndUsage per payer and key, grouped by LINKED_ACCOUNT and the key (Cost Explorer
//! allows two group-bys), so the requests a run makes grow with payers × keys, never with
//! accounts or values.

use anyhow::{anyhow, Context, Result};
use aws_sdk_costexplorer::types::{GroupDefinitionType, ResultByTime};
use aws_sdk_costexplorer::Client;

use super::cost_explorer::{group, parse_period_start, query_grouped};
use crate::domain::sources::{FetchError, FetchRequest, FetchedTags};
use crate::domain::tags::{group_value, TagFact, TagKey, TagKind};
use crate::domain::{AccountId, Money};

/// Fetches one key's spend per account and value, every page.
pub(super) async fn fetch(client: &Client, request: &FetchRequest, key: &TagKey) -> Result<FetchedTags, FetchError> {
    let kind = match key.kind {
        TagKind::Tag => GroupDefinitionType::Tag,
        TagKind::Category => GroupDefinitionType::CostCategory,
    };
    let groups = [group(GroupDefinitionType::Dimension, "LINKED_ACCOUNT"), group(kind, &key.name)];
    let (results, api_calls) = query_grouped(client, request, groups, None).await?;
    let rows = tag_facts(&results, request, key).map_err(|error| FetchError { error, api_calls })?;
    Ok(FetchedTags { rows, api_calls })
}

/// Converts results grouped by `[LINKED_ACCOUNT, key]` into tag facts; `key$` (untagged)
/// becomes the value `""`, kept as its own row.
fn tag_facts(results: &[ResultByTime], request: &FetchRequest, key: &TagKey) -> Result<Vec<TagFact>> {
    let mut rows = Vec::new();
    for result in results {
        let start = result.time_period().map(|p| p.start()).context("result without a time period")?;
        let period_start = parse_period_start(start)?;
        for group in result.groups() {
            let [account, raw] = group.keys() else {
                return Err(anyhow!("Cost Explorer returned group keys {:?}, expected [account, {key}]", group.keys()));
            };
            let amount = group.metrics().and_then(|m| m.get(&request.metric)).and_then(|v| v.amount()).unwrap_or("0");
            rows.push(TagFact {
                granularity: request.granularity,
                period_start,
                account: AccountId::parse(account)?,
                key: key.clone(),
                value: group_value(key, raw)?,
                amount: Money::parse(amount).with_context(|| format!("amount for {account}/{raw}"))?,
                estimated: result.estimated(),
            });
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DateRange, Granularity};
    use aws_sdk_costexplorer::types::{DateInterval, Group, MetricValue};

    fn result(groups: Vec<(&str, &str, &str)>) -> ResultByTime {
        let period = DateInterval::builder().start("2026-11-01").end("2026-11-02").build().unwrap();
        let groups = groups
            .into_iter()
            .map(|(account, key, amount)| {
                let value = MetricValue::builder().amount(amount).unit("USD").build();
                Group::builder().keys(account).keys(key).metrics("UnblendedCost", value).build()
            })
            .collect();
        ResultByTime::builder().time_period(period).set_groups(Some(groups)).build()
    }

    fn request() -> FetchRequest {
        let range = DateRange::new("2026-11-01".parse().unwrap(), "2026-11-02".parse().unwrap()).unwrap();
        FetchRequest { range, granularity: Granularity::Daily, metric: "UnblendedCost".into() }
    }

    #[test]
    fn values_and_untagged_spend_are_rows_and_a_foreign_key_is_an_error() {
        let team = TagKey::tag("team");
        let results = [result(vec![("123456789012", "team$payments", "10.5"), ("123456789012", "team$", "2")])];
        let rows = tag_facts(&results, &request(), &team).unwrap();
        let values: Vec<(&str, String)> = rows.iter().map(|r| (r.value.as_str(), r.amount.to_string())).collect();
        assert_eq!(
            values,
            [("payments", Money::parse("10.5").unwrap().to_string()), ("", Money::parse("2").unwrap().to_string())]
        );
        let wrong = [result(vec![("123456789012", "env$prod", "1")])];
        assert!(tag_facts(&wrong, &request(), &team).is_err());
    }
}
