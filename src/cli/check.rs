//! `site-status check`: poll every environment once and report, for
//! scripts and pipelines. The exit code carries the verdict.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::exit::{self, BACKEND_FAILED, CHECK_CRITICAL, CHECK_WARNING, OK};
use super::{Format, load_config, load_mutes, poll_settings, runtime, selected_sources};
use crate::model::text::shown;
use crate::model::{Attention, Clock, MuteRules, Severity, SiteState, SiteSummary, Tracker};
use crate::source::{EnvReport, FleetSource, SourceError};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckSite {
    pub site: String,
    pub profile: String,
    /// The state the grid shows (`error`, `target_down`, `run_failed`,
    /// `no_data`, `stale`, `warning`, `ok`, `info`).
    pub state: &'static str,
    /// Worst requirement (`error`, `warning`, `ok`, `info`) or `no_data`.
    pub severity: &'static str,
    pub stale: bool,
    pub run_failed: bool,
    /// Why the last run failed, from the failure metric; `null` when it
    /// did not or the site does not say.
    pub run_failure: Option<super::JsonRunFailure>,
    /// `run failed: exit 255`, for the text format.
    #[serde(skip)]
    pub run_failed_phrase: String,
    /// Requirement ids at warning or worse, muted ones left out.
    pub failing: Vec<String>,
    /// Failing requirement ids a mute rule accepts; left out of the JSON
    /// when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub muted: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckEnvironment {
    pub name: String,
    pub ok: bool,
    pub error: Option<String>,
    /// What the backend answered with that the operator should know
    /// (duplicate series, Prometheus' own warnings); left out when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub sites: Vec<CheckSite>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CheckSummary {
    pub error: usize,
    pub warning: usize,
    pub ok: usize,
    pub info: usize,
    pub no_data: usize,
    pub stale: usize,
    pub run_failed: usize,
    pub target_down: usize,
    /// What the worst site asks of the operator; the exit code.
    #[serde(skip)]
    pub worst: Attention,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckReport {
    pub environments: Vec<CheckEnvironment>,
    pub summary: CheckSummary,
}

/// A site as `check` reports it: `site` is the site as the tracker
/// interpreted it (muted requirements already left out), `muted` what the
/// rules accepted.
fn check_site(
    site: &SiteSummary,
    state: SiteState,
    muted: Vec<String>,
    now_unix: f64,
    stale_after: Duration,
) -> CheckSite {
    CheckSite {
        site: site.label.clone(),
        profile: site.profile.clone(),
        state: state.key(),
        severity: site.worst.map(Severity::label).unwrap_or("no_data"),
        stale: site.is_stale(now_unix, stale_after),
        run_failed: site.run_success == Some(false),
        run_failure: super::JsonRunFailure::of(site.run_failure.as_ref()),
        run_failed_phrase: site.run_failed_phrase(),
        failing: site
            .failing
            .iter()
            .filter(|(_, s)| s.is_failing())
            .map(|(id, _)| id.clone())
            .collect(),
        muted,
    }
}

/// Builds the report from each environment's outcome, read through the
/// same [`Tracker`] as the grid and `watch`: a failing requirement that a
/// rule mutes does not count toward its site's state (a site whose only
/// failing requirements are muted is ok) and is listed under `muted`
/// instead of `failing`.
pub fn build_report(
    outcomes: Vec<(String, Result<EnvReport, SourceError>)>,
    now_unix: f64,
    stale_after: Duration,
    mutes: &MuteRules,
) -> CheckReport {
    let names: Vec<String> = outcomes.iter().map(|(name, _)| name.clone()).collect();
    let mut tracker = Tracker::new(&names, stale_after, mutes.clone());
    let mut summary = CheckSummary::default();
    let environments = outcomes
        .into_iter()
        .enumerate()
        .map(|(env, (name, outcome))| match outcome {
            Ok(report) => {
                let report = Arc::new(report);
                tracker.observe(env, report.clone(), now_unix, now_unix);
                let fleet = tracker.fleet(env).cloned().unwrap_or_default();
                // The sites as polled, by label, for what the rules muted:
                // only built when there are rules (250,000 sites and none
                // is the common case).
                let polled: HashMap<&str, &SiteSummary> = if tracker.mutes_in(env).is_empty() {
                    HashMap::new()
                } else {
                    report.sites.iter().map(|s| (s.label.as_str(), s)).collect()
                };
                let mut sites: Vec<CheckSite> = fleet
                    .sites
                    .iter()
                    .zip(&fleet.states)
                    .map(|(site, state)| {
                        let muted = polled
                            .get(site.label.as_str())
                            .map(|polled| tracker.muted_requirements(env, polled, now_unix))
                            .unwrap_or_default();
                        check_site(site, *state, muted, now_unix, stale_after)
                    })
                    .collect();
                sites.sort_by(|a, b| a.profile.cmp(&b.profile).then_with(|| a.site.cmp(&b.site)));
                for (site, state) in fleet.sites.iter().zip(&fleet.states) {
                    summary.count(site, *state, now_unix, stale_after);
                }
                CheckEnvironment {
                    name,
                    ok: true,
                    error: None,
                    warnings: report.warnings.clone(),
                    sites,
                }
            }
            Err(e) => CheckEnvironment {
                name,
                ok: false,
                error: Some(e.message),
                warnings: Vec::new(),
                sites: Vec::new(),
            },
        })
        .collect();
    CheckReport {
        environments,
        summary,
    }
}

impl CheckSummary {
    fn count(
        &mut self,
        site: &SiteSummary,
        state: SiteState,
        now_unix: f64,
        stale_after: Duration,
    ) {
        match site.worst {
            Some(Severity::Error) => self.error += 1,
            Some(Severity::Warning) => self.warning += 1,
            Some(Severity::Ok) => self.ok += 1,
            Some(Severity::Info) => self.info += 1,
            None => self.no_data += 1,
        }
        self.stale += usize::from(site.is_stale(now_unix, stale_after));
        self.run_failed += usize::from(site.run_success == Some(false));
        self.target_down += usize::from(state == SiteState::TargetDown);
        self.worst = self.worst.max(state.attention());
    }
}

impl CheckReport {
    /// 3 when a backend failed (that wins), 2 when a site is in error,
    /// target down, run failed, no data or stale, 1 for warnings, else 0:
    /// the sites' states, as the grid colours them.
    pub fn exit_code(&self) -> u8 {
        if self.environments.iter().any(|e| !e.ok) {
            return BACKEND_FAILED;
        }
        match self.summary.worst {
            Attention::Critical => CHECK_CRITICAL,
            Attention::Warning => CHECK_WARNING,
            Attention::Fine => OK,
        }
    }

    pub fn to_json(&self) -> String {
        let json = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        crate::model::text::terminal_safe_json(&json)
    }

    /// For a person at a terminal: every site that needs a look, then totals.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for env in &self.environments {
            match &env.error {
                Some(e) => out.push_str(&format!("{}: BACKEND FAILED: {e}\n", env.name)),
                None => {
                    let attention: Vec<&CheckSite> = env
                        .sites
                        .iter()
                        .filter(|s| !matches!(s.state, "ok" | "info"))
                        .collect();
                    out.push_str(&format!(
                        "{}: {} sites, {} need attention\n",
                        env.name,
                        env.sites.len(),
                        attention.len()
                    ));
                    for w in &env.warnings {
                        out.push_str(&format!("  warning: {w}\n"));
                    }
                    for s in attention {
                        let mut flags: Vec<&str> = Vec::new();
                        if s.stale {
                            flags.push("stale");
                        }
                        if s.run_failed {
                            flags.push(&s.run_failed_phrase);
                        }
                        if s.state == SiteState::TargetDown.key() {
                            flags.push("target down");
                        }
                        out.push_str(&format!(
                            "  {:<8} {:<30} {:<16} {}{}{}\n",
                            s.severity,
                            shown(&s.site),
                            s.profile,
                            s.failing
                                .iter()
                                .map(|id| shown(id))
                                .collect::<Vec<_>>()
                                .join(", "),
                            if flags.is_empty() {
                                String::new()
                            } else {
                                format!(" [{}]", flags.join(", "))
                            },
                            if s.muted.is_empty() {
                                String::new()
                            } else {
                                format!(
                                    " (muted: {})",
                                    s.muted
                                        .iter()
                                        .map(|id| shown(id))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            }
                        ));
                    }
                }
            }
        }
        let s = &self.summary;
        out.push_str(&format!(
            "summary: {} error, {} warning, {} ok, {} info, {} no data, {} stale, {} run failed, {} target down\n",
            s.error, s.warning, s.ok, s.info, s.no_data, s.stale, s.run_failed, s.target_down
        ));
        out
    }
}

/// Polls every source once, concurrently; a source slower than `timeout`
/// counts as failed.
pub async fn poll_once(
    sources: &[Arc<dyn FleetSource>],
    timeout: Duration,
) -> Vec<(String, Result<EnvReport, SourceError>)> {
    let polls = sources.iter().map(|source| async move {
        let outcome = match tokio::time::timeout(timeout, source.fetch_fleet()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(SourceError::new(format!(
                "no answer within {}s",
                timeout.as_secs_f64()
            ))),
        };
        (source.environment().to_string(), outcome)
    });
    futures::future::join_all(polls).await
}

/// `site-status check`: polls the selected environments once, prints the
/// report, exits with its verdict.
pub fn run(path: Option<&std::path::Path>, only: &[String], format: Format) -> ExitCode {
    let Some(mut config) = load_config(path) else {
        return ExitCode::from(exit::BACKEND_FAILED);
    };
    // The report names no alert: none is read.
    config.read_alerts = false;
    let sources = match selected_sources(&config, only) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("site-status: {e}");
            return ExitCode::from(exit::BACKEND_FAILED);
        }
    };
    let Ok(rt) = runtime() else {
        return ExitCode::from(exit::BACKEND_FAILED);
    };
    let outcomes = rt.block_on(poll_once(&sources, poll_settings(&config).timeout));
    let mutes = load_mutes(&config);
    let report = build_report(
        outcomes,
        Clock::System.unix_seconds(),
        config.stale_after.0,
        &mutes,
    );
    match format {
        Format::Json => println!("{}", report.to_json()),
        Format::Text => print!("{}", report.to_text()),
    }
    ExitCode::from(report.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 10_000.0;
    const STALE: Duration = Duration::from_secs(1800);

    fn site(name: &str, worst: Option<Severity>) -> SiteSummary {
        SiteSummary {
            worst,
            run_success: Some(true),
            last_run: Some(NOW - 5.0),
            ..SiteSummary::new(name, "kk_base")
        }
    }

    fn report(sites: Vec<SiteSummary>) -> Result<EnvReport, SourceError> {
        Ok(EnvReport {
            sites,
            warnings: vec![],
            silences: None,
            partial: false,
        })
    }

    #[test]
    fn exit_codes_follow_the_worst_finding() {
        let code = |sites: Vec<SiteSummary>| {
            build_report(
                vec![("prod".into(), report(sites))],
                NOW,
                STALE,
                &MuteRules::default(),
            )
            .exit_code()
        };
        assert_eq!(
            code(vec![
                site("a", Some(Severity::Ok)),
                site("b", Some(Severity::Info))
            ]),
            0
        );
        assert_eq!(code(vec![site("a", Some(Severity::Warning))]), 1);
        assert_eq!(code(vec![site("a", Some(Severity::Error))]), 2);
        assert_eq!(code(vec![site("a", None)]), 2, "no data");
        let mut stale = site("a", Some(Severity::Ok));
        stale.last_run = Some(NOW - 4000.0);
        assert_eq!(code(vec![stale]), 2);
        let mut failed = site("a", Some(Severity::Ok));
        failed.run_success = Some(false);
        assert_eq!(code(vec![failed]), 2);
        // The grid shows it as target down: never fine.
        let mut down = site("a", Some(Severity::Ok));
        down.up = Some(false);
        assert_eq!(code(vec![down]), 2, "target down");
        let r = build_report(
            vec![
                (
                    "prod".into(),
                    report(vec![site("a", Some(Severity::Error))]),
                ),
                ("dev".into(), Err(SourceError::new("connection refused"))),
            ],
            NOW,
            STALE,
            &MuteRules::default(),
        );
        assert_eq!(r.exit_code(), 3, "a backend failure wins");
    }

    #[test]
    fn a_muted_requirement_does_not_count() {
        let mut s = site("borger", Some(Severity::Error));
        s.failing = vec![
            ("update".into(), Severity::Error),
            ("cron".into(), Severity::Warning),
        ];
        let mutes = |ids: &[&str]| {
            MuteRules::new(
                ids.iter()
                    .map(|id| crate::model::MuteRule::new(*id, "accepted"))
                    .collect(),
            )
        };
        let run = |rules: &MuteRules| {
            build_report(
                vec![("prod".into(), report(vec![s.clone()]))],
                NOW,
                STALE,
                rules,
            )
        };
        assert_eq!(run(&mutes(&[])).exit_code(), 2);
        let r = run(&mutes(&["update"]));
        assert_eq!(r.exit_code(), 1);
        let only = &r.environments[0].sites[0];
        assert_eq!(only.severity, "warning");
        assert_eq!(only.failing, ["cron"]);
        assert_eq!(only.muted, ["update"]);
        assert!(r.to_text().contains("(muted: update)"), "{}", r.to_text());
        let r = run(&mutes(&["update", "cron"]));
        assert_eq!(r.exit_code(), 0);
        assert_eq!(r.summary.ok, 1);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(
            v["environments"][0]["sites"][0]["muted"],
            serde_json::json!(["update", "cron"])
        );
    }

    #[test]
    fn a_failed_run_says_its_class_and_exit_code() {
        let failed = |name: &str, class: &str, exit_code: &str| SiteSummary {
            run_success: Some(false),
            run_failure: Some(crate::model::RunFailureReason::from_labels(
                class, exit_code,
            )),
            ..site(name, Some(Severity::Ok))
        };
        let mut older = site("older", Some(Severity::Ok));
        older.run_success = Some(false);
        let r = build_report(
            vec![(
                "prod".into(),
                report(vec![
                    failed("fatal", "exit_code", "255"),
                    failed("slow", "timeout", ""),
                    failed("newer", "from_the_future", "garbage"),
                    older,
                ]),
            )],
            NOW,
            STALE,
            &MuteRules::default(),
        );
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        let sites = &v["environments"][0]["sites"];
        let of = |name: &str| {
            sites
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["site"] == name)
                .unwrap()["run_failure"]
                .clone()
        };
        assert_eq!(
            of("fatal"),
            serde_json::json!({"class": "exit_code", "exit_code": 255})
        );
        assert_eq!(
            of("slow"),
            serde_json::json!({"class": "timeout", "exit_code": null})
        );
        assert_eq!(
            of("newer"),
            serde_json::json!({"class": "from_the_future", "exit_code": null})
        );
        assert_eq!(of("older"), serde_json::Value::Null, "an older agent");
        let text = r.to_text();
        assert!(text.contains("[run failed: exit 255]"), "{text}");
        assert!(text.contains("[run failed: timed out]"), "{text}");
        assert!(text.contains("[run failed]"), "{text}");
    }

    #[test]
    fn json_has_the_documented_shape() {
        let mut s = site("borger", Some(Severity::Error));
        s.failing = vec![
            ("cron".into(), Severity::Error),
            ("update".into(), Severity::Warning),
        ];
        let r = build_report(
            vec![
                ("prod".into(), report(vec![s])),
                ("dev".into(), Err(SourceError::new("HTTP 502"))),
            ],
            NOW,
            STALE,
            &MuteRules::default(),
        );
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "environments": [
                    {"name": "prod", "ok": true, "error": null, "sites": [
                        {"site": "borger", "profile": "kk_base", "state": "error", "severity": "error",
                         "stale": false, "run_failed": false, "run_failure": null, "failing": ["cron", "update"]}
                    ]},
                    {"name": "dev", "ok": false, "error": "HTTP 502", "sites": []}
                ],
                "summary": {"error": 1, "warning": 0, "ok": 0, "info": 0, "no_data": 0, "stale": 0, "run_failed": 0, "target_down": 0}
            })
        );
    }
}
