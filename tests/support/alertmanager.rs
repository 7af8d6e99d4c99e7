//! A real Alertmanager (Debian's `prometheus-alertmanager`, which
//! scripts/test.sh installs) on a free loopback port with a temporary
//! storage path, clustering off; killed and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = "/usr/bin/prometheus-alertmanager";

pub struct TestAlertmanager {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Drop for TestAlertmanager {
    fn drop(&mut self) {
        self.stop();
    }
}

impl TestAlertmanager {
    pub async fn start() -> TestAlertmanager {
        assert!(
            Path::new(BINARY).is_file(),
            "{BINARY} missing: run scripts/test.sh, which installs prometheus-alertmanager"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("alertmanager.yml"),
            "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n",
        )
        .unwrap();
        let mut am = TestAlertmanager {
            child: None,
            port: 0,
            dir,
        };
        for _ in 0..5 {
            am.port = super::agent::free_port();
            am.launch();
            if am.wait_ready(Duration::from_secs(20)).await {
                return am;
            }
            am.stop();
        }
        panic!("Alertmanager did not start: {}", am.log_tail());
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(self.log_path()).unwrap();
        let child = Command::new(BINARY)
            .arg(format!(
                "--config.file={}",
                self.dir.path().join("alertmanager.yml").display()
            ))
            .arg(format!(
                "--storage.path={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start Alertmanager");
        self.child = Some(child);
    }

    /// Kills it, as an outage would; [`TestAlertmanager::restart`] brings it
    /// back with the silences it had stored.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn restart(&mut self) {
        self.stop();
        self.launch();
        assert!(
            self.wait_ready(Duration::from_secs(20)).await,
            "Alertmanager did not come back: {}",
            self.log_tail()
        );
    }

    async fn wait_ready(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && matches!(child.try_wait(), Ok(Some(_)))
            {
                return false;
            }
            if let Ok(r) = client.get(format!("{}/-/ready", self.url())).send().await
                && r.status().is_success()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("alertmanager.log")
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// `GET /api/v2/silences`, as Alertmanager has them.
    pub async fn silences(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/api/v2/silences", self.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The active silences only.
    pub async fn active_silences(&self) -> Vec<serde_json::Value> {
        self.silences()
            .await
            .into_iter()
            .filter(|s| s["status"]["state"] == "active")
            .collect()
    }

    /// `amtool silence add`, as an operator at a shell would; answers with
    /// the new silence's id.
    pub fn amtool_silence(&self, matchers: &[&str], author: &str, comment: &str) -> String {
        let out = Command::new("amtool")
            .arg(format!("--alertmanager.url={}", self.url()))
            .args(["silence", "add"])
            .args(matchers)
            .arg(format!("--author={author}"))
            .arg(format!("--comment={comment}"))
            .arg("--duration=2h")
            .output()
            .expect("amtool (Debian's prometheus-alertmanager package)");
        assert!(
            out.status.success(),
            "amtool: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}
