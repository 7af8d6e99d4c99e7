//! Drawing only: every function here reads an immutable `App` and paints;
//! the grid also notes where it drew each site (a `HitMap`) for the mouse.

pub mod alerts;
pub mod footer;
pub mod glyphs;
pub mod grid;
pub mod header;
pub mod help;
pub mod kube;
pub mod pivot;
pub mod problems;
pub mod report;
pub mod reports;
pub mod requirement;
pub mod rollout;
pub mod site;
pub mod theme;
pub mod timeline;
pub mod transitions;

use crate::model::text::shown;
use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{App, FOOTER_LINES, HEADER_LINES, HitMap, View};
use crate::model::clock;
use crate::model::{Counts, TimeFormat, format_time};
pub use glyphs::Glyphs;
pub use theme::{ColorDepth, Theme};

pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 8;

/// What every view needs to paint: the theme and the glyph set.
#[derive(Clone, Copy)]
pub struct Paint<'a> {
    pub theme: &'a Theme,
    pub glyphs: Glyphs,
}

pub fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    draw_with_hit_map(frame, app, theme);
}

/// Draws a frame and returns where it drew what the mouse can click; the
/// runtime keeps it for the next click (`App::hit_map`).
pub fn draw_with_hit_map(frame: &mut Frame, app: &App, theme: &Theme) -> HitMap {
    let mut hits = HitMap::default();
    let area = frame.area();
    let paint = Paint {
        theme,
        glyphs: Glyphs {
            ascii: app.settings.ascii,
            // Two sites in one cell are told apart only by colour.
            half_blocks: !app.settings.ascii && !theme.colourless(),
        },
    };
    if let Some(base) = theme.base() {
        frame.buffer_mut().set_style(area, base);
    }
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let message = format!(
            "Terminal too small ({}x{}); need {MIN_WIDTH}x{MIN_HEIGHT}. q quits.",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(message)
                .style(theme.text())
                .wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return hits;
    }
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(HEADER_LINES),
        Constraint::Min(1),
        Constraint::Length(FOOTER_LINES),
    ])
    .areas(area);
    header::draw(frame, top, app, paint);
    let view_area = match breadcrumb(app, paint) {
        Some(crumbs) => {
            let [crumb_area, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(body);
            frame.render_widget(Paragraph::new(crumbs), crumb_area);
            rest
        }
        None => body,
    };
    match app.stack.last() {
        None => grid::draw(frame, view_area, app, paint, &mut hits),
        Some(View::Site(site)) => site::draw(frame, view_area, app, site, paint, &mut hits),
        Some(View::Requirement(view)) => requirement::draw(frame, view_area, app, view, paint),
        Some(View::Reports(view)) => reports::draw(frame, view_area, app, view, paint, &mut hits),
        Some(View::Report(view)) => report::draw(frame, view_area, app, view, paint),
        Some(View::Transitions { selected }) => {
            transitions::draw(frame, view_area, app, *selected, paint, &mut hits)
        }
        Some(View::Pivot { selected }) => {
            pivot::draw(frame, view_area, app, *selected, paint, &mut hits)
        }
        Some(View::Alerts { selected }) => {
            alerts::draw(frame, view_area, app, *selected, paint, &mut hits)
        }
        Some(View::Problems(view)) => problems::draw(frame, view_area, app, view, paint, &mut hits),
        Some(View::PivotSites {
            requirement,
            selected,
        }) => pivot::draw_sites(
            frame,
            view_area,
            app,
            requirement,
            *selected,
            paint,
            &mut hits,
        ),
        Some(View::Rollout { profile, scroll }) => {
            rollout::draw(frame, view_area, app, profile, *scroll, paint)
        }
        Some(View::Help { scroll }) => help::draw(frame, view_area, *scroll, paint),
    }
    footer::draw(frame, bottom, app, paint);
    hits
}

/// Where the operator is: `prod › kk_borger › borger › Cron maintenance tasks`.
fn breadcrumb(app: &App, paint: Paint<'_>) -> Option<Line<'static>> {
    let theme = paint.theme;
    let sep = paint.glyphs.breadcrumb_separator();
    let site_crumbs = |key: &crate::model::SiteKey| {
        let profile = app.profile_of(key).unwrap_or_default();
        vec![key.env.clone(), profile, shown(&key.site)]
    };
    let crumbs: Vec<String> = match app.stack.last()? {
        View::Site(v) => site_crumbs(&v.key),
        // The title reads better than the id; the view's heading gives both.
        View::Requirement(v) => {
            let mut c = site_crumbs(&v.site);
            c.push(shown(&v.title));
            c
        }
        View::Reports(v) => {
            let mut c = site_crumbs(&v.site);
            c.push("reports".to_string());
            c
        }
        View::Report(v) => {
            let mut c = site_crumbs(&v.site);
            c.push(if v.fresh { "run now" } else { "reports" }.to_string());
            c.push(report_time(&v.report, paint));
            if v.show_diff {
                c.push("diff".to_string());
            }
            c
        }
        View::Transitions { .. } => vec!["transitions".to_string()],
        View::Rollout { profile, .. } => vec!["rollout".to_string(), profile.clone()],
        View::Pivot { .. } => vec!["pivot".to_string()],
        View::Alerts { .. } => vec!["alerts".to_string()],
        View::Problems(v) => {
            let mut c = vec!["problems".to_string()];
            if let Some(pane) = v.env.and_then(|e| app.envs.get(e)) {
                c.push(pane.fleet.name.clone());
            }
            c
        }
        View::PivotSites { requirement, .. } => vec!["pivot".to_string(), requirement.clone()],
        View::Help { .. } => vec!["help".to_string()],
    };
    let last = crumbs.len().saturating_sub(1);
    let mut spans = vec![Span::raw(" ")];
    for (i, crumb) in crumbs.into_iter().filter(|c| !c.is_empty()).enumerate() {
        if i > 0 {
            spans.push(Span::styled(sep, theme.muted()));
        }
        spans.push(if i == last {
            Span::styled(
                crumb,
                theme.accent().add_modifier(ratatui::style::Modifier::BOLD),
            )
        } else {
            Span::styled(crumb, theme.accent())
        });
    }
    Some(Line::from(spans))
}

/// Drupal's severity as the state that draws it; no severity reads as
/// no data, never as OK.
pub fn severity_state(severity: Option<crate::model::Severity>) -> crate::model::SiteState {
    use crate::model::{Severity, SiteState};
    match severity {
        Some(Severity::Error) => SiteState::Error,
        Some(Severity::Warning) => SiteState::Warning,
        Some(Severity::Ok) => SiteState::Ok,
        Some(Severity::Info) => SiteState::Info,
        None => SiteState::NoData,
    }
}

pub fn unix(t: std::time::SystemTime) -> f64 {
    clock::unix_seconds(clock::timestamp_of_system_time(t))
}

/// A moment on screen, in the zone the theme carries (the local zone, or
/// UTC with `--utc`, in tests and in screenshots): every time `ui` draws
/// goes through here.
pub fn show_time(unix_seconds: f64, format: TimeFormat, paint: Paint<'_>) -> String {
    format_time(
        clock::timestamp_of_unix(unix_seconds),
        &paint.theme.time_zone,
        format,
    )
}

/// The name of the zone times are shown in, as of now: it changes with the
/// season (CET, CEST).
pub fn zone_name(app: &App, paint: Paint<'_>) -> String {
    crate::model::zone_abbreviation(
        clock::timestamp_of_system_time(app.now),
        &paint.theme.time_zone,
    )
}

/// Time of day: `22:04:13`, or `21:04:13Z` in UTC.
pub fn clock(unix_seconds: f64, paint: Paint<'_>) -> String {
    show_time(unix_seconds, TimeFormat::Clock, paint)
}

/// "✖3 ▲12 ●180", worst first, each in its state's colour.
pub fn count_spans(counts: &Counts, paint: Paint<'_>) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (state, n) in counts.nonzero() {
        if !spans.is_empty() {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(
            format!("{}{n}", paint.glyphs.state(state)),
            paint.theme.state(state),
        ));
    }
    spans
}

/// [`format_age`] of a difference of two Unix times, which come from
/// backends: negative is now, and a value too large for a `Duration` (a
/// broken series' time) is as old as can be, never a panic.
pub fn format_age_seconds(seconds: f64) -> String {
    format_age(Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX))
}

/// Short human age: 4s, 3m, 2h, 5d.
pub fn format_age(age: Duration) -> String {
    let s = age.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h{}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// Truncates to a display width, marking the cut.
pub fn truncate(text: &str, width: usize, ellipsis: &str) -> String {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    if text.width() <= width {
        return text.to_string();
    }
    let room = width.saturating_sub(ellipsis.width());
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    if width >= ellipsis.width() {
        out.push_str(ellipsis);
    }
    out
}

/// A report's time to the second: Loki's nanoseconds are noise on screen.
pub fn report_time(report: &crate::model::Report, paint: Paint<'_>) -> String {
    let seconds = report.time_ns.div_euclid(1_000_000_000);
    show_time(seconds as f64, TimeFormat::DateTime, paint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(format_age(Duration::from_secs(4)), "4s");
        assert_eq!(format_age(Duration::from_secs(185)), "3m");
        assert_eq!(format_age(Duration::from_secs(7500)), "2h5m");
        assert_eq!(format_age(Duration::from_secs(200_000)), "2d");
    }

    #[test]
    fn ages_from_broken_times_never_panic() {
        assert_eq!(format_age_seconds(-5.0), "0s");
        assert_eq!(format_age_seconds(f64::NAN), "0s");
        assert_eq!(format_age_seconds(65.0), "1m");
        let huge = format_age_seconds(1e300);
        assert!(huge.ends_with('d'), "{huge}");
        assert_eq!(format_age_seconds(f64::INFINITY), huge);
    }

    #[test]
    fn truncation_respects_display_width() {
        assert_eq!(truncate("borger", 10, "…"), "borger");
        assert_eq!(truncate("bibliotek-nord", 8, "…"), "bibliot…");
        assert_eq!(truncate("æøåæøå", 4, "…"), "æøå…");
        assert_eq!(truncate("日本語テキスト", 5, "…"), "日本…");
    }
}
