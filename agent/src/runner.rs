//! The runner: runs the status command (drush) and, when it has reason to,
//! `drush status`; kills a run that outlives its timeout together with its
//! whole process group; and turns what drush said into the [`Outcome`] the
//! metrics, the endpoints and the spool share, a failed run classified
//! into a [`RunFailure`]. Also the stable first-run offset (splay). It
//! runs processes and reads their output; it never serialises runs (the
//! `shared::Agent` does) and never logs (the caller does).

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use serde_json::Value;
use site_status_contract::failure::{FailureClass, RunFailure};
use site_status_contract::line::ReportLine;
use site_status_contract::text::{MAX_FIELD_CHARS, clean_line, clean_multiline};
use site_status_contract::{Requirement, format_rfc3339_utc, parse_report_line};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::config::{Config, Splay, format_duration};
use crate::outcome::{Outcome, Versions};

/// drush's report is tens of kilobytes; past this, stdout is not a report
/// and keeping it would only cost memory.
pub const MAX_STDOUT_BYTES: usize = 8 << 20;
/// How much of the end of stderr is read back: enough to reach a PHP
/// fatal error's first line above its stack trace (4 kB on the real site).
pub const STDERR_TAIL_BYTES: usize = 64 * 1024;
/// Of that, at most this many lines go into the report's `stderr_tail`.
pub const STDERR_TAIL_LINES: usize = 20;
/// A line of stderr longer than this is cut: 20 of them still fit in
/// the report's field.
const STDERR_LINE_CHARS: usize = 1024;
/// `drush status` prints a few kilobytes.
const MAX_STATUS_BYTES: usize = 1 << 20;

/// What to run and whose report it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    pub command: Vec<String>,
    /// `drush status --format=json` of the same drush; `None` when it
    /// could not be derived and was not given (versions then come from the
    /// report alone and the profile stays as configured).
    pub status_command: Option<Vec<String>>,
    pub timeout: Duration,
    pub site: String,
    pub env: String,
    /// As configured; empty: the install profile drush reports.
    pub profile: String,
}

impl RunSpec {
    pub fn from_config(config: &Config) -> RunSpec {
        RunSpec {
            command: config.command.clone(),
            status_command: config.status_command.clone(),
            timeout: config.timeout,
            site: config.site.clone(),
            env: config.env.clone(),
            profile: config.profile.clone(),
        }
    }
}

/// What `drush status --format=json` says that the agent uses. drush's
/// answer also holds `db-password` and paths: those are never read out of
/// the parsed JSON, so they cannot reach a log or a label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrushStatus {
    pub drush_version: String,
    pub install_profile: String,
    pub drupal_version: String,
    pub php_version: String,
    /// `db-status` as drush said it; `None` when the key is missing (drush
    /// could not reach the database at all).
    pub db_status: Option<String>,
}

impl DrushStatus {
    /// From `drush status --format=json`'s stdout; `None` when it is not
    /// a JSON object.
    pub fn parse(stdout: &[u8]) -> Option<DrushStatus> {
        let value: Value = serde_json::from_slice(stdout).ok()?;
        let object = value.as_object()?;
        let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or("");
        Some(DrushStatus {
            drush_version: version_token(text("drush-version")).unwrap_or_default(),
            install_profile: machine_name(text("install-profile")).unwrap_or_default(),
            drupal_version: version_token(text("drupal-version")).unwrap_or_default(),
            php_version: version_token(text("php-version")).unwrap_or_default(),
            db_status: object
                .get("db-status")
                .and_then(Value::as_str)
                .map(|s| clean_line(s, 64)),
        })
    }

    pub fn db_connected(&self) -> bool {
        self.db_status.as_deref() == Some("Connected")
    }

    /// This answer, with what it left out taken from an earlier one: drush
    /// without its database knows no install profile, and a profile label
    /// that went empty would make the site a new series (and a new site
    /// for the rules) for as long as the database is gone.
    pub fn filled_from(mut self, before: &DrushStatus) -> DrushStatus {
        for (now, then) in [
            (&mut self.drush_version, &before.drush_version),
            (&mut self.install_profile, &before.install_profile),
            (&mut self.drupal_version, &before.drupal_version),
            (&mut self.php_version, &before.php_version),
        ] {
            if now.is_empty() {
                now.clone_from(then);
            }
        }
        self
    }
}

/// A Drupal machine name (an install profile): it becomes a label value,
/// so nothing else is taken.
fn machine_name(value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then(|| value.to_string())
}

/// What the runner remembers of `drush status` between runs: asking costs
/// another PHP bootstrap, so it is asked at start and then only when a run
/// suggests something changed.
#[derive(Debug, Default)]
struct StatusCache {
    status: Option<DrushStatus>,
    /// Drupal's and PHP's versions in the last report that had them: a
    /// report that says otherwise means an upgrade, which may have brought
    /// another drush too.
    report_versions: Option<(String, String)>,
}

/// Runs the status command and, when needed, `drush status`. Does not
/// serialise runs: its caller (`shared::Agent`) never starts two at once.
pub struct Runner {
    spec: RunSpec,
    cache: StdMutex<StatusCache>,
}

impl Runner {
    pub fn new(spec: RunSpec) -> Runner {
        Runner {
            spec,
            cache: StdMutex::new(StatusCache::default()),
        }
    }

    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    fn cached(&self) -> Option<DrushStatus> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .status
            .clone()
    }

    /// The `profile` label: as configured, else the install profile drush
    /// reported, else empty (not known yet).
    pub fn profile(&self) -> String {
        if !self.spec.profile.is_empty() {
            return self.spec.profile.clone();
        }
        self.cached().map(|s| s.install_profile).unwrap_or_default()
    }

    /// Asks `drush status` now, within `timeout`, and remembers what it
    /// said. `None` when there is no status command or it gave no JSON.
    pub async fn refresh_status(&self, timeout: Duration) -> Option<DrushStatus> {
        let command = self.spec.status_command.as_ref()?;
        let finished = execute(command, timeout, MAX_STATUS_BYTES).await;
        if finished.error.is_some() || finished.stdout_overflow {
            return None;
        }
        // Read whatever the exit status: with broken module code drush
        // still prints its status, then exits 255.
        let mut status = DrushStatus::parse(&finished.stdout)?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(before) = &cache.status {
            status = status.filled_from(before);
        }
        cache.status = Some(status.clone());
        Some(status)
    }

    /// One run: the status command, then `drush status` when nothing is
    /// known yet, the run failed in a way a changed site explains, the
    /// database was not connected last time, or the report's Drupal or PHP
    /// version changed since the last report (an upgrade).
    pub async fn run(&self) -> Outcome {
        let started = jiff::Timestamp::now();
        let clock = tokio::time::Instant::now();
        let finished = execute(&self.spec.command, self.spec.timeout, MAX_STDOUT_BYTES).await;
        let duration = clock.elapsed().as_secs_f64();
        let started_unix_ns = i64::try_from(started.as_nanosecond()).unwrap_or(i64::MAX);
        let mut spec = self.spec.clone();
        spec.profile = self.profile();
        let mut outcome = outcome_of(&spec, started_unix_ns, duration, finished);

        let cached = self.cached();
        let seen = (
            outcome.versions.drupal.clone(),
            outcome.versions.php.clone(),
        );
        let upgraded = if seen.0.is_empty() && seen.1.is_empty() {
            false
        } else {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let before = cache.report_versions.replace(seen.clone());
            before.is_some_and(|before| before != seen)
        };
        let ask = match (&cached, outcome.run_failure.map(|f| f.class)) {
            (None, _) => true,
            (Some(status), _) if !status.db_connected() => true,
            (
                _,
                Some(
                    FailureClass::ExitCode
                    | FailureClass::Signal
                    | FailureClass::NoOutput
                    | FailureClass::Unparsable
                    | FailureClass::EmptyReport,
                ),
            ) => true,
            (Some(_), Some(_)) => false,
            (Some(_), None) => upgraded,
        };
        let fresh = if ask {
            self.refresh_status(self.spec.timeout).await
        } else {
            None
        };
        let status = fresh.clone().or(cached);
        if let Some(status) = &status {
            merge_status(&mut outcome, status);
            if self.spec.profile.is_empty() && outcome.line.profile.is_empty() {
                outcome.line.profile = status.install_profile.clone();
            }
        }
        if let Some(fresh) = &fresh
            && !fresh.db_connected()
        {
            let why = match &fresh.db_status {
                Some(s) => format!("drush status says the database is {s:?}, not \"Connected\""),
                None => {
                    "drush status has no db-status: drush could not reach the database".to_string()
                }
            };
            let failure = RunFailure {
                class: FailureClass::NoDatabase,
                exit_code: outcome.line.drush_exit_code,
                signal: outcome.run_failure.and_then(|f| f.signal),
            };
            fail(&mut outcome, failure, why);
        }
        outcome
    }
}

/// drush's own version always comes from drush status; Drupal's and PHP's
/// from the report when it has them (fresher), else from drush status.
fn merge_status(outcome: &mut Outcome, status: &DrushStatus) {
    let v = &mut outcome.versions;
    v.drush = status.drush_version.clone();
    v.install_profile = status.install_profile.clone();
    if v.drupal.is_empty() {
        v.drupal = status.drupal_version.clone();
    }
    if v.php.is_empty() {
        v.php = status.php_version.clone();
    }
}

/// Turns `outcome` into a failed run of `failure`, whatever it was.
fn fail(outcome: &mut Outcome, failure: RunFailure, why: String) {
    if outcome.success {
        // A report read from a drush without a database is not the site's.
        outcome.requirements.clear();
        outcome.line.requirements = Value::Null;
        outcome.line.stderr_tail = outcome.stderr_tail.clone();
    }
    outcome.success = false;
    outcome.run_failure = Some(failure);
    outcome.line.run_failure = Some(failure);
    if outcome.line.stderr_tail.trim().is_empty() {
        outcome.line.stderr_tail = format!("{}\n", clean_line(&why, MAX_FIELD_CHARS));
    }
    outcome.failure = Some(why);
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

/// The environment variable that marks every process a run started: its
/// value is unique to the run, and children inherit it.
pub const RUN_MARKER: &str = "SITE_STATUS_AGENT_RUN";

/// A value of [`RUN_MARKER`] no other run of any agent on the machine has.
fn run_marker() -> String {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = jiff::Timestamp::now().as_nanosecond();
    format!("{}-{n}-{now}", std::process::id())
}

/// Kills every process whose environment holds `RUN_MARKER=marker`: the
/// children that left drush's process group (setsid, a daemonising PHP
/// child) and so escape `killpg`. Reads `/proc/PID/environ`, which only
/// the processes of our own user let us read, the only ones we could kill.
fn kill_marked(marker: &str) {
    let needle = format!("{RUN_MARKER}={marker}\0");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if u32::try_from(pid).ok() == Some(me) {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            // SAFETY: kill takes plain integers and has no memory effects;
            // the pid holds our run's marker, so it is ours to end.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// Kills the process group, and whatever else carries the run's marker,
/// when dropped, so a run that ends any way at all (timeout, a cancelled
/// future such as a shutdown's, a panic) leaves no drush or PHP behind.
struct GroupKill(Option<i32>, String);

impl GroupKill {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            kill_marked(&self.1);
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

/// Why a command has no exit status to read.
#[derive(Debug)]
enum ExecError {
    /// It could not be started, or its output not read.
    Spawn(String),
    /// It outlived the timeout and was killed with its group.
    Timeout(Duration),
    /// Waiting for it failed.
    Wait(String),
}

/// What the command left behind.
struct Finished {
    exit: Option<std::process::ExitStatus>,
    stdout: Vec<u8>,
    stdout_overflow: bool,
    stderr_tail: Vec<u8>,
    error: Option<ExecError>,
}

/// Runs the command once, without `drush status`, and reads its outcome.
pub async fn run_once(spec: &RunSpec) -> Outcome {
    let started = jiff::Timestamp::now();
    let clock = tokio::time::Instant::now();
    let finished = execute(&spec.command, spec.timeout, MAX_STDOUT_BYTES).await;
    let duration = clock.elapsed().as_secs_f64();
    let started_unix_ns = i64::try_from(started.as_nanosecond()).unwrap_or(i64::MAX);
    outcome_of(spec, started_unix_ns, duration, finished)
}

async fn execute(command: &[String], timeout: Duration, max_stdout: usize) -> Finished {
    let mut finished = Finished {
        exit: None,
        stdout: Vec::new(),
        stdout_overflow: false,
        stderr_tail: Vec::new(),
        error: None,
    };
    let Some((program, args)) = command.split_first() else {
        finished.error = Some(ExecError::Spawn("no command to run".into()));
        return finished;
    };
    let marker = run_marker();
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // drush forks PHP: a group of its own lets one signal reach both;
        // the marker finds what leaves the group.
        .env(RUN_MARKER, &marker)
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            finished.error = Some(ExecError::Spawn(format!(
                "could not start {}: {e}",
                clean_line(&format!("{program:?}"), 256)
            )));
            return finished;
        }
    };
    let mut group = GroupKill(child.id().and_then(|id| i32::try_from(id).ok()), marker);
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        finished.error = Some(ExecError::Spawn(
            "the command's output could not be read".into(),
        ));
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
            read_capped(stdout, &mut stdout_buf, max_stdout, &mut overflow),
            read_tail(stderr, &mut stderr_buf, STDERR_TAIL_BYTES),
        )
    };
    let all = async { tokio::join!(work, reading) };
    let result = tokio::time::timeout(timeout, all).await;
    match result {
        Ok((Ok(status), _)) => finished.exit = Some(status),
        Ok((Err(e), _)) => {
            finished.error = Some(ExecError::Wait(format!(
                "waiting for the command failed: {e}"
            )))
        }
        Err(_) => {
            group.kill();
            // Reap the killed leader; SIGKILL cannot be ignored, so this
            // returns at once.
            let _ = child.wait().await;
            finished.error = Some(ExecError::Timeout(timeout));
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

/// The first line of a PHP fatal error: under it PHP prints a stack trace
/// long enough to push it out of the last lines, and it is the line that
/// says what broke.
fn is_php_fatal(line: &str) -> bool {
    let line = line.trim_start();
    [
        "PHP Fatal error:",
        "Fatal error:",
        "PHP Parse error:",
        "Parse error:",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}

/// The last lines of stderr, bounded and safe to log and to draw. When a
/// PHP fatal error's first line is above them it is kept first, then `…`.
fn stderr_tail(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(STDERR_TAIL_LINES);
    let fatal = lines[..start].iter().rposition(|l| is_php_fatal(l));
    let mut head = Vec::new();
    let mut from = start;
    if let Some(i) = fatal {
        head.push(clean_line(lines[i], STDERR_LINE_CHARS));
        head.push("…".to_string());
        from = (start + head.len()).min(lines.len());
    }
    let mut budget =
        MAX_FIELD_CHARS.saturating_sub(head.iter().map(|l| l.chars().count() + 1).sum());
    let mut tail = Vec::new();
    for line in lines[from..].iter().rev() {
        let line = clean_line(line, STDERR_LINE_CHARS);
        let cost = line.chars().count() + 1;
        if cost > budget {
            break;
        }
        budget -= cost;
        tail.push(line);
    }
    tail.reverse();
    head.extend(tail);
    let mut out = head.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    clean_multiline(&out, MAX_FIELD_CHARS)
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

/// A failed run's class and a sentence for the log, from how the command
/// ended; `None` when it exited 0 (its output decides).
fn classify_end(f: &Finished) -> Option<(RunFailure, String)> {
    let failure = |class| RunFailure::new(class);
    if let Some(error) = &f.error {
        return Some(match error {
            ExecError::Spawn(why) | ExecError::Wait(why) => {
                (failure(FailureClass::SpawnFailed), why.clone())
            }
            ExecError::Timeout(after) => (
                failure(FailureClass::Timeout),
                format!("timed out after {}", format_duration(*after)),
            ),
        });
    }
    let Some(status) = f.exit else {
        return Some((
            failure(FailureClass::SpawnFailed),
            "drush ended without an exit status".to_string(),
        ));
    };
    if status.success() {
        return None;
    }
    Some(match (status.code(), status.signal()) {
        (Some(code), _) => (
            RunFailure {
                exit_code: Some(code),
                ..failure(FailureClass::ExitCode)
            },
            format!("drush exited with code {code}"),
        ),
        // The agent kills only at the timeout, classified above: a signal
        // here came from elsewhere (the OOM killer, an operator).
        (None, Some(signal)) => (
            RunFailure {
                signal: Some(signal),
                ..failure(FailureClass::Signal)
            },
            format!("drush was killed by signal {signal}"),
        ),
        (None, None) => (
            failure(FailureClass::ExitCode),
            "drush ended without an exit code".to_string(),
        ),
    })
}

fn outcome_of(spec: &RunSpec, started_unix_ns: i64, duration: f64, f: Finished) -> Outcome {
    let exit_code = f.exit.and_then(|s| s.code());
    let mut failure = classify_end(&f);

    let mut requirements = Vec::new();
    let mut json = Value::Null;
    if failure.is_none() {
        match read_report(&f.stdout, f.stdout_overflow, started_unix_ns) {
            Ok((value, reqs)) => {
                json = value;
                requirements = reqs;
            }
            Err((class, why)) => {
                failure = Some((
                    RunFailure {
                        exit_code,
                        ..RunFailure::new(class)
                    },
                    why.to_string(),
                ))
            }
        }
    }

    let versions = versions_of(&requirements);
    let said = stderr_tail(&f.stderr_tail);
    let tail = match &failure {
        // drush said nothing: the reader of the report still learns why.
        Some((_, why)) if said.trim().is_empty() => {
            format!("{}\n", clean_line(why, MAX_FIELD_CHARS))
        }
        Some(_) => said.clone(),
        // drush 13 writes "[error] Failed to retrieve security advisory
        // data." on every offline run that succeeds: in a successful
        // run's report it would read as a failure, so it stays out.
        None => String::new(),
    };
    let run_failure = failure.as_ref().map(|(f, _)| *f);
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
        run_failure,
    };
    Outcome {
        started_unix_ns,
        duration_seconds: duration,
        success: failure.is_none(),
        run_failure,
        failure: failure.map(|(_, why)| why),
        stderr_tail: said,
        requirements,
        versions,
        line,
    }
}

/// drush's stdout as its JSON and the requirements read from it, or the
/// class and reason it is not a usable report.
fn read_report(
    stdout: &[u8],
    overflow: bool,
    time_ns: i64,
) -> Result<(Value, Vec<Requirement>), (FailureClass, &'static str)> {
    if overflow {
        return Err((FailureClass::TooLarge, TOO_LARGE));
    }
    let text = String::from_utf8_lossy(stdout);
    if text.trim().is_empty() {
        return Err((FailureClass::NoOutput, NO_OUTPUT));
    }
    let not_a_report = (FailureClass::Unparsable, NOT_A_REPORT);
    let value: Value = serde_json::from_str(text.trim()).map_err(|_| not_a_report)?;
    let report = parse_report_line(&text, time_ns);
    if !report.is_parsed() {
        return Err(not_a_report);
    }
    if report.requirements.is_empty() {
        return Err((FailureClass::EmptyReport, NO_REQUIREMENTS));
    }
    Ok((value, report.requirements))
}

/// The failure of a run whose report is empty: a real Drupal always has
/// requirements, so this is a broken drush/Drupal pairing, not health.
pub const NO_REQUIREMENTS: &str = "drush returned no requirements";
/// drush exited 0 and printed nothing.
pub const NO_OUTPUT: &str = "drush exited 0 and printed nothing";
pub const NOT_A_REPORT: &str = "drush printed something that is not a status report";
pub const TOO_LARGE: &str = "drush printed more than 8 MiB, which is not a status report";

/// Versions from the report itself: the `drupal` requirement's value is
/// Drupal's version and `php`'s starts with PHP's. drush's own comes from
/// `drush status` ([`Runner::run`]); the profile's version from nowhere.
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
        install_profile: String::new(),
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
    fn a_status_without_its_database_keeps_the_profile_it_had() {
        // As drush 13.3 answers with the database file gone: no db-status,
        // no install-profile.
        let before = DrushStatus::parse(
            br#"{"drupal-version": "10.3.7", "php-version": "8.2.36", "drush-version": "13.3.0.0",
                 "db-status": "Connected", "install-profile": "standard", "db-password": "hunter2"}"#,
        )
        .unwrap();
        let without_db = DrushStatus::parse(
            br#"{"drupal-version": "10.3.7", "php-version": "8.2.36", "drush-version": "13.3.0.0"}"#,
        )
        .unwrap();
        assert_eq!(without_db.install_profile, "");
        let merged = without_db.filled_from(&before);
        assert_eq!(merged.install_profile, "standard");
        assert_eq!(merged.drush_version, "13.3.0.0");
        // What it says now still wins, and the database is still gone.
        assert_eq!(merged.db_status, None);
        assert!(!merged.db_connected());
        let other = DrushStatus::parse(br#"{"install-profile": "minimal"}"#)
            .unwrap()
            .filled_from(&before);
        assert_eq!(other.install_profile, "minimal");
        assert!(!format!("{before:?}").contains("hunter2"));
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
    fn a_php_fatal_errors_first_line_survives_its_stack_trace() {
        let mut raw = String::from(" [warning] include_once(x): Failed\n");
        raw.push_str("PHP Fatal error:  Uncaught Error: Class \"A\\B\" not found in /x.php:261\n");
        raw.push_str("Stack trace:\n");
        for i in 0..40 {
            raw.push_str(&format!("#{i} /x.php({i}): f()\n"));
        }
        raw.push_str("  thrown in /x.php on line 261\n");
        let tail = stderr_tail(raw.as_bytes());
        let lines: Vec<&str> = tail.lines().collect();
        assert!(
            lines[0].starts_with("PHP Fatal error:  Uncaught Error"),
            "{tail}"
        );
        assert_eq!(lines[1], "…");
        assert_eq!(lines.last(), Some(&"  thrown in /x.php on line 261"));
        assert_eq!(lines.len(), STDERR_TAIL_LINES);
        // Within the last lines already: not repeated.
        let short = "PHP Fatal error:  boom\nStack trace:\n#0 {main}\n";
        assert_eq!(stderr_tail(short.as_bytes()), short);
        // Long lines are cut so the tail fits the report's field.
        let long = format!("{}\n", "x".repeat(100_000)).repeat(30);
        assert!(stderr_tail(long.as_bytes()).chars().count() <= MAX_FIELD_CHARS);
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // Test vectors of FNV-1a 64 (draft-eastlake-fnv).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
