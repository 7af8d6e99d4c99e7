//! End to end: the real binary's demo in tmux shows times in the local
//! time zone (`TZ`) and names that zone in its header; `--utc` shows UTC.
//! The demo runs on the wall clock, so the zone's name is the one it has
//! today (CET in a Copenhagen winter, CEST in its summer).

mod support;

use support::tmux::{Screen, Tmux, command_line, sh_quote};

const BIN: &str = env!("CARGO_BIN_EXE_site-status");

/// The demo with `TZ` set and a home of its own (so no configuration of
/// the machine's user sets `utc`), waiting for its first full frame.
fn demo_in_zone(tz: &str, extra: &[&str]) -> (Tmux, Screen, tempfile::TempDir) {
    let home = tempfile::tempdir().expect("a temporary home");
    let mut words = vec![BIN, "demo", "--seed", "1", "--refresh", "1"];
    words.extend_from_slice(extra);
    let command = format!(
        "HOME={} TZ={} {}",
        sh_quote(&home.path().display().to_string()),
        sh_quote(tz),
        command_line(&words)
    );
    let tmux = Tmux::start(120, 30, &command);
    let screen = tmux.wait_for("the first full frame (header with \"updated\")", |s| {
        s.header().contains("updated")
    });
    (tmux, screen, home)
}

fn copenhagen_abbreviation_now() -> String {
    let zone = jiff::tz::TimeZone::get("Europe/Copenhagen")
        .expect("the time-zone database (Debian's tzdata) has Europe/Copenhagen");
    zone.to_offset_info(jiff::Timestamp::now())
        .abbreviation()
        .to_string()
}

#[test]
fn the_header_names_the_local_zone_from_tz() {
    let expected = copenhagen_abbreviation_now();
    let (tmux, screen, _home) = demo_in_zone("Europe/Copenhagen", &[]);
    let zone = format!("· {expected}");
    let screen = if screen.header().contains(&zone) {
        screen
    } else {
        tmux.wait_for(&format!("the header to name {expected}"), |s| {
            s.header().contains(&zone)
        })
    };
    assert!(
        !screen.header().contains("UTC"),
        "local, not UTC: {}",
        screen.header()
    );
    // The transition log's times are in the same zone, and it says so.
    tmux.keys(&["t"]);
    tmux.wait_for("the transition log in the local zone", |s| {
        s.contains(&format!("Transitions, newest first ({expected})"))
    });
    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
}

#[test]
fn utc_shows_utc_whatever_tz_says() {
    let (tmux, _, _home) = demo_in_zone("Europe/Copenhagen", &["--utc"]);
    let screen = tmux.wait_for("the header to name UTC", |s| s.header().contains("· UTC"));
    tmux.keys(&["t"]);
    tmux.wait_for("the transition log in UTC", |s| {
        s.contains("Transitions, newest first (UTC)")
    });
    let local = copenhagen_abbreviation_now();
    assert!(
        !screen.header().contains(&format!("· {local}")),
        "{}",
        screen.header()
    );
    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
}
