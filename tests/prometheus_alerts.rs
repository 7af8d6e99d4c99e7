//! Alerts against a real Prometheus evaluating real alerting rules: the
//! grid's poll carries the firing alerts that name a site of its own
//! environment, and never another environment's, also when several share
//! one Prometheus.

mod support;

use std::path::Path;
use std::sync::Arc;

use site_status::config::Config;
use site_status::model::Alert;
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

    let report = prod.fetch_fleet().await.unwrap();
    assert_eq!(names(&report.alerts), [("borger", "DrupalCronFailing")]);
    assert_eq!(
        pending(&report.alerts),
        [("borger", "DrupalPendingForever")]
    );
    let alert = report.alerts.iter().find(|a| !a.pending).unwrap();
    assert_eq!(alert.name, "DrupalCronFailing");
    assert_eq!(alert.site, "borger");
    assert_eq!(alert.severity.as_deref(), Some("warning"));
    // Labels only: the refresh reads `ALERTS`, not the annotations.
    assert_eq!(alert.summary, None);
    let since = alert.active_since.as_deref().unwrap();
    assert!(
        since.starts_with("20") && since.contains('T'),
        "activeAt is RFC 3339: {since}"
    );
    assert!(report.sites.iter().any(|s| s.name == alert.site));
    assert!(
        !report.warnings.iter().any(|w| w.contains("alerts")),
        "{:?}",
        report.warnings
    );

    let report = dev.fetch_fleet().await.unwrap();
    assert_eq!(
        report.alerts,
        vec![],
        "dev's borger is fine; prod's alerts are not dev's"
    );

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
    let report = fetch_until(dev.as_ref(), |r| r.alerts.len() >= 2).await;
    assert_eq!(
        names(&report.alerts),
        vec![
            ("park", "DrupalCronFailing"),
            ("park", "DrupalStatusReportFailed")
        ]
    );
    let failed = report
        .alerts
        .iter()
        .find(|a| a.name == "DrupalStatusReportFailed")
        .unwrap();
    assert_eq!(failed.severity.as_deref(), Some("critical"));
    let report = prod.fetch_fleet().await.unwrap();
    assert_eq!(names(&report.alerts), vec![("borger", "DrupalCronFailing")]);

    // Pending alerts (`for: 1h`) are listed as pending, for the alerts
    // view; the grid's badge is for firing ones.
    let in_prometheus = prom.query("ALERTS{alertstate=\"pending\"}").await.unwrap();
    assert_eq!(in_prometheus.len(), 2, "the pending rule is evaluated");
    assert_eq!(
        pending(&report.alerts),
        [("borger", "DrupalPendingForever")]
    );
    let report = dev.fetch_fleet().await.unwrap();
    assert_eq!(pending(&report.alerts), [("park", "DrupalPendingForever")]);
}

/// The alerts list is read again only once the last one read is 10 s old:
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
    assert_eq!(report.alerts, vec![]);
    assert_eq!(report.warnings, Vec::<String>::new());
}
