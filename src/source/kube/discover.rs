//! Site discovery: the namespaces that match `namespace_selector`, each one
//! site.

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, ListParams};

use super::error::{Attempt, KubeError};
use super::list_all;
use crate::config::KubeConfig;
use crate::model::DiscoveredSite;
use crate::model::text::{MAX_NAME_CHARS, clean_line};

/// More site namespaces than any fleet has; a bound, not a limit in
/// practice (10,000 sites is the dashboard's design size).
const MAX_NAMESPACES: usize = 100_000;

/// Finds an environment's sites in its cluster.
pub struct KubeSites;

impl KubeSites {
    /// The site namespaces (`list namespaces` with the label selector,
    /// paged), by namespace name. Namespaces being deleted still count:
    /// the site exists until its namespace is gone.
    pub async fn discover(
        client: &Client,
        config: &KubeConfig,
    ) -> Result<Vec<DiscoveredSite>, KubeError> {
        let api: Api<Namespace> = Api::all(client.clone());
        let params = ListParams::default().labels(&config.namespace_selector.0);
        let namespaces = list_all(
            &api,
            params,
            &Attempt::list("namespaces", "", None),
            MAX_NAMESPACES,
        )
        .await?;
        let mut sites: Vec<DiscoveredSite> = namespaces
            .iter()
            .filter_map(|ns| site_of_namespace(ns, config))
            .collect();
        sites.sort_by(|a, b| a.namespace.cmp(&b.namespace));
        Ok(sites)
    }
}

/// One namespace as a site: its name from `site_label` (the namespace's
/// own name when that is not configured, or the namespace does not carry
/// the label, or carries it empty), its profile from `profile_label`.
pub fn site_of_namespace(ns: &Namespace, config: &KubeConfig) -> Option<DiscoveredSite> {
    let name = ns.metadata.name.as_deref().filter(|n| !n.is_empty())?;
    let labels = ns.metadata.labels.as_ref();
    let label = |key: &crate::config::LabelKey| {
        labels
            .and_then(|l| l.get(&key.0))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(|v| clean_line(v, MAX_NAME_CHARS))
    };
    let namespace = clean_line(name, MAX_NAME_CHARS);
    let site = config
        .site_label
        .as_ref()
        .and_then(label)
        .unwrap_or_else(|| namespace.clone());
    let profile = config.profile_label.as_ref().and_then(label);
    Some(DiscoveredSite {
        namespace,
        site,
        profile,
    })
}
