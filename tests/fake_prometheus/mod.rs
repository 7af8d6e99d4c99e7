//! A stand-in for Prometheus that answers the dashboard's five grid queries
//! for a fleet of any size, the way Prometheus would (one sample per site,
//! or per failing requirement). Responses are rendered once, so serving
//! them costs next to nothing: what a test or benchmark measures is the
//! client. Shared by `tests/prometheus_source.rs` and `benches/poll.rs`.

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

fn sample(i: usize, extra: &str, value: &str) -> String {
    format!(
        r#"{{"metric":{{"site":"site-{i:05}","profile":"kk_{}"{extra}}},"value":[1795469437.5,"{value}"]}}"#,
        i % 10
    )
}

/// The five answers for a fleet of `sites` sites: a third each at ok,
/// warning and error (one failing requirement), every run successful and
/// 42.5 s old.
pub struct FleetAnswers {
    pub worst: String,
    pub failing: String,
    pub success: String,
    pub age: String,
    pub empty: String,
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
        }
    }

    pub fn for_query(&self, query: &str) -> &str {
        if query.starts_with("max by (site, profile) (drupal_requirement_severity") {
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
        let body = self.0.answers.for_query(&query_of(request)).to_string();
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
