//! Every firing and pending alert of the fleet, grouped by alert name: its
//! sites, how long each has fired, and whether a silence holds it (and
//! whose). One problem on many sites reads as one long group.

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
    let firing = alerts.iter().filter(|(_, a)| a.is_loud()).count();
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "Alerts: {firing} firing, {} pending, {} silenced",
            alerts.iter().filter(|(_, a)| a.pending).count(),
            alerts
                .iter()
                .filter(|(_, a)| !a.pending && a.silenced_by.is_some())
                .count()
        ),
        theme.text().add_modifier(Modifier::BOLD),
    ))];
    if alerts.is_empty() {
        lines.push(Line::from(Span::styled(
            "No alert is firing or pending on any site.",
            theme.muted(),
        )));
    }
    // Rows: a heading before each alert name's first alert, then its
    // alerts; the cursor moves over alerts only.
    let mut rows: Vec<(Option<usize>, Line)> = Vec::new();
    let mut group: Option<&str> = None;
    for (i, (env, alert)) in alerts.iter().enumerate() {
        if group != Some(alert.name.as_str()) {
            group = Some(alert.name.as_str());
            let of_name: Vec<&Alert> = alerts
                .iter()
                .filter(|(_, a)| a.name == alert.name)
                .map(|(_, a)| *a)
                .collect();
            rows.push((
                None,
                Line::from(vec![
                    Span::styled(
                        format!(" {} {} ", paint.glyphs.alert_badge(), shown(&alert.name)),
                        theme.accent().add_modifier(Modifier::BOLD),
                    ),
                    Span::styled(
                        format!(
                            "{} site(s): {} firing, {} pending, {} silenced",
                            of_name.len(),
                            of_name.iter().filter(|a| a.is_loud()).count(),
                            of_name.iter().filter(|a| a.pending).count(),
                            of_name
                                .iter()
                                .filter(|a| !a.pending && a.silenced_by.is_some())
                                .count()
                        ),
                        theme.muted(),
                    ),
                ]),
            ));
        }
        let is_selected = i == selected;
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
            .get(*env)
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
        rows.push((Some(i), Line::from(spans)));
    }
    // Keep the cursor's row in sight.
    let visible = (area.height as usize).saturating_sub(lines.len());
    let at = rows
        .iter()
        .position(|(i, _)| *i == Some(selected))
        .unwrap_or(0);
    let top = at.saturating_sub(visible.saturating_sub(1));
    for (index, line) in rows.into_iter().skip(top).take(visible) {
        if let Some(i) = index {
            hits.record_row(
                Rect::new(area.x, area.y + lines.len() as u16, area.width, 1),
                i,
            );
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), area);
}
