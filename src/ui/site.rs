//! One site: what it runs, when it last ran, and its requirements worst
//! first, with the selected one's full text made readable.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::{Paint, clock, format_age, format_age_seconds, severity_state, truncate};
use crate::app::views::ManualRun;
use crate::app::{App, HitMap, SiteView, age};
use crate::model::drush_text::readable;
use crate::model::text::{MAX_FIELD_CHARS, clean_line};
use crate::model::{Requirement, SiteState};

/// First line of a drush value, without the footnote block.
pub fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim_end()
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    view: &SiteView,
    paint: Paint<'_>,
    hits: &mut HitMap,
) {
    let theme = paint.theme;
    let summary = app
        .envs
        .iter()
        .find(|e| e.fleet.name == view.key.env)
        .and_then(|e| e.fleet.find(&view.key.site).map(|i| &e.fleet.sites[i]));
    // The site's alerts come with its series, read while the view is open.
    let detail = view.detail.value();
    let alerts: Vec<&crate::model::Alert> = detail
        .map(|d| d.alerts.iter().collect())
        .unwrap_or_default();
    let alerts_error = detail
        .and_then(|d| d.alerts_error.as_deref())
        .filter(|_| alerts.is_empty());
    let alert_lines = (alerts.len() as u16).min(3) + u16::from(alerts_error.is_some());
    let pane = app.envs.iter().find(|e| e.fleet.name == view.key.env);
    let not_in_cluster = summary.is_some_and(|s| s.not_in_cluster);
    let report_lines = report_lines(app, view, summary, paint);
    let head_lines = 2 + u16::from(view.run.is_some()) + report_lines.len() as u16;
    let [head, alert_area, body] = Layout::vertical([
        Constraint::Length(head_lines),
        Constraint::Length(alert_lines),
        Constraint::Min(1),
    ])
    .areas(area);
    let body = if pane.is_some_and(|e| e.kubernetes) {
        let (rest, kube_area) = split_for_kube(body, app, view, paint);
        super::kube::draw(frame, kube_area, app, view, paint, hits);
        rest
    } else {
        body
    };
    let mut alert_text: Vec<Line> = alerts
        .iter()
        .take(alert_lines as usize)
        .map(|a| {
            Line::from(vec![
                Span::styled(
                    format!(" {} alert {} ", paint.glyphs.alert_badge(), a.name),
                    theme.state(SiteState::Error).add_modifier(Modifier::BOLD),
                ),
                Span::styled(
                    format!(
                        "{}{}{}",
                        a.severity
                            .as_deref()
                            .map(|s| format!("[{s}] "))
                            .unwrap_or_default(),
                        // Polls read labels, not annotations: the
                        // requirement says what the alert is about.
                        a.summary.clone().unwrap_or_else(|| a
                            .requirement
                            .as_deref()
                            .map(|r| format!("requirement {r}"))
                            .unwrap_or_default()),
                        a.active_since_unix()
                            .map(|t| format!(
                                " · since {} ({} ago)",
                                clock(t, paint),
                                format_age_seconds(super::unix(app.now) - t)
                            ))
                            .unwrap_or_default()
                    ) + &alert_status(a),
                    theme.text(),
                ),
            ])
        })
        .collect();
    if let Some(error) = alerts_error {
        alert_text.push(Line::from(Span::styled(
            format!(" alerts unavailable: {}", crate::model::text::shown(error)),
            theme.muted(),
        )));
    }
    frame.render_widget(Paragraph::new(alert_text), alert_area);

    let state = app.site_state_by_key(&view.key);
    let detail = view.shown();
    let mut first = Vec::new();
    if let Some(state) = state {
        first.push(Span::styled(
            format!("{} {}", paint.glyphs.state(state), state.label()),
            theme.state(state).add_modifier(Modifier::BOLD),
        ));
    }
    if not_in_cluster {
        first.push(Span::styled(
            format!(
                " · {} no namespace in the cluster",
                paint.glyphs.not_in_cluster_badge()
            ),
            theme.state(SiteState::Warning).add_modifier(Modifier::BOLD),
        ));
    }
    if let Some(info) = detail.and_then(|d| d.info.as_ref()) {
        // An agent that could not read a version exports it empty.
        let versions: String = [
            ("Drupal", &info.drupal_version),
            ("PHP", &info.php_version),
            ("profile", &info.profile_version),
            ("drush", &info.drush_version),
        ]
        .iter()
        .filter(|(_, version)| !version.is_empty())
        .map(|(what, version)| format!(" · {what} {version}"))
        .collect();
        first.push(Span::styled(versions, theme.text()));
    }
    let mut second = Vec::new();
    match &view.detail.data {
        Some((detail, at)) => {
            let s = &detail.summary;
            let mut facts = Vec::new();
            if let Some(last) = s.last_run {
                let now = super::unix(app.now);
                facts.push(format!(
                    "last run {} ({} ago)",
                    clock(last, paint),
                    format_age_seconds(now - last)
                ));
            }
            if let Some(d) = detail.run_duration {
                facts.push(format!("took {d:.1}s"));
            }
            second.push(Span::styled(facts.join(" · "), theme.muted()));
            match s.run_success {
                Some(true) => second.push(Span::styled(" · run ok", theme.muted())),
                Some(false) => {
                    // Why, from the grid's failure metric: the one place
                    // that knows it.
                    let why = summary
                        .and_then(|s| s.run_failure.as_ref())
                        .map(|r| format!(": {}", r.summary()))
                        .unwrap_or_default();
                    second.push(Span::styled(
                        format!(" · run failed{why}"),
                        theme
                            .state(SiteState::RunFailed)
                            .add_modifier(Modifier::BOLD),
                    ));
                    // What the requirements below are worth: as old as
                    // the last run that worked.
                    let now = super::unix(app.now);
                    let good = match detail.last_success {
                        Some(t) if t > 0.0 => {
                            format!(" · last good report {} ago", format_age_seconds(now - t))
                        }
                        Some(_) => " · no good report yet".to_string(),
                        None => String::new(),
                    };
                    second.push(Span::styled(good, theme.state(SiteState::RunFailed)));
                }
                None => {}
            }
            second.push(Span::styled(
                format!(" · fetched {} ago", format_age(age(app.now, *at))),
                theme.muted(),
            ));
        }
        None if view.detail.error.is_none() => second.push(Span::styled("loading…", theme.muted())),
        None => {}
    }
    if let Some((error, at)) = &view.detail.error {
        let stale = if view.detail.data.is_some() {
            "STALE · "
        } else {
            ""
        };
        second.push(Span::styled(
            format!(
                "  {stale}error {} ago: {error}",
                format_age(age(app.now, *at))
            ),
            theme.state(SiteState::Error),
        ));
    }
    let mut head_text = vec![Line::from(first), Line::from(second)];
    head_text.extend(report_lines);
    if let Some(run) = &view.run {
        head_text.push(run_line(run, app, paint));
    }
    frame.render_widget(Paragraph::new(head_text), head);

    let Some(detail) = view.shown() else {
        return;
    };
    if detail.requirements.is_empty() {
        frame.render_widget(
            Paragraph::new("This site reports no requirements (no data).").style(theme.muted()),
            body,
        );
        return;
    }
    let list_height = (detail.requirements.len() as u16 + 1)
        .min(body.height / 2)
        .max(3);
    let [list, text] =
        Layout::vertical([Constraint::Length(list_height), Constraint::Min(1)]).areas(body);
    let muted: Vec<Option<String>> = detail
        .requirements
        .iter()
        .map(|r| {
            app.mute_for(&view.key, &r.label)
                .map(|rule| rule.describe())
        })
        .collect();
    draw_list(
        frame,
        list,
        &detail.requirements,
        &muted,
        view.selected,
        paint,
    );
    if let Some(req) = detail.requirements.get(view.selected) {
        let note_text = muted.get(view.selected).cloned().flatten().map(|why| {
            format!(
                " muted: {why}{}",
                if app.show_muted() {
                    ""
                } else {
                    " · M shows it as it is"
                }
            )
        });
        // The reason is the operator's own words: all of it is shown,
        // wrapped, up to three lines.
        let note_lines = note_text
            .as_deref()
            .map(|t| {
                let width = unicode_width::UnicodeWidthStr::width(t) as u16;
                width.div_ceil(text.width.max(1)).clamp(1, 3)
            })
            .unwrap_or(0);
        let [note, rest] =
            Layout::vertical([Constraint::Length(note_lines), Constraint::Min(1)]).areas(text);
        if let Some(line) = note_text {
            frame.render_widget(
                Paragraph::new(Span::styled(
                    line,
                    theme.muted().add_modifier(Modifier::ITALIC),
                ))
                .wrap(Wrap { trim: false }),
                note,
            );
        }
        draw_requirement_text(frame, rest, req, view.text_scroll, paint);
    }
}

/// A report this much older than the last run is from an earlier run: the
/// agent stamps its Loki line and `last_run_timestamp_seconds` alike, with
/// the run's start, so only the float's rounding lies between the two.
const REPORT_OLDER_SLACK_SECONDS: f64 = 1.0;

/// Where the requirement texts come from, in the site's environment with
/// a Loki: the report's age (marked when it is older than the last run),
/// or plainly why there is none; and, when the latest run failed, the
/// first line of its stderr. Nothing for an environment without reports.
fn report_lines(
    app: &App,
    view: &SiteView,
    summary: Option<&crate::model::SiteSummary>,
    paint: Paint<'_>,
) -> Vec<Line<'static>> {
    let theme = paint.theme;
    let has_reports = app
        .envs
        .iter()
        .any(|e| e.fleet.name == view.key.env && e.reports);
    if !has_reports {
        return vec![Line::from(Span::styled(
            format!(
                "no Loki configured for {}: titles, values and descriptions are only in its reports",
                view.key.env
            ),
            theme.muted(),
        ))];
    }
    let now = super::unix(app.now);
    let mut lines = Vec::new();
    match (view.reports.value(), &view.reports.error) {
        (Some(reports), error) => {
            let mut spans = Vec::new();
            match view.texts_report() {
                Some(report) => {
                    let at = report.time_ns as f64 / 1e9;
                    spans.push(Span::styled(
                        format!(
                            "texts from its report of {} ({} ago)",
                            clock(at, paint),
                            format_age_seconds(now - at)
                        ),
                        theme.muted(),
                    ));
                    if summary
                        .and_then(|s| s.last_run)
                        .is_some_and(|run| at < run - REPORT_OLDER_SLACK_SECONDS)
                    {
                        spans.push(Span::styled(
                            " · older than the last run",
                            theme.state(SiteState::Stale).add_modifier(Modifier::BOLD),
                        ));
                    }
                }
                None if reports.reports.is_empty() => spans.push(Span::styled(
                    "no report in Loki: requirement ids only",
                    theme.state(SiteState::Stale),
                )),
                None => spans.push(Span::styled(
                    "no report with requirements in Loki: requirement ids only",
                    theme.state(SiteState::Stale),
                )),
            }
            if let Some((e, at)) = error {
                spans.push(Span::styled(
                    format!(
                        " · STALE, reports unreadable {} ago: {}",
                        format_age(age(app.now, *at)),
                        clean_line(e, MAX_FIELD_CHARS)
                    ),
                    theme.state(SiteState::Error),
                ));
            }
            lines.push(Line::from(spans));
            // The newest report, when its run failed: what drush said.
            if let Some(latest) = reports.reports.first()
                && (latest.run_failure.is_some() || latest.drush_exit_code.is_some_and(|c| c != 0))
                && let Some(stderr) = crate::model::site::first_stderr_line(latest)
            {
                lines.push(Line::from(Span::styled(
                    format!("stderr: {stderr}"),
                    theme.state(SiteState::RunFailed),
                )));
            }
        }
        (None, Some((error, _))) => lines.push(Line::from(Span::styled(
            format!(
                "no report can be read: {}",
                clean_line(error, MAX_FIELD_CHARS)
            ),
            theme.state(SiteState::Stale),
        ))),
        (None, None) => lines.push(Line::from(Span::styled(
            "reading its latest report…",
            theme.muted(),
        ))),
    }
    lines
}

/// Room for the Kubernetes pane: a column on the right when the terminal is
/// wide, else the lower part, no more than it needs and never more than
/// three fifths.
fn split_for_kube(area: Rect, app: &App, view: &SiteView, paint: Paint<'_>) -> (Rect, Rect) {
    if area.width >= 140 {
        let [rest, pane] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .spacing(1)
                .areas(area);
        return (rest, pane);
    }
    // Up to three fifths: on a small terminal why the pods fail matters
    // more than the ok requirements the list would show instead.
    let height =
        super::kube::wanted_height(app, &view.kube, area.width, area.height * 3 / 5, paint);
    let [rest, pane] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(height)]).areas(area);
    (rest, pane)
}

/// The requirement table: glyph, title, value's first line; the selected
/// row kept in sight. `muted` says, per requirement, whether a mute rule
/// applies (empty when nothing is muted).
/// What an alert's line adds when it is not simply firing.
fn alert_status(alert: &crate::model::Alert) -> String {
    let mut said = String::new();
    if alert.pending {
        said.push_str(" · pending");
    }
    if let Some(by) = &alert.silenced_by {
        said.push_str(&format!(" · silenced by {by}"));
    }
    said
}

/// The site view's `r` as it goes: running (and for how long), or why
/// it could not run.
fn run_line(run: &ManualRun, app: &App, paint: Paint<'_>) -> Line<'static> {
    let theme = paint.theme;
    match run {
        ManualRun::Running { since } => Line::from(Span::styled(
            format!(
                "running… the status report, on the site's agent ({} so far)",
                format_age(age(app.now, *since))
            ),
            theme.accent().add_modifier(Modifier::BOLD),
        )),
        ManualRun::Failed { error, at } => Line::from(Span::styled(
            format!(
                "run now failed {} ago: {}",
                format_age(age(app.now, *at)),
                clean_line(error, MAX_FIELD_CHARS)
            ),
            theme.state(SiteState::Error),
        )),
    }
}

pub fn draw_list(
    frame: &mut Frame,
    area: Rect,
    reqs: &[Requirement],
    muted: &[Option<String>],
    selected: usize,
    paint: Paint<'_>,
) {
    let theme = paint.theme;
    let rows = area.height as usize;
    let top = selected.saturating_sub(rows.saturating_sub(1));
    let title_width = reqs
        .iter()
        .map(|r| unicode_width::UnicodeWidthStr::width(r.display_title()))
        .max()
        .unwrap_or(10)
        .clamp(8, 36)
        .min((area.width as usize).saturating_sub(8) / 2);
    let mut lines = Vec::new();
    for (i, req) in reqs.iter().enumerate().skip(top).take(rows) {
        let state = severity_state(req.severity);
        let is_selected = i == selected;
        let title = truncate(req.display_title(), title_width, paint.glyphs.ellipsis());
        let value_room = (area.width as usize).saturating_sub(title_width + 6);
        let value = truncate(first_line(&req.value), value_room, paint.glyphs.ellipsis());
        let base = if is_selected {
            theme.selection()
        } else {
            theme.text()
        };
        let pad = title_width.saturating_sub(unicode_width::UnicodeWidthStr::width(title.as_str()));
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} ", paint.glyphs.state(state)),
                if is_selected {
                    theme.selection()
                } else {
                    theme.state(state)
                },
            ),
            Span::styled(format!("{title}{}  ", " ".repeat(pad)), base),
            Span::styled(value, if is_selected { base } else { theme.muted() }),
            Span::styled(
                if matches!(muted.get(i), Some(Some(_))) {
                    "  [muted]"
                } else {
                    ""
                },
                theme.muted().add_modifier(Modifier::ITALIC),
            ),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// A requirement's value and description as readable paragraphs, its
/// links as a numbered list, wrapped and scrollable.
pub fn draw_requirement_text(
    frame: &mut Frame,
    area: Rect,
    req: &Requirement,
    scroll: u16,
    paint: Paint<'_>,
) {
    let theme = paint.theme;
    let state = severity_state(req.severity);
    let mut title = vec![
        Span::styled(
            format!(" {} ", paint.glyphs.state(state)),
            theme.state(state),
        ),
        Span::styled(
            format!("{} ", req.display_title()),
            theme.text().add_modifier(Modifier::BOLD),
        ),
    ];
    // Without a title (no report) the id is the heading already; saying it
    // twice (`file system (file system)`) reads as two names.
    if req.display_title() != req.id {
        title.push(Span::styled(format!("({}) ", req.id), theme.muted()));
    }
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.border())
        .title(Line::from(title));
    let mut lines = Vec::new();
    let mut links = Vec::new();
    for (label, text) in [("Value", &req.value), ("Description", &req.description)] {
        if text.trim().is_empty() {
            continue;
        }
        let r = readable(text);
        lines.push(Line::from(Span::styled(label, theme.accent())));
        for p in r.paragraphs {
            lines.push(Line::from(Span::styled(p, theme.text())));
        }
        lines.push(Line::default());
        links.extend(r.links);
    }
    if !links.is_empty() {
        lines.push(Line::from(Span::styled("Links", theme.accent())));
        for (n, url) in links {
            lines.push(Line::from(vec![
                Span::styled(format!("[{n}] "), theme.muted()),
                Span::styled(url, theme.text()),
            ]));
        }
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "(no value or description)",
            theme.muted(),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}
