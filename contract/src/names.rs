//! The names of the contract: what the status agent publishes and what the
//! dashboard reads by default (a user may configure other names for a fleet
//! that names things differently). See `CONTRACT.md`.

/// The sid of each requirement, `requirement` label; -1..2.
pub const REQUIREMENT_SEVERITY: &str = "drupal_requirement_severity";
/// 1 if the last run parsed, else 0.
pub const REPORT_SUCCESS: &str = "drupal_status_report_success";
/// Unix time of the last run (attempt).
pub const LAST_RUN_TIMESTAMP: &str = "drupal_status_report_last_run_timestamp_seconds";
/// Unix time of the last run that parsed.
pub const LAST_SUCCESS_TIMESTAMP: &str = "drupal_status_report_last_success_timestamp_seconds";
/// How long drush took.
pub const RUN_DURATION: &str = "drupal_status_report_duration_seconds";
/// 1 while the last run failed, absent otherwise; why, in `class` and
/// `exit_code` (see [`crate::failure`]).
pub const REPORT_FAILURE: &str = "drupal_status_report_failure";
/// The labels of [`REPORT_FAILURE`].
pub const FAILURE_CLASS_LABEL: &str = "class";
pub const FAILURE_EXIT_CODE_LABEL: &str = "exit_code";
/// Always 1; versions as labels.
pub const INFO: &str = "drupal_info";

/// Labels on every series and stream.
pub const SITE_LABEL: &str = "site";
pub const ENV_LABEL: &str = "env";
pub const PROFILE_LABEL: &str = "profile";
/// The requirement's id on `drupal_requirement_severity`.
pub const REQUIREMENT_LABEL: &str = "requirement";
/// `drupal_info`'s label for the install profile `drush status` names
/// (also when the `profile` label was configured otherwise).
pub const INSTALL_PROFILE_LABEL: &str = "install_profile";
/// The version labels of `drupal_info`.
pub const INFO_LABELS: [&str; 4] = [
    "drupal_version",
    "php_version",
    "drush_version",
    "profile_version",
];

/// The scrape job of the status workloads (for `up`) and the `job` label
/// of their Loki streams.
pub const JOB: &str = "site-status";
