//! The TUI's resident memory and CPU against a real Prometheus holding
//! 10,000 sites (three environments on it, as the tests' exporter serves
//! them): the real binary in tmux, refreshing every 2 s with the fleet
//! timeline shown, its `VmRSS` and `VmHWM` read from /proc every 10 s for a
//! few minutes, and the CPU it used over that time.
//!
//! `cargo bench --bench tui_rss` (SITES=…, MINUTES=… to change it). The
//! default is the bare Prometheus the figures of issue 17 were taken on;
//! issue 26 measures the dashboard deployed as recommended:
//!
//! - `RULES=1`: Prometheus loads deploy/prometheus/site-status.rules.yml as
//!   shipped (evaluated every 30 s), so alerts and recorded series exist;
//! - `STORM=1`: two thirds of the sites fail a requirement at error, which
//!   with the rules is over 10,000 alerts; the bench waits for them;
//! - `RECORDING=1` (needs `RULES=1`): the dashboard reads the recorded
//!   series (`use_recording_rules = true`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::tmux::Tmux;
use support::{ENVIRONMENTS, FleetBuilder, FleetExporter, TestPrometheus};

/// Enough sites in error that, with the rules' one alert per failing
/// requirement, a 10,000-site fleet holds over 10,000 alerts.
const STORM_ERROR_PERCENT: u64 = 67;
/// What an alert storm is for this bench: the number the issue found the
/// dashboard's memory rising with.
const STORM_ALERTS: usize = 10_000;

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

/// The CPU time the process has used, user and system, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields are counted
    // from its closing one, where field 3 (state) begins.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some((utime + stime) as f64 / ticks_per_second.max(1) as f64)
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// `count(ALERTS)`: alerts pending or firing; 0 when there are none or
/// Prometheus does not answer.
async fn alerts_held(prometheus: &TestPrometheus) -> usize {
    prometheus
        .query("count(ALERTS)")
        .await
        .ok()
        .and_then(|samples| samples.first().map(|s| s.value as usize))
        .unwrap_or(0)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("tui_rss: measures only under `cargo bench --bench tui_rss`");
        return;
    }
    support::tmux::require_tmux();
    let sites: usize = number("SITES", 10_000);
    let minutes: u64 = number("MINUTES", 3);
    let rules = flag("RULES");
    let storm = flag("STORM");
    let recording = flag("RECORDING");
    assert!(
        rules || !recording,
        "RECORDING=1 needs RULES=1: the recorded series come from the rules"
    );
    let mode = format!(
        "{}{}{}",
        if recording { "recorded series" } else { "raw" },
        if rules { ", rules" } else { ", no rules" },
        if storm { ", storm" } else { "" }
    );
    // A bigger fleet takes proportionally longer to scrape and to compare.
    let patience = Duration::from_secs(180) * (sites.div_ceil(10_000) as u32).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut fleet = FleetBuilder::new(sites);
    if storm {
        fleet = fleet.error_percent(STORM_ERROR_PERCENT);
    }
    let exporter = FleetExporter::start(fleet.build());
    let prometheus = runtime.block_on(async {
        let mut builder = TestPrometheus::builder()
            .target(exporter.target())
            .scrape_interval(Duration::from_secs(30))
            .scrape_timeout(Duration::from_secs(25));
        if rules {
            // As shipped: the alerts group then runs at the global
            // evaluation interval, the scrape interval here, 30 s too.
            builder = builder.rule_file(&shipped_rules());
        }
        let prometheus = builder.start().await;
        if sites <= 10_000 {
            prometheus.wait_for_fleet_within(&exporter, patience).await;
        } else {
            // Every series of a bigger fleet in one answer takes longer than
            // the harness' 10 s request timeout: their number must do.
            let count = format!(
                "count({{__name__=~\"drupal_.+\", instance=\"{}\"}})",
                exporter.target()
            );
            let expected = exporter.series_count();
            prometheus
                .wait_for_within(&count, patience, |samples| {
                    samples
                        .first()
                        .is_some_and(|s| s.value as usize == expected)
                })
                .await;
        }
        prometheus
    });
    let alerts_before = if rules {
        // Alerts go pending on the first evaluation after the recorded
        // series they read exist: a minute or so after the first scrape.
        let wanted = if storm { STORM_ALERTS } else { 1 };
        let samples = runtime.block_on(prometheus.wait_for_within(
            "count(ALERTS)",
            patience,
            |samples| samples.first().is_some_and(|s| s.value as usize >= wanted),
        ));
        let held = samples.first().map_or(0, |s| s.value as usize);
        println!("Prometheus holds {held} alerts, pending or firing (count(ALERTS))");
        held
    } else {
        0
    };
    let dir = tempfile_dir();
    let config = dir.join("config.toml");
    let recorded = if recording {
        "use_recording_rules = true\n"
    } else {
        ""
    };
    let text: String = std::iter::once("refresh_interval = \"2s\"\n".to_string())
        .chain(ENVIRONMENTS.iter().map(|env| {
            format!(
                "[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\n{recorded}[environment.prometheus]\nurl = \"{}\"\ntimeout = \"30s\"\n",
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
    // Launch: from the start of the process to the first sites drawn, and
    // to every site loaded (the header counts them all), read off the
    // screen every 20 ms.
    let started = Instant::now();
    let tmux = Tmux::start(200, 50, &command);
    // Loaded: every environment answered (the header says when it was
    // updated), and no first answer (the sites before their failing
    // requirements) is still shown.
    let all_loaded = "updated ";
    let mut first_sites = None;
    let mut screen = String::new();
    while started.elapsed() < patience {
        screen = tmux.screen().lines.join("\n");
        if first_sites.is_none() && screen.contains("site-0") {
            first_sites = Some(started.elapsed());
        }
        if first_sites.is_some() && screen.contains(all_loaded) && !screen.contains("first answer")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let loaded = started.elapsed();
    if loaded >= patience {
        println!("not all loaded within {patience:?}; the screen:\n{screen}");
    }
    tmux.wait_for_within(patience, "the fleet on screen", |screen| {
        screen.contains("site-0")
    });
    println!(
        "launch: first sites on screen after {:.2} s, all {sites} loaded after {:.2} s",
        first_sites.unwrap_or(loaded).as_secs_f64(),
        loaded.as_secs_f64()
    );
    let pid = tmux.app_pid();
    println!(
        "{sites} sites, 3 environments on one Prometheus ({mode}), refresh 2 s, 200x50; \
         VmRSS / VmHWM and CPU every 10 s"
    );
    let began = Instant::now();
    let cpu_at_start = cpu_seconds(pid).unwrap_or_else(|| exited(&tmux));
    let mut cpu_before = cpu_at_start;
    let mut lowest_rss = u64::MAX;
    let mut peak_rss = 0;
    let mut sampled_at = began;
    while began.elapsed() < Duration::from_secs(60 * minutes) {
        std::thread::sleep(Duration::from_secs(10));
        let (Some((rss, hwm)), Some(cpu)) = (memory_kib(pid), cpu_seconds(pid)) else {
            exited(&tmux);
        };
        let now = Instant::now();
        lowest_rss = lowest_rss.min(rss);
        peak_rss = peak_rss.max(rss);
        println!(
            "  {:>4} s: VmRSS {:.1} MB, VmHWM {:.1} MB, CPU {:.1} %",
            began.elapsed().as_secs(),
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0,
            100.0 * (cpu - cpu_before) / (now - sampled_at).as_secs_f64()
        );
        cpu_before = cpu;
        sampled_at = now;
    }
    let (rss, hwm) = memory_kib(pid).unwrap_or_default();
    let cpu_percent = 100.0 * (cpu_before - cpu_at_start) / (sampled_at - began).as_secs_f64();
    let alerts_after = if rules {
        runtime.block_on(alerts_held(&prometheus))
    } else {
        0
    };
    println!(
        "after {minutes} min: VmRSS {:.1} MB (highest sampled {:.1} MB), VmHWM {:.1} MB",
        rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!(
        "summary: {mode} | {sites} sites | {alerts_before}→{alerts_after} alerts | \
         VmRSS {:.1}–{:.1} MB | VmHWM {:.1} MB | CPU {cpu_percent:.1} % of a core over {} s",
        lowest_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        (sampled_at - began).as_secs()
    );
    tmux.keys(&["q"]);
    drop(prometheus);
    let _ = std::fs::remove_dir_all(&dir);
}

fn exited(tmux: &Tmux) -> ! {
    panic!("the TUI exited:\n{}", tmux.screen().lines.join("\n"))
}

/// deploy/prometheus/site-status.rules.yml as it ships.
fn shipped_rules() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/prometheus/site-status.rules.yml");
    std::fs::read_to_string(path).expect("read the shipped rules")
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("site-status-rss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
