//! The Prometheus source's HTTP behaviour against a local mock server
//! (wiremock): request counts, GET/POST, auth and headers, path prefixes,
//! error envelopes, proxy pages, timeouts. The queries' meaning is tested
//! against a real Prometheus in `prometheus_real.rs`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use site_status::config::Config;
use site_status::model::{AlertBadge, Severity};
use site_status::source::FleetSource;
use site_status::source::prometheus::PrometheusSource;
use site_status::source::{EnvReport, Preview};
use std::sync::Arc;
mod fake_prometheus;

use fake_prometheus::{fleet_server, prod_alert_count, query_of};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Secrets from a map, not the process environment.
type Secrets = HashMap<String, String>;

fn no_secrets() -> Secrets {
    HashMap::new()
}

fn config(url: &str, extra: &str) -> Config {
    let text = format!(
        "[[environment]]\nname = \"prod\"\nselector = 'env=\"prod\"'\n[environment.prometheus]\nurl = \"{url}\"\ntimeout = 2\n{extra}"
    );
    Config::parse(&text, Path::new("test.toml")).unwrap()
}

fn source(config: &Config, secrets: &Secrets) -> PrometheusSource {
    PrometheusSource::new(config, &config.environments[0], secrets).unwrap()
}

#[tokio::test]
async fn requests_per_refresh_do_not_grow_with_the_fleet() {
    let mut per_refresh = Vec::new();
    for sites in [10, 320, 10_000] {
        let (server, responder) = fleet_server(sites).await;
        let c = config(&server.uri(), "");
        let s = source(&c, &no_secrets());
        let report = s.fetch_fleet().await.unwrap();
        assert_eq!(report.sites.len(), sites);
        per_refresh.push(responder.calls.load(Ordering::SeqCst));
        // A second refresh right after asks the six grid queries again;
        // the firing alerts it read are less than 10 s old.
        s.fetch_fleet().await.unwrap();
        assert_eq!(
            responder.calls.load(Ordering::SeqCst),
            per_refresh[per_refresh.len() - 1] + 6
        );
    }
    // Six grid queries (the sixth, why runs fail, answers only for the
    // failing sites) and the firing alerts counted per site.
    assert_eq!(per_refresh, vec![7, 7, 7]);
}

#[tokio::test]
async fn the_grid_is_merged_from_the_aggregated_answers() {
    let (server, _) = fleet_server(30).await;
    let c = config(&server.uri(), "");
    let report = source(&c, &no_secrets()).fetch_fleet().await.unwrap();
    let site = report
        .sites
        .iter()
        .find(|s| s.name == "site-00002")
        .unwrap();
    assert_eq!(site.profile, "kk_2");
    assert_eq!(site.worst.map(|s| s.sid()), Some(2));
    assert_eq!(site.failing.len(), 1);
    assert_eq!(site.failing[0].0, "update");
    assert_eq!(site.run_success, Some(true));
    let age = site_status::model::Clock::System.unix_seconds() - site.last_run.unwrap();
    assert!((42.0..50.0).contains(&age), "{age}");

    // The grid keeps a badge per site with a firing alert of prod's: dev's
    // (site-00001) and the pending one are left out.
    let badged: Vec<&str> = report
        .sites
        .iter()
        .filter(|s| s.alert == AlertBadge::Loud)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(badged.len(), prod_alert_count(30));
    assert!(badged.len() >= 2);
    assert!(!badged.contains(&"site-00001"), "{badged:?}");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[tokio::test]
async fn a_site_and_the_alerts_view_read_their_alerts_with_since_when() {
    let (server, _) = fleet_server(30).await;
    let c = config(&server.uri(), "");
    let source = source(&c, &no_secrets());
    let detail = source.fetch_site("site-00010").await.unwrap();
    assert_eq!(detail.alerts_error, None);
    let list = source.fetch_alerts(100).await.unwrap();
    // The fake answers each read with every alert it has, as a query that
    // narrowed nothing would: what matters here is what is asked and how
    // the answer reads.
    for alert in detail.alerts.iter().chain(&list.alerts) {
        assert_eq!(alert.summary, None, "annotations are not read");
        assert_eq!(
            alert.active_since.as_deref(),
            Some("2026-11-23T21:00:00.500Z")
        );
    }
    assert!(
        list.alerts
            .iter()
            .any(|a| a.pending && a.site == "site-00001")
    );
    let asked: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(query_of)
        .filter(|q| q.contains("ALERTS"))
        .collect();
    assert_eq!(
        asked
            .iter()
            .filter(|q| q.contains(r#"site="site-00010""#))
            .count(),
        1,
        "the site's alerts by its own label: {asked:?}"
    );
    assert!(
        asked
            .iter()
            .any(|q| q.starts_with("topk by (alertname) (100, ")),
        "the alerts view reads the newest of each name: {asked:?}"
    );
}

/// Matches the grid's firing alerts query.
struct FiringQuery;

impl wiremock::Match for FiringQuery {
    fn matches(&self, request: &wiremock::Request) -> bool {
        query_of(request).contains("(ALERTS{")
    }
}

fn is_alerts_query(request: &wiremock::Request) -> bool {
    query_of(request).contains("ALERTS")
}

/// Alerts change only when rules are evaluated: polls closer together
/// than 10 s read them once; a failed read is not kept.
#[tokio::test]
async fn the_alerts_are_read_at_most_every_ten_seconds() {
    let server = MockServer::start().await;
    let firing = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"site":"borger"},"value":[1,"1"]}]}}"#;
    let first_alerts = Mock::given(FiringQuery)
        .respond_with(ResponseTemplate::new(500).set_body_string("ruler down"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"site":"borger","profile":"kk_borger"},"value":[1,"0"]}]}}"#,
        ))
        .with_priority(5)
        .mount(&server)
        .await;
    let c = config(&server.uri(), "");
    let source = source(&c, &no_secrets());
    let report = source.fetch_fleet().await.unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.starts_with("alerts unavailable"))
    );
    drop(first_alerts);
    Mock::given(FiringQuery)
        .respond_with(ResponseTemplate::new(200).set_body_string(firing))
        .with_priority(1)
        .mount(&server)
        .await;
    // The failure was not kept: the next poll asks, and the three after it
    // use what it read.
    for _ in 0..4 {
        let report = source.fetch_fleet().await.unwrap();
        assert_eq!(
            report.sites[0].alert,
            AlertBadge::Loud,
            "{:?}",
            report.warnings
        );
    }
    let asked = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| query_of(r).contains("(ALERTS{"))
        .count();
    assert_eq!(asked, 2, "once failing, then once for four polls");
}

#[tokio::test]
async fn a_failing_alerts_request_is_a_warning_not_a_failed_poll() {
    for (status, body, expected) in [
        (404, "404 page not found", "HTTP 404: 404 page not found"),
        (
            503,
            r#"{"status":"error","errorType":"unavailable","error":"ruler \u001b[2Jdown"}"#,
            "Prometheus error (unavailable): ruler \u{FFFD}[2Jdown",
        ),
        (200, "<html>", "not a Prometheus API response"),
    ] {
        let server = MockServer::start().await;
        Mock::given(FiringQuery)
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_string(
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"site":"borger","profile":"kk_borger"},"value":[1,"0"]}]}}"#,
            ))
            .mount(&server)
            .await;
        let c = config(&server.uri(), "");
        let report = source(&c, &no_secrets()).fetch_fleet().await.unwrap();
        assert_eq!(report.sites.len(), 1, "the grid stands");
        assert_eq!(report.sites[0].alert, AlertBadge::None);
        let warning = report
            .warnings
            .iter()
            .find(|w| w.starts_with("alerts unavailable: "))
            .unwrap_or_else(|| panic!("{:?}", report.warnings));
        assert!(warning.contains(expected), "{warning}");
        assert!(!warning.chars().any(|c| c.is_control()), "{warning:?}");
    }
}

#[tokio::test]
async fn long_queries_go_as_post_and_short_ones_as_get() {
    let (server, _) = fleet_server(3).await;
    let long_value = "x".repeat(3000);
    let text = format!(
        "[[environment]]\nname = \"prod\"\nselector = 'cluster=\"{long_value}\"'\n[environment.prometheus]\nurl = \"{}\"\n",
        server.uri()
    );
    let c = Config::parse(&text, Path::new("t.toml")).unwrap();
    source(&c, &no_secrets()).fetch_fleet().await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 7);
    let (alerts, requests): (Vec<_>, Vec<_>) = requests.into_iter().partition(is_alerts_query);
    assert_eq!(alerts.len(), 1);
    for r in &alerts {
        assert_eq!(r.method.as_str(), "GET", "{}", query_of(r));
    }
    assert_eq!(requests.len(), 6);
    for r in &requests {
        assert_eq!(r.method.as_str(), "POST");
        assert!(query_of(r).contains(&long_value));
        assert_eq!(
            r.headers.get("content-type").unwrap(),
            "application/x-www-form-urlencoded"
        );
    }

    let (server, _) = fleet_server(3).await;
    let c = config(&server.uri(), "");
    source(&c, &no_secrets()).fetch_fleet().await.unwrap();
    for r in server.received_requests().await.unwrap() {
        assert_eq!(r.method.as_str(), "GET");
    }
}

#[tokio::test]
async fn a_path_prefix_is_kept() {
    let (server, _) = fleet_server(1).await;
    let c = config(&format!("{}/prometheus", server.uri()), "");
    source(&c, &no_secrets()).fetch_fleet().await.unwrap();
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(paths.len(), 7);
    for path in &paths {
        assert_eq!(path, "/prometheus/api/v1/query");
    }
}

#[tokio::test]
async fn auth_and_extra_headers_are_sent_and_never_shown() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401).set_body_string("unauthorized"))
        .mount(&server)
        .await;
    let secrets = HashMap::from([("PROM_TOKEN".to_string(), "s3cr3t-token".to_string())]);
    let c = config(
        &server.uri(),
        "bearer_token_env = \"PROM_TOKEN\"\nheaders = { \"X-Scope-OrgID\" = \"kk-prod\" }\n",
    );
    let error = source(&c, &secrets).fetch_fleet().await.unwrap_err();
    assert!(error.message.contains("HTTP 401"), "{}", error.message);
    assert!(!error.message.contains("s3cr3t"));
    let r = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        r.headers.get("authorization").unwrap(),
        "Bearer s3cr3t-token"
    );
    assert_eq!(r.headers.get("x-scope-orgid").unwrap(), "kk-prod");

    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200).set_body_string(
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            ),
        )
        .mount(&server)
        .await;
    let secrets = HashMap::from([("PROM_PASSWORD".to_string(), "pa55".to_string())]);
    let c = config(
        &server.uri(),
        "basic_auth = { username = \"site-status\", password_env = \"PROM_PASSWORD\" }\n",
    );
    source(&c, &secrets).fetch_fleet().await.unwrap();
    let r = &server.received_requests().await.unwrap()[0];
    // base64("site-status:pa55")
    assert_eq!(
        r.headers.get("authorization").unwrap(),
        "Basic c2l0ZS1zdGF0dXM6cGE1NQ=="
    );

    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "file-token\n").unwrap();
    let c = config(
        &server.uri(),
        &format!("bearer_token_file = \"{}\"\n", token_file.display()),
    );
    source(&c, &no_secrets()).fetch_fleet().await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let r = requests.last().unwrap();
    assert_eq!(r.headers.get("authorization").unwrap(), "Bearer file-token");
}

#[tokio::test]
async fn a_missing_secret_is_a_clear_configuration_error() {
    let c = config(
        "http://127.0.0.1:9",
        "bearer_token_env = \"NOT_SET_ANYWHERE\"\n",
    );
    let error = PrometheusSource::new(&c, &c.environments[0], &no_secrets())
        .err()
        .unwrap();
    assert!(
        error.0.contains("NOT_SET_ANYWHERE") && error.0.contains("not set"),
        "{error}"
    );
}

#[tokio::test]
async fn error_envelopes_proxy_pages_and_silence_become_readable_errors() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(422).set_body_string(
            r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}"#,
        ))
        .mount(&server)
        .await;
    let c = config(&server.uri(), "");
    let e = source(&c, &no_secrets()).fetch_fleet().await.unwrap_err();
    assert!(
        e.message.ends_with(
            "Prometheus error (execution): query processing would load too many samples into memory"
        ),
        "{}",
        e.message
    );

    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(502).set_body_raw(
            "<html><body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>",
            "text/html",
        ))
        .mount(&server)
        .await;
    let c = config(&server.uri(), "");
    let e = source(&c, &no_secrets()).fetch_fleet().await.unwrap_err();
    assert!(
        e.message.ends_with("HTTP 502: 502 Bad Gateway nginx"),
        "{}",
        e.message
    );

    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let c = config(&server.uri(), "");
    let started = std::time::Instant::now();
    let e = source(&c, &no_secrets()).fetch_fleet().await.unwrap_err();
    assert!(e.message.contains("no answer within 2s"), "{}", e.message);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn warnings_from_prometheus_reach_the_report() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"status":"success","warnings":["PromQL info: metric might not be a counter"],"data":{"resultType":"vector","result":[]}}"#,
        ))
        .mount(&server)
        .await;
    let c = config(&server.uri(), "insecure_skip_verify = true\n");
    let report = source(&c, &no_secrets()).fetch_fleet().await.unwrap();
    assert!(
        report
            .warnings
            .contains(&"PromQL info: metric might not be a counter".to_string())
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("verification is OFF")),
        "turning TLS checks off is never silent: {:?}",
        report.warnings
    );
}

#[tokio::test]
async fn a_site_view_asks_only_for_that_site() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"site":"borger","profile":"kk_borger","requirement":"cron"},"value":[1,"2"]},{"metric":{"site":"borger","profile":"kk_borger","requirement":"php"},"value":[1,"-1"]}]}}"#,
        ))
        .mount(&server)
        .await;
    let c = config(&server.uri(), "");
    let detail = source(&c, &no_secrets())
        .fetch_site("borger")
        .await
        .unwrap();
    assert_eq!(detail.requirements.len(), 2);
    assert_eq!(detail.requirements[0].id, "cron");
    assert_eq!(detail.summary.profile, "kk_borger");
    for r in server.received_requests().await.unwrap() {
        assert!(query_of(&r).contains("site=\"borger\""), "{}", query_of(&r));
    }
}

/// The environment's selector reaches every query as configured: each
/// operator, quotes of any kind and escapes, each value quoted afresh.
#[tokio::test]
async fn the_selector_reaches_every_query_sent_with_each_operator() {
    let (server, _) = fleet_server(3).await;
    const SELECTOR: &str = r#"env="pr\"od", cluster=~'a|b\'s', team!=`x\y`, tier!~"t\\.*","#;
    let text = format!(
        "[[environment]]\nname = \"prod\"\nselector = '''{SELECTOR}'''\n[environment.prometheus]\nurl = \"{}\"\n",
        server.uri()
    );
    let c = Config::parse(&text, Path::new("t.toml")).unwrap();
    let s = source(&c, &no_secrets());
    s.fetch_fleet().await.unwrap();
    let _ = s.fetch_site("borger").await;
    let selector = r#"env="pr\"od", cluster=~"a|b's", team!="x\\y", tier!~"t\\.*""#;
    let queries: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| !is_alerts_query(r))
        .map(query_of)
        .collect();
    // Six for the grid (the last: why runs fail), six for the site (the
    // last one: its last good run).
    assert_eq!(queries.len(), 12, "{queries:?}");
    // The grid's alerts take no selector: a rule may aggregate its labels
    // away, so the answer is judged on the labels the selector names. The
    // site's own take it, an alert without a label passing its matcher.
    let alerts: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| is_alerts_query(r))
        .map(query_of)
        .collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(
        alerts[0],
        r#"count by (site, env, cluster, team, tier) (ALERTS{site!="", alertstate="firing"})"#
    );
    let narrowed = r#"{site!="", env=~"pr\"od|", cluster=~"(?:a|b's)|", team!="x\\y", tier!~"t\\.*", site="borger"}"#;
    assert_eq!(
        alerts[1],
        format!(
            "(ALERTS_FOR_STATE{narrowed} + ignoring(alertstate) group_right() (0 * ALERTS{narrowed})) or (0 * ALERTS{narrowed})"
        )
    );
    assert!(queries.contains(&format!(
        "max by (site, profile, class, exit_code) (drupal_status_report_failure{{{selector}}})"
    )));
    assert!(queries.contains(&format!(
        "max by (site, profile) (drupal_requirement_severity{{{selector}}})"
    )));
    assert!(queries.contains(&format!(
        "time() - drupal_status_report_last_success_timestamp_seconds{{{selector}, site=\"borger\"}}"
    )));
    assert!(queries.contains(&format!(
        "min by (site, profile) (up{{{selector}, job=\"site-status\"}})"
    )));
    assert!(queries.contains(&format!(
        "drupal_requirement_severity{{{selector}, site=\"borger\"}}"
    )));
    for q in &queries {
        assert!(q.contains(&format!("{{{selector}")), "{q}");
    }
}

/// A federating proxy that answers every series twice, the worse one
/// first: the last sample must not win.
struct Duplicating;

impl wiremock::Respond for Duplicating {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let query = query_of(request);
        let sample = |extra: &str, value: &str| {
            format!(
                r#"{{"metric":{{"site":"borger","profile":"kk_borger"{extra}}},"value":[1795469437.5,"{value}"]}}"#
            )
        };
        let samples = if query.contains("ALERTS") {
            Vec::new()
        } else if query.contains(">= 1") {
            vec![
                sample(r#","requirement":"cron""#, "2"),
                sample(r#","requirement":"cron""#, "2"),
            ]
        } else if query.starts_with("max by (site, profile) (drupal_requirement_severity") {
            vec![sample("", "2"), sample("", "0")]
        } else if query.contains("time() -") {
            vec![sample("", "30"), sample("", "30")]
        } else {
            vec![sample("", "1"), sample("", "1")]
        };
        ResponseTemplate::new(200).set_body_string(format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
            samples.join(",")
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_series_count_at_their_worst_and_are_reported() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(Duplicating)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[environment]]\nname = \"prod\"\n[environment.prometheus]\nurl = \"{}\"\n",
            server.uri()
        ),
    )
    .unwrap();
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_site-status"))
            .arg("--config")
            .arg(&config)
            .args(["check", "--format", "json"])
            .env("HOME", dir.path())
            .env_remove("SITE_STATUS_MUTES")
            .output()
            .unwrap()
    });
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let env = &json["environments"][0];
    let site = &env["sites"][0];
    assert_eq!(site["severity"], "error", "{json:#}");
    assert_eq!(site["failing"], serde_json::json!(["cron"]), "{json:#}");
    assert!(
        env["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("duplicate series")),
        "{json:#}"
    );
    assert_eq!(out.status.code(), Some(2));
    // It prints no alert, so it asks for none: six grid queries.
    let asked: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(query_of)
        .collect();
    assert_eq!(asked.len(), 6, "{asked:?}");
    assert!(!asked.iter().any(|q| q.contains("ALERTS")), "{asked:?}");
}

/// Runs `check --format json` against `url`, returning its exit code, its
/// JSON and the peak resident memory of the process in MB.
fn check_with_peak_rss(url: &str, extra: &str) -> (Option<i32>, serde_json::Value, u64) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[environment]]\nname = \"prod\"\n{extra}[environment.prometheus]\nurl = \"{url}\"\ntimeout = 60\n"
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_site-status"))
        .arg("--config")
        .arg(&config)
        .args(["check", "--format", "json"])
        .env("HOME", dir.path())
        .env_remove("SITE_STATUS_MUTES")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut bytes).unwrap();
        bytes
    });
    // The child's own high-water mark, read from /proc while it runs (it
    // only grows). getrusage cannot say it: a child spawned from this
    // process carries this process's peak, fleet answers and all, into its
    // own, across the exec.
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    let exit = loop {
        if let Some(kb) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let stdout = reader.join().unwrap();
    let json = serde_json::from_slice(&stdout).unwrap_or(serde_json::Value::Null);
    (exit.code(), json, peak_kb / 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_environment_holds_no_more_than_its_budget() {
    // 250,000 sites: the grid's answers together about 75 MB.
    let (server, _) = fleet_server(250_000).await;
    let url = server.uri();
    let (code, json, peak_mb) =
        tokio::task::block_in_place(|| check_with_peak_rss(&url, "max_sites = 1000000\n"));
    assert_eq!(code, Some(3), "{json:#}");
    let error = json["environments"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("need more than 256 MiB") && error.contains("max_poll_mib of prod"),
        "{error}"
    );
    // The budget (256 MiB) holds what was read before it ran out and what
    // was parsed of it; the program itself is about 25 MB.
    eprintln!("peak resident memory within the budget: {peak_mb} MB");
    assert!(peak_mb < 256 + 64, "check grew to {peak_mb} MB");

    // The limit on sites, with a budget large enough for the bodies.
    let (code, json, _) =
        tokio::task::block_in_place(|| check_with_peak_rss(&url, "max_poll_mib = 2048\n"));
    assert_eq!(code, Some(3), "{json:#}");
    let error = json["environments"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("250000 sites, more than max_sites = 100000"),
        "{error}"
    );

    // A very large fleet raises both and is read whole.
    let (code, json, _) = tokio::task::block_in_place(|| {
        check_with_peak_rss(&url, "max_poll_mib = 2048\nmax_sites = 1000000\n")
    });
    assert_eq!(code, Some(2), "errors in the fleet, no backend failure");
    assert_eq!(
        json["environments"][0]["sites"].as_array().map(Vec::len),
        Some(250_000)
    );
}

/// Answers as the fake Prometheus does, the failing requirements late: as
/// on raw series at 10,000 sites, where they read every requirement series.
struct SlowFailing(fake_prometheus::FleetAnswers);

impl wiremock::Respond for SlowFailing {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let query = query_of(request);
        let now = site_status::model::Clock::System.unix_seconds();
        let body = self
            .0
            .for_query(&query)
            .replace(fake_prometheus::EVALUATED_AT, &format!("{now:.3}"));
        let answer = ResponseTemplate::new(200).set_body_raw(body, "application/json");
        if query.contains(">= 1") {
            answer.set_delay(Duration::from_millis(1500))
        } else {
            answer
        }
    }
}

#[tokio::test]
async fn a_first_poll_shows_the_sites_before_their_failing_requirements() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(SlowFailing(fake_prometheus::FleetAnswers::new(30)))
        .mount(&server)
        .await;
    let c = config(&server.uri(), "");
    let source = source(&c, &no_secrets());
    let offered: Arc<std::sync::Mutex<Vec<(EnvReport, std::time::Instant)>>> = Arc::default();
    let keep = offered.clone();
    let preview: Preview = Arc::new(move |report| {
        keep.lock()
            .unwrap()
            .push((report, std::time::Instant::now()))
    });
    let asked = std::time::Instant::now();
    let whole = source.fetch_fleet_previewing(preview).await.unwrap();
    let offered = offered.lock().unwrap();
    assert_eq!(offered.len(), 1, "one first answer");
    let (first, at) = &offered[0];
    // Before the failing requirements' answer, 1.5 s late, came.
    assert!(
        *at - asked < Duration::from_millis(1200),
        "{:?}",
        *at - asked
    );
    assert!(first.partial);
    assert_eq!(first.sites.len(), 30);
    assert!(first.sites.iter().all(|s| s.failing.is_empty()));
    let worst = |report: &EnvReport| {
        report
            .sites
            .iter()
            .find(|s| s.name == "site-00002")
            .and_then(|s| s.worst)
    };
    assert_eq!(worst(first), Some(Severity::Error));
    assert!(
        first.warnings[0].starts_with("first answer"),
        "{:?}",
        first.warnings
    );
    assert!(!whole.partial);
    assert_eq!(worst(&whole), Some(Severity::Error));
    let failing = whole.sites.iter().find(|s| s.name == "site-00002").unwrap();
    assert_eq!(failing.failing.len(), 1);
    assert!(whole.warnings.is_empty(), "{:?}", whole.warnings);
}
