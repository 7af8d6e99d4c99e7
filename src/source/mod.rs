//! Backends. Each returns model types and knows nothing of the terminal.

pub mod alertmanager;
pub mod demo;
pub mod environment;
pub mod http;
pub mod kube;
pub mod loki;
pub mod prometheus;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::model::gate::Switch;
use crate::model::{
    AlertList, History, MuteRule, Report, Reports, Rollout, SiteDetail, SiteWorkloads, Timeline,
    Window,
};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a first poll offers what arrived first: see
/// [`FleetSource::fetch_fleet_previewing`].
pub type Preview = Arc<dyn Fn(EnvReport) + Send + Sync>;

/// A failed fetch, worded for the operator. Sources build these messages
/// themselves so that no URL credential or token ever ends up in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub message: String,
}

impl SourceError {
    /// Any secret the process holds is taken out here, whatever the
    /// message was made from (an echoed request, a proxy's page).
    pub fn new(message: impl Into<String>) -> SourceError {
        let message = message.into();
        SourceError {
            message: crate::secrets::redact(&message).into_owned(),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Again: a message may have been built before its secret was read.
        f.write_str(&crate::secrets::redact(&self.message))
    }
}

impl std::error::Error for SourceError {}

/// A string literal for PromQL and LogQL (both Go's quoting): `"` and `\`
/// escaped, and every control character written as an escape, so that a
/// label value holding escape sequences or line breaks is asked for as it
/// is, on one line, and never as its sanitized display form.
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One configured label matcher as PromQL and LogQL write it, its value
/// quoted by [`string_literal`] whatever quotes the configuration used.
pub fn render_matcher(matcher: &crate::config::Matcher) -> String {
    format!(
        "{}{}{}",
        matcher.name,
        matcher.op.as_str(),
        string_literal(&matcher.value)
    )
}

// The report is model data (app and ui read it); its old path stays.
pub use crate::model::env_report::EnvReport;

pub(crate) fn no_alertmanager(env: &str) -> SourceError {
    SourceError::new(format!(
        "{env} has no Alertmanager configured ([environment.alertmanager])"
    ))
}

/// Why `r` cannot ask an agent for a run in an environment without a
/// cluster.
pub fn cannot_run_without_kubernetes(env: &str) -> SourceError {
    SourceError::new(format!(
        "cannot run the status report from here: {env} has no Kubernetes configured \
         ([environment.kube]), and the site's agent is reached through its cluster"
    ))
}

/// Everything the poller needs from one environment's backend.
pub trait FleetSource: Send + Sync + 'static {
    fn environment(&self) -> &str;

    /// The grid's data: a small fixed number of aggregated queries, whatever
    /// the number of sites.
    fn fetch_fleet(&self) -> BoxFuture<'_, Result<EnvReport, SourceError>>;

    /// [`FleetSource::fetch_fleet`], offering `preview` a partial report
    /// ([`EnvReport::partial`]) as soon as every site's worst state is in,
    /// while the failing requirements are still being read: on raw series
    /// at 10,000 sites those are the slowest answer, and a first poll shows
    /// the grid without waiting for them. Sources that answer at once
    /// need not offer one.
    fn fetch_fleet_previewing(
        &self,
        preview: Preview,
    ) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
        let _ = preview;
        self.fetch_fleet()
    }

    /// One site in full, only while the operator has it open.
    fn fetch_site<'a>(&'a self, site: &'a str) -> BoxFuture<'a, Result<SiteDetail, SourceError>>;

    /// The alerts view's read of the environment, while it is open: how
    /// many alerts of each name fire and wait, and the newest `per_name`
    /// of each name in full.
    fn fetch_alerts(&self, per_name: usize) -> BoxFuture<'_, Result<AlertList, SourceError>> {
        let _ = per_name;
        Box::pin(async move {
            Err(SourceError::new(format!(
                "{} cannot list its alerts",
                self.environment()
            )))
        })
    }

    /// One requirement of one site over a window, while its view is open.
    fn fetch_history<'a>(
        &'a self,
        site: &'a str,
        requirement: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<History, SourceError>>;

    /// The site's most recent status reports, newest first, at most
    /// `count`; from Loki where one is configured.
    fn fetch_reports<'a>(
        &'a self,
        site: &'a str,
        count: usize,
    ) -> BoxFuture<'a, Result<Reports, SourceError>> {
        let _ = (site, count);
        Box::pin(async move {
            Err(SourceError::new(format!(
                "no Loki configured for {} (add [environment.loki] to the configuration)",
                self.environment()
            )))
        })
    }

    /// How many sites were in error and in warning over the last hour
    /// ([`Timeline::WINDOW_SECONDS`], a point every
    /// [`Timeline::STEP_SECONDS`]), while a view shows it.
    fn fetch_timeline(&self) -> BoxFuture<'_, Result<Timeline, SourceError>> {
        Box::pin(async move {
            Err(SourceError::new(format!(
                "{} has no fleet timeline",
                self.environment()
            )))
        })
    }

    /// Which `profile_version` each site of `profile` runs, while a view
    /// shows it. One query, bounded by the profile's size.
    fn fetch_rollout<'a>(
        &'a self,
        profile: &'a str,
    ) -> BoxFuture<'a, Result<Rollout, SourceError>> {
        let _ = profile;
        Box::pin(async move {
            Err(SourceError::new(format!(
                "{} has no rollout data",
                self.environment()
            )))
        })
    }

    /// The grid as it was at `at` (Unix seconds): a deploy gate's baseline
    /// at `--since`. Without alerts or silences.
    fn fetch_fleet_at(&self, at: f64) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
        let _ = at;
        Box::pin(async move {
            Err(SourceError::new(format!(
                "{} has no history",
                self.environment()
            )))
        })
    }

    /// [`FleetSource::fetch_rollout`] as it was at `at` (Unix seconds).
    fn fetch_rollout_at<'a>(
        &'a self,
        profile: &'a str,
        at: f64,
    ) -> BoxFuture<'a, Result<Rollout, SourceError>> {
        let _ = (profile, at);
        Box::pin(async move {
            Err(SourceError::new(format!(
                "{} has no history",
                self.environment()
            )))
        })
    }

    /// For each site of `profile` that ran another version than `version`
    /// within the `lookback` before now: the last instant it was seen on
    /// one (Unix seconds), and which. A site on `version` throughout, or with no
    /// history, is absent.
    fn fetch_switches<'a>(
        &'a self,
        profile: &'a str,
        version: &'a str,
        lookback: std::time::Duration,
    ) -> BoxFuture<'a, Result<std::collections::BTreeMap<String, Switch>, SourceError>> {
        let _ = (profile, version, lookback);
        Box::pin(async move {
            Err(SourceError::new(format!(
                "{} has no history",
                self.environment()
            )))
        })
    }

    /// Whether the environment has a cluster to ask about its sites'
    /// workloads (the site view's Kubernetes pane).
    fn has_kubernetes(&self) -> bool {
        false
    }

    /// The site's namespace as the Kubernetes pane shows it: workloads and
    /// their rollout, pods not ready and why, the latest Warning events.
    fn fetch_workloads<'a>(
        &'a self,
        site: &'a str,
    ) -> BoxFuture<'a, Result<SiteWorkloads, SourceError>> {
        let _ = site;
        Box::pin(async move {
            Err(SourceError::new(format!(
                "no Kubernetes configured for {} (add [environment.kube] to the configuration)",
                self.environment()
            )))
        })
    }

    /// Asks the site's status agent to run drush now and answers with the
    /// report that run made (the site view's `r`): an operator who fixed
    /// something sees the result in seconds, not at the next interval.
    /// The agent is reached through the cluster, so an environment without
    /// one says why it cannot.
    fn run_report<'a>(&'a self, site: &'a str) -> BoxFuture<'a, Result<Report, SourceError>> {
        let _ = site;
        Box::pin(async move { Err(cannot_run_without_kubernetes(self.environment())) })
    }

    /// Whether mutes of this environment are its Alertmanager's silences.
    fn has_alertmanager(&self) -> bool {
        false
    }

    /// Whether the environment's reports can be read (a Loki is
    /// configured): the site view then takes requirement texts from them.
    fn has_reports(&self) -> bool {
        false
    }

    /// Makes the rule a silence in the environment's Alertmanager, by the
    /// configured operator; answers with the silence's id.
    fn create_silence<'a>(
        &'a self,
        rule: &'a MuteRule,
    ) -> BoxFuture<'a, Result<String, SourceError>> {
        let _ = rule;
        Box::pin(async move { Err(no_alertmanager(self.environment())) })
    }

    /// Expires the silence `id` in the environment's Alertmanager.
    fn expire_silence<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), SourceError>> {
        let _ = id;
        Box::pin(async move { Err(no_alertmanager(self.environment())) })
    }

    /// Runs for as long as the dashboard does, notifying `changed` when the
    /// environment's set of sites changes between polls (a site namespace
    /// created or deleted), so the grid is polled early. A source that
    /// cannot tell never returns.
    fn watch_fleet(&self, changed: Arc<Notify>) -> BoxFuture<'_, ()> {
        let _ = changed;
        Box::pin(std::future::pending())
    }

    /// Runs while the site's pane is open, notifying `changed` whenever
    /// something in the site's namespace changes, so the pane follows a
    /// rollout as it happens instead of at the next poll. A source that
    /// cannot watch never returns and the pane is simply polled.
    fn watch_workloads<'a>(&'a self, site: &'a str, changed: Arc<Notify>) -> BoxFuture<'a, ()> {
        let _ = (site, changed);
        Box::pin(std::future::pending())
    }
}

pub use environment::from_config;
