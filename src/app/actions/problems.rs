//! The problems view's keys: moving over the sites that are not OK,
//! narrowing to one environment, filtering by name as the grid does, and
//! opening a site. Changes the app's state only.

use tui_input::Input;

use crate::app::keymap::Action;
use crate::app::views::ProblemsView;
use crate::app::{App, Effect, SiteKey, SiteView, View};
use crate::model::{EnvFleet, SiteRef, SiteState, questions};

impl App {
    /// The problems view's rows: every site that is not OK, worst first,
    /// then by environment, profile and name; only environment `env` when
    /// given; the grid's filter applies.
    pub fn problem_rows(&self, env: Option<usize>) -> Vec<(SiteRef, SiteState)> {
        let fleets: Vec<&EnvFleet> = self.envs.iter().map(|e| &*e.fleet).collect();
        let mut rows = questions::problems(&fleets, &self.filter());
        if let Some(env) = env {
            rows.retain(|(site, _)| site.env == env);
        }
        rows
    }

    /// The row the view's cursor is on: its site, by name, when it is
    /// still listed; else the same place in the list.
    pub fn problems_cursor(&self, view: &ProblemsView, rows: &[(SiteRef, SiteState)]) -> usize {
        view.selected_key
            .as_ref()
            .and_then(|key| {
                rows.iter()
                    .position(|(site, _)| self.site_key(*site).as_ref() == Some(key))
            })
            .unwrap_or(view.selected)
            .min(rows.len().saturating_sub(1))
    }

    /// The selected row's site, as the view's cursor stands.
    pub fn problems_selected_key(&self, view: &ProblemsView) -> Option<SiteKey> {
        let rows = self.problem_rows(view.env);
        let at = self.problems_cursor(view, &rows);
        rows.get(at).and_then(|(site, _)| self.site_key(*site))
    }

    pub(in crate::app) fn open_problems(&mut self) {
        self.stack.push(View::Problems(ProblemsView::default()));
    }

    pub(in crate::app) fn problems_action(&mut self, action: Action) -> Vec<Effect> {
        let Some(View::Problems(view)) = self.stack.last() else {
            return Vec::new();
        };
        let rows = self.problem_rows(view.env);
        let at = self.problems_cursor(view, &rows);
        let last = rows.len().saturating_sub(1);
        let page = self.grid_height().saturating_sub(4).max(1) as usize;
        let envs = self.envs.len();
        let target = match action {
            Action::Up => Some(at.saturating_sub(1)),
            Action::Down => Some((at + 1).min(last)),
            Action::PageUp => Some(at.saturating_sub(page)),
            Action::PageDown => Some((at + page).min(last)),
            Action::First => Some(0),
            Action::Last => Some(last),
            _ => None,
        };
        if let Some(target) = target {
            let key = rows.get(target).and_then(|(site, _)| self.site_key(*site));
            if let Some(View::Problems(view)) = self.stack.last_mut() {
                view.selected = target;
                view.selected_key = key;
            }
            return Vec::new();
        }
        match action {
            Action::NextSection | Action::PrevSection => {
                let next = match (action, view.env) {
                    (_, _) if envs == 0 => None,
                    (Action::NextSection, None) => Some(0),
                    (Action::NextSection, Some(e)) if e + 1 < envs => Some(e + 1),
                    (Action::NextSection, Some(_)) => None,
                    (_, None) => Some(envs - 1),
                    (_, Some(0)) => None,
                    (_, Some(e)) => Some(e - 1),
                };
                if let Some(View::Problems(view)) = self.stack.last_mut() {
                    view.env = next;
                    view.selected = 0;
                    view.selected_key = None;
                }
            }
            Action::StartFilter => {
                self.filter_input = Some(Input::new(self.grid.filter_text.clone()));
            }
            Action::Open => {
                if let Some(key) = rows.get(at).and_then(|(site, _)| self.site_key(*site)) {
                    self.stack.push(View::Site(SiteView::new(key)));
                }
            }
            Action::Back => {
                self.stack.pop();
            }
            _ => {}
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use crate::app::keymap::{Action, Scope};
    use crate::app::test_fleets::failing_app;
    use crate::app::{SiteKey, View};
    use crate::model::SiteState;

    #[test]
    fn the_problems_view_lists_the_sites_not_ok_and_opens_one() {
        let mut app = failing_app();
        app.perform(Scope::Grid, Action::OpenProblems);
        assert_eq!(app.scope(), Scope::Problems);
        let Some(View::Problems(view)) = app.stack.last() else {
            panic!("not the problems view");
        };
        let rows = app.problem_rows(view.env);
        let states: Vec<SiteState> = rows.iter().map(|(_, s)| *s).collect();
        assert!(!states.is_empty());
        assert!(
            states.windows(2).all(|w| w[0].rank() <= w[1].rank()),
            "{states:?}"
        );
        assert!(
            states
                .iter()
                .all(|s| !matches!(s, SiteState::Ok | SiteState::Info)),
            "{states:?}"
        );
        let first: Option<SiteKey> = app.site_key(rows[0].0);
        app.perform(Scope::Problems, Action::Open);
        let Some(View::Site(site)) = app.stack.last() else {
            panic!("Enter opens the site");
        };
        assert_eq!(Some(site.key.clone()), first);
    }

    #[test]
    fn tab_narrows_to_one_environment_at_a_time_and_back_to_all() {
        let mut app = failing_app();
        app.perform(Scope::Grid, Action::OpenProblems);
        let envs = app.envs.len();
        let scope_of = |app: &crate::app::App| match app.stack.last() {
            Some(View::Problems(v)) => v.env,
            _ => panic!("not the problems view"),
        };
        app.perform(Scope::Problems, Action::PrevSection);
        assert_eq!(scope_of(&app), Some(envs - 1), "from all, back is the last");
        app.perform(Scope::Problems, Action::NextSection);
        assert_eq!(scope_of(&app), None, "after the last, all again");
        app.perform(Scope::Problems, Action::NextSection);
        assert_eq!(scope_of(&app), Some(0));
        let only_first = app.problem_rows(Some(0));
        assert!(only_first.iter().all(|(s, _)| s.env == 0));
    }
}
