//! Alert dispatch: turns alert events into outbox entries for the channels that should see
//! them. Runs after detection; safe to run on any replica and to re-run, because entries are
//! deduplicated by (channel, anomaly, version).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use chrono::NaiveDateTime;

use crate::config::{ChannelConfig, MinSeverity};
use crate::domain::anomaly::Severity;
use crate::domain::band::{expected_band, BAND_WEEKS, CHART_DAYS};
use crate::domain::chat::{ChannelId, Platform};
use crate::domain::incident::Anomaly;
use crate::domain::incident::Scope;
use crate::domain::outbox::OutboxEntry;
use crate::domain::{DateRange, Granularity};
use crate::render::alert::{alert, chart, AccountNames};
use crate::store::{AccountStore, AnomalyStore, CostStore, OutboxStore, SpendQuery, TagGroup, TagQuery, TagStore};

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
    channel.alerts && severity_rank(anomaly.severity) >= channel.min_severity && channel.may_see_series(&anomaly.key)
}

/// Enqueues the alert cards for every new alert event and moves the cursor past them.
/// Returns the number of outbox entries created.
pub async fn dispatch_alerts<S: AnomalyStore + OutboxStore + AccountStore + CostStore + TagStore + ?Sized>(
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
            if !channels.iter().any(|c| wants(c, &anomaly)) {
                continue;
            }
            // One chart per anomaly and batch, shared by every channel that carries it.
            let chart = chart_of(store.as_ref(), &anomaly, &lookup, now).await;
            let mut card = alert(&anomaly, &lookup, now);
            card.attachments.extend(chart);
            for channel in channels.iter().filter(|c| wants(c, &anomaly)) {
                let platform = Platform::from(channel.platform);
                entries.push(OutboxEntry {
                    platform,
                    channel: ChannelId(channel.id.clone()),
                    thread: anomaly.id.0.clone(),
                    // The card always shows the anomaly as it is now; the outbox sends only
                    // the newest content of a thread, so a burst of events edits it once.
                    message: card.clone(),
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

/// The alert's chart: the series' daily spend from the store (summed in SQL, exact) over the
/// last [`CHART_DAYS`] days and the [`BAND_WEEKS`] weeks before the anomaly. A chart that
/// cannot be drawn is logged and left out: the alert goes out without it.
async fn chart_of<S: CostStore + TagStore + ?Sized>(
    store: &S,
    anomaly: &Anomaly,
    names: &(dyn AccountNames + Sync),
    now: NaiveDateTime,
) -> Option<crate::domain::chat::message::Attachment> {
    let (accounts, services) = match &anomaly.key.scope {
        Scope::Organisation | Scope::Tag { .. } => (None, None),
        Scope::Account { account } => (Some(vec![account.clone()]), None),
        Scope::Service { account, service } => (Some(vec![account.clone()]), Some(vec![service.clone()])),
    };
    let start = anomaly.start.date();
    let from = (start - chrono::Days::new(BAND_WEEKS * 7)).min(now.date() - chrono::Days::new(CHART_DAYS));
    let result = async {
        let range = DateRange::new(from, now.date() + chrono::Days::new(1))?;
        let query = SpendQuery { granularity: Granularity::Daily, range, accounts, services };
        // Today is still being billed: the chart stops at the last complete day.
        let daily: Vec<_> = match &anomaly.key.scope {
            // A per-tag series is that value's spend over every account, from the tag table.
            Scope::Tag { key, value } => {
                let query = TagQuery { spend: query, key: key.clone(), values: Some(vec![value.clone()]) };
                let rows = store.tag_matrix(&query, TagGroup::Total).await?;
                rows.into_iter().map(|(at, row)| (at, row.amount, row.estimated)).collect::<Vec<_>>()
            }
            _ => store.spend_per_period(&query).await?,
        }
        .into_iter()
        .map(|(at, amount, _)| (at.date(), amount))
        .filter(|(day, _)| *day < now.date())
        .collect();
        // The chart ends on the newest complete day with data, and never before the anomaly's end.
        let last = daily.iter().map(|(d, _)| *d).max().unwrap_or(start).max(anomaly.end.date());
        chart(anomaly, &expected_band(&daily, start, anomaly.end.date(), last), names)
    }
    .await;
    result.unwrap_or_else(|error| {
        tracing::warn!(anomaly = %anomaly.id, error = %format!("{error:#}"), "no chart for an alert");
        None
    })
}
