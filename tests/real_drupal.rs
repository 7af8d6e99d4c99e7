//! The whole system on a real Drupal site: the real `site-status-agent`
//! runs the real drush of `../shared/drupal/` (Drupal 10.3.7, SQLite,
//! drush 13.3.0) in its own copy, pushes its reports to a stand-in Loki
//! and is scraped by a real Prometheus that evaluates the shipped rules
//! (`deploy/prometheus/site-status.rules.yml`). The test drives the site
//! through real states — as installed, a pending database update, a
//! temporary directory that cannot be written, broken module code, the
//! database gone, a run longer than the agent's `--timeout` — and after
//! each one the agent's `/metrics` (linted by promtool), the recorded
//! state, the alerts, `check --format json`, `watch --format jsonl` and
//! the dashboard in tmux (grid, problems view, site view) all say the
//! same state, failing requirements and, for a failed run, why; undoing
//! the state is seen as recovery everywhere.
//!
//! Without `../shared/drupal` the test says so loudly and fails under
//! `CI=true`; it never passes silently.

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::TestPrometheus;
use support::agent::{agent_binary, free_port};
use support::drupal::{RealSite, real_site};
use support::loki::StandInLoki;
use support::prometheus::{promtool_check_metrics, shipped_rules_every_second};
use support::tmux::{Screen, Tmux, command_line, require_tmux, sh_quote};

const SITE: &str = "real";
const ENV: &str = "prod";
/// Runs every this long: a change is seen by the next run without waiting
/// for `POST /run`'s rate limit.
const INTERVAL: &str = "2s";
const STEP_LIMIT: Duration = Duration::from_secs(40);

/// The site's state as every reader must say it.
#[derive(Debug, Clone)]
struct Expected {
    what: &'static str,
    /// `check`'s and the recorded state's name.
    state: &'static str,
    /// Requirement ids that must be failing (warning or error).
    failing: &'static [&'static str],
    /// Ids that must not be failing.
    not_failing: &'static [&'static str],
    /// A failed run's class and exit code label.
    failure: Option<(&'static str, &'static str)>,
    /// Text the dashboard's site view shows for this state.
    site_view: &'static [&'static str],
    /// Text the problems view shows for the site (titles, from the
    /// latest report in Loki).
    problems: &'static [&'static str],
}

/// The three findings of the site as installed, offline.
const AS_INSTALLED: &[&str] = &["trusted_host_patterns", "system_advisories", "update_core"];

fn healthy(what: &'static str) -> Expected {
    Expected {
        what,
        state: "error",
        failing: AS_INSTALLED,
        not_failing: &["update", "file system"],
        failure: None,
        site_view: &["Trusted Host Settings", "Not enabled"],
        problems: &["Trusted Host Settings"],
    }
}

struct Agent {
    child: Child,
    port: u16,
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SIGTERM first, as Kubernetes does, so the spool is left whole
        // for the next agent on the same directory.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    /// The agent as deployed: drush found on PATH (the default command),
    /// no `--profile` (drush's install profile is the default), reports
    /// spooled in `work/spool` and pushed to `loki`.
    fn start(site: &RealSite, work: &Path, loki: &str, port: u16, timeout: &str) -> Agent {
        let path = format!(
            "{}:{}",
            site.root.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(work.join("agent.log"))
            .expect("the agent's log");
        let child = Command::new(agent_binary())
            .args(["--site", SITE, "--env", ENV])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--splay", "0", "--interval", INTERVAL, "--timeout", timeout])
            .args(["--loki-url", loki, "--log-level", "debug"])
            .arg("--spool")
            .arg(work.join("spool"))
            .env("PATH", path)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the agent");
        let agent = Agent { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent.http("GET", "/metrics").is_none() {
            assert!(Instant::now() < deadline, "the agent never served");
            std::thread::sleep(Duration::from_millis(50));
        }
        agent
    }

    /// Status and body of a request, or `None` when it cannot connect.
    fn http(&self, method: &str, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .ok()?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        let (head, body) = answer.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((status, body.to_string()))
    }

    fn metrics(&self) -> String {
        match self.http("GET", "/metrics") {
            Some((200, body)) => body,
            other => panic!("GET /metrics: {other:?}"),
        }
    }
}

/// The value of the last run's start as the agent serves it.
fn last_run(metrics: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with("drupal_status_report_last_run_timestamp_seconds"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `watch --format jsonl`, running all along: every line it printed.
struct Watch {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Watch {
    fn start(config: &Path, home: &Path) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_site-status"))
            .arg("--config")
            .arg(config)
            .args(["watch", "--format", "jsonl"])
            .env("HOME", home)
            .env_remove("SITE_STATUS_MUTES")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start watch");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("watch printed a line that is not JSON ({e}): {line}")
                });
                sink.lock().unwrap().push(value);
            }
        });
        Watch { child, lines }
    }

    /// Waits for a change of the site to `state`, printed after `seen`
    /// earlier lines; returns it and the new count.
    fn wait_for(&self, state: &str, seen: usize, what: &str) -> (Value, usize) {
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            {
                let lines = self.lines.lock().unwrap();
                if let Some(found) = lines[seen..]
                    .iter()
                    .find(|l| l["site"] == SITE && l["to"] == state)
                {
                    return (found.clone(), lines.len());
                }
                assert!(
                    Instant::now() < deadline,
                    "{what}: watch never printed a change to {state}: {:#?}",
                    &lines[seen..]
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `check --format json`: the site's entry and the exit code.
fn check(config: &Path, home: &Path) -> (Value, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_site-status"))
        .arg("--config")
        .arg(config)
        .args(["check", "--format", "json"])
        .env("HOME", home)
        .env_remove("SITE_STATUS_MUTES")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "check --format json ({e}): {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let site = json["environments"][0]["sites"]
        .as_array()
        .and_then(|sites| sites.iter().find(|s| s["site"] == SITE))
        .cloned()
        .unwrap_or_else(|| panic!("check does not list {SITE}: {json:#}"));
    (site, out.status.code().unwrap_or(-1))
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

struct System {
    site: RealSite,
    work: tempfile::TempDir,
    loki: StandInLoki,
    prometheus: TestPrometheus,
    agent: Agent,
    port: u16,
    config: PathBuf,
    home: PathBuf,
    watch: Watch,
    watched: usize,
    tmux: Tmux,
    http: reqwest::Client,
}

impl System {
    /// Waits for a run that started after now, then checks every reader.
    async fn expect(&mut self, expected: Expected) {
        let what = expected.what;
        eprintln!("real-system test: {what}");
        let since = now_unix();
        // Ask for a run at once; within POST /run's rate limit the next
        // scheduled run (every INTERVAL) does it.
        let _ = self.agent.http("POST", "/run");
        let deadline = Instant::now() + STEP_LIMIT;
        let metrics = loop {
            let metrics = self.agent.metrics();
            if last_run(&metrics).is_some_and(|t| t > since) && agent_agrees(&metrics, &expected) {
                break metrics;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: the agent never reported it\n{metrics}\n--- agent log ---\n{}",
                std::fs::read_to_string(self.work.path().join("agent.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        promtool_check_metrics(&metrics, what);
        self.failure_series_match(&metrics, &expected);

        // The recorded state and failing requirements.
        let selector = format!(r#"{{site="{SITE}", env="{ENV}"}}"#);
        self.prometheus
            .wait_for_within(
                &format!("site:site_status_state:code{selector}"),
                STEP_LIMIT,
                |s| s.len() == 1 && s[0].label("state") == expected.state,
            )
            .await;
        if expected.failure.is_none() {
            self.prometheus
                .wait_for_within(
                    &format!("site_requirement:drupal_requirement_severity:failing{selector}"),
                    STEP_LIMIT,
                    |s| {
                        let ids: BTreeSet<&str> =
                            s.iter().map(|x| x.label("requirement")).collect();
                        expected.failing.iter().all(|f| ids.contains(f))
                            && expected.not_failing.iter().all(|f| !ids.contains(f))
                    },
                )
                .await;
        }
        self.alerts_agree(&expected).await;

        // check: state, failing requirements, why the run failed.
        let (site, code) = check(&self.config, &self.home);
        assert_eq!(site["state"], expected.state, "{what}: check says {site:#}");
        assert_eq!(code, 2, "{what}: check's exit for an error or failed run");
        let failing = strings(&site["failing"]);
        if expected.failure.is_none() {
            for id in expected.failing {
                assert!(failing.contains(*id), "{what}: check misses {id}: {site:#}");
            }
            for id in expected.not_failing {
                assert!(!failing.contains(*id), "{what}: check lists {id}: {site:#}");
            }
        }
        match expected.failure {
            Some((class, exit_code)) => {
                assert_eq!(site["run_failure"]["class"], class, "{what}: {site:#}");
                let exit: Value = exit_code.parse::<i64>().map_or(Value::Null, Value::from);
                assert_eq!(site["run_failure"]["exit_code"], exit, "{what}: {site:#}");
            }
            None => assert_eq!(site["run_failure"], Value::Null, "{what}: {site:#}"),
        }

        // watch: the change was printed, with the same state.
        if expected.state != "error" || self.watched > 0 {
            let (line, seen) = self.watch.wait_for(expected.state, self.watched, what);
            self.watched = seen;
            match expected.failure {
                Some((class, _)) => {
                    assert_eq!(line["run_failure"]["class"], class, "{what}: watch: {line}")
                }
                None => assert_eq!(line["run_failure"], Value::Null, "{what}: watch: {line}"),
            }
        }

        self.dashboard_agrees(&expected);
    }

    /// The failure series is there exactly while a run failed.
    fn failure_series_match(&self, metrics: &str, expected: &Expected) {
        let series: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("drupal_status_report_failure{"))
            .collect();
        match expected.failure {
            Some((class, exit_code)) => {
                assert_eq!(series.len(), 1, "{}: {series:?}", expected.what);
                assert!(
                    series[0].contains(&format!(r#"class="{class}""#))
                        && series[0].contains(&format!(r#"exit_code="{exit_code}""#)),
                    "{}: {}",
                    expected.what,
                    series[0]
                );
            }
            None => assert!(
                series.is_empty(),
                "{}: a failure series outlived its run: {series:?}",
                expected.what
            ),
        }
    }

    async fn alerts_agree(&self, expected: &Expected) {
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            let body: Value = self
                .http
                .get(format!("{}/api/v1/alerts", self.prometheus.url()))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let alerts: Vec<&Value> = body["data"]["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["labels"]["site"] == SITE)
                .collect();
            let named = |name: &'static str| {
                alerts
                    .iter()
                    .filter(move |a| a["labels"]["alertname"] == name)
            };
            let agrees = match expected.failure {
                Some((class, _)) => {
                    named("DrupalStatusRunFailing").any(|a| a["labels"]["class"] == class)
                }
                None => {
                    let errors: BTreeSet<&str> = named("DrupalRequirementError")
                        .filter_map(|a| a["labels"]["requirement"].as_str())
                        .collect();
                    named("DrupalStatusRunFailing").next().is_none()
                        && errors.contains("trusted_host_patterns")
                        && expected.not_failing.iter().all(|id| !errors.contains(id))
                        && expected
                            .failing
                            .iter()
                            .filter(|id| !["system_advisories", "update_core"].contains(id))
                            .all(|id| errors.contains(id))
                }
            };
            if agrees {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: the alerts do not agree: {alerts:#?}",
                expected.what
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The grid, the problems view (`e`) and the site view (Enter) in
    /// the running dashboard.
    fn dashboard_agrees(&self, expected: &Expected) {
        let what = expected.what;
        let tmux = &self.tmux;
        let failure_text = expected.failure.map(|(class, exit)| match class {
            "exit_code" => format!("run failed: exit {exit}"),
            "timeout" => "run failed: timed out".to_string(),
            "no_database" => "run failed: no database".to_string(),
            other => format!("run failed: {other}"),
        });
        // The grid: the site's cell is the selected one; its status line
        // says why a run failed.
        let grid = tmux.wait_for(&format!("{what}: the grid"), |s: &Screen| {
            s.contains(SITE)
                && failure_text
                    .as_deref()
                    .is_none_or(|f| s.status().contains(f))
                && (expected.failure.is_some() || !s.status().contains("run failed"))
        });
        drop(grid);

        tmux.keys(&["e"]);
        tmux.wait_for(&format!("{what}: the problems view"), |s: &Screen| {
            s.contains(SITE)
                && failure_text.as_deref().is_none_or(|f| s.contains(f))
                && expected.problems.iter().all(|t| s.contains(t))
        });
        tmux.keys(&["Escape"]);

        tmux.keys(&["Enter"]);
        let site_view = tmux.wait_for(&format!("{what}: the site view"), |s: &Screen| {
            s.contains(SITE)
                && expected.site_view.iter().all(|t| s.contains(t))
                && failure_text.as_deref().is_none_or(|f| s.contains(f))
        });
        // For the eye: `SITE_STATUS_SHOW_SCREENS=1 cargo test --test
        // real_drupal -- --nocapture` prints each state's site view.
        if std::env::var_os("SITE_STATUS_SHOW_SCREENS").is_some() {
            eprintln!("--- {what}: the site view ---\n{}", site_view.framed());
        }
        tmux.keys(&["Escape"]);
        tmux.wait_for(&format!("{what}: back on the grid"), |s: &Screen| {
            s.contains(SITE) && !s.contains("Trusted Host Settings")
        });
    }

    /// The problems view and the site view at 80x24 still say `texts`.
    fn small_terminal_says(&self, texts: &[&str]) {
        let tmux = &self.tmux;
        tmux.resize(80, 24);
        tmux.keys(&["e"]);
        tmux.wait_for("80x24: the problems view", |s: &Screen| {
            s.height() == 24 && s.contains(SITE) && texts.iter().all(|t| s.contains(t))
        });
        tmux.keys(&["Escape"]);
        tmux.keys(&["Enter"]);
        tmux.wait_for("80x24: the site view", |s: &Screen| {
            s.height() == 24 && s.contains(SITE) && texts.iter().all(|t| s.contains(t))
        });
        tmux.keys(&["Escape"]);
        tmux.resize(200, 50);
        tmux.wait_for("back at 200x50", |s: &Screen| s.height() == 50);
    }

    async fn restart_agent(&mut self, timeout: &str) {
        drop(std::mem::replace(
            &mut self.agent,
            // A placeholder that is dropped at once: the port is free
            // again only after the old agent is gone.
            Agent {
                child: Command::new("true").spawn().unwrap(),
                port: 0,
            },
        ));
        self.agent = Agent::start(
            &self.site,
            self.work.path(),
            &self.loki.url(),
            self.port,
            timeout,
        );
    }
}

/// What the agent itself must show before the others are asked.
fn agent_agrees(metrics: &str, expected: &Expected) -> bool {
    let success = metrics
        .lines()
        .find(|l| l.starts_with("drupal_status_report_success"))
        .and_then(|l| l.rsplit(' ').next())
        .map(str::trim);
    match expected.failure {
        Some(_) => success == Some("0"),
        None => {
            success == Some("1")
                && expected.failing.iter().all(|id| {
                    metrics.lines().any(|l| {
                        l.starts_with("drupal_requirement_severity{")
                            && l.contains(&format!(r#"requirement="{id}""#))
                            && (l.ends_with(" 1") || l.ends_with(" 2"))
                    })
                })
                && expected.not_failing.iter().all(|id| {
                    !metrics.lines().any(|l| {
                        l.starts_with("drupal_requirement_severity{")
                            && l.contains(&format!(r#"requirement="{id}""#))
                            && (l.ends_with(" 1") || l.ends_with(" 2"))
                    })
                })
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_drupal_site_through_every_state_agrees_everywhere() {
    let Some(site) = real_site() else {
        return;
    };
    require_tmux();
    let work = tempfile::tempdir().unwrap();
    let loki = StandInLoki::start().await;
    let port = free_port();
    let agent = Agent::start(&site, work.path(), &loki.url(), port, "60s");

    let prometheus = TestPrometheus::builder()
        .labelled_target(
            format!("127.0.0.1:{port}"),
            &[("env", ENV), ("site", SITE), ("profile", "standard")],
        )
        .scrape_interval(Duration::from_secs(1))
        .rule_file(&shipped_rules_every_second())
        .start()
        .await;

    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let config = work.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "refresh_interval = \"2s\"\n\n[[environment]]\nname = \"{ENV}\"\nselector = 'env=\"{ENV}\"'\n\
             [environment.prometheus]\nurl = \"{}\"\ntimeout = \"2s\"\n\
             [environment.loki]\nurl = \"{}\"\n",
            prometheus.url(),
            loki.url()
        ),
    )
    .unwrap();
    let watch = Watch::start(&config, &home);
    let text = |p: &Path| p.to_str().unwrap().to_string();
    let tmux = Tmux::start(
        200,
        50,
        &format!(
            "unset SITE_STATUS_CONFIG XDG_CONFIG_HOME XDG_DATA_HOME; HOME={} SITE_STATUS_MUTES={} {}",
            sh_quote(&text(&home)),
            sh_quote(&text(&work.path().join("mutes.toml"))),
            command_line(&[
                env!("CARGO_BIN_EXE_site-status"),
                "--config",
                &text(&config)
            ])
        ),
    );

    let mut system = System {
        site,
        work,
        loki,
        prometheus,
        agent,
        port,
        config,
        home,
        watch,
        watched: 0,
        tmux,
        http: reqwest::Client::new(),
    };
    let started = Instant::now();

    system.expect(healthy("as installed")).await;
    // The profile label defaults to drush's install profile.
    assert!(
        system.agent.metrics().contains(r#"profile="standard""#),
        "the install profile is not the profile label"
    );
    let info = system.agent.metrics();
    let info = info
        .lines()
        .find(|l| l.starts_with("drupal_info{"))
        .unwrap_or_else(|| panic!("no drupal_info: {info}"));
    assert!(
        info.contains(r#"drush_version="13.3.0.0""#)
            && info.contains(r#"install_profile="standard""#)
            && info.contains(r#"drupal_version="10.3.7""#),
        "{info}"
    );

    system.site.set_pending_update(true);
    system
        .expect(Expected {
            what: "a pending database update",
            failing: &["update", "trusted_host_patterns"],
            not_failing: &["file system"],
            site_view: &["Database updates", "Out of date"],
            problems: &["Database updates", "Trusted Host Settings"],
            ..healthy("")
        })
        .await;
    system.site.set_pending_update(false);
    system.expect(healthy("the update applied")).await;

    system.site.set_files_unwritable(true);
    system
        .expect(Expected {
            what: "files not writable",
            failing: &["file system", "trusted_host_patterns"],
            not_failing: &["update"],
            site_view: &["File system", "Not writable"],
            problems: &["File system", "Trusted Host Settings"],
            ..healthy("")
        })
        .await;
    system.site.set_files_unwritable(false);
    system.expect(healthy("files writable again")).await;

    system.site.set_module_code_missing(true);
    system
        .expect(Expected {
            what: "broken module code",
            state: "run_failed",
            failure: Some(("exit_code", "255")),
            site_view: &["PHP Fatal error"],
            problems: &["PHP Fatal error"],
            ..healthy("")
        })
        .await;
    system.small_terminal_says(&["run failed: exit 255", "PHP Fatal error"]);
    system.site.set_module_code_missing(false);
    system.expect(healthy("module code back")).await;

    system.site.set_database_missing(true);
    system
        .expect(Expected {
            what: "the database gone",
            state: "run_failed",
            failure: Some(("no_database", "1")),
            site_view: &[],
            problems: &[],
            ..healthy("")
        })
        .await;
    system.site.set_database_missing(false);
    system.expect(healthy("the database back")).await;

    system.restart_agent("100ms").await;
    system
        .expect(Expected {
            what: "a timeout shorter than drush's run",
            state: "run_failed",
            failure: Some(("timeout", "")),
            site_view: &[],
            problems: &[],
            ..healthy("")
        })
        .await;
    system.restart_agent("60s").await;
    system.expect(healthy("a timeout drush fits in")).await;

    // Every report the agent made reached Loki, the failed runs' with
    // their reason.
    let entries = system.loki.entries();
    let reports: Vec<Value> = entries
        .iter()
        .map(|e| serde_json::from_str(&e.line).unwrap())
        .collect();
    for class in ["exit_code", "no_database", "timeout"] {
        let report = reports
            .iter()
            .find(|r| r["run_failure"]["class"] == class)
            .unwrap_or_else(|| panic!("no report in Loki with run_failure {class}"));
        assert!(
            !report["stderr_tail"]
                .as_str()
                .unwrap_or("")
                .trim()
                .is_empty(),
            "{class}: the report's stderr_tail is empty: {report:#}"
        );
    }
    let fatal = reports
        .iter()
        .find(|r| r["run_failure"]["class"] == "exit_code")
        .unwrap();
    assert!(
        fatal["stderr_tail"]
            .as_str()
            .is_some_and(|t| t.contains("PHP Fatal error")),
        "{fatal:#}"
    );
    eprintln!(
        "real-system test: {} states in {:.1} s, {} reports in Loki",
        11,
        started.elapsed().as_secs_f64(),
        entries.len()
    );
}
