//! What Kubernetes knows about the sites: which exist (their namespaces) and
//! why one is failing right now (its workloads, pods and Warning events).
//!
//! Pure data and pure functions. Every string here came from a cluster and
//! was sanitized by the source (`source::kube`) before it got here.

use std::collections::{BTreeMap, HashSet};

use super::site::SiteSummary;

/// The profile of a site whose profile neither the metrics nor the
/// namespace tell (the same words the Prometheus source uses).
pub const NO_PROFILE: &str = "(no profile)";

/// One site namespace found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredSite {
    pub namespace: String,
    /// From the configured `site_label`; the namespace's name when that is
    /// not configured or the namespace lacks the label.
    pub site: String,
    /// From the configured `profile_label`, when configured and present.
    pub profile: Option<String>,
}

/// The grid's sites once the cluster's namespaces are merged in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergedSites {
    /// Every site, by name: the metrics' sites as they were (a missing
    /// profile taken from the namespace), and each site namespace without
    /// metrics as a site with no data (`worst: None`), so the grid shows it
    /// as *no data*.
    pub sites: Vec<SiteSummary>,
    /// Sites found in the cluster that have no status metrics at all: their
    /// status workload is missing or dead. Sorted.
    pub without_metrics: Vec<String>,
    /// Sites in the metrics that no site namespace claims (deleted, or not
    /// matched by `namespace_selector`): to be flagged. Sorted.
    pub not_in_cluster: Vec<String>,
    /// Site names claimed by more than one namespace, with the namespaces;
    /// the first namespace (by name) is the one used.
    pub duplicates: Vec<(String, Vec<String>)>,
}

/// Merges one environment's metrics with the site namespaces found in its
/// cluster. The metrics stay the truth about a site's state; the cluster
/// adds the sites the metrics do not know and tells which metric sites it
/// does not know: those get `SiteSummary::not_in_cluster`, and are listed
/// in `not_in_cluster` as well.
pub fn merge_discovered(
    metrics_sites: Vec<SiteSummary>,
    discovered: &[DiscoveredSite],
) -> MergedSites {
    let mut by_site: BTreeMap<&str, Vec<&DiscoveredSite>> = BTreeMap::new();
    for d in discovered {
        by_site.entry(d.site.as_str()).or_default().push(d);
    }
    let mut duplicates = Vec::new();
    for (site, claims) in &mut by_site {
        claims.sort_by(|a, b| a.namespace.cmp(&b.namespace));
        if claims.len() > 1 {
            duplicates.push((
                site.to_string(),
                claims.iter().map(|d| d.namespace.clone()).collect(),
            ));
        }
    }

    let mut seen: HashSet<String> = HashSet::with_capacity(metrics_sites.len());
    let mut not_in_cluster = Vec::new();
    let mut sites = Vec::with_capacity(metrics_sites.len().max(by_site.len()));
    for mut summary in metrics_sites {
        match by_site.get(summary.name.as_str()) {
            Some(claims) => {
                if (summary.profile.is_empty() || summary.profile == NO_PROFILE)
                    && let Some(profile) = &claims[0].profile
                {
                    summary.profile = profile.clone();
                }
            }
            None => {
                summary.not_in_cluster = true;
                not_in_cluster.push(summary.name.clone());
            }
        }
        seen.insert(summary.name.clone());
        sites.push(summary);
    }
    let mut without_metrics = Vec::new();
    for (site, claims) in &by_site {
        if seen.contains(*site) {
            continue;
        }
        let profile = claims[0].profile.as_deref().unwrap_or(NO_PROFILE);
        sites.push(SiteSummary::new(*site, profile));
        without_metrics.push(site.to_string());
    }
    sites.sort_by(|a, b| a.name.cmp(&b.name));
    not_in_cluster.sort();
    not_in_cluster.dedup();
    MergedSites {
        sites,
        without_metrics,
        not_in_cluster,
        duplicates,
    }
}

/// A site's namespace as the Kubernetes pane shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteWorkloads {
    pub namespace: String,
    /// Deployments, then StatefulSets, each by name.
    pub workloads: Vec<Workload>,
    /// Pods that are not ready first (worst reason first), then the rest by
    /// name. Pods of finished Jobs (`Succeeded`) are left out.
    pub pods: Vec<PodInfo>,
    /// The latest Warning events, newest first, at most the number asked.
    pub events: Vec<WarningEvent>,
    /// How many Warning events the namespace had in all.
    pub events_total: usize,
    /// What could not be read without failing the whole (the events, when
    /// the role may not list them).
    pub notices: Vec<String>,
}

impl SiteWorkloads {
    /// The pods that are not ready, worst first.
    pub fn not_ready(&self) -> impl Iterator<Item = &PodInfo> {
        self.pods.iter().filter(|p| !p.ready)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
}

impl WorkloadKind {
    pub fn label(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        }
    }
}

/// A Deployment's or StatefulSet's rollout, as its status counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
    /// `spec.replicas` (Kubernetes' default 1 when unset).
    pub desired: i32,
    /// `status.replicas`: pods that exist, old and new.
    pub current: i32,
    /// Pods at the newest template.
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    /// The images of the pod template, i.e. what the rollout is rolling to.
    pub images: Vec<String>,
    /// The controller has not yet acted on the newest spec
    /// (`metadata.generation` > `status.observedGeneration`).
    pub spec_pending: bool,
    /// A StatefulSet whose pods are not all at the update revision yet.
    pub revision_pending: bool,
    pub paused: bool,
    /// Why the rollout stopped, when Kubernetes says it did
    /// (`ProgressDeadlineExceeded`, a `ReplicaFailure`).
    pub stalled: Option<String>,
}

/// Where a workload's rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RolloutState {
    /// Every desired pod is updated and available, no old pod is left.
    Complete,
    /// New pods are coming or old ones are going.
    InProgress,
    /// Paused by an operator (`kubectl rollout pause`).
    Paused,
    /// Rolled out, but fewer pods are available than desired.
    Degraded,
    /// Kubernetes gave up: the progress deadline passed or pods cannot be
    /// created.
    Stalled,
}

impl RolloutState {
    pub fn label(self) -> &'static str {
        match self {
            RolloutState::Complete => "complete",
            RolloutState::InProgress => "rolling out",
            RolloutState::Paused => "paused",
            RolloutState::Degraded => "degraded",
            RolloutState::Stalled => "stalled",
        }
    }
}

impl Workload {
    pub fn rollout(&self) -> RolloutState {
        if self.stalled.is_some() {
            return RolloutState::Stalled;
        }
        let moving = self.spec_pending
            || self.revision_pending
            || self.updated < self.desired
            || self.current > self.updated;
        if moving && self.paused {
            return RolloutState::Paused;
        }
        if moving {
            return RolloutState::InProgress;
        }
        if self.available < self.desired || self.ready < self.desired {
            return RolloutState::Degraded;
        }
        RolloutState::Complete
    }
}

/// Why a pod is not ready, worst (most telling) first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PodReason {
    /// A container was killed for using more memory than its limit, and is
    /// now restarting (or in CrashLoopBackOff because of it).
    OomKilled,
    /// A container keeps exiting and Kubernetes waits before restarting it.
    CrashLoopBackOff,
    /// The image cannot be pulled (`ImagePullBackOff`, `ErrImagePull`,
    /// `InvalidImageName`).
    ImagePullBackOff,
    /// Not scheduled; the message is the scheduler's (`0/3 nodes are
    /// available: 3 Insufficient memory.`).
    Pending,
    /// Another reason a container waits (`CreateContainerConfigError`,
    /// `ContainerCreating`).
    Waiting(String),
    /// A container or the pod ended (`Error`, `Evicted`).
    Terminated(String),
    /// Running, but the readiness probe fails.
    NotReady,
}

impl PodReason {
    pub fn label(&self) -> &str {
        match self {
            PodReason::OomKilled => "OOMKilled",
            PodReason::CrashLoopBackOff => "CrashLoopBackOff",
            PodReason::ImagePullBackOff => "ImagePullBackOff",
            PodReason::Pending => "Pending",
            PodReason::Waiting(r) | PodReason::Terminated(r) => r,
            PodReason::NotReady => "NotReady",
        }
    }
}

/// Why one pod is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodProblem {
    pub reason: PodReason,
    /// The container the reason is about; `None` for the pod as a whole.
    pub container: Option<String>,
    /// Kubernetes' own words (the scheduler's message, the kubelet's
    /// back-off message, the probe's failure).
    pub message: String,
    /// The image, for a pull that fails.
    pub image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    pub name: String,
    /// `Pending`, `Running`, `Failed`, `Unknown`.
    pub phase: String,
    pub ready: bool,
    /// Restarts of all its containers (init containers included).
    pub restarts: u32,
    /// How a container last ended before its latest restart, e.g.
    /// `OOMKilled (exit 137)`; also for a pod that is ready again.
    pub last_termination: Option<String>,
    /// Set when the pod is not ready.
    pub problem: Option<PodProblem>,
}

/// A `type: Warning` event of the namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct WarningEvent {
    /// Unix seconds of the latest occurrence; `None` when the event carries
    /// no time at all.
    pub time: Option<f64>,
    /// `BackOff`, `FailedScheduling`, `Unhealthy`.
    pub reason: String,
    /// What it is about, `Kind/name` (`Pod/php-7d9c-x2x`).
    pub object: String,
    pub message: String,
    /// How often it happened (at least 1).
    pub count: u32,
}

/// Newest first (events without a time last), then at most `max`.
pub fn newest_events_first(events: &mut Vec<WarningEvent>, max: usize) {
    events.sort_by(|a, b| {
        let by_time = match (a.time, b.time) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_time
            .then_with(|| a.object.cmp(&b.object))
            .then_with(|| a.reason.cmp(&b.reason))
    });
    events.truncate(max);
}

/// Not ready first, worst reason first; then by name.
pub fn sort_pods_worst_first(pods: &mut [PodInfo]) {
    pods.sort_by(|a, b| {
        a.ready
            .cmp(&b.ready)
            .then_with(|| {
                let ra = a.problem.as_ref().map(|p| &p.reason);
                let rb = b.problem.as_ref().map(|p| &p.reason);
                match (ra, rb) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
            })
            .then_with(|| a.name.cmp(&b.name))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    fn found(namespace: &str, site: &str, profile: Option<&str>) -> DiscoveredSite {
        DiscoveredSite {
            namespace: namespace.into(),
            site: site.into(),
            profile: profile.map(Into::into),
        }
    }

    fn reporting(name: &str, profile: &str) -> SiteSummary {
        SiteSummary {
            worst: Some(Severity::Ok),
            ..SiteSummary::new(name, profile)
        }
    }

    #[test]
    fn a_namespace_without_metrics_is_a_site_without_data() {
        let merged = merge_discovered(
            vec![reporting("borger", "kk_borger")],
            &[
                found("site-borger", "borger", Some("kk_borger")),
                found("site-kultur", "kultur", Some("kk_kultur")),
                found("site-plain", "plain", None),
            ],
        );
        let names: Vec<_> = merged.sites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["borger", "kultur", "plain"]);
        assert_eq!(merged.sites[0].worst, Some(Severity::Ok));
        assert_eq!(merged.sites[1], SiteSummary::new("kultur", "kk_kultur"));
        assert_eq!(merged.sites[2].profile, NO_PROFILE);
        assert_eq!(merged.without_metrics, ["kultur", "plain"]);
        assert!(merged.not_in_cluster.is_empty());
    }

    #[test]
    fn a_metrics_site_without_a_namespace_is_flagged_and_kept() {
        let merged = merge_discovered(
            vec![
                reporting("gone", "kk_borger"),
                reporting("borger", NO_PROFILE),
            ],
            &[found("site-borger", "borger", Some("kk_borger"))],
        );
        assert_eq!(merged.not_in_cluster, ["gone"]);
        assert_eq!(merged.sites.len(), 2);
        assert!(merged.sites[1].not_in_cluster, "the cell carries the flag");
        assert!(!merged.sites[0].not_in_cluster);
        // The namespace's profile fills in where the metrics had none.
        assert_eq!(merged.sites[0].name, "borger");
        assert_eq!(merged.sites[0].profile, "kk_borger");
        assert_eq!(merged.sites[1].profile, "kk_borger");
    }

    #[test]
    fn the_metrics_profile_wins_and_duplicates_are_reported() {
        let merged = merge_discovered(
            vec![reporting("borger", "kk_borger")],
            &[
                found("b-2", "borger", Some("other")),
                found("b-1", "borger", Some("other")),
            ],
        );
        assert_eq!(merged.sites.len(), 1);
        assert_eq!(merged.sites[0].profile, "kk_borger");
        assert_eq!(
            merged.duplicates,
            [(
                "borger".to_string(),
                vec!["b-1".to_string(), "b-2".to_string()]
            )]
        );
    }

    fn workload(desired: i32, current: i32, updated: i32, ready: i32) -> Workload {
        Workload {
            kind: WorkloadKind::Deployment,
            name: "php".into(),
            desired,
            current,
            updated,
            ready,
            available: ready,
            images: vec![],
            spec_pending: false,
            revision_pending: false,
            paused: false,
            stalled: None,
        }
    }

    #[test]
    fn rollout_state_follows_the_counts() {
        assert_eq!(workload(3, 3, 3, 3).rollout(), RolloutState::Complete);
        assert_eq!(workload(3, 4, 1, 3).rollout(), RolloutState::InProgress);
        assert_eq!(workload(3, 3, 3, 2).rollout(), RolloutState::Degraded);
        assert_eq!(workload(0, 0, 0, 0).rollout(), RolloutState::Complete);
        let mut w = workload(3, 3, 3, 3);
        w.spec_pending = true;
        assert_eq!(w.rollout(), RolloutState::InProgress);
        w.paused = true;
        assert_eq!(w.rollout(), RolloutState::Paused);
        w.stalled = Some("ProgressDeadlineExceeded".into());
        assert_eq!(w.rollout(), RolloutState::Stalled);
    }

    #[test]
    fn events_are_newest_first_and_bounded() {
        let ev = |t: Option<f64>, r: &str| WarningEvent {
            time: t,
            reason: r.into(),
            object: "Pod/x".into(),
            message: String::new(),
            count: 1,
        };
        let mut events = vec![
            ev(Some(10.0), "a"),
            ev(None, "none"),
            ev(Some(30.0), "c"),
            ev(Some(20.0), "b"),
        ];
        newest_events_first(&mut events, 3);
        let reasons: Vec<_> = events.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(reasons, ["c", "b", "a"]);
    }
}
