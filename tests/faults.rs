//! Faults, each a test against a real process (issue 17): a real Prometheus
//! (Debian's package) scraping a fleet in the contract's shape, broken on
//! the process itself (signals) or by a proxy in front of it
//! (tests/support/fault_proxy.rs), read by the real poller and app and
//! drawn by the real UI (tests/support/dashboard.rs), or by the real binary
//! in tmux.
//!
//! For a fault that is an error: the last good data stays (the same
//! sites), the environment is marked STALE on the drawn screen with its
//! age and a readable error free of control characters, the other
//! environments keep updating, nothing panics, and it recovers by itself
//! once the fault is removed. For an answer that is odd but no error, what
//! a user would expect instead, and again nothing broken on screen.
//!
//! | fault | covered by |
//! |---|---|
//! | killed (SIGKILL, then restarted) | `prometheus_real.rs` `failing_backends_keep_their_last_data_marked_stale_and_recover` |
//! | frozen (SIGSTOP, then SIGCONT) | `failing_backends_keep_their_last_data_stale_and_recover`, step "frozen"; in tmux: `a_frozen_prometheus_leaves_the_cursor_moving_marks_the_screen_stale_and_recovers` |
//! | an HTML 502 page from a proxy | `failing_backends_keep_their_last_data_stale_and_recover`, "an HTML 502 page" |
//! | a Prometheus error envelope | `prometheus_real.rs` `failing_backends_keep_their_last_data_marked_stale_and_recover` (also garbage and a hang there) |
//! | truncated JSON (the real body cut) | `failing_backends_keep_their_last_data_stale_and_recover`, "truncated JSON" and "a body cut off" |
//! | an endless slow-drip body | `failing_backends_keep_their_last_data_stale_and_recover`, "an endless slow drip" |
//! | a body past the size cap | `failing_backends_keep_their_last_data_stale_and_recover`, "a body past the size cap" |
//! | JSON nested 100,000 levels deep | `failing_backends_keep_their_last_data_stale_and_recover`, the three "nested" steps |
//! | NaN / +Inf / -Inf sample values | `odd_answers_read_as_users_expect`, the three "non-finite" steps (and "ages no clock can show", 1e300) |
//! | duplicate series | `odd_answers_read_as_users_expect`, "duplicate series" |
//! | a 100 KB label value | `odd_answers_read_as_users_expect`, "a 100 KB site name and profile" |
//!
//! Each test shares one Prometheus across its faults and runs them one
//! after the other; the three tests run side by side.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use serde_json::Value;
use site_status::model::SiteState;
use site_status::model::text::MAX_NAME_CHARS;
use site_status::poller::PollSettings;
use support::dashboard::{Dashboard, config_text, pane, parse_config};
use support::fault_proxy::{Fault, FaultProxy, Request};
use support::tmux::{Screen, Tmux, live_dashboard};
use support::{FleetBuilder, FleetExporter, TestPrometheus};

/// Any wait for the dashboard: generous, a functional bound.
const LIMIT: Duration = Duration::from_secs(20);
const POLL: PollSettings = PollSettings {
    interval: Duration::from_millis(400),
    timeout: Duration::from_secs(2),
    max_backoff: Duration::from_millis(1600),
};
/// The depth of the nested JSON.
const DEPTH: usize = 100_000;
const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------
// The grid's answers, as the proxy sees them
// ---------------------------------------------------------------------------

/// Which of the grid's five instant queries a request is, told by the
/// contract's metric names in its PromQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Worst,
    Failing,
    Success,
    Age,
    Up,
}

fn answer_of(request: &Request) -> Option<Answer> {
    if !request.is_instant_query() {
        return None;
    }
    let q = request.query.as_deref()?;
    Some(if q.contains("drupal_status_report_success") {
        Answer::Success
    } else if q.contains("drupal_status_report_last_run_timestamp_seconds") {
        Answer::Age
    } else if q.contains("drupal_requirement_severity") && q.contains(">= 1") {
        Answer::Failing
    } else if q.contains("drupal_requirement_severity") {
        Answer::Worst
    } else if q.contains("up{") {
        Answer::Up
    } else {
        return None;
    })
}

/// Rewrites the result list of the grid's answers (other requests pass
/// as they are).
fn rewrite_results(change: impl Fn(Answer, &mut Vec<Value>) + Send + Sync + 'static) -> Fault {
    Fault::Rewrite(Arc::new(move |request, status, body| {
        let Some(answer) = answer_of(request) else {
            return (status, body);
        };
        let Ok(mut json) = serde_json::from_slice::<Value>(&body) else {
            return (status, body);
        };
        let Some(Value::Array(result)) = json.pointer_mut("/data/result") else {
            return (status, body);
        };
        change(answer, result);
        (status, serde_json::to_vec(&json).expect("JSON"))
    }))
}

const NON_FINITE: &[&str] = &["NaN", "+Inf", "-Inf"];

/// Every sample of the `answers` given, each of `values` in turn.
fn values(answers: &'static [Answer], values: &'static [&'static str]) -> Fault {
    rewrite_results(move |answer, result| {
        if answers.contains(&answer) {
            for (i, sample) in result.iter_mut().enumerate() {
                sample["value"][1] = Value::from(values[i % values.len()]);
            }
        }
    })
}

/// Every series twice; `victim`'s worst severity comes first a second
/// time as an error, before its real value.
fn duplicated(victim: String) -> Fault {
    rewrite_results(move |answer, result| {
        let mut doubled = Vec::with_capacity(result.len() * 2);
        for sample in result.drain(..) {
            let mut copy = sample.clone();
            if answer == Answer::Worst && sample["metric"]["site"] == victim.as_str() {
                copy["value"][1] = Value::from("2");
                doubled.push(copy);
                doubled.push(sample);
            } else {
                doubled.push(sample);
                doubled.push(copy);
            }
        }
        *result = doubled;
    })
}

/// `victim`'s series carry `site` and `profile` instead of its own.
fn relabelled(victim: String, site: String, profile: String) -> Fault {
    rewrite_results(move |_, result| {
        for sample in result.iter_mut() {
            if sample["metric"]["site"] == victim.as_str() {
                sample["metric"]["site"] = Value::from(site.as_str());
                sample["metric"]["profile"] = Value::from(profile.as_str());
            }
        }
    })
}

fn deep() -> String {
    format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH))
}

/// The grid's answers as `wrap` builds them from the real one's `data`
/// (as JSON text); other requests pass.
fn nested(wrap: fn(&Value) -> String) -> Fault {
    Fault::Rewrite(Arc::new(move |request, status, body| {
        if answer_of(request).is_none() {
            return (status, body);
        }
        let Ok(json) = serde_json::from_slice::<Value>(&body) else {
            return (status, body);
        };
        (status, wrap(&json["data"]).into_bytes())
    }))
}

/// A body that is nothing but arrays, 100,000 deep.
fn nested_body(_: &Value) -> String {
    deep()
}

/// The real answer with a 100,000-deep array as its first result, and the
/// result before its type, so a reader must hold it before it knows what
/// it is.
fn nested_result(data: &Value) -> String {
    let samples: Vec<String> = data["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(Value::to_string)
        .collect();
    format!(
        r#"{{"status":"success","data":{{"result":[{},{}],"resultType":"vector"}}}}"#,
        deep(),
        samples.join(",")
    )
}

/// The real answer with a 100,000-deep array in a field of its own, which
/// a reader skips.
fn nested_extra_field(data: &Value) -> String {
    format!(r#"{{"status":"success","nest":{},"data":{data}}}"#, deep())
}

// ---------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------

fn error_of(dash: &Dashboard, env: &str) -> Option<String> {
    dash.env(env).error.as_ref().map(|(e, _)| e.clone())
}

/// One failing backend, from the fault to the recovery: `inject` breaks
/// `env`'s backend, its error must say `expected` while its last data stay
/// marked STALE and `others` keep updating; `remove` mends it, and it must
/// come back by itself with the same sites.
async fn fails_then_recovers(
    dash: &mut Dashboard,
    fault: &str,
    env: &str,
    others: &[&str],
    expected: &str,
    inject: impl FnOnce(),
    remove: impl FnOnce(),
) {
    let started = Instant::now();
    let sites = dash.site_names(env);
    assert!(!sites.is_empty(), "{fault}: {env} has no sites to keep");
    inject();
    let name = env.to_string();
    dash.until(
        &format!("{fault}: {env}'s error {expected:?}"),
        LIMIT,
        |app| {
            pane(app, &name)
                .error
                .as_ref()
                .is_some_and(|(e, _)| e.contains(expected))
        },
    )
    .await;
    dash.assert_stale(env, &sites, expected);
    let stale_line = dash.section_line(env);
    for other in others {
        dash.keeps_updating(other, LIMIT).await;
    }
    // Still failing, still the same data: the next failed poll did not
    // lose anything either.
    let first = dash.env(env).error.as_ref().map(|(_, at)| *at);
    dash.until(&format!("{fault}: another failed poll"), LIMIT, |app| {
        pane(app, &name)
            .error
            .as_ref()
            .is_some_and(|(e, at)| e.contains(expected) && Some(*at) > first)
    })
    .await;
    dash.assert_stale(env, &sites, expected);
    remove();
    dash.until(
        &format!("{fault}: {env} to recover by itself"),
        LIMIT,
        |app| pane(app, &name).error.is_none(),
    )
    .await;
    assert_eq!(dash.site_names(env), sites, "{fault}: the same sites after");
    let line = dash.section_line(env);
    assert!(!line.contains("STALE"), "{fault}: {line}");
    eprintln!("{fault}: {:?}\n  {stale_line}", started.elapsed());
}

/// Waits until `env` has been polled twice since now: the second poll
/// started after the first ended, so all of its answers came after any
/// change made before this call.
async fn fresh_poll(dash: &mut Dashboard, env: &str) {
    dash.keeps_updating(env, LIMIT).await;
    dash.keeps_updating(env, LIMIT).await;
}

fn states(dash: &Dashboard, env: &str) -> Vec<(String, SiteState)> {
    let fleet = &dash.env(env).fleet;
    fleet
        .sites
        .iter()
        .zip(&fleet.states)
        .map(|(s, state)| (s.name.clone(), *state))
        .collect()
}

/// The grid and the problems view (`e`) drawn as they are now: nothing on
/// either may be a control character or wider than the terminal, and
/// every environment's section line must be on the grid.
fn assert_screens_sane(dash: &mut Dashboard, what: &str) {
    let grid = dash.render();
    let problems = grid.problems();
    assert!(
        problems.is_empty(),
        "{what}: {problems:?}\n{}",
        grid.framed()
    );
    for env in ["dev", "test", "prod"] {
        assert!(
            grid.lines
                .iter()
                .any(|l| l.starts_with(&format!("── {env} "))),
            "{what}: {env}'s section line is gone:\n{}",
            grid.framed()
        );
    }
    dash.key(KeyCode::Char('e'));
    let view = dash.render();
    assert!(
        view.text().contains("Problems") || view.text().contains("problems"),
        "{what}: `e` should open the problems view:\n{}",
        view.framed()
    );
    let problems = view.problems();
    assert!(
        problems.is_empty(),
        "{what}: {problems:?}\n{}",
        view.framed()
    );
    dash.key(KeyCode::Esc);
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// dev reads a Prometheus that is frozen; test reads another through the
/// proxy, which breaks its answers in each way a backend can; prod reads
/// that one directly and must keep updating throughout.
#[tokio::test]
async fn failing_backends_keep_their_last_data_stale_and_recover() {
    let exporter = FleetExporter::start(FleetBuilder::new(30).build());
    let (frozen, healthy) = tokio::join!(
        TestPrometheus::scraping(&exporter),
        TestPrometheus::scraping(&exporter)
    );
    tokio::join!(
        frozen.wait_for_fleet(&exporter),
        healthy.wait_for_fleet(&exporter)
    );
    let proxy = FaultProxy::start(healthy.url()).await;
    // The size cap per body is what this checks, not the poll's budget
    // (by default 256 MiB counted five times a body, so ~51 MiB of body).
    let config = parse_config(&config_text(
        &[
            ("dev", &frozen.url()),
            ("test", proxy.url()),
            ("prod", &healthy.url()),
        ],
        "1s",
        "max_poll_mib = 4096\n",
    ));
    let mut dash = Dashboard::start(&config, POLL, 200, 50);
    dash.until("every environment's first data", LIMIT, |app| {
        app.envs
            .iter()
            .all(|e| e.fetched_at.is_some() && e.error.is_none())
    })
    .await;

    fails_then_recovers(
        &mut dash,
        "frozen",
        "dev",
        &["test", "prod"],
        "no answer within 1s",
        || frozen.freeze(),
        || frozen.thaw(),
    )
    .await;

    let worst_only: support::fault_proxy::Only =
        Arc::new(|r: &Request| answer_of(r) == Some(Answer::Worst));
    let faults: [(&str, Fault, &str); 7] = [
        (
            "an HTML 502 page",
            Fault::HtmlBadGateway,
            "HTTP 502: 502 Bad Gateway",
        ),
        (
            "truncated JSON",
            Fault::Truncated,
            "not a Prometheus API response (EOF while parsing",
        ),
        ("a body cut off", Fault::CutOff, "broken response"),
        (
            "an endless slow drip",
            Fault::SlowDrip,
            "no answer within 1s",
        ),
        (
            "a body past the size cap",
            Fault::Oversize {
                bytes: 80 * MIB,
                only: worst_only,
            },
            "response larger than 64 MiB, refused",
        ),
        (
            "nested: a body of arrays 100,000 deep",
            nested(nested_body),
            "not a Prometheus API response (invalid type",
        ),
        (
            "nested: a result 100,000 deep",
            nested(nested_result),
            "not a Prometheus API response (recursion limit exceeded",
        ),
    ];
    for (fault, injected, expected) in faults {
        fails_then_recovers(
            &mut dash,
            fault,
            "test",
            &["dev", "prod"],
            expected,
            || proxy.set(injected),
            || proxy.set(Fault::Pass),
        )
        .await;
    }

    // A 100,000-deep value where nothing is read is skipped without
    // recursing, and the answer is what Prometheus said.
    let before = states(&dash, "test");
    proxy.set(nested(nested_extra_field));
    let faulted = proxy.faulted();
    fresh_poll(&mut dash, "test").await;
    assert!(proxy.faulted() > faulted, "the nested answers were sent");
    assert_eq!(error_of(&dash, "test"), None);
    assert_eq!(states(&dash, "test"), before);
    proxy.set(Fault::Pass);
    assert_screens_sane(&mut dash, "after every fault");
}

// ---------------------------------------------------------------------------
// Odd answers that are no error
// ---------------------------------------------------------------------------

/// test reads a Prometheus through the proxy, which rewrites the real
/// answers' values, series and labels; dev and prod read it directly.
#[tokio::test]
async fn odd_answers_read_as_users_expect() {
    let exporter = FleetExporter::start(FleetBuilder::new(60).build());
    let prometheus = TestPrometheus::scraping(&exporter).await;
    prometheus.wait_for_fleet(&exporter).await;
    let proxy = FaultProxy::start(prometheus.url()).await;
    let config = parse_config(&config_text(
        &[
            ("dev", &prometheus.url()),
            ("test", proxy.url()),
            ("prod", &prometheus.url()),
        ],
        "1s",
        "",
    ));
    let mut dash = Dashboard::start(&config, POLL, 200, 50);
    dash.until("every environment's first data", LIMIT, |app| {
        app.envs
            .iter()
            .all(|e| e.fetched_at.is_some() && e.error.is_none())
    })
    .await;
    let before = states(&dash, "test");
    let ok_sites: Vec<String> = before
        .iter()
        .filter(|(_, s)| *s == SiteState::Ok)
        .map(|(name, _)| name.clone())
        .collect();
    assert!(ok_sites.len() >= 2, "test needs two OK sites: {before:?}");

    // Non-finite values: never a site that looks fine, never a crash.
    for (what, answers, rewritten) in [
        (
            "non-finite severities",
            &[Answer::Worst, Answer::Failing][..],
            NON_FINITE,
        ),
        ("non-finite run results", &[Answer::Success][..], NON_FINITE),
        (
            "non-finite ages of the last run",
            &[Answer::Age][..],
            NON_FINITE,
        ),
        // Finite, but no clock's: a run 1e300 s ago, or ahead.
        (
            "ages no clock can show",
            &[Answer::Age][..],
            &["1e300", "-1e300"][..],
        ),
    ] {
        proxy.set(values(answers, rewritten));
        fresh_poll(&mut dash, "test").await;
        assert_eq!(error_of(&dash, "test"), None, "{what}: no error");
        let now = states(&dash, "test");
        let names =
            |s: &[(String, SiteState)]| s.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&now), names(&before), "{what}: the same sites");
        let fine: Vec<&(String, SiteState)> = now
            .iter()
            .filter(|(_, s)| matches!(s, SiteState::Ok | SiteState::Info))
            .collect();
        assert!(fine.is_empty(), "{what}: these look fine: {fine:?}");
        assert_screens_sane(&mut dash, what);
        dash.keeps_updating("prod", LIMIT).await;
        proxy.set(Fault::Pass);
        fresh_poll(&mut dash, "test").await;
        assert_eq!(states(&dash, "test"), before, "{what}: back as it was");
    }

    // Duplicate series: said in a warning, each site at its worst.
    let victim = ok_sites[0].clone();
    proxy.set(duplicated(victim.clone()));
    fresh_poll(&mut dash, "test").await;
    assert_eq!(error_of(&dash, "test"), None, "duplicates are no error");
    let expected: Vec<(String, SiteState)> = before
        .iter()
        .map(|(name, state)| {
            let state = if *name == victim {
                SiteState::Error
            } else {
                *state
            };
            (name.clone(), state)
        })
        .collect();
    assert_eq!(
        states(&dash, "test"),
        expected,
        "{victim}'s duplicate says error, so it is one"
    );
    let line = dash.section_line("test");
    assert!(
        line.contains("warning: the backend returned") && line.contains("duplicate series"),
        "{line}"
    );
    assert_screens_sane(&mut dash, "duplicate series");
    dash.keeps_updating("prod", LIMIT).await;
    proxy.set(Fault::Pass);
    fresh_poll(&mut dash, "test").await;
    assert_eq!(states(&dash, "test"), before, "back as it was");
    assert!(!dash.section_line("test").contains("duplicate"));

    // A 100 KB site name and profile, escape sequences and a bidi
    // override in them: cut and cleaned, the layout whole.
    let victim = ok_sites[1].clone();
    let huge_site = format!(
        "huge-\u{1b}[2J\u{1b}]52;c;aGk=\u{7}\u{202e}{}",
        "x".repeat(100 * 1024)
    );
    let huge_profile = format!("kk_\u{1b}[31m{}", "p".repeat(100 * 1024));
    proxy.set(relabelled(victim.clone(), huge_site, huge_profile));
    fresh_poll(&mut dash, "test").await;
    assert_eq!(error_of(&dash, "test"), None, "a long label is no error");
    let fleet = dash.env("test").fleet.clone();
    let huge = fleet
        .sites
        .iter()
        .find(|s| s.name.starts_with("huge-"))
        .unwrap_or_else(|| panic!("no huge site in {:?}", states(&dash, "test")));
    assert!(huge.label.len() > 100 * 1024, "its identity stays whole");
    // Cut at MAX_NAME_CHARS, the cut marked.
    let cut = |text: &str| text.chars().count() == MAX_NAME_CHARS + 1 && text.ends_with('…');
    assert!(
        cut(&huge.name) && !huge.name.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{:?}",
        huge.name
    );
    assert!(
        cut(&huge.profile) && !huge.profile.chars().any(char::is_control),
        "{:?}",
        huge.profile
    );
    let frame = dash.render();
    assert!(
        frame.lines.iter().any(|l| l.contains("huge-")),
        "the site is on the grid:\n{}",
        frame.framed()
    );
    assert_screens_sane(&mut dash, "a 100 KB site name and profile");
    dash.keeps_updating("prod", LIMIT).await;
    proxy.set(Fault::Pass);
    fresh_poll(&mut dash, "test").await;
    let after = states(&dash, "test");
    // The site is back under its name; the huge one it was is kept as a
    // site that vanished (no data), as any vanished site is.
    for site in &before {
        assert!(after.contains(site), "{site:?} is back: {after:?}");
    }
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    assert_screens_sane(&mut dash, "after the 100 KB label");
}

// ---------------------------------------------------------------------------
// The real binary in tmux, its Prometheus frozen
// ---------------------------------------------------------------------------

const BIN: &str = env!("CARGO_BIN_EXE_site-status");

fn is_stale(s: &Screen) -> bool {
    s.lines.iter().any(|l| l.contains("STALE, data "))
}

/// Sends `key` and waits (at most 5 s: a functional bound, not a timing
/// one) for the status line to name another site than before.
fn cursor_moves(tmux: &Tmux, key: &str) {
    let before = tmux
        .wait_for("the cursor on the grid", |s| s.cursor_crumbs().is_some())
        .cursor_crumbs()
        .map(str::to_string);
    tmux.keys(&[key]);
    tmux.wait_for_within(
        Duration::from_secs(5),
        &format!("`{key}` to move the cursor from {before:?}"),
        |s| s.cursor_crumbs().is_some() && s.cursor_crumbs().map(str::to_string) != before,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_prometheus_leaves_the_cursor_moving_marks_the_screen_stale_and_recovers() {
    let exporter = FleetExporter::start(FleetBuilder::new(30).build());
    let prometheus = TestPrometheus::scraping(&exporter).await;
    prometheus.wait_for_fleet(&exporter).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let tmux = live_dashboard(BIN, &prometheus.url(), dir.path(), 160, 45);
    tmux.wait_for("the grid with every environment's data", |s| {
        s.header().contains("updated")
            && s.section_lines().len() == 3
            && s.cursor_crumbs().is_some()
            && !is_stale(s)
    });

    prometheus.freeze();
    let frozen_at = Instant::now();
    // At once, while the polls in flight hang…
    for key in ["l", "h", "l", "h"] {
        cursor_moves(&tmux, key);
    }
    // …and once the screen says so.
    let stale = tmux.wait_for("STALE on the section lines", is_stale);
    assert!(
        stale
            .section_line_texts()
            .iter()
            .all(|l| l.contains("STALE, data ") && l.contains("no answer within 1s")),
        "{}",
        stale.framed()
    );
    assert!(
        !stale.lines.iter().any(|l| l.contains('\u{1b}')),
        "{}",
        stale.framed()
    );
    for key in ["j", "k", "l", "h"] {
        cursor_moves(&tmux, key);
    }
    eprintln!("frozen for {:?}", frozen_at.elapsed());

    prometheus.thaw();
    // The poller backs off while it fails (1 s doubling): allow for it.
    tmux.wait_for_within(Duration::from_secs(40), "the dashboard to recover", |s| {
        !is_stale(s) && s.header().contains("updated") && s.section_lines().len() == 3
    });
    cursor_moves(&tmux, "l");
    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
}
