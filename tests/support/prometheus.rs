//! `TestPrometheus`: a real Prometheus (Debian's package, /usr/bin/prometheus)
//! on a free loopback port with its own temporary data directory, scraping
//! the given targets every second.
//!
//! Timing to know about: Prometheus is ready ~0.1–0.5 s after it starts,
//! but its service discovery hands targets to the scrape manager on a fixed
//! 5-second tick, so the first scrape comes ~5–6 s after every start or
//! restart. After that, a change in the exporter shows up within ~1 s.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::exporter::FleetExporter;
use super::fleet::Labels;

pub const DEFAULT_BINARY: &str = "/usr/bin/prometheus";
const INSTALL_HINT: &str = "install Debian's prometheus package (scripts/test.sh does it)";
/// How long `wait_for` and friends poll before giving up. Covers the
/// ~5-10 s before the first scrape, with room for a loaded machine.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
const LOG_TAIL_LINES: usize = 40;

/// One element of an instant query's result (a scalar result is one sample
/// with no labels).
#[derive(Debug, Clone, PartialEq)]
pub struct PromSample {
    pub metric: Labels,
    pub value: f64,
    /// Unix time of the evaluation, seconds.
    pub timestamp: f64,
}

impl PromSample {
    /// A label's value, "" if absent (as in PromQL).
    pub fn label(&self, name: &str) -> &str {
        self.metric.get(name).map(String::as_str).unwrap_or("")
    }
}

/// Configures a [`TestPrometheus`] before starting it.
#[derive(Debug, Clone)]
pub struct PrometheusBuilder {
    binary: PathBuf,
    targets: Vec<String>,
    scrape_interval: Duration,
    scrape_timeout: Option<Duration>,
    honor_labels: bool,
    job_extra: String,
    evaluation_interval: Option<Duration>,
    /// `(file name, YAML)`, written beside prometheus.yml.
    rule_files: Vec<(String, String)>,
    /// Targets of their own with target labels, as one site's status
    /// workload is scraped: `(host:port, [(label, value)])`.
    labelled_targets: Vec<(String, Vec<(String, String)>)>,
}

impl Default for PrometheusBuilder {
    fn default() -> Self {
        PrometheusBuilder {
            binary: PathBuf::from(DEFAULT_BINARY),
            targets: Vec::new(),
            scrape_interval: Duration::from_secs(1),
            scrape_timeout: None,
            honor_labels: true,
            job_extra: String::new(),
            evaluation_interval: None,
            rule_files: Vec::new(),
            labelled_targets: Vec::new(),
        }
    }
}

impl PrometheusBuilder {
    /// Adds a scrape target, `host:port` (e.g. [`FleetExporter::target`]).
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.targets.push(target.into());
        self
    }

    /// A target of its own, carrying target labels (`env`, `site`,
    /// `profile`), as a site's status workload is scraped: its `up` then
    /// names the site.
    pub fn labelled_target(mut self, target: impl Into<String>, labels: &[(&str, &str)]) -> Self {
        self.labelled_targets.push((
            target.into(),
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ));
        self
    }

    pub fn targets<I, T>(mut self, targets: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.targets.extend(targets.into_iter().map(Into::into));
        self
    }

    /// Default 1 s. The scrape timeout defaults to the interval.
    pub fn scrape_interval(mut self, interval: Duration) -> Self {
        self.scrape_interval = interval;
        self
    }

    pub fn scrape_timeout(mut self, timeout: Duration) -> Self {
        self.scrape_timeout = Some(timeout);
        self
    }

    /// Default true: the exporter's own labels win over target labels.
    pub fn honor_labels(mut self, honor: bool) -> Self {
        self.honor_labels = honor;
        self
    }

    /// YAML added as it is to the `site-status` scrape job (indented for
    /// it), e.g. `metric_relabel_configs:` to rename labels the way a real
    /// fleet might.
    pub fn job_yaml(mut self, yaml: &str) -> Self {
        self.job_extra.push_str(yaml);
        if !yaml.ends_with('\n') {
            self.job_extra.push('\n');
        }
        self
    }

    /// How often rules are evaluated; default the scrape interval (1 s).
    pub fn evaluation_interval(mut self, interval: Duration) -> Self {
        self.evaluation_interval = Some(interval);
        self
    }

    /// Adds a rule file (Prometheus' rule-file YAML, `groups:` and all),
    /// written as `rules-N.yml` beside the configuration and listed under
    /// `rule_files`. Alerts show in `/api/v1/alerts` (and as `ALERTS`
    /// series) one evaluation after their expression holds for `for`.
    /// A file Prometheus refuses makes `start` panic with its log.
    pub fn rule_file(mut self, yaml: &str) -> Self {
        let name = format!("rules-{}.yml", self.rule_files.len());
        self.rule_files.push((name, yaml.to_string()));
        self
    }

    /// The Prometheus binary; default /usr/bin/prometheus.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = path.into();
        self
    }

    /// The configuration file this builder writes.
    pub fn config_yaml(&self) -> String {
        let interval = prom_duration(self.scrape_interval);
        let timeout = prom_duration(self.scrape_timeout.unwrap_or(self.scrape_interval));
        let evaluation = prom_duration(self.evaluation_interval.unwrap_or(self.scrape_interval));
        let mut yaml = format!(
            "global:\n  scrape_interval: {interval}\n  scrape_timeout: {timeout}\n  evaluation_interval: {evaluation}\n"
        );
        if !self.rule_files.is_empty() {
            // Relative paths are resolved against the configuration file's
            // directory.
            yaml.push_str("rule_files:\n");
            for (name, _) in &self.rule_files {
                yaml.push_str(&format!("  - '{name}'\n"));
            }
        }
        yaml.push_str(&format!(
            "scrape_configs:\n  - job_name: site-status\n    honor_labels: {}\n    static_configs:\n",
            self.honor_labels
        ));
        if self.targets.is_empty() {
            yaml.push_str("      - targets: []\n");
        } else {
            yaml.push_str("      - targets:\n");
            for target in &self.targets {
                yaml.push_str(&format!("          - '{}'\n", target.replace('\'', "''")));
            }
        }
        for (target, labels) in &self.labelled_targets {
            yaml.push_str(&format!(
                "      - targets: ['{}']\n        labels:\n",
                target.replace('\'', "''")
            ));
            for (name, value) in labels {
                yaml.push_str(&format!(
                    "          {name}: '{}'\n",
                    value.replace('\'', "''")
                ));
            }
        }
        for line in self.job_extra.lines() {
            yaml.push_str("    ");
            yaml.push_str(line);
            yaml.push('\n');
        }
        yaml
    }

    /// Starts Prometheus and waits until it is ready. Panics, with the tail
    /// of its log, if it cannot start.
    pub async fn start(self) -> TestPrometheus {
        if !self.binary.is_file() {
            panic!(
                "Prometheus not found at {}: {INSTALL_HINT}",
                self.binary.display()
            );
        }
        remove_directories_of_dead_test_runs();
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .expect("create a temporary directory for Prometheus");
        std::fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string())
            .expect("write the owner file");
        std::fs::write(dir.path().join("prometheus.yml"), self.config_yaml())
            .expect("write prometheus.yml");
        for (name, yaml) in &self.rule_files {
            std::fs::write(dir.path().join(name), yaml).expect("write a rule file");
        }
        std::fs::create_dir(dir.path().join("data")).expect("create the data directory");
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(2))
            // A pooled connection to a killed Prometheus would fail the
            // first query after a restart.
            .pool_max_idle_per_host(0)
            .build()
            .expect("build an HTTP client");
        let mut prometheus = TestPrometheus {
            binary: self.binary,
            port: 0,
            dir,
            child: None,
            client,
            starts: 0,
        };
        // The port is free when we look, but another process may take it
        // before Prometheus binds it: then try another.
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            prometheus.port = free_port();
            match prometheus.launch().await {
                Ok(()) => return prometheus,
                Err(Launch::PortTaken) if attempt < ATTEMPTS => continue,
                Err(e) => prometheus.start_failed(&e),
            }
        }
        unreachable!()
    }
}

/// A running Prometheus with its own port and data directory. Dropping it
/// kills the process (and waits for it) and removes the directory.
pub struct TestPrometheus {
    binary: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    client: reqwest::Client,
    starts: usize,
}

#[derive(Debug)]
enum Launch {
    PortTaken,
    Failed(String),
}

impl std::fmt::Display for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Launch::PortTaken => write!(f, "its port was taken by another process"),
            Launch::Failed(why) => f.write_str(why),
        }
    }
}

impl TestPrometheus {
    pub fn builder() -> PrometheusBuilder {
        PrometheusBuilder::default()
    }

    /// Starts Prometheus scraping `targets` (`host:port`) with the defaults.
    pub async fn start<I, T>(targets: I) -> TestPrometheus
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        PrometheusBuilder::default().targets(targets).start().await
    }

    /// Starts Prometheus scraping one exporter.
    pub async fn scraping(exporter: &FleetExporter) -> TestPrometheus {
        Self::start([exporter.target()]).await
    }

    /// `http://127.0.0.1:PORT`, the base URL of its HTTP API.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Prometheus's stderr (and stdout), across restarts.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("prometheus.log")
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Freezes Prometheus with SIGSTOP, as a machine swapping to death or a
    /// stopped container would: its port still accepts connections (the
    /// kernel queues them) but nothing answers. [`TestPrometheus::thaw`]
    /// resumes it; killing or dropping it works while frozen.
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP, "SIGSTOP");
    }

    /// Resumes a frozen Prometheus (SIGCONT).
    pub fn thaw(&self) {
        self.signal(libc::SIGCONT, "SIGCONT");
    }

    fn signal(&self, signal: libc::c_int, name: &str) {
        let pid = self.pid().expect("Prometheus is not running");
        // SAFETY: kill(2) on our own child, which has not been reaped.
        let sent = unsafe { libc::kill(pid as libc::pid_t, signal) };
        assert_eq!(
            sent,
            0,
            "{name} to Prometheus ({pid}): {}",
            io::Error::last_os_error()
        );
    }

    /// SIGKILLs Prometheus, as a crash would, and reaps it. Its data
    /// directory stays for [`TestPrometheus::restart`]. Does nothing if it
    /// is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts Prometheus again on the same port and data directory (killing
    /// it first if it runs) and waits until it is ready. The samples it had
    /// written to its WAL are back at once; scraping resumes ~5 s later.
    pub async fn restart(&mut self) {
        self.kill();
        // Nothing should hold the port, but a scrape or query socket of the
        // old process may linger for a moment: retry for a bit.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.launch().await {
                Ok(()) => return,
                Err(Launch::PortTaken) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => self.start_failed(&e),
            }
        }
    }

    /// Spawns the process and waits until `/-/ready` answers 200.
    async fn launch(&mut self) -> Result<(), Launch> {
        self.kill();
        self.starts += 1;
        let log_path = self.log_path();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Launch::Failed(format!("open {}: {e}", log_path.display())))?;
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = writeln!(
            log,
            "=== site-status test harness: start #{} on port {} ===",
            self.starts, self.port
        );
        let stdout = log
            .try_clone()
            .map_err(|e| Launch::Failed(format!("clone log file: {e}")))?;
        let mut command = Command::new(&self.binary);
        command
            .arg(format!(
                "--config.file={}",
                self.dir.path().join("prometheus.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", self.data_dir().display()))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--log.level=info")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(log));
        let child = spawn_tied_to_this_process(command).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Launch::Failed(format!(
                    "cannot run {}: {e}: {INSTALL_HINT}",
                    self.binary.display()
                ))
            } else {
                Launch::Failed(format!("cannot run {}: {e}", self.binary.display()))
            }
        })?;
        self.child = Some(child);

        let deadline = Instant::now() + READY_TIMEOUT;
        let ready_url = format!("{}/-/ready", self.url());
        loop {
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                let log = std::fs::read(&log_path).unwrap_or_default();
                let this_run = String::from_utf8_lossy(&log[(log_start as usize).min(log.len())..]);
                if this_run.contains("address already in use") {
                    return Err(Launch::PortTaken);
                }
                return Err(Launch::Failed(format!("Prometheus exited with {status}")));
            }
            if let Ok(response) = self.client.get(&ready_url).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(Launch::Failed(format!(
                    "Prometheus was not ready within {READY_TIMEOUT:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn start_failed(&mut self, error: &Launch) -> ! {
        self.kill();
        panic!(
            "could not start Prometheus ({}) on 127.0.0.1:{} with data in {}: {error}\n\
             --- last lines of its log ---\n{}",
            self.binary.display(),
            self.port,
            self.data_dir().display(),
            self.log_tail(LOG_TAIL_LINES)
        );
    }

    /// The raw JSON of `/api/v1/query` (`data` and all), at `time` (Unix
    /// seconds) or now. Errors carry the HTTP status and body.
    pub async fn query_json(&self, promql: &str, time: Option<f64>) -> Result<Value, String> {
        let mut params = vec![("query", promql.to_string())];
        if let Some(time) = time {
            params.push(("time", format!("{time:.3}")));
        }
        let response = self
            .client
            .get(format!("{}/api/v1/query", self.url()))
            .query(&params)
            .send()
            .await
            .map_err(|e| format!("query {promql:?}: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("query {promql:?}: reading the body: {e}"))?;
        if !status.is_success() {
            return Err(format!("query {promql:?}: HTTP {status}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("query {promql:?}: {e}: {body}"))
    }

    /// An instant query now; vector and scalar results.
    pub async fn query(&self, promql: &str) -> Result<Vec<PromSample>, String> {
        parse_instant(&self.query_json(promql, None).await?)
    }

    /// An instant query at `time` (Unix seconds).
    pub async fn query_at(&self, promql: &str, time: f64) -> Result<Vec<PromSample>, String> {
        parse_instant(&self.query_json(promql, Some(time)).await?)
    }

    /// Polls `promql` until `condition` holds for its result, for at most
    /// [`WAIT_TIMEOUT`]; returns that result. Failed queries (e.g. while
    /// Prometheus restarts) count as not yet. Panics on timeout with the
    /// last result and Prometheus's log.
    pub async fn wait_for<F>(&self, promql: &str, condition: F) -> Vec<PromSample>
    where
        F: FnMut(&[PromSample]) -> bool,
    {
        self.wait_for_within(promql, WAIT_TIMEOUT, condition).await
    }

    pub async fn wait_for_within<F>(
        &self,
        promql: &str,
        timeout: Duration,
        mut condition: F,
    ) -> Vec<PromSample>
    where
        F: FnMut(&[PromSample]) -> bool,
    {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.query(promql).await {
                Ok(samples) if condition(&samples) => return samples,
                Ok(samples) => format!("{samples:?}"),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                panic!(
                    "Prometheus at {}: `{promql}` did not meet the condition within {timeout:?}.\n\
                     last result: {}\n--- last lines of its log ---\n{}",
                    self.url(),
                    truncate(&last, 3000),
                    self.log_tail(LOG_TAIL_LINES)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The `drupal_*` series Prometheus has now for `exporter`'s target,
    /// without the `instance` and `job` labels.
    pub async fn fleet_series(
        &self,
        exporter: &FleetExporter,
    ) -> Result<BTreeMap<Labels, f64>, String> {
        let promql = format!(
            "{{__name__=~\"drupal_.+\", instance=\"{}\"}}",
            exporter.target()
        );
        Ok(self
            .query(&promql)
            .await?
            .into_iter()
            .map(|mut sample| {
                sample.metric.remove("instance");
                sample.metric.remove("job");
                (sample.metric, sample.value)
            })
            .collect())
    }

    /// Waits (at most [`WAIT_TIMEOUT`]) until Prometheus's latest view of
    /// `exporter`'s target is exactly what the exporter serves now: every
    /// series and value, and nothing it stopped serving. Panics with a diff
    /// on timeout. (While the exporter is down this never holds.)
    ///
    /// Each poll compares every series: ~0.1 s for 320 sites, ~1 s for
    /// 2,000 in a debug build. For 10,000 sites use a longer scrape
    /// interval (a scrape takes ~3 s) and [`Self::wait_for_fleet_within`].
    pub async fn wait_for_fleet(&self, exporter: &FleetExporter) {
        self.wait_for_fleet_within(exporter, WAIT_TIMEOUT).await
    }

    pub async fn wait_for_fleet_within(&self, exporter: &FleetExporter, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let count = format!(
            "count({{__name__=~\"drupal_.+\", instance=\"{}\"}})",
            exporter.target()
        );
        loop {
            // Comparing every series is heavy for a big fleet: only do it
            // once at least the number of series is right.
            let expected_count = exporter.series_count();
            let counted = match self.query(&count).await {
                Ok(samples) => samples.first().map_or(0, |s| s.value as usize),
                Err(_) => 0,
            };
            let problem = if counted != expected_count {
                format!("{expected_count} series expected, {counted} in Prometheus")
            } else {
                let expected = exporter.series();
                match self.fleet_series(exporter).await {
                    Ok(actual) if actual == expected => return,
                    Ok(actual) => describe_difference(&expected, &actual),
                    Err(e) => e,
                }
            };
            if Instant::now() >= deadline {
                panic!(
                    "Prometheus at {} did not reflect the fleet served at {} within {timeout:?} \
                     ({} scrapes served): {}\n--- last lines of its log ---\n{}",
                    self.url(),
                    exporter.target(),
                    exporter.scrapes(),
                    problem,
                    self.log_tail(LOG_TAIL_LINES)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

impl Drop for TestPrometheus {
    fn drop(&mut self) {
        // SIGKILL and reap; the TempDir field then removes the directory.
        self.kill();
    }
}

/// The rules as shipped (`deploy/prometheus/site-status.rules.yml`),
/// evaluated every second instead of every 30 s (recording) and every
/// minute (alerts), so a test does not wait for the first evaluation.
pub fn shipped_rules_every_second() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/site-status.rules.yml");
    let yaml = std::fs::read_to_string(path).expect("read the shipped rules");
    for interval in ["interval: 30s", "interval: 1m"] {
        assert!(
            yaml.contains(interval),
            "the rules' intervals changed: no {interval:?}"
        );
    }
    yaml.replace("interval: 30s", "interval: 1s")
        .replace("interval: 1m", "interval: 1s")
}

/// `promtool check metrics` on a scrape's body; fails the test with
/// promtool's words, naming `what` was scraped.
pub fn promtool_check_metrics(metrics: &str, what: &str) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package) on PATH");
    if let Some(mut stdin) = promtool.stdin.take() {
        stdin
            .write_all(metrics.as_bytes())
            .expect("write to promtool");
    }
    let out = promtool.wait_with_output().expect("promtool's answer");
    assert!(
        out.status.success(),
        "{what}: promtool check metrics: {}{}\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn parse_instant(json: &Value) -> Result<Vec<PromSample>, String> {
    if json["status"] != "success" {
        return Err(format!("query failed: {json}"));
    }
    let data = &json["data"];
    let point = |pair: &Value| -> Result<(f64, f64), String> {
        let timestamp = pair[0]
            .as_f64()
            .ok_or_else(|| format!("bad sample time in {pair}"))?;
        let value = pair[1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("bad sample value in {pair}"))?;
        Ok((timestamp, value))
    };
    match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .ok_or_else(|| format!("vector without result: {json}"))?
            .iter()
            .map(|element| {
                let metric = element["metric"]
                    .as_object()
                    .ok_or_else(|| format!("sample without metric: {element}"))?
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                let (timestamp, value) = point(&element["value"])?;
                Ok(PromSample {
                    metric,
                    value,
                    timestamp,
                })
            })
            .collect(),
        Some("scalar") => {
            let (timestamp, value) = point(&data["result"])?;
            Ok(vec![PromSample {
                metric: Labels::new(),
                value,
                timestamp,
            }])
        }
        other => Err(format!("unsupported result type {other:?}: {json}")),
    }
}

fn describe_difference(expected: &BTreeMap<Labels, f64>, actual: &BTreeMap<Labels, f64>) -> String {
    const SHOWN: usize = 5;
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !actual.contains_key(*k))
        .collect();
    let unexpected: Vec<_> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    let different: Vec<_> = expected
        .iter()
        .filter_map(|(k, v)| {
            let got = actual.get(k)?;
            (got.to_bits() != v.to_bits()).then_some((k, v, got))
        })
        .collect();
    format!(
        "{} series expected, {} in Prometheus; {} missing (e.g. {:?}); {} unexpected (e.g. {:?}); \
         {} with other values (e.g. {:?} (labels, served, in Prometheus))",
        expected.len(),
        actual.len(),
        missing.len(),
        &missing[..missing.len().min(SHOWN)],
        unexpected.len(),
        &unexpected[..unexpected.len().min(SHOWN)],
        different.len(),
        &different[..different.len().min(SHOWN)],
    )
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

fn prom_duration(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

const DIR_PREFIX: &str = "site-status-prometheus-";
/// Holds the pid of the test process that owns the directory.
const OWNER_FILE: &str = "owner.pid";

/// A test binary that was killed (SIGKILL, abort) ran no destructors, so
/// its Prometheus directories stay behind (its Prometheus processes died
/// with it). Removes those whose owner is gone, once per test binary.
fn remove_directories_of_dead_test_runs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            if !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
                continue;
            }
            // No owner file yet: being created right now, leave it.
            let Ok(owner) = std::fs::read_to_string(entry.path().join(OWNER_FILE)) else {
                continue;
            };
            let alive = Path::new("/proc").join(owner.trim()).exists();
            if !owner.trim().is_empty() && !alive {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port")
        .port()
}

/// Spawns `command` so that it dies with this process, even if the test
/// binary is killed and no destructor runs: on Linux the child asks for
/// SIGKILL when its parent goes (PR_SET_PDEATHSIG). That signal follows
/// the *thread* that forked it, so every spawn happens on one thread that
/// lives as long as the process.
fn spawn_tied_to_this_process(command: Command) -> io::Result<Child> {
    type Job = Box<dyn FnOnce() + Send>;
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, incoming) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("test-process-spawner".into())
            .spawn(move || {
                for job in incoming {
                    job();
                }
            })
            .expect("spawn the process-spawner thread");
        jobs
    });
    let (result_tx, result_rx) = mpsc::channel();
    let job: Job = Box::new(move || {
        let mut command = command;
        die_with_parent(&mut command);
        let _ = result_tx.send(command.spawn());
    });
    spawner
        .send(job)
        .map_err(|_| io::Error::other("the process-spawner thread is gone"))?;
    result_rx
        .recv()
        .map_err(|_| io::Error::other("the process-spawner thread is gone"))?
}

#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::raw::{c_int, c_ulong};
    use std::os::unix::process::CommandExt;

    unsafe extern "C" {
        fn prctl(option: c_int, ...) -> c_int;
        fn getppid() -> c_int;
    }
    const PR_SET_PDEATHSIG: c_int = 1;
    const SIGKILL: c_ulong = 9;
    const ESRCH: i32 = 3;
    let parent = std::process::id() as c_int;
    // SAFETY: between fork and exec the closure only makes two system
    // calls and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if getppid() != parent {
                return Err(io::Error::from_raw_os_error(ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}
