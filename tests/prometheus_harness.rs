//! The test harness itself (tests/support): the fleet exporter, and a real
//! Prometheus scraping it. Also a demo of how to use both.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::fleet::{CONFIG_SYNC, SEVERITY_ERROR, SEVERITY_OK, SEVERITY_WARNING};
use support::{
    Fleet, FleetBuilder, FleetExporter, PromSample, Site, SiteKey, SiteKind, TestPrometheus,
};

const WORST_BY_SITE: &str = "max by (env, profile, site) (drupal_requirement_severity)";

/// A requirement id made of everything the text format must escape, and
/// more untrusted text besides.
const HOSTILE_REQUIREMENT: &str =
    "evil \"quoted\" \\back\\slash\\n\nnew line\t\u{1b}[31m ünï \u{202e}bidi";

fn worst_by_site(samples: &[PromSample]) -> BTreeMap<SiteKey, i8> {
    samples
        .iter()
        .map(|s| {
            let key = (
                s.label("env").to_string(),
                s.label("profile").to_string(),
                s.label("site").to_string(),
            );
            (key, s.value as i8)
        })
        .collect()
}

// --- Without Prometheus ---------------------------------------------------

#[test]
fn the_builder_is_deterministic_and_makes_a_realistic_mix() {
    let fleet = FleetBuilder::new(60).seed(7).now(1_800_000_000.0).build();
    assert_eq!(
        fleet,
        FleetBuilder::new(60).seed(7).now(1_800_000_000.0).build()
    );
    assert_ne!(
        fleet,
        FleetBuilder::new(60).seed(8).now(1_800_000_000.0).build()
    );
    assert_eq!(fleet.sites.len(), 60);
    assert_eq!(fleet.series_count(), fleet.series().len());
    for kind in SiteKind::ALL {
        assert!(!fleet.of_kind(kind).is_empty(), "no {kind:?} site");
    }
    for env in support::ENVIRONMENTS {
        assert!(fleet.sites.iter().any(|s| s.env == env), "no site in {env}");
    }
    for profile in support::PROFILES {
        assert!(
            fleet.sites.iter().any(|s| s.profile == profile),
            "no {profile}"
        );
    }
    // Every kind looks the way its name says.
    for site in &fleet.sites {
        let worst = site.requirements.values().max().copied();
        match site.kind {
            SiteKind::Ok | SiteKind::RunFailed | SiteKind::Stale | SiteKind::NoData => {
                assert_eq!(worst, Some(SEVERITY_OK), "{site:?}")
            }
            SiteKind::Warning => assert_eq!(worst, Some(SEVERITY_WARNING), "{site:?}"),
            SiteKind::Error => assert_eq!(worst, Some(SEVERITY_ERROR), "{site:?}"),
        }
        assert_eq!(site.success, site.kind != SiteKind::RunFailed);
        assert_eq!(site.silent, site.kind == SiteKind::NoData);
        let age = 1_800_000_000.0 - site.last_run;
        if site.kind == SiteKind::Stale {
            assert_eq!(age, 7200.0);
        } else {
            assert!((0.0..300.0).contains(&age), "{site:?}");
        }
    }
    // Small fleets still get every kind, big ones scale.
    let six = FleetBuilder::new(6).build();
    assert_eq!(
        six.sites.iter().map(|s| s.kind).collect::<Vec<_>>(),
        SiteKind::ALL
    );
    assert_eq!(FleetBuilder::new(10_000).build().sites.len(), 10_000);
}

#[test]
fn exposition_escapes_label_values() {
    let mut site = Site::new("borger", "prod", "kk_borger");
    site.requirements.clear();
    site.set_severity(CONFIG_SYNC, 2);
    site.set_severity("public:///.htaccess", 0);
    site.set_severity("a \"b\" \\c\\ d\ne", 1);
    site.last_run = 1_795_469_437.25;
    site.duration = 3.2;
    let text = Fleet::new(vec![site]).render();
    let lines: Vec<&str> = text.lines().collect();
    let expected = [
        "# HELP drupal_requirement_severity Severity (sid) of a Drupal status report requirement: -1 info, 0 ok, 1 warning, 2 error.",
        "# TYPE drupal_requirement_severity gauge",
        r#"drupal_requirement_severity{env="prod",profile="kk_borger",requirement="a \"b\" \\c\\ d\ne",site="borger"} 1"#,
        r#"drupal_requirement_severity{env="prod",profile="kk_borger",requirement="config sync directory",site="borger"} 2"#,
        r#"drupal_requirement_severity{env="prod",profile="kk_borger",requirement="public:///.htaccess",site="borger"} 0"#,
        "# HELP drupal_status_report_success 1 if the last status report run parsed, else 0.",
        "# TYPE drupal_status_report_success gauge",
        r#"drupal_status_report_success{env="prod",profile="kk_borger",site="borger"} 1"#,
        "# HELP drupal_status_report_last_run_timestamp_seconds Unix time of the last status report run.",
        "# TYPE drupal_status_report_last_run_timestamp_seconds gauge",
        r#"drupal_status_report_last_run_timestamp_seconds{env="prod",profile="kk_borger",site="borger"} 1795469437.25"#,
        "# HELP drupal_status_report_last_success_timestamp_seconds Unix time of the last status report run that parsed.",
        "# TYPE drupal_status_report_last_success_timestamp_seconds gauge",
        r#"drupal_status_report_last_success_timestamp_seconds{env="prod",profile="kk_borger",site="borger"} 1795469437.25"#,
        "# HELP drupal_status_report_duration_seconds How long drush core-requirements took.",
        "# TYPE drupal_status_report_duration_seconds gauge",
        r#"drupal_status_report_duration_seconds{env="prod",profile="kk_borger",site="borger"} 3.2"#,
        "# HELP drupal_info Versions of the site's software.",
        "# TYPE drupal_info gauge",
        r#"drupal_info{drupal_version="10.3.6",drush_version="13.3.1",env="prod",php_version="8.3.12",profile="kk_borger",profile_version="3.14.0",site="borger"} 1"#,
    ];
    assert_eq!(lines, expected);
    assert_eq!(support::fleet::format_value(f64::NAN), "NaN");
    assert_eq!(support::fleet::format_value(f64::NEG_INFINITY), "-Inf");
    assert_eq!(support::fleet::format_value(-1.0), "-1");
}

#[tokio::test]
async fn the_exporter_serves_the_fleet_over_http_and_counts_scrapes() {
    let mut fleet = FleetBuilder::new(12).build();
    fleet.site_mut("site-00001").silent = true;
    let exporter = FleetExporter::start(fleet);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let response = client.get(exporter.metrics_url()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = response.text().await.unwrap();
    assert_eq!(body, exporter.render());
    assert!(!body.contains("site-00001"));
    assert!(body.contains(r#"site="site-00002""#));
    assert_eq!(exporter.scrapes(), 1);

    exporter.set_severity("site-00002", "cron", 2);
    exporter.set_silent("site-00001", false);
    let body = client
        .get(exporter.metrics_url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains(r#"requirement="cron",site="site-00002"} 2"#));
    assert!(body.contains("site-00001"));
    assert_eq!(exporter.scrapes(), 2);

    let other = format!("http://{}/other", exporter.target());
    assert_eq!(client.get(other).send().await.unwrap().status(), 404);
    exporter.set_down(true);
    let response = client.get(exporter.metrics_url()).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(exporter.scrapes(), 2, "only served fleets count as scrapes");
    assert_eq!(exporter.requests(), 4);
}

#[tokio::test]
#[should_panic(expected = "install Debian's prometheus package (scripts/test.sh does it)")]
async fn a_missing_prometheus_says_how_to_install_it() {
    TestPrometheus::builder()
        .binary("/nonexistent/prometheus")
        .start()
        .await;
}

// --- With a real Prometheus -----------------------------------------------

#[tokio::test]
async fn prometheus_sees_the_worst_severity_the_exporter_serves() {
    let mut fleet = FleetBuilder::new(60).build();
    let hostile_site = fleet.first_of_kind(SiteKind::Ok).name.clone();
    fleet
        .site_mut(&hostile_site)
        .set_severity(HOSTILE_REQUIREMENT, SEVERITY_WARNING);
    let exporter = FleetExporter::start(fleet.clone());
    let prometheus = TestPrometheus::scraping(&exporter).await;

    prometheus.wait_for_fleet(&exporter).await;

    let worst = worst_by_site(&prometheus.query(WORST_BY_SITE).await.unwrap());
    assert_eq!(worst, fleet.worst_severity());
    assert_eq!(worst[&fleet.site(&hostile_site).key()], SEVERITY_WARNING);
    let error_sites = fleet.of_kind(SiteKind::Error).len();
    assert!(error_sites > 0 && worst.values().filter(|v| **v == 2).count() == error_sites);

    // The requirement id came through the text format intact.
    let hostile = prometheus
        .query(&format!(
            "drupal_requirement_severity{{site=\"{hostile_site}\"}} == 1"
        ))
        .await
        .unwrap();
    assert_eq!(hostile.len(), 1, "{hostile:?}");
    assert_eq!(hostile[0].label("requirement"), HOSTILE_REQUIREMENT);

    // Silent sites have no series at all, but exist in the fleet.
    let silent = fleet.of_kind(SiteKind::NoData);
    assert!(!silent.is_empty());
    for site in silent {
        let series = prometheus
            .query(&format!("{{site=\"{}\"}}", site.name))
            .await
            .unwrap();
        assert!(series.is_empty(), "{} has series: {series:?}", site.name);
    }

    // The other states, through the contract's queries.
    let failed = prometheus
        .query("drupal_status_report_success == 0")
        .await
        .unwrap();
    let mut failed: Vec<&str> = failed.iter().map(|s| s.label("site")).collect();
    failed.sort();
    let run_failed: Vec<&str> = fleet
        .of_kind(SiteKind::RunFailed)
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(failed, run_failed);
    let stale = prometheus
        .query("time() - drupal_status_report_last_run_timestamp_seconds > 900")
        .await
        .unwrap();
    let stale: Vec<&str> = stale.iter().map(|s| s.label("site")).collect();
    let expected_stale: Vec<&str> = fleet
        .of_kind(SiteKind::Stale)
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(stale.len(), expected_stale.len());
    assert!(stale.iter().all(|s| expected_stale.contains(s)));
    let up = prometheus.query("up").await.unwrap();
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].value, 1.0);
    assert_eq!(up[0].label("instance"), exporter.target());
    assert_eq!(up[0].label("job"), "site-status");
}

#[tokio::test]
async fn a_change_in_the_exporter_shows_up_after_a_scrape() {
    let fleet = FleetBuilder::new(30).build();
    let exporter = FleetExporter::start(fleet.clone());
    let prometheus = TestPrometheus::scraping(&exporter).await;
    prometheus.wait_for_fleet(&exporter).await;

    let ok = fleet.first_of_kind(SiteKind::Ok).name.clone();
    let error = fleet.first_of_kind(SiteKind::Error).name.clone();
    let silent = fleet.first_of_kind(SiteKind::NoData).name.clone();
    let warning = fleet.first_of_kind(SiteKind::Warning).name.clone();
    let scrapes_before = exporter.scrapes();
    let changed_at = Instant::now();
    exporter.set_severity(&ok, CONFIG_SYNC, SEVERITY_ERROR);
    for requirement in fleet.site(&error).requirements.keys() {
        exporter.set_severity(&error, requirement, SEVERITY_OK);
    }
    exporter.remove_requirement(&error, CONFIG_SYNC);
    exporter.set_success(&warning, false);
    exporter.set_last_run(&warning, 1_000_000_000.0);
    exporter.set_silent(&silent, false);
    exporter.update(|f| f.site_mut(&warning).duration = 42.5);
    let another = fleet.of_kind(SiteKind::Ok)[1].name.clone();
    exporter.set_silent(&another, true);

    prometheus.wait_for_fleet(&exporter).await;
    let took = changed_at.elapsed();
    assert!(exporter.scrapes() > scrapes_before);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    eprintln!("the change reached Prometheus after {took:?}");

    let worst = worst_by_site(&prometheus.query(WORST_BY_SITE).await.unwrap());
    assert_eq!(worst, exporter.fleet().worst_severity());
    let key = |name: &str| fleet.site(name).key();
    assert_eq!(worst[&key(&ok)], SEVERITY_ERROR);
    assert_eq!(worst[&key(&error)], SEVERITY_OK);
    assert!(worst.contains_key(&key(&silent)));
    assert!(!worst.contains_key(&key(&another)));

    // A target that stops answering: up goes to 0 and its series go stale.
    exporter.set_down(true);
    prometheus
        .wait_for("up", |s| s.len() == 1 && s[0].value == 0.0)
        .await;
    prometheus.wait_for("drupal_info", |s| s.is_empty()).await;
}

#[tokio::test]
async fn after_a_crash_and_restart_the_data_is_back() {
    let fleet = FleetBuilder::new(30).build();
    let exporter = FleetExporter::start(fleet.clone());
    let mut prometheus = TestPrometheus::scraping(&exporter).await;
    prometheus.wait_for_fleet(&exporter).await;
    let before = prometheus.query(WORST_BY_SITE).await.unwrap();
    let seen_at = before[0].timestamp;
    assert_eq!(worst_by_site(&before), fleet.worst_severity());
    let (url, port, data_dir) = (prometheus.url(), prometheus.port(), prometheus.data_dir());

    prometheus.kill();
    assert!(!prometheus.is_running());
    assert!(prometheus.query("up").await.is_err(), "answers after kill");
    // What changes while Prometheus is down is only seen after it is back.
    let ok = fleet.first_of_kind(SiteKind::Ok).name.clone();
    exporter.set_severity(&ok, "cron", SEVERITY_ERROR);

    let restarted_at = Instant::now();
    prometheus.restart().await;
    let ready_after = restarted_at.elapsed();
    assert!(prometheus.is_running());
    assert_eq!(
        (prometheus.url(), prometheus.port(), prometheus.data_dir()),
        (url, port, data_dir)
    );
    // The samples from before the crash come back from the WAL at once.
    let replayed = prometheus.query_at(WORST_BY_SITE, seen_at).await.unwrap();
    assert_eq!(worst_by_site(&replayed), fleet.worst_severity());
    // And scraping resumes with the same configuration.
    prometheus.wait_for_fleet(&exporter).await;
    let worst = worst_by_site(&prometheus.query(WORST_BY_SITE).await.unwrap());
    assert_eq!(worst[&fleet.site(&ok).key()], SEVERITY_ERROR);
    eprintln!(
        "restart: ready after {ready_after:?}, scraping again after {:?}",
        restarted_at.elapsed()
    );
    assert!(
        prometheus.log_tail(1000).contains("start #2"),
        "{}",
        prometheus.log_tail(20)
    );
}

#[tokio::test]
async fn parallel_instances_do_not_collide() {
    let exporters: Vec<FleetExporter> = (0..3u64)
        .map(|i| FleetExporter::start(FleetBuilder::new(10 + 10 * i as usize).seed(i).build()))
        .collect();
    let (a, b, c) = tokio::join!(
        TestPrometheus::scraping(&exporters[0]),
        TestPrometheus::scraping(&exporters[1]),
        TestPrometheus::scraping(&exporters[2]),
    );
    let instances = [a, b, c];
    let mut ports: Vec<u16> = instances.iter().map(|p| p.port()).collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 3);
    let waits = instances
        .iter()
        .zip(&exporters)
        .map(|(p, e)| p.wait_for_fleet(e));
    futures::future::join_all(waits).await;

    for (prometheus, exporter) in instances.iter().zip(&exporters) {
        let up = prometheus.query("up").await.unwrap();
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].label("instance"), exporter.target());
        let worst = worst_by_site(&prometheus.query(WORST_BY_SITE).await.unwrap());
        assert_eq!(worst, exporter.fleet().worst_severity());
    }

    // Dropping one stops its process and removes its directory.
    let processes: Vec<(u32, std::path::PathBuf)> = instances
        .iter()
        .map(|p| (p.pid().unwrap(), p.dir().to_path_buf()))
        .collect();
    for (pid, dir) in &processes {
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        assert!(dir.exists());
    }
    drop(instances);
    for (pid, dir) in &processes {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "Prometheus {pid} still runs"
        );
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }
}

#[tokio::test]
#[should_panic(expected = "field no_such_setting not found")]
async fn a_prometheus_that_cannot_start_shows_its_log() {
    TestPrometheus::builder()
        .job_yaml("no_such_setting: true")
        .start()
        .await;
}
