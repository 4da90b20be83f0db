//! Alert dispatch: turns alert events into outbox entries for the channels that should see
//! them. Runs after detection; safe to run on any replica and to re-run, because entries are
//! deduplicated by (channel, anomaly, version).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use chrono::NaiveDateTime;

use crate::config::{ChannelConfig, MinSeverity};
use crate::domain::anomaly::Severity;
use crate::domain::chat::{ChannelId, Platform};
use crate::domain::incident::Anomaly;
use crate::domain::outbox::OutboxEntry;
use crate::render::alert::alert;
use crate::store::{AccountStore, AnomalyStore, OutboxStore};

/// The cursor name of the alert-event consumer.
pub const ALERT_CURSOR: &str = "alerts";
/// Events read per batch.
const BATCH: u32 = 500;

fn severity_rank(s: Severity) -> MinSeverity {
    match s {
        Severity::Low => MinSeverity::Low,
        Severity::Medium => MinSeverity::Medium,
        Severity::High => MinSeverity::High,
        Severity::Critical => MinSeverity::Critical,
    }
}

/// True when a channel should carry an anomaly's alert.
pub fn wants(channel: &ChannelConfig, anomaly: &Anomaly) -> bool {
    channel.alerts && severity_rank(anomaly.severity) >= channel.min_severity && channel.may_see(anomaly.key.account())
}

/// Enqueues the alert cards for every new alert event and moves the cursor past them.
/// Returns the number of outbox entries created.
pub async fn dispatch_alerts<S: AnomalyStore + OutboxStore + AccountStore + ?Sized>(
    store: &Arc<S>,
    channels: &[ChannelConfig],
    now: NaiveDateTime,
) -> Result<u64> {
    let names: HashMap<String, String> =
        store.accounts().await?.into_iter().filter_map(|a| a.name.map(|n| (a.id.to_string(), n))).collect();
    let lookup = |id: &str| names.get(id).cloned();
    let mut created = 0;
    loop {
        let cursor = store.cursor(ALERT_CURSOR).await?;
        let events = store.alert_events(cursor, BATCH).await?;
        let Some(last) = events.last().map(|e| e.id) else { break };
        let mut entries = Vec::new();
        for event in &events {
            let Some(anomaly) = store.anomaly(&event.anomaly).await? else { continue };
            for channel in channels.iter().filter(|c| wants(c, &anomaly)) {
                let platform = Platform::from(channel.platform);
                entries.push(OutboxEntry {
                    platform,
                    channel: ChannelId(channel.id.clone()),
                    thread: anomaly.id.0.clone(),
                    // The card always shows the anomaly as it is now; the outbox sends only
                    // the newest content of a thread, so a burst of events edits it once.
                    message: alert(&anomaly, &lookup, now),
                    dedupe_key: format!("alert:{}:{}:{}:v{}", platform.as_str(), channel.id, anomaly.id, event.version),
                });
            }
        }
        created += store.enqueue(&entries, now).await?;
        store.set_cursor(ALERT_CURSOR, last).await?;
        if events.len() < BATCH as usize {
            break;
        }
    }
    Ok(created)
}
