//! The one interpretation of the fleet: a poll of an environment, with the
//! mute rules in force, becomes each site's state, and compared with the
//! environment's previous poll, its transitions. The first poll of an
//! environment is its baseline: nothing has changed yet.
//!
//! The grid, `check` and `watch` all read the fleet through a [`Tracker`],
//! so they cannot disagree on what state a site is in. Pure: the caller
//! says what time it is.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use super::env_report::EnvReport;
use super::fleet::EnvFleet;
use super::mute::MuteRules;
use super::site::SiteSummary;
use super::transitions::{Transition, transitions};

/// Each environment's last poll and what it means.
#[derive(Debug, Clone)]
pub struct Tracker {
    stale_after: Duration,
    mutes: MuteRules,
    /// The grid's "show muted" toggle: mute rules are listed but not
    /// applied, so muted requirements count again.
    show_muted: bool,
    envs: Vec<Tracked>,
}

#[derive(Debug, Clone)]
struct Tracked {
    /// The poll as the backend answered it, before any mute rule: kept so
    /// that a change of rules can be interpreted again without a new poll.
    /// Shared with whoever handed it over (the poller's last good result).
    polled: Option<Arc<EnvReport>>,
    /// Shared with the grid, which draws it: one copy of a large fleet.
    fleet: Arc<EnvFleet>,
    /// The clock `fleet` was interpreted at: which rules had expired.
    interpreted_at: f64,
}

impl Tracker {
    pub fn new(environments: &[String], stale_after: Duration, mutes: MuteRules) -> Tracker {
        Tracker {
            stale_after,
            mutes,
            show_muted: false,
            envs: environments
                .iter()
                .map(|name| Tracked {
                    polled: None,
                    fleet: Arc::new(EnvFleet {
                        name: name.clone(),
                        ..EnvFleet::default()
                    }),
                    interpreted_at: 0.0,
                })
                .collect(),
        }
    }

    /// Takes a new poll of environment `env`, made at `polled_at`, and
    /// returns what changed since the previous one: `None` for the first
    /// (the baseline) or an unknown environment. States are judged at
    /// `now` (stale is relative to the clock), transitions are stamped
    /// with the poll's time.
    pub fn observe(
        &mut self,
        env: usize,
        polled: Arc<EnvReport>,
        polled_at: f64,
        now: f64,
    ) -> Option<Vec<Transition>> {
        let now = now.max(polled_at);
        if let Some(found) = self.observe_unchanged(env, &polled, polled_at, now) {
            return Some(found);
        }
        let fleet = self.interpret(env, &polled, now)?;
        let tracked = self.envs.get_mut(env)?;
        if polled.partial {
            // Drawn, but the next whole poll is still the baseline.
            if tracked.polled.is_none() {
                tracked.fleet = Arc::new(fleet);
                tracked.interpreted_at = now;
            }
            return None;
        }
        let baseline = tracked.polled.is_none();
        let found = (!baseline).then(|| transitions(&tracked.fleet, &fleet, polled_at));
        tracked.polled = Some(polled);
        tracked.fleet = Arc::new(fleet);
        tracked.interpreted_at = now;
        found
    }

    /// A poll that says what the previous one said, under the same rules:
    /// the sites are interpreted as they were, and only the states, which
    /// age with the clock, are judged again. Most polls are such (the
    /// backend learns something new every scrape, the dashboard asks more
    /// often), and at 10,000 sites copying and comparing every site is
    /// most of what a poll costs the dashboard. `None` when the poll
    /// differs, or is the first.
    fn observe_unchanged(
        &mut self,
        env: usize,
        polled: &Arc<EnvReport>,
        polled_at: f64,
        now: f64,
    ) -> Option<Vec<Transition>> {
        let tracked = self.envs.get(env)?;
        let previous = tracked.polled.as_deref()?;
        let unchanged = previous.sites == polled.sites
            && previous.silences == polled.silences
            && (self.show_muted
                || self
                    .rules_with(Some(previous))
                    .rules()
                    .iter()
                    .all(|r| r.is_expired(tracked.interpreted_at) == r.is_expired(now)));
        if !unchanged {
            return None;
        }
        let states: Vec<_> = tracked
            .fleet
            .sites
            .iter()
            .map(|s| s.state(now, self.stale_after))
            .collect();
        let (fleet, found) = if states == tracked.fleet.states {
            (tracked.fleet.clone(), Vec::new())
        } else {
            let fleet = EnvFleet {
                states,
                ..(*tracked.fleet).clone()
            };
            let found = transitions(&tracked.fleet, &fleet, polled_at);
            (Arc::new(fleet), found)
        };
        let tracked = self.envs.get_mut(env)?;
        tracked.polled = Some(polled.clone());
        tracked.fleet = fleet;
        tracked.interpreted_at = now;
        Some(found)
    }

    /// The environment as last interpreted; empty before its first poll.
    pub fn fleet(&self, env: usize) -> Option<&Arc<EnvFleet>> {
        self.envs.get(env).map(|tracked| &tracked.fleet)
    }

    /// The configured rules and the dashboard's own; not the silences.
    pub fn mutes(&self) -> &MuteRules {
        &self.mutes
    }

    /// Every rule in force in environment `env`: [`Tracker::mutes`] and
    /// the environment's Alertmanager silences as last polled.
    pub fn mutes_in(&self, env: usize) -> Cow<'_, MuteRules> {
        let polled = self.envs.get(env).and_then(|t| t.polled.as_deref());
        self.rules_with(polled)
    }

    fn rules_with(&self, polled: Option<&EnvReport>) -> Cow<'_, MuteRules> {
        match polled.and_then(|p| p.silences.as_ref()) {
            Some(silences) if !silences.is_empty() => {
                let mut rules = self.mutes.clone();
                rules.extend(silences.iter().cloned());
                Cow::Owned(rules)
            }
            _ => Cow::Borrowed(&self.mutes),
        }
    }

    pub fn show_muted(&self) -> bool {
        self.show_muted
    }

    /// New rules: every environment is interpreted again at `now`; that is
    /// no transition.
    pub fn set_mutes(&mut self, mutes: MuteRules, now: f64) {
        self.mutes = mutes;
        self.reinterpret(now);
    }

    /// Shows muted requirements as failing (or hides them again); no
    /// transition either.
    pub fn set_show_muted(&mut self, show: bool, now: f64) {
        self.show_muted = show;
        self.reinterpret(now);
    }

    /// Interprets every environment's last poll again at `now`.
    fn reinterpret(&mut self, now: f64) {
        for env in 0..self.envs.len() {
            let Some(polled) = self.envs[env].polled.clone() else {
                continue;
            };
            if let Some(fleet) = self.interpret(env, &polled, now) {
                self.envs[env].fleet = Arc::new(fleet);
                self.envs[env].interpreted_at = now;
            }
        }
    }

    /// The failing requirements of a site, as polled, that a rule accepts
    /// now: what `check` lists as muted.
    pub fn muted_requirements(&self, env: usize, site: &SiteSummary, now: f64) -> Vec<String> {
        let Some(tracked) = self.envs.get(env) else {
            return Vec::new();
        };
        self.mutes_in(env)
            .muted(&tracked.fleet.name, site, now)
            .into_iter()
            .map(|m| m.requirement)
            .collect()
    }

    /// The one place where mute rules are applied and severities rolled
    /// up into states.
    fn interpret(&self, env: usize, polled: &EnvReport, now: f64) -> Option<EnvFleet> {
        let name = &self.envs.get(env)?.fleet.name;
        let mut sites = polled.sites.clone();
        if !self.show_muted {
            self.rules_with(Some(polled))
                .apply_to_sites(name, &mut sites, now);
        }
        Some(EnvFleet::new(name.clone(), sites, now, self.stale_after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MuteRule, Severity, SiteState};

    const STALE: Duration = Duration::from_secs(1800);

    fn site(name: &str, worst: Severity, failing: &[(&str, Severity)]) -> SiteSummary {
        SiteSummary {
            worst: Some(worst),
            run_success: Some(true),
            last_run: Some(1_000.0),
            up: Some(true),
            failing: failing.iter().map(|(id, s)| (id.to_string(), *s)).collect(),
            ..SiteSummary::new(name, "kk_borger")
        }
    }

    fn poll(sites: Vec<SiteSummary>) -> Arc<EnvReport> {
        Arc::new(EnvReport {
            sites,
            ..EnvReport::default()
        })
    }

    fn tracker(rules: Vec<MuteRule>) -> Tracker {
        Tracker::new(&["prod".to_string()], STALE, MuteRules::new(rules))
    }

    #[test]
    fn the_first_poll_is_the_baseline_and_the_next_says_what_changed() {
        let mut t = tracker(vec![]);
        assert!(
            t.observe(
                0,
                poll(vec![site("a", Severity::Ok, &[])]),
                1_000.0,
                1_000.0
            )
            .is_none()
        );
        let found = t
            .observe(
                0,
                poll(vec![site(
                    "a",
                    Severity::Error,
                    &[("cron", Severity::Error)],
                )]),
                1_060.0,
                1_060.0,
            )
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].from, found[0].to),
            (SiteState::Ok, SiteState::Error)
        );
        assert_eq!(found[0].time, 1_060.0);
        assert_eq!(t.fleet(0).unwrap().states, [SiteState::Error]);
    }

    #[test]
    fn a_first_answer_is_shown_but_the_whole_poll_after_it_is_the_baseline() {
        let mut t = tracker(vec![]);
        let partial = Arc::new(EnvReport {
            partial: true,
            ..(*poll(vec![site("a", Severity::Error, &[])])).clone()
        });
        assert!(t.observe(0, partial.clone(), 1_000.0, 1_000.0).is_none());
        assert_eq!(t.fleet(0).unwrap().states, [SiteState::Error], "drawn");
        // Its requirements come: no transition, as none happened.
        let whole = poll(vec![site(
            "a",
            Severity::Error,
            &[("cron", Severity::Error)],
        )]);
        assert!(t.observe(0, whole, 1_001.0, 1_001.0).is_none());
        assert_eq!(t.fleet(0).unwrap().sites[0].failing.len(), 1);
        // A late first answer never stands for the fleet.
        assert!(t.observe(0, partial, 1_002.0, 1_002.0).is_none());
        assert_eq!(t.fleet(0).unwrap().sites[0].failing.len(), 1);
        let found = t
            .observe(
                0,
                poll(vec![site("a", Severity::Ok, &[])]),
                1_060.0,
                1_060.0,
            )
            .unwrap();
        assert_eq!(
            (found[0].from, found[0].to),
            (SiteState::Error, SiteState::Ok)
        );
    }

    #[test]
    fn a_muted_requirement_does_not_count_until_muted_ones_are_shown() {
        let mut t = tracker(vec![MuteRule::new("cron", "accepted")]);
        let polled = poll(vec![site(
            "a",
            Severity::Error,
            &[("cron", Severity::Error)],
        )]);
        t.observe(0, polled.clone(), 1_000.0, 1_000.0);
        assert_eq!(t.fleet(0).unwrap().states, [SiteState::Ok]);
        assert_eq!(t.muted_requirements(0, &polled.sites[0], 1_000.0), ["cron"]);
        t.set_show_muted(true, 1_000.0);
        assert_eq!(t.fleet(0).unwrap().states, [SiteState::Error]);
        // Showing them is no change of the site: the next poll finds none.
        assert_eq!(t.observe(0, polled, 1_060.0, 1_060.0), Some(vec![]));
    }

    #[test]
    fn new_rules_reinterpret_the_last_poll_without_a_transition() {
        let mut t = tracker(vec![]);
        let polled = poll(vec![site(
            "a",
            Severity::Warning,
            &[("update", Severity::Warning)],
        )]);
        t.observe(0, polled.clone(), 1_000.0, 1_000.0);
        t.set_mutes(
            MuteRules::new(vec![MuteRule::new("update", "later")]),
            1_010.0,
        );
        assert_eq!(t.fleet(0).unwrap().states, [SiteState::Ok]);
        assert_eq!(t.observe(0, polled, 1_060.0, 1_060.0), Some(vec![]));
    }

    #[test]
    fn an_unchanged_poll_keeps_the_fleet_until_the_clock_or_a_rule_changes_it() {
        let mut rule = MuteRule::new("cron", "until 1,100");
        rule.expires = Some(1_100);
        let mut t = tracker(vec![rule]);
        let failing = || {
            poll(vec![site(
                "a",
                Severity::Error,
                &[("cron", Severity::Error)],
            )])
        };
        t.observe(0, failing(), 1_000.0, 1_000.0);
        let first = t.fleet(0).unwrap().clone();
        assert_eq!(first.states, [SiteState::Ok]);
        // The same answers again: the very same fleet, nothing changed.
        assert_eq!(t.observe(0, failing(), 1_060.0, 1_060.0), Some(vec![]));
        assert!(Arc::ptr_eq(&first, t.fleet(0).unwrap()));
        // The rule expires between two polls of the same answers.
        let found = t.observe(0, failing(), 1_120.0, 1_120.0).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].from, found[0].to),
            (SiteState::Ok, SiteState::Error)
        );
        // And the run grows stale with the same answers.
        let found = t.observe(0, failing(), 1_180.0, 1_000.0 + 1_801.0).unwrap();
        assert_eq!(
            (found[0].from, found[0].to),
            (SiteState::Error, SiteState::Stale)
        );
        assert_eq!(t.fleet(0).unwrap().states, [SiteState::Stale]);
    }

    #[test]
    fn states_are_judged_at_the_clock_not_the_poll() {
        let mut t = tracker(vec![]);
        t.observe(
            0,
            poll(vec![site("a", Severity::Ok, &[])]),
            1_000.0,
            1_000.0 + 3_600.0,
        );
        assert_eq!(t.fleet(0).unwrap().states, [SiteState::Stale]);
        assert!(
            t.observe(5, poll(vec![]), 0.0, 0.0).is_none(),
            "unknown environment"
        );
    }
}
