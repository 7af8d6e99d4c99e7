//! Kubernetes errors worded for the operator: a refused permission names
//! the verb and the resource, an unreachable cluster says why, rejected or
//! expired credentials say so. No message carries a token: the API
//! server's `Status` never holds one, and kubeconfig and credential-plugin
//! errors are reworded without the data they were parsing.

use std::fmt;

use kube::config::{KubeconfigError, LoadDataError};

use crate::model::text::{MAX_FIELD_CHARS, MAX_NAME_CHARS};
use crate::secrets::clean_line;
use crate::source::SourceError;

/// What a request tried, for the message when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt<'a> {
    /// `list`, `watch`, `get`, `create`.
    pub verb: &'static str,
    /// The plural resource name, as RBAC names it: `namespaces`.
    pub resource: &'static str,
    /// The API group; `""` for the core group.
    pub group: &'static str,
    /// `None` at the cluster scope.
    pub namespace: Option<&'a str>,
}

impl<'a> Attempt<'a> {
    pub fn list(resource: &'static str, group: &'static str, namespace: Option<&'a str>) -> Self {
        Attempt {
            verb: "list",
            resource,
            group,
            namespace,
        }
    }

    pub fn watch(resource: &'static str, group: &'static str, namespace: Option<&'a str>) -> Self {
        Attempt {
            verb: "watch",
            ..Attempt::list(resource, group, namespace)
        }
    }

    /// Building the client, before any request.
    pub fn connect() -> Attempt<'static> {
        Attempt {
            verb: "connect",
            resource: "",
            group: "",
            namespace: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeError {
    /// RBAC refused a request (HTTP 403).
    Forbidden {
        verb: String,
        /// `namespaces`, `deployments.apps`: RBAC's resource, with its API
        /// group when it has one.
        resource: String,
        /// `None` at the cluster scope.
        namespace: Option<String>,
        /// The API server's own words (names the user it took us for).
        message: String,
    },
    /// The credentials were rejected (HTTP 401) or could not be had (a
    /// credential plugin failed): almost always an expired login.
    Credentials { message: String },
    /// The API server could not be reached: connection refused, DNS, TLS,
    /// a timeout.
    Unreachable { message: String },
    /// The kubeconfig or its context cannot be used.
    Config { message: String },
    /// Any other error answer, or an answer that could not be read.
    Api { code: u16, message: String },
}

impl fmt::Display for KubeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KubeError::Forbidden {
                verb,
                resource,
                namespace,
                message,
            } => {
                let scope = match namespace {
                    Some(ns) => format!(" in namespace {ns}"),
                    None => String::new(),
                };
                write!(
                    f,
                    "forbidden: cannot {verb} {resource}{scope} (RBAC: {verb} on {resource})"
                )?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            KubeError::Credentials { message } => f.write_str(message),
            KubeError::Unreachable { message } => {
                write!(f, "cannot reach the Kubernetes API server: {message}")
            }
            KubeError::Config { message } => write!(f, "kubeconfig: {message}"),
            KubeError::Api { code, message } if *code > 0 => {
                write!(f, "Kubernetes API error {code}: {message}")
            }
            KubeError::Api { message, .. } => write!(f, "Kubernetes API: {message}"),
        }
    }
}

impl std::error::Error for KubeError {}

impl From<KubeError> for SourceError {
    fn from(e: KubeError) -> SourceError {
        SourceError::new(e.to_string())
    }
}

/// The answer to a failed request, made specific.
pub fn classify(err: kube::Error, attempt: &Attempt<'_>) -> KubeError {
    match err {
        kube::Error::Api(status) if status.code == 403 || status.reason == "Forbidden" => {
            forbidden(&status, attempt)
        }
        kube::Error::Api(status) if status.code == 401 || status.reason == "Unauthorized" => {
            KubeError::Credentials {
                message: "the Kubernetes API server rejected the credentials (401 Unauthorized): \
                          the login has probably expired; log in again to refresh the kubeconfig"
                    .into(),
            }
        }
        kube::Error::Api(status) => {
            let mut message = clean_line(status.message.trim(), MAX_FIELD_CHARS);
            if message.is_empty() {
                message = clean_line(&status.reason, MAX_NAME_CHARS);
            }
            if status.code == 404 && attempt.verb == "list" {
                message = format!("{message} (is this a Kubernetes API server?)");
            }
            KubeError::Api {
                code: status.code,
                message,
            }
        }
        kube::Error::Auth(e) => KubeError::Credentials {
            message: auth_message(&e),
        },
        kube::Error::InferConfig(_) => KubeError::Config {
            message: "no usable kubeconfig and not running in a cluster".into(),
        },
        kube::Error::InferKubeconfig(e) => KubeError::Config {
            message: kubeconfig_message(&e),
        },
        kube::Error::RustlsTls(e) => KubeError::Config {
            message: format!(
                "the kubeconfig's certificates or key cannot be used: {}",
                clean_line(&e.to_string(), MAX_FIELD_CHARS)
            ),
        },
        kube::Error::SerdeError(e) => KubeError::Api {
            code: 0,
            message: format!(
                "cannot read the answer to {} {}: {}",
                attempt.verb,
                resource_name(attempt.resource, attempt.group),
                clean_line(&e.to_string(), MAX_FIELD_CHARS)
            ),
        },
        kube::Error::FromUtf8(_) => KubeError::Api {
            code: 0,
            message: "the API server's answer is not UTF-8".into(),
        },
        other => KubeError::Unreachable {
            message: chain_message(&other),
        },
    }
}

/// `deployments.apps`, `namespaces`: how RBAC and kubectl name a resource.
fn resource_name(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// A 403: the API server's message says which verb on which resource was
/// refused (`User "x" cannot list resource "namespaces" in API group "" at
/// the cluster scope`); when it does not, the request does.
fn forbidden(status: &kube::core::Status, attempt: &Attempt<'_>) -> KubeError {
    let message = clean_line(status.message.trim(), MAX_FIELD_CHARS);
    let after = |needle: &str, end: char| -> Option<String> {
        let start = message.find(needle)? + needle.len();
        let rest = &message[start..];
        let stop = rest.find(end).unwrap_or(rest.len());
        Some(rest[..stop].to_string())
    };
    let verb = after("cannot ", ' ')
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphabetic()))
        .unwrap_or_else(|| attempt.verb.to_string());
    let details_kind = status
        .details
        .as_ref()
        .map(|d| (d.kind.clone(), d.group.clone()))
        .filter(|(kind, _)| !kind.is_empty());
    let (resource, group) = match (after("resource \"", '"'), after("API group \"", '"')) {
        (Some(resource), group) if !resource.is_empty() => (resource, group.unwrap_or_default()),
        _ => match details_kind {
            Some(kind_group) => kind_group,
            None => (attempt.resource.to_string(), attempt.group.to_string()),
        },
    };
    let namespace = after("in the namespace \"", '"')
        .or_else(|| attempt.namespace.map(str::to_string))
        .filter(|ns| !ns.is_empty());
    KubeError::Forbidden {
        verb: clean_line(&verb, MAX_NAME_CHARS),
        resource: clean_line(&resource_name(&resource, &group), MAX_NAME_CHARS),
        namespace: namespace.map(|ns| clean_line(&ns, MAX_NAME_CHARS)),
        message,
    }
}

/// A credential plugin's failure without its output (which could hold a
/// token), and with what to do.
fn auth_message(e: &kube::client::AuthError) -> String {
    use kube::client::AuthError as A;
    let what = match e {
        A::AuthExecRun { cmd, out } => format!(
            "the kubeconfig's credential plugin `{}` failed ({})",
            clean_line(cmd, MAX_NAME_CHARS),
            out.status
        ),
        A::AuthExecStart(io) => format!("cannot run the kubeconfig's credential plugin: {io}"),
        A::ReadTokenFile(io, path) => {
            format!("cannot read the token file {}: {io}", path.display())
        }
        A::AuthExecParse(_) | A::ParseTokenKey(_) => {
            "the kubeconfig's credential plugin gave an answer that cannot be read".into()
        }
        A::InvalidBearerToken(_) | A::InvalidBasicAuth(_) => {
            "the kubeconfig's credentials are not valid header text".into()
        }
        other => clean_line(&other.to_string(), MAX_FIELD_CHARS),
    };
    format!(
        "no valid Kubernetes credentials: {what}; the login has probably expired: log in again \
         (running `kubectl get namespaces` shows the plugin's own message)"
    )
}

/// A kubeconfig error, without the data it was parsing (a YAML error can
/// quote a line holding a token; a key can fail to decode).
pub(crate) fn kubeconfig_message(e: &KubeconfigError) -> String {
    let text = match e {
        KubeconfigError::Parse(_) => "the kubeconfig is not valid YAML".to_string(),
        KubeconfigError::LoadClientKey(LoadDataError::ReadFile(io, path)) => {
            format!("cannot read the client key {}: {io}", path.display())
        }
        KubeconfigError::LoadClientKey(_) => "cannot load the client key".to_string(),
        KubeconfigError::LoadContext(context) => {
            format!("no context {context:?} in the kubeconfig (see `kubectl config get-contexts`)")
        }
        other => other.to_string(),
    };
    clean_line(&text, MAX_FIELD_CHARS)
}

/// The chain of causes, each said once: `tcp connect error: Connection
/// refused (os error 111)`.
fn chain_message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        let mut text = e.to_string();
        for prefix in ["ServiceError: ", "HyperError: "] {
            if let Some(rest) = text.strip_prefix(prefix) {
                text = rest.to_string();
            }
        }
        // Outer errors often repeat the inner one's text: keep the inner.
        if let Some(last) = parts.last_mut()
            && let Some(outer) = last.strip_suffix(&text)
        {
            *last = outer.trim_end_matches([':', ' ']).to_string();
        }
        if !text.is_empty() && !parts.contains(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.retain(|p| !p.is_empty());
    let message = parts.join(": ");
    let lower = message.to_lowercase();
    let hint = if lower.contains("certificate") && lower.contains("expired") {
        " (a certificate has expired)"
    } else if lower.contains("timed out") || lower.contains("deadline") {
        " (timed out)"
    } else {
        ""
    };
    clean_line(&format!("{message}{hint}"), MAX_FIELD_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    #[test]
    fn a_403_names_verb_resource_and_scope() {
        let status = Status::failure(
            "deployments.apps is forbidden: User \"system:serviceaccount:ops:site-status\" cannot list resource \"deployments\" in API group \"apps\" in the namespace \"borger\"",
            "Forbidden",
        )
        .with_code(403);
        let e = classify(
            kube::Error::Api(status.boxed()),
            &Attempt::list("deployments", "apps", Some("borger")),
        );
        assert_eq!(
            e.to_string(),
            "forbidden: cannot list deployments.apps in namespace borger (RBAC: list on deployments.apps): deployments.apps is forbidden: User \"system:serviceaccount:ops:site-status\" cannot list resource \"deployments\" in API group \"apps\" in the namespace \"borger\""
        );
    }

    #[test]
    fn a_403_without_a_readable_message_names_the_request() {
        let status = Status::failure("", "Forbidden").with_code(403);
        let e = classify(
            kube::Error::Api(status.boxed()),
            &Attempt::list("namespaces", "", None),
        );
        assert_eq!(
            e.to_string(),
            "forbidden: cannot list namespaces (RBAC: list on namespaces)"
        );
    }

    #[test]
    fn causes_are_said_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "client error (Connect): {}", self.0)
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused",
        ));
        assert_eq!(
            chain_message(&e),
            "client error (Connect): Connection refused"
        );
    }
}
