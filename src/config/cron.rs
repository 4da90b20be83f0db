//! Cron expressions as configuration writes them.
//!
//! Parsing lives with the configuration, which validates every schedule when it is loaded;
//! the scheduler uses the same function, so what loads is what runs.

use anyhow::{Context, Result};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

/// Parses a cron expression with a seconds field (`sec min hour dom month dow`).
pub fn parse_cron(expr: &str) -> Result<Cron> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .build()
        .parse(expr)
        .with_context(|| format!("`{expr}` is not a cron expression with a seconds field, e.g. `0 5 * * * *`"))
}
