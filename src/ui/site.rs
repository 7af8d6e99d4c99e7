//! One site: its state, its last run, and its requirements worst first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::{Paint, format_age, truncate};
use crate::app::{App, SiteView, age};
use crate::model::{Severity, SiteState};

fn severity_state(severity: Option<Severity>) -> SiteState {
    match severity {
        Some(Severity::Error) => SiteState::Error,
        Some(Severity::Warning) => SiteState::Warning,
        Some(Severity::Ok) => SiteState::Ok,
        Some(Severity::Info) => SiteState::Info,
        None => SiteState::NoData,
    }
}

/// First line of a drush value, without the footnote block.
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim_end()
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &SiteView, paint: Paint<'_>) {
    let theme = paint.theme;
    let [head, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);

    let sep = paint.glyphs.breadcrumb_separator();
    let site_ref = app
        .envs
        .iter()
        .position(|e| e.fleet.name == view.key.env)
        .and_then(|env| {
            let index = app.envs[env].fleet.find(&view.key.site)?;
            Some((env, index))
        });
    let mut title = vec![Span::styled(view.key.env.clone(), theme.muted())];
    if let Some((env, index)) = site_ref {
        let summary = &app.envs[env].fleet.sites[index];
        let state = app.envs[env].fleet.states[index];
        title.push(Span::styled(
            format!("{sep}{}{sep}", summary.profile),
            theme.muted(),
        ));
        title.push(Span::styled(
            view.key.site.clone(),
            theme.text().add_modifier(Modifier::BOLD),
        ));
        title.push(Span::styled(
            format!("  {} {}", paint.glyphs.state(state), state.label()),
            theme.state(state),
        ));
    } else {
        title.push(Span::styled(
            format!("{sep}{}", view.key.site),
            theme.text(),
        ));
    }

    let mut facts = Vec::new();
    match &view.detail {
        Some((detail, at)) => {
            let s = &detail.summary;
            if let Some(last) = s.last_run {
                let now = app
                    .now
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(last);
                facts.push(format!(
                    "last run {} ago",
                    format_age(std::time::Duration::from_secs_f64((now - last).max(0.0)))
                ));
            }
            match s.run_success {
                Some(true) => facts.push("run ok".into()),
                Some(false) => facts.push("last run FAILED".into()),
                None => {}
            }
            if let Some(d) = detail.run_duration {
                facts.push(format!("took {d:.1}s"));
            }
            facts.push(format!("fetched {} ago", format_age(age(app.now, *at))));
        }
        None if view.error.is_none() => facts.push("loading…".into()),
        None => {}
    }
    let mut fact_spans = vec![Span::styled(facts.join(" · "), theme.muted())];
    if let Some((error, at)) = &view.error {
        fact_spans.push(Span::styled(
            format!("  error {} ago: {error}", format_age(age(app.now, *at))),
            theme.state(SiteState::Error),
        ));
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(title), Line::from(fact_spans)]),
        head,
    );

    let Some((detail, _)) = &view.detail else {
        return;
    };
    if detail.requirements.is_empty() {
        frame.render_widget(
            Paragraph::new("This site reports no requirements (no data).").style(theme.muted()),
            body,
        );
        return;
    }
    let detail_height = (body.height / 3).clamp(3, 12);
    let [list, description] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(detail_height)]).areas(body);

    let rows = list.height as usize;
    let top = view.selected.saturating_sub(rows.saturating_sub(1));
    let title_width = detail
        .requirements
        .iter()
        .map(|r| r.display_title().chars().count())
        .max()
        .unwrap_or(10)
        .min(36);
    let mut lines = Vec::new();
    for (i, req) in detail.requirements.iter().enumerate().skip(top).take(rows) {
        let state = severity_state(req.severity);
        let selected = i == view.selected;
        let title = truncate(req.display_title(), title_width, paint.glyphs.ellipsis());
        let value_room = (list.width as usize).saturating_sub(title_width + 6);
        let value = truncate(first_line(&req.value), value_room, paint.glyphs.ellipsis());
        let base = if selected {
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
            Span::styled(format!("{title:<title_width$}  "), base),
            Span::styled(value, if selected { base } else { theme.muted() }),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), list);

    if let Some(req) = detail.requirements.get(view.selected) {
        let block = Block::default()
            .borders(Borders::TOP)
            .border_style(theme.border())
            .title(Span::styled(format!(" {} ", req.id), theme.accent()));
        let mut text = Vec::new();
        if !req.value.is_empty() {
            text.push(Line::from(Span::styled(
                req.value.trim_end().to_string(),
                theme.text(),
            )));
        }
        if !req.description.is_empty() {
            for l in req.description.trim_end().lines() {
                text.push(Line::from(Span::styled(l.to_string(), theme.muted())));
            }
        }
        frame.render_widget(
            Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
            description,
        );
    }
}
