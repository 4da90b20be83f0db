//! The `costbot` binary: parses the command line, sets up logging and runs the command.

use clap::Parser;
use tracing_subscriber::EnvFilter;

use costbot::cli::{run, Cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // rustls 0.23 ends up with two crypto providers in this dependency tree and then refuses
    // to pick one; choose ring explicitly before any TLS client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let json = cli.json_logs || std::env::var("COSTBOT_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    init_logging(json);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A command that chose its exit code (`waste scan`) has already said everything.
        Err(error) if error.downcast_ref::<costbot::cli::ExitWith>().is_some() => {
            std::process::ExitCode::from(error.downcast_ref::<costbot::cli::ExitWith>().map_or(1, |e| e.0))
        }
        Err(error) => {
            // A log collector reading JSON lines gets the fatal error as one more JSON line.
            if json {
                tracing::error!(error = %format!("{error:#}"), "costbot stopped with an error");
            } else {
                eprintln!("error: {error:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `COSTBOT_LOG` (default `info`). As JSON (`--json-logs` or
/// `COSTBOT_LOG_FORMAT=json`, for containers) each event is one object on one line: timestamp,
/// level, target, message and the event's fields at the top level, plus the current span's
/// fields (`span`) and the whole span stack (`spans`), e.g. a scheduled job's name and tick.
fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_env("COSTBOT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(true).init();
    } else {
        builder.init();
    }
}
