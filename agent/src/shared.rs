//! What the scheduler and the HTTP endpoints share: the metrics, the last
//! run's `Outcome`, the gate that keeps runs from overlapping (the only
//! one), and the schedule itself ([`Agent::schedule`], the one the binary
//! runs). Runs go through a [`Trigger`], so all of it is tested without
//! drush.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::{OwnedMutexGuard, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::outcome::Outcome;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Runs drush once, start to finish. The production trigger also writes
/// the outcome to the Loki spool, so a run started by `POST /run` is
/// pushed like a scheduled one.
pub trait Trigger: Send + Sync + 'static {
    fn run(&self) -> BoxFuture<Outcome>;
}

impl<F, Fut> Trigger for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    fn run(&self) -> BoxFuture<Outcome> {
        Box::pin(self())
    }
}

/// At most one run started by `POST /run` per this long: a dashboard
/// user holding `r` must not turn into a drush bootstrap storm.
pub const MANUAL_RUN_INTERVAL: Duration = Duration::from_secs(10);

/// Why `POST /run` did not start a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStarted {
    /// A run is going on; its outcome is as fresh as a new one.
    Running,
    /// The last manual run started less than [`MANUAL_RUN_INTERVAL`] ago.
    TooSoon { retry_after: Duration },
}

/// Where the scheduler is, for liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schedule {
    /// Not started yet: the process is starting.
    NotStarted,
    /// The next tick is due `at`; it is late past `at + slack`.
    Due { at: Instant, slack: Duration },
    /// The scheduler ended: no run will ever come again.
    Ended,
}

/// Why the agent is not live: what `/livez` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotLive {
    /// The scheduler's tick is this late past its slack.
    Late(Duration),
    Ended,
}

/// Whether the agent can keep reports: `Err` says why not (`/readyz`).
pub type ReadyCheck = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

pub struct Agent {
    metrics: Arc<Metrics>,
    schedule: Mutex<Schedule>,
    ready_check: RwLock<Option<ReadyCheck>>,
    /// Set once, at SIGTERM/SIGINT/SIGHUP: runs are cancelled (drush's
    /// group killed) and clients waiting on them answered.
    stop: watch::Sender<bool>,
    last: RwLock<Option<Arc<Outcome>>>,
    trigger: Box<dyn Trigger>,
    running: Arc<tokio::sync::Mutex<()>>,
    /// Counts finished runs, so a request can wait for the run going on.
    finished: watch::Sender<u64>,
    last_manual: Mutex<Option<Instant>>,
    manual_interval: Duration,
}

impl Agent {
    pub fn new(metrics: Arc<Metrics>, trigger: impl Trigger) -> Arc<Agent> {
        Agent::with_manual_interval(metrics, trigger, MANUAL_RUN_INTERVAL)
    }

    /// [`Agent::new`] with another rate limit for `POST /run`.
    pub fn with_manual_interval(
        metrics: Arc<Metrics>,
        trigger: impl Trigger,
        manual_interval: Duration,
    ) -> Arc<Agent> {
        Arc::new(Agent {
            metrics,
            schedule: Mutex::new(Schedule::NotStarted),
            ready_check: RwLock::new(None),
            stop: watch::Sender::new(false),
            last: RwLock::new(None),
            trigger: Box::new(trigger),
            running: Arc::new(tokio::sync::Mutex::new(())),
            finished: watch::Sender::new(0),
            last_manual: Mutex::new(None),
            manual_interval,
        })
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The last finished run, `None` before the first.
    pub fn last(&self) -> Option<Arc<Outcome>> {
        self.last
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A scheduled run: waits for a run going on to finish (runs never
    /// overlap), then runs and records the outcome. `None` when the agent
    /// stopped meanwhile.
    pub async fn run_once(self: &Arc<Self>) -> Option<Arc<Outcome>> {
        let guard = self.running.clone().lock_owned().await;
        self.spawn(guard).await.ok().flatten()
    }

    /// Shutdown: the run going on is cancelled (which kills drush's
    /// group), no other starts, and whoever waits on [`Agent::stopped`]
    /// wakes.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    pub fn is_stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves once [`Agent::stop`] was called (at once if it was).
    pub async fn stopped(&self) {
        let mut stop = self.stop.subscribe();
        let _ = stop.wait_for(|s| *s).await;
    }

    /// What `/readyz` checks besides serving: the spool can keep reports.
    pub fn set_ready_check(&self, check: ReadyCheck) {
        *self
            .ready_check
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(check);
    }

    /// Ready: serving, not stopping, and the ready check (the spool is
    /// writable) passes. Not tied to the first run: a slow or failing
    /// drush is the site's state to report, not a reason to stop scraping.
    pub fn ready(&self) -> Result<(), String> {
        if self.is_stopping() {
            return Err("shutting down".into());
        }
        match &*self
            .ready_check
            .read()
            .unwrap_or_else(PoisonError::into_inner)
        {
            Some(check) => check(),
            None => Ok(()),
        }
    }

    /// Live: the scheduler ticked when due, within its slack (one more
    /// interval and the run timeout: see [`Agent::schedule`]).
    pub fn live(&self) -> Result<(), NotLive> {
        match *self.schedule.lock().unwrap_or_else(PoisonError::into_inner) {
            Schedule::NotStarted => Ok(()),
            Schedule::Ended => Err(NotLive::Ended),
            Schedule::Due { at, slack } => {
                let late = Instant::now().saturating_duration_since(at);
                if late > slack {
                    Err(NotLive::Late(late - slack))
                } else {
                    Ok(())
                }
            }
        }
    }

    fn set_schedule(&self, schedule: Schedule) {
        *self.schedule.lock().unwrap_or_else(PoisonError::into_inner) = schedule;
    }

    /// Runs for ever: the first run after `first_delay`, then one every
    /// `interval` counted from that first slot, so a site keeps its slot.
    /// A slot missed because a run took longer than the interval is
    /// skipped, not made up. Sleeps between runs (no CPU). An interval so
    /// long that the next slot is past what the clock can hold means no
    /// further run, rather than a panic, and the agent stops being live
    /// (the intervals are bounded at parse time, so this is a safety net).
    ///
    /// Liveness: a tick is late once it is `interval + run_timeout` past
    /// its slot, i.e. no tick within two intervals and a run's timeout
    /// (a run may take up to its timeout, and the slot after it is skipped).
    pub async fn schedule(
        self: &Arc<Self>,
        first_delay: Duration,
        interval: Duration,
        run_timeout: Duration,
    ) {
        let slack = interval.saturating_add(run_timeout);
        let Some(mut next) = Instant::now().checked_add(first_delay) else {
            self.set_schedule(Schedule::Ended);
            return std::future::pending().await;
        };
        loop {
            self.set_schedule(Schedule::Due { at: next, slack });
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = self.stopped() => return,
            }
            self.run_once().await;
            match next_slot(next, interval, Instant::now()) {
                Some(slot) => next = slot,
                None => {
                    self.set_schedule(Schedule::Ended);
                    return std::future::pending().await;
                }
            }
        }
    }

    /// A run asked for over HTTP: started now unless one is running or the
    /// last manual one is too recent. The run is a task of its own, so a
    /// client that hangs up does not cancel drush half-way.
    pub fn start_manual(self: &Arc<Self>) -> Result<JoinHandle<Option<Arc<Outcome>>>, NotStarted> {
        let mut last_manual = self
            .last_manual
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if let Some(at) = *last_manual {
            let since = now.duration_since(at);
            if since < self.manual_interval {
                return Err(NotStarted::TooSoon {
                    retry_after: self.manual_interval - since,
                });
            }
        }
        let guard = self
            .running
            .clone()
            .try_lock_owned()
            .map_err(|_| NotStarted::Running)?;
        *last_manual = Some(now);
        Ok(self.spawn(guard))
    }

    /// Resolves when the run going on now (or, if none, the next one) has
    /// been recorded. Subscribe before checking whether a run is going on,
    /// so a run that ends in between is not missed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.finished.subscribe()
    }

    /// The run as a task; `None` when the agent stopped first. Dropping
    /// the trigger's future kills drush with its group (the runner's
    /// guard) and leaves a spool write already begun to finish on its
    /// blocking thread.
    fn spawn(self: &Arc<Self>, guard: OwnedMutexGuard<()>) -> JoinHandle<Option<Arc<Outcome>>> {
        let agent = Arc::clone(self);
        tokio::spawn(async move {
            let run = agent.trigger.run();
            let outcome = tokio::select! {
                outcome = run => outcome,
                _ = agent.stopped() => return None,
            };
            let outcome = agent.record(outcome);
            drop(guard);
            Some(outcome)
        })
    }

    /// Makes `outcome` the last one: its metrics, `/report`, `/readyz`.
    pub fn record(&self, outcome: Outcome) -> Arc<Outcome> {
        self.metrics.record_run(&outcome);
        let outcome = Arc::new(outcome);
        *self.last.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&outcome));
        self.finished.send_modify(|n| *n += 1);
        outcome
    }
}

/// The first slot after `now` of the series `slot + k·interval`, k ≥ 1:
/// slots that passed during a long run are skipped. `None` when it lies
/// beyond what the clock can hold.
pub fn next_slot(slot: Instant, interval: Duration, now: Instant) -> Option<Instant> {
    let interval = interval.max(Duration::from_millis(1));
    let late = now.saturating_duration_since(slot).as_nanos();
    let steps = late / interval.as_nanos() + 1;
    let ahead = interval.as_nanos().checked_mul(steps)?;
    let ahead = Duration::new(
        u64::try_from(ahead / 1_000_000_000).ok()?,
        (ahead % 1_000_000_000) as u32,
    );
    slot.checked_add(ahead)
}
