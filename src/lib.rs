//! costbot: keeps AWS spend under control from Slack and Discord.
//!
//! See `docs/ARCHITECTURE.md` for the code map and the invariants each module keeps.

pub mod answers;
pub mod app;
pub mod ask;
pub mod aws;
pub mod bot;
pub mod budgets;
pub mod chat;
pub mod cli;
pub mod collector;
pub mod commands;
pub mod config;
pub mod detection;
pub mod digest;
pub mod discovery;
pub mod doctor;
pub mod domain;
pub mod eval;
pub mod execution;
pub mod leadership;
pub mod limits;
pub mod metrics;
pub mod owners;
pub mod proposals;
pub mod render;
pub mod scheduler;
pub mod schedules;
pub mod server;
pub mod sim;
pub mod sim_inventory;
pub mod store;
pub mod waste_scan;
pub mod web;
