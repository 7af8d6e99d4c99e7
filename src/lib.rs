//! site-status: a terminal dashboard for a fleet of Drupal sites.
//!
//! Layers, each with one job: `model` (pure data and functions), `source`
//! (backends), `poller` (background fetching with last-good results), `app`
//! (state and actions), `ui` (drawing from that state), `cli` (one file
//! per subcommand). The data contract both programs share is the
//! `site-status-contract` crate, re-exported in `model`.

pub mod app;
pub mod cli;
pub mod config;
pub mod model;
pub mod mute_store;
pub mod poller;
pub mod runtime;
pub mod secrets;
pub mod small_file;
pub mod source;
pub mod terminal;
pub mod ui;
