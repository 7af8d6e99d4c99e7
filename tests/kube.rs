//! The Kubernetes source against a mock API server: kube's own test pattern,
//! a `tower_test` mock service in place of the cluster, answering each
//! request (whose path and query string are checked) with JSON written
//! here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use kube::client::Body;
use serde_json::{Value, json};
use site_status::config::{AgentService, KubeConfig, LabelKey, LabelSelector};
use site_status::model::{
    DiscoveredSite, PodReason, RolloutState, Severity, SiteSummary, WorkloadKind, merge_discovered,
};
use site_status::source::SourceError;
use site_status::source::kube::{
    KubeError, KubeSites, connect_with_kubeconfig, follow_namespace, follow_site_namespaces,
    site_workloads, site_workloads_with_events,
};
use tower_test::mock;

type Handle = mock::Handle<Request<Body>, Response<Body>>;

/// Requests the mock server saw, `METHOD path?query`.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A client whose API server answers from `routes` (path and query string
/// → status and JSON body); a request not in `routes` fails the test.
fn cluster(routes: Vec<(&str, u16, Value)>) -> (kube::Client, Seen) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let seen = Seen::default();
    let routes: BTreeMap<String, (u16, Value)> = routes
        .into_iter()
        .map(|(uri, code, body)| (uri.to_string(), (code, body)))
        .collect();
    tokio::spawn(serve(handle, routes, seen.clone()));
    (kube::Client::new(service, "default"), seen)
}

async fn serve(mut handle: Handle, routes: BTreeMap<String, (u16, Value)>, seen: Seen) {
    while let Some((request, send)) = handle.next_request().await {
        let uri = normalize(&request.uri().to_string());
        seen.0
            .lock()
            .unwrap()
            .push(format!("{} {uri}", request.method()));
        let (code, body) = routes.get(&uri).cloned().unwrap_or_else(|| {
            (
                599,
                json!({"kind": "Status", "message": format!("the test did not expect {uri}")}),
            )
        });
        let response = Response::builder()
            .status(code)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        send.send_response(response);
    }
}

/// The request's path and query string as the test writes them. kube
/// writes an empty first pair (`namespaces?&labelSelector=…`), which the
/// API server ignores; so does the test.
fn normalize(uri: &str) -> String {
    match uri.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
            if pairs.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", pairs.join("&"))
            }
        }
        None => uri.to_string(),
    }
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"resourceVersion": "4711"},
        "items": items,
    })
}

fn kube_config(site_label: Option<&str>, profile_label: Option<&str>) -> KubeConfig {
    KubeConfig {
        kubeconfig: None,
        context: None,
        namespace_selector: LabelSelector("sitefactory.dk/type=site".into()),
        site_label: site_label.map(|l| LabelKey(l.into())),
        profile_label: profile_label.map(|l| LabelKey(l.into())),
        agent_service: AgentService("site-status-agent".into()),
        agent_port: AgentService("metrics".into()),
    }
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"metadata": {"name": name, "labels": labels}})
}

const NAMESPACES: &str = "/api/v1/namespaces?labelSelector=sitefactory.dk%2Ftype%3Dsite&limit=500";

fn site_namespaces() -> Value {
    list(
        "NamespaceList",
        vec![
            namespace(
                "site-kultur",
                json!({
                    "sitefactory.dk/type": "site",
                    "sitefactory.dk/site": "kultur",
                    "sitefactory.dk/profile": "kk_kultur",
                }),
            ),
            namespace(
                "site-borger",
                json!({
                    "sitefactory.dk/type": "site",
                    "sitefactory.dk/site": "borger",
                    "sitefactory.dk/profile": "kk_borger",
                }),
            ),
            // Neither label: the namespace's name, no profile.
            namespace("legacy-intranet", json!({"sitefactory.dk/type": "site"})),
            // A label value no API server would allow, as a hostile or
            // broken proxy might send it.
            namespace(
                "site-evil",
                json!({
                    "sitefactory.dk/type": "site",
                    "sitefactory.dk/site": "ev\u{1b}[2Jil\u{202e}",
                    "sitefactory.dk/profile": "  ",
                }),
            ),
        ],
    )
}

fn found(namespace: &str, site: &str, profile: Option<&str>) -> DiscoveredSite {
    DiscoveredSite {
        namespace: namespace.into(),
        site: site.into(),
        profile: profile.map(Into::into),
    }
}

#[tokio::test]
async fn discovery_lists_namespaces_by_label_selector_and_maps_the_labels() {
    let (client, seen) = cluster(vec![(NAMESPACES, 200, site_namespaces())]);
    let config = kube_config(Some("sitefactory.dk/site"), Some("sitefactory.dk/profile"));
    let sites = KubeSites::discover(&client, &config).await.unwrap();
    assert_eq!(seen.get(), [format!("GET {NAMESPACES}")]);
    assert_eq!(
        sites,
        [
            found("legacy-intranet", "legacy-intranet", None),
            found("site-borger", "borger", Some("kk_borger")),
            // Escape sequences and bidi overrides never reach the model; an
            // empty profile label is no profile.
            found("site-evil", "ev\u{FFFD}[2Jil", None),
            found("site-kultur", "kultur", Some("kk_kultur")),
        ]
    );
}

#[tokio::test]
async fn without_label_mapping_a_site_is_its_namespace() {
    let (client, _) = cluster(vec![(NAMESPACES, 200, site_namespaces())]);
    let sites = KubeSites::discover(&client, &kube_config(None, None))
        .await
        .unwrap();
    let names: Vec<(&str, &str, Option<&str>)> = sites
        .iter()
        .map(|s| (s.namespace.as_str(), s.site.as_str(), s.profile.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("legacy-intranet", "legacy-intranet", None),
            ("site-borger", "site-borger", None),
            ("site-evil", "site-evil", None),
            ("site-kultur", "site-kultur", None),
        ]
    );
}

#[tokio::test]
async fn a_long_namespace_list_is_read_page_by_page() {
    let mut first = list(
        "NamespaceList",
        vec![namespace("site-a", json!({"sitefactory.dk/type": "site"}))],
    );
    first["metadata"]["continue"] = json!("page+2");
    let second = list(
        "NamespaceList",
        vec![namespace("site-b", json!({"sitefactory.dk/type": "site"}))],
    );
    let page_two = format!("{NAMESPACES}&continue=page%2B2");
    let (client, seen) = cluster(vec![(NAMESPACES, 200, first), (&page_two, 200, second)]);
    let sites = KubeSites::discover(&client, &kube_config(None, None))
        .await
        .unwrap();
    assert_eq!(
        seen.get(),
        [format!("GET {NAMESPACES}"), format!("GET {page_two}")]
    );
    let names: Vec<_> = sites.iter().map(|s| s.site.as_str()).collect();
    assert_eq!(names, ["site-a", "site-b"]);
}

fn reporting(name: &str, profile: &str, worst: Severity) -> SiteSummary {
    SiteSummary {
        worst: Some(worst),
        run_success: Some(true),
        up: Some(true),
        ..SiteSummary::new(name, profile)
    }
}

#[tokio::test]
async fn discovered_sites_merge_with_the_metrics() {
    let (client, _) = cluster(vec![(NAMESPACES, 200, site_namespaces())]);
    let config = kube_config(Some("sitefactory.dk/site"), Some("sitefactory.dk/profile"));
    let discovered = KubeSites::discover(&client, &config).await.unwrap();
    let metrics = vec![
        reporting("borger", "kk_borger", Severity::Warning),
        // Deleted from the cluster, or outside the selector.
        reporting("gammel", "kk_borger", Severity::Ok),
    ];
    let merged = merge_discovered(metrics, &discovered);

    let now = 1_800_000_000.0;
    let stale = std::time::Duration::from_secs(1800);
    let states: Vec<(&str, &str, _)> = merged
        .sites
        .iter()
        .map(|s| (s.name.as_str(), s.profile.as_str(), s.state(now, stale)))
        .collect();
    use site_status::model::SiteState::*;
    assert_eq!(
        states,
        [
            ("borger", "kk_borger", Warning),
            ("ev\u{FFFD}[2Jil", "(no profile)", NoData),
            ("gammel", "kk_borger", Ok),
            ("kultur", "kk_kultur", NoData),
            ("legacy-intranet", "(no profile)", NoData),
        ]
    );
    // A namespace without metrics: a site without data, its status
    // workload missing or dead.
    assert_eq!(
        merged.without_metrics,
        ["ev\u{FFFD}[2Jil", "kultur", "legacy-intranet"]
    );
    let kultur = merged.sites.iter().find(|s| s.name == "kultur").unwrap();
    assert_eq!(kultur, &SiteSummary::new("kultur", "kk_kultur"));
    // Metrics without a namespace: flagged, on the site itself for its
    // grid cell, and listed.
    assert_eq!(merged.not_in_cluster, ["gammel"]);
    let flagged: Vec<&str> = merged
        .sites
        .iter()
        .filter(|s| s.not_in_cluster)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(flagged, ["gammel"]);
    assert!(merged.duplicates.is_empty());
}

const NS: &str = "site-borger";

fn routes_for(
    deployments: Vec<Value>,
    stateful_sets: Vec<Value>,
    pods: Vec<Value>,
    events: Vec<Value>,
) -> Vec<(&'static str, u16, Value)> {
    vec![
        (
            "/apis/apps/v1/namespaces/site-borger/deployments?limit=500",
            200,
            list("DeploymentList", deployments),
        ),
        (
            "/apis/apps/v1/namespaces/site-borger/statefulsets?limit=500",
            200,
            list("StatefulSetList", stateful_sets),
        ),
        (
            "/api/v1/namespaces/site-borger/pods?limit=500",
            200,
            list("PodList", pods),
        ),
        (
            "/api/v1/namespaces/site-borger/events?fieldSelector=type%3DWarning&limit=500",
            200,
            list("EventList", events),
        ),
    ]
}

fn template(images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": containers}})
}

fn deployment(name: &str, generation: i64, spec: Value, status: Value) -> Value {
    let mut spec = spec;
    spec["selector"] = json!({"matchLabels": {"app": "x"}});
    json!({
        "metadata": {"name": name, "namespace": NS, "generation": generation},
        "spec": spec,
        "status": status,
    })
}

#[tokio::test]
async fn rollout_state_of_deployments_and_stateful_sets() {
    let deployments = vec![
        // Mid-rollout: 2 of 3 at the new image, an old pod still there.
        deployment(
            "php",
            7,
            json!({"replicas": 3, "template": template(&["registry.kk.dk/borger/php:2.4.1", "nginx:1.27"])}),
            json!({"observedGeneration": 7, "replicas": 4, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3}),
        ),
        // Done.
        deployment(
            "cron",
            2,
            json!({"replicas": 1, "template": template(&["registry.kk.dk/borger/php:2.4.1"])}),
            json!({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}),
        ),
        // The controller has not seen the new spec yet.
        deployment(
            "varnish",
            5,
            json!({"template": template(&["varnish:7"])}),
            json!({"observedGeneration": 4, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}),
        ),
        // Given up.
        deployment(
            "solr-proxy",
            3,
            json!({"replicas": 2, "template": template(&["haproxy:3"])}),
            json!({
                "observedGeneration": 3, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2,
                "conditions": [
                    {"type": "Available", "status": "True"},
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                     "message": "ReplicaSet \"solr-proxy-5c9\" has timed out progressing."}
                ]
            }),
        ),
    ];
    let stateful_sets = vec![json!({
        "metadata": {"name": "mariadb", "namespace": NS, "generation": 4},
        "spec": {
            "replicas": 3,
            "serviceName": "mariadb",
            "selector": {"matchLabels": {"app": "x"}},
            "template": template(&["mariadb:11.4"]),
        },
        "status": {
            "observedGeneration": 4, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 1,
            "availableReplicas": 3, "currentRevision": "mariadb-6d", "updateRevision": "mariadb-7f",
        },
    })];
    let (client, seen) = cluster(routes_for(deployments, stateful_sets, vec![], vec![]));
    let site = site_workloads(&client, NS).await.unwrap();
    let mut requests = seen.get();
    requests.sort();
    assert_eq!(requests.len(), 4, "{requests:?}");

    let rows: Vec<(WorkloadKind, &str, RolloutState, [i32; 4])> = site
        .workloads
        .iter()
        .map(|w| {
            (
                w.kind,
                w.name.as_str(),
                w.rollout(),
                [w.desired, w.updated, w.ready, w.available],
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                WorkloadKind::Deployment,
                "cron",
                RolloutState::Complete,
                [1, 1, 1, 1]
            ),
            (
                WorkloadKind::Deployment,
                "php",
                RolloutState::InProgress,
                [3, 2, 3, 3]
            ),
            (
                WorkloadKind::Deployment,
                "solr-proxy",
                RolloutState::Stalled,
                [2, 1, 2, 2]
            ),
            (
                WorkloadKind::Deployment,
                "varnish",
                RolloutState::InProgress,
                [1, 1, 1, 1]
            ),
            (
                WorkloadKind::StatefulSet,
                "mariadb",
                RolloutState::InProgress,
                [3, 1, 3, 3]
            ),
        ]
    );
    let php = &site.workloads[1];
    assert_eq!(php.current, 4);
    assert_eq!(
        php.images,
        ["registry.kk.dk/borger/php:2.4.1", "nginx:1.27"]
    );
    assert_eq!(
        site.workloads[2].stalled.as_deref(),
        Some("ProgressDeadlineExceeded: ReplicaSet \"solr-proxy-5c9\" has timed out progressing.")
    );
    assert!(site.workloads[3].spec_pending);
    assert!(site.workloads[4].revision_pending);
    assert!(site.pods.is_empty() && site.events.is_empty() && site.notices.is_empty());
}

fn pod(name: &str, phase: &str, ready: bool, status: Value) -> Value {
    let mut status = status;
    status["phase"] = json!(phase);
    let mut conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    conditions.push(
        json!({"type": "Ready", "status": if ready { "True" } else { "False" },
        "reason": if ready { "" } else { "ContainersNotReady" },
        "message": if ready { "" } else { "containers with unready status: [php]" }}),
    );
    status["conditions"] = json!(conditions);
    json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"containers": [{
            "name": "php",
            "image": "registry.kk.dk/borger/php:2.4.1",
            "resources": {"limits": {"memory": "256Mi"}},
        }]},
        "status": status,
    })
}

fn container(state: Value, last_state: Value, restarts: i32, ready: bool) -> Value {
    json!({
        "name": "php",
        "image": "registry.kk.dk/borger/php:2.4.1",
        "imageID": "",
        "ready": ready,
        "restartCount": restarts,
        "state": state,
        "lastState": last_state,
    })
}

#[tokio::test]
async fn pods_that_are_not_ready_say_why() {
    let pods = vec![
        pod(
            "php-ok",
            "Running",
            true,
            json!({"containerStatuses": [container(
                json!({"running": {"startedAt": "2026-11-27T10:00:00Z"}}),
                json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-11-27T09:59:00Z"}}),
                1,
                true,
            )]}),
        ),
        pod(
            "php-crash",
            "Running",
            false,
            json!({"containerStatuses": [container(
                json!({"waiting": {"reason": "CrashLoopBackOff",
                    "message": "back-off 5m0s restarting failed container=php pod=php-crash_site-borger(abc)"}}),
                json!({"terminated": {"exitCode": 255, "reason": "Error", "finishedAt": "2026-11-27T10:00:00Z"}}),
                14,
                false,
            )]}),
        ),
        pod(
            "php-pull",
            "Pending",
            false,
            json!({
                "conditions": [{"type": "PodScheduled", "status": "True"}],
                "containerStatuses": [container(
                    json!({"waiting": {"reason": "ImagePullBackOff",
                        "message": "Back-off pulling image \"registry.kk.dk/borger/php:2.4.1\""}}),
                    json!({}),
                    0,
                    false,
                )],
            }),
        ),
        pod(
            "php-oom",
            "Running",
            false,
            json!({"containerStatuses": [container(
                json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=php"}}),
                json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-11-27T10:01:00Z"}}),
                3,
                false,
            )]}),
        ),
        pod(
            "php-pending",
            "Pending",
            false,
            json!({"conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available.",
            }]}),
        ),
        pod(
            "php-probe",
            "Running",
            false,
            json!({"containerStatuses": [container(
                json!({"running": {"startedAt": "2026-11-27T10:00:00Z"}}),
                json!({}),
                0,
                false,
            )]}),
        ),
        // A cron Job's finished pod is not a problem.
        pod("cron-29123", "Succeeded", false, json!({})),
    ];
    let (client, _) = cluster(routes_for(vec![], vec![], pods, vec![]));
    let site = site_workloads(&client, NS).await.unwrap();

    let rows: Vec<(&str, bool, u32, Option<&PodReason>)> = site
        .pods
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.ready,
                p.restarts,
                p.problem.as_ref().map(|x| &x.reason),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("php-oom", false, 3, Some(&PodReason::OomKilled)),
            ("php-crash", false, 14, Some(&PodReason::CrashLoopBackOff)),
            ("php-pull", false, 0, Some(&PodReason::ImagePullBackOff)),
            ("php-pending", false, 0, Some(&PodReason::Pending)),
            ("php-probe", false, 0, Some(&PodReason::NotReady)),
            ("php-ok", true, 1, None),
        ]
    );
    assert_eq!(site.not_ready().count(), 5);

    let problem = |name: &str| {
        site.pods
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .problem
            .clone()
            .unwrap()
    };
    let oom = problem("php-oom");
    assert_eq!(oom.container.as_deref(), Some("php"));
    assert_eq!(
        oom.message,
        "killed for using more memory than its limit (memory limit 256Mi); CrashLoopBackOff: back-off 40s restarting failed container=php"
    );
    assert_eq!(
        problem("php-crash").message,
        "last exit: Error (exit 255); back-off 5m0s restarting failed container=php pod=php-crash_site-borger(abc)"
    );
    let pull = problem("php-pull");
    assert_eq!(
        pull.image.as_deref(),
        Some("registry.kk.dk/borger/php:2.4.1")
    );
    assert!(
        pull.message.starts_with("Back-off pulling image"),
        "{pull:?}"
    );
    let pending = problem("php-pending");
    assert_eq!(pending.container, None);
    assert_eq!(
        pending.message,
        "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available."
    );
    // A pod that is ready again still tells how it last ended.
    let ok = site.pods.iter().find(|p| p.name == "php-ok").unwrap();
    assert_eq!(ok.last_termination.as_deref(), Some("OOMKilled (exit 137)"));
}

fn event(name: &str, reason: &str, times: Value, object: &str) -> Value {
    let mut e = json!({
        "metadata": {"name": name, "namespace": NS},
        "type": "Warning",
        "reason": reason,
        "message": format!("{reason} happened\u{1b}]52;c;ZXZpbA==\u{7}"),
        "involvedObject": {"kind": "Pod", "name": object, "namespace": NS},
        "count": 2,
    });
    for (key, value) in times.as_object().unwrap() {
        e[key] = value.clone();
    }
    e
}

#[tokio::test]
async fn warning_events_come_newest_first_and_bounded() {
    let events = vec![
        event(
            "a",
            "FailedMount",
            json!({"lastTimestamp": "2026-11-27T10:00:00Z"}),
            "php-1",
        ),
        event(
            "b",
            "BackOff",
            json!({"firstTimestamp": "2026-11-27T08:00:00Z", "lastTimestamp": "2026-11-27T10:05:00Z"}),
            "php-2",
        ),
        // The events.k8s.io shape: eventTime and a series, no lastTimestamp.
        event(
            "c",
            "Unhealthy",
            json!({"eventTime": "2026-11-27T09:00:00.000000Z",
                   "series": {"count": 9, "lastObservedTime": "2026-11-27T10:10:00.500000Z"}}),
            "php-3",
        ),
        event(
            "d",
            "FailedScheduling",
            json!({"firstTimestamp": "2026-11-27T07:00:00Z"}),
            "php-4",
        ),
    ];
    let (client, _) = cluster(routes_for(vec![], vec![], vec![], events));
    let site = site_workloads_with_events(&client, NS, 3).await.unwrap();
    let rows: Vec<(&str, &str, u32, Option<f64>)> = site
        .events
        .iter()
        .map(|e| (e.reason.as_str(), e.object.as_str(), e.count, e.time))
        .collect();
    assert_eq!(
        rows,
        [
            ("Unhealthy", "Pod/php-3", 9, Some(1_795_774_200.5)),
            ("BackOff", "Pod/php-2", 2, Some(1_795_773_900.0)),
            ("FailedMount", "Pod/php-1", 2, Some(1_795_773_600.0)),
        ]
    );
    assert_eq!(site.events_total, 4);
    // Sanitized: the OSC 52 clipboard escape is gone.
    assert!(
        site.events
            .iter()
            .all(|e| !e.message.chars().any(char::is_control)),
        "{:?}",
        site.events
    );
    assert!(site.events[0].message.starts_with("Unhealthy happened"));
}

fn forbidden(verb: &str, resource: &str, group: &str, namespace: Option<&str>) -> Value {
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".into(),
    };
    let qualified = if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    };
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": format!("{qualified} is forbidden: User \"system:serviceaccount:ops:site-status\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}"),
        "reason": "Forbidden",
        "details": {"kind": resource, "group": group},
        "code": 403,
    })
}

#[tokio::test]
async fn a_403_names_the_verb_and_resource_that_was_refused() {
    let (client, _) = cluster(vec![(
        NAMESPACES,
        403,
        forbidden("list", "namespaces", "", None),
    )]);
    let err = KubeSites::discover(&client, &kube_config(None, None))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KubeError::Forbidden { verb, resource, namespace: None, .. }
            if verb == "list" && resource == "namespaces"),
        "{err:?}"
    );
    let message = SourceError::from(err).message;
    assert!(
        message.starts_with("forbidden: cannot list namespaces (RBAC: list on namespaces): "),
        "{message}"
    );
    assert!(
        message.contains("system:serviceaccount:ops:site-status"),
        "{message}"
    );

    // In a site's namespace: the resource with its group, and the scope.
    let mut routes = routes_for(vec![], vec![], vec![], vec![]);
    routes[1] = (
        routes[1].0,
        403,
        forbidden("list", "statefulsets", "apps", Some(NS)),
    );
    let (client, _) = cluster(routes);
    let err = site_workloads(&client, NS).await.unwrap_err();
    assert!(
        err.to_string().starts_with(
            "forbidden: cannot list statefulsets.apps in namespace site-borger (RBAC: list on statefulsets.apps)"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn events_that_may_not_be_read_leave_the_rest_of_the_pane() {
    let mut routes = routes_for(vec![], vec![], vec![], vec![]);
    routes[3] = (routes[3].0, 403, forbidden("list", "events", "", Some(NS)));
    let (client, _) = cluster(routes);
    let site = site_workloads(&client, NS).await.unwrap();
    assert!(site.events.is_empty());
    assert_eq!(site.notices.len(), 1);
    assert!(
        site.notices[0]
            .starts_with("no events: forbidden: cannot list events in namespace site-borger"),
        "{:?}",
        site.notices
    );
}

#[tokio::test]
async fn rejected_credentials_say_the_login_has_expired() {
    let (client, _) = cluster(vec![(
        NAMESPACES,
        401,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "message": "Unauthorized", "reason": "Unauthorized", "code": 401}),
    )]);
    let err = KubeSites::discover(&client, &kube_config(None, None))
        .await
        .unwrap_err();
    assert!(matches!(err, KubeError::Credentials { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("401 Unauthorized") && message.contains("expired"),
        "{message}"
    );
}

#[tokio::test]
async fn a_connection_error_from_the_transport_is_unreachable() {
    let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(async move {
        if let Some((_request, send)) = handle.next_request().await {
            send.send_error(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "tcp connect error: Connection refused (os error 111)",
            ));
        }
    });
    let client = kube::Client::new(service, "default");
    let err = KubeSites::discover(&client, &kube_config(None, None))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        KubeError::Unreachable {
            message: "tcp connect error: Connection refused (os error 111)".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "cannot reach the Kubernetes API server: tcp connect error: Connection refused (os error 111)"
    );
}

/// A port on this machine that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2Vu.s1gnature";

fn kubeconfig(server: &str) -> kube::config::Kubeconfig {
    kube::config::Kubeconfig::from_yaml(&format!(
        r#"
apiVersion: v1
kind: Config
current-context: aks-prod
clusters:
- name: aks-prod
  cluster:
    server: {server}
contexts:
- name: aks-prod
  context:
    cluster: aks-prod
    user: operator
users:
- name: operator
  user:
    token: {TOKEN}
"#
    ))
    .unwrap()
}

#[tokio::test]
async fn an_unreachable_cluster_is_said_plainly_without_the_token() {
    let server = format!("http://127.0.0.1:{}", closed_port());
    let mut config = kube_config(None, None);
    config.context = Some(site_status::config::KubeContext("aks-prod".into()));
    let client = connect_with_kubeconfig(kubeconfig(&server), &config)
        .await
        .unwrap();
    let err = KubeSites::discover(&client, &config).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, KubeError::Unreachable { .. }), "{err:?}");
    assert!(
        message.starts_with("cannot reach the Kubernetes API server: ")
            && message.to_lowercase().contains("connection refused"),
        "{message}"
    );
    assert!(
        !message.contains(TOKEN) && !message.contains("c2VjcmV0"),
        "{message}"
    );
    assert!(!format!("{err:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_context_that_is_not_in_the_kubeconfig_is_named() {
    let mut config = kube_config(None, None);
    config.context = Some(site_status::config::KubeContext("aks-staging".into()));
    let Err(err) = connect_with_kubeconfig(kubeconfig("https://127.0.0.1:1"), &config).await else {
        panic!("connected with a context that does not exist");
    };
    let message = err.to_string();
    assert!(matches!(err, KubeError::Config { .. }), "{err:?}");
    assert!(message.contains("\"aks-staging\""), "{message}");
    assert!(!message.contains(TOKEN), "{message}");
}

#[tokio::test]
async fn a_broken_client_key_is_named_without_its_data() {
    // "secret-key-material", base64: neither PEM nor a key.
    let secret = "c2VjcmV0LWtleS1tYXRlcmlhbA==";
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&format!(
        r#"
apiVersion: v1
kind: Config
current-context: aks-prod
clusters:
- name: aks-prod
  cluster:
    server: https://127.0.0.1:{}
contexts:
- name: aks-prod
  context:
    cluster: aks-prod
    user: operator
users:
- name: operator
  user:
    client-certificate-data: {secret}
    client-key-data: {secret}
"#,
        closed_port()
    ))
    .unwrap();
    let config = kube_config(None, None);
    let err = match connect_with_kubeconfig(kubeconfig, &config).await {
        Err(e) => e,
        Ok(client) => KubeSites::discover(&client, &config).await.unwrap_err(),
    };
    let message = err.to_string();
    assert!(
        !message.contains(secret) && !message.contains("secret-key"),
        "{message}"
    );
    assert!(!format!("{err:?}").contains(secret), "{err:?}");
    assert!(matches!(err, KubeError::Config { .. }), "{err:?}");
    assert!(message.contains("private key"), "{message}");
}

/// An API server for the pane's watch: every list answers with version
/// 100 and no items; a watch on pods sends one change and ends; other
/// watches end at once (as a server may), or are refused for `refuse`.
fn watched_cluster(refuse: Option<&'static str>) -> (kube::Client, Seen) {
    let mut changed_pod = pod("drupal-1", "Running", false, json!({}));
    changed_pod["metadata"]["resourceVersion"] = json!("101");
    changing_cluster(refuse, "pods", changed_pod)
}

/// Like [`watched_cluster`], with the kind whose watch sends `object` as
/// modified.
fn changing_cluster(
    refuse: Option<&'static str>,
    changing: &'static str,
    object: Value,
) -> (kube::Client, Seen) {
    let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let seen = Seen::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let uri = normalize(&request.uri().to_string());
            log.0.lock().unwrap().push(uri.clone());
            let path = uri.split('?').next().unwrap_or_default().to_string();
            let kind = path.rsplit('/').next().unwrap_or_default().to_string();
            let (code, body) = if !uri.contains("watch=true") {
                (
                    200,
                    serde_json::to_vec(&json!({
                        "kind": "List", "apiVersion": "v1",
                        "metadata": {"resourceVersion": "100"}, "items": []
                    }))
                    .unwrap(),
                )
            } else if refuse == Some(kind.as_str()) {
                (
                    403,
                    serde_json::to_vec(&forbidden("watch", "events", "", Some(NS))).unwrap(),
                )
            } else if kind == changing {
                let change = json!({"type": "MODIFIED", "object": object});
                (200, format!("{change}\n").into_bytes())
            } else {
                (200, Vec::new())
            };
            let response = Response::builder()
                .status(code)
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap();
            send.send_response(response);
        }
    });
    (kube::Client::new(service, "default"), seen)
}

#[tokio::test]
async fn the_pane_watch_reports_a_change_and_resumes_from_the_version_seen() {
    let (client, seen) = watched_cluster(None);
    let changed = tokio::sync::Notify::new();
    let following = follow_namespace(&client, NS, &changed);
    tokio::pin!(following);
    let noticed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        tokio::select! {
            _ = changed.notified() => true,
            _ = &mut following => false,
        }
    })
    .await;
    assert_eq!(noticed, Ok(true), "a pod change is noticed");
    // Each kind is first listed for its version, then watched from it.
    let requests = seen.get();
    for kind in [
        "apis/apps/v1/namespaces/site-borger/deployments",
        "api/v1/namespaces/site-borger/pods",
    ] {
        assert!(
            requests
                .iter()
                .any(|r| r.contains(kind) && r.contains("limit=1")),
            "{requests:?}"
        );
        assert!(
            requests.iter().any(|r| r.contains(kind)
                && r.contains("watch=true")
                && r.contains("resourceVersion=100")),
            "{requests:?}"
        );
    }
    assert!(
        requests.iter().any(|r| r.contains("/events?")
            && r.contains("watch=true")
            && r.contains("fieldSelector=type%3DWarning")),
        "only Warning events are watched: {requests:?}"
    );
    // After the pods' watch ends, it resumes from the change's version.
    let resumed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if seen
                .get()
                .iter()
                .any(|r| r.contains("/pods?") && r.contains("resourceVersion=101"))
            {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
                _ = &mut following => panic!("the watch ended"),
            }
        }
    })
    .await;
    assert!(resumed.is_ok(), "{:?}", seen.get());
}

#[tokio::test]
async fn a_refused_watch_names_the_verb_and_resource() {
    let (client, _) = watched_cluster(Some("events"));
    let changed = tokio::sync::Notify::new();
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        follow_namespace(&client, NS, &changed),
    )
    .await
    .expect("a refused watch ends the follow");
    assert!(
        err.to_string().starts_with(
            "forbidden: cannot watch events in namespace site-borger (RBAC: watch on events)"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_new_site_namespace_is_noticed_through_the_watch() {
    let mut created = namespace(
        "site-ny",
        json!({"sitefactory.dk/type": "site", "sitefactory.dk/site": "ny"}),
    );
    created["metadata"]["resourceVersion"] = json!("101");
    let (client, seen) = changing_cluster(None, "namespaces", created);
    let changed = tokio::sync::Notify::new();
    let following = follow_site_namespaces(&client, "sitefactory.dk/type=site", &changed);
    tokio::pin!(following);
    let noticed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        tokio::select! {
            _ = changed.notified() => true,
            _ = &mut following => false,
        }
    })
    .await;
    assert_eq!(noticed, Ok(true));
    let requests = seen.get();
    assert!(
        requests.iter().any(|r| r.starts_with("/api/v1/namespaces?")
            && r.contains("watch=true")
            && r.contains("labelSelector=sitefactory.dk%2Ftype%3Dsite")),
        "only the site namespaces are watched: {requests:?}"
    );
}
