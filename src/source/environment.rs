//! One configured environment: its Prometheus for the grid, the site view
//! and histories, and its Loki (when configured) for the status reports.

use std::sync::Arc;
use std::time::SystemTime;

use super::http::{ByteBudget, SecretLookup};
use super::kube::{ClientFactory, Forward};
use super::loki::{Direction, LokiApi, stream_selector};
use super::prometheus::PrometheusSource;
use super::{BoxFuture, EnvReport, FleetSource, SourceError};
use crate::config::{Config, ConfigError, EnvironmentConfig, HttpUrl};
use crate::model::{
    History, Reports, Rollout, SiteDetail, SiteWorkloads, Timeline, Window, parse_report_line,
};

/// How far back the report list looks. Reports come every few minutes, so
/// a week holds far more than a screen; Loki stops at the limit anyway.
pub const REPORT_WINDOW_SECONDS: i64 = 7 * 86_400;

/// A site's status reports in Loki.
pub struct LokiReports {
    pub api: LokiApi,
    job: String,
    site_label: String,
    selector: Option<String>,
}

impl LokiReports {
    pub fn new(
        config: &Config,
        env: &EnvironmentConfig,
        secrets: &dyn SecretLookup,
    ) -> Result<Option<LokiReports>, ConfigError> {
        let Some(loki) = &env.loki else {
            return Ok(None);
        };
        Ok(Some(LokiReports {
            api: LokiApi::new(loki, &format!("{} loki", env.name.0), secrets)?,
            job: config.metrics.job.clone(),
            site_label: config.labels.site.0.clone(),
            selector: env.selector.as_ref().map(|s| s.0.clone()),
        }))
    }

    /// The stream of one site's reports, e.g.
    /// `{job="site-status", site="borger", env="prod"}`.
    pub fn selector(&self, site: &str) -> String {
        stream_selector(
            &[("job", self.job.as_str()), (self.site_label.as_str(), site)],
            self.selector.as_deref(),
        )
    }

    /// The newest `count` reports, newest first, each parsed whatever its
    /// shape.
    pub async fn recent(&self, site: &str, count: usize) -> Result<Reports, SourceError> {
        let end = crate::model::Clock::System.unix_nanos();
        let start = end - REPORT_WINDOW_SECONDS * 1_000_000_000;
        let answer = self
            .api
            .query_range(
                &self.selector(site),
                start,
                end,
                count.max(1),
                Direction::Backward,
            )
            .await?;
        Ok(Reports {
            reports: answer
                .entries
                .iter()
                .map(|e| parse_report_line(&e.line, e.time_ns))
                .collect(),
            notices: answer.notices,
        })
    }
}

/// The environment's cluster, for the list of sites that exist.
pub struct KubeDiscovery {
    config: crate::config::KubeConfig,
    /// Made on first use and again after a failure (expired credentials
    /// may have been renewed).
    client: tokio::sync::Mutex<Option<kube::Client>>,
    /// The last list that was read, and when: on a failure the grid keeps
    /// it, and says how old it is.
    last_good: std::sync::Mutex<Option<(Vec<crate::model::kube::DiscoveredSite>, SystemTime)>>,
    /// Why the open pane's watch last failed, said in the pane until a
    /// watch starts again.
    watch_failure: std::sync::Mutex<Option<String>>,
}

/// A cluster slower than this to answer is reported, not waited for: the
/// grid never waits on Kubernetes.
const KUBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);
/// A failed watch is tried again after this, doubling up to the max.
const WATCH_RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(5);
const WATCH_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(120);

fn no_answer() -> SourceError {
    SourceError::new(format!(
        "Kubernetes: no answer within {}s",
        KUBE_TIMEOUT.as_secs()
    ))
}

impl KubeDiscovery {
    fn new(config: crate::config::KubeConfig) -> KubeDiscovery {
        KubeDiscovery {
            config,
            client: tokio::sync::Mutex::new(None),
            last_good: std::sync::Mutex::new(None),
            watch_failure: std::sync::Mutex::new(None),
        }
    }

    /// The client, made now if there is none.
    async fn client(&self) -> Result<kube::Client, SourceError> {
        let mut client = self.client.lock().await;
        if let Some(c) = client.as_ref() {
            return Ok(c.clone());
        }
        let made = super::kube::connect(&self.config).await?;
        *client = Some(made.clone());
        Ok(made)
    }

    /// Forgets the client after a failure: expired credentials may have
    /// been renewed, a context switched.
    async fn drop_client(&self) {
        *self.client.lock().await = None;
    }

    async fn discover(&self) -> Result<Vec<crate::model::kube::DiscoveredSite>, SourceError> {
        let client = self.client().await?;
        let listed = tokio::time::timeout(
            KUBE_TIMEOUT,
            super::kube::KubeSites::discover(&client, &self.config),
        )
        .await;
        match listed {
            Ok(Ok(sites)) => Ok(sites),
            Ok(Err(e)) => {
                self.drop_client().await;
                Err(e.into())
            }
            Err(_) => {
                self.drop_client().await;
                Err(no_answer())
            }
        }
    }

    /// The site's namespace, from the last list read (or a list read now).
    async fn namespace_of(&self, site: &str) -> Result<String, SourceError> {
        let known = self.last_good.lock().ok().and_then(|l| {
            l.as_ref()
                .map(|(sites, _)| sites.iter().find(|d| d.site == site).cloned())
        });
        let found = match known {
            Some(found) => found,
            None => self.discover().await?.into_iter().find(|d| d.site == site),
        };
        found.map(|d| d.namespace).ok_or_else(|| {
            SourceError::new(format!(
                "no namespace in the cluster for site {site} (namespace_selector {})",
                self.config.namespace_selector.0
            ))
        })
    }

    async fn workloads(&self, site: &str) -> Result<crate::model::SiteWorkloads, SourceError> {
        let namespace = self.namespace_of(site).await?;
        let client = self.client().await?;
        let read = tokio::time::timeout(
            KUBE_TIMEOUT,
            super::kube::site_workloads(&client, &namespace),
        )
        .await;
        let mut workloads = match read {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => {
                if !matches!(e, super::kube::KubeError::Forbidden { .. }) {
                    self.drop_client().await;
                }
                return Err(e.into());
            }
            Err(_) => {
                self.drop_client().await;
                return Err(no_answer());
            }
        };
        if let Some(failure) = self.watch_failure.lock().ok().and_then(|w| w.clone()) {
            workloads
                .notices
                .push(format!("not live, polled instead: {failure}"));
        }
        Ok(workloads)
    }

    /// Watches the site's namespace for as long as the pane is open; a
    /// failed watch is said in the pane (it is then only polled) and tried
    /// again after a while.
    async fn follow(&self, site: &str, changed: &tokio::sync::Notify) {
        let mut gap = WATCH_RETRY_FIRST;
        loop {
            let started = std::time::Instant::now();
            let failure = match self.namespace_of(site).await {
                Ok(namespace) => match self.client().await {
                    Ok(client) => {
                        self.set_watch_failure(None);
                        super::kube::follow_namespace(&client, &namespace, changed)
                            .await
                            .to_string()
                    }
                    Err(e) => e.message,
                },
                Err(e) => e.message,
            };
            self.set_watch_failure(Some(failure));
            if started.elapsed() > WATCH_RETRY_MAX {
                gap = WATCH_RETRY_FIRST;
            }
            tokio::time::sleep(gap).await;
            gap = (gap * 2).min(WATCH_RETRY_MAX);
        }
    }

    /// Watches the site namespaces for as long as the dashboard runs; a
    /// failed watch is retried after a while (the namespaces are listed on
    /// every poll anyway, so only the early notice is lost meanwhile).
    async fn follow_namespaces(&self, changed: &tokio::sync::Notify) {
        let mut gap = WATCH_RETRY_FIRST;
        loop {
            let started = std::time::Instant::now();
            if let Ok(client) = self.client().await {
                super::kube::follow_site_namespaces(
                    &client,
                    &self.config.namespace_selector.0,
                    changed,
                )
                .await;
            }
            if started.elapsed() > WATCH_RETRY_MAX {
                gap = WATCH_RETRY_FIRST;
            }
            tokio::time::sleep(gap).await;
            gap = (gap * 2).min(WATCH_RETRY_MAX);
        }
    }

    fn set_watch_failure(&self, failure: Option<String>) {
        if let Ok(mut w) = self.watch_failure.lock() {
            *w = failure;
        }
    }

    /// Merges the cluster's sites into the metrics' sites; on a failure the
    /// last list read is used and the report says why and how old it is.
    fn merge_into(
        &self,
        report: &mut EnvReport,
        listed: Result<Vec<crate::model::kube::DiscoveredSite>, SourceError>,
    ) {
        let now = crate::model::Clock::System.system_time();
        let (sites, note) = match listed {
            Ok(sites) => {
                if let Ok(mut last) = self.last_good.lock() {
                    *last = Some((sites.clone(), now));
                }
                (Some(sites), None)
            }
            Err(e) => {
                let last = self.last_good.lock().ok().and_then(|l| l.clone());
                match last {
                    Some((sites, at)) => {
                        let age = now.duration_since(at).unwrap_or_default().as_secs();
                        (
                            Some(sites),
                            Some(format!("Kubernetes STALE ({age}s old): {e}")),
                        )
                    }
                    None => (
                        None,
                        Some(format!("Kubernetes: {e}; sites from metrics only")),
                    ),
                }
            }
        };
        if let Some(note) = note {
            report.warnings.push(note);
        }
        let Some(discovered) = sites else { return };
        let merged =
            crate::model::kube::merge_discovered(std::mem::take(&mut report.sites), &discovered);
        report.sites = merged.sites;
        if !merged.not_in_cluster.is_empty() {
            // The cells carry the mark; the warning names a few.
            const NAMED: usize = 5;
            let more = merged.not_in_cluster.len().saturating_sub(NAMED);
            report.warnings.push(format!(
                "{} site(s) in the metrics have no namespace in the cluster (∅): {}{}",
                merged.not_in_cluster.len(),
                merged
                    .not_in_cluster
                    .iter()
                    .take(NAMED)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
    }
}

pub struct EnvironmentSource {
    prometheus: PrometheusSource,
    loki: Option<LokiReports>,
    kube: Option<Arc<KubeDiscovery>>,
    /// Local stand-ins for `kube://` backends.
    forwards: Vec<Arc<Forward>>,
}

/// Reserves a local port for a `kube://` backend and points the backend's
/// URL at it.
fn forward_for(
    backend: &mut crate::config::BackendConfig,
    what: &str,
) -> Result<Option<Arc<Forward>>, ConfigError> {
    let Some(target) = backend.url.kube_target() else {
        return Ok(None);
    };
    let forward = Forward::bind(target).map_err(|e| {
        ConfigError(format!(
            "{what}: cannot reserve a local port for the port-forward: {e}"
        ))
    })?;
    backend.url = HttpUrl(forward.local_url().map_err(|e| {
        ConfigError(format!(
            "{what}: {} gives no local URL: {e}",
            forward.target()
        ))
    })?);
    Ok(Some(Arc::new(forward)))
}

fn shown_as(forward: &Forward) -> String {
    format!("{} (port-forward)", forward.target())
}

impl EnvironmentSource {
    pub fn new(
        config: &Config,
        env: &EnvironmentConfig,
        secrets: &dyn SecretLookup,
    ) -> Result<EnvironmentSource, ConfigError> {
        let mut local = env.clone();
        let name = &env.name.0;
        let prometheus_forward = forward_for(&mut local.prometheus, &format!("{name} prometheus"))?;
        let loki_forward = match local.loki.as_mut() {
            Some(loki) => forward_for(loki, &format!("{name} loki"))?,
            None => None,
        };
        // One budget for everything the environment's backends answer.
        let budget = ByteBudget::new(env.max_poll_mib, format!("max_poll_mib of {name}"));
        let mut prometheus = PrometheusSource::new(config, &local, secrets)?;
        prometheus.api_mut().endpoint.budget = Some(budget.clone());
        if let Some(f) = &prometheus_forward {
            prometheus.api_mut().endpoint.shown_as = Some(shown_as(f));
        }
        let mut loki = LokiReports::new(config, &local, secrets)?;
        if let Some(l) = loki.as_mut() {
            l.api.endpoint.budget = Some(budget);
        }
        if let (Some(l), Some(f)) = (loki.as_mut(), &loki_forward) {
            l.api.endpoint.shown_as = Some(shown_as(f));
        }
        Ok(EnvironmentSource {
            prometheus,
            loki,
            kube: env.kube.clone().map(|k| Arc::new(KubeDiscovery::new(k))),
            forwards: prometheus_forward.into_iter().chain(loki_forward).collect(),
        })
    }

    /// Serves the `kube://` backends' local ports (once; must be called in
    /// the runtime, before the first request to them).
    pub fn start_forwarding(&self) {
        let Some(kube) = &self.kube else { return };
        for forward in &self.forwards {
            let kube = kube.clone();
            let clients: ClientFactory = Arc::new(move || {
                let kube = kube.clone();
                Box::pin(async move { kube.client().await.map_err(|e| e.message) })
            });
            forward.start(clients);
        }
    }

    /// A failed request to a `kube://` backend says why the port-forward
    /// failed, which the HTTP error alone cannot.
    fn explain<T>(&self, outcome: Result<T, SourceError>) -> Result<T, SourceError> {
        outcome.map_err(|e| {
            let why: Vec<String> = self
                .forwards
                .iter()
                .filter_map(|f| f.last_error())
                .collect();
            if why.is_empty() {
                e
            } else {
                SourceError::new(format!("{e} (port-forward: {})", why.join("; ")))
            }
        })
    }

    pub fn prometheus(&self) -> &PrometheusSource {
        &self.prometheus
    }

    pub fn loki(&self) -> Option<&LokiReports> {
        self.loki.as_ref()
    }

    /// For `config check`: lists the site namespaces once. `None` when the
    /// environment has no cluster configured; else the number of site
    /// namespaces found, or why none could be read.
    pub async fn check_kubernetes(&self) -> Option<Result<usize, SourceError>> {
        let kube = self.kube.as_ref()?;
        Some(kube.discover().await.map(|sites| sites.len()))
    }

    /// The cluster's settings, for messages.
    pub fn kube_config(&self) -> Option<&crate::config::KubeConfig> {
        self.kube.as_ref().map(|k| &k.config)
    }

    /// Said once at start: TLS checks turned off, and the like.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self.prometheus.warnings().to_vec();
        if let Some(l) = &self.loki {
            w.extend(l.api.warnings().iter().cloned());
        }
        w
    }
}

impl FleetSource for EnvironmentSource {
    fn environment(&self) -> &str {
        self.prometheus.environment()
    }

    fn fetch_fleet(&self) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
        Box::pin(async move {
            // Both at once: a slow cluster never delays the metrics.
            let discovery = async {
                match &self.kube {
                    Some(kube) => Some(kube.discover().await),
                    None => None,
                }
            };
            self.start_forwarding();
            let (report, listed) = tokio::join!(self.prometheus.fetch_fleet(), discovery);
            let mut report = self.explain(report)?;
            if let Some(l) = &self.loki {
                report.warnings.extend(l.api.warnings().iter().cloned());
            }
            // Namespaces without metrics join the grid as "no data": this is
            // how a site whose status workload died is found.
            if let (Some(kube), Some(listed)) = (&self.kube, listed) {
                kube.merge_into(&mut report, listed);
            }
            Ok(report)
        })
    }

    fn fetch_site<'a>(&'a self, site: &'a str) -> BoxFuture<'a, Result<SiteDetail, SourceError>> {
        Box::pin(async move {
            self.start_forwarding();
            self.explain(self.prometheus.fetch_site(site).await)
        })
    }

    fn fetch_history<'a>(
        &'a self,
        site: &'a str,
        requirement: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<History, SourceError>> {
        Box::pin(async move {
            self.start_forwarding();
            self.explain(
                self.prometheus
                    .fetch_history(site, requirement, window)
                    .await,
            )
        })
    }

    fn fetch_timeline(&self) -> BoxFuture<'_, Result<Timeline, SourceError>> {
        Box::pin(async move {
            self.start_forwarding();
            self.explain(self.prometheus.fetch_timeline().await)
        })
    }

    fn fetch_rollout<'a>(
        &'a self,
        profile: &'a str,
    ) -> BoxFuture<'a, Result<Rollout, SourceError>> {
        Box::pin(async move {
            self.start_forwarding();
            self.explain(self.prometheus.fetch_rollout(profile).await)
        })
    }

    fn has_kubernetes(&self) -> bool {
        self.kube.is_some()
    }

    fn watch_fleet(&self, changed: Arc<tokio::sync::Notify>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            match &self.kube {
                Some(kube) => kube.follow_namespaces(&changed).await,
                None => std::future::pending().await,
            }
        })
    }

    fn fetch_workloads<'a>(
        &'a self,
        site: &'a str,
    ) -> BoxFuture<'a, Result<SiteWorkloads, SourceError>> {
        Box::pin(async move {
            match &self.kube {
                Some(kube) => kube.workloads(site).await,
                None => Err(SourceError::new(format!(
                    "no Kubernetes configured for {}",
                    self.environment()
                ))),
            }
        })
    }

    fn watch_workloads<'a>(
        &'a self,
        site: &'a str,
        changed: Arc<tokio::sync::Notify>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            match &self.kube {
                Some(kube) => kube.follow(site, &changed).await,
                None => std::future::pending().await,
            }
        })
    }

    fn fetch_reports<'a>(
        &'a self,
        site: &'a str,
        count: usize,
    ) -> BoxFuture<'a, Result<Reports, SourceError>> {
        match &self.loki {
            Some(loki) => Box::pin(async move {
                self.start_forwarding();
                self.explain(loki.recent(site, count).await)
            }),
            None => Box::pin(async move {
                Err(SourceError::new(format!(
                    "no Loki configured for {} (add [environment.loki] to the configuration)",
                    self.environment()
                )))
            }),
        }
    }
}

/// One source per configured environment, in display order.
pub fn from_config(
    config: &Config,
    secrets: &dyn SecretLookup,
) -> Result<Vec<Arc<EnvironmentSource>>, ConfigError> {
    let order = config.environment_names();
    let mut envs: Vec<&EnvironmentConfig> = config.environments.iter().collect();
    envs.sort_by_key(|e| order.iter().position(|n| *n == e.name.0));
    envs.into_iter()
        .map(|env| EnvironmentSource::new(config, env, secrets).map(Arc::new))
        .collect()
}
