//! The fleet's firing and pending alerts, grouped by alert name: how many
//! of each, and the newest of each listed with its site, how long it has
//! been active, and whether a silence holds it (and whose). One problem on
//! many sites reads as one long group; in a storm of thousands the list
//! holds the newest few of each name per environment
//! ([`crate::model::ALERTS_PER_NAME`]) and the heading counts them all.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Paint, format_age_seconds, truncate};
use crate::app::{App, HitMap};
use crate::model::text::shown;
use crate::model::{Alert, SiteState};

/// How long the alert has been active, from its `activeAt`.
fn active_for(alert: &Alert, app: &App) -> String {
    let Some(since) = alert.active_since_unix() else {
        return String::new();
    };
    let now = super::unix(app.now);
    format_age_seconds(now - since.floor())
}

/// One alert name's listed alerts: where they start and end in the sorted
/// list, and how many of them are firing, pending and silenced.
struct Group {
    start: usize,
    end: usize,
    firing: usize,
    pending: usize,
    silenced: usize,
}

/// How many alerts of one name fire and wait in every environment read,
/// as the backends counted them: more than are listed, in a storm.
fn totals(app: &App, name: &str) -> (usize, usize) {
    app.alert_lists
        .values()
        .filter_map(|l| l.value())
        .flat_map(|l| l.groups.iter().filter(|g| g.name == name))
        .fold((0, 0), |(f, p), g| (f + g.firing, p + g.pending))
}

/// The groups of `alerts`, sorted by name ([`crate::model::fleet_alerts`]),
/// in one pass.
fn groups(alerts: &[(usize, &Alert)]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (i, (_, alert)) in alerts.iter().enumerate() {
        let same = groups
            .last()
            .is_some_and(|g| alerts[g.start].1.name == alert.name);
        if !same {
            groups.push(Group {
                start: i,
                end: i,
                firing: 0,
                pending: 0,
                silenced: 0,
            });
        }
        if let Some(g) = groups.last_mut() {
            g.end = i + 1;
            if alert.is_loud() {
                g.firing += 1;
            } else if alert.pending {
                g.pending += 1;
            } else if alert.silenced_by.is_some() {
                g.silenced += 1;
            }
        }
    }
    groups
}

/// A row of the view: an alert name's heading, or one alert.
#[derive(Clone, Copy)]
enum Row {
    Heading(usize),
    Alert(usize),
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    selected: usize,
    paint: Paint<'_>,
    hits: &mut HitMap,
) {
    let theme = paint.theme;
    let alerts = app.fleet_alerts();
    let groups = groups(&alerts);
    let (firing, pending) = app
        .alert_lists
        .values()
        .filter_map(|l| l.value())
        .flat_map(|l| &l.groups)
        .fold((0, 0), |(f, p), g| (f + g.firing, p + g.pending));
    // Who silenced which is known of the listed ones only: all of them
    // but in a storm, when the heading says so.
    let silenced = groups.iter().map(|g| g.silenced).sum::<usize>();
    let all_listed = alerts.len() >= firing + pending;
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "Alerts: {} firing, {pending} pending, {silenced} silenced{}",
            firing.saturating_sub(silenced),
            if all_listed {
                String::new()
            } else {
                let per_name = app
                    .alert_lists
                    .values()
                    .filter_map(|l| l.value())
                    .map(|l| l.per_name)
                    .max()
                    .unwrap_or(crate::model::ALERTS_PER_NAME);
                format!(" · listed: the {per_name} newest of each name per environment")
            }
        ),
        theme.text().add_modifier(Modifier::BOLD),
    ))];
    // What could not be read says so, with the age of what is shown.
    for env in &app.envs {
        let Some(loaded) = app.alert_lists.get(&env.fleet.name) else {
            continue;
        };
        if let Some((error, _)) = &loaded.error {
            let age = loaded
                .data
                .as_ref()
                .map(|(_, at)| {
                    format!(
                        "STALE, read {} ago",
                        format_age_seconds(crate::app::age(app.now, *at).as_secs_f64())
                    )
                })
                .unwrap_or_else(|| "none read".to_string());
            lines.push(Line::from(Span::styled(
                format!(" {}: {age}: {}", shown(&env.fleet.name), shown(error)),
                theme.state(SiteState::Error),
            )));
        }
    }
    let read = app.alert_lists.values().any(|l| l.data.is_some());
    if !read && lines.len() == 1 {
        lines.push(Line::from(Span::styled(
            "Reading the alerts…",
            theme.muted(),
        )));
    } else if alerts.is_empty() && firing + pending == 0 {
        lines.push(Line::from(Span::styled(
            "No alert is firing or pending on any site.",
            theme.muted(),
        )));
    }
    // Rows: a heading before each alert name's alerts; the cursor moves
    // over alerts only. In a storm there are thousands: only the rows in
    // sight become lines.
    let rows: Vec<Row> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| {
            std::iter::once(Row::Heading(g)).chain((group.start..group.end).map(Row::Alert))
        })
        .collect();
    let visible = (area.height as usize).saturating_sub(lines.len());
    let at = rows
        .iter()
        .position(|r| matches!(r, Row::Alert(i) if *i == selected))
        .unwrap_or(0);
    let top = at.saturating_sub(visible.saturating_sub(1));
    for row in rows.into_iter().skip(top).take(visible) {
        let line = match row {
            Row::Heading(g) => {
                let name = &alerts[groups[g].start].1.name;
                heading(&groups[g], name, totals(app, name), paint)
            }
            Row::Alert(i) => {
                hits.record_row(
                    Rect::new(area.x, area.y + lines.len() as u16, area.width, 1),
                    i,
                );
                let (env, alert) = alerts[i];
                alert_row(app, env, alert, i == selected, paint)
            }
        };
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// `⚑ DrupalRequirementError 12 site(s): 10 firing, 1 pending, 1
/// silenced`; when only the newest are listed, `⚑ DrupalRequirementError
/// 10093 alerts: 0 firing, 10093 pending; the 300 newest listed`.
fn heading<'a>(
    group: &Group,
    name: &str,
    (firing, pending): (usize, usize),
    paint: Paint<'_>,
) -> Line<'a> {
    let theme = paint.theme;
    let listed = group.end - group.start;
    let text = if firing + pending > listed {
        format!(
            "{} alerts: {firing} firing, {pending} pending; the {listed} newest listed",
            firing + pending
        )
    } else {
        format!(
            "{listed} site(s): {} firing, {} pending, {} silenced",
            group.firing, group.pending, group.silenced
        )
    };
    Line::from(vec![
        Span::styled(
            format!(" {} {} ", paint.glyphs.alert_badge(), shown(name)),
            theme.accent().add_modifier(Modifier::BOLD),
        ),
        Span::styled(text, theme.muted()),
    ])
}

/// One alert: its state, environment, site, requirement, who silenced it,
/// for how long, its severity and summary.
fn alert_row<'a>(
    app: &App,
    env: usize,
    alert: &Alert,
    is_selected: bool,
    paint: Paint<'_>,
) -> Line<'a> {
    let theme = paint.theme;
    let base = if is_selected {
        theme.selection()
    } else {
        theme.text()
    };
    let (status, tone) = if alert.pending {
        ("pending  ", SiteState::Warning)
    } else if alert.silenced_by.is_some() {
        ("silenced ", SiteState::Info)
    } else {
        ("firing   ", SiteState::Error)
    };
    let env_name = app
        .envs
        .get(env)
        .map(|e| e.fleet.name.as_str())
        .unwrap_or("");
    let mut spans = vec![
        Span::styled("    ", base),
        Span::styled(
            status,
            if is_selected {
                base
            } else {
                theme.state(tone).add_modifier(Modifier::BOLD)
            },
        ),
        Span::styled(format!("{:<6}", shown(env_name)), base),
        Span::styled(
            format!(
                " {:<24}",
                truncate(&shown(&alert.site), 24, paint.glyphs.ellipsis())
            ),
            base.add_modifier(Modifier::BOLD),
        ),
    ];
    if let Some(req) = &alert.requirement {
        spans.push(Span::styled(
            format!(
                " {:<24}",
                truncate(&shown(req), 24, paint.glyphs.ellipsis())
            ),
            base,
        ));
    }
    // Who holds it matters more than how long: first, for narrow
    // terminals.
    if let Some(by) = &alert.silenced_by {
        spans.push(Span::styled(
            format!(" by {}", shown(by)),
            if is_selected {
                base
            } else {
                theme.state(SiteState::Info)
            },
        ));
    }
    let since = active_for(alert, app);
    if !since.is_empty() {
        spans.push(Span::styled(format!(" for {since}"), base));
    }
    if let Some(severity) = &alert.severity {
        spans.push(Span::styled(format!(" [{}]", shown(severity)), base));
    }
    if let Some(summary) = &alert.summary {
        spans.push(Span::styled(format!("  {}", shown(summary)), theme.muted()));
    }
    Line::from(spans)
}
