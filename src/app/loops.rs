//! The loops every `serve` replica runs beside the scheduler: the execution worker (approved
//! proposals, off-hours switches) and alert delivery. Each is safe to run on every replica
//! (claims and leases decide who acts) and returns when told to stop.

use std::sync::Arc;

use chrono::Utc;

use super::App;
use crate::execution::Executor;

/// How often every replica looks for approved proposals. The claim (a compare-and-swap on the
/// proposal's version) makes running it everywhere safe.
const EXECUTION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) async fn execution_loop(
    executor: Executor,
    switcher: Option<crate::schedules::Switcher<dyn crate::store::Store>>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(error) = executor.run_once(Utc::now().naive_utc()).await {
            tracing::warn!(error = %format!("{error:#}"), "execution worker failed; will retry");
        }
        // Off-hours switches are claimed per schedule and moment, so every replica may look.
        if let Some(switcher) = &switcher {
            if let Err(error) = switcher.run_once(Utc::now().naive_utc()).await {
                tracing::warn!(error = %format!("{error:#}"), "off-hours switcher failed; will retry");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(EXECUTION_INTERVAL) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// How often every replica looks for new alert events and due outbox entries. Cursor-deduped
/// dispatch and thread leases make running it everywhere safe.
const DELIVERY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Dispatches new alert events (acknowledgements and mutes make them too, not only detection)
/// and delivers what is due, every few seconds, until told to stop.
pub(super) async fn delivery_loop(app: Arc<App>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(error) = app.deliver_alerts(Utc::now().naive_utc()).await {
            tracing::warn!(error = %format!("{error:#}"), "alert delivery failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(DELIVERY_INTERVAL) => {}
            _ = stopped.changed() => return,
        }
    }
}
