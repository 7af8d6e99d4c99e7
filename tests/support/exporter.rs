//! `FleetExporter`: serves a [`Fleet`] on `GET /metrics` the way the sites'
//! status workloads do, from a plain HTTP/1.1 server on 127.0.0.1 that runs
//! on its own threads (no async runtime needed). The test can change the
//! fleet at any time; the next scrape serves the change.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::fleet::{Fleet, Labels};

/// Longest request head the server reads.
const MAX_REQUEST_HEAD: usize = 64 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub struct FleetExporter {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept_thread: Option<JoinHandle<()>>,
}

struct Shared {
    fleet: Mutex<Fleet>,
    scrapes: AtomicU64,
    requests: AtomicU64,
    down: AtomicBool,
    stop: AtomicBool,
}

impl Shared {
    fn fleet(&self) -> MutexGuard<'_, Fleet> {
        // A test that panicked while holding the lock must not hide its
        // own failure behind poisoned-lock panics in the server.
        self.fleet.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl FleetExporter {
    /// Starts serving `fleet` on 127.0.0.1 on a free port.
    pub fn start(fleet: Fleet) -> FleetExporter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fleet exporter");
        let addr = listener.local_addr().expect("exporter address");
        let shared = Arc::new(Shared {
            fleet: Mutex::new(fleet),
            scrapes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            down: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = std::thread::Builder::new()
            .name(format!("fleet-exporter-{}", addr.port()))
            .spawn(move || accept_loop(listener, accept_shared))
            .expect("spawn the fleet exporter");
        FleetExporter {
            shared,
            addr,
            accept_thread: Some(accept_thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`: the scrape target, and the `instance` label
    /// Prometheus gives its series.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT/metrics`.
    pub fn metrics_url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// How many `GET /metrics` it has answered with the fleet (200),
    /// counting each as it renders the fleet: once the count read after a
    /// change has gone up, a scrape has served the change.
    pub fn scrapes(&self) -> u64 {
        self.shared.scrapes.load(Ordering::SeqCst)
    }

    /// How many requests it has read, whatever they asked for.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Blocks until it has served `count` scrapes in total, for at most
    /// `timeout`; returns whether it did. Prometheus stores a scrape a
    /// moment after it is served: to see a change in Prometheus, wait on
    /// Prometheus (`TestPrometheus::wait_for_fleet`) instead.
    pub fn wait_for_scrapes(&self, count: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.scrapes() < count {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// A copy of the fleet as it is now.
    pub fn fleet(&self) -> Fleet {
        self.shared.fleet().clone()
    }

    /// Changes the fleet; the next scrape serves the change.
    pub fn update<R>(&self, change: impl FnOnce(&mut Fleet) -> R) -> R {
        change(&mut self.shared.fleet())
    }

    /// Replaces the whole fleet.
    pub fn set_fleet(&self, fleet: Fleet) {
        *self.shared.fleet() = fleet;
    }

    /// Sets (adding it if new) a requirement of the site named `site`.
    /// Like every method naming a site, panics if there is no such site or
    /// the name is used in several envs (then use [`FleetExporter::update`]
    /// with `Fleet::site_in_mut`).
    pub fn set_severity(&self, site: &str, requirement: &str, sid: i8) {
        self.update(|f| f.site_mut(site).set_severity(requirement, sid));
    }

    /// Stops publishing a requirement: in Prometheus its series goes stale.
    pub fn remove_requirement(&self, site: &str, requirement: &str) {
        self.update(|f| f.site_mut(site).remove_requirement(requirement));
    }

    pub fn set_success(&self, site: &str, success: bool) {
        self.update(|f| f.site_mut(site).success = success);
    }

    /// Sets the Unix time of the site's last run, in seconds.
    pub fn set_last_run(&self, site: &str, unix_seconds: f64) {
        self.update(|f| f.site_mut(site).last_run = unix_seconds);
    }

    pub fn set_duration(&self, site: &str, seconds: f64) {
        self.update(|f| f.site_mut(site).duration = seconds);
    }

    /// A silent site publishes no series at all (dead status workload);
    /// un-silencing it publishes its state as it was.
    pub fn set_silent(&self, site: &str, silent: bool) {
        self.update(|f| f.site_mut(site).silent = silent);
    }

    /// While down, `/metrics` answers 503: Prometheus records `up == 0`
    /// for the target and every series it served goes stale.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// What the fleet serves now, labels (`__name__` included, no
    /// `instance`/`job`) → value.
    pub fn series(&self) -> std::collections::BTreeMap<Labels, f64> {
        self.shared.fleet().series()
    }

    pub fn series_count(&self) -> usize {
        self.shared.fleet().series_count()
    }

    /// The exposition text the next scrape would get.
    pub fn render(&self) -> String {
        self.shared.fleet().render()
    }
}

/// A release rolling through one profile of one environment, site by
/// site in name order, as a deploy pipeline does it: each site switches its
/// `profile_version`, then, [`Roll::report_after`] later, its status
/// workload reports on it.
#[derive(Debug, Clone)]
pub struct Roll {
    pub env: String,
    pub profile: String,
    pub version: String,
    /// The last site switches this long after the roll starts; the others
    /// evenly before it.
    pub over: Duration,
    pub report_after: Duration,
    /// `(site, requirement)`: the site fails the requirement (error) in
    /// its report on the new version.
    pub regress: Vec<(String, String)>,
    /// Sites the deploy never reaches: they stay on their version.
    pub hold: Vec<String>,
}

impl Roll {
    pub fn new(env: &str, profile: &str, version: &str, over: Duration) -> Roll {
        Roll {
            env: env.into(),
            profile: profile.into(),
            version: version.into(),
            over,
            report_after: Duration::from_secs(2),
            regress: Vec::new(),
            hold: Vec::new(),
        }
    }

    pub fn regress(mut self, site: &str, requirement: &str) -> Roll {
        self.regress.push((site.into(), requirement.into()));
        self
    }

    pub fn hold(mut self, site: &str) -> Roll {
        self.hold.push(site.into());
        self
    }
}

/// A roll in progress; dropping it stops it where it is.
pub struct Rolling {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Rolling {
    /// Waits until every site has switched and reported.
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Rolling {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl FleetExporter {
    /// Starts rolling `roll` through the fleet on a thread of its own.
    pub fn roll(&self, roll: Roll) -> Rolling {
        let mut sites: Vec<String> = self
            .shared
            .fleet()
            .sites
            .iter()
            .filter(|s| s.env == roll.env && s.profile == roll.profile)
            .filter(|s| !roll.hold.contains(&s.name))
            .map(|s| s.name.clone())
            .collect();
        sites.sort();
        let start = Instant::now();
        let n = sites.len().max(1) as u32;
        // (when, site, is the report): switches and reports in time order.
        let mut steps: Vec<(Instant, usize, bool)> = Vec::new();
        for (i, _) in sites.iter().enumerate() {
            let switch = start + roll.over * (i as u32 + 1) / n;
            steps.push((switch, i, false));
            steps.push((switch + roll.report_after, i, true));
        }
        steps.sort_by_key(|(at, _, _)| *at);
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopping) = (Arc::clone(&self.shared), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("fleet-exporter-roll".into())
            .spawn(move || {
                for (at, i, is_report) in steps {
                    while Instant::now() < at {
                        if stopping.load(Ordering::SeqCst) || shared.stop.load(Ordering::SeqCst) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    let name = &sites[i];
                    let mut fleet = shared.fleet();
                    let site = fleet.site_in_mut(&roll.env, name);
                    if is_report {
                        for (_, requirement) in roll.regress.iter().filter(|(s, _)| s == name) {
                            site.set_severity(requirement, 2);
                        }
                        site.last_run = super::fleet::unix_now().floor();
                    } else {
                        site.info.profile_version = roll.version.clone();
                    }
                }
            })
            .expect("spawn the roll");
        Rolling {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FleetExporter {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            // EMFILE and friends: back off instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let shared = Arc::clone(&shared);
        // One thread per connection: a slow client cannot stall scrapes.
        let _ = std::thread::Builder::new()
            .name("fleet-exporter-conn".into())
            .spawn(move || {
                let _ = serve(stream, &shared);
            });
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = read_request_head(&mut stream)?;
    if shared.stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default();

    let (status, content_type, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") if shared.down.load(Ordering::SeqCst) => (
            "503 Service Unavailable",
            "text/plain; charset=utf-8",
            "the status workload is down\n".to_string(),
        ),
        ("GET" | "HEAD", "/metrics") => {
            let fleet = shared.fleet();
            let body = fleet.render();
            if method == "GET" {
                // Counted under the lock, with the render: once a test has
                // read `scrapes()` after a change, any later scrape served
                // the change. Counted before sending, so a client that has
                // the response always finds it counted.
                shared.scrapes.fetch_add(1, Ordering::SeqCst);
            }
            drop(fleet);
            ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body)
        }
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found\n".to_string(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "method not allowed\n".to_string(),
        ),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        response.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&response)?;
    stream.flush()?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

/// Reads up to the blank line that ends the request head. GET requests
/// have no body, so that is the whole request.
fn read_request_head(stream: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the end of the request head",
            ));
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Ok(String::from_utf8_lossy(&head).into_owned());
        }
        if head.len() > MAX_REQUEST_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
    }
}
