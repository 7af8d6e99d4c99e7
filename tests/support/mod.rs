//! Test support shared by integration tests: a fleet of Drupal sites served
//! as Prometheus metrics (the shape in the data contract), and a real
//! Prometheus scraping it.
//!
//! Use it from an integration test with
//!
//! ```ignore
//! mod support;
//! // or, from a file that is not directly in tests/:
//! #[path = "support/mod.rs"] mod support;
//!
//! use support::{FleetBuilder, FleetExporter, TestPrometheus};
//!
//! #[tokio::test]
//! async fn reads_the_fleet() {
//!     let exporter = FleetExporter::start(FleetBuilder::new(30).build());
//!     let prometheus = TestPrometheus::scraping(&exporter).await;
//!     prometheus.wait_for_fleet(&exporter).await;
//!     // point the code under test at prometheus.url() …
//! }
//! ```
//!
//! `TestPrometheus` needs a Tokio runtime with real time (not
//! `start_paused`): it talks to Prometheus over HTTP with reqwest.
//! `FleetExporter` runs on its own threads and needs no runtime.

// Each test binary uses a different part of the support code.
#![allow(dead_code, unused_imports)]

pub mod agent;
pub mod alertmanager;
pub mod dashboard;
pub mod drupal;
pub mod exporter;
pub mod fake_kube;
pub mod fault_proxy;
pub mod fleet;
pub mod loki;
pub mod prometheus;
pub mod scenes;
pub mod screenshot;
pub mod tmux;

pub use exporter::{FleetExporter, Roll, Rolling};
pub use fleet::{
    DrupalInfo, ENVIRONMENTS, Fleet, FleetBuilder, Labels, PROFILES, REQUIREMENTS, Site, SiteKey,
    SiteKind,
};
pub use prometheus::{PromSample, PrometheusBuilder, TestPrometheus};
