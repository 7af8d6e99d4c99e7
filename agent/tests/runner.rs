//! The runner against a fake drush (`tests/fake-drush`): each way drush can
//! answer gives the documented outcome, a hung drush dies with its children
//! at the timeout, runs never overlap, and the splay spreads a fleet.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use site_status_agent::config::{Config, Splay};
use site_status_agent::metrics::{Metrics, Target};
use site_status_agent::outcome::Outcome;
use site_status_agent::runner::{
    NO_REQUIREMENTS, NOT_A_REPORT, RunSpec, Runner, first_delay, outcome_from_output, run_once,
    splay_offset,
};
use site_status_agent::shared::{Agent, next_slot};
use site_status_contract::Severity;
use site_status_contract::failure::{FailureClass, RunFailure};
use site_status_contract::report::{ReportFormat, parse_report_line};

fn fake_drush() -> String {
    format!("{}/tests/fake-drush", env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/drush")
        .join(name)
}

fn spec(args: &[&str], timeout: Duration) -> RunSpec {
    let mut command = vec!["sh".to_string(), fake_drush()];
    command.extend(args.iter().map(|a| a.to_string()));
    RunSpec {
        command,
        status_command: None,
        timeout,
        site: "borger".into(),
        env: "prod".into(),
        profile: "kk_borger".into(),
    }
}

async fn run(args: &[&str]) -> Outcome {
    run_once(&spec(args, Duration::from_secs(30))).await
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

#[tokio::test]
async fn a_healthy_report_is_a_success_with_drushs_json_unchanged() {
    let path = fixture("drush13-healthy.json");
    let o = run(&["fixture", path.to_str().unwrap()]).await;
    assert!(o.success, "{:?}", o.failure);
    assert_eq!(o.failure, None);
    assert!(o.requirements.len() > 5);
    assert_eq!(o.versions.drupal, "10.3.6");
    assert!(!o.versions.php.is_empty());
    assert_eq!(o.line.requirements, fixture_json("drush13-healthy.json"));
    assert_eq!(o.line.drush_exit_code, Some(0));
    assert_eq!(o.line.drupal_version.as_deref(), Some("10.3.6"));
    assert_eq!(o.line.stderr_tail, "");
    assert_eq!(
        (o.line.site.as_str(), o.line.env.as_str()),
        ("borger", "prod")
    );
    assert!(o.duration_seconds > 0.0 && o.duration_seconds < 30.0);
    assert_eq!(o.line.duration_seconds, o.duration_seconds);
    // generated_at is the start, in UTC, and agrees with the Loki timestamp.
    let at: jiff::Timestamp = o.line.generated_at.parse().unwrap();
    assert!(o.line.generated_at.ends_with('Z'));
    assert_eq!(at.as_nanosecond(), i128::from(o.started_unix_ns));
    let age = jiff::Timestamp::now().as_second() - at.as_second();
    assert!((0..30).contains(&age), "{age}");

    // What the dashboard reads back from Loki is the same report.
    let back = parse_report_line(&o.line.to_json(), o.started_unix_ns);
    assert_eq!(back.format, ReportFormat::Contract);
    assert_eq!(back.requirements.len(), o.requirements.len());
}

#[tokio::test]
async fn red_requirements_with_exit_0_are_a_successful_run() {
    let path = fixture("drush13-broken-full.json");
    let o = run(&["fixture", path.to_str().unwrap()]).await;
    assert!(o.success, "{:?}", o.failure);
    assert!(
        o.requirements
            .iter()
            .any(|r| r.severity == Some(Severity::Error))
    );
}

#[tokio::test]
async fn every_drush_shape_parses() {
    for name in [
        "drush10-list.json",
        "drush10-filtered-object.json",
        "drush11-default-fields.json",
        "drush13-danish.json",
        "drush13-severity2.json",
    ] {
        let path = fixture(name);
        let o = run(&["fixture", path.to_str().unwrap()]).await;
        assert!(o.success, "{name}: {:?}", o.failure);
        assert!(!o.requirements.is_empty(), "{name}");
        assert_eq!(o.line.requirements, fixture_json(name), "{name}");
    }
    // Drush 10 keys rows by number: Drupal's version is found by title.
    let path = fixture("drush10-list.json");
    let o = run(&["fixture", path.to_str().unwrap()]).await;
    assert_eq!(o.versions.drupal, "10.3.6");
}

#[tokio::test]
async fn drush_10_string_sids_give_severities() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drush10-sid-strings.json");
    std::fs::write(
        &path,
        r#"{
    "cron": {"title": "Cron maintenance tasks", "severity": "Error", "sid": "2",
             "description": "Cron has not run recently.\n", "value": "Never run\n"},
    "drupal": {"title": "Drupal", "severity": "Info", "sid": "-1", "description": "", "value": "9.5.11\n"},
    "update_contrib": {"title": "Module and theme update status", "severity": "Warning",
             "sid": "1", "description": "", "value": "Updates available\n"}
}"#,
    )
    .unwrap();
    let o = run(&["fixture", path.to_str().unwrap()]).await;
    assert!(o.success, "{:?}", o.failure);
    let severity = |label: &str| {
        o.requirements
            .iter()
            .find(|r| r.label == label)
            .and_then(|r| r.severity)
    };
    assert_eq!(severity("cron"), Some(Severity::Error));
    assert_eq!(severity("update_contrib"), Some(Severity::Warning));
    assert_eq!(severity("drupal"), Some(Severity::Info));
    assert_eq!(o.versions.drupal, "9.5.11");
}

#[tokio::test]
async fn an_empty_report_is_a_failed_run() {
    let o = run(&["empty"]).await;
    assert!(!o.success);
    assert_eq!(o.failure.as_deref(), Some(NO_REQUIREMENTS));
    let empty = Some(RunFailure {
        exit_code: Some(0),
        ..RunFailure::new(FailureClass::EmptyReport)
    });
    assert_eq!(o.run_failure, empty);
    assert_eq!(o.line.run_failure, empty);
    assert_eq!(run(&["empty-object"]).await.run_failure, empty);
    assert!(o.requirements.is_empty());
    assert_eq!(o.line.requirements, Value::Null);
    assert_eq!(o.line.drush_exit_code, Some(0));
    // drush said nothing on stderr: the report says why it failed.
    assert_eq!(o.line.stderr_tail, format!("{NO_REQUIREMENTS}\n"));
    assert_eq!(o.versions.drupal, "");
}

#[tokio::test]
async fn a_non_zero_exit_keeps_its_code_and_a_bounded_sanitized_stderr_tail() {
    let o = run(&["fail"]).await;
    assert!(!o.success);
    assert_eq!(o.failure.as_deref(), Some("drush exited with code 1"));
    let exit = Some(RunFailure {
        exit_code: Some(1),
        ..RunFailure::new(FailureClass::ExitCode)
    });
    assert_eq!((o.run_failure, o.line.run_failure), (exit, exit));
    assert_eq!(o.line.drush_exit_code, Some(1));
    assert_eq!(o.line.requirements, Value::Null);
    let tail = &o.line.stderr_tail;
    assert!(
        tail.ends_with("SQLSTATE[HY000] [2002] Connection refused\n"),
        "{tail}"
    );
    assert!(tail.contains("In Connection.php line 79:"), "{tail}");
    assert!(!tail.contains('\u{1b}'), "{tail:?}");
    assert!(tail.lines().count() <= 20, "{tail}");
    assert!(!tail.contains("noise line 1\n"), "{tail}");
    assert!(tail.len() <= 4096);
}

#[tokio::test]
async fn garbage_on_stdout_is_a_failed_run() {
    let o = run(&["garbage"]).await;
    assert!(!o.success);
    assert_eq!(o.failure.as_deref(), Some(NOT_A_REPORT));
    assert_eq!(
        o.line.run_failure.map(|f| (f.class, f.exit_code)),
        Some((FailureClass::Unparsable, Some(0)))
    );
    assert_eq!(o.line.requirements, Value::Null);
    assert_eq!(o.line.drush_exit_code, Some(0));
    assert_eq!(o.line.stderr_tail, format!("{NOT_A_REPORT}\n"));
}

#[tokio::test]
async fn silence_a_huge_output_and_a_foreign_signal_have_classes_of_their_own() {
    let silent = run(&["silent"]).await;
    assert_eq!(
        silent.line.run_failure.map(|f| f.class),
        Some(FailureClass::NoOutput)
    );
    assert_eq!(
        silent.line.stderr_tail,
        "drush exited 0 and printed nothing\n"
    );

    let huge = run(&["huge"]).await;
    assert_eq!(
        huge.line.run_failure.map(|f| (f.class, f.exit_code)),
        Some((FailureClass::TooLarge, Some(0)))
    );
    assert!(huge.line.stderr_tail.contains("more than 8 MiB"));

    let killed = run(&["killed"]).await;
    let failure = killed.line.run_failure.unwrap();
    assert_eq!(
        (failure.class, failure.signal, failure.exit_code),
        (FailureClass::Signal, Some(9), None)
    );
    assert_eq!(killed.line.drush_exit_code, None);
    assert_eq!(killed.line.stderr_tail, "drush was killed by signal 9\n");
}

#[tokio::test]
async fn a_missing_program_is_a_failed_run_without_exit_code() {
    let mut s = spec(&[], Duration::from_secs(5));
    s.command = vec!["/nonexistent/drush".into()];
    let o = run_once(&s).await;
    assert!(!o.success);
    assert!(
        o.failure.as_deref().unwrap().starts_with("could not start"),
        "{:?}",
        o.failure
    );
    assert_eq!(o.line.drush_exit_code, None);
    assert_eq!(
        o.line.run_failure,
        Some(RunFailure::new(FailureClass::SpawnFailed))
    );
    assert!(o.line.stderr_tail.starts_with("could not start"));
}

#[tokio::test]
async fn drush_status_is_asked_at_first_and_then_only_when_a_run_suggests_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let (mode, log) = (dir.path().join("mode"), dir.path().join("status-log"));
    std::fs::write(&mode, "ok").unwrap();
    // A copy the test rewrites, as an upgrade would change drush's report.
    let path = dir.path().join("report.json");
    std::fs::copy(fixture("drush13-healthy.json"), &path).unwrap();
    let mut s = spec(
        &["switch", mode.to_str().unwrap(), path.to_str().unwrap()],
        Duration::from_secs(30),
    );
    s.profile = String::new();
    s.status_command = Some(vec![
        "sh".into(),
        fake_drush(),
        "status".into(),
        log.to_str().unwrap().into(),
    ]);
    let asked = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let runner = Runner::new(s);
    let o = runner.run().await;
    assert!(o.success, "{:?}", o.failure);
    assert_eq!(asked(), 1);
    assert_eq!(o.versions.drush, "13.3.0.0");
    // Not given: the install profile is the profile label.
    assert_eq!(runner.profile(), "kk_borger");
    assert_eq!(o.line.profile, "kk_borger");
    // drush status's password is read by nobody.
    assert!(!format!("{o:?}").contains("hunter2"));
    for _ in 0..3 {
        assert!(runner.run().await.success);
    }
    assert_eq!(
        asked(),
        1,
        "drush status asked on a run that suggested no change"
    );
    // A report with another Drupal version: an upgrade, asked once.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("10.3.6"));
    std::fs::write(&path, text.replace("10.3.6", "10.3.7")).unwrap();
    assert!(runner.run().await.success);
    assert_eq!(asked(), 2, "an upgrade did not ask drush status");
    assert!(runner.run().await.success);
    assert_eq!(asked(), 2, "drush status asked again for the same versions");
    // A failed run asks again (the database may be gone): still
    // connected, so the class stays exit_code.
    std::fs::write(&mode, "fail").unwrap();
    let o = runner.run().await;
    assert_eq!(asked(), 3);
    assert_eq!(
        o.line.run_failure.map(|f| (f.class, f.exit_code)),
        Some((FailureClass::ExitCode, Some(1)))
    );
    assert_eq!(o.versions.drush, "13.3.0.0");
}

#[tokio::test]
async fn a_database_drush_status_does_not_call_connected_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("status-log");
    for (db, why) in [
        ("-", "no db-status"),
        ("Not connected", "\"Not connected\", not \"Connected\""),
    ] {
        let mut s = spec(&["fail"], Duration::from_secs(30));
        s.status_command = Some(vec![
            "sh".into(),
            fake_drush(),
            "status".into(),
            log.to_str().unwrap().into(),
            db.into(),
        ]);
        let o = Runner::new(s).run().await;
        assert_eq!(
            o.line.run_failure,
            Some(RunFailure {
                exit_code: Some(1),
                ..RunFailure::new(FailureClass::NoDatabase)
            }),
            "{db}"
        );
        assert!(
            o.failure.as_deref().unwrap().contains(why),
            "{:?}",
            o.failure
        );
        // drush's own words stay the tail.
        assert!(o.line.stderr_tail.ends_with("Connection refused\n"));
    }
}

/// A process is gone when /proc has no entry for it, or only a zombie
/// (its parent is dead; whoever adopted it may not reap it).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            // The state follows the command name's closing parenthesis.
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
            state == Some(Some('Z'))
        }
    }
}

#[tokio::test]
async fn a_hung_drush_is_killed_with_its_children_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let started = Instant::now();
    let o = run_once(&spec(
        &["hang", pidfile.to_str().unwrap()],
        Duration::from_secs(1),
    ))
    .await;
    let took = started.elapsed();
    assert!(!o.success);
    assert_eq!(o.failure.as_deref(), Some("timed out after 1s"));
    assert_eq!(
        o.line.run_failure,
        Some(RunFailure::new(FailureClass::Timeout))
    );
    assert_eq!(o.line.drush_exit_code, None);
    assert_eq!(o.line.requirements, Value::Null);
    assert_eq!(o.line.stderr_tail, "timed out after 1s\n");
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    let pids = read_pids(&pidfile);
    // SIGKILL is delivered asynchronously: allow the kernel a moment.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !pids.iter().all(|p| is_gone(*p)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for pid in pids {
        assert!(is_gone(pid), "process {pid} of the group survived");
    }
}

#[tokio::test]
async fn a_cancelled_run_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pids");
    let runner = Runner::new(spec(
        &["hang", pidfile.to_str().unwrap()],
        Duration::from_secs(60),
    ));
    // The caller gives up (a dropped request, shutdown) long before drush's
    // timeout.
    let gave_up = tokio::time::timeout(Duration::from_millis(500), runner.run()).await;
    assert!(gave_up.is_err());
    let pids = read_pids(&pidfile);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !pids.iter().all(|p| is_gone(*p)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for pid in pids {
        assert!(is_gone(pid), "process {pid} of the group survived");
    }
}

fn read_pids(pidfile: &Path) -> Vec<u32> {
    let pids: Vec<u32> = std::fs::read_to_string(pidfile)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    pids
}

/// (start, end) pairs from the fake drush's log, in the order written.
fn runs_in(log: &Path) -> Vec<(u128, u128)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut runs = Vec::new();
    let mut start = None;
    for line in text.lines() {
        let (what, ns) = line.split_once(' ').unwrap();
        let ns: u128 = ns.parse().unwrap();
        match what {
            "start" => {
                assert_eq!(start, None, "a run started while another ran:\n{text}");
                start = Some(ns);
            }
            "end" => runs.push((start.take().unwrap(), ns)),
            other => panic!("unexpected log line {other}"),
        }
    }
    assert_eq!(start, None, "a run did not end:\n{text}");
    runs
}

fn metrics() -> Arc<Metrics> {
    let target = Target {
        site: "borger".into(),
        env: "prod".into(),
        profile: "kk_borger".into(),
    };
    Arc::new(Metrics::new(&target, true, "0.1.0"))
}

/// The binary's wiring: the agent serialises, the runner runs drush.
fn agent_running(runner: Arc<Runner>) -> Arc<Agent> {
    Agent::new(metrics(), move || {
        let runner = runner.clone();
        async move { runner.run().await }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_asked_for_at_once_never_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let path = fixture("drush13-healthy.json");
    let runner = Arc::new(Runner::new(spec(
        &["slow", log.to_str().unwrap(), path.to_str().unwrap()],
        Duration::from_secs(30),
    )));
    let agent = agent_running(runner);
    assert!(agent.last().is_none());

    let calls: Vec<_> = (0..3)
        .map(|_| {
            let a = agent.clone();
            tokio::spawn(async move { a.run_once().await })
        })
        .collect();
    // A request over HTTP finds the run going and does not start another.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(agent.start_manual().is_err());
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap().unwrap());
    }
    assert!(outcomes.iter().all(|o| o.success));
    // runs_in fails on a start logged while another run was going.
    let runs = runs_in(&log);
    assert_eq!(runs.len(), 3);
    assert!(runs.windows(2).all(|w| w[0].1 <= w[1].0), "{runs:?}");
}

/// A trigger that takes `took` of the (paused) clock per run and notes
/// when each run started, relative to `t0`.
fn timed_trigger(
    t0: tokio::time::Instant,
    took: Duration,
    starts: Arc<std::sync::Mutex<Vec<Duration>>>,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>
+ Send
+ Sync
+ 'static {
    let report = std::fs::read(fixture("drush13-healthy.json")).unwrap();
    let spec = spec(&[], Duration::from_secs(30));
    move || {
        let starts = starts.clone();
        let (report, spec) = (report.clone(), spec.clone());
        Box::pin(async move {
            starts.lock().unwrap().push(t0.elapsed());
            tokio::time::sleep(took).await;
            let output = std::process::Output {
                status: std::os::unix::process::ExitStatusExt::from_raw(0),
                stdout: report,
                stderr: Vec::new(),
            };
            outcome_from_output(&spec, 0, took.as_secs_f64(), output)
        })
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn the_schedule_runs_at_its_slots_and_skips_the_missed_ones() {
    // The schedule the binary runs, on tokio's paused clock.
    let t0 = tokio::time::Instant::now();
    let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let agent = Agent::new(metrics(), timed_trigger(t0, ms(100), starts.clone()));
    let scheduled = agent.clone();
    let task = tokio::spawn(async move { scheduled.schedule(ms(300), ms(400), ms(100)).await });
    tokio::time::sleep(ms(1250)).await;
    assert_eq!(*starts.lock().unwrap(), vec![ms(300), ms(700), ms(1100)]);
    assert!(agent.last().unwrap().success);
    task.abort();

    // A run longer than the interval: the slots it overran are skipped,
    // not run at once when it ends; the next keeps the original phase.
    let t0 = tokio::time::Instant::now();
    let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let agent = Agent::new(metrics(), timed_trigger(t0, ms(900), starts.clone()));
    let scheduled = agent.clone();
    let task = tokio::spawn(async move { scheduled.schedule(ms(300), ms(400), ms(100)).await });
    tokio::time::sleep(ms(2700)).await;
    // 0.3 runs until 1.2: 0.7 and 1.1 are skipped, 1.5 runs until 2.4,
    // 1.9 and 2.3 are skipped, 2.7 is the next.
    assert_eq!(*starts.lock().unwrap(), vec![ms(300), ms(1500)]);
    tokio::time::sleep(ms(1)).await;
    assert_eq!(starts.lock().unwrap().len(), 3);
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn huge_intervals_and_delays_do_not_panic_the_schedule() {
    let t0 = tokio::time::Instant::now();
    let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let agent = Agent::new(metrics(), timed_trigger(t0, ms(10), starts.clone()));
    let scheduled = agent.clone();
    let once = tokio::spawn(async move { scheduled.schedule(ms(0), Duration::MAX, ms(100)).await });
    let scheduled = agent.clone();
    let never =
        tokio::spawn(async move { scheduled.schedule(Duration::MAX, ms(1), ms(100)).await });
    tokio::time::sleep(Duration::from_secs(3600 * 24 * 365)).await;
    assert_eq!(*starts.lock().unwrap(), vec![ms(0)]);
    assert!(!once.is_finished() && !never.is_finished());
    // A scheduler that can run no more is not live (failure 5: /healthz
    // said 200 while no run would ever come again).
    assert_eq!(agent.live(), Err(site_status_agent::shared::NotLive::Ended));
    once.abort();
    never.abort();

    let now = tokio::time::Instant::now();
    assert_eq!(next_slot(now, Duration::MAX, now), None);
    assert_eq!(next_slot(now, ms(400), now + ms(100)), Some(now + ms(400)));
    assert_eq!(next_slot(now, ms(400), now + ms(400)), Some(now + ms(800)));
    assert_eq!(
        next_slot(now, ms(400), now + ms(4000 * 1000 + 1)),
        Some(now + ms(4000 * 1000 + 400))
    );
    // A zero interval would spin: it is taken as a millisecond.
    assert_eq!(next_slot(now, Duration::ZERO, now), Some(now + ms(1)));
}

fn config(args: &[&str]) -> Config {
    let mut all = vec!["site-status-agent", "--site", "borger", "--env", "prod"];
    all.extend_from_slice(args);
    Config::try_parse_from(all).unwrap()
}

/// FNV-1a of "prod\0borger", splitmix64-finalized, modulo 300 000 ms:
/// computed independently (Python) so a change of hash is caught.
const PINNED_MS: u64 = 211_329;

#[test]
fn the_first_run_is_at_a_stable_slot_within_the_interval() {
    let five_min = Duration::from_secs(300);
    let a = splay_offset("prod", "borger", five_min);
    assert_eq!(a, splay_offset("prod", "borger", five_min));
    assert!(a < five_min);
    assert_ne!(a, splay_offset("test", "borger", five_min));
    // Pinned: the slot must not move between builds or versions.
    assert_eq!(a, Duration::from_millis(PINNED_MS));
    assert_eq!(
        splay_offset("prod", "borger", Duration::ZERO),
        Duration::ZERO
    );

    let auto = config(&["--interval", "5m"]);
    assert_eq!(auto.splay, Splay::Auto);
    assert_eq!(first_delay(&auto), a);
    assert_eq!(first_delay(&config(&["--splay", "0"])), Duration::ZERO);
    let within = first_delay(&config(&["--splay", "30s"]));
    assert!(within < Duration::from_secs(30));
    assert_eq!(
        within,
        splay_offset("prod", "borger", Duration::from_secs(30))
    );
}

#[test]
fn a_fleet_spreads_over_the_interval() {
    let interval = Duration::from_secs(300);
    let mut per_second = vec![0usize; 300];
    for i in 0..320 {
        let site = format!("site-{i:03}");
        let offset = splay_offset("prod", &site, interval);
        per_second[offset.as_secs() as usize] += 1;
    }
    let busiest = per_second.windows(2).map(|w| w[0] + w[1]).max().unwrap();
    // 320 over 300 s is about 2 per two seconds; a hash spreads like
    // chance does, so some windows hold a few more, and none holds many
    // (everyone at once would be 320).
    assert!(busiest <= 10, "a two-second window holds {busiest} sites");
    // Each minute gets its share (64 on average).
    let thin_minutes = per_second
        .chunks(60)
        .filter(|m| m.iter().sum::<usize>() < 40)
        .count();
    assert_eq!(thin_minutes, 0, "{per_second:?}");
}
