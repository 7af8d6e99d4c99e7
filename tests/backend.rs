//! The dashboard's own terminal backend (`terminal::FrameBackend`) must make
//! a terminal show exactly what ratatui's crossterm backend makes it show:
//! both are fed the same frames (the real dashboard's screens at 10,000
//! sites in every built-in theme and colour depth, and random buffers with
//! every colour form, modifier and wide characters), their bytes are
//! replayed through a terminal emulator (the `vt100` crate), and every
//! cell's text, colours and attributes are compared. Attributes the
//! emulator does not model (crossed out, hidden, blink, underline colour)
//! are compared byte for byte instead, where the two backends write the
//! same sequences.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::{Terminal, TerminalOptions, Viewport};
use site_status::app::keymap::{Action, Scope};
use site_status::app::{App, Settings};
use site_status::config::theme_file;
use site_status::poller::{Fetched, Slot};
use site_status::source::demo::DemoFleet;
use site_status::terminal::FrameBackend;
use site_status::ui::{self, ColorDepth, Theme};

const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;
const NOW_UNIX: u64 = 1_795_469_437;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

fn fixed<B: Backend>(backend: B) -> Terminal<B> {
    Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, WIDTH, HEIGHT)),
        },
    )
    .unwrap_or_else(|_| panic!("a fixed-size terminal"))
}

/// What a terminal shows after these bytes, cell by cell.
fn screen(bytes: &[u8]) -> Vec<String> {
    let mut parser = vt100::Parser::new(HEIGHT, WIDTH, 0);
    parser.process(bytes);
    let screen = parser.screen();
    let mut cells = Vec::new();
    for row in 0..HEIGHT {
        for col in 0..WIDTH {
            let cell = screen.cell(row, col).expect("a cell inside the screen");
            cells.push(format!(
                "{row},{col} {:?} fg={:?} bg={:?} b={} d={} i={} u={} r={}",
                cell.contents(),
                cell.fgcolor(),
                cell.bgcolor(),
                cell.bold(),
                cell.dim(),
                cell.italic(),
                cell.underline(),
                cell.inverse()
            ));
        }
    }
    cells
}

fn assert_same_screen(ours: &[u8], crossterm: &[u8], what: &str) {
    let (a, b) = (screen(ours), screen(crossterm));
    let differing: Vec<_> = a.iter().zip(&b).filter(|(x, y)| x != y).take(5).collect();
    assert!(
        differing.is_empty(),
        "{what}: the screens differ, first cells (ours, crossterm's): {differing:#?}"
    );
}

/// Both backends get the same frames one after the other, so that the
/// second and later frames are ratatui's diffs, as in the running app.
struct Pair {
    ours: Terminal<FrameBackend<Capture>>,
    ours_bytes: Capture,
    crossterm: Terminal<CrosstermBackend<Capture>>,
    crossterm_bytes: Capture,
}

impl Pair {
    fn new() -> Pair {
        let ours_bytes = Capture::default();
        let crossterm_bytes = Capture::default();
        Pair {
            ours: fixed(FrameBackend::new(ours_bytes.clone())),
            ours_bytes,
            crossterm: fixed(CrosstermBackend::new(crossterm_bytes.clone())),
            crossterm_bytes,
        }
    }

    fn draw(&mut self, paint: impl Fn(&mut ratatui::Frame)) {
        self.ours.draw(&paint).expect("drawing into memory");
        self.crossterm.draw(&paint).expect("drawing into memory");
    }

    fn assert_same(&self, what: &str) {
        assert_same_screen(
            &self.ours_bytes.bytes(),
            &self.crossterm_bytes.bytes(),
            what,
        );
    }
}

fn demo_app(sites: usize) -> App {
    let fleet = DemoFleet::new(sites, 1);
    let now = UNIX_EPOCH + Duration::from_secs(NOW_UNIX);
    let names: Vec<String> = fleet.environments().map(String::from).collect();
    let mut app = App::new(Settings::default(), &names, WIDTH, HEIGHT);
    app.now = now;
    for (i, env) in names.iter().enumerate() {
        let report = fleet
            .report(env, 50.0, NOW_UNIX as f64)
            .expect("a demo environment");
        let slot = Slot {
            last_good: Some(Fetched {
                value: Arc::new(report),
                at: now - Duration::from_secs(2),
            }),
            ..Slot::default()
        };
        app.apply_fleet(i, &slot);
    }
    app
}

fn themes() -> Vec<Theme> {
    let mut themes = Vec::new();
    for name in theme_file::built_in_names() {
        let theme = theme_file::built_in(name).expect("a built-in theme");
        for depth in [
            ColorDepth::TrueColor,
            ColorDepth::Ansi256,
            ColorDepth::Ansi16,
            ColorDepth::None,
        ] {
            themes.push(theme.with_depth(depth));
        }
    }
    themes
}

#[test]
fn the_dashboard_looks_the_same_through_both_backends() {
    let mut app = demo_app(10_000);
    for theme in themes() {
        let mut pair = Pair::new();
        let what = format!("{} at {:?}", theme.name, theme.depth);
        pair.draw(|f| ui::draw(f, &app, &theme));
        pair.assert_same(&format!("{what}, default layout"));
        // Then as diffs: compact, the problems view, back to the grid.
        app.perform(Scope::Grid, Action::ToggleCompact);
        pair.draw(|f| ui::draw(f, &app, &theme));
        pair.assert_same(&format!("{what}, compact"));
        app.perform(Scope::Grid, Action::ToggleCompact);
        for _ in 0..37 {
            app.perform(Scope::Grid, Action::Right);
        }
        pair.draw(|f| ui::draw(f, &app, &theme));
        pair.assert_same(&format!("{what}, cursor moved"));
    }
}

/// A small deterministic generator: the same cases on every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn color(&mut self) -> Color {
        const NAMED: [Color; 17] = [
            Color::Reset,
            Color::Black,
            Color::Red,
            Color::Green,
            Color::Yellow,
            Color::Blue,
            Color::Magenta,
            Color::Cyan,
            Color::Gray,
            Color::DarkGray,
            Color::LightRed,
            Color::LightGreen,
            Color::LightYellow,
            Color::LightBlue,
            Color::LightMagenta,
            Color::LightCyan,
            Color::White,
        ];
        match self.below(5) {
            0 => Color::Rgb(self.next() as u8, self.next() as u8, self.next() as u8),
            1 => Color::Indexed(self.next() as u8),
            2 => NAMED[self.below(17) as usize],
            // Few colours, so that runs of equal ones occur.
            _ => NAMED[self.below(3) as usize * 8],
        }
    }

    fn modifier(&mut self, all: Modifier) -> Modifier {
        Modifier::from_bits_truncate(self.next() as u16) & all
    }
}

fn random_buffer(random: &mut Random, modifiers: Modifier) -> Buffer {
    const SYMBOLS: [&str; 8] = ["a", " ", "▀", "▄", "█", "✖", "界", "é"];
    let area = Rect::new(0, 0, WIDTH, HEIGHT);
    let mut buffer = Buffer::empty(area);
    for y in 0..HEIGHT {
        let mut x = 0;
        while x < WIDTH {
            let symbol = SYMBOLS[random.below(SYMBOLS.len() as u64) as usize];
            let style = Style::default()
                .fg(random.color())
                .bg(random.color())
                .add_modifier(random.modifier(modifiers));
            buffer.set_string(x, y, symbol, style);
            x += if symbol == "界" { 2 } else { 1 };
        }
    }
    buffer
}

#[test]
fn random_frames_look_the_same_through_both_backends() {
    // What the emulator models: bold, dim, italic, underline, reverse.
    let modelled = Modifier::BOLD
        | Modifier::DIM
        | Modifier::ITALIC
        | Modifier::UNDERLINED
        | Modifier::REVERSED;
    let mut random = Random(0x5eed_cafe);
    let mut pair = Pair::new();
    for frame in 0..12 {
        let buffer = random_buffer(&mut random, modelled);
        pair.draw(|f| f.buffer_mut().merge(&buffer));
        pair.assert_same(&format!("random frame {frame}"));
    }
}

/// With equal colours (so neither backend sends any) and the same cells,
/// both send the same bytes: modifiers and underline colours, which the
/// emulator does not model, are then checked exactly.
#[test]
fn modifiers_and_underline_colours_are_sent_as_crossterm_sends_them() {
    let mut random = Random(0xface_b00c);
    for case in 0..300 {
        let area = Rect::new(0, 0, 40, 1);
        let mut buffer = Buffer::empty(area);
        for x in 0..40 {
            let mut style = Style::default().add_modifier(random.modifier(Modifier::all()));
            if random.below(3) == 0 {
                style = style.underline_color(random.color());
            }
            buffer.set_string(x, 0, "x", style);
        }
        let content = || {
            buffer
                .content
                .iter()
                .enumerate()
                .map(|(i, c)| (i as u16, 0u16, c))
        };
        let ours = Capture::default();
        FrameBackend::new(ours.clone())
            .draw(content())
            .expect("drawing into memory");
        let crossterm = Capture::default();
        CrosstermBackend::new(crossterm.clone())
            .draw(content())
            .expect("drawing into memory");
        assert_eq!(
            String::from_utf8_lossy(&ours.bytes()),
            String::from_utf8_lossy(&crossterm.bytes()),
            "case {case}"
        );
    }
}

#[test]
fn a_frame_reaches_the_terminal_in_one_write() {
    #[derive(Clone, Default)]
    struct Writes(Arc<Mutex<usize>>);
    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            *self.0.lock().unwrap() += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let app = demo_app(10_000);
    let theme = Theme::dark();
    let writes = Writes::default();
    let mut terminal = fixed(FrameBackend::new(writes.clone()));
    terminal
        .draw(|f| ui::draw(f, &app, &theme))
        .expect("drawing into memory");
    // The frame, then hiding the cursor: a partly written frame never
    // shows, and a slow terminal is not asked a thousand times.
    assert!(*writes.0.lock().unwrap() <= 2, "{:?}", writes.0);
}
