//! A stand-in for Prometheus that answers the dashboard's grid queries and
//! its alerts queries (the firing alerts counted per site; the alerts with
//! since when, `ALERTS` joined with `ALERTS_FOR_STATE`) for a fleet of any
//! size, the way Prometheus would (one sample per site, or per failing
//! requirement, or per alert).
//! Responses are rendered once, so serving them costs next to nothing: what
//! a test or benchmark measures is the client. Shared by `tests/prometheus_source.rs` and `benches/poll.rs`.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The `query` parameter of a GET or a form POST.
pub fn query_of(request: &Request) -> String {
    if request.method.as_str() == "POST" {
        url::form_urlencoded::parse(&request.body)
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    } else {
        request
            .url
            .query_pairs()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }
}

fn vector(samples: impl Iterator<Item = String>) -> String {
    format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
        samples.collect::<Vec<_>>().join(",")
    )
}

/// Stands for the instant of evaluation in a stored answer; each request
/// gets its own, as from Prometheus (ages are read against it).
pub const EVALUATED_AT: &str = "\"evaluated-at\"";

fn sample(i: usize, extra: &str, value: &str) -> String {
    format!(
        r#"{{"metric":{{"site":"site-{i:05}","profile":"kk_{}"{extra}}},"value":[{EVALUATED_AT},"{value}"]}}"#,
        i % 10
    )
}

/// The five answers for a fleet of `sites` sites: a third each at ok,
/// warning and error (one failing requirement), every run successful and
/// 42.5 s old; and the alerts: every error site (`i % 3 == 2`) with `i %
/// 5 == 0` has a firing `DrupalCronStale` in `env="prod"`, plus alerts
/// the prod environment must not show (another environment's, a pending
/// one, one without a site).
pub struct FleetAnswers {
    pub worst: String,
    pub failing: String,
    pub success: String,
    pub age: String,
    pub empty: String,
    /// The grid's read: firing alerts counted by site and environment.
    pub firing: String,
    /// A site's or the alerts view's read: each alert's labels and state,
    /// since when as its value.
    pub alerts_since: String,
}

/// How many of `sites` sites `FleetAnswers::alerts` has a prod alert for.
pub fn prod_alert_count(sites: usize) -> usize {
    (0..sites).filter(|i| i % 3 == 2 && i % 5 == 0).count()
}

/// When every alert of the fake became active: 2026-11-23T21:00:00.5Z.
pub const ALERTS_ACTIVE_AT: f64 = 1_795_467_600.5;

/// The alerts as `(labels, state)`: a prod `DrupalCronStale` for every
/// error site (`i % 3 == 2`) with `i % 5 == 0`, plus what prod must not
/// show (another environment's, a pending one) and one without a site.
fn alerts(sites: usize) -> Vec<(String, &'static str)> {
    let site = |i: usize, env: &str| {
        format!(
            r#""alertname":"DrupalCronStale","site":"site-{i:05}","env":"{env}","severity":"warning""#
        )
    };
    let mut all: Vec<(String, &str)> = (0..sites)
        .filter(|i| i % 3 == 2 && i % 5 == 0)
        .map(|i| (site(i, "prod"), "firing"))
        .collect();
    all.push((site(1, "dev"), "firing"));
    all.push((site(1, "prod"), "pending"));
    all.push((r#""alertname":"Watchdog""#.to_string(), "firing"));
    all
}

/// `count by (site, env) (ALERTS{site!="", alertstate="firing"})`.
fn firing(sites: usize) -> String {
    vector(
        alerts(sites)
            .into_iter()
            .filter(|(labels, state)| *state == "firing" && labels.contains("\"site\""))
            .map(|(labels, _)| {
                let keep: Vec<&str> = labels
                    .split(',')
                    .filter(|l| l.starts_with("\"site\"") || l.starts_with("\"env\""))
                    .collect();
                format!(
                    r#"{{"metric":{{{}}},"value":[{EVALUATED_AT},"1"]}}"#,
                    keep.join(",")
                )
            }),
    )
}

/// The alerts that name a site, with their state and since when.
fn alerts_since(sites: usize) -> String {
    vector(
        alerts(sites)
            .into_iter()
            .filter(|(labels, _)| labels.contains("\"site\""))
            .map(|(labels, state)| {
                format!(
                    r#"{{"metric":{{"alertstate":"{state}",{labels}}},"value":[{EVALUATED_AT},"{ALERTS_ACTIVE_AT}"]}}"#
                )
            }),
    )
}

impl FleetAnswers {
    pub fn new(sites: usize) -> FleetAnswers {
        FleetAnswers {
            worst: vector((0..sites).map(|i| sample(i, "", &(i % 3).to_string()))),
            failing: vector(
                (0..sites)
                    .filter(|i| i % 3 > 0)
                    .map(|i| sample(i, r#","requirement":"update""#, &(i % 3).to_string())),
            ),
            success: vector((0..sites).map(|i| sample(i, "", "1"))),
            age: vector((0..sites).map(|i| sample(i, "", "42.5"))),
            empty: vector(std::iter::empty()),
            firing: firing(sites),
            alerts_since: alerts_since(sites),
        }
    }

    pub fn for_query(&self, query: &str) -> &str {
        if query.contains("ALERTS_FOR_STATE") {
            &self.alerts_since
        } else if query.contains("alertstate=\"firing\"") {
            &self.firing
        } else if query.starts_with("max by (site, profile) (drupal_requirement_severity") {
            &self.worst
        } else if query.contains(">= 1") {
            &self.failing
        } else if query.contains("drupal_status_report_success") {
            &self.success
        } else if query.contains("time() -") {
            &self.age
        } else {
            &self.empty
        }
    }
}

pub struct FleetPrometheus {
    pub answers: FleetAnswers,
    pub calls: AtomicUsize,
}

struct Shared(Arc<FleetPrometheus>);

impl Respond for Shared {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        let body = {
            let at = request
                .url
                .query_pairs()
                .find(|(k, _)| k == "time")
                .and_then(|(_, v)| v.parse::<f64>().ok())
                .unwrap_or_else(|| site_status::model::Clock::System.unix_seconds());
            self.0
                .answers
                .for_query(&query_of(request))
                .replace(EVALUATED_AT, &format!("{at:.3}"))
        };
        ResponseTemplate::new(200).set_body_raw(body, "application/json")
    }
}

/// A mock server answering for a fleet of `sites` sites.
pub async fn fleet_server(sites: usize) -> (MockServer, Arc<FleetPrometheus>) {
    let server = MockServer::start().await;
    let responder = Arc::new(FleetPrometheus {
        answers: FleetAnswers::new(sites),
        calls: AtomicUsize::new(0),
    });
    Mock::given(any())
        .respond_with(Shared(responder.clone()))
        .mount(&server)
        .await;
    (server, responder)
}
