//! The top line: fleet totals, how old the data is and the time zone the
//! screen's times are in. The totals come first and are never covered;
//! where the data comes from is shown only when there is room for it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Paint, count_spans, format_age, truncate};
use crate::app::{App, age};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, paint: Paint<'_>) {
    let theme = paint.theme;
    let totals = app.totals();
    let mut left = vec![
        Span::styled(" site-status ", theme.header().add_modifier(Modifier::BOLD)),
        Span::styled(format!("{} sites ", totals.total()), theme.header()),
    ];
    left.extend(count_spans(&totals, paint));

    let stale_envs = app
        .envs
        .iter()
        // While frozen the data is held on purpose; only errors count.
        .filter(|e| e.error.is_some() || (!app.frozen && e.is_stale(app.now, app.settings.refresh)))
        .count();
    let freshness = match app.oldest_fetch() {
        Some(at) => format!("updated {} ago", format_age(age(app.now, at))),
        None if app.envs.iter().any(|e| e.error.is_some()) => "no data yet".to_string(),
        None => "loading…".to_string(),
    };
    let mut right = vec![];
    if app.frozen {
        right.push(Span::styled(
            format!("FROZEN, {} updates waiting · ", app.held_updates),
            theme
                .accent()
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ));
    }
    if stale_envs > 0 {
        right.push(Span::styled(
            format!("{stale_envs} env stale · "),
            theme.state(crate::model::SiteState::Error),
        ));
    }
    let zone = super::zone_name(app, paint);
    right.push(Span::styled(
        format!("{freshness} · {zone} "),
        theme.header(),
    ));

    let width = area.width as usize;
    let left_width = Line::from(left.clone()).width();
    let right_width = Line::from(right.clone()).width();
    // " · " before the origin and one blank before the right-hand side.
    let room = width.saturating_sub(left_width + right_width + 4);
    if room >= 8 && !app.settings.origin.is_empty() {
        left.push(Span::styled(
            format!(
                " · {}",
                truncate(&app.settings.origin, room, paint.glyphs.ellipsis())
            ),
            theme.header(),
        ));
    }
    frame.render_widget(Paragraph::new("").style(theme.header()), area);
    frame.render_widget(Paragraph::new(Line::from(left)).style(theme.header()), area);
    let right_width = right_width as u16;
    if (left_width as u16) + right_width < area.width {
        let at = Rect {
            x: area.x + area.width - right_width,
            width: right_width,
            ..area
        };
        frame.render_widget(Paragraph::new(Line::from(right)).style(theme.header()), at);
    }
}
