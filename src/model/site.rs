//! One site as the grid knows it, and its requirements as the site view knows them.

use std::time::Duration;

use super::run_failure::RunFailureReason;
use super::severity::{Severity, SiteState};
use super::text::{MAX_NAME_CHARS, clean_line};
use site_status_contract::report::{Report, Reports};
pub use site_status_contract::requirement::{Requirement, sort_requirements_worst_first};

/// What one poll knows of a site: just enough to draw its cell and to say
/// which requirements fail, without pulling every series.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteSummary {
    /// The site label's value exactly as the backend has it: the site's
    /// identity in every query, key and comparison. Never drawn: it may
    /// hold escape sequences or be megabytes long.
    pub label: String,
    /// The label sanitized for the terminal; for display only.
    pub name: String,
    pub profile: String,
    /// Worst requirement; `None` means the site has no requirement series.
    pub worst: Option<Severity>,
    /// `drupal_status_report_success`; `None` when not reported.
    pub run_success: Option<bool>,
    /// Why the last run failed (`drupal_status_report_failure`), read
    /// whatever `run_success` says; `None` when the site publishes no
    /// reason (its run succeeded, or an older agent).
    pub run_failure: Option<RunFailureReason>,
    /// Unix time of the last drush run.
    pub last_run: Option<f64>,
    /// Prometheus' `up` for the site's status workload.
    pub up: Option<bool>,
    /// Requirement ids at warning or worse, worst first then by id.
    pub failing: Vec<(String, Severity)>,
    /// The environment's cluster is known and no site namespace claims
    /// this site: deleted, or not matched by the namespace selector.
    pub not_in_cluster: bool,
    /// Whether an alert fires on the site, and whether a silence holds it.
    pub alert: super::AlertBadge,
}

impl SiteSummary {
    /// A site whose name is known to be clean (the demo's, a test's).
    pub fn new(name: impl Into<String>, profile: impl Into<String>) -> SiteSummary {
        let name = name.into();
        SiteSummary {
            label: name.clone(),
            name,
            profile: profile.into(),
            worst: None,
            run_success: None,
            run_failure: None,
            last_run: None,
            up: None,
            failing: Vec::new(),
            not_in_cluster: false,
            alert: super::AlertBadge::None,
        }
    }

    /// A site named by a backend's label value: kept as it is for
    /// identity, sanitized for display.
    pub fn from_label(label: &str, profile: impl Into<String>) -> SiteSummary {
        SiteSummary {
            label: label.to_string(),
            name: clean_line(label, MAX_NAME_CHARS),
            ..SiteSummary::new(String::new(), profile)
        }
    }

    /// A failed run in words, wherever one is shown: `run failed: exit
    /// 255`, or `run failed` when the site does not say why (an older
    /// agent).
    pub fn run_failed_phrase(&self) -> String {
        super::run_failure::run_failed_phrase(self.run_failure.as_ref())
    }

    pub fn is_stale(&self, now_unix: f64, stale_after: Duration) -> bool {
        match self.last_run {
            Some(t) => now_unix - t > stale_after.as_secs_f64(),
            None => false,
        }
    }

    /// The one state the grid shows. The states that mean "we cannot trust
    /// what we see" win over the requirement severity, because a stale or
    /// failed report may be hiding a newer problem.
    pub fn state(&self, now_unix: f64, stale_after: Duration) -> SiteState {
        if self.up == Some(false) {
            return SiteState::TargetDown;
        }
        if self.run_success == Some(false) {
            return SiteState::RunFailed;
        }
        let Some(worst) = self.worst else {
            return SiteState::NoData;
        };
        if self.is_stale(now_unix, stale_after) {
            return SiteState::Stale;
        }
        match worst {
            Severity::Error => SiteState::Error,
            Severity::Warning => SiteState::Warning,
            Severity::Ok => SiteState::Ok,
            Severity::Info => SiteState::Info,
        }
    }
}

/// Versions from `drupal_info`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DrupalInfo {
    pub drupal_version: String,
    pub php_version: String,
    pub drush_version: String,
    pub profile_version: String,
}

/// Everything about one site that the site view needs; fetched only when the
/// site is opened.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteDetail {
    pub summary: SiteSummary,
    pub requirements: Vec<Requirement>,
    pub run_duration: Option<f64>,
    pub info: Option<DrupalInfo>,
    /// Unix time of the last run that parsed; `None` when not reported
    /// (an older agent) or never.
    pub last_success: Option<f64>,
    /// The site's firing and pending alerts, read with its series.
    pub alerts: Vec<super::Alert>,
    /// Why the alerts could not be read, when they could not.
    pub alerts_error: Option<String>,
}

impl SiteDetail {
    /// The site as the site view shows it: severities as Prometheus has
    /// them now, each requirement's title, value and description from
    /// `report` (the site's latest report that has requirements), matched
    /// by the requirement's exact id. A requirement the report lacks keeps
    /// its bare id. The value and description say what was true at the
    /// report's severity: when Prometheus' severity has moved since, they
    /// describe another state, and only the title is taken.
    pub fn with_report_texts(&self, report: &Report) -> SiteDetail {
        let mut shown = self.clone();
        for req in &mut shown.requirements {
            if let Some(from) = report.requirements.iter().find(|r| r.label == req.label) {
                req.title = from.title.clone();
                if from.severity == req.severity {
                    req.value = from.value.clone();
                    req.description = from.description.clone();
                }
            }
        }
        sort_requirements_worst_first(&mut shown.requirements);
        shown
    }
}

/// Of a site's reports, newest first: the newest that has requirements,
/// the one their texts come from (a failed run's report has none).
pub fn latest_with_requirements(reports: &Reports) -> Option<&Report> {
    reports.reports.iter().find(|r| !r.requirements.is_empty())
}

/// The first line of a report's stderr tail that says something: with a
/// PHP fatal error, the error itself. Already sanitized by the parser.
pub fn first_stderr_line(report: &Report) -> Option<&str> {
    report
        .stderr_tail
        .as_deref()?
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_800_000_000.0;
    const STALE: Duration = Duration::from_secs(1800);

    fn site(worst: Option<Severity>) -> SiteSummary {
        SiteSummary {
            worst,
            run_success: Some(true),
            last_run: Some(NOW - 60.0),
            up: Some(true),
            ..SiteSummary::new("borger", "kk_borger")
        }
    }

    #[test]
    fn state_follows_the_worst_requirement() {
        assert_eq!(
            site(Some(Severity::Error)).state(NOW, STALE),
            SiteState::Error
        );
        assert_eq!(
            site(Some(Severity::Warning)).state(NOW, STALE),
            SiteState::Warning
        );
        assert_eq!(site(Some(Severity::Ok)).state(NOW, STALE), SiteState::Ok);
        assert_eq!(
            site(Some(Severity::Info)).state(NOW, STALE),
            SiteState::Info
        );
    }

    #[test]
    fn missing_or_untrustworthy_data_is_never_ok() {
        assert_eq!(site(None).state(NOW, STALE), SiteState::NoData);

        let mut stale = site(Some(Severity::Ok));
        stale.last_run = Some(NOW - 1801.0);
        assert_eq!(stale.state(NOW, STALE), SiteState::Stale);

        let mut failed = site(Some(Severity::Ok));
        failed.run_success = Some(false);
        assert_eq!(failed.state(NOW, STALE), SiteState::RunFailed);

        let mut down = site(Some(Severity::Ok));
        down.up = Some(false);
        down.run_success = Some(false);
        assert_eq!(down.state(NOW, STALE), SiteState::TargetDown);
    }

    #[test]
    fn a_failed_run_says_why_when_the_site_does() {
        let mut failed = site(Some(Severity::Ok));
        failed.run_success = Some(false);
        assert_eq!(failed.run_failed_phrase(), "run failed");
        failed.run_failure = Some(RunFailureReason::from_labels("exit_code", "255"));
        assert_eq!(failed.run_failed_phrase(), "run failed: exit 255");
    }

    fn bare(label: &str, severity: Severity) -> Requirement {
        Requirement {
            id: label.to_string(),
            label: label.to_string(),
            title: String::new(),
            severity: Some(severity),
            value: String::new(),
            description: String::new(),
        }
    }

    #[test]
    fn texts_come_from_the_report_and_severities_from_prometheus() {
        let detail = SiteDetail {
            summary: site(Some(Severity::Error)),
            requirements: vec![
                bare("file system", Severity::Error),
                bare("image.toolkit.gd.version", Severity::Ok),
                bare("only in prometheus", Severity::Warning),
            ],
            run_duration: None,
            info: None,
            last_success: None,
            alerts: vec![],
            alerts_error: None,
        };
        let mut report = site_status_contract::report::parse_report_line("[]", 1);
        report.requirements = vec![
            Requirement {
                title: "File system".into(),
                value: "Writable (public download method)\n".into(),
                description: "The directory is not writable.\n".into(),
                ..bare("file system", Severity::Error)
            },
            Requirement {
                title: "Only in Prometheus".into(),
                value: "Fine\n".into(),
                // The report is older than Prometheus' severity: its value
                // says another state.
                ..bare("only in prometheus", Severity::Ok)
            },
            Requirement {
                title: "GD library".into(),
                value: "bundled (2.1.0 compatible)\n".into(),
                ..bare("image.toolkit.gd.version", Severity::Ok)
            },
        ];
        let shown = detail.with_report_texts(&report);
        let fs = &shown.requirements[0];
        assert_eq!(fs.label, "file system");
        assert_eq!(fs.title, "File system");
        assert_eq!(fs.severity, Some(Severity::Error), "live severity");
        assert_eq!(fs.description, "The directory is not writable.\n");
        let gd = shown
            .requirements
            .iter()
            .find(|r| r.label == "image.toolkit.gd.version")
            .unwrap();
        assert_eq!(gd.display_title(), "GD library");
        let lone = shown
            .requirements
            .iter()
            .find(|r| r.label == "only in prometheus")
            .unwrap();
        assert_eq!(lone.display_title(), "Only in Prometheus");
        assert_eq!(lone.value, "", "a value of another severity is not shown");
    }

    #[test]
    fn the_first_stderr_line_that_says_something() {
        let mut report = site_status_contract::report::parse_report_line("[]", 1);
        assert_eq!(first_stderr_line(&report), None);
        report.stderr_tail =
            Some("\n  PHP Fatal error:  Uncaught Error in x.php:12\nStack trace:\n".into());
        assert_eq!(
            first_stderr_line(&report),
            Some("PHP Fatal error:  Uncaught Error in x.php:12")
        );
    }

    #[test]
    fn a_site_without_a_last_run_time_is_not_called_stale() {
        let mut s = site(Some(Severity::Ok));
        s.last_run = None;
        assert_eq!(s.state(NOW, STALE), SiteState::Ok);
    }
}
