//! Live updates for the open site's Kubernetes pane: a watch on each kind
//! the pane shows, which says "something changed" and nothing more. The
//! pane is then fetched again whole, so what it shows is always one
//! consistent read and never a pile of applied deltas.

use std::fmt::Debug;
use std::time::Duration;

use futures::{StreamExt, pin_mut};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use super::error::{Attempt, KubeError, classify};

/// Asked of the API server per watch request; it ends the watch then and
/// the watch is re-issued from the last version seen.
const WATCH_SECONDS: u32 = 290;
/// Between two watches of one kind, so a server that ends every watch at
/// once is not asked in a tight loop.
const REWATCH_GAP: Duration = Duration::from_secs(1);

/// Watches the namespace's Deployments, StatefulSets, pods and Warning
/// events, notifying `changed` on every change. Returns only when a watch
/// fails (a refused `watch`, the cluster gone); the caller decides when to
/// try again.
pub async fn follow_namespace(client: &Client, namespace: &str, changed: &Notify) -> KubeError {
    let ns = Some(namespace);
    let deployments = follow(
        Api::<Deployment>::namespaced(client.clone(), namespace),
        Selectors::default(),
        Attempt::watch("deployments", "apps", ns),
        changed,
    );
    let stateful_sets = follow(
        Api::<StatefulSet>::namespaced(client.clone(), namespace),
        Selectors::default(),
        Attempt::watch("statefulsets", "apps", ns),
        changed,
    );
    let pods = follow(
        Api::<Pod>::namespaced(client.clone(), namespace),
        Selectors::default(),
        Attempt::watch("pods", "", ns),
        changed,
    );
    let events = follow(
        Api::<Event>::namespaced(client.clone(), namespace),
        Selectors::fields("type=Warning"),
        Attempt::watch("events", "", ns),
        changed,
    );
    pin_mut!(deployments, stateful_sets, pods, events);
    // The first to fail ends all: the caller retries them together.
    tokio::select! {
        e = deployments => e,
        e = stateful_sets => e,
        e = pods => e,
        e = events => e,
    }
}

/// Watches the site namespaces (those `selector` matches), notifying
/// `changed` when one is created, relabelled or deleted, so the grid learns
/// of a new site before its next poll. Returns only when the watch fails.
pub async fn follow_site_namespaces(
    client: &Client,
    selector: &str,
    changed: &Notify,
) -> KubeError {
    follow(
        Api::<Namespace>::all(client.clone()),
        Selectors {
            labels: Some(selector),
            fields: None,
        },
        Attempt::watch("namespaces", "", None),
        changed,
    )
    .await
}

#[derive(Default, Clone, Copy)]
struct Selectors<'a> {
    labels: Option<&'a str>,
    fields: Option<&'a str>,
}

impl<'a> Selectors<'a> {
    fn fields(fields: &'a str) -> Selectors<'a> {
        Selectors {
            labels: None,
            fields: Some(fields),
        }
    }
}

/// One kind, for as long as it works. Starts from the version of a
/// one-item list, so the watch begins at "now" and does not replay every
/// existing object as added.
async fn follow<K>(
    api: Api<K>,
    selectors: Selectors<'_>,
    attempt: Attempt<'_>,
    changed: &Notify,
) -> KubeError
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut list_params = ListParams::default().limit(1);
    let mut watch_params = WatchParams::default().timeout(WATCH_SECONDS);
    if let Some(fields) = selectors.fields {
        list_params = list_params.fields(fields);
        watch_params = watch_params.fields(fields);
    }
    if let Some(labels) = selectors.labels {
        list_params = list_params.labels(labels);
        watch_params = watch_params.labels(labels);
    }
    let listing = Attempt {
        verb: "list",
        ..attempt
    };
    let mut version: Option<String> = None;
    loop {
        let from = match version.take() {
            Some(v) => v,
            None => match api.list_metadata(&list_params).await {
                Ok(list) => list.metadata.resource_version.unwrap_or_default(),
                Err(e) => return classify(e, &listing),
            },
        };
        let stream = match api.watch(&watch_params, &from).await {
            Ok(stream) => stream,
            Err(e) => return classify(e, &attempt),
        };
        pin_mut!(stream);
        let mut last_seen = Some(from);
        while let Some(event) = stream.next().await {
            match event {
                Ok(WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o)) => {
                    last_seen = o.resource_version().or(last_seen);
                    changed.notify_one();
                }
                Ok(WatchEvent::Bookmark(b)) => {
                    last_seen = Some(b.metadata.resource_version);
                }
                // 410 Gone: the version is too old to resume from; list
                // again. Something may have changed in the gap.
                Ok(WatchEvent::Error(_)) => {
                    last_seen = None;
                    changed.notify_one();
                    break;
                }
                Err(e) => return classify(e, &attempt),
            }
        }
        version = last_seen;
        tokio::time::sleep(REWATCH_GAP).await;
    }
}
