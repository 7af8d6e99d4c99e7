//! A stand-in Kubernetes API server over plain HTTP/1.1, just enough for
//! site-status: it lists site namespaces, gets a Service, lists its
//! EndpointSlices, and serves pod port-forwards over WebSocket
//! (`v4.channel.k8s.io`, the protocol the real API server speaks) by
//! connecting to a real local server that plays the pod. Tests change its
//! state as a cluster would change: a pod goes away, another becomes ready.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

#[derive(Default)]
pub struct ApiState {
    /// `namespace/name` → Service object.
    pub services: HashMap<String, Value>,
    /// `namespace/service` → the ready pods behind it, as
    /// `(pod, ready, container port)`.
    pub endpoints: HashMap<String, Vec<(String, bool, u16)>>,
    /// `namespace/pod` → the address that plays the pod's port.
    pub pods: HashMap<String, SocketAddr>,
    /// Namespaces listed for discovery (any label selector).
    pub namespaces: Vec<Value>,
    /// Items of other lists, by path (`/api/v1/namespaces/site-x/pods`).
    pub lists: HashMap<String, Vec<Value>>,
    /// Refuse port-forwards with a 403, as RBAC without
    /// `pods/portforward` would.
    pub forbid_portforward: bool,
    /// `namespace/service:port` → the address of what plays the Service
    /// (a real agent), for the API server's service proxy
    /// (`…/services/NAME:PORT/proxy/PATH`).
    pub proxies: HashMap<String, SocketAddr>,
    /// Refuse the service proxy with a 403, as RBAC without `create` on
    /// `services/proxy` would.
    pub forbid_service_proxy: bool,
    /// Every request, `METHOD path?query`.
    pub log: Vec<String>,
}

pub struct FakeApiServer {
    addr: SocketAddr,
    state: Arc<Mutex<ApiState>>,
    /// Wakes every open port-forward so those to a removed pod end.
    pods_changed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApiServer {
    pub async fn start() -> FakeApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ApiState::default()));
        let pods_changed = Arc::new(Notify::new());
        let (s, p) = (state.clone(), pods_changed.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, s.clone(), p.clone()));
            }
        });
        FakeApiServer {
            addr,
            state,
            pods_changed,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, ApiState> {
        self.state.lock().unwrap()
    }

    /// A service with one named port, and its pods.
    pub fn add_service(&self, namespace: &str, name: &str, port_name: &str, port: u16) {
        self.state().services.insert(
            format!("{namespace}/{name}"),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"ports": [{"name": port_name, "port": port, "targetPort": port_name}]}
            }),
        );
    }

    /// Makes `pod` a ready endpoint of the service, played by `backend`.
    pub fn add_pod(
        &self,
        namespace: &str,
        service: &str,
        pod: &str,
        port: u16,
        backend: SocketAddr,
    ) {
        let mut state = self.state();
        state
            .endpoints
            .entry(format!("{namespace}/{service}"))
            .or_default()
            .push((pod.to_string(), true, port));
        state.pods.insert(format!("{namespace}/{pod}"), backend);
    }

    /// An endpoint that exists but is not ready: never to be used.
    pub fn add_unready_pod(&self, namespace: &str, service: &str, pod: &str, port: u16) {
        self.state()
            .endpoints
            .entry(format!("{namespace}/{service}"))
            .or_default()
            .push((pod.to_string(), false, port));
    }

    /// The pod is deleted: it leaves the endpoints, its open port-forwards
    /// break, and new ones are answered 404.
    pub fn remove_pod(&self, namespace: &str, pod: &str) {
        {
            let mut state = self.state();
            state.pods.remove(&format!("{namespace}/{pod}"));
            for list in state.endpoints.values_mut() {
                list.retain(|(p, _, _)| p != pod);
            }
        }
        self.pods_changed.notify_waiters();
    }

    /// A namespace that `namespace_selector = "sitefactory.dk/type=site"`
    /// finds, for `site`.
    pub fn add_site_namespace(&self, site: &str) {
        self.state().namespaces.push(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": format!("site-{site}"),
                         "labels": {"sitefactory.dk/type": "site", "sitefactory.dk/site": site}}
        }));
    }

    /// The site's status agent Service (`site-status-agent`, port
    /// `metrics`, as deploy/kubernetes/base has it) in `site-{site}`, served
    /// through the service proxy by `agent`.
    pub fn add_agent(&self, site: &str, agent: SocketAddr) {
        let namespace = format!("site-{site}");
        self.add_service(&namespace, "site-status-agent", "metrics", 9101);
        self.state()
            .proxies
            .insert(format!("{namespace}/site-status-agent:metrics"), agent);
    }

    pub fn log(&self) -> Vec<String> {
        self.state().log.clone()
    }

    /// A kubeconfig whose only context talks to this server.
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: test\n  cluster:\n    server: {}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: test\nusers:\n- name: test\n  user:\n    token: not-a-real-token\n",
            self.url()
        )
    }
}

/// HTTP/1.1 with keep-alive: hyper reuses connections, also for the
/// upgrade to a port-forward.
async fn serve_connection(
    mut stream: TcpStream,
    state: Arc<Mutex<ApiState>>,
    pods_changed: Arc<Notify>,
) {
    loop {
        let Some(head) = read_head(&mut stream).await else {
            return;
        };
        let mut lines = head.lines();
        let request_line = lines.next().unwrap_or_default().to_string();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut body = Vec::new();
        if let Some(len) = headers
            .get("content-length")
            .and_then(|l| l.parse::<usize>().ok())
        {
            body = vec![0; len];
            if stream.read_exact(&mut body).await.is_err() {
                return;
            }
        }
        state.lock().unwrap().log.push(format!("{method} {target}"));
        let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        if let Some(proxied) = service_proxy(path) {
            let (code, headers, body) =
                proxy_to_service(&method, &proxied, query, body, &state).await;
            let mut head = format!("HTTP/1.1 {code} X\r\ncontent-length: {}\r\n", body.len());
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            if stream.write_all(head.as_bytes()).await.is_err()
                || stream.write_all(&body).await.is_err()
            {
                return;
            }
            continue;
        }
        if headers
            .get("upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
        {
            port_forward(stream, path, query, &headers, state, pods_changed).await;
            return;
        }
        // A watch that has nothing to say ends at once, as a server may
        // end any watch; the client watches again.
        let (code, body) = if query.contains("watch=true") {
            (200, Vec::new())
        } else {
            let (code, body) = answer(path, query, &state.lock().unwrap());
            (code, serde_json::to_vec(&body).unwrap())
        };
        let head = format!(
            "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(&body).await.is_err()
        {
            return;
        }
    }
}

/// `/api/v1/namespaces/NS/services/NAME:PORT/proxy/REST`, taken apart.
struct Proxied {
    namespace: String,
    service: String,
    port: String,
    rest: String,
}

fn service_proxy(path: &str) -> Option<Proxied> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (namespace, rest) = rest.split_once("/services/")?;
    let (name_port, rest) = rest.split_once("/proxy")?;
    let (service, port) = name_port.split_once(':').unwrap_or((name_port, ""));
    Some(Proxied {
        namespace: namespace.to_string(),
        service: service.to_string(),
        port: port.to_string(),
        rest: if rest.is_empty() {
            "/".into()
        } else {
            rest.to_string()
        },
    })
}

/// What the real API server does with a proxied request: refuses it
/// without RBAC, answers 404 for a missing Service and 503 when nothing
/// serves it, and otherwise relays it and the answer (its status, type
/// and Retry-After) as they are.
async fn proxy_to_service(
    method: &str,
    proxied: &Proxied,
    query: &str,
    body: Vec<u8>,
    state: &Mutex<ApiState>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let json_status = |(code, value): (u16, Value)| {
        (
            code,
            vec![("content-type".to_string(), "application/json".to_string())],
            serde_json::to_vec(&value).unwrap(),
        )
    };
    let Proxied {
        namespace: ns,
        service,
        port,
        rest,
    } = proxied;
    let backend = {
        let state = state.lock().unwrap();
        if state.forbid_service_proxy {
            return json_status(status(
                403,
                "Forbidden",
                &format!(
                    "services \"{service}\" is forbidden: User \"system:serviceaccount:ops:site-status\" cannot create resource \"services/proxy\" in API group \"\" in the namespace \"{ns}\""
                ),
            ));
        }
        if !state.services.contains_key(&format!("{ns}/{service}")) {
            return json_status(status(
                404,
                "NotFound",
                &format!("services \"{service}\" not found"),
            ));
        }
        state
            .proxies
            .get(&format!("{ns}/{service}:{port}"))
            .copied()
    };
    let Some(backend) = backend else {
        return json_status(status(
            503,
            "ServiceUnavailable",
            &format!("no endpoints available for service \"{service}\""),
        ));
    };
    let url = if query.is_empty() {
        format!("http://{backend}{rest}")
    } else {
        format!("http://{backend}{rest}?{query}")
    };
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let answer = reqwest::Client::new()
        .request(method, url)
        .body(body)
        .send()
        .await;
    match answer {
        Ok(answer) => {
            let code = answer.status().as_u16();
            let headers = ["content-type", "retry-after"]
                .iter()
                .filter_map(|name| {
                    let value = answer.headers().get(*name)?.to_str().ok()?;
                    Some((name.to_string(), value.to_string()))
                })
                .collect();
            let body = answer.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            (code, headers, body)
        }
        Err(e) => json_status(status(
            503,
            "ServiceUnavailable",
            &format!("error trying to reach service: {e}"),
        )),
    }
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
        if head.len() > 64 * 1024 {
            return None;
        }
    }
    String::from_utf8(head).ok()
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn answer(path: &str, query: &str, state: &ApiState) -> (u16, Value) {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // A site namespace's workloads, pods and events: none, unless a test
    // put some in `lists`.
    let listed = |kind: &str, api_version: &str| {
        (
            200,
            json!({"kind": format!("{kind}List"), "apiVersion": api_version,
                   "metadata": {"resourceVersion": "1"},
                   "items": state.lists.get(path).cloned().unwrap_or_default()}),
        )
    };
    match segments.as_slice() {
        ["api", "v1", "namespaces", _, "pods"] => listed("Pod", "v1"),
        ["api", "v1", "namespaces", _, "events"] => listed("Event", "v1"),
        ["apis", "apps", "v1", "namespaces", _, "deployments"] => listed("Deployment", "apps/v1"),
        ["apis", "apps", "v1", "namespaces", _, "statefulsets"] => listed("StatefulSet", "apps/v1"),
        ["api", "v1", "namespaces"] => (
            200,
            json!({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {},
                   "items": state.namespaces}),
        ),
        ["api", "v1", "namespaces", ns, "services", name] => {
            match state.services.get(&format!("{ns}/{name}")) {
                Some(service) => (200, service.clone()),
                None => status(404, "NotFound", &format!("services \"{name}\" not found")),
            }
        }
        [
            "apis",
            "discovery.k8s.io",
            "v1",
            "namespaces",
            ns,
            "endpointslices",
        ] => {
            let decoded = query.replace("%3D", "=").replace("%2F", "/");
            let service = decoded
                .split('&')
                .find_map(|p| p.strip_prefix("labelSelector=kubernetes.io/service-name="))
                .unwrap_or_default();
            let endpoints: Vec<Value> = state
                .endpoints
                .get(&format!("{ns}/{service}"))
                .into_iter()
                .flatten()
                .map(|(pod, ready, _)| {
                    json!({"addresses": ["10.244.0.9"], "conditions": {"ready": ready},
                           "targetRef": {"kind": "Pod", "name": pod, "namespace": ns}})
                })
                .collect();
            let port = state
                .endpoints
                .get(&format!("{ns}/{service}"))
                .and_then(|l| l.first())
                .map(|(_, _, p)| *p)
                .unwrap_or(1);
            let port_name = state
                .services
                .get(&format!("{ns}/{service}"))
                .and_then(|s| s["spec"]["ports"][0]["name"].as_str().map(String::from))
                .unwrap_or_default();
            (
                200,
                json!({"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1",
                "metadata": {}, "items": [{
                    "metadata": {"name": format!("{service}-abcde"), "namespace": ns},
                    "addressType": "IPv4",
                    "endpoints": endpoints,
                    "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]
                }]}),
            )
        }
        _ => status(
            404,
            "NotFound",
            &format!("the fake API server has no {path}"),
        ),
    }
}

/// `GET …/pods/NAME/portforward?ports=P` upgraded to a WebSocket: the pod's
/// port on channel 0 (data) and 1 (errors), each first announcing the port
/// as two little-endian bytes.
async fn port_forward(
    mut stream: TcpStream,
    path: &str,
    query: &str,
    headers: &HashMap<String, String>,
    state: Arc<Mutex<ApiState>>,
    pods_changed: Arc<Notify>,
) {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (ns, pod) = match segments.as_slice() {
        ["api", "v1", "namespaces", ns, "pods", pod, "portforward"] => {
            (ns.to_string(), pod.to_string())
        }
        _ => return,
    };
    let port: u16 = query
        .split('&')
        .find_map(|p| p.strip_prefix("ports="))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let refusal = {
        let state = state.lock().unwrap();
        if state.forbid_portforward {
            Some(status(
                403,
                "Forbidden",
                &format!(
                    "pods \"{pod}\" is forbidden: User \"system:serviceaccount:ops:site-status\" cannot create resource \"pods/portforward\" in API group \"\" in the namespace \"{ns}\""
                ),
            ))
        } else if !state.pods.contains_key(&format!("{ns}/{pod}")) {
            Some(status(
                404,
                "NotFound",
                &format!("pods \"{pod}\" not found"),
            ))
        } else {
            None
        }
    };
    if let Some((code, body)) = refusal {
        let body = serde_json::to_vec(&body).unwrap();
        let head = format!(
            "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&body).await;
        return;
    }
    let key = headers
        .get("sec-websocket-key")
        .cloned()
        .unwrap_or_default();
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {}\r\nsec-websocket-protocol: v4.channel.k8s.io\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let mut ws = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
    let Some(backend_addr) = state
        .lock()
        .unwrap()
        .pods
        .get(&format!("{ns}/{pod}"))
        .copied()
    else {
        return;
    };
    let Ok(mut backend) = TcpStream::connect(backend_addr).await else {
        let _ = ws
            .send(Message::binary(vec![1, port as u8, (port >> 8) as u8]))
            .await;
        return;
    };
    for channel in [0u8, 1] {
        if ws
            .send(Message::binary(vec![
                channel,
                port as u8,
                (port >> 8) as u8,
            ]))
            .await
            .is_err()
        {
            return;
        }
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let gone = pods_changed.notified();
        tokio::select! {
            _ = gone => {
                if !state.lock().unwrap().pods.contains_key(&format!("{ns}/{pod}")) {
                    // The pod is gone: the stream breaks without ceremony.
                    return;
                }
            }
            message = ws.next() => match message {
                Some(Ok(Message::Binary(data))) if data.len() > 1 && data[0] == 0 => {
                    let written = backend.write_all(&data[1..]).await;
                    if written.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                _ => {}
            },
            read = backend.read(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    let _ = ws.close(None).await;
                    return;
                }
                Ok(n) => {
                    let mut frame = Vec::with_capacity(n + 1);
                    frame.push(0);
                    frame.extend_from_slice(&buf[..n]);
                    if ws.send(Message::binary(frame)).await.is_err() {
                        return;
                    }
                }
            },
        }
    }
}
