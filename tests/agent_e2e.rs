//! The two programs end to end: the status agent, running a fake drush
//! that prints a real drush report, is scraped by a real Prometheus, and
//! `site-status check` on that Prometheus shows the site as the report
//! says; `promtool check metrics` passes on the agent's `/metrics`.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::TestPrometheus;
use support::agent::TestAgent;
use support::prometheus::promtool_check_metrics;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_scraped_by_prometheus_is_what_check_reports() {
    let dir = tempfile::tempdir().unwrap();
    let agent = TestAgent::start(dir.path(), "drush13-broken-full.json", "5s");
    let port = agent.port;
    tokio::task::block_in_place(|| agent.wait_ready());

    // promtool lints what the agent serves.
    let metrics = agent.get("/metrics").unwrap();
    promtool_check_metrics(&metrics, "the agent's /metrics");

    let prometheus = TestPrometheus::start([format!("127.0.0.1:{port}")]).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let scraped = prometheus
            .query(r#"drupal_requirement_severity{site="borger"}"#)
            .await
            .unwrap_or_default();
        if !scraped.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped the agent"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[environment]]\nname = \"prod\"\nselector = 'env=\"prod\"'\n[environment.prometheus]\nurl = \"{}\"\n",
            prometheus.url()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_site-status"))
        .arg("--config")
        .arg(&config)
        .args(["check", "--format", "json"])
        .env("HOME", dir.path())
        .env_remove("SITE_STATUS_MUTES")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let sites = json["environments"][0]["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 1, "{json:#}");
    let borger = &sites[0];
    // The fixture: four requirements in error, one warning; the run parsed.
    assert_eq!(borger["site"], "borger");
    assert_eq!(borger["profile"], "kk_borger");
    assert_eq!(borger["state"], "error", "{json:#}");
    assert_eq!(borger["severity"], "error");
    assert_eq!(borger["run_failed"], false);
    assert_eq!(borger["stale"], false);
    let failing: Vec<&str> = borger["failing"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    for id in [
        "config sync directory",
        "cron",
        "entity_update",
        "update_core",
        "update_contrib",
    ] {
        assert!(failing.contains(&id), "{id} missing from {failing:?}");
    }
    assert_eq!(out.status.code(), Some(2), "an error site is critical");
}
