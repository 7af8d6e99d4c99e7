//! Runs sources in background tasks. Each query has its own task, so at
//! most one request per query is ever in flight, and its own `watch`
//! channel holding the last good result, when it was fetched, and the last
//! error. The UI is woken by a payload-free `Notify` (many results coalesce
//! into one wake-up) and reads the channels itself, so it never waits on the
//! network.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use std::collections::HashMap;

// The keys and details live in the model, where app and ui read them; the
// old paths stay so callers need not change.
pub use crate::model::keys::{Detail, DetailKey, SiteKey};
use crate::model::{Report, Timeline};
use crate::source::{EnvReport, FleetSource, Preview, SourceError};

/// A result and the wall-clock time it was fetched.
#[derive(Debug)]
pub struct Fetched<T> {
    pub value: Arc<T>,
    pub at: SystemTime,
}

impl<T> Clone for Fetched<T> {
    fn clone(&self) -> Self {
        Fetched {
            value: self.value.clone(),
            at: self.at,
        }
    }
}

/// Everything known about one query.
#[derive(Debug)]
pub struct Slot<T> {
    pub last_good: Option<Fetched<T>>,
    /// Set when the latest attempt failed; cleared by the next success.
    pub last_error: Option<(SourceError, SystemTime)>,
    pub in_flight: bool,
    pub consecutive_failures: u32,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            last_good: None,
            last_error: None,
            in_flight: false,
            consecutive_failures: 0,
        }
    }
}

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Slot {
            last_good: self.last_good.clone(),
            last_error: self.last_error.clone(),
            in_flight: self.in_flight,
            consecutive_failures: self.consecutive_failures,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PollSettings {
    pub interval: Duration,
    /// A request slower than this counts as failed; the slot keeps its data.
    pub timeout: Duration,
    /// Backoff doubles per consecutive failure up to this.
    pub max_backoff: Duration,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(120),
        }
    }
}

impl PollSettings {
    /// How long to wait before the next attempt.
    pub fn delay_after(&self, consecutive_failures: u32) -> Duration {
        if consecutive_failures == 0 {
            return self.interval;
        }
        let factor = 1u32 << consecutive_failures.min(16);
        self.interval
            .saturating_mul(factor)
            .min(self.max_backoff.max(self.interval))
    }
}

/// A running query: its channel, a handle to poll it early, and its task.
struct Query<T> {
    slot: watch::Receiver<Slot<T>>,
    kick: Arc<Notify>,
    task: JoinHandle<()>,
    /// A watch on the backend that polls the query early when its data
    /// changes (the Kubernetes pane); stopped with the query.
    follower: Option<JoinHandle<()>>,
}

impl<T> Drop for Query<T> {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(follower) = &self.follower {
            follower.abort();
        }
    }
}

/// However fast a watched namespace changes (a rollout of many pods), the
/// pane is fetched again at most this often.
pub const FOLLOW_MIN_GAP: Duration = Duration::from_secs(1);

/// Lets a query show what it has before it is done: a first answer that
/// stands until the whole one comes (see
/// [`FleetSource::fetch_fleet_previewing`]). Only before the query's
/// first good result: after that its last good result stands.
pub struct Early<T> {
    slot: Arc<watch::Sender<Slot<T>>>,
    wake: Arc<Notify>,
}

impl<T> Early<T> {
    /// Whether an early answer would be shown: the query has no good
    /// result yet.
    pub fn wanted(&self) -> bool {
        self.slot.borrow().last_good.is_none()
    }

    pub fn offer(&self, value: T) {
        let now = crate::model::Clock::System.system_time();
        let mut offered = false;
        self.slot.send_if_modified(|slot| {
            if slot.last_good.is_some() {
                return false;
            }
            slot.last_good = Some(Fetched {
                value: Arc::new(value),
                at: now,
            });
            offered = true;
            true
        });
        if offered {
            self.wake.notify_one();
        }
    }
}

fn spawn_query<T, F, Fut>(settings: PollSettings, wake: Arc<Notify>, mut fetch: F) -> Query<T>
where
    T: Send + Sync + 'static,
    F: FnMut(Early<T>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, SourceError>> + Send,
{
    let (tx, rx) = watch::channel(Slot::default());
    let tx = Arc::new(tx);
    let kick = Arc::new(Notify::new());
    let kicked = kick.clone();
    let task = tokio::spawn(async move {
        loop {
            tx.send_modify(|slot| slot.in_flight = true);
            let early = Early {
                slot: tx.clone(),
                wake: wake.clone(),
            };
            let outcome = tokio::time::timeout(settings.timeout, fetch(early)).await;
            let now = crate::model::Clock::System.system_time();
            let mut failures = 0;
            tx.send_modify(|slot| {
                slot.in_flight = false;
                match outcome {
                    Ok(Ok(value)) => {
                        slot.last_good = Some(Fetched {
                            value: Arc::new(value),
                            at: now,
                        });
                        slot.last_error = None;
                        slot.consecutive_failures = 0;
                    }
                    Ok(Err(error)) => {
                        slot.last_error = Some((error, now));
                        slot.consecutive_failures += 1;
                    }
                    Err(_) => {
                        slot.last_error = Some((
                            SourceError::new(format!(
                                "no answer within {}s",
                                settings.timeout.as_secs_f64()
                            )),
                            now,
                        ));
                        slot.consecutive_failures += 1;
                    }
                }
                failures = slot.consecutive_failures;
            });
            wake.notify_one();
            tokio::select! {
                _ = tokio::time::sleep(settings.delay_after(failures)) => {}
                _ = kicked.notified() => {}
            }
        }
    });
    Query {
        slot: rx,
        kick,
        task,
        follower: None,
    }
}

/// The fleet timeline of one environment: its history fetched once, after
/// the grid's first answer (at start the grid's own queries go first), and
/// then carried forward by each of the grid's polls, so a steady refresh
/// sends no range query. It is fetched again only when polls stopped for
/// longer than the timeline can bridge (see [`Timeline::extend`]).
fn spawn_timeline(
    settings: PollSettings,
    wake: Arc<Notify>,
    source: Arc<dyn FleetSource>,
    mut fleet: watch::Receiver<Slot<EnvReport>>,
) -> Query<Detail> {
    let (tx, rx) = watch::channel(Slot::default());
    let kick = Arc::new(Notify::new());
    let kicked = kick.clone();
    let task = tokio::spawn(async move {
        if fleet
            .wait_for(|slot| slot.last_good.is_some())
            .await
            .is_err()
        {
            return;
        }
        let mut timeline: Option<Timeline> = None;
        let mut extended_from: Option<SystemTime> = None;
        loop {
            let Some(current) = timeline.as_mut() else {
                tx.send_modify(|slot| slot.in_flight = true);
                let outcome = tokio::time::timeout(settings.timeout, source.fetch_timeline()).await;
                let now = crate::model::Clock::System.system_time();
                let outcome = outcome.unwrap_or_else(|_| {
                    Err(SourceError::new(format!(
                        "no answer within {}s",
                        settings.timeout.as_secs_f64()
                    )))
                });
                let mut failures = 0;
                tx.send_modify(|slot| {
                    slot.in_flight = false;
                    match &outcome {
                        Ok(fetched) => {
                            slot.last_good = Some(Fetched {
                                value: Arc::new(Detail::Timeline(fetched.clone())),
                                at: now,
                            });
                            slot.last_error = None;
                            slot.consecutive_failures = 0;
                        }
                        Err(error) => {
                            slot.last_error = Some((error.clone(), now));
                            slot.consecutive_failures += 1;
                        }
                    }
                    failures = slot.consecutive_failures;
                });
                wake.notify_one();
                match outcome {
                    Ok(fetched) => {
                        timeline = Some(fetched);
                        // Polls before the range was read are in it already.
                        extended_from = fleet.borrow_and_update().last_good.as_ref().map(|g| g.at);
                    }
                    Err(_) => {
                        tokio::select! {
                            _ = tokio::time::sleep(settings.delay_after(failures)) => {}
                            _ = kicked.notified() => {}
                        }
                    }
                }
                continue;
            };
            if fleet.changed().await.is_err() {
                return;
            }
            let Some(poll) = fleet.borrow_and_update().last_good.clone() else {
                continue;
            };
            if extended_from.is_some_and(|at| poll.at <= at) {
                continue;
            }
            extended_from = Some(poll.at);
            let at_unix = poll
                .at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let (errors, warnings) = Timeline::counts(&poll.value.sites);
            if !current.extend(at_unix, errors, warnings) {
                timeline = None;
                continue;
            }
            let value = Arc::new(Detail::Timeline(current.clone()));
            tx.send_modify(|slot| {
                slot.last_good = Some(Fetched { value, at: poll.at });
                slot.last_error = None;
                slot.consecutive_failures = 0;
            });
            wake.notify_one();
        }
    });
    Query {
        slot: rx,
        kick,
        task,
        follower: None,
    }
}

/// Runs a watch of the source (`watch`, given where to say "changed") and
/// polls the query (`kick`) early when it reports a change, at most once
/// per `min_gap`.
fn spawn_follower<W, Fut>(watch: W, kick: Arc<Notify>, min_gap: Duration) -> JoinHandle<()>
where
    W: FnOnce(Arc<Notify>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let changed = Arc::new(Notify::new());
    let watching = watch(changed.clone());
    tokio::spawn(async move {
        let forwarding = async {
            loop {
                changed.notified().await;
                kick.notify_one();
                tokio::time::sleep(min_gap).await;
            }
        };
        tokio::select! {
            _ = watching => {}
            _ = forwarding => {}
        }
    })
}

/// However often the site namespaces change (a batch of new sites), the
/// grid is polled early at most this often.
pub const FLEET_FOLLOW_MIN_GAP: Duration = Duration::from_secs(5);

/// How many recent reports a site's report list shows.
pub const REPORTS_SHOWN: usize = 20;

/// However a source bounds a run it asked an agent for, the poller stops
/// waiting after this, so a site can be asked again.
pub const RUN_LIMIT: Duration = Duration::from_secs(200);

/// A run asked of a site's agent (`r`), and what came of it.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    pub key: SiteKey,
    pub result: Result<Arc<Report>, SourceError>,
    pub at: SystemTime,
}

/// A mute made or taken out in an environment whose mutes are its
/// Alertmanager's silences.
#[derive(Debug, Clone, PartialEq)]
pub enum SilenceChange {
    Create(crate::model::MuteRule),
    Expire(crate::model::MuteRule),
}

/// What came of a [`SilenceChange`]: the new silence's id, or why not.
#[derive(Debug, Clone)]
pub struct FinishedSilence {
    pub env: String,
    pub change: SilenceChange,
    pub result: Result<Option<String>, SourceError>,
}

pub struct Poller {
    settings: PollSettings,
    wake: Arc<Notify>,
    sources: Vec<Arc<dyn FleetSource>>,
    fleet: Vec<Query<EnvReport>>,
    details: HashMap<DetailKey, Query<Detail>>,
    /// Runs asked of agents: at most one in flight per site.
    runs: HashMap<SiteKey, JoinHandle<()>>,
    finished_tx: mpsc::UnboundedSender<FinishedRun>,
    finished_rx: mpsc::UnboundedReceiver<FinishedRun>,
    silences_tx: mpsc::UnboundedSender<FinishedSilence>,
    silences_rx: mpsc::UnboundedReceiver<FinishedSilence>,
}

impl Drop for Poller {
    fn drop(&mut self) {
        for run in self.runs.values() {
            run.abort();
        }
    }
}

impl Poller {
    /// Starts polling every source's fleet at once; must be called inside
    /// a tokio runtime.
    pub fn start(sources: Vec<Arc<dyn FleetSource>>, settings: PollSettings) -> Poller {
        let wake = Arc::new(Notify::new());
        let fleet = sources
            .iter()
            .map(|source| {
                let fetching = source.clone();
                let mut query = spawn_query(settings, wake.clone(), move |early| {
                    let source = fetching.clone();
                    async move {
                        if early.wanted() {
                            let preview: Preview = Arc::new(move |report| early.offer(report));
                            source.fetch_fleet_previewing(preview).await
                        } else {
                            source.fetch_fleet().await
                        }
                    }
                });
                let watching = source.clone();
                query.follower = Some(spawn_follower(
                    move |changed| async move { watching.watch_fleet(changed).await },
                    query.kick.clone(),
                    FLEET_FOLLOW_MIN_GAP,
                ));
                query
            })
            .collect();
        let (finished_tx, finished_rx) = mpsc::unbounded_channel();
        let (silences_tx, silences_rx) = mpsc::unbounded_channel();
        Poller {
            settings,
            wake,
            sources,
            fleet,
            details: HashMap::new(),
            runs: HashMap::new(),
            finished_tx,
            finished_rx,
            silences_tx,
            silences_rx,
        }
    }

    /// Notified whenever any query has a new outcome.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub fn environments(&self) -> Vec<String> {
        self.sources
            .iter()
            .map(|s| s.environment().to_string())
            .collect()
    }

    /// Per environment, in the order of [`Poller::environments`]: whether
    /// it has a cluster to ask about workloads.
    pub fn kubernetes(&self) -> Vec<bool> {
        self.sources.iter().map(|s| s.has_kubernetes()).collect()
    }

    /// Per environment, as [`Poller::kubernetes`]: whether its mutes are
    /// its Alertmanager's silences.
    pub fn alertmanagers(&self) -> Vec<bool> {
        self.sources.iter().map(|s| s.has_alertmanager()).collect()
    }

    /// Per environment, as [`Poller::kubernetes`]: whether its reports
    /// can be read (a Loki is configured).
    pub fn reports(&self) -> Vec<bool> {
        self.sources.iter().map(|s| s.has_reports()).collect()
    }

    /// The fleet slots that changed since the last call, by environment index.
    pub fn changed_fleet(&mut self) -> Vec<(usize, Slot<EnvReport>)> {
        let mut changed = Vec::new();
        for (i, query) in self.fleet.iter_mut().enumerate() {
            if query.slot.has_changed().unwrap_or(false) {
                changed.push((i, query.slot.borrow_and_update().clone()));
            }
        }
        changed
    }

    pub fn changed_details(&mut self) -> Vec<(DetailKey, Slot<Detail>)> {
        let mut changed = Vec::new();
        for (key, query) in self.details.iter_mut() {
            if query.slot.has_changed().unwrap_or(false) {
                changed.push((key.clone(), query.slot.borrow_and_update().clone()));
            }
        }
        changed
    }

    /// Starts polling a detail query. Asking for one already polled keeps
    /// it (and its data) rather than asking again: the key is the request.
    pub fn watch(&mut self, key: DetailKey) {
        if self.details.contains_key(&key) {
            return;
        }
        let Some(source) = self
            .sources
            .iter()
            .find(|s| s.environment() == key.env())
            .cloned()
        else {
            return;
        };
        if matches!(key, DetailKey::Workloads(_)) && !source.has_kubernetes() {
            return;
        }
        if let DetailKey::Timeline { env } = &key {
            let Some(fleet) = self
                .sources
                .iter()
                .position(|s| s.environment() == env)
                .map(|i| self.fleet[i].slot.clone())
            else {
                return;
            };
            let query = spawn_timeline(self.settings, self.wake.clone(), source, fleet);
            self.details.insert(key, query);
            return;
        }
        let request = key.clone();
        let fetching = source.clone();
        let mut query = spawn_query(self.settings, self.wake.clone(), move |_| {
            let source = fetching.clone();
            let request = request.clone();
            async move {
                match &request {
                    DetailKey::Site(site) => source
                        .fetch_site(&site.site)
                        .await
                        .map(|d| Detail::Site(Box::new(d))),
                    DetailKey::History {
                        site,
                        requirement,
                        window,
                    } => source
                        .fetch_history(&site.site, requirement, *window)
                        .await
                        .map(Detail::History),
                    DetailKey::Reports(site) => source
                        .fetch_reports(&site.site, REPORTS_SHOWN)
                        .await
                        .map(Detail::Reports),
                    DetailKey::Timeline { .. } => {
                        source.fetch_timeline().await.map(Detail::Timeline)
                    }
                    DetailKey::Rollout { profile, .. } => {
                        source.fetch_rollout(profile).await.map(Detail::Rollout)
                    }
                    DetailKey::Alerts { .. } => source
                        .fetch_alerts(crate::model::ALERTS_PER_NAME)
                        .await
                        .map(Detail::Alerts),
                    DetailKey::Workloads(site) => source
                        .fetch_workloads(&site.site)
                        .await
                        .map(Detail::Workloads),
                }
            }
        });
        if let DetailKey::Workloads(site) = &key {
            let site = site.site.clone();
            query.follower = Some(spawn_follower(
                move |changed| async move { source.watch_workloads(&site, changed).await },
                query.kick.clone(),
                FOLLOW_MIN_GAP,
            ));
        }
        self.details.insert(key, query);
    }

    /// Stops polling a detail query; dropping it aborts its task.
    pub fn unwatch(&mut self, key: &DetailKey) {
        self.details.remove(key);
    }

    pub fn watching(&self) -> usize {
        self.details.len()
    }

    /// Asks the site's agent for a run now; its outcome comes back through
    /// [`Poller::finished_runs`], with a wake-up. A site whose run is still
    /// going is not asked twice: `false`.
    pub fn run_report(&mut self, key: SiteKey) -> bool {
        self.runs.retain(|_, run| !run.is_finished());
        if self.runs.contains_key(&key) {
            return false;
        }
        let source = self
            .sources
            .iter()
            .find(|s| s.environment() == key.env)
            .cloned();
        let (tx, wake, asked) = (self.finished_tx.clone(), self.wake.clone(), key.clone());
        let task = tokio::spawn(async move {
            let result = match source {
                None => Err(SourceError::new(format!("no environment {}", asked.env))),
                Some(source) => {
                    match tokio::time::timeout(RUN_LIMIT, source.run_report(&asked.site)).await {
                        Ok(result) => result.map(Arc::new),
                        Err(_) => Err(SourceError::new(format!(
                            "no report within {} s",
                            RUN_LIMIT.as_secs()
                        ))),
                    }
                }
            };
            let at = crate::model::Clock::System.system_time();
            // The receiver lives as long as the poller, which owns this task.
            let _ = tx.send(FinishedRun {
                key: asked,
                result,
                at,
            });
            wake.notify_one();
        });
        self.runs.insert(key, task);
        true
    }

    /// Whether the environment's mutes are its Alertmanager's silences.
    pub fn has_alertmanager(&self, env: &str) -> bool {
        self.sources
            .iter()
            .any(|s| s.environment() == env && s.has_alertmanager())
    }

    /// Makes or expires a silence in the environment's Alertmanager; the
    /// outcome comes back through [`Poller::finished_silences`], and every
    /// query is polled again so the silences are read back.
    pub fn change_silence(&mut self, env: &str, change: SilenceChange) {
        let source = self
            .sources
            .iter()
            .find(|s| s.environment() == env)
            .cloned();
        let (tx, wake, env) = (self.silences_tx.clone(), self.wake.clone(), env.to_string());
        let kicks: Vec<Arc<Notify>> = self.fleet.iter().map(|q| q.kick.clone()).collect();
        let timeout = self.settings.timeout;
        tokio::spawn(async move {
            let result = match &source {
                None => Err(SourceError::new(format!("no environment {env}"))),
                Some(source) => {
                    let asked = async {
                        match &change {
                            SilenceChange::Create(rule) => {
                                source.create_silence(rule).await.map(Some)
                            }
                            SilenceChange::Expire(rule) => match &rule.origin {
                                crate::model::RuleOrigin::Silence { id, .. } => {
                                    source.expire_silence(id).await.map(|()| None)
                                }
                                _ => Err(SourceError::new("not a silence")),
                            },
                        }
                    };
                    tokio::time::timeout(timeout, asked)
                        .await
                        .unwrap_or_else(|_| {
                            Err(SourceError::new(format!(
                                "Alertmanager gave no answer within {}s",
                                timeout.as_secs_f64()
                            )))
                        })
                }
            };
            let _ = tx.send(FinishedSilence {
                env,
                change,
                result,
            });
            for kick in kicks {
                kick.notify_one();
            }
            wake.notify_one();
        });
    }

    /// Silence changes that have ended since the last call.
    pub fn finished_silences(&mut self) -> Vec<FinishedSilence> {
        let mut finished = Vec::new();
        while let Ok(done) = self.silences_rx.try_recv() {
            finished.push(done);
        }
        finished
    }

    /// Runs asked of agents that have ended since the last call.
    pub fn finished_runs(&mut self) -> Vec<FinishedRun> {
        let mut finished = Vec::new();
        while let Ok(run) = self.finished_rx.try_recv() {
            finished.push(run);
        }
        finished
    }

    /// Polls every query now instead of waiting for its interval. A query
    /// already in flight is not doubled: it simply polls again once done.
    pub fn refresh_now(&self) {
        for query in &self.fleet {
            query.kick.notify_one();
        }
        for query in self.details.values() {
            query.kick.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{History, SiteDetail, SiteSummary, SiteWorkloads, Window};
    use crate::source::BoxFuture;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers from a script, counting calls and concurrent requests.
    struct Scripted {
        answers: Mutex<Vec<Result<EnvReport, SourceError>>>,
        delay: Duration,
        calls: AtomicUsize,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
    }

    impl Scripted {
        fn new(answers: Vec<Result<EnvReport, SourceError>>, delay: Duration) -> Arc<Scripted> {
            Arc::new(Scripted {
                answers: Mutex::new(answers),
                delay,
                calls: AtomicUsize::new(0),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
            })
        }
    }

    struct InFlight<'a>(&'a AtomicUsize);

    impl Drop for InFlight<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl FleetSource for Scripted {
        fn environment(&self) -> &str {
            "prod"
        }
        fn fetch_fleet(&self) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_in_flight.fetch_max(now, Ordering::SeqCst);
                // A timed-out request is dropped mid-sleep; count it out then too.
                let _leaving = InFlight(&self.in_flight);
                tokio::time::sleep(self.delay).await;
                let mut answers = self.answers.lock().unwrap();
                if answers.len() > 1 {
                    answers.remove(0)
                } else {
                    answers[0].clone()
                }
            })
        }
        fn fetch_site<'a>(
            &'a self,
            _site: &'a str,
        ) -> BoxFuture<'a, Result<SiteDetail, SourceError>> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                Err(SourceError::new("not scripted"))
            })
        }
        fn fetch_history<'a>(
            &'a self,
            _site: &'a str,
            _requirement: &'a str,
            _window: Window,
        ) -> BoxFuture<'a, Result<History, SourceError>> {
            Box::pin(async { Err(SourceError::new("not scripted")) })
        }
        /// A run takes as long as a fetch; counted with the fetches.
        fn run_report<'a>(&'a self, site: &'a str) -> BoxFuture<'a, Result<Report, SourceError>> {
            Box::pin(async move {
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_in_flight.fetch_max(now, Ordering::SeqCst);
                let _guard = InFlight(&self.in_flight);
                tokio::time::sleep(self.delay).await;
                let line = format!(
                    r#"{{"site":"{site}","generated_at":"2026-12-01T12:00:00Z","requirements":[]}}"#
                );
                Ok(crate::model::parse_report_line(&line, 1))
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_site_is_asked_for_one_run_at_a_time_and_each_outcome_comes_back_once() {
        // No fleet answers are scripted: only the runs matter here.
        let source = Scripted::new(vec![], Duration::from_secs(5));
        let mut poller = Poller::start(vec![source.clone()], settings());
        let wake = poller.wake();
        let key = SiteKey {
            env: "prod".into(),
            site: "borger".into(),
        };
        assert!(poller.run_report(key.clone()));
        assert!(!poller.run_report(key.clone()), "asked twice while it runs");
        assert!(poller.finished_runs().is_empty());
        tokio::time::sleep(Duration::from_secs(6)).await;
        wake.notified().await;
        let finished = poller.finished_runs();
        assert_eq!(finished.len(), 1);
        assert_eq!(finished[0].key, key);
        assert!(finished[0].result.is_ok());
        assert!(poller.finished_runs().is_empty(), "said once");
        // Done: the site may be asked again.
        assert!(poller.run_report(key));
    }

    fn report(n: usize) -> EnvReport {
        EnvReport {
            sites: (0..n)
                .map(|i| SiteSummary::new(format!("s{i}"), "p"))
                .collect(),
            warnings: vec![],
            silences: None,
            partial: false,
        }
    }

    fn settings() -> PollSettings {
        PollSettings {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
        }
    }

    /// Offers a first answer of one site, then answers with two; every
    /// poll, so that a later poll's offer can be seen to be ignored.
    struct Previewing {
        polls: AtomicUsize,
    }

    impl FleetSource for Previewing {
        fn environment(&self) -> &str {
            "prod"
        }
        fn fetch_fleet(&self) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(report(2)) })
        }
        fn fetch_fleet_previewing(
            &self,
            preview: Preview,
        ) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                preview(EnvReport {
                    partial: true,
                    ..report(1)
                });
                tokio::time::sleep(Duration::from_millis(500)).await;
                Ok(report(2))
            })
        }
        fn fetch_site<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<SiteDetail, SourceError>> {
            Box::pin(async { Err(SourceError::new("unused")) })
        }
        fn fetch_history<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: Window,
        ) -> BoxFuture<'a, Result<History, SourceError>> {
            Box::pin(async { Err(SourceError::new("unused")) })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_answer_is_shown_until_the_whole_poll_comes_and_only_then() {
        let source = Arc::new(Previewing {
            polls: AtomicUsize::new(0),
        });
        let mut poller = Poller::start(vec![source.clone()], settings());
        let wake = poller.wake();
        wake.notified().await;
        let (_, slot) = poller.changed_fleet().pop().unwrap();
        let first = slot.last_good.unwrap();
        assert!(first.value.partial);
        assert_eq!(first.value.sites.len(), 1);
        assert!(slot.in_flight, "the whole poll is still on its way");
        wake.notified().await;
        let (_, slot) = poller.changed_fleet().pop().unwrap();
        let whole = slot.last_good.unwrap();
        assert!(!whole.value.partial);
        assert_eq!(whole.value.sites.len(), 2);
        // The next polls ask for the whole only.
        tokio::time::sleep(Duration::from_secs(6)).await;
        wake.notified().await;
        let (_, slot) = poller.changed_fleet().pop().unwrap();
        assert!(!slot.last_good.unwrap().value.partial);
        assert_eq!(source.polls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = settings();
        assert_eq!(s.delay_after(0), Duration::from_secs(5));
        assert_eq!(s.delay_after(1), Duration::from_secs(10));
        assert_eq!(s.delay_after(2), Duration::from_secs(20));
        assert_eq!(s.delay_after(3), Duration::from_secs(30));
        assert_eq!(s.delay_after(40), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_keeps_the_last_good_data_and_recovery_clears_the_error() {
        let source = Scripted::new(
            vec![
                Ok(report(3)),
                Err(SourceError::new("HTTP 502 from proxy")),
                Ok(report(4)),
            ],
            Duration::from_millis(10),
        );
        let mut poller = Poller::start(vec![source.clone()], settings());
        let wake = poller.wake();

        wake.notified().await;
        let (_, slot) = poller.changed_fleet().pop().unwrap();
        assert_eq!(slot.last_good.as_ref().unwrap().value.sites.len(), 3);
        assert!(slot.last_error.is_none());

        wake.notified().await;
        let (_, slot) = poller.changed_fleet().pop().unwrap();
        assert_eq!(
            slot.last_good.as_ref().unwrap().value.sites.len(),
            3,
            "old data kept"
        );
        assert_eq!(
            slot.last_error.as_ref().unwrap().0.message,
            "HTTP 502 from proxy"
        );
        assert_eq!(slot.consecutive_failures, 1);

        wake.notified().await;
        let (_, slot) = poller.changed_fleet().pop().unwrap();
        assert_eq!(slot.last_good.as_ref().unwrap().value.sites.len(), 4);
        assert!(slot.last_error.is_none());
        assert_eq!(slot.consecutive_failures, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_never_answers_times_out_without_piling_up() {
        let source = Scripted::new(vec![Ok(report(1))], Duration::from_secs(3600));
        let mut poller = Poller::start(vec![source.clone()], settings());
        let wake = poller.wake();
        for _ in 0..3 {
            poller.refresh_now();
            wake.notified().await;
        }
        let (_, slot) = poller.changed_fleet().pop().unwrap();
        assert!(slot.last_good.is_none());
        assert!(
            slot.last_error
                .unwrap()
                .0
                .message
                .contains("no answer within 2s")
        );
        assert_eq!(source.max_in_flight.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn refresh_while_in_flight_never_doubles_a_request() {
        let source = Scripted::new(vec![Ok(report(1))], Duration::from_secs(1));
        let mut poller = Poller::start(vec![source.clone()], settings());
        let wake = poller.wake();
        for _ in 0..20 {
            poller.refresh_now();
        }
        for _ in 0..3 {
            wake.notified().await;
            poller.changed_fleet();
        }
        assert_eq!(source.max_in_flight.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_detail_query_runs_once_per_key_and_stops_when_unwatched() {
        let source = Scripted::new(vec![Ok(report(1))], Duration::from_millis(1));
        let mut poller = Poller::start(vec![source.clone()], settings());
        let wake = poller.wake();
        wake.notified().await;
        poller.changed_fleet();
        let key = DetailKey::Site(SiteKey {
            env: "prod".into(),
            site: "borger".into(),
        });
        poller.watch(key.clone());
        poller.watch(key.clone());
        assert_eq!(poller.watching(), 1);
        wake.notified().await;
        let changed = poller.changed_details();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].0, key);
        assert!(changed[0].1.last_error.is_some());
        poller.unwatch(&key);
        assert_eq!(poller.watching(), 0);
        // Other environments' keys are ignored, not a panic.
        poller.watch(DetailKey::Site(SiteKey {
            env: "nowhere".into(),
            site: "x".into(),
        }));
        assert_eq!(poller.watching(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn environment_level_queries_go_to_their_environment() {
        let source = Scripted::new(vec![Ok(report(1))], Duration::from_millis(1));
        let mut poller = Poller::start(vec![source.clone()], settings());
        let wake = poller.wake();
        wake.notified().await;
        poller.changed_fleet();
        let timeline = DetailKey::Timeline { env: "prod".into() };
        let rollout = DetailKey::Rollout {
            env: "prod".into(),
            profile: "kk_borger".into(),
        };
        assert_eq!(timeline.env(), "prod");
        assert_eq!(rollout.site_key(), None);
        poller.watch(timeline.clone());
        poller.watch(rollout.clone());
        assert_eq!(poller.watching(), 2);
        let mut seen = HashMap::new();
        while seen.len() < 2 {
            wake.notified().await;
            for (key, slot) in poller.changed_details() {
                seen.insert(key, slot);
            }
        }
        // Scripted keeps the trait's defaults: errors naming the environment.
        assert_eq!(
            seen[&timeline].last_error.as_ref().unwrap().0.message,
            "prod has no fleet timeline"
        );
        assert_eq!(
            seen[&rollout].last_error.as_ref().unwrap().0.message,
            "prod has no rollout data"
        );
        poller.watch(DetailKey::Timeline {
            env: "nowhere".into(),
        });
        assert_eq!(poller.watching(), 2);
    }

    /// A cluster whose namespace changes once, 100 ms after the watch starts.
    struct Watched {
        fetches: AtomicUsize,
    }

    impl FleetSource for Watched {
        fn environment(&self) -> &str {
            "prod"
        }
        fn fetch_fleet(&self) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
            Box::pin(async { Ok(report(1)) })
        }
        fn fetch_site<'a>(
            &'a self,
            _site: &'a str,
        ) -> BoxFuture<'a, Result<SiteDetail, SourceError>> {
            Box::pin(async { Err(SourceError::new("not scripted")) })
        }
        fn fetch_history<'a>(
            &'a self,
            _site: &'a str,
            _requirement: &'a str,
            _window: Window,
        ) -> BoxFuture<'a, Result<History, SourceError>> {
            Box::pin(async { Err(SourceError::new("not scripted")) })
        }
        fn has_kubernetes(&self) -> bool {
            true
        }
        fn fetch_workloads<'a>(
            &'a self,
            _site: &'a str,
        ) -> BoxFuture<'a, Result<SiteWorkloads, SourceError>> {
            Box::pin(async move {
                let n = self.fetches.fetch_add(1, Ordering::SeqCst);
                Ok(SiteWorkloads {
                    events_total: n,
                    ..SiteWorkloads::default()
                })
            })
        }
        fn watch_workloads<'a>(
            &'a self,
            _site: &'a str,
            changed: Arc<Notify>,
        ) -> BoxFuture<'a, ()> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                changed.notify_one();
                std::future::pending::<()>().await
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_seen_by_the_watch_fetches_the_pane_before_the_interval() {
        let source = Arc::new(Watched {
            fetches: AtomicUsize::new(0),
        });
        let mut poller = Poller::start(vec![source.clone()], settings());
        let wake = poller.wake();
        let key = DetailKey::Workloads(SiteKey {
            env: "prod".into(),
            site: "borger".into(),
        });
        let started = tokio::time::Instant::now();
        poller.watch(key.clone());
        let mut fetched = Vec::new();
        while fetched.len() < 2 {
            wake.notified().await;
            for (k, slot) in poller.changed_details() {
                if k == key
                    && let Some(Detail::Workloads(w)) = slot.last_good.as_ref().map(|g| &*g.value)
                    && !fetched.contains(&w.events_total)
                {
                    fetched.push(w.events_total);
                }
            }
            poller.changed_fleet();
        }
        assert_eq!(fetched, [0, 1]);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the change, not the 5 s interval, brought the second fetch"
        );
        poller.unwatch(&key);
        assert_eq!(poller.watching(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_without_a_cluster_gets_no_workloads_query() {
        let source = Scripted::new(vec![Ok(report(1))], Duration::from_millis(1));
        let mut poller = Poller::start(vec![source.clone()], settings());
        poller.watch(DetailKey::Workloads(SiteKey {
            env: "prod".into(),
            site: "borger".into(),
        }));
        assert_eq!(poller.watching(), 0);
        assert_eq!(poller.kubernetes(), [false]);
    }

    #[tokio::test(start_paused = true)]
    async fn polls_again_after_the_interval() {
        let source = Scripted::new(vec![Ok(report(1))], Duration::from_millis(1));
        let mut poller = Poller::start(vec![source.clone()], settings());
        let wake = poller.wake();
        wake.notified().await;
        poller.changed_fleet();
        let before = tokio::time::Instant::now();
        wake.notified().await;
        assert!(before.elapsed() >= Duration::from_secs(5));
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
    }
}
