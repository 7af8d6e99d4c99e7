//! The agent's metrics and HTTP endpoints over a real socket, driven by a
//! stand-in trigger instead of drush: `/metrics` for the drush fixtures
//! (checked with `promtool check metrics`), vanished and kept requirements,
//! hostile requirement ids, and the status codes and rate limit of every
//! endpoint.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use site_status_agent::http;
use site_status_agent::metrics::{Metrics, Target};
use site_status_agent::outcome::{Outcome, Versions};
use site_status_agent::shared::Agent;
use site_status_contract::failure::{FailureClass, RunFailure};
use site_status_contract::line::ReportLine;
use site_status_contract::{Requirement, parse_report_line};
use tokio::sync::Notify;

const T: &str = "site=\"borger\",env=\"prod\",profile=\"kk_borger\"";

fn fixture(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/../tests/fixtures/drush/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn outcome_of(drush: serde_json::Value, n: i64) -> Outcome {
    let report = parse_report_line(&drush.to_string(), 0);
    assert!(report.is_parsed());
    outcome(report.requirements, drush, n)
}

fn outcome(requirements: Vec<Requirement>, drush: serde_json::Value, n: i64) -> Outcome {
    let success = !requirements.is_empty();
    Outcome {
        started_unix_ns: (1_700_000_000 + n) * 1_000_000_000,
        duration_seconds: 4.5,
        success,
        run_failure: (!success).then_some(RunFailure {
            exit_code: Some(1),
            ..RunFailure::new(FailureClass::ExitCode)
        }),
        failure: (!success).then(|| "drush exited 1".to_string()),
        stderr_tail: String::new(),
        requirements,
        versions: Versions {
            drupal: "10.3.6".into(),
            php: "8.3.1".into(),
            drush: "13.3.1".into(),
            profile: "1.0.0".into(),
            install_profile: "kk_base".into(),
        },
        line: ReportLine {
            site: "borger".into(),
            env: "prod".into(),
            profile: "kk_borger".into(),
            generated_at: format!("run {n}"),
            duration_seconds: 4.5,
            drush_exit_code: Some(if success { 0 } else { 1 }),
            drupal_version: Some("10.3.6".into()),
            requirements: drush,
            stderr_tail: if success {
                String::new()
            } else {
                "drush exited 1\n".into()
            },
            run_failure: (!success).then_some(RunFailure {
                exit_code: Some(1),
                ..RunFailure::new(FailureClass::ExitCode)
            }),
        },
    }
}

fn failed(n: i64) -> Outcome {
    outcome(Vec::new(), serde_json::Value::Null, n)
}

fn metrics() -> Arc<Metrics> {
    let target = Target {
        site: "borger".into(),
        env: "prod".into(),
        profile: "kk_borger".into(),
    };
    Arc::new(Metrics::new(&target, true, "0.1.0"))
}

/// A trigger that hands out numbered outcomes of a fixture, one per run.
fn counting_trigger(
    runs: Arc<AtomicUsize>,
) -> impl Fn() -> std::future::Ready<Outcome> + Send + Sync + 'static {
    move || {
        let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
        std::future::ready(outcome_of(fixture("drush13-healthy.json"), n as i64))
    }
}

async fn start(agent: Arc<Agent>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(http::serve(
        listener,
        agent,
        std::future::pending(),
        http::Limits::default(),
    ));
    format!("http://{addr}")
}

fn first_run_finished(metrics: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with("site_status_agent_first_run_finished{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .expect("site_status_agent_first_run_finished")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// `promtool check metrics` on `text`; `None` when promtool is absent.
fn promtool(text: &str) -> Option<(bool, String)> {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            // CI installs promtool (scripts/test.sh): there a missing tool
            // is a failure, never a check passed by skipping it.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true and promtool could not be started ({e})"
            );
            eprintln!(
                "SKIPPED promtool check: promtool could not be started ({e}); install Debian's prometheus package"
            );
            return None;
        }
    };
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
    Some((out.status.success() && said.trim().is_empty(), said))
}

fn assert_promtool_passes(text: &str) {
    if let Some((ok, said)) = promtool(text) {
        assert!(ok, "promtool check metrics failed: {said}\non\n{text}");
    }
}

fn severity_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("drupal_requirement_severity{"))
        .collect()
}

#[test]
fn promtool_rejects_what_it_should() {
    // So a passing check below means something: promtool does fail on a
    // counter without _total and on a missing HELP.
    if let Some((ok, _)) = promtool("# TYPE foo counter\nfoo 1\n") {
        assert!(!ok);
    }
}

#[test]
fn every_fixture_gives_its_requirements_and_passes_promtool() {
    for name in [
        "drush13-healthy.json",
        "drush13-broken-full.json",
        "drush13-danish.json",
        "drush11-default-fields.json",
        "drush10-list.json",
        "drush10-filtered-object.json",
        "drush13-severity2.json",
    ] {
        let drush = fixture(name);
        let o = outcome_of(drush, 1);
        let m = metrics();
        m.record_run(&o);
        let text = m.encode();
        assert_eq!(severity_lines(&text).len(), o.requirements.len(), "{name}");
        for r in &o.requirements {
            let value = r
                .severity
                .map_or("NaN".to_string(), |s| s.sid().to_string());
            let mut label = String::new();
            for c in r.label.chars() {
                match c {
                    '\\' => label.push_str("\\\\"),
                    '"' => label.push_str("\\\""),
                    '\n' => label.push_str("\\n"),
                    c => label.push(c),
                }
            }
            let line =
                format!("drupal_requirement_severity{{{T},requirement=\"{label}\"}} {value}\n");
            assert!(text.contains(&line), "{name}: missing {line}");
        }
        assert!(text.contains(&format!("drupal_status_report_success{{{T}}} 1\n")));
        assert_promtool_passes(&text);
    }
}

#[test]
fn the_broken_fixture_shows_its_errors() {
    let m = metrics();
    let o = outcome_of(fixture("drush13-broken-full.json"), 1);
    let errors: Vec<&str> = o
        .requirements
        .iter()
        .filter(|r| r.severity.is_some_and(|s| s.sid() == 2))
        .map(|r| r.label.as_str())
        .collect();
    assert!(!errors.is_empty());
    m.record_run(&o);
    let text = m.encode();
    for label in errors {
        assert!(text.contains(&format!(
            "drupal_requirement_severity{{{T},requirement=\"{label}\"}} 2\n"
        )));
    }
}

#[test]
fn a_vanished_requirement_disappears() {
    let m = metrics();
    let drush = fixture("drush13-broken-full.json");
    let first = outcome_of(drush.clone(), 1);
    let gone = first.requirements[0].label.clone();
    m.record_run(&first);
    let needle = format!("requirement=\"{gone}\"");
    assert!(m.encode().contains(&needle));

    let mut fewer = drush;
    fewer.as_object_mut().unwrap().remove(&gone).unwrap();
    let second = outcome_of(fewer, 2);
    m.record_run(&second);
    let text = m.encode();
    assert!(!text.contains(&needle), "{gone} still in\n{text}");
    assert_eq!(severity_lines(&text).len(), first.requirements.len() - 1);
}

#[test]
fn a_failed_run_keeps_the_last_successful_requirements() {
    let m = metrics();
    let good = outcome_of(fixture("drush13-broken-full.json"), 1);
    m.record_run(&good);
    let before = severity_lines(&m.encode())
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>();

    m.record_run(&failed(2));
    let text = m.encode();
    assert_eq!(severity_lines(&text), before);
    assert!(text.contains(&format!("drupal_status_report_success{{{T}}} 0\n")));
    assert!(text.contains(&format!(
        "drupal_status_report_last_run_timestamp_seconds{{{T}}} 1700000002\n"
    )));
    assert!(text.contains(&format!(
        "drupal_status_report_last_success_timestamp_seconds{{{T}}} 1700000001\n"
    )));
    assert!(text.contains(&format!(
        "site_status_agent_runs_total{{{T},result=\"failed\"}} 1\n"
    )));
    assert!(text.contains(&format!(
        "site_status_agent_runs_total{{{T},result=\"success\"}} 1\n"
    )));
    assert!(text.contains(&format!(
        "drupal_info{{{T},drupal_version=\"10.3.6\",php_version=\"8.3.1\",drush_version=\"13.3.1\",profile_version=\"1.0.0\",install_profile=\"kk_base\"}} 1\n"
    )));
    assert_promtool_passes(&text);
}

#[test]
fn hostile_requirement_ids_are_escaped() {
    let hostile = serde_json::json!({
        "quo\"te": {"title": "a", "sid": 2},
        "back\\slash": {"title": "b", "sid": 1},
        "new\nline} 7\ndrupal_requirement_severity{requirement=\"x\"": {"title": "c", "sid": 0},
        "\u{1b}[31mred\u{202e}bidi\r\t": {"title": "d", "sid": -1},
        "public:///.htaccess": {"title": "e", "sid": 0},
        "# HELP fake": {"title": "f", "sid": 0},
    });
    let m = metrics();
    m.record_run(&outcome_of(hostile, 1));
    let text = m.encode();
    for line in [
        format!("drupal_requirement_severity{{{T},requirement=\"quo\\\"te\"}} 2\n"),
        format!("drupal_requirement_severity{{{T},requirement=\"back\\\\slash\"}} 1\n"),
        format!(
            "drupal_requirement_severity{{{T},requirement=\"new\\nline}} 7\\ndrupal_requirement_severity{{requirement=\\\"x\\\"\"}} 0\n"
        ),
        format!("drupal_requirement_severity{{{T},requirement=\"public:///.htaccess\"}} 0\n"),
    ] {
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
    // Six requirements, six sample lines: no id broke out of its line.
    assert_eq!(severity_lines(&text).len(), 6);
    assert!(!text.contains("\nline"));
    assert_promtool_passes(&text);
}

#[test]
fn no_target_labels_leaves_them_out() {
    let m = Metrics::new(&Target::default(), false, "0.1.0");
    m.record_run(&outcome_of(fixture("drush13-healthy.json"), 1));
    let text = m.encode();
    assert!(!text.contains("site="));
    assert!(text.contains("drupal_status_report_success 1\n"));
    assert!(text.contains("site_status_agent_build_info{version=\"0.1.0\"} 1\n"));
    assert_promtool_passes(&text);
}

#[tokio::test]
async fn endpoints_before_and_after_the_first_run() {
    let runs = Arc::new(AtomicUsize::new(0));
    let agent = Agent::new(metrics(), counting_trigger(runs.clone()));
    let base = start(agent.clone()).await;
    let c = client();

    let get = |path: &str| c.get(format!("{base}{path}")).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/livez").await.unwrap().status(), 200);
    // Ready before the first run: serving is what readiness means; the
    // first run has its own series.
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    assert_eq!(get("/report").await.unwrap().status(), 404);
    assert_eq!(get("/nothing").await.unwrap().status(), 404);
    assert_eq!(get("/run").await.unwrap().status(), 405);
    let scrape = get("/metrics").await.unwrap();
    assert_eq!(scrape.status(), 200);
    assert_eq!(
        scrape.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = scrape.text().await.unwrap();
    assert!(!text.contains("drupal_"));
    assert!(
        text.contains("site_status_agent_first_run_finished{"),
        "{text}"
    );
    assert_eq!(first_run_finished(&text), 0.0);
    assert_promtool_passes(&text);

    let outcome = agent.run_once().await.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let report = get("/report").await.unwrap();
    assert_eq!(report.status(), 200);
    assert_eq!(report.headers()["content-type"], "application/json");
    assert_eq!(report.text().await.unwrap(), outcome.line.to_json());
    let text = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(text.contains("requirement=\"cron\""));
    assert_eq!(first_run_finished(&text), 1.0);
    assert_promtool_passes(&text);
}

#[tokio::test]
async fn a_failed_first_run_makes_the_agent_ready() {
    let agent = Agent::new(metrics(), || std::future::ready(failed(1)));
    let base = start(agent.clone()).await;
    agent.run_once().await.unwrap();
    let c = client();
    assert_eq!(
        c.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let report = c.get(format!("{base}/report")).send().await.unwrap();
    assert_eq!(report.status(), 200);
    let json: serde_json::Value = serde_json::from_str(&report.text().await.unwrap()).unwrap();
    assert_eq!(json["drush_exit_code"], 1);
    assert_eq!(json["run_failure"]["class"], "exit_code");
    assert_eq!(json["run_failure"]["exit_code"], 1);
    assert_eq!(json["stderr_tail"], "drush exited 1\n");
    // And /metrics says why, in bounded labels.
    let metrics = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "drupal_status_report_failure{{{T},class=\"exit_code\",exit_code=\"1\"}} 1\n"
        )),
        "{metrics}"
    );
    assert_promtool_passes(&metrics);
}

#[tokio::test]
async fn post_run_is_rate_limited_with_retry_after() {
    let runs = Arc::new(AtomicUsize::new(0));
    let agent = Agent::new(metrics(), counting_trigger(runs.clone()));
    let base = start(agent).await;
    let c = client();

    let first = c.post(format!("{base}/run")).send().await.unwrap();
    assert_eq!(first.status(), 202);
    let second = c
        .post(format!("{base}/run?wait=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 429);
    let retry: u64 = second.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry), "Retry-After {retry}");
    // The started run finishes; the refused one never started.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let report = c.get(format!("{base}/report")).send().await.unwrap();
    assert_eq!(report.status(), 200);
}

#[tokio::test]
async fn post_run_is_allowed_again_after_the_interval() {
    let runs = Arc::new(AtomicUsize::new(0));
    let agent = Agent::with_manual_interval(
        metrics(),
        counting_trigger(runs.clone()),
        Duration::from_millis(300),
    );
    let base = start(agent).await;
    let c = client();
    let post = || c.post(format!("{base}/run?wait=true")).send();
    assert_eq!(post().await.unwrap().status(), 200);
    assert_eq!(post().await.unwrap().status(), 429);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let third = post().await.unwrap();
    assert_eq!(third.status(), 200);
    let json: serde_json::Value = serde_json::from_str(&third.text().await.unwrap()).unwrap();
    assert_eq!(json["generated_at"], "run 2");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn post_run_wait_answers_with_the_new_report() {
    let runs = Arc::new(AtomicUsize::new(0));
    let agent = Agent::new(metrics(), counting_trigger(runs.clone()));
    let base = start(agent.clone()).await;
    agent.run_once().await.unwrap();

    let answer = client()
        .post(format!("{base}/run?wait=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(json["generated_at"], "run 2");
    assert_eq!(json["requirements"]["cron"]["sid"], -1);
}

/// A trigger whose runs last until the test releases them, counting how
/// many run at once.
struct Held {
    release: Notify,
    now: AtomicUsize,
    most: AtomicUsize,
    started: AtomicUsize,
    order: Mutex<Vec<i64>>,
}

fn held_trigger(
    held: Arc<Held>,
) -> impl Fn() -> site_status_agent::shared::BoxFuture<Outcome> + Send + Sync {
    move || {
        let held = held.clone();
        Box::pin(async move {
            let n = held.started.fetch_add(1, Ordering::SeqCst) as i64 + 1;
            let now = held.now.fetch_add(1, Ordering::SeqCst) + 1;
            held.most.fetch_max(now, Ordering::SeqCst);
            held.release.notified().await;
            held.now.fetch_sub(1, Ordering::SeqCst);
            held.order.lock().unwrap().push(n);
            outcome_of(fixture("drush13-healthy.json"), n)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_never_overlap_and_a_busy_post_waits_for_the_run_going_on() {
    let held = Arc::new(Held {
        release: Notify::new(),
        now: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
        started: AtomicUsize::new(0),
        order: Mutex::new(Vec::new()),
    });
    let agent = Agent::with_manual_interval(metrics(), held_trigger(held.clone()), Duration::ZERO);
    let base = start(agent.clone()).await;

    let scheduled = tokio::spawn({
        let agent = agent.clone();
        async move { agent.run_once().await }
    });
    while held.started.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let c = client();
    // Busy: no second run is started, and a scrape does not wait for it.
    let busy = c.post(format!("{base}/run")).send().await.unwrap();
    assert_eq!(busy.status(), 202);
    assert_eq!(busy.text().await.unwrap(), "a run is already running\n");
    let scrape = tokio::time::timeout(
        Duration::from_secs(2),
        c.get(format!("{base}/metrics")).send(),
    )
    .await
    .expect("a scrape must not wait for the run")
    .unwrap();
    assert_eq!(scrape.status(), 200);

    let waiting = tokio::spawn({
        let c = c.clone();
        let url = format!("{base}/run?wait=true");
        async move { c.post(url).send().await.unwrap() }
    });
    let second_scheduled = tokio::spawn({
        let agent = agent.clone();
        async move { agent.run_once().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(held.started.load(Ordering::SeqCst), 1);

    held.release.notify_one();
    let answer = waiting.await.unwrap();
    assert_eq!(answer.status(), 200);
    let json: serde_json::Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(json["generated_at"], "run 1");
    assert_eq!(scheduled.await.unwrap().unwrap().line.generated_at, "run 1");

    // The second scheduled run waited for the first, then ran alone.
    while held.started.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    held.release.notify_one();
    let second = second_scheduled.await.unwrap().unwrap();
    assert_eq!(second.line.generated_at, "run 2");
    assert_eq!(held.most.load(Ordering::SeqCst), 1);
    assert_eq!(*held.order.lock().unwrap(), vec![1, 2]);
}

/// The server with `limits`, stopped when `stop` is notified; the task
/// ends when the shutdown is complete.
async fn start_limited(
    agent: Arc<Agent>,
    limits: http::Limits,
) -> (
    std::net::SocketAddr,
    Arc<Notify>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(Notify::new());
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        http::serve(
            listener,
            agent,
            async move { stopped.notified().await },
            limits,
        )
        .await
        .unwrap();
    });
    (addr, stop, task)
}

/// Half a request header: "GET /metrics HTTP/1.1\r\nhost: x\r\n", never
/// the blank line that ends it.
async fn half_header(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    stream
}

/// Whether the server closed `stream` within `within`.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // hyper may answer 408 before closing.
            Ok(Ok(_)) => continue,
        }
    }
}

/// Failure 3: a client that sent half a request header held its
/// connection open for ever, and kept SIGTERM's shutdown from completing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_header_is_cut_off_and_does_not_hold_the_shutdown() {
    let agent = Agent::new(metrics(), || std::future::ready(failed(1)));
    let limits = http::Limits {
        header_read: Duration::from_millis(300),
        drain: Duration::from_secs(2),
        ..http::Limits::default()
    };
    let (addr, stop, task) = start_limited(agent, limits).await;
    let mut slow = half_header(addr).await;
    assert!(
        closed_within(&mut slow, Duration::from_secs(3)).await,
        "half a header kept its connection past the header-read timeout"
    );
    // And with one held at the moment of shutdown, the server still ends
    // within the drain.
    let _held = half_header(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    stop.notify_one();
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("the shutdown waited on half a header")
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(2_500));
}

/// Failure 3: idle connections were never closed and never capped. At
/// the cap a new connection closes the longest-idle one, so a probe gets
/// in at once under a flood; an idle connection is closed after the idle
/// timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_does_not_keep_out_a_probe() {
    let agent = Agent::new(metrics(), || std::future::ready(failed(1)));
    let limits = http::Limits {
        max_connections: 16,
        idle: Duration::from_millis(500),
        ..http::Limits::default()
    };
    let (addr, _stop, _task) = start_limited(agent, limits).await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    for _ in 0..20 {
        idle.push(half_header(addr).await);
    }
    let started = std::time::Instant::now();
    let c = client();
    let answer = tokio::time::timeout(
        Duration::from_secs(2),
        c.get(format!("http://{addr}/metrics")).send(),
    )
    .await
    .expect("/metrics did not answer under the flood")
    .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    // The flood is closed: the oldest for room, the rest when idle.
    let mut closed = 0;
    for stream in &mut idle {
        if closed_within(stream, Duration::from_secs(2)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, idle.len());
}

/// Failure 4: SIGTERM with a client on `POST /run?wait=true` waited for
/// drush's timeout (56.8 s of 60 s), past the pod's grace. Now the client
/// is answered 503 at once, the run is cancelled (its future dropped,
/// which kills drush's group) and the server ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_a_waiting_run_at_once_and_cancels_it() {
    let cancelled = Arc::new(AtomicUsize::new(0));
    struct Dropped(Arc<AtomicUsize>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let seen = cancelled.clone();
    // A run that would take an hour, as a hung drush until its timeout;
    // no rate limit, so the second client waits on the first one's run.
    let agent = Agent::with_manual_interval(
        metrics(),
        move || {
            let guard = Dropped(seen.clone());
            async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(guard);
                failed(1)
            }
        },
        Duration::ZERO,
    );
    let (addr, stop, task) = start_limited(agent.clone(), http::Limits::default()).await;
    let c = client();
    let waiting = tokio::spawn({
        let c = c.clone();
        async move { c.post(format!("http://{addr}/run?wait=true")).send().await }
    });
    // A second client, waiting on the run the first one started.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = tokio::spawn({
        let c = c.clone();
        async move { c.post(format!("http://{addr}/run?wait=true")).send().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    stop.notify_one();
    for client in [waiting, second] {
        let answer = tokio::time::timeout(Duration::from_secs(3), client)
            .await
            .expect("a waiting client was not answered at shutdown")
            .unwrap()
            .unwrap();
        assert_eq!(answer.status(), 503);
        assert!(answer.text().await.unwrap().contains("shutting down"));
    }
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        cancelled.load(Ordering::SeqCst),
        1,
        "the run was not cancelled"
    );
    assert!(agent.start_manual().is_err() || agent.is_stopping());
}

/// Failure 5 (liveness): the scheduler once died after the first run while
/// /healthz said 200. A scheduler stuck past two intervals and a run's
/// timeout now fails /livez (and /healthz); on time, it passes.
#[tokio::test(start_paused = true)]
async fn liveness_fails_when_the_scheduler_does_not_tick() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = counting_trigger(runs.clone());
    let agent = Agent::new(metrics(), counted);
    let interval = Duration::from_secs(60);
    let timeout = Duration::from_secs(10);
    let scheduler = tokio::spawn({
        let agent = agent.clone();
        async move {
            agent
                .schedule(Duration::from_secs(5), interval, timeout)
                .await
        }
    });
    assert_eq!(agent.live(), Ok(()));
    tokio::time::sleep(Duration::from_secs(5 + 60 * 3 + 1)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    assert_eq!(agent.live(), Ok(()));
    // The scheduler dies (as the overflow panic once killed it).
    scheduler.abort();
    tokio::time::sleep(Duration::from_secs(60 + 10)).await;
    assert_eq!(agent.live(), Ok(()), "not yet two intervals and a timeout");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(agent.live().is_err());
}
