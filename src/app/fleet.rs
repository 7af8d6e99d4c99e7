//! What the app can say about the fleet it holds: totals, the site under
//! the cursor, a site by name, its state and mute rule; the fleet questions
//! (`model::questions`) asked of the app's own environments.

use std::time::SystemTime;

use crate::model::{Counts, EnvFleet, PivotRow, Severity, SiteFilter, SiteState, questions};

use super::grid::SiteRef;
use super::{App, SiteKey, unix};

impl App {
    pub fn filter(&self) -> SiteFilter {
        SiteFilter::new(&self.grid.filter_text, self.grid.severity)
    }

    pub fn totals(&self) -> Counts {
        let mut counts = Counts::default();
        for env in &self.envs {
            counts.merge(&env.counts);
        }
        counts
    }

    /// Age of the oldest environment's data, the honest "updated N ago".
    pub fn oldest_fetch(&self) -> Option<SystemTime> {
        if self.envs.iter().any(|e| e.fetched_at.is_none()) {
            return None;
        }
        self.envs.iter().filter_map(|e| e.fetched_at).min()
    }

    pub fn cursor_site(&self) -> Option<SiteRef> {
        self.grid.layout.sites.get(self.grid.cursor).copied()
    }

    pub fn site_key(&self, site: SiteRef) -> Option<SiteKey> {
        let env = self.envs.get(site.env)?;
        Some(SiteKey {
            env: env.fleet.name.clone(),
            site: env.fleet.sites.get(site.index)?.label.clone(),
        })
    }

    pub(super) fn find_site(&self, key: &SiteKey) -> Option<SiteRef> {
        let env = self.envs.iter().position(|e| e.fleet.name == key.env)?;
        let index = self.envs[env].fleet.find(&key.site)?;
        Some(SiteRef { env, index })
    }

    pub fn site_state_by_key(&self, key: &SiteKey) -> Option<SiteState> {
        self.find_site(key).and_then(|s| self.site_state(s))
    }

    pub fn profile_of(&self, key: &SiteKey) -> Option<String> {
        let site = self.find_site(key)?;
        Some(self.envs[site.env].fleet.sites[site.index].profile.clone())
    }

    pub fn site_state(&self, site: SiteRef) -> Option<SiteState> {
        self.envs
            .get(site.env)?
            .fleet
            .states
            .get(site.index)
            .copied()
    }

    /// The rule muting a requirement of a site, if one applies now.
    pub fn mute_for(&self, key: &SiteKey, requirement: &str) -> Option<crate::model::MuteRule> {
        let profile = self.profile_of(key).unwrap_or_default();
        self.mutes_of(&key.env)
            .find(&key.env, &profile, &key.site, requirement, unix(self.now))
            .cloned()
    }

    /// The alerts the alerts view lists, of every environment.
    pub fn fleet_alerts(&self) -> Vec<(usize, &crate::model::Alert)> {
        crate::model::fleet_alerts(self.envs.iter().map(|e| {
            self.alert_lists
                .get(&e.fleet.name)
                .and_then(|l| l.value())
                .map_or(&[][..], |l| l.alerts.as_slice())
        }))
    }

    /// Whether the environment's mutes are its Alertmanager's silences.
    pub fn has_alertmanager(&self, env: &str) -> bool {
        self.envs
            .iter()
            .any(|e| e.fleet.name == env && e.alertmanager)
    }

    /// Every rule in force in the environment, its silences included.
    pub fn mutes_of(&self, env: &str) -> crate::model::MuteRules {
        match self.envs.iter().position(|e| e.fleet.name == env) {
            Some(index) => self.tracker_mutes_in(index),
            None => self.mutes().clone(),
        }
    }

    /// Every environment's fleet, in `envs` order, for the fleet questions.
    pub fn fleets(&self) -> Vec<&EnvFleet> {
        self.envs.iter().map(|e| &*e.fleet).collect()
    }

    /// Sites in an environment failing a requirement at warning or worse,
    /// worst first, without the one named.
    pub fn others_failing(&self, env: &str, requirement: &str, except: &str) -> Vec<SiteRef> {
        match self.envs.iter().position(|e| e.fleet.name == env) {
            Some(index) => {
                questions::others_failing(&self.envs[index].fleet, index, requirement, except)
            }
            None => Vec::new(),
        }
    }

    /// See `questions::pivot`: failing requirements across the fleet.
    pub fn pivot(&self) -> Vec<PivotRow> {
        questions::pivot(&self.fleets())
    }

    /// Every site failing a requirement, worst first, by environment.
    pub fn failing_sites(&self, requirement: &str) -> Vec<(SiteRef, Severity)> {
        questions::failing_sites(&self.fleets(), requirement)
    }

    /// Every profile in the fleet, by name.
    pub fn profiles(&self) -> Vec<String> {
        questions::profiles(&self.fleets())
    }
}
