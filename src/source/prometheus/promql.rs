//! The fleet as PromQL: the names a fleet uses (labels, metrics, job) and
//! one environment's selector, turned into the few aggregated queries the
//! grid runs and the narrow ones a view runs while it is open; and what one
//! of the selector's matchers says of an alert's labels. Pure text
//! building: no I/O, no parsing of answers.

use std::time::Duration;

use super::labels::Labels;
use super::merge::NO_PROFILE;
use crate::config::{Config, EnvironmentConfig};
pub use crate::config::{MatchOp, Matcher};
use crate::model::names;
use crate::source::render_matcher;

/// The names a fleet uses, and the selector of one environment, turned into
/// the PromQL the dashboard runs.
#[derive(Debug, Clone)]
pub struct FleetQueries {
    pub(super) site: String,
    pub(super) profile: String,
    pub(super) requirement: String,
    severity: String,
    success: String,
    last_run: String,
    last_success: String,
    duration: String,
    failure: String,
    info: String,
    job: String,
    /// The selector's matchers as they go into every query, each value
    /// quoted afresh.
    selector: Vec<String>,
    /// The selector's matchers, to tell which alerts are this
    /// environment's.
    pub(super) selector_matchers: Vec<Matcher>,
    /// Read the grid from the recorded series of
    /// deploy/prometheus/site-status.rules.yml.
    recorded: bool,
    /// The label that tells apart the environments asked together (see
    /// `group`): kept in every grid answer, so the answers can be split.
    grouped_by: Option<String>,
    /// The environment has an Alertmanager, whose silences may quiet an
    /// alert: the grid's alerts read keeps the labels they match on.
    pub(super) silenceable: bool,
}

/// How many instant queries the grid runs per refresh.
pub const GRID_QUERIES: usize = 6;

/// What deploy/prometheus/site-status.rules.yml records, in the order of
/// the grid's queries; `tests/rules.rs` holds the two equal.
pub mod recorded {
    pub const WORST: &str = "site:drupal_requirement_severity:max";
    pub const FAILING: &str = "site_requirement:drupal_requirement_severity:failing";
    pub const SUCCESS: &str = "site:drupal_status_report_success:min";
    pub const LAST_RUN: &str = "site:drupal_status_report_last_run_timestamp_seconds:max";
    pub const UP: &str = "site:up:min";
    /// One series per site and reason while its last run fails.
    pub const FAILURE: &str = "site:drupal_status_report_failure:max";
    /// One series per site, its state as the `state` label.
    pub const STATE: &str = "site:site_status_state:code";
}

/// What one matcher says of one alert's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Matches,
    Fails,
    /// The alert lacks the label (its rule aggregated it away), or the
    /// matcher is a regex, which is not evaluated here.
    Unsure,
}

/// What `matcher` says of an alert's `labels`, as PromQL would have
/// matched the series the alert came from.
pub(super) fn judge(matcher: &Matcher, labels: &Labels) -> Verdict {
    let value = labels.get(&matcher.name);
    match (matcher.op, value) {
        (MatchOp::Equal, Some(v)) if *v == matcher.value => Verdict::Matches,
        (MatchOp::Equal, Some(_)) => Verdict::Fails,
        // In PromQL `label=""` matches series without the label.
        (MatchOp::Equal, None) if matcher.value.is_empty() => Verdict::Matches,
        (MatchOp::NotEqual, Some(v)) if *v == matcher.value => Verdict::Fails,
        (MatchOp::NotEqual, Some(_)) => Verdict::Matches,
        (MatchOp::NotEqual, None) if !matcher.value.is_empty() => Verdict::Matches,
        _ => Verdict::Unsure,
    }
}

/// A PromQL string literal.
pub use crate::source::string_literal as quote;

impl FleetQueries {
    pub fn new(config: &Config, env: &EnvironmentConfig) -> FleetQueries {
        let selector_matchers = env
            .selector
            .as_ref()
            .map(|s| s.matchers.clone())
            .unwrap_or_default();
        FleetQueries {
            site: config.labels.site.0.clone(),
            profile: config.labels.profile.0.clone(),
            requirement: config.labels.requirement.0.clone(),
            severity: config.metrics.requirement_severity.0.clone(),
            success: config.metrics.report_success.0.clone(),
            last_run: config.metrics.last_run_timestamp.0.clone(),
            last_success: config.metrics.last_success_timestamp.0.clone(),
            duration: config.metrics.run_duration.0.clone(),
            failure: config.metrics.report_failure.0.clone(),
            info: config.metrics.info.0.clone(),
            job: config.metrics.job.clone(),
            selector: selector_matchers.iter().map(render_matcher).collect(),
            selector_matchers,
            recorded: env.use_recording_rules,
            grouped_by: None,
            silenceable: env.alertmanager.is_some(),
        }
    }

    /// The grid queries of several environments at once: the same names,
    /// the `common` matchers, and `label` matching any of `values`; each
    /// answer keeps `label`, to be split by environment.
    pub fn grouped(&self, label: &str, common: &[Matcher], values: &[String]) -> FleetQueries {
        let alternatives: Vec<String> = values.iter().map(|v| regex_syntax::escape(v)).collect();
        let any_of = Matcher {
            name: label.to_string(),
            op: MatchOp::Regex,
            value: alternatives.join("|"),
        };
        let selector_matchers: Vec<Matcher> = common
            .iter()
            .cloned()
            .chain(std::iter::once(any_of))
            .collect();
        FleetQueries {
            selector: selector_matchers.iter().map(render_matcher).collect(),
            selector_matchers,
            grouped_by: Some(label.to_string()),
            ..self.clone()
        }
    }

    pub fn grouped_by(&self) -> Option<&str> {
        self.grouped_by.as_deref()
    }

    fn matchers(&self, extra: &[String]) -> String {
        let parts: Vec<&str> = self
            .selector
            .iter()
            .map(String::as_str)
            .chain(extra.iter().map(String::as_str))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }

    fn by(&self) -> String {
        match &self.grouped_by {
            Some(label) => format!("{label}, {}, {}", self.site, self.profile),
            None => format!("{}, {}", self.site, self.profile),
        }
    }

    /// The firing alerts, as the grid's badge needs them: counted on the
    /// server per site and per the labels the environments' selectors
    /// name, so that which environment an alert is for can be judged on
    /// what comes back (`environment_alerts`: a rule may aggregate the
    /// selector's labels away), and environments sharing a Prometheus
    /// share the read (`group`). Where an Alertmanager's silences may
    /// quiet them, also per the labels a silence can match
    /// (`alertmanager::silences_alert`); without one, one series per site
    /// that has a firing alert. Pending alerts have no badge and are not
    /// read. Never the alerts list with every alert's annotations
    /// (`GET api/v1/alerts`, 8.9 MB a read at 10,000 sites in a storm).
    pub fn firing_alerts(&self) -> String {
        let mut by: Vec<&str> = vec![&self.site];
        by.extend(self.selector_matchers.iter().map(|m| m.name.as_str()));
        if self.silenceable {
            by.extend(["alertname", "severity", &self.requirement, &self.profile]);
        }
        let mut seen = std::collections::HashSet::new();
        by.retain(|label| seen.insert(*label));
        format!(
            "count by ({}) (ALERTS{{{}!=\"\", alertstate=\"firing\"}})",
            by.join(", "),
            self.site
        )
    }

    /// The environment's selector as a filter on alerts. A rule may
    /// aggregate a selector's label away (`max by (site)`): an alert
    /// without the label is kept, as the alerts of no other environment
    /// can be told from it.
    fn alert_matchers(&self) -> String {
        self.selector_matchers
            .iter()
            .map(|m| {
                let or_absent = match m.op {
                    MatchOp::Equal if !m.value.is_empty() => Matcher {
                        op: MatchOp::Regex,
                        value: format!("{}|", regex_syntax::escape(&m.value)),
                        ..m.clone()
                    },
                    MatchOp::Regex => Matcher {
                        value: format!("(?:{})|", m.value),
                        ..m.clone()
                    },
                    _ => m.clone(),
                };
                format!(", {}", render_matcher(&or_absent))
            })
            .collect()
    }

    /// Alerts with the instant each became active as their value: the
    /// labels and state of `ALERTS`, joined with `ALERTS_FOR_STATE` (one
    /// per alert, without the state); an alert that has no start time
    /// comes with 0. `narrow` holds more matchers.
    fn alerts_since(&self, narrow: &str) -> String {
        let m = format!("{{{}!=\"\"{}{narrow}}}", self.site, self.alert_matchers());
        format!(
            "(ALERTS_FOR_STATE{m} + ignoring(alertstate) group_right() (0 * ALERTS{m})) or (0 * ALERTS{m})"
        )
    }

    /// One site's alerts, firing and pending, with since when.
    pub fn site_alerts(&self, site: &str) -> String {
        self.alerts_since(&format!(", {}={}", self.site, quote(site)))
    }

    /// The alerts view's read: how many alerts of each name fire and
    /// wait, counted on the server, and the `per_name` most recently
    /// active of each name in full.
    pub fn alert_list(&self, per_name: usize) -> [String; 2] {
        let m = format!("{{{}!=\"\"{}}}", self.site, self.alert_matchers());
        [
            format!("count by (alertname, alertstate) (ALERTS{m})"),
            format!(
                "topk by (alertname) ({per_name}, {})",
                self.alerts_since("")
            ),
        ]
    }

    /// The grid queries, in the order `fetch_fleet` reads them. The last,
    /// why runs fail, has series only for the sites whose last run failed,
    /// so its answer stays small however large the fleet.
    pub fn grid(&self) -> [String; GRID_QUERIES] {
        let m = self.matchers(&[]);
        let by = self.by();
        if self.recorded {
            // Already aggregated by (env, site, profile): the aggregation
            // over one series per site costs Prometheus next to nothing,
            // and drops the series' name, which a bare selector would send
            // with every sample (a fifth of the answer at 10,000 sites).
            return [
                format!("max by ({by}) ({}{m})", recorded::WORST),
                format!(
                    "max by ({by}, {}) ({}{m})",
                    self.requirement,
                    recorded::FAILING
                ),
                format!("min by ({by}) ({}{m})", recorded::SUCCESS),
                format!("time() - max by ({by}) ({}{m})", recorded::LAST_RUN),
                format!("min by ({by}) ({}{m})", recorded::UP),
                format!(
                    "max by ({by}, {}, {}) ({}{m})",
                    names::FAILURE_CLASS_LABEL,
                    names::FAILURE_EXIT_CODE_LABEL,
                    recorded::FAILURE
                ),
            ];
        }
        [
            format!("max by ({by}) ({}{m})", self.severity),
            format!(
                "max by ({by}, {}) ({}{m} >= 1)",
                self.requirement, self.severity
            ),
            format!("min by ({by}) ({}{m})", self.success),
            format!("time() - max by ({by}) ({}{m})", self.last_run),
            format!(
                "min by ({by}) (up{})",
                self.matchers(&[format!("job={}", quote(&self.job))])
            ),
            format!(
                "max by ({by}, {}, {}) ({}{m})",
                names::FAILURE_CLASS_LABEL,
                names::FAILURE_EXIT_CODE_LABEL,
                self.failure
            ),
        ]
    }

    /// One requirement of one site, collapsed over duplicate series (a
    /// restarted pod) and over each step, so a short failure between two
    /// samples still shows.
    pub fn history(&self, site: &str, requirement: &str, step: Duration) -> String {
        let m = self.matchers(&[
            format!("{}={}", self.site, quote(site)),
            format!("{}={}", self.requirement, quote(requirement)),
        ]);
        // The look-back is at least a minute, so that a scrape interval
        // longer than the step (30-60 s is common) leaves no empty windows.
        format!(
            "max(max_over_time({}{m}[{}s]))",
            self.severity,
            step.as_secs().max(60)
        )
    }

    /// Sites in error and in warning, counted on the server, each site
    /// once at its worst requirement. Evaluated at each step like an
    /// instant query (the latest sample within Prometheus' lookback), so
    /// the last step, just ahead of now, is the current count.
    ///
    /// With the recording rules it reads their per-site worst (one series
    /// per site) instead of every requirement's series: the range query
    /// then costs the server a few dozen times less.
    pub fn timeline(&self) -> [String; 2] {
        let source = if self.recorded {
            recorded::WORST
        } else {
            &self.severity
        };
        let worst = format!("max by ({}) ({source}{})", self.site, self.matchers(&[]));
        [
            format!("count({worst} >= 2)"),
            format!("count({worst} == 1)"),
        ]
    }

    /// Each site of one profile with its `profile_version`; a site with
    /// two pods counts once per version.
    pub fn rollout(&self, profile: &str) -> String {
        // The grid shows sites without a profile label as NO_PROFILE.
        let profile = if profile == NO_PROFILE { "" } else { profile };
        format!(
            "count by ({}, profile_version) ({}{})",
            self.site,
            self.info,
            self.matchers(&[format!("{}={}", self.profile, quote(profile))])
        )
    }

    /// One site's raw series.
    pub fn site(&self, site: &str) -> [String; 6] {
        let m = self.matchers(&[format!("{}={}", self.site, quote(site))]);
        [
            format!("{}{m}", self.severity),
            format!("{}{m}", self.success),
            format!("time() - {}{m}", self.last_run),
            format!("{}{m}", self.duration),
            format!("{}{m}", self.info),
            format!("time() - {}{m}", self.last_success),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_fixtures::config;
    use super::*;

    #[test]
    fn every_selector_operator_and_escaped_quotes_round_trip_into_the_queries() {
        let c = super::super::test_fixtures::config_with_selector(Some(
            r#"env="pr\"od", cluster=~'a|b\'s', team!=`x\y`, tier!~"t\\.*","#,
        ));
        let q = FleetQueries::new(&c, &c.environments[0]);
        let selector = r#"env="pr\"od", cluster=~"a|b's", team!="x\\y", tier!~"t\\.*""#;
        let grid = q.grid();
        assert_eq!(
            grid[0],
            format!("max by (site, profile) (drupal_requirement_severity{{{selector}}})")
        );
        assert_eq!(
            grid[4],
            format!("min by (site, profile) (up{{{selector}, job=\"site-status\"}})")
        );
        assert_eq!(
            q.site("borger")[0],
            format!("drupal_requirement_severity{{{selector}, site=\"borger\"}}")
        );
    }

    #[test]
    fn grid_queries_aggregate_on_the_server_with_the_selector() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let grid = q.grid();
        assert_eq!(
            grid[0],
            "max by (site, profile) (drupal_requirement_severity{env=\"prod\"})"
        );
        assert_eq!(
            grid[1],
            "max by (site, profile, requirement) (drupal_requirement_severity{env=\"prod\"} >= 1)"
        );
        assert_eq!(
            grid[4],
            "min by (site, profile) (up{env=\"prod\", job=\"site-status\"})"
        );
        assert_eq!(
            grid[5],
            "max by (site, profile, class, exit_code) (drupal_status_report_failure{env=\"prod\"})"
        );
        let site = q.site("bor\"ger");
        assert_eq!(
            site[0],
            "drupal_requirement_severity{env=\"prod\", site=\"bor\\\"ger\"}"
        );
    }

    #[test]
    fn with_the_recording_rules_the_timeline_reads_the_recorded_worst() {
        let c = Config::parse(
            "[[environment]]\nname = \"prod\"\nselector = 'env=\"prod\"'\nuse_recording_rules = true\n[environment.prometheus]\nurl = \"http://127.0.0.1:9/\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let q = FleetQueries::new(&c, &c.environments[0]);
        // Through an aggregation, so the answer carries no series names.
        assert_eq!(
            q.grid()[5],
            "max by (site, profile, class, exit_code) (site:drupal_status_report_failure:max{env=\"prod\"})"
        );
        assert_eq!(
            q.grid()[0],
            "max by (site, profile) (site:drupal_requirement_severity:max{env=\"prod\"})"
        );
        assert_eq!(
            q.timeline()[0],
            "count(max by (site) (site:drupal_requirement_severity:max{env=\"prod\"}) >= 2)"
        );
    }

    #[test]
    fn grouped_queries_keep_the_label_that_tells_the_environments_apart() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]).grouped(
            "env",
            &[],
            &["prod".to_string(), "te.st".to_string()],
        );
        assert_eq!(
            q.grid()[0],
            "max by (env, site, profile) (drupal_requirement_severity{env=~\"prod|te\\\\.st\"})"
        );
        assert_eq!(q.grouped_by(), Some("env"));
    }

    /// Real Drupal ids hold spaces and dots: they go into PromQL as
    /// they are, quoted, never as a regex.
    #[test]
    fn requirement_ids_with_spaces_and_dots_are_asked_for_unchanged() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        for id in ["file system", "image.toolkit.gd.version", "update access"] {
            let query = q.history("borger", id, Duration::from_secs(60));
            assert_eq!(
                query,
                format!(
                    "max(max_over_time(drupal_requirement_severity{{env=\"prod\", site=\"borger\", requirement=\"{id}\"}}[60s]))"
                )
            );
        }
    }

    #[test]
    fn timeline_and_rollout_queries_count_on_the_server() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let [errors, warnings] = q.timeline();
        assert_eq!(
            errors,
            "count(max by (site) (drupal_requirement_severity{env=\"prod\"}) >= 2)"
        );
        assert_eq!(
            warnings,
            "count(max by (site) (drupal_requirement_severity{env=\"prod\"}) == 1)"
        );
        assert_eq!(
            q.rollout("kk_\"borger"),
            "count by (site, profile_version) (drupal_info{env=\"prod\", profile=\"kk_\\\"borger\"})"
        );
        assert_eq!(
            q.rollout(NO_PROFILE),
            "count by (site, profile_version) (drupal_info{env=\"prod\", profile=\"\"})"
        );
    }
}
