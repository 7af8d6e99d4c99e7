//! Integration tests against a real Prometheus (Debian's package) scraping
//! a fleet in the data contract's shape: the grid and `check` must say what
//! PromQL says, and a failing backend must leave the last good data on
//! screen, marked stale, while the other environments keep updating.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use site_status::app::{App, Settings};
use site_status::config::Config;
use site_status::model::{Counts, SiteState};
use site_status::poller::PollSettings;
use site_status::source::FleetSource;
use site_status::source::environment::EnvironmentSource;
use site_status::source::http::ProcessSecrets;
use support::dashboard::{Dashboard, pane};
use support::fault_proxy::{Fault, FaultProxy};
use support::{Fleet, FleetBuilder, FleetExporter, Site, TestPrometheus};

const STALE_AFTER: f64 = 1800.0;

fn config_text(envs: &[(&str, &str)], prometheus_timeout: &str) -> String {
    support::dashboard::config_text(envs, prometheus_timeout, "")
}

fn parse(text: &str) -> Config {
    Config::parse(text, Path::new("test.toml")).unwrap()
}

fn sources(config: &Config) -> Vec<Arc<EnvironmentSource>> {
    site_status::source::from_config(config, &ProcessSecrets).unwrap()
}

/// Each site's state as PromQL alone tells it, computed independently of
/// the dashboard's queries.
async fn states_by_promql(prom: &TestPrometheus, env: &str) -> BTreeMap<String, SiteState> {
    let by_site = |samples: Vec<support::PromSample>| -> BTreeMap<String, f64> {
        samples
            .into_iter()
            .map(|s| (s.label("site").to_string(), s.value))
            .collect()
    };
    let worst = by_site(
        prom.query(&format!(
            "max by (site) (drupal_requirement_severity{{env=\"{env}\"}})"
        ))
        .await
        .unwrap(),
    );
    let success = by_site(
        prom.query(&format!("drupal_status_report_success{{env=\"{env}\"}}"))
            .await
            .unwrap(),
    );
    let age = by_site(
        prom.query(&format!(
            "time() - drupal_status_report_last_run_timestamp_seconds{{env=\"{env}\"}}"
        ))
        .await
        .unwrap(),
    );
    let mut names: Vec<&String> = worst
        .keys()
        .chain(success.keys())
        .chain(age.keys())
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|site| {
            let state = if success.get(site) == Some(&0.0) {
                SiteState::RunFailed
            } else if !worst.contains_key(site) {
                SiteState::NoData
            } else if age.get(site).is_some_and(|a| *a > STALE_AFTER) {
                SiteState::Stale
            } else {
                match worst[site] as i64 {
                    2 => SiteState::Error,
                    1 => SiteState::Warning,
                    0 => SiteState::Ok,
                    _ => SiteState::Info,
                }
            };
            (site.clone(), state)
        })
        .collect()
}

#[tokio::test]
async fn the_grid_says_what_promql_says() {
    let exporter = FleetExporter::start(FleetBuilder::new(60).build());
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;

    let config = parse(&config_text(
        &[
            ("dev", &prom.url()),
            ("test", &prom.url()),
            ("prod", &prom.url()),
        ],
        "5s",
    ));
    let mut app = App::new(Settings::default(), &config.environment_names(), 200, 50);
    let mut total = Counts::default();
    for (i, source) in sources(&config).iter().enumerate() {
        let env = source.environment().to_string();
        let report = source.fetch_fleet().await.unwrap();
        let expected = states_by_promql(&prom, &env).await;
        assert!(!expected.is_empty());
        app.now = SystemTime::now();
        app.apply_fleet(
            i,
            &site_status::poller::Slot {
                last_good: Some(site_status::poller::Fetched {
                    value: Arc::new(report),
                    at: app.now,
                }),
                ..Default::default()
            },
        );
        let pane = &app.envs[i];
        let got: BTreeMap<String, SiteState> = pane
            .fleet
            .sites
            .iter()
            .zip(&pane.fleet.states)
            .map(|(s, state)| (s.name.clone(), *state))
            .collect();
        assert_eq!(got, expected, "{env}: every site's state");
        let expected_counts = site_status::model::count_states(expected.values());
        assert_eq!(pane.counts, expected_counts, "{env}: the section's counts");
        total.merge(&expected_counts);
    }
    assert_eq!(app.totals(), total, "the header's totals");
    // The fleet has every kind of trouble, so this compared something.
    for state in [
        SiteState::Error,
        SiteState::Warning,
        SiteState::Ok,
        SiteState::Stale,
        SiteState::RunFailed,
    ] {
        assert!(total.get(state) > 0, "no {state} site in the test fleet");
    }
}

fn run_check(config_path: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_site-status"))
        .arg("--config")
        .arg(config_path)
        .arg("check")
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

#[tokio::test]
async fn check_json_matches_promql_counts() {
    let exporter = FleetExporter::start(FleetBuilder::new(60).seed(7).build());
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        config_text(
            &[
                ("dev", &prom.url()),
                ("test", &prom.url()),
                ("prod", &prom.url()),
            ],
            "5s",
        ),
    )
    .unwrap();
    let (code, json) = run_check(&path, &[]);
    assert_eq!(code, 2, "the fleet has errors");

    // Count straight from PromQL.
    let count = |q: &str| {
        let prom = &prom;
        let q = q.to_string();
        async move {
            prom.query(&format!("count({q}) or vector(0)"))
                .await
                .unwrap()
                .first()
                .map(|s| s.value as u64)
                .unwrap_or(0)
        }
    };
    let worst = "max by (env, site) (drupal_requirement_severity)";
    let summary = &json["summary"];
    assert_eq!(summary["error"], count(&format!("{worst} == 2")).await);
    assert_eq!(summary["warning"], count(&format!("{worst} == 1")).await);
    assert_eq!(summary["ok"], count(&format!("{worst} == 0")).await);
    assert_eq!(summary["info"], count(&format!("{worst} == -1")).await);
    assert_eq!(summary["no_data"], 0);
    assert_eq!(
        summary["run_failed"],
        count("drupal_status_report_success == 0").await
    );
    assert_eq!(
        summary["target_down"],
        count(r#"up{job="site-status"} == 0"#).await
    );
    assert_eq!(
        summary["stale"],
        count("time() - drupal_status_report_last_run_timestamp_seconds > 1800").await
    );
    let listed: usize = json["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sites"].as_array().unwrap().len())
        .sum();
    assert_eq!(listed as u64, count(worst).await);

    // Every failing requirement PromQL knows is listed on its site.
    let failing = prom
        .query("drupal_requirement_severity >= 1")
        .await
        .unwrap();
    for sample in failing {
        let env = json["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == sample.label("env"))
            .unwrap();
        let site = env["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["site"] == sample.label("site"))
            .unwrap();
        assert!(
            site["failing"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == sample.label("requirement")),
            "{site}"
        );
    }
}

#[tokio::test]
async fn check_exit_codes() {
    let mut sites = vec![
        Site::new("calm-1", "calm", "kk_base"),
        Site::new("calm-2", "calm", "kk_borger"),
        Site::new("warn-1", "warn", "kk_base"),
        Site::new("warn-2", "warn", "kk_base"),
        Site::new("err-1", "err", "kk_base"),
        Site::new("err-2", "err", "kk_base"),
        Site::new("stale-1", "stale", "kk_base"),
        Site::new("failed-1", "failed", "kk_base"),
        Site::new("empty-1", "empty", "kk_base"),
    ];
    // The healthy template carries an informational and OK requirements only.
    for s in &mut sites {
        for sid in s.requirements.values_mut() {
            *sid = (*sid).min(0);
        }
    }
    sites[3].set_severity("update_contrib", 1);
    sites[4].set_severity("update_contrib", 1);
    sites[5].set_severity("cron", 2);
    sites[6].last_run -= 7200.0;
    sites[7].success = false;
    // Runs, but reports no requirement series at all.
    sites[8].requirements.clear();
    let exporter = FleetExporter::start(Fleet::new(sites));
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let url = prom.url();
    std::fs::write(
        &path,
        config_text(
            &[
                ("calm", &url),
                ("warn", &url),
                ("err", &url),
                ("stale", &url),
                ("failed", &url),
                ("empty", &url),
                ("down", &dead),
            ],
            "3s",
        ),
    )
    .unwrap();

    let (code, json) = run_check(&path, &["--env", "calm"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["summary"]["ok"], 2);
    let (code, json) = run_check(&path, &["--env", "warn"]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["summary"]["warning"], 1);
    let (code, json) = run_check(&path, &["--env", "err", "--env", "calm"]);
    assert_eq!(code, 2, "{json}");
    let err = &json["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "err")
        .unwrap()["sites"];
    let err2 = err
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["site"] == "err-2")
        .unwrap();
    assert_eq!(err2["severity"], "error");
    assert_eq!(err2["failing"], serde_json::json!(["cron"]));
    let (code, json) = run_check(&path, &["--env", "stale"]);
    assert_eq!(code, 2, "{json}");
    assert_eq!(json["summary"]["stale"], 1);
    assert_eq!(
        json["summary"]["ok"], 1,
        "stale is a flag beside the severity"
    );
    let (code, json) = run_check(&path, &["--env", "failed"]);
    assert_eq!(code, 2, "{json}");
    assert_eq!(json["summary"]["run_failed"], 1);
    let (code, json) = run_check(&path, &["--env", "empty"]);
    assert_eq!(code, 2, "{json}");
    assert_eq!(json["summary"]["no_data"], 1);
    assert_eq!(json["environments"][0]["sites"][0]["severity"], "no_data");
    let (code, json) = run_check(&path, &["--env", "calm", "--env", "down"]);
    assert_eq!(code, 3, "{json}");
    let down = json["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "down")
        .unwrap();
    assert_eq!(down["ok"], false);
    assert!(
        down["error"].as_str().unwrap().contains("cannot connect"),
        "{down}"
    );
    let (code, _) = run_check(&path, &["--env", "err", "--env", "down"]);
    assert_eq!(code, 3, "a backend failure wins over errors");
}

/// A backend that fails keeps its environment's last good data on screen,
/// marked STALE with its age and the error, while the other environments
/// keep updating; it recovers by itself. The faults a proxy answers with
/// here, and the killed Prometheus; tests/faults.rs has the others.
#[tokio::test]
async fn failing_backends_keep_their_last_data_marked_stale_and_recover() {
    let exporter = FleetExporter::start(FleetBuilder::new(30).build());
    let (mut dev_prom, prod_prom) = tokio::join!(
        TestPrometheus::scraping(&exporter),
        TestPrometheus::scraping(&exporter)
    );
    dev_prom.wait_for_fleet(&exporter).await;
    prod_prom.wait_for_fleet(&exporter).await;
    let proxy = FaultProxy::start(prod_prom.url()).await;

    // dev straight to a Prometheus that will be killed; test through the
    // misbehaving proxy; prod straight to a healthy Prometheus.
    let config = parse(&config_text(
        &[
            ("dev", &dev_prom.url()),
            ("test", proxy.url()),
            ("prod", &prod_prom.url()),
        ],
        "1s",
    ));
    let poll = PollSettings {
        interval: Duration::from_millis(400),
        timeout: Duration::from_secs(2),
        max_backoff: Duration::from_millis(1600),
    };
    let mut dash = Dashboard::start(&config, poll, 160, 50);
    let limit = Duration::from_secs(20);

    dash.until("every environment's first data", limit, |app| {
        app.envs
            .iter()
            .all(|e| e.fetched_at.is_some() && e.error.is_none())
    })
    .await;
    let test_sites = dash.site_names("test");
    assert!(!test_sites.is_empty());

    for (fault, expected) in [
        (Fault::Garbage, "not a Prometheus API response"),
        (
            Fault::ErrorEnvelope,
            "Prometheus error (execution): query timed out",
        ),
        (Fault::Hang, "no answer within 1s"),
    ] {
        proxy.set(fault);
        dash.until(expected, limit, |app| {
            pane(app, "test")
                .error
                .as_ref()
                .is_some_and(|(e, _)| e.contains(expected))
        })
        .await;
        dash.assert_stale("test", &test_sites, expected);
        // Meanwhile prod keeps updating.
        dash.keeps_updating("prod", limit).await;
        proxy.set(Fault::Pass);
        dash.until("test to recover", limit, |app| {
            pane(app, "test").error.is_none()
        })
        .await;
        assert!(!dash.section_line("test").contains("STALE"));
    }

    // A Prometheus that dies.
    let dev_sites = dash.site_names("dev");
    dev_prom.kill();
    dash.until("dev's connection error", limit, |app| {
        pane(app, "dev")
            .error
            .as_ref()
            .is_some_and(|(e, _)| e.contains("cannot connect"))
    })
    .await;
    dash.assert_stale("dev", &dev_sites, "cannot connect");
    let header = dash.render().lines[0].clone();
    assert!(header.contains("1 env stale"), "{header}");
    dash.keeps_updating("prod", limit).await;

    dev_prom.restart().await;
    dash.until("dev to recover by itself", Duration::from_secs(30), |app| {
        pane(app, "dev").error.is_none()
    })
    .await;
    assert_eq!(dash.site_names("dev"), dev_sites);
    assert!(!dash.section_line("dev").contains("STALE"));
}

#[tokio::test]
async fn a_site_whose_series_vanish_stays_as_no_data() {
    let exporter = FleetExporter::start(FleetBuilder::new(12).build());
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;
    let config = parse(&config_text(&[("prod", &prom.url())], "5s"));
    let source = sources(&config).remove(0);
    let first = source.fetch_fleet().await.unwrap();
    let victim = first
        .sites
        .iter()
        .find(|s| s.worst.is_some())
        .unwrap()
        .name
        .clone();
    exporter.set_silent(&victim, true);
    prom.wait_for_fleet(&exporter).await;
    let second = source.fetch_fleet().await.unwrap();
    assert_eq!(second.sites.len(), first.sites.len(), "nobody disappears");
    let gone = second.sites.iter().find(|s| s.name == victim).unwrap();
    assert_eq!(gone.worst, None);
    assert_eq!(
        gone.state(
            site_status::model::Clock::System.unix_seconds(),
            Duration::from_secs(1800)
        ),
        SiteState::NoData
    );
}

#[tokio::test]
async fn a_requirement_history_comes_from_a_range_query() {
    let mut calm = Site::new("calm-1", "prod", "kk_base");
    for sid in calm.requirements.values_mut() {
        *sid = (*sid).min(0);
    }
    let exporter = FleetExporter::start(Fleet::new(vec![calm.clone()]));
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;
    // cron fails for a few scrapes, then recovers.
    exporter.set_severity("calm-1", "cron", 2);
    prom.wait_for_fleet(&exporter).await;
    exporter.set_severity("calm-1", "cron", 0);
    prom.wait_for_fleet(&exporter).await;

    let config = parse(&config_text(&[("prod", &prom.url())], "5s"));
    let source = sources(&config).remove(0);
    let history = source
        .fetch_history("calm-1", "cron", site_status::model::Window::Hour)
        .await
        .unwrap();
    assert_eq!(history.points.len(), site_status::model::Window::POINTS + 1);
    // Before the test fleet existed the series was absent.
    assert_eq!(history.points[0], None);
    assert_eq!(history.worst(), Some(site_status::model::Severity::Error));
    let changes = history.changes();
    assert!(
        changes
            .iter()
            .any(|c| c.to == Some(site_status::model::Severity::Error)),
        "{changes:?}"
    );
    let now = site_status::model::Clock::System.unix_seconds();
    assert!((now - history.end()).abs() < 30.0, "the band ends now");

    // A requirement the site never had stays absent throughout.
    let none = source
        .fetch_history(
            "calm-1",
            "config sync directory",
            site_status::model::Window::Day,
        )
        .await
        .unwrap();
    assert!(none.points.iter().all(Option::is_none));
    assert!(none.changes().is_empty());
}

#[tokio::test]
async fn a_site_whose_runs_fail_says_how_old_its_last_good_report_is() {
    let calm = Site::new("calm-1", "prod", "kk_base");
    let failing = Site::new("failing-1", "prod", "kk_base");
    let exporter = FleetExporter::start(Fleet::new(vec![calm, failing]));
    exporter.set_success("failing-1", false);
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;

    let config = parse(&config_text(&[("prod", &prom.url())], "5s"));
    let source = sources(&config).remove(0);
    let failed = source.fetch_site("failing-1").await.unwrap();
    assert_eq!(failed.summary.run_success, Some(false));
    let (last_run, last_good) = (
        failed.summary.last_run.unwrap(),
        failed.last_success.unwrap(),
    );
    // Both come back as ages from time(): allow for the query's rounding.
    assert!(
        (last_run - last_good - support::fleet::LAST_GOOD_BEFORE_FAILING).abs() < 2.0,
        "last run {last_run}, last good {last_good}"
    );
    let fine = source.fetch_site("calm-1").await.unwrap();
    assert!((fine.summary.last_run.unwrap() - fine.last_success.unwrap()).abs() < 2.0);
}
