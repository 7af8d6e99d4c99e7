//! `kube://NAMESPACE/SERVICE:PORT` backends: a Prometheus or Loki inside
//! the cluster, reached from a jump host through the API server.
//!
//! A loopback listener stands in for the service; the HTTP client talks to
//! it as to any backend. Each connection it accepts is carried over its own
//! port-forward (a WebSocket to the API server) to a ready pod behind the
//! service. The pod is found through the service's EndpointSlices and
//! remembered; when a forward to it fails (the pod went away in a rollout)
//! it is looked up again and the connection goes to the new one. Nothing in
//! the cluster is changed: `pods/portforward` is the only `create`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Client;
use kube::api::{Api, ListParams};
use tokio::net::{TcpListener, TcpStream};

use super::error::{Attempt, KubeError, classify};
use crate::config::{KubeTarget, ServicePort};

/// How the forward gets a client for the cluster (made on first use, again
/// after a failure).
pub type ClientFactory = Arc<dyn Fn() -> BoxFuture<'static, Result<Client, String>> + Send + Sync>;

/// One `kube://` backend's local stand-in.
pub struct Forward {
    target: KubeTarget,
    local: SocketAddr,
    /// Taken by [`Forward::start`], which needs a runtime to serve it.
    listener: Mutex<Option<std::net::TcpListener>>,
    state: Arc<ForwardState>,
}

#[derive(Default)]
struct ForwardState {
    /// The pod and container port connections go to, while that works.
    pod: Mutex<Option<(String, u16)>>,
    /// Why the latest connection could not be forwarded, for the message
    /// of the request that then fails.
    last_error: Mutex<Option<String>>,
}

impl Forward {
    /// Reserves the local port; nothing is forwarded before
    /// [`Forward::start`].
    pub fn bind(target: KubeTarget) -> std::io::Result<Forward> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        Ok(Forward {
            target,
            local: listener.local_addr()?,
            listener: Mutex::new(Some(listener)),
            state: Arc::default(),
        })
    }

    pub fn target(&self) -> &KubeTarget {
        &self.target
    }

    /// The URL the HTTP client uses: the local stand-in, with the target's
    /// path prefix.
    pub fn local_url(&self) -> Result<url::Url, url::ParseError> {
        url::Url::parse(&format!("http://{}{}", self.local, self.target.path))
    }

    /// Why the latest connection could not be forwarded, if it could not.
    pub fn last_error(&self) -> Option<String> {
        self.state.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Starts serving the local port, once; later calls do nothing. Must be
    /// called inside a tokio runtime.
    pub fn start(&self, clients: ClientFactory) {
        let Some(listener) = self.listener.lock().ok().and_then(|mut l| l.take()) else {
            return;
        };
        let listener = match TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                self.set_error(Some(format!("cannot serve the local port: {e}")));
                return;
            }
        };
        let target = self.target.clone();
        let state = self.state.clone();
        tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                tokio::spawn(forward_connection(
                    connection,
                    target.clone(),
                    clients.clone(),
                    state.clone(),
                ));
            }
        });
    }

    fn set_error(&self, error: Option<String>) {
        set_error(&self.state, error);
    }
}

fn set_error(state: &ForwardState, error: Option<String>) {
    if let Ok(mut e) = state.last_error.lock() {
        *e = error;
    }
}

/// Carries one local connection to a pod of the service. A remembered pod
/// that cannot be reached any more is forgotten and the service's pods are
/// looked up again, once; then the connection is dropped and the error kept
/// for the request's message.
async fn forward_connection(
    mut connection: TcpStream,
    target: KubeTarget,
    clients: ClientFactory,
    state: Arc<ForwardState>,
) {
    let client = match clients().await {
        Ok(c) => c,
        Err(e) => {
            set_error(&state, Some(e));
            return;
        }
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), &target.namespace);
    let mut failure = String::new();
    for _attempt in 0..2 {
        let known = state.pod.lock().ok().and_then(|p| p.clone());
        let (pod, port) = match known {
            Some(known) => known,
            None => match ready_pod(&client, &target).await {
                Ok(found) => {
                    if let Ok(mut p) = state.pod.lock() {
                        *p = Some(found.clone());
                    }
                    found
                }
                Err(e) => {
                    set_error(&state, Some(e.to_string()));
                    return;
                }
            },
        };
        let attempt = Attempt {
            verb: "create",
            resource: "pods/portforward",
            group: "",
            namespace: Some(&target.namespace),
        };
        match pods.portforward(&pod, &[port]).await {
            Ok(mut forwarder) => {
                let Some(mut stream) = forwarder.take_stream(port) else {
                    failure = format!("the port-forward to pod {pod} has no stream for {port}");
                    continue;
                };
                set_error(&state, None);
                // Ends when either side closes: the HTTP client's idle
                // connection timing out, or the pod going away.
                let _ = tokio::io::copy_bidirectional(&mut connection, &mut stream).await;
                drop(stream);
                forwarder.abort();
                return;
            }
            Err(e) => {
                let e = classify(e, &attempt);
                failure = format!("port-forward to pod {pod}: {e}");
                if matches!(e, KubeError::Forbidden { .. }) {
                    break;
                }
                // The pod may be gone: look again.
                if let Ok(mut p) = state.pod.lock() {
                    *p = None;
                }
            }
        }
    }
    set_error(&state, Some(failure));
}

/// A ready pod behind the service and the container port its service port
/// leads to, from the service's EndpointSlices (which have the named
/// target ports already resolved to numbers).
pub async fn ready_pod(client: &Client, target: &KubeTarget) -> Result<(String, u16), KubeError> {
    let ns = Some(target.namespace.as_str());
    let services: Api<Service> = Api::namespaced(client.clone(), &target.namespace);
    let service = services.get(&target.service).await.map_err(|e| {
        classify(
            e,
            &Attempt {
                verb: "get",
                resource: "services",
                group: "",
                namespace: ns,
            },
        )
    })?;
    let ports = service.spec.and_then(|s| s.ports).unwrap_or_default();
    let service_port = ports
        .iter()
        .find(|p| match &target.port {
            ServicePort::Number(n) => p.port == i32::from(*n),
            ServicePort::Name(name) => p.name.as_deref() == Some(name.as_str()),
        })
        .ok_or_else(|| KubeError::Api {
            code: 0,
            message: format!(
                "service {}/{} has no port {}",
                target.namespace, target.service, target.port
            ),
        })?;
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &target.namespace);
    let listed = slices
        .list(
            &ListParams::default()
                .labels(&format!("kubernetes.io/service-name={}", target.service)),
        )
        .await
        .map_err(|e| classify(e, &Attempt::list("endpointslices", "discovery.k8s.io", ns)))?;
    let mut candidates: Vec<(String, u16)> = Vec::new();
    for slice in &listed.items {
        // An unnamed port is `""` in one object and absent in the other.
        let wanted_name = service_port.name.as_deref().unwrap_or("");
        // A slice without ports falls back to the service's numeric target.
        let numeric_target = match &service_port.target_port {
            Some(IntOrString::Int(n)) => Some(*n),
            None => Some(service_port.port),
            Some(IntOrString::String(_)) => None,
        };
        let port = slice
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref().unwrap_or("") == wanted_name)
            .and_then(|p| p.port)
            .or(numeric_target)
            .and_then(|p| u16::try_from(p).ok());
        let Some(port) = port else { continue };
        for endpoint in &slice.endpoints {
            let ready = endpoint
                .conditions
                .as_ref()
                .and_then(|c| c.ready)
                .unwrap_or(true);
            let Some(pod) = endpoint
                .target_ref
                .as_ref()
                .filter(|r| r.kind.as_deref() == Some("Pod"))
                .and_then(|r| r.name.clone())
            else {
                continue;
            };
            if ready {
                candidates.push((pod, port));
            }
        }
    }
    candidates.sort();
    candidates.into_iter().next().ok_or_else(|| KubeError::Api {
        code: 0,
        message: format!(
            "no ready pod behind service {}/{}",
            target.namespace, target.service
        ),
    })
}
