//! SQL for the resource inventory, shared by both stores like `sql.rs`.

use anyhow::{bail, Context, Result};

use crate::domain::resource::Resource;
use crate::domain::AccountId;

/// The stored columns of one resource.
pub(super) struct Row {
    pub kind: &'static str,
    pub record: String,
    pub cost_units: Option<i64>,
}

/// Checks that a resource belongs to the (account, region) being replaced, and serialises it.
pub(super) fn row(resource: &Resource, account: &AccountId, region: &str) -> Result<Row> {
    let r = &resource.reference;
    if &r.account != account || r.region != region {
        bail!("{r} was handed to replace_inventory for {account} {region}");
    }
    Ok(Row {
        kind: r.kind.as_str(),
        record: serde_json::to_string(resource).with_context(|| format!("cannot serialise {r}"))?,
        cost_units: resource.monthly_cost.map(super::sql::to_stored_units).transpose()?,
    })
}

pub(super) fn parse_record(text: &str) -> Result<Resource> {
    serde_json::from_str(text).context("stored inventory record is unreadable")
}

/// Implements `InventoryStore` for a struct with a `pool` field.
macro_rules! impl_inventory_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::InventoryStore for $store {
            async fn replace_inventory(
                &self,
                account: &$crate::domain::AccountId,
                region: &str,
                resources: &[$crate::domain::resource::Resource],
                seen_at: chrono::NaiveDateTime,
            ) -> anyhow::Result<u64> {
                use $crate::store::inventory_sql::row;
                let mut tx = self.pool.begin().await?;
                for resource in resources {
                    let row = row(resource, account, region)?;
                    // A resource that comes back after vanishing keeps its first sighting.
                    sqlx::query(
                        "INSERT INTO inventory (account_id, region, kind, resource_id, state, record, monthly_cost_units,
                         first_seen, last_seen, gone_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, NULL)
                         ON CONFLICT (account_id, region, kind, resource_id) DO UPDATE SET state = excluded.state,
                         record = excluded.record, monthly_cost_units = excluded.monthly_cost_units,
                         last_seen = excluded.last_seen, gone_at = NULL",
                    )
                    .bind(account.as_str())
                    .bind(region)
                    .bind(row.kind)
                    .bind(&resource.reference.id)
                    .bind(&resource.state)
                    .bind(&row.record)
                    .bind(row.cost_units)
                    .bind(seen_at)
                    .execute(&mut *tx)
                    .await?;
                }
                // Every row this run saw now has last_seen = seen_at; the others have vanished.
                sqlx::query(
                    "UPDATE inventory SET gone_at = $3 WHERE account_id = $1 AND region = $2 AND gone_at IS NULL
                     AND last_seen <> $3",
                )
                .bind(account.as_str())
                .bind(region)
                .bind(seen_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(resources.len() as u64)
            }

            async fn inventory(&self, include_gone: bool) -> anyhow::Result<Vec<$crate::store::InventoryEntry>> {
                let rows: Vec<(String, chrono::NaiveDateTime, chrono::NaiveDateTime)> = sqlx::query_as(
                    "SELECT record, first_seen, last_seen FROM inventory WHERE ($1 OR gone_at IS NULL)
                     ORDER BY account_id, region, kind, resource_id",
                )
                .bind(include_gone)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(record, first, last)| -> anyhow::Result<$crate::store::InventoryEntry> {
                        Ok(($crate::store::inventory_sql::parse_record(&record)?, first, last))
                    })
                    .collect()
            }
        }
    };
}

pub(super) use impl_inventory_store;
