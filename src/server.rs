//! The HTTP server. For now it serves the operations endpoints; the chat adapters add their
//! routes here.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::store::DynStore;

/// The application's routes.
pub fn router(store: DynStore) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(store)
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers. Migrations are applied before the server starts listening, so a
/// listening server with a reachable database is ready.
async fn readyz(State(store): State<DynStore>) -> (StatusCode, String) {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ready".to_string()),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable".to_string())
        }
    }
}
