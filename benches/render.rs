//! Cost of drawing the fleet grid and of rebuilding its layout, at the
//! default demo size (320 sites) and at the size the project promises to
//! stay fast for (10,000 sites), on a 200x50 terminal.
//!
//! Run with `cargo bench --bench render`; results and the machine they were
//! taken on are in BENCHMARKS.md. The project's target: one full grid frame
//! for 10,000 sites in under 1 ms.
//!
//! Everything the app needs (the demo fleet, its reports, the `App` with the
//! reports applied) is built once per case, outside the timed closures.

use std::cell::Cell;
use std::hint::black_box;
use std::io::{self, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use ratatui::backend::{Backend, CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use site_status::app::keymap::{Action, Scope};
use site_status::app::{App, Settings};
use site_status::poller::{Fetched, Slot};
use site_status::source::EnvReport;
use site_status::source::demo::DemoFleet;
use site_status::terminal::FrameBackend;
use site_status::ui::{self, Theme};

const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;
const SEED: u64 = 1;
/// A fixed instant, so every run draws the same ages and the same states.
const NOW_UNIX: u64 = 1_795_469_437;
/// Simulated seconds since the demo started: a deploy wave is rolling, so
/// the grid shows a realistic mix of states rather than all-ok.
const DEMO_T: f64 = 50.0;
const FLEETS: [usize; 2] = [320, 10_000];

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW_UNIX)
}

/// One poll's worth of data: a slot per environment, all fetched at `at`.
struct Polled {
    env_names: Vec<String>,
    slots: Vec<Slot<EnvReport>>,
}

fn poll_demo(fleet: &DemoFleet, at: SystemTime) -> Polled {
    let env_names: Vec<String> = fleet.environments().map(String::from).collect();
    let slots = env_names
        .iter()
        .map(|env| {
            let report = fleet
                .report(env, DEMO_T, NOW_UNIX as f64)
                .expect("demo environment");
            Slot {
                last_good: Some(Fetched {
                    value: Arc::new(report),
                    at,
                }),
                ..Slot::default()
            }
        })
        .collect();
    Polled { env_names, slots }
}

fn demo_app(sites: usize, compact: bool) -> App {
    let fleet = DemoFleet::new(sites, SEED);
    let polled = poll_demo(&fleet, now() - Duration::from_secs(2));
    let mut app = App::new(Settings::default(), &polled.env_names, WIDTH, HEIGHT);
    app.now = now();
    for (i, slot) in polled.slots.iter().enumerate() {
        app.apply_fleet(i, slot);
    }
    if compact {
        app.perform(Scope::Grid, Action::ToggleCompact);
    }
    // Guard against benchmarking an empty or half-built grid.
    assert_eq!(app.grid.layout.sites.len(), fleet.site_count());
    assert_eq!(app.grid.compact, compact);
    app
}

/// `default` is what the grid picks by itself: profile headers when they
/// fit, else profiles flowing with cells as narrow as it takes (the label
/// was `normal` before the flowing layout; the rows below compare).
fn density(compact: bool) -> &'static str {
    if compact { "compact" } else { "default" }
}

/// The cases every frame benchmark runs: (sites, compact, label).
fn cases() -> impl Iterator<Item = (usize, bool, String)> {
    FLEETS.into_iter().flat_map(|sites| {
        [false, true]
            .into_iter()
            .map(move |compact| (sites, compact, format!("{sites}/{}", density(compact))))
    })
}

/// A full frame: every cell of the 200x50 screen painted and sent to the
/// backend, as after a resize, a `clear()`, or the first frame.
///
/// ratatui diffs each frame against the previous one and sends only the
/// cells that changed, so drawing the same state twice would, from the
/// second iteration on, measure a diff that finds nothing to send. The
/// honest way to force a full frame each iteration is `terminal.clear()`:
/// it empties the previous buffer (so the diff sends every painted cell)
/// and the TestBackend's screen. That is exactly what a full repaint costs
/// in the app too (ratatui's `resize` clears the same way), with warm
/// caches as in a running app. Resizing or alternating between two states
/// instead would either add allocation or measure a partial diff.
///
/// `clear()` is inside the timed loop; `terminal_clear_only` measures it
/// alone so its share can be subtracted (it is small: two buffer resets).
fn full_frame(c: &mut Criterion) {
    let theme = Theme::dark();
    let mut group = c.benchmark_group("full_frame");
    for (sites, compact, label) in cases() {
        let app = demo_app(sites, compact);
        let layout = &app.grid.layout;
        eprintln!(
            "full_frame/{label}: {:?} density, {} grid lines for {} screen lines, {} cells per row",
            layout.density,
            layout.lines.len(),
            app.grid_height(),
            layout.columns
        );
        let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                terminal.clear().unwrap();
                terminal
                    .draw(|f| ui::draw(f, black_box(&app), &theme))
                    .unwrap();
            })
        });
    }
    group.finish();
}

/// What a full frame's `clear()` costs by itself, to subtract from
/// `full_frame`.
fn terminal_clear_only(c: &mut Criterion) {
    let app = demo_app(320, false);
    let theme = Theme::dark();
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    terminal.draw(|f| ui::draw(f, &app, &theme)).unwrap();
    c.bench_function("terminal_clear_only", |b| {
        b.iter(|| terminal.clear().unwrap())
    });
}

/// A redraw with nothing changed: the widgets are still rendered into a
/// fresh buffer and the whole buffer is diffed, but no cell is sent. This
/// is close to what the app's one-second clock tick costs when no data
/// arrived (there only the "N s ago" texts change).
fn unchanged_frame(c: &mut Criterion) {
    let theme = Theme::dark();
    let mut group = c.benchmark_group("unchanged_frame");
    for (sites, compact, label) in cases() {
        let app = demo_app(sites, compact);
        let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
        terminal.draw(|f| ui::draw(f, &app, &theme)).unwrap();
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| {
                terminal
                    .draw(|f| ui::draw(f, black_box(&app), &theme))
                    .unwrap();
            })
        });
    }
    group.finish();
}

/// Where the crossterm backend's escape sequences go: memory, as a stand-in
/// for the tty. Counts what was written so the bench can report the size of
/// a full frame (ratatui's `CrosstermBackend::writer` is unstable API).
struct Capture {
    bytes: Vec<u8>,
    written: Rc<Cell<usize>>,
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        self.written.set(self.written.get() + buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A full frame through a real terminal backend, writing its escape
/// sequences into memory instead of a tty: the dashboard's own
/// (`terminal::FrameBackend`, what the app draws through) and, for
/// comparison, ratatui's crossterm backend it replaced. TestBackend only
/// copies cells; this adds the cost of encoding every cell's style and
/// cursor moves. A fixed viewport keeps the backend from asking a
/// (missing) tty for its size; `clear()` would ask, so each iteration gets
/// a fresh terminal from the untimed setup instead, and the timed part is
/// the `draw` alone.
fn full_frame_backends(c: &mut Criterion) {
    let theme = Theme::dark();
    let written = Rc::new(Cell::new(0));
    let capture = || Capture {
        bytes: Vec::with_capacity(256 * 1024),
        written: written.clone(),
    };
    for compact in [false, true] {
        let app = demo_app(10_000, compact);
        let label = format!("10000/{}", density(compact));
        frame_through(
            c,
            "full_frame_crossterm",
            &label,
            &app,
            &theme,
            || fixed(CrosstermBackend::new(capture())),
            &written,
        );
        frame_through(
            c,
            "full_frame_ours",
            &label,
            &app,
            &theme,
            || fixed(FrameBackend::new(capture())),
            &written,
        );
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

fn frame_through<B: Backend>(
    c: &mut Criterion,
    group: &str,
    label: &str,
    app: &App,
    theme: &Theme,
    fresh_terminal: impl Fn() -> Terminal<B>,
    written: &Rc<Cell<usize>>,
) {
    written.set(0);
    fresh_terminal()
        .draw(|f| ui::draw(f, app, theme))
        .unwrap_or_else(|_| panic!("drawing into memory"));
    eprintln!(
        "{group}/{label}: {} bytes of escape sequences per full frame",
        written.get()
    );
    let mut group = c.benchmark_group(group);
    group.bench_function(BenchmarkId::from_parameter(label), |b| {
        b.iter_batched_ref(
            &fresh_terminal,
            |terminal| {
                terminal
                    .draw(|f| ui::draw(f, black_box(app), theme))
                    .unwrap_or_else(|_| panic!("drawing into memory"));
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// `App::relayout` regroups, sorts and places every site; it runs on each
/// data update (once per environment), each filter keystroke, sort or
/// density toggle, and resize.
fn relayout(c: &mut Criterion) {
    let mut group = c.benchmark_group("relayout");
    for (compact, filter, label) in [
        (false, "", "10000/default"),
        (true, "", "10000/compact"),
        // A filter keystroke: every name is matched against the needle.
        (false, "nord", "10000/default_filtered"),
    ] {
        let mut app = demo_app(10_000, compact);
        app.grid.filter_text = filter.to_string();
        app.relayout();
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| black_box(&mut app).relayout())
        });
    }
    group.finish();
}

/// One poll round arriving for all three environments, as the runtime
/// applies it: `apply_fleet` per environment, each copying the report into
/// the app, computing states and counts, and re-laying out the grid. Two
/// polls with different fetch times alternate, so each application counts
/// as new data (an unchanged fetch time is skipped by `apply_fleet`).
fn data_update(c: &mut Criterion) {
    let fleet = DemoFleet::new(10_000, SEED);
    let polls = [
        poll_demo(&fleet, now() - Duration::from_secs(2)),
        poll_demo(&fleet, now() - Duration::from_secs(1)),
    ];
    let mut app = demo_app(10_000, false);
    let mut which = 0;
    c.bench_function("data_update/10000/default", |b| {
        b.iter(|| {
            which = 1 - which;
            for (i, slot) in polls[which].slots.iter().enumerate() {
                app.apply_fleet(i, black_box(slot));
            }
        })
    });
}

criterion_group!(
    benches,
    full_frame,
    terminal_clear_only,
    unchanged_frame,
    full_frame_backends,
    relayout,
    data_update
);
criterion_main!(benches);
