//! One run of drush, as the runner hands it to the metrics, the HTTP
//! endpoints and the Loki spool: the one value they all share.

use site_status_contract::Requirement;
use site_status_contract::failure::RunFailure;
use site_status_contract::line::ReportLine;

/// Versions for `drupal_info`; empty strings when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versions {
    pub drupal: String,
    pub php: String,
    pub drush: String,
    pub profile: String,
    /// The install profile `drush status` names: `drupal_info`'s
    /// `install_profile`, published also when `--profile` says otherwise.
    pub install_profile: String,
}

/// What one run found.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// When the run started, nanoseconds since the Unix epoch: the Loki
    /// line's timestamp, kept through every retry so Loki deduplicates.
    pub started_unix_ns: i64,
    pub duration_seconds: f64,
    /// The run parsed into a non-empty report. Red requirements with exit
    /// 0 are a success; an empty report, a non-zero exit without a report,
    /// a timeout or garbage are failures.
    pub success: bool,
    /// Why the run failed, in the bounded parts the metric and the
    /// report's `run_failure` carry; `None` exactly when `success`.
    pub run_failure: Option<RunFailure>,
    /// Why the run failed as a sentence, for the log and the report's
    /// `stderr_tail` when drush said nothing ("drush returned no
    /// requirements").
    pub failure: Option<String>,
    /// The last lines of drush's stderr, sanitized, whether the run failed
    /// or not: a successful run's (drush 13's offline "[error] Failed to
    /// retrieve security advisory data.") is logged at debug and nowhere
    /// else.
    pub stderr_tail: String,
    /// The requirements of this run, parsed with the contract; empty when
    /// it failed (the metrics keep the last successful run's).
    pub requirements: Vec<Requirement>,
    pub versions: Versions,
    /// The line pushed to Loki, exactly as the contract writes it.
    pub line: ReportLine,
}
