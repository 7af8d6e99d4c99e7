//! Key press to cursor on screen while the backend is frozen: the real
//! binary in tmux against a real Prometheus (three environments on it,
//! polled every 2 s with a 1 s timeout) that is stopped with SIGSTOP, so
//! every poll hangs until it times out. For each of PRESSES key presses
//! (`l` and `h` in turn) it times from `tmux send-keys` to the first
//! `capture-pane` whose status line names the new site (captures 1 ms
//! apart), and prints the median, p95 and max; the same first with
//! Prometheus running, and the cost of one `capture-pane` (the
//! measurement's resolution).
//!
//! `cargo bench --bench cursor_latency` (SITES=…, PRESSES=… to change it).
//! Not a test: tests/faults.rs checks that the cursor moves at all.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::tmux::{Tmux, live_dashboard};
use support::{FleetBuilder, FleetExporter, TestPrometheus};

const BIN: &str = env!("CARGO_BIN_EXE_site-status");
/// However slow, a press that shows nothing within this is a failure.
const GIVE_UP: Duration = Duration::from_secs(10);

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn crumbs(tmux: &Tmux) -> Option<String> {
    tmux.screen().cursor_crumbs().map(str::to_string)
}

/// Presses `key` and captures as fast as tmux answers until the cursor
/// has moved: the time from sending the key to that capture.
fn press(tmux: &Tmux, key: &str) -> Duration {
    let before = loop {
        if let Some(at) = crumbs(tmux) {
            break at;
        }
    };
    let sent = Instant::now();
    tmux.keys(&[key]);
    loop {
        if crumbs(tmux).is_some_and(|now| now != before) {
            return sent.elapsed();
        }
        if sent.elapsed() > GIVE_UP {
            panic!(
                "`{key}` did not move the cursor from {before} within {GIVE_UP:?}:\n{}",
                tmux.screen().framed()
            );
        }
        // Leaves the app a moment of CPU between two captures.
        std::thread::sleep(Duration::from_millis(1));
    }
}

struct Summary {
    median: Duration,
    p95: Duration,
    max: Duration,
    count: usize,
}

fn summary(mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Summary {
        median: at(0.5),
        p95: at(0.95),
        max: *samples.last().unwrap(),
        count: samples.len(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn presses(tmux: &Tmux, count: usize) -> Summary {
    summary(
        (0..count)
            .map(|i| press(tmux, if i % 2 == 0 { "l" } else { "h" }))
            .collect(),
    )
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("cursor_latency: measures only under `cargo bench --bench cursor_latency`");
        return;
    }
    support::tmux::require_tmux();
    let sites = env_number("SITES", 320);
    let count = env_number("PRESSES", 30).max(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let exporter = FleetExporter::start(FleetBuilder::new(sites).build());
    let prometheus = runtime.block_on(async {
        let prometheus = TestPrometheus::scraping(&exporter).await;
        prometheus
            .wait_for_fleet_within(&exporter, Duration::from_secs(120))
            .await;
        prometheus
    });
    let dir = tempfile::tempdir().unwrap();
    let (width, height) = (160, 45);
    let tmux = live_dashboard(BIN, &prometheus.url(), dir.path(), width, height);
    let stale = |tmux: &Tmux| tmux.screen().contains("STALE, data ");
    tmux.wait_for_within(Duration::from_secs(60), "the fleet on the grid", |s| {
        s.header().contains("updated")
            && s.section_lines().len() == 3
            && s.cursor_crumbs().is_some()
    });

    let capture = summary(
        (0..count)
            .map(|_| {
                let started = Instant::now();
                tmux.screen();
                started.elapsed()
            })
            .collect(),
    );
    let running = presses(&tmux, count);

    prometheus.freeze();
    tmux.wait_for_within(Duration::from_secs(30), "STALE on screen", |s| {
        s.contains("STALE, data ")
    });
    let frozen = presses(&tmux, count);
    let still_stale = stale(&tmux);
    prometheus.thaw();

    println!(
        "{sites} sites, 3 environments on one Prometheus, refresh 2 s, timeout 1 s, {width}x{height}, release build"
    );
    println!("| backend | presses | median | p95 | max |");
    println!("|---|---|---|---|---|");
    for (what, s) in [
        ("running", &running),
        ("frozen (SIGSTOP), STALE on screen", &frozen),
        ("(one capture-pane alone)", &capture),
    ] {
        println!(
            "| {what} | {} | {} | {} | {} |",
            s.count,
            ms(s.median),
            ms(s.p95),
            ms(s.max)
        );
    }
    assert!(still_stale, "Prometheus thawed before the presses ended?");
    tmux.keys(&["q"]);
}
