//! The state `/metrics` is served from, and its Prometheus text-format
//! encoder. Every run's `Outcome` updates it ([`Metrics::record_run`]); the
//! Loki sender and the spool report through [`Metrics::record_push`],
//! [`Metrics::set_spool`] and [`Metrics::record_dropped`]. A scrape only
//! reads memory: it never waits for drush.
//!
//! The encoder is hand-written rather than `prometheus-client`'s because
//! that crate writes OpenMetrics (`# TYPE x info`, counter families without
//! `_total`, `# EOF`), which `promtool check metrics` of Prometheus 2.x
//! rejects ("unknown metric type \"info\"") or lints (counters without
//! HELP). The text format 0.0.4 is small: HELP, TYPE, samples, and three
//! escapes in label values (`\\`, `\"`, `\n`), tested below against
//! requirement ids that hold all of them.

use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, PoisonError};

use site_status_contract::failure::{FailureClass, RunFailure};
use site_status_contract::names;

pub use crate::loki::{DropReason, PushResult};
use crate::outcome::{Outcome, Versions};

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The agent's own series.
pub const RUNS: &str = "site_status_agent_runs_total";
pub const RUN_SECONDS: &str = "site_status_agent_run_duration_seconds";
pub const PUSHES: &str = "site_status_agent_loki_pushes_total";
pub const SPOOL_REPORTS: &str = "site_status_agent_spool_reports";
pub const SPOOL_BYTES: &str = "site_status_agent_spool_bytes";
pub const DROPPED: &str = "site_status_agent_reports_dropped_total";
pub const BUILD_INFO: &str = "site_status_agent_build_info";
pub const FIRST_RUN_FINISHED: &str = "site_status_agent_first_run_finished";

/// Buckets of the run duration histogram, seconds: drush takes 2–8 s on a
/// typical site, and the default timeout is 2 min.
const RUN_BUCKETS: [f64; 10] = [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0];

/// Said in every HELP of a drupal series, as the exporter guidelines ask
/// of cached values.
const CACHED: &str = "cached from the last drush run, not measured at scrape time";

/// How a run ended, the `result` label of `site_status_agent_runs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    Success,
    Failed,
    Timeout,
}

impl RunResult {
    const ALL: [RunResult; 3] = [RunResult::Success, RunResult::Failed, RunResult::Timeout];

    pub fn of(outcome: &Outcome) -> RunResult {
        match outcome.run_failure {
            None if outcome.success => RunResult::Success,
            Some(f) if f.class == FailureClass::Timeout => RunResult::Timeout,
            _ => RunResult::Failed,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RunResult::Success => "success",
            RunResult::Failed => "failed",
            RunResult::Timeout => "timeout",
        }
    }
}

/// The site the agent reports on: the `site`, `env`, `profile` labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    pub site: String,
    pub env: String,
    pub profile: String,
}

/// What `/metrics` shows; shared behind an `Arc`, locked only for the
/// microseconds of an update or an encode.
#[derive(Debug)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `site="..",env="..",profile=".."`, escaped once; empty with
    /// `--no-target-labels`.
    target: String,
    target_fields: Target,
    target_labels: bool,
    version: String,
    /// `None` until the first run has finished: before it, the agent knows
    /// nothing about the site, and a `success 0` would read as "run failed".
    last_run: Option<LastRun>,
    /// From the last run that succeeded.
    last_success: Option<LastSuccess>,
    runs: [u64; 3],
    run_buckets: [u64; RUN_BUCKETS.len()],
    run_count: u64,
    run_sum: f64,
    /// By [`PushResult::ALL`]'s order: every result is written from the
    /// start, at 0.
    pushes: [u64; PushResult::ALL.len()],
    spool_reports: u64,
    spool_bytes: u64,
    /// By [`DropReason::ALL`]'s order, as `pushes`.
    dropped: [u64; DropReason::ALL.len()],
}

#[derive(Debug)]
struct LastRun {
    success: bool,
    /// Why it failed; `drupal_status_report_failure` exists only while
    /// this is set.
    failure: Option<RunFailure>,
    started_seconds: f64,
    duration_seconds: f64,
}

#[derive(Debug)]
struct LastSuccess {
    started_seconds: f64,
    /// The requirement's key as drush has it (its identity in queries and
    /// mute rules) and its sid; `None` when drush gave no severity we read.
    requirements: Vec<(String, Option<i64>)>,
    versions: Versions,
}

impl Metrics {
    /// `target_labels: false` leaves `site`, `env` and `profile` to the
    /// scrape config (`--no-target-labels`).
    pub fn new(target: &Target, target_labels: bool, version: &str) -> Metrics {
        Metrics {
            inner: Mutex::new(Inner {
                target: target_label_list(target, target_labels),
                target_fields: target.clone(),
                target_labels,
                version: version.to_string(),
                last_run: None,
                last_success: None,
                runs: [0; 3],
                run_buckets: [0; RUN_BUCKETS.len()],
                run_count: 0,
                run_sum: 0.0,
                pushes: [0; PushResult::ALL.len()],
                spool_reports: 0,
                spool_bytes: 0,
                dropped: [0; DropReason::ALL.len()],
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // An update never leaves the state half-written in a way a later
        // encode could not show, so a panic elsewhere must not stop scrapes.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The `profile` label, once drush status told the install profile
    /// (`--profile` not given and unknown at start).
    pub fn set_profile(&self, profile: &str) {
        let mut inner = self.lock();
        if inner.target_fields.profile != profile {
            inner.target_fields.profile = profile.to_string();
            inner.target = target_label_list(&inner.target_fields, inner.target_labels);
        }
    }

    /// One finished run. A failed run keeps the requirements and versions
    /// of the last successful one; a successful run replaces them, so a
    /// requirement drush no longer reports disappears.
    pub fn record_run(&self, outcome: &Outcome) {
        let started_seconds = outcome.started_unix_ns as f64 / 1e9;
        let duration = if outcome.duration_seconds.is_finite() {
            outcome.duration_seconds.max(0.0)
        } else {
            0.0
        };
        let result = RunResult::of(outcome);
        let success = outcome.success.then(|| LastSuccess {
            started_seconds,
            requirements: outcome
                .requirements
                .iter()
                .map(|r| (r.label.clone(), r.severity.map(|s| s.sid())))
                .collect(),
            versions: outcome.versions.clone(),
        });

        let mut inner = self.lock();
        inner.last_run = Some(LastRun {
            success: outcome.success,
            // A run that is not a success always has a class: one the
            // runner did not give is the generic one.
            failure: (!outcome.success).then(|| {
                outcome
                    .run_failure
                    .unwrap_or(RunFailure::new(FailureClass::ExitCode))
            }),
            started_seconds,
            duration_seconds: duration,
        });
        if success.is_some() {
            inner.last_success = success;
        }
        if let Some(i) = RunResult::ALL.iter().position(|r| *r == result) {
            inner.runs[i] += 1;
        }
        for (bucket, bound) in inner.run_buckets.iter_mut().zip(RUN_BUCKETS) {
            if duration <= bound {
                *bucket += 1;
            }
        }
        inner.run_count += 1;
        inner.run_sum += duration;
    }

    /// One push attempt to Loki.
    pub fn record_push(&self, result: PushResult) {
        if let Some(i) = PushResult::ALL.iter().position(|r| *r == result) {
            self.lock().pushes[i] += 1;
        }
    }

    /// What the spool holds now.
    pub fn set_spool(&self, reports: u64, bytes: u64) {
        let mut inner = self.lock();
        inner.spool_reports = reports;
        inner.spool_bytes = bytes;
    }

    /// `count` reports dropped at once (the spool may drop several to make
    /// room).
    pub fn record_dropped(&self, reason: DropReason, count: u64) {
        if let Some(i) = DropReason::ALL.iter().position(|r| *r == reason) {
            self.lock().dropped[i] += count;
        }
    }

    /// The Prometheus text format (0.0.4) of the current state.
    pub fn encode(&self) -> String {
        let inner = self.lock();
        let mut out = String::with_capacity(
            2048 + inner
                .last_success
                .as_ref()
                .map_or(0, |s| s.requirements.len() * 128),
        );
        inner.encode(&mut out);
        out
    }
}

impl Inner {
    fn encode(&self, out: &mut String) {
        let t = self.target.as_str();
        if let Some(last) = &self.last_success {
            family(
                out,
                names::REQUIREMENT_SEVERITY,
                "gauge",
                &format!(
                    "Severity of each requirement of the last successful drush status report \
                     (-1 info, 0 OK, 1 warning, 2 error, NaN unknown); {CACHED}."
                ),
            );
            for (requirement, sid) in &last.requirements {
                let mut labels = String::new();
                push_label(&mut labels, names::REQUIREMENT_LABEL, requirement);
                sample(
                    out,
                    names::REQUIREMENT_SEVERITY,
                    t,
                    &labels,
                    sid.map_or(f64::NAN, |s| s as f64),
                );
            }
        }
        if let Some(run) = &self.last_run {
            gauge(
                out,
                names::REPORT_SUCCESS,
                &format!("1 if the last drush status report run parsed, else 0; {CACHED}."),
                t,
                if run.success { 1.0 } else { 0.0 },
            );
            if let Some(failure) = &run.failure {
                family(
                    out,
                    names::REPORT_FAILURE,
                    "gauge",
                    &format!(
                        "1 while the last drush status report run failed, absent otherwise: \
                         why, by class (exit_code, signal, timeout, no_output, unparsable, \
                         too_large, empty_report, no_database, spawn_failed) and drush's exit \
                         code (empty when there was none); {CACHED}."
                    ),
                );
                let mut labels = String::new();
                push_label(
                    &mut labels,
                    names::FAILURE_CLASS_LABEL,
                    failure.class.as_str(),
                );
                push_label(
                    &mut labels,
                    names::FAILURE_EXIT_CODE_LABEL,
                    &failure.exit_code_label(),
                );
                sample(out, names::REPORT_FAILURE, t, &labels, 1.0);
            }
            gauge(
                out,
                names::LAST_RUN_TIMESTAMP,
                "Unix time the last drush status report run (attempt) started.",
                t,
                run.started_seconds,
            );
            gauge(
                out,
                names::RUN_DURATION,
                &format!("How long the last drush status report run took, seconds; {CACHED}."),
                t,
                run.duration_seconds,
            );
        }
        if let Some(last) = &self.last_success {
            gauge(
                out,
                names::LAST_SUCCESS_TIMESTAMP,
                "Unix time the last drush status report run that parsed started.",
                t,
                last.started_seconds,
            );
            family(
                out,
                names::INFO,
                "gauge",
                &format!("Versions of the site, always 1; {CACHED}."),
            );
            let v = &last.versions;
            let mut labels = String::new();
            for (name, value) in names::INFO_LABELS
                .iter()
                .zip([&v.drupal, &v.php, &v.drush, &v.profile])
            {
                push_label(&mut labels, name, value);
            }
            push_label(
                &mut labels,
                names::INSTALL_PROFILE_LABEL,
                &v.install_profile,
            );
            sample(out, names::INFO, t, &labels, 1.0);
        }

        family(
            out,
            RUNS,
            "counter",
            "drush status report runs of this agent, by result.",
        );
        for (result, count) in RunResult::ALL.iter().zip(self.runs) {
            let mut labels = String::new();
            push_label(&mut labels, "result", result.label());
            sample(out, RUNS, t, &labels, count as f64);
        }

        family(
            out,
            RUN_SECONDS,
            "histogram",
            "Duration of this agent's drush status report runs, seconds.",
        );
        let bucket = format!("{RUN_SECONDS}_bucket");
        for (bound, count) in RUN_BUCKETS.iter().zip(self.run_buckets) {
            let mut labels = String::new();
            push_label(&mut labels, "le", &number(*bound));
            sample(out, &bucket, t, &labels, count as f64);
        }
        sample(out, &bucket, t, "le=\"+Inf\"", self.run_count as f64);
        sample(out, &format!("{RUN_SECONDS}_sum"), t, "", self.run_sum);
        sample(
            out,
            &format!("{RUN_SECONDS}_count"),
            t,
            "",
            self.run_count as f64,
        );

        // Readiness no longer waits for the first run (a slow drush kept
        // the pod out of its Service): this says whether it has finished.
        gauge(
            out,
            FIRST_RUN_FINISHED,
            "1 once the first drush run since the agent started has finished, successfully or not (its result is in the status report series).",
            t,
            if self.last_run.is_some() { 1.0 } else { 0.0 },
        );

        family(
            out,
            PUSHES,
            "counter",
            "Pushes of status reports to Loki, by result.",
        );
        for (result, count) in PushResult::ALL.iter().zip(self.pushes) {
            let mut labels = String::new();
            push_label(&mut labels, "result", result.label());
            sample(out, PUSHES, t, &labels, count as f64);
        }

        gauge(
            out,
            SPOOL_REPORTS,
            "Status reports in the spool, not yet accepted by Loki.",
            t,
            self.spool_reports as f64,
        );
        gauge(
            out,
            SPOOL_BYTES,
            "Bytes of the status reports in the spool.",
            t,
            self.spool_bytes as f64,
        );

        family(
            out,
            DROPPED,
            "counter",
            "Status reports dropped without reaching Loki, by reason.",
        );
        for (reason, count) in DropReason::ALL.iter().zip(self.dropped) {
            let mut labels = String::new();
            push_label(&mut labels, "reason", reason.label());
            sample(out, DROPPED, t, &labels, count as f64);
        }

        family(
            out,
            BUILD_INFO,
            "gauge",
            "Version of site-status-agent, always 1.",
        );
        let mut labels = String::new();
        push_label(&mut labels, "version", &self.version);
        sample(out, BUILD_INFO, t, &labels, 1.0);
    }
}

fn target_label_list(target: &Target, target_labels: bool) -> String {
    let mut labels = String::new();
    if target_labels {
        for (name, value) in [
            (names::SITE_LABEL, &target.site),
            (names::ENV_LABEL, &target.env),
            (names::PROFILE_LABEL, &target.profile),
        ] {
            push_label(&mut labels, name, value);
        }
    }
    labels
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

fn gauge(out: &mut String, name: &str, help: &str, target: &str, value: f64) {
    family(out, name, "gauge", help);
    sample(out, name, target, "", value);
}

/// One sample line; `target` and `labels` are already-escaped label lists.
fn sample(out: &mut String, name: &str, target: &str, labels: &str, value: f64) {
    out.push_str(name);
    if !target.is_empty() || !labels.is_empty() {
        out.push('{');
        out.push_str(target);
        if !target.is_empty() && !labels.is_empty() {
            out.push(',');
        }
        out.push_str(labels);
        out.push('}');
    }
    out.push(' ');
    out.push_str(&number(value));
    out.push('\n');
}

/// Appends `name="value"` to a comma-separated label list, escaping the
/// value as the text format requires.
fn push_label(labels: &mut String, name: &str, value: &str) {
    if !labels.is_empty() {
        labels.push(',');
    }
    labels.push_str(name);
    labels.push_str("=\"");
    for c in value.chars() {
        match c {
            '\\' => labels.push_str("\\\\"),
            '"' => labels.push_str("\\\""),
            '\n' => labels.push_str("\\n"),
            c => labels.push(c),
        }
    }
    labels.push('"');
}

/// A sample value as Go's parser reads it (`+Inf`, not Rust's `inf`).
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        let mut s = String::new();
        let _ = write!(s, "{value}");
        s
    }
}

/// What the spool and the sender tell the metrics.
pub struct MetricsEvents(pub std::sync::Arc<Metrics>);

impl crate::loki::PushEvents for MetricsEvents {
    fn pushed(&self, result: PushResult) {
        self.0.record_push(result);
    }

    fn dropped(&self, reason: DropReason, n: u64) {
        self.0.record_dropped(reason, n);
    }

    fn spool(&self, depth: usize, bytes: u64) {
        self.0.set_spool(depth as u64, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use site_status_contract::Requirement;
    use site_status_contract::line::ReportLine;
    use site_status_contract::severity::Severity;

    fn requirement(label: &str, severity: Option<Severity>) -> Requirement {
        Requirement {
            id: label.into(),
            label: label.into(),
            title: String::new(),
            severity,
            value: String::new(),
            description: String::new(),
        }
    }

    fn outcome(success: bool, requirements: Vec<Requirement>) -> Outcome {
        Outcome {
            started_unix_ns: 1_700_000_000_500_000_000,
            duration_seconds: 3.25,
            success,
            run_failure: (!success).then_some(RunFailure {
                exit_code: Some(1),
                ..RunFailure::new(FailureClass::ExitCode)
            }),
            failure: (!success).then(|| "drush exited 1".to_string()),
            stderr_tail: String::new(),
            requirements,
            versions: Versions {
                drupal: "10.3.6".into(),
                php: "8.3.1".into(),
                drush: "13.3.1".into(),
                profile: "1.2.0".into(),
                install_profile: "kk_base".into(),
            },
            line: ReportLine {
                site: "borger".into(),
                env: "prod".into(),
                profile: "kk_borger".into(),
                generated_at: "2023-11-14T22:13:20Z".into(),
                duration_seconds: 3.25,
                drush_exit_code: Some(0),
                drupal_version: Some("10.3.6".into()),
                requirements: serde_json::Value::Null,
                stderr_tail: String::new(),
                run_failure: None,
            },
        }
    }

    fn target() -> Target {
        Target {
            site: "borger".into(),
            env: "prod".into(),
            profile: "kk_borger".into(),
        }
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline_only() {
        let mut labels = String::new();
        push_label(&mut labels, "requirement", "a\\b\"c\nd\te");
        assert_eq!(labels, "requirement=\"a\\\\b\\\"c\\nd\te\"");
    }

    #[test]
    fn numbers_are_written_as_go_parses_them() {
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(-1.0), "-1");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(1_700_000_000.5), "1700000000.5");
    }

    #[test]
    fn nothing_about_drupal_before_the_first_run() {
        let m = Metrics::new(&target(), true, "0.1.0");
        let text = m.encode();
        assert!(!text.contains("drupal_"), "{text}");
        assert!(text.contains(
            "site_status_agent_runs_total{site=\"borger\",env=\"prod\",profile=\"kk_borger\",result=\"timeout\"} 0\n"
        ));
        assert!(text.contains("site_status_agent_build_info{site=\"borger\",env=\"prod\",profile=\"kk_borger\",version=\"0.1.0\"} 1\n"));
    }

    #[test]
    fn a_run_sets_every_drupal_series() {
        let m = Metrics::new(&target(), true, "0.1.0");
        m.record_run(&outcome(
            true,
            vec![
                requirement("cron", Some(Severity::Error)),
                requirement("php", Some(Severity::Info)),
                requirement("odd", None),
            ],
        ));
        let text = m.encode();
        let t = "site=\"borger\",env=\"prod\",profile=\"kk_borger\"";
        for line in [
            format!("drupal_requirement_severity{{{t},requirement=\"cron\"}} 2"),
            format!("drupal_requirement_severity{{{t},requirement=\"php\"}} -1"),
            format!("drupal_requirement_severity{{{t},requirement=\"odd\"}} NaN"),
            format!("drupal_status_report_success{{{t}}} 1"),
            format!("drupal_status_report_last_run_timestamp_seconds{{{t}}} 1700000000.5"),
            format!("drupal_status_report_last_success_timestamp_seconds{{{t}}} 1700000000.5"),
            format!("drupal_status_report_duration_seconds{{{t}}} 3.25"),
            format!(
                "drupal_info{{{t},drupal_version=\"10.3.6\",php_version=\"8.3.1\",drush_version=\"13.3.1\",profile_version=\"1.2.0\",install_profile=\"kk_base\"}} 1"
            ),
            format!("site_status_agent_runs_total{{{t},result=\"success\"}} 1"),
            format!("site_status_agent_run_duration_seconds_bucket{{{t},le=\"2\"}} 0"),
            format!("site_status_agent_run_duration_seconds_bucket{{{t},le=\"5\"}} 1"),
            format!("site_status_agent_run_duration_seconds_bucket{{{t},le=\"+Inf\"}} 1"),
            format!("site_status_agent_run_duration_seconds_sum{{{t}}} 3.25"),
        ] {
            assert!(
                text.contains(&format!("{line}\n")),
                "missing {line} in\n{text}"
            );
        }
    }

    #[test]
    fn the_run_result_counts_timeouts_apart() {
        let mut timed_out = outcome(false, vec![]);
        timed_out.run_failure = Some(RunFailure::new(FailureClass::Timeout));
        assert_eq!(RunResult::of(&timed_out), RunResult::Timeout);
        assert_eq!(RunResult::of(&outcome(false, vec![])), RunResult::Failed);
        assert_eq!(RunResult::of(&outcome(true, vec![])), RunResult::Success);

        let m = Metrics::new(&target(), false, "0.1.0");
        m.record_run(&timed_out);
        m.record_run(&outcome(false, vec![]));
        m.record_run(&outcome(false, vec![]));
        let text = m.encode();
        assert!(text.contains("site_status_agent_runs_total{result=\"timeout\"} 1\n"));
        assert!(text.contains("site_status_agent_runs_total{result=\"failed\"} 2\n"));
        assert!(text.contains("site_status_agent_runs_total{result=\"success\"} 0\n"));
        // No success yet: nothing is known about the requirements.
        assert!(!text.contains("drupal_requirement_severity"));
        assert!(!text.contains("drupal_status_report_last_success_timestamp_seconds"));
        assert!(text.contains("drupal_status_report_success 0\n"));
    }

    #[test]
    fn the_failure_series_exists_only_while_the_last_run_failed() {
        let m = Metrics::new(&target(), true, "0.1.0");
        let t = "site=\"borger\",env=\"prod\",profile=\"kk_borger\"";
        m.record_run(&outcome(true, vec![]));
        assert!(!m.encode().contains(names::REPORT_FAILURE));

        let mut broken = outcome(false, vec![]);
        broken.run_failure = Some(RunFailure {
            exit_code: Some(255),
            ..RunFailure::new(FailureClass::ExitCode)
        });
        m.record_run(&broken);
        let text = m.encode();
        assert!(
            text.contains(&format!(
                "drupal_status_report_failure{{{t},class=\"exit_code\",exit_code=\"255\"}} 1\n"
            )),
            "{text}"
        );
        assert!(text.contains("# TYPE drupal_status_report_failure gauge\n"));
        assert_eq!(text.matches("drupal_status_report_failure{").count(), 1);

        let mut timed_out = outcome(false, vec![]);
        timed_out.run_failure = Some(RunFailure::new(FailureClass::Timeout));
        m.record_run(&timed_out);
        let text = m.encode();
        assert!(
            text.contains(&format!(
                "drupal_status_report_failure{{{t},class=\"timeout\",exit_code=\"\"}} 1\n"
            )),
            "{text}"
        );
        assert_eq!(text.matches("drupal_status_report_failure{").count(), 1);

        m.record_run(&outcome(true, vec![]));
        assert!(!m.encode().contains(names::REPORT_FAILURE));
    }

    #[test]
    fn pushes_spool_and_drops_are_counted() {
        let m = Metrics::new(&target(), false, "0.1.0");
        m.record_push(PushResult::Success);
        m.record_push(PushResult::Success);
        m.record_push(PushResult::ServerError);
        m.set_spool(3, 4096);
        m.record_dropped(DropReason::SpoolFull, 2);
        m.record_dropped(DropReason::Rejected, 1);
        let text = m.encode();
        for line in [
            "site_status_agent_loki_pushes_total{result=\"success\"} 2\n",
            "site_status_agent_loki_pushes_total{result=\"server_error\"} 1\n",
            "site_status_agent_loki_pushes_total{result=\"rate_limited\"} 0\n",
            "site_status_agent_spool_reports 3\n",
            "site_status_agent_spool_bytes 4096\n",
            "site_status_agent_reports_dropped_total{reason=\"spool_full\"} 2\n",
            "site_status_agent_reports_dropped_total{reason=\"rejected\"} 1\n",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn every_help_says_drupal_values_are_cached() {
        let m = Metrics::new(&target(), true, "0.1.0");
        m.record_run(&outcome(
            true,
            vec![requirement("cron", Some(Severity::Ok))],
        ));
        let text = m.encode();
        for name in [
            names::REQUIREMENT_SEVERITY,
            names::REPORT_SUCCESS,
            names::RUN_DURATION,
            names::INFO,
        ] {
            let help = text
                .lines()
                .find(|l| l.starts_with(&format!("# HELP {name} ")))
                .unwrap();
            assert!(help.contains("cached from the last drush run"), "{help}");
        }
    }
}
