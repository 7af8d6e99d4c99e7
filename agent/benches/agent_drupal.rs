//! The agent's cost around a REAL drush run (Drupal 10.3.7, drush 13.3.0,
//! /work/shared/drupal or SITE_STATUS_DRUPAL_DIR): the median over 20
//! paired runs of (agent run wall − bare drush wall) for the same command,
//! which must be at most 5 ms; a criterion measurement of the agent's run;
//! and the real agent binary's memory (VmRSS, VmHWM from /proc) while its
//! schedule runs drush back to back and between runs, which must stay at
//! or under 15 MB.
//!
//! Measures only under `cargo bench -p site-status-agent --bench
//! agent_drupal`: `cargo test --all-targets` runs bench targets too.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use site_status_agent::config::{DEFAULT_COMMAND, derive_status_command};
use site_status_agent::metrics::{Metrics, Target};
use site_status_agent::runner::{RunSpec, Runner};
use site_status_agent::shared::Agent;

const PAIRS: usize = 20;
const MAX_OVERHEAD: Duration = Duration::from_millis(5);
const MAX_RSS_KB: u64 = 15 * 1000;
const RSS_SECONDS: u64 = 20;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// A private copy of the real site; `None` when there is none.
fn site(dir: &tempfile::TempDir) -> Option<PathBuf> {
    let shared = std::env::var_os("SITE_STATUS_DRUPAL_DIR")
        .map(PathBuf::from)
        // `shared/` sits beside the repository, wherever it is cloned.
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/drupal")
        });
    let setup = shared.join("setup.sh");
    if !setup.is_file() {
        let message = format!(
            "\n!!!!! agent_drupal NOT MEASURED: {} is missing (set SITE_STATUS_DRUPAL_DIR) !!!!!\n",
            setup.display()
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        println!("{message}");
        return None;
    }
    let out = Command::new(&setup)
        .arg(dir.path().join("site"))
        .output()
        .expect("setup.sh runs");
    assert!(out.status.success(), "setup.sh failed");
    Some(PathBuf::from(
        String::from_utf8(out.stdout).expect("a path").trim(),
    ))
}

/// kB of `field` (VmRSS, VmHWM) in /proc/PID/status.
fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Whether `pid` has a child now (drush running). Children are listed
/// per thread, and tokio spawns drush from whichever worker runs the task.
fn has_child(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        std::fs::read_to_string(task.path().join("children")).is_ok_and(|c| !c.trim().is_empty())
    })
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "agent_drupal: measures only under `cargo bench -p site-status-agent --bench agent_drupal`"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let Some(drush) = site(&dir) else { return };
    let mut command: Vec<String> = DEFAULT_COMMAND.iter().map(|a| a.to_string()).collect();
    command[0] = drush.display().to_string();
    let spec = RunSpec {
        status_command: derive_status_command(&command),
        command: command.clone(),
        timeout: Duration::from_secs(60),
        site: "borger".into(),
        env: "prod".into(),
        profile: String::new(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let runner = Arc::new(Runner::new(spec));
    let metrics = Arc::new(Metrics::new(&Target::default(), true, "bench"));
    let agent = runtime.block_on(async {
        // As at the binary's start: drush status once, so runs do not ask.
        runner.refresh_status(Duration::from_secs(60)).await;
        let runner = runner.clone();
        Agent::new(metrics.clone(), move || {
            let runner = runner.clone();
            async move { runner.run().await }
        })
    });
    let bare = || {
        let started = Instant::now();
        let out = Command::new(&command[0])
            .args(&command[1..])
            .stdin(Stdio::null())
            .output()
            .expect("drush runs");
        assert!(out.status.success());
        started.elapsed().as_secs_f64()
    };
    // The agent's wall, and its own part of it: the wall less drush's
    // duration as the agent measured it (spawn to exit and pipes closed).
    let agent_run = || {
        let started = Instant::now();
        let outcome = runtime
            .block_on(agent.run_once())
            .expect("the run finished");
        assert!(outcome.success, "{:?}", outcome.failure);
        let wall = started.elapsed().as_secs_f64();
        (wall, wall - outcome.duration_seconds)
    };

    // Warm the page cache and PHP's file stats for both.
    for _ in 0..2 {
        bare();
        let _ = agent_run();
    }
    let (mut bares, mut agents, mut diffs, mut own) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..PAIRS {
        // Alternate who goes first, so a drift of the machine is shared.
        let (b, (a, mine)) = if i % 2 == 0 {
            let b = bare();
            (b, agent_run())
        } else {
            let a = agent_run();
            (bare(), a)
        };
        own.push(mine);
        bares.push(b);
        agents.push(a);
        diffs.push(a - b);
    }
    let overhead = median(diffs.clone());
    let spread = {
        let mut sorted = diffs.clone();
        sorted.sort_by(f64::total_cmp);
        (sorted[PAIRS / 4], sorted[PAIRS * 3 / 4])
    };
    println!(
        "agent_drupal: interquartile range of (agent - bare): {:.1} .. {:.1} ms (drush's own \
         run-to-run noise); the agent's own part of its runs (wall - drush's duration as \
         measured by the agent): median {:.3} ms, max {:.3} ms",
        spread.0 * 1e3,
        spread.1 * 1e3,
        median(own.clone()) * 1e3,
        own.iter().copied().fold(0.0, f64::max) * 1e3
    );
    println!(
        "agent_drupal: {PAIRS} pairs: bare drush median {:.1} ms, agent run median {:.1} ms, \
         median of (agent - bare) {:.2} ms (limit {} ms); differences ms: {:?}",
        median(bares) * 1e3,
        median(agents) * 1e3,
        overhead * 1e3,
        MAX_OVERHEAD.as_millis(),
        diffs
            .iter()
            .map(|d| (d * 1e4).round() / 10.0)
            .collect::<Vec<_>>()
    );

    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    criterion.bench_function("agent run on the real site (drush included)", |b| {
        b.iter(|| runtime.block_on(agent.run_once()))
    });

    // The real binary, its schedule running drush back to back.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("its address").port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_site-status-agent"))
        .args([
            "--site",
            "borger",
            "--env",
            "prod",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--interval",
            "1s",
            "--splay",
            "0",
            "--log-level",
            "error",
            "--",
        ])
        .args(&command)
        .env_remove("SITE_STATUS_LOKI_URL")
        .stdout(Stdio::null())
        .spawn()
        .expect("the agent binary starts");
    let pid = child.id();
    let (mut during, mut between) = (Vec::new(), Vec::new());
    let until = Instant::now() + Duration::from_secs(RSS_SECONDS);
    while Instant::now() < until {
        let busy = has_child(pid);
        if let Some(kb) = status_kb(pid, "VmRSS:") {
            if busy { &mut during } else { &mut between }.push(kb);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let hwm = status_kb(pid, "VmHWM:").unwrap_or(0);
    let scraped = Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{port}/metrics")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let runs = scraped
        .lines()
        .find(|l| l.starts_with("site_status_agent_runs_total{") && l.contains("success"))
        .unwrap_or("(no scrape)")
        .to_string();
    let max = |v: &[u64]| v.iter().copied().max().unwrap_or(0);
    println!(
        "agent_drupal: agent binary over {RSS_SECONDS} s, drush back to back ({runs}): \
         VmRSS max {} kB during runs ({} samples), {} kB between runs ({} samples); \
         VmHWM {hwm} kB (limit {MAX_RSS_KB} kB)",
        max(&during),
        during.len(),
        max(&between),
        between.len(),
    );
    let mut ok = true;
    if overhead > MAX_OVERHEAD.as_secs_f64() {
        println!("agent_drupal: FAILED: the agent adds more than {MAX_OVERHEAD:?} to a run");
        ok = false;
    }
    if hwm > MAX_RSS_KB || during.is_empty() || between.is_empty() {
        println!("agent_drupal: FAILED: memory over the limit, or runs not observed");
        ok = false;
    }
    if !ok {
        std::process::exit(1);
    }
    println!("agent_drupal: ok");
}
