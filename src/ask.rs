//! `costbot ask "<question>"`: the `/cost` grammar answered in the terminal, from the store,
//! by the same answer functions the bot uses: for scripts, and for trying costbot without any
//! chat app. `--format text` prints what chat would show; `json` and `csv` print the REST
//! API's shapes, with every amount an exact decimal string.
//!
//! Exit codes: 0 answered; 1 costbot could not run (configuration, store); 2 the question was
//! not understood or cannot be answered here (the reason goes to stderr).

use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDateTime;

use crate::answers::{AnswerError, AnswerTables, Answers};
use crate::commands::{self, Command};
use crate::render::text::plain;
use crate::store::AnomalyStore;
use crate::web::api::types::{AnomaliesResponse, AnomalyItem, CostsResponse};

/// How `costbot ask` prints its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AskFormat {
    /// What chat would show, as plain text.
    Text,
    /// The REST API's JSON.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// Open anomalies shown at most, as in chat.
const ANOMALIES_SHOWN: u32 = 50;

/// Why a question got no answer.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The person can fix it: a word outside the grammar, an unknown service, a question only
    /// chat can answer. Exit code 2.
    #[error("{0}")]
    Question(String),
    /// costbot could not answer (the store). Exit code 1.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<AnswerError> for AskError {
    fn from(e: AnswerError) -> AskError {
        match e {
            AnswerError::User(text) => AskError::Question(text),
            AnswerError::Internal(error) => AskError::Internal(error),
        }
    }
}

/// Answers `question` over every account, as of `now`, printed in `format`, knowing no tag
/// keys (see [`answer_in`]).
pub async fn answer<S: AnswerTables + AnomalyStore + ?Sized>(
    store: Arc<S>,
    question: &str,
    format: AskFormat,
    now: NaiveDateTime,
) -> Result<String, AskError> {
    answer_in(store, question, &commands::Vocabulary::default(), format, now).await
}

/// [`answer`] with the configured tag keys and cost categories, so `team=payments` works.
pub async fn answer_in<S: AnswerTables + AnomalyStore + ?Sized>(
    store: Arc<S>,
    question: &str,
    vocabulary: &commands::Vocabulary,
    format: AskFormat,
    now: NaiveDateTime,
) -> Result<String, AskError> {
    let command = commands::parse_in(question, vocabulary)
        .map_err(|e| AskError::Question(format!("{e}. Try `costbot ask help`.")))?;
    let today = now.date();
    let answers = Answers::new(store.clone());
    match (&command, format) {
        (Command::Report(report), _) => {
            if report.period.check(today).is_err() {
                return Err(AskError::Question("That period hasn't started yet; ask about today or earlier.".into()));
            }
            let view = answers.report_view(report, &crate::answers::AnswerScope::accounts(None), today).await?;
            match format {
                AskFormat::Text => Ok(plain(&crate::render::answer::spend(&view))),
                AskFormat::Json => Ok(json(&CostsResponse::from(&view))?),
                AskFormat::Csv => Ok(costs_csv(&CostsResponse::from(&view))?),
            }
        }
        (Command::Anomalies, _) => {
            let anomalies = store.anomalies(true, ANOMALIES_SHOWN).await?;
            match format {
                AskFormat::Text => {
                    let names = answers.account_names().await?;
                    Ok(plain(&crate::render::alert::open_anomalies(&anomalies, &|id: &str| names.get(id).cloned())))
                }
                AskFormat::Json => {
                    Ok(json(&AnomaliesResponse { anomalies: anomalies.iter().map(AnomalyItem::from).collect() })?)
                }
                AskFormat::Csv => Ok(anomalies_csv(&anomalies)?),
            }
        }
        (Command::Forecast(filters), AskFormat::Text) => Ok(plain(&answers.forecast(filters, None, today).await?)),
        (Command::Help, AskFormat::Text) => Ok(plain(&commands::help())),
        (Command::Forecast(_) | Command::Help, _) => Err(AskError::Question(
            "`--format json` and `csv` answer spend and anomalies; use `--format text` for this one.".into(),
        )),
        _ => Err(AskError::Question(format!(
            "`costbot ask` answers spend, forecasts and anomalies; ask `/cost {}` in chat.",
            question.trim().chars().take(60).collect::<String>()
        ))),
    }
}

fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// One row per group, then the groups `top` folded away, then the total; `previous` is
/// filled with `compare`.
fn costs_csv(costs: &CostsResponse) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["key", "label", "amount", "previous"])?;
    for row in &costs.rows {
        w.write_record([
            row.key.as_str(),
            row.label.as_str(),
            row.amount.as_str(),
            row.previous.as_deref().unwrap_or_default(),
        ])?;
    }
    if let Some(other) = &costs.other {
        let label = format!("{} more", other.groups);
        w.write_record(["", label.as_str(), other.amount.as_str(), other.previous.as_deref().unwrap_or_default()])?;
    }
    let previous = costs.previous.as_ref().map(|p| p.total.as_str()).unwrap_or_default();
    w.write_record(["", "Total", costs.total.as_str(), previous])?;
    String::from_utf8(w.into_inner().context("cannot write CSV")?).context("CSV is UTF-8")
}

fn anomalies_csv(anomalies: &[crate::domain::incident::Anomaly]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "severity", "kind", "account", "service", "start", "expected", "actual", "impact"])?;
    for item in anomalies.iter().map(AnomalyItem::from) {
        w.write_record([
            item.id,
            item.severity,
            item.kind,
            item.account.unwrap_or_default(),
            item.service.unwrap_or_default(),
            item.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            item.expected,
            item.actual,
            item.impact,
        ])?;
    }
    String::from_utf8(w.into_inner().context("cannot write CSV")?).context("CSV is UTF-8")
}

/// `costbot ask`: opens the configured store (an SQLite file is migrated on opening, as for
/// every command) and prints the answer; a question it cannot answer exits with code 2.
pub async fn command(config: &crate::config::Config, question: &str, format: AskFormat) -> anyhow::Result<()> {
    let store = crate::store::open(&config.database.store_options()).await?;
    let vocabulary = commands::Vocabulary { tag_keys: config.tag_keys() };
    match answer_in(store, question, &vocabulary, format, chrono::Utc::now().naive_utc()).await {
        Ok(text) => {
            print!("{text}");
            Ok(())
        }
        Err(AskError::Question(reason)) => {
            eprintln!("costbot ask: {reason}");
            Err(crate::cli::ExitWith(2).into())
        }
        Err(AskError::Internal(error)) => Err(error),
    }
}
