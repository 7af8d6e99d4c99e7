//! Drawing only: every function here reads an immutable `App` and paints.

pub mod footer;
pub mod glyphs;
pub mod grid;
pub mod header;
pub mod help;
pub mod site;
pub mod theme;

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{App, FOOTER_LINES, HEADER_LINES, View};
use crate::model::Counts;
pub use glyphs::Glyphs;
pub use theme::Theme;

pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 8;

/// What every view needs to paint: the theme and the glyph set.
#[derive(Clone, Copy)]
pub struct Paint<'a> {
    pub theme: &'a Theme,
    pub glyphs: Glyphs,
}

pub fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    let area = frame.area();
    let paint = Paint {
        theme,
        glyphs: Glyphs {
            ascii: app.settings.ascii,
        },
    };
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let message = format!(
            "Terminal too small ({}x{}); need {MIN_WIDTH}x{MIN_HEIGHT}. q quits.",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(message)
                .style(theme.text())
                .wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(HEADER_LINES),
        Constraint::Min(1),
        Constraint::Length(FOOTER_LINES),
    ])
    .areas(area);
    header::draw(frame, top, app, paint);
    match app.stack.last() {
        None => grid::draw(frame, body, app, paint),
        Some(View::Site(site)) => site::draw(frame, body, app, site, paint),
        Some(View::Help { scroll }) => help::draw(frame, body, *scroll, paint),
    }
    footer::draw(frame, bottom, app, paint);
}

/// "✖3 ▲12 ●180", worst first, each in its state's colour.
pub fn count_spans(counts: &Counts, paint: Paint<'_>) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (state, n) in counts.nonzero() {
        if !spans.is_empty() {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(
            format!("{}{n}", paint.glyphs.state(state)),
            paint.theme.state(state),
        ));
    }
    spans
}

/// Short human age: 4s, 3m, 2h, 5d.
pub fn format_age(age: Duration) -> String {
    let s = age.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h{}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// Truncates to a display width, marking the cut.
pub fn truncate(text: &str, width: usize, ellipsis: &str) -> String {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    if text.width() <= width {
        return text.to_string();
    }
    let room = width.saturating_sub(ellipsis.width());
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    if width >= ellipsis.width() {
        out.push_str(ellipsis);
    }
    out
}

pub fn line_width(line: &Line<'_>) -> usize {
    line.width()
}

/// Paints a line clipped to an area's first row.
pub fn put_line(frame: &mut Frame, area: Rect, line: Line<'_>) {
    frame.render_widget(Paragraph::new(line), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(format_age(Duration::from_secs(4)), "4s");
        assert_eq!(format_age(Duration::from_secs(185)), "3m");
        assert_eq!(format_age(Duration::from_secs(7500)), "2h5m");
        assert_eq!(format_age(Duration::from_secs(200_000)), "2d");
    }

    #[test]
    fn truncation_respects_display_width() {
        assert_eq!(truncate("borger", 10, "…"), "borger");
        assert_eq!(truncate("bibliotek-nord", 8, "…"), "bibliot…");
        assert_eq!(truncate("æøåæøå", 4, "…"), "æøå…");
        assert_eq!(truncate("日本語テキスト", 5, "…"), "日本…");
    }
}
