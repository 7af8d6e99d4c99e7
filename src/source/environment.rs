//! One configured environment: its Prometheus for the grid, the site view
//! and histories, and its Loki (when configured) for the status reports.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::http::SecretLookup;
use super::loki::{Direction, LokiApi, stream_selector};
use super::prometheus::PrometheusSource;
use super::{BoxFuture, EnvReport, FleetSource, SourceError};
use crate::config::{Config, ConfigError, EnvironmentConfig};
use crate::model::{History, Reports, Rollout, SiteDetail, Timeline, Window, parse_report_line};

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
        let end = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
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
}

/// A cluster slower than this to list its namespaces is reported, not
/// waited for: the grid never waits on Kubernetes.
const DISCOVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);

impl KubeDiscovery {
    async fn discover(&self) -> Result<Vec<crate::model::kube::DiscoveredSite>, SourceError> {
        let mut client = self.client.lock().await;
        if client.is_none() {
            *client = Some(super::kube::connect(&self.config).await?);
        }
        let Some(c) = client.as_ref() else {
            return Err(SourceError::new("no Kubernetes client"));
        };
        let listed = tokio::time::timeout(
            DISCOVERY_TIMEOUT,
            super::kube::KubeSites::discover(c, &self.config),
        )
        .await;
        match listed {
            Ok(Ok(sites)) => Ok(sites),
            Ok(Err(e)) => {
                *client = None;
                Err(e.into())
            }
            Err(_) => {
                *client = None;
                Err(SourceError::new(format!(
                    "Kubernetes: no answer within {}s",
                    DISCOVERY_TIMEOUT.as_secs()
                )))
            }
        }
    }

    /// Merges the cluster's sites into the metrics' sites; on a failure the
    /// last list read is used and the report says why and how old it is.
    fn merge_into(
        &self,
        report: &mut EnvReport,
        listed: Result<Vec<crate::model::kube::DiscoveredSite>, SourceError>,
    ) {
        let now = SystemTime::now();
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
            report.warnings.push(format!(
                "{} site(s) in the metrics have no namespace in the cluster: {}",
                merged.not_in_cluster.len(),
                merged.not_in_cluster.join(", ")
            ));
        }
    }
}

pub struct EnvironmentSource {
    prometheus: PrometheusSource,
    loki: Option<LokiReports>,
    kube: Option<KubeDiscovery>,
}

impl EnvironmentSource {
    pub fn new(
        config: &Config,
        env: &EnvironmentConfig,
        secrets: &dyn SecretLookup,
    ) -> Result<EnvironmentSource, ConfigError> {
        Ok(EnvironmentSource {
            prometheus: PrometheusSource::new(config, env, secrets)?,
            loki: LokiReports::new(config, env, secrets)?,
            kube: env.kube.clone().map(|config| KubeDiscovery {
                config,
                client: tokio::sync::Mutex::new(None),
                last_good: std::sync::Mutex::new(None),
            }),
        })
    }

    pub fn prometheus(&self) -> &PrometheusSource {
        &self.prometheus
    }

    pub fn loki(&self) -> Option<&LokiReports> {
        self.loki.as_ref()
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
            let (report, listed) = tokio::join!(self.prometheus.fetch_fleet(), discovery);
            let mut report = report?;
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
        self.prometheus.fetch_site(site)
    }

    fn fetch_history<'a>(
        &'a self,
        site: &'a str,
        requirement: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<History, SourceError>> {
        self.prometheus.fetch_history(site, requirement, window)
    }

    fn fetch_timeline(&self) -> BoxFuture<'_, Result<Timeline, SourceError>> {
        self.prometheus.fetch_timeline()
    }

    fn fetch_rollout<'a>(
        &'a self,
        profile: &'a str,
    ) -> BoxFuture<'a, Result<Rollout, SourceError>> {
        self.prometheus.fetch_rollout(profile)
    }

    fn fetch_reports<'a>(
        &'a self,
        site: &'a str,
        count: usize,
    ) -> BoxFuture<'a, Result<Reports, SourceError>> {
        match &self.loki {
            Some(loki) => Box::pin(loki.recent(site, count)),
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
