//! The deploy gate's judgement (`site-status rollout`): a baseline of a
//! profile's sites taken when the gate starts, then, poll by poll, which
//! sites run the new version, which have reported on it, and which
//! regressed. Pure: the caller polls, interprets the fleet through the
//! tracker (so mute rules apply as everywhere) and says what time it is.
//!
//! A site **regressed** when, on the new version, it fails a requirement
//! it did not fail in the baseline, or its state is one that means "we do
//! not know" (no data, stale, run failed, target down): the gate never
//! passes on missing data.

use std::collections::{BTreeMap, BTreeSet};

use glob::{MatchOptions, Pattern};

use super::fleet::EnvFleet;
use super::rollout::Rollout;
use super::severity::SiteState;

/// Two runs' times this close are one run: a time read back from an age
/// (`time() - last run`) carries float noise of a microsecond or so, and a
/// repeated answer must never pass for a report on the new version.
const SAME_RUN_WITHIN: f64 = 0.001;

/// Where a site's baseline came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BaselineFrom {
    /// Its state when the gate started, before it switched.
    Start,
    /// Its last state before it switched, at `at` (Unix seconds), found in
    /// the backend's history.
    BeforeSwitch { at: f64 },
    /// Its state at `--since` (Unix seconds), the deploy's start.
    Since { at: f64 },
    /// None could be found: judged fail-closed, every failing requirement
    /// counts as a regression.
    None,
}

impl BaselineFrom {
    /// The word for it in JSON and the summary's counts.
    pub fn key(&self) -> &'static str {
        match self {
            BaselineFrom::Start => "start",
            BaselineFrom::BeforeSwitch { .. } => "before-switch",
            BaselineFrom::Since { .. } => "since",
            BaselineFrom::None => "none",
        }
    }

    /// When the baseline was taken, for those taken at a known instant.
    pub fn at(&self) -> Option<f64> {
        match self {
            BaselineFrom::BeforeSwitch { at } | BaselineFrom::Since { at } => Some(*at),
            BaselineFrom::Start | BaselineFrom::None => None,
        }
    }
}

/// A site's switch onto the version, as the backend's history shows it:
/// the last instant it was seen on another version, and which.
#[derive(Debug, Clone, PartialEq)]
pub struct Switch {
    pub at: f64,
    pub from_version: String,
}

/// One site as the gate found it at its start.
#[derive(Debug, Clone, PartialEq)]
struct Before {
    version: Option<String>,
    /// The version it ran before its switch, where the history says: what
    /// the deploy took it from, though it was already on the new one when
    /// the gate started.
    switched_from: Option<String>,
    failing: BTreeSet<String>,
    last_run: Option<f64>,
    from: BaselineFrom,
}

/// One site of the profile, as far as the rollout has come.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSite {
    /// The site's label.
    pub site: String,
    /// Its version at the gate's start; `None` when it had none or was not
    /// there yet.
    pub old_version: Option<String>,
    /// Its version now.
    pub version: Option<String>,
    /// When the gate first saw it on the new version (Unix seconds).
    pub switched_at: Option<f64>,
    /// On the new version with a status report made on it.
    pub reported: bool,
    pub state: Option<SiteState>,
    /// Requirement ids failing on the new version that did not fail in the
    /// baseline (mutes applied), sorted.
    pub regressions: Vec<String>,
    /// Where its baseline came from.
    pub baseline: BaselineFrom,
}

impl GateSite {
    /// Reported on the new version and worse than before.
    pub fn regressed(&self) -> bool {
        self.reported
            && (!self.regressions.is_empty()
                || self.state.is_some_and(|s| {
                    matches!(
                        s,
                        SiteState::NoData
                            | SiteState::Stale
                            | SiteState::RunFailed
                            | SiteState::TargetDown
                    )
                }))
    }
}

/// Where the gate stands after a poll.
#[derive(Debug, Clone, PartialEq)]
pub struct GateProgress {
    /// Every site of the profile, by label.
    pub sites: Vec<GateSite>,
}

impl GateProgress {
    pub fn total(&self) -> usize {
        self.sites.len()
    }

    pub fn on_version(&self) -> usize {
        self.sites
            .iter()
            .filter(|s| s.switched_at.is_some())
            .count()
    }

    pub fn reported(&self) -> usize {
        self.sites.iter().filter(|s| s.reported).count()
    }

    pub fn regressed(&self) -> Vec<&GateSite> {
        self.sites.iter().filter(|s| s.regressed()).collect()
    }

    /// Every site is on the new version and has reported on it: the gate
    /// can judge.
    pub fn complete(&self) -> bool {
        !self.sites.is_empty() && self.sites.iter().all(|s| s.reported)
    }

    /// The sites still waiting: not on the version, or not reported on it.
    pub fn waiting(&self) -> Vec<&GateSite> {
        self.sites.iter().filter(|s| !s.reported).collect()
    }

    /// How many sites have a baseline from each source, by
    /// [`BaselineFrom::key`].
    pub fn baselines(&self) -> BTreeMap<&'static str, usize> {
        let mut counts: BTreeMap<&'static str, usize> = ["start", "before-switch", "since", "none"]
            .into_iter()
            .map(|k| (k, 0))
            .collect();
        for site in &self.sites {
            *counts.entry(site.baseline.key()).or_insert(0) += 1;
        }
        counts
    }
}

/// The sites a gate judges: all of the profile, or those matching any of
/// the `--site` globs (`*`, `?`, `[a-z]`, case-sensitive as site names
/// are).
#[derive(Debug, Clone, Default)]
pub struct SiteSelection {
    patterns: Vec<Pattern>,
}

impl SiteSelection {
    pub fn parse(globs: &[String]) -> Result<SiteSelection, String> {
        let patterns = globs
            .iter()
            .map(|g| Pattern::new(g).map_err(|e| format!("--site {g:?}: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(SiteSelection { patterns })
    }

    pub fn admits(&self, site: &str) -> bool {
        let options = MatchOptions {
            case_sensitive: true,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        self.patterns.is_empty() || self.patterns.iter().any(|p| p.matches_with(site, options))
    }

    pub fn is_all(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The globs as given, for messages.
    pub fn globs(&self) -> Vec<&str> {
        self.patterns.iter().map(Pattern::as_str).collect()
    }
}

/// The gate for one profile of one environment and the version it waits
/// for.
#[derive(Debug, Clone)]
pub struct Gate {
    pub profile: String,
    pub version: String,
    selection: SiteSelection,
    baseline: BTreeMap<String, Before>,
    switched: BTreeMap<String, f64>,
    /// Per site, the newest run seen while it was not on the version: a
    /// report counts for the version only when it is newer.
    old_runs: BTreeMap<String, f64>,
}

/// How a gate ended, and so its exit code.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every site is on the version and at most the allowed number
    /// regressed.
    Passed,
    /// More sites regressed than allowed.
    Regressed,
    /// The time ran out with sites not on the version or not reported on
    /// it.
    TimedOut,
    /// The backend was failing when the time ran out, or never answered:
    /// the gate does not pass on missing data.
    BackendDown { error: String },
}

impl Verdict {
    /// What the gate says once every site has reported on the version.
    pub fn of_complete(progress: &GateProgress, max_failing: usize) -> Verdict {
        if progress.regressed().len() > max_failing {
            Verdict::Regressed
        } else {
            Verdict::Passed
        }
    }

    /// What the gate says when its time runs out: `progress` is `None`
    /// before a baseline could be taken; `backend_error` is the failure of
    /// the latest attempt to query the backend, if it failed.
    pub fn at_deadline(
        progress: Option<&GateProgress>,
        max_failing: usize,
        backend_error: Option<&str>,
    ) -> Verdict {
        match (progress, backend_error) {
            (_, Some(error)) => Verdict::BackendDown {
                error: error.to_string(),
            },
            (None, None) => Verdict::BackendDown {
                error: "no answer from the backend yet".to_string(),
            },
            (Some(p), None) if p.complete() => Verdict::of_complete(p, max_failing),
            (Some(_), None) => Verdict::TimedOut,
        }
    }

    /// The word for it in text and JSON.
    pub fn key(&self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Regressed => "regressed",
            Verdict::TimedOut => "timed_out",
            Verdict::BackendDown { .. } => "backend_down",
        }
    }
}

impl Gate {
    /// Takes the baseline: each site of `profile` in `fleet` (interpreted,
    /// mutes applied) that `selection` admits, with its version from
    /// `rollout`, as the gate found them at its start.
    pub fn start(
        profile: &str,
        version: &str,
        selection: SiteSelection,
        fleet: &EnvFleet,
        rollout: &Rollout,
    ) -> Gate {
        Gate::start_from(
            profile,
            version,
            selection,
            fleet,
            rollout,
            BaselineFrom::Start,
        )
    }

    /// [`Gate::start`] with `fleet` and `rollout` as they were at the
    /// instant `from` names (`--since`).
    pub fn start_from(
        profile: &str,
        version: &str,
        selection: SiteSelection,
        fleet: &EnvFleet,
        rollout: &Rollout,
        from: BaselineFrom,
    ) -> Gate {
        let versions: BTreeMap<&str, &str> = rollout
            .sites
            .iter()
            .map(|(s, v)| (s.as_str(), v.as_str()))
            .collect();
        let baseline: BTreeMap<String, Before> = fleet
            .sites
            .iter()
            .filter(|s| s.profile == profile && selection.admits(&s.label))
            .map(|s| {
                (
                    s.label.clone(),
                    Before {
                        version: versions.get(s.label.as_str()).map(|v| v.to_string()),
                        switched_from: None,
                        failing: s.failing.iter().map(|(id, _)| id.clone()).collect(),
                        last_run: s.last_run,
                        from,
                    },
                )
            })
            .collect();
        let old_runs = baseline
            .iter()
            .filter_map(|(site, b)| b.last_run.map(|r| (site.clone(), r)))
            .collect();
        Gate {
            profile: profile.to_string(),
            version: version.to_string(),
            selection,
            baseline,
            switched: BTreeMap::new(),
            old_runs,
        }
    }

    /// How many sites the baseline had.
    pub fn baseline_size(&self) -> usize {
        self.baseline.len()
    }

    /// The sites whose baseline, taken at the gate's start, is already on
    /// the version: their state then is not a baseline, the one before
    /// their switch is ([`Gate::before_switch`]).
    pub fn switched_before_start(&self) -> Vec<String> {
        self.baseline
            .iter()
            .filter(|(_, b)| {
                b.from == BaselineFrom::Start && b.version.as_deref() == Some(self.version.as_str())
            })
            .map(|(site, _)| site.clone())
            .collect()
    }

    /// Replaces `site`'s baseline with its state before its switch:
    /// `found` is its switch and the requirements it failed at its last
    /// sample on the old version (mutes applied), or `None` when the
    /// history has none, and the site is judged fail-closed.
    pub fn before_switch(&mut self, site: &str, found: Option<(Switch, BTreeSet<String>)>) {
        if let Some(before) = self.baseline.get_mut(site) {
            match found {
                Some((switch, failing)) => {
                    before.failing = failing;
                    before.switched_from = Some(switch.from_version);
                    before.from = BaselineFrom::BeforeSwitch { at: switch.at };
                }
                None => {
                    before.failing = BTreeSet::new();
                    before.from = BaselineFrom::None;
                }
            }
        }
    }

    /// Takes a poll made at `now`: the interpreted fleet and the profile's
    /// versions. Sites of the profile that appear after the start are
    /// judged against an empty baseline.
    pub fn observe(&mut self, fleet: &EnvFleet, rollout: &Rollout, now: f64) -> GateProgress {
        let versions: BTreeMap<&str, &str> = rollout
            .sites
            .iter()
            .map(|(s, v)| (s.as_str(), v.as_str()))
            .collect();
        let mut labels: BTreeSet<&str> = self.baseline.keys().map(String::as_str).collect();
        labels.extend(
            fleet
                .sites
                .iter()
                .filter(|s| s.profile == self.profile && self.selection.admits(&s.label))
                .map(|s| s.label.as_str()),
        );
        let mut sites = Vec::new();
        for label in labels {
            let version = versions.get(label).map(|v| v.to_string());
            let on_version = version.as_deref() == Some(self.version.as_str());
            if on_version {
                self.switched.entry(label.to_string()).or_insert(now);
            }
            let before = self.baseline.get(label);
            let current = fleet.find(label);
            let summary = current.map(|i| &fleet.sites[i]);
            let state = current.and_then(|i| fleet.states.get(i).copied());
            let last_run = summary.and_then(|s| s.last_run);
            if !on_version && let Some(run) = last_run {
                let seen = self.old_runs.entry(label.to_string()).or_insert(run);
                *seen = seen.max(run);
            }
            // A report made on the new version: the site was already on it
            // at the start, or it ran after every run seen on the old one.
            let ran_since = match last_run {
                Some(run) => self
                    .old_runs
                    .get(label)
                    .is_none_or(|old| run > *old + SAME_RUN_WITHIN),
                None => false,
            };
            let was_on_version =
                before.and_then(|b| b.version.as_deref()) == Some(self.version.as_str());
            let reported = on_version && (was_on_version || ran_since);
            let regressions = match summary {
                Some(s) if reported => s
                    .failing
                    .iter()
                    .map(|(id, _)| id)
                    .filter(|id| before.is_none_or(|b| !b.failing.contains(*id)))
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                _ => Vec::new(),
            };
            sites.push(GateSite {
                site: label.to_string(),
                old_version: before.and_then(|b| b.switched_from.clone().or(b.version.clone())),
                version,
                switched_at: if on_version {
                    self.switched.get(label).copied()
                } else {
                    None
                },
                reported,
                state: if reported { state } else { None },
                regressions,
                baseline: before.map_or(BaselineFrom::None, |b| b.from),
            });
        }
        GateProgress { sites }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{Severity, SiteSummary};

    const STALE: Duration = Duration::from_secs(1800);

    fn site(name: &str, last_run: f64, failing: &[&str]) -> SiteSummary {
        SiteSummary {
            worst: Some(if failing.is_empty() {
                Severity::Ok
            } else {
                Severity::Error
            }),
            run_success: Some(true),
            last_run: Some(last_run),
            up: Some(true),
            failing: failing
                .iter()
                .map(|id| (id.to_string(), Severity::Error))
                .collect(),
            ..SiteSummary::new(name, "kk_borger")
        }
    }

    fn fleet(sites: Vec<SiteSummary>, now: f64) -> EnvFleet {
        EnvFleet::new("test", sites, now, STALE)
    }

    fn rollout(pairs: &[(&str, &str)]) -> Rollout {
        Rollout::from_pairs("kk_borger", pairs.iter().copied())
    }

    #[test]
    fn a_clean_rollout_completes_with_no_regression() {
        let t0 = 1_000.0;
        let start = fleet(vec![site("a", t0, &["cron"]), site("b", t0, &[])], t0);
        let mut gate = Gate::start(
            "kk_borger",
            "3.15",
            SiteSelection::default(),
            &start,
            &rollout(&[("a", "3.14"), ("b", "3.14")]),
        );

        // a switched but has not run since; b is still on 3.14.
        let p = gate.observe(
            &fleet(
                vec![site("a", t0, &["cron"]), site("b", t0, &[])],
                t0 + 10.0,
            ),
            &rollout(&[("a", "3.15"), ("b", "3.14")]),
            t0 + 10.0,
        );
        assert_eq!((p.on_version(), p.reported(), p.total()), (1, 0, 2));
        assert!(!p.complete());

        // Both on 3.15 and reported; a still fails cron, as before.
        let p = gate.observe(
            &fleet(
                vec![site("a", t0 + 20.0, &["cron"]), site("b", t0 + 25.0, &[])],
                t0 + 30.0,
            ),
            &rollout(&[("a", "3.15"), ("b", "3.15")]),
            t0 + 30.0,
        );
        assert!(p.complete());
        assert!(p.regressed().is_empty(), "{p:?}");
        assert_eq!(p.sites[0].switched_at, Some(t0 + 10.0), "first seen");
        assert_eq!(p.sites[0].old_version.as_deref(), Some("3.14"));
    }

    #[test]
    fn a_new_failure_or_missing_data_on_the_new_version_is_a_regression() {
        let t0 = 1_000.0;
        let start = fleet(vec![site("a", t0, &[]), site("b", t0, &[])], t0);
        let before = rollout(&[("a", "3.14"), ("b", "3.14")]);
        let mut gate = Gate::start(
            "kk_borger",
            "3.15",
            SiteSelection::default(),
            &start,
            &before,
        );
        let mut failed = site("b", t0 + 20.0, &[]);
        failed.run_success = Some(false);
        let p = gate.observe(
            &fleet(vec![site("a", t0 + 20.0, &["update"]), failed], t0 + 30.0),
            &rollout(&[("a", "3.15"), ("b", "3.15")]),
            t0 + 30.0,
        );
        assert!(p.complete());
        let regressed: Vec<(&str, &[String])> = p
            .regressed()
            .iter()
            .map(|s| (s.site.as_str(), s.regressions.as_slice()))
            .collect();
        assert_eq!(
            regressed,
            [("a", &["update".to_string()][..]), ("b", &[][..])]
        );
        assert_eq!(p.sites[1].state, Some(SiteState::RunFailed));
    }

    #[test]
    fn a_site_already_on_the_version_counts_as_reported_and_a_new_one_joins() {
        let t0 = 1_000.0;
        let start = fleet(vec![site("a", t0, &[])], t0);
        let mut gate = Gate::start(
            "kk_borger",
            "3.15",
            SiteSelection::default(),
            &start,
            &rollout(&[("a", "3.15")]),
        );
        let p = gate.observe(
            &fleet(
                vec![site("a", t0, &[]), site("new", t0 + 5.0, &[])],
                t0 + 10.0,
            ),
            &rollout(&[("a", "3.15"), ("new", "3.14")]),
            t0 + 10.0,
        );
        assert_eq!(p.total(), 2);
        assert!(p.sites[0].reported);
        assert_eq!(p.waiting().len(), 1);
        assert_eq!(p.waiting()[0].site, "new");
    }

    #[test]
    fn site_globs_narrow_the_gate_and_a_bad_glob_is_named() {
        let t0 = 1_000.0;
        let start = fleet(
            vec![
                site("borger", t0, &[]),
                site("borger-test", t0, &[]),
                site("skole", t0, &[]),
            ],
            t0,
        );
        let only = SiteSelection::parse(&["borger*".to_string()]).unwrap();
        let gate = Gate::start(
            "kk_borger",
            "3.15",
            only,
            &start,
            &rollout(&[
                ("borger", "3.14"),
                ("borger-test", "3.14"),
                ("skole", "3.14"),
            ]),
        );
        assert_eq!(gate.baseline_size(), 2);
        let error = SiteSelection::parse(&["[borger".to_string()]).unwrap_err();
        assert!(error.starts_with("--site \"[borger\""), "{error}");
    }

    #[test]
    fn the_verdict_never_passes_on_missing_data() {
        let t0 = 1_000.0;
        let start = fleet(vec![site("a", t0, &[]), site("b", t0, &[])], t0);
        let mut gate = Gate::start(
            "kk_borger",
            "3.15",
            SiteSelection::default(),
            &start,
            &rollout(&[("a", "3.14"), ("b", "3.14")]),
        );
        let one_regressed = gate.observe(
            &fleet(
                vec![site("a", t0 + 9.0, &["update"]), site("b", t0 + 9.0, &[])],
                t0 + 10.0,
            ),
            &rollout(&[("a", "3.15"), ("b", "3.15")]),
            t0 + 10.0,
        );
        assert_eq!(Verdict::of_complete(&one_regressed, 0), Verdict::Regressed);
        assert_eq!(Verdict::of_complete(&one_regressed, 1), Verdict::Passed);
        // The same, judged at the deadline, unless the backend is failing.
        assert_eq!(
            Verdict::at_deadline(Some(&one_regressed), 1, None),
            Verdict::Passed
        );
        assert!(matches!(
            Verdict::at_deadline(Some(&one_regressed), 1, Some("connection refused")),
            Verdict::BackendDown { error } if error == "connection refused"
        ));
        assert!(matches!(
            Verdict::at_deadline(None, 0, None),
            Verdict::BackendDown { .. }
        ));
        let halfway = gate.observe(
            &fleet(
                vec![site("a", t0 + 9.0, &[]), site("b", t0, &[])],
                t0 + 20.0,
            ),
            &rollout(&[("a", "3.15"), ("b", "3.14")]),
            t0 + 20.0,
        );
        assert_eq!(
            Verdict::at_deadline(Some(&halfway), 5, None),
            Verdict::TimedOut
        );
    }

    #[test]
    fn a_run_seen_on_the_old_version_does_not_count_for_the_new_one() {
        let t0 = 1_000.0;
        let start = fleet(vec![site("a", t0, &[])], t0);
        let mut gate = Gate::start(
            "kk_borger",
            "3.15",
            SiteSelection::default(),
            &start,
            &rollout(&[("a", "3.14")]),
        );
        // A scheduled run, still on 3.14.
        let p = gate.observe(
            &fleet(vec![site("a", t0 + 30.0, &[])], t0 + 40.0),
            &rollout(&[("a", "3.14")]),
            t0 + 40.0,
        );
        assert!(!p.sites[0].reported);
        // The switch: the last run is the one seen on 3.14.
        let p = gate.observe(
            &fleet(vec![site("a", t0 + 30.0, &[])], t0 + 50.0),
            &rollout(&[("a", "3.15")]),
            t0 + 50.0,
        );
        assert!(p.sites[0].switched_at.is_some() && !p.sites[0].reported);
        let p = gate.observe(
            &fleet(vec![site("a", t0 + 55.0, &[])], t0 + 60.0),
            &rollout(&[("a", "3.15")]),
            t0 + 60.0,
        );
        assert!(p.sites[0].reported);
    }

    #[test]
    fn a_data_gap_never_counts_as_a_report_on_the_version() {
        let t0 = 1_000.0;
        let start = fleet(vec![site("a", t0, &[]), site("b", t0, &[])], t0);
        let mut gate = Gate::start(
            "kk_borger",
            "3.15",
            SiteSelection::default(),
            &start,
            &rollout(&[("a", "3.14"), ("b", "3.14")]),
        );
        // Prometheus restarted: an empty answer, then b back first.
        let p = gate.observe(&fleet(vec![], t0 + 20.0), &rollout(&[]), t0 + 20.0);
        assert_eq!(p.reported(), 0);
        // Both on 3.15 once it is back, with the run from before the gap
        // read back with a microsecond's noise: a switch, no report.
        let noisy = t0 + 0.000_000_3;
        let back = fleet(vec![site("a", noisy, &[]), site("b", t0, &[])], t0 + 40.0);
        let p = gate.observe(&back, &rollout(&[("a", "3.15"), ("b", "3.15")]), t0 + 40.0);
        assert_eq!(p.on_version(), 2);
        assert_eq!(p.reported(), 0, "{p:?}");
        // A missed scrape: a's series are gone again, and it waits.
        let missed = fleet(vec![site("b", t0, &[])], t0 + 50.0);
        let p = gate.observe(&missed, &rollout(&[("b", "3.15")]), t0 + 50.0);
        assert_eq!((p.on_version(), p.reported()), (1, 0));
        assert!(!p.complete());
        // Real runs on 3.15 report.
        let ran = fleet(
            vec![site("a", t0 + 55.0, &[]), site("b", t0 + 56.0, &[])],
            t0 + 60.0,
        );
        let p = gate.observe(&ran, &rollout(&[("a", "3.15"), ("b", "3.15")]), t0 + 60.0);
        assert_eq!(p.reported(), 2);
        assert!(p.complete());
    }

    #[test]
    fn a_baseline_from_since_or_before_the_switch_is_recorded_and_none_fails_closed() {
        let t0 = 1_000.0;
        // At --since: a fails cron on 3.14, b is clean.
        let at_since = fleet(vec![site("a", t0, &["cron"]), site("b", t0, &[])], t0);
        let mut gate = Gate::start_from(
            "kk_borger",
            "3.15",
            SiteSelection::default(),
            &at_since,
            &rollout(&[("a", "3.14"), ("b", "3.14")]),
            BaselineFrom::Since { at: t0 },
        );
        assert!(gate.switched_before_start().is_empty());
        let p = gate.observe(
            &fleet(
                vec![
                    site("a", t0 + 20.0, &["cron"]),
                    site("b", t0 + 20.0, &["update"]),
                    site("c", t0 + 20.0, &["cron"]),
                ],
                t0 + 30.0,
            ),
            &rollout(&[("a", "3.15"), ("b", "3.15"), ("c", "3.15")]),
            t0 + 30.0,
        );
        let from: Vec<(&str, BaselineFrom, bool)> = p
            .sites
            .iter()
            .map(|s| (s.site.as_str(), s.baseline, s.regressed()))
            .collect();
        assert_eq!(
            from,
            [
                ("a", BaselineFrom::Since { at: t0 }, false),
                ("b", BaselineFrom::Since { at: t0 }, true),
                // Not there at --since: no baseline, so cron counts.
                ("c", BaselineFrom::None, true),
            ]
        );
        assert_eq!(p.baselines()["since"], 2);
        assert_eq!(p.baselines()["none"], 1);

        // Started late: a and b already on 3.15 with their new failures.
        let late = fleet(
            vec![
                site("a", t0, &["cron", "update"]),
                site("b", t0, &["update"]),
            ],
            t0,
        );
        let mut gate = Gate::start(
            "kk_borger",
            "3.15",
            SiteSelection::default(),
            &late,
            &rollout(&[("a", "3.15"), ("b", "3.15")]),
        );
        assert_eq!(gate.switched_before_start(), ["a", "b"]);
        let switch = Switch {
            at: t0 - 60.0,
            from_version: "3.14".into(),
        };
        gate.before_switch("a", Some((switch, ["cron".to_string()].into())));
        gate.before_switch("b", None);
        let p = gate.observe(&late, &rollout(&[("a", "3.15"), ("b", "3.15")]), t0);
        assert_eq!(
            p.sites[0].baseline,
            BaselineFrom::BeforeSwitch { at: t0 - 60.0 }
        );
        assert_eq!(p.sites[0].regressions, ["update"]);
        assert_eq!(
            p.sites[0].old_version.as_deref(),
            Some("3.14"),
            "from its switch"
        );
        assert_eq!(
            p.sites[1].old_version.as_deref(),
            Some("3.15"),
            "no switch known"
        );
        assert_eq!(p.sites[1].baseline, BaselineFrom::None);
        assert_eq!(p.sites[1].regressions, ["update"]);
        assert_eq!(p.regressed().len(), 2, "found at once, at start");
    }
}
