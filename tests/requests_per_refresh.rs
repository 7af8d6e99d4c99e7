//! What the dashboard asks of a real Prometheus per refresh, counted by
//! Prometheus itself (`prometheus_http_requests_total`): three environments
//! on one Prometheus share one set of grid queries and one read of the
//! firing alerts counted per site (at most every 10 s), never the
//! unbounded `api/v1/alerts` list with every alert's rendered annotations,
//! and the fleet timeline is read once and then carried by the polls, so a
//! steady refresh is six or seven requests and no range query. Sharing
//! must not change what any environment shows. And what each alerts read
//! returns, as a proxy in front of Prometheus sees it, is bounded by what
//! is drawn: a series per badged site for the grid, the open site's alerts
//! for the site view, a few of each name for the alerts view.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use site_status::config::Config;
use site_status::model::{AlertBadge, SiteSummary};
use site_status::poller::{Detail, DetailKey, PollSettings, Poller};
use site_status::source::FleetSource;
use site_status::source::http::ProcessSecrets;
use support::{ENVIRONMENTS, FleetBuilder, FleetExporter, TestPrometheus};

fn config(url: &str, distinct_headers: bool) -> Config {
    let text: String = ENVIRONMENTS
        .iter()
        .map(|env| {
            // A header of its own makes an environment's backend differ,
            // so it is asked on its own, as before sharing.
            let headers = if distinct_headers {
                format!("headers = {{ X-Env = \"{env}\" }}\n")
            } else {
                String::new()
            };
            format!(
                "[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\n[environment.prometheus]\nurl = \"{url}\"\ntimeout = \"20s\"\n{headers}"
            )
        })
        .collect();
    Config::parse(&text, Path::new("test.toml")).unwrap()
}

/// Prometheus's own count of the requests it served, by handler.
async fn requests_by_handler(prometheus: &TestPrometheus) -> BTreeMap<String, f64> {
    let body = reqwest::get(format!("{}/metrics", prometheus.url()))
        .await
        .and_then(|r| r.error_for_status())
        .unwrap()
        .text()
        .await
        .unwrap();
    body.lines()
        .filter_map(|line| line.strip_prefix("prometheus_http_requests_total{"))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once("} ")?;
            let handler = labels
                .split(',')
                .find_map(|l| l.strip_prefix("handler=\""))?
                .trim_end_matches('"');
            Some((handler.to_string(), value.trim().parse::<f64>().ok()?))
        })
        .fold(BTreeMap::new(), |mut by, (handler, value)| {
            *by.entry(handler).or_insert(0.0) += value;
            by
        })
}

fn delta(after: &BTreeMap<String, f64>, before: &BTreeMap<String, f64>, handler: &str) -> u64 {
    let read = |m: &BTreeMap<String, f64>| m.get(handler).copied().unwrap_or(0.0);
    (read(after) - read(before)).round() as u64
}

/// Each environment's grid results and carried timelines, as the poller
/// tells them.
#[derive(Default)]
struct Seen {
    /// Each environment's latest grid slot: when its last result came, and
    /// whether a request is out.
    grids: BTreeMap<usize, (Option<SystemTime>, bool)>,
    /// The distinct grid results and timeline updates, by environment.
    results: [u32; 3],
    carried: [u32; 3],
    timelines: BTreeMap<String, SystemTime>,
}

impl Seen {
    /// Every environment has answered this round and none is asking: the
    /// next round starts a refresh interval later.
    fn quiet(&self) -> bool {
        let ats: Vec<SystemTime> = self
            .grids
            .values()
            .filter(|(_, in_flight)| !in_flight)
            .filter_map(|(at, _)| *at)
            .collect();
        let (Some(first), Some(last)) = (ats.iter().min(), ats.iter().max()) else {
            return false;
        };
        ats.len() == ENVIRONMENTS.len()
            && last
                .duration_since(*first)
                .is_ok_and(|spread| spread < Duration::from_millis(500))
    }
}

/// Reads what changed; a slot also changes when a request starts, so only
/// a new result's time counts as a result.
async fn read_changes(poller: &mut Poller, wake: &tokio::sync::Notify, seen: &mut Seen) {
    tokio::time::timeout(Duration::from_secs(60), wake.notified())
        .await
        .expect("a poll within a minute");
    for (env, slot) in poller.changed_fleet() {
        assert!(
            slot.last_error.is_none(),
            "{}: {:?}",
            ENVIRONMENTS[env],
            slot.last_error
        );
        let at = slot.last_good.as_ref().map(|g| g.at);
        let before = seen.grids.insert(env, (at, slot.in_flight));
        if at.is_some() && before.map(|(was, _)| was) != Some(at) {
            seen.results[env] += 1;
        }
    }
    for (key, slot) in poller.changed_details() {
        if let (DetailKey::Timeline { env }, Some(good)) = (&key, &slot.last_good)
            && seen.timelines.insert(env.clone(), good.at) != Some(good.at)
            && let Some(i) = ENVIRONMENTS.iter().position(|e| e == env)
        {
            seen.carried[i] += 1;
        }
    }
}

async fn until_quiet(poller: &mut Poller, wake: &tokio::sync::Notify, seen: &mut Seen) {
    loop {
        read_changes(poller, wake, seen).await;
        if seen.quiet() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_environments_on_one_prometheus_cost_seven_requests_a_refresh_and_no_range_query() {
    let exporter = FleetExporter::start(FleetBuilder::new(300).build());
    let prometheus = TestPrometheus::scraping(&exporter).await;
    prometheus.wait_for_fleet(&exporter).await;
    let sources: Vec<Arc<dyn FleetSource>> =
        site_status::source::from_config(&config(&prometheus.url(), false), &ProcessSecrets)
            .unwrap()
            .into_iter()
            .map(|s| s as Arc<dyn FleetSource>)
            .collect();
    let settings = PollSettings {
        interval: Duration::from_secs(2),
        timeout: Duration::from_secs(20),
        max_backoff: Duration::from_secs(4),
    };
    let mut poller = Poller::start(sources, settings);
    let wake = poller.wake();
    // The dashboard shows the timeline strip of every environment.
    let timelines: Vec<DetailKey> = ENVIRONMENTS
        .iter()
        .map(|env| DetailKey::Timeline {
            env: env.to_string(),
        })
        .collect();
    for key in &timelines {
        poller.watch(key.clone());
    }
    let mut loaded = 0;
    while loaded < timelines.len() {
        tokio::time::timeout(Duration::from_secs(60), wake.notified())
            .await
            .expect("the timelines within a minute");
        poller.changed_fleet();
        for (key, slot) in poller.changed_details() {
            assert!(slot.last_error.is_none(), "{key:?}: {:?}", slot.last_error);
            if matches!(
                slot.last_good.as_ref().map(|g| g.value.as_ref()),
                Some(Detail::Timeline(_))
            ) {
                loaded += 1;
            }
        }
    }
    // Count from just after a round to just after another: the next one
    // starts a refresh interval later, so none is half counted.
    let mut seen = Seen::default();
    until_quiet(&mut poller, &wake, &mut seen).await;
    let before = requests_by_handler(&prometheus).await;
    let counted_from = seen.results;
    const ROUNDS: u32 = 5;
    while seen.results[0] < counted_from[0] + ROUNDS {
        read_changes(&mut poller, &wake, &mut seen).await;
    }
    until_quiet(&mut poller, &wake, &mut seen).await;
    let after = requests_by_handler(&prometheus).await;
    drop(poller);
    let results: Vec<u32> = (0..3).map(|i| seen.results[i] - counted_from[i]).collect();
    let carried = seen.carried;

    assert_eq!(results, [ROUNDS; 3], "one grid per environment per round");
    let rounds = u64::from(ROUNDS);
    let queries = delta(&after, &before, "/api/v1/query");
    let alerts = delta(&after, &before, "/api/v1/alerts");
    let ranges = delta(&after, &before, "/api/v1/query_range");
    eprintln!(
        "{rounds} refreshes of 3 environments: {queries} queries, {alerts} alerts lists, {ranges} range queries"
    );
    assert_eq!(alerts, 0, "the alerts list is never read by a refresh");
    // Six grid queries a round: the sixth, why runs fail
    // (drupal_status_report_failure), answers only for the failing sites,
    // so it does not grow with the fleet. Five 2 s refreshes span about
    // 10 s: the firing alerts, read at most every 10 s, are asked for at
    // most twice in them.
    assert!(
        (6 * rounds..=6 * rounds + 2).contains(&queries),
        "{queries} queries: six grid queries per refresh and at most one read of the alerts, shared"
    );
    assert_eq!(ranges, 0, "the timelines are carried by the polls");
    // A timeline's update can land just after its round is counted.
    assert!(
        carried.iter().all(|n| *n + 1 >= ROUNDS),
        "each poll carries its environment's timeline forward: {carried:?}"
    );
}

fn comparable(sites: &[SiteSummary]) -> Vec<String> {
    sites
        .iter()
        .map(|s| {
            format!(
                "{} {} {:?} {:?} {:?} {:?} {:?} last run {:?}",
                s.name,
                s.profile,
                s.alert,
                s.worst,
                s.run_success,
                s.up,
                s.failing,
                // `time() - last_run` is read at two instants.
                s.last_run.map(|t| t.round() as i64 / 10)
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharing_one_prometheus_shows_each_environment_what_asking_it_alone_shows() {
    let exporter = FleetExporter::start(FleetBuilder::new(120).build());
    let prometheus = TestPrometheus::scraping(&exporter).await;
    prometheus.wait_for_fleet(&exporter).await;
    let shared =
        site_status::source::from_config(&config(&prometheus.url(), false), &ProcessSecrets)
            .unwrap();
    let alone = site_status::source::from_config(&config(&prometheus.url(), true), &ProcessSecrets)
        .unwrap();
    for (shared, alone) in shared.iter().zip(&alone) {
        let (a, b) = tokio::join!(shared.fetch_fleet(), alone.fetch_fleet());
        let (shared_report, alone_report) = (a.unwrap(), b.unwrap());
        assert!(
            !alone_report.sites.is_empty(),
            "{} has sites",
            alone.environment()
        );
        assert_eq!(
            comparable(&shared_report.sites),
            comparable(&alone_report.sites),
            "{}",
            alone.environment()
        );
        assert_eq!(shared_report.warnings, alone_report.warnings);
    }
}

/// Rules that put many alerts on every site: one per requirement at any
/// severity, firing at once, and one per failing requirement, pending for
/// an hour.
const MANY_ALERTS_PER_SITE: &str = r#"groups:
  - name: many
    interval: 1s
    rules:
      - alert: EveryRequirement
        expr: drupal_requirement_severity >= 0
        for: 0s
        labels:
          severity: info
      - alert: EveryFailingRequirement
        expr: drupal_requirement_severity >= 1
        for: 1h
"#;

/// What a request asked and how many series its answer held, as a proxy
/// in front of Prometheus read them.
type Answered = Arc<std::sync::Mutex<Vec<(String, usize)>>>;

fn series_in(body: &[u8]) -> usize {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["data"]["result"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// The alerts reads since the last call, taken out of `answered`.
fn alerts_reads(answered: &Answered) -> Vec<(String, usize)> {
    std::mem::take(&mut *answered.lock().unwrap())
        .into_iter()
        .filter(|(query, _)| query.contains("ALERTS"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alerts_read_returns_no_more_than_is_drawn() {
    let exporter = FleetExporter::start(FleetBuilder::new(300).build());
    let prometheus = TestPrometheus::builder()
        .target(exporter.target())
        .rule_file(MANY_ALERTS_PER_SITE)
        .start()
        .await;
    prometheus.wait_for_fleet(&exporter).await;
    let series = exporter.fleet().series_count();
    let alerts = prometheus
        .wait_for("ALERTS{alertstate=\"firing\"}", |s| s.len() >= series / 2)
        .await
        .len();
    let sites = exporter.fleet().sites.len();
    assert!(alerts > 5 * sites, "{alerts} alerts on {sites} sites");

    let proxy = support::fault_proxy::FaultProxy::start(prometheus.url()).await;
    let answered: Answered = Arc::default();
    let record = answered.clone();
    proxy.set(support::fault_proxy::Fault::Rewrite(Arc::new(
        move |request, status, body| {
            let query = request.query.clone().unwrap_or_default();
            record.lock().unwrap().push((query, series_in(&body)));
            (status, body)
        },
    )));
    let sources =
        site_status::source::from_config(&config(proxy.url(), false), &ProcessSecrets).unwrap();

    // The grid: one read for the three environments, at most one series
    // per site with a firing alert however many fire on it.
    let reports: Vec<_> = futures::future::join_all(sources.iter().map(|s| s.fetch_fleet())).await;
    let badged: usize = reports
        .into_iter()
        .map(|r| {
            r.unwrap()
                .sites
                .iter()
                .filter(|s| s.alert != AlertBadge::None)
                .count()
        })
        .sum();
    let reads = alerts_reads(&answered);
    assert_eq!(reads.len(), 1, "{reads:?}");
    let (query, returned) = &reads[0];
    assert!(!query.contains("ALERTS_FOR_STATE"), "{query}");
    assert!(
        *returned <= sites && *returned == badged,
        "{returned} series for {badged} badged sites of {sites} ({alerts} alerts): {query}"
    );

    // The site view: that site's alerts only.
    let prod = &sources[2];
    let site = exporter
        .fleet()
        .sites
        .iter()
        .find(|s| s.env == "prod" && s.worst_severity().is_some())
        .map(|s| s.name.clone())
        .unwrap();
    let own = prometheus
        .query(&format!("ALERTS{{site=\"{site}\"}}"))
        .await
        .unwrap()
        .len();
    let detail = prod.fetch_site(&site).await.unwrap();
    assert_eq!(detail.alerts.len(), own);
    let reads = alerts_reads(&answered);
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0].1, own, "{}", reads[0].0);

    // The alerts view: counts per name and state, and the newest few of
    // each name, whatever the storm.
    let per_name = 5;
    let list = prod.fetch_alerts(per_name).await.unwrap();
    let names = list.groups.len();
    assert_eq!(names, 2, "{:?}", list.groups);
    let reads = alerts_reads(&answered);
    assert_eq!(reads.len(), 2, "{reads:?}");
    for (query, returned) in &reads {
        let bound = if query.starts_with("count by") {
            2 * names
        } else {
            per_name * names
        };
        assert!(
            *returned <= bound,
            "{returned} series, more than {bound}: {query}"
        );
    }
    assert_eq!(list.alerts.len(), per_name * names);
    let counted: usize = list.groups.iter().map(|g| g.firing + g.pending).sum();
    assert!(counted > 10 * per_name, "every alert is counted: {counted}");
}

/// A first poll of environments sharing one Prometheus shows each its own
/// sites before their failing requirements, and then the whole poll, the
/// same as asking alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_first_poll_shows_each_environment_its_sites_first() {
    let exporter = FleetExporter::start(FleetBuilder::new(120).build());
    let prometheus = TestPrometheus::scraping(&exporter).await;
    prometheus.wait_for_fleet(&exporter).await;
    let shared =
        site_status::source::from_config(&config(&prometheus.url(), false), &ProcessSecrets)
            .unwrap();
    let offered: Arc<std::sync::Mutex<Vec<(String, site_status::source::EnvReport)>>> =
        Arc::default();
    let polls = shared.iter().map(|source| {
        let keep = offered.clone();
        let env = source.environment().to_string();
        let preview: site_status::source::Preview =
            Arc::new(move |report| keep.lock().unwrap().push((env.clone(), report)));
        source.fetch_fleet_previewing(preview)
    });
    let wholes = futures::future::join_all(polls).await;
    let offered = std::mem::take(&mut *offered.lock().unwrap());
    let fleet = exporter.fleet();
    for (source, whole) in shared.iter().zip(wholes) {
        let env = source.environment();
        let whole = whole.unwrap();
        assert!(!whole.partial);
        let firsts: Vec<_> = offered.iter().filter(|(e, _)| e == env).collect();
        assert_eq!(firsts.len(), 1, "{env}: one first answer");
        let first = &firsts[0].1;
        assert!(first.partial);
        let own = fleet
            .sites
            .iter()
            .filter(|s| s.env == env && !s.silent)
            .count();
        assert_eq!(first.sites.len(), own, "{env}");
        assert!(first.sites.iter().all(|s| s.failing.is_empty()));
        let worst = |r: &site_status::source::EnvReport| -> Vec<_> {
            r.sites.iter().map(|s| (s.name.clone(), s.worst)).collect()
        };
        assert_eq!(worst(first), worst(&whole), "{env}: the same worst states");
        assert!(whole.sites.iter().any(|s| !s.failing.is_empty()), "{env}");
    }
}
