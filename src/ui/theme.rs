//! Semantic colour roles. Views ask for "the style of an error" or "a
//! border", never for a colour, so a theme can change every one of them.

use ratatui::style::{Color, Modifier, Style};

use crate::model::SiteState;

#[derive(Debug, Clone)]
pub struct Theme {
    pub name: String,
    /// Foreground per state, indexed by `SiteState::index`.
    pub states: [Color; SiteState::ALL.len()],
    pub text: Color,
    pub muted_text: Color,
    pub border: Color,
    pub accent: Color,
    pub selection_fg: Color,
    pub selection_bg: Color,
    pub header_fg: Color,
    pub header_bg: Color,
    /// An environment may carry its own accent (prod in red, say).
    pub env_accents: Vec<(String, Color)>,
}

impl Theme {
    pub fn dark() -> Theme {
        let mut states = [Color::Reset; SiteState::ALL.len()];
        for (state, color) in [
            (SiteState::Error, Color::Rgb(0xff, 0x5f, 0x5f)),
            (SiteState::TargetDown, Color::Rgb(0xff, 0x87, 0x00)),
            (SiteState::RunFailed, Color::Rgb(0xff, 0x87, 0xff)),
            (SiteState::NoData, Color::Rgb(0xbc, 0xbc, 0xbc)),
            (SiteState::Stale, Color::Rgb(0xd7, 0xaf, 0x87)),
            (SiteState::Warning, Color::Rgb(0xff, 0xd7, 0x5f)),
            (SiteState::Ok, Color::Rgb(0x5f, 0xd7, 0x5f)),
            (SiteState::Info, Color::Rgb(0x5f, 0xaf, 0xff)),
        ] {
            states[state.index()] = color;
        }
        Theme {
            name: "dark".into(),
            states,
            text: Color::Rgb(0xd0, 0xd0, 0xd0),
            muted_text: Color::Rgb(0x94, 0x94, 0x94),
            border: Color::Rgb(0x5f, 0x5f, 0x87),
            accent: Color::Rgb(0x87, 0xaf, 0xff),
            selection_fg: Color::Rgb(0x00, 0x00, 0x00),
            selection_bg: Color::Rgb(0xd0, 0xd0, 0xd0),
            header_fg: Color::Rgb(0xff, 0xff, 0xff),
            header_bg: Color::Rgb(0x26, 0x26, 0x3a),
            env_accents: vec![("prod".into(), Color::Rgb(0xff, 0x87, 0x87))],
        }
    }

    pub fn state_color(&self, state: SiteState) -> Color {
        self.states[state.index()]
    }

    pub fn state(&self, state: SiteState) -> Style {
        Style::new().fg(self.state_color(state))
    }

    pub fn text(&self) -> Style {
        Style::new().fg(self.text)
    }

    pub fn muted(&self) -> Style {
        Style::new().fg(self.muted_text)
    }

    pub fn border(&self) -> Style {
        Style::new().fg(self.border)
    }

    pub fn accent(&self) -> Style {
        Style::new().fg(self.accent)
    }

    pub fn header(&self) -> Style {
        Style::new().fg(self.header_fg).bg(self.header_bg)
    }

    /// Reverse video as well as colour, so the cursor stays visible when
    /// colour is off.
    pub fn selection(&self) -> Style {
        Style::new()
            .fg(self.selection_fg)
            .bg(self.selection_bg)
            .add_modifier(Modifier::REVERSED)
    }

    pub fn env_accent(&self, env: &str) -> Color {
        self.env_accents
            .iter()
            .find(|(name, _)| name == env)
            .map(|(_, c)| *c)
            .unwrap_or(self.accent)
    }
}
