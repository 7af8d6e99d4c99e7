//! The two bottom lines: what the cursor is on (or the filter being typed),
//! and the keys that apply right now, straight from the keymap.

use crate::model::text::shown;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Paint, truncate};
use crate::app::App;
use crate::app::keymap::{BINDINGS, Scope};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, paint: Paint<'_>) {
    let theme = paint.theme;
    let status = Rect { height: 1, ..area };
    let keys = Rect {
        y: area.y + 1,
        height: area.height.saturating_sub(1),
        ..area
    };

    if let Some(prompt) = &app.prompt {
        let label = match &prompt.reason {
            None => format!(
                "mute {} on {}: reason> ",
                shown(&prompt.requirement),
                shown(&prompt.scope_label())
            ),
            // A silence must end: Alertmanager's mutes default to a month.
            Some(_) if app.has_alertmanager(&prompt.site.env) => format!(
                "silence until (YYYY-MM-DD, empty for {} days)> ",
                crate::source::alertmanager::DEFAULT_SILENCE_DAYS
            ),
            Some(_) => "expires (YYYY-MM-DD, empty for never)> ".to_string(),
        };
        let mut spans = vec![
            Span::styled(label.clone(), theme.accent().add_modifier(Modifier::BOLD)),
            Span::styled(prompt.input.value().to_string(), theme.text()),
        ];
        if let Some(error) = &prompt.error {
            spans.push(Span::styled(
                format!("  {error}"),
                theme.state(crate::model::SiteState::Error),
            ));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), status);
        let cursor_x = status.x
            + unicode_width::UnicodeWidthStr::width(label.as_str()) as u16
            + prompt.input.visual_cursor() as u16;
        frame.set_cursor_position((cursor_x.min(status.x + status.width - 1), status.y));
    } else if let Some(message) = &app.message {
        frame.render_widget(
            Paragraph::new(Span::styled(message.clone(), theme.accent())),
            status,
        );
    } else if let Some(input) = &app.filter_input {
        let prompt = "/ ";
        let line = Line::from(vec![
            Span::styled(prompt, theme.accent().add_modifier(Modifier::BOLD)),
            Span::styled(input.value().to_string(), theme.text()),
        ]);
        frame.render_widget(Paragraph::new(line), status);
        let cursor_x = status.x + prompt.len() as u16 + input.visual_cursor() as u16;
        frame.set_cursor_position((cursor_x.min(status.x + status.width - 1), status.y));
    } else {
        let spans = match app.stack.last() {
            None => cursor_status(app, paint),
            Some(_) => vec![],
        };
        frame.render_widget(Paragraph::new(Line::from(spans.clone())), status);
        // The modes sit at the right end, over the tail of a long list of
        // failing requirements, so a filter that is on always shows.
        // The cursor's site and state come first: the modes give way,
        // the density first, then their tail.
        let essential = spans.iter().take(4).map(|s| s.width()).sum::<usize>() as u16;
        let room = status.width.saturating_sub(essential + 2) as usize;
        let mut shown_modes = modes(app, true);
        if unicode_width::UnicodeWidthStr::width(shown_modes.as_str()) + 2 > room {
            shown_modes = modes(app, false);
        }
        if !shown_modes.is_empty() && room > 4 {
            let modes = truncate(
                &shown_modes,
                room.saturating_sub(2),
                paint.glyphs.ellipsis(),
            );
            let text = format!(" {modes} ");
            let width =
                (unicode_width::UnicodeWidthStr::width(text.as_str()) as u16).min(status.width);
            let at = Rect {
                x: status.x + status.width - width,
                width,
                ..status
            };
            frame.render_widget(Paragraph::new(Span::styled(text, theme.accent())), at);
        }
    }

    let scope = app.scope();
    let mut spans = Vec::new();
    for b in BINDINGS.iter().filter(|b| {
        b.scope == scope
            || (b.scope == Scope::Global && !matches!(scope, Scope::FilterInput | Scope::Prompt))
    }) {
        let Some(label) = b.in_footer else { continue };
        if !spans.is_empty() {
            spans.push(Span::raw("  "));
        }
        let key = b.keys.first().map(|k| k.label()).unwrap_or_default();
        spans.push(Span::styled(
            key,
            theme.accent().add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(format!(" {label}"), theme.muted()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), keys);
}

/// The site under the cursor: where it is, its state, what fails.
fn cursor_status(app: &App, paint: Paint<'_>) -> Vec<Span<'static>> {
    let theme = paint.theme;
    let Some(site) = app.cursor_site() else {
        return Vec::new();
    };
    let Some(env) = app.envs.get(site.env) else {
        return Vec::new();
    };
    let Some(summary) = env.fleet.sites.get(site.index) else {
        return Vec::new();
    };
    let state = env.fleet.states[site.index];
    let sep = paint.glyphs.breadcrumb_separator();
    let mut spans = vec![
        Span::styled(
            format!("{}{sep}{}{sep}", env.fleet.name, summary.profile),
            theme.muted(),
        ),
        Span::styled(
            summary.name.clone(),
            theme.text().add_modifier(Modifier::BOLD),
        ),
        Span::raw("  "),
        Span::styled(
            format!(
                "{} {}",
                paint.glyphs.state(state),
                match state {
                    crate::model::SiteState::RunFailed => summary.run_failed_phrase(),
                    _ => state.label().to_string(),
                }
            ),
            theme.state(state),
        ),
    ];
    if !summary.failing.is_empty() {
        let failing: Vec<String> = summary.failing.iter().map(|(id, _)| shown(id)).collect();
        spans.push(Span::styled(
            format!("  ({})", failing.join(", ")),
            theme.muted(),
        ));
    }
    spans
}

fn modes(app: &App, with_density: bool) -> String {
    use crate::app::grid::Density;
    let mut parts = Vec::new();
    if app.show_muted() {
        parts.push("showing muted requirements".to_string());
    }
    if !app.grid.filter_text.is_empty() {
        parts.push(format!("filter \"{}\"", app.grid.filter_text));
    }
    if app.grid.severity != crate::model::SeverityFilter::All {
        parts.push(app.grid.severity.label().to_string());
    }
    if app.grid.sort != crate::model::SortOrder::Name {
        parts.push(format!("sort: {}", app.grid.sort.label()));
    }
    let layout = &app.grid.layout;
    if with_density && app.stack.is_empty() && layout.density == Density::Flow {
        // Says why names are cut, and that the grid chose it.
        if layout.cell_width < app.grid.cell_width {
            parts.push(format!(
                "profiles flowing, names cut to {}",
                layout.cell_width.saturating_sub(3)
            ));
        } else {
            parts.push("profiles flowing".to_string());
        }
    }
    if app.stack.is_empty() && app.grid.compact {
        let dense: Vec<&str> = layout
            .sections
            .iter()
            .filter(|s| s.dense)
            .filter_map(|s| app.envs.get(s.env).map(|e| e.fleet.name.as_str()))
            .collect();
        if dense.is_empty() {
            parts.push("compact".to_string());
        } else {
            parts.push(format!("compact, 2 sites per cell in {}", dense.join(", ")));
        }
    }
    if app.filter().is_active() && app.stack.is_empty() {
        parts.push(format!("{} shown", app.grid.layout.sites.len()));
    }
    parts.join(" · ")
}
