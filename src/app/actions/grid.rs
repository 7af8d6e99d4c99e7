//! The fleet grid's keys: moving the cursor, filters, sort, density, and
//! opening a site or one of the fleet-wide lists.
//! Changes the app's state only; what must happen outside comes back as
//! `Effect`s.

use tui_input::Input;

use crate::app::keymap::Action;
use crate::app::{App, Effect, SiteView, View};
use crate::model::SeverityFilter;

impl App {
    pub(in crate::app) fn grid_action(&mut self, action: Action) -> Vec<Effect> {
        let cursor = self.grid.cursor;
        let layout = &self.grid.layout;
        let target = match action {
            Action::Left => Some(cursor.saturating_sub(1)),
            Action::Right => Some(cursor + 1),
            Action::Up => layout.vertical(cursor, -1),
            Action::Down => layout.vertical(cursor, 1),
            Action::PageUp => layout.vertical(cursor, -self.page_rows()),
            Action::PageDown => layout.vertical(cursor, self.page_rows()),
            Action::First => Some(0),
            Action::Last => Some(layout.sites.len().saturating_sub(1)),
            Action::NextSection => layout.next_section_start(cursor),
            Action::PrevSection => layout.prev_section_start(cursor),
            _ => None,
        };
        if let Some(target) = target {
            self.move_cursor_to(target);
            return Vec::new();
        }
        match action {
            Action::StartFilter => {
                self.filter_input = Some(Input::new(self.grid.filter_text.clone()));
            }
            Action::ClearFilter => {
                self.grid.filter_text.clear();
                self.grid.severity = SeverityFilter::All;
                self.relayout();
            }
            Action::CycleSeverityFilter => {
                self.grid.severity = self.grid.severity.next();
                self.relayout();
                if self.grid.severity == SeverityFilter::ErrorsOnly {
                    // The grid now shows where; the problems view says why.
                    self.message =
                        Some("errors only · e lists every site that is not OK, and why".into());
                }
            }
            Action::ToggleSort => {
                self.grid.sort = self.grid.sort.toggle();
                self.relayout();
            }
            Action::OpenTransitions => self.stack.push(View::Transitions { selected: 0 }),
            Action::OpenPivot => self.stack.push(View::Pivot { selected: 0 }),
            Action::OpenAlerts => self.stack.push(View::Alerts { selected: 0 }),
            Action::OpenProblems => self.open_problems(),
            Action::OpenRollout => {
                if let Some(site) = self.cursor_site() {
                    let profile = self.envs[site.env].fleet.sites[site.index].profile.clone();
                    self.stack.push(View::Rollout { profile, scroll: 0 });
                }
            }
            Action::ToggleCompact => {
                self.grid.compact = !self.grid.compact;
                self.grid.scroll = 0;
                self.relayout();
            }
            Action::Open => {
                if let Some(key) = self.cursor_site().and_then(|s| self.site_key(s)) {
                    self.stack.push(View::Site(SiteView::new(key)));
                }
            }
            _ => {}
        }
        Vec::new()
    }
}
