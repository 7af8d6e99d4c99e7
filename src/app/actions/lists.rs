//! The list views' keys (transition log, requirement pivot, the sites
//! failing one requirement): moving and opening what the line names.
//! Changes the app's state only.

use crate::app::keymap::Action;
use crate::app::{App, SiteKey, SiteView, View};

impl App {
    /// Cursor movement and Enter in the list views (transitions, pivot).
    pub(in crate::app) fn list_action(&mut self, action: Action) {
        let (len, open): (usize, Option<View>) = match self.stack.last() {
            Some(View::Transitions { selected }) => (
                self.transitions.len(),
                self.transitions.get(*selected).map(|t| {
                    View::Site(SiteView::new(SiteKey {
                        env: t.env.clone(),
                        site: t.site.clone(),
                    }))
                }),
            ),
            Some(View::Pivot { selected }) => {
                let rows = self.pivot();
                (
                    rows.len(),
                    rows.get(*selected).map(|r| View::PivotSites {
                        requirement: r.requirement.clone(),
                        selected: 0,
                    }),
                )
            }
            Some(View::PivotSites {
                requirement,
                selected,
            }) => {
                let sites = self.failing_sites(requirement);
                (
                    sites.len(),
                    sites
                        .get(*selected)
                        .and_then(|(s, _)| self.site_key(*s))
                        .map(|key| View::Site(SiteView::new(key))),
                )
            }
            Some(View::Alerts { selected }) => {
                let alerts = self.fleet_alerts();
                (
                    alerts.len(),
                    alerts.get(*selected).map(|(env, alert)| {
                        View::Site(SiteView::new(SiteKey {
                            env: self.envs[*env].fleet.name.clone(),
                            site: alert.site.clone(),
                        }))
                    }),
                )
            }
            _ => return,
        };
        let last = len.saturating_sub(1);
        let selected = match self.stack.last_mut() {
            Some(View::Transitions { selected })
            | Some(View::Pivot { selected })
            | Some(View::PivotSites { selected, .. })
            | Some(View::Alerts { selected }) => selected,
            _ => return,
        };
        match action {
            Action::Up => *selected = selected.saturating_sub(1),
            Action::Down => *selected = (*selected + 1).min(last),
            Action::First => *selected = 0,
            Action::Last => *selected = last,
            Action::Back => {
                self.stack.pop();
            }
            Action::Open => {
                if let Some(view) = open {
                    self.stack.push(view);
                }
            }
            _ => {}
        }
    }
}
