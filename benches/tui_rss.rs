//! The TUI's resident memory against a real Prometheus holding 10,000
//! sites (three environments on it, as the tests' exporter serves them):
//! the real binary in tmux, refreshing every 2 s with the fleet timeline
//! shown, its `VmRSS` and `VmHWM` read from /proc every 10 s for a few
//! minutes.
//!
//! `cargo bench --bench tui_rss` (SITES=…, MINUTES=… to change it).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::tmux::Tmux;
use support::{ENVIRONMENTS, FleetBuilder, FleetExporter, TestPrometheus};

fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("tui_rss: measures only under `cargo bench --bench tui_rss`");
        return;
    }
    support::tmux::require_tmux();
    let sites: usize = std::env::var("SITES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let minutes: u64 = std::env::var("MINUTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let exporter = FleetExporter::start(FleetBuilder::new(sites).build());
    let prometheus = runtime.block_on(async {
        let prometheus = TestPrometheus::builder()
            .target(exporter.target())
            .scrape_interval(Duration::from_secs(30))
            .scrape_timeout(Duration::from_secs(25))
            .start()
            .await;
        prometheus
            .wait_for_fleet_within(&exporter, Duration::from_secs(180))
            .await;
        prometheus
    });
    let dir = tempfile_dir();
    let config = dir.join("config.toml");
    let text: String = std::iter::once("refresh_interval = \"2s\"\n".to_string())
        .chain(ENVIRONMENTS.iter().map(|env| {
            format!(
                "[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\n[environment.prometheus]\nurl = \"{}\"\ntimeout = \"30s\"\n",
                prometheus.url()
            )
        }))
        .collect();
    std::fs::write(&config, text).unwrap();
    let binary = env!("CARGO_BIN_EXE_site-status");
    let command = support::tmux::command_line(&[binary, "--config", config.to_str().unwrap()]);
    // For experiments: `PREFIX='env MALLOC_ARENA_MAX=1'`.
    let command = match std::env::var("PREFIX") {
        Ok(prefix) => format!("{prefix} {command}"),
        Err(_) => command,
    };
    let tmux = Tmux::start(200, 50, &command);
    tmux.wait_for_within(Duration::from_secs(120), "the fleet on screen", |screen| {
        screen.contains("site-0")
    });
    let pid = tmux.app_pid();
    println!(
        "{sites} sites, 3 environments on one Prometheus, refresh 2 s, 200x50; VmRSS / VmHWM every 10 s"
    );
    let began = Instant::now();
    let mut peak_rss = 0;
    while began.elapsed() < Duration::from_secs(60 * minutes) {
        std::thread::sleep(Duration::from_secs(10));
        let Some((rss, hwm)) = memory_kib(pid) else {
            panic!("the TUI exited:\n{}", tmux.screen().lines.join("\n"));
        };
        peak_rss = peak_rss.max(rss);
        println!(
            "  {:>4} s: VmRSS {:.1} MB, VmHWM {:.1} MB",
            began.elapsed().as_secs(),
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
    }
    let (rss, hwm) = memory_kib(pid).unwrap_or_default();
    println!(
        "after {minutes} min: VmRSS {:.1} MB (highest sampled {:.1} MB), VmHWM {:.1} MB",
        rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    tmux.keys(&["q"]);
    drop(prometheus);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("site-status-rss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
