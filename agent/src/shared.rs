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

pub struct Agent {
    metrics: Arc<Metrics>,
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
    /// overlap), then runs and records the outcome.
    pub async fn run_once(self: &Arc<Self>) -> Option<Arc<Outcome>> {
        let guard = self.running.clone().lock_owned().await;
        self.spawn(guard).await.ok()
    }

    /// Runs for ever: the first run after `first_delay`, then one every
    /// `interval` counted from that first slot, so a site keeps its slot.
    /// A slot missed because a run took longer than the interval is
    /// skipped, not made up. Sleeps between runs (no CPU). An interval so
    /// long that the next slot is past what the clock can hold means no
    /// further run, rather than a panic.
    pub async fn schedule(self: &Arc<Self>, first_delay: Duration, interval: Duration) {
        let Some(mut next) = Instant::now().checked_add(first_delay) else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep_until(next).await;
            self.run_once().await;
            match next_slot(next, interval, Instant::now()) {
                Some(slot) => next = slot,
                None => return std::future::pending().await,
            }
        }
    }

    /// A run asked for over HTTP: started now unless one is running or the
    /// last manual one is too recent. The run is a task of its own, so a
    /// client that hangs up does not cancel drush half-way.
    pub fn start_manual(self: &Arc<Self>) -> Result<JoinHandle<Arc<Outcome>>, NotStarted> {
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

    fn spawn(self: &Arc<Self>, guard: OwnedMutexGuard<()>) -> JoinHandle<Arc<Outcome>> {
        let agent = Arc::clone(self);
        tokio::spawn(async move {
            let outcome = agent.trigger.run().await;
            let outcome = agent.record(outcome);
            drop(guard);
            outcome
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
