//! Soak: the agent's run path through 100,000 runs, 10,000 of which meet
//! a Loki that fails. A run is what the binary makes of one drush run
//! (the trigger in `main.rs`): drush's output read into an `Outcome`, the
//! metrics updated through `shared::Agent`, the report written durably to
//! the spool, and the real `loki::Sender` pushing it to a stand-in for
//! Loki on a local socket and removing it once answered 2xx. One run in
//! 100 starts a real process (`tests/fake-drush`) through the `Runner`,
//! and `/metrics` is scraped over HTTP every 10 runs, as Prometheus would.
//!
//! Loki's failures, in every 10,000 runs: an outage of 200 runs in a row,
//! made as fast as the agent can, 170 while Loki answers 503 to everything
//! (the spool, bounded at 100 reports here, must drop the oldest 70 and
//! count them) and 30 while it is back and the sender works off the full
//! spool (where a report can be dropped for room while its push is in
//! flight); and 800 spread over the rest: 500, 429 with `Retry-After: 0`,
//! 503 with a `Retry-After` date in the past, and a connection closed
//! without an answer (each failing once, then accepted), and 400 (refused
//! for good: `rejected/`).
//!
//! No waiting for backoff: `Sender::new` takes the backoff, and a zero
//! one leaves a retry waiting only for tokio's next millisecond tick.
//! tokio's paused clock would not do: the push crosses a real socket, and
//! a paused runtime that is only waiting for Loki's answer jumps its clock
//! to the client's timeout, failing pushes that did not fail.
//!
//! Every 10,000 runs it records the bytes the process holds on its heap
//! (a counting allocator) and its RSS; after warm-up the heap must stay
//! flat. And nothing may be lost without a count: by the agent's own
//! metrics, sent + dropped + still spooled = runs, and the stand-in Loki
//! must have taken exactly the reports sent, each once, in order.
//!
//! `cargo bench -p site-status-agent --bench agent_soak` (RUNS=20000 for a
//! shorter run; LOG=info for the agent's log lines on stderr, which the
//! default `error` keeps to the refused reports; SPOOL_DIR for the spool's
//! parent, /dev/shm by default: see [`spool_parent`]).

use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use site_status_agent::http;
use site_status_agent::loki::{
    Backoff, DropReason, Log, LogLevel, LokiClient, LokiConfig, PushEvents, PushResult, Sender,
    StreamLabels,
};
use site_status_agent::metrics::{self, Metrics, MetricsEvents, Target};
use site_status_agent::runner::{RunSpec, Runner, outcome_from_output};
use site_status_agent::shared::Agent;
use site_status_agent::spool::{REJECTED_DIR, Spool, SpoolConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[path = "../../benches/support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static ALLOCATOR: counting_alloc::Counting = counting_alloc::Counting;

/// The simulated clock: run `n` starts `n` minutes after this, and the
/// stand-in Loki reads the run's number back from the push's timestamp.
const START_NS: i64 = 1_800_000_000_000_000_000;
const RUN_EVERY_NS: i64 = 60_000_000_000;

/// Small, so that an outage of 170 runs overflows it.
const SPOOL_MAX_REPORTS: usize = 100;

const CYCLE: u64 = 10_000;
/// Loki down, then back while the spool is still full: see [`Fate`].
const OUTAGE: std::ops::Range<u64> = 5_000..5_170;
const RECOVERY: std::ops::Range<u64> = 5_170..5_200;
const SPAWN_EVERY: u64 = 100;
const SCRAPE_EVERY: u64 = 10;
/// Far more than a drain takes (milliseconds): past it the sender is stuck.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

const FIXTURES: [&[u8]; 4] = [
    include_bytes!("../../tests/fixtures/drush/drush13-healthy.json"),
    include_bytes!("../../tests/fixtures/drush/drush13-severity2.json"),
    include_bytes!("../../tests/fixtures/drush/drush13-broken-full.json"),
    include_bytes!("../../tests/fixtures/drush/drush13-danish.json"),
];
const FAILED_STDERR: &[u8] = b"\x1b[31mIn Connection.php line 79:\x1b[0m\n\
    SQLSTATE[HY000] [2002] Connection refused\n";
const GARBAGE: &[u8] = b"PHP Fatal error: oops <b>not json</b>\n";

/// What the stand-in Loki does with a run's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Healthy,
    /// Pushed while Loki answers 503 to everything, the driver not
    /// waiting for the sender, as runs would not.
    Outage,
    /// Pushed, still without waiting, once Loki is back and the sender
    /// works off the full spool: a report can be dropped for room while
    /// its push is in flight, and must not be counted sent and dropped.
    Recovery,
    ServerError,
    RateLimited,
    Unavailable,
    HangUp,
    /// 400: dropped by the agent, kept in `rejected/`.
    Refused,
}

impl Fate {
    fn of(run: u64) -> Fate {
        let k = run % CYCLE;
        if OUTAGE.contains(&k) {
            return Fate::Outage;
        }
        if RECOVERY.contains(&k) {
            return Fate::Recovery;
        }
        let outage_len = RECOVERY.end - OUTAGE.start;
        // The 9,800 runs outside the outage, numbered on without a gap:
        // 8 of every 98 fail, 800 in all.
        let m = if k < OUTAGE.start { k } else { k - outage_len };
        match m % 98 {
            10 | 30 | 50 => Fate::ServerError,
            20 | 60 => Fate::RateLimited,
            40 => Fate::Unavailable,
            70 => Fate::HangUp,
            90 => Fate::Refused,
            _ => Fate::Healthy,
        }
    }

    /// A run of an outage or its recovery, after which the driver does not
    /// wait for the sender.
    fn backlog(self) -> bool {
        matches!(self, Fate::Outage | Fate::Recovery)
    }
}

fn started_ns(run: u64) -> i64 {
    START_NS + run as i64 * RUN_EVERY_NS
}

fn run_of(ts_ns: i64) -> Option<u64> {
    let since = ts_ns.checked_sub(START_NS)?;
    (since >= 0 && since % RUN_EVERY_NS == 0).then_some((since / RUN_EVERY_NS) as u64)
}

/// What the stand-in Loki saw, in counters only, so it holds no more at
/// the end than at the start.
#[derive(Debug, Default)]
struct LokiState {
    /// The run whose report failed its one scripted failure: its retry is
    /// accepted. One is enough, as the sender sends strictly in order.
    failed_once: Option<u64>,
    last_accepted: Option<u64>,
    accepted: u64,
    /// Accepted out of order or twice.
    disorder: u64,
    /// Not a push as Loki wants it.
    malformed: u64,
}

enum Reply {
    Status(u16, Option<&'static str>, &'static str),
    /// Stored, and 204 after [`CATCH_UP_ANSWER`]: a Loki back from an
    /// outage is slow, and the slower it is, the longer each push of the
    /// backlog is in flight while new runs overflow the spool.
    SlowOk,
    /// Close the connection without an answer (nothing stored).
    HangUp,
}

const CATCH_UP_ANSWER: Duration = Duration::from_millis(2);

#[derive(Clone)]
struct FakeLoki {
    addr: SocketAddr,
    state: Arc<Mutex<LokiState>>,
    down: Arc<AtomicBool>,
}

impl FakeLoki {
    async fn start() -> FakeLoki {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port for the stand-in Loki");
        let addr = listener.local_addr().expect("the stand-in Loki's address");
        let loki = FakeLoki {
            addr,
            state: Arc::default(),
            down: Arc::default(),
        };
        let serving = loki.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serving.clone().serve(stream));
            }
        });
        loki
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LokiState> {
        self.state.lock().expect("the stand-in Loki's state")
    }

    fn decide(&self, body: &[u8]) -> Reply {
        let mut state = self.state();
        let Some(run) = push_timestamp(body).and_then(run_of) else {
            state.malformed += 1;
            return Reply::Status(400, None, "not a push of this soak");
        };
        if self.down.load(Ordering::SeqCst) {
            return Reply::Status(503, None, "Loki is down\n");
        }
        let failure = match Fate::of(run) {
            Fate::Refused => {
                return Reply::Status(400, None, "entry for stream has timestamp too old\n");
            }
            Fate::Healthy | Fate::Outage | Fate::Recovery => None,
            Fate::ServerError => Some(Reply::Status(500, None, "internal error\n")),
            Fate::RateLimited => Some(Reply::Status(
                429,
                Some("0"),
                "Ingestion rate limit exceeded\n",
            )),
            Fate::Unavailable => Some(Reply::Status(
                503,
                Some("Wed, 21 Oct 2015 07:28:00 GMT"),
                "ingester not ready\n",
            )),
            Fate::HangUp => Some(Reply::HangUp),
        };
        if let Some(reply) = failure
            && state.failed_once != Some(run)
        {
            state.failed_once = Some(run);
            return reply;
        }
        if state.last_accepted.is_some_and(|last| last >= run) {
            state.disorder += 1;
        }
        state.last_accepted = Some(run);
        state.accepted += 1;
        if Fate::of(run).backlog() {
            Reply::SlowOk
        } else {
            Reply::Status(204, None, "")
        }
    }

    /// One HTTP/1.1 connection, kept alive, requests with Content-Length
    /// (what reqwest sends for a body of known length).
    async fn serve(self, mut stream: TcpStream) {
        let mut buf = Vec::new();
        loop {
            let head_end = loop {
                if let Some(i) = find(&buf, b"\r\n\r\n") {
                    break i + 4;
                }
                if !read_more(&mut stream, &mut buf).await {
                    return;
                }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]);
            let length: usize = head
                .split("\r\n")
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < head_end + length {
                if !read_more(&mut stream, &mut buf).await {
                    return;
                }
            }
            let reply = self.decide(&buf[head_end..head_end + length]);
            buf.drain(..head_end + length);
            let (code, retry_after, body) = match reply {
                Reply::Status(code, retry_after, body) => (code, retry_after, body),
                Reply::SlowOk => {
                    tokio::time::sleep(CATCH_UP_ANSWER).await;
                    (204, None, "")
                }
                Reply::HangUp => return,
            };
            let reason = match code {
                204 => "No Content",
                400 => "Bad Request",
                429 => "Too Many Requests",
                500 => "Internal Server Error",
                _ => "Service Unavailable",
            };
            let retry = retry_after.map_or(String::new(), |r| format!("retry-after: {r}\r\n"));
            let answer = format!(
                "HTTP/1.1 {code} {reason}\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n{retry}\r\n{body}",
                body.len()
            );
            if stream.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The one entry's timestamp of a push body, as Loki reads it: a string.
fn push_timestamp(body: &[u8]) -> Option<i64> {
    let push: Value = serde_json::from_slice(body).ok()?;
    push["streams"][0]["values"][0][0].as_str()?.parse().ok()
}

/// The agent's own `MetricsEvents`, plus the spool's depth for the
/// driver: it waits for the sender between runs as the agent's minutes
/// between runs would.
struct Events {
    metrics: MetricsEvents,
    depth: watch::Sender<usize>,
}

impl PushEvents for Events {
    fn pushed(&self, result: PushResult) {
        self.metrics.pushed(result);
    }

    fn dropped(&self, reason: DropReason, n: u64) {
        self.metrics.dropped(reason, n);
    }

    fn spool(&self, depth: usize, bytes: u64) {
        self.metrics.spool(depth, bytes);
        self.depth.send_replace(depth);
    }
}

fn spec(command: Vec<String>) -> RunSpec {
    RunSpec {
        command,
        status_command: None,
        timeout: Duration::from_secs(120),
        site: "borger".into(),
        env: "prod".into(),
        profile: "kk_borger".into(),
    }
}

fn fake_drush(args: &[&str]) -> Vec<String> {
    let mut command = vec![
        "sh".to_string(),
        format!("{}/tests/fake-drush", env!("CARGO_MANIFEST_DIR")),
    ];
    command.extend(args.iter().map(|a| a.to_string()));
    command
}

/// What drush printed for a run not really started: mostly one of four
/// real report shapes, and now and then a drush that failed or printed
/// garbage, as a broken site's does.
fn drush_output(run: u64) -> Output {
    let (code, stdout, stderr): (i32, &[u8], &[u8]) = if run % 50 == 49 {
        (1, b"", FAILED_STDERR)
    } else if run % 97 == 96 {
        (0, GARBAGE, b"")
    } else {
        (0, FIXTURES[(run % FIXTURES.len() as u64) as usize], b"")
    };
    Output {
        // A wait status: the exit code sits in the second byte.
        status: ExitStatus::from_raw(code << 8),
        stdout: stdout.to_vec(),
        stderr: stderr.to_vec(),
    }
}

/// The sum of a family's samples whose labels hold `with` ("" for all).
fn total(text: &str, name: &str, with: &str) -> u64 {
    let sum: f64 = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(rest) => rest.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            labels.contains(with).then(|| value.parse::<f64>().ok())?
        })
        .sum();
    sum as u64
}

/// What `/metrics` says about the reports, the agent's own accounting.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    runs: u64,
    sent: u64,
    /// Push attempts that failed and were retried.
    retried: u64,
    dropped: u64,
    spool_full: u64,
    rejected: u64,
    spooled: u64,
}

impl Counts {
    fn of(text: &str) -> Counts {
        let pushes = total(text, metrics::PUSHES, "");
        let sent = total(text, metrics::PUSHES, "result=\"success\"");
        let refused = total(text, metrics::PUSHES, "result=\"rejected\"");
        Counts {
            runs: total(text, metrics::RUNS, ""),
            sent,
            retried: pushes - sent - refused,
            dropped: total(text, metrics::DROPPED, ""),
            spool_full: total(text, metrics::DROPPED, "reason=\"spool_full\""),
            rejected: total(text, metrics::DROPPED, "reason=\"rejected\""),
            spooled: total(text, metrics::SPOOL_REPORTS, ""),
        }
    }
}

struct Sample {
    runs: u64,
    live_bytes: usize,
    rss_kib: u64,
    counts: Counts,
    seconds: f64,
}

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf reads a constant of the system; no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096) / 1024
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test` runs bench targets too,
    // and a soak is no test.
    if !std::env::args().any(|a| a == "--bench") {
        println!("soak: measures only under `cargo bench -p site-status-agent --bench agent_soak`");
        return;
    }
    let runs = env_u64("RUNS").unwrap_or(100_000);
    let every = env_u64("SAMPLE_EVERY").unwrap_or(runs / 10).max(1);
    let log: LogLevel = std::env::var("LOG")
        .unwrap_or_else(|_| "error".into())
        .parse()
        .expect("LOG is debug, info, warn or error");
    // As the binary runs it: two workers.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let ok = runtime.block_on(soak(runs, every, Log::new(log)));
    if !ok {
        std::process::exit(1);
    }
}

struct Soak {
    agent: Arc<Agent>,
    spool: Arc<Spool>,
    loki: FakeLoki,
    depth: watch::Receiver<usize>,
    scraper: reqwest::Client,
    metrics_url: String,
}

impl Soak {
    async fn scrape(&self) -> String {
        self.scraper
            .get(&self.metrics_url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("GET /metrics")
            .text()
            .await
            .expect("the body of /metrics")
    }

    async fn drained(&mut self, run: u64) {
        let waited = tokio::time::timeout(DRAIN_LIMIT, self.depth.wait_for(|d| *d == 0)).await;
        assert!(
            matches!(waited, Ok(Ok(_))),
            "the sender did not empty the spool within {DRAIN_LIMIT:?} after run {run}"
        );
    }
}

async fn soak(runs: u64, every: u64, log: Log) -> bool {
    let target = Target {
        site: "borger".into(),
        env: "prod".into(),
        profile: "kk_borger".into(),
    };
    let metrics = Arc::new(Metrics::new(&target, true, "0.1.0"));
    let (depth_tx, depth) = watch::channel(0);
    let events: Arc<dyn PushEvents> = Arc::new(Events {
        metrics: MetricsEvents(metrics.clone()),
        depth: depth_tx,
    });

    let dir = tempfile::tempdir_in(spool_parent()).expect("a temporary spool directory");
    println!("spool in {}", dir.path().display());
    let mut spool_config = SpoolConfig::new(dir.path());
    spool_config.max_reports = SPOOL_MAX_REPORTS;
    let spool = Arc::new(Spool::open(spool_config, events.clone(), log).expect("the spool opens"));

    let loki = FakeLoki::start().await;
    let labels = StreamLabels {
        site: target.site.clone(),
        env: target.env.clone(),
        profile: target.profile.clone(),
    };
    let client = LokiClient::new(&LokiConfig::new(format!("http://{}", loki.addr), labels))
        .expect("the Loki client");
    let no_wait = Backoff {
        min: Duration::ZERO,
        max: Duration::ZERO,
    };
    let sender = Sender::new(client, spool.clone(), events.clone(), no_wait, log);
    tokio::spawn(async move { sender.run().await });

    let healthy = fixture_path("drush13-healthy.json");
    let spawned_ok = Arc::new(Runner::new(spec(fake_drush(&["fixture", &healthy]))));
    let spawned_fail = Arc::new(Runner::new(spec(fake_drush(&["fail"]))));
    let next_run = Arc::new(AtomicU64::new(0));
    let trigger = {
        let spool = spool.clone();
        let read = spec(vec!["drush".into()]);
        move || {
            let run = next_run.fetch_add(1, Ordering::SeqCst);
            let spool = spool.clone();
            let read = read.clone();
            let runner = if (run / SPAWN_EVERY) % 10 == 9 {
                spawned_fail.clone()
            } else {
                spawned_ok.clone()
            };
            async move {
                let started = started_ns(run);
                let outcome = if run.is_multiple_of(SPAWN_EVERY) {
                    let mut outcome = runner.run().await;
                    // The simulated clock's start, so the stand-in Loki
                    // knows the run by its push's timestamp.
                    outcome.started_unix_ns = started;
                    outcome
                } else {
                    let duration = 2.0 + (run % 7) as f64 * 0.5;
                    outcome_from_output(&read, started, duration, drush_output(run))
                };
                let line = outcome.line.to_json();
                // As the binary does: the fsyncs off the async workers; the
                // spool counts a report it could not write.
                let _ = tokio::task::spawn_blocking(move || spool.push(started, &line))
                    .await
                    .expect("the spool write did not panic");
                outcome
            }
        }
    };
    let agent = Agent::new(metrics, trigger);

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port for /metrics");
    let metrics_url = format!(
        "http://{}/metrics",
        listener.local_addr().expect("the /metrics address")
    );
    tokio::spawn(http::serve(
        listener,
        agent.clone(),
        std::future::pending(),
        http::Limits::default(),
    ));
    let mut soak = Soak {
        agent,
        spool,
        loki,
        depth,
        scraper: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("the scrape client"),
        metrics_url,
    };

    println!(
        "{:>8} {:>15} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "runs", "live heap bytes", "RSS KiB", "sent", "dropped", "spooled", "retried", "seconds"
    );
    let clock = Instant::now();
    let mut samples = Vec::new();
    for run in 0..runs {
        let fate = Fate::of(run);
        soak.loki.down.store(fate == Fate::Outage, Ordering::SeqCst);
        assert!(
            soak.agent.run_once().await.is_some(),
            "run {run} did not finish"
        );
        if !(fate.backlog() && Fate::of(run + 1).backlog()) {
            soak.drained(run).await;
        }
        if run.is_multiple_of(SCRAPE_EVERY) {
            std::hint::black_box(soak.scrape().await);
        }
        if (run + 1).is_multiple_of(every) || run + 1 == runs {
            // A sample inside an outage ends it: the spool must drain.
            soak.loki.down.store(false, Ordering::SeqCst);
            soak.drained(run).await;
            let counts = Counts::of(&soak.scrape().await);
            let sample = Sample {
                runs: run + 1,
                live_bytes: counting_alloc::live_bytes(),
                rss_kib: rss_kib(),
                counts,
                seconds: clock.elapsed().as_secs_f64(),
            };
            println!(
                "{:>8} {:>15} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9.1}",
                sample.runs,
                sample.live_bytes,
                sample.rss_kib,
                sample.counts.sent,
                sample.counts.dropped,
                sample.counts.spooled,
                sample.counts.retried,
                sample.seconds
            );
            samples.push(sample);
        }
    }
    let memory_flat = judge_memory(&samples, every);
    let accounted = judge_accounting(&soak, runs, &soak.scrape().await);
    memory_flat && accounted
}

/// After warm-up (the first sample's runs fill the pools, the spool's
/// `rejected/` ring and the metrics' maps), the heap may not grow.
fn judge_memory(samples: &[Sample], every: u64) -> bool {
    let after: Vec<&Sample> = samples.iter().filter(|s| s.runs >= 2 * every).collect();
    let (Some(low), Some(high), Some(first), Some(last)) = (
        after.iter().map(|s| s.live_bytes).min(),
        after.iter().map(|s| s.live_bytes).max(),
        after.first(),
        after.last(),
    ) else {
        println!("too short to judge the memory (RUNS < 2 × SAMPLE_EVERY)");
        return true;
    };
    let spread = high - low;
    let allowed = (low / 20).max(1 << 20);
    let per_run =
        (last.live_bytes as f64 - first.live_bytes as f64) / (last.runs - first.runs).max(1) as f64;
    let (rss_low, rss_high) = after.iter().fold((u64::MAX, 0), |(l, h), s| {
        (l.min(s.rss_kib), h.max(s.rss_kib))
    });
    let flat = spread <= allowed;
    println!(
        "heap from {} to {} runs: {:.2} .. {:.2} MiB (spread {} KiB, allowed {} KiB; \
         {per_run:+.2} bytes per run first to last): {}",
        first.runs,
        last.runs,
        low as f64 / 1048576.0,
        high as f64 / 1048576.0,
        spread / 1024,
        allowed / 1024,
        if flat { "flat" } else { "GROWS" }
    );
    println!("RSS over the same runs: {rss_low} .. {rss_high} KiB");
    flat
}

/// Every run is sent, dropped with a count, or still in the spool, by the
/// agent's own metrics; the stand-in Loki got exactly the reports sent;
/// and the drops are the ones the failures call for, no more.
fn judge_accounting(soak: &Soak, runs: u64, text: &str) -> bool {
    let c = &Counts::of(text);
    let fates: Vec<Fate> = (0..runs).map(Fate::of).collect();
    let refused = fates.iter().filter(|f| **f == Fate::Refused).count() as u64;
    // Each outage drops what overflows the spool while Loki is down; after
    // it, how many of the recovery's runs still find the spool full is a
    // race between the runs and the sender.
    let (full_least, full_most) = fates
        .chunk_by(|a, b| a.backlog() && b.backlog())
        .filter(|block| block[0].backlog())
        .map(|block| {
            let down = block.iter().filter(|f| **f == Fate::Outage).count() as u64;
            let max = SPOOL_MAX_REPORTS as u64;
            (
                down.saturating_sub(max),
                (block.len() as u64).saturating_sub(max),
            )
        })
        .fold((0, 0), |(l, m), (dl, dm)| (l + dl, m + dm));
    let failing = fates.iter().filter(|f| **f != Fate::Healthy).count();
    let loki = soak.loki.state();
    let kept_rejected = std::fs::read_dir(soak.spool.config().dir.join(REJECTED_DIR))
        .map(|d| d.count())
        .unwrap_or(0);

    let checks = [
        ("runs counted by the agent", c.runs == runs),
        (
            "sent + dropped + spooled = runs",
            c.sent + c.dropped + c.spooled == runs,
        ),
        (
            "spool empty at the end",
            c.spooled == 0 && soak.spool.depth() == 0,
        ),
        (
            "dropped for a full spool as the outages call for",
            (full_least..=full_most).contains(&c.spool_full),
        ),
        (
            "dropped as refused by Loki as the 400s call for",
            c.rejected == refused,
        ),
        ("no other drops", c.dropped == c.spool_full + c.rejected),
        (
            "Loki stored exactly the reports sent",
            loki.accepted == c.sent,
        ),
        ("Loki got them in order, none twice", loki.disorder == 0),
        ("every push well-formed", loki.malformed == 0),
        (
            "rejected/ bounded by the spool's limit",
            kept_rejected <= SPOOL_MAX_REPORTS && soak.spool.rejected() <= SPOOL_MAX_REPORTS,
        ),
    ];
    println!(
        "{runs} runs, {failing} meeting a failing Loki: {} sent + {} dropped ({} spool full, \
         {full_least}..={full_most} expected; {} refused) + {} spooled; {} failed pushes \
         retried; Loki stored {}; {} kept in rejected/",
        c.sent,
        c.dropped,
        c.spool_full,
        c.rejected,
        c.spooled,
        c.retried,
        loki.accepted,
        kept_rejected
    );
    let by_result: Vec<String> = [
        PushResult::ServerError,
        PushResult::RateLimited,
        PushResult::ConnectionError,
        PushResult::Timeout,
        PushResult::Error,
    ]
    .iter()
    .map(|r| {
        let r = r.label();
        format!(
            "{r} {}",
            total(text, metrics::PUSHES, &format!("result=\"{r}\""))
        )
    })
    .collect();
    println!("  failed pushes by result: {}", by_result.join(", "));
    let mut all = true;
    for (what, ok) in checks {
        println!("  {}: {what}", if ok { "ok" } else { "FAILED" });
        all &= ok;
    }
    all
}

/// tmpfs when there is one: on this machine's ext4 the three fsyncs of a
/// run take 8 ms, which would make the soak a quarter of an hour of
/// waiting for the disk. The code path is the same, fsyncs included;
/// what they cost on a disk is `benches/agent.rs`'s to measure.
fn spool_parent() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("SPOOL_DIR") {
        return dir.into();
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn fixture_path(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/drush")
        .join(name)
        .to_string_lossy()
        .into_owned()
}
