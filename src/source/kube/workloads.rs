//! One site's namespace for the Kubernetes pane: Deployments and
//! StatefulSets with their rollout, the pods that are not ready and why,
//! restart counts, and the latest Warning events.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    ContainerStatus, Event, Pod, PodSpec, PodStatus, PodTemplateSpec,
};
use kube::Client;
use kube::api::{Api, ListParams};

use super::error::{Attempt, KubeError};
use super::list_all;
use crate::model::kube::{newest_events_first, sort_pods_worst_first};
use crate::model::text::{MAX_FIELD_CHARS, MAX_NAME_CHARS, clean_line};
use crate::model::{
    PodInfo, PodProblem, PodReason, SiteWorkloads, WarningEvent, Workload, WorkloadKind,
};

/// Warning events kept for the pane.
pub const MAX_WARNING_EVENTS: usize = 20;
/// Objects read from one namespace per kind; a site has a handful.
const MAX_OBJECTS: usize = 5_000;
/// Image references with a registry, a path and a digest are long.
const MAX_IMAGE_CHARS: usize = 512;

/// The namespace's workloads, pods and latest Warning events, with the
/// default number of events.
pub async fn site_workloads(client: &Client, namespace: &str) -> Result<SiteWorkloads, KubeError> {
    site_workloads_with_events(client, namespace, MAX_WARNING_EVENTS).await
}

/// Four lists, asked at once: Deployments, StatefulSets, pods, and events
/// of `type=Warning`. Any of the first three failing fails the whole; the
/// events failing leaves them out with a notice, so a role without
/// `events` still shows the pods.
pub async fn site_workloads_with_events(
    client: &Client,
    namespace: &str,
    max_events: usize,
) -> Result<SiteWorkloads, KubeError> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let ns = Some(namespace);
    let list_deployments = Attempt::list("deployments", "apps", ns);
    let list_stateful_sets = Attempt::list("statefulsets", "apps", ns);
    let list_pods = Attempt::list("pods", "", ns);
    let list_events = Attempt::list("events", "", ns);
    let (deployments, stateful_sets, pods, events) = futures::join!(
        list_all(
            &deployments,
            ListParams::default(),
            &list_deployments,
            MAX_OBJECTS
        ),
        list_all(
            &stateful_sets,
            ListParams::default(),
            &list_stateful_sets,
            MAX_OBJECTS
        ),
        list_all(&pods, ListParams::default(), &list_pods, MAX_OBJECTS),
        list_all(
            &events,
            ListParams::default().fields("type=Warning"),
            &list_events,
            MAX_OBJECTS,
        ),
    );
    let (deployments, stateful_sets, pods) = (deployments?, stateful_sets?, pods?);

    let mut workloads: Vec<Workload> = deployments
        .iter()
        .map(deployment_workload)
        .chain(stateful_sets.iter().map(stateful_set_workload))
        .collect();
    workloads.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.name.cmp(&b.name)));

    let mut pods: Vec<PodInfo> = pods.iter().filter_map(pod_info).collect();
    sort_pods_worst_first(&mut pods);

    let mut notices = Vec::new();
    let (events, events_total) = match events {
        Ok(list) => {
            let total = list.len();
            let mut events: Vec<WarningEvent> = list.iter().map(warning_event).collect();
            newest_events_first(&mut events, max_events);
            (events, total)
        }
        Err(e) => {
            notices.push(format!("no events: {e}"));
            (Vec::new(), 0)
        }
    };
    Ok(SiteWorkloads {
        namespace: clean_line(namespace, MAX_NAME_CHARS),
        workloads,
        pods,
        events,
        events_total,
        notices,
    })
}

fn name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    clean_line(meta.name.as_deref().unwrap_or(""), MAX_NAME_CHARS)
}

fn images(template: Option<&PodTemplateSpec>) -> Vec<String> {
    template
        .and_then(|t| t.spec.as_ref())
        .map(|spec| {
            spec.containers
                .iter()
                .filter_map(|c| c.image.as_deref())
                .map(|i| clean_line(i, MAX_IMAGE_CHARS))
                .collect()
        })
        .unwrap_or_default()
}

fn spec_pending(generation: Option<i64>, observed: Option<i64>) -> bool {
    match (generation, observed) {
        (Some(g), Some(o)) => o < g,
        (Some(_), None) => true,
        _ => false,
    }
}

/// A Deployment's rollout from its status. `stalled` is set when the
/// Progressing condition is False (`ProgressDeadlineExceeded`) or a
/// ReplicaFailure condition is True.
pub fn deployment_workload(d: &Deployment) -> Workload {
    let spec = d.spec.as_ref();
    let status = d.status.clone().unwrap_or_default();
    let stalled = status.conditions.iter().flatten().find_map(|c| {
        let failed = (c.type_ == "Progressing" && c.status == "False")
            || (c.type_ == "ReplicaFailure" && c.status == "True");
        failed.then(|| condition_text(c.reason.as_deref(), c.message.as_deref(), &c.type_))
    });
    Workload {
        kind: WorkloadKind::Deployment,
        name: name(&d.metadata),
        desired: spec.and_then(|s| s.replicas).unwrap_or(1),
        current: status.replicas.unwrap_or(0),
        updated: status.updated_replicas.unwrap_or(0),
        ready: status.ready_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
        images: images(spec.map(|s| &s.template)),
        spec_pending: spec_pending(d.metadata.generation, status.observed_generation),
        revision_pending: false,
        paused: spec.and_then(|s| s.paused).unwrap_or(false),
        stalled,
    }
}

/// A StatefulSet's rollout: its pods are rolled one at a time, and the
/// rollout is done when every pod is at the update revision.
pub fn stateful_set_workload(s: &StatefulSet) -> Workload {
    let spec = s.spec.as_ref();
    let status = s.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let revision_pending = match (&status.current_revision, &status.update_revision) {
        (Some(current), Some(update)) => current != update,
        _ => false,
    };
    Workload {
        kind: WorkloadKind::StatefulSet,
        name: name(&s.metadata),
        desired: spec.and_then(|s| s.replicas).unwrap_or(1),
        current: status.replicas,
        updated: status.updated_replicas.unwrap_or(0),
        ready,
        available: status.available_replicas.unwrap_or(ready),
        images: images(spec.map(|s| &s.template)),
        spec_pending: spec_pending(s.metadata.generation, status.observed_generation),
        revision_pending,
        paused: false,
        stalled: None,
    }
}

fn condition_text(reason: Option<&str>, message: Option<&str>, fallback: &str) -> String {
    let text = match (reason, message) {
        (Some(r), Some(m)) if !m.is_empty() => format!("{r}: {m}"),
        (Some(r), _) => r.to_string(),
        (None, Some(m)) => m.to_string(),
        (None, None) => fallback.to_string(),
    };
    clean_line(&text, MAX_FIELD_CHARS)
}

/// One pod: ready or not, why not, its restarts. `None` for a pod whose
/// work is done (`Succeeded`, as a cron Job's pods are).
pub fn pod_info(pod: &Pod) -> Option<PodInfo> {
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.clone().unwrap_or_else(|| "Unknown".into());
    if phase == "Succeeded" {
        return None;
    }
    let ready = condition(&status, "Ready").is_some_and(|c| c.status == "True");
    let all: Vec<&ContainerStatus> = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .collect();
    let restarts = all
        .iter()
        .map(|c| u32::try_from(c.restart_count).unwrap_or(0))
        .sum();
    let last_termination = all
        .iter()
        .filter_map(|c| c.last_state.as_ref()?.terminated.as_ref())
        .max_by_key(|t| t.finished_at.as_ref().map(|f| f.0.as_millisecond()))
        .map(|t| {
            let reason = t.reason.as_deref().unwrap_or("Terminated");
            clean_line(&format!("{reason} (exit {})", t.exit_code), MAX_NAME_CHARS)
        });
    let problem = (!ready).then(|| pod_problem(&status, &phase, &all, pod.spec.as_ref()));
    Some(PodInfo {
        name: name(&pod.metadata),
        phase: clean_line(&phase, MAX_NAME_CHARS),
        ready,
        restarts,
        last_termination,
        problem,
    })
}

fn condition<'a>(
    status: &'a PodStatus,
    kind: &str,
) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    status.conditions.iter().flatten().find(|c| c.type_ == kind)
}

/// Why a pod that is not ready is not: not scheduled (the scheduler's
/// message), else the most telling reason among its containers, else the
/// pod's own reason (`Evicted`), else a failing readiness probe.
fn pod_problem(
    status: &PodStatus,
    phase: &str,
    containers: &[&ContainerStatus],
    spec: Option<&PodSpec>,
) -> PodProblem {
    if phase == "Pending"
        && let Some(c) = condition(status, "PodScheduled")
        && c.status == "False"
    {
        return PodProblem {
            reason: PodReason::Pending,
            container: None,
            message: condition_message(c.message.as_deref(), c.reason.as_deref(), "not scheduled"),
            image: None,
        };
    }
    if let Some(worst) = containers
        .iter()
        .filter_map(|c| container_problem(c, spec))
        .min_by(|a, b| a.reason.cmp(&b.reason))
    {
        return worst;
    }
    if let Some(reason) = status.reason.as_deref().filter(|r| !r.is_empty()) {
        return PodProblem {
            reason: PodReason::Terminated(clean_line(reason, MAX_NAME_CHARS)),
            container: None,
            message: clean_line(status.message.as_deref().unwrap_or(""), MAX_FIELD_CHARS),
            image: None,
        };
    }
    let ready = condition(status, "Ready");
    let reason = match phase {
        "Pending" => PodReason::Waiting("Pending".into()),
        "Failed" => PodReason::Terminated("Failed".into()),
        "Unknown" => PodReason::Waiting("Unknown".into()),
        _ => PodReason::NotReady,
    };
    PodProblem {
        reason,
        container: None,
        message: condition_message(
            ready.and_then(|c| c.message.as_deref()),
            ready.and_then(|c| c.reason.as_deref()),
            "",
        ),
        image: None,
    }
}

fn condition_message(message: Option<&str>, reason: Option<&str>, fallback: &str) -> String {
    let text = message
        .filter(|m| !m.is_empty())
        .or(reason.filter(|r| !r.is_empty()))
        .unwrap_or(fallback);
    clean_line(text, MAX_FIELD_CHARS)
}

const IMAGE_PULL_REASONS: [&str; 4] = [
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
];

/// What is wrong with one container, if anything. A container killed for
/// memory is `OomKilled` whether it now waits in CrashLoopBackOff or is
/// running again: that is the cause an operator acts on.
fn container_problem(c: &ContainerStatus, spec: Option<&PodSpec>) -> Option<PodProblem> {
    let container = Some(clean_line(&c.name, MAX_NAME_CHARS));
    let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let last_oom = last.is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"));
    let state = c.state.as_ref();
    let oom = |context: &str| {
        let limit = memory_limit(spec, &c.name)
            .map(|l| format!(" (memory limit {l})"))
            .unwrap_or_default();
        PodProblem {
            reason: PodReason::OomKilled,
            container: container.clone(),
            message: clean_line(
                &format!("killed for using more memory than its limit{limit}; {context}"),
                MAX_FIELD_CHARS,
            ),
            image: None,
        }
    };
    if let Some(waiting) = state.and_then(|s| s.waiting.as_ref()) {
        let reason = waiting.reason.as_deref().unwrap_or("Waiting");
        let message = clean_line(waiting.message.as_deref().unwrap_or(""), MAX_FIELD_CHARS);
        if reason == "CrashLoopBackOff" {
            if last_oom {
                return Some(oom(&format!("CrashLoopBackOff: {message}")));
            }
            let exit = last
                .map(|t| {
                    format!(
                        "last exit: {} (exit {})",
                        t.reason.as_deref().unwrap_or("Error"),
                        t.exit_code
                    )
                })
                .unwrap_or_default();
            let text = [exit.as_str(), message.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            return Some(PodProblem {
                reason: PodReason::CrashLoopBackOff,
                container,
                message: clean_line(&text, MAX_FIELD_CHARS),
                image: None,
            });
        }
        if IMAGE_PULL_REASONS.contains(&reason) {
            return Some(PodProblem {
                reason: PodReason::ImagePullBackOff,
                container,
                message: if reason == "ImagePullBackOff" || message.is_empty() {
                    message
                } else {
                    clean_line(&format!("{reason}: {message}"), MAX_FIELD_CHARS)
                },
                image: Some(clean_line(&c.image, MAX_IMAGE_CHARS)),
            });
        }
        return Some(PodProblem {
            reason: PodReason::Waiting(clean_line(reason, MAX_NAME_CHARS)),
            container,
            message,
            image: None,
        });
    }
    if let Some(t) = state.and_then(|s| s.terminated.as_ref())
        && t.exit_code != 0
    {
        if t.reason.as_deref() == Some("OOMKilled") {
            return Some(oom(&format!("exit {}", t.exit_code)));
        }
        let reason = t.reason.as_deref().unwrap_or("Error");
        return Some(PodProblem {
            reason: PodReason::Terminated(clean_line(reason, MAX_NAME_CHARS)),
            container,
            message: clean_line(
                &format!(
                    "exit {} {}",
                    t.exit_code,
                    t.message.as_deref().unwrap_or("")
                ),
                MAX_FIELD_CHARS,
            )
            .trim_end()
            .to_string(),
            image: None,
        });
    }
    let running = state.is_some_and(|s| s.running.is_some());
    if running && !c.ready && last_oom {
        return Some(oom("restarted, not ready yet"));
    }
    if running && !c.ready {
        return Some(PodProblem {
            reason: PodReason::NotReady,
            container,
            message: "running, readiness probe failing".into(),
            image: None,
        });
    }
    None
}

/// The container's memory limit as written (`256Mi`), if it has one.
fn memory_limit(spec: Option<&PodSpec>, container: &str) -> Option<String> {
    let spec = spec?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == container)?
        .resources
        .as_ref()?
        .limits
        .as_ref()?
        .get("memory")
        .map(|q| clean_line(&q.0, MAX_NAME_CHARS))
}

/// One Warning event. Its time is the latest one it carries: the series'
/// last observation, `lastTimestamp`, `eventTime`, `firstTimestamp`, then
/// the object's creation.
pub fn warning_event(e: &Event) -> WarningEvent {
    let millis = e
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| t.0.as_millisecond())
        .or_else(|| e.last_timestamp.as_ref().map(|t| t.0.as_millisecond()))
        .or_else(|| e.event_time.as_ref().map(|t| t.0.as_millisecond()))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0.as_millisecond()))
        .or_else(|| {
            e.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.as_millisecond())
        });
    let object = &e.involved_object;
    let object = match (object.kind.as_deref(), object.name.as_deref()) {
        (Some(kind), Some(name)) => format!("{kind}/{name}"),
        (None, Some(name)) => name.to_string(),
        (Some(kind), None) => kind.to_string(),
        (None, None) => String::new(),
    };
    let count = e
        .series
        .as_ref()
        .and_then(|s| s.count)
        .or(e.count)
        .unwrap_or(1)
        .max(1);
    WarningEvent {
        time: millis.map(|ms| ms as f64 / 1000.0),
        reason: clean_line(e.reason.as_deref().unwrap_or(""), MAX_NAME_CHARS),
        object: clean_line(&object, MAX_NAME_CHARS),
        message: clean_line(e.message.as_deref().unwrap_or(""), MAX_FIELD_CHARS),
        count: u32::try_from(count).unwrap_or(1),
    }
}
