//! Loki delivery against a local server that speaks the push API as Loki
//! does: every report arrives, in order, with its original timestamp,
//! through 429 (with and without Retry-After), 500, a hang, dropped
//! connections and refusals; a full spool drops the oldest; and an agent
//! killed with SIGKILL at random points of a send, 50 times, loses nothing
//! and never sends a report with two timestamps.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use site_status_agent::loki::{
    Auth, Backoff, DropReason, Log, LogLevel, LokiClient, LokiConfig, PushEvents, PushResult,
    Sender, StreamLabels,
};
use site_status_agent::metrics::{Metrics, MetricsEvents, Target};
use site_status_agent::spool::{REJECTED_DIR, Spool, SpoolConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fake Loki does with one push.
#[derive(Debug, Clone)]
enum Reply {
    Status(u16, Option<&'static str>),
    /// Reads the push and never answers (until long after the client's
    /// timeout): not stored.
    Hang,
    /// Closes the connection without an answer, before storing.
    DropBefore,
    /// Stores the push, then closes without an answer: the answer is lost.
    DropAfter,
    /// Stores the push and answers 204 after a delay.
    SlowOk(Duration),
}

#[derive(Debug, Clone)]
struct Received {
    labels: BTreeMap<String, String>,
    ts: String,
    line: String,
    /// Loki stored it (2xx, or stored and the answer lost).
    stored: bool,
    tenant: Option<String>,
    authorization: Option<String>,
}

type Script = Box<dyn FnMut() -> Reply + Send>;

#[derive(Clone)]
struct FakeLoki {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeLoki {
    async fn start(script: Script) -> FakeLoki {
        FakeLoki::start_limited(script, None).await
    }

    /// Answers a push whose body is over `limit` bytes as Loki 2.8 does
    /// over its gRPC limit (4 MiB): a 500 naming the limit, nothing stored.
    async fn start_limited(script: Script, limit: Option<usize>) -> FakeLoki {
        FakeLoki::start_with(script, limit, None).await
    }

    /// Answers `500` to every push whose line holds `poison`, as a Loki
    /// that cannot take one report (and takes the others) would.
    async fn start_with(
        script: Script,
        limit: Option<usize>,
        poison: Option<&'static str>,
    ) -> FakeLoki {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script));
        let rec = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(stream, script.clone(), rec.clone(), limit, poison));
            }
        });
        FakeLoki { addr, received }
    }

    fn scripted(replies: Vec<Reply>) -> Script {
        let mut replies: VecDeque<Reply> = replies.into();
        Box::new(move || replies.pop_front().unwrap_or(Reply::Status(204, None)))
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn stored(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.stored).collect()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One HTTP/1.1 connection, keep-alive, requests with Content-Length (what
/// reqwest sends for a body of known length).
async fn serve(
    mut stream: TcpStream,
    script: Arc<Mutex<Script>>,
    received: Arc<Mutex<Vec<Received>>>,
    limit: Option<usize>,
    poison: Option<&'static str>,
) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_string();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf[head_end..head_end + length].to_vec();
        buf.drain(..head_end + length);

        if let Some(limit) = limit
            && body.len() > limit
        {
            received.lock().unwrap().push(Received {
                labels: BTreeMap::new(),
                ts: String::new(),
                line: format!("<{} bytes: too large>", body.len()),
                stored: false,
                tenant: None,
                authorization: None,
            });
            let message = format!(
                "rpc error: code = ResourceExhausted desc = grpc: received message larger than max ({} vs. {limit})",
                body.len()
            );
            if respond(&mut stream, 500, None, &message).await.is_err() {
                return;
            }
            continue;
        }
        // What Loki checks before it stores anything.
        let parsed = decode_push(&request_line, &headers, &body);
        let Ok((labels, ts, line)) = parsed else {
            let _ = respond(
                &mut stream,
                400,
                None,
                parsed.err().as_deref().unwrap_or(""),
            )
            .await;
            continue;
        };
        let poisoned = poison.is_some_and(|p| line.contains(p));
        let reply = if poisoned {
            Reply::Status(500, None)
        } else {
            (script.lock().unwrap())()
        };
        let stored = matches!(
            reply,
            Reply::DropAfter | Reply::SlowOk(_) | Reply::Status(200..=299, _)
        );
        received.lock().unwrap().push(Received {
            labels,
            ts,
            line,
            stored,
            tenant: headers.get("x-scope-orgid").cloned(),
            authorization: headers.get("authorization").cloned(),
        });
        match reply {
            Reply::Status(code, retry_after) => {
                if respond(&mut stream, code, retry_after, "").await.is_err() {
                    return;
                }
            }
            Reply::SlowOk(delay) => {
                tokio::time::sleep(delay).await;
                if respond(&mut stream, 204, None, "").await.is_err() {
                    return;
                }
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                return;
            }
            Reply::DropBefore | Reply::DropAfter => return,
        }
    }
}

type Push = (BTreeMap<String, String>, String, String);

fn decode_push(
    request_line: &str,
    headers: &HashMap<String, String>,
    body: &[u8],
) -> Result<Push, String> {
    if request_line != "POST /loki/api/v1/push HTTP/1.1" {
        return Err(format!("unexpected request {request_line}"));
    }
    if headers.get("content-type").map(String::as_str) != Some("application/json") {
        return Err("not JSON".into());
    }
    let push: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let streams = push["streams"].as_array().ok_or("no streams")?;
    if streams.len() != 1 {
        return Err("one stream per push expected".into());
    }
    let labels: BTreeMap<String, String> = streams[0]["stream"]
        .as_object()
        .ok_or("no stream labels")?
        .iter()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                v.as_str().ok_or("label not a string")?.to_string(),
            ))
        })
        .collect::<Result<_, String>>()?;
    let values = streams[0]["values"].as_array().ok_or("no values")?;
    if values.len() != 1 {
        return Err("one entry per push expected".into());
    }
    // Loki answers 400 to a number here.
    let ts = values[0][0].as_str().ok_or("timestamp is not a string")?;
    ts.parse::<i64>()
        .map_err(|_| "timestamp is not nanoseconds")?;
    let line = values[0][1].as_str().ok_or("line is not a string")?;
    Ok((labels, ts.to_string(), line.to_string()))
}

async fn respond(
    stream: &mut TcpStream,
    code: u16,
    retry_after: Option<&str>,
    body: &str,
) -> std::io::Result<()> {
    let extra = retry_after
        .map(|r| format!("retry-after: {r}\r\n"))
        .unwrap_or_default();
    let text = format!(
        "HTTP/1.1 {code} Fake\r\ncontent-length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await
}

/// Counts by label, and passes everything on to the agent's own metrics,
/// so a test also sees what /metrics shows.
struct Counted {
    pushed: Mutex<HashMap<String, u64>>,
    dropped: Mutex<HashMap<String, u64>>,
    spool: Mutex<Option<(usize, u64)>>,
    metrics: MetricsEvents,
}

impl Default for Counted {
    fn default() -> Self {
        Counted {
            pushed: Mutex::default(),
            dropped: Mutex::default(),
            spool: Mutex::default(),
            metrics: MetricsEvents(Arc::new(Metrics::new(&Target::default(), false, "0"))),
        }
    }
}

impl PushEvents for Counted {
    fn pushed(&self, result: PushResult) {
        *self
            .pushed
            .lock()
            .unwrap()
            .entry(result.label().into())
            .or_default() += 1;
        self.metrics.pushed(result);
    }
    fn dropped(&self, reason: DropReason, n: u64) {
        *self
            .dropped
            .lock()
            .unwrap()
            .entry(reason.label().into())
            .or_default() += n;
        self.metrics.dropped(reason, n);
    }
    fn spool(&self, depth: usize, bytes: u64) {
        *self.spool.lock().unwrap() = Some((depth, bytes));
        self.metrics.spool(depth, bytes);
    }
}

impl Counted {
    fn pushed(&self, result: &str) -> u64 {
        self.pushed
            .lock()
            .unwrap()
            .get(result)
            .copied()
            .unwrap_or(0)
    }
    fn dropped(&self, reason: &str) -> u64 {
        self.dropped
            .lock()
            .unwrap()
            .get(reason)
            .copied()
            .unwrap_or(0)
    }
}

fn labels() -> StreamLabels {
    StreamLabels {
        site: "borger".into(),
        env: "prod".into(),
        profile: "kk_borger".into(),
    }
}

fn fast_backoff() -> Backoff {
    Backoff {
        min: Duration::from_millis(10),
        max: Duration::from_millis(80),
    }
}

fn config(url: &str) -> LokiConfig {
    let mut config = LokiConfig::new(url, labels());
    config.timeout = Duration::from_millis(400);
    config.backoff = fast_backoff();
    config
}

fn quiet() -> Log {
    Log::new(LogLevel::Error)
}

fn open(dir: &Path, events: Arc<Counted>) -> Arc<Spool> {
    Arc::new(Spool::open(SpoolConfig::new(dir), events, quiet()).unwrap())
}

fn sender(config: &LokiConfig, spool: Arc<Spool>, events: Arc<Counted>) -> Sender {
    Sender::new(
        LokiClient::new(config).unwrap(),
        spool,
        events,
        config.backoff,
        quiet(),
    )
}

fn report(i: u64) -> String {
    format!("{{\"report\":{i}}}")
}

/// A realistic run start, so the timestamps look like what Loki gets.
const T0: i64 = 1_795_000_000_000_000_000;

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Each line stored with one timestamp only; returns line → timestamp.
fn one_timestamp_per_line(stored: &[Received]) -> BTreeMap<String, String> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for r in stored {
        if let Some(ts) = seen.insert(r.line.clone(), r.ts.clone()) {
            assert_eq!(ts, r.ts, "{} stored with two timestamps", r.line);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_arrives_in_order_with_its_timestamp_through_every_failure() {
    let loki = FakeLoki::start(FakeLoki::scripted(vec![
        Reply::Status(500, None),
        Reply::Status(429, None),
        Reply::Status(429, Some("1")),
        Reply::DropBefore,
        Reply::DropAfter,
        Reply::Hang,
        Reply::Status(503, None),
        Reply::Status(204, None),
        Reply::Status(200, None),
        Reply::Status(502, None),
    ]))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let spool_dir = dir.path().join("spool");
    let events = Arc::new(Counted::default());
    let spool = open(&spool_dir, events.clone());
    for i in 0..5 {
        spool.push(T0 + i as i64 * 1_000, &report(i)).unwrap();
    }
    let mut config = config(&loki.url());
    config.tenant = Some("tenant-a".into());
    config.auth = Auth::BearerTokenFile(token);
    let started = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(20),
        sender(&config, spool.clone(), events.clone()).drain(),
    )
    .await
    .unwrap();
    // The 429 with Retry-After: 1 was waited for, though the backoff is ms.
    assert!(started.elapsed() >= Duration::from_secs(1));

    let stored = loki.stored();
    let by_line = one_timestamp_per_line(&stored);
    for i in 0..5u64 {
        assert_eq!(
            by_line.get(&report(i)),
            Some(&(T0 + i as i64 * 1_000).to_string()),
            "report {i} missing or with another timestamp"
        );
    }
    // In order: a report is never stored after a newer one.
    let order: Vec<&String> = stored.iter().map(|r| &r.ts).collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    // Only the lost answer (DropAfter) made a second copy, with the same
    // timestamp, which Loki deduplicates.
    assert_eq!(stored.len(), 6);
    assert_eq!(stored[0].ts, stored[1].ts);

    for r in loki.received() {
        assert_eq!(r.labels.get("job").map(String::as_str), Some("site-status"));
        assert_eq!(r.labels.get("site").map(String::as_str), Some("borger"));
        assert_eq!(r.labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(
            r.labels.get("profile").map(String::as_str),
            Some("kk_borger")
        );
        assert_eq!(r.labels.len(), 4);
        assert_eq!(r.tenant.as_deref(), Some("tenant-a"));
        assert_eq!(r.authorization.as_deref(), Some("Bearer s3cret-token"));
    }
    assert!(spool.oldest().is_none());
    assert_eq!(
        files(&spool_dir),
        Vec::<String>::new(),
        "nothing left behind"
    );
    assert_eq!(events.pushed("success"), 5);
    // The sender's results are the metric's: the success series moves.
    let text = events.metrics.0.encode();
    for line in [
        "site_status_agent_loki_pushes_total{result=\"success\"} 5\n",
        "site_status_agent_loki_pushes_total{result=\"rate_limited\"} 2\n",
        "site_status_agent_loki_pushes_total{result=\"connection_error\"} 2\n",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert_eq!(events.pushed("rate_limited"), 2);
    assert_eq!(events.pushed("server_error"), 3);
    assert_eq!(events.pushed("timeout"), 1);
    assert_eq!(events.pushed("connection_error"), 2);
    assert_eq!(*events.spool.lock().unwrap(), Some((0, 0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_reports_go_to_rejected_and_the_next_ones_are_still_sent() {
    let loki = FakeLoki::start(FakeLoki::scripted(vec![
        Reply::Status(204, None),
        Reply::Status(400, None),
        Reply::Status(413, None),
        Reply::Status(204, None),
    ]))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(Counted::default());
    let spool = open(dir.path(), events.clone());
    for i in 0..4 {
        spool.push(T0 + i as i64, &report(i)).unwrap();
    }
    let rejected_names: Vec<String> = files(dir.path())[1..3].to_vec();
    let mut config = config(&loki.url());
    let pass = dir.path().join("basic");
    std::fs::write(&pass, "agent:pa:ss\n").unwrap();
    config.auth = Auth::BasicAuthFile(pass);
    tokio::time::timeout(
        Duration::from_secs(10),
        sender(&config, spool.clone(), events.clone()).drain(),
    )
    .await
    .unwrap();

    // Each push was made once: refusals are not retried.
    let received = loki.received();
    assert_eq!(received.len(), 4);
    let stored: Vec<String> = loki.stored().into_iter().map(|r| r.line).collect();
    assert_eq!(stored, vec![report(0), report(3)]);
    assert_eq!(files(&dir.path().join(REJECTED_DIR)), rejected_names);
    assert_eq!(
        std::fs::read_to_string(dir.path().join(REJECTED_DIR).join(&rejected_names[0])).unwrap(),
        report(1)
    );
    assert_eq!(spool.rejected(), 2);
    // 400 is a refusal; 413 a refusal for size, of a report too small to
    // trim further.
    assert_eq!(events.dropped("rejected"), 1);
    assert_eq!(events.dropped("too_large"), 1);
    assert_eq!(events.pushed("rejected"), 2);
    assert_eq!(spool.depth(), 0);
    // agent:pa:ss — the password may hold colons.
    assert_eq!(
        received[0].authorization.as_deref(),
        Some("Basic YWdlbnQ6cGE6c3M=")
    );
    assert_eq!(received[0].tenant, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_drops_the_oldest_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(Counted::default());
    let mut spool_config = SpoolConfig::new(dir.path());
    spool_config.max_reports = 3;
    let spool = Arc::new(Spool::open(spool_config, events.clone(), quiet()).unwrap());
    for i in 0..5 {
        spool.push(T0 + i as i64, &report(i)).unwrap();
    }
    assert_eq!(spool.depth(), 3);
    assert_eq!(files(dir.path()).len(), 3);
    assert_eq!(events.dropped("spool_full"), 2);
    assert_eq!(
        *events.spool.lock().unwrap(),
        Some((3, 3 * report(0).len() as u64))
    );

    let loki = FakeLoki::start(FakeLoki::scripted(vec![])).await;
    sender(&config(&loki.url()), spool.clone(), events.clone())
        .drain()
        .await;
    let stored: Vec<String> = loki.stored().into_iter().map(|r| r.line).collect();
    assert_eq!(stored, vec![report(2), report(3), report(4)]);

    // Bytes bound too, and it never drops the newest report.
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(Counted::default());
    let mut spool_config = SpoolConfig::new(dir.path());
    spool_config.max_bytes = 2 * report(0).len() as u64 + 1;
    let spool = Spool::open(spool_config, events.clone(), quiet()).unwrap();
    for i in 0..4 {
        spool.push(T0 + i as i64, &report(i)).unwrap();
    }
    assert_eq!(spool.depth(), 2);
    assert_eq!(spool.read(&spool.oldest().unwrap()).unwrap(), report(2));
    assert_eq!(events.dropped("spool_full"), 2);
    spool.push(T0 + 9, &"x".repeat(100)).unwrap();
    assert_eq!(spool.depth(), 1);
    assert_eq!(spool.bytes(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_spool_held_is_sent_at_start_and_half_written_files_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let spool = open(dir.path(), Arc::new(Counted::default()));
        spool.push(T0 + 1, &report(1)).unwrap();
        spool.push(T0 + 2, &report(2)).unwrap();
    }
    std::fs::write(dir.path().join(".half-written.report.tmp"), "{\"rep").unwrap();
    let events = Arc::new(Counted::default());
    let spool = open(dir.path(), events.clone());
    assert_eq!(files(dir.path()).len(), 2, "temporary file left");
    assert_eq!(
        *events.spool.lock().unwrap(),
        Some((2, 2 * report(1).len() as u64))
    );
    let loki = FakeLoki::start(FakeLoki::scripted(vec![])).await;
    let sender = Arc::new(sender(&config(&loki.url()), spool.clone(), events.clone()));
    let running = tokio::spawn({
        let sender = sender.clone();
        async move { sender.run().await }
    });
    // A report pushed while the sender waits wakes it.
    let until = Instant::now() + Duration::from_secs(10);
    while loki.stored().len() < 2 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    spool.push(T0 + 3, &report(3)).unwrap();
    // Loki holds a push before its answer reaches the sender, which only
    // then removes the report from the spool.
    while (loki.stored().len() < 3 || spool.depth() > 0) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.abort();
    let stored: Vec<(String, String)> = loki.stored().into_iter().map(|r| (r.ts, r.line)).collect();
    assert_eq!(
        stored,
        vec![
            ((T0 + 1).to_string(), report(1)),
            ((T0 + 2).to_string(), report(2)),
            ((T0 + 3).to_string(), report(3)),
        ]
    );
    assert_eq!(spool.depth(), 0);
}

/// splitmix64: deterministic, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const CHILD: &str = "SITE_STATUS_TEST_CRASH_CHILD";

/// Not a test of its own: the crash test runs this test binary again with
/// `CHILD` set, and this is the agent it kills. It spools one new report
/// (its timestamp taken from the clock, as the runner does) and drains.
#[test]
fn crash_child() {
    let Ok(spool_dir) = std::env::var(CHILD) else {
        return;
    };
    let url = std::env::var("CRASH_LOKI_URL").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let events = Arc::new(Counted::default());
        let spool = open(Path::new(&spool_dir), events.clone());
        if let Ok(i) = std::env::var("CRASH_REPORT") {
            let ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i64;
            spool.push(ts, &format!("{{\"report\":{i}}}")).unwrap();
            println!("spooled {i} {ts}");
        }
        sender(&config(&url), spool, events).drain().await;
        println!("drained");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_points_of_a_send_and_restarted_it_loses_nothing() {
    let mut server_rng = Rng(7);
    let loki = FakeLoki::start(Box::new(move || match server_rng.below(10) {
        0 => Reply::Status(500, None),
        1 => Reply::DropAfter,
        2 => Reply::Status(429, Some("0")),
        _ => Reply::SlowOk(Duration::from_millis(server_rng.below(30))),
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().to_path_buf();
    let url = loki.url();
    let exe = std::env::current_exe().unwrap();
    let run = move |report: Option<u64>, kill_after: Option<Duration>| {
        let mut command = std::process::Command::new(&exe);
        command
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, &spool_dir)
            .env("CRASH_LOKI_URL", &url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        if let Some(i) = report {
            command.env("CRASH_REPORT", i.to_string());
        }
        let mut child = command.spawn().unwrap();
        if let Some(delay) = kill_after {
            std::thread::sleep(delay);
            // SIGKILL; an error only means it had already exited.
            let _ = child.kill();
        }
        let output = child.wait_with_output().unwrap();
        (
            output.status,
            String::from_utf8_lossy(&output.stdout).to_string(),
        )
    };
    let received_before_last = loki.received.clone();
    let (spooled, killed_mid_way, final_out, before_last) =
        tokio::task::spawn_blocking(move || {
            let mut rng = Rng(13);
            let mut spooled: BTreeMap<String, String> = BTreeMap::new();
            let mut killed_mid_way = 0;
            for i in 0..50 {
                let (_, out) = run(Some(i), Some(Duration::from_millis(rng.below(120))));
                for line in out.lines() {
                    // libtest prints its "test crash_child ... " before it.
                    if let Some(rest) = line.split_once("spooled ").map(|(_, r)| r) {
                        let (i, ts) = rest.split_once(' ').unwrap();
                        spooled.insert(format!("{{\"report\":{i}}}"), ts.to_string());
                    }
                }
                if !out.contains("drained") {
                    killed_mid_way += 1;
                }
            }
            let before_last = received_before_last.lock().unwrap().len();
            let (status, out) = run(None, None);
            assert!(status.success(), "the last run failed: {out}");
            (spooled, killed_mid_way, out, before_last)
        })
        .await
        .unwrap();
    assert!(final_out.contains("drained"));
    eprintln!(
        "{killed_mid_way} of 50 runs killed before they drained; {} reports known spooled; \
         {before_last} pushes received before the last run",
        spooled.len()
    );
    // Kills must have landed during sends, not only before them.
    assert!(
        before_last >= 10,
        "only {before_last} pushes before the last run"
    );
    // The test is only worth something if it killed sends and let some
    // reports be spooled.
    assert!(killed_mid_way >= 10, "only {killed_mid_way} runs killed");
    assert!(
        spooled.len() >= 10,
        "only {} reports spooled",
        spooled.len()
    );

    let stored = loki.stored();
    let by_line = one_timestamp_per_line(&stored);
    for (line, ts) in &spooled {
        assert_eq!(by_line.get(line), Some(ts), "{line} lost or re-stamped");
    }
    // In order: the first copy of each report comes after the first copy
    // of every older one.
    let mut firsts: Vec<i64> = Vec::new();
    for r in &stored {
        let ts: i64 = r.ts.parse().unwrap();
        if !firsts.contains(&ts) {
            firsts.push(ts);
        }
    }
    assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{firsts:?}");
    assert_eq!(files(dir.path()), Vec::<String>::new(), "spool not empty");
    assert_eq!(files(&dir.path().join(REJECTED_DIR)), Vec::<String>::new());
}

/// Loki 2.8's gRPC message limit, which the stand-in enforces.
const LOKI_GRPC_LIMIT: usize = 4 << 20;

/// A valid report of about `bytes` bytes: one requirement whose value is
/// huge, as drush printing a 5 MiB report did.
fn big_report(i: u64, bytes: usize) -> String {
    serde_json::json!({
        "report": i,
        "success": true,
        "requirements": {
            "cron": {"title": "Cron", "sid": 0, "value": "ok"},
            "huge": {"title": "Huge", "sid": 1, "value": "x".repeat(bytes)},
        },
    })
    .to_string()
}

/// Failure 1: one 5 MiB report was retried for ever against Loki's 4 MiB
/// limit and held back every later report (0 in Loki after 60 s, 21
/// spooled). Now it is trimmed below the push limit and everything
/// arrives, in order, at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_report_is_trimmed_and_does_not_hold_back_the_next_ones() {
    let loki = FakeLoki::start_limited(FakeLoki::scripted(vec![]), Some(LOKI_GRPC_LIMIT)).await;
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(Counted::default());
    let spool = open(dir.path(), events.clone());
    let big = big_report(0, 5 << 20);
    spool.push(T0, &big).unwrap();
    for i in 1..4 {
        spool.push(T0 + i as i64, &report(i)).unwrap();
    }
    // The default limit (3 MiB), as the binary has it.
    let mut config = config(&loki.url());
    config.timeout = Duration::from_secs(10);
    assert_eq!(config.max_push_bytes, 3 << 20);
    tokio::time::timeout(
        Duration::from_secs(30),
        sender(&config, spool.clone(), events.clone()).drain(),
    )
    .await
    .expect("the sender is stuck on the oversized report");

    let stored = loki.stored();
    assert_eq!(stored.len(), 4, "{:?}", loki.received().len());
    // Never sent above the limit, so never refused.
    assert_eq!(loki.received().len(), 4);
    let first: Value = serde_json::from_str(&stored[0].line).unwrap();
    assert_eq!(first["report"], 0);
    assert_eq!(first["success"], true);
    assert_eq!(first["trimmed_from_bytes"], big.len());
    assert_eq!(first["requirements"]["cron"]["value"], "ok");
    assert!(
        first["requirements"]["huge"]["value"]
            .as_str()
            .unwrap()
            .ends_with('…')
    );
    assert!(stored[0].line.len() <= 3 << 20);
    assert_eq!(stored[0].ts, T0.to_string());
    let rest: Vec<String> = stored[1..].iter().map(|r| r.line.clone()).collect();
    assert_eq!(rest, vec![report(1), report(2), report(3)]);
    assert_eq!(spool.depth(), 0);
    assert_eq!(events.pushed("success"), 4);
    // The spool keeps the original until Loki took it; nothing dropped.
    assert_eq!(events.dropped("too_large"), 0);
}

/// A push limit set above Loki's: Loki's `500 … larger than max` is a
/// refusal for size, not an outage. The report is trimmed further at once
/// rather than retried for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_naming_the_size_limit_is_a_refusal_and_the_report_is_trimmed_further() {
    let loki = FakeLoki::start_limited(FakeLoki::scripted(vec![]), Some(LOKI_GRPC_LIMIT)).await;
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(Counted::default());
    let spool = open(dir.path(), events.clone());
    spool.push(T0, &big_report(0, 5 << 20)).unwrap();
    spool.push(T0 + 1, &report(1)).unwrap();
    let mut config = config(&loki.url());
    config.timeout = Duration::from_secs(10);
    config.max_push_bytes = 8 << 20;
    tokio::time::timeout(
        Duration::from_secs(30),
        sender(&config, spool.clone(), events.clone()).drain(),
    )
    .await
    .expect("the sender retried the size refusal");
    let received = loki.received();
    assert_eq!(
        received.len(),
        3,
        "one refusal, then the trimmed one, then the next"
    );
    assert!(!received[0].stored);
    let stored = loki.stored();
    assert_eq!(stored.len(), 2);
    assert!(stored[0].line.contains("trimmed_from_bytes"));
    assert_eq!(stored[1].line, report(1));
    assert_eq!(events.pushed("rejected"), 1);
    assert_eq!(events.pushed("server_error"), 0);
}

/// What cannot be trimmed (not a JSON object) is moved to `rejected/` and
/// counted as too large, and /metrics says so next to the real successes
/// (failure 7: the success counter once never moved).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrimmable_report_goes_to_rejected_as_too_large_and_metrics_count_it() {
    let loki = FakeLoki::start_limited(FakeLoki::scripted(vec![]), Some(LOKI_GRPC_LIMIT)).await;
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(Counted::default());
    let spool = open(dir.path(), events.clone());
    spool.push(T0, &report(0)).unwrap();
    spool.push(T0 + 1, &"y".repeat(5 << 20)).unwrap();
    spool.push(T0 + 2, &report(2)).unwrap();
    let mut config = config(&loki.url());
    config.timeout = Duration::from_secs(10);
    tokio::time::timeout(
        Duration::from_secs(30),
        sender(&config, spool.clone(), events.clone()).drain(),
    )
    .await
    .unwrap();
    let stored: Vec<String> = loki.stored().into_iter().map(|r| r.line).collect();
    assert_eq!(stored, vec![report(0), report(2)]);
    assert_eq!(loki.received().len(), 2, "the oversized one is never sent");
    assert_eq!(files(&dir.path().join(REJECTED_DIR)).len(), 1);
    let metrics = events.metrics.0.encode();
    for line in [
        "site_status_agent_loki_pushes_total{result=\"success\"} 2\n",
        "site_status_agent_reports_dropped_total{reason=\"too_large\"} 1\n",
        "site_status_agent_reports_dropped_total{reason=\"rejected\"} 0\n",
        "site_status_agent_spool_reports 0\n",
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
}

/// Failure 2: `Retry-After: 0` (or a date in the past) was obeyed to the
/// letter: 114 pushes in 5 s. Now the normal backoff is the floor: with a
/// first step of 200 ms doubling to 1 s, 1.5 s of `429 Retry-After: 0`
/// holds at most 5 pushes (jittered waits of at least 100, 200, 400 and
/// 500 ms), not hundreds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_zero_or_in_the_past_is_not_a_retry_storm() {
    let past = "Wed, 21 Oct 2015 07:28:00 GMT";
    let loki = FakeLoki::start(Box::new(move || {
        if fastrand::bool() {
            Reply::Status(429, Some("0"))
        } else {
            Reply::Status(503, Some(past))
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(Counted::default());
    let spool = open(dir.path(), events.clone());
    spool.push(T0, &report(0)).unwrap();
    let mut config = config(&loki.url());
    config.backoff = Backoff {
        min: Duration::from_millis(200),
        max: Duration::from_secs(1),
    };
    let sender = sender(&config, spool.clone(), events.clone());
    let _ = tokio::time::timeout(Duration::from_millis(1500), sender.drain()).await;
    let pushes = loki.received().len();
    assert!((2..=5).contains(&pushes), "{pushes} pushes in 1.5 s");
    assert_eq!(spool.depth(), 1, "still spooled, not dropped");
}

/// No report holds back the later ones for longer than `stuck_after`: a
/// report Loki answers 500 for ever, while it takes the others, is moved
/// to `rejected/` as undeliverable once the next one went through out of
/// turn and it failed once more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_loki_never_takes_holds_back_the_next_ones_only_for_a_bounded_time() {
    let loki = FakeLoki::start_with(FakeLoki::scripted(vec![]), None, Some("poison")).await;
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(Counted::default());
    let spool = open(dir.path(), events.clone());
    spool.push(T0, "{\"poison\":1}").unwrap();
    for i in 1..4 {
        spool.push(T0 + i as i64, &report(i)).unwrap();
    }
    let mut config = config(&loki.url());
    config.stuck_after = Duration::from_millis(300);
    let started = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(10),
        sender(&config, spool.clone(), events.clone()).drain(),
    )
    .await
    .expect("one report held back the others for ever");
    assert!(started.elapsed() < Duration::from_secs(3));
    let stored: Vec<String> = loki.stored().into_iter().map(|r| r.line).collect();
    assert_eq!(stored, vec![report(1), report(2), report(3)]);
    assert_eq!(events.dropped("undeliverable"), 1);
    assert_eq!(files(&dir.path().join(REJECTED_DIR)).len(), 1);
    assert_eq!(spool.depth(), 0);
}

/// ... and an outage is not mistaken for such a report: when Loki takes
/// nothing, nothing is dropped however long it lasts, and everything
/// arrives in order once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_stuck_after_drops_nothing() {
    let loki = FakeLoki::start(FakeLoki::scripted(vec![Reply::Status(503, None); 25])).await;
    let dir = tempfile::tempdir().unwrap();
    let events = Arc::new(Counted::default());
    let spool = open(dir.path(), events.clone());
    for i in 0..4 {
        spool.push(T0 + i as i64, &report(i)).unwrap();
    }
    let mut config = config(&loki.url());
    config.stuck_after = Duration::from_millis(100);
    config.backoff = Backoff {
        min: Duration::from_millis(10),
        max: Duration::from_millis(40),
    };
    tokio::time::timeout(
        Duration::from_secs(20),
        sender(&config, spool.clone(), events.clone()).drain(),
    )
    .await
    .unwrap();
    assert!(events.pushed("server_error") >= 25);
    let stored: Vec<String> = loki.stored().into_iter().map(|r| r.line).collect();
    let mut sorted = stored.clone();
    sorted.sort();
    assert_eq!(sorted, (0..4).map(report).collect::<Vec<_>>());
    assert_eq!(events.dropped("undeliverable"), 0);
    assert_eq!(spool.depth(), 0);
}
