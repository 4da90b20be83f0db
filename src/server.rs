//! The HTTP server's operations endpoints; the chat adapters add their routes in
//! `App::router`.
//!
//! - `/healthz`: the process is up (liveness; never touches the database, so a database
//!   outage does not get every replica restarted).
//! - `/readyz`: the database answers and every migration built into this binary is applied
//!   (readiness; a replica that cannot serve is taken out of the load balancer).
//! - `/metrics`: Prometheus text format (see `crate::metrics`).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::store::DynStore;

/// The application's routes.
pub fn router(store: DynStore) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(store)
}

/// Requests handled at once per listener; more are answered 503 at once instead of queueing
/// without bound. Chosen, not tuned: far above what a team's chat produces, well below what
/// exhausts the database pool's patience (every chat request may touch the store).
pub const MAX_IN_FLIGHT: usize = 256;
/// How long a client may take to send a request body. Slack and Discord send a few KiB at
/// once; a slow trickle is someone holding connections open.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The layers every listener's routes get: request timing by route template (bounded labels),
/// a body read timeout, and a global in-flight cap that the health probes bypass (so a flood
/// never gets a replica restarted). `App::serve_on` applies it to each listener, so tests that
/// serve [`harden`]ed routers see what production serves.
pub fn harden(router: Router) -> Router {
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let cap = move |request: axum::extract::Request, next: axum::middleware::Next| {
        let permits = permits.clone();
        async move {
            if matches!(request.uri().path(), "/healthz" | "/readyz") {
                return next.run(request).await;
            }
            match permits.try_acquire_owned() {
                Ok(_permit) => next.run(request).await,
                Err(_) => (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], "busy").into_response(),
            }
        }
    };
    router
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT))
        .layer(axum::middleware::from_fn(cap))
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers and has every migration this binary knows. Details go to the log;
/// the answer says only which of the two failed.
async fn readyz(State(store): State<DynStore>) -> (StatusCode, String) {
    if let Err(error) = store.ping().await {
        tracing::warn!(error = %format!("{error:#}"), "readiness check failed: database unreachable");
        return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable".to_string());
    }
    match store.migration_status().await {
        Ok(status) if status.pending.is_empty() && status.failed.is_empty() => (StatusCode::OK, "ready".to_string()),
        Ok(status) if !status.failed.is_empty() => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("migration(s) {:?} failed; the database needs a look", status.failed),
        ),
        Ok(status) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{} migration(s) not applied; run `costbot migrate`", status.pending.len()),
        ),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "readiness check failed: cannot read applied migrations");
            (StatusCode::SERVICE_UNAVAILABLE, "migrations not applied; run `costbot migrate`".to_string())
        }
    }
}

/// Prometheus metrics.
async fn metrics(State(store): State<DynStore>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], crate::metrics::render(&*store).await)
}
