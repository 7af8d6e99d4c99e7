//! Kubernetes: which sites exist (their namespaces) and why a site is
//! failing right now (its workloads, pods and Warning events), all read
//! only; and the one write, asking a site's status agent for a run now
//! (`agent`).
//!
//! Every function takes a [`kube::Client`], so tests hand in one that talks
//! to a mock service instead of an API server. [`connect`] makes the real
//! one from the kubeconfig. Every string that comes from the cluster is
//! sanitized here (`model::text`) before it reaches the model; errors are
//! [`KubeError`]s worded for the operator, which never carry a credential.

mod agent;
mod cache;
mod discover;
mod error;
mod follow;
mod forward;
mod workloads;

pub use agent::{AgentAddress, RUN_WAIT, read_report, run_agent_report};
pub use cache::KubeDiscovery;
pub use discover::{KubeSites, site_of_namespace};
pub use error::{Attempt, KubeError, classify};
pub use follow::{follow_namespace, follow_site_namespaces};
pub use forward::{ClientFactory, Forward, ready_pod};
pub use workloads::{
    MAX_WARNING_EVENTS, deployment_workload, pod_info, site_workloads, site_workloads_with_events,
    stateful_set_workload, warning_event,
};

use kube::Client;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use serde::de::DeserializeOwned;

use crate::config::KubeConfig;

/// Items asked for per request; longer lists are paged with `continue`.
pub const PAGE_SIZE: u32 = 500;

/// A client for the environment's cluster: the configured kubeconfig
/// context, or else the current one (or the in-cluster service account
/// when there is no kubeconfig). Nothing is sent to the cluster yet.
pub async fn connect(config: &KubeConfig) -> Result<Client, KubeError> {
    if let Some(path) = &config.kubeconfig {
        let kubeconfig = Kubeconfig::read_from(path).map_err(|e| KubeError::Config {
            message: format!("{}: {}", path.display(), error::kubeconfig_message(&e)),
        })?;
        return connect_with_kubeconfig(kubeconfig, config).await;
    }
    let kube_config = match &config.context {
        Some(context) => kube::Config::from_kubeconfig(&KubeConfigOptions {
            context: Some(context.0.clone()),
            ..KubeConfigOptions::default()
        })
        .await
        .map_err(|e| KubeError::Config {
            message: error::kubeconfig_message(&e),
        })?,
        None => kube::Config::infer().await.map_err(|e| {
            let from_file = std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<KubeconfigError>())
                .map(error::kubeconfig_message)
                .unwrap_or_else(|| "no kubeconfig found".into());
            KubeError::Config {
                message: format!(
                    "no usable kubeconfig (KUBECONFIG or ~/.kube/config) and not running in a cluster: {from_file}"
                ),
            }
        })?,
    };
    client_from(kube_config)
}

/// A cluster that does not accept a connection within this is reported as
/// unreachable (kube's default waits 30 s).
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// A request that cannot be sent within this fails. Reads have no client
/// timeout: watches and port-forwards stay open for minutes, and every list
/// is bounded by its caller instead.
pub const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn client_from(mut kube_config: kube::Config) -> Result<Client, KubeError> {
    register_credentials(&kube_config.auth_info);
    // kube retries 429 and 503 itself, up to 15 times and for minutes:
    // the poller already retries with its own backoff, an error the
    // operator should read would turn into a timeout, and the one POST
    // (a run asked of an agent) must not be repeated behind their back.
    kube_config.default_retry = false;
    kube_config.connect_timeout = Some(CONNECT_TIMEOUT);
    kube_config.write_timeout = Some(WRITE_TIMEOUT);
    Client::try_from(kube_config).map_err(|e| classify(e, &Attempt::connect()))
}

/// Like [`connect`], from a kubeconfig already read (a file named in the
/// configuration, a test's). `context` as in [`connect`].
pub async fn connect_with_kubeconfig(
    kubeconfig: Kubeconfig,
    config: &KubeConfig,
) -> Result<Client, KubeError> {
    let options = KubeConfigOptions {
        context: config.context.as_ref().map(|c| c.0.clone()),
        ..KubeConfigOptions::default()
    };
    let kube_config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| KubeError::Config {
            message: error::kubeconfig_message(&e),
        })?;
    client_from(kube_config)
}

/// Every item of a list, page by page, at most about `max_items`.
pub(crate) async fn list_all<K>(
    api: &Api<K>,
    params: ListParams,
    attempt: &Attempt<'_>,
    max_items: usize,
) -> Result<Vec<K>, KubeError>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut items = Vec::new();
    let mut params = params.limit(PAGE_SIZE);
    loop {
        let page = api.list(&params).await.map_err(|e| classify(e, attempt))?;
        items.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() && items.len() < max_items => {
                params = params.continue_token(&token);
            }
            _ => break,
        }
    }
    Ok(items)
}

/// The cluster's credentials are secrets of this process like any other:
/// an API server or proxy that echoes them must not make us print them.
fn register_credentials(auth: &kube::config::AuthInfo) {
    use secrecy::ExposeSecret;
    for secret in [&auth.token, &auth.password].into_iter().flatten() {
        crate::secrets::register(secret.expose_secret());
    }
    if let Some(key) = &auth.client_key_data {
        crate::secrets::register(key.expose_secret());
    }
}
