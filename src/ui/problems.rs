//! Every site that is not OK, one line each, worst first: where it is, how
//! long it has been so, and why (the failing requirements' titles, or
//! what "we do not know" means for it). Under the list, the selected
//! site's latest report in its own words. Answers "which prod sites fail,
//! and why" without opening them one by one.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::{Paint, format_age_seconds, truncate, unix};
use crate::app::{App, HitMap, ProblemsView};
use crate::model::text::shown;
use crate::model::{Counts, SiteRef, SiteState, SiteSummary};

/// The selected site's report takes this many lines under the list, when
/// the list keeps at least as many.
const WHY_LINES: u16 = 6;

/// How long the site has been in its state: since the transition into it,
/// or, when the log has none, at least since the dashboard's first poll
/// (`>12m`).
fn since(app: &App, site: SiteRef, state: SiteState) -> String {
    let pane = &app.envs[site.env];
    let summary = &pane.fleet.sites[site.index];
    let now = unix(app.now);
    let entered = app
        .transitions
        .iter()
        .find(|t| t.env == pane.fleet.name && t.site == summary.label)
        .filter(|t| t.to == state)
        .map(|t| t.time);
    match (entered, pane.first_fetched_at) {
        (Some(at), _) => format_age_seconds(now - at),
        (None, Some(first)) => format!(">{}", format_age_seconds(now - unix(first))),
        (None, None) => String::new(),
    }
}

/// The failing requirements by title where one is known, muted ones
/// already left out by the tracker.
fn failing_titles(app: &App, summary: &SiteSummary) -> String {
    summary
        .failing
        .iter()
        .map(|(id, _)| shown(app.titles.get(id).map(String::as_str).unwrap_or(id)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why the site is in its state, in one phrase.
pub fn reason(app: &App, site: SiteRef, state: SiteState) -> String {
    let summary = &app.envs[site.env].fleet.sites[site.index];
    let failing = failing_titles(app, summary);
    let last_good = |text: String| {
        if failing.is_empty() {
            text
        } else {
            format!("{text}; last known: {failing}")
        }
    };
    match state {
        SiteState::Error | SiteState::Warning => failing,
        SiteState::RunFailed => last_good(match summary.run_failure {
            Some(_) => summary.run_failed_phrase(),
            None => "its last status run failed".to_string(),
        }),
        SiteState::Stale => {
            let age = summary
                .last_run
                .map(|at| format_age_seconds(unix(app.now) - at))
                .unwrap_or_else(|| "long".to_string());
            last_good(format!("last run {age} ago"))
        }
        SiteState::TargetDown => {
            last_good("its status workload cannot be scraped (up = 0)".to_string())
        }
        SiteState::NoData if summary.not_in_cluster => {
            "no status series, and no namespace in the cluster".to_string()
        }
        SiteState::NoData => "no status series: is its status agent running?".to_string(),
        SiteState::Ok | SiteState::Info => String::new(),
    }
}

/// `Problems: 37 of 320 sites` and the count of each state, worst first.
fn heading(
    app: &App,
    view: &ProblemsView,
    rows: &[(SiteRef, SiteState)],
    paint: Paint<'_>,
) -> Line<'static> {
    let theme = paint.theme;
    let total: usize = match view.env {
        Some(e) => app.envs.get(e).map(|p| p.fleet.sites.len()).unwrap_or(0),
        None => app.envs.iter().map(|p| p.fleet.sites.len()).sum(),
    };
    let place = match view.env.and_then(|e| app.envs.get(e)) {
        Some(pane) => format!(" in {}", pane.fleet.name),
        None => String::new(),
    };
    let mut spans = vec![Span::styled(
        format!("Problems{place}: {} of {total} sites ", rows.len()),
        theme.text().add_modifier(Modifier::BOLD),
    )];
    let mut counts = Counts::default();
    for (_, state) in rows {
        counts.add(*state);
    }
    for (state, n) in counts.nonzero() {
        spans.push(Span::styled(
            format!(" {} {n} {}", paint.glyphs.state(state), state.label()),
            theme.state(state),
        ));
    }
    let filter = app.filter();
    if filter.is_active() {
        spans.push(Span::styled(
            format!("  filter: {}", shown(filter.text())),
            theme.muted(),
        ));
    }
    if rows.is_empty() {
        spans.push(Span::styled("  every site is OK", theme.muted()));
    }
    Line::from(spans)
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    view: &ProblemsView,
    paint: Paint<'_>,
    hits: &mut HitMap,
) {
    let theme = paint.theme;
    let rows = app.problem_rows(view.env);
    let selected = app.problems_cursor(view, &rows);
    let why = match rows.get(selected) {
        Some((site, _)) if area.height >= 2 * WHY_LINES + 2 => {
            why_lines(app, view, *site, area.width, paint)
        }
        _ => Vec::new(),
    };
    let list_height = area.height.saturating_sub(why.len() as u16);
    let mut lines = vec![heading(app, view, &rows, paint)];
    let visible = (list_height as usize).saturating_sub(1);
    let top = selected.saturating_sub(visible.saturating_sub(1));
    let shown_rows: Vec<(usize, SiteRef, SiteState)> = rows
        .iter()
        .enumerate()
        .skip(top)
        .take(visible)
        .map(|(i, (s, st))| (i, *s, *st))
        .collect();
    // Column widths from what is on screen, so a long name far below does
    // not push the reasons off a narrow terminal.
    let width_of = |f: &dyn Fn(SiteRef) -> String, cap: usize| {
        shown_rows
            .iter()
            .map(|(_, s, _)| f(*s).width())
            .max()
            .unwrap_or(0)
            .min(cap)
    };
    let env_name = |s: SiteRef| app.envs[s.env].fleet.name.clone();
    let profile = |s: SiteRef| app.envs[s.env].fleet.sites[s.index].profile.clone();
    let name = |s: SiteRef| app.envs[s.env].fleet.sites[s.index].name.clone();
    let (env_w, profile_w, name_w) = (
        width_of(&env_name, 8),
        width_of(&profile, 16),
        width_of(&name, 28),
    );
    let ellipsis = paint.glyphs.ellipsis();
    for (i, site, state) in shown_rows {
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
        let pane = &app.envs[site.env];
        let summary = &pane.fleet.sites[site.index];
        let cell = |text: String, width: usize| {
            let text = truncate(&shown(&text), width, ellipsis);
            let pad = width.saturating_sub(text.width());
            format!("{text}{} ", " ".repeat(pad))
        };
        let mut spans = vec![
            Span::styled(
                format!("{} ", paint.glyphs.state(state)),
                if is_selected {
                    base
                } else {
                    theme.state(state).add_modifier(Modifier::BOLD)
                },
            ),
            Span::styled(cell(env_name(site), env_w), base),
            Span::styled(cell(profile(site), profile_w), base),
            Span::styled(cell(name(site), name_w), base.add_modifier(Modifier::BOLD)),
            Span::styled(format!("{:>5}  ", since(app, site, state)), base),
        ];
        let firing = summary.alert != crate::model::AlertBadge::None;
        if firing {
            spans.push(Span::styled(
                format!("{} ", paint.glyphs.alert_badge()),
                if is_selected {
                    base
                } else {
                    theme.state(SiteState::Error)
                },
            ));
        }
        spans.push(Span::styled(
            reason(app, site, state),
            if is_selected { base } else { theme.muted() },
        ));
        lines.push(Line::from(spans));
    }
    let [list_area, why_area] = ratatui::layout::Layout::vertical([
        ratatui::layout::Constraint::Length(list_height),
        ratatui::layout::Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(lines), list_area);
    frame.render_widget(Paragraph::new(why), why_area);
}

/// The selected site's latest report: its failing requirements with
/// their values, or drush's exit code and stderr when the run failed; at
/// most [`WHY_LINES`] lines, a rule above them.
fn why_lines(
    app: &App,
    view: &ProblemsView,
    site: SiteRef,
    width: u16,
    paint: Paint<'_>,
) -> Vec<Line<'static>> {
    let theme = paint.theme;
    let summary = &app.envs[site.env].fleet.sites[site.index];
    let rule = paint.glyphs.rule().repeat(width as usize);
    let mut lines = vec![Line::from(Span::styled(rule, theme.muted()))];
    let ellipsis = paint.glyphs.ellipsis();
    let room = width as usize;
    match (view.why.value(), &view.why.error) {
        (Some(reports), _) => match reports.reports.first() {
            Some(report) => {
                let age = format_age_seconds(unix(app.now) - report.time_ns as f64 / 1e9);
                lines.push(Line::from(Span::styled(
                    format!("{}: its latest report, {age} ago", shown(&summary.name)),
                    theme.text().add_modifier(Modifier::BOLD),
                )));
                // A failed run: how (the report's own reason, else its exit
                // code) and the first line of stderr, where a PHP fatal
                // error says what broke.
                let how = match (&report.run_failure, report.drush_exit_code) {
                    (Some(failure), _) => Some(crate::model::run_failure::run_failed_phrase(Some(
                        &crate::model::RunFailureReason::Known(*failure),
                    ))),
                    (None, Some(code)) if code != 0 => Some(format!("drush exited {code}")),
                    _ => None,
                };
                if let Some(how) = how {
                    let said = match crate::model::site::first_stderr_line(report) {
                        Some(line) => format!("{how}: {line}"),
                        None => how,
                    };
                    lines.push(Line::from(Span::styled(
                        truncate(&said, room, ellipsis),
                        theme.state(SiteState::RunFailed),
                    )));
                }
                for req in report
                    .requirements
                    .iter()
                    .filter(|r| summary.failing.iter().any(|(id, _)| *id == r.id))
                {
                    let state = super::severity_state(req.severity);
                    let value = req.value.lines().next().unwrap_or("");
                    lines.push(Line::from(vec![
                        Span::styled(
                            format!("{} ", paint.glyphs.state(state)),
                            theme.state(state),
                        ),
                        Span::styled(
                            truncate(
                                &format!("{}: {value}", req.display_title()),
                                room.saturating_sub(2),
                                ellipsis,
                            ),
                            theme.text(),
                        ),
                    ]));
                }
            }
            None => lines.push(Line::from(Span::styled(
                format!("{}: no report in Loki", shown(&summary.name)),
                theme.muted(),
            ))),
        },
        (None, Some((error, _))) => lines.push(Line::from(Span::styled(
            truncate(
                &format!("{}: its latest report: {error}", shown(&summary.name)),
                room,
                ellipsis,
            ),
            theme.muted(),
        ))),
        (None, None) => lines.push(Line::from(Span::styled(
            format!("{}: reading its latest report…", shown(&summary.name)),
            theme.muted(),
        ))),
    }
    lines.truncate(WHY_LINES as usize);
    lines
}
