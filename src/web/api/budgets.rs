//! `GET /api/v1/budgets`: the budgets a token may see, worked out by the budgets job's own
//! evaluation (through [`BudgetSource`]), so the numbers equal `/cost budget`'s.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;

use super::types::{BudgetItem, BudgetsResponse, ErrorBody};
use super::{query, ApiError, ApiState, Caller, Grant};
use crate::domain::tags::TagScope;
use crate::domain::AccountId;
use crate::render::budget::BudgetRow;

/// Where the API's budgets come from: the budgets job, which the web layer may not name.
#[async_trait]
pub trait BudgetSource: Send + Sync {
    /// The budgets a viewer limited to `accounts` (`None`: every account) or to `tags` may
    /// see, worked out on `today`; a tag-scoped viewer sees only budgets of its own values.
    async fn budgets(
        &self,
        accounts: Option<&[AccountId]>,
        tags: Option<&TagScope>,
        today: NaiveDate,
    ) -> anyhow::Result<Vec<BudgetRow>>;
}

/// Which budgets.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the parameters; the handler reads the raw query.
pub(super) struct BudgetsParams {
    /// Only this budget (by name).
    name: Option<String>,
}

/// Budgets this month: spend so far, burn rate, forecast and the thresholds reached.
#[utoipa::path(
    get,
    path = "/api/v1/budgets",
    params(BudgetsParams),
    security(("token" = [])),
    responses(
        (status = 200, description = "Budgets inside the token's scope", body = BudgetsResponse),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token, or not a configured one", body = ErrorBody),
        (status = 403, description = "Outside the token's scope, or the API is off", body = ErrorBody),
    ),
    tag = "budgets"
)]
pub(super) async fn budgets(Caller(grant): Caller, State(state): State<ApiState>, RawQuery(raw): RawQuery) -> Response {
    budgets_inner(&grant, &state, raw.as_deref())
        .await
        .map_or_else(IntoResponse::into_response, IntoResponse::into_response)
}

async fn budgets_inner(grant: &Grant, state: &ApiState, raw: Option<&str>) -> Result<Json<BudgetsResponse>, ApiError> {
    let pairs = query::pairs(raw)?;
    query::only(&pairs, &["name"])?;
    let names = query::values(&pairs, "name");
    let rows = match &state.budgets {
        Some(source) => source
            .budgets(grant.accounts.as_deref(), grant.tags.as_ref(), (state.today)())
            .await
            .map_err(ApiError::internal)?,
        None => Vec::new(),
    };
    let budgets = rows
        .iter()
        .filter(|row| names.is_empty() || names.iter().any(|n| row.name.to_string() == *n))
        .map(BudgetItem::from)
        .collect();
    Ok(Json(BudgetsResponse { budgets }))
}

/// The state's budget source, shared by every request.
pub(super) type SharedBudgets = Option<Arc<dyn BudgetSource>>;
