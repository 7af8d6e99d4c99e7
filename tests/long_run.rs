//! However long the dashboard runs, what it keeps stays bounded: the
//! transition log is capped, change markers expire, and nothing else
//! accumulates per poll.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use site_status::app::{App, Settings};
use site_status::poller::{Fetched, Slot};
use site_status::source::demo::DemoFleet;

#[test]
fn thousands_of_polls_keep_the_retained_state_bounded() {
    let fleet = DemoFleet::new(320, 3);
    let envs: Vec<String> = fleet.environments().map(String::from).collect();
    let settings = Settings {
        transition_log_size: 500,
        change_marker: Duration::from_secs(300),
        ..Settings::default()
    };
    let mut app = App::new(settings, &envs, 200, 50);
    let start = 1_800_000_000u64;
    let mut log_full_at = None;
    // Every site's latest transition, from what each poll added to the log.
    let mut last_change: HashMap<(String, String), f64> = HashMap::new();
    let mut most_markers = 0;
    // 6,000 polls of 5 s each: more than 8 hours of simulated deploys.
    for poll in 0..6_000u64 {
        let t = poll as f64 * 5.0;
        let now = UNIX_EPOCH + Duration::from_secs(start + poll * 5);
        app.now = now;
        let changes: Vec<_> = envs
            .iter()
            .enumerate()
            .map(|(i, env)| {
                let report = fleet.report(env, t, (start + poll * 5) as f64).unwrap();
                (
                    i,
                    Slot {
                        last_good: Some(Fetched {
                            value: Arc::new(report),
                            at: now,
                        }),
                        ..Slot::default()
                    },
                )
            })
            .collect();
        app.offer_fleets(changes);
        assert!(app.transitions.len() <= 500);
        if app.transitions.len() == 500 && log_full_at.is_none() {
            log_full_at = Some(poll);
        }
        let at = (start + poll * 5) as f64;
        for t in app.transitions.iter().take_while(|t| t.time == at) {
            last_change.insert((t.env.clone(), t.site.clone()), at);
        }
        // A marker exactly on each site that changed in the last 5 minutes.
        for pane in &app.envs {
            let shown: BTreeSet<&str> = pane.changed_at.keys().map(String::as_str).collect();
            let changed: BTreeSet<&str> = last_change
                .iter()
                .filter(|((env, _), when)| *env == pane.fleet.name && at - **when <= 300.0)
                .map(|((_, site), _)| site.as_str())
                .collect();
            assert_eq!(shown, changed, "poll {poll}, {}", pane.fleet.name);
            most_markers = most_markers.max(shown.len());
        }
    }
    assert!(
        log_full_at.is_some(),
        "the demo changes enough to fill the log"
    );
    let sites: usize = app.envs.iter().map(|e| e.fleet.sites.len()).sum();
    assert_eq!(sites, 320);
    assert!(most_markers > 0, "some site changed within a marker's life");
    // The log holds the newest transitions, newest first.
    let times: Vec<f64> = app.transitions.iter().map(|t| t.time).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    // Only the timeline strip's queries, one per environment, are polled.
    assert_eq!(app.watching.len(), envs.len());
}
