//! A site's recent status reports, newest first.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Paint, format_age, severity_state, truncate};
use crate::app::{App, HitMap, ReportsView, age};
use crate::model::text::clean_line;
use crate::model::{Report, ReportFormat, SiteState};

/// "✖4 ▲1 ●12 ○6": a report's requirements by severity.
pub fn count_spans(report: &Report, paint: Paint<'_>) -> Vec<Span<'static>> {
    let counts = report.counts();
    let mut spans = Vec::new();
    for (severity, n) in counts.by_severity() {
        if n == 0 {
            continue;
        }
        let state = severity_state(Some(severity));
        spans.push(Span::styled(
            format!("{}{n} ", paint.glyphs.state(state)),
            paint.theme.state(state),
        ));
    }
    if counts.unknown > 0 {
        spans.push(Span::styled(
            format!(
                "{}{} ",
                paint.glyphs.state(SiteState::NoData),
                counts.unknown
            ),
            paint.theme.state(SiteState::NoData),
        ));
    }
    spans
}

pub fn summary_line(
    report: &Report,
    width: usize,
    selected: bool,
    paint: Paint<'_>,
) -> Line<'static> {
    let theme = paint.theme;
    let base = if selected {
        theme.selection()
    } else {
        theme.text()
    };
    let mut spans = vec![Span::styled(
        format!(" {}  ", super::report_time(report, paint)),
        base,
    )];
    match report.format {
        ReportFormat::Unparsed => {
            let raw = report.raw.as_deref().unwrap_or("");
            spans.push(Span::styled(
                format!("{} unparsed  ", paint.glyphs.state(SiteState::RunFailed)),
                theme.state(SiteState::RunFailed),
            ));
            let room = width.saturating_sub(40);
            spans.push(Span::styled(
                truncate(&clean_line(raw, 2000), room, paint.glyphs.ellipsis()),
                theme.muted(),
            ));
        }
        format => {
            let state = severity_state(report.worst());
            let worst = report.worst().map(|w| w.label()).unwrap_or("empty");
            spans.push(Span::styled(
                format!("{} {worst:<8} ", paint.glyphs.state(state)),
                if report.worst().is_some() {
                    theme.state(state)
                } else {
                    theme.muted()
                },
            ));
            spans.extend(count_spans(report, paint));
            spans.push(Span::styled(format!(" {}", format.label()), theme.muted()));
            if let Some(code) = report.drush_exit_code.filter(|c| *c != 0) {
                spans.push(Span::styled(
                    format!("  drush exit {code}"),
                    theme.state(SiteState::RunFailed),
                ));
            }
        }
    }
    Line::from(spans)
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    view: &ReportsView,
    paint: Paint<'_>,
    hits: &mut HitMap,
) {
    let theme = paint.theme;
    let mut lines = Vec::new();
    let mut status = vec![Span::styled(
        format!(
            "Recent status reports, newest first ({}) ",
            super::zone_name(app, paint)
        ),
        theme.text().add_modifier(Modifier::BOLD),
    )];
    if let Some((_, at)) = &view.reports.data {
        status.push(Span::styled(
            format!("· fetched {} ago ", format_age(age(app.now, *at))),
            theme.muted(),
        ));
    }
    if let Some((error, at)) = &view.reports.error {
        status.push(Span::styled(
            format!(
                "· {}error {} ago: {error}",
                if view.reports.data.is_some() {
                    "STALE · "
                } else {
                    ""
                },
                format_age(age(app.now, *at))
            ),
            theme.state(SiteState::Error),
        ));
    }
    lines.push(Line::from(status));
    match view.reports.value() {
        None if view.reports.error.is_none() => {
            lines.push(Line::from(Span::styled("loading…", theme.muted())));
        }
        None => {}
        Some(list) => {
            for notice in &list.notices {
                lines.push(Line::from(Span::styled(
                    format!("note: {notice}"),
                    theme.state(SiteState::Warning),
                )));
            }
            if list.reports.is_empty() {
                lines.push(Line::from(Span::styled(
                    "No reports in the window.",
                    theme.muted(),
                )));
            }
            let rows = (area.height as usize).saturating_sub(lines.len());
            let top = view.selected.saturating_sub(rows.saturating_sub(1));
            for (i, report) in list.reports.iter().enumerate().skip(top).take(rows) {
                hits.record_row(
                    Rect::new(area.x, area.y + lines.len() as u16, area.width, 1),
                    i,
                );
                lines.push(summary_line(
                    report,
                    area.width as usize,
                    i == view.selected,
                    paint,
                ));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
}
