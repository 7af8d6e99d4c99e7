//! The fleet grid: environment sections, profile groups, one cell per site.
//! Paints straight into the buffer, and only the lines on screen, so a
//! frame costs the same for 300 sites as for 10,000. Each site cell drawn is
//! noted in the frame's `HitMap`, so a click finds the site drawn there.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Paint, count_spans, format_age, truncate};
use crate::app::grid::{Line as GridLine, SiteRef};
use crate::app::{App, HitMap, age};
use crate::model::{AlertBadge, SiteState};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, paint: Paint<'_>, hits: &mut HitMap) {
    let strip = app.timeline_lines().min(area.height);
    let area = if strip > 0 {
        let strip_area = Rect {
            height: strip,
            ..area
        };
        super::timeline::draw(frame.buffer_mut(), strip_area, app, paint);
        Rect {
            y: area.y + strip,
            height: area.height - strip,
            ..area
        }
    } else {
        area
    };
    let layout = &app.grid.layout;
    if layout.sites.is_empty() {
        draw_empty(frame, area, app, paint);
    }
    let buf = frame.buffer_mut();
    let visible = layout
        .lines
        .iter()
        .skip(app.grid.scroll)
        .take(area.height as usize);
    for (i, line) in visible.enumerate() {
        let y = area.y + i as u16;
        match line {
            GridLine::Section { section } => section_line(buf, area, y, app, *section, paint),
            GridLine::Group { section, group } => {
                group_line(buf, area, y, app, *section, *group, paint)
            }
            GridLine::Cells { row } => cell_row(buf, area, y, app, *row, paint, hits),
            GridLine::Pair { upper, lower } => {
                pair_row(buf, area, y, app, *upper, *lower, paint, hits)
            }
        }
    }
}

fn draw_empty(frame: &mut Frame, area: Rect, app: &App, paint: Paint<'_>) {
    let theme = paint.theme;
    let waiting = app.envs.iter().all(|e| e.fetched_at.is_none());
    let text = if waiting && app.envs.iter().any(|e| e.error.is_some()) {
        "No data yet: every backend failed so far. Their errors are in the section lines."
            .to_string()
    } else if waiting {
        "Waiting for the first poll…".to_string()
    } else if app.filter().is_active() {
        format!(
            "No site matches filter \"{}\" with severity {}. Esc clears.",
            app.grid.filter_text,
            app.grid.severity.label()
        )
    } else {
        "No sites reported.".to_string()
    };
    let lines_used = app.grid.layout.lines.len() as u16;
    if lines_used < area.height {
        let rest = Rect {
            y: area.y + lines_used + 1,
            height: area.height - lines_used - 1,
            ..area
        };
        frame.render_widget(
            Paragraph::new(text)
                .style(theme.muted())
                .wrap(Wrap { trim: true }),
            rest,
        );
    }
}

fn section_line(buf: &mut Buffer, area: Rect, y: u16, app: &App, section: usize, paint: Paint<'_>) {
    let theme = paint.theme;
    let layout = &app.grid.layout;
    let Some(env) = layout
        .sections
        .get(section)
        .and_then(|s| app.envs.get(s.env))
    else {
        return;
    };
    let accent = theme.env_accent(&env.fleet.name);
    let rule = paint.glyphs.rule();
    let mut spans = vec![
        Span::styled(format!("{rule}{rule} "), Style::new().fg(accent)),
        Span::styled(
            env.fleet.name.clone(),
            Style::new().fg(accent).add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!(" {} sites ", env.counts.total()), theme.text()),
    ];
    spans.extend(count_spans(&env.counts, paint));
    match (&env.error, env.fetched_at) {
        (Some((error, at)), fetched) => {
            // STALE comes first: a long error must not push it off screen.
            let data = fetched
                .map(|f| format!("STALE, data {} old", format_age(age(app.now, f))))
                .unwrap_or_else(|| "NO DATA".to_string());
            spans.push(Span::styled(
                format!(
                    " · {data} · error {} ago: {error}",
                    format_age(age(app.now, *at))
                ),
                theme.state(SiteState::Error).add_modifier(Modifier::BOLD),
            ));
        }
        (None, Some(at)) => {
            spans.push(Span::styled(
                format!(" · {} ago", format_age(age(app.now, at))),
                theme.muted(),
            ));
            if !env.warnings.is_empty() {
                spans.push(Span::styled(
                    format!(" · warning: {}", env.warnings.join("; ")),
                    theme.state(SiteState::Warning),
                ));
            }
        }
        (None, None) => spans.push(Span::styled(" · loading…", theme.muted())),
    }
    spans.push(Span::raw(" "));
    let line = Line::from(spans);
    let used = buf.set_line(area.x, y, &line, area.width).0;
    let mut x = used;
    while x < area.x + area.width {
        buf[(x, y)]
            .set_symbol(rule)
            .set_style(Style::new().fg(accent));
        x += 1;
    }
}

#[allow(clippy::too_many_arguments)]
fn group_line(
    buf: &mut Buffer,
    area: Rect,
    y: u16,
    app: &App,
    section: usize,
    group: usize,
    paint: Paint<'_>,
) {
    let Some(g) = app.grid.layout.group(section, group) else {
        return;
    };
    let mut spans = vec![
        Span::styled(format!("  {} ", g.profile), paint.theme.accent()),
        Span::styled(format!("{} ", g.counts.total()), paint.theme.muted()),
    ];
    spans.extend(count_spans(&g.counts, paint));
    if g.sites.len() < g.counts.total() {
        spans.push(Span::styled(
            format!("  ({} shown)", g.sites.len()),
            paint.theme.muted(),
        ));
    }
    buf.set_line(area.x, y, &Line::from(spans), area.width);
}

fn site_at(app: &App, slot: Option<&Option<usize>>) -> Option<(usize, SiteRef, SiteState)> {
    let index = (*slot?)?;
    let site = *app.grid.layout.sites.get(index)?;
    let state = app.site_state(site)?;
    Some((index, site, state))
}

#[allow(clippy::too_many_arguments)]
fn cell_row(
    buf: &mut Buffer,
    area: Rect,
    y: u16,
    app: &App,
    row: usize,
    paint: Paint<'_>,
    hits: &mut HitMap,
) {
    let layout = &app.grid.layout;
    let Some(cells) = layout.cell_rows.get(row) else {
        return;
    };
    let width = layout.cell_width;
    let right = area.x + area.width;
    for (col, slot) in layout.slots[cells.slots.clone()].iter().enumerate() {
        let x = area.x + col as u16 * width;
        if x >= right {
            break;
        }
        let Some((index, site, state)) = site_at(app, Some(slot)) else {
            if let Some((section, group)) = layout.label_at(cells.slots.start + col) {
                flow_label(buf, x, y, right, app, section, group, paint);
            }
            continue;
        };
        hits.record_site(Rect::new(x, y, width.min(right - x), 1), index);
        let selected = index == app.grid.cursor;
        let env = &app.envs[site.env];
        let changed = env.changed_recently(
            &env.fleet.sites[site.index].name,
            super::unix(app.now),
            app.settings.change_marker,
        );
        let mut style = if selected {
            paint.theme.selection()
        } else {
            paint.theme.state(state)
        };
        if changed {
            // Underlined and bold: visible without colour too.
            style = style.add_modifier(Modifier::UNDERLINED | Modifier::BOLD);
        }
        let glyph = paint.glyphs.state(state);
        let mut glyph_buf = [0u8; 4];
        buf[(x, y)]
            .set_symbol(glyph.encode_utf8(&mut glyph_buf))
            .set_style(style);
        if width >= 3 {
            let name = &app.envs[site.env].fleet.sites[site.index].name;
            let room = (width - 3).min(right.saturating_sub(x + 2)) as usize;
            let shown = truncate(name, room, paint.glyphs.ellipsis());
            if selected {
                // The whole cell carries the selection, padding included.
                let padded = format!(" {shown:<room$}");
                buf.set_stringn(x + 1, y, padded, room + 1, style);
            } else {
                buf.set_stringn(x + 2, y, shown, room, style);
            }
            // A badge between the glyph and the name, so it reads as part of
            // this cell and not of its neighbour. A firing alert says more
            // than a missing namespace; the site view shows both.
            let badge_x = x + 1;
            // Firing tells apart from silenced: a silenced alert's badge is
            // quiet, a pending one has none yet.
            let summary = &env.fleet.sites[site.index];
            let badge = if summary.alert == AlertBadge::Loud {
                Some((paint.glyphs.alert_badge(), SiteState::Error))
            } else if summary.alert == AlertBadge::Silenced {
                Some((paint.glyphs.alert_badge(), SiteState::Info))
            } else if summary.not_in_cluster {
                Some((paint.glyphs.not_in_cluster_badge(), SiteState::Warning))
            } else {
                None
            };
            if let Some((symbol, tone)) = badge
                && badge_x < right
            {
                buf[(badge_x, y)]
                    .set_symbol(symbol)
                    .set_style(paint.theme.state(tone).add_modifier(Modifier::BOLD));
            }
        }
    }
}

/// A profile's label in a flowing row: its name where its sites begin, in
/// the accent colour so it never reads as a site.
#[allow(clippy::too_many_arguments)]
fn flow_label(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    right: u16,
    app: &App,
    section: usize,
    group: usize,
    paint: Paint<'_>,
) {
    let Some(g) = app.grid.layout.group(section, group) else {
        return;
    };
    let width = app.grid.layout.cell_width;
    let room = width.saturating_sub(1).min(right.saturating_sub(x)) as usize;
    let label = truncate(&g.profile, room, paint.glyphs.ellipsis());
    let style = paint.theme.accent().add_modifier(Modifier::BOLD);
    buf.set_stringn(x, y, label, room, style);
}

#[allow(clippy::too_many_arguments)]
fn pair_row(
    buf: &mut Buffer,
    area: Rect,
    y: u16,
    app: &App,
    upper: usize,
    lower: Option<usize>,
    paint: Paint<'_>,
    hits: &mut HitMap,
) {
    let layout = &app.grid.layout;
    let Some(upper_row) = layout.cell_rows.get(upper) else {
        return;
    };
    let lower_slots = lower
        .and_then(|r| layout.cell_rows.get(r))
        .map(|r| &layout.slots[r.slots.clone()])
        .unwrap_or(&[]);
    let theme = paint.theme;
    for (col, slot) in layout.slots[upper_row.slots.clone()].iter().enumerate() {
        let x = area.x + col as u16;
        if x >= area.x + area.width {
            break;
        }
        let top = site_at(app, Some(slot));
        let bottom = site_at(app, lower_slots.get(col));
        // A click on a half-block cell means its upper site, or the lower
        // one where there is no upper.
        if let Some((index, _, _)) = top.or(bottom) {
            hits.record_site(Rect::new(x, y, 1, 1), index);
        }
        let cursor_here = [top, bottom]
            .into_iter()
            .flatten()
            .find(|(index, _, _)| *index == app.grid.cursor);
        let cell = &mut buf[(x, y)];
        if let Some((_, _, state)) = cursor_here {
            let mut glyph_buf = [0u8; 4];
            cell.set_symbol(paint.glyphs.state(state).encode_utf8(&mut glyph_buf))
                .set_style(theme.selection());
            continue;
        }
        let half = paint.glyphs.upper_half();
        if half.is_empty() {
            // No half-blocks: show the worse of the two.
            let worst = [top, bottom]
                .into_iter()
                .flatten()
                .min_by_key(|(_, _, s)| s.rank());
            if let Some((_, _, state)) = worst {
                let mut glyph_buf = [0u8; 4];
                cell.set_symbol(paint.glyphs.state(state).encode_utf8(&mut glyph_buf))
                    .set_style(theme.state(state));
            }
            continue;
        }
        if top.is_none() && bottom.is_none() {
            continue;
        }
        // An empty half shows the theme's background where the theme
        // paints one, the terminal's own otherwise.
        let background = theme.base().and_then(|b| b.bg).unwrap_or(Color::Reset);
        let upper_color = top.map_or(background, |(_, _, s)| theme.state_color(s));
        let lower_color = bottom.map_or(background, |(_, _, s)| theme.state_color(s));
        let previous = col
            .checked_sub(1)
            .and_then(|c| buf.cell((area.x + c as u16, y)))
            .map(|p| (p.fg, p.bg));
        let (symbol, fg, bg) = half_block(half, upper_color, lower_color, previous);
        buf[(x, y)]
            .set_symbol(symbol)
            .set_style(Style::new().fg(fg).bg(bg));
    }
}

/// How to draw a cell whose upper half is `upper` and lower half `lower`
/// so that it keeps the colours of the cell before (`previous`, its
/// foreground and background) where it can: a terminal backend sends both
/// colours whenever either differs from the last cell's, and at 10,000
/// sites a full frame is otherwise mostly colour codes. Either half block
/// can carry either colour; one colour for both is a space or a full
/// block.
fn half_block(
    upper_half: &'static str,
    upper: Color,
    lower: Color,
    previous: Option<(Color, Color)>,
) -> (&'static str, Color, Color) {
    let Some((fg, bg)) = previous else {
        return (upper_half, upper, lower);
    };
    if upper == lower {
        return if bg == upper {
            (" ", fg, bg)
        } else if fg == upper {
            ("█", fg, bg)
        } else {
            (" ", fg, upper)
        };
    }
    if (fg, bg) == (lower, upper) {
        ("▄", lower, upper)
    } else {
        (upper_half, upper, lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The colours a viewer sees in the upper and lower half of a cell.
    fn seen(symbol: &str, fg: Color, bg: Color) -> (Color, Color) {
        match symbol {
            "▀" => (fg, bg),
            "▄" => (bg, fg),
            "█" => (fg, fg),
            " " => (bg, bg),
            other => panic!("not a half-block cell: {other:?}"),
        }
    }

    #[test]
    fn every_half_block_shows_both_sites_and_keeps_the_colours_it_can() {
        let colours = [Color::Red, Color::Green, Color::Yellow, Color::Reset];
        let mut kept = 0;
        for upper in colours {
            for lower in colours {
                for fg in colours {
                    for bg in colours {
                        let (symbol, f, b) = half_block("▀", upper, lower, Some((fg, bg)));
                        assert_eq!(
                            seen(symbol, f, b),
                            (upper, lower),
                            "{upper:?}/{lower:?} after {fg:?}/{bg:?}"
                        );
                        // A cell whose colours the one before already
                        // carries (in either order) sends none.
                        let reachable = (fg, bg) == (upper, lower)
                            || (fg, bg) == (lower, upper)
                            || (upper == lower && (fg == upper || bg == upper));
                        if reachable {
                            assert_eq!((f, b), (fg, bg), "{upper:?}/{lower:?} after {fg:?}/{bg:?}");
                            kept += 1;
                        }
                    }
                }
            }
        }
        assert!(kept > 0);
        assert_eq!(
            half_block("▀", Color::Red, Color::Green, None),
            ("▀", Color::Red, Color::Green)
        );
    }
}
