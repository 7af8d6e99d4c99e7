//! `site-status check --format json` against the same requests sent by
//! curl, in parallel, as fast as a client can be: a real Prometheus with
//! the shipped rules scraping the tests' exporter (10,000 sites), one
//! environment. Wall time and CPU (user + system, of the child processes)
//! per round, alternating the two so that Prometheus' own load (rule
//! evaluations, scrapes) falls on both alike; medians and ranges printed.
//!
//! `cargo bench --bench check_vs_curl` (SITES=…, ROUNDS=…, RECORDING=1
//! for `use_recording_rules = true`, ERROR_PERCENT=60 for an alert storm).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use site_status::config::Config;
use site_status::source::prometheus::FleetQueries;
use support::{FleetBuilder, FleetExporter, TestPrometheus};

/// CPU seconds (user + system) the waited-for children have used so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage writes only into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Runs `commands` side by side; wall and CPU seconds for all of them.
fn timed(commands: Vec<Command>) -> (f64, f64) {
    let cpu = children_cpu();
    let began = Instant::now();
    let children: Vec<_> = commands
        .into_iter()
        .map(|mut c| {
            c.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        child.wait().unwrap();
    }
    (began.elapsed().as_secs_f64(), children_cpu() - cpu)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn range(values: &[f64]) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    format!("{min:.3}–{max:.3}")
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("check_vs_curl: measures only under `cargo bench --bench check_vs_curl`");
        return;
    }
    let number = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let sites = number("SITES", 10_000);
    let rounds = number("ROUNDS", 10);
    let recording = std::env::var("RECORDING").is_ok_and(|v| v == "1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rules = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/site-status.rules.yml"),
    )
    .unwrap();
    let error_percent = number("ERROR_PERCENT", 25) as u64;
    let exporter = FleetExporter::start(
        FleetBuilder::new(sites)
            .error_percent(error_percent)
            .build(),
    );
    let prometheus = runtime.block_on(async {
        let prometheus = TestPrometheus::builder()
            .target(exporter.target())
            .scrape_interval(Duration::from_secs(30))
            .scrape_timeout(Duration::from_secs(25))
            .rule_file(&rules)
            .start()
            .await;
        prometheus
            .wait_for_fleet_within(&exporter, Duration::from_secs(180))
            .await;
        // The recorded series exist after the rules' first evaluation.
        prometheus
            .wait_for_within(
                "count(site:site_status_state:code)",
                Duration::from_secs(120),
                |s| !s.is_empty(),
            )
            .await;
        prometheus
    });
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    let text = format!(
        "[[environment]]\nname = \"prod\"\nselector = 'env=\"prod\"'\nuse_recording_rules = {recording}\n[environment.prometheus]\nurl = \"{}\"\ntimeout = \"60s\"\n",
        prometheus.url()
    );
    std::fs::write(&config_path, &text).unwrap();
    let config = Config::parse(&text, &config_path).unwrap();
    let queries = FleetQueries::new(&config, &config.environments[0]).grid();
    let check = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_site-status"));
        c.arg("--config")
            .arg(&config_path)
            .args(["check", "--format", "json"])
            .env("HOME", dir.path());
        c
    };
    let curls = || {
        queries
            .iter()
            .map(|q| {
                let mut c = Command::new("curl");
                c.args(["-sS", "-o", "/dev/null", "--compressed", "--data-urlencode"])
                    .arg(format!("query={q}"))
                    .arg(format!("{}/api/v1/query", prometheus.url()));
                c
            })
            .collect::<Vec<_>>()
    };
    // Once each before counting: caches and page cache warm for both.
    timed(vec![check()]);
    timed(curls());
    let (mut check_wall, mut check_cpu, mut curl_wall, mut curl_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (wall, cpu) = timed(vec![check()]);
        check_wall.push(wall);
        check_cpu.push(cpu);
        let (wall, cpu) = timed(curls());
        curl_wall.push(wall);
        curl_cpu.push(cpu);
    }
    let ratios: Vec<f64> = check_wall
        .iter()
        .zip(&curl_wall)
        .map(|(c, u)| c / u)
        .collect();
    println!(
        "{sites} sites ({error_percent} % in error), rules loaded, {} mode, {rounds} rounds: {} queries",
        if recording { "recording-rules" } else { "raw" },
        queries.len()
    );
    println!(
        "  check: wall median {:.3} s ({}), CPU median {:.3} s ({})",
        median(&mut check_wall.clone()),
        range(&check_wall),
        median(&mut check_cpu.clone()),
        range(&check_cpu)
    );
    println!(
        "  curl:  wall median {:.3} s ({}), CPU median {:.3} s ({})",
        median(&mut curl_wall.clone()),
        range(&curl_wall),
        median(&mut curl_cpu.clone()),
        range(&curl_cpu)
    );
    println!(
        "  check / curl, round by round: median {:.2}× ({})",
        median(&mut ratios.clone()),
        range(&ratios)
    );
    drop(prometheus);
}
