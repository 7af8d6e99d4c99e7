//! The runner: runs the status command (drush) one run at a time, on a
//! schedule whose first slot is a stable offset derived from env and site,
//! kills a run that outlives its timeout together with its whole process
//! group, and turns what drush said into the [`Outcome`] the metrics, the
//! endpoints and the spool share.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use serde_json::Value;
use site_status_contract::line::ReportLine;
use site_status_contract::text::{MAX_FIELD_CHARS, clean_multiline};
use site_status_contract::{Requirement, format_rfc3339_utc, parse_report_line};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::Mutex;

use crate::config::{Config, Splay, format_duration};
use crate::outcome::{Outcome, Versions};

/// drush's report is tens of kilobytes; past this, stdout is not a report
/// and keeping it would only cost memory.
pub const MAX_STDOUT_BYTES: usize = 8 << 20;
/// How much of the end of stderr is kept.
pub const STDERR_TAIL_BYTES: usize = 4096;
/// And of that, at most this many lines.
pub const STDERR_TAIL_LINES: usize = 20;

/// What to run and whose report it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    pub command: Vec<String>,
    pub timeout: Duration,
    pub site: String,
    pub env: String,
    pub profile: String,
}

impl RunSpec {
    pub fn from_config(config: &Config) -> RunSpec {
        RunSpec {
            command: config.command.clone(),
            timeout: config.timeout,
            site: config.site.clone(),
            env: config.env.clone(),
            profile: config.profile.clone(),
        }
    }
}

/// Called with every outcome, in order, before the next run can start.
pub type Sink = Arc<dyn Fn(&Outcome) + Send + Sync>;

/// Runs the status command, never two at once.
pub struct Runner {
    spec: RunSpec,
    sink: Sink,
    /// Held for the whole of a run: the guarantee that runs never overlap.
    running: Mutex<()>,
    last: StdMutex<Option<Arc<Outcome>>>,
    /// Runs finished so far: tells a caller who waited whether the run it
    /// waited for finished or was cancelled.
    finished: AtomicU64,
}

impl Runner {
    /// `sink` sees each outcome (update the metrics, spool the line).
    pub fn new(spec: RunSpec, sink: Sink) -> Runner {
        Runner {
            spec,
            sink,
            running: Mutex::new(()),
            last: StdMutex::new(None),
            finished: AtomicU64::new(0),
        }
    }

    /// Runs the command now, unless a run is already going: then waits for
    /// that one and returns its outcome instead of starting a second.
    pub async fn run_now(&self) -> Arc<Outcome> {
        let guard = match self.running.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                let finished_before = self.finished.load(Ordering::SeqCst);
                let guard = self.running.lock().await;
                // The run we waited for may have been cancelled before it
                // finished: then this caller runs one itself.
                if self.finished.load(Ordering::SeqCst) != finished_before
                    && let Some(last) = self.last()
                {
                    return last;
                }
                guard
            }
        };
        let outcome = Arc::new(run_once(&self.spec).await);
        (self.sink)(&outcome);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome.clone());
        self.finished.fetch_add(1, Ordering::SeqCst);
        drop(guard);
        outcome
    }

    /// Whether a run is going now (`POST /run` says so rather than queue).
    pub fn is_running(&self) -> bool {
        self.running.try_lock().is_err()
    }

    /// The last finished run's outcome; `None` until the first ends
    /// (`/readyz`).
    pub fn last(&self) -> Option<Arc<Outcome>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs forever: the first run after `first_delay`, then one every
    /// `interval` counted from that first slot, so a site keeps its slot.
    /// A slot missed because a run took longer than the interval is
    /// skipped, not made up. Sleeps between runs (no CPU).
    pub async fn schedule(&self, first_delay: Duration, interval: Duration) {
        let interval = interval.max(Duration::from_millis(1));
        let mut next = tokio::time::Instant::now() + first_delay;
        loop {
            tokio::time::sleep_until(next).await;
            self.run_now().await;
            let now = tokio::time::Instant::now();
            next += interval;
            while next <= now {
                next += interval;
            }
        }
    }
}

/// The delay of the first run for `config`: see [`splay_offset`].
pub fn first_delay(config: &Config) -> Duration {
    let window = match config.splay {
        Splay::Auto => config.interval,
        Splay::Within(window) => window,
    };
    splay_offset(&config.env, &config.site, window)
}

/// A stable offset in `[0, window)` from a hash of env and site, at
/// millisecond resolution: the same site always lands on the same slot, and
/// a fleet's sites spread evenly over the window. Zero for an empty window.
pub fn splay_offset(env: &str, site: &str, window: Duration) -> Duration {
    let window_ms = window.as_millis().min(u64::MAX as u128) as u64;
    if window_ms == 0 {
        return Duration::ZERO;
    }
    let mut key = Vec::with_capacity(env.len() + site.len() + 1);
    key.extend_from_slice(env.as_bytes());
    // A separator, so ("ab", "c") and ("a", "bc") hash apart.
    key.push(0);
    key.extend_from_slice(site.as_bytes());
    Duration::from_millis(mix(fnv1a(&key)) % window_ms)
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike std's
/// randomly seeded hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// FNV's low bits are weak for short, similar keys (`site-001`,
/// `site-002`); the splitmix64 finalizer spreads every input bit over them
/// before the modulo.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Kills the process group when dropped, so a run that ends any way at
/// all (timeout, a cancelled future, a panic) leaves no drush or PHP behind.
struct GroupKill(Option<i32>);

impl GroupKill {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // SAFETY: killpg takes plain integers and has no memory effects.
            // The group is our child's (process_group(0) made its pid the
            // group id). Linux does not hand out an id while a group of
            // that id has members, so the signal reaches only what drush
            // left; once none is left it finds nobody (ESRCH, ignored),
            // short of the id being reused in the instant since the reap.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the command left behind.
struct Finished {
    exit: Option<std::process::ExitStatus>,
    stdout: Vec<u8>,
    stdout_overflow: bool,
    stderr_tail: Vec<u8>,
    /// Why there is no exit status to read.
    error: Option<String>,
}

/// Runs the command once and reads its outcome.
pub async fn run_once(spec: &RunSpec) -> Outcome {
    let started = jiff::Timestamp::now();
    let clock = tokio::time::Instant::now();
    let finished = execute(spec).await;
    let duration = clock.elapsed().as_secs_f64();
    let started_unix_ns = i64::try_from(started.as_nanosecond()).unwrap_or(i64::MAX);
    outcome_of(spec, started_unix_ns, duration, finished)
}

async fn execute(spec: &RunSpec) -> Finished {
    let mut finished = Finished {
        exit: None,
        stdout: Vec::new(),
        stdout_overflow: false,
        stderr_tail: Vec::new(),
        error: None,
    };
    let Some((program, args)) = spec.command.split_first() else {
        finished.error = Some("no command to run".into());
        return finished;
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // drush forks PHP: a group of its own lets one signal reach both.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            finished.error = Some(format!("could not start {program:?}: {e}"));
            return finished;
        }
    };
    let mut group = GroupKill(child.id().and_then(|id| i32::try_from(id).ok()));
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        finished.error = Some("the command's output could not be read".into());
        return finished;
    };

    let mut stdout_buf = Vec::new();
    let mut stderr_buf = Vec::new();
    let mut overflow = false;
    let work = async {
        let status = child.wait().await;
        // drush is done: whatever it left running in its group (a PHP
        // child holding the pipes open) must not keep the run going.
        group.kill();
        status
    };
    let reading = async {
        tokio::join!(
            read_capped(stdout, &mut stdout_buf, MAX_STDOUT_BYTES, &mut overflow),
            read_tail(stderr, &mut stderr_buf, STDERR_TAIL_BYTES),
        )
    };
    let all = async { tokio::join!(work, reading) };
    let result = tokio::time::timeout(spec.timeout, all).await;
    match result {
        Ok((Ok(status), _)) => finished.exit = Some(status),
        Ok((Err(e), _)) => finished.error = Some(format!("waiting for the command failed: {e}")),
        Err(_) => {
            group.kill();
            // Reap the killed leader; SIGKILL cannot be ignored, so this
            // returns at once.
            let _ = child.wait().await;
            finished.error = Some(format!("timed out after {}", format_duration(spec.timeout)));
        }
    }
    finished.stdout = stdout_buf;
    finished.stdout_overflow = overflow;
    finished.stderr_tail = stderr_buf;
    finished
}

/// Reads all of `from` into `into`, keeping at most `cap` bytes but
/// draining the rest so the writer never blocks on a full pipe.
async fn read_capped(
    mut from: impl AsyncRead + Unpin,
    into: &mut Vec<u8>,
    cap: usize,
    overflow: &mut bool,
) {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = cap.saturating_sub(into.len());
                if n > room {
                    *overflow = true;
                }
                into.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
}

/// Reads all of `from`, keeping only its last `keep` bytes.
async fn read_tail(mut from: impl AsyncRead + Unpin, into: &mut Vec<u8>, keep: usize) {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                into.extend_from_slice(&chunk[..n]);
                if into.len() > keep {
                    let cut = into.len() - keep;
                    into.drain(..cut);
                }
            }
        }
    }
}

/// The last lines of stderr, bounded and safe to log and to draw.
fn stderr_tail(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(STDERR_TAIL_LINES);
    let mut tail = lines[start..].join("\n");
    if !tail.is_empty() {
        tail.push('\n');
    }
    clean_multiline(&tail, MAX_FIELD_CHARS)
}

/// What a finished command's output means: the same reading a run does
/// after drush exits, without running anything (the benchmark's, and a
/// caller's that already holds the output).
pub fn outcome_from_output(
    spec: &RunSpec,
    started_unix_ns: i64,
    duration_seconds: f64,
    output: std::process::Output,
) -> Outcome {
    let stdout_overflow = output.stdout.len() > MAX_STDOUT_BYTES;
    let mut stderr = output.stderr;
    stderr.drain(..stderr.len().saturating_sub(STDERR_TAIL_BYTES));
    let finished = Finished {
        exit: Some(output.status),
        stdout: output.stdout,
        stdout_overflow,
        stderr_tail: stderr,
        error: None,
    };
    outcome_of(spec, started_unix_ns, duration_seconds, finished)
}

fn outcome_of(spec: &RunSpec, started_unix_ns: i64, duration: f64, f: Finished) -> Outcome {
    let exit_code = f.exit.and_then(|s| s.code());
    let mut failure = f.error;
    if failure.is_none() {
        failure = match f.exit {
            Some(status) if status.success() => None,
            Some(status) => Some(match (status.code(), status.signal()) {
                (Some(code), _) => format!("drush exited with code {code}"),
                (None, Some(signal)) => format!("drush was killed by signal {signal}"),
                (None, None) => "drush ended without an exit code".to_string(),
            }),
            None => Some("drush ended without an exit code".to_string()),
        };
    }

    let mut requirements = Vec::new();
    let mut json = Value::Null;
    if failure.is_none() {
        match read_report(&f.stdout, f.stdout_overflow, started_unix_ns) {
            Ok((value, reqs)) => {
                json = value;
                requirements = reqs;
            }
            Err(why) => failure = Some(why),
        }
    }

    let versions = versions_of(&requirements);
    let mut tail = stderr_tail(&f.stderr_tail);
    if tail.trim().is_empty()
        && let Some(why) = &failure
    {
        // drush said nothing: the reader of the report still learns why.
        tail = format!("{why}\n");
    }
    let line = ReportLine {
        site: spec.site.clone(),
        env: spec.env.clone(),
        profile: spec.profile.clone(),
        generated_at: format_rfc3339_utc(started_unix_ns),
        duration_seconds: duration,
        drush_exit_code: exit_code,
        drupal_version: (!versions.drupal.is_empty()).then(|| versions.drupal.clone()),
        requirements: json,
        stderr_tail: tail,
        run_failure: None,
    };
    Outcome {
        started_unix_ns,
        duration_seconds: duration,
        success: failure.is_none(),
        failure,
        requirements,
        versions,
        line,
    }
}

/// drush's stdout as its JSON and the requirements read from it, or why it
/// is not a usable report.
fn read_report(
    stdout: &[u8],
    overflow: bool,
    time_ns: i64,
) -> Result<(Value, Vec<Requirement>), String> {
    if overflow {
        return Err(format!(
            "drush printed more than {} MiB, which is not a status report",
            MAX_STDOUT_BYTES >> 20
        ));
    }
    let text = String::from_utf8_lossy(stdout);
    if text.trim().is_empty() {
        return Err(NO_REQUIREMENTS.to_string());
    }
    let not_a_report = || "drush printed something that is not a status report".to_string();
    let value: Value = serde_json::from_str(text.trim()).map_err(|_| not_a_report())?;
    let report = parse_report_line(&text, time_ns);
    if !report.is_parsed() {
        return Err(not_a_report());
    }
    if report.requirements.is_empty() {
        return Err(NO_REQUIREMENTS.to_string());
    }
    Ok((value, report.requirements))
}

/// The failure of a run whose report is empty: a real Drupal always has
/// requirements, so this is a broken drush/Drupal pairing, not health.
pub const NO_REQUIREMENTS: &str = "drush returned no requirements";

/// Versions from the report itself: the `drupal` requirement's value is
/// Drupal's version and `php`'s starts with PHP's. drush's own and the
/// profile's are not in the report; they stay empty.
fn versions_of(requirements: &[Requirement]) -> Versions {
    let find = |key: &str| {
        requirements
            .iter()
            .find(|r| r.label.eq_ignore_ascii_case(key))
            .and_then(|r| version_token(&r.value))
            .unwrap_or_default()
    };
    Versions {
        drupal: find("drupal"),
        php: find("php"),
        drush: String::new(),
        profile: String::new(),
    }
}

/// The first word of a value, when it looks like a version (`10.3.6`,
/// `8.3.12`, `11.1.0-rc1`): it becomes a label value, so nothing else.
fn version_token(value: &str) -> Option<String> {
    let word = value.split_whitespace().next()?;
    let looks_like_version = word.len() <= 64
        && word.starts_with(|c: char| c.is_ascii_digit())
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'));
    looks_like_version.then(|| word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(label: &str, value: &str) -> Requirement {
        Requirement {
            id: label.into(),
            label: label.into(),
            title: String::new(),
            severity: None,
            value: value.into(),
            description: String::new(),
        }
    }

    #[test]
    fn versions_come_from_the_drupal_and_php_requirements() {
        let v = versions_of(&[
            req("drupal", "10.3.6\n"),
            req(
                "php",
                "8.3.12 (more information [1])\n\n[1] https://x/php\n",
            ),
        ]);
        assert_eq!((v.drupal.as_str(), v.php.as_str()), ("10.3.6", "8.3.12"));
        // Drush 10 rows are keyed by title.
        assert_eq!(versions_of(&[req("Drupal", "9.5.11\n")]).drupal, "9.5.11");
        let odd = versions_of(&[req("drupal", "<script>\n"), req("php", "")]);
        assert_eq!(odd, Versions::default());
    }

    #[test]
    fn stderr_tail_keeps_the_last_lines_sanitized() {
        let raw: String = (1..=30).map(|i| format!("line {i} \x1b[2J\n")).collect();
        let tail = stderr_tail(raw.as_bytes());
        assert!(tail.starts_with("line 11 "), "{tail}");
        assert!(tail.ends_with("line 30 \u{fffd}[2J\n"), "{tail}");
        assert_eq!(tail.lines().count(), STDERR_TAIL_LINES);
        assert!(!tail.contains('\x1b'));
        assert_eq!(stderr_tail(b""), "");
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // Test vectors of FNV-1a 64 (draft-eastlake-fnv).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
