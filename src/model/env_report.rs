//! One environment's sites as one poll returned them, before mute rules.
//! Pure data: sources build it, the poller carries it, the app keeps it.

use super::{MuteRule, SiteSummary};

/// One environment's sites as one poll saw them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvReport {
    pub sites: Vec<SiteSummary>,
    /// Non-fatal problems the backend reported (Prometheus' `warnings`),
    /// and parts of the poll that failed without failing the grid (the
    /// alerts request).
    pub warnings: Vec<String>,
    /// The environment's Alertmanager silences that are mutes, as read
    /// with this poll (or the last that could be read; `warnings` says
    /// so). `None` when the environment has no Alertmanager.
    pub silences: Option<Vec<MuteRule>>,
    /// What a first poll could show before all of it answered: every site
    /// with its worst state, its requirements still unread. Shown, never
    /// taken for what the fleet was (no transitions are judged from it).
    pub partial: bool,
}
