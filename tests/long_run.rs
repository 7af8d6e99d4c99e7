//! However long the dashboard runs, what it keeps stays bounded: the
//! transition log is capped, change markers expire, and nothing else
//! accumulates per poll.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    let mut max_markers = 0;
    let mut log_full_at = None;
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
        let markers: usize = app.envs.iter().map(|e| e.changed_at.len()).sum();
        max_markers = max_markers.max(markers);
    }
    assert!(
        log_full_at.is_some(),
        "the demo changes enough to fill the log"
    );
    // Markers only for sites that changed in the last 5 minutes.
    let sites: usize = app.envs.iter().map(|e| e.fleet.sites.len()).sum();
    assert_eq!(sites, 320);
    assert!(max_markers <= sites);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(start + 6_000 * 5);
    let recent = app
        .transitions
        .iter()
        .filter(|t| now.duration_since(UNIX_EPOCH).unwrap().as_secs_f64() - t.time <= 300.0)
        .map(|t| (t.env.clone(), t.site.clone()))
        .collect::<std::collections::HashSet<_>>()
        .len();
    let markers: usize = app.envs.iter().map(|e| e.changed_at.len()).sum();
    assert!(
        markers <= recent.max(1) + 3,
        "markers {markers} vs recently changed {recent}"
    );
    // The log holds the newest transitions, newest first.
    let times: Vec<f64> = app.transitions.iter().map(|t| t.time).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    // Only the timeline strip's queries, one per environment, are polled.
    assert_eq!(app.watching.len(), envs.len());
}
