//! The data contract between the status agent and the dashboard: what a
//! severity is, the states beyond Drupal's scale, the shapes of drush's
//! status report and the report line written to Loki, the names of the
//! metrics and labels, and how untrusted text is made safe for a terminal.
//!
//! Pure: no I/O, no async runtime, no terminal, no HTTP. Both programs
//! depend on it, so each question about the data is answered here once.

pub mod drush_text;
pub mod failure;
pub mod line;
pub mod names;
pub mod report;
pub mod requirement;
pub mod severity;
pub mod text;

pub use failure::{FailureClass, RunFailure};
pub use report::{
    Report, ReportDiff, ReportFormat, Reports, RequirementChange, RequirementCounts,
    format_rfc3339_utc, parse_report_line,
};
pub use requirement::{Requirement, sort_requirements_worst_first};
pub use severity::{Attention, Severity, SiteState};
