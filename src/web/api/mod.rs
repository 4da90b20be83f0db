//! The read-only REST API: `/api/v1/costs`, `/api/v1/anomalies`, `/api/v1/proposals`, and
//! the OpenAPI document generated from the handlers at `/api/v1/openapi.json`.
//!
//! Every data route needs `Authorization: Bearer <token>` with a token from `[[api.tokens]]`
//! (401 without one), answers only inside that token's scope (403 outside it) and refuses a
//! bad parameter with 400; every error is a JSON `{"error": "…"}`. Without any configured
//! token every route is refused (deny by default). Spend comes from the same functions that
//! answer `/cost` in chat, through [`SpendSource`]; anomalies and proposals straight from the
//! store. Nothing here changes anything.
//!
//! A new route follows the pattern of [`anomalies`]: a handler with `#[utoipa::path]` taking
//! [`Caller`] first (which signs the request in), its types in [`types`] deriving `ToSchema`,
//! and one `.routes(routes!(…))` line in [`routes`].

mod budgets;
pub mod query;
pub mod types;

pub use budgets::BudgetSource;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::NaiveDate;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::commands::{Report, Vocabulary};
use crate::config::ApiConfig;
use crate::domain::incident::{Scope as IncidentScope, SeriesKey};
use crate::domain::tags::{TagKey, TagScope};
use crate::domain::{Account, AccountId};
use crate::render::answer::SpendView;
use crate::store::DynStore;
use query::BadQuery;
use types::{AnomaliesResponse, AnomalyItem, CostsResponse, ErrorBody, ProposalItem, ProposalsResponse};

/// Where the API's spend answers come from: the functions that answer `/cost` (the wiring
/// passes `answers::Answers`, which this adapter layer may not name).
#[async_trait]
pub trait SpendSource: Send + Sync {
    /// The report `report` asks for, over `scope` (`None`: every account) and, for a
    /// tag-scoped token, only the spend under its tag values, as of `today`.
    async fn spend(
        &self,
        report: &Report,
        scope: Option<&[AccountId]>,
        tags: Option<&TagScope>,
        today: NaiveDate,
    ) -> Result<SpendView, SpendError>;
}

/// Why a spend question was not answered.
#[derive(Debug, thiserror::Error)]
pub enum SpendError {
    /// Something the caller can fix (an unknown service, say); answered with 400.
    #[error("{0}")]
    Question(String),
    /// Our fault; logged, answered with 503.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A configured token: its digest and what it may see.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The token's name from the configuration.
    pub name: String,
    digest: [u8; 32],
    /// The accounts it may see; `None` means every account.
    pub accounts: Option<Vec<AccountId>>,
    /// The tag values it may see (one key, as for a channel): like a tag-scoped channel, it
    /// then sees only spend under them, per-tag anomalies of those values and proposals for
    /// resources carrying them, never an account or organisation figure.
    pub tags: Option<TagScope>,
}

/// What the API routes share. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    store: DynStore,
    spend: Arc<dyn SpendSource>,
    grants: Arc<Vec<Grant>>,
    today: Arc<dyn Fn() -> NaiveDate + Send + Sync>,
    vocabulary: Vocabulary,
    budgets: budgets::SharedBudgets,
}

impl ApiState {
    /// The state for `config`'s tokens.
    pub fn new(store: DynStore, config: &ApiConfig, spend: Arc<dyn SpendSource>) -> Result<ApiState> {
        let grants = config
            .tokens
            .iter()
            .map(|t| {
                Ok(Grant {
                    name: t.name.clone(),
                    digest: t.digest()?,
                    accounts: (!t.accounts.is_empty()).then(|| t.accounts.clone()),
                    tags: t
                        .tags
                        .iter()
                        .next()
                        .map(|(key, values)| TagScope { key: TagKey::tag(key), values: values.clone() }),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let today = Arc::new(|| chrono::Utc::now().date_naive());
        Ok(ApiState { store, spend, grants: Arc::new(grants), today, vocabulary: Vocabulary::default(), budgets: None })
    }

    /// The same state with the budgets `/api/v1/budgets` lists (none without it).
    pub fn with_budgets(self, budgets: Arc<dyn BudgetSource>) -> ApiState {
        ApiState { budgets: Some(budgets), ..self }
    }

    /// The same state with the configured tag keys, so `team=payments` works as a parameter.
    pub fn with_vocabulary(self, vocabulary: Vocabulary) -> ApiState {
        ApiState { vocabulary, ..self }
    }

    /// The same state with another clock for "today" (UTC), so tests can ask on a fixed day.
    pub fn with_today(self, today: impl Fn() -> NaiveDate + Send + Sync + 'static) -> ApiState {
        ApiState { today: Arc::new(today), ..self }
    }
}

/// A refusal: a status and a sentence, sent as `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl ApiError {
    fn bad(text: impl Into<String>) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, text.into())
    }

    fn forbidden(text: impl Into<String>) -> ApiError {
        ApiError(StatusCode::FORBIDDEN, text.into())
    }

    fn internal(error: anyhow::Error) -> ApiError {
        tracing::error!(error = %format!("{error:#}"), "an API request failed");
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "costbot could not answer just now; please try again.".into())
    }
}

impl From<BadQuery> for ApiError {
    fn from(e: BadQuery) -> ApiError {
        ApiError::bad(e.0)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(ErrorBody { error: self.1 });
        if self.0 == StatusCode::UNAUTHORIZED {
            return (self.0, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response();
        }
        (self.0, body).into_response()
    }
}

/// The answer to every request while no token is configured.
const OFF: &str = "The REST API is off: configure [[api.tokens]] to turn it on.";

/// A caller signed in with a configured token.
pub struct Caller(pub Grant);

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        if state.grants.is_empty() {
            return Err(ApiError::forbidden(OFF));
        }
        let unauthorized = || {
            ApiError(StatusCode::UNAUTHORIZED, "Send a token from [[api.tokens]] as `Authorization: Bearer …`.".into())
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(unauthorized)?;
        let given = crate::config::sha256(given);
        // Every digest is compared in full, whichever matches, so the time taken says nothing
        // about how close a guess came.
        let mut found = None;
        for grant in state.grants.iter() {
            let same = grant.digest.iter().zip(given.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            if same && found.is_none() {
                found = Some(grant.clone());
            }
        }
        let grant = found.ok_or_else(unauthorized)?;
        Ok(Caller(grant))
    }
}

/// The `/api/v1` routes and their OpenAPI description.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "costbot",
        description = "Read-only access to costbot's store: spend (the `/cost` grammar as query parameters), anomalies, savings proposals and budgets. Amounts are exact decimal strings in USD; times are RFC 3339 in UTC."
    ),
    modifiers(&BearerToken),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// Declares the bearer token scheme every data route names.
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        openapi.components.get_or_insert_with(Default::default).add_security_scheme("token", scheme);
    }
}

/// Every data route, each with its OpenAPI operation.
fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(costs))
        .routes(routes!(anomalies))
        .routes(routes!(proposals))
        .routes(routes!(budgets::budgets))
}

/// The OpenAPI document, as `/api/v1/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

/// The API's routes. They are always mounted: without tokens they refuse every request, the
/// OpenAPI document included; with tokens the document is readable without one (it describes
/// the API and holds no data).
pub fn router(state: ApiState) -> Router {
    let (router, doc) = routes().split_for_parts();
    let doc = Arc::new(doc);
    let enabled = !state.grants.is_empty();
    let serve_doc = move || {
        let doc = doc.clone();
        async move {
            if !enabled {
                return ApiError::forbidden(OFF).into_response();
            }
            Json(doc.as_ref().clone()).into_response()
        }
    };
    router.route("/api/v1/openapi.json", axum::routing::get(serve_doc)).with_state(state)
}

/// Resolves `account=` values (ids or names) for a caller: inside a scoped token's accounts
/// only (403 otherwise, the same for an account that does not exist, so a scoped token
/// learns nothing about others); for an unscoped token, any account the store knows.
fn allowed_accounts(values: &[&str], grant: &Grant, known: &[Account]) -> Result<Vec<AccountId>, ApiError> {
    let mut out = Vec::new();
    for value in values.iter().map(|v| v.trim()) {
        let named = known
            .iter()
            .find(|a| a.id.as_str() == value || a.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(value)));
        let echo: String = value.chars().take(40).collect();
        let id = match (&grant.accounts, named) {
            (Some(scope), Some(a)) if scope.contains(&a.id) => a.id.clone(),
            (Some(scope), None) if scope.iter().any(|id| id.as_str() == value) => {
                AccountId::parse(value).map_err(|e| ApiError::bad(e.to_string()))?
            }
            (Some(_), _) => {
                return Err(ApiError::forbidden(format!("Account `{echo}` is outside this token's scope.")))
            }
            (None, Some(a)) => a.id.clone(),
            (None, None) => return Err(ApiError::bad(format!("No account `{echo}` is known."))),
        };
        out.push(id);
    }
    Ok(out)
}

/// True when the caller may see something of `account` (`None`: organisation-wide). A
/// tag-scoped token sees no account or organisation figure: those sum every team.
fn visible(grant: &Grant, account: Option<&AccountId>) -> bool {
    grant.tags.is_none() && grant.accounts.as_ref().is_none_or(|scope| account.is_some_and(|a| scope.contains(a)))
}

/// True when the caller may see an anomaly on this series: a per-tag series only for a
/// token scoped to its value (or an unscoped token), anything else as [`visible`] says.
fn visible_series(grant: &Grant, key: &SeriesKey) -> bool {
    match (&key.scope, &grant.tags) {
        (IncidentScope::Tag { key, value }, Some(scope)) => grant.accounts.is_none() && scope.allows(key, value),
        (IncidentScope::Tag { .. }, None) => grant.accounts.is_none(),
        _ => visible(grant, key.account()),
    }
}

/// True when the caller may see a proposal for a resource in `account` with these tags.
fn visible_resource(grant: &Grant, account: &AccountId, tags: &BTreeMap<String, String>) -> bool {
    let account_ok = grant.accounts.as_ref().is_none_or(|scope| scope.contains(account));
    match &grant.tags {
        None => account_ok,
        Some(scope) => account_ok && tags.get(&scope.key.name).is_some_and(|v| scope.values.contains(v)),
    }
}

/// The `/cost` grammar's terms, as `/api/v1/costs` takes them. Any other filter kind the
/// grammar knows is taken as `kind=value` too.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the parameters; the handler reads them through the grammar.
struct CostsParams {
    /// `mtd` (the default), `today`, `yesterday`, `this week`, `last week`, `this month`,
    /// `last month`, `last 30d`, `2026-10`, `2026-10-01..2026-10-15`.
    period: Option<String>,
    /// `service`, `account`, `region` or `usage-type`.
    by: Option<String>,
    /// Only the N largest groups (1–100; with `by`).
    top: Option<u32>,
    /// Also the previous period, like for like.
    compare: Option<bool>,
    /// A service: its name, part of it, or an alias (`ec2`, `rds`, `s3`). Repeatable.
    service: Option<Vec<String>>,
    /// An account id or configured name. Repeatable; must be inside the token's scope.
    account: Option<Vec<String>>,
}

/// Spend over a period, broken down and filtered as `/cost` would.
#[utoipa::path(
    get,
    path = "/api/v1/costs",
    params(CostsParams),
    security(("token" = [])),
    responses(
        (status = 200, description = "The same numbers as the `/cost` answer", body = CostsResponse),
        (status = 400, description = "A parameter the grammar does not accept", body = ErrorBody),
        (status = 401, description = "No token, or not a configured one", body = ErrorBody),
        (status = 403, description = "Outside the token's scope, or the API is off", body = ErrorBody),
    ),
    tag = "costs"
)]
async fn costs(Caller(grant): Caller, State(state): State<ApiState>, RawQuery(raw): RawQuery) -> Response {
    costs_inner(&grant, &state, raw.as_deref())
        .await
        .map_or_else(IntoResponse::into_response, IntoResponse::into_response)
}

async fn costs_inner(grant: &Grant, state: &ApiState, raw: Option<&str>) -> Result<Json<CostsResponse>, ApiError> {
    let report = query::report(&query::pairs(raw)?, &state.vocabulary)?;
    let today = (state.today)();
    if let Some(scope) = &grant.tags {
        if let Some(foreign) = report.filters.tags.iter().find(|t| !scope.allows(&t.key, &t.value)) {
            let echo: String = foreign.value.chars().take(40).collect();
            return Err(ApiError::forbidden(format!("`{}={echo}` is outside this token's scope.", foreign.key.name)));
        }
    }
    if report.period.check(today).is_err() {
        return Err(ApiError::bad("That period hasn't started yet; ask about today or earlier."));
    }
    if !report.filters.accounts.is_empty() {
        let known = state.store.accounts().await.map_err(ApiError::internal)?;
        let values: Vec<&str> = report.filters.accounts.iter().map(String::as_str).collect();
        allowed_accounts(&values, grant, &known)?;
    }
    match state.spend.spend(&report, grant.accounts.as_deref(), grant.tags.as_ref(), today).await {
        Ok(view) => Ok(Json(CostsResponse::from(&view))),
        Err(SpendError::Question(text)) => Err(ApiError::bad(text)),
        Err(SpendError::Internal(error)) => Err(ApiError::internal(error)),
    }
}

/// Anomalies stored at most per answer.
const MAX_ANOMALIES: u32 = 500;

/// Which anomalies.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the parameters; the handler reads the raw query.
struct AnomaliesParams {
    /// `open` (the default) or `all` (resolved ones too).
    status: Option<String>,
    /// Only these accounts (ids or names; repeatable). A scoped token sees only its accounts
    /// and never organisation-wide anomalies.
    account: Option<Vec<String>>,
    /// At most this many, newest first (1–500, default 100).
    limit: Option<u32>,
}

/// Cost anomalies, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/anomalies",
    params(AnomaliesParams),
    security(("token" = [])),
    responses(
        (status = 200, description = "Anomalies inside the token's scope", body = AnomaliesResponse),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token, or not a configured one", body = ErrorBody),
        (status = 403, description = "Outside the token's scope, or the API is off", body = ErrorBody),
    ),
    tag = "anomalies"
)]
async fn anomalies(Caller(grant): Caller, State(state): State<ApiState>, RawQuery(raw): RawQuery) -> Response {
    anomalies_inner(&grant, &state, raw.as_deref())
        .await
        .map_or_else(IntoResponse::into_response, IntoResponse::into_response)
}

async fn anomalies_inner(
    grant: &Grant,
    state: &ApiState,
    raw: Option<&str>,
) -> Result<Json<AnomaliesResponse>, ApiError> {
    let pairs = query::pairs(raw)?;
    query::only(&pairs, &["status", "account", "limit"])?;
    let open_only = match query::values(&pairs, "status").as_slice() {
        [] | ["open"] => true,
        ["all"] => false,
        _ => return Err(ApiError::bad("`status` is open or all")),
    };
    let limit = match query::values(&pairs, "limit").as_slice() {
        [] => 100,
        [n] => n
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_ANOMALIES).contains(n))
            .ok_or_else(|| ApiError::bad("`limit` is a number from 1 to 500"))?,
        _ => return Err(ApiError::bad("give `limit` once")),
    };
    let only = account_filter(grant, state, &query::values(&pairs, "account")).await?;
    let stored = state.store.anomalies(open_only, MAX_ANOMALIES).await.map_err(ApiError::internal)?;
    let anomalies = stored
        .iter()
        .filter(|a| visible_series(grant, &a.key))
        .filter(|a| only.as_ref().is_none_or(|ids| a.key.account().is_some_and(|acc| ids.contains(acc))))
        .take(limit as usize)
        .map(AnomalyItem::from)
        .collect();
    Ok(Json(AnomaliesResponse { anomalies }))
}

/// The `account=` filter of a list route, resolved inside the caller's scope.
async fn account_filter(grant: &Grant, state: &ApiState, values: &[&str]) -> Result<Option<Vec<AccountId>>, ApiError> {
    if values.is_empty() {
        return Ok(None);
    }
    let known = state.store.accounts().await.map_err(ApiError::internal)?;
    Ok(Some(allowed_accounts(values, grant, &known)?))
}

/// Every proposal state, as `state=` names them.
const STATES: [&str; 10] =
    ["pending", "approved", "executing", "done", "aborted", "failed", "denied", "snoozed", "expired", "withdrawn"];

/// Which proposals.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the parameters; the handler reads the raw query.
struct ProposalsParams {
    /// `pending` (the default), another state, several (`state=pending,approved`) or `all`.
    state: Option<Vec<String>>,
    /// Only these accounts (ids or names; repeatable), inside the token's scope.
    account: Option<Vec<String>>,
}

/// Savings proposals and where each one is.
#[utoipa::path(
    get,
    path = "/api/v1/proposals",
    params(ProposalsParams),
    security(("token" = [])),
    responses(
        (status = 200, description = "Proposals inside the token's scope", body = ProposalsResponse),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token, or not a configured one", body = ErrorBody),
        (status = 403, description = "Outside the token's scope, or the API is off", body = ErrorBody),
    ),
    tag = "proposals"
)]
async fn proposals(Caller(grant): Caller, State(state): State<ApiState>, RawQuery(raw): RawQuery) -> Response {
    proposals_inner(&grant, &state, raw.as_deref())
        .await
        .map_or_else(IntoResponse::into_response, IntoResponse::into_response)
}

async fn proposals_inner(
    grant: &Grant,
    state: &ApiState,
    raw: Option<&str>,
) -> Result<Json<ProposalsResponse>, ApiError> {
    let pairs = query::pairs(raw)?;
    query::only(&pairs, &["state", "account"])?;
    let asked = query::values(&pairs, "state");
    let states: Vec<&str> = match asked.as_slice() {
        [] => vec!["pending"],
        ["all"] => STATES.to_vec(),
        _ => match asked.iter().find(|s| !STATES.contains(*s)) {
            Some(bad) => {
                return Err(ApiError::bad(format!(
                    "`{}` is not a state; use {} or all",
                    bad.chars().take(40).collect::<String>(),
                    STATES.join(", ")
                )))
            }
            None => asked.clone(),
        },
    };
    let only = account_filter(grant, state, &query::values(&pairs, "account")).await?;
    let stored = state.store.proposals_in(&states).await.map_err(ApiError::internal)?;
    let proposals = stored
        .iter()
        .filter(|p| visible_resource(grant, &p.finding.resource.reference.account, &p.finding.resource.tags))
        .filter(|p| only.as_ref().is_none_or(|ids| ids.contains(&p.finding.resource.reference.account)))
        .map(ProposalItem::from)
        .collect();
    Ok(Json(ProposalsResponse { proposals }))
}
