//! `site-status report` end to end: the real binary against a local HTTP
//! server serving the responses captured from a real Loki.

use std::path::{Path, PathBuf};
use std::process::Command;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/loki")
            .join(name),
    )
    .unwrap()
}

/// Answers a stream query with the capture of that site's stream.
struct CapturedLoki;

impl Respond for CapturedLoki {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if query.contains("site=\"hostile-raw\"") {
            // A pusher's line that is no report, with an escape sequence,
            // a C1 CSI and a bidi override in it.
            let line = "PHP Fatal error \u{1b}[31mred\u{1b}[0m \u{9b}2J \u{202e}desrever";
            let body = serde_json::json!({"status": "success", "data": {"resultType": "streams",
                "result": [{"stream": {"site": "hostile-raw", "env": "prod"},
                            "values": [["1795466769892973028", line]]}]}});
            return ResponseTemplate::new(200).set_body_json(body);
        }
        let file = [
            ("site=\"borger\"", "query-range-borger-history.json"),
            ("site=\"gammel\"", "query-range-v1-envelope.json"),
            ("site=\"raw\"", "query-range-bare-drush.json"),
            ("site=\"garbage\"", "query-range-not-json.json"),
            ("site=\"hostile\"", "query-range-hostile.json"),
        ]
        .iter()
        .find(|(needle, _)| query.contains(needle))
        .map(|(_, file)| *file)
        .unwrap_or("query-range-empty.json");
        ResponseTemplate::new(200).set_body_raw(fixture(file), "application/json")
    }
}

struct Setup {
    server: MockServer,
    _dir: tempfile::TempDir,
    config: PathBuf,
}

async fn setup() -> Setup {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/loki/api/v1/query_range"))
        .respond_with(CapturedLoki)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let mut text = String::new();
    for env in ["dev", "test", "prod"] {
        text.push_str(&format!(
            "[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\n[environment.prometheus]\nurl = \"http://127.0.0.1:9\"\n[environment.loki]\nurl = \"{}\"\nheaders = {{ \"X-Scope-OrgID\" = \"kk\" }}\n",
            server.uri()
        ));
    }
    std::fs::write(&config, text).unwrap();
    Setup {
        server,
        _dir: dir,
        config,
    }
}

fn report(setup: &Setup, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_site-status"))
        .arg("--config")
        .arg(&setup.config)
        .arg("report")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(setup: &Setup, args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = report(setup, args);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test]
async fn the_history_of_a_site_newest_first() {
    let setup = setup().await;
    let v = json(
        &setup,
        &["prod", "borger", "--last", "6", "--format", "json"],
    );
    assert_eq!(v["site"], "borger");
    assert_eq!(v["env"], "prod");
    let reports = v["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 6);
    let times: Vec<&str> = reports
        .iter()
        .map(|r| r["time"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert_eq!(times[0], "2026-11-23T20:46:09.892973028Z");
    assert!(
        reports
            .iter()
            .all(|r| r["format"] == "contract" && r["raw"].is_null())
    );
    // healthy, healthy, broken, broken, half fixed, healthy (oldest first)
    let worst: Vec<&str> = reports
        .iter()
        .rev()
        .map(|r| r["worst"].as_str().unwrap())
        .collect();
    assert_eq!(
        worst,
        ["warning", "warning", "error", "error", "error", "warning"]
    );
    let broken = &reports[3];
    let cron = broken["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "cron")
        .unwrap();
    assert_eq!(cron["severity"], "error");
    assert_eq!(cron["sid"], 2);
    assert_eq!(cron["title"], "Cron maintenance tasks");
    assert!(
        cron["value"]
            .as_str()
            .unwrap()
            .starts_with("Last run 3 weeks")
    );

    let request = &setup.server.received_requests().await.unwrap()[0];
    let param = |name: &str| {
        request
            .url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    assert_eq!(
        param("query"),
        "{job=\"site-status\", site=\"borger\", env=\"prod\"}"
    );
    assert_eq!(param("limit"), "6");
    assert_eq!(param("direction"), "backward");
    assert_eq!(request.headers.get("x-scope-orgid").unwrap(), "kk");
}

#[tokio::test]
async fn the_default_is_the_latest_report_as_text() {
    let setup = setup().await;
    let (code, stdout, _) = report(&setup, &["prod", "borger"]);
    assert_eq!(code, 0);
    assert_eq!(stdout.matches("prod borger  2026-").count(), 1, "{stdout}");
    assert!(stdout.contains("format contract"), "{stdout}");
    assert!(stdout.contains("update_contrib"), "{stdout}");
}

#[tokio::test]
async fn every_older_shape_is_read() {
    let setup = setup().await;
    let v = json(
        &setup,
        &["test", "gammel", "--last", "5", "--format", "json"],
    );
    let formats: Vec<&str> = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["format"].as_str().unwrap())
        .collect();
    assert!(formats.iter().all(|f| *f == "v1"), "{formats:?}");

    let v = json(&setup, &["dev", "raw", "--last", "5", "--format", "json"]);
    let reports = v["reports"].as_array().unwrap();
    assert!(reports.iter().all(|r| r["format"] == "drush"));
    let empty = reports
        .iter()
        .find(|r| r["requirements"].as_array().unwrap().is_empty())
        .unwrap();
    assert_eq!(empty["worst"], serde_json::Value::Null, "`[]` has no worst");
    assert!(
        reports
            .iter()
            .any(|r| r["requirements"].as_array().unwrap().len() > 5)
    );
}

#[tokio::test]
async fn a_line_that_is_no_report_is_carried_raw_and_shown_inert() {
    let setup = setup().await;
    let v = json(
        &setup,
        &["dev", "garbage", "--last", "5", "--format", "json"],
    );
    let reports = v["reports"].as_array().unwrap();
    assert!(
        reports
            .iter()
            .all(|r| r["format"] == "unparsed" && r["worst"].is_null())
    );
    assert!(
        reports
            .iter()
            .any(|r| r["raw"].as_str().unwrap().starts_with("PHP Fatal error"))
    );
    let (_, text, _) = report(&setup, &["dev", "garbage", "--last", "5"]);
    assert!(text.contains("| PHP Fatal error"), "{text}");
}

#[tokio::test]
async fn hostile_text_never_reaches_the_terminal() {
    let setup = setup().await;
    for format in ["text", "json"] {
        let (code, stdout, _) = report(
            &setup,
            &["prod", "hostile", "--last", "3", "--format", format],
        );
        assert_eq!(code, 0);
        for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
            assert!(!stdout.contains(bad), "{format} output carries {bad:?}");
        }
        assert!(
            stdout.contains("clipboard"),
            "the text itself is kept: {stdout}"
        );
    }
}

#[tokio::test]
async fn an_unknown_environment_or_no_loki_is_a_clear_error() {
    let setup = setup().await;
    let (code, _, stderr) = report(&setup, &["staging", "borger"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no environment \"staging\"") && stderr.contains("dev, test, prod"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[[environment]]\nname = \"prod\"\n[environment.prometheus]\nurl = \"http://127.0.0.1:9\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_site-status"))
        .arg("--config")
        .arg(&config)
        .args(["report", "prod", "borger"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Loki configured for prod"));
}

/// Every text field of the JSON holds what the screen shows (sanitized);
/// a requirement's `id` is its key exactly as the site sent it. Nothing
/// of either reaches a terminal as a control character.
#[tokio::test]
async fn json_text_fields_are_sanitized_alike_and_ids_are_exact() {
    let setup = setup().await;
    let has_control = |text: &str| {
        text.chars()
            .any(|c| c.is_control() && c != '\n' || ('\u{202a}'..='\u{202e}').contains(&c))
    };
    let v = json(&setup, &["prod", "hostile-raw", "--format", "json"]);
    let raw = v["reports"][0]["raw"].as_str().unwrap();
    assert!(raw.starts_with("PHP Fatal error"), "{raw:?}");
    assert!(!has_control(raw), "raw carries control characters: {raw:?}");
    assert!(raw.contains("red") && raw.contains("desrever"), "{raw:?}");

    let v = json(
        &setup,
        &["prod", "hostile", "--last", "3", "--format", "json"],
    );
    for report in v["reports"].as_array().unwrap() {
        for r in report["requirements"].as_array().unwrap() {
            for field in ["title", "value", "description"] {
                let text = r[field].as_str().unwrap();
                assert!(
                    !has_control(text),
                    "{field} carries control characters: {text:?}"
                );
            }
        }
    }
    let (_, stdout, _) = report(&setup, &["prod", "hostile-raw", "--format", "json"]);
    for bad in ['\u{1b}', '\u{9b}', '\u{202e}'] {
        assert!(!stdout.contains(bad), "the JSON text carries {bad:?}");
    }
}
