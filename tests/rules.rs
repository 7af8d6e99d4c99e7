//! The interpretation written once: deploy/prometheus/site-status.rules.yml
//! is valid (`promtool check rules`), every rule is unit tested
//! (`promtool test rules`, with Debian's prometheus package), the
//! PrometheusRule for Prometheus Operator users is that same file, and the
//! series the dashboard reads with `use_recording_rules` are recorded there.

use std::path::{Path, PathBuf};
use std::process::Command;

use site_status::source::prometheus::recorded;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus")
}

fn promtool(args: &[&str]) -> (bool, String) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir())
        .output()
        .expect("promtool (Debian's prometheus package, which scripts/test.sh installs)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_rules_are_valid() {
    let (ok, said) = promtool(&["check", "rules", "site-status.rules.yml"]);
    assert!(ok, "{said}");
}

#[test]
fn every_rule_passes_its_unit_tests() {
    let (ok, said) = promtool(&["test", "rules", "tests/site-status.test.yml"]);
    assert!(ok, "{said}");
    assert!(said.contains("SUCCESS"), "{said}");
}

/// Every rule the file defines is named in the unit tests: a rule added
/// without a test fails here.
#[test]
fn every_rule_has_a_unit_test() {
    let rules = std::fs::read_to_string(dir().join("site-status.rules.yml")).unwrap();
    let tests = std::fs::read_to_string(dir().join("tests/site-status.test.yml")).unwrap();
    let names: Vec<&str> = rules
        .lines()
        .filter_map(|l| {
            let l = l.trim_start().trim_start_matches("- ");
            l.strip_prefix("record:")
                .or_else(|| l.strip_prefix("alert:"))
                .map(str::trim)
        })
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        assert!(tests.contains(name), "{name} has no unit test");
    }
}

/// A rule that does not hold makes the unit tests fail: the thresholds
/// are what the tests pin down, not decoration.
#[test]
fn breaking_a_threshold_fails_the_unit_tests() {
    let rules = std::fs::read_to_string(dir().join("site-status.rules.yml")).unwrap();
    let tests = std::fs::read_to_string(dir().join("tests/site-status.test.yml")).unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("tests")).unwrap();
    let cases = [("1800", "1900"), ("for: 15m", "for: 5m")];
    for (from, to) in cases {
        assert!(rules.contains(from), "the rules have no {from:?}");
        std::fs::write(
            work.path().join("site-status.rules.yml"),
            rules.replacen(from, to, 1),
        )
        .unwrap();
        std::fs::write(work.path().join("tests/site-status.test.yml"), &tests).unwrap();
        let out = Command::new("promtool")
            .args(["test", "rules", "tests/site-status.test.yml"])
            .current_dir(work.path())
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{from:?} → {to:?} still passes the unit tests"
        );
    }
}

/// The PrometheusRule is the plain file under `spec:`, as
/// generate-prometheus-rule.sh writes it.
#[test]
fn the_prometheus_rule_is_the_plain_file() {
    let rules = std::fs::read_to_string(dir().join("site-status.rules.yml")).unwrap();
    let operator = std::fs::read_to_string(dir().join("prometheus-rule.yaml")).unwrap();
    let (header, body) = operator
        .split_once("\nspec:\n")
        .expect("prometheus-rule.yaml has a spec");
    assert!(header.contains("kind: PrometheusRule"), "{header}");
    assert!(
        header.contains("apiVersion: monitoring.coreos.com/v1"),
        "{header}"
    );
    let expected: String = rules
        .lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("  {l}\n")
            }
        })
        .collect();
    assert!(
        body == expected,
        "prometheus-rule.yaml is out of date: run deploy/prometheus/generate-prometheus-rule.sh"
    );
}

/// What the dashboard reads with `use_recording_rules` is recorded.
#[test]
fn the_dashboard_reads_series_the_rules_record() {
    let rules = std::fs::read_to_string(dir().join("site-status.rules.yml")).unwrap();
    for name in [
        recorded::WORST,
        recorded::FAILING,
        recorded::SUCCESS,
        recorded::LAST_RUN,
        recorded::UP,
        recorded::FAILURE,
        recorded::STATE,
    ] {
        assert!(
            rules.contains(&format!("record: {name}\n")),
            "the rules do not record {name}"
        );
    }
}
