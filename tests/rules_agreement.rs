//! The rules and the dashboard interpret the fleet alike: a real
//! Prometheus evaluates deploy/prometheus/site-status.rules.yml over a
//! fleet whose sites cover every state (plus a status target that is down
//! and one that is up with no report yet), and the state it records for
//! each site is the state `site-status check` computes from the raw
//! series; with `use_recording_rules = true` the dashboard reads the
//! recorded series and gets the same grid and the same `check`.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use site_status::config::Config;
use site_status::source::FleetSource;
use site_status::source::http::ProcessSecrets;
use site_status::source::prometheus::recorded;
use support::fleet::Fleet;
use support::prometheus::shipped_rules_every_second;
use support::{ENVIRONMENTS, FleetBuilder, FleetExporter, TestPrometheus};

fn config_text(prometheus: &str, recorded: bool) -> String {
    ENVIRONMENTS
        .iter()
        .map(|env| {
            format!(
                "[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\nuse_recording_rules = {recorded}\n[environment.prometheus]\nurl = \"{prometheus}\"\n"
            )
        })
        .collect()
}

/// `(env, site)` → state, as `check --format json` says.
fn check_states(config: &Path, home: &Path) -> (BTreeMap<(String, String), String>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_site-status"))
        .arg("--config")
        .arg(config)
        .args(["check", "--format", "json"])
        .env("HOME", home)
        .env_remove("SITE_STATUS_MUTES")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}{}", String::from_utf8_lossy(&out.stderr)));
    let mut states = BTreeMap::new();
    for env in json["environments"].as_array().unwrap() {
        assert_eq!(env["ok"], true, "{env:#}");
        for site in env["sites"].as_array().unwrap() {
            states.insert(
                (
                    env["name"].as_str().unwrap().to_string(),
                    site["site"].as_str().unwrap().to_string(),
                ),
                site["state"].as_str().unwrap().to_string(),
            );
        }
    }
    // What the JSON says of each site, without the environments' errors
    // and warnings, for comparing the two paths.
    let sites: Vec<&serde_json::Value> = json["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["sites"])
        .collect();
    (states, serde_json::to_string_pretty(&sites).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_states_agree_with_check_and_both_grids_are_the_same() {
    let fleet = FleetBuilder::new(60).build();
    let exporter = FleetExporter::start(fleet.clone());
    // A status workload that is up and has not reported yet: no data.
    let empty = FleetExporter::start(Fleet::new(Vec::new()));
    // And one that cannot be scraped: target down.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let prometheus = TestPrometheus::builder()
        .target(exporter.target())
        .labelled_target(
            empty.target(),
            &[
                ("env", "prod"),
                ("site", "fresh-pod"),
                ("profile", "kk_borger"),
            ],
        )
        .labelled_target(
            dead,
            &[
                ("env", "prod"),
                ("site", "gone-pod"),
                ("profile", "kk_borger"),
            ],
        )
        .rule_file(&shipped_rules_every_second())
        .start()
        .await;

    // Every site that publishes anything, and the two extra targets.
    let mut expected_sites: Vec<(String, String)> = fleet
        .sites
        .iter()
        .filter(|s| !s.silent)
        .map(|s| (s.env.clone(), s.name.clone()))
        .collect();
    expected_sites.push(("prod".into(), "fresh-pod".into()));
    expected_sites.push(("prod".into(), "gone-pod".into()));
    expected_sites.sort();

    let deadline = Instant::now() + Duration::from_secs(90);
    let recorded_states = loop {
        let samples = prometheus.query(recorded::STATE).await.unwrap_or_default();
        let mut states = BTreeMap::new();
        for s in &samples {
            let key = (s.label("env").to_string(), s.label("site").to_string());
            let state = s.label("state").to_string();
            assert!(
                states.insert(key.clone(), state).is_none(),
                "{key:?} has two states: {samples:?}"
            );
        }
        // The dead target is down once its first scrape has failed.
        let sites: Vec<(String, String)> = states.keys().cloned().collect();
        if sites == expected_sites
            && states
                .get(&("prod".into(), "gone-pod".into()))
                .map(String::as_str)
                == Some("target_down")
        {
            break states;
        }
        assert!(
            Instant::now() < deadline,
            "the rules never recorded every site: {states:?}\nexpected {expected_sites:?}\n{}",
            prometheus.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    let dir = tempfile::tempdir().unwrap();
    let raw_config = dir.path().join("raw.toml");
    std::fs::write(&raw_config, config_text(&prometheus.url(), false)).unwrap();
    let recorded_config = dir.path().join("recorded.toml");
    std::fs::write(&recorded_config, config_text(&prometheus.url(), true)).unwrap();

    let (from_raw, raw_json) = check_states(&raw_config, dir.path());
    assert_eq!(from_raw, recorded_states, "check and the rules disagree");
    // The fleet covers every state the rules can record.
    let seen: std::collections::BTreeSet<&str> =
        recorded_states.values().map(String::as_str).collect();
    for state in [
        "error",
        "target_down",
        "run_failed",
        "no_data",
        "stale",
        "warning",
        "ok",
    ] {
        assert!(seen.contains(state), "no site is {state}: {seen:?}");
    }

    let (from_recorded, recorded_json) = check_states(&recorded_config, dir.path());
    assert_eq!(from_recorded, from_raw);
    assert_eq!(
        recorded_json, raw_json,
        "the two paths' check output differs"
    );

    // The same grid, site by site, from both paths.
    let grids = |path: &Path| {
        let text = std::fs::read_to_string(path).unwrap();
        let config = Config::parse(&text, path).unwrap();
        site_status::source::from_config(&config, &ProcessSecrets).unwrap()
    };
    for (raw, via_rules) in grids(&raw_config)
        .iter()
        .zip(grids(&recorded_config).iter())
    {
        let a = raw.fetch_fleet().await.unwrap();
        let b = via_rules.fetch_fleet().await.unwrap();
        assert_eq!(a.sites.len(), b.sites.len(), "{}", raw.environment());
        for (x, y) in a.sites.iter().zip(&b.sites) {
            assert_eq!(
                (
                    &x.label,
                    &x.profile,
                    x.worst,
                    x.run_success,
                    x.up,
                    &x.failing
                ),
                (
                    &y.label,
                    &y.profile,
                    y.worst,
                    y.run_success,
                    y.up,
                    &y.failing
                ),
                "{}",
                raw.environment()
            );
            // Each path asks `time() - …` at its own moment.
            match (x.last_run, y.last_run) {
                (Some(p), Some(q)) => assert!((p - q).abs() < 5.0, "{p} vs {q}"),
                (p, q) => assert_eq!(p.is_some(), q.is_some()),
            }
        }
    }
}
