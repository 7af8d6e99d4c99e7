//! Poll results coming in: a fleet report per environment and detail
//! answers, applied at once or held while the view is frozen; mute rules
//! changing, which rebuilds the fleets from their last reports. Records the
//! transitions between polls. Touches the panes, the transition log and the
//! layout; asks nothing of the network.

use crate::model::{EnvReport, MuteRules};
use crate::poller::Slot;

use super::grid::normal_cell_width;
use super::{App, Detail, DetailKey, View, unix};

impl App {
    /// Takes a new poll outcome for one environment.
    pub fn apply_fleet(&mut self, env: usize, slot: &Slot<EnvReport>) {
        if self.absorb_fleet(env, slot) {
            self.relayout();
        }
    }

    /// Takes several environments' outcomes and lays out once, as a poll
    /// round often brings more than one.
    pub fn apply_fleets(&mut self, changes: &[(usize, Slot<EnvReport>)]) {
        let mut fresh = false;
        for (env, slot) in changes {
            fresh |= self.absorb_fleet(*env, slot);
        }
        if fresh {
            self.relayout();
        }
    }

    /// True when the environment's fleet changed, so the layout must be
    /// made again.
    fn absorb_fleet(&mut self, env: usize, slot: &Slot<EnvReport>) -> bool {
        let now = self.now;
        let Some(pane) = self.envs.get_mut(env) else {
            return false;
        };
        pane.in_flight = slot.in_flight;
        pane.error = slot
            .last_error
            .as_ref()
            .map(|(e, at)| (e.message.clone(), *at));
        let Some(good) = &slot.last_good else {
            return false;
        };
        let fresh = pane.fetched_at != Some(good.at);
        pane.fetched_at = Some(good.at);
        pane.first_fetched_at.get_or_insert(good.at);
        pane.warnings = good.value.warnings.clone();
        if !fresh {
            return false;
        }
        let report = good.value.clone();
        pane.report = Some(report.clone());
        let at = unix(good.at);
        // None for the first poll: the baseline, nothing has changed yet.
        let found = self.tracker.observe(env, report, at, unix(now));
        // The tracker hands back the very fleet it had when the poll
        // changed nothing: its counts, cell widths and layout stand.
        let mut same = false;
        if let Some(fleet) = self.tracker.fleet(env) {
            same = std::sync::Arc::ptr_eq(fleet, &pane.fleet);
            pane.fleet = fleet.clone();
        }
        if !same {
            pane.counts = pane.fleet.counts();
        }
        if let Some(found) = found {
            for t in &found {
                pane.changed_at.insert(t.site.clone(), at);
            }
            let window = self.settings.change_marker.as_secs_f64();
            pane.changed_at.retain(|_, when| at - *when <= window);
            let added = found.len();
            for t in found {
                self.transitions.push_front(t);
            }
            self.transitions.truncate(self.settings.transition_log_size);
            // New lines arrive on top: an open log keeps its cursor on the
            // transition it was on, unless it was following the newest at
            // the top.
            let last = self.transitions.len().saturating_sub(1);
            for view in &mut self.stack {
                if let View::Transitions { selected } = view
                    && *selected > 0
                {
                    *selected = (*selected + added).min(last);
                }
            }
        }
        if same {
            return false;
        }
        self.grid.cell_width = normal_cell_width(self.envs.iter().map(|e| &*e.fleet));
        true
    }

    /// Takes every environment's fleet again from the tracker, after it
    /// interpreted the last polls anew (the rules or "show muted"
    /// changed); that records no transition.
    fn refresh_fleets(&mut self) {
        for (env, pane) in self.envs.iter_mut().enumerate() {
            if let Some(fleet) = self.tracker.fleet(env) {
                pane.fleet = fleet.clone();
                pane.counts = pane.fleet.counts();
            }
        }
        self.relayout();
    }

    pub fn set_mutes(&mut self, mutes: MuteRules) {
        self.tracker.set_mutes(mutes, unix(self.now));
        self.refresh_fleets();
    }

    /// Accepted requirements that do not count toward a site's state:
    /// the configured and the dashboard's own (silences: `mutes_of`).
    pub fn mutes(&self) -> &MuteRules {
        self.tracker.mutes()
    }

    pub(in crate::app) fn tracker_mutes_in(&self, env: usize) -> MuteRules {
        self.tracker.mutes_in(env).into_owned()
    }

    /// Everything shown as it is, mute rules ignored.
    pub fn show_muted(&self) -> bool {
        self.tracker.show_muted()
    }

    pub fn toggle_show_muted(&mut self) {
        let show = !self.tracker.show_muted();
        self.tracker.set_show_muted(show, unix(self.now));
        self.refresh_fleets();
    }

    /// New data from the poller: applied at once, or held while frozen.
    pub fn offer_fleets(&mut self, changes: Vec<(usize, Slot<EnvReport>)>) {
        if self.frozen {
            self.held_updates += changes.len();
            for (env, slot) in changes {
                self.held_fleet.retain(|(e, _)| *e != env);
                self.held_fleet.push((env, slot));
            }
        } else {
            self.apply_fleets(&changes);
        }
    }

    pub fn offer_detail(&mut self, key: DetailKey, slot: Slot<Detail>) {
        if self.frozen {
            self.held_updates += 1;
            self.held_details.retain(|(k, _)| *k != key);
            self.held_details.push((key, slot));
        } else {
            self.apply_detail(&key, &slot);
        }
    }

    /// Freezes the view, or applies everything held while it was frozen.
    pub fn toggle_freeze(&mut self) {
        self.frozen = !self.frozen;
        if !self.frozen {
            let fleet = std::mem::take(&mut self.held_fleet);
            self.apply_fleets(&fleet);
            for (key, slot) in std::mem::take(&mut self.held_details) {
                self.apply_detail(&key, &slot);
            }
            self.held_updates = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::keymap::{Action, Scope};
    use crate::app::test_fleets::failing_app;
    use crate::model::{MuteRule, SiteState};

    #[test]
    fn a_muted_requirement_stops_counting_in_the_grid_and_the_pivot() {
        let mut app = failing_app();
        assert_eq!(app.envs[0].counts.get(SiteState::Warning), 1);
        assert_eq!(app.pivot()[0].requirement, "update_contrib");
        let rules: MuteRules = [MuteRule::new(
            "update_contrib",
            "accepted until the next release",
        )]
        .into_iter()
        .collect();
        app.set_mutes(rules);
        assert_eq!(app.envs[0].counts.get(SiteState::Warning), 0);
        assert_eq!(app.envs[0].counts.get(SiteState::Ok), 1);
        assert_eq!(
            app.envs[0].counts.get(SiteState::Error),
            1,
            "cron still counts"
        );
        let pivot = app.pivot();
        assert_eq!(pivot.len(), 1);
        assert_eq!(pivot[0].requirement, "cron");
        // M shows everything as it is, and back.
        app.perform(Scope::Grid, Action::ToggleShowMuted);
        assert_eq!(app.envs[0].counts.get(SiteState::Warning), 1);
        app.perform(Scope::Grid, Action::ToggleShowMuted);
        assert_eq!(app.envs[0].counts.get(SiteState::Warning), 0);
    }

    #[test]
    fn an_expired_rule_stops_applying() {
        let mut app = failing_app();
        let mut rule = MuteRule::new("update_contrib", "old");
        rule.expires = Some(unix(app.now) as i64 - 1);
        app.set_mutes([rule].into_iter().collect());
        assert_eq!(app.envs[0].counts.get(SiteState::Warning), 1);
    }
}
