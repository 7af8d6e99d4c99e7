//! The report line the status agent writes to Loki, one per run: the
//! writer's half of what [`crate::report::parse_report_line`] reads.

use serde_json::{Map, Value};

use crate::failure::RunFailure;

/// One run, as it is pushed to Loki. `requirements` is drush's output,
/// unchanged; on a failed run it is whatever drush printed, or `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportLine {
    pub site: String,
    pub env: String,
    pub profile: String,
    /// RFC 3339, UTC: when the run started.
    pub generated_at: String,
    pub duration_seconds: f64,
    /// `None` when drush did not exit (killed at the timeout, not found).
    pub drush_exit_code: Option<i32>,
    pub drupal_version: Option<String>,
    pub requirements: Value,
    /// The end of drush's standard error, for a run that failed.
    pub stderr_tail: String,
    /// Why the run failed; `None` for a run that succeeded.
    pub run_failure: Option<RunFailure>,
}

impl ReportLine {
    /// The line as JSON (one line: serde_json escapes every newline).
    pub fn to_json(&self) -> String {
        let mut line = Map::new();
        line.insert("site".into(), self.site.clone().into());
        line.insert("env".into(), self.env.clone().into());
        line.insert("profile".into(), self.profile.clone().into());
        line.insert("generated_at".into(), self.generated_at.clone().into());
        line.insert(
            "duration_seconds".into(),
            serde_json::Number::from_f64(self.duration_seconds).map_or(Value::Null, Value::Number),
        );
        line.insert(
            "drush_exit_code".into(),
            self.drush_exit_code.map_or(Value::Null, Value::from),
        );
        line.insert(
            "drupal_version".into(),
            self.drupal_version.clone().map_or(Value::Null, Value::from),
        );
        line.insert("requirements".into(), self.requirements.clone());
        line.insert("stderr_tail".into(), self.stderr_tail.clone().into());
        line.insert(
            "run_failure".into(),
            self.run_failure.map_or(Value::Null, |failure| {
                serde_json::json!({
                    "class": failure.class.as_str(),
                    "exit_code": failure.exit_code,
                    "signal": failure.signal,
                })
            }),
        );
        Value::Object(line).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::FailureClass;
    use crate::report::{ReportFormat, parse_report_line};
    use crate::severity::Severity;

    fn line(requirements: Value, exit: Option<i32>) -> ReportLine {
        ReportLine {
            site: "borger".into(),
            env: "prod".into(),
            profile: "kk_borger".into(),
            generated_at: "2026-11-23T21:00:00Z".into(),
            duration_seconds: 3.2,
            drush_exit_code: exit,
            drupal_version: Some("10.3.6".into()),
            requirements,
            stderr_tail: String::new(),
            run_failure: None,
        }
    }

    #[test]
    fn a_written_line_reads_back_as_a_contract_report() {
        let drush = serde_json::json!({
            "cron": {"title": "Cron", "severity": "Error", "sid": 2, "value": "Never", "description": ""},
            "php": {"title": "PHP", "severity": "Info", "sid": -1, "value": "8.3", "description": ""}
        });
        let report = parse_report_line(&line(drush, Some(0)).to_json(), 1);
        assert_eq!(report.format, ReportFormat::Contract);
        assert_eq!(report.generated_at.as_deref(), Some("2026-11-23T21:00:00Z"));
        assert_eq!(report.duration_seconds, Some(3.2));
        assert_eq!(report.drush_exit_code, Some(0));
        assert_eq!(report.drupal_version.as_deref(), Some("10.3.6"));
        assert_eq!(report.requirements[0].label, "cron");
        assert_eq!(report.requirements[0].severity, Some(Severity::Error));
    }

    #[test]
    fn a_failed_run_keeps_its_exit_code_and_stderr() {
        let mut failed = line(Value::Null, None);
        failed.stderr_tail = "drush: command not found\n".into();
        failed.run_failure = Some(RunFailure::new(FailureClass::SpawnFailed));
        let json: Value = serde_json::from_str(&failed.to_json()).unwrap();
        assert_eq!(json["drush_exit_code"], Value::Null);
        assert_eq!(json["requirements"], Value::Null);
        let report = parse_report_line(&failed.to_json(), 1);
        assert_eq!(report.format, ReportFormat::Unparsed);
        assert_eq!(
            report.stderr_tail.as_deref(),
            Some("drush: command not found\n")
        );
        assert_eq!(
            report.run_failure,
            Some(RunFailure::new(FailureClass::SpawnFailed))
        );
        let exit = RunFailure {
            exit_code: Some(255),
            ..RunFailure::new(FailureClass::ExitCode)
        };
        failed.run_failure = Some(exit);
        assert_eq!(
            parse_report_line(&failed.to_json(), 1).run_failure,
            Some(exit)
        );
        // A class from a newer agent is not guessed at.
        let newer = failed
            .to_json()
            .replace("\"exit_code\",", "\"cosmic_rays\",");
        assert_eq!(parse_report_line(&newer, 1).run_failure, None);
    }
}
