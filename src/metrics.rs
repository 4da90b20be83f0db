//! Prometheus metrics: one process-wide registry, increments as one-liners from the modules
//! that do the work (`crate::metrics::…`), and `/metrics` rendering in the Prometheus text
//! format (0.0.4).
//!
//! The crate is `prometheus-client`, the Prometheus project's own Rust client: typed label
//! sets (a label cannot be misspelt at one call site), no global recorder to install before
//! first use, and both text encodings. Its registry lives in a `LazyLock` here, so recording a
//! value needs no handle threaded through every constructor.
//!
//! Label values are bounded sets: route templates (`MatchedPath`, never the raw path, so ids
//! in URLs cannot explode cardinality), status codes, job names, proposal states.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::domain::proposal::State;
use crate::domain::run::{RunStatus, SourceReport};
use crate::store::OperationsStore;

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// How long store-derived gauges are reused before the store is asked again, so a burst of
/// scrapes (several Prometheus servers, a dashboard) costs one pair of queries.
const STORE_GAUGE_TTL: Duration = Duration::from_secs(5);

/// Request latency buckets in seconds: slash commands must answer within 3 s, so the buckets
/// are dense below that.
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChatErrorLabels {
    platform: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RateLimitLabels {
    bucket: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: String,
    outcome: String,
}

type HistogramFamily = Family<HttpLabels, Histogram, fn() -> Histogram>;

struct Metrics {
    registry: Registry,
    collector_runs: Family<StatusLabel, Counter>,
    collector_failures: Counter,
    cost_explorer_requests: Counter,
    anomalies_open: Gauge,
    proposals: Family<StateLabel, Gauge>,
    actions_executed: Family<OutcomeLabel, Counter>,
    proposal_errors: Family<StageLabel, Counter>,
    chat_api_errors: Family<ChatErrorLabels, Counter>,
    rate_limited: Family<RateLimitLabels, Counter>,
    http_duration: HistogramFamily,
    is_leader: Gauge,
    job_runs: Family<JobLabels, Counter>,
    /// When the store gauges were last read (milliseconds since `started`; 0 = never).
    refreshed_ms: AtomicU64,
    started: Instant,
    refresh: tokio::sync::Mutex<()>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::default();
    let m = Metrics {
        registry: Registry::default(),
        collector_runs: Family::default(),
        collector_failures: Counter::default(),
        cost_explorer_requests: Counter::default(),
        anomalies_open: Gauge::default(),
        proposals: Family::default(),
        actions_executed: Family::default(),
        proposal_errors: Family::default(),
        chat_api_errors: Family::default(),
        rate_limited: Family::default(),
        http_duration: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
        is_leader: Gauge::default(),
        job_runs: Family::default(),
        refreshed_ms: AtomicU64::new(0),
        started: Instant::now(),
        refresh: tokio::sync::Mutex::new(()),
    };
    registry.register("costbot_collector_runs", "Cost collection runs by final status", m.collector_runs.clone());
    registry.register(
        "costbot_collector_failures",
        "Source accounts whose collection failed",
        m.collector_failures.clone(),
    );
    registry.register(
        "costbot_cost_explorer_requests",
        "Cost Explorer requests made (each costs $0.01)",
        m.cost_explorer_requests.clone(),
    );
    registry.register("costbot_anomalies_open", "Anomalies not yet resolved", m.anomalies_open.clone());
    registry.register("costbot_proposals", "Savings proposals by state", m.proposals.clone());
    registry.register("costbot_actions_executed", "Approved actions finished, by outcome", m.actions_executed.clone());
    registry.register(
        "costbot_proposal_errors",
        "Proposals skipped because one step failed for them alone, by stage",
        m.proposal_errors.clone(),
    );
    registry.register(
        "costbot_chat_api_errors",
        "Failed chat deliveries by platform and kind (retry, failed or lease_lost)",
        m.chat_api_errors.clone(),
    );
    registry.register(
        "costbot_chat_rate_limited",
        "Commands and clicks answered \"slow down\", by bucket (person or channel) and outcome (audited: \
         the first of its window, written to the audit log; suppressed: only counted here)",
        m.rate_limited.clone(),
    );
    registry.register(
        "costbot_http_request_duration_seconds",
        "HTTP request latency by route template and status",
        m.http_duration.clone(),
    );
    registry.register("costbot_is_leader", "1 while this replica holds the leadership lease", m.is_leader.clone());
    registry.register("costbot_scheduled_job_runs", "Scheduled job firings by job and outcome", m.job_runs.clone());
    // Series that exist from the start read 0 rather than being absent, so rate() and alerts
    // on them work before the first event.
    for status in ["succeeded", "partial", "failed"] {
        let _ = m.collector_runs.get_or_create(&StatusLabel { status: status.to_string() });
    }
    for stage in PROPOSAL_STAGES {
        let _ = m.proposal_errors.get_or_create(&StageLabel { stage: stage.to_string() });
    }
    for bucket in ["person", "channel"] {
        for outcome in ["audited", "suppressed"] {
            let labels = RateLimitLabels { bucket: bucket.to_string(), outcome: outcome.to_string() };
            let _ = m.rate_limited.get_or_create(&labels);
        }
    }
    for outcome in ["done", "dry_run", "failed", "aborted", "deferred"] {
        let _ = m.actions_executed.get_or_create(&OutcomeLabel { outcome: outcome.to_string() });
    }
    Metrics { registry, ..m }
});

/// Records a finished collection run from its per-source reports.
pub fn record_collection(sources: &[SourceReport]) {
    let status = RunStatus::from_sources(sources);
    METRICS.collector_runs.get_or_create(&StatusLabel { status: status.as_str().to_string() }).inc();
    METRICS.collector_failures.inc_by(sources.iter().filter(|s| s.error.is_some()).count() as u64);
    METRICS.cost_explorer_requests.inc_by(sources.iter().map(|s| s.api_calls).sum());
}

/// Records how an approved proposal's execution ended (nothing for other transitions).
pub fn record_execution(state: &State) {
    let outcome = match state {
        State::Done { dry_run: true, .. } => "dry_run",
        State::Done { .. } => "done",
        State::Failed { .. } => "failed",
        State::Aborted { .. } => "aborted",
        State::Approved => "deferred",
        _ => return,
    };
    METRICS.actions_executed.get_or_create(&OutcomeLabel { outcome: outcome.to_string() }).inc();
}

/// The stages at which one proposal can fail on its own without stopping the others.
pub const PROPOSAL_STAGES: [&str; 5] = ["unreadable", "expire", "recover", "execute", "propose"];

/// Records that one proposal was skipped because `stage` (one of [`PROPOSAL_STAGES`]) failed
/// for it.
pub fn record_proposal_error(stage: &'static str) {
    METRICS.proposal_errors.get_or_create(&StageLabel { stage: stage.to_string() }).inc();
}

/// Records a "slow down" reply: `bucket` is `person` or `channel`; `audited` when this one
/// was written to the audit log (the first of its window), otherwise it is only counted here.
pub fn record_rate_limited(bucket: &'static str, audited: bool) {
    let outcome = if audited { "audited" } else { "suppressed" };
    METRICS
        .rate_limited
        .get_or_create(&RateLimitLabels { bucket: bucket.to_string(), outcome: outcome.to_string() })
        .inc();
}

/// Records a failed chat delivery: `kind` is `retry` (will be tried again), `failed`, or
/// `lease_lost` (the thread's lease ran out mid-delivery and another worker took it).
pub fn record_chat_error(platform: &str, kind: &str) {
    METRICS
        .chat_api_errors
        .get_or_create(&ChatErrorLabels { platform: platform.to_string(), kind: kind.to_string() })
        .inc();
}

/// Records one firing of a scheduled job: `succeeded`, `failed`, or `skipped` (not claimed).
pub fn record_job(job: &str, outcome: &str) {
    METRICS.job_runs.get_or_create(&JobLabels { job: job.to_string(), outcome: outcome.to_string() }).inc();
}

/// Makes a scheduled job's series read 0 before its first firing.
pub fn declare_job(job: &str) {
    for outcome in ["succeeded", "failed", "skipped"] {
        let _ = METRICS.job_runs.get_or_create(&JobLabels { job: job.to_string(), outcome: outcome.to_string() });
    }
}

/// Sets whether this replica leads.
pub fn set_leader(leader: bool) {
    METRICS.is_leader.set(i64::from(leader));
}

/// Whether this replica currently leads, as last recorded.
pub fn is_leader() -> bool {
    METRICS.is_leader.get() == 1
}

/// Axum middleware timing every request by its route template, method and status.
/// Requests that match no route are labelled `unmatched`, so probing random paths cannot
/// create new series.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(request.method()).to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = HttpLabels { route, method, status: response.status().as_u16().to_string() };
    METRICS.http_duration.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    response
}

/// The standard methods (RFC 9110 and PATCH) by name; any other method, which anyone can
/// invent per request, is `other`, so a flood of made-up methods cannot grow the series.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const STANDARD: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::CONNECT, "CONNECT"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::TRACE, "TRACE"),
        (Method::PATCH, "PATCH"),
    ];
    STANDARD.iter().find(|(m, _)| m == method).map_or("other", |(_, name)| name)
}

/// Renders every metric in the Prometheus text format, first refreshing the gauges read from
/// the store when they are older than a few seconds. A store error keeps the previous values
/// (and is logged) rather than failing the scrape: the process metrics are still worth having.
pub async fn render(store: &dyn OperationsStore) -> String {
    let _guard = METRICS.refresh.lock().await;
    let now_ms = METRICS.started.elapsed().as_millis() as u64 + 1;
    let last = METRICS.refreshed_ms.load(Ordering::Relaxed);
    if last == 0 || now_ms.saturating_sub(last) >= STORE_GAUGE_TTL.as_millis() as u64 {
        match store.operational_counts().await {
            Ok(counts) => {
                METRICS.anomalies_open.set(i64::try_from(counts.anomalies_open).unwrap_or(i64::MAX));
                // States that emptied must read 0, not keep their last count.
                METRICS.proposals.clear();
                for (state, n) in counts.proposals {
                    METRICS.proposals.get_or_create(&StateLabel { state }).set(i64::try_from(n).unwrap_or(i64::MAX));
                }
                METRICS.refreshed_ms.store(now_ms, Ordering::Relaxed);
            }
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "cannot read store counts for /metrics"),
        }
    }
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::prometheus_text::encode(&mut text, &METRICS.registry) {
        tracing::error!(%error, "cannot encode metrics");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_set_are_other() {
        use axum::http::Method;
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::from_bytes(b"FROB").unwrap()), "other");
        assert_eq!(method_label(&Method::from_bytes(b"get").unwrap()), "other", "methods are case-sensitive");
    }

    #[test]
    fn counters_and_labels_are_rendered_in_the_text_format() {
        record_job("unit-test-job", "succeeded");
        record_chat_error("slack", "retry");
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &METRICS.registry).unwrap();
        assert!(text.contains("# TYPE costbot_scheduled_job_runs_total counter"), "{text}");
        assert!(
            text.contains("costbot_scheduled_job_runs_total{job=\"unit-test-job\",outcome=\"succeeded\"}"),
            "{text}"
        );
        assert!(text.contains("costbot_chat_api_errors_total{platform=\"slack\",kind=\"retry\"}"), "{text}");
        assert!(text.contains("costbot_collector_runs_total{status=\"failed\"} 0"), "declared up front: {text}");
    }
}
