//! An environment's cluster as the dashboard keeps it between polls: one
//! client (made again after a failure), the last list of site namespaces
//! read (kept, and said to be stale, when a list fails), and the watches of
//! the site namespaces and of the open site's namespace, retried with a
//! growing pause. Every request is bounded by `KUBE_TIMEOUT`: the grid
//! never waits on Kubernetes.

use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;

use crate::config::KubeConfig;
use crate::model::SiteWorkloads;
use crate::model::kube::{DiscoveredSite, merge_discovered};
use crate::source::{EnvReport, SourceError};

/// The environment's cluster, for the list of sites that exist.
pub struct KubeDiscovery {
    config: KubeConfig,
    /// Made on first use and again after a failure (expired credentials
    /// may have been renewed).
    client: tokio::sync::Mutex<Option<kube::Client>>,
    /// The last list that was read, and when: on a failure the grid keeps
    /// it, and says how old it is.
    last_good: std::sync::Mutex<Option<(Vec<DiscoveredSite>, SystemTime)>>,
    /// Why the open pane's watch last failed, said in the pane until a
    /// watch starts again.
    watch_failure: std::sync::Mutex<Option<String>>,
}

/// A cluster slower than this to answer is reported, not waited for: the
/// grid never waits on Kubernetes.
const KUBE_TIMEOUT: Duration = Duration::from_secs(8);
/// A failed watch is tried again after this, doubling up to the max.
const WATCH_RETRY_FIRST: Duration = Duration::from_secs(5);
const WATCH_RETRY_MAX: Duration = Duration::from_secs(120);

fn no_answer() -> SourceError {
    SourceError::new(format!(
        "Kubernetes: no answer within {}s",
        KUBE_TIMEOUT.as_secs()
    ))
}

impl KubeDiscovery {
    /// The cluster's settings, for messages.
    pub fn config(&self) -> &KubeConfig {
        &self.config
    }

    pub fn new(config: KubeConfig) -> KubeDiscovery {
        KubeDiscovery {
            config,
            client: tokio::sync::Mutex::new(None),
            last_good: std::sync::Mutex::new(None),
            watch_failure: std::sync::Mutex::new(None),
        }
    }

    /// The client, made now if there is none.
    pub(crate) async fn client(&self) -> Result<kube::Client, SourceError> {
        let mut client = self.client.lock().await;
        if let Some(c) = client.as_ref() {
            return Ok(c.clone());
        }
        let made = super::connect(&self.config).await?;
        *client = Some(made.clone());
        Ok(made)
    }

    /// Forgets the client after a failure: expired credentials may have
    /// been renewed, a context switched.
    async fn drop_client(&self) {
        *self.client.lock().await = None;
    }

    pub(crate) async fn discover(&self) -> Result<Vec<DiscoveredSite>, SourceError> {
        let client = self.client().await?;
        let listed = tokio::time::timeout(
            KUBE_TIMEOUT,
            super::KubeSites::discover(&client, &self.config),
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

    pub(crate) async fn workloads(&self, site: &str) -> Result<SiteWorkloads, SourceError> {
        let namespace = self.namespace_of(site).await?;
        let client = self.client().await?;
        let read =
            tokio::time::timeout(KUBE_TIMEOUT, super::site_workloads(&client, &namespace)).await;
        let mut workloads = match read {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => {
                if !matches!(e, super::KubeError::Forbidden { .. }) {
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

    /// Asks the site's status agent for a run now, through the API
    /// server's service proxy, and waits for its report (at most
    /// [`super::RUN_WAIT`]).
    pub(crate) async fn run_report(&self, site: &str) -> Result<crate::model::Report, SourceError> {
        let namespace = self.namespace_of(site).await?;
        let client = self.client().await?;
        let address = super::AgentAddress {
            namespace: &namespace,
            service: &self.config.agent_service.0,
            port: &self.config.agent_port.0,
        };
        match tokio::time::timeout(super::RUN_WAIT, super::run_agent_report(&client, address)).await
        {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => {
                if matches!(
                    e,
                    super::KubeError::Unreachable { .. } | super::KubeError::Credentials { .. }
                ) {
                    self.drop_client().await;
                }
                Err(e.into())
            }
            Err(_) => Err(SourceError::new(format!(
                "the agent in {namespace} sent no report within {} min; the run goes on, \
                 and its report will reach the metrics",
                super::RUN_WAIT.as_secs() / 60
            ))),
        }
    }

    /// Watches the site's namespace for as long as the pane is open; a
    /// failed watch is said in the pane (it is then only polled) and tried
    /// again after a while.
    pub(crate) async fn follow(&self, site: &str, changed: &Notify) {
        let mut gap = WATCH_RETRY_FIRST;
        loop {
            let started = Instant::now();
            let failure = match self.namespace_of(site).await {
                Ok(namespace) => match self.client().await {
                    Ok(client) => {
                        self.set_watch_failure(None);
                        super::follow_namespace(&client, &namespace, changed)
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
    pub(crate) async fn follow_namespaces(&self, changed: &Notify) {
        let mut gap = WATCH_RETRY_FIRST;
        loop {
            let started = Instant::now();
            if let Ok(client) = self.client().await {
                super::follow_site_namespaces(&client, &self.config.namespace_selector.0, changed)
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
    pub(crate) fn merge_into(
        &self,
        report: &mut EnvReport,
        listed: Result<Vec<DiscoveredSite>, SourceError>,
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
        let merged = merge_discovered(std::mem::take(&mut report.sites), &discovered);
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
