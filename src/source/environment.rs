//! One configured environment as one `FleetSource`: its Prometheus for the
//! grid, the site view and histories, its Loki (when configured) for the
//! status reports, its cluster (when configured) for the sites that exist,
//! and the port-forwards of `kube://` backends. It wires the backends
//! together; each backend's own work lives in its folder.

use std::sync::Arc;

use super::alertmanager::{
    AlertmanagerApi, Silence, SilenceState, mark_silenced, rule_to_silence, silence_to_rule,
};
use super::http::{ByteBudget, Endpoint, SecretLookup};
use super::kube::{ClientFactory, Forward, KubeDiscovery};
use super::loki::LokiReports;
use super::prometheus::{PromApi, PrometheusSource, SharedGrid, shared_selector};
use super::{BoxFuture, EnvReport, FleetSource, Preview, SourceError};
use crate::config::{Config, ConfigError, EnvironmentConfig, HttpUrl};
use crate::model::gate::Switch;
use crate::model::{
    Alert, AlertList, History, MuteRule, Report, Reports, Rollout, SiteDetail, SiteWorkloads,
    Timeline, Window, set_badges,
};

pub struct EnvironmentSource {
    prometheus: PrometheusSource,
    loki: Option<LokiReports>,
    alertmanager: Option<AlertmanagerApi>,
    /// The last silences read, and when: an Alertmanager that does not
    /// answer must not unmute what the team accepted.
    last_silences: std::sync::Mutex<Option<(Vec<Silence>, std::time::SystemTime)>>,
    /// Who the silences `m` makes are by.
    operator: String,
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
        let alertmanager_forward = match local.alertmanager.as_mut() {
            Some(am) => forward_for(am, &format!("{name} alertmanager"))?,
            None => None,
        };
        let alertmanager = match &local.alertmanager {
            Some(am) => {
                let mut api = AlertmanagerApi::new(am, &format!("{name} alertmanager"), secrets)?;
                if let Some(f) = &alertmanager_forward {
                    api.endpoint.shown_as = Some(shown_as(f));
                }
                Some(api)
            }
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
            alertmanager,
            last_silences: std::sync::Mutex::new(None),
            operator: config.operator_name(),
            kube: env.kube.clone().map(|k| Arc::new(KubeDiscovery::new(k))),
            forwards: prometheus_forward
                .into_iter()
                .chain(loki_forward)
                .chain(alertmanager_forward)
                .collect(),
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

    /// For `config check`: reads the silences once. `None` without an
    /// Alertmanager; else how many are active, or why none could be read.
    pub async fn check_alertmanager(&self) -> Option<(String, Result<usize, SourceError>)> {
        let api = self.alertmanager.as_ref()?;
        let read = api.silences().await.map(|all| {
            all.iter()
                .filter(|s| s.state == SilenceState::Active)
                .count()
        });
        Some((api.endpoint.display(), read))
    }

    /// The cluster's settings, for messages.
    pub fn kube_config(&self) -> Option<&crate::config::KubeConfig> {
        self.kube.as_ref().map(|k| k.config())
    }

    /// The environment's active silences, with a warning when
    /// Alertmanager did not answer (then the last ones read, or none);
    /// `None` without an Alertmanager.
    async fn read_silences(&self) -> Option<(Vec<Silence>, Option<String>)> {
        let api = self.alertmanager.as_ref()?;
        let now = crate::model::Clock::System.system_time();
        match api.silences().await {
            Ok(mut silences) => {
                // Expired ones are history: never a mute, never silencing.
                silences.retain(|s| s.state == SilenceState::Active);
                if let Ok(mut last) = self.last_silences.lock() {
                    *last = Some((silences.clone(), now));
                }
                Some((silences, None))
            }
            Err(e) => {
                let last = self.last_silences.lock().ok().and_then(|l| l.clone());
                Some(match last {
                    Some((rules, at)) => {
                        let age = now.duration_since(at).unwrap_or_default().as_secs();
                        (
                            rules,
                            Some(format!("Alertmanager STALE ({age}s old): {}", e.message)),
                        )
                    }
                    None => (
                        Vec::new(),
                        Some(format!("Alertmanager: {}; no silences known", e.message)),
                    ),
                })
            }
        }
    }

    /// Marks the alerts the silences last read hold: a site's or the
    /// alerts view's read comes between two polls, which read them.
    fn mark_silenced(&self, alerts: &mut [Alert]) {
        let last = self.last_silences.lock().ok().and_then(|l| l.clone());
        if let Some((silences, _)) = last {
            mark_silenced(
                alerts,
                &silences,
                self.environment(),
                jiff::Timestamp::now(),
            );
        }
    }

    /// The grid, its badges marked with the silences, joined by the
    /// cluster's namespaces; `preview` as in
    /// [`FleetSource::fetch_fleet_previewing`].
    async fn fleet(&self, preview: Option<Preview>) -> Result<EnvReport, SourceError> {
        // Both at once: a slow cluster never delays the metrics.
        let discovery = async {
            match &self.kube {
                Some(kube) => Some(kube.discover().await),
                None => None,
            }
        };
        self.start_forwarding();
        let (answer, listed, silences) = tokio::join!(
            self.prometheus.fleet_and_firing(preview),
            discovery,
            self.read_silences()
        );
        let (mut report, mut firing) = self.explain(answer)?;
        if let Some((silences, warning)) = silences {
            let now = jiff::Timestamp::now();
            let env = self.environment();
            mark_silenced(&mut firing, &silences, env, now);
            report.silences = Some(
                silences
                    .iter()
                    .filter_map(|s| silence_to_rule(s, env, now))
                    .collect(),
            );
            report.warnings.extend(warning);
        }
        set_badges(&mut report.sites, firing);
        if let Some(l) = &self.loki {
            report.warnings.extend(l.api.warnings().iter().cloned());
        }
        // Namespaces without metrics join the grid as "no data": this is
        // how a site whose status workload died is found.
        if let (Some(kube), Some(listed)) = (&self.kube, listed) {
            kube.merge_into(&mut report, listed);
        }
        Ok(report)
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
        Box::pin(self.fleet(None))
    }

    fn fetch_fleet_previewing(
        &self,
        preview: Preview,
    ) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
        Box::pin(self.fleet(Some(preview)))
    }

    fn fetch_site<'a>(&'a self, site: &'a str) -> BoxFuture<'a, Result<SiteDetail, SourceError>> {
        Box::pin(async move {
            self.start_forwarding();
            let mut detail = self.explain(self.prometheus.fetch_site(site).await)?;
            self.mark_silenced(&mut detail.alerts);
            Ok(detail)
        })
    }

    fn fetch_alerts(&self, per_name: usize) -> BoxFuture<'_, Result<AlertList, SourceError>> {
        Box::pin(async move {
            self.start_forwarding();
            let mut list = self.explain(self.prometheus.alert_list(per_name).await)?;
            self.mark_silenced(&mut list.alerts);
            Ok(list)
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

    fn fetch_switches<'a>(
        &'a self,
        profile: &'a str,
        version: &'a str,
        lookback: std::time::Duration,
    ) -> BoxFuture<'a, Result<std::collections::BTreeMap<String, Switch>, SourceError>> {
        Box::pin(async move {
            self.start_forwarding();
            self.explain(
                self.prometheus
                    .fetch_switches(profile, version, lookback)
                    .await,
            )
        })
    }

    fn fetch_fleet_at(&self, at: f64) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
        Box::pin(async move {
            self.start_forwarding();
            self.explain(self.prometheus.fetch_fleet_at(at).await)
        })
    }

    fn fetch_rollout_at<'a>(
        &'a self,
        profile: &'a str,
        at: f64,
    ) -> BoxFuture<'a, Result<Rollout, SourceError>> {
        Box::pin(async move {
            self.start_forwarding();
            self.explain(self.prometheus.fetch_rollout_at(profile, at).await)
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

    fn run_report<'a>(&'a self, site: &'a str) -> BoxFuture<'a, Result<Report, SourceError>> {
        Box::pin(async move {
            match &self.kube {
                Some(kube) => kube.run_report(site).await,
                None => Err(super::cannot_run_without_kubernetes(self.environment())),
            }
        })
    }

    fn has_alertmanager(&self) -> bool {
        self.alertmanager.is_some()
    }

    fn has_reports(&self) -> bool {
        self.loki.is_some()
    }

    fn create_silence<'a>(
        &'a self,
        rule: &'a MuteRule,
    ) -> BoxFuture<'a, Result<String, SourceError>> {
        Box::pin(async move {
            let Some(api) = &self.alertmanager else {
                return Err(super::no_alertmanager(self.environment()));
            };
            self.start_forwarding();
            let silence = rule_to_silence(
                rule,
                self.environment(),
                &self.operator,
                jiff::Timestamp::now(),
            );
            self.explain(api.create(&silence).await)
                .map_err(|e| SourceError::new(format!("Alertmanager {}", e.message)))
        })
    }

    fn expire_silence<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), SourceError>> {
        Box::pin(async move {
            let Some(api) = &self.alertmanager else {
                return Err(super::no_alertmanager(self.environment()));
            };
            self.start_forwarding();
            self.explain(api.expire(id).await)
                .map_err(|e| SourceError::new(format!("Alertmanager {}", e.message)))
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

/// One source per configured environment, in display order. Environments
/// on one Prometheus that only their selectors tell apart share their grid
/// queries (see `prometheus::SharedGrid`).
pub fn from_config(
    config: &Config,
    secrets: &dyn SecretLookup,
) -> Result<Vec<Arc<EnvironmentSource>>, ConfigError> {
    let order = config.environment_names();
    let mut envs: Vec<&EnvironmentConfig> = config.environments.iter().collect();
    envs.sort_by_key(|e| order.iter().position(|n| *n == e.name.0));
    let mut sources = envs
        .iter()
        .map(|env| EnvironmentSource::new(config, env, secrets))
        .collect::<Result<Vec<_>, _>>()?;
    share_grids(&envs, &mut sources, secrets)?;
    Ok(sources.into_iter().map(Arc::new).collect())
}

/// Groups the environments that ask the same Prometheus the same way
/// (URL, credentials, headers, TLS, recorded series or not) and whose
/// selectors differ in one label's value, and gives each group one
/// `SharedGrid`.
fn share_grids(
    envs: &[&EnvironmentConfig],
    sources: &mut [EnvironmentSource],
    secrets: &dyn SecretLookup,
) -> Result<(), ConfigError> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, env) in envs.iter().enumerate() {
        // A port-forward is one environment's own.
        if env.prometheus.url.kube_target().is_some() || env.selector.is_none() {
            continue;
        }
        let same = |j: &usize| {
            let other = envs[*j];
            other.prometheus == env.prometheus
                && other.use_recording_rules == env.use_recording_rules
                // The alerts read keeps what silences match on only where
                // there are silences.
                && other.alertmanager.is_some() == env.alertmanager.is_some()
        };
        match groups.iter_mut().find(|g| g.first().is_some_and(same)) {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    for group in groups.into_iter().filter(|g| g.len() > 1) {
        let selectors: Vec<&[crate::config::Matcher]> = group
            .iter()
            .map(|i| {
                envs[*i]
                    .selector
                    .as_ref()
                    .map_or(&[][..], |s| s.matchers.as_slice())
            })
            .collect();
        let Some(shared) = shared_selector(&selectors) else {
            continue;
        };
        let names: Vec<&str> = group.iter().map(|i| envs[*i].name.0.as_str()).collect();
        let named = names.join(", ");
        let first = envs[group[0]];
        let mut endpoint =
            Endpoint::new(&first.prometheus, &format!("{named} prometheus"), secrets)?;
        let budget_mib = group
            .iter()
            .map(|i| envs[*i].max_poll_mib)
            .fold(0u32, u32::saturating_add);
        endpoint.budget = Some(ByteBudget::new(
            budget_mib,
            format!("max_poll_mib of {named} together"),
        ));
        let queries = sources[group[0]].prometheus.queries().grouped(
            &shared.label,
            &shared.common,
            &shared.values,
        );
        let reads_alerts = sources[group[0]].prometheus.api().reads_alerts();
        let grid = Arc::new(SharedGrid::new(
            PromApi::new(endpoint).reading_alerts(reads_alerts),
            queries,
            shared.values.clone(),
        ));
        for (i, value) in group.iter().zip(shared.values) {
            sources[*i].prometheus.share_grid(grid.clone(), value);
        }
    }
    Ok(())
}
