//! Pure data and pure functions: no I/O, no terminal.

pub mod drush_text;
pub mod fleet;
pub mod history;
pub mod mute;
pub mod report;
pub mod severity;
pub mod site;
pub mod text;
pub mod transitions;

pub use fleet::{
    Counts, EnvFleet, ProfileGroup, SeverityFilter, SiteFilter, SortOrder, VanishedSites,
    count_states, group_by_profile, order_environments,
};
pub use history::{Change, History, Window};
pub use mute::{MuteRule, MuteRules, Muted, RuleOrigin};
pub use report::{
    Report, ReportDiff, ReportFormat, Reports, RequirementChange, RequirementCounts,
    format_rfc3339_utc, parse_report_line,
};
pub use severity::{Attention, Severity, SiteState};
pub use site::{DrupalInfo, Requirement, SiteDetail, SiteSummary, sort_requirements_worst_first};
pub use transitions::{Crossing, Transition, crossing_summary, transitions};
