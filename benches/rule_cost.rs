//! What evaluating deploy/prometheus/site-status.rules.yml costs
//! Prometheus at 10,000 sites (issue 26), in Prometheus's own accounts:
//! each group's and each rule's `evaluationTime` (`/api/v1/rules`),
//! averaged over the evaluations of a few minutes, and the process's
//! `process_cpu_seconds_total` over the same minutes.
//!
//! Two fleets, since the alerts' cost grows with how many fire: a calm
//! one (5 % of sites with a requirement in error) and a storm (60 %, as
//! when a deploy breaks most profiles). Each case gets a fresh Prometheus
//! scraping and evaluating every 30 s (the Prometheus Operator's default
//! evaluation interval; a group's own `interval` wins), and is measured
//! once `DrupalRequirementError` holds an alert for every requirement in
//! error: with `for:` they are pending from their first evaluation, and a
//! pending alert renders its annotations like a firing one.
//!
//! `cargo bench --bench rule_cost` (SITES=…, MINUTES=… per case, CASES=calm
//! or storm for one, RULES=path to measure another rules file, e.g. an
//! older commit's).

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::fleet::SEVERITY_ERROR;
use support::{Fleet, FleetBuilder, FleetExporter, TestPrometheus};

const EVALUATION_INTERVAL: Duration = Duration::from_secs(30);
const POLL_EVERY: Duration = Duration::from_secs(2);
/// The alert whose count is the storm.
const PER_REQUIREMENT_ALERT: &str = "DrupalRequirementError";

struct Case {
    name: &'static str,
    error_percent: u64,
}

const CASES: [Case; 2] = [
    Case {
        name: "calm",
        error_percent: 5,
    },
    Case {
        name: "storm",
        error_percent: 60,
    },
];

/// Evaluation times of one group or rule, seconds, one per evaluation.
#[derive(Default)]
struct Samples(Vec<f64>);

impl Samples {
    fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len().max(1) as f64
    }

    fn range(&self) -> (f64, f64) {
        let min = self.0.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.0.iter().copied().fold(0.0, f64::max);
        (min, max)
    }
}

/// A group's interval, its own evaluation times and its rules' by name.
type GroupSamples = (Duration, Samples, BTreeMap<String, Samples>);

/// What one case measured, keyed by group name.
struct Measured {
    groups: BTreeMap<String, GroupSamples>,
    alerts: usize,
    cpu_per_minute: f64,
    reads_cpu_per_minute: f64,
}

fn main() {
    // `cargo test` runs bench targets too, without `--bench`; it must not
    // spend a quarter of an hour measuring.
    if !std::env::args().any(|a| a == "--bench") {
        println!("rule_cost: measures only under `cargo bench --bench rule_cost`");
        return;
    }
    let sites: usize = env_number("SITES", 10_000);
    let minutes: u64 = env_number("MINUTES", 3);
    let rules_path = std::env::var_os("RULES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/site-status.rules.yml"),
        PathBuf::from,
    );
    let rules = std::fs::read_to_string(&rules_path)
        .unwrap_or_else(|e| panic!("reading the rules {}: {e}", rules_path.display()));
    let wanted = std::env::var("CASES").unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    println!(
        "{sites} sites, rules {}, evaluated every {} s unless a group says otherwise, {minutes} min per case",
        rules_path.display(),
        EVALUATION_INTERVAL.as_secs()
    );
    let mut results = Vec::new();
    for case in CASES
        .iter()
        .filter(|c| wanted.is_empty() || wanted.split(',').any(|w| w == c.name))
    {
        let fleet = FleetBuilder::new(sites)
            .error_percent(case.error_percent)
            .build();
        let measured = runtime.block_on(measure(fleet, &rules, Duration::from_secs(60 * minutes)));
        print_case(case, &measured);
        results.push((case, measured));
    }
    print_summary(&results);
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The alerts `DrupalRequirementError` must hold for `fleet`: one per
/// requirement in error on a site whose last run succeeded (the test
/// target carries no site labels, so no site is down).
fn expected_requirement_alerts(fleet: &Fleet) -> usize {
    fleet
        .sites
        .iter()
        .filter(|s| !s.silent && s.success)
        .map(|s| {
            s.requirements
                .values()
                .filter(|sid| **sid >= SEVERITY_ERROR)
                .count()
        })
        .sum()
}

async fn measure(fleet: Fleet, rules: &str, window: Duration) -> Measured {
    let expected_alerts = expected_requirement_alerts(&fleet);
    let exporter = FleetExporter::start(fleet);
    let prometheus = TestPrometheus::builder()
        .target(exporter.target())
        .scrape_interval(EVALUATION_INTERVAL)
        .scrape_timeout(Duration::from_secs(25))
        .evaluation_interval(EVALUATION_INTERVAL)
        .rule_file(rules)
        .start()
        .await;
    prometheus
        .wait_for_fleet_within(&exporter, Duration::from_secs(180))
        .await;
    let began = Instant::now();
    let count = format!("count(ALERTS{{alertname=\"{PER_REQUIREMENT_ALERT}\"}})");
    prometheus
        .wait_for_within(&count, Duration::from_secs(300), |samples| {
            samples.first().map(|s| s.value as usize) == Some(expected_alerts)
        })
        .await;
    println!(
        "  {expected_alerts} {PER_REQUIREMENT_ALERT} alerts after {} s",
        began.elapsed().as_secs()
    );

    let mut groups: BTreeMap<String, GroupSamples> = BTreeMap::new();
    let mut last_evaluations: BTreeMap<String, String> = BTreeMap::new();
    let mut last_stamps = Vec::new();
    let mut reads_cpu = 0.0;
    let mut last_aged = Instant::now();
    let cpu_start = cpu_seconds(&prometheus).await;
    let started = Instant::now();
    // The first answer only says where each group stands: an evaluation
    // already under way when measuring starts is not counted.
    let mut first = true;
    while started.elapsed() < window {
        tokio::time::sleep(POLL_EVERY).await;
        // Sites keep running: a fleet frozen at its build time would go
        // stale within the quarter hour and start alerts of its own.
        let aged = last_aged.elapsed().as_secs_f64();
        if aged >= 60.0 {
            exporter.update(|fleet| fleet.sites.iter_mut().for_each(|s| s.last_run += aged));
            last_aged = Instant::now();
        }
        let stamps = group_evaluation_stamps(&prometheus).await;
        if !first && stamps == last_stamps {
            continue;
        }
        last_stamps = stamps;
        let before = cpu_seconds(&prometheus).await;
        let answer = rules_answer(&prometheus).await;
        reads_cpu += cpu_seconds(&prometheus).await - before;
        for group in answer["data"]["groups"].as_array().into_iter().flatten() {
            let name = group["name"].as_str().unwrap_or("?").to_string();
            let last = group["lastEvaluation"].as_str().unwrap_or("").to_string();
            if last_evaluations.get(&name) == Some(&last) {
                continue;
            }
            last_evaluations.insert(name.clone(), last);
            if first {
                continue;
            }
            let interval = Duration::from_secs_f64(group["interval"].as_f64().unwrap_or(0.0));
            let (_, group_samples, rule_samples) = groups
                .entry(name)
                .or_insert_with(|| (interval, Samples::default(), BTreeMap::new()));
            group_samples
                .0
                .push(group["evaluationTime"].as_f64().unwrap_or(0.0));
            for rule in group["rules"].as_array().into_iter().flatten() {
                let rule_name = rule["name"].as_str().unwrap_or("?").to_string();
                rule_samples
                    .entry(rule_name)
                    .or_default()
                    .0
                    .push(rule["evaluationTime"].as_f64().unwrap_or(0.0));
            }
        }
        first = false;
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let cpu = cpu_seconds(&prometheus).await - cpu_start;
    let alerts = prometheus
        .query(&count)
        .await
        .ok()
        .and_then(|s| s.first().map(|s| s.value as usize))
        .unwrap_or(0);
    Measured {
        groups,
        alerts,
        cpu_per_minute: (cpu - reads_cpu) / minutes,
        reads_cpu_per_minute: reads_cpu / minutes,
    }
}

/// When each group last finished an evaluation, from Prometheus's own
/// metrics: far cheaper to ask than `/api/v1/rules`, which lists every
/// alert with its annotations.
async fn group_evaluation_stamps(prometheus: &TestPrometheus) -> Vec<String> {
    metrics(prometheus)
        .await
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("prometheus_rule_group_last_evaluation_timestamp_seconds{"))
        .map(str::to_string)
        .collect()
}

async fn metrics(prometheus: &TestPrometheus) -> Option<String> {
    reqwest::get(format!("{}/metrics", prometheus.url()))
        .await
        .ok()?
        .text()
        .await
        .ok()
}

async fn cpu_seconds(prometheus: &TestPrometheus) -> f64 {
    metrics(prometheus)
        .await
        .and_then(|body| {
            body.lines()
                .find_map(|l| l.strip_prefix("process_cpu_seconds_total "))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("no process_cpu_seconds_total in Prometheus's /metrics"))
}

async fn rules_answer(prometheus: &TestPrometheus) -> serde_json::Value {
    match reqwest::get(format!("{}/api/v1/rules", prometheus.url())).await {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    }
}

fn print_case(case: &Case, measured: &Measured) {
    println!(
        "{} ({} % of sites in error): {} {PER_REQUIREMENT_ALERT} alerts, Prometheus CPU {:.2} s per minute (+{:.2} s for this bench's /api/v1/rules reads)",
        case.name,
        case.error_percent,
        measured.alerts,
        measured.cpu_per_minute,
        measured.reads_cpu_per_minute
    );
    for (group, (interval, samples, rules)) in &measured.groups {
        let (min, max) = samples.range();
        println!(
            "  group {group} (every {} s): {:.3} s per evaluation ({:.3}–{:.3}, {} evaluations)",
            interval.as_secs(),
            samples.mean(),
            min,
            max,
            samples.0.len()
        );
        let mut slowest: Vec<(&String, &Samples)> = rules.iter().collect();
        slowest.sort_by(|a, b| b.1.mean().total_cmp(&a.1.mean()));
        for (rule, samples) in slowest {
            let (min, max) = samples.range();
            println!(
                "    {rule}: {:.3} s ({:.3}–{:.3})",
                samples.mean(),
                min,
                max
            );
        }
    }
}

/// One table, calm and storm side by side, per group then its rules.
fn print_summary(results: &[(&Case, Measured)]) {
    if results.is_empty() {
        return;
    }
    println!();
    let header: Vec<String> = results
        .iter()
        .map(|(case, _)| format!("{} (s/eval, range)", case.name))
        .collect();
    println!("| group / rule | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(results.len()));
    let (_, first) = &results[0];
    for (group, (interval, _, rules)) in &first.groups {
        let cells: Vec<String> = results
            .iter()
            .map(|(_, m)| {
                m.groups.get(group).map_or("–".into(), |(_, samples, _)| {
                    let (min, max) = samples.range();
                    format!("**{:.3}** ({min:.3}–{max:.3})", samples.mean())
                })
            })
            .collect();
        println!(
            "| **{group}** (every {} s) | {} |",
            interval.as_secs(),
            cells.join(" | ")
        );
        for rule in rules.keys() {
            let cells: Vec<String> = results
                .iter()
                .map(|(_, m)| {
                    m.groups
                        .get(group)
                        .and_then(|(_, _, rules)| rules.get(rule))
                        .map_or("–".into(), |samples| {
                            let (min, max) = samples.range();
                            format!("{:.3} ({min:.3}–{max:.3})", samples.mean())
                        })
                })
                .collect();
            println!("| {rule} | {} |", cells.join(" | "));
        }
    }
    let cells: Vec<String> = results
        .iter()
        .map(|(_, m)| format!("{:.2} s", m.cpu_per_minute))
        .collect();
    println!("| Prometheus CPU per minute | {} |", cells.join(" | "));
    let cells: Vec<String> = results.iter().map(|(_, m)| m.alerts.to_string()).collect();
    println!("| {PER_REQUIREMENT_ALERT} alerts | {} |", cells.join(" | "));
}
