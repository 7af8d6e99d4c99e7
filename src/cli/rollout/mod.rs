//! `site-status rollout`: a deploy gate for pipelines. Takes a baseline of
//! one profile's sites in one environment, polls through the dashboard's
//! poller and tracker (so mutes and silences apply as everywhere) until
//! every site runs the version and has reported on it, then judges
//! ([`crate::model::gate`]). Progress goes to stderr in the form the
//! place it runs in reads best (`progress.rs`); stdout carries only the
//! result (`verdict.rs`).

mod progress;
mod verdict;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::{Format, exit, load_config, load_mutes, poll_settings, runtime, selected_sources};
use crate::model::gate::{
    BaselineFrom, Gate, GateProgress, GateSite, SiteSelection, Switch, Verdict,
};
use crate::model::{Clock, DetailKey, MuteRules, Rollout, SiteKey, Tracker};
use crate::poller::{Detail, PollSettings, Poller, Slot};
use crate::source::FleetSource;
use crate::source::demo::{DEFAULT_SEED, DEFAULT_SITES, DemoClock, DemoFleet, DemoSource};

pub use progress::{ProgressForm, Reporter};
pub use verdict::{GateResult, RunNote};

/// What the pipeline asked the gate.
#[derive(Debug, Clone)]
pub struct GateRequest {
    pub env: String,
    pub profile: String,
    pub version: String,
    pub selection: SiteSelection,
    pub timeout: Duration,
    pub max_failing: usize,
    /// Ask the agents of sites that switched to run now, when the
    /// environment's agents are reachable.
    pub run_now: bool,
    /// `--since`: the deploy's start (Unix seconds); every site's baseline
    /// is its state then.
    pub since: Option<f64>,
    /// How far back to look for the switch of a site already on the
    /// version at the start (`--lookback`).
    pub lookback: Duration,
}

/// How long the gate waits for one site's requirement titles at the end.
const TITLE_LOOKUP_LIMIT: Duration = Duration::from_secs(10);
/// At most this many regressed sites get their titles looked up.
const TITLE_LOOKUP_SITES: usize = 50;

/// The exit code of a verdict (the README documents them).
pub fn exit_code(verdict: &Verdict) -> u8 {
    match verdict {
        Verdict::Passed => exit::OK,
        Verdict::Regressed => exit::ROLLOUT_REGRESSED,
        Verdict::TimedOut => exit::ROLLOUT_TIMED_OUT,
        Verdict::BackendDown { .. } => exit::BACKEND_FAILED,
    }
}

/// The latest word from the backend on the two queries the gate reads.
#[derive(Default)]
struct Backend {
    fleet_error: Option<String>,
    rollout_error: Option<String>,
    /// The error last reported, so each failure is said once.
    said: Option<String>,
}

impl Backend {
    fn error(&self) -> Option<String> {
        match (&self.fleet_error, &self.rollout_error) {
            (Some(f), Some(r)) if f == r => Some(f.clone()),
            (Some(f), Some(r)) => Some(format!("{f}; {r}")),
            (Some(e), None) | (None, Some(e)) => Some(e.clone()),
            (None, None) => None,
        }
    }
}

fn error_of<T>(slot: &Slot<T>) -> Option<String> {
    slot.last_error.as_ref().map(|(e, _)| e.message.clone())
}

/// Waits for the rollout and judges it. `reporter` hears every change.
pub async fn run(
    source: Arc<dyn FleetSource>,
    poll: PollSettings,
    stale_after: Duration,
    mutes: MuteRules,
    request: &GateRequest,
    reporter: &mut Reporter,
) -> GateResult {
    use tokio::signal::unix::{SignalKind, signal};
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + request.timeout);
    let can_run = request.run_now && source.has_kubernetes();
    let mut poller = Poller::start(vec![source.clone()], poll);
    let rollout_key = DetailKey::Rollout {
        env: request.env.clone(),
        profile: request.profile.clone(),
    };
    poller.watch(rollout_key.clone());
    let wake = poller.wake();
    let baseline_mutes = mutes.clone();
    let mut tracker = Tracker::new(std::slice::from_ref(&request.env), stale_after, mutes);
    let mut fleet_ready = false;
    let mut rollout: Option<Arc<Rollout>> = None;
    let mut gate: Option<Gate> = None;
    let mut progress: Option<GateProgress> = None;
    let mut backend = Backend::default();
    let mut runs: BTreeMap<String, RunNote> = BTreeMap::new();
    let mut interrupted = false;
    let mut terminate = signal(SignalKind::terminate()).ok();
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    reporter.started(request);
    let verdict = loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep_until(deadline) => {
                break Verdict::at_deadline(
                    progress.as_ref(),
                    request.max_failing,
                    backend.error().as_deref(),
                );
            }
            _ = recv(&mut terminate) => { interrupted = true; }
            _ = recv(&mut interrupt) => { interrupted = true; }
        }
        if interrupted {
            // `GateResult::interrupted` decides the exit code and the
            // words; the verdict only fills the field.
            break Verdict::TimedOut;
        }
        let now = Clock::System.unix_seconds();
        let mut changed = false;
        for (env, slot) in poller.changed_fleet() {
            backend.fleet_error = error_of(&slot);
            // A first answer without the failing requirements cannot
            // judge a regression: the gate waits for the whole poll.
            if let Some(good) = &slot.last_good
                && !good.value.partial
            {
                let at = crate::model::clock::unix_seconds(
                    crate::model::clock::timestamp_of_system_time(good.at),
                );
                tracker.observe(env, good.value.clone(), at, now);
                fleet_ready = true;
                changed = true;
            }
        }
        for (key, slot) in poller.changed_details() {
            if key != rollout_key {
                continue;
            }
            backend.rollout_error = error_of(&slot);
            if let Some(good) = &slot.last_good
                && let Detail::Rollout(r) = good.value.as_ref()
            {
                rollout = Some(Arc::new(r.clone()));
                changed = true;
            }
        }
        for finished in poller.finished_runs() {
            let note = match finished.result {
                Ok(_) => RunNote::Ran,
                Err(e) => RunNote::Failed(e.message),
            };
            reporter.run_finished(&finished.key.site, &note);
            runs.insert(finished.key.site, note);
            // The agent has new metrics; the next scrape has them.
            poller.refresh_now();
        }
        let error = backend.error();
        if error != backend.said {
            reporter.backend(error.as_deref());
            backend.said = error;
        }
        if !changed || !fleet_ready {
            continue;
        }
        let (Some(fleet), Some(versions)) = (tracker.fleet(0), rollout.as_ref()) else {
            continue;
        };
        if gate.is_none() {
            let started = match request.since {
                Some(at) => {
                    match gate_since(source.as_ref(), request, at, stale_after, &baseline_mutes)
                        .await
                    {
                        Ok(g) => g,
                        Err(e) => {
                            // Said like any backend failure; the next poll
                            // tries again.
                            let error = Some(format!("the baseline at --since: {}", e.message));
                            if error != backend.said {
                                reporter.backend(error.as_deref());
                                backend.said = error;
                            }
                            continue;
                        }
                    }
                }
                None => {
                    let mut g = Gate::start(
                        &request.profile,
                        &request.version,
                        request.selection.clone(),
                        fleet,
                        versions,
                    );
                    // Already on the version: their state now is not a
                    // baseline; the one before their switch is.
                    let switched = g.switched_before_start();
                    if !switched.is_empty() {
                        let found = before_switch(
                            source.as_ref(),
                            request,
                            &switched,
                            stale_after,
                            &baseline_mutes,
                        )
                        .await;
                        let found = match found {
                            Ok(found) => found,
                            Err(e) => {
                                // Fail-closed: no history is no baseline.
                                reporter.backend(Some(&format!(
                                    "the history before the switch: {}",
                                    e.message
                                )));
                                BTreeMap::new()
                            }
                        };
                        for site in switched {
                            g.before_switch(&site, found.get(&site).cloned());
                        }
                    }
                    g
                }
            };
            reporter.baseline(request, started.baseline_size(), &profiles_of(fleet));
            gate = Some(started);
        }
        let Some(gate) = gate.as_mut() else {
            continue;
        };
        let now_progress = gate.observe(fleet, versions, now);
        reporter.progress(progress.as_ref(), &now_progress, request);
        if can_run {
            for site in newly_switched(progress.as_ref(), &now_progress) {
                let key = SiteKey {
                    env: request.env.clone(),
                    site: site.site.clone(),
                };
                if !runs.contains_key(&site.site) && poller.run_report(key) {
                    reporter.run_asked(&site.site);
                    runs.insert(site.site.clone(), RunNote::Asked);
                }
            }
        }
        let complete = now_progress.complete();
        progress = Some(now_progress);
        if complete && let Some(p) = &progress {
            break Verdict::of_complete(p, request.max_failing);
        }
    };
    let titles = match &progress {
        Some(p) => requirement_titles(source.as_ref(), &p.regressed()).await,
        None => HashMap::new(),
    };
    GateResult {
        verdict,
        interrupted,
        progress,
        runs,
        titles,
        waited: started.elapsed(),
        backend_error: backend.error(),
    }
}

/// The gate with every site's baseline as it was at `at` (`--since`):
/// the grid and the versions asked for at that instant, interpreted with
/// the same mute rules as the verdict.
async fn gate_since(
    source: &dyn FleetSource,
    request: &GateRequest,
    at: f64,
    stale_after: Duration,
    mutes: &MuteRules,
) -> Result<Gate, crate::source::SourceError> {
    let (report, versions) = futures::join!(
        source.fetch_fleet_at(at),
        source.fetch_rollout_at(&request.profile, at)
    );
    let (report, versions) = (report?, versions?);
    let mut tracker = Tracker::new(
        std::slice::from_ref(&request.env),
        stale_after,
        mutes.clone(),
    );
    tracker.observe(0, Arc::new(report), at, at);
    let fleet = tracker
        .fleet(0)
        .ok_or_else(|| crate::source::SourceError::new("no fleet at --since"))?;
    Ok(Gate::start_from(
        &request.profile,
        &request.version,
        request.selection.clone(),
        fleet,
        &versions,
        BaselineFrom::Since { at },
    ))
}

/// For each of `sites`, already on the version at the gate's start: its
/// switch (the last instant it was on another version within the
/// lookback, and which) and the requirements it failed then (mutes
/// applied). A site without is absent.
async fn before_switch(
    source: &dyn FleetSource,
    request: &GateRequest,
    sites: &[String],
    stale_after: Duration,
    mutes: &MuteRules,
) -> Result<
    BTreeMap<String, (Switch, std::collections::BTreeSet<String>)>,
    crate::source::SourceError,
> {
    let switches = source
        .fetch_switches(&request.profile, &request.version, request.lookback)
        .await?;
    // One grid at each distinct instant, however many sites share it.
    let mut by_instant: BTreeMap<u64, (f64, Vec<&str>)> = BTreeMap::new();
    for site in sites {
        if let Some(switch) = switches.get(site) {
            by_instant
                .entry(switch.at.to_bits())
                .or_insert((switch.at, Vec::new()))
                .1
                .push(site);
        }
    }
    let mut found = BTreeMap::new();
    for (at, wanted) in by_instant.into_values() {
        let report = source.fetch_fleet_at(at).await?;
        let mut tracker = Tracker::new(
            std::slice::from_ref(&request.env),
            stale_after,
            mutes.clone(),
        );
        tracker.observe(0, Arc::new(report), at, at);
        let Some(fleet) = tracker.fleet(0) else {
            continue;
        };
        for site in wanted {
            if let (Some(i), Some(switch)) = (fleet.find(site), switches.get(site)) {
                let failing = fleet.sites[i]
                    .failing
                    .iter()
                    .map(|(id, _)| id.clone())
                    .collect();
                found.insert(site.to_string(), (switch.clone(), failing));
            }
        }
    }
    Ok(found)
}

async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// Sites on the version in `now` that were not in `before`.
fn newly_switched<'a>(before: Option<&GateProgress>, now: &'a GateProgress) -> Vec<&'a GateSite> {
    let was_on: std::collections::BTreeSet<&str> = before
        .map(|p| {
            p.sites
                .iter()
                .filter(|s| s.switched_at.is_some())
                .map(|s| s.site.as_str())
                .collect()
        })
        .unwrap_or_default();
    now.sites
        .iter()
        .filter(|s| s.switched_at.is_some() && !s.reported && !was_on.contains(s.site.as_str()))
        .collect()
}

fn profiles_of(fleet: &crate::model::EnvFleet) -> Vec<String> {
    let mut profiles: Vec<String> = fleet.sites.iter().map(|s| s.profile.clone()).collect();
    profiles.sort();
    profiles.dedup();
    profiles
}

/// The titles of the requirements the regressed sites fail, from each
/// site's latest report in Loki (Prometheus knows only ids): site →
/// (id → title). A site whose reports cannot be read has none.
async fn requirement_titles(
    source: &dyn FleetSource,
    regressed: &[&GateSite],
) -> HashMap<String, HashMap<String, String>> {
    let wanted: Vec<&GateSite> = regressed
        .iter()
        .filter(|s| !s.regressions.is_empty())
        .take(TITLE_LOOKUP_SITES)
        .copied()
        .collect();
    futures::stream::iter(wanted)
        .map(|site| async move {
            let reports =
                tokio::time::timeout(TITLE_LOOKUP_LIMIT, source.fetch_reports(&site.site, 1)).await;
            let titles: HashMap<String, String> = match reports {
                Ok(Ok(reports)) => reports
                    .reports
                    .first()
                    .map(|r| {
                        r.requirements
                            .iter()
                            .filter(|q| !q.title.is_empty())
                            .map(|q| (q.id.clone(), q.title.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
                _ => HashMap::new(),
            };
            (site.site.clone(), titles)
        })
        .buffer_unordered(8)
        .collect()
        .await
}

/// `--timeout`: a duration like `30m`, `90s`, `2h`; at least a second.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds = crate::config::parse_duration(text)?;
    if !(1.0..=7.0 * 86_400.0).contains(&seconds) {
        return Err("a timeout from 1s to 7d".to_string());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `--lookback`: a duration like `6h`; from a minute to 7 days.
pub fn parse_lookback(text: &str) -> Result<Duration, String> {
    let seconds = crate::config::parse_duration(text)?;
    if !(60.0..=7.0 * 86_400.0).contains(&seconds) {
        return Err("a lookback from 1m to 7d".to_string());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `--since`: an RFC 3339 time, or a duration such as `20m` meaning that
/// long ago; as Unix seconds. Not in the future, nor more than 7 days ago.
pub fn parse_since(text: &str) -> Result<f64, String> {
    let now = Clock::System.unix_seconds();
    let at = match text.parse::<jiff::Timestamp>() {
        Ok(t) => crate::model::clock::unix_seconds(t),
        Err(_) => {
            let ago = crate::config::parse_duration(text).map_err(|_| {
                "an RFC 3339 time (2026-12-01T10:00:00Z) or a duration ago (20m)".to_string()
            })?;
            now - ago
        }
    };
    if at > now + 60.0 {
        return Err("a time in the future".to_string());
    }
    if at < now - 7.0 * 86_400.0 {
        return Err("more than 7 days ago".to_string());
    }
    Ok(at)
}

/// The arguments of `site-status rollout`, as clap parsed them.
pub struct RolloutArgs<'a> {
    pub env: &'a str,
    pub profile: &'a str,
    pub version: &'a str,
    pub sites: &'a [String],
    pub timeout: Duration,
    pub max_failing: usize,
    pub format: Format,
    pub run_now: bool,
    pub since: Option<f64>,
    pub lookback: Duration,
    pub demo: bool,
}

/// `site-status rollout`.
pub fn command(path: Option<&Path>, args: &RolloutArgs<'_>) -> ExitCode {
    let selection = match SiteSelection::parse(args.sites) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("site-status: {e}");
            return ExitCode::from(exit::BAD_CONFIGURATION);
        }
    };
    let request = GateRequest {
        env: args.env.to_string(),
        profile: args.profile.to_string(),
        version: args.version.to_string(),
        selection,
        timeout: args.timeout,
        max_failing: args.max_failing,
        run_now: args.run_now,
        since: args.since,
        lookback: args.lookback,
    };
    let Ok(rt) = runtime() else {
        return ExitCode::from(exit::FAILURE);
    };
    let setup = if args.demo {
        demo_setup(&request)
    } else {
        configured_setup(path, &request)
    };
    let (source, poll, stale_after, mutes, origin) = match setup {
        Ok(s) => s,
        Err(e) => {
            eprintln!("site-status: {e}");
            return ExitCode::from(exit::BAD_CONFIGURATION);
        }
    };
    let mut reporter = Reporter::new(ProgressForm::detect(), origin);
    let result = rt.block_on(run(
        source,
        poll,
        stale_after,
        mutes,
        &request,
        &mut reporter,
    ));
    reporter.finished(&request, &result);
    let out = match args.format {
        Format::Text => verdict::text(&request, &result),
        Format::Json => verdict::json(&request, &result),
    };
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{out}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::from(exit::FAILURE);
        }
    }
    if result.interrupted {
        return ExitCode::from(exit::INTERRUPTED);
    }
    ExitCode::from(exit_code(&result.verdict))
}

type Setup = (
    Arc<dyn FleetSource>,
    PollSettings,
    Duration,
    MuteRules,
    String,
);

fn configured_setup(path: Option<&Path>, request: &GateRequest) -> Result<Setup, String> {
    let mut config =
        load_config(path).ok_or_else(|| "cannot gate without a configuration".to_string())?;
    // The verdict names no alert: none is read.
    config.read_alerts = false;
    let mut sources = selected_sources(&config, std::slice::from_ref(&request.env))?;
    let source = sources
        .pop()
        .ok_or_else(|| format!("no environment {:?} in the configuration", request.env))?;
    let origin = path.map(|p| p.display().to_string()).unwrap_or_default();
    Ok((
        source,
        poll_settings(&config),
        config.stale_after.0,
        load_mutes(&config),
        origin,
    ))
}

/// How often the demo's gate polls: its fleet answers at once.
const DEMO_POLL: Duration = Duration::from_secs(2);
/// The demo's pipeline began deploying this long before the gate started,
/// as in a pipeline whose gate step comes after its deploy step: the
/// sites it reached first are judged against their state before their
/// switch.
const DEMO_DEPLOY_BEGAN: f64 = 12.0;

fn demo_setup(request: &GateRequest) -> Result<Setup, String> {
    let fleet = Arc::new(DemoFleet::new(DEFAULT_SITES, DEFAULT_SEED));
    fleet.deploy(
        &request.env,
        &request.profile,
        &request.version,
        -DEMO_DEPLOY_BEGAN,
    )?;
    let source = DemoSource::for_fleet(fleet, DemoClock::running(0.0))
        .into_iter()
        .find(|s| s.environment() == request.env)
        .ok_or_else(|| format!("the demo has no environment {:?}", request.env))?;
    let poll = PollSettings {
        interval: DEMO_POLL,
        ..PollSettings::default()
    };
    Ok((
        Arc::new(source),
        poll,
        crate::config::DEFAULT_STALE_AFTER,
        MuteRules::default(),
        format!(
            "demo: a pipeline began deploying {} {} to {} {} s ago",
            request.profile, request.version, request.env, DEMO_DEPLOY_BEGAN
        ),
    ))
}
