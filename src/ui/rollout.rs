//! Rollout progress: how many of a profile's sites run each version in each
//! environment, and which are still on an older one or failing on the new.

use crate::model::text::shown;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Paint, format_age};
use crate::app::{App, age};
use crate::model::DetailKey;
use crate::model::SiteState;

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    profile: &str,
    scroll: u16,
    paint: Paint<'_>,
) {
    let theme = paint.theme;
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("Rollout of {profile}"),
            theme.text().add_modifier(Modifier::BOLD),
        ),
        Span::styled("  (← → other profiles)", theme.muted()),
    ])];
    for env in &app.envs {
        let key = DetailKey::Rollout {
            env: env.fleet.name.clone(),
            profile: profile.to_string(),
        };
        lines.push(Line::default());
        let mut head = vec![Span::styled(
            format!("{} ", env.fleet.name),
            theme.accent().add_modifier(Modifier::BOLD),
        )];
        let loaded = app.rollouts.get(&key);
        if let Some((error, at)) = loaded.and_then(|l| l.error.as_ref()) {
            head.push(Span::styled(
                format!("error {} ago: {error} ", format_age(age(app.now, *at))),
                theme.state(SiteState::Error),
            ));
        }
        let Some(rollout) = loaded.and_then(|l| l.value()) else {
            head.push(Span::styled("loading…", theme.muted()));
            lines.push(Line::from(head));
            continue;
        };
        if rollout.sites.is_empty() {
            head.push(Span::styled("no sites of this profile", theme.muted()));
            lines.push(Line::from(head));
            continue;
        }
        let newest = rollout.newest().unwrap_or("").to_string();
        let total = rollout.site_count().max(1);
        for (i, (version, count)) in rollout.versions.iter().enumerate() {
            if i > 0 {
                head.push(Span::styled(" · ", theme.muted()));
            }
            let share = count * 20 / total;
            head.push(Span::styled(
                format!("{version} {count} "),
                if *version == newest {
                    theme.state(SiteState::Ok)
                } else {
                    theme.state(SiteState::Warning)
                },
            ));
            head.push(Span::styled(
                if paint.glyphs.ascii {
                    "#".repeat(share.max(1))
                } else {
                    "█".repeat(share.max(1))
                },
                if *version == newest {
                    theme.state(SiteState::Ok)
                } else {
                    theme.state(SiteState::Warning)
                },
            ));
        }
        if rollout.is_settled() {
            head.push(Span::styled("  all on one version", theme.muted()));
        }
        lines.push(Line::from(head));
        // Which sites are behind, and which fail on the new version.
        let behind: Vec<String> = rollout
            .sites
            .iter()
            .filter(|(_, v)| *v != newest)
            .map(|(s, _)| shown(s))
            .collect();
        if !behind.is_empty() {
            lines.push(Line::from(vec![
                Span::styled(
                    "  still on an older version: ",
                    theme.state(SiteState::Warning),
                ),
                Span::styled(behind.join(", "), theme.text()),
            ]));
        }
        let failing_new: Vec<String> = rollout
            .sites
            .iter()
            .filter(|(_, v)| *v == newest)
            .filter_map(|(label, _)| {
                let i = env.fleet.find(label)?;
                let state = env.fleet.states[i];
                (state.attention() > crate::model::Attention::Fine)
                    .then(|| format!("{} {}", paint.glyphs.state(state), env.fleet.sites[i].name))
            })
            .collect();
        if !failing_new.is_empty() {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  failing on {newest}: "),
                    theme.state(SiteState::Error),
                ),
                Span::styled(failing_new.join(", "), theme.text()),
            ]));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}
