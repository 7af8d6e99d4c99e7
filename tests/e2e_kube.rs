//! End to end: the Kubernetes side of the demo with the real binary in a
//! real terminal (tmux; harness in tests/support/tmux.rs). A site without a
//! namespace carries the `∅` mark on its cell; a site whose drush run fails
//! opens on a Kubernetes pane with its Drupal pod in CrashLoopBackOff and
//! the BackOff events, and the pane keeps refreshing (the demo's simulated
//! watch) while it is open.

mod support;

use std::time::{Duration, Instant};

use support::tmux::{Tmux, command_line};

const BIN: &str = env!("CARGO_BIN_EXE_site-status");

/// Seconds in the pane's title, `namespace site-x · 3s ago`.
fn pane_age(screen: &support::tmux::Screen) -> Option<u64> {
    let line = screen
        .lines
        .iter()
        .find(|l| l.contains(" Kubernetes namespace "))?;
    let (_, rest) = line.split_once(" · ")?;
    let seconds = rest.split("s ago").next()?.trim();
    seconds.parse().ok()
}

#[test]
fn the_demo_shows_the_cluster_side_of_a_failing_site() {
    let tmux = Tmux::start(160, 45, &command_line(&[BIN, "demo"]));
    tmux.wait_for("the grid with a not-in-cluster mark", |s| {
        s.contains("── dev ") && s.body().iter().any(|l| l.contains('∅'))
    });

    // Only the sites in trouble; then walk to one whose drush run fails.
    tmux.keys(&["f"]);
    tmux.wait_for("the severity filter", |s| s.key_line().contains("q quit"));
    let started = Instant::now();
    loop {
        let screen = tmux.screen();
        if screen.status().contains("⊘ run failed") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no run-failed site reached:\n{}",
            screen.framed()
        );
        let before = screen.status().to_string();
        tmux.keys(&["Right"]);
        tmux.wait_for("the cursor to move", |s| s.status() != before);
    }
    tmux.keys(&["Enter"]);
    let pane = tmux.wait_for("the Kubernetes pane with the crash loop", |s| {
        s.contains("Kubernetes namespace site-")
            && s.contains("CrashLoopBackOff (php)")
            && s.contains("BackOff Pod/drupal-")
    });
    assert!(pane.contains("Deployment drupal"), "{}", pane.framed());
    assert!(pane.contains("degraded"), "{}", pane.framed());
    assert!(pane.contains("Warning events"), "{}", pane.framed());

    // Still fresh seconds later: the pane is fetched again as it changes.
    std::thread::sleep(Duration::from_secs(5));
    let later = tmux.wait_for("the pane's age", |s| pane_age(s).is_some());
    let age = pane_age(&later).unwrap_or(u64::MAX);
    assert!(age <= 3, "pane {age}s old:\n{}", later.framed());

    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
}
