//! The fleet timeline strip: per environment, how many sites were in error
//! and in warning over the last hour, so a wave of failures during a deploy
//! shows at a glance.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};

use super::{Paint, format_age};
use crate::app::{App, age};
use crate::model::SiteState;

const BARS: [&str; 9] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];
const ASCII_BARS: [&str; 9] = [" ", ".", ".", ":", ":", "+", "+", "#", "#"];

/// One bar per column, scaled to `peak`: any count above zero shows.
fn bar(value: u32, peak: u32, ascii: bool) -> &'static str {
    let bars = if ascii { &ASCII_BARS } else { &BARS };
    if value == 0 || peak == 0 {
        return bars[0];
    }
    let level = ((value as f64 / peak as f64) * 8.0).ceil().clamp(1.0, 8.0) as usize;
    bars[level]
}

/// The strip: a line per environment, or, on one line, every environment
/// side by side with shorter sparklines, when the app folded it to leave
/// the grid room.
pub fn draw(buf: &mut Buffer, area: Rect, app: &App, paint: Paint<'_>) {
    if area.height == 1 && app.envs.len() > 1 {
        return draw_folded(buf, area, app, paint);
    }
    let theme = paint.theme;
    let label_width = app
        .envs
        .iter()
        .map(|e| e.fleet.name.chars().count())
        .max()
        .unwrap_or(4)
        .min(10);
    for (i, env) in app.envs.iter().enumerate().take(area.height as usize) {
        let y = area.y + i as u16;
        let mut spans = vec![Span::styled(
            format!("{:<label_width$} ", env.fleet.name),
            theme.accent().add_modifier(Modifier::BOLD),
        )];
        let Some((timeline, at)) = &env.timeline else {
            spans.push(Span::styled(
                "timeline: waiting for the first answer…",
                theme.muted(),
            ));
            buf.set_line(area.x, y, &Line::from(spans), area.width);
            continue;
        };
        let (errors_now, warnings_now) = timeline.last().unwrap_or((0, 0));
        let tail = format!(
            " now {}{errors_now} {}{warnings_now} · peak {} · 1h · {} ago",
            paint.glyphs.state(SiteState::Error),
            paint.glyphs.state(SiteState::Warning),
            timeline.peak(),
            format_age(age(app.now, *at))
        );
        // "✖ " and " ▲ " take five columns between them.
        let used = label_width + 1 + 5 + tail.chars().count();
        // Two sparklines side by side, errors then warnings.
        let chart = (area.width as usize).saturating_sub(used) / 2;
        let columns = timeline.columns(chart);
        let peak = timeline.peak();
        let errors: String = columns
            .iter()
            .map(|(e, _)| bar(*e, peak, paint.glyphs.ascii))
            .collect();
        let warnings: String = columns
            .iter()
            .map(|(_, w)| bar(*w, peak, paint.glyphs.ascii))
            .collect();
        spans.push(Span::styled(
            format!("{} ", paint.glyphs.state(SiteState::Error)),
            theme.state(SiteState::Error),
        ));
        spans.push(Span::styled(errors, theme.state(SiteState::Error)));
        spans.push(Span::styled(
            format!(" {} ", paint.glyphs.state(SiteState::Warning)),
            theme.state(SiteState::Warning),
        ));
        spans.push(Span::styled(warnings, theme.state(SiteState::Warning)));
        spans.push(Span::styled(tail, theme.muted()));
        buf.set_line(area.x, y, &Line::from(spans), area.width);
    }
}

/// `dev ✖2 ▂▃▃ ▲15 ███  test ✖3 ▁▁▂ ▲19 ███ …`: now and the last hour of
/// each environment in its share of one line.
fn draw_folded(buf: &mut Buffer, area: Rect, app: &App, paint: Paint<'_>) {
    let theme = paint.theme;
    let share = (area.width as usize) / app.envs.len().max(1);
    let mut spans = Vec::new();
    for env in &app.envs {
        let name = format!("{} ", env.fleet.name);
        let Some((timeline, _)) = &env.timeline else {
            let text = format!("{name}…");
            let pad = share.saturating_sub(text.chars().count());
            spans.push(Span::styled(
                format!("{text}{}", " ".repeat(pad)),
                theme.muted(),
            ));
            continue;
        };
        let (errors_now, warnings_now) = timeline.last().unwrap_or((0, 0));
        let error_label = format!("{}{errors_now} ", paint.glyphs.state(SiteState::Error));
        let warning_label = format!(" {}{warnings_now} ", paint.glyphs.state(SiteState::Warning));
        let fixed =
            name.chars().count() + error_label.chars().count() + warning_label.chars().count() + 2;
        let chart = share.saturating_sub(fixed) / 2;
        let columns = timeline.columns(chart);
        let peak = timeline.peak();
        let spark = |pick: fn(&(u32, u32)) -> u32| -> String {
            columns
                .iter()
                .map(|c| bar(pick(c), peak, paint.glyphs.ascii))
                .collect()
        };
        spans.push(Span::styled(
            name,
            theme.accent().add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(error_label, theme.state(SiteState::Error)));
        spans.push(Span::styled(spark(|c| c.0), theme.state(SiteState::Error)));
        spans.push(Span::styled(warning_label, theme.state(SiteState::Warning)));
        spans.push(Span::styled(
            spark(|c| c.1),
            theme.state(SiteState::Warning),
        ));
        spans.push(Span::raw("  "));
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_count_above_zero_shows_and_the_peak_is_full() {
        assert_eq!(bar(0, 10, false), " ");
        assert_eq!(bar(1, 1000, false), "▁");
        assert_eq!(bar(10, 10, false), "█");
        assert_eq!(bar(5, 10, false), "▄");
        assert_eq!(bar(10, 10, true), "#");
    }
}
