//! The fleet timeline and a profile's rollout against a real Prometheus
//! scraping a fleet in the data contract's shape, several environments
//! sharing it: the timeline counts what the fleet served at each moment,
//! the rollout which version each site runs.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use site_status::config::Config;
use site_status::model::{Timeline, UNKNOWN_VERSION, compare_versions};
use site_status::source::FleetSource;
use site_status::source::environment::EnvironmentSource;
use site_status::source::http::ProcessSecrets;
use support::{Fleet, FleetBuilder, FleetExporter, TestPrometheus};

fn sources(url: &str) -> Vec<Arc<EnvironmentSource>> {
    let mut text = String::from("refresh_interval = \"2s\"\n");
    for env in ["dev", "test", "prod"] {
        text.push_str(&format!(
            "[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\n[environment.prometheus]\nurl = \"{url}\"\ntimeout = \"5s\"\n"
        ));
    }
    let config = Config::parse(&text, Path::new("test.toml")).unwrap();
    site_status::source::from_config(&config, &ProcessSecrets).unwrap()
}

fn source<'a>(sources: &'a [Arc<EnvironmentSource>], env: &str) -> &'a EnvironmentSource {
    sources.iter().find(|s| s.environment() == env).unwrap()
}

/// `(errors, warnings)` in one environment as the fleet serves it: each
/// publishing site by its worst requirement.
fn served_counts(fleet: &Fleet, env: &str) -> (u32, u32) {
    let mut counts = (0, 0);
    for site in fleet.sites.iter().filter(|s| s.env == env) {
        match site.worst_severity() {
            Some(s) if s >= 2 => counts.0 += 1,
            Some(1) => counts.1 += 1,
            _ => {}
        }
    }
    counts
}

/// `(errors, warnings)` in one environment as PromQL counts it now.
async fn promql_counts(prom: &TestPrometheus, env: &str) -> (u32, u32) {
    let count = |op: &'static str| {
        let q = format!(
            "count(max by (site) (drupal_requirement_severity{{env=\"{env}\"}}) {op}) or vector(0)"
        );
        async move { prom.query(&q).await.unwrap()[0].value as u32 }
    };
    (count(">= 2").await, count("== 1").await)
}

/// The timeline as runs of equal `(errors, warnings)`, leading steps
/// without data left out.
fn runs(timeline: &Timeline) -> Vec<((u32, u32), usize)> {
    let mut runs: Vec<((u32, u32), usize)> = Vec::new();
    for point in timeline
        .errors
        .iter()
        .copied()
        .zip(timeline.warnings.iter().copied())
    {
        if runs.is_empty() && point == (0, 0) {
            continue;
        }
        match runs.last_mut() {
            Some((p, n)) if *p == point => *n += 1,
            _ => runs.push((point, 1)),
        }
    }
    runs
}

#[tokio::test]
async fn the_timeline_counts_what_the_fleet_served_over_time() {
    let exporter = FleetExporter::start(FleetBuilder::new(80).seed(5).build());
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;
    let sources = sources(&prom.url());

    // The hour a minute apart, as the dashboard asks for it: the last step
    // is now; before Prometheus had data, every step is 0.
    for env in ["dev", "test", "prod"] {
        let timeline = source(&sources, env).fetch_timeline().await.unwrap();
        assert_eq!(timeline.len(), 61, "{env}");
        assert_eq!(timeline.step, 60.0);
        assert_eq!(timeline.start % 60.0, 0.0, "aligned");
        assert_eq!(timeline.end() - timeline.start, 3600.0);
        let now = site_status::model::Clock::System.unix_seconds();
        assert!(timeline.end() >= now - 1.0 && timeline.end() < now + 60.0);
        let served = served_counts(&exporter.fleet(), env);
        assert_eq!(timeline.last(), Some(served), "{env}: the last step");
        assert_eq!(promql_counts(&prom, env).await, served, "{env}: PromQL");
        let len = timeline.len();
        assert!(
            timeline.errors[..len - 2].iter().all(|n| *n == 0)
                && timeline.warnings[..len - 2].iter().all(|n| *n == 0),
            "{env}: no data an hour ago: {timeline:?}"
        );
    }

    // Over time: one state for a few seconds, then another.
    let before = served_counts(&exporter.fleet(), "prod");
    assert!(before.0 > 0 && before.1 > 0, "{before:?}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (failing, fixed) = exporter.update(|fleet| {
        let mut failing = Vec::new();
        let mut fixed = None;
        for site in fleet
            .sites
            .iter_mut()
            .filter(|s| s.env == "prod" && !s.silent)
        {
            match site.worst_severity() {
                // Three warning sites fail cron, one failing site recovers.
                Some(1) if failing.len() < 3 => {
                    site.set_severity("cron", 2);
                    failing.push(site.name.clone());
                }
                Some(2) if fixed.is_none() => {
                    for sid in site.requirements.values_mut() {
                        *sid = (*sid).min(0);
                    }
                    fixed = Some(site.name.clone());
                }
                _ => {}
            }
        }
        (failing, fixed)
    });
    assert_eq!(failing.len(), 3, "{failing:?}");
    assert!(fixed.is_some());
    let after = served_counts(&exporter.fleet(), "prod");
    assert_eq!(after, (before.0 + 3 - 1, before.1 - 3));
    prom.wait_for_fleet(&exporter).await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    let prod = source(&sources, "prod").prometheus();
    let timeline = prod
        .timeline(Duration::from_secs(40), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(timeline.len(), 41);
    let runs = runs(&timeline);
    assert_eq!(
        runs.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        vec![before, after],
        "one state, then the other, and nothing between: {runs:?}"
    );
    assert!(runs.iter().all(|(_, n)| *n >= 3), "{runs:?}");
    // Other environments sharing the Prometheus did not move.
    let dev = source(&sources, "dev")
        .prometheus()
        .timeline(Duration::from_secs(40), Duration::from_secs(1))
        .await
        .unwrap();
    let dev_runs: Vec<(u32, u32)> = self::runs(&dev).iter().map(|(p, _)| *p).collect();
    assert_eq!(dev_runs, vec![served_counts(&exporter.fleet(), "dev")]);
}

#[tokio::test]
async fn the_rollout_says_which_site_runs_which_version() {
    let mut fleet = FleetBuilder::new(120).seed(9).build();
    // The profile with the most publishing prod sites.
    let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
    for site in fleet.sites.iter().filter(|s| s.env == "prod" && !s.silent) {
        *sizes.entry(site.profile.clone()).or_default() += 1;
    }
    let (profile, size) = sizes
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(p, n)| (p.clone(), *n))
        .unwrap();
    assert!(size >= 5, "{sizes:?}");
    // A rollout in progress: 3.14.10 reached some sites, most still run
    // 3.14.9, one lags at 3.9.1, one publishes no version, one a hostile one.
    let hostile = "3.14.9\u{1b}[2J\u{202e}";
    let mut expected: Vec<(String, String)> = Vec::new();
    let mut k = 0;
    for site in fleet.sites.iter_mut().filter(|s| s.profile == profile) {
        if site.env != "prod" {
            // Other environments run something else entirely.
            site.info.profile_version = "4.0.0".into();
            continue;
        }
        let version = match k {
            0 => "3.9.1",
            1 => "",
            2 => hostile,
            k if k % 3 == 0 => "3.14.10",
            _ => "3.14.9",
        };
        k += 1;
        site.info.profile_version = version.into();
        if !site.silent {
            let shown = match version {
                "" => UNKNOWN_VERSION.to_string(),
                v if v == hostile => "3.14.9\u{FFFD}[2J".to_string(),
                v => v.to_string(),
            };
            expected.push((site.name.clone(), shown));
        }
    }
    let publishing = fleet.sites.iter().filter(|s| !s.silent).count();
    let exporter = FleetExporter::start(fleet);
    let prom = TestPrometheus::scraping(&exporter).await;
    // Not `wait_for_fleet`: an empty label value is no label to
    // Prometheus, so the series differ from what the exporter lists. One
    // scrape brings every series.
    prom.wait_for("count(drupal_info)", |s| {
        s.first().is_some_and(|s| s.value as usize == publishing)
    })
    .await;
    let sources = sources(&prom.url());

    let rollout = source(&sources, "prod")
        .fetch_rollout(&profile)
        .await
        .unwrap();
    assert_eq!(rollout.profile, profile);
    // Newest first, by dotted numbers; each site once.
    expected.sort_by(|a, b| compare_versions(&b.1, &a.1).then_with(|| a.0.cmp(&b.0)));
    assert_eq!(rollout.sites, expected);
    let mut versions: Vec<(String, usize)> = Vec::new();
    for (_, v) in &expected {
        match versions.last_mut() {
            Some((last, n)) if last == v => *n += 1,
            _ => versions.push((v.clone(), 1)),
        }
    }
    assert_eq!(rollout.versions, versions);
    let order: Vec<&str> = rollout.versions.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(order[0], "3.14.10");
    assert_eq!(order.last(), Some(&UNKNOWN_VERSION));
    assert!(
        order.iter().position(|v| *v == "3.14.9") < order.iter().position(|v| *v == "3.9.1"),
        "3.14.9 is newer than 3.9.1: {order:?}"
    );
    // PromQL agrees on the count.
    let count = prom
        .query(&format!(
            "count(drupal_info{{env=\"prod\", profile=\"{profile}\"}})"
        ))
        .await
        .unwrap()[0]
        .value as usize;
    assert_eq!(rollout.site_count(), count);

    // Other environments sharing the Prometheus see only their sites.
    let dev = source(&sources, "dev")
        .fetch_rollout(&profile)
        .await
        .unwrap();
    assert!(dev.versions.iter().all(|(v, _)| v == "4.0.0"), "{dev:?}");
    // A profile nobody runs has no sites.
    let none = source(&sources, "prod")
        .fetch_rollout("kk_nope")
        .await
        .unwrap();
    assert_eq!(none.site_count(), 0);
}
