//! The HTTP server's operations endpoints; the chat adapters add their routes in
//! `App::router`.
//!
//! - `/healthz`: the process is up (liveness; never touches the database, so a database
//!   outage does not get every replica restarted).
//! - `/readyz`: the database answers and every migration built into this binary is applied
//!   (readiness; a replica that cannot serve is taken out of the load balancer).
//! - `/metrics`: Prometheus text format (see `crate::metrics`).
//!
//! [`serve`] is the accept loop every listener runs: axum's own `serve` sets no timer, so a
//! client that sends its headers slowly (or never) would hold its connection for ever.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::store::DynStore;

/// How long a client may take to send a request's line and headers by default (`[server]
/// header_read_timeout_secs`); also how long an idle kept-alive connection stays open.
pub const HEADER_READ_TIMEOUT: std::time::Duration =
    std::time::Duration::from_secs(crate::config::DEFAULT_HEADER_READ_TIMEOUT_SECS);

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

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets each
/// open connection finish its request (idle ones close at once) and returns when all have.
///
/// Each connection is HTTP/1 with hyper's header read timer: a connection that has not sent
/// a whole request head within `header_read_timeout` is closed. (HTTP/1 only: the chat
/// platforms and browsers behind a proxy speak it, and the automatic version sniffing would
/// wait for bytes outside the timer.) Handlers see the TCP peer as
/// `ConnectInfo<SocketAddr>`, which the pages' `trusted_proxies` check relies on.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    header_read_timeout: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower_service::Service as _;

    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).http1_only();
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let builder = std::sync::Arc::new(builder);
    let mut make_service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Every connection holds a receiver: `true` asks it to finish, and the sender's `closed()`
    // resolves once the last one is gone.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = make_service.call(peer).await.unwrap_or_else(|never| match never {});
        let service = hyper_util::service::TowerToHyperService::new(service);
        let (builder, alive) = (builder.clone(), stopping.clone());
        tokio::spawn(async move {
            let mut signal = alive.clone();
            let stop_asked = async move {
                let _ = signal.wait_for(|stop| *stop).await;
            };
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_connection_end(result),
                () = stop_asked => {
                    connection.as_mut().graceful_shutdown();
                    log_connection_end(connection.await);
                }
            }
            // Held until the connection is done: the shutdown waits for every one.
            drop(alive);
        });
    }
    drop(listener);
    drop(stopping);
    let _ = stop.send(true);
    stop.closed().await;
    Ok(())
}

/// A connection that ends in an error (a header timeout, a reset) is the client's business:
/// logged at debug level only, so slow or broken clients cannot fill the log.
fn log_connection_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// Accepting fails for one connection (it was reset before we took it: try the next at once)
/// or for the process (out of file descriptors: wait a moment rather than spin).
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection; retrying in a second");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
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
