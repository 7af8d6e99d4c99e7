//! The mouse: a click selects the site under the pointer (as the last
//! frame drew it, `App::hit_map`), a second click on it soon after opens
//! it, the wheel moves as the arrow keys do.

use std::time::Duration;

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};

use super::keymap::{Action, Scope};
use super::{App, Effect, View};

/// Two clicks on one site within this are a double-click.
pub const DOUBLE_CLICK: Duration = Duration::from_millis(500);

impl App {
    pub(super) fn handle_mouse(&mut self, mouse: &MouseEvent) -> Vec<Effect> {
        let scope = self.scope();
        if matches!(scope, Scope::FilterInput | Scope::Prompt) {
            return Vec::new();
        }
        let pane = self.hit_map.scrollable_at(mouse.column, mouse.row);
        match (mouse.kind, pane) {
            (MouseEventKind::ScrollUp | MouseEventKind::ScrollDown, Some(max))
                if scope == Scope::Site =>
            {
                if let Some(View::Site(view)) = self.stack.last_mut() {
                    view.kube_scroll = match mouse.kind {
                        MouseEventKind::ScrollUp => view.kube_scroll.min(max).saturating_sub(1),
                        _ => view.kube_scroll.saturating_add(1).min(max),
                    };
                }
                Vec::new()
            }
            _ => self.handle_mouse_elsewhere(mouse, scope),
        }
    }

    fn handle_mouse_elsewhere(&mut self, mouse: &MouseEvent, scope: Scope) -> Vec<Effect> {
        match mouse.kind {
            MouseEventKind::ScrollUp => self.perform_action(scope, Action::Up),
            MouseEventKind::ScrollDown => self.perform_action(scope, Action::Down),
            MouseEventKind::Down(MouseButton::Left) if scope == Scope::Grid => {
                self.message = None;
                let drawn = self.hit_map.site_at(mouse.column, mouse.row);
                // A frame drawn before the layout last changed may name a
                // site the layout no longer has.
                let Some(index) = drawn.filter(|i| *i < self.grid.layout.sites.len()) else {
                    self.last_click = None;
                    return Vec::new();
                };
                let again = self.last_click.is_some_and(|(at, site)| {
                    site == index
                        && self
                            .now
                            .duration_since(at)
                            .is_ok_and(|since| since <= DOUBLE_CLICK)
                });
                self.move_cursor_to(index);
                if again {
                    self.last_click = None;
                    return self.perform_action(Scope::Grid, Action::Open);
                }
                self.last_click = Some((self.now, index));
                Vec::new()
            }
            MouseEventKind::Down(MouseButton::Left)
                if matches!(
                    scope,
                    Scope::Transitions
                        | Scope::Pivot
                        | Scope::PivotSites
                        | Scope::Alerts
                        | Scope::Problems
                        | Scope::Reports
                ) =>
            {
                self.message = None;
                let Some(index) = self.hit_map.row_at(mouse.column, mouse.row) else {
                    self.last_row_click = None;
                    return Vec::new();
                };
                let again = self.last_row_click.is_some_and(|(at, in_scope, row)| {
                    in_scope == scope
                        && row == index
                        && self
                            .now
                            .duration_since(at)
                            .is_ok_and(|since| since <= DOUBLE_CLICK)
                });
                self.select_row(index);
                if again {
                    self.last_row_click = None;
                    return self.perform_action(scope, Action::Open);
                }
                self.last_row_click = Some((self.now, scope, index));
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Puts the list view's cursor on its row `index`, as drawn.
    fn select_row(&mut self, index: usize) {
        let problem_key = match self.stack.last() {
            Some(View::Problems(view)) => self
                .problem_rows(view.env)
                .get(index)
                .and_then(|(site, _)| self.site_key(*site)),
            _ => None,
        };
        match self.stack.last_mut() {
            Some(View::Transitions { selected })
            | Some(View::Pivot { selected })
            | Some(View::PivotSites { selected, .. })
            | Some(View::Alerts { selected }) => *selected = index,
            Some(View::Reports(view)) => view.select(index),
            Some(View::Problems(view)) => {
                view.selected = index;
                view.selected_key = problem_key;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Settings;
    use crate::app::grid::Line as GridLine;
    use crate::model::EnvReport;
    use crate::model::{Severity, SiteSummary};
    use crate::poller::{Fetched, Slot};
    use crate::ui::Theme;
    use crossterm::event::{Event, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use std::sync::Arc;

    fn fleet_app(sites: usize, width: u16, height: u16, settings: Settings) -> App {
        let envs = vec!["dev".to_string(), "prod".to_string()];
        let mut app = App::new(settings, &envs, width, height);
        for (i, env) in envs.iter().enumerate() {
            let sites = (0..sites)
                .map(|n| SiteSummary {
                    worst: Some(if n % 7 == 0 {
                        Severity::Error
                    } else {
                        Severity::Ok
                    }),
                    ..SiteSummary::new(format!("{env}-s{n:04}"), format!("p{}", n % 3))
                })
                .collect();
            let slot = Slot {
                last_good: Some(Fetched {
                    value: Arc::new(EnvReport {
                        sites,
                        ..EnvReport::default()
                    }),
                    at: app.now,
                }),
                ..Slot::default()
            };
            app.apply_fleet(i, &slot);
        }
        app
    }

    /// Draws the app as the runtime does, keeping the frame's hit map.
    fn render(app: &mut App) -> ratatui::buffer::Buffer {
        let mut terminal = Terminal::new(TestBackend::new(app.width, app.height)).unwrap();
        let mut hits = None;
        terminal
            .draw(|f| hits = Some(crate::ui::draw_with_hit_map(f, app, &Theme::dark())))
            .unwrap();
        app.hit_map = hits.unwrap_or_default();
        terminal.backend().buffer().clone()
    }

    /// Where `text` is drawn on screen.
    fn find(buffer: &ratatui::buffer::Buffer, text: &str) -> (u16, u16) {
        for y in 0..buffer.area.height {
            let line: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            if let Some(at) = line.find(text) {
                return (line[..at].chars().count() as u16, y);
            }
        }
        panic!("{text} is not on screen");
    }

    fn event(kind: MouseEventKind, column: u16, row: u16) -> Event {
        Event::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    }

    fn click(x: u16, y: u16) -> Event {
        event(MouseEventKind::Down(MouseButton::Left), x, y)
    }

    fn cursor_name(app: &App) -> String {
        let site = app.cursor_site().unwrap();
        app.envs[site.env].fleet.sites[site.index].name.clone()
    }

    #[test]
    fn a_click_selects_the_site_drawn_there_and_a_quick_second_one_opens_it() {
        let mut app = fleet_app(12, 100, 30, Settings::default());
        let (x, y) = find(&render(&mut app), "prod-s0004");
        assert!(app.handle_event(&click(x + 3, y)).is_empty());
        assert_eq!(cursor_name(&app), "prod-s0004");
        assert_eq!(app.scope(), Scope::Grid);

        // Slower than a double-click: it only selects again.
        app.now += DOUBLE_CLICK * 2;
        assert!(app.handle_event(&click(x, y)).is_empty());
        assert_eq!(app.scope(), Scope::Grid);

        app.now += DOUBLE_CLICK / 2;
        let effects = app.handle_event(&click(x, y));
        assert_eq!(app.scope(), Scope::Site);
        assert!(
            effects.iter().any(|e| matches!(e, Effect::Watch(crate::model::DetailKey::Site(k)) if k.site == "prod-s0004")),
            "{effects:?}"
        );
    }

    #[test]
    fn a_click_lands_on_what_the_last_frame_drew() {
        let mut app = fleet_app(12, 100, 30, Settings::default());
        let (x, y) = find(&render(&mut app), "prod-s0004");
        let drawn = std::mem::take(&mut app.hit_map);
        // No frame yet: nothing was drawn there to click.
        app.handle_event(&click(x, y));
        assert_eq!(cursor_name(&app), "dev-s0000");
        app.hit_map = drawn;
        app.handle_event(&click(x, y));
        assert_eq!(cursor_name(&app), "prod-s0004");
    }

    #[test]
    fn a_double_click_needs_both_clicks_on_the_same_site() {
        let mut app = fleet_app(12, 100, 30, Settings::default());
        let buffer = render(&mut app);
        let (x1, y1) = find(&buffer, "dev-s0001");
        let (x2, y2) = find(&buffer, "dev-s0002");
        app.handle_event(&click(x1, y1));
        app.handle_event(&click(x2, y2));
        assert_eq!(app.scope(), Scope::Grid);
        assert_eq!(cursor_name(&app), "dev-s0002");
    }

    #[test]
    fn clicks_beside_the_cells_change_nothing() {
        let mut app = fleet_app(12, 100, 30, Settings::default());
        let before = cursor_name(&app);
        let buffer = render(&mut app);
        let (_, section) = find(&buffer, "── prod");
        for (x, y) in [(5, 0), (5, section), (99, section + 2), (5, 29)] {
            app.handle_event(&click(x, y));
            assert_eq!(cursor_name(&app), before, "click at {x},{y}");
        }
    }

    #[test]
    fn the_wheel_moves_as_the_arrow_keys_do() {
        let mut by_wheel = fleet_app(40, 100, 30, Settings::default());
        let mut by_keys = fleet_app(40, 100, 30, Settings::default());
        for _ in 0..3 {
            by_wheel.handle_event(&event(MouseEventKind::ScrollDown, 10, 10));
            by_keys.perform(Scope::Grid, Action::Down);
        }
        assert_eq!(cursor_name(&by_wheel), cursor_name(&by_keys));
        by_wheel.handle_event(&event(MouseEventKind::ScrollUp, 10, 10));
        by_keys.perform(Scope::Grid, Action::Up);
        assert_eq!(cursor_name(&by_wheel), cursor_name(&by_keys));
        assert_ne!(cursor_name(&by_wheel), "dev-s0000");
    }

    #[test]
    fn in_the_dense_grid_the_clicked_cell_becomes_the_highlighted_one() {
        let mut app = fleet_app(3000, 80, 24, Settings::default());
        app.perform(Scope::Grid, Action::ToggleCompact);
        let has_pairs = app
            .grid
            .layout
            .lines
            .iter()
            .any(|l| matches!(l, GridLine::Pair { .. }));
        assert!(has_pairs, "6,000 sites on 80x24 need half-blocks");
        let theme = Theme::dark();
        let (_, section) = find(&render(&mut app), "── dev");
        let (x, y) = (17, section + 3);
        app.handle_event(&click(x, y));
        let buffer = render(&mut app);
        assert_eq!(buffer[(x, y)].bg, theme.selection().bg.unwrap());
        assert_ne!(cursor_name(&app), "dev-s0000");
    }

    #[test]
    fn with_the_mouse_off_clicks_are_ignored() {
        let settings = Settings {
            mouse: false,
            ..Settings::default()
        };
        let mut app = fleet_app(12, 100, 30, settings);
        let (x, y) = find(&render(&mut app), "prod-s0004");
        app.handle_event(&click(x, y));
        app.handle_event(&click(x, y));
        assert_eq!(cursor_name(&app), "dev-s0000");
        assert_eq!(app.scope(), Scope::Grid);
    }

    #[test]
    fn in_a_list_a_click_selects_a_row_and_a_double_click_opens_it() {
        let mut app = fleet_app(12, 100, 30, Settings::default());
        app.perform(Scope::Grid, Action::OpenProblems);
        let buffer = render(&mut app);
        // The errors (every seventh site), worst first: dev's, then prod's.
        let (x, y) = find(&buffer, "prod-s0007");
        // Selecting a row reads why from that site's latest report.
        let effects = app.handle_event(&click(x, y));
        assert!(
            effects.iter().any(|e| matches!(e, Effect::Watch(crate::model::DetailKey::Reports(k)) if k.site == "prod-s0007")),
            "{effects:?}"
        );
        let Some(View::Problems(view)) = app.stack.last() else {
            panic!("the problems view stays");
        };
        assert_eq!(
            view.selected_key.as_ref().map(|k| k.site.as_str()),
            Some("prod-s0007")
        );
        app.now += DOUBLE_CLICK / 2;
        app.handle_event(&click(x, y));
        let Some(View::Site(site)) = app.stack.last() else {
            panic!("a double-click opens the row's site");
        };
        assert_eq!(site.key.site, "prod-s0007");

        // The transition log: a click beside every row selects nothing.
        app.stack.clear();
        app.perform(Scope::Grid, Action::OpenTransitions);
        render(&mut app);
        app.handle_event(&click(5, 2));
        assert!(matches!(
            app.stack.last(),
            Some(View::Transitions { selected: 0 })
        ));
    }
}
