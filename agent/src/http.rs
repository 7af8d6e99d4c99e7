//! The agent's HTTP endpoints on `--listen`: `/metrics`, `/livez` (and
//! `/healthz`, the same), `/readyz`, `/report` and `POST /run`; and the
//! connection loop that serves them.
//!
//! axum for routing, method checks (405) and query parsing. The loop
//! under it is hyper's HTTP/1 server driven here rather than
//! `axum::serve`, which has no header-read timeout, no idle timeout and no
//! connection cap: one client sending half a header kept SIGTERM from ever
//! completing, and 1,100 idle connections exhausted a `nofile` of 1024 so
//! that probes timed out and the spool could not open files.
//! Every handler reads memory only; `POST /run?wait=true` is the one that
//! waits, and only for the run it asked for. `/report` and `POST
//! /run?wait=true` answer with the run's Loki report line: a failed run's
//! `run_failure` (class, exit code, signal) and `stderr_tail` included.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::metrics::CONTENT_TYPE;
use crate::outcome::Outcome;
use crate::shared::{Agent, NotLive, NotStarted};

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// The routes, for [`serve`] and for tests.
pub fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/livez", get(livez))
        .route("/healthz", get(livez))
        .route("/readyz", get(readyz))
        .route("/report", get(report))
        .route("/run", post(run))
        .with_state(agent)
}

/// The connection loop's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request's header must arrive within this, from its first byte
    /// (hyper's timer): a client sending half a header is cut off.
    pub header_read: Duration,
    /// A connection with no request in flight and no bytes either way for
    /// this long is closed.
    pub idle: Duration,
    /// Most connections open at once. At the cap a new connection closes
    /// the longest-idle one (a probe gets in under a flood of idle
    /// connections); when none is idle the new one is closed.
    pub max_connections: usize,
    /// After shutdown began, how long requests in flight may take before
    /// their connections are dropped.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(5),
            idle: Duration::from_secs(60),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            drain: Duration::from_secs(5),
        }
    }
}

/// Enough for every scraper, probe and dashboard of a site many times
/// over, and far below the usual `nofile` of 1024.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// Descriptors kept free of connections for the spool, drush's pipes, the
/// Loki client and the listener: a connection flood must not make the
/// spool unwritable.
pub const RESERVED_FDS: u64 = 128;

/// The connection cap for this process: `wanted`, lowered so that the
/// open connections leave [`RESERVED_FDS`] of the soft `nofile` limit free
/// (at least 16 connections, whatever the limit).
pub fn connection_cap(wanted: usize) -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we own and nothing else.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if got != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return wanted;
    }
    let room = limit.rlim_cur.saturating_sub(RESERVED_FDS).max(16);
    wanted.min(usize::try_from(room).unwrap_or(usize::MAX))
}

/// Connections the kernel completes while the loop is busy: std's and
/// tokio's default of 128 filled under a flood, and a client whose SYN
/// was dropped waits a second for its retransmission.
pub const LISTEN_BACKLOG: u32 = 1024;

/// The listening socket on `addr`, with [`LISTEN_BACKLOG`].
pub fn bind(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // A restart must not wait for the old sockets' TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// One open connection, as the loop sees it.
struct Conn {
    /// Milliseconds since the loop's start of the last byte either way.
    last: Arc<AtomicU64>,
    in_flight: Arc<AtomicUsize>,
    close: Arc<Notify>,
}

#[derive(Default)]
struct Conns {
    open: Mutex<HashMap<u64, Conn>>,
    /// Wakes the shutdown when the last connection ends.
    gone: Notify,
}

impl Conns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Conn>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Below the cap, or made so by closing the longest-idle connection;
    /// false when every connection is busy.
    fn make_room(&self, cap: usize) -> bool {
        let mut open = self.lock();
        if open.len() < cap {
            return true;
        }
        let idle = open
            .iter()
            .filter(|(_, c)| c.in_flight.load(Ordering::Relaxed) == 0)
            .min_by_key(|(_, c)| c.last.load(Ordering::Relaxed))
            .map(|(id, _)| *id);
        match idle.and_then(|id| open.remove(&id)) {
            Some(conn) => {
                conn.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves until `shutdown` resolves; then stops accepting, stops the agent
/// (a waiting `POST /run` is answered 503), lets requests in flight finish
/// for up to `limits.drain` and returns.
pub async fn serve(
    listener: TcpListener,
    agent: Arc<Agent>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: Limits,
) -> std::io::Result<()> {
    let router = router(agent.clone());
    let conns = Arc::new(Conns::default());
    let (draining, _) = watch::channel(false);
    let epoch = Instant::now();
    let mut next_id: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors (EMFILE) or a connection reset before
                // it was accepted: free an idle connection's descriptor and
                // go on after a moment rather than spin.
                conns.make_room(0);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if !conns.make_room(limits.max_connections) {
            // Every connection has a request in flight: this one waits for
            // none, it is closed at once.
            drop(stream);
            continue;
        }
        let conn = Conn {
            last: Arc::new(AtomicU64::new(millis_since(epoch))),
            in_flight: Arc::new(AtomicUsize::new(0)),
            close: Arc::new(Notify::new()),
        };
        let id = next_id;
        next_id += 1;
        let task = ConnTask {
            stream: Tracked {
                stream,
                last: conn.last.clone(),
                epoch,
            },
            in_flight: conn.in_flight.clone(),
            close: conn.close.clone(),
            draining: draining.subscribe(),
            router: router.clone(),
            limits,
        };
        conns.lock().insert(id, conn);
        let conns = conns.clone();
        tokio::spawn(async move {
            task.run().await;
            conns.lock().remove(&id);
            conns.gone.notify_waiters();
        });
    }
    drop(listener);
    agent.stop();
    draining.send_replace(true);
    let drained = async {
        loop {
            let gone = conns.gone.notified();
            if conns.lock().is_empty() {
                return;
            }
            gone.await;
        }
    };
    if tokio::time::timeout(limits.drain, drained).await.is_err() {
        for (_, conn) in conns.lock().drain() {
            conn.close.notify_one();
        }
    }
    Ok(())
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

struct ConnTask {
    stream: Tracked,
    in_flight: Arc<AtomicUsize>,
    close: Arc<Notify>,
    draining: watch::Receiver<bool>,
    router: Router,
    limits: Limits,
}

/// Decrements a connection's requests in flight when the request ends,
/// however it ends.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ConnTask {
    async fn run(mut self) {
        let last = self.stream.last.clone();
        let epoch = self.stream.epoch;
        let in_flight = self.in_flight.clone();
        let router = self.router.clone();
        let service = hyper::service::service_fn(move |request| {
            in_flight.fetch_add(1, Ordering::Relaxed);
            let guard = InFlight(in_flight.clone());
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await;
                drop(guard);
                response
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read)
            .keep_alive(true);
        let conn = builder.serve_connection(TokioIo::new(self.stream), service);
        tokio::pin!(conn);
        let mut draining = false;
        loop {
            let idle_for = Duration::from_millis(
                millis_since(epoch).saturating_sub(last.load(Ordering::Relaxed)),
            );
            let idle_left = self.limits.idle.saturating_sub(idle_for);
            tokio::select! {
                _ = conn.as_mut() => return,
                // Closed for room, or the drain ran out: drop the
                // connection (and its descriptor) now.
                _ = self.close.notified() => return,
                changed = self.draining.changed(), if !draining => {
                    draining = true;
                    if changed.is_ok() {
                        // Finishes the request in flight, closes an idle
                        // connection at once.
                        conn.as_mut().graceful_shutdown();
                    }
                }
                _ = tokio::time::sleep(idle_left) => {
                    let idle_for = Duration::from_millis(
                        millis_since(epoch).saturating_sub(last.load(Ordering::Relaxed)),
                    );
                    if self.in_flight.load(Ordering::Relaxed) == 0 && idle_for >= self.limits.idle {
                        return;
                    }
                    // Busy (a POST /run?wait=true): look again later.
                    if idle_for >= self.limits.idle {
                        last.store(millis_since(epoch), Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// A TCP stream that notes when a byte last went either way, for the idle
/// timeout.
struct Tracked {
    stream: TcpStream,
    last: Arc<AtomicU64>,
    epoch: Instant,
}

impl Tracked {
    fn touch(&self) {
        self.last.store(millis_since(self.epoch), Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

async fn metrics(State(agent): State<Arc<Agent>>) -> Response {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        agent.metrics().encode(),
    )
        .into_response()
}

/// Live while the scheduler ticks when due (see `Agent::schedule`): a
/// scheduler that died leaves a process that serves but never runs drush.
async fn livez(State(agent): State<Arc<Agent>>) -> Response {
    match agent.live() {
        Ok(()) => text(StatusCode::OK, "ok\n"),
        Err(NotLive::Late(late)) => owned_text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the scheduler has not ticked: {} s past its slot and slack\n",
                late.as_secs()
            ),
        ),
        Err(NotLive::Ended) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the scheduler ended: no further run will start\n",
        ),
    }
}

/// Ready: serving, not shutting down, and the spool writable. Not the
/// first run: its result is `site_status_agent_first_run_finished` and the
/// report metrics.
async fn readyz(State(agent): State<Arc<Agent>>) -> Response {
    match agent.ready() {
        Ok(()) => text(StatusCode::OK, "ready\n"),
        Err(why) => owned_text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

async fn report(State(agent): State<Arc<Agent>>) -> Response {
    match agent.last() {
        Some(outcome) => line(&outcome),
        None => text(StatusCode::NOT_FOUND, "no run has finished yet\n"),
    }
}

async fn run(
    State(agent): State<Arc<Agent>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let wait = query
        .get("wait")
        .is_some_and(|v| v.is_empty() || v == "true" || v == "1");
    if agent.is_stopping() {
        return shutting_down();
    }
    let mut finished = agent.subscribe();
    match agent.start_manual() {
        Ok(handle) if wait => match handle.await {
            Ok(Some(outcome)) => line(&outcome),
            // The agent is stopping: the run was cancelled, drush killed.
            Ok(None) => shutting_down(),
            Err(_) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the run did not finish\n",
            ),
        },
        Ok(_) => text(StatusCode::ACCEPTED, "run started\n"),
        Err(NotStarted::Running) if wait => {
            // The run going on is as fresh as one started now would be.
            let changed = tokio::select! {
                changed = finished.changed() => changed,
                _ = agent.stopped() => return shutting_down(),
            };
            if changed.is_err() {
                return text(StatusCode::INTERNAL_SERVER_ERROR, "the agent stopped\n");
            }
            match agent.last() {
                Some(outcome) => line(&outcome),
                None => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the run did not finish\n",
                ),
            }
        }
        Err(NotStarted::Running) => text(StatusCode::ACCEPTED, "a run is already running\n"),
        Err(NotStarted::TooSoon { retry_after }) => {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            let seconds = seconds.max(1);
            (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    (header::RETRY_AFTER, seconds.to_string()),
                    (header::CONTENT_TYPE, TEXT.to_string()),
                ],
                format!("a run was started on request moments ago; retry in {seconds} s\n"),
            )
                .into_response()
        }
    }
}

fn line(outcome: &Outcome) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, JSON)],
        outcome.line.to_json(),
    )
        .into_response()
}

/// What a client waiting on a run gets at shutdown: a clear answer at
/// once rather than a connection held until drush's timeout, past the
/// pod's grace period.
fn shutting_down() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, TEXT), (header::CONNECTION, "close")],
        "the agent is shutting down; the run was cancelled\n",
    )
        .into_response()
}

fn owned_text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, TEXT)], body).into_response()
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, TEXT)], body).into_response()
}
