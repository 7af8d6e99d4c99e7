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

use super::fleet::EnvFleet;
use super::rollout::Rollout;
use super::severity::SiteState;

/// One site as the gate found it at its start.
#[derive(Debug, Clone, PartialEq)]
struct Before {
    version: Option<String>,
    failing: BTreeSet<String>,
    last_run: Option<f64>,
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
}

/// The gate for one profile of one environment and the version it waits
/// for.
#[derive(Debug, Clone)]
pub struct Gate {
    pub profile: String,
    pub version: String,
    baseline: BTreeMap<String, Before>,
    switched: BTreeMap<String, f64>,
}

impl Gate {
    /// Takes the baseline: each site of `profile` in `fleet` (interpreted,
    /// mutes applied), with its version from `rollout`.
    pub fn start(profile: &str, version: &str, fleet: &EnvFleet, rollout: &Rollout) -> Gate {
        let versions: BTreeMap<&str, &str> = rollout
            .sites
            .iter()
            .map(|(s, v)| (s.as_str(), v.as_str()))
            .collect();
        let baseline = fleet
            .sites
            .iter()
            .filter(|s| s.profile == profile)
            .map(|s| {
                (
                    s.label.clone(),
                    Before {
                        version: versions.get(s.label.as_str()).map(|v| v.to_string()),
                        failing: s.failing.iter().map(|(id, _)| id.clone()).collect(),
                        last_run: s.last_run,
                    },
                )
            })
            .collect();
        Gate {
            profile: profile.to_string(),
            version: version.to_string(),
            baseline,
            switched: BTreeMap::new(),
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
                .filter(|s| s.profile == self.profile)
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
            // A report made on the new version: the site was already on it
            // at the start, or it ran since.
            let ran_since = match (summary.and_then(|s| s.last_run), before) {
                (Some(now_run), Some(b)) => b.last_run.is_none_or(|then| now_run > then),
                (Some(_), None) => true,
                (None, _) => false,
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
                old_version: before.and_then(|b| b.version.clone()),
                version,
                switched_at: if on_version {
                    self.switched.get(label).copied()
                } else {
                    None
                },
                reported,
                state: if reported { state } else { None },
                regressions,
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
        let mut gate = Gate::start("kk_borger", "3.15", &start, &before);
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
        let mut gate = Gate::start("kk_borger", "3.15", &start, &rollout(&[("a", "3.15")]));
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
}
