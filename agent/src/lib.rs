//! site-status-agent: the status workload in every site namespace. It runs
//! drush's status report on a schedule (`runner`), serves the last result
//! as Prometheus metrics from memory (`metrics`, `http`), and pushes each
//! full report to Loki through an on-disk spool that loses nothing
//! (`spool`, `loki`). What it publishes is the contract crate's.

pub mod config;
pub mod http;
pub mod install;
pub mod loki;
pub mod metrics;
pub mod outcome;
pub mod runner;
pub mod shared;
pub mod spool;
