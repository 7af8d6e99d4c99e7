//! Which detail queries run: the ones the views on the stack show (and the
//! timeline strip), told to the runtime as `Watch` / `Unwatch` effects; and
//! their answers, handed to every view that shows them.

use std::sync::Arc;

use crate::poller::Slot;

use super::{App, Detail, DetailKey, Effect, View};

impl App {
    /// The queries the app needs from the start (the timeline); the
    /// runtime starts them once.
    pub fn initial_watches(&self) -> Vec<Effect> {
        self.watching.iter().cloned().map(Effect::Watch).collect()
    }

    /// Takes a new outcome of a detail query into every view showing it.
    pub fn apply_detail(&mut self, key: &DetailKey, slot: &Slot<Detail>) {
        if let DetailKey::Timeline { env } = key
            && let Some(pane) = self.envs.iter_mut().find(|e| e.fleet.name == *env)
            && let Some(good) = &slot.last_good
            && let Detail::Timeline(t) = good.value.as_ref()
        {
            pane.timeline = Some((Arc::new(t.clone()), good.at));
        }
        if matches!(key, DetailKey::Rollout { .. }) && self.watching.contains(key) {
            let loaded = self.rollouts.entry(key.clone()).or_default();
            if let Some(good) = &slot.last_good
                && let Detail::Rollout(r) = good.value.as_ref()
            {
                loaded.data = Some((Arc::new(r.clone()), good.at));
            }
            loaded.error = slot
                .last_error
                .as_ref()
                .map(|(e, at)| (e.message.clone(), *at));
        }
        if let DetailKey::Alerts { env } = key
            && self.watching.contains(key)
        {
            let loaded = self.alert_lists.entry(env.clone()).or_default();
            if let Some(good) = &slot.last_good
                && let Detail::Alerts(list) = good.value.as_ref()
            {
                loaded.data = Some((Arc::new(list.clone()), good.at));
            }
            loaded.error = slot
                .last_error
                .as_ref()
                .map(|(e, at)| (e.message.clone(), *at));
        }
        if let Some(good) = &slot.last_good {
            self.learn_titles(good.value.as_ref());
        }
        for view in &mut self.stack {
            view.apply(key, slot);
        }
    }

    /// Keeps the titles a detail carries, for the lists that show many
    /// sites' requirements; bounded, as ids come from the sites.
    fn learn_titles(&mut self, detail: &Detail) {
        const MAX_TITLES: usize = 10_000;
        let requirements: Vec<&crate::model::Requirement> = match detail {
            Detail::Site(site) => site.requirements.iter().collect(),
            Detail::Reports(reports) => reports
                .reports
                .iter()
                .take(1)
                .flat_map(|r| &r.requirements)
                .collect(),
            _ => Vec::new(),
        };
        for r in requirements {
            if r.title.is_empty() || r.title == r.id {
                continue;
            }
            if self.titles.len() >= MAX_TITLES && !self.titles.contains_key(&r.id) {
                break;
            }
            self.titles.insert(r.id.clone(), r.title.clone());
        }
    }

    /// Tells the poller what the stack now needs: new queries start, those
    /// no view shows any more stop.
    pub(super) fn sync_watches(&mut self) -> Vec<Effect> {
        let mut wanted: Vec<DetailKey> = Vec::new();
        if self.show_timeline {
            for env in &self.envs {
                wanted.push(DetailKey::Timeline {
                    env: env.fleet.name.clone(),
                });
            }
        }
        // The problems view reads why its selected site fails from that
        // site's latest report.
        let why = match self.stack.last() {
            Some(View::Problems(view)) => self.problems_selected_key(view).map(DetailKey::Reports),
            _ => None,
        };
        if let Some(View::Problems(view)) = self.stack.last_mut()
            && view.why_key != why
        {
            view.why_key = why.clone();
            view.why = Default::default();
        }
        wanted.extend(why);
        for view in &self.stack {
            let mut keys = view.watches();
            // Where a Loki is configured, the site view's requirement
            // texts come from the latest report.
            if let View::Site(site) = view
                && self
                    .envs
                    .iter()
                    .any(|e| e.fleet.name == site.key.env && e.reports)
            {
                keys.push(DetailKey::Reports(site.key.clone()));
            }
            if let View::Alerts { .. } = view {
                keys.extend(self.envs.iter().map(|e| DetailKey::Alerts {
                    env: e.fleet.name.clone(),
                }));
            }
            if let View::Rollout { profile, .. } = view {
                keys.extend(self.envs.iter().map(|e| DetailKey::Rollout {
                    env: e.fleet.name.clone(),
                    profile: profile.clone(),
                }));
            }
            for key in keys {
                // Only environments with a cluster have workloads to show.
                if let DetailKey::Workloads(site) = &key
                    && !self
                        .envs
                        .iter()
                        .any(|e| e.fleet.name == site.env && e.kubernetes)
                {
                    continue;
                }
                if !wanted.contains(&key) {
                    wanted.push(key);
                }
            }
        }
        self.rollouts.retain(|key, _| wanted.contains(key));
        self.alert_lists
            .retain(|env, _| wanted.contains(&DetailKey::Alerts { env: env.clone() }));
        let mut effects: Vec<Effect> = self
            .watching
            .iter()
            .filter(|k| !wanted.contains(k))
            .map(|k| Effect::Unwatch(k.clone()))
            .collect();
        effects.extend(
            wanted
                .iter()
                .filter(|k| !self.watching.contains(k))
                .map(|k| Effect::Watch(k.clone())),
        );
        self.watching = wanted;
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::keymap::{Action, Scope};
    use crate::app::test_fleets::{app, cursor_name};
    use crate::model::SiteKey;

    #[test]
    fn opening_a_site_asks_the_poller_and_back_closes_it() {
        let mut app = app(80, 24);
        let effects = app.perform(Scope::Grid, Action::Open);
        let site = DetailKey::Site(SiteKey {
            env: "dev".into(),
            site: "dev-alpha".into(),
        });
        assert_eq!(effects, vec![Effect::Watch(site.clone())]);
        assert_eq!(app.scope(), Scope::Site);
        assert_eq!(
            app.perform(Scope::Site, Action::Back),
            vec![Effect::Unwatch(site.clone())]
        );
        assert_eq!(app.scope(), Scope::Grid);
        assert_eq!(cursor_name(&app), "dev-alpha");

        // With a cluster, the site's workloads are watched too.
        app.envs[0].kubernetes = true;
        let workloads = DetailKey::Workloads(SiteKey {
            env: "dev".into(),
            site: "dev-alpha".into(),
        });
        let effects = app.perform(Scope::Grid, Action::Open);
        assert_eq!(
            effects,
            vec![
                Effect::Watch(site.clone()),
                Effect::Watch(workloads.clone())
            ]
        );
        let effects = app.perform(Scope::Site, Action::Back);
        assert!(effects.contains(&Effect::Unwatch(workloads)), "{effects:?}");
    }

    /// With a Loki, the site view takes its texts from the site's reports:
    /// opening it asks for them, and closing it stops asking.
    #[test]
    fn opening_a_site_with_loki_asks_for_its_reports() {
        use crate::app::test_fleets::real_ids_app;
        let key = SiteKey {
            env: "prod".into(),
            site: "borger".into(),
        };
        let (mut app, effects) = real_ids_app(true);
        assert_eq!(
            effects,
            vec![
                Effect::Watch(DetailKey::Site(key.clone())),
                Effect::Watch(DetailKey::Reports(key.clone())),
            ]
        );
        let effects = app.perform(Scope::Site, Action::Back);
        assert!(
            effects.contains(&Effect::Unwatch(DetailKey::Reports(key.clone()))),
            "{effects:?}"
        );
        // Without one, nothing is asked of a Loki.
        let (_, effects) = real_ids_app(false);
        assert_eq!(effects, vec![Effect::Watch(DetailKey::Site(key))]);
    }

    /// Titles sort the list anew; the cursor stays on the requirement it
    /// was on, not on the row it was at.
    #[test]
    fn titles_arriving_keep_the_cursor_on_its_requirement() {
        use crate::app::test_fleets::{real_ids_app, real_ids_report, selected_label};
        use crate::model::{Detail, DetailKey};
        use crate::poller::Fetched;
        let (mut app, _) = real_ids_app(true);
        app.perform(Scope::Site, Action::Down);
        assert_eq!(
            selected_label(&app).as_deref(),
            Some("image.toolkit.gd.version")
        );
        let before = match app.stack.last() {
            Some(View::Site(site)) => site.selected,
            _ => panic!("the site view is not on top"),
        };
        let key = DetailKey::Reports(SiteKey {
            env: "prod".into(),
            site: "borger".into(),
        });
        let slot = Slot {
            last_good: Some(Fetched {
                value: Arc::new(Detail::Reports(real_ids_report())),
                at: app.now,
            }),
            ..Slot::default()
        };
        app.apply_detail(&key, &slot);
        let Some(View::Site(site)) = app.stack.last() else {
            panic!("the site view is not on top");
        };
        let shown: Vec<(&str, &str)> = site
            .shown()
            .map(|d| {
                d.requirements
                    .iter()
                    .map(|r| (r.label.as_str(), r.title.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            shown,
            [
                ("update access", "Access to update.php"),
                ("file system", "File system"),
                ("image.toolkit.gd.version", "GD library"),
                ("temporary:///.htaccess", "Temporary files directory"),
            ]
        );
        assert_ne!(site.selected, before, "the row moved");
        assert_eq!(
            selected_label(&app).as_deref(),
            Some("image.toolkit.gd.version")
        );
    }
}
