//! The two programs end to end: the status agent, running a fake drush
//! that prints a real drush report, is scraped by a real Prometheus, and
//! `site-status check` on that Prometheus shows the site as the report
//! says; `promtool check metrics` passes on the agent's `/metrics`.

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::TestPrometheus;

/// The agent binary, built if this test runs before the agent's own
/// tests did (`cargo test -p site-status` alone).
fn agent_binary() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "-q",
            "-p",
            "site-status-agent",
            "--bin",
            "site-status-agent",
        ])
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build -p site-status-agent failed");
    Path::new(env!("CARGO_BIN_EXE_site-status")).with_file_name("site-status-agent")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Kills the agent when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_agent(port: u16, fixture: &str, spool: &Path) -> Running {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let child = Command::new(agent_binary())
        .args([
            "--site",
            "borger",
            "--env",
            "prod",
            "--profile",
            "kk_borger",
        ])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--splay", "0", "--interval", "5s"])
        .arg("--spool")
        .arg(spool)
        .arg("--")
        .arg("sh")
        .arg(root.join("agent/tests/fake-drush"))
        .arg("fixture")
        .arg(root.join("tests/fixtures/drush").join(fixture))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the agent");
    Running(child)
}

fn get(port: u16, path: &str) -> Option<String> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_scraped_by_prometheus_is_what_check_reports() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _agent = start_agent(port, "drush13-broken-full.json", &dir.path().join("spool"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(port, "/readyz").is_none() {
        assert!(Instant::now() < deadline, "the agent never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // promtool lints what the agent serves.
    let metrics = get(port, "/metrics").unwrap();
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package) on PATH");
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), metrics.as_bytes()).unwrap();
    let linted = promtool.wait_with_output().unwrap();
    assert!(
        linted.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&linted.stdout),
        String::from_utf8_lossy(&linted.stderr)
    );

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
