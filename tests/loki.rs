//! The Loki client against a local mock server (wiremock) serving the real
//! responses captured from Loki 2.8 in `tests/fixtures/loki/`: request
//! parameters and headers, merging and ordering, structured metadata,
//! Loki's plain-text errors and the retry after a refused limit, path
//! prefixes, timeouts. Nothing here sanitizes lines: that is the report
//! parser's job; error messages must be sanitized already.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use site_status::config::{Config, Selector};
use site_status::source::http::SecretLookup;
use site_status::source::loki::{Direction, LokiAnswer, LokiApi, LokiReports, stream_selector};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const START: i64 = 1_795_437_969_000_000_000;
const END: i64 = 1_795_466_800_000_000_000;

/// Secrets from a map, not the process environment.
type Secrets = HashMap<String, String>;

fn no_secrets() -> Secrets {
    HashMap::new()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/loki/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A captured plain-text error: the body as Loki sends it, and the status
/// the fixture names on its last line.
fn error_fixture(name: &str) -> ResponseTemplate {
    let text = String::from_utf8(fixture(name)).unwrap();
    let (body, status) = text.trim_end().rsplit_once('\n').unwrap();
    let status: u16 = status.strip_prefix("HTTP ").unwrap().parse().unwrap();
    ResponseTemplate::new(status).set_body_raw(format!("{body}\n"), "text/plain; charset=utf-8")
}

fn json(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "application/json; charset=UTF-8")
}

fn api(url: &str, extra: &str, secrets: &Secrets) -> LokiApi {
    let text = format!(
        "[[environment]]\nname = \"prod\"\n[environment.prometheus]\nurl = \"http://127.0.0.1:9\"\n[environment.loki]\nurl = \"{url}\"\ntimeout = 2\n{extra}"
    );
    let config = Config::parse(&text, Path::new("test.toml")).unwrap();
    let loki = config.environments[0].loki.as_ref().unwrap();
    LokiApi::new(loki, "prod loki", secrets).unwrap()
}

/// A server answering every request with `response`.
async fn serving(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn borger() -> String {
    stream_selector(
        &[("job", "site-status"), ("site", "borger"), ("env", "prod")],
        &[],
    )
}

async fn query(
    server: &MockServer,
    limit: usize,
    direction: Direction,
) -> Result<LokiAnswer, site_status::source::SourceError> {
    api(&server.uri(), "", &no_secrets())
        .query_range(&borger(), START, END, limit, direction)
        .await
}

fn param(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn history_is_newest_first_with_every_parameter_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/loki/api/v1/query_range"))
        .respond_with(json("query-range-borger-history.json"))
        .mount(&server)
        .await;
    let answer = query(&server, 10, Direction::Backward).await.unwrap();
    assert_eq!(answer.entries.len(), 6);
    assert!(answer.notices.is_empty(), "{:?}", answer.notices);
    assert!(
        answer
            .entries
            .windows(2)
            .all(|w| w[0].time_ns > w[1].time_ns)
    );
    assert_eq!(answer.entries[0].time_ns, 1_795_466_769_892_973_028);
    assert_eq!(answer.entries[5].time_ns, 1_795_448_769_892_973_028);
    for e in &answer.entries {
        assert_eq!(e.stream["site"], "borger");
        assert_eq!(e.stream["profile"], "kk_borger");
        assert!(e.line.contains("\"generated_at\""));
        assert!(e.metadata.is_empty());
    }

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        param(r, "query").as_deref(),
        Some(r#"{job="site-status", site="borger", env="prod"}"#)
    );
    assert_eq!(param(r, "start"), Some(START.to_string()));
    assert_eq!(param(r, "end"), Some(END.to_string()));
    assert_eq!(param(r, "limit").as_deref(), Some("10"));
    assert_eq!(param(r, "direction").as_deref(), Some("backward"));
    assert_eq!(
        r.headers.get("x-loki-response-encoding-flags").unwrap(),
        "categorize-labels"
    );
}

#[tokio::test]
async fn latest_is_one_entry_and_forward_is_oldest_first() {
    let server = serving(json("query-range-borger-latest.json")).await;
    let answer = query(&server, 1, Direction::Backward).await.unwrap();
    assert_eq!(answer.entries.len(), 1);
    assert_eq!(answer.entries[0].time_ns, 1_795_466_769_892_973_028);
    let r = &server.received_requests().await.unwrap()[0];
    assert_eq!(param(r, "limit").as_deref(), Some("1"));

    let server = serving(json("query-range-borger-history.json")).await;
    let answer = query(&server, 10, Direction::Forward).await.unwrap();
    assert!(
        answer
            .entries
            .windows(2)
            .all(|w| w[0].time_ns < w[1].time_ns)
    );
    let r = &server.received_requests().await.unwrap()[0];
    assert_eq!(param(r, "direction").as_deref(), Some("forward"));
}

#[tokio::test]
async fn several_streams_are_merged_and_ordered() {
    let server = serving(json("query-range-env-prod.json")).await;
    let answer = api(&server.uri(), "", &no_secrets())
        .query_range(
            &stream_selector(
                &[("job", "site-status")],
                &Selector::parse("env=\"prod\"").unwrap().matchers,
            ),
            START,
            END,
            100,
            Direction::Backward,
        )
        .await
        .unwrap();
    let sites: Vec<&str> = answer
        .entries
        .iter()
        .map(|e| e.stream["site"].as_str())
        .collect();
    // The two newest reports were pushed in the same nanosecond: ties go by
    // stream labels, so the order never flickers between refreshes.
    assert_eq!(
        sites,
        vec![
            "borger", "hostile", "borger", "borger", "borger", "borger", "borger"
        ]
    );
    assert!(
        answer
            .entries
            .windows(2)
            .all(|w| w[0].time_ns >= w[1].time_ns)
    );
    let r = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        param(r, "query").as_deref(),
        Some(r#"{job="site-status", env="prod"}"#)
    );
}

#[tokio::test]
async fn an_empty_result_is_no_entries_and_no_notices() {
    let server = serving(json("query-range-empty.json")).await;
    let answer = query(&server, 10, Direction::Backward).await.unwrap();
    assert_eq!(answer, LokiAnswer::default());
}

#[tokio::test]
async fn structured_metadata_comes_from_three_tuples() {
    let server = serving(json("query-range-3tuple-structured-metadata.json")).await;
    let answer = query(&server, 10, Direction::Backward).await.unwrap();
    assert_eq!(answer.entries.len(), 1);
    let e = &answer.entries[0];
    assert_eq!(
        e.metadata.get("worst_severity").map(String::as_str),
        Some("1")
    );
    assert_eq!(e.metadata.len(), 1);
    assert_eq!(e.stream.len(), 4, "metadata stays out of the stream labels");
    assert!(e.line.starts_with("{\"site\": \"borger\""));
}

#[tokio::test]
async fn lines_that_are_not_json_come_through_as_lines() {
    let server = serving(json("query-range-not-json.json")).await;
    let answer = query(&server, 10, Direction::Backward).await.unwrap();
    assert_eq!(answer.entries.len(), 2);
    assert_eq!(
        answer.entries[1].line,
        "PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted"
    );
    // Cut off after 300 bytes: still just a line to the client.
    assert!(answer.entries[0].line.starts_with("{\"site\": \"garbage\""));
    assert!(answer.entries[0].line.ends_with("\"value\""));

    let stream = |site: &str, env: &str, profile: &str| {
        HashMap::from([
            ("env", env.to_string()),
            ("job", "site-status".to_string()),
            ("profile", profile.to_string()),
            ("site", site.to_string()),
        ])
    };
    // Each capture: its stream's labels, then each entry's time and how its
    // line begins, newest first.
    type Capture<'a> = (&'a str, HashMap<&'a str, String>, &'a [(i64, &'a str)]);
    let captures: [Capture; 2] = [
        (
            "query-range-v1-envelope.json",
            stream("gammel", "test", "kk_base"),
            &[
                (
                    1_795_466_769_892_973_028,
                    "{\"full\": {\"configuration_files\": ",
                ),
                (
                    1_795_463_169_892_973_028,
                    "{\"full\": {\"config sync directory\": ",
                ),
            ],
        ),
        (
            "query-range-bare-drush.json",
            stream("raw", "dev", "kk_school"),
            &[
                (1_795_466_769_892_973_028, "[]"),
                (
                    1_795_463_169_892_973_028,
                    "{\n    \"configuration_files\": {",
                ),
                (1_795_459_569_892_973_028, "[\n    {\n        \"title\": "),
            ],
        ),
    ];
    for (name, labels, expected) in captures {
        let server = serving(json(name)).await;
        let answer = query(&server, 10, Direction::Backward).await.unwrap();
        assert!(answer.notices.is_empty(), "{name}: {:?}", answer.notices);
        assert_eq!(answer.entries.len(), expected.len(), "{name}");
        for (entry, (time_ns, start)) in answer.entries.iter().zip(expected) {
            assert_eq!(entry.time_ns, *time_ns, "{name}");
            assert!(entry.line.starts_with(start), "{name}: {:?}", entry.line);
            let stream: HashMap<&str, String> = entry
                .stream
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            assert_eq!(stream, labels, "{name}");
            assert!(entry.metadata.is_empty(), "{name}");
        }
    }
    // The last line of the bare drush capture is the whole list, closed.
    let server = serving(json("query-range-bare-drush.json")).await;
    let answer = query(&server, 10, Direction::Backward).await.unwrap();
    assert!(answer.entries[2].line.trim_end().ends_with(']'));
}

#[tokio::test]
async fn hostile_lines_come_through_unchanged() {
    let raw: serde_json::Value =
        serde_json::from_slice(&fixture("query-range-hostile.json")).unwrap();
    let sent = raw["data"]["result"][0]["values"][0][1].as_str().unwrap();
    let server = serving(json("query-range-hostile.json")).await;
    let answer = query(&server, 10, Direction::Backward).await.unwrap();
    assert_eq!(answer.entries[0].line, sent);
    assert!(answer.entries[0].line.contains("\\u001b]52;c;"));

    // Raw escapes in labels and lines, too: the parser sanitizes them.
    let body = "{\"status\":\"success\",\"data\":{\"resultType\":\"streams\",\"result\":[{\"stream\":{\"site\":\"ev\\u001b[2Jil\"},\"values\":[[\"1\",\"\\u001b]52;c;eA==\\u0007\"]]}]}}";
    let server = serving(ResponseTemplate::new(200).set_body_string(body)).await;
    let answer = query(&server, 10, Direction::Backward).await.unwrap();
    assert_eq!(answer.entries[0].stream["site"], "ev\u{1b}[2Jil");
    assert_eq!(answer.entries[0].line, "\u{1b}]52;c;eA==\u{7}");
}

#[tokio::test]
async fn error_messages_are_sanitized() {
    let server = serving(ResponseTemplate::new(400).set_body_raw(
        &b"parse error \x1b[2J\x1b]52;c;eA==\x07 \xe2\x80\xae at \xff"[..],
        "text/plain",
    ))
    .await;
    let e = query(&server, 10, Direction::Backward).await.unwrap_err();
    assert!(e.message.contains("HTTP 400: parse error"), "{}", e.message);
    assert!(
        !e.message.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{:?}",
        e.message
    );

    let body = "{\"status\":\"success\",\"warnings\":[\"\\u001b[31mwarn\"],\"data\":{\"resultType\":\"streams\",\"result\":[{\"stream\":{},\"values\":[[\"1\\u001b[2J\",\"x\"],[\"2\",\"y\"]]}]}}";
    let server = serving(ResponseTemplate::new(200).set_body_string(body)).await;
    let answer = query(&server, 10, Direction::Backward).await.unwrap();
    assert_eq!(answer.entries.len(), 1);
    assert_eq!(answer.notices.len(), 2, "{:?}", answer.notices);
    for n in &answer.notices {
        assert!(!n.chars().any(char::is_control), "{n:?}");
    }
}

#[tokio::test]
async fn a_parse_error_is_shown_as_loki_wrote_it() {
    let server = serving(error_fixture("error-parse.txt")).await;
    let e = api(&server.uri(), "", &no_secrets())
        .query_range("{job=\"site-status\"", START, END, 10, Direction::Backward)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "{}: HTTP 400: parse error at line 1, col 19: syntax error: unexpected $end, expecting }} or ,",
            server.uri()
        )
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "no retry"
    );
}

/// Refuses any limit above 5000 the way Loki does; answers the rest.
struct MaxEntries;

impl Respond for MaxEntries {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let limit: usize = param(request, "limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        if limit > 5000 {
            error_fixture("error-max-entries.txt")
        } else {
            json("query-range-borger-history.json")
        }
    }
}

#[tokio::test]
async fn a_refused_limit_is_lowered_once_and_said() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(MaxEntries)
        .mount(&server)
        .await;
    let answer = query(&server, 10_000, Direction::Backward).await.unwrap();
    assert_eq!(answer.entries.len(), 6);
    assert_eq!(
        answer.notices,
        vec![
            "Loki allows at most 5000 entries per query (max_entries_limit_per_query): asked for 5000 instead of 10000"
        ]
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(param(&requests[0], "limit").as_deref(), Some("10000"));
    assert_eq!(param(&requests[1], "limit").as_deref(), Some("5000"));
    for r in &requests {
        assert_eq!(param(r, "query"), Some(borger()));
        assert_eq!(param(r, "direction").as_deref(), Some("backward"));
    }
}

#[tokio::test]
async fn a_refusal_that_cannot_be_read_halves_the_limit_and_a_second_one_fails() {
    // The maximum cannot be read: half the limit.
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(|r: &Request| {
            if param(r, "limit").as_deref() == Some("800") {
                ResponseTemplate::new(400).set_body_string(
                    "max entries limit per query exceeded, limit > max_entries_limit",
                )
            } else {
                json("query-range-borger-latest.json")
            }
        })
        .mount(&server)
        .await;
    let answer = query(&server, 800, Direction::Backward).await.unwrap();
    assert_eq!(answer.entries.len(), 1);
    assert_eq!(
        answer.notices,
        vec!["Loki refused a limit of 800 entries per query: asked for 400 instead"]
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(param(&requests[1], "limit").as_deref(), Some("400"));

    // Refused again: only one retry, then the error.
    let server = serving(error_fixture("error-max-entries.txt")).await;
    let e = query(&server, 10_000, Direction::Backward)
        .await
        .unwrap_err();
    assert!(
        e.message.ends_with(
            "HTTP 400: max entries limit per query exceeded, limit > max_entries_limit (10000 > 5000)"
        ),
        "{}",
        e.message
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(param(&requests[1], "limit").as_deref(), Some("5000"));
}

#[tokio::test]
async fn a_metric_answer_to_a_log_query_is_a_clear_error() {
    let server = serving(json("query-range-metric-matrix.json")).await;
    let e = query(&server, 10, Direction::Backward).await.unwrap_err();
    assert!(e.message.contains("\"matrix\""), "{}", e.message);
    assert!(
        e.message.contains("log lines were expected"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn labels_and_label_values_are_listed() {
    let server = MockServer::start().await;
    Mock::given(path("/loki/api/v1/labels"))
        .respond_with(json("labels.json"))
        .mount(&server)
        .await;
    Mock::given(path("/loki/api/v1/label/site/values"))
        .respond_with(json("label-site-values.json"))
        .mount(&server)
        .await;
    let loki = api(&server.uri(), "", &no_secrets());
    assert_eq!(
        loki.labels(START, END).await.unwrap(),
        vec!["env", "job", "profile", "site"]
    );
    assert_eq!(
        loki.label_values("site", START, END).await.unwrap(),
        vec!["borger", "gammel", "garbage", "hostile", "raw"]
    );
    for r in server.received_requests().await.unwrap() {
        assert_eq!(param(&r, "start"), Some(START.to_string()));
        assert_eq!(param(&r, "end"), Some(END.to_string()));
    }

    // A label name cannot walk out of its path segment.
    let server = serving(json("label-site-values.json")).await;
    let loki = api(&server.uri(), "", &no_secrets());
    loki.label_values("a/../b", START, END).await.unwrap();
    let r = &server.received_requests().await.unwrap()[0];
    assert_eq!(r.url.path(), "/loki/api/v1/label/a%2F..%2Fb/values");
    assert!(loki.label_values("..", START, END).await.is_err());
}

#[tokio::test]
async fn tenant_and_bearer_headers_are_sent_and_never_shown() {
    let server = serving(ResponseTemplate::new(401).set_body_string("no org id")).await;
    let secrets = HashMap::from([("LOKI_TOKEN".to_string(), "s3cr3t-token".to_string())]);
    let loki = api(
        &server.uri(),
        "bearer_token_env = \"LOKI_TOKEN\"\nheaders = { \"X-Scope-OrgID\" = \"kk-prod\" }\n",
        &secrets,
    );
    let e = loki
        .query_range(&borger(), START, END, 10, Direction::Backward)
        .await
        .unwrap_err();
    assert!(e.message.ends_with("HTTP 401: no org id"), "{}", e.message);
    assert!(!e.message.contains("s3cr3t"));
    let e = loki.labels(START, END).await.unwrap_err();
    assert!(e.message.ends_with("HTTP 401: no org id"), "{}", e.message);
    for r in server.received_requests().await.unwrap() {
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            "Bearer s3cr3t-token"
        );
        assert_eq!(r.headers.get("x-scope-orgid").unwrap(), "kk-prod");
    }
}

#[tokio::test]
async fn a_path_prefix_is_kept() {
    let server = serving(json("query-range-borger-latest.json")).await;
    let loki = api(&format!("{}/loki-gateway", server.uri()), "", &no_secrets());
    loki.query_range(&borger(), START, END, 1, Direction::Backward)
        .await
        .unwrap();
    loki.labels(START, END).await.unwrap_err();
    loki.label_values("site", START, END).await.unwrap_err();
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(
        paths,
        vec![
            "/loki-gateway/loki/api/v1/query_range",
            "/loki-gateway/loki/api/v1/labels",
            "/loki-gateway/loki/api/v1/label/site/values",
        ]
    );
}

#[tokio::test]
async fn a_silent_loki_times_out() {
    let server =
        serving(json("query-range-borger-latest.json").set_delay(Duration::from_secs(30))).await;
    let started = std::time::Instant::now();
    let e = query(&server, 1, Direction::Backward).await.unwrap_err();
    assert_eq!(
        e.message,
        format!("{}: no answer within 2s", server.uri()),
        "named once"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_proxy_page_is_a_readable_error() {
    let server = serving(ResponseTemplate::new(502).set_body_raw(
        "<html><body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>",
        "text/html",
    ))
    .await;
    let e = query(&server, 1, Direction::Backward).await.unwrap_err();
    assert!(
        e.message.ends_with("HTTP 502: 502 Bad Gateway nginx"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn more_entries_than_asked_for_are_cut_to_the_limit() {
    let server = serving(json("query-range-borger-history.json")).await;
    let answer = query(&server, 3, Direction::Backward).await.unwrap();
    assert_eq!(answer.entries.len(), 3);
    assert_eq!(answer.entries[0].time_ns, 1_795_466_769_892_973_028);
    assert_eq!(
        answer.notices,
        vec!["Loki sent 6 entries for a limit of 3; the oldest were dropped"]
    );
}

/// What `LokiReports` asks for is the site's stream with the environment's
/// selector as configured: every operator, quotes of any kind, escapes.
#[tokio::test]
async fn the_reports_query_carries_the_configured_selector() {
    let server = serving(json("query-range-borger-latest.json")).await;
    const SELECTOR: &str = r#"env="pr\"od", cluster=~'a|b\'s', team!=`x\y`, tier!~"t\\.*","#;
    let text = format!(
        "[[environment]]\nname = \"prod\"\nselector = '''{SELECTOR}'''\n[environment.prometheus]\nurl = \"http://127.0.0.1:9\"\n[environment.loki]\nurl = \"{}\"\ntimeout = 2\n",
        server.uri()
    );
    let config = Config::parse(&text, Path::new("test.toml")).unwrap();
    let secrets: &dyn SecretLookup = &no_secrets();
    let reports = LokiReports::new(&config, &config.environments[0], secrets)
        .unwrap()
        .unwrap();
    let got = reports.recent("bor\"ger", 1).await.unwrap();
    assert_eq!(got.reports.len(), 1);
    let r = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        param(r, "query").as_deref(),
        Some(
            r#"{job="site-status", site="bor\"ger", env="pr\"od", cluster=~"a|b's", team!="x\\y", tier!~"t\\.*"}"#
        )
    );
}
