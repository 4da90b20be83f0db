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
    let filter = EnvFilter::try_from_env("COSTBOT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cli.json_logs {
        builder.json().init();
    } else {
        builder.init();
    }
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
