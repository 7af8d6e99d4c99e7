//! What the answers say about sites, merged: the five grid answers into one
//! `SiteSummary` per site (a duplicate never hiding a failure), one site's
//! raw series into its `SiteDetail`, and the alerts that belong to this
//! environment. Pure: answers in, model types out, no I/O.

use std::collections::{HashMap, HashSet};

use super::labels::Labels;
use super::promql::{FleetQueries, GRID_QUERIES, Verdict, judge};
use super::wire::Sample;
use crate::model::names;
use crate::model::text::{MAX_NAME_CHARS, clean_line};
use crate::model::{
    Alert, AlertGroup, DrupalInfo, Requirement, RunFailureReason, Severity, SiteDetail,
    SiteSummary, sort_alerts, sort_requirements_worst_first,
};

/// What the grid calls sites whose series carry no profile label.
pub const NO_PROFILE: &str = "(no profile)";

/// The summary a series belongs to, created on first sight. Series without
/// the site label (an `up` without target labels) belong to no site.
///
/// Keyed by the raw label, so text is sanitized once per site rather than
/// once per series: at 10,000 sites this is most of a poll's work.
fn site_entry<'a, 's>(
    sites: &'a mut HashMap<&'s str, SiteSummary>,
    queries: &FleetQueries,
    labels: &'s Labels,
) -> Option<&'a mut SiteSummary> {
    let raw = labels.get(&queries.site)?;
    let summary = sites
        .entry(raw)
        .or_insert_with(|| SiteSummary::from_label(raw, String::new()));
    if summary.profile.is_empty()
        && let Some(profile) = labels.get(&queries.profile)
    {
        summary.profile = clean_line(profile, MAX_NAME_CHARS);
    }
    Some(summary)
}

/// A run's success or a target's `up`: only a real 1 (or more) is good
/// news. NaN or an infinity is a broken series, and must not let a site
/// look fine by being left out.
fn is_one(value: f64) -> bool {
    value.is_finite() && value >= 1.0
}

/// How far ahead of this machine's clock a site's last run may be (clock
/// skew) and still be taken for a time.
const MAX_AHEAD_SECONDS: f64 = 86_400.0;

/// When a site last ran, from the age of its last run as `age` says it:
/// against the instant the server evaluated it, where it said, so that
/// polls of one unchanged series give one time (against this machine's
/// clock after the answer, each poll's latency would look like a newer
/// run). An age that gives no time (NaN, an infinity, a run before 1970 or
/// days ahead) comes from a broken series: the run is taken to be as old
/// as can be, the Unix epoch, so the site reads as stale (never as fresh)
/// and every view can still show its age.
fn ran_at(age: &Sample, now_unix: f64) -> f64 {
    let evaluated = age.at.unwrap_or(now_unix);
    // To the millisecond: `time() - t` and back, evaluated at another
    // instant each poll, differs from `t` in its last bits, and an
    // unchanged run must read as unchanged (the tracker then skips the
    // poll's work).
    let at = ((evaluated - age.value) * 1e3).round() / 1e3;
    if at.is_finite() && (0.0..=now_unix + MAX_AHEAD_SECONDS).contains(&at) {
        at
    } else {
        0.0
    }
}

/// What the grid queries said, merged per site.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedGrid {
    pub sites: Vec<SiteSummary>,
    /// Series that named a site (and requirement) already answered for by
    /// the same query: a federating proxy or a broken aggregation.
    pub duplicates: usize,
}

/// Merges the grid answers per site. A site answered for twice by
/// one query keeps the worse of the two: a duplicate must never hide a
/// failure, whichever order the backend sent them in.
pub fn merge_grid(
    queries: &FleetQueries,
    answers: [Vec<Sample>; GRID_QUERIES],
    now_unix: f64,
) -> MergedGrid {
    let [worst, failing, success, age, up, failure] = answers;
    let mut sites: HashMap<&str, SiteSummary> = HashMap::with_capacity(worst.len());
    let mut duplicates = 0;
    for s in &worst {
        if let Some(summary) = site_entry(&mut sites, queries, &s.labels) {
            let severity = Severity::from_sample(s.value);
            if summary.worst.is_some() {
                duplicates += 1;
            }
            summary.worst = summary.worst.max(severity);
        }
    }
    for s in &failing {
        let Some(severity) = Severity::from_sample(s.value) else {
            continue;
        };
        let Some(requirement) = s.labels.get(&queries.requirement) else {
            continue;
        };
        if let Some(summary) = site_entry(&mut sites, queries, &s.labels) {
            match summary.failing.iter_mut().find(|(id, _)| id == requirement) {
                Some((_, known)) => {
                    duplicates += 1;
                    *known = (*known).max(severity);
                }
                None => summary.failing.push((requirement.to_string(), severity)),
            }
        }
    }
    for s in &success {
        if let Some(summary) = site_entry(&mut sites, queries, &s.labels) {
            let ok = is_one(s.value);
            if summary.run_success.is_some() {
                duplicates += 1;
            }
            summary.run_success = Some(summary.run_success.unwrap_or(true) && ok);
        }
    }
    for s in &age {
        if let Some(summary) = site_entry(&mut sites, queries, &s.labels) {
            let at = ran_at(s, now_unix);
            if summary.last_run.is_some() {
                duplicates += 1;
            }
            // The older run: a stale duplicate may be the one that is true.
            summary.last_run = Some(summary.last_run.map_or(at, |known| known.min(at)));
        }
    }
    for s in &up {
        if let Some(summary) = site_entry(&mut sites, queries, &s.labels) {
            let is_up = is_one(s.value);
            if summary.up.is_some() {
                duplicates += 1;
            }
            summary.up = Some(summary.up.unwrap_or(true) && is_up);
        }
    }
    // Not counted as duplicates: two pods may fail for two reasons, and
    // one series per reason is what the metric is.
    for s in &failure {
        if let Some(summary) = site_entry(&mut sites, queries, &s.labels) {
            let reason = RunFailureReason::from_labels(
                s.labels.get(names::FAILURE_CLASS_LABEL).unwrap_or(""),
                s.labels.get(names::FAILURE_EXIT_CODE_LABEL).unwrap_or(""),
            );
            summary.run_failure = Some(match summary.run_failure.take() {
                Some(known) => known.preferred(reason),
                None => reason,
            });
        }
    }
    let mut list: Vec<SiteSummary> = sites.into_values().collect();
    for summary in &mut list {
        if summary.profile.is_empty() {
            summary.profile = NO_PROFILE.into();
        }
        summary
            .failing
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    list.sort_by(|a, b| a.name.cmp(&b.name));
    MergedGrid {
        sites: list,
        duplicates,
    }
}

/// One site's raw series merged into its detail: the severities (which
/// must have answered) make its requirements, the other four answers of
/// [`FleetQueries::site`] (success, age of the last run, its duration, the
/// info series) whatever of them did answer.
pub fn merge_site(
    queries: &FleetQueries,
    site: &str,
    severities: &[Sample],
    [success, age, duration, info, success_age]: [Option<Vec<Sample>>; 5],
    now_unix: f64,
) -> SiteDetail {
    let mut summary = SiteSummary::from_label(site, String::new());
    let mut requirements: Vec<Requirement> = Vec::new();
    for s in severities {
        if summary.profile.is_empty()
            && let Some(p) = s.labels.get(&queries.profile)
        {
            summary.profile = clean_line(p, MAX_NAME_CHARS);
        }
        let label = s.labels.get(&queries.requirement).unwrap_or_default();
        let severity = Severity::from_sample(s.value);
        // Two series of one requirement (a restarted pod, a
        // federating proxy): one row, at the worse severity.
        if let Some(known) = requirements.iter_mut().find(|r| r.label == label) {
            known.severity = known.severity.max(severity);
            continue;
        }
        requirements.push(Requirement {
            id: clean_line(label, MAX_NAME_CHARS),
            label: label.to_string(),
            title: String::new(),
            severity,
            value: String::new(),
            description: String::new(),
        });
    }
    summary.worst = requirements.iter().filter_map(|r| r.severity).max();
    summary.failing = requirements
        .iter()
        .filter_map(|r| {
            r.severity
                .filter(|s| s.is_failing())
                .map(|s| (r.label.clone(), s))
        })
        .collect();
    fn first_sample(answer: &Option<Vec<Sample>>) -> Option<&Sample> {
        answer.as_ref().and_then(|v| v.first())
    }
    let first = |answer: &Option<Vec<Sample>>| first_sample(answer).map(|s| s.value);
    summary.run_success = first(&success).map(is_one);
    summary.last_run = first_sample(&age).map(|age| ran_at(age, now_unix));
    let run_duration = first(&duration).filter(|v| v.is_finite());
    let info = info.and_then(|v| {
        let labels = &v.first()?.labels;
        let get = |name: &str| {
            labels
                .get(name)
                .map(|v| clean_line(v, MAX_NAME_CHARS))
                .unwrap_or_default()
        };
        Some(DrupalInfo {
            drupal_version: get("drupal_version"),
            php_version: get("php_version"),
            drush_version: get("drush_version"),
            profile_version: get("profile_version"),
        })
    });
    sort_requirements_worst_first(&mut requirements);
    SiteDetail {
        summary,
        requirements,
        run_duration,
        info,
        last_success: first_sample(&success_age).map(|age| ran_at(age, now_unix)),
        alerts: Vec::new(),
        alerts_error: None,
    }
}

/// An alert from one sample of an alerts query: its labels, its state
/// (`alertstate`; a sample without one is of the firing alerts' count),
/// and, where the sample's value is when it became active, since when.
/// `None` for a sample that names no site or an unknown state.
fn alert_of(queries: &FleetQueries, sample: &Sample, value_is_since: bool) -> Option<Alert> {
    let labels = &sample.labels;
    let pending = match labels.get("alertstate") {
        None | Some("firing") => false,
        Some("pending") => true,
        Some(_) => return None,
    };
    let site = labels.get(&queries.site)?;
    let since = Some(sample.value)
        .filter(|at| value_is_since && at.is_finite() && *at > 0.0)
        // Whole milliseconds: a float of seconds carries no truer
        // nanoseconds.
        .map(|at| crate::model::format_rfc3339_utc((at * 1e3).round() as i64 * 1_000_000));
    let built = Alert::sanitized(
        labels.get("alertname").unwrap_or(""),
        site,
        labels.get("severity"),
        None,
        since.as_deref(),
    )
    .with_labels(
        labels.get(&queries.requirement),
        labels.get(&queries.profile),
    );
    Some(Alert { pending, ..built })
}

impl FleetQueries {
    /// The grid's firing alerts ([`FleetQueries::firing_alerts`]) that
    /// name a site of this environment, sanitized and sorted.
    ///
    /// Several environments may share one Prometheus, so an alert is kept
    /// only if the environment's selector could have matched it: for each
    /// matcher (`env="prod"`, `env!="dev"`), an alert carrying the label
    /// must satisfy it, or it belongs to another environment. An alert
    /// lacking the label (its rule aggregated it away) cannot say; nor
    /// can a regex matcher, which is not evaluated here: such an alert is
    /// kept only if its site is one of `grid_sites`, this environment's
    /// (sanitized) site names. With no selector every alert naming a site
    /// is kept.
    pub fn environment_alerts<'a>(
        &self,
        samples: &[Sample],
        grid_sites: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Alert> {
        let mut known: Option<HashSet<&str>> = None;
        let mut grid_sites = Some(grid_sites);
        let mut out = Vec::new();
        for sample in samples {
            let mut unsure = false;
            let mut fails = false;
            for m in &self.selector_matchers {
                match judge(m, &sample.labels) {
                    Verdict::Matches => {}
                    Verdict::Fails => fails = true,
                    Verdict::Unsure => unsure = true,
                }
            }
            if fails {
                continue;
            }
            let Some(built) = alert_of(self, sample, false) else {
                continue;
            };
            if unsure {
                let known = known.get_or_insert_with(|| {
                    grid_sites
                        .take()
                        .map(|s| s.into_iter().collect())
                        .unwrap_or_default()
                });
                if !known.contains(built.site.as_str()) {
                    continue;
                }
            }
            out.push(built);
        }
        sort_alerts(&mut out);
        out
    }

    /// The alerts of a site's or the alerts view's read
    /// ([`FleetQueries::site_alerts`], [`FleetQueries::alert_list`]),
    /// each with since when, sanitized and sorted. The query already
    /// narrowed them to this environment.
    pub fn alerts_since_from(&self, samples: &[Sample]) -> Vec<Alert> {
        let mut out: Vec<Alert> = samples
            .iter()
            .filter_map(|s| alert_of(self, s, true))
            .collect();
        sort_alerts(&mut out);
        out
    }
}

/// The alerts view's counts per alert name, from
/// `count by (alertname, alertstate)`.
pub fn alert_groups(samples: &[Sample]) -> Vec<AlertGroup> {
    let mut groups: Vec<AlertGroup> = Vec::new();
    for sample in samples {
        let count = if sample.value.is_finite() && sample.value > 0.0 {
            sample.value as usize
        } else {
            0
        };
        let name = clean_line(sample.labels.get("alertname").unwrap_or(""), MAX_NAME_CHARS);
        let group = match groups.iter_mut().find(|g| g.name == name) {
            Some(group) => group,
            None => {
                groups.push(AlertGroup {
                    name,
                    ..AlertGroup::default()
                });
                let last = groups.len() - 1;
                &mut groups[last]
            }
        };
        match sample.labels.get("alertstate") {
            Some("firing") => group.firing += count,
            Some("pending") => group.pending += count,
            _ => {}
        }
    }
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    groups
}

#[cfg(test)]
mod tests {
    use super::super::test_fixtures::{FIRING, SINCE, config, config_with_selector};
    use super::*;

    #[test]
    fn merge_combines_the_five_answers_per_site() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let labels = |site: &str, extra: &[(&str, &str)]| {
            let mut l: Labels = [("site", site), ("profile", "kk_borger")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            for (k, v) in extra {
                l.insert(k.to_string(), v.to_string());
            }
            l
        };
        let sample = |l: Labels, value: f64| Sample {
            labels: l,
            value,
            at: None,
        };
        let sites = merge_grid(
            &q,
            [
                vec![sample(labels("a", &[]), 2.0), sample(labels("b", &[]), 0.0)],
                vec![
                    sample(labels("a", &[("requirement", "update")]), 1.0),
                    sample(labels("a", &[("requirement", "cron")]), 2.0),
                ],
                vec![sample(labels("a", &[]), 1.0), sample(labels("c", &[]), 0.0)],
                vec![sample(labels("a", &[]), 60.0)],
                vec![sample(labels("b", &[]), 0.0)],
                vec![
                    sample(
                        labels("c", &[("class", "exit_code"), ("exit_code", "255")]),
                        1.0,
                    ),
                    sample(
                        labels("b", &[("class", "from_the_future"), ("exit_code", "x")]),
                        1.0,
                    ),
                ],
            ],
            1000.0,
        )
        .sites;
        assert_eq!(sites.len(), 3);
        let a = &sites[0];
        assert_eq!(a.worst, Some(Severity::Error));
        assert_eq!(
            a.failing,
            vec![
                ("cron".to_string(), Severity::Error),
                ("update".to_string(), Severity::Warning)
            ]
        );
        assert_eq!(a.last_run, Some(940.0));
        assert_eq!(a.run_success, Some(true));
        assert_eq!(sites[1].up, Some(false));
        assert_eq!(sites[2].worst, None, "c only reported a failed run");
        assert_eq!(sites[2].run_success, Some(false));
        assert_eq!(
            sites[2].run_failure.as_ref().map(|r| r.summary()),
            Some("exit 255".to_string())
        );
        assert_eq!(a.run_failure, None, "a's run did not fail");
        // A class from a newer agent is kept, and a garbage exit code is
        // no exit code.
        let b = sites[1].run_failure.as_ref().unwrap();
        assert_eq!((b.class(), b.exit_code()), ("from_the_future", None));
    }

    #[test]
    fn one_unchanged_run_reads_as_one_time_however_late_each_answer_arrives() {
        // The same run (at 1_800_000_000.25) in two polls the server
        // evaluated at different instants, merged later still: one time,
        // so no poll can pass for a new run (the deploy gate counts runs).
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let ran = 1_800_000_000.25;
        let last_run = |evaluated: f64, merged: f64| {
            let age = Sample {
                labels: [("site", "a"), ("profile", "p")].into(),
                value: evaluated - ran,
                at: Some(evaluated),
            };
            merge_grid(
                &q,
                [vec![], vec![], vec![], vec![age], vec![], vec![]],
                merged,
            )
            .sites[0]
                .last_run
        };
        let first = last_run(1_800_000_030.001, 1_800_000_030.009);
        let second = last_run(1_800_000_060.123, 1_800_000_060.987);
        assert_eq!(first, second);
        assert!((first.unwrap() - ran).abs() < 1e-6, "{first:?}");
    }

    #[test]
    fn two_pods_failing_for_two_reasons_show_the_known_one_either_way() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let failure = |class: &str| Sample {
            labels: [
                ("site", "a"),
                ("profile", "p"),
                ("class", class),
                ("exit_code", ""),
            ]
            .into(),
            value: 1.0,
            at: None,
        };
        for order in [["timeout", "newer"], ["newer", "timeout"]] {
            let grid = merge_grid(
                &q,
                [
                    vec![],
                    vec![],
                    vec![],
                    vec![],
                    vec![],
                    order.map(failure).to_vec(),
                ],
                1000.0,
            );
            let reason = grid.sites[0].run_failure.as_ref().unwrap();
            assert_eq!(reason.summary(), "timed out", "{order:?}");
            assert_eq!(grid.duplicates, 0);
        }
    }

    #[test]
    fn duplicate_series_merge_to_the_worst_and_are_counted() {
        // A federating proxy or a broken aggregation can answer with the
        // same site twice: the worse sample must win, whichever comes last.
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let labels = |site: &str, requirement: Option<&str>| {
            let mut l: Labels = [("site", site), ("profile", "kk_borger")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if let Some(r) = requirement {
                l.insert("requirement", r);
            }
            l
        };
        let sample = |l: Labels, value: f64| Sample {
            labels: l,
            value,
            at: None,
        };
        let grid = merge_grid(
            &q,
            [
                vec![
                    sample(labels("a", None), 2.0),
                    sample(labels("a", None), 0.0),
                ],
                vec![
                    sample(labels("a", Some("cron")), 1.0),
                    sample(labels("a", Some("cron")), 2.0),
                    sample(labels("a", Some("cron")), 1.0),
                ],
                vec![
                    sample(labels("a", None), 0.0),
                    sample(labels("a", None), 1.0),
                ],
                vec![
                    sample(labels("a", None), 900.0),
                    sample(labels("a", None), 60.0),
                ],
                vec![
                    sample(labels("a", None), 0.0),
                    sample(labels("a", None), 1.0),
                ],
                vec![],
            ],
            1000.0,
        );
        let a = &grid.sites[0];
        assert_eq!(a.worst, Some(Severity::Error));
        assert_eq!(a.failing, vec![("cron".to_string(), Severity::Error)]);
        assert_eq!(a.run_success, Some(false));
        assert_eq!(
            a.last_run,
            Some(100.0),
            "the oldest run is the one to trust"
        );
        assert_eq!(a.up, Some(false));
        assert_eq!(grid.duplicates, 6);
    }

    #[test]
    fn non_finite_or_impossible_values_never_make_a_site_look_fine() {
        // A series that says NaN or an infinity is broken: leaving it out
        // would show the site by its severities alone, as fine.
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let labels = |site: &str| -> Labels { [("site", site), ("profile", "p")].into() };
        let sample = |site: &str, value: f64| Sample {
            labels: labels(site),
            value,
            at: None,
        };
        let now = 1_800_000_000.0;
        let ages = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, -1e300];
        let age_sites: Vec<String> = (0..ages.len()).map(|i| format!("age-{i}")).collect();
        let mut worst = vec![
            sample("success-nan", 0.0),
            sample("success-inf", 0.0),
            sample("up-nan", 0.0),
            sample("fine", 0.0),
        ];
        worst.extend(age_sites.iter().map(|s| sample(s, 0.0)));
        let mut age = vec![
            sample("success-nan", 60.0),
            sample("success-inf", 60.0),
            sample("up-nan", 60.0),
            sample("fine", 60.0),
        ];
        age.extend(age_sites.iter().zip(ages).map(|(s, a)| sample(s, a)));
        let grid = merge_grid(
            &q,
            [
                worst,
                vec![],
                vec![
                    sample("success-nan", f64::NAN),
                    sample("success-inf", f64::INFINITY),
                ],
                age,
                vec![sample("up-nan", f64::NAN)],
                vec![],
            ],
            now,
        );
        let state = |name: &str| {
            grid.sites
                .iter()
                .find(|s| s.name == name)
                .unwrap()
                .state(now, std::time::Duration::from_secs(1800))
        };
        use crate::model::SiteState;
        assert_eq!(state("fine"), SiteState::Ok);
        assert_eq!(state("success-nan"), SiteState::RunFailed);
        assert_eq!(state("success-inf"), SiteState::RunFailed);
        assert_eq!(state("up-nan"), SiteState::TargetDown);
        for site in &age_sites {
            assert_eq!(state(site), SiteState::Stale, "{site}");
            let summary = grid.sites.iter().find(|s| s.name == *site).unwrap();
            // A time every view can show an age for.
            assert_eq!(summary.last_run, Some(0.0), "{site}");
        }
        // A clock a few hours ahead is still a time.
        assert_eq!(ran_at(&sample("ahead", -3600.0), now), now + 3600.0);
        assert_eq!(grid.duplicates, 0);
    }

    fn samples(body: &str) -> Vec<Sample> {
        super::super::wire::parse_response(200, body.as_bytes())
            .unwrap()
            .into_vector()
            .unwrap()
    }

    #[test]
    fn firing_alerts_of_this_environment_are_kept() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let firing = samples(FIRING);
        let alerts = q.environment_alerts(&firing, ["borger", "park"]);
        let a = |name: &str, site: &str, severity: Option<&str>| {
            Alert::sanitized(name, site, severity, None, None)
        };
        assert_eq!(
            alerts,
            vec![
                a("DrupalCronStale", "borger", Some("warning")),
                a("DrupalCronStale", "kultur", None),
                // No env label: kept because park is one of prod's sites…
                a("DrupalDown", "park", None),
            ],
            "dev's borger and (no env label, not in the grid) elsewhere are left out"
        );

        // Without a selector every firing alert naming a site is prod's.
        let c = config_with_selector(None);
        let q = FleetQueries::new(&c, &c.environments[0]);
        // The two borger alerts, alike but for the environment, are one.
        let alerts = q.environment_alerts(&firing, std::iter::empty());
        let sites: Vec<&str> = alerts.iter().map(|a| a.site.as_str()).collect();
        assert_eq!(sites, vec!["borger", "elsewhere", "kultur", "park"]);

        // A regex matcher cannot be judged: only sites of the grid.
        let c = config_with_selector(Some(r#"env=~"pr.*""#));
        let q = FleetQueries::new(&c, &c.environments[0]);
        let alerts = q.environment_alerts(&firing, ["park"]);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].site, "park");

        // `!=` rules out the one value.
        let c = config_with_selector(Some(r#"env!="dev""#));
        let q = FleetQueries::new(&c, &c.environments[0]);
        let alerts = q.environment_alerts(&firing, std::iter::empty());
        let sites: Vec<&str> = alerts.iter().map(|a| a.site.as_str()).collect();
        assert_eq!(sites, vec!["borger", "elsewhere", "kultur", "park"]);
    }

    #[test]
    fn a_sites_alerts_say_their_state_and_since_when() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let alerts = q.alerts_since_from(&samples(SINCE));
        assert_eq!(
            alerts,
            vec![
                Alert::sanitized(
                    "DrupalCronStale",
                    "borger",
                    Some("warning"),
                    None,
                    Some("2026-11-23T21:00:00.123Z"),
                )
                .with_labels(Some("cron"), None),
                // Pending, and with no start time known.
                Alert {
                    pending: true,
                    ..Alert::sanitized("DrupalCronStale", "kultur", None, None, None)
                },
            ],
            "an alert in no state the dashboard knows is left out"
        );
    }

    #[test]
    fn the_alerts_views_counts_add_up_per_name() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"alertname":"B","alertstate":"firing"},"value":[1,"3"]},
            {"metric":{"alertname":"A","alertstate":"pending"},"value":[1,"10093"]},
            {"metric":{"alertname":"B","alertstate":"pending"},"value":[1,"2"]},
            {"metric":{"alertname":"A\u001b[2J","alertstate":"firing"},"value":[1,"NaN"]}
        ]}}"#;
        let groups = alert_groups(&samples(body));
        let group = |name: &str, firing, pending| AlertGroup {
            name: name.into(),
            firing,
            pending,
        };
        assert_eq!(
            groups,
            vec![
                group("A", 0, 10_093),
                group("A\u{FFFD}[2J", 0, 0),
                group("B", 3, 2)
            ]
        );
    }

    #[test]
    fn hostile_alert_text_is_sanitized() {
        let c = config_with_selector(None);
        let q = FleetQueries::new(&c, &c.environments[0]);
        let body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"alertname\":\"A\\u001b[2J\",\"alertstate\":\"firing\",\"site\":\"s\\u202ex\",\"severity\":\"crit\\u0007\",\"requirement\":\"r\\u001b]52;c;x\\u0007\"},\"value\":[1,\"1795467600\"]}]}}";
        let alerts = q.alerts_since_from(&samples(body));
        let a = &alerts[0];
        for text in [
            &a.name,
            &a.site,
            a.severity.as_ref().unwrap(),
            a.requirement.as_ref().unwrap(),
            a.active_since.as_ref().unwrap(),
        ] {
            assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        }
        assert_eq!(a.site, "sx");
    }

    #[test]
    fn hostile_label_values_are_sanitized() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let mut l = Labels::new();
        l.insert("site", "evil\u{1b}[2J\u{202e}site");
        l.insert("profile", "p");
        let sites = merge_grid(
            &q,
            [
                vec![Sample {
                    labels: l,
                    value: 0.0,
                    at: None,
                }],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
            ],
            0.0,
        )
        .sites;
        assert_eq!(sites[0].name, "evil\u{FFFD}[2Jsite");
    }
}
