//! The requirement view's keys: the history window and the other sites
//! failing the same requirement.
//! Changes the app's state only.

use crate::app::keymap::Action;
use crate::app::{App, SiteView, View};

impl App {
    pub(in crate::app) fn requirement_action(&mut self, action: Action) {
        let Some(View::Requirement(view)) = self.stack.last() else {
            return;
        };
        let others = self.others_failing(&view.site.env, &view.requirement, &view.site.site);
        let open = others
            .get(view.selected)
            .and_then(|site| self.site_key(*site));
        let Some(View::Requirement(view)) = self.stack.last_mut() else {
            return;
        };
        let last = others.len().saturating_sub(1);
        let window = |w| Some(w);
        let new_window = match action {
            Action::Window1h => window(crate::model::Window::Hour),
            Action::Window6h => window(crate::model::Window::SixHours),
            Action::Window24h => window(crate::model::Window::Day),
            Action::Window7d => window(crate::model::Window::Week),
            _ => None,
        };
        if let Some(w) = new_window
            && w != view.window
        {
            view.window = w;
            view.history = Default::default();
            return;
        }
        match action {
            Action::Back => {
                self.stack.pop();
            }
            Action::Up => view.selected = view.selected.saturating_sub(1),
            Action::Down => view.selected = (view.selected + 1).min(last),
            Action::First => view.selected = 0,
            Action::Last => view.selected = last,
            Action::Open => {
                if let Some(key) = open {
                    self.stack.push(View::Site(SiteView::new(key)));
                }
            }
            _ => {}
        }
    }
}
