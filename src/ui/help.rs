//! Every binding, generated from the keymap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::Paint;
use crate::app::keymap::{BINDINGS, SCOPES, keys_label};
use crate::model::SiteState;

pub fn draw(frame: &mut Frame, area: Rect, scroll: u16, paint: Paint<'_>) {
    let theme = paint.theme;
    let lines = help_lines(paint);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border())
        .title(Span::styled(" Help ", theme.accent()));
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
}

fn help_lines(paint: Paint<'_>) -> Vec<Line<'static>> {
    let theme = paint.theme;
    let mut lines = Vec::new();
    let key_width = BINDINGS
        .iter()
        .map(|b| keys_label(b).chars().count())
        .max()
        .unwrap_or(10);
    for scope in SCOPES {
        lines.push(Line::from(Span::styled(
            scope.title(),
            theme.accent().add_modifier(Modifier::BOLD),
        )));
        for b in BINDINGS.iter().filter(|b| b.scope == scope) {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {:<key_width$}  ", keys_label(b)),
                    theme.text().add_modifier(Modifier::BOLD),
                ),
                Span::styled(b.description, theme.text()),
            ]));
        }
        lines.push(Line::default());
    }
    lines.push(Line::from(Span::styled(
        "Mouse (unless mouse = false in the configuration)",
        theme.accent().add_modifier(Modifier::BOLD),
    )));
    for m in crate::app::keymap::MOUSE {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:<key_width$}  ", m.gesture),
                theme.text().add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!("{} ({})", m.description, m.scope.title()),
                theme.text(),
            ),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "Site states",
        theme.accent().add_modifier(Modifier::BOLD),
    )));
    for state in SiteState::ALL {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {}  ", paint.glyphs.state(state)),
                theme.state(state),
            ),
            Span::styled(state.label(), theme.text()),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "Cell marks",
        theme.accent().add_modifier(Modifier::BOLD),
    )));
    for (mark, tone, meaning) in [
        (
            paint.glyphs.alert_badge(),
            SiteState::Error,
            "an alert is firing for the site",
        ),
        (
            paint.glyphs.not_in_cluster_badge(),
            SiteState::Warning,
            "no site namespace in the cluster (deleted, or not matched by namespace_selector)",
        ),
    ] {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {mark}  "),
                theme.state(tone).add_modifier(Modifier::BOLD),
            ),
            Span::styled(meaning, theme.text()),
        ]));
    }
    lines.push(Line::from(vec![
        Span::styled("  ", theme.text()),
        Span::styled(
            "name",
            theme
                .text()
                .add_modifier(Modifier::UNDERLINED | Modifier::BOLD),
        ),
        Span::styled("  underlined: changed state recently", theme.text()),
    ]));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::{Glyphs, Theme};

    #[test]
    fn the_app_knows_how_long_help_is() {
        let theme = Theme::dark();
        let paint = Paint {
            theme: &theme,
            glyphs: Glyphs {
                ascii: false,
                half_blocks: true,
            },
        };
        assert_eq!(
            help_lines(paint).len(),
            crate::app::keymap::help_line_count()
        );
    }
}
