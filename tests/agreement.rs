//! The grid, `check` and `watch` read the fleet through one interpretation:
//! fed the same polls with the same mute rules, they agree on every site's
//! state after every poll and on every transition.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use site_status::app::{App, Settings};
use site_status::cli::check::build_report;
use site_status::cli::watch::{WatchFormat, WatchStream};
use site_status::model::{MuteRule, MuteRules, Severity, SiteSummary};
use site_status::poller::{Fetched, Slot};
use site_status::source::EnvReport;

const T0: f64 = 1_800_000_000.0;
const STALE: Duration = Duration::from_secs(1800);
const ENVS: [&str; 2] = ["dev", "prod"];

fn site(name: &str, worst: Option<Severity>, failing: &[(&str, Severity)]) -> SiteSummary {
    SiteSummary {
        worst,
        run_success: Some(true),
        last_run: Some(T0),
        up: Some(true),
        failing: failing.iter().map(|(id, s)| (id.to_string(), *s)).collect(),
        ..SiteSummary::new(name, "kk_borger")
    }
}

/// Poll `poll` of environment `env`: every kind of change the dashboard
/// tells apart, and a requirement muted in prod only.
fn polled(env: &str, poll: usize) -> Vec<SiteSummary> {
    use Severity::*;
    let now = T0 + 60.0 * poll as f64;
    let fresh = |mut s: SiteSummary| {
        s.last_run = Some(now - 10.0);
        s
    };
    let mut sites = Vec::new();
    if env == "prod" {
        sites.push(match poll {
            1 | 2 => site("a", Some(Error), &[("update", Error)]),
            _ => site("a", Some(Ok), &[]),
        });
        // cron is muted in prod: b is fine until update fails too.
        sites.push(match poll {
            2 => site("b", Some(Error), &[("cron", Warning), ("update", Error)]),
            _ => site("b", Some(Warning), &[("cron", Warning)]),
        });
        let mut c = site("c", Some(Ok), &[]);
        c.up = Some(poll != 1);
        sites.push(c);
        let mut d = site("d", Some(Warning), &[("php", Warning)]);
        d.run_success = Some(poll != 2);
        sites.push(d);
        let mut e = site("e", Some(Ok), &[]);
        if poll == 3 {
            e.last_run = Some(now - 3_600.0);
            sites.push(e);
        } else {
            sites.push(fresh(e));
        }
        if poll >= 2 {
            sites.push(site("f", Some(Warning), &[("php", Warning)]));
        }
    } else {
        sites.push(match poll {
            0 | 1 => site("a", Some(Error), &[("cron", Error)]),
            _ => site("a", Some(Ok), &[]),
        });
        sites.push(match poll {
            0 => site("g", None, &[]),
            _ => site("g", Some(Ok), &[]),
        });
    }
    sites
        .into_iter()
        .map(|s| if s.label == "e" { s } else { fresh(s) })
        .collect()
}

fn mutes() -> MuteRules {
    let mut cron = MuteRule::new("cron", "accepted in prod");
    cron.env = Some("prod".into());
    MuteRules::new(vec![cron])
}

fn slot(sites: Vec<SiteSummary>, at: SystemTime) -> Slot<EnvReport> {
    Slot {
        last_good: Some(Fetched {
            value: Arc::new(EnvReport {
                sites,
                warnings: vec![],
                silences: None,
                partial: false,
            }),
            at,
        }),
        ..Slot::default()
    }
}

/// (env, site, from, to, requirement crossings) of one transition.
type Change = (String, String, String, String, Vec<String>);

#[test]
fn the_grid_check_and_watch_agree_on_every_state_and_transition() {
    let names: Vec<String> = ENVS.iter().map(|s| s.to_string()).collect();
    let mut app = App::new(Settings::default(), &names, 120, 40);
    app.set_mutes(mutes());
    let mut watch = WatchStream::new(names.clone(), STALE, mutes(), WatchFormat::Jsonl);
    let mut all_changes = 0;
    let mut states_seen = std::collections::BTreeSet::new();

    for poll in 0..4 {
        let now = T0 + 60.0 * poll as f64;
        let at = UNIX_EPOCH + Duration::from_secs_f64(now);
        app.now = at;
        let before = app.transitions.len();
        let slots: Vec<(usize, Slot<EnvReport>)> = ENVS
            .iter()
            .enumerate()
            .map(|(env, name)| (env, slot(polled(name, poll), at)))
            .collect();
        app.apply_fleets(&slots);

        // States: the grid's against check's.
        let outcomes = ENVS
            .iter()
            .map(|name| {
                (
                    name.to_string(),
                    Ok(EnvReport {
                        sites: polled(name, poll),
                        warnings: vec![],
                        silences: None,
                        partial: false,
                    }),
                )
            })
            .collect();
        let check = build_report(outcomes, now, STALE, &mutes());
        for (env, pane) in app.envs.iter().enumerate() {
            let grid: BTreeMap<&str, &str> = pane
                .fleet
                .sites
                .iter()
                .zip(&pane.fleet.states)
                .map(|(s, state)| (s.label.as_str(), state.key()))
                .collect();
            let checked: BTreeMap<&str, &str> = check.environments[env]
                .sites
                .iter()
                .map(|s| (s.site.as_str(), s.state))
                .collect();
            assert_eq!(grid, checked, "poll {poll}, {}", ENVS[env]);
            states_seen.extend(grid.values().map(|s| s.to_string()));
        }

        // Transitions: the grid's log against watch's stream.
        let mut from_app: Vec<Change> = app
            .transitions
            .iter()
            .take(app.transitions.len() - before)
            .map(|t| {
                (
                    t.env.clone(),
                    t.site.clone(),
                    t.from.key().to_string(),
                    t.to.key().to_string(),
                    t.requirements.iter().map(|c| c.id.clone()).collect(),
                )
            })
            .collect();
        let mut from_watch: Vec<Change> = Vec::new();
        for (env, slot) in &slots {
            for line in watch.take(*env, slot).lines {
                let json: serde_json::Value = serde_json::from_str(&line).unwrap();
                let text = |key: &str| json[key].as_str().unwrap_or_default().to_string();
                from_watch.push((
                    text("env"),
                    text("site"),
                    text("from"),
                    text("to"),
                    json["requirements"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| c["id"].as_str().unwrap_or_default().to_string())
                        .collect(),
                ));
            }
        }
        from_app.sort();
        from_watch.sort();
        assert_eq!(from_app, from_watch, "poll {poll}");
        if poll == 0 {
            assert!(from_app.is_empty(), "the first poll is the baseline");
        }
        all_changes += from_app.len();
    }

    // The sequence exercises what it claims to.
    assert!(all_changes >= 8, "only {all_changes} transitions");
    for state in [
        "error",
        "target_down",
        "run_failed",
        "no_data",
        "stale",
        "warning",
        "ok",
    ] {
        assert!(
            states_seen.contains(state),
            "{state} never seen: {states_seen:?}"
        );
    }
}
