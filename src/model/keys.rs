//! Names for sites and for what the dashboard asks its sources: a site's
//! place in the fleets, a site by name, a detail query beyond the grid, and
//! the answer to one. Pure data; used by the poller
//! (which runs the queries), the app (which decides which run) and the ui.

use super::{AlertList, History, Reports, Rollout, SiteDetail, SiteWorkloads, Timeline, Window};

/// A site as (environment index, index into that environment's sites):
/// where it sits in the fleets the app holds, valid until they change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteRef {
    pub env: usize,
    pub index: usize,
}

/// Identifies a site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteKey {
    pub env: String,
    pub site: String,
}

/// A query the open views need beyond the grid; polled only while some
/// view on the stack shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DetailKey {
    Site(SiteKey),
    History {
        site: SiteKey,
        requirement: String,
        window: Window,
    },
    Reports(SiteKey),
    /// An environment's sites in error and in warning over the last hour.
    Timeline {
        env: String,
    },
    /// Which version each site of a profile runs in an environment.
    Rollout {
        env: String,
        profile: String,
    },
    /// The site's namespace in its cluster: workloads, pods, events.
    Workloads(SiteKey),
    /// An environment's alerts as the alerts view lists them.
    Alerts {
        env: String,
    },
}

impl DetailKey {
    /// The environment whose source answers the query.
    pub fn env(&self) -> &str {
        match self {
            DetailKey::Site(site)
            | DetailKey::History { site, .. }
            | DetailKey::Reports(site)
            | DetailKey::Workloads(site) => &site.env,
            DetailKey::Timeline { env }
            | DetailKey::Rollout { env, .. }
            | DetailKey::Alerts { env } => env,
        }
    }

    /// The site a site-level query is about; `None` for environment-level
    /// queries (timeline, rollout).
    pub fn site_key(&self) -> Option<&SiteKey> {
        match self {
            DetailKey::Site(site)
            | DetailKey::History { site, .. }
            | DetailKey::Reports(site)
            | DetailKey::Workloads(site) => Some(site),
            DetailKey::Timeline { .. } | DetailKey::Rollout { .. } | DetailKey::Alerts { .. } => {
                None
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    Site(Box<SiteDetail>),
    History(History),
    Reports(Reports),
    Timeline(Timeline),
    Rollout(Rollout),
    Workloads(SiteWorkloads),
    Alerts(AlertList),
}
