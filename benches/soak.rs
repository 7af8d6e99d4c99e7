//! Soak: the dashboard's app and poller through 100,000 polls of a
//! 10,000-site fleet, on tokio's paused clock (no sleeping: simulated time
//! jumps to the next poll whenever everything waits), with the demo's
//! deploy waves rolling through, sites vanishing for a while and coming
//! back, and sites decommissioned for good while new ones appear. Every
//! 10,000 polls it records the bytes the process holds on its heap (a
//! counting allocator) and its RSS; after warm-up the heap must stay flat.
//!
//! A poll is one environment's fetch, as the poller counts them: three
//! environments polled every 5 s make ~33,000 rounds, ~46 simulated hours.
//! Along the way the operator moves the cursor, opens a site (its detail
//! queries start) and closes it again, switches to the problems view and
//! back, and a frame is drawn every 100 polls, as the terminal would.
//!
//! `cargo bench --bench soak` (POLLS=20000 SAMPLE_EVERY=2000 for a shorter
//! run). `STORM=1` adds an alert storm to every answer, as Prometheus with
//! the shipped rules lists it when two thirds of the sites fail a
//! requirement (issue 26): some 10,000 `DrupalRequirementError` alerts
//! over the three environments, pending for their first 15 minutes, then
//! firing, following the sites as they are renamed.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use futures::future::BoxFuture;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use site_status::app::{App, Effect, Settings};
use site_status::model::{
    Alert, AlertList, EnvReport, History, Reports, SiteDetail, SiteSummary, Timeline, Window,
    format_rfc3339_utc, set_badges,
};
use site_status::poller::{PollSettings, Poller};
use site_status::source::demo::{DemoClock, DemoFleet, DemoSource};
use site_status::source::{FleetSource, SourceError};
use site_status::ui::{self, Theme};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static ALLOCATOR: counting_alloc::Counting = counting_alloc::Counting;

const SITES: usize = 10_000;
const REFRESH: Duration = Duration::from_secs(5);
/// Rounds (one poll of every environment) a generation of vanished and
/// replaced sites lasts.
const GENERATION_ROUNDS: u64 = 300;
const UNIX_AT_START: f64 = 1_800_000_000.0;
/// The requirements a storm's sites fail, as the tests' fleet fails them.
const STORM_REQUIREMENTS: [&str; 4] = [
    "entity_update",
    "file system",
    "search_api_server_unavailable",
    "config sync directory",
];
/// The shipped rule's `for:`; an alert is pending until then.
const STORM_PENDING_FOR: f64 = 15.0 * 60.0;

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn name_hash(name: &str) -> u64 {
    name.bytes().fold(7, |h, b| mix(h ^ u64::from(b)))
}

/// The demo's environment, with churn: in each generation 2 % of the
/// sites are missing from the answers (a namespace being moved, a scrape
/// gap) and come back in a later one, and 3 % of the sites are replaced by
/// a new site of a name never seen before, so that nothing keyed by site
/// name may keep what it learnt for ever.
struct ChurningSource {
    demo: DemoSource,
    clock: DemoClock,
    storm: bool,
}

impl ChurningSource {
    fn generation(&self) -> u64 {
        let (t, _) = self.clock.read();
        (t / REFRESH.as_secs_f64()) as u64 / GENERATION_ROUNDS
    }
}

impl FleetSource for ChurningSource {
    fn environment(&self) -> &str {
        self.demo.environment()
    }

    fn fetch_fleet(&self) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
        Box::pin(async move {
            let mut report = self.demo.fetch_fleet().await?;
            let generation = self.generation();
            report
                .sites
                .retain(|site| !mix(name_hash(&site.label) ^ generation).is_multiple_of(50));
            for site in &mut report.sites {
                if name_hash(&site.label) % 100 < 3 {
                    let renamed = format!("{}-g{generation}", site.label);
                    site.label.clone_from(&renamed);
                    site.name = renamed;
                }
            }
            if self.storm {
                let (t, _) = self.clock.read();
                let env = self.demo.environment();
                let alerts = storm_alerts(env, &report.sites, t);
                set_badges(&mut report.sites, alerts);
            }
            Ok(report)
        })
    }

    fn fetch_alerts(&self, per_name: usize) -> BoxFuture<'_, Result<AlertList, SourceError>> {
        Box::pin(async move {
            let mut list = self.demo.fetch_alerts(per_name).await?;
            if self.storm {
                let report = self.fetch_fleet().await?;
                let (t, _) = self.clock.read();
                let mut all = list.alerts;
                all.extend(storm_alerts(self.demo.environment(), &report.sites, t));
                list = AlertList::newest(all, per_name);
            }
            Ok(list)
        })
    }

    fn fetch_site<'a>(&'a self, site: &'a str) -> BoxFuture<'a, Result<SiteDetail, SourceError>> {
        self.demo.fetch_site(site)
    }

    fn fetch_history<'a>(
        &'a self,
        site: &'a str,
        requirement: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<History, SourceError>> {
        self.demo.fetch_history(site, requirement, window)
    }

    fn fetch_timeline(&self) -> BoxFuture<'_, Result<Timeline, SourceError>> {
        self.demo.fetch_timeline()
    }

    fn fetch_reports<'a>(
        &'a self,
        site: &'a str,
        count: usize,
    ) -> BoxFuture<'a, Result<Reports, SourceError>> {
        self.demo.fetch_reports(site, count)
    }
}

/// One `DrupalRequirementError` per failing requirement of two sites in
/// three, built afresh on every answer as the Prometheus source parses them,
/// all active since the storm began with the soak.
fn storm_alerts(env: &str, sites: &[SiteSummary], t: f64) -> Vec<Alert> {
    let since = &format_rfc3339_utc((UNIX_AT_START * 1e9) as i64);
    sites
        .iter()
        .filter(|site| !name_hash(&site.label).is_multiple_of(3))
        .flat_map(|site| {
            let hash = mix(name_hash(&site.label));
            let failing = 1 + (hash % 2) as usize;
            let first = (hash >> 8) as usize;
            (0..failing).map(move |k| {
                let requirement = STORM_REQUIREMENTS[(first + k) % STORM_REQUIREMENTS.len()];
                let mut alert = Alert::sanitized(
                    "DrupalRequirementError",
                    &site.label,
                    Some("critical"),
                    Some(&format!(
                        "Drupal requirement {requirement:?} is in error on {} ({env})",
                        site.label
                    )),
                    Some(since),
                )
                .with_labels(Some(requirement), Some(&site.profile));
                alert.pending = t < STORM_PENDING_FOR;
                alert
            })
        })
        .collect()
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// The operator's hands: what they do at a given poll. In a storm they
/// also look at the alerts view, which lists every alert of the fleet.
fn keys_at(poll: u64, storm: bool) -> Vec<KeyEvent> {
    match poll % 1_000 {
        0 => vec![key(KeyCode::Char('j')), key(KeyCode::Char('l'))],
        100 => vec![key(KeyCode::Enter)],
        400 => vec![key(KeyCode::Esc)],
        500 => vec![key(KeyCode::Char('e'))],
        700 => vec![key(KeyCode::Esc)],
        800 if storm => vec![key(KeyCode::Char('a'))],
        900 if storm => vec![key(KeyCode::Esc)],
        _ => Vec::new(),
    }
}

struct Sample {
    polls: u64,
    live_bytes: usize,
    rss_kib: u64,
    sites: usize,
    alerts: usize,
    transitions: usize,
    watching: usize,
    /// The most detail queries running at once since the last sample: a
    /// site view open adds its own, closing it must take them away.
    peak_watching: usize,
    simulated_hours: f64,
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test` runs bench targets too,
    // and a soak is no test.
    if !std::env::args().any(|a| a == "--bench") {
        println!("soak: measures only under `cargo bench --bench soak`");
        return;
    }
    let polls: u64 = std::env::var("POLLS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(100_000);
    let every: u64 = std::env::var("SAMPLE_EVERY")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(10_000)
        .max(1);
    let storm = std::env::var("STORM").is_ok_and(|v| !v.is_empty() && v != "0");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a tokio runtime");
    let samples = runtime.block_on(soak(polls, every, storm));

    println!(
        "{:>8} {:>12} {:>9} {:>7} {:>7} {:>11} {:>8} {:>6} {:>9}",
        "polls",
        "heap bytes",
        "RSS KiB",
        "sites",
        "alerts",
        "transitions",
        "watching",
        "peak",
        "sim hours"
    );
    for s in &samples {
        println!(
            "{:>8} {:>12} {:>9} {:>7} {:>7} {:>11} {:>8} {:>6} {:>9.1}",
            s.polls,
            s.live_bytes,
            s.rss_kib,
            s.sites,
            s.alerts,
            s.transitions,
            s.watching,
            s.peak_watching,
            s.simulated_hours
        );
    }
    // Warm-up: the first sample's polls fill the transition log, the
    // timeline and the caches; from then on nothing may grow.
    let after: Vec<&Sample> = samples.iter().filter(|s| s.polls >= 2 * every).collect();
    let (Some(low), Some(high)) = (
        after.iter().map(|s| s.live_bytes).min(),
        after.iter().map(|s| s.live_bytes).max(),
    ) else {
        println!("too short to judge (POLLS < 2 × SAMPLE_EVERY)");
        return;
    };
    let spread = high - low;
    let allowed = (low / 20).max(1 << 20);
    println!(
        "heap after warm-up: {:.1} MiB .. {:.1} MiB (spread {} KiB, allowed {} KiB): {}",
        low as f64 / 1048576.0,
        high as f64 / 1048576.0,
        spread / 1024,
        allowed / 1024,
        if spread <= allowed { "flat" } else { "GROWS" }
    );
    if spread > allowed {
        std::process::exit(1);
    }
}

async fn soak(polls: u64, every: u64, storm: bool) -> Vec<Sample> {
    let fleet = Arc::new(DemoFleet::new(SITES, 3));
    let clock = DemoClock::tokio(UNIX_AT_START);
    let sources: Vec<Arc<dyn FleetSource>> = DemoSource::for_fleet(fleet, clock)
        .into_iter()
        .map(|demo| Arc::new(ChurningSource { demo, clock, storm }) as Arc<dyn FleetSource>)
        .collect();
    let settings = PollSettings {
        interval: REFRESH,
        timeout: Duration::from_secs(10),
        max_backoff: Duration::from_secs(60),
    };
    let mut poller = Poller::start(sources, settings);
    let wake = poller.wake();
    let app_settings = Settings {
        refresh: REFRESH,
        ..Settings::default()
    };
    let now = |clock: &DemoClock| {
        let (_, unix) = clock.read();
        UNIX_EPOCH + Duration::from_secs_f64(unix)
    };
    let mut app = App::new(app_settings, &poller.environments(), 200, 50);
    app.now = now(&clock);
    for effect in app.initial_watches() {
        if let Effect::Watch(key) = effect {
            poller.watch(key);
        }
    }
    let theme = Theme::dark();
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("a test terminal");
    let mut done = 0u64;
    let mut next_keys = 0u64;
    let mut next_frame = 0u64;
    let mut next_sample = every;
    let mut samples = Vec::new();
    let mut peak_watching = 0;
    while done < polls {
        wake.notified().await;
        app.now = now(&clock);
        let changed = poller.changed_fleet();
        done += changed.len() as u64;
        if !changed.is_empty() {
            app.offer_fleets(changed);
        }
        for (key, slot) in poller.changed_details() {
            app.offer_detail(key, slot);
        }
        while next_keys <= done {
            for event in keys_at(next_keys, storm) {
                for effect in app.handle_key(&event) {
                    match effect {
                        Effect::Watch(key) => poller.watch(key),
                        Effect::Unwatch(key) => poller.unwatch(&key),
                        _ => {}
                    }
                }
            }
            next_keys += 100;
            peak_watching = peak_watching.max(poller.watching());
        }
        if done >= next_frame {
            terminal
                .draw(|frame| ui::draw(frame, &app, &theme))
                .expect("drawing into memory");
            next_frame = done + 100;
        }
        if done >= next_sample {
            let simulated = now(&clock)
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs_f64() - UNIX_AT_START)
                .unwrap_or(0.0);
            samples.push(Sample {
                polls: next_sample,
                live_bytes: counting_alloc::live_bytes(),
                rss_kib: rss_kib(),
                sites: app.envs.iter().map(|e| e.fleet.sites.len()).sum(),
                alerts: app
                    .alert_lists
                    .values()
                    .filter_map(|l| l.value())
                    .map(|l| l.alerts.len())
                    .sum(),
                transitions: app.transitions.len(),
                watching: poller.watching(),
                peak_watching: std::mem::take(&mut peak_watching),
                simulated_hours: simulated / 3600.0,
            });
            eprintln!("{next_sample} polls");
            next_sample += every;
        }
    }
    samples
}
