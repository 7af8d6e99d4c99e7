//! The agent's own cost around a drush run, for a 60-requirement report:
//! reading drush's output (parse), updating the metrics, writing the
//! report durably to the spool (and removing it once sent, as the sender
//! does), all of them together as one run costs, and one `/metrics` encode
//! (a scrape).

use std::hint::black_box;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Output};
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use site_status_agent::loki::{Log, LogLevel, NoEvents};
use site_status_agent::metrics::{Metrics, Target};
use site_status_agent::outcome::Outcome;
use site_status_agent::runner::{RunSpec, outcome_from_output};
use site_status_agent::spool::{Spool, SpoolConfig};

const STARTED_NS: i64 = 1_700_000_000_000_000_000;

/// 60 requirements as Drush 13 prints them, with ids as long and as odd as
/// real ones (`public:///.htaccess`, spaces), and the version rows the
/// agent reads `drupal_info` from.
fn drush_60() -> Vec<u8> {
    let mut rows = Map::new();
    for (id, value) in [("drupal", "10.3.6"), ("php", "8.3.12")] {
        rows.insert(
            id.into(),
            json!({"title": id, "severity": "Info", "sid": -1, "description": "", "value": format!("{value}\n")}),
        );
    }
    for i in 2..60 {
        rows.insert(
            format!("module_{i} config sync directory public:///.htaccess"),
            json!({
                "title": format!("Requirement {i}"),
                "severity": "OK",
                "sid": (i % 4) - 1,
                "description": "Some description of what is wrong and how to fix it [1]\n\n[1] https://example.org/admin/reports/status\n",
                "value": "Enabled\n",
            }),
        );
    }
    Value::Object(rows).to_string().into_bytes()
}

fn spec() -> RunSpec {
    RunSpec {
        command: vec!["drush".into()],
        status_command: None,
        timeout: Duration::from_secs(120),
        site: "borger".into(),
        env: "prod".into(),
        profile: "kk_borger".into(),
    }
}

fn output(stdout: &[u8]) -> Output {
    Output {
        status: ExitStatus::from_raw(0),
        stdout: stdout.to_vec(),
        stderr: Vec::new(),
    }
}

fn parse(spec: &RunSpec, stdout: &[u8]) -> Outcome {
    outcome_from_output(spec, STARTED_NS, 3.1, output(stdout))
}

fn metrics() -> Metrics {
    let target = Target {
        site: "borger".into(),
        env: "prod".into(),
        profile: "kk_borger".into(),
    };
    Metrics::new(&target, true, "0.1.0")
}

/// Writes the run's report (two fsyncs) and removes it as the sender does
/// after Loki's 2xx, so the spool stays as small as a healthy agent's.
fn spool_and_send(spool: &Spool, outcome: &Outcome) {
    let line = outcome.line.to_json();
    if spool.push(outcome.started_unix_ns, &line).is_err() {
        panic!("the benchmark's spool could not be written");
    }
    if let Some(entry) = spool.oldest() {
        let _ = spool.remove(&entry);
    }
}

fn bench(c: &mut Criterion) {
    let spec = spec();
    let stdout = drush_60();
    let outcome = parse(&spec, &stdout);
    assert!(outcome.success, "{:?}", outcome.failure);
    assert_eq!(outcome.requirements.len(), 60);
    let m = metrics();
    m.record_run(&outcome);

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary spool: {e}"));
    let spool = Spool::open(
        SpoolConfig::new(dir.path()),
        Arc::new(NoEvents),
        Log::new(LogLevel::Error),
    )
    .unwrap_or_else(|e| panic!("spool: {e}"));

    c.bench_function("per run: parse drush's output, 60 requirements", |b| {
        b.iter(|| black_box(parse(&spec, black_box(&stdout))))
    });
    c.bench_function(
        "per run: metrics update from an Outcome, 60 requirements",
        |b| b.iter(|| m.record_run(black_box(&outcome))),
    );
    c.bench_function("per run: spool write (fsync, rename) and removal", |b| {
        b.iter(|| spool_and_send(&spool, black_box(&outcome)))
    });
    c.bench_function("per run: all of it (parse + metrics + spool)", |b| {
        b.iter(|| {
            let outcome = parse(&spec, black_box(&stdout));
            m.record_run(&outcome);
            spool_and_send(&spool, &outcome);
        })
    });
    c.bench_function("metrics encode (/metrics scrape), 60 requirements", |b| {
        b.iter(|| black_box(m.encode()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
