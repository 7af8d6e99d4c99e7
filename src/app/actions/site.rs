//! The site view's keys: choosing a requirement, scrolling its text, its
//! history, the reports, and muting or unmuting it. Changes the app's state
//! only; a rule to take out of the mutes file comes back as an `Effect`.

use tui_input::Input;

use crate::app::keymap::Action;
use crate::app::{App, Effect, MutePrompt, ReportsView, RequirementView, View, unix};
use crate::model::RuleOrigin;

impl App {
    pub(in crate::app) fn site_action(&mut self, action: Action) -> Vec<Effect> {
        if action == Action::Back {
            self.stack.pop();
            return Vec::new();
        }
        if action == Action::Unmute {
            return self.unmute_selected();
        }
        if action == Action::RunReport {
            return self.run_report();
        }
        let profile = match self.stack.last() {
            Some(View::Site(site)) => self
                .find_site(&site.key)
                .map(|r| self.envs[r.env].fleet.sites[r.index].profile.clone())
                .or_else(|| site.detail.value().map(|d| d.summary.profile.clone()))
                .unwrap_or_default(),
            _ => return Vec::new(),
        };
        let Some(View::Site(site)) = self.stack.last_mut() else {
            return Vec::new();
        };
        let last = site.requirement_count().saturating_sub(1);
        match action {
            Action::Up => site.select(site.selected.saturating_sub(1)),
            Action::Down => site.select(site.selected + 1),
            Action::First => site.select(0),
            Action::Last => site.select(last),
            Action::ScrollTextUp => site.text_scroll = site.text_scroll.saturating_sub(3),
            Action::ScrollTextDown => site.text_scroll = site.text_scroll.saturating_add(3),
            Action::OpenReports => {
                let key = site.key.clone();
                self.stack.push(View::Reports(ReportsView::new(key)));
            }
            Action::Mute => {
                if let Some(req) = site.shown().and_then(|d| d.requirements.get(site.selected)) {
                    // A mute Alertmanager refused is offered again, as typed.
                    let offered = self
                        .refused_mute
                        .as_ref()
                        .filter(|r| {
                            r.requirement == req.label
                                && r.site.as_deref() == Some(site.key.site.as_str())
                        })
                        .map(|r| r.reason.clone());
                    self.prompt = Some(MutePrompt {
                        site: site.key.clone(),
                        requirement: req.label.clone(),
                        profile: (!profile.is_empty()).then(|| profile.clone()),
                        whole_profile: false,
                        reason: None,
                        input: offered.map(Input::new).unwrap_or_default(),
                        error: None,
                    });
                }
            }
            Action::Open => {
                let Some(req) = site.shown().and_then(|d| d.requirements.get(site.selected)) else {
                    return Vec::new();
                };
                let view = RequirementView {
                    site: site.key.clone(),
                    profile,
                    requirement: req.label.clone(),
                    title: req.display_title().to_string(),
                    window: crate::model::Window::default(),
                    history: Default::default(),
                    selected: 0,
                };
                self.stack.push(View::Requirement(view));
            }
            _ => {}
        }
        Vec::new()
    }

    /// `u`: takes out the dashboard's own rules muting the selected
    /// requirement. A rule from the configuration is not the dashboard's to
    /// remove, so the status line says where it is instead.
    fn unmute_selected(&mut self) -> Vec<Effect> {
        let Some(View::Site(site)) = self.stack.last() else {
            return Vec::new();
        };
        let Some(requirement) = site
            .shown()
            .and_then(|d| d.requirements.get(site.selected))
            .map(|r| r.label.clone())
        else {
            return Vec::new();
        };
        let key = site.key.clone();
        let profile = self.profile_of(&key).unwrap_or_default();
        let now = unix(self.now);
        // The dashboard's own rules and the team's silences can be taken
        // out here; the configuration's cannot.
        let (ours, elsewhere): (Vec<_>, Vec<_>) = self
            .mutes_of(&key.env)
            .rules()
            .iter()
            .filter(|r| r.matches(&key.env, &profile, &key.site, &requirement, now))
            .cloned()
            .partition(|r| r.origin != RuleOrigin::Config);
        // A rule from elsewhere would keep it muted whatever is taken out
        // here, so nothing is: the operator learns where that rule is.
        if let Some(other) = elsewhere.first() {
            self.message = Some(format!(
                "{requirement} stays muted: its rule ({}) is in the {} and cannot be removed here",
                other.scope_label(),
                other.origin
            ));
            return Vec::new();
        }
        if ours.is_empty() {
            self.message = Some(format!("{requirement} is not muted"));
        }
        ours.into_iter().map(Effect::RemoveMute).collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::app::Effect;
    use crate::app::keymap::{Action, Scope};
    use crate::app::test_fleets::failing_app_with_site_open;
    use crate::model::{MuteRule, MuteRules, RuleOrigin};

    fn rule_on_borger(origin: RuleOrigin) -> MuteRule {
        let mut rule = MuteRule::new("update_contrib", "known");
        rule.env = Some("prod".into());
        rule.site = Some("borger".into());
        rule.origin = origin;
        rule
    }

    #[test]
    fn u_asks_to_remove_the_dashboards_own_rule() {
        let mut app = failing_app_with_site_open();
        let rule = rule_on_borger(RuleOrigin::Dashboard);
        app.set_mutes(MuteRules::new(vec![rule.clone()]));
        let effects = app.perform(Scope::Site, Action::Unmute);
        assert_eq!(effects, vec![Effect::RemoveMute(rule)]);
        assert_eq!(app.scope(), Scope::Site);
    }

    #[test]
    fn u_leaves_a_rule_from_the_configuration_and_says_so() {
        let mut app = failing_app_with_site_open();
        app.set_mutes(MuteRules::new(vec![
            rule_on_borger(RuleOrigin::Config),
            rule_on_borger(RuleOrigin::Dashboard),
        ]));
        assert!(app.perform(Scope::Site, Action::Unmute).is_empty());
        let message = app.message.clone().unwrap_or_default();
        assert!(message.contains("stays muted"), "{message}");
        assert!(message.contains("config"), "{message}");
    }

    #[test]
    fn u_on_a_requirement_no_rule_mutes_changes_nothing() {
        let mut app = failing_app_with_site_open();
        assert!(app.perform(Scope::Site, Action::Unmute).is_empty());
        assert_eq!(app.message.as_deref(), Some("update_contrib is not muted"));
    }

    /// `m` on a requirement whose id has spaces, dots or a path: the rule
    /// (and so the silence or the mutes file's entry) names it unchanged.
    #[test]
    fn m_on_a_real_id_asks_for_a_rule_with_the_id_unchanged() {
        use crate::app::test_fleets::{REAL_IDS, real_ids_app, selected_label, type_text};
        let (mut app, _) = real_ids_app(false);
        for (row, id) in REAL_IDS.iter().enumerate() {
            app.perform(Scope::Site, Action::First);
            for _ in 0..row {
                app.perform(Scope::Site, Action::Down);
            }
            assert_eq!(selected_label(&app).as_deref(), Some(*id));
            app.perform(Scope::Site, Action::Mute);
            type_text(&mut app, "accepted");
            app.perform(Scope::Prompt, Action::SaveMute);
            let effects = app.perform(Scope::Prompt, Action::SaveMute);
            let Some(Effect::AddMute(rule)) = effects.first() else {
                panic!("{effects:?}");
            };
            assert_eq!(rule.requirement, *id);
            assert_eq!(rule.site.as_deref(), Some("borger"));
            assert_eq!(rule.env.as_deref(), Some("prod"));
        }
    }

    /// Enter on a real id: the requirement view is titled by the report's
    /// title and names the id as it is, and its history is asked for that
    /// id exactly.
    #[test]
    fn enter_on_a_real_id_opens_its_view_and_asks_for_its_history() {
        use crate::app::View;
        use crate::app::test_fleets::{real_ids_app, real_ids_report};
        use crate::model::{Detail, DetailKey, SiteKey, Window};
        use crate::poller::{Fetched, Slot};
        let site = SiteKey {
            env: "prod".into(),
            site: "borger".into(),
        };
        for (id, title) in [
            ("image.toolkit.gd.version", "GD library"),
            ("file system", "File system"),
        ] {
            let (mut app, _) = real_ids_app(true);
            app.apply_detail(
                &DetailKey::Reports(site.clone()),
                &Slot {
                    last_good: Some(Fetched {
                        value: std::sync::Arc::new(Detail::Reports(real_ids_report())),
                        at: app.now,
                    }),
                    ..Slot::default()
                },
            );
            let row = match app.stack.last() {
                Some(View::Site(v)) => v
                    .shown()
                    .and_then(|d| d.requirements.iter().position(|r| r.label == id)),
                _ => None,
            };
            let Some(row) = row else {
                panic!("{id} not listed");
            };
            app.perform(Scope::Site, Action::First);
            for _ in 0..row {
                app.perform(Scope::Site, Action::Down);
            }
            let effects = app.perform(Scope::Site, Action::Open);
            assert_eq!(
                effects,
                vec![Effect::Watch(DetailKey::History {
                    site: site.clone(),
                    requirement: id.to_string(),
                    window: Window::default(),
                })]
            );
            let Some(View::Requirement(view)) = app.stack.last() else {
                panic!("no requirement view");
            };
            assert_eq!(
                (view.requirement.as_str(), view.title.as_str()),
                (id, title)
            );
        }
    }
}
