//! The top line: the worst thing first. An environment whose backend is
//! failing, with its data's age and the error; then each environment by
//! its worst state (`prod ✖11 · dev ✖2 · test ▲20`), worst environment
//! first; then the fleet's totals; then where the data comes from. On the
//! right, how old the data is and the time zone. What does not fit is left
//! out whole, in that order from the end: a count is never cut in half.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Paint, count_spans, format_age, truncate};
use crate::app::{App, EnvPane, age};
use crate::model::SiteState;

/// A backend's error on the header is cut to this; its section line has
/// it whole.
const HEADER_ERROR_CHARS: usize = 40;

/// An environment's worst state that is not fine, and how many sites are
/// in it; `None` when every site is OK or Info.
fn worst_of(pane: &EnvPane) -> Option<(SiteState, usize)> {
    pane.counts
        .nonzero()
        .find(|(state, _)| !matches!(state, SiteState::Ok | SiteState::Info))
}

/// An environment's place in the configuration, its pane, its worst.
type Ranked<'a> = (usize, &'a EnvPane, Option<(SiteState, usize)>);

/// `prod ✖11`, one per environment, the worst first: by state, then by
/// how many sites are in it, then in the configured order.
fn environments_worst_first(app: &App, paint: Paint<'_>) -> Vec<Vec<Span<'static>>> {
    let theme = paint.theme;
    let mut envs: Vec<Ranked<'_>> = app
        .envs
        .iter()
        .enumerate()
        .filter(|(_, pane)| pane.fetched_at.is_some())
        .map(|(i, pane)| (i, pane, worst_of(pane)))
        .collect();
    envs.sort_by_key(|(i, _, worst)| match worst {
        Some((state, n)) => (state.rank(), std::cmp::Reverse(*n), *i),
        None => (u8::MAX, std::cmp::Reverse(0), *i),
    });
    envs.into_iter()
        .map(|(_, pane, worst)| {
            let name = Span::styled(
                format!("{} ", pane.fleet.name),
                theme.header().add_modifier(Modifier::BOLD),
            );
            let state = match worst {
                Some((state, n)) => Span::styled(
                    format!("{}{n} ", paint.glyphs.state(state)),
                    theme.state(state).add_modifier(Modifier::BOLD),
                ),
                None => Span::styled(
                    format!("{}ok ", paint.glyphs.state(SiteState::Ok)),
                    theme.state(SiteState::Ok),
                ),
            };
            vec![name, state]
        })
        .collect()
}

/// The environments whose backend failed its last poll, or whose data is
/// older than three polls, as one item: `prod STALE 3m: connection
/// refused`, or `dev, test STALE 11s: …` with the oldest data's age and
/// the first error when several are.
fn stale_environments(app: &App, paint: Paint<'_>) -> Vec<Vec<Span<'static>>> {
    let style = paint
        .theme
        .state(SiteState::Error)
        .add_modifier(Modifier::BOLD);
    let stale: Vec<&EnvPane> = app
        .envs
        .iter()
        // While frozen the data is held on purpose; only errors count.
        .filter(|e| e.error.is_some() || (!app.frozen && e.is_stale(app.now, app.settings.refresh)))
        .collect();
    if stale.is_empty() {
        return Vec::new();
    }
    let names: Vec<&str> = stale.iter().map(|p| p.fleet.name.as_str()).collect();
    let oldest = stale
        .iter()
        .map(|p| p.fetched_at)
        .collect::<Option<Vec<_>>>()
        .and_then(|times| times.into_iter().min());
    let data = match oldest {
        Some(at) => format!("STALE {}", format_age(age(app.now, at))),
        None => "NO DATA".to_string(),
    };
    let error = stale
        .iter()
        .find_map(|p| p.error.as_ref())
        .map(|(e, _)| {
            format!(
                ": {}",
                truncate(e, HEADER_ERROR_CHARS, paint.glyphs.ellipsis())
            )
        })
        .unwrap_or_default();
    vec![vec![Span::styled(
        format!("{} {data}{error} ", names.join(", ")),
        style,
    )]]
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, paint: Paint<'_>) {
    let theme = paint.theme;
    let totals = app.totals();
    let freshness = match app.oldest_fetch() {
        Some(at) => format!("updated {} ago", format_age(age(app.now, at))),
        None if app.envs.iter().any(|e| e.error.is_some()) => "no data yet".to_string(),
        None => "loading…".to_string(),
    };
    let mut right = vec![];
    if app.frozen {
        right.push(Span::styled(
            format!("FROZEN, {} updates waiting · ", app.held_updates),
            theme
                .accent()
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ));
    }
    let stale_count = app
        .envs
        .iter()
        .filter(|e| e.error.is_some() || (!app.frozen && e.is_stale(app.now, app.settings.refresh)))
        .count();
    if stale_count > 0 {
        right.push(Span::styled(
            format!("{stale_count} env stale · "),
            theme.state(SiteState::Error),
        ));
    }
    let zone = super::zone_name(app, paint);
    right.push(Span::styled(
        format!("{freshness} · {zone} "),
        theme.header(),
    ));
    let right_width = Line::from(right.clone()).width();

    // Items in the order they matter; each goes in whole or not at all.
    let mut items: Vec<Vec<Span<'static>>> = vec![vec![Span::styled(
        " site-status ",
        theme.header().add_modifier(Modifier::BOLD),
    )]];
    items.extend(stale_environments(app, paint));
    let by_env = environments_worst_first(app, paint);
    let several = by_env.len() > 1;
    if several {
        items.extend(by_env);
        items.push(vec![Span::styled("· ", theme.header())]);
    }
    items.push(vec![Span::styled(
        format!("{} sites ", totals.total()),
        theme.header(),
    )]);
    for span in count_spans(&totals, paint)
        .into_iter()
        .filter(|s| !s.content.trim().is_empty())
    {
        items.push(vec![span, Span::raw(" ")]);
    }
    let room = (area.width as usize).saturating_sub(right_width + 1);
    let mut left: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for item in items {
        let width = Line::from(item.clone()).width();
        if used + width > room {
            break;
        }
        used += width;
        left.extend(item);
    }
    // Where the data comes from, when there is room to say it.
    let origin_room = room.saturating_sub(used + 3);
    if origin_room >= 8 && !app.settings.origin.is_empty() {
        left.push(Span::styled(
            format!(
                "· {}",
                truncate(&app.settings.origin, origin_room, paint.glyphs.ellipsis())
            ),
            theme.header(),
        ));
    }
    frame.render_widget(Paragraph::new("").style(theme.header()), area);
    frame.render_widget(Paragraph::new(Line::from(left)).style(theme.header()), area);
    let right_width = right_width as u16;
    if right_width < area.width {
        let at = Rect {
            x: area.x + area.width - right_width,
            width: right_width,
            ..area
        };
        frame.render_widget(Paragraph::new(Line::from(right)).style(theme.header()), at);
    }
}
