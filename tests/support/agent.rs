//! The real status agent (`site-status-agent`), running the fake drush of
//! `agent/tests/fake-drush` on a drush output file the test owns: the test
//! rewrites that file between runs as a fix on the site would change
//! drush's answer.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The agent binary, built if this test runs before the agent's own
/// tests did (`cargo test -p site-status` alone).
pub fn agent_binary() -> PathBuf {
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
    // Next to the dashboard's binary; the support code is also compiled
    // into examples, which have no CARGO_BIN_EXE_*.
    let dashboard = option_env!("CARGO_BIN_EXE_site-status")
        .unwrap_or_else(|| panic!("the agent is started from integration tests only"));
    Path::new(dashboard).with_file_name("site-status-agent")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// A drush fixture of `tests/fixtures/drush/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/drush")
        .join(name)
}

/// A running agent for `borger` in prod (profile `kk_borger`), killed when
/// dropped, however the test ends.
pub struct TestAgent {
    child: Child,
    pub port: u16,
    /// What the fake drush prints: copy another fixture here to change
    /// the next run's report.
    pub drush_output: PathBuf,
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestAgent {
    /// Starts at once (`--splay 0`) with its first report from `fixture`,
    /// the spool and the drush output in `dir`.
    pub fn start(dir: &Path, first_fixture: &str, interval: &str) -> TestAgent {
        let drush_output = dir.join("drush-output.json");
        std::fs::copy(fixture(first_fixture), &drush_output).unwrap();
        let port = free_port();
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
            .args(["--splay", "0", "--interval", interval])
            .arg("--spool")
            .arg(dir.join("spool"))
            .arg("--")
            .arg("sh")
            .arg("-c")
            // drush takes as long as the delay file says (none at first).
            .arg(r#"sleep "$(cat "$1.delay" 2>/dev/null || echo 0)"; exec sh "$2" fixture "$1""#)
            .arg("fake-drush")
            .arg(&drush_output)
            .arg(root.join("agent/tests/fake-drush"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the agent");
        TestAgent {
            child,
            port,
            drush_output,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The next runs print this fixture.
    pub fn set_drush_output(&self, fixture_name: &str) {
        let tmp = self.drush_output.with_extension("tmp");
        std::fs::copy(fixture(fixture_name), &tmp).unwrap();
        std::fs::rename(&tmp, &self.drush_output).unwrap();
    }

    /// The next runs take this long before drush answers.
    pub fn set_drush_delay(&self, seconds: u32) {
        std::fs::write(
            self.drush_output.with_extension("json.delay"),
            seconds.to_string(),
        )
        .unwrap();
    }

    /// Waits until the first run has finished (`/report` answers 200;
    /// `/readyz` does not wait for the first run).
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.get("/report").is_none() {
            assert!(Instant::now() < deadline, "the agent never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The body of a 200 answer to `GET path`, or `None`.
    pub fn get(&self, path: &str) -> Option<String> {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(self.addr()).ok()?;
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
}
