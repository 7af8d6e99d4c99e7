//! The README's table of the contract's metrics, held to what the agent's
//! `/metrics` really writes: every `drupal_*` family it can write is a row
//! with its type and extra labels, and every row is a family it writes.

use std::collections::{BTreeMap, BTreeSet};

use site_status_agent::metrics::{Metrics, Target};
use site_status_agent::outcome::{Outcome, Versions};
use site_status_contract::failure::{FailureClass, RunFailure};
use site_status_contract::line::ReportLine;
use site_status_contract::parse_report_line;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap()
}

/// (type, extra labels) by metric, from the table under "Metrics of the
/// contract".
fn table() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let text = readme();
    let start = text
        .find("### Metrics of the contract")
        .expect("the README has a section \"Metrics of the contract\"");
    let mut rows = BTreeMap::new();
    for line in text[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_string();
        let kind = cells[2].split_whitespace().next().unwrap().to_string();
        let labels = cells[3]
            .split(',')
            .map(|l| l.trim().trim_matches('`').to_string())
            .filter(|l| !l.is_empty())
            .collect();
        rows.insert(name, (kind, labels));
    }
    rows
}

fn outcome(success: bool) -> Outcome {
    let drush = r#"{"drupal": {"title": "Drupal", "severity": "Info", "sid": -1, "description": "", "value": "10.3.7\n"}}"#;
    let report = parse_report_line(drush, 0);
    Outcome {
        started_unix_ns: 1_700_000_000_000_000_000,
        duration_seconds: 1.0,
        success,
        run_failure: (!success).then_some(RunFailure {
            exit_code: Some(255),
            ..RunFailure::new(FailureClass::ExitCode)
        }),
        failure: (!success).then(|| "drush exited with code 255".into()),
        stderr_tail: String::new(),
        requirements: if success { report.requirements } else { vec![] },
        versions: Versions {
            drupal: "10.3.7".into(),
            php: "8.2.0".into(),
            drush: "13.3.0.0".into(),
            profile: String::new(),
            install_profile: "standard".into(),
        },
        line: ReportLine {
            site: "borger".into(),
            env: "prod".into(),
            profile: "standard".into(),
            generated_at: String::new(),
            duration_seconds: 1.0,
            drush_exit_code: Some(if success { 0 } else { 255 }),
            drupal_version: None,
            requirements: serde_json::Value::Null,
            stderr_tail: String::new(),
            run_failure: None,
        },
    }
}

/// (type, extra labels) by `drupal_*` family, from an encoding.
fn families(text: &str) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let mut out: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            if name.starts_with("drupal_") {
                out.entry(name.into()).or_default().0 = kind.into();
            }
        } else if line.starts_with("drupal_") {
            let (name, labels) = line.split_once('{').unwrap();
            let labels = labels.rsplit_once('}').unwrap().0;
            let names = labels
                .split(',')
                .map(|l| l.split('=').next().unwrap().to_string())
                .filter(|l| !["site", "env", "profile"].contains(&l.as_str()));
            out.entry(name.into()).or_default().1.extend(names);
        }
    }
    out
}

#[test]
fn the_readme_metrics_table_is_what_the_agent_writes() {
    let target = Target {
        site: "borger".into(),
        env: "prod".into(),
        profile: "standard".into(),
    };
    let metrics = Metrics::new(&target, true, "0.1.0");
    metrics.record_run(&outcome(true));
    metrics.record_run(&outcome(false));
    let written = families(&metrics.encode());
    let table = table();
    assert!(written.contains_key("drupal_status_report_failure"));
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        table.keys().collect::<Vec<_>>(),
        "the README's metrics table and the agent's /metrics name different families"
    );
    for (name, (kind, labels)) in &written {
        let (table_kind, table_labels) = &table[name];
        assert_eq!(kind, table_kind, "{name}'s type");
        assert_eq!(labels, table_labels, "{name}'s extra labels");
    }
}
