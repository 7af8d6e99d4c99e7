//! A new user's first session, as README's "Real environments" tells it,
//! against a real Prometheus scraping a simulated fleet: `config path`,
//! `config init`, editing the example, `config check`, `check`, then the
//! dashboard in a real terminal (tmux), through an outage of Prometheus and
//! its recovery.
//!
//! Everything runs the real binary with `--config` in a temporary directory
//! and HOME pointed at another, so nothing touches the user's own
//! configuration. Every wait is bounded and polls a condition.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::fleet::{Fleet, SEVERITY_ERROR, SEVERITY_INFO, SEVERITY_OK, SEVERITY_WARNING};
use support::tmux::{Screen, Tmux, command_line, sh_quote};
use support::{FleetBuilder, FleetExporter, SiteKind, TestPrometheus};

const BIN: &str = env!("CARGO_BIN_EXE_site-status");
/// The example configuration's backend, on every environment.
const EXAMPLE_URL: &str = "http://127.0.0.1:9090";
/// The variable the user names in `bearer_token_env`, and its secret.
const TOKEN_VAR: &str = "SITE_STATUS_NEW_USER_TOKEN";
const TOKEN: &str = "s3cr3t-value";
/// A CLI command that takes longer than this is hung.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// `stale_after`'s default.
const STALE_AFTER: f64 = 30.0 * 60.0;
const ENVS: [&str; 3] = ["dev", "test", "prod"];

// ---------------------------------------------------------------------------
// The user's machine
// ---------------------------------------------------------------------------

/// A temporary HOME, and the configuration path passed with `--config`
/// (in a directory that does not exist yet: `config init` makes it).
struct User {
    dir: tempfile::TempDir,
    home: PathBuf,
    config: PathBuf,
}

/// How a command ended, and what it printed.
struct Run {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn context(&self) -> String {
        format!(
            "`{}` exited with {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }

    fn assert_code(&self, expected: i32) -> &Run {
        assert_eq!(self.code, Some(expected), "{}", self.context());
        self
    }

    /// Neither output carries the bearer token.
    fn assert_no_secret(&self) -> &Run {
        assert!(
            !self.stdout.contains(TOKEN) && !self.stderr.contains(TOKEN),
            "the bearer token was printed\n{}",
            self.context()
        );
        self
    }
}

impl User {
    fn new() -> User {
        let dir = tempfile::Builder::new()
            .prefix("site-status-new-user-")
            .tempdir()
            .expect("create a temporary directory");
        let home = dir.path().join("home");
        std::fs::create_dir(&home).expect("create HOME");
        let config = dir.path().join("site-status").join("config.toml");
        User { dir, home, config }
    }

    fn config_arg(&self) -> &str {
        self.config.to_str().expect("a UTF-8 temporary path")
    }

    /// `site-status --config <config> <args>` with the user's environment
    /// (the token variable set), bounded by [`COMMAND_TIMEOUT`].
    fn run(&self, args: &[&str]) -> Run {
        let what = format!("site-status {}", args.join(" "));
        let out_path = self.dir.path().join("stdout");
        let err_path = self.dir.path().join("stderr");
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("HOME", &self.home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("SITE_STATUS_CONFIG")
            .env(TOKEN_VAR, TOKEN)
            .env("LANG", "C.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("LC_CTYPE")
            .stdin(Stdio::null())
            .stdout(File::create(&out_path).expect("create the stdout file"))
            .stderr(File::create(&err_path).expect("create the stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for site-status") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`{what}` did not finish within {COMMAND_TIMEOUT:?}; stdout so far:\n{}",
                    std::fs::read_to_string(&out_path).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            what,
            code: status.code(),
            stdout: std::fs::read_to_string(&out_path).expect("read stdout"),
            stderr: std::fs::read_to_string(&err_path).expect("read stderr"),
        }
    }

    fn read_config(&self) -> String {
        std::fs::read_to_string(&self.config).expect("read the configuration")
    }

    fn write_config(&self, text: &str) {
        std::fs::write(&self.config, text).expect("write the configuration");
    }

    /// The dashboard as the user starts it, in a `width`×`height` terminal.
    fn dashboard(&self, width: u16, height: u16) -> Tmux {
        let command = format!(
            "unset SITE_STATUS_CONFIG XDG_CONFIG_HOME; HOME={} {TOKEN_VAR}={} {}",
            sh_quote(self.home.to_str().expect("a UTF-8 temporary path")),
            sh_quote(TOKEN),
            command_line(&[BIN, "--config", self.config_arg()])
        );
        Tmux::start(width, height, &command)
    }
}

// ---------------------------------------------------------------------------
// Editing the configuration like a user
// ---------------------------------------------------------------------------

/// Replaces `from` by `to`, checking it occurs exactly `count` times: when
/// the example changes, this says so instead of testing something else.
fn replace_exactly(text: &str, from: &str, to: &str, count: usize) -> String {
    assert_eq!(
        text.matches(from).count(),
        count,
        "expected {count} × {from:?} in the configuration:\n{text}"
    );
    text.replace(from, to)
}

/// The edits README asks for (each environment's prometheus.url), polling
/// fast for the test (refresh 2 s, request timeout 2 s), and the prod
/// Prometheus's bearer token from an environment variable.
fn edit_example(example: &str, prometheus_url: &str) -> String {
    let text = replace_exactly(
        example,
        "refresh_interval = \"15s\"",
        "refresh_interval = \"2s\"",
        1,
    );
    // The example sets dev's timeout; the user sets it on every block.
    let text = replace_exactly(&text, "timeout = \"10s\"\n", "", 1);
    let text = replace_exactly(
        &text,
        &format!("url = \"{EXAMPLE_URL}\"\n"),
        &format!("url = \"{prometheus_url}\"\ntimeout = \"2s\"\n"),
        3,
    );
    replace_exactly(
        &text,
        "# bearer_token_env = \"PROD_PROMETHEUS_TOKEN\"",
        &format!("bearer_token_env = \"{TOKEN_VAR}\""),
        1,
    )
}

/// `text` with the first `from` after `name = "<env>"` replaced by `to`.
fn replace_in_environment(text: &str, env: &str, from: &str, to: &str) -> String {
    let start = text
        .find(&format!("name = \"{env}\""))
        .unwrap_or_else(|| panic!("no environment {env:?} in\n{text}"));
    let at = start
        + text[start..]
            .find(from)
            .unwrap_or_else(|| panic!("no {from:?} in environment {env:?}"));
    format!("{}{to}{}", &text[..at], &text[at + from.len()..])
}

/// A loopback port nothing listens on (it was free a moment ago).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port")
        .port()
}

// ---------------------------------------------------------------------------
// What the fleet should look like
// ---------------------------------------------------------------------------

/// `check`'s summary, computed from the fleet's definition for the sites
/// that publish series: severity by worst requirement, stale when the last
/// run is older than 30 minutes, run failed when success is 0.
fn expected_summary(fleet: &Fleet, now: f64) -> Value {
    let mut counts: BTreeMap<&str, u64> = [
        "error",
        "warning",
        "ok",
        "info",
        "no_data",
        "stale",
        "run_failed",
        // Every exporter of this fleet is scraped: none is down.
        "target_down",
    ]
    .into_iter()
    .map(|k| (k, 0))
    .collect();
    for site in fleet.sites.iter().filter(|s| !s.silent) {
        let severity = match site.worst_severity() {
            Some(SEVERITY_ERROR) => "error",
            Some(SEVERITY_WARNING) => "warning",
            Some(SEVERITY_OK) => "ok",
            Some(SEVERITY_INFO) => "info",
            _ => "no_data",
        };
        *counts.get_mut(severity).unwrap() += 1;
        if now - site.last_run > STALE_AFTER {
            *counts.get_mut("stale").unwrap() += 1;
        }
        if !site.success {
            *counts.get_mut("run_failed").unwrap() += 1;
        }
    }
    serde_json::to_value(counts).unwrap()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The section line of `env` on screen.
fn section_line<'a>(screen: &'a Screen, env: &str) -> Option<&'a str> {
    screen
        .section_line_texts()
        .into_iter()
        .find(|l| l.starts_with(&format!("── {env} ")))
}

/// The state glyph of a requirement severity (sid).
fn glyph(sid: i8) -> char {
    match sid {
        SEVERITY_ERROR => '✖',
        SEVERITY_WARNING => '▲',
        SEVERITY_OK => '●',
        SEVERITY_INFO => '○',
        other => panic!("no glyph for sid {other}"),
    }
}

/// Whether the site view lists `requirement` as a line of its own: its
/// severity's glyph, then its id (" ✖ file system").
fn lists_requirement(screen: &Screen, requirement: &str, sid: i8) -> bool {
    let line = format!("{} {requirement}", glyph(sid));
    screen.body().iter().any(|l| l.trim() == line)
}

fn shows_total(screen: &Screen, total: usize) -> bool {
    screen.header().contains(&format!(" {total} sites"))
}

fn assert_no_secret_on(screen: &Screen) {
    assert!(
        !screen.contains(TOKEN),
        "the bearer token is on screen\n{}",
        screen.framed()
    );
}

// ---------------------------------------------------------------------------
// The journey
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_new_user_sets_up_checks_and_watches_a_real_fleet() {
    let started = Instant::now();
    let exporter = FleetExporter::start(FleetBuilder::new(40).build());
    let fleet = exporter.fleet();
    let mut prometheus = TestPrometheus::scraping(&exporter).await;
    let user = User::new();
    // Prometheus scrapes its first ~5 s after starting: the setup steps
    // (which only need its API) run meanwhile.

    // 1. Where the configuration goes, and an example to start from.
    let path = user.run(&["config", "path"]);
    path.assert_code(0);
    assert_eq!(
        path.stdout.trim_end(),
        user.config_arg(),
        "{}",
        path.context()
    );

    let init = user.run(&["config", "init"]);
    init.assert_code(0);
    assert!(
        init.stdout.contains(user.config_arg()),
        "{}",
        init.context()
    );
    let example = user.read_config();
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"))
            .expect("read config.example.toml");
    assert_eq!(example, shipped, "config init writes config.example.toml");

    let again = user.run(&["config", "init"]);
    assert_ne!(
        again.code,
        Some(0),
        "a second init must refuse\n{}",
        again.context()
    );
    assert!(
        again.stderr.contains(user.config_arg()) && again.stderr.contains("exists"),
        "{}",
        again.context()
    );
    assert_eq!(
        user.read_config(),
        example,
        "a second init changed the file"
    );

    // 2. Point every environment at the Prometheus, as README says.
    let edited = edit_example(&example, &prometheus.url());
    user.write_config(&edited);
    let refused = user.run(&["config", "init"]);
    assert_ne!(refused.code, Some(0), "{}", refused.context());
    assert_eq!(
        user.read_config(),
        edited,
        "init overwrote the user's edits"
    );

    // 3. `config check`: valid, and every backend reachable with its
    //    round-trip time.
    let check = user.run(&["config", "check"]);
    check.assert_code(0).assert_no_secret();
    assert!(
        check
            .stdout
            .contains(&format!("{}: valid", user.config_arg())),
        "{}",
        check.context()
    );
    for env in ENVS {
        let line = check
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{env} ")))
            .unwrap_or_else(|| panic!("no line for {env}\n{}", check.context()));
        let ms = line
            .split("reachable, ")
            .nth(1)
            .and_then(|rest| rest.strip_suffix(" ms"))
            .and_then(|n| n.parse::<u64>().ok());
        assert!(
            line.contains(&prometheus.url()) && ms.is_some(),
            "{env} is not \"reachable, N ms\" at {}: {line:?}\n{}",
            prometheus.url(),
            check.context()
        );
    }

    // With prod (the one with the token) pointed at a closed port, the
    // check fails and names prod, and still prints no secret.
    let closed = format!("http://127.0.0.1:{}", closed_port());
    user.write_config(&replace_in_environment(
        &edited,
        "prod",
        &prometheus.url(),
        &closed,
    ));
    let broken = user.run(&["config", "check"]);
    assert_ne!(broken.code, Some(0), "{}", broken.context());
    broken.assert_no_secret();
    let failed: Vec<&str> = broken
        .stdout
        .lines()
        .filter(|l| l.contains("FAILED"))
        .collect();
    assert!(
        failed.len() == 1
            && failed[0].trim_start().starts_with("prod ")
            && failed[0].contains(&closed),
        "only prod should fail, naming {closed}\n{}",
        broken.context()
    );
    assert_eq!(
        broken.stdout.matches("reachable,").count(),
        2,
        "dev and test are still reachable\n{}",
        broken.context()
    );
    // `check` says the same, exit 3, in text and in JSON.
    let down = user.run(&["check"]);
    down.assert_code(3).assert_no_secret();
    assert!(
        down.stdout.contains("prod: BACKEND FAILED"),
        "{}",
        down.context()
    );
    let down_json = user.run(&["check", "--format", "json"]);
    down_json.assert_code(3).assert_no_secret();
    let report: Value = serde_json::from_str(&down_json.stdout).expect("check prints JSON");
    let prod = report["environments"]
        .as_array()
        .and_then(|envs| envs.iter().find(|e| e["name"] == "prod"))
        .unwrap_or_else(|| panic!("no prod in\n{}", down_json.context()));
    assert_eq!(prod["ok"], false, "{}", down_json.context());
    user.write_config(&edited);

    // 4. `check --format json` once Prometheus has scraped the fleet: exit 2
    //    (the fleet has errors) and the summary the fleet's definition gives.
    prometheus.wait_for_fleet(&exporter).await;
    let json = user.run(&["check", "--format", "json"]);
    json.assert_code(2).assert_no_secret();
    let report: Value = serde_json::from_str(&json.stdout).expect("check prints JSON");
    assert_eq!(
        report["summary"],
        expected_summary(&fleet, unix_now()),
        "{}",
        json.context()
    );
    let publishing: Vec<_> = fleet.sites.iter().filter(|s| !s.silent).collect();
    for env in ENVS {
        let reported = report["environments"]
            .as_array()
            .and_then(|envs| envs.iter().find(|e| e["name"] == env))
            .unwrap_or_else(|| panic!("no {env} in\n{}", json.context()));
        assert_eq!(reported["ok"], true, "{env}\n{}", json.context());
        let names: BTreeSet<&str> = reported["sites"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["site"].as_str())
            .collect();
        let expected: BTreeSet<&str> = publishing
            .iter()
            .filter(|s| s.env == env)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, expected, "the sites of {env}");
    }
    user.run(&["check"]).assert_code(2).assert_no_secret();

    // 5. The dashboard. Its header counts the sites that publish series.
    let total = publishing.len();
    // An error site in dev: on the first screen at any size.
    let error_site = fleet
        .sites
        .iter()
        .find(|s| s.kind == SiteKind::Error && s.env == "dev")
        .expect("an error site in dev");
    let error_cell = format!("✖ {}", error_site.name);

    // At 80x24 compact density shows all three sections; normal density
    // shows dev at the top after `g`. (The header's total at 80 columns and
    // where the cursor starts have tests of their own at the end.)
    {
        let tmux = user.dashboard(80, 24);
        tmux.wait_for("the first frame at 80x24", |s| {
            s.header().contains("updated") && s.contains("── ")
        });
        tmux.keys(&["z"]);
        let screen = tmux.wait_for("all three sections in compact density at 80x24", |s| {
            s.envs() == ENVS
                && s.status().contains("compact")
                && s.section_lines().iter().map(|(_, n)| n).sum::<usize>() == total
        });
        assert_no_secret_on(&screen);
        tmux.keys(&["z", "g"]);
        tmux.wait_for("normal density from the first dev site at 80x24", |s| {
            !s.status().contains("compact")
                && s.status().starts_with("dev › ")
                && s.first_grid_line().starts_with("── dev ")
                && s.contains(&error_cell)
        });
        tmux.keys(&["q"]);
        tmux.assert_exits_cleanly("q at 80x24");
    }

    // At 200x50 the three sections are on one screen.
    let tmux = user.dashboard(200, 50);
    let screen = tmux.wait_for("the whole fleet at 200x50", |s| {
        shows_total(s, total)
            && s.header().contains("updated")
            && s.envs() == ENVS
            && s.contains(&error_cell)
    });
    for (env, n) in screen.section_lines() {
        let expected = publishing.iter().filter(|s| s.env == env).count();
        assert_eq!(n, expected, "sites in {env}\n{}", screen.framed());
    }

    // Find the error site by name and open it: every requirement by id,
    // with the glyph of its severity.
    let crumbs = format!(
        "{} › {} › {}",
        error_site.env, error_site.profile, error_site.name
    );
    tmux.keys(&["/"]);
    tmux.wait_for("the filter prompt", |s| s.status().starts_with('/'));
    tmux.type_text(&error_site.name);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the cursor on the error site", |s| {
        s.status().starts_with(&crumbs) && s.contains(&error_cell)
    });
    tmux.keys(&["Enter"]);
    let site = tmux.wait_for("the site view with every requirement", |s| {
        s.body()[0].trim_start().starts_with(&crumbs)
            && s.key_line().contains("Esc")
            && error_site
                .requirements
                .iter()
                .all(|(id, sid)| lists_requirement(s, id, *sid))
    });
    assert!(
        !site.contains("── dev"),
        "the grid shows through\n{}",
        site.framed()
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for("Esc back to the grid on the same site", |s| {
        s.status().starts_with(&crumbs)
            && s.contains(&error_cell)
            && s.key_line().contains("q quit")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("Esc to clear the filter", |s| {
        !s.status().contains("filter") && s.envs() == ENVS && shows_total(s, total)
    });

    // 6. Prometheus goes away: within a poll interval plus the timeouts every
    //    section says so and is STALE, and the sites stay on screen.
    prometheus.kill();
    // Refresh 2 s, then the 2 s request timeout and the poller's 2 s more:
    // 6 s at worst, twice that on a loaded machine. (A refused connection
    // fails at once, so it takes ~2 s.)
    let outage = tmux.wait_for_within(
        Duration::from_secs(12),
        "every section to show the error and STALE",
        |s| {
            ENVS.iter().all(|env| {
                section_line(s, env).is_some_and(|l| l.contains("error") && l.contains("STALE"))
            }) && s.contains(&error_cell)
                && shows_total(s, total)
        },
    );
    assert!(
        outage.header().contains("3 env stale"),
        "\n{}",
        outage.framed()
    );
    assert_no_secret_on(&outage);

    // Back up: the errors clear by themselves (polling backs off to 4 s
    // after one failure, 8 s after two).
    prometheus.restart().await;
    let recovered = tmux.wait_for_within(
        Duration::from_secs(30),
        "the errors to clear after Prometheus is back",
        |s| {
            s.envs() == ENVS
                && ENVS.iter().all(|env| {
                    section_line(s, env)
                        .is_some_and(|l| !l.contains("error") && !l.contains("STALE"))
                })
                && !s.header().contains("stale")
                && s.contains(&error_cell)
                && shows_total(s, total)
        },
    );
    assert_no_secret_on(&recovered);

    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q at 200x50");

    // Nothing was written to HOME.
    let in_home: Vec<_> = std::fs::read_dir(&user.home)
        .expect("read HOME")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(in_home.is_empty(), "written into HOME: {in_home:?}");
    eprintln!("the journey took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------
// Problems found while writing the journey, each pinned by a test
// ---------------------------------------------------------------------------

#[tokio::test]
async fn at_80_columns_the_header_still_totals_the_fleet() {
    let exporter = FleetExporter::start(FleetBuilder::new(40).build());
    let total = exporter.fleet().sites.iter().filter(|s| !s.silent).count();
    let prometheus = TestPrometheus::scraping(&exporter).await;
    let user = User::new();
    user.run(&["config", "init"]).assert_code(0);
    user.write_config(&edit_example(&user.read_config(), &prometheus.url()));
    prometheus.wait_for_fleet(&exporter).await;

    // The path is as long as /home/firstname/.config/site-status/config.toml.
    let tmux = user.dashboard(80, 24);
    tmux.keys(&["z"]);
    let screen = tmux.wait_for("every section's total at 80x24", |s| {
        s.header().contains("updated")
            && s.envs() == ENVS
            && s.section_lines().iter().map(|(_, n)| n).sum::<usize>() == total
    });
    assert!(
        shows_total(&screen, total),
        "the header does not say \"{total} sites\"\n{}",
        screen.framed()
    );
}

#[test]
fn a_proxy_echoing_the_request_does_not_get_the_token_printed() {
    use std::io::{Read, Write};
    // A proxy that answers 502 with the request head in its body, as
    // debugging endpoints and some gateways do.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let body = format!("bad gateway; you sent: {}", String::from_utf8_lossy(&head));
            let _ = write!(
                stream,
                "HTTP/1.1 502 Bad Gateway\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let user = User::new();
    user.run(&["config", "init"]).assert_code(0);
    user.write_config(&edit_example(&user.read_config(), &url));
    let check = user.run(&["config", "check"]);
    assert_ne!(check.code, Some(0), "{}", check.context());
    assert!(check.stdout.contains("502"), "{}", check.context());
    check.assert_no_secret();
    user.run(&["check"]).assert_code(3).assert_no_secret();
}

/// A TCP proxy to `upstream` that holds every connection `delay` before
/// passing it on: a slow backend. Its threads live as long as the test.
fn slow_proxy(upstream: std::net::SocketAddr, delay: Duration) -> String {
    use std::net::{Shutdown, TcpListener, TcpStream};
    fn pipe(mut from: TcpStream, mut to: TcpStream) {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let Ok(server) = TcpStream::connect(upstream) else {
                    return;
                };
                let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                    return;
                };
                std::thread::spawn(move || pipe(server2, client2));
                pipe(client, server);
            });
        }
    });
    url
}

#[tokio::test]
async fn the_cursor_starts_on_the_first_environment_whichever_backend_answers_first() {
    let exporter = FleetExporter::start(FleetBuilder::new(40).build());
    let total = exporter.fleet().sites.iter().filter(|s| !s.silent).count();
    let prometheus = TestPrometheus::scraping(&exporter).await;
    let user = User::new();
    user.run(&["config", "init"]).assert_code(0);
    // dev and test answer a second later than prod.
    let upstream = format!("127.0.0.1:{}", prometheus.port()).parse().unwrap();
    let slow = slow_proxy(upstream, Duration::from_secs(1));
    let edited = edit_example(&user.read_config(), &prometheus.url());
    let edited = replace_in_environment(&edited, "dev", &prometheus.url(), &slow);
    user.write_config(&replace_in_environment(
        &edited,
        "test",
        &prometheus.url(),
        &slow,
    ));
    prometheus.wait_for_fleet(&exporter).await;

    let tmux = user.dashboard(200, 50);
    let screen = tmux.wait_for("the whole fleet", |s| {
        shows_total(s, total) && s.header().contains("updated") && s.envs() == ENVS
    });
    assert!(
        screen.status().starts_with("dev › ") && screen.first_grid_line().starts_with("── dev "),
        "the cursor does not start on the first dev site\n{}",
        screen.framed()
    );
}
