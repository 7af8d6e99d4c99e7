//! One requirement of one site over time, and who else fails it.

use crate::model::text::shown;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{Paint, clock, format_age, severity_state, truncate};
use crate::app::{App, RequirementView, age};
use crate::model::Window;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &RequirementView, paint: Paint<'_>) {
    let theme = paint.theme;
    let [head, band, axis, changes_area, others_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Length(6),
        Constraint::Min(3),
    ])
    .areas(area);

    let mut windows = vec![Span::styled("window ", theme.muted())];
    for (i, w) in Window::ALL.iter().enumerate() {
        let style = if *w == view.window {
            theme.selection()
        } else {
            theme.muted()
        };
        windows.push(Span::styled(format!(" {} {} ", i + 1, w.label()), style));
    }
    // The breadcrumb names the requirement by its title; two requirements
    // may share one, so the heading also gives the id.
    let mut status = vec![Span::styled(
        format!("{} ", view.title),
        theme.text().add_modifier(Modifier::BOLD),
    )];
    if view.title != view.requirement {
        status.push(Span::styled(
            format!("({}) ", shown(&view.requirement)),
            theme.muted(),
        ));
    }
    match (&view.history.data, &view.history.error) {
        (_, Some((e, at))) => status.push(Span::styled(
            format!(
                "{}error {} ago: {e}",
                if view.history.data.is_some() {
                    "STALE · "
                } else {
                    ""
                },
                format_age(age(app.now, *at))
            ),
            theme.state(crate::model::SiteState::Error),
        )),
        (Some((_, at)), None) => status.push(Span::styled(
            format!("fetched {} ago", format_age(age(app.now, *at))),
            theme.muted(),
        )),
        (None, None) => status.push(Span::styled("loading…", theme.muted())),
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(status), Line::from(windows)]),
        head,
    );

    if let Some(history) = view.history.value() {
        let width = band.width as usize;
        let columns = history.columns(width);
        let buf = frame.buffer_mut();
        for (x, severity) in columns.iter().enumerate() {
            let (symbol, style) = match severity {
                Some(sev) => {
                    let state = severity_state(Some(*sev));
                    let glyph = if paint.glyphs.ascii {
                        paint.glyphs.state(state).to_string()
                    } else {
                        "█".to_string()
                    };
                    (glyph, theme.state(state))
                }
                None => (
                    if paint.glyphs.ascii {
                        ".".to_string()
                    } else {
                        "·".to_string()
                    },
                    theme.muted(),
                ),
            };
            for dy in 0..band.height {
                // The upper row carries colour; the lower row repeats the
                // state's glyph so the band reads without colour too.
                let cell = &mut buf[(band.x + x as u16, band.y + dy)];
                if dy == 0 {
                    cell.set_symbol(&symbol).set_style(style);
                } else {
                    let glyph = severity.map(|s| paint.glyphs.state(severity_state(Some(s))));
                    let mut b = [0u8; 4];
                    cell.set_symbol(glyph.map(|g| &*g.encode_utf8(&mut b)).unwrap_or(" "))
                        .set_style(style);
                }
            }
        }
        // Past a day, the time of day alone would read the same at both ends.
        let label = |t: f64| {
            if view.window.seconds() >= 86_400.0 {
                super::show_time(t.floor(), crate::model::TimeFormat::DateTime, paint)
            } else {
                clock(t, paint)
            }
        };
        let left = label(history.start);
        let right = format!("{} (now)", label(history.end()));
        let pad = (axis.width as usize).saturating_sub(left.len() + right.len());
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(left, theme.muted()),
                Span::raw(" ".repeat(pad)),
                Span::styled(right, theme.muted()),
            ])),
            axis,
        );
        let changes = history.changes();
        let mut lines = vec![Line::from(Span::styled(
            format!(
                "Changes in the last {} (newest first, {})",
                view.window.label(),
                super::zone_name(app, paint)
            ),
            theme.accent(),
        ))];
        if changes.is_empty() {
            let steady = match history.worst() {
                Some(sev) => format!("steady: {sev} the whole window"),
                None => {
                    "absent the whole window (fine, for requirements that exist only while failing)"
                        .to_string()
                }
            };
            lines.push(Line::from(Span::styled(steady, theme.muted())));
        }
        for change in changes
            .iter()
            .rev()
            .take(changes_area.height.saturating_sub(1) as usize)
        {
            let name = |s: Option<crate::model::Severity>| s.map(|s| s.label()).unwrap_or("absent");
            let to_state = severity_state(change.to);
            lines.push(Line::from(vec![
                Span::styled(format!("{}  ", clock(change.at, paint)), theme.muted()),
                Span::styled(format!("{} → ", name(change.from)), theme.text()),
                Span::styled(
                    format!("{} {}", paint.glyphs.state(to_state), name(change.to)),
                    if change.to.is_some() {
                        theme.state(to_state)
                    } else {
                        theme.muted()
                    },
                ),
            ]));
        }
        frame.render_widget(Paragraph::new(lines), changes_area);
    }

    let others = app.others_failing(&view.site.env, &view.requirement, &view.site.site);
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.border())
        .title(Span::styled(
            format!(
                " Other sites in {} failing {} ({}) ",
                view.site.env,
                shown(&view.requirement),
                others.len()
            ),
            theme.accent(),
        ));
    let inner = block.inner(others_area);
    frame.render_widget(block, others_area);
    if others.is_empty() {
        let none = if failing_here(app, view) {
            "None: this site is the only one.".to_string()
        } else {
            format!("None: no site in {} fails it.", view.site.env)
        };
        frame.render_widget(Paragraph::new(none).style(theme.muted()), inner);
        return;
    }
    let rows = inner.height as usize;
    let top = view.selected.saturating_sub(rows.saturating_sub(1));
    let mut lines = Vec::new();
    for (i, site) in others.iter().enumerate().skip(top).take(rows) {
        let env = &app.envs[site.env];
        let summary = &env.fleet.sites[site.index];
        let severity = summary
            .failing
            .iter()
            .find(|(id, _)| *id == view.requirement)
            .map(|(_, s)| *s);
        let state = severity_state(severity);
        let selected = i == view.selected;
        let style = if selected {
            theme.selection()
        } else {
            theme.text()
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} ", paint.glyphs.state(state)),
                if selected {
                    theme.selection()
                } else {
                    theme.state(state)
                },
            ),
            Span::styled(truncate(&summary.name, 40, paint.glyphs.ellipsis()), style),
            Span::styled(
                format!("  {}", summary.profile),
                if selected { style } else { theme.muted() },
            ),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).style(Style::new()), inner);
}

/// Whether the requirement fails on the viewed site itself, as the grid
/// counts it (muted failures included, as in the list of other sites).
fn failing_here(app: &App, view: &RequirementView) -> bool {
    app.envs
        .iter()
        .find(|e| e.fleet.name == view.site.env)
        .and_then(|e| {
            let index = e.fleet.find(&view.site.site)?;
            e.fleet.sites.get(index)
        })
        .is_some_and(|s| s.failing.iter().any(|(id, _)| *id == view.requirement))
}
