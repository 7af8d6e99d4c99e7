//! The agent's own cost around a drush run, for a 60-requirement report:
//! one `/metrics` encode (a scrape) and one metrics update from an Outcome.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use site_status_agent::metrics::{Metrics, Target};
use site_status_agent::outcome::{Outcome, Versions};
use site_status_contract::line::ReportLine;
use site_status_contract::parse_report_line;

/// 60 requirements shaped like Drush 13's, with ids as long and as odd as
/// real ones (`public:///.htaccess`, spaces).
fn drush_60() -> Value {
    let mut rows = Map::new();
    for i in 0..60 {
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
    Value::Object(rows)
}

fn outcome() -> Outcome {
    let drush = drush_60();
    let report = parse_report_line(&drush.to_string(), 0);
    assert_eq!(report.requirements.len(), 60);
    Outcome {
        started_unix_ns: 1_700_000_000_000_000_000,
        duration_seconds: 4.2,
        success: true,
        failure: None,
        requirements: report.requirements,
        versions: Versions {
            drupal: "10.3.6".into(),
            php: "8.3.1".into(),
            drush: "13.3.1".into(),
            profile: "1.0.0".into(),
        },
        line: ReportLine {
            site: "borger".into(),
            env: "prod".into(),
            profile: "kk_borger".into(),
            generated_at: "2023-11-14T22:13:20Z".into(),
            duration_seconds: 4.2,
            drush_exit_code: Some(0),
            drupal_version: Some("10.3.6".into()),
            requirements: drush,
            stderr_tail: String::new(),
        },
    }
}

fn metrics() -> Metrics {
    let target = Target {
        site: "borger".into(),
        env: "prod".into(),
        profile: "kk_borger".into(),
    };
    Metrics::new(&target, true, "0.1.0")
}

fn bench(c: &mut Criterion) {
    let outcome = outcome();
    let m = metrics();
    m.record_run(&outcome);
    c.bench_function("metrics encode (/metrics scrape), 60 requirements", |b| {
        b.iter(|| black_box(m.encode()))
    });
    c.bench_function("metrics update from an Outcome, 60 requirements", |b| {
        b.iter(|| m.record_run(black_box(&outcome)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
