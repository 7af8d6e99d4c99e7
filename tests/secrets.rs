//! No output of the real binary ever carries a secret, from whichever
//! source the configuration reads it, even when the backend echoes the
//! request back: raw, URL-encoded, base64-encoded and split across a line,
//! the way a misconfigured proxy's 401 page or a debugging endpoint does.
//!
//! One token is planted in each secret source (bearer_token_file,
//! bearer_token_env, basic_auth.password_env, a header value); every
//! output (`config check`, `check` text and JSON, `watch`, `report` text
//! and JSON, the dashboard's raw terminal bytes) is searched for every
//! form of it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use support::tmux::{Tmux, sh_quote};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_site-status");

/// Answers every request 401 with every form of what it was sent.
struct EchoCredentials;

impl Respond for EchoCredentials {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut body = String::from("unauthorized.\n");
        for (name, value) in &request.headers {
            let name = name.as_str();
            if name != "authorization" && !name.starts_with("x-") {
                continue;
            }
            let value = value.to_str().unwrap_or("");
            let mid = value.len() / 2;
            body.push_str(&format!(
                "you sent: {name}: {value}\nencoded: {}\nbase64: {}\nsplit: {}\n{}\n",
                utf8_percent_encode(value, NON_ALPHANUMERIC),
                STANDARD.encode(value),
                &value[..mid],
                &value[mid..],
            ));
        }
        ResponseTemplate::new(401).set_body_string(body)
    }
}

/// Where one secret comes from, and the configuration lines that read it.
struct Source {
    name: &'static str,
    secret: &'static str,
    /// The configuration's backend lines; `{file}` is the token file.
    lines: &'static str,
    env: Option<&'static str>,
}

const SOURCES: [Source; 4] = [
    Source {
        name: "bearer_token_file",
        secret: "tokfile-Q7x9Lm2pZr4vKw8n",
        lines: "bearer_token_file = \"{file}\"\n",
        env: None,
    },
    Source {
        name: "bearer_token_env",
        secret: "tokenv-H3j5Ns8qTb1yCe6u",
        lines: "bearer_token_env = \"SECRETS_TEST_TOKEN\"\n",
        env: Some("SECRETS_TEST_TOKEN"),
    },
    Source {
        name: "basic_auth.password_env",
        secret: "pwbasic-G4k7Rd2wXa9mVf3s",
        lines: "basic_auth = { username = \"site-status\", password_env = \"SECRETS_TEST_PASSWORD\" }\n",
        env: Some("SECRETS_TEST_PASSWORD"),
    },
    Source {
        name: "headers",
        secret: "tenant-P8c2Yh5eJn7tBq4z",
        lines: "headers = { \"X-Scope-OrgID\" = \"tenant-P8c2Yh5eJn7tBq4z\" }\n",
        env: None,
    },
];

/// Every form in which the secret would be recognisable in an output.
fn forms(source: &Source) -> Vec<String> {
    let secret = source.secret;
    let header = match source.name {
        "bearer_token_file" | "bearer_token_env" => format!("Bearer {secret}"),
        "basic_auth.password_env" => {
            format!("Basic {}", STANDARD.encode(format!("site-status:{secret}")))
        }
        _ => secret.to_string(),
    };
    let encoded_header = STANDARD.encode(&header);
    let mid = header.len() / 2;
    let mut forms = vec![
        secret.to_string(),
        utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
        // The middle of the header's base64: only the secret's bytes.
        encoded_header[12..encoded_header.len() - 4].to_string(),
        // Both halves of the split.
        header[mid.saturating_sub(10)..mid].to_string(),
        header[mid..(mid + 10).min(header.len())].to_string(),
        // The secret's own halves, whatever is around them.
        secret[..secret.len() / 2].to_string(),
        secret[secret.len() / 2..].to_string(),
    ];
    if source.name == "basic_auth.password_env" {
        let credentials = STANDARD.encode(format!("site-status:{secret}"));
        forms.push(credentials[4..credentials.len() - 4].to_string());
    }
    forms
}

struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
    home: PathBuf,
}

fn setup(source: &Source, url: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{}\n", source.secret)).unwrap();
    let lines = source
        .lines
        .replace("{file}", &token_file.display().to_string());
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "refresh_interval = \"2s\"\n\
             [[environment]]\nname = \"prod\"\nselector = 'env=\"prod\"'\n\
             [environment.prometheus]\nurl = \"{url}\"\ntimeout = 2\n{lines}\
             [environment.loki]\nurl = \"{url}\"\ntimeout = 2\n{lines}"
        ),
    )
    .unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    Setup {
        _dir: dir,
        config,
        home,
    }
}

fn command(source: &Source, setup: &Setup, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(&setup.config)
        .args(args)
        .env("HOME", &setup.home)
        .env("NO_COLOR", "1")
        .env_remove("SITE_STATUS_MUTES")
        .stdin(Stdio::null());
    if let Some(var) = source.env {
        cmd.env(var, source.secret);
    }
    cmd
}

fn assert_clean(source: &Source, output: &str, what: &str) {
    // The test means something only if the backend's echo reached the
    // output: its 401 must be there.
    assert!(
        output.contains("401"),
        "{what} ({}): the backend's answer never reached the output:\n{output}",
        source.name
    );
    for form in forms(source) {
        assert!(
            !output.contains(&form),
            "{what} printed the secret from {} as {form:?}:\n{output}",
            source.name
        );
    }
}

fn run(source: &Source, setup: &Setup, args: &[&str]) -> String {
    let out = command(source, setup, args).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `watch` runs until stopped: give it two polls, then SIGTERM.
fn run_watch(source: &Source, setup: &Setup) -> String {
    let child = command(source, setup, &["watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn echo_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(EchoCredentials)
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_output_carries_a_secret_from_any_source() {
    let server = echo_server().await;
    for source in &SOURCES {
        let setup = setup(source, &server.uri());
        let s = source;
        for (what, args) in [
            ("config check", vec!["config", "check"]),
            ("check (text)", vec!["check"]),
            ("check (JSON)", vec!["check", "--format", "json"]),
            ("report (text)", vec!["report", "prod", "borger"]),
            (
                "report (JSON)",
                vec!["report", "prod", "borger", "--format", "json"],
            ),
        ] {
            let output = tokio::task::block_in_place(|| run(s, &setup, &args));
            assert_clean(s, &output, what);
        }
        let output = tokio::task::block_in_place(|| run_watch(s, &setup));
        assert_clean(s, &output, "watch");
    }
}

/// Everything the dashboard wrote to its terminal, escape sequences and
/// all, until the backend's error was on screen.
fn dashboard_bytes(source: &Source, setup: &Setup) -> String {
    let raw = setup.home.join("terminal.raw");
    let mut line = String::new();
    if let Some(var) = source.env {
        line.push_str(&format!("{var}={} ", sh_quote(source.secret)));
    }
    // The pipe below must be in place before the first frame is written.
    line = format!(
        "sleep 0.5; HOME={} NO_COLOR=1 {line}{} --config {}",
        sh_quote(&setup.home.display().to_string()),
        sh_quote(BIN),
        sh_quote(&setup.config.display().to_string()),
    );
    let tmux = Tmux::start(200, 50, &line);
    let target = tmux.target();
    tmux.run(&[
        "pipe-pane",
        "-O",
        "-t",
        &target,
        &format!("cat >> {}", sh_quote(&raw.display().to_string())),
    ]);
    tmux.wait_for("the backend's 401 on screen", |s| s.contains("401"));
    // Let a second poll draw its error too.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    tmux.keys(&["q"]);
    tmux.wait_for("the app to exit", |s| s.exit_status().is_some());
    read_lossy(&raw)
}

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_never_draws_a_secret_from_any_source() {
    let server = echo_server().await;
    for source in &SOURCES {
        let setup = setup(source, &server.uri());
        let bytes = tokio::task::block_in_place(|| dashboard_bytes(source, &setup));
        assert_clean(source, &bytes, "the dashboard's terminal bytes");
    }
}
