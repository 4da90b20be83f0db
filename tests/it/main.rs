//! All integration tests in one binary: each test binary that links the AWS SDK is large, so
//! one binary with modules keeps build time and disk use down.

mod answers;
mod approvals;
mod audit;
mod browser;
mod chat_flow;
mod cli;
mod collector_aws;
mod deploy;
mod detection_aws;
mod detector;
mod digest;
pub mod discord;
mod discord_e2e;
mod doctor;
mod inventory;
mod layers;
mod nab_port;
mod operations;
mod replicas;
mod scheduling;
mod security;
mod slack;
mod slack_e2e;
mod store_contract;
mod stored_records;
mod support;
mod waste_aws;
mod waste_flow;
mod web;
