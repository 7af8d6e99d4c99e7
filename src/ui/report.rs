//! One status report: its requirements, or what changed since the one
//! before.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::site::{draw_list, draw_requirement_text, first_line};
use super::{Paint, severity_state, truncate};
use crate::app::{App, ReportView};
use crate::model::report::{ReportDiff, diff};
use crate::model::text::{MAX_FIELD_CHARS, clean_multiline};
use crate::model::{Requirement, SiteState};

pub fn draw(frame: &mut Frame, area: Rect, _app: &App, view: &ReportView, paint: Paint<'_>) {
    let theme = paint.theme;
    let report = &view.report;
    let [head, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);
    let mut facts = Vec::new();
    if view.fresh {
        facts.push("made just now by the site's agent (r)".to_string());
    }
    facts.push(format!("format {}", report.format.label()));
    if let Some(d) = report.duration_seconds {
        facts.push(format!("took {d:.1}s"));
    }
    if let Some(code) = report.drush_exit_code {
        facts.push(format!("drush exit {code}"));
    }
    if let Some(v) = &report.drupal_version {
        facts.push(format!("Drupal {v}"));
    }
    let mut first = super::reports::summary_line(report, area.width as usize, false, paint);
    if view.show_diff {
        first.spans.push(Span::styled(
            match &view.previous {
                Some(p) => format!("   diff against {}", super::report_time(p, paint)),
                None => "   diff: no earlier report in the list".to_string(),
            },
            theme.accent().add_modifier(Modifier::BOLD),
        ));
    }
    let second = Line::from(Span::styled(facts.join(" · "), theme.muted()));
    frame.render_widget(Paragraph::new(vec![first, second]), head);

    let stderr = report
        .stderr_tail
        .as_deref()
        .filter(|s| !s.trim().is_empty());
    let (body, stderr_area) = match stderr {
        Some(_) => {
            let [b, s] = Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(body);
            (b, Some(s))
        }
        None => (body, None),
    };
    if let (Some(text), Some(area)) = (stderr, stderr_area) {
        let block = Block::default()
            .borders(Borders::TOP)
            .border_style(theme.border())
            .title(Span::styled(
                " drush stderr (tail) ",
                theme.state(SiteState::RunFailed),
            ));
        frame.render_widget(
            Paragraph::new(text.to_string())
                .style(theme.muted())
                .block(block)
                .wrap(Wrap { trim: false }),
            area,
        );
    }

    if report.requirements.is_empty() && !view.show_diff {
        let text = match &report.raw {
            Some(raw) => format!(
                "This line could not be read as a status report; here it is as text:\n\n{}",
                clean_multiline(raw, MAX_FIELD_CHARS)
            ),
            None => "The report lists no requirements.".to_string(),
        };
        frame.render_widget(
            Paragraph::new(text)
                .style(theme.muted())
                .wrap(Wrap { trim: false })
                .scroll((view.text_scroll, 0)),
            body,
        );
        return;
    }

    if view.show_diff {
        let Some(previous) = &view.previous else {
            frame.render_widget(
                Paragraph::new("There is no earlier report to compare with.").style(theme.muted()),
                body,
            );
            return;
        };
        let changes = diff(previous, report);
        draw_diff(frame, body, &changes, view, paint);
        return;
    }

    let list_height = (report.requirements.len() as u16 + 1)
        .min(body.height / 2)
        .max(3);
    let [list, text] =
        Layout::vertical([Constraint::Length(list_height), Constraint::Min(1)]).areas(body);
    draw_list(frame, list, &report.requirements, &[], view.selected, paint);
    if let Some(req) = report.requirements.get(view.selected) {
        draw_requirement_text(frame, text, req, view.text_scroll, paint);
    }
}

/// One row of the diff: what it is, and the requirement before and after.
enum Row<'a> {
    Added(&'a Requirement),
    Removed(&'a Requirement),
    Changed(&'a crate::model::RequirementChange),
}

fn draw_diff(
    frame: &mut Frame,
    area: Rect,
    changes: &ReportDiff,
    view: &ReportView,
    paint: Paint<'_>,
) {
    let theme = paint.theme;
    let rows: Vec<Row<'_>> = changes
        .changed
        .iter()
        .map(Row::Changed)
        .chain(changes.added.iter().map(Row::Added))
        .chain(changes.removed.iter().map(Row::Removed))
        .collect();
    if rows.is_empty() {
        frame.render_widget(
            Paragraph::new("No requirement changed since the report before.").style(theme.muted()),
            area,
        );
        return;
    }
    let list_height = (rows.len() as u16 + 1).min(area.height / 2).max(3);
    let [list, text] =
        Layout::vertical([Constraint::Length(list_height), Constraint::Min(1)]).areas(area);
    let width = list.width as usize;
    let visible = list.height as usize;
    let top = view.selected.saturating_sub(visible.saturating_sub(1));
    let glyph = |r: &Requirement| paint.glyphs.state(severity_state(r.severity));
    let mut lines = Vec::new();
    for (i, row) in rows.iter().enumerate().skip(top).take(visible) {
        let selected = i == view.selected;
        let base = if selected {
            theme.selection()
        } else {
            theme.text()
        };
        let line = match row {
            Row::Added(r) => Line::from(vec![
                Span::styled(
                    " + added    ",
                    if selected {
                        base
                    } else {
                        theme.state(severity_state(r.severity))
                    },
                ),
                Span::styled(
                    format!(
                        "{} {}",
                        glyph(r),
                        truncate(
                            r.display_title(),
                            width.saturating_sub(16),
                            paint.glyphs.ellipsis()
                        )
                    ),
                    base,
                ),
            ]),
            Row::Removed(r) => Line::from(vec![
                Span::styled(" - removed  ", if selected { base } else { theme.muted() }),
                Span::styled(
                    format!(
                        "{} {}",
                        glyph(r),
                        truncate(
                            r.display_title(),
                            width.saturating_sub(16),
                            paint.glyphs.ellipsis()
                        )
                    ),
                    base,
                ),
            ]),
            Row::Changed(c) => {
                let sev = |r: &Requirement| r.severity.map(|s| s.label()).unwrap_or("unknown");
                let what = if c.severity_changed {
                    format!(
                        "{} {} → {} {}",
                        glyph(&c.before),
                        sev(&c.before),
                        glyph(&c.after),
                        sev(&c.after)
                    )
                } else {
                    "value".to_string()
                };
                Line::from(vec![
                    Span::styled(
                        " ~ changed  ",
                        if selected {
                            base
                        } else {
                            theme.state(severity_state(c.after.severity))
                        },
                    ),
                    Span::styled(
                        truncate(
                            &format!("{}  {what}", c.after.display_title()),
                            width.saturating_sub(13),
                            paint.glyphs.ellipsis(),
                        ),
                        base,
                    ),
                ])
            }
        };
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), list);

    let Some(row) = rows.get(view.selected) else {
        return;
    };
    match row {
        Row::Added(r) | Row::Removed(r) => {
            draw_requirement_text(frame, text, r, view.text_scroll, paint)
        }
        Row::Changed(c) => {
            let block = Block::default()
                .borders(Borders::TOP)
                .border_style(theme.border())
                .title(Span::styled(
                    format!(" {} ({}) ", c.after.display_title(), c.id),
                    theme.accent(),
                ));
            let mut lines = Vec::new();
            for (label, r) in [("Before", &c.before), ("After", &c.after)] {
                let state = severity_state(r.severity);
                lines.push(Line::from(vec![
                    Span::styled(format!("{label}: "), theme.accent()),
                    Span::styled(
                        format!(
                            "{} {}",
                            paint.glyphs.state(state),
                            r.severity.map(|s| s.label()).unwrap_or("unknown")
                        ),
                        theme.state(state),
                    ),
                ]));
                lines.push(Line::from(Span::styled(
                    format!("  {}", first_line(&r.value)),
                    theme.text(),
                )));
            }
            frame.render_widget(
                Paragraph::new(lines)
                    .block(block)
                    .wrap(Wrap { trim: false })
                    .scroll((view.text_scroll, 0)),
                text,
            );
        }
    }
}
