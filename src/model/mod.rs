//! Pure data and pure functions: no I/O, no terminal.

pub mod fleet;
pub mod severity;
pub mod site;
pub mod text;

pub use fleet::{
    Counts, EnvFleet, ProfileGroup, SeverityFilter, SiteFilter, SortOrder, VanishedSites,
    count_states, group_by_profile, order_environments,
};
pub use severity::{Attention, Severity, SiteState};
pub use site::{Requirement, SiteDetail, SiteSummary, sort_requirements_worst_first};
