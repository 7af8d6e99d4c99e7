//! What one dashboard refresh costs Prometheus, in its own CPU
//! (`process_cpu_seconds_total` from Prometheus's /metrics), at 10,000
//! sites: once with the dashboard aggregating the raw series, once reading
//! what deploy/prometheus/site-status.rules.yml records
//! (`use_recording_rules = true`). Also what evaluating the rules costs by
//! itself, since that is paid whether anyone looks or not.
//!
//! Each mode: a real Prometheus scraping the fleet every 30 s, a quiet
//! minute, then a minute with a refresh (`fetch_fleet` of every
//! environment, as the dashboard polls) every 3 s. Per refresh = (busy
//! minute − quiet minute) / refreshes.
//!
//! `MODE=dashboard` measures the dashboard itself instead: the poller as
//! the TUI runs it (every environment's grid and fleet timeline, a refresh
//! every 2 s), after its first round; per round = (busy − quiet) / rounds.
//!
//! `cargo bench --bench prometheus_cpu` (SITES=… to change the fleet;
//! MODE=raw, rules, dashboard or dashboard-rules for one mode).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use site_status::config::Config;
use site_status::source::FleetSource;
use site_status::source::http::ProcessSecrets;
use support::{ENVIRONMENTS, FleetBuilder, FleetExporter, TestPrometheus};

const WINDOW: Duration = Duration::from_secs(60);
const REFRESH_EVERY: Duration = Duration::from_secs(3);

async fn prometheus_cpu_seconds(prometheus: &TestPrometheus) -> f64 {
    let body = reqwest::get(format!("{}/metrics", prometheus.url()))
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("Prometheus's /metrics: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("Prometheus's /metrics: {e}"));
    body.lines()
        .find_map(|l| l.strip_prefix("process_cpu_seconds_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no process_cpu_seconds_total in Prometheus's /metrics"))
}

fn sources(
    url: &str,
    recorded: bool,
) -> Vec<std::sync::Arc<site_status::source::environment::EnvironmentSource>> {
    let text: String = ENVIRONMENTS
        .iter()
        .map(|env| {
            format!(
                "[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\nuse_recording_rules = {recorded}\n[environment.prometheus]\nurl = \"{url}\"\ntimeout = \"30s\"\n"
            )
        })
        .collect();
    let config = Config::parse(&text, Path::new("bench.toml")).unwrap();
    site_status::source::from_config(&config, &ProcessSecrets).unwrap()
}

struct Measured {
    quiet: f64,
    busy: f64,
    refreshes: u32,
}

/// How the refreshes are driven: `fetch_fleet` of each environment in
/// turn, or the dashboard's poller with its timelines.
#[derive(Clone, Copy, PartialEq)]
enum Driver {
    Fetch,
    Dashboard,
}

const DASHBOARD_REFRESH: Duration = Duration::from_secs(2);

/// A minute of the dashboard's poller, from after its first round and
/// timelines: how many rounds it polled (the first environment's grid
/// results).
async fn dashboard_minute(
    prometheus: &TestPrometheus,
    sources: Vec<std::sync::Arc<site_status::source::environment::EnvironmentSource>>,
) -> (f64, u32) {
    use site_status::poller::{DetailKey, PollSettings, Poller};
    let sources: Vec<std::sync::Arc<dyn FleetSource>> = sources
        .into_iter()
        .map(|s| s as std::sync::Arc<dyn FleetSource>)
        .collect();
    let mut poller = Poller::start(
        sources,
        PollSettings {
            interval: DASHBOARD_REFRESH,
            timeout: Duration::from_secs(30),
            max_backoff: Duration::from_secs(30),
        },
    );
    for env in ENVIRONMENTS {
        poller.watch(DetailKey::Timeline {
            env: env.to_string(),
        });
    }
    let wake = poller.wake();
    let mut timelines = std::collections::HashSet::new();
    let mut last_grid = None;
    let mut rounds = 0u32;
    let mut measuring: Option<(f64, Instant)> = None;
    loop {
        if let Some((_, began)) = measuring
            && began.elapsed() >= WINDOW
        {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
        for (env, slot) in poller.changed_fleet() {
            if let Some((error, _)) = &slot.last_error {
                println!("  {}: {}", ENVIRONMENTS[env], error.message);
            }
            let at = slot.last_good.as_ref().map(|g| g.at);
            if env == 0 && at.is_some() && at != last_grid {
                last_grid = at;
                if measuring.is_some() {
                    rounds += 1;
                }
            }
        }
        for (key, slot) in poller.changed_details() {
            if let Some((error, _)) = &slot.last_error {
                println!("  {key:?}: {}", error.message);
            }
            if slot.last_good.is_some() {
                timelines.insert(format!("{key:?}"));
            }
        }
        if measuring.is_none() && timelines.len() == ENVIRONMENTS.len() && last_grid.is_some() {
            measuring = Some((prometheus_cpu_seconds(prometheus).await, Instant::now()));
        }
    }
    drop(poller);
    let start = measuring.map_or(0.0, |(cpu, _)| cpu);
    (prometheus_cpu_seconds(prometheus).await - start, rounds)
}

async fn measure(
    exporter: &FleetExporter,
    sites: usize,
    rules: Option<&str>,
    driver: Driver,
) -> Measured {
    let mut builder = TestPrometheus::builder()
        .target(exporter.target())
        .scrape_interval(Duration::from_secs(30))
        .scrape_timeout(Duration::from_secs(25));
    if let Some(rules) = rules {
        builder = builder.rule_file(rules);
    }
    let prometheus = builder.start().await;
    prometheus
        .wait_for_fleet_within(exporter, Duration::from_secs(120))
        .await;
    let sources = sources(&prometheus.url(), rules.is_some());
    // The rules have run at least once: every site has a recorded state.
    if rules.is_some() {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let n = prometheus
                .query("count(site:site_status_state:code)")
                .await
                .ok()
                .and_then(|s| s.first().map(|s| s.value))
                .unwrap_or(0.0);
            if n as usize >= sites * 9 / 10 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the rules never recorded the fleet"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    // One refresh before measuring: the dashboard's first poll is no
    // different from the rest, but Prometheus's caches are.
    for source in &sources {
        source.fetch_fleet().await.unwrap();
    }

    let start = prometheus_cpu_seconds(&prometheus).await;
    tokio::time::sleep(WINDOW).await;
    let quiet = prometheus_cpu_seconds(&prometheus).await - start;

    if driver == Driver::Dashboard {
        let (busy, refreshes) = dashboard_minute(&prometheus, sources).await;
        return Measured {
            quiet,
            busy,
            refreshes,
        };
    }
    let start = prometheus_cpu_seconds(&prometheus).await;
    let began = Instant::now();
    let mut refreshes = 0;
    while began.elapsed() < WINDOW {
        let tick = Instant::now();
        for source in &sources {
            let report = source.fetch_fleet().await.unwrap();
            assert!(!report.sites.is_empty());
        }
        refreshes += 1;
        tokio::time::sleep(REFRESH_EVERY.saturating_sub(tick.elapsed())).await;
    }
    tokio::time::sleep(WINDOW.saturating_sub(began.elapsed())).await;
    let busy = prometheus_cpu_seconds(&prometheus).await - start;
    if rules.is_some() {
        print_rule_costs(&prometheus).await;
    }
    Measured {
        quiet,
        busy,
        refreshes,
    }
}

/// Each rule's last evaluation time, slowest first, from Prometheus's
/// own account (`/api/v1/rules`): where the rules' cost goes.
async fn print_rule_costs(prometheus: &TestPrometheus) {
    let answer: serde_json::Value =
        match reqwest::get(format!("{}/api/v1/rules", prometheus.url())).await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => return,
        };
    let mut costs: Vec<(f64, String)> = answer["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .map(|r| {
            (
                r["evaluationTime"].as_f64().unwrap_or(0.0),
                r["name"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    costs.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (seconds, name) in costs {
        println!("  rule {name}: {seconds:.3} s per evaluation");
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test` runs bench targets too,
    // without it, and must not spend five minutes measuring.
    if !std::env::args().any(|a| a == "--bench") {
        println!("prometheus_cpu: measures only under `cargo bench --bench prometheus_cpu`");
        return;
    }
    let sites: usize = std::env::var("SITES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let rules = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/site-status.rules.yml"),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let exporter = FleetExporter::start(FleetBuilder::new(sites).build());
        println!("{sites} sites, {} environments, Prometheus CPU seconds per {}s window", ENVIRONMENTS.len(), WINDOW.as_secs());
        let mut rows = Vec::new();
        let recorded = Some(rules.as_str());
        let modes: Vec<(&str, Option<&str>, Driver)> = match std::env::var("MODE").as_deref() {
            Ok("rules") => vec![("recording rules", recorded, Driver::Fetch)],
            Ok("raw") => vec![("raw series", None, Driver::Fetch)],
            Ok("dashboard") => vec![("dashboard, raw series", None, Driver::Dashboard)],
            Ok("dashboard-rules") => {
                vec![("dashboard, recording rules", recorded, Driver::Dashboard)]
            }
            _ => vec![
                ("raw series", None, Driver::Fetch),
                ("recording rules", recorded, Driver::Fetch),
            ],
        };
        for (name, rules, driver) in modes {
            let m = measure(&exporter, sites, rules, driver).await;
            let per_refresh = (m.busy - m.quiet) / f64::from(m.refreshes);
            println!(
                "{name}: quiet {:.2} s, with {} refreshes {:.2} s, per refresh {:.3} s",
                m.quiet, m.refreshes, m.busy, per_refresh
            );
            rows.push((name, m, per_refresh));
        }
        if let [(_, raw, raw_each), (_, rec, rec_each)] = &rows[..] {
            println!(
                "rules' own evaluation: {:.2} s per minute; a refresh costs {:.3} s with the rules instead of {:.3} s ({:.0}x less)",
                rec.quiet - raw.quiet,
                rec_each,
                raw_each,
                raw_each / rec_each.max(1e-6)
            );
        }
    });
}
