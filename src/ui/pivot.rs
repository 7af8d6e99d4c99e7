//! Requirements ranked by how many sites fail them: one problem on many
//! sites, or many problems?

use crate::model::text::shown;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Paint, severity_state, truncate};
use crate::app::{App, HitMap};

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    selected: usize,
    paint: Paint<'_>,
    hits: &mut HitMap,
) {
    let theme = paint.theme;
    let rows = app.pivot();
    let mut lines = vec![Line::from(Span::styled(
        "Requirements at warning or worse, by failing sites per environment",
        theme.text().add_modifier(Modifier::BOLD),
    ))];
    if rows.is_empty() {
        lines.push(Line::from(Span::styled(
            "No requirement fails anywhere.",
            theme.muted(),
        )));
    }
    let id_width = rows
        .iter()
        .map(|r| unicode_width::UnicodeWidthStr::width(shown(&r.requirement).as_str()))
        .max()
        .unwrap_or(10)
        .min(34);
    let visible = (area.height as usize).saturating_sub(1);
    let top = selected.saturating_sub(visible.saturating_sub(1));
    for (i, row) in rows.iter().enumerate().skip(top).take(visible) {
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
        let state = severity_state(Some(row.worst));
        let id = truncate(&shown(&row.requirement), id_width, paint.glyphs.ellipsis());
        let pad = id_width.saturating_sub(unicode_width::UnicodeWidthStr::width(id.as_str()));
        let mut spans = vec![
            Span::styled(
                format!(" {} ", paint.glyphs.state(state)),
                if is_selected {
                    base
                } else {
                    theme.state(state)
                },
            ),
            Span::styled(format!("{id}{}  ", " ".repeat(pad)), base),
            Span::styled(
                format!("{:>5} ", row.total),
                base.add_modifier(Modifier::BOLD),
            ),
        ];
        for (env, n) in app.envs.iter().zip(&row.per_env) {
            spans.push(Span::styled(
                format!("  {} {n:<4}", env.fleet.name),
                if is_selected || *n > 0 {
                    base
                } else {
                    theme.muted()
                },
            ));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

#[allow(clippy::too_many_arguments)]
pub fn draw_sites(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    requirement: &str,
    selected: usize,
    paint: Paint<'_>,
    hits: &mut HitMap,
) {
    let theme = paint.theme;
    let sites = app.failing_sites(requirement);
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{} sites failing {}, worst first",
            sites.len(),
            shown(requirement)
        ),
        theme.text().add_modifier(Modifier::BOLD),
    ))];
    let visible = (area.height as usize).saturating_sub(1);
    let top = selected.saturating_sub(visible.saturating_sub(1));
    for (i, (site, severity)) in sites.iter().enumerate().skip(top).take(visible) {
        hits.record_row(
            Rect::new(area.x, area.y + lines.len() as u16, area.width, 1),
            i,
        );
        let env = &app.envs[site.env];
        let summary = &env.fleet.sites[site.index];
        let is_selected = i == selected;
        let base = if is_selected {
            theme.selection()
        } else {
            theme.text()
        };
        let state = severity_state(Some(*severity));
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} ", paint.glyphs.state(state)),
                if is_selected {
                    base
                } else {
                    theme.state(state)
                },
            ),
            Span::styled(format!("{:<6}", env.fleet.name), base),
            Span::styled(
                format!("{:<14}", summary.profile),
                if is_selected { base } else { theme.muted() },
            ),
            Span::styled(truncate(&summary.name, 40, paint.glyphs.ellipsis()), base),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
