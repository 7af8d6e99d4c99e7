//! The themes: every built-in one parses and is readable (WCAG contrast),
//! `colorblind` stays distinguishable under simulated colour blindness,
//! user themes inherit and fail precisely, and with colour off not one
//! colour sequence reaches the terminal.

mod support;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::{Terminal, TerminalOptions, Viewport};
use site_status::app::App;
use site_status::app::keymap::{Action, Scope};
use site_status::config::theme_file::{self, BUILT_IN};
use site_status::model::SiteState;
use site_status::terminal::FrameBackend;
use site_status::ui::theme::{ColorDepth, xterm256_rgb};
use site_status::ui::{self, Theme};
use support::scenes::demo_app;

fn built_ins() -> Vec<Theme> {
    theme_file::built_in_names()
        .map(|name| theme_file::built_in(name).unwrap())
        .collect()
}

fn rgb(color: Color) -> (u8, u8, u8) {
    match color {
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) => xterm256_rgb(i),
        other => panic!("not an RGB colour: {other:?}"),
    }
}

// ---- colour science -------------------------------------------------------

/// sRGB channel to linear light (IEC 61966-2-1, as WCAG 2.x uses it).
fn linear(channel: u8) -> f64 {
    let c = f64::from(channel) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn linear_rgb(color: Color) -> [f64; 3] {
    let (r, g, b) = rgb(color);
    [linear(r), linear(g), linear(b)]
}

/// WCAG 2.x relative luminance.
fn luminance([r, g, b]: [f64; 3]) -> f64 {
    0.2126 * r + 0.7152 * g + 0.0722 * b
}

/// WCAG 2.x contrast ratio, 1 to 21.
fn contrast(a: Color, b: Color) -> f64 {
    let (la, lb) = (luminance(linear_rgb(a)), luminance(linear_rgb(b)));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// CIE L*a*b* (D65) of a linear sRGB colour.
fn lab([r, g, b]: [f64; 3]) -> [f64; 3] {
    let x = 0.4124 * r + 0.3576 * g + 0.1805 * b;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = 0.0193 * r + 0.1192 * g + 0.9505 * b;
    let f = |t: f64| {
        let d: f64 = 6.0 / 29.0;
        if t > d.powi(3) {
            t.cbrt()
        } else {
            t / (3.0 * d * d) + 4.0 / 29.0
        }
    };
    let (fx, fy, fz) = (f(x / 0.95047), f(y), f(z / 1.08883));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// CIE76 colour difference: Euclidean distance in L*a*b*.
fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Dichromacy simulation matrices of Machado, Oliveira & Fernandes, "A
/// Physiologically-based Model for Simulation of Color Vision Deficiency",
/// IEEE TVCG 15(6), 2009, severity 1.0 (the published table at
/// https://www.inf.ufrgs.br/~oliveira/pubs_files/CVD_Simulation/CVD_Simulation.html).
/// Applied to linear RGB, as Burrus's review of simulators recommends
/// (DaltonLens, "Review of Open Source Color Blindness Simulations", 2021).
/// Machado's tritanopia is the least accurate of the three; it is used
/// here as a screen, with a margin in the threshold.
const PROTANOPIA: [[f64; 3]; 3] = [
    [0.152286, 1.052583, -0.204868],
    [0.114503, 0.786281, 0.099216],
    [-0.003882, -0.048116, 1.051998],
];
const DEUTERANOPIA: [[f64; 3]; 3] = [
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.011820, 0.042940, 0.968881],
];
const TRITANOPIA: [[f64; 3]; 3] = [
    [1.255528, -0.076749, -0.178779],
    [-0.078411, 0.930809, 0.147602],
    [0.004733, 0.691367, 0.303900],
];

fn simulate(m: &[[f64; 3]; 3], c: [f64; 3]) -> [f64; 3] {
    m.map(|row| (row[0] * c[0] + row[1] * c[1] + row[2] * c[2]).clamp(0.0, 1.0))
}

// ---- the built-in themes ----------------------------------------------------

#[test]
fn every_built_in_theme_parses_and_sets_every_role_itself() {
    let names: Vec<&str> = theme_file::built_in_names().collect();
    assert_eq!(names, ["dark", "light", "high-contrast", "colorblind"]);
    for (name, text) in BUILT_IN {
        // Built-in themes inherit nothing: parsing one as a file that may
        // not inherit fails on any role it leaves out.
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("inherits")),
            "{name}"
        );
        let theme = theme_file::built_in(name).unwrap();
        assert_eq!(theme.name, name);
        assert_eq!(theme.depth, ColorDepth::TrueColor);
        // Every colour is a 24-bit one from the file.
        for c in theme.states.iter().chain([
            &theme.muted_requirement,
            &theme.text,
            &theme.muted_text,
            &theme.border,
            &theme.accent,
            &theme.selection_fg,
            &theme.selection_bg,
            &theme.header_fg,
            &theme.header_bg,
            &theme.background,
        ]) {
            assert!(matches!(c, Color::Rgb(..)), "{name}: {c:?}");
        }
        // The file on disk is the one compiled in.
        let on_disk = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("themes/{name}.toml")),
        )
        .unwrap();
        assert_eq!(on_disk, text);
    }
    assert_eq!(Theme::dark(), theme_file::built_in("dark").unwrap());
}

#[test]
fn every_state_is_readable_on_its_background_in_every_built_in_theme() {
    let mut failures = Vec::new();
    for theme in built_ins() {
        // WCAG 2.x 1.4.3 (AA) for text: 4.5:1. The high-contrast theme
        // meets 1.4.6 (AAA): 7:1.
        let needed = if theme.name == "high-contrast" {
            7.0
        } else {
            4.5
        };
        let mut check = |what: String, fg: Color, bg: Color, needed: f64| {
            let ratio = contrast(fg, bg);
            if ratio < needed {
                failures.push(format!(
                    "{}: {what} {fg:?} on {bg:?}: {ratio:.2}:1 < {needed}:1",
                    theme.name
                ));
            }
        };
        for state in SiteState::ALL {
            check(
                format!("state {}", state.key()),
                theme.state_color(state),
                theme.background,
                needed,
            );
        }
        check(
            "muted requirement".into(),
            theme.muted_requirement,
            theme.background,
            needed,
        );
        // The text around the states, at AA.
        check("text".into(), theme.text, theme.background, 4.5);
        check("muted text".into(), theme.muted_text, theme.background, 4.5);
        check("accent".into(), theme.accent, theme.background, 4.5);
        check("header".into(), theme.header_fg, theme.header_bg, 4.5);
        // Reverse video: the cell's background is the text shown.
        check(
            "selection".into(),
            theme.selection_bg,
            theme.selection_fg,
            4.5,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The states that must never be confused with each other. Info may look
/// like ok (both are fine) and is left out.
const DISTINCT: [SiteState; 7] = [
    SiteState::Error,
    SiteState::TargetDown,
    SiteState::RunFailed,
    SiteState::NoData,
    SiteState::Stale,
    SiteState::Warning,
    SiteState::Ok,
];

/// The smallest CIE76 ΔE between any two of those states under each
/// simulated vision.
///
/// The threshold: ΔE*ab ≈ 2.3 is a just-noticeable difference between
/// large patches side by side; the grid shows one-cell glyphs scattered
/// over a screen, to be told apart at a glance, so a much larger distance
/// is asked for. 15 keeps the pairs in clearly different colour names (for
/// reference, the dark theme's worst pair under deuteranopia, error and
/// ok, is about 10 apart and reads as "two browns").
const MIN_DELTA_E: f64 = 15.0;

#[test]
fn colorblind_states_stay_distinguishable_under_simulated_dichromacy() {
    let theme = theme_file::built_in("colorblind").unwrap();
    let mut report = Vec::new();
    let mut worst_overall = f64::INFINITY;
    for (vision, matrix) in [
        ("normal", None),
        ("protanopia", Some(&PROTANOPIA)),
        ("deuteranopia", Some(&DEUTERANOPIA)),
        ("tritanopia", Some(&TRITANOPIA)),
    ] {
        let seen = |s: SiteState| {
            let c = linear_rgb(theme.state_color(s));
            lab(matrix.map_or(c, |m| simulate(m, c)))
        };
        let mut worst = (f64::INFINITY, SiteState::Ok, SiteState::Ok);
        for (i, a) in DISTINCT.iter().enumerate() {
            for b in &DISTINCT[i + 1..] {
                let d = delta_e(seen(*a), seen(*b));
                if d < worst.0 {
                    worst = (d, *a, *b);
                }
            }
        }
        report.push(format!(
            "{vision}: closest {} / {} at ΔE {:.1}",
            worst.1.key(),
            worst.2.key(),
            worst.0
        ));
        worst_overall = worst_overall.min(worst.0);
    }
    assert!(
        worst_overall >= MIN_DELTA_E,
        "need ΔE ≥ {MIN_DELTA_E}:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_simulation_is_the_published_one() {
    // Sanity of the machinery: a dichromat's simulated pure red and green
    // collapse toward each other, a trichromat's do not; white stays white.
    let red = linear_rgb(Color::Rgb(0xff, 0, 0));
    let green = linear_rgb(Color::Rgb(0, 0xff, 0));
    let normal = delta_e(lab(red), lab(green));
    let deutan = delta_e(
        lab(simulate(&DEUTERANOPIA, red)),
        lab(simulate(&DEUTERANOPIA, green)),
    );
    assert!(normal > 100.0 && deutan < normal / 2.0, "{normal} {deutan}");
    for m in [&PROTANOPIA, &DEUTERANOPIA, &TRITANOPIA] {
        let white = simulate(m, [1.0, 1.0, 1.0]);
        assert!(white.iter().all(|c| (c - 1.0).abs() < 0.01), "{white:?}");
    }
    // WCAG's own examples: black on white is 21:1, a colour on itself 1:1.
    assert!((contrast(Color::Rgb(0, 0, 0), Color::Rgb(255, 255, 255)) - 21.0).abs() < 1e-9);
    assert!(
        (contrast(Color::Rgb(0x77, 0x77, 0x77), Color::Rgb(0x77, 0x77, 0x77)) - 1.0).abs() < 1e-9
    );
    // #767676 on white is the well-known smallest grey that passes AA.
    let grey = contrast(Color::Rgb(0x76, 0x76, 0x76), Color::Rgb(0xff, 0xff, 0xff));
    assert!((4.5..4.6).contains(&grey), "{grey}");
}

// ---- user themes ------------------------------------------------------------

fn parse(text: &str) -> Result<Theme, String> {
    theme_file::parse(
        text,
        Path::new("/home/op/.config/site-status/themes/mine.toml"),
    )
    .map_err(|e| e.0)
}

#[test]
fn a_user_theme_sets_some_roles_and_inherits_the_rest() {
    let t = parse("# mine\n[state]\nerror = \"#ff0000\"\n").unwrap();
    let dark = Theme::dark();
    assert_eq!(t.name, "mine");
    assert_eq!(t.state_color(SiteState::Error), Color::Rgb(0xff, 0, 0));
    assert_eq!(
        t.state_color(SiteState::Ok),
        dark.state_color(SiteState::Ok)
    );
    assert_eq!(t.text, dark.text);
    assert_eq!(t.selection_fg, dark.selection_fg);
    assert_eq!(t.selection_bg, dark.selection_bg);

    let light = theme_file::built_in("light").unwrap();
    let t = parse(
        "inherits = \"light\"\ntext = \"#000000\"\n[env_accent]\nprod = \"#aa0000\"\nstaging = \"#0000aa\"\n",
    )
    .unwrap();
    assert_eq!(t.text, Color::Rgb(0, 0, 0));
    assert_eq!(t.background, light.background);
    assert!(t.fill_background);
    assert_eq!(t.env_accent("prod"), Color::Rgb(0xaa, 0, 0));
    assert_eq!(t.env_accent("staging"), Color::Rgb(0, 0, 0xaa));
    assert_eq!(t.env_accent("dev"), light.accent);

    // The selection is written as shown: `fg` on `bg`.
    let t = parse("[selection]\nfg = \"#111111\"\nbg = \"#eeeeee\"\n").unwrap();
    assert_eq!(t.selection_bg, Color::Rgb(0x11, 0x11, 0x11));
    assert_eq!(t.selection_fg, Color::Rgb(0xee, 0xee, 0xee));

    // A user's own `dark.toml` may inherit the built-in dark.
    let t = theme_file::parse(
        "inherits = \"dark\"\nborder = \"#123456\"\n",
        Path::new("themes/dark.toml"),
    )
    .unwrap();
    assert_eq!(t.border, Color::Rgb(0x12, 0x34, 0x56));
}

#[test]
fn an_unknown_role_names_the_file_the_line_and_the_role() {
    let e =
        parse("text = \"#000000\"\n\n[state]\nok = \"#00ff00\"\neror = \"#ff0000\"\n").unwrap_err();
    assert!(
        e.starts_with("/home/op/.config/site-status/themes/mine.toml:5: role `state.eror`: unknown role `eror`"),
        "{e}"
    );
    assert!(e.contains("target_down"), "lists the roles there are: {e}");

    let e = parse("# a theme\ntext_colour = \"#000000\"\n").unwrap_err();
    assert!(
        e.starts_with(
            "/home/op/.config/site-status/themes/mine.toml:2: role `text_colour`: unknown role"
        ),
        "{e}"
    );

    let e = parse("[selection]\nfg = \"#000000\"\nunderline = \"#000000\"\n").unwrap_err();
    assert!(e.contains("mine.toml:3: role `selection.underline`"), "{e}");

    let e = parse("[palette]\nred = \"#ff0000\"\n").unwrap_err();
    assert!(e.contains("mine.toml:1:") && e.contains("palette"), "{e}");
}

#[test]
fn a_bad_colour_names_the_file_the_line_and_the_role() {
    for (bad, shown) in [
        ("\"red\"", "\"red\" is not a colour"),
        ("\"#ff00\"", "\"#ff00\" is not a colour"),
        ("\"ff0000\"", "\"ff0000\" is not a colour"),
        ("\"#gg0000\"", "\"#gg0000\" is not a colour"),
        ("0xff0000", "expected a colour as \"#rrggbb\""),
    ] {
        let e = parse(&format!("text = \"#000000\"\n[state]\nwarning = {bad}\n")).unwrap_err();
        assert!(
            e.starts_with(
                "/home/op/.config/site-status/themes/mine.toml:3: role `state.warning`: "
            ),
            "{bad}: {e}"
        );
        assert!(e.contains(shown), "{bad}: {e}");
        assert!(e.contains("#rrggbb"), "{bad}: {e}");
    }
    let e = parse("[env_accent]\nprod = \"crimson\"\n").unwrap_err();
    assert!(
        e.contains("mine.toml:2: role `env_accent.prod`") && e.contains("crimson"),
        "{e}"
    );
    let e = parse("fill_background = \"yes\"\n").unwrap_err();
    assert!(e.contains("mine.toml:1: role `fill_background`"), "{e}");
}

#[test]
fn inheriting_an_unknown_theme_names_the_line() {
    let e = parse("text = \"#000000\"\ninherits = \"solarized\"\n").unwrap_err();
    assert!(
        e.starts_with("/home/op/.config/site-status/themes/mine.toml:2: role `inherits`: no built-in theme \"solarized\""),
        "{e}"
    );
    assert!(e.contains("high-contrast"), "{e}");
}

#[test]
fn themes_load_by_name_from_the_config_directory_or_by_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("themes")).unwrap();
    let file = dir.path().join("themes/ops.toml");
    std::fs::write(
        &file,
        "inherits = \"high-contrast\"\n[state]\nok = \"#00ff00\"\n",
    )
    .unwrap();

    let t = theme_file::load("ops", Some(dir.path())).unwrap();
    assert_eq!(t.name, "ops");
    assert_eq!(t.state_color(SiteState::Ok), Color::Rgb(0, 0xff, 0));
    let t = theme_file::load(file.to_str().unwrap(), None).unwrap();
    assert_eq!(t.name, "ops");
    // Built-in names work with or without a config directory.
    assert_eq!(
        theme_file::load("light", Some(dir.path())).unwrap().name,
        "light"
    );
    assert_eq!(
        theme_file::load("colorblind", None).unwrap().name,
        "colorblind"
    );

    let e = theme_file::load("nope", Some(dir.path())).unwrap_err().0;
    assert!(
        e.contains("no theme \"nope\"") && e.contains("dark, light"),
        "{e}"
    );
    assert!(e.contains("themes/nope.toml"), "says where it looked: {e}");
    let e = theme_file::load("/no/such/theme.toml", None).unwrap_err().0;
    assert!(e.starts_with("/no/such/theme.toml: cannot read"), "{e}");

    // An error in a file loaded by name names that file.
    std::fs::write(&file, "[state]\nok = \"green\"\n").unwrap();
    let e = theme_file::load("ops", Some(dir.path())).unwrap_err().0;
    assert!(
        e.starts_with(&format!("{}:2: role `state.ok`", file.display())),
        "{e}"
    );
}

// ---- colour depth and NO_COLOR ----------------------------------------------

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The bytes the terminal receives for one frame, drawn in full on a
/// fresh terminal.
fn frame_bytes(app: &App, theme: &Theme) -> Vec<u8> {
    let capture = Capture::default();
    let mut terminal = Terminal::with_options(
        FrameBackend::new(capture.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, app.width, app.height)),
        },
    )
    .unwrap();
    terminal.draw(|f| ui::draw(f, app, theme)).unwrap();
    drop(terminal);
    capture.0.lock().unwrap().clone()
}

/// Two sites per cell: compact mode with more sites than cells.
fn dense_app() -> App {
    let mut app = demo_app(10_000, 120, 40);
    app.perform(Scope::Grid, Action::ToggleCompact);
    app
}

/// The grid, the dense compact grid (whose half blocks are all colour) and
/// the site view.
fn terminal_bytes(theme: &Theme) -> Vec<u8> {
    let mut app = demo_app(320, 120, 40);
    let mut bytes = frame_bytes(&app, theme);
    bytes.extend(frame_bytes(&dense_app(), theme));
    app.perform(Scope::Grid, Action::Open);
    bytes.extend(frame_bytes(&app, theme));
    bytes
}

/// Every SGR (`ESC [ … m`) in the output, as its parameter list.
fn sgr_sequences(bytes: &[u8]) -> Vec<Vec<u16>> {
    let mut found = Vec::new();
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|b| *b == 0x1b) {
        let seq = &rest[at..];
        if seq.get(1) != Some(&b'[') {
            rest = &seq[1..];
            continue;
        }
        let Some(end) = seq[2..].iter().position(|b| (0x40..=0x7e).contains(b)) else {
            break;
        };
        let end = end + 2;
        if seq[end] == b'm' {
            let params = String::from_utf8_lossy(&seq[2..end]);
            found.push(
                params
                    .split([';', ':'])
                    .map(|p| p.parse().unwrap_or(0))
                    .collect(),
            );
        }
        rest = &seq[end + 1..];
    }
    found
}

/// SGR parameters that set a colour: 30–38, 40–48, 90–97, 100–107 and the
/// underline colour 58. (39, 49 and 59 are "the default colour".)
fn sets_a_colour(param: u16) -> bool {
    matches!(param, 30..=38 | 40..=48 | 58 | 90..=97 | 100..=107)
}

#[test]
fn with_no_color_not_one_colour_sequence_is_written() {
    for theme in built_ins() {
        let plain = theme.with_depth(ColorDepth::None);
        let bytes = terminal_bytes(&plain);
        let sgr = sgr_sequences(&bytes);
        assert!(!sgr.is_empty(), "the frames set attributes");
        for params in &sgr {
            assert!(
                !params.iter().any(|p| sets_a_colour(*p)),
                "{}: colour in ESC[{}m",
                theme.name,
                params
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(";")
            );
        }
        // Reverse video still marks the cursor, and glyphs carry the states.
        assert!(
            sgr.iter().any(|p| p.contains(&7)),
            "{}: no reverse video",
            theme.name
        );
        let grid =
            String::from_utf8_lossy(&frame_bytes(&demo_app(320, 120, 40), &plain)).into_owned();
        assert!(grid.contains('✖') && grid.contains('●'), "{}", theme.name);
        // The dense grid's half blocks would be blank without colour: it
        // shows the worse site's glyph per cell instead, in the same glyph
        // set as the rest of the screen.
        let dense = String::from_utf8_lossy(&frame_bytes(&dense_app(), &plain)).into_owned();
        assert!(
            !dense.contains('▀'),
            "{}: colour-only half blocks",
            theme.name
        );
        assert!(dense.contains('✖') && dense.contains('●'), "{}", theme.name);
        assert!(
            dense.contains('─'),
            "{}: Unicode kept elsewhere",
            theme.name
        );
        // With colour, the same grid does use them.
        let coloured = frame_bytes(&dense_app(), &theme);
        assert!(String::from_utf8_lossy(&coloured).contains('▀'));
    }
}

#[test]
fn the_no_color_variable_turns_colour_off() {
    use site_status::ui::theme::ColorChoice;
    let depth = ColorChoice::Auto.depth(Some("1"), Some("truecolor"), Some("xterm-256color"));
    assert_eq!(depth, ColorDepth::None);
    assert!(Theme::dark().with_depth(depth).colourless());
}

#[test]
fn fewer_colours_get_the_nearest_ones() {
    // For contrast: 24-bit colour is written as 38;2 / 48;2.
    let full = sgr_sequences(&terminal_bytes(&Theme::dark()));
    assert!(full.iter().any(|p| p.starts_with(&[38, 2])));

    for theme in built_ins() {
        for (depth, max_index) in [(ColorDepth::Ansi256, 255u16), (ColorDepth::Ansi16, 15)] {
            let sgr = sgr_sequences(&terminal_bytes(&theme.with_depth(depth)));
            let mut indexed = 0;
            for p in &sgr {
                let mut i = 0;
                while i < p.len() {
                    if matches!(p[i], 38 | 48 | 58) {
                        assert_eq!(p.get(i + 1), Some(&5), "{} at {depth:?}: {p:?}", theme.name);
                        let index = p[i + 2];
                        assert!(index <= max_index, "{} at {depth:?}: {p:?}", theme.name);
                        indexed += 1;
                        i += 3;
                    } else {
                        i += 1;
                    }
                }
            }
            assert!(indexed > 0, "{} at {depth:?}", theme.name);
        }
    }
}

#[test]
fn light_themes_paint_their_background() {
    let light = theme_file::built_in("light").unwrap();
    let mut terminal = Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    let app = demo_app(320, 80, 24);
    terminal.draw(|f| ui::draw(f, &app, &light)).unwrap();
    let buffer = terminal.backend().buffer();
    let painted = buffer
        .content()
        .iter()
        .filter(|c| c.bg == light.background)
        .count();
    // All but the header, the cursor and similar.
    assert!(painted > buffer.content().len() * 3 / 4, "{painted}");
    assert!(
        buffer.content().iter().all(|c| c.fg != Color::Reset),
        "no text in the terminal's own colour on a painted background"
    );
}

#[test]
fn the_readme_theme_example_parses() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("themes/mine.toml").expect("the example");
    let block: String = readme[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.contains("```"))
        .map(|l| format!("{}\n", l.trim()))
        .collect();
    let theme = parse(&block).unwrap();
    assert_eq!(
        theme.background,
        Color::Rgb(0xff, 0xff, 0xff),
        "inherits light"
    );
    assert_eq!(theme.env_accent("prod"), Color::Rgb(0xc0, 0, 0));
    assert!(contrast(theme.state_color(SiteState::Warning), theme.background) >= 4.5);
}

#[test]
fn the_configuration_names_a_theme_relative_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    let env = "[[environment]]\nname = \"prod\"\n[environment.prometheus]\nurl = \"http://127.0.0.1:9\"\n";
    let config =
        site_status::config::Config::parse(&format!("theme = \"light\"\n{env}"), &config_path)
            .unwrap();
    assert_eq!(config.theme.as_deref(), Some("light"));
    let config = site_status::config::Config::parse(env, &config_path).unwrap();
    assert_eq!(config.theme, None);

    std::fs::create_dir(dir.path().join("colours")).unwrap();
    std::fs::write(
        dir.path().join("colours/ops.toml"),
        "border = \"#010203\"\n",
    )
    .unwrap();
    let t = theme_file::load_for_config("colours/ops.toml", &config_path).unwrap();
    assert_eq!(t.border, Color::Rgb(1, 2, 3));
    let e = theme_file::load_for_config("nope", &config_path)
        .unwrap_err()
        .0;
    assert!(
        e.contains("no theme \"nope\"") && e.contains("config.toml"),
        "{e}"
    );
}
