//! Named leases in the database: who leads, in which term, until when.
//!
//! Leadership (`crate::leadership`) decides what to do with them; the type is here so the
//! store, which keeps the rows, depends only on `domain`.

use chrono::NaiveDateTime;

/// A lease as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Its name (`leader`).
    pub name: String,
    /// The replica holding it.
    pub holder: String,
    /// Grows by one each time the lease changes hands; fences the holder's tick claims.
    pub term: i64,
    /// When the current holder took it (database clock).
    pub acquired_at: NaiveDateTime,
    /// When it runs out unless renewed (database clock).
    pub expires_at: NaiveDateTime,
}
