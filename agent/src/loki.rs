//! The Loki push: the client that sends one spooled report to
//! `/loki/api/v1/push` with its original nanosecond timestamp (so Loki
//! deduplicates a retry after a lost answer), and the one sender task that
//! drains the spool oldest first, retrying 429, 5xx, timeouts and
//! connection errors with capped, jittered exponential backoff and moving
//! what Loki refuses for good (400, 413) to `rejected/`. Also the
//! `PushEvents` hook the metrics count with, and the JSON log lines.

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde_json::{Map, Value, json};

use crate::spool::{Entry, Spool};

/// What the metrics count: push attempts by result, reports dropped by
/// reason, and the spool's size. Called from the sender task and from
/// whoever writes to the spool; must not block.
pub trait PushEvents: Send + Sync {
    /// One push attempt ended with `result`.
    fn pushed(&self, result: PushResult);
    /// `n` reports will never reach Loki, for `reason`.
    fn dropped(&self, reason: DropReason, n: u64);
    /// The spool now holds `depth` reports of `bytes` bytes in all.
    fn spool(&self, depth: usize, bytes: u64);
}

/// For an agent without metrics, and for tests.
pub struct NoEvents;

impl PushEvents for NoEvents {
    fn pushed(&self, _result: PushResult) {}
    fn dropped(&self, _reason: DropReason, _n: u64) {}
    fn spool(&self, _depth: usize, _bytes: u64) {}
}

/// How one push attempt ended: the `result` label of
/// `site_status_agent_loki_pushes_total`. One type for the sender that
/// says it and the metrics that count it, so the two cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PushResult {
    /// Loki answered 2xx.
    Success,
    /// 400 or 413: moved to `rejected/`, never retried.
    Rejected,
    /// 429: retried.
    RateLimited,
    /// 5xx: retried.
    ServerError,
    /// No answer within the timeout: retried.
    Timeout,
    /// Could not connect, or the connection broke: retried.
    ConnectionError,
    /// Anything else (another status, an unreadable credentials file):
    /// retried, since it is usually configuration an operator can fix.
    Error,
}

impl PushResult {
    pub const ALL: [PushResult; 7] = [
        PushResult::Success,
        PushResult::Rejected,
        PushResult::RateLimited,
        PushResult::ServerError,
        PushResult::Timeout,
        PushResult::ConnectionError,
        PushResult::Error,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PushResult::Success => "success",
            PushResult::Rejected => "rejected",
            PushResult::RateLimited => "rate_limited",
            PushResult::ServerError => "server_error",
            PushResult::Timeout => "timeout",
            PushResult::ConnectionError => "connection_error",
            PushResult::Error => "error",
        }
    }
}

/// Why reports were dropped: the `reason` label of
/// `site_status_agent_reports_dropped_total`, for the spool and the sender
/// that say it and the metrics that count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// The spool was full: the oldest report made room.
    SpoolFull,
    /// Loki refused it for good (400, 413): kept in `rejected/`.
    Rejected,
    /// The spooled file could not be read back: moved to `rejected/`.
    Unreadable,
    /// The report could not be written to the spool at all.
    WriteFailed,
    /// Loki refused it for its size (413, or a 5xx naming the gRPC
    /// message limit) and no trimmed version fits: kept in `rejected/`.
    TooLarge,
    /// It kept failing for [`LokiConfig::stuck_after`] while Loki took
    /// the report after it, twice: something in it Loki cannot take.
    /// Kept in `rejected/`, so it no longer holds back every later one.
    Undeliverable,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::SpoolFull,
        DropReason::Rejected,
        DropReason::Unreadable,
        DropReason::WriteFailed,
        DropReason::TooLarge,
        DropReason::Undeliverable,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DropReason::SpoolFull => "spool_full",
            DropReason::Rejected => "rejected",
            DropReason::Unreadable => "unreadable",
            DropReason::WriteFailed => "spool_write_failed",
            DropReason::TooLarge => "too_large",
            DropReason::Undeliverable => "undeliverable",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "error" => Ok(LogLevel::Error),
            _ => Err(format!(
                "unknown log level {s:?} (debug, info, warn, error)"
            )),
        }
    }
}

/// One JSON object per line on stderr, at or above a level. Callers put
/// no secrets in `fields`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Log {
    pub level: LogLevel,
}

impl Log {
    pub fn new(level: LogLevel) -> Self {
        Log { level }
    }

    pub fn emit(&self, level: LogLevel, msg: &str, fields: Value) {
        if level < self.level {
            return;
        }
        let mut line = Map::new();
        line.insert("ts".into(), jiff::Timestamp::now().to_string().into());
        line.insert("level".into(), level.name().into());
        line.insert("msg".into(), msg.into());
        if let Value::Object(fields) = fields {
            // `ts`, `level` and `msg` are the log line's own: a field of
            // the same name (a report's timestamp once was) must not
            // replace them. Callers name the report's `report_ts`.
            for (key, value) in fields {
                line.entry(key).or_insert(value);
            }
        }
        // One write of the whole line, so lines of concurrent tasks do not
        // interleave; a closed stderr is no reason to stop pushing.
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// How the push authenticates. Files are read on every push, so a rotated
/// token or password is picked up without a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// A file holding the bearer token.
    BearerTokenFile(PathBuf),
    /// A file holding `user:password`.
    BasicAuthFile(PathBuf),
}

/// The stream's labels besides `job="site-status"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamLabels {
    pub site: String,
    pub env: String,
    pub profile: String,
}

/// Capped exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: Duration::from_millis(500),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The wait before retry number `attempt + 1`: `min · 2^attempt`,
    /// capped at `max`, of which a random half is taken off so that agents
    /// failing together (a Loki outage) do not retry together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(31));
        let base = self.min.saturating_mul(factor).min(self.max);
        let half = base / 2;
        let jitter_ns = fastrand::u64(0..=half.as_nanos().min(u64::MAX as u128) as u64);
        half + Duration::from_nanos(jitter_ns)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LokiConfig {
    /// Loki's base URL (`https://loki.example:3100`) or the full push URL.
    pub url: String,
    /// `X-Scope-OrgID`, for a multi-tenant Loki.
    pub tenant: Option<String>,
    pub auth: Auth,
    /// A PEM file of CA certificates trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    pub labels: StreamLabels,
    /// For one push, connection included.
    pub timeout: Duration,
    pub backoff: Backoff,
    /// The largest push body sent: a report whose push would be larger is
    /// trimmed to fit ([`fit_line`]).
    pub max_push_bytes: usize,
    /// How long one report may fail before the sender tries the next one
    /// out of turn: the bound on how long one report holds back the
    /// others. If Loki takes the next one and refuses this one once more
    /// at once, this one is moved to `rejected/` (`undeliverable`); if
    /// Loki takes neither, it is an outage and nothing is dropped.
    pub stuck_after: Duration,
}

/// See [`LokiConfig::stuck_after`]: three retries at the backoff's cap.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(15 * 60);

/// Loki 2.8's gRPC limit between distributor and ingester is 4 MiB
/// (`grpc_server_max_recv_msg_size`); a push above it is answered `500`
/// "received message larger than max". Stay well below, for the labels and
/// the protobuf framing the distributor adds.
pub const DEFAULT_MAX_PUSH_BYTES: usize = 3 << 20;

/// Below this a report is not trimmed further: what would be left would
/// not say anything. A size refusal at this size moves it to `rejected/`.
pub const MIN_PUSH_BYTES: usize = 16 << 10;

impl LokiConfig {
    pub fn new(url: impl Into<String>, labels: StreamLabels) -> Self {
        LokiConfig {
            url: url.into(),
            tenant: None,
            auth: Auth::None,
            ca_file: None,
            labels,
            timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            max_push_bytes: DEFAULT_MAX_PUSH_BYTES,
            stuck_after: DEFAULT_STUCK_AFTER,
        }
    }
}

/// How one push attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Accepted,
    /// Worth retrying: `result` says why; `after` is
    /// the server's `Retry-After`, if it gave one on 429 or 503.
    Retry {
        result: PushResult,
        after: Option<Duration>,
        detail: String,
    },
    /// Never worth retrying as it is (400, 413, a 5xx naming the size
    /// limit). `too_large`: refused for its size, so a trimmed version
    /// may still go.
    Rejected {
        status: u16,
        detail: String,
        too_large: bool,
    },
}

/// Why the Loki client could not be set up: the message, and the flag
/// (without `--`) whose value is at fault, so the error points there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    pub flag: &'static str,
    pub message: String,
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

enum Credentials {
    Bearer(String),
    Basic(String, String),
}

pub const PUSH_PATH: &str = "/loki/api/v1/push";

/// The longest `Retry-After` obeyed: a server asking for hours is
/// retried sooner rather than holding every newer report that long.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How much of an error answer's body goes to the log.
const DETAIL_CHARS: usize = 300;

pub struct LokiClient {
    http: reqwest::Client,
    push_url: reqwest::Url,
    tenant: Option<HeaderValue>,
    auth: Auth,
    max_push_bytes: usize,
    stuck_after: Duration,
    /// Behind a lock only because the profile may become known after
    /// start ([`LokiClient::set_profile`]).
    labels: std::sync::Mutex<StreamLabels>,
}

impl LokiClient {
    /// Checks everything that can be checked before the first push, so a
    /// bad URL, tenant or CA file fails at start. The error names the
    /// setting that is wrong and holds no secret.
    pub fn new(config: &LokiConfig) -> Result<Self, SetupError> {
        let url = |message: String| SetupError {
            flag: "loki-url",
            message,
        };
        let ca = |message: String| SetupError {
            flag: "loki-ca-file",
            message,
        };
        let base = config.url.trim_end_matches('/');
        let full = if base.ends_with(PUSH_PATH) {
            base.to_string()
        } else {
            format!("{base}{PUSH_PATH}")
        };
        let push_url = reqwest::Url::parse(&full)
            .map_err(|e| url(format!("the Loki URL is not a URL: {e}")))?;
        if !matches!(push_url.scheme(), "http" | "https") {
            return Err(url(
                "the Loki URL must start with http:// or https://".into()
            ));
        }
        let tenant = match &config.tenant {
            Some(t) => Some(HeaderValue::from_str(t).map_err(|_| SetupError {
                flag: "loki-tenant",
                message: "the Loki tenant is not a valid header value".into(),
            })?),
            None => None,
        };
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // Proxy settings from the environment would be a surprise in a
            // site's pod; the push goes where the URL says.
            .no_proxy();
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                ca(format!(
                    "cannot read the Loki CA file {}: {e}",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ca(format!(
                    "the Loki CA file {} holds no PEM certificates: {e}",
                    path.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(ca(format!(
                    "the Loki CA file {} holds no PEM certificates",
                    path.display()
                )));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| SetupError {
            flag: "loki-url",
            message: format!("cannot set up the Loki client: {}", e.without_url()),
        })?;
        Ok(LokiClient {
            http,
            push_url,
            tenant,
            auth: config.auth.clone(),
            max_push_bytes: config.max_push_bytes,
            stuck_after: config.stuck_after,
            labels: std::sync::Mutex::new(config.labels.clone()),
        })
    }

    /// The push body for one report: one stream, one entry, the timestamp
    /// as a string of nanoseconds (Loki answers 400 to a number).
    pub fn body(&self, ts_ns: i64, line: &str) -> Vec<u8> {
        let labels = self
            .labels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        json!({"streams": [{
            "stream": {
                "job": "site-status",
                "site": labels.site,
                "env": labels.env,
                "profile": labels.profile,
            },
            "values": [[ts_ns.to_string(), line]],
        }]})
        .to_string()
        .into_bytes()
    }

    /// The stream's `profile` label from now on: the install profile, once
    /// drush status told it (`--profile` not given and unknown at start).
    pub fn set_profile(&self, profile: &str) {
        self.labels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .profile = profile.to_string();
    }

    fn credentials(&self) -> Result<Option<Credentials>, String> {
        let (path, basic) = match &self.auth {
            Auth::None => return Ok(None),
            Auth::BearerTokenFile(p) => (p, false),
            Auth::BasicAuthFile(p) => (p, true),
        };
        let raw = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {}", path.display(), e.kind()))?;
        let secret = raw.trim();
        if secret.is_empty() {
            return Err(format!("{} is empty", path.display()));
        }
        if !basic {
            return Ok(Some(Credentials::Bearer(secret.to_string())));
        }
        let Some((user, password)) = secret.split_once(':') else {
            return Err(format!("{} does not hold user:password", path.display()));
        };
        Ok(Some(Credentials::Basic(
            user.to_string(),
            password.to_string(),
        )))
    }

    /// One attempt to push one report.
    pub async fn push(&self, ts_ns: i64, line: &str) -> Attempt {
        let credentials = match self.credentials() {
            Ok(a) => a,
            Err(detail) => {
                return Attempt::Retry {
                    result: PushResult::Error,
                    after: None,
                    detail,
                };
            }
        };
        let mut request = self
            .http
            .post(self.push_url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(self.body(ts_ns, line));
        if let Some(tenant) = &self.tenant {
            request = request.header("X-Scope-OrgID", tenant.clone());
        }
        // reqwest marks both headers sensitive, so they stay out of its
        // Debug output.
        request = match credentials {
            Some(Credentials::Bearer(token)) => request.bearer_auth(token),
            Some(Credentials::Basic(user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return transport_failure(e),
        };
        let status = response.status();
        if status.is_success() {
            return Attempt::Accepted;
        }
        let after = if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::SERVICE_UNAVAILABLE
        {
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()))
        } else {
            None
        };
        let detail = match response.bytes().await {
            Ok(body) => format!(
                "{}: {}",
                status.as_u16(),
                site_status_contract::text::clean_bytes_line(&body, DETAIL_CHARS)
            ),
            Err(_) => status.as_u16().to_string(),
        };
        match status.as_u16() {
            400 => Attempt::Rejected {
                status: 400,
                detail,
                too_large: false,
            },
            413 => Attempt::Rejected {
                status: 413,
                detail,
                too_large: true,
            },
            // Loki 2.8 answers a push above its gRPC limit with a 500
            // "rpc error: code = ResourceExhausted desc = grpc: received
            // message larger than max (N vs. 4194304)": retrying it is
            // useless, and held every later report back for ever.
            500..=599 if detail.contains("larger than max") => Attempt::Rejected {
                status: status.as_u16(),
                detail,
                too_large: true,
            },
            429 => Attempt::Retry {
                result: PushResult::RateLimited,
                after,
                detail,
            },
            500..=599 => Attempt::Retry {
                result: PushResult::ServerError,
                after,
                detail,
            },
            _ => Attempt::Retry {
                result: PushResult::Error,
                after: None,
                detail,
            },
        }
    }
}

fn transport_failure(e: reqwest::Error) -> Attempt {
    let result = if e.is_timeout() {
        PushResult::Timeout
    } else {
        PushResult::ConnectionError
    };
    // The URL may carry userinfo: keep it out of the log.
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    Attempt::Retry {
        result,
        after: None,
        detail,
    }
}

/// How long to wait after a retryable answer: the normal backoff for this
/// attempt, or the server's `Retry-After` when it asks for longer, never
/// past [`MAX_RETRY_AFTER`]. A `Retry-After: 0` or a date in the past is
/// not an invitation to retry at once: honoured alone, it made one agent
/// push 114 times in 5 s against a Loki already rate-limiting.
pub fn retry_delay(backoff: &Backoff, attempt: u32, after: Option<Duration>) -> Duration {
    let normal = backoff.delay(attempt);
    match after {
        Some(after) => after.max(normal).min(MAX_RETRY_AFTER),
        None => normal,
    }
}

/// A version of the report `line` whose push body (`body_len` of it)
/// fits `budget` bytes: `line` itself when it does; else, for a JSON
/// object (every report is one), the same object with its longest strings
/// cut (each cut one ending in `…`) and `trimmed_from_bytes` added, so the
/// report's verdict and most of its requirements still reach Loki. `None`
/// when nothing that small can be made of it. Deterministic: a report
/// trimmed again after a restart is the same line, which Loki deduplicates.
pub fn fit_line<'a>(
    line: &'a str,
    budget: usize,
    body_len: impl Fn(&str) -> usize,
) -> Option<std::borrow::Cow<'a, str>> {
    if body_len(line) <= budget {
        return Some(std::borrow::Cow::Borrowed(line));
    }
    let mut value: Value = serde_json::from_str(line).ok()?;
    value
        .as_object_mut()?
        .insert("trimmed_from_bytes".into(), line.len().into());
    // Each round cuts the longest string by what is still too much (or to
    // a quarter, when it alone is not enough): a few rounds, even for a
    // report of many long values.
    for _ in 0..10_000 {
        let text = value.to_string();
        let len = body_len(&text);
        if len <= budget {
            return Some(std::borrow::Cow::Owned(text));
        }
        let excess = len - budget;
        let longest = longest_string(&value);
        if longest < 64 {
            return None;
        }
        let keep = if longest > excess + 64 {
            longest - excess - 32
        } else {
            longest / 4
        };
        cut_first_of_length(&mut value, longest, keep);
    }
    None
}

/// The length in chars of the longest string in `value`.
fn longest_string(value: &Value) -> usize {
    match value {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.iter().map(longest_string).max().unwrap_or(0),
        Value::Object(map) => map.values().map(longest_string).max().unwrap_or(0),
        _ => 0,
    }
}

/// Cuts the first string of `len` chars to `keep` chars and `…`; true once
/// done.
fn cut_first_of_length(value: &mut Value, len: usize, keep: usize) -> bool {
    match value {
        Value::String(s) if s.chars().count() == len => {
            let at = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
            s.truncate(at);
            s.push('…');
            true
        }
        Value::Array(items) => items
            .iter_mut()
            .any(|item| cut_first_of_length(item, len, keep)),
        Value::Object(map) => map
            .values_mut()
            .any(|item| cut_first_of_length(item, len, keep)),
        _ => false,
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The one task that sends the spool to Loki, strictly oldest first: the
/// next report is not sent before the one in hand got an answer that
/// settles it (2xx, or a refusal for good).
pub struct Sender {
    client: LokiClient,
    spool: Arc<Spool>,
    events: Arc<dyn PushEvents>,
    backoff: Backoff,
    log: Log,
}

impl Sender {
    pub fn new(
        client: LokiClient,
        spool: Arc<Spool>,
        events: Arc<dyn PushEvents>,
        backoff: Backoff,
        log: Log,
    ) -> Self {
        Sender {
            client,
            spool,
            events,
            backoff,
            log,
        }
    }

    pub fn client(&self) -> &LokiClient {
        &self.client
    }

    /// Sends for ever: what the spool holds now, then each report as it
    /// is pushed. Spawn it once.
    pub async fn run(&self) {
        loop {
            match self.spool.oldest() {
                Some(entry) => self.settle(entry).await,
                None => self.spool.changed().await,
            }
        }
    }

    /// Sends until the spool is empty, then returns (for a shutdown that
    /// may wait, and for tests).
    pub async fn drain(&self) {
        while let Some(entry) = self.spool.oldest() {
            self.settle(entry).await;
        }
    }

    /// Pushes one report until Loki settles it, retrying as long as it
    /// takes; returns early if the spool dropped it for room meanwhile. A
    /// report too large for the push limit, or refused for its size, is
    /// trimmed to fit ([`fit_line`]); what cannot be made to fit goes to
    /// `rejected/`, counted as `too_large`.
    async fn settle(&self, entry: Entry) {
        // The report's own time, under its own key: the log line's `ts` is
        // when the line was written.
        let report_ts = entry.ts_ns.to_string();
        let Some(mut pinned) = self.spool.pin(&entry) else {
            return;
        };
        let line = match self.spool.read(&entry) {
            Ok(line) => line,
            Err(e) => {
                self.log.emit(
                    LogLevel::Error,
                    "spool: cannot read a report back; moved to rejected/",
                    json!({"report_ts": report_ts, "file": entry.file_name(), "error": e.to_string()}),
                );
                self.events.dropped(DropReason::Unreadable, 1);
                self.move_aside(&entry);
                return;
            }
        };
        let body_len = |line: &str| self.client.body(entry.ts_ns, line).len();
        let mut budget = self.client.max_push_bytes;
        let mut attempt: u32 = 0;
        // Since when this report has been failing, and whether Loki just
        // took the report after it (this attempt is its last chance).
        let mut failing_since: Option<tokio::time::Instant> = None;
        let mut last_chance = false;
        loop {
            let Some(sent) = fit_line(&line, budget, body_len) else {
                self.events.dropped(DropReason::TooLarge, 1);
                self.log.emit(
                    LogLevel::Error,
                    "loki: report too large to push even trimmed; moved to rejected/",
                    json!({"report_ts": report_ts, "bytes": line.len(), "max_push_bytes": budget}),
                );
                self.move_aside(&entry);
                return;
            };
            if sent.len() != line.len() {
                self.log.emit(
                    LogLevel::Warn,
                    "loki: report trimmed to fit the push limit",
                    json!({"report_ts": report_ts, "bytes": line.len(), "sent_bytes": sent.len(), "max_push_bytes": budget}),
                );
            }
            let outcome = self.client.push(entry.ts_ns, &sent).await;
            match outcome {
                Attempt::Accepted => {
                    self.events.pushed(PushResult::Success);
                    self.log.emit(
                        LogLevel::Info,
                        "loki: report pushed",
                        json!({"report_ts": report_ts, "attempts": attempt + 1, "bytes": sent.len()}),
                    );
                    if let Err(e) = self.remove(&entry).await {
                        // Sent again after a restart, with its timestamp:
                        // Loki deduplicates it.
                        self.log.emit(
                            LogLevel::Warn,
                            "spool: cannot remove a pushed report",
                            json!({"report_ts": report_ts, "error": e.to_string()}),
                        );
                    }
                    return;
                }
                Attempt::Rejected {
                    status,
                    detail,
                    too_large,
                } => {
                    self.events.pushed(PushResult::Rejected);
                    let sent_body = body_len(&sent);
                    if too_large && sent_body / 2 >= MIN_PUSH_BYTES {
                        // Loki's limit is below ours: halve, and try the
                        // smaller version at once (a refusal is no
                        // overload to back off from).
                        budget = sent_body / 2;
                        attempt = attempt.saturating_add(1);
                        self.log.emit(
                            LogLevel::Warn,
                            "loki: report refused for its size; trimming it further",
                            json!({"report_ts": report_ts, "status": status, "detail": detail, "max_push_bytes": budget}),
                        );
                        continue;
                    }
                    let reason = if too_large {
                        DropReason::TooLarge
                    } else {
                        DropReason::Rejected
                    };
                    self.events.dropped(reason, 1);
                    self.log.emit(
                        LogLevel::Error,
                        "loki: report refused, not retried; moved to rejected/",
                        json!({"report_ts": report_ts, "status": status, "reason": reason.label(), "detail": detail}),
                    );
                    self.move_aside(&entry);
                    return;
                }
                Attempt::Retry {
                    result,
                    after,
                    detail,
                } => {
                    self.events.pushed(result);
                    if last_chance {
                        self.events.dropped(DropReason::Undeliverable, 1);
                        self.log.emit(
                            LogLevel::Error,
                            "loki: a report keeps failing while later ones are accepted; moved to rejected/",
                            json!({"report_ts": report_ts, "result": result.label(), "detail": detail, "attempts": attempt + 1}),
                        );
                        self.move_aside(&entry);
                        return;
                    }
                    let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
                    if since.elapsed() >= self.client.stuck_after {
                        failing_since = Some(tokio::time::Instant::now());
                        if self.try_next(&entry).await {
                            // Loki takes others: one more try of this one
                            // at once tells an outage that just ended from
                            // a report it cannot take.
                            last_chance = true;
                            attempt = attempt.saturating_add(1);
                            continue;
                        }
                    }
                    let delay = retry_delay(&self.backoff, attempt, after);
                    attempt = attempt.saturating_add(1);
                    drop(pinned);
                    self.log.emit(
                        LogLevel::Warn,
                        "loki: push failed, retrying",
                        json!({
                            "report_ts": report_ts,
                            "result": result.label(),
                            "detail": detail,
                            "attempt": attempt,
                            "retry_in_ms": delay.as_millis() as u64,
                        }),
                    );
                    tokio::time::sleep(delay).await;
                    pinned = match self.spool.pin(&entry) {
                        Some(pinned) => pinned,
                        // Dropped for room while we waited (the spool
                        // counted it), or an older report arrived (the
                        // clock stepped back): either way the caller
                        // takes the oldest again.
                        None => return,
                    };
                }
            }
        }
    }

    /// Pushes the report after `entry` out of turn, once; true if Loki
    /// took it (it is then removed from the spool, as after any push).
    async fn try_next(&self, entry: &Entry) -> bool {
        let Some((next, _pinned)) = self.spool.pin_next(entry) else {
            return false;
        };
        let Ok(line) = self.spool.read(&next) else {
            return false;
        };
        let body_len = |line: &str| self.client.body(next.ts_ns, line).len();
        let Some(sent) = fit_line(&line, self.client.max_push_bytes, body_len) else {
            return false;
        };
        match self.client.push(next.ts_ns, &sent).await {
            Attempt::Accepted => {
                self.events.pushed(PushResult::Success);
                self.log.emit(
                    LogLevel::Info,
                    "loki: report pushed out of turn, past one that keeps failing",
                    json!({"report_ts": next.ts_ns.to_string(), "bytes": sent.len()}),
                );
                if let Err(e) = self.remove(&next).await {
                    self.log.emit(
                        LogLevel::Warn,
                        "spool: cannot remove a pushed report",
                        json!({"report_ts": next.ts_ns.to_string(), "error": e.to_string()}),
                    );
                }
                true
            }
            // Not dropped here: its own turn settles it.
            Attempt::Rejected { .. } => {
                self.events.pushed(PushResult::Rejected);
                false
            }
            Attempt::Retry { result, .. } => {
                self.events.pushed(result);
                false
            }
        }
    }

    /// [`Spool::remove`] off the async workers: its fsync of the
    /// directory can take tens of milliseconds, and with two workers a
    /// scrape waited on it (probes' worst case under load).
    async fn remove(&self, entry: &Entry) -> std::io::Result<()> {
        let spool = self.spool.clone();
        let entry = entry.clone();
        tokio::task::spawn_blocking(move || spool.remove(&entry))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    fn move_aside(&self, entry: &Entry) {
        if let Err(e) = self.spool.reject(entry) {
            self.log.emit(
                LogLevel::Error,
                "spool: cannot move a report to rejected/",
                json!({"file": entry.file_name(), "error": e.to_string()}),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_at_most_half_off() {
        let b = Backoff::default();
        for _ in 0..50 {
            let first = b.delay(0);
            assert!(first >= Duration::from_millis(250) && first <= Duration::from_millis(500));
            let third = b.delay(2);
            assert!(third >= Duration::from_secs(1) && third <= Duration::from_secs(2));
            let late = b.delay(40);
            assert!(late >= Duration::from_secs(150) && late <= Duration::from_secs(300));
        }
    }

    #[test]
    fn retry_after_as_seconds_or_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retry_after_has_the_backoff_as_floor_and_a_cap() {
        let b = Backoff::default();
        for attempt in [0, 3, 40] {
            let floor = Backoff::default()
                .max
                .min(b.min * 2u32.pow(attempt.min(20)))
                / 2;
            // Retry-After: 0 (and a past date, parsed as 0) waits at least
            // the jittered backoff's lower half.
            let zero = retry_delay(&b, attempt, Some(Duration::ZERO));
            assert!(zero >= floor, "attempt {attempt}: {zero:?}");
        }
        // Longer than the backoff: the server's wish.
        assert_eq!(
            retry_delay(&b, 0, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        // Hours: capped.
        assert_eq!(
            retry_delay(&b, 0, Some(Duration::from_secs(36_000))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn a_report_is_trimmed_to_fit_and_keeps_its_shape() {
        let line =
            json!({"a": "x".repeat(10_000), "b": {"c": "y".repeat(5_000)}, "d": 3}).to_string();
        assert_eq!(
            fit_line(&line, 1 << 20, str::len).as_deref(),
            Some(line.as_str())
        );
        let fitted = fit_line(&line, 4_000, str::len).unwrap();
        assert!(fitted.len() <= 4_000, "{}", fitted.len());
        let v: Value = serde_json::from_str(&fitted).unwrap();
        assert_eq!(v["d"], 3);
        assert_eq!(v["trimmed_from_bytes"], line.len());
        assert!(v["a"].as_str().unwrap().ends_with('…'));
        // Deterministic, so a resend after a restart is deduplicated.
        assert_eq!(fit_line(&line, 4_000, str::len).unwrap(), fitted);
        assert_eq!(fit_line(&"z".repeat(10_000), 4_000, str::len), None);
        assert_eq!(fit_line(&line, 10, str::len), None);
    }

    #[test]
    fn the_body_is_one_stream_with_a_string_timestamp() {
        let client = LokiClient::new(&LokiConfig::new(
            "http://loki:3100/",
            StreamLabels {
                site: "borger".into(),
                env: "prod".into(),
                profile: "kk".into(),
            },
        ))
        .unwrap();
        assert_eq!(
            client.push_url.as_str(),
            "http://loki:3100/loki/api/v1/push"
        );
        let body: Value = serde_json::from_slice(&client.body(17, "{\"a\":1}")).unwrap();
        assert_eq!(
            body,
            json!({"streams": [{"stream": {"job": "site-status", "site": "borger", "env": "prod", "profile": "kk"},
                                "values": [["17", "{\"a\":1}"]]}]})
        );
    }
}
