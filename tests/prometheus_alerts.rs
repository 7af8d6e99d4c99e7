//! Alerts against a real Prometheus evaluating real alerting rules: the
//! grid's poll marks the sites of its own environment that have a firing
//! alert, and never another environment's, also when several share one
//! Prometheus; a site's read and the alerts view's read list them with
//! their state and since when.

mod support;

use std::path::Path;
use std::sync::Arc;

use site_status::config::Config;
use site_status::model::{Alert, AlertBadge, AlertGroup};
use site_status::source::environment::EnvironmentSource;
use site_status::source::http::ProcessSecrets;
use site_status::source::{EnvReport, FleetSource};
use support::{Fleet, FleetExporter, Site, TestPrometheus};

/// One rule per kind of alert: one keeps the fleet's labels (`env`
/// included), one aggregates everything but the site away.
const RULES: &str = r#"groups:
  - name: drupal
    rules:
      - alert: DrupalCronFailing
        expr: drupal_requirement_severity{requirement="cron"} >= 2
        for: 0s
        labels:
          severity: warning
        annotations:
          summary: "Cron is late on {{ $labels.site }}"
          description: "The cron requirement of {{ $labels.site }} is an error."
      - alert: DrupalStatusReportFailed
        expr: max by (site) (drupal_status_report_success) == 0
        for: 0s
        labels:
          severity: critical
        annotations:
          description: "drush core-requirements failed on {{ $labels.site }}"
      - alert: DrupalPendingForever
        expr: drupal_requirement_severity{requirement="cron"} >= 2
        for: 1h
"#;

fn sources(url: &str) -> Vec<Arc<EnvironmentSource>> {
    let mut text = String::from("refresh_interval = \"2s\"\n");
    for env in ["dev", "prod"] {
        text.push_str(&format!(
            "[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\n[environment.prometheus]\nurl = \"{url}\"\ntimeout = \"5s\"\n"
        ));
    }
    let config = Config::parse(&text, Path::new("test.toml")).unwrap();
    site_status::source::from_config(&config, &ProcessSecrets).unwrap()
}

/// The firing ones' (site, name); pending ones are listed apart.
fn names(alerts: &[Alert]) -> Vec<(&str, &str)> {
    alerts
        .iter()
        .filter(|a| !a.pending)
        .map(|a| (a.site.as_str(), a.name.as_str()))
        .collect()
}

fn pending(alerts: &[Alert]) -> Vec<(&str, &str)> {
    alerts
        .iter()
        .filter(|a| a.pending)
        .map(|a| (a.site.as_str(), a.name.as_str()))
        .collect()
}

/// Which sites carry which badge.
fn badges(report: &EnvReport) -> Vec<(&str, AlertBadge)> {
    report
        .sites
        .iter()
        .filter(|s| s.alert != AlertBadge::None)
        .map(|s| (s.name.as_str(), s.alert))
        .collect()
}

#[tokio::test]
async fn firing_alerts_reach_their_site_and_only_their_environment() {
    // `borger` lives in both environments; only prod's fails cron.
    let mut fleet = Fleet::new(vec![
        Site::new("borger", "prod", "kk_borger"),
        Site::new("kultur", "prod", "kk_culture"),
        Site::new("borger", "dev", "kk_borger"),
        Site::new("park", "dev", "kk_base"),
    ]);
    fleet.site_in_mut("prod", "borger").set_severity("cron", 2);
    let exporter = FleetExporter::start(fleet);
    let prom = TestPrometheus::builder()
        .target(exporter.target())
        .rule_file(RULES)
        .start()
        .await;
    prom.wait_for_fleet(&exporter).await;
    prom.wait_for("ALERTS{alertstate=\"firing\"}", |s| s.len() == 1)
        .await;

    let sources = sources(&prom.url());
    let (dev, prod) = (&sources[0], &sources[1]);
    assert_eq!(prod.environment(), "prod");

    // The grid: a badge on prod's borger, none on dev's.
    let report = prod.fetch_fleet().await.unwrap();
    assert_eq!(badges(&report), [("borger", AlertBadge::Loud)]);
    assert!(
        !report.warnings.iter().any(|w| w.contains("alerts")),
        "{:?}",
        report.warnings
    );
    let report = dev.fetch_fleet().await.unwrap();
    assert_eq!(badges(&report), [], "prod's alerts are not dev's");

    // The site view: the open site's alerts, firing and pending, since
    // when, from Prometheus' join of ALERTS and ALERTS_FOR_STATE.
    let detail = prod.fetch_site("borger").await.unwrap();
    assert_eq!(detail.alerts_error, None);
    assert_eq!(names(&detail.alerts), [("borger", "DrupalCronFailing")]);
    assert_eq!(
        pending(&detail.alerts),
        [("borger", "DrupalPendingForever")]
    );
    let alert = detail.alerts.iter().find(|a| !a.pending).unwrap();
    assert_eq!(alert.severity.as_deref(), Some("warning"));
    assert_eq!(alert.requirement.as_deref(), Some("cron"));
    let since = alert.active_since_unix().expect("since when it fires");
    let now = site_status::model::Clock::System.unix_seconds();
    assert!(since <= now && now - since < 300.0, "{since} against {now}");
    let detail = dev.fetch_site("borger").await.unwrap();
    assert_eq!(detail.alerts, vec![], "dev's borger is fine");

    // Now dev's park fails cron and its run: the first alert carries
    // env="dev"; the second has only the site label, and park is one of
    // dev's sites, not prod's.
    exporter.update(|f| {
        let park = f.site_in_mut("dev", "park");
        park.set_severity("cron", 2);
        park.success = false;
    });
    prom.wait_for("ALERTS{alertstate=\"firing\"}", |s| s.len() == 3)
        .await;
    let report = fetch_until(dev.as_ref(), |r| !badges(r).is_empty()).await;
    assert_eq!(badges(&report), [("park", AlertBadge::Loud)]);
    let report = prod.fetch_fleet().await.unwrap();
    assert_eq!(badges(&report), [("borger", AlertBadge::Loud)]);
    let detail = dev.fetch_site("park").await.unwrap();
    assert_eq!(
        names(&detail.alerts),
        vec![
            ("park", "DrupalCronFailing"),
            ("park", "DrupalStatusReportFailed")
        ]
    );
    let failed = detail
        .alerts
        .iter()
        .find(|a| a.name == "DrupalStatusReportFailed")
        .unwrap();
    assert_eq!(failed.severity.as_deref(), Some("critical"));

    // The alerts view: each name counted, the newest listed; pending
    // ones too (`for: 1h`).
    let in_prometheus = prom.query("ALERTS{alertstate=\"pending\"}").await.unwrap();
    assert_eq!(in_prometheus.len(), 2, "the pending rule is evaluated");
    let list = dev.fetch_alerts(100).await.unwrap();
    let group = |name: &str, firing, pending| AlertGroup {
        name: name.into(),
        firing,
        pending,
    };
    // The run failure's alert has no env label: it could be any
    // environment's, and is listed in each.
    assert_eq!(
        list.groups,
        [
            group("DrupalCronFailing", 1, 0),
            group("DrupalPendingForever", 0, 1),
            group("DrupalStatusReportFailed", 1, 0),
        ]
    );
    assert_eq!(pending(&list.alerts), [("park", "DrupalPendingForever")]);
    let prod_list = prod.fetch_alerts(100).await.unwrap();
    assert_eq!(
        names(&prod_list.alerts),
        [
            ("borger", "DrupalCronFailing"),
            ("park", "DrupalStatusReportFailed")
        ]
    );
    // Bounded: one of each name.
    let list = dev.fetch_alerts(1).await.unwrap();
    assert_eq!(list.alerts.len(), 3);
}

/// The firing alerts are read again only once the last read is 10 s old:
/// polls as the dashboard would until the report shows what is awaited.
async fn fetch_until(source: &dyn FleetSource, done: impl Fn(&EnvReport) -> bool) -> EnvReport {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let report = source.fetch_fleet().await.unwrap();
        if done(&report) || std::time::Instant::now() > deadline {
            return report;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn without_rules_there_are_no_alerts_and_no_warnings() {
    let exporter = FleetExporter::start(Fleet::new(vec![Site::new("borger", "prod", "kk_borger")]));
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;
    let sources = sources(&prom.url());
    let report = sources[1].fetch_fleet().await.unwrap();
    assert_eq!(report.sites.len(), 1);
    assert_eq!(badges(&report), []);
    assert_eq!(report.warnings, Vec::<String>::new());
    let detail = sources[1].fetch_site("borger").await.unwrap();
    assert_eq!((detail.alerts, detail.alerts_error), (vec![], None));
    let list = sources[1].fetch_alerts(100).await.unwrap();
    assert_eq!(list.groups, []);
}
