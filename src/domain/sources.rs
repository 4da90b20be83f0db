//! The ports cost data comes through: [`CostSource`] for cost facts and breakdowns (the
//! collector's), [`BreakdownSource`] for the root-cause breakdowns (detection's).
//!
//! Like [`CloudInventory`](super::resource::CloudInventory), they are declared here so that
//! both their implementations (the Cost Explorer adapter in `crate::aws`, the simulated cloud
//! in `crate::sim`) and the jobs that use them depend on `domain`, not on each other.

use anyhow::Result;
use async_trait::async_trait;

use super::root_cause::BreakdownRow;
use super::{AccountId, BreakdownDimension, BreakdownFact, CostFact, DateRange, Granularity, ServiceName};

/// What one source is asked for.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// Days to fetch (today included, as estimated data).
    pub range: DateRange,
    /// Day or hour facts.
    pub granularity: Granularity,
    /// Cost Explorer metric name.
    pub metric: String,
}

/// What a source returned.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Every fact in the range, all pages included.
    pub facts: Vec<CostFact>,
    /// Requests made (each Cost Explorer request costs $0.01).
    pub api_calls: u64,
}

/// A fetch that failed, with the requests it made before failing.
#[derive(Debug)]
pub struct FetchError {
    /// What went wrong, with context.
    pub error: anyhow::Error,
    /// Requests made before the failure.
    pub api_calls: u64,
}

/// Breakdown rows a source returned.
#[derive(Debug, Default)]
pub struct FetchedBreakdown {
    /// Every row in the range.
    pub rows: Vec<BreakdownFact>,
    /// Requests made.
    pub api_calls: u64,
}

/// Tag or cost-category rows a source returned.
#[derive(Debug, Default)]
pub struct FetchedTags {
    /// Every row in the range, untagged spend included (value `""`).
    pub rows: Vec<super::tags::TagFact>,
    /// Requests made.
    pub api_calls: u64,
}

/// Where cost facts come from: one paginated query per source account per run.
#[async_trait]
pub trait CostSource: Send + Sync {
    /// Fetches every fact the source's Cost Explorer has for the request.
    async fn fetch(&self, source: &AccountId, request: &FetchRequest) -> Result<Fetched, FetchError>;

    /// Fetches spend per account by region or usage type (one paginated query).
    async fn fetch_breakdown(
        &self,
        source: &AccountId,
        request: &FetchRequest,
        dimension: BreakdownDimension,
    ) -> Result<FetchedBreakdown, FetchError>;

    /// Fetches spend per account by the values of one tag key or cost category (one
    /// paginated query, LINKED_ACCOUNT × the key). A source without tags returns nothing.
    async fn fetch_tags(
        &self,
        _source: &AccountId,
        _request: &FetchRequest,
        _key: &super::tags::TagKey,
    ) -> Result<FetchedTags, FetchError> {
        Ok(FetchedTags::default())
    }

    /// Fetches usage-only facts ([`USAGE_RECORD_TYPES`]), grouped like [`CostSource::fetch`],
    /// for anomaly detection. `None` when the source cannot tell record types apart; the
    /// detection job then scores that source's net facts.
    async fn fetch_usage(&self, _source: &AccountId, _request: &FetchRequest) -> Result<Option<Fetched>, FetchError> {
        Ok(None)
    }
}

/// Cost Explorer record types that are usage: on-demand, reservation-covered and Savings
/// Plan-covered usage. Credits, refunds, tax, support, fees and negations are not.
pub const USAGE_RECORD_TYPES: [&str; 3] = ["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"];

/// Where usage-type and region breakdowns come from (Cost Explorer, or the simulation).
#[async_trait]
pub trait BreakdownSource: Send + Sync {
    /// Daily spend of one service in one account over `range`, by usage type and by region,
    /// queried through `source` (the payer whose data covers the account). Returns the rows
    /// and the number of requests made.
    async fn breakdown(
        &self,
        source: &AccountId,
        account: &AccountId,
        service: &ServiceName,
        range: DateRange,
    ) -> Result<(Vec<BreakdownRow>, u64)>;
}
