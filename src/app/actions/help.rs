//! The help view's keys: scrolling to its last line and no further, and
//! closing it.
//! Changes the app's state only.

use crate::app::keymap::{self, Action};
use crate::app::{App, FOOTER_LINES, HEADER_LINES, View};

impl App {
    pub(in crate::app) fn help_action(&mut self, action: Action) {
        if let Some(View::Help { scroll }) = self.stack.last_mut() {
            match action {
                Action::Up => *scroll = scroll.saturating_sub(1),
                Action::Down => {
                    // The box's borders, the breadcrumb, header and footer.
                    let visible = self
                        .height
                        .saturating_sub(HEADER_LINES + FOOTER_LINES + 1 + 2);
                    let last = keymap::help_line_count().saturating_sub(visible as usize);
                    *scroll = scroll.saturating_add(1).min(last as u16);
                }
                Action::Back => {
                    self.stack.pop();
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::app::App;
    use crate::app::keymap::{Action, Scope};
    use crate::app::test_fleets::app;
    use crate::ui::Theme;

    /// The help's last line, as `ui::help` draws it.
    const LAST_HELP_LINE: &str = "underlined: changed state recently";

    fn screen(app: &App) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(app.width, app.height))
            .expect("a test backend always opens");
        terminal
            .draw(|f| crate::ui::draw(f, app, &Theme::dark()))
            .expect("a test backend always draws");
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn help_scrolls_to_its_last_line_and_no_further() {
        let mut app = app(80, 24);
        app.perform(Scope::Grid, Action::Help);
        assert!(
            !screen(&app).iter().any(|l| l.contains(LAST_HELP_LINE)),
            "help is longer than the screen"
        );
        for _ in 0..500 {
            app.perform(Scope::Help, Action::Down);
        }
        let at_end = screen(&app);
        let last = at_end
            .iter()
            .rposition(|l| l.contains(LAST_HELP_LINE))
            .expect("the last help line is on screen");
        // Directly above the box's bottom border: no blank lines scrolled in.
        assert!(at_end[last + 1].contains('─'), "{:#?}", at_end);
        app.perform(Scope::Help, Action::Down);
        assert_eq!(screen(&app), at_end, "scrolling further changes nothing");
        app.perform(Scope::Help, Action::Up);
        assert!(
            !screen(&app).iter().any(|l| l.contains(LAST_HELP_LINE)),
            "one step back up hides the last line again"
        );
    }
}
