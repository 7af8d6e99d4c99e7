//! A site's identity is its label value exactly as the backend has it; the
//! sanitized text is for display only. A site whose name holds an escape
//! sequence, a bidi override, or is longer than the display cap is drawn
//! cleaned in the grid, and yet every drill-down query (its series, a
//! requirement's history, its reports in Loki) asks for the raw value,
//! correctly quoted, against a real Prometheus.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use site_status::app::{App, Settings};
use site_status::config::Config;
use site_status::model::text::MAX_NAME_CHARS;
use site_status::model::{Severity, Window};
use site_status::poller::{Fetched, Slot};
use site_status::source::http::ProcessSecrets;
use site_status::source::{FleetSource, string_literal};
use support::{Fleet, FleetExporter, Site, TestPrometheus};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An escape sequence, a right-to-left override, and longer than the cap.
fn hostile_name() -> String {
    format!(
        "evil\u{1b}[31m\u{202e}site-{}",
        "x".repeat(MAX_NAME_CHARS + 50)
    )
}

const HOSTILE_REQUIREMENT: &str = "cron\u{1b}[2J\u{202e}check";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_down_asks_for_the_raw_label_not_its_display_form() {
    let name = hostile_name();
    let mut site = Site::new(&name, "prod", "kk_borger");
    site.set_severity(HOSTILE_REQUIREMENT, 2);
    let exporter = FleetExporter::start(Fleet::new(vec![site]));
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;

    let loki = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200).set_body_string(
                r#"{"status":"success","data":{"resultType":"streams","result":[]}}"#,
            ),
        )
        .mount(&loki)
        .await;
    let config = Config::parse(
        &format!(
            "[[environment]]\nname = \"prod\"\nselector = 'env=\"prod\"'\n\
             [environment.prometheus]\nurl = \"{}\"\n[environment.loki]\nurl = \"{}\"\n",
            prom.url(),
            loki.uri()
        ),
        Path::new("t.toml"),
    )
    .unwrap();
    let source = site_status::source::from_config(&config, &ProcessSecrets)
        .unwrap()
        .remove(0);

    // The grid: drawn cleaned, keyed raw.
    let report = source.fetch_fleet().await.unwrap();
    let summary = &report.sites[0];
    assert_eq!(summary.label, name);
    assert!(!summary.name.contains('\u{1b}') && !summary.name.contains('\u{202e}'));
    assert!(summary.name.chars().count() <= MAX_NAME_CHARS + 1);
    assert_eq!(summary.failing[0].0, HOSTILE_REQUIREMENT);

    // The app opens the site under the cursor by its label.
    let mut app = App::new(Settings::default(), &["prod".to_string()], 160, 50);
    app.apply_fleet(
        0,
        &Slot {
            last_good: Some(Fetched {
                value: Arc::new(report.clone()),
                at: SystemTime::now(),
            }),
            ..Slot::default()
        },
    );
    let key = app
        .site_key(app.cursor_site().expect("the site is on the grid"))
        .unwrap();
    assert_eq!(key.site, name, "the site view must ask for the raw label");

    // Its series: the site view lists the requirement, in error.
    let detail = source.fetch_site(&key.site).await.unwrap();
    let failing = detail
        .requirements
        .iter()
        .find(|r| r.label == HOSTILE_REQUIREMENT)
        .expect("the hostile requirement is in the site view");
    assert_eq!(failing.severity, Some(Severity::Error));
    assert!(!failing.id.contains('\u{1b}'), "{:?}", failing.id);
    assert_eq!(detail.summary.worst, Some(Severity::Error));

    // A requirement's history, by both raw labels.
    let history = source
        .fetch_history(&key.site, &failing.label, Window::Hour)
        .await
        .unwrap();
    assert_eq!(history.worst(), Some(Severity::Error));

    // Its reports: the LogQL selector carries the raw label, quoted.
    source.fetch_reports(&key.site, 5).await.unwrap();
    let requests = loki.received_requests().await.unwrap();
    let query: String = requests
        .iter()
        .flat_map(|r| {
            r.url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
        })
        .find(|(k, _)| k == "query")
        .map(|(_, v)| v)
        .expect("a LogQL query");
    assert!(
        query.contains(&format!("site={}", string_literal(&name))),
        "{query}"
    );
}
