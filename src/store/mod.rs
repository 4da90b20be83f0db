//! The store: Postgres (the system of record) or embedded SQLite (the default without a
//! database URL). Both implement [`Store`] from one shared body of SQL (see `sql.rs`) and pass
//! the same contract tests (`tests/it/store_contract.rs`).
//!
//! Invariant: only this module knows SQL. Callers speak in domain types, and the store
//! depends on nothing in the crate but `domain` (checked by `tests/it/layers.rs`).
//!
//! [`Store`] is the union of one trait per role (costs, runs, ticks, anomalies, proposals,
//! outbox, …); a job asks for the roles it uses, so its signature says which tables it touches.

mod access_sql;
mod anomaly_sql;
mod audit_sql;
mod breakdown_sql;
mod budget_sql;
mod change_log;
mod console_sql;
mod digest_sql;
mod fact_rows;
mod fact_visit;
mod inventory_sql;
mod lease_sql;
mod outbox_sql;
mod pg_copy;
mod postgres;
mod proposal_sql;
mod record;
mod running_sums;
mod schedule_sql;
mod spend_sql;
mod sql;
mod sqlite;
mod tag_sql;
mod usage_sql;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use secrecy::{ExposeSecret, SecretString};

pub use access_sql::{AccessStore, AuditCheckpoint, WebSession};
pub use anomaly_sql::{AnomalyMarkChange, AnomalyStore};
pub use budget_sql::{BudgetAmount, BudgetStore, FiredBudgetAlert};
pub use change_log::{FactChangeStore, FactChanges};
pub use fact_visit::{FactRef, FactVisitor};
pub use lease_sql::{ClockStore, LeaseStore, TickStore};
pub use postgres::PgStore;
pub use schedule_sql::{SchedulePause, ScheduleStore};
pub use sqlite::SqliteStore;
pub use tag_sql::{TagGroup, TagQuery, TagStore};
pub use usage_sql::UsageStore;

use crate::domain::audit::{AuditEntry, AuditRecord, Checkpoint};
use crate::domain::chat::message::Message;
use crate::domain::chat::{ChannelId, UserId};
use crate::domain::console::{ConsoleMessage, ConsolePost};
use crate::domain::outbox::{Delivery, DeliveryOutcome, Finish, OutboxCounts, OutboxEntry};
use crate::domain::proposal::{Proposal, ProposalId, StoredProposals};
use crate::domain::resource::Resource;
use crate::domain::run::{CollectorRun, RunId, SourceReport};
use crate::domain::{
    Account, AccountId, BreakdownDimension, BreakdownFact, CostFact, DateRange, Granularity, Money, ServiceName,
};

/// Which facts to read.
#[derive(Debug, Clone)]
pub struct FactFilter {
    /// Day or hour facts.
    pub granularity: Granularity,
    /// Periods starting inside this range.
    pub range: DateRange,
    /// Only these accounts; `None` means all.
    pub accounts: Option<Vec<AccountId>>,
}

/// The chat outbox and event cursors.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Stores messages to deliver; an entry whose dedupe key is already stored is skipped.
    /// Returns how many were new.
    async fn enqueue(&self, entries: &[OutboxEntry], now: NaiveDateTime) -> Result<u64>;

    /// Locks one thread with due content for `lease` and returns its newest pending entry
    /// (older pending entries of that thread are superseded). `None` when nothing is due or
    /// every due thread is locked by another worker.
    async fn claim_delivery(&self, now: NaiveDateTime, lease: chrono::Duration) -> Result<Option<Delivery>>;

    /// Records how a claimed delivery ended and releases its thread, both only while the
    /// delivery's lease token still holds the thread ([`Finish::LeaseLost`] otherwise: another
    /// claim took the lease after it ran out, and keeps it).
    async fn finish_delivery(
        &self,
        delivery: &Delivery,
        outcome: &DeliveryOutcome,
        now: NaiveDateTime,
    ) -> Result<Finish>;

    /// Entries by status.
    async fn outbox_counts(&self) -> Result<OutboxCounts>;

    /// The platform's id of the message posted for a thread in a channel (to link to it).
    async fn thread_message(
        &self,
        platform: crate::domain::chat::Platform,
        channel: &crate::domain::chat::ChannelId,
        thread: &str,
    ) -> Result<Option<String>>;

    /// A consumer's position in an event stream (0 before the first event).
    async fn cursor(&self, name: &str) -> Result<i64>;

    /// Moves a consumer's position.
    async fn set_cursor(&self, name: &str, position: i64) -> Result<()>;
}

/// One posted (or being posted) daily digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRecord {
    /// The platform.
    pub platform: crate::domain::chat::Platform,
    /// The channel.
    pub channel: crate::domain::chat::ChannelId,
    /// The channel's local date the digest is for: at most one per channel and date.
    pub date: NaiveDate,
    /// The cost day it reports.
    pub data_day: NaiveDate,
    /// When the schedule said it should go out (UTC).
    pub scheduled_at: NaiveDateTime,
    /// When it was recorded and queued (UTC).
    pub created_at: NaiveDateTime,
    /// True when it went out well after its schedule (a catch-up).
    pub late: bool,
}

/// Daily digest records.
#[async_trait]
pub trait DigestStore: Send + Sync {
    /// Records a digest and queues its messages in one transaction. Returns false, queuing
    /// nothing, when the channel already has a digest for that date.
    async fn record_digest(&self, record: &DigestRecord, entries: &[OutboxEntry]) -> Result<bool>;

    /// The newest digests first.
    async fn digests(&self, limit: u32) -> Result<Vec<DigestRecord>>;

    /// True when the channel has a digest for that date.
    async fn digest_recorded(
        &self,
        platform: crate::domain::chat::Platform,
        channel: &crate::domain::chat::ChannelId,
        date: NaiveDate,
    ) -> Result<bool>;
}

/// The append-only audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends a record at the head of the hash chain, in its own transaction. Appends are
    /// serialised by a lock taken inside that transaction, so they never race for the head
    /// and never give up.
    async fn append_audit(&self, record: &AuditRecord) -> Result<AuditEntry>;

    /// Entries after `after` (a sequence number; 0 for the start), in order.
    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>>;

    /// The head of the chain (its last entry's seq and hash), `None` while the log is empty.
    async fn audit_head(&self) -> Result<Option<Checkpoint>>;

    /// Every entry, in order (read in pages).
    async fn all_audit_entries(&self) -> Result<Vec<AuditEntry>> {
        let mut all: Vec<AuditEntry> = Vec::new();
        loop {
            let after = all.last().map_or(0, |e| e.seq);
            let page = self.audit_entries(after, 10_000).await?;
            if page.is_empty() {
                return Ok(all);
            }
            all.extend(page);
        }
    }
}

/// One inventory row: the resource as last seen, when it was first seen, when last seen.
pub type InventoryEntry = (Resource, NaiveDateTime, NaiveDateTime);

/// The resource inventory that waste discovery keeps.
#[async_trait]
pub trait InventoryStore: Send + Sync {
    /// Replaces, in one transaction, what is known about one account and region: the given
    /// resources are upserted (their first sighting kept, `last_seen` set to `seen_at`, a
    /// vanished-then-returned one revived), and stored ones missing from `resources` are marked
    /// gone at `seen_at`. Every resource must belong to that account and region. Returns the
    /// number of resources written.
    async fn replace_inventory(
        &self,
        account: &AccountId,
        region: &str,
        resources: &[Resource],
        seen_at: NaiveDateTime,
    ) -> Result<u64>;

    /// The inventory ordered by account, region, kind and id; gone resources only when asked.
    async fn inventory(&self, include_gone: bool) -> Result<Vec<InventoryEntry>>;
}

/// How spend is grouped in a [`SpendQuery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendGroup {
    /// One row: the total.
    Total,
    /// One row per service.
    Service,
    /// One row per account.
    Account,
}

/// A spend question for the store; the sums are computed in SQL.
#[derive(Debug, Clone)]
pub struct SpendQuery {
    /// Day or hour facts.
    pub granularity: Granularity,
    /// Periods starting inside this range.
    pub range: DateRange,
    /// Only these accounts; `None` means all.
    pub accounts: Option<Vec<AccountId>>,
    /// Only these services; `None` means all.
    pub services: Option<Vec<ServiceName>>,
}

/// Spend per period and per group of one [`SpendQuery`], read in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendSummary {
    /// `(period_start, amount, estimated)`, oldest first.
    pub periods: Vec<(NaiveDateTime, Money, bool)>,
    /// One row per group, largest first; empty when the query was for the total.
    pub groups: Vec<SpendRow>,
}

/// One row of a spend answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendRow {
    /// The group (service name or account id; empty for a total).
    pub key: String,
    /// The exact sum.
    pub amount: Money,
    /// True when any summed fact is estimated.
    pub estimated: bool,
}

/// A new proposal with what records it: the proposal, its audit record and its cards commit
/// in one transaction, or none of them does.
#[derive(Debug, Clone)]
pub struct NewProposal<'a> {
    /// The proposal.
    pub proposal: &'a Proposal,
    /// The audit record of its creation.
    pub audit: AuditRecord,
    /// Its cards.
    pub cards: Vec<OutboxEntry>,
    /// When the cards are enqueued.
    pub now: NaiveDateTime,
}

/// One change of a proposal with what records it: the state change, its audit record and the
/// card updates commit in one transaction, or none of them does.
#[derive(Debug, Clone)]
pub struct ProposalChange<'a> {
    /// The proposal as it becomes.
    pub next: &'a Proposal,
    /// The version it must still be at (compare-and-swap).
    pub from_version: u32,
    /// The audit record of the change.
    pub audit: AuditRecord,
    /// Card updates to enqueue with it.
    pub cards: Vec<OutboxEntry>,
    /// When the cards are enqueued.
    pub now: NaiveDateTime,
}

/// Savings proposals.
#[async_trait]
pub trait ProposalStore: Send + Sync {
    /// Proposals in any of these states (all when empty), oldest change first, with the rows
    /// that could not be read kept apart, so one bad row never hides the others.
    async fn proposal_rows(&self, states: &[&str]) -> Result<StoredProposals>;

    /// The readable proposals in any of these states (all when empty), oldest change first.
    /// Unreadable rows are logged and left out; callers that count them use
    /// [`ProposalStore::proposal_rows`].
    async fn proposals_in(&self, states: &[&str]) -> Result<Vec<Proposal>> {
        let rows = self.proposal_rows(states).await?;
        for bad in &rows.unreadable {
            tracing::error!(proposal = %bad.id, error = %bad.error, "a stored proposal is unreadable; skipped");
        }
        Ok(rows.readable)
    }

    /// Applies a change if the proposal is still at `from_version`, appending its audit record
    /// and enqueueing its cards in the same transaction. `None` when someone else changed it
    /// first (nothing was written); the audit entry otherwise. A failing audit append rolls
    /// the change back.
    async fn change_proposal(&self, change: &ProposalChange<'_>) -> Result<Option<AuditEntry>>;

    /// One proposal.
    async fn proposal(&self, id: &ProposalId) -> Result<Option<Proposal>>;

    /// Stores a new proposal with its audit record and its cards in one transaction. `None`
    /// when one with its id exists already (nothing was written); the audit entry otherwise.
    /// A failing audit append leaves the proposal unstored.
    async fn create_proposal(&self, new: &NewProposal<'_>) -> Result<Option<AuditEntry>>;

    /// Stores a new proposal without an audit record; `false` when one with its id exists
    /// already. costbot's own proposals go through [`ProposalStore::create_proposal`]; this is
    /// for tests that set up a state.
    async fn insert_proposal(&self, proposal: &Proposal) -> Result<bool>;

    /// Replaces a proposal if it is still at `from_version` (compare-and-swap); `false` when
    /// someone else changed it first, in which case nothing was written. Writes no audit
    /// record: costbot's own changes go through [`ProposalStore::change_proposal`]; this is
    /// for tests that set up a state and for repairs.
    async fn save_proposal(&self, next: &Proposal, from_version: u32) -> Result<bool>;

    /// Stores a proposal's one reminder (`entries`, keyed by proposal and channel) with its
    /// audit record, in one transaction. `false`, with nothing written, when the reminder was
    /// stored before (by this replica or another).
    async fn remind_proposal(&self, entries: &[OutboxEntry], audit: &AuditRecord, now: NaiveDateTime) -> Result<bool>;
}

/// Spend by region and usage type, beside the cost facts.
#[async_trait]
pub trait BreakdownStore: Send + Sync {
    /// Replaces, in one transaction, what `source` delivered for `range` in one breakdown
    /// dimension. Returns the rows written.
    async fn replace_breakdowns(
        &self,
        source: &AccountId,
        granularity: Granularity,
        dimension: BreakdownDimension,
        range: &DateRange,
        rows: &[BreakdownFact],
        collected_at: NaiveDateTime,
    ) -> Result<u64>;

    /// When this source's breakdown in a dimension was last written.
    async fn last_breakdown_at(
        &self,
        source: &AccountId,
        dimension: BreakdownDimension,
    ) -> Result<Option<NaiveDateTime>>;

    /// Sums spend by region or usage type in SQL, largest first (service filters do not apply:
    /// breakdowns are per account).
    async fn spend_by_dimension(&self, query: &SpendQuery, dimension: BreakdownDimension) -> Result<Vec<SpendRow>>;
}

/// The chat console's channel view: what costbot posted in console channels, plus the
/// console users' own commands and the replies only they see.
#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// Stores a new message with the next change number.
    async fn post_console_message(&self, post: &ConsolePost, now: NaiveDateTime) -> Result<ConsoleMessage>;

    /// Replaces a message's content in its channel and gives it the next change number;
    /// `false` when no such message is in that channel.
    async fn update_console_message(
        &self,
        channel: &ChannelId,
        id: i64,
        message: &Message,
        now: NaiveDateTime,
    ) -> Result<bool>;

    /// One message by id, whoever may see it.
    async fn console_message(&self, id: i64) -> Result<Option<ConsoleMessage>>;

    /// The newest `limit` changes after change number `after` in a channel that `viewer` may
    /// see (everyone's messages plus replies only for them), oldest first.
    async fn console_messages(
        &self,
        channel: &ChannelId,
        viewer: &UserId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ConsoleMessage>>;
}

/// The database itself: its schema and whether it answers.
#[async_trait]
pub trait SchemaStore: Send + Sync {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;

    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<()>;

    /// Which of the migrations embedded in this binary the database has applied, without
    /// applying any (for `costbot doctor`).
    async fn migration_status(&self) -> Result<MigrationStatus>;
}

/// The AWS accounts costbot knows.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Inserts accounts or updates their name and configured flag.
    async fn upsert_accounts(&self, accounts: &[Account]) -> Result<()>;

    /// All known accounts, configured or discovered, ordered by id.
    async fn accounts(&self) -> Result<Vec<Account>>;
}

/// Cost facts and the spend sums computed from them (and their rollups).
#[async_trait]
pub trait CostStore: Send + Sync {
    /// The start of the newest period this source has delivered as final (not estimated).
    async fn last_complete_day(&self, source: &AccountId, granularity: Granularity) -> Result<Option<NaiveDate>>;

    /// Replaces, in one transaction, what `source` delivered for `range` with `facts`:
    /// facts that Cost Explorer no longer reports for that range are removed, the rest are
    /// upserted. Accounts that appear for the first time are recorded as discovered.
    /// Returns the number of facts written. Running it twice with the same facts leaves the
    /// store unchanged.
    async fn replace_cost_facts(
        &self,
        source: &AccountId,
        granularity: Granularity,
        range: &DateRange,
        facts: &[CostFact],
        collected_at: NaiveDateTime,
    ) -> Result<u64>;

    /// Reads facts, ordered by period, account and service.
    async fn cost_facts(&self, filter: &FactFilter) -> Result<Vec<CostFact>>;

    /// Streams the facts a filter selects to `visit`, in no particular order, without
    /// building them; returns how many were visited. For readers of millions of rows.
    async fn visit_cost_facts(&self, filter: &FactFilter, visit: &mut FactVisitor<'_>) -> Result<u64>;

    /// The exact total of the facts a filter selects, summed in SQL.
    async fn total(&self, filter: &FactFilter) -> Result<Money>;

    /// Sums spend in SQL, grouped as asked, largest first.
    async fn spend(&self, query: &SpendQuery, group: SpendGroup) -> Result<Vec<SpendRow>>;

    /// Spend per period and group in one scan: `(period_start, key, amount, estimated)`,
    /// from which totals, breakdowns and the daily trend are all derived exactly.
    async fn spend_matrix(&self, query: &SpendQuery, group: SpendGroup) -> Result<Vec<(NaiveDateTime, SpendRow)>>;

    /// Spend per period and per group in one statement (one snapshot), each part from the
    /// smallest table that holds it: what an answer shows, without the period × group matrix.
    async fn spend_summary(&self, query: &SpendQuery, group: SpendGroup) -> Result<SpendSummary>;

    /// Spend per period (day or hour) in the range, oldest first.
    async fn spend_per_period(&self, query: &SpendQuery) -> Result<Vec<(NaiveDateTime, Money, bool)>>;

    /// Every service name with facts since `since`.
    async fn services_since(&self, since: NaiveDate) -> Result<Vec<ServiceName>>;

    /// Number of facts a source delivered inside a filter's range.
    async fn source_fact_count(&self, source: &AccountId, filter: &FactFilter) -> Result<u64>;

    /// Number of facts stored at a granularity.
    async fn count_facts(&self, granularity: Granularity) -> Result<u64>;
}

/// Records of job runs (the collector's, with one report per source).
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Records the start of a run.
    async fn start_run(&self, job: &str, started_at: NaiveDateTime) -> Result<RunId>;

    /// Records how a run ended, with one report per source.
    async fn finish_run(&self, run: RunId, finished_at: NaiveDateTime, sources: &[SourceReport]) -> Result<()>;

    /// The newest runs first.
    async fn recent_runs(&self, limit: u32) -> Result<Vec<CollectorRun>>;
}

/// Counts across tables for `/metrics`.
#[async_trait]
pub trait OperationsStore: Send + Sync {
    /// Open anomalies and proposals per state, counted in SQL, for `/metrics`.
    async fn operational_counts(&self) -> Result<OperationalCounts>;
}

/// Everything costbot keeps: the union of the role traits, implemented by [`PgStore`] and
/// [`SqliteStore`] (each implements every role).
///
/// Wiring (`app`, `cli`, `doctor`, `server`) and the web pages, which show a bit of
/// everything, hold the whole of it as a [`DynStore`]. Each job and worker takes only the role
/// traits it uses (one as `Arc<dyn …Store>`, several as a generic bound), so its signature
/// says which tables it touches.
pub trait Store:
    SchemaStore
    + AccountStore
    + CostStore
    + RunStore
    + OperationsStore
    + AnomalyStore
    + BreakdownStore
    + OutboxStore
    + DigestStore
    + AuditStore
    + ProposalStore
    + InventoryStore
    + ConsoleStore
    + LeaseStore
    + TickStore
    + ClockStore
    + AccessStore
    + ScheduleStore
    + TagStore
    + UsageStore
    + FactChangeStore
    + BudgetStore
    + 'static
{
}

/// Counts `/metrics` reads from the store at scrape time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationalCounts {
    /// Anomalies not yet resolved.
    pub anomalies_open: u64,
    /// Proposals per state name (`pending`, `approved`, `done`, …).
    pub proposals: Vec<(String, u64)>,
}

/// How a database's applied migrations compare with the ones this binary embeds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrationStatus {
    /// How many migrations this binary embeds.
    pub embedded: usize,
    /// How many of those the database has applied successfully.
    pub applied: usize,
    /// Embedded but not applied (version, description), oldest first.
    pub pending: Vec<(i64, String)>,
    /// Recorded as started but failed: the database needs a look before anything else.
    pub failed: Vec<i64>,
    /// Applied but not embedded: a newer costbot has migrated this database.
    pub unknown: Vec<i64>,
}

impl MigrationStatus {
    /// Compares the embedded migrations with the database's `(version, success)` records.
    pub fn compare(embedded: &[(i64, String)], recorded: &[(i64, bool)]) -> MigrationStatus {
        let ok = |v: i64| recorded.iter().any(|&(r, success)| r == v && success);
        MigrationStatus {
            embedded: embedded.len(),
            applied: embedded.iter().filter(|(v, _)| ok(*v)).count(),
            pending: embedded.iter().filter(|(v, _)| !ok(*v)).cloned().collect(),
            failed: recorded.iter().filter(|(_, success)| !success).map(|(v, _)| *v).collect(),
            unknown: recorded.iter().filter(|(v, _)| !embedded.iter().any(|(e, _)| e == v)).map(|(v, _)| *v).collect(),
        }
    }
}

/// A shared handle to whichever store is configured.
pub type DynStore = Arc<dyn Store>;

/// Where the store lives: what [`open`] needs, without the rest of the configuration (the
/// store does not know the configuration's types; `config` builds these from `[database]`).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// A `postgres://` URL; `None` opens the SQLite file. Secret, because it may carry a
    /// password.
    pub url: Option<SecretString>,
    /// The SQLite file used when no URL is given.
    pub sqlite_path: PathBuf,
    /// Connection pool size (Postgres).
    pub max_connections: u32,
}

/// Opens the store the options name: Postgres when a URL is set, otherwise the SQLite file.
pub async fn open(options: &StoreOptions) -> Result<DynStore> {
    match &options.url {
        Some(url) => {
            let store = PgStore::connect(url.expose_secret(), options.max_connections)
                .await
                .context("cannot connect to the Postgres database in database.url")?;
            Ok(Arc::new(store))
        }
        None => {
            let store = SqliteStore::open(&options.sqlite_path)
                .await
                .with_context(|| format!("cannot open SQLite store {}", options.sqlite_path.display()))?;
            Ok(Arc::new(store))
        }
    }
}

/// A short description of where data lives, safe to print (no password).
pub fn describe(options: &StoreOptions) -> String {
    match &options.url {
        Some(url) => {
            // Keep only host and database: user, password and query options may be secret.
            let text = url.expose_secret();
            let rest = text.split_once("://").map_or(text, |(_, rest)| rest);
            let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            let host = rest.split('?').next().unwrap_or_default();
            format!("postgres at {host}")
        }
        None => format!("sqlite at {}", options.sqlite_path.display()),
    }
}
