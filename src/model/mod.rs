//! Pure data and pure functions: no I/O, no terminal.
//!
//! What both programs agree on lives in the contract crate; it is
//! re-exported here so the dashboard reads it as part of its model.

pub use site_status_contract::{drush_text, names, report, requirement, severity, text};

pub mod alert;
pub mod clock;
pub mod env_report;
pub mod fleet;
pub mod gate;
pub mod history;
pub mod keys;
pub mod kube;
pub mod mute;
pub mod questions;
pub mod rollout;
pub mod run_failure;
pub mod site;
pub mod timeline;
pub mod tracker;
pub mod transitions;

pub use alert::{
    ALERTS_PER_NAME, Alert, AlertBadge, AlertGroup, AlertList, alerts_for, fleet_alerts,
    set_badges, sort_alerts, sorted_by_site,
};
pub use clock::{Clock, TimeFormat, format_time, zone_abbreviation};
pub use env_report::EnvReport;
pub use fleet::{
    Counts, EnvFleet, ProfileGroup, SeverityFilter, SiteFilter, SortOrder, VanishedSites,
    count_states, group_by_profile, order_environments,
};
pub use history::{Change, History, Window};
pub use keys::{Detail, DetailKey, SiteKey, SiteRef};
pub use kube::{
    DiscoveredSite, MergedSites, PodInfo, PodProblem, PodReason, RolloutState, SiteWorkloads,
    WarningEvent, Workload, WorkloadKind, merge_discovered,
};
pub use mute::{MuteRule, MuteRules, Muted, RuleOrigin};
pub use questions::{PivotRow, failing_sites, others_failing, pivot, problems, profiles};
pub use report::{
    Report, ReportDiff, ReportFormat, Reports, RequirementChange, RequirementCounts,
    format_rfc3339_utc, parse_report_line,
};
pub use rollout::{Rollout, UNKNOWN_VERSION, compare_versions};
pub use run_failure::{FailureClass, RunFailure, RunFailureReason};
pub use severity::{Attention, Severity, SiteState};
pub use site::{DrupalInfo, Requirement, SiteDetail, SiteSummary, sort_requirements_worst_first};
pub use timeline::Timeline;
pub use tracker::Tracker;
pub use transitions::{Crossing, Transition, crossing_summary, transitions};
