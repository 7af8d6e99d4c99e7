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
//! `cargo bench --bench prometheus_cpu` (SITES=… to change the fleet).

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

async fn measure(exporter: &FleetExporter, sites: usize, rules: Option<&str>) -> Measured {
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
        let modes: Vec<(&str, Option<&str>)> = match std::env::var("MODE").as_deref() {
            Ok("rules") => vec![("recording rules", Some(rules.as_str()))],
            Ok("raw") => vec![("raw series", None)],
            _ => vec![("raw series", None), ("recording rules", Some(rules.as_str()))],
        };
        for (name, rules) in modes {
            let m = measure(&exporter, sites, rules).await;
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
