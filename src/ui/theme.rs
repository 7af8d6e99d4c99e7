//! Semantic colour roles. Views ask for "the style of an error" or "a
//! border", never for a colour, so a theme can change every one of them.
//!
//! Themes are TOML files (`themes/*.toml`, read by `config::theme_file`,
//! which also gives `Theme::dark()`, the default). Before
//! use a theme is fitted to the terminal: `Theme::with_depth` turns its
//! 24-bit colours into the nearest xterm-256 or ANSI-16 colours, or into
//! no colour at all (`NO_COLOR`), keeping every modifier.

use ratatui::style::{Color, Modifier, Style};

use jiff::tz::TimeZone;

use crate::model::SiteState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub name: String,
    /// Foreground per state, indexed by `SiteState::index`.
    pub states: [Color; SiteState::ALL.len()],
    /// A muted requirement (a failure accepted by a mute rule).
    pub muted_requirement: Color,
    pub text: Color,
    pub muted_text: Color,
    pub border: Color,
    pub accent: Color,
    /// The cursor's cell attributes. The cursor is drawn in reverse video
    /// (visible without colour), so the terminal shows `selection_bg` as
    /// the text colour on `selection_fg`.
    pub selection_fg: Color,
    pub selection_bg: Color,
    pub header_fg: Color,
    pub header_bg: Color,
    /// The background the colours are meant for: contrast is measured
    /// against it, and it is painted when `fill_background` is set.
    pub background: Color,
    pub fill_background: bool,
    /// An environment may carry its own accent (prod in red, say).
    pub env_accents: Vec<(String, Color)>,
    /// What the terminal can show; `None` when colour is off.
    pub depth: ColorDepth,
    /// The zone times are shown in, named in the header. UTC unless the
    /// caller sets another (`with_time_zone`): it travels with the theme
    /// because the theme is what `ui` is handed, and `ui` looks nothing up.
    pub time_zone: TimeZone,
}

impl Theme {
    pub fn state_color(&self, state: SiteState) -> Color {
        self.states[state.index()]
    }

    pub fn state(&self, state: SiteState) -> Style {
        Style::new().fg(self.state_color(state))
    }

    /// A muted requirement's marker and text.
    pub fn muted_requirement(&self) -> Style {
        Style::new().fg(self.muted_requirement)
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

    /// What every cell starts from: the theme's text on its background
    /// when the theme paints one, else the terminal's own colours.
    pub fn base(&self) -> Option<Style> {
        self.fill_background
            .then(|| Style::new().fg(self.text).bg(self.background))
    }

    pub fn env_accent(&self, env: &str) -> Color {
        self.env_accents
            .iter()
            .find(|(name, _)| name == env)
            .map(|(_, c)| *c)
            .unwrap_or(self.accent)
    }

    /// Whether colour is off: glyphs and reverse video carry everything.
    pub fn colourless(&self) -> bool {
        self.depth == ColorDepth::None
    }

    /// The same theme, showing times in `zone`.
    pub fn with_time_zone(&self, zone: TimeZone) -> Theme {
        Theme {
            time_zone: zone,
            ..self.clone()
        }
    }

    /// The theme as a terminal of this depth can show it. With
    /// `ColorDepth::None` every colour is the terminal's default and no
    /// background is painted; modifiers are kept.
    pub fn with_depth(&self, depth: ColorDepth) -> Theme {
        let map = |c: Color| fit_color(c, depth);
        let mut theme = self.clone();
        theme.states = self.states.map(map);
        theme.muted_requirement = map(self.muted_requirement);
        theme.text = map(self.text);
        theme.muted_text = map(self.muted_text);
        theme.border = map(self.border);
        theme.accent = map(self.accent);
        theme.selection_fg = map(self.selection_fg);
        theme.selection_bg = map(self.selection_bg);
        theme.header_fg = map(self.header_fg);
        theme.header_bg = map(self.header_bg);
        theme.background = map(self.background);
        theme.fill_background = self.fill_background && depth != ColorDepth::None;
        theme.env_accents = self
            .env_accents
            .iter()
            .map(|(env, c)| (env.clone(), map(*c)))
            .collect();
        theme.depth = depth;
        theme
    }
}

/// How many colours the terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColorDepth {
    /// No colour at all (`NO_COLOR`, `--color never`).
    None,
    /// The 16 ANSI colours, whatever the terminal's palette makes of them.
    Ansi16,
    /// The xterm 256-colour palette.
    Ansi256,
    /// 24-bit colour.
    TrueColor,
}

impl ColorDepth {
    /// From the environment's values: `NO_COLOR` (any non-empty value
    /// turns colour off, <https://no-color.org>), then `COLORTERM`
    /// (`truecolor` or `24bit`), then `TERM` (`*-256color` or `*-direct`);
    /// anything else gets the 16 colours every terminal has.
    pub fn detect(no_color: Option<&str>, colorterm: Option<&str>, term: Option<&str>) -> Self {
        if no_color.is_some_and(|v| !v.is_empty()) {
            return ColorDepth::None;
        }
        ColorDepth::detect_depth(colorterm, term)
    }

    /// The depth alone, whatever `NO_COLOR` says.
    pub fn detect_depth(colorterm: Option<&str>, term: Option<&str>) -> Self {
        let colorterm = colorterm.unwrap_or("").to_ascii_lowercase();
        let term = term.unwrap_or("").to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" || term.ends_with("-direct") {
            ColorDepth::TrueColor
        } else if term.ends_with("256color") {
            ColorDepth::Ansi256
        } else {
            ColorDepth::Ansi16
        }
    }
}

/// `--color`: whether to use colour and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    /// `NO_COLOR`, `COLORTERM` and `TERM` decide.
    Auto,
    /// Colour even when `NO_COLOR` is set, at the detected depth.
    Always,
    Never,
    TrueColor,
    Ansi256,
    Ansi16,
}

impl ColorChoice {
    /// The words `--color` takes.
    pub const NAMES: [&'static str; 6] = ["auto", "always", "never", "truecolor", "256", "16"];

    /// The depth to draw at, given the environment's `NO_COLOR`,
    /// `COLORTERM` and `TERM`.
    pub fn depth(
        self,
        no_color: Option<&str>,
        colorterm: Option<&str>,
        term: Option<&str>,
    ) -> ColorDepth {
        match self {
            ColorChoice::Auto => ColorDepth::detect(no_color, colorterm, term),
            ColorChoice::Always => ColorDepth::detect_depth(colorterm, term),
            ColorChoice::Never => ColorDepth::None,
            ColorChoice::TrueColor => ColorDepth::TrueColor,
            ColorChoice::Ansi256 => ColorDepth::Ansi256,
            ColorChoice::Ansi16 => ColorDepth::Ansi16,
        }
    }
}

impl std::str::FromStr for ColorChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text {
            "auto" => ColorChoice::Auto,
            "always" => ColorChoice::Always,
            "never" => ColorChoice::Never,
            "truecolor" | "24bit" => ColorChoice::TrueColor,
            "256" => ColorChoice::Ansi256,
            "16" => ColorChoice::Ansi16,
            _ => {
                return Err(format!(
                    "{text:?}: expected one of {}",
                    ColorChoice::NAMES.join(", ")
                ));
            }
        })
    }
}

/// One colour as a terminal of `depth` can show it.
pub fn fit_color(color: Color, depth: ColorDepth) -> Color {
    match (depth, color) {
        (ColorDepth::None, _) => Color::Reset,
        (ColorDepth::TrueColor, c) => c,
        (ColorDepth::Ansi256, Color::Rgb(r, g, b)) => Color::Indexed(to_xterm256(r, g, b)),
        (ColorDepth::Ansi16, Color::Rgb(r, g, b)) => to_ansi16(r, g, b),
        (ColorDepth::Ansi16, Color::Indexed(i)) if i >= 16 => {
            let (r, g, b) = xterm256_rgb(i);
            to_ansi16(r, g, b)
        }
        (_, c) => c,
    }
}

/// The six levels of each channel in the xterm colour cube (16–231).
const CUBE: [u8; 6] = [0x00, 0x5f, 0x87, 0xaf, 0xd7, 0xff];

/// The RGB of an xterm-256 palette entry from 16 up (0–15 are the
/// terminal's own palette and have no fixed RGB).
pub fn xterm256_rgb(index: u8) -> (u8, u8, u8) {
    match index {
        16..=231 => {
            let i = index - 16;
            (
                CUBE[(i / 36) as usize],
                CUBE[(i / 6 % 6) as usize],
                CUBE[(i % 6) as usize],
            )
        }
        232..=255 => {
            let v = 8 + 10 * (index - 232);
            (v, v, v)
        }
        _ => ANSI16_RGB[index as usize],
    }
}

/// The nearest xterm-256 colour (by distance in RGB), from the colour cube
/// and the grey ramp only: 0–15 differ between terminals.
pub fn to_xterm256(r: u8, g: u8, b: u8) -> u8 {
    let dist = |(r2, g2, b2): (u8, u8, u8)| {
        let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
        d(r, r2) + d(g, g2) + d(b, b2)
    };
    let nearest_level = |v: u8| {
        (0..6)
            .min_by_key(|i| (i32::from(CUBE[*i]) - i32::from(v)).abs())
            .unwrap_or(0) as u8
    };
    let cube = 16 + 36 * nearest_level(r) + 6 * nearest_level(g) + nearest_level(b);
    let mean = (u16::from(r) + u16::from(g) + u16::from(b)) / 3;
    let grey = 232 + ((mean.saturating_sub(3)) / 10).min(23) as u8;
    if dist(xterm256_rgb(grey)) < dist(xterm256_rgb(cube)) {
        grey
    } else {
        cube
    }
}

/// xterm's default RGB for the 16 ANSI colours; terminals differ, which is
/// why `to_ansi16` goes by hue rather than by these.
const ANSI16_RGB: [(u8, u8, u8); 16] = [
    (0x00, 0x00, 0x00),
    (0xcd, 0x00, 0x00),
    (0x00, 0xcd, 0x00),
    (0xcd, 0xcd, 0x00),
    (0x00, 0x00, 0xee),
    (0xcd, 0x00, 0xcd),
    (0x00, 0xcd, 0xcd),
    (0xe5, 0xe5, 0xe5),
    (0x7f, 0x7f, 0x7f),
    (0xff, 0x00, 0x00),
    (0x00, 0xff, 0x00),
    (0xff, 0xff, 0x00),
    (0x5c, 0x5c, 0xff),
    (0xff, 0x00, 0xff),
    (0x00, 0xff, 0xff),
    (0xff, 0xff, 0xff),
];

/// The ANSI colour that names this colour best. The 16 colours' RGB is
/// the terminal's choice, so the nearest RGB would be a guess (and turns
/// pastels grey): the hue picks red, yellow, green, cyan, blue or magenta,
/// the lightness the normal or bright variant; colours with little chroma
/// become black, dark grey, grey or white.
pub fn to_ansi16(r: u8, g: u8, b: u8) -> Color {
    let (rf, gf, bf) = (f64::from(r), f64::from(g), f64::from(b));
    let max = rf.max(gf).max(bf);
    let min = rf.min(gf).min(bf);
    let chroma = max - min;
    let lightness = (max + min) / 2.0;
    if chroma < 40.0 {
        return match lightness {
            l if l < 0x40 as f64 => Color::Black,
            l if l < 0xb2 as f64 => Color::DarkGray,
            l if l < 0xf2 as f64 => Color::Gray,
            _ => Color::White,
        };
    }
    let hue = if max == rf {
        60.0 * ((gf - bf) / chroma).rem_euclid(6.0)
    } else if max == gf {
        60.0 * ((bf - rf) / chroma + 2.0)
    } else {
        60.0 * ((rf - gf) / chroma + 4.0)
    };
    let bright = lightness > 127.5;
    match ((hue / 60.0).round() as u32) % 6 {
        0 if bright => Color::LightRed,
        0 => Color::Red,
        1 if bright => Color::LightYellow,
        1 => Color::Yellow,
        2 if bright => Color::LightGreen,
        2 => Color::Green,
        3 if bright => Color::LightCyan,
        3 => Color::Cyan,
        4 if bright => Color::LightBlue,
        4 => Color::Blue,
        _ if bright => Color::LightMagenta,
        _ => Color::Magenta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The colours the dashboard had before themes were files.
    #[test]
    fn the_dark_theme_keeps_its_colours() {
        let t = Theme::dark();
        let rgb = |r, g, b| Color::Rgb(r, g, b);
        for (state, color) in [
            (SiteState::Error, rgb(0xff, 0x5f, 0x5f)),
            (SiteState::TargetDown, rgb(0xff, 0x87, 0x00)),
            (SiteState::RunFailed, rgb(0xff, 0x87, 0xff)),
            (SiteState::NoData, rgb(0xbc, 0xbc, 0xbc)),
            (SiteState::Stale, rgb(0xd7, 0xaf, 0x87)),
            (SiteState::Warning, rgb(0xff, 0xd7, 0x5f)),
            (SiteState::Ok, rgb(0x5f, 0xd7, 0x5f)),
            (SiteState::Info, rgb(0x5f, 0xaf, 0xff)),
        ] {
            assert_eq!(t.state_color(state), color, "{state:?}");
        }
        assert_eq!(t.name, "dark");
        assert_eq!(t.text, rgb(0xd0, 0xd0, 0xd0));
        assert_eq!(t.muted_text, rgb(0x94, 0x94, 0x94));
        assert_eq!(t.muted_requirement, rgb(0x94, 0x94, 0x94));
        assert_eq!(t.border, rgb(0x5f, 0x5f, 0x87));
        assert_eq!(t.accent, rgb(0x87, 0xaf, 0xff));
        // Reverse video: the cursor shows black on a light bar.
        assert_eq!(t.selection_fg, rgb(0xd0, 0xd0, 0xd0));
        assert_eq!(t.selection_bg, rgb(0x00, 0x00, 0x00));
        assert_eq!(t.header_fg, rgb(0xff, 0xff, 0xff));
        assert_eq!(t.header_bg, rgb(0x26, 0x26, 0x3a));
        assert_eq!(t.env_accents, [("prod".to_string(), rgb(0xff, 0x87, 0x87))]);
        assert!(!t.fill_background, "dark leaves the terminal's background");
        assert_eq!(t.base(), None);
        assert_eq!(t.depth, ColorDepth::TrueColor);
    }

    #[test]
    fn depth_comes_from_no_color_colorterm_and_term() {
        use ColorDepth::{Ansi16, Ansi256, TrueColor};
        let d = ColorDepth::detect;
        assert_eq!(
            d(Some("1"), Some("truecolor"), Some("xterm-256color")),
            ColorDepth::None
        );
        assert_eq!(d(Some("anything"), None, None), ColorDepth::None);
        assert_eq!(
            d(Some(""), Some("truecolor"), None),
            TrueColor,
            "an empty NO_COLOR is as good as unset"
        );
        assert_eq!(d(None, Some("24bit"), Some("xterm")), TrueColor);
        assert_eq!(d(None, Some("TrueColor"), Some("screen")), TrueColor);
        assert_eq!(d(None, None, Some("xterm-direct")), TrueColor);
        assert_eq!(d(None, None, Some("xterm-256color")), Ansi256);
        assert_eq!(d(None, None, Some("tmux-256color")), Ansi256);
        assert_eq!(d(None, Some("yes"), Some("xterm")), Ansi16);
        assert_eq!(d(None, None, Some("linux")), Ansi16);
        assert_eq!(d(None, None, None), Ansi16);
    }

    #[test]
    fn color_choice_overrides_the_environment() {
        let env = (Some("1"), None, Some("xterm-256color"));
        let depth = |c: &str| c.parse::<ColorChoice>().unwrap().depth(env.0, env.1, env.2);
        assert_eq!(depth("auto"), ColorDepth::None);
        assert_eq!(depth("always"), ColorDepth::Ansi256);
        assert_eq!(depth("never"), ColorDepth::None);
        assert_eq!(depth("truecolor"), ColorDepth::TrueColor);
        assert_eq!(depth("256"), ColorDepth::Ansi256);
        assert_eq!(depth("16"), ColorDepth::Ansi16);
        assert!("sometimes".parse::<ColorChoice>().is_err());
        for name in ColorChoice::NAMES {
            assert!(name.parse::<ColorChoice>().is_ok(), "{name}");
        }
    }

    #[test]
    fn xterm256_takes_the_nearest_cube_or_grey() {
        // The dark theme's colours are palette colours: exact.
        assert_eq!(to_xterm256(0xff, 0x5f, 0x5f), 203);
        assert_eq!(to_xterm256(0xff, 0x87, 0x00), 208);
        assert_eq!(to_xterm256(0x5f, 0xd7, 0x5f), 77);
        assert_eq!(to_xterm256(0xbc, 0xbc, 0xbc), 250);
        assert_eq!(to_xterm256(0x1c, 0x1c, 0x1c), 234);
        assert_eq!(to_xterm256(0x00, 0x00, 0x00), 16);
        assert_eq!(to_xterm256(0xff, 0xff, 0xff), 231);
        // Okabe-Ito's vermillion, between levels.
        assert_eq!(
            xterm256_rgb(to_xterm256(0xd5, 0x5e, 0x00)),
            (0xd7, 0x5f, 0x00)
        );
        // A grey between cube levels goes to the ramp.
        assert_eq!(to_xterm256(0x30, 0x30, 0x30), 236);
        for i in 16..=255u8 {
            let (r, g, b) = xterm256_rgb(i);
            assert_eq!(xterm256_rgb(to_xterm256(r, g, b)), (r, g, b), "{i}");
        }
    }

    #[test]
    fn ansi16_goes_by_hue_and_lightness() {
        assert_eq!(to_ansi16(0xff, 0x5f, 0x5f), Color::LightRed);
        assert_eq!(to_ansi16(0xd7, 0x00, 0x00), Color::Red);
        assert_eq!(to_ansi16(0xff, 0x87, 0x00), Color::Yellow);
        assert_eq!(to_ansi16(0xff, 0xd7, 0x5f), Color::LightYellow);
        assert_eq!(to_ansi16(0x5f, 0xd7, 0x5f), Color::LightGreen);
        assert_eq!(to_ansi16(0x00, 0x87, 0x00), Color::Green);
        assert_eq!(to_ansi16(0x5f, 0xaf, 0xff), Color::LightBlue);
        assert_eq!(to_ansi16(0x00, 0x9e, 0x73), Color::Cyan);
        assert_eq!(to_ansi16(0xff, 0x87, 0xff), Color::LightMagenta);
        assert_eq!(to_ansi16(0xbc, 0xbc, 0xbc), Color::Gray);
        assert_eq!(to_ansi16(0x94, 0x94, 0x94), Color::DarkGray);
        assert_eq!(to_ansi16(0x1c, 0x1c, 0x1c), Color::Black);
        assert_eq!(to_ansi16(0xff, 0xff, 0xff), Color::White);
    }

    #[test]
    fn fitting_keeps_modifiers_and_drops_colour_when_off() {
        let plain = Theme::dark().with_depth(ColorDepth::None);
        assert!(plain.colourless());
        assert_eq!(plain.selection().fg, Some(Color::Reset));
        assert!(plain.selection().add_modifier.contains(Modifier::REVERSED));
        assert!(plain.states.iter().all(|c| *c == Color::Reset));
        assert_eq!(plain.env_accent("prod"), Color::Reset);
        assert_eq!(plain.base(), None);

        let t256 = Theme::dark().with_depth(ColorDepth::Ansi256);
        assert_eq!(t256.state_color(SiteState::Error), Color::Indexed(203));
        let t16 = Theme::dark().with_depth(ColorDepth::Ansi16);
        assert_eq!(t16.state_color(SiteState::Error), Color::LightRed);
        assert_eq!(
            fit_color(Color::Indexed(203), ColorDepth::Ansi16),
            Color::LightRed
        );
        assert_eq!(fit_color(Color::Reset, ColorDepth::Ansi16), Color::Reset);
    }
}
