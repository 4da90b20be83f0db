//! The pure core: money, identifiers, cost facts, periods and collector-run records.
//!
//! Invariant: nothing in `domain` does I/O or knows about Slack, Discord, AWS SDK or SQL
//! types. Adapters convert to and from these types at the edge.

pub mod anomaly;
pub mod audit;
pub mod band;
pub mod budget;
pub mod chat;
pub mod console;
pub mod cost;
pub mod digest;
pub mod feedback;
pub mod forecast;
pub mod ids;
pub mod incident;
pub mod lease;
pub mod money;
pub mod offhours;
pub mod outbox;
pub mod owner;
pub mod prices;
pub mod proposal;
pub mod resource;
pub mod root_cause;
pub mod run;
pub mod running_sum;
pub mod sources;
pub mod tags;
pub mod waste;

pub use cost::{BreakdownDimension, BreakdownFact, CostFact, DateRange, Granularity};
pub use ids::{AccountId, RoleArn, ServiceName};
pub use money::Money;

/// An AWS account costbot knows about, from configuration or discovered in a payer's data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    /// The twelve-digit id.
    pub id: AccountId,
    /// A human name from configuration, if any (used in answers instead of the id).
    pub name: Option<String>,
    /// True when the account is listed in configuration; false when it only appeared as a
    /// linked account in a payer's Cost Explorer data.
    pub configured: bool,
}
