//! All integration tests in one binary: each test binary that links the AWS SDK is large, so
//! one binary with modules keeps build time and disk use down.

mod answers;
mod approvals;
mod audit;
mod browser;
mod chat_flow;
mod cli;
mod collector_aws;
mod crash;
mod decide_again;
mod deploy;
mod detection_aws;
mod detector;
mod digest;
pub mod discord;
mod discord_e2e;
mod doctor;
mod exactly_once;
mod faults;
mod inventory;
mod layers;
mod nab_port;
mod operations;
mod outbox_once;
mod reliability_doc;
mod replicas;
mod scheduling;
mod slack;
mod slack_e2e;
mod store_contract;
mod stored_records;
mod support;
mod waste_aws;
mod waste_flow;
mod web;
