//! The transition log: every change of a site's state, newest first.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Paint, clock, truncate};
use crate::app::{App, HitMap};
use crate::model::crossing_summary;

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    selected: usize,
    paint: Paint<'_>,
    hits: &mut HitMap,
) {
    let theme = paint.theme;
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!(
                "Transitions, newest first ({}) · {} kept",
                super::zone_name(app, paint),
                app.transitions.len()
            ),
            theme.text().add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            format!(" · at most {}", app.settings.transition_log_size),
            theme.muted(),
        ),
    ])];
    if app.transitions.is_empty() {
        lines.push(Line::from(Span::styled(
            "Nothing has changed since the dashboard started.",
            theme.muted(),
        )));
    }
    let rows = (area.height as usize).saturating_sub(1);
    let top = selected.saturating_sub(rows.saturating_sub(1));
    let name_width = app
        .transitions
        .iter()
        .map(|t| unicode_width::UnicodeWidthStr::width(t.name.as_str()))
        .max()
        .unwrap_or(8)
        .min(28);
    for (i, t) in app.transitions.iter().enumerate().skip(top).take(rows) {
        hits.record_row(
            Rect::new(area.x, area.y + lines.len() as u16, area.width, 1),
            i,
        );
        let is_selected = i == selected;
        let base = if is_selected {
            theme.selection()
        } else {
            theme.text()
        };
        let site = truncate(&t.name, name_width, paint.glyphs.ellipsis());
        let pad = name_width.saturating_sub(unicode_width::UnicodeWidthStr::width(site.as_str()));
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} ", clock(t.time, paint)),
                if is_selected { base } else { theme.muted() },
            ),
            Span::styled(format!("{:<5} ", t.env), base),
            Span::styled(
                format!("{:<12} ", t.profile),
                if is_selected { base } else { theme.muted() },
            ),
            Span::styled(
                format!("{site}{}  ", " ".repeat(pad)),
                base.add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!("{} {}", paint.glyphs.state(t.from), t.from.label()),
                if is_selected {
                    base
                } else {
                    theme.state(t.from)
                },
            ),
            Span::styled(" → ", base),
            Span::styled(
                format!("{} {}", paint.glyphs.state(t.to), t.to.label()),
                if is_selected { base } else { theme.state(t.to) },
            ),
            Span::styled(
                format!("  {}", crossing_summary(t)),
                if is_selected { base } else { theme.muted() },
            ),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
