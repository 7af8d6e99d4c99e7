//! The runner, the metrics and `POST /run` against a REAL Drupal 10.3.7
//! site with drush 13.3.0 (/work/shared/drupal, or SITE_STATUS_DRUPAL_DIR):
//! each test unpacks its own copy into a temporary directory and breaks it
//! the ways a site really breaks. Without the site the tests skip loudly,
//! and fail when CI=true.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use site_status_agent::config::{DEFAULT_COMMAND, derive_status_command};
use site_status_agent::http;
use site_status_agent::metrics::{Metrics, Target};
use site_status_agent::outcome::Outcome;
use site_status_agent::runner::{RunSpec, Runner};
use site_status_agent::shared::Agent;
use site_status_contract::failure::{FailureClass, RunFailure};
use site_status_contract::names;

struct Site {
    /// Holds the copy; removed when the test ends.
    _dir: tempfile::TempDir,
    root: PathBuf,
    drush: PathBuf,
}

impl Site {
    fn spec(&self, timeout: Duration) -> RunSpec {
        let mut command: Vec<String> = DEFAULT_COMMAND.iter().map(|a| a.to_string()).collect();
        command[0] = self.drush.display().to_string();
        RunSpec {
            status_command: derive_status_command(&command),
            command,
            timeout,
            site: "borger".into(),
            env: "prod".into(),
            // Not given: drush status's install profile is the label.
            profile: String::new(),
        }
    }

    fn drush(&self, args: &[&str]) {
        let out = Command::new(&self.drush).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "drush {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// A private copy of the real site, or `None` (skip) when there is none.
fn site() -> Option<Site> {
    let shared = std::env::var_os("SITE_STATUS_DRUPAL_DIR")
        .map(PathBuf::from)
        // `shared/` sits beside the repository, wherever it is cloned.
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/drupal")
        });
    let setup = shared.join("setup.sh");
    if !setup.is_file() {
        let message = format!(
            "\n\n!!!!! REAL DRUPAL TESTS NOT RUN: {} is missing (set SITE_STATUS_DRUPAL_DIR) !!!!!\n\n",
            setup.display()
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("{message}");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    let out = Command::new(&setup).arg(&root).output().unwrap();
    assert!(
        out.status.success(),
        "setup.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let drush = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    Some(Site {
        _dir: dir,
        root,
        drush,
    })
}

fn metrics() -> Arc<Metrics> {
    let target = Target {
        site: "borger".into(),
        env: "prod".into(),
        profile: "standard".into(),
    };
    Arc::new(Metrics::new(&target, true, "0.1.0"))
}

/// `promtool check metrics` must pass: every state the agent can be in is
/// scraped by a real Prometheus.
fn assert_promtool_passes(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package) is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}\non\n{text}"
    );
}

const T: &str = "site=\"borger\",env=\"prod\",profile=\"standard\"";

fn failure_series(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{}{{", names::REPORT_FAILURE)))
        .collect()
}

fn sid(o: &Outcome, id: &str) -> Option<i64> {
    o.requirements
        .iter()
        .find(|r| r.label == id)
        .and_then(|r| r.severity)
        .map(|s| s.sid())
}

fn mv(from: &Path, to: &Path) {
    std::fs::rename(from, to).unwrap();
}

#[tokio::test]
async fn a_healthy_site_is_a_success_with_its_real_requirements_and_versions() {
    let Some(site) = site() else { return };
    let runner = Runner::new(site.spec(Duration::from_secs(60)));
    let o = runner.run().await;
    assert!(o.success, "{:?}: {}", o.failure, o.line.stderr_tail);
    assert_eq!(o.run_failure, None);
    assert_eq!(o.line.run_failure, None);
    // Out of the box, offline.
    assert_eq!(sid(&o, "trusted_host_patterns"), Some(2));
    assert_eq!(sid(&o, "system_advisories"), Some(1));
    assert_eq!(sid(&o, "update_core"), Some(1));
    // Versions from the report and from drush status.
    assert_eq!(o.versions.drupal, "10.3.7");
    assert!(o.versions.php.starts_with("8.2."), "{:?}", o.versions);
    assert_eq!(o.versions.drush, "13.3.0.0");
    assert_eq!(o.line.profile, "standard");
    assert_eq!(runner.profile(), "standard");
    // drush's offline noise: kept for the debug log, never in the report.
    assert!(
        o.stderr_tail
            .contains("Failed to retrieve security advisory data"),
        "{:?}",
        o.stderr_tail
    );
    assert_eq!(o.line.stderr_tail, "");

    let m = metrics();
    m.record_run(&o);
    let text = m.encode();
    for line in [
        format!("drupal_requirement_severity{{{T},requirement=\"file system\"}} -1"),
        format!("drupal_requirement_severity{{{T},requirement=\"image.toolkit.gd.version\"}} -1"),
        format!("drupal_requirement_severity{{{T},requirement=\"trusted_host_patterns\"}} 2"),
        format!("drupal_status_report_success{{{T}}} 1"),
    ] {
        assert!(
            text.contains(&format!("{line}\n")),
            "missing {line} in\n{text}"
        );
    }
    assert!(
        text.lines().any(|l| l.starts_with("drupal_info{")
            && l.contains("drupal_version=\"10.3.7\"")
            && l.contains("drush_version=\"13.3.0.0\"")),
        "{text}"
    );
    assert!(failure_series(&text).is_empty(), "{text}");
    assert_promtool_passes(&text);
}

#[tokio::test]
async fn broken_module_code_is_exit_255_with_the_php_fatal_error_then_recovers() {
    let Some(site) = site() else { return };
    site.drush(&["pm:install", "ban", "-y"]);
    let runner = Arc::new(Runner::new(site.spec(Duration::from_secs(60))));
    let m = metrics();
    let first = runner.run().await;
    assert!(first.success, "{:?}", first.failure);
    m.record_run(&first);

    let (module, away) = (site.path("web/core/modules/ban"), site.path("ban-away"));
    mv(&module, &away);
    // Through POST /run, as the dashboard asks for a run.
    let agent = Agent::new(m.clone(), {
        let runner = runner.clone();
        move || {
            let runner = runner.clone();
            async move { runner.run().await }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(http::serve(
        listener,
        agent.clone(),
        std::future::pending(),
        http::Limits::default(),
    ));
    let answer = reqwest::Client::new()
        .post(format!("{url}/run?wait=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(body["run_failure"]["class"], "exit_code", "{body}");
    assert_eq!(body["run_failure"]["exit_code"], 255, "{body}");
    assert_eq!(body["drush_exit_code"], 255);
    assert_eq!(body["requirements"], serde_json::Value::Null);
    let tail = body["stderr_tail"].as_str().unwrap();
    let first_line = tail.lines().next().unwrap();
    assert!(
        first_line.starts_with(
            "PHP Fatal error:  Uncaught Error: Class \"Drupal\\ban\\BanIpManager\" not found"
        ),
        "{tail}"
    );
    assert!(tail.lines().count() <= 20, "{tail}");

    let o = agent.last().unwrap();
    assert_eq!(
        o.run_failure,
        Some(RunFailure {
            exit_code: Some(255),
            ..RunFailure::new(FailureClass::ExitCode)
        })
    );
    let text = m.encode();
    assert_eq!(
        failure_series(&text),
        vec![
            format!("drupal_status_report_failure{{{T},class=\"exit_code\",exit_code=\"255\"}} 1")
                .as_str()
        ],
        "{text}"
    );
    assert!(text.contains(&format!("drupal_status_report_success{{{T}}} 0\n")));
    // The last good run's requirements are kept.
    assert!(text.contains("requirement=\"trusted_host_patterns\""));
    assert_promtool_passes(&text);

    // Recovery: the series is gone with the next success.
    mv(&away, &module);
    let o = agent.run_once().await.unwrap();
    assert!(o.success, "{:?}: {}", o.failure, o.line.stderr_tail);
    let text = m.encode();
    assert!(failure_series(&text).is_empty(), "{text}");
    assert!(text.contains(&format!("drupal_status_report_success{{{T}}} 1\n")));
    assert_promtool_passes(&text);
}

#[tokio::test]
async fn a_missing_database_is_no_database_then_recovers() {
    let Some(site) = site() else { return };
    let runner = Runner::new(site.spec(Duration::from_secs(60)));
    let m = metrics();
    let o = runner.run().await;
    assert!(o.success, "{:?}", o.failure);
    m.record_run(&o);

    let (db, away) = (
        site.path("web/sites/default/files/.ht.sqlite"),
        site.path("db-away.sqlite"),
    );
    mv(&db, &away);
    let o = runner.run().await;
    assert!(!o.success);
    assert_eq!(
        o.line.run_failure,
        Some(RunFailure {
            exit_code: Some(1),
            ..RunFailure::new(FailureClass::NoDatabase)
        }),
        "{}",
        o.line.stderr_tail
    );
    assert!(
        o.line.stderr_tail.contains("Drush was unable to query the"),
        "{}",
        o.line.stderr_tail
    );
    m.record_run(&o);
    let text = m.encode();
    assert_eq!(
        failure_series(&text),
        vec![
            format!("drupal_status_report_failure{{{T},class=\"no_database\",exit_code=\"1\"}} 1")
                .as_str()
        ],
        "{text}"
    );
    assert_promtool_passes(&text);

    mv(&away, &db);
    let o = runner.run().await;
    assert!(o.success, "{:?}: {}", o.failure, o.line.stderr_tail);
    m.record_run(&o);
    let text = m.encode();
    assert!(failure_series(&text).is_empty(), "{text}");
    assert_promtool_passes(&text);
}

#[tokio::test]
async fn a_timeout_shorter_than_drush_is_class_timeout_without_exit_code() {
    let Some(site) = site() else { return };
    // drush takes 0.5–0.8 s here.
    let runner = Runner::new(site.spec(Duration::from_millis(100)));
    let o = runner.run().await;
    assert_eq!(
        o.line.run_failure,
        Some(RunFailure::new(FailureClass::Timeout))
    );
    assert_eq!(o.line.drush_exit_code, None);
    assert_eq!(o.line.stderr_tail, "timed out after 0.1s\n");
    let m = metrics();
    m.record_run(&o);
    let text = m.encode();
    assert_eq!(
        failure_series(&text),
        vec![
            format!("drupal_status_report_failure{{{T},class=\"timeout\",exit_code=\"\"}} 1")
                .as_str()
        ],
        "{text}"
    );
    assert!(text.contains(&format!(
        "site_status_agent_runs_total{{{T},result=\"timeout\"}} 1\n"
    )));
    assert_promtool_passes(&text);
}

/// Runs the real agent binary on `site` until its first run is recorded;
/// returns its /metrics and what it logged.
async fn binary_first_run(site: &Site, log_level: &str) -> (String, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command: Vec<String> = DEFAULT_COMMAND.iter().map(|a| a.to_string()).collect();
    command[0] = site.drush.display().to_string();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_site-status-agent"))
        .args(["--site", "borger", "--env", "prod", "--interval", "1h"])
        .args(["--splay", "0", "--log-level", log_level])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--"])
        .args(&command)
        .env_remove("SITE_STATUS_PROFILE")
        .env_remove("SITE_STATUS_LOKI_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        // /report answers 200 once the first run has finished.
        let ready = client.get(format!("{url}/report")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never got ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = client
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // SIGTERM: the agent stops serving and exits.
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    // SAFETY: kill takes plain integers; the pid is our child, not yet
    // reaped.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let out = child.wait_with_output().await.unwrap();
    (metrics, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn the_binary_learns_the_profile_at_start_and_drushs_noise_is_debug_only() {
    let Some(site) = site() else { return };
    let (metrics, log) = binary_first_run(&site, "info").await;
    // --profile not given: drush status's install profile, before the
    // first scrape.
    assert!(
        metrics.contains(&format!("drupal_status_report_success{{{T}}} 1\n")),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("drupal_info{") && l.contains("drush_version=\"13.3.0.0\"")),
        "{metrics}"
    );
    assert_promtool_passes(&metrics);
    // At info, a successful run's stderr is not shown at all, and nothing
    // is logged as a warning or an error.
    assert!(log.contains("\"msg\":\"run finished\""), "{log}");
    assert!(!log.contains("security advisory"), "{log}");
    assert!(!log.contains("\"level\":\"warn\""), "{log}");
    assert!(!log.contains("\"level\":\"error\""), "{log}");

    let (_, log) = binary_first_run(&site, "debug").await;
    let noise: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("security advisory"))
        .collect();
    assert!(!noise.is_empty(), "{log}");
    for line in noise {
        assert!(line.contains("\"level\":\"debug\""), "{line}");
    }
    // drush status's answer holds the database password field: never
    // logged.
    assert!(
        !log.contains("db-password") && !log.contains("db-username"),
        "{log}"
    );
}
