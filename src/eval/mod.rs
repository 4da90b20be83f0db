//! Evaluation: the NAB scorer port, corpus runs, and generated cost scenarios. Unlike the
//! detector modules, this part reads files.

pub mod harness;
pub mod nab;
pub mod nab_grid;
pub mod nab_io;
pub mod nab_loco;
pub mod nab_report;
pub mod nab_run;
pub mod scenarios;
pub mod series;
pub mod split;
