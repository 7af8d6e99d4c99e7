//! One HTTP client per backend, built from its configuration block: auth,
//! extra headers, TLS, timeouts. Shared by the Prometheus and Loki sources.
//! Error messages name the backend by a URL that never carries credentials
//! (the configuration refuses them in URLs) and never include a header.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::SourceError;
use crate::config::{BackendConfig, ConfigError};
use crate::secrets::clean_line;

/// Responses larger than this are refused: a proxy gone wrong or a hostile
/// endpoint must not exhaust the jump host's memory.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// What a body costs while read and once parsed, per byte of it: a sample
/// of ~85 bytes of JSON becomes compact labels and strings of ~300, held
/// next to the body while it is parsed. The budget counts the parsed
/// answer, since that is what the dashboard holds. Measured: at 250,000
/// sites (85 MB of answers) `check` peaks at about 500 MB.
pub const PARSED_PER_BODY_BYTE: usize = 5;

/// What one environment's answers may hold at once, shared by its
/// backends: the grid's five queries run in parallel, and each one's cap
/// alone would let an environment hold five times as much.
#[derive(Debug)]
pub struct ByteBudget {
    held: AtomicUsize,
    limit: usize,
    /// The key and environment to name when it is exceeded.
    named: String,
}

impl ByteBudget {
    pub fn new(limit_mib: u32, named: impl Into<String>) -> Arc<ByteBudget> {
        Arc::new(ByteBudget {
            held: AtomicUsize::new(0),
            limit: (limit_mib as usize).saturating_mul(1024 * 1024),
            named: named.into(),
        })
    }

    /// Bytes held by answers being read or parsed right now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

/// Bytes taken from a [`ByteBudget`], given back when dropped: held for
/// as long as what was parsed from them is.
#[derive(Debug)]
pub struct Lease {
    budget: Arc<ByteBudget>,
    bytes: usize,
}

impl Lease {
    fn take(&mut self, bytes: usize) -> bool {
        let before = self.budget.held.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.budget.limit {
            self.budget.held.fetch_sub(bytes, Ordering::Relaxed);
            return false;
        }
        self.bytes += bytes;
        true
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// A response body, counted against its environment's budget for as long
/// as it lives (it is parsed before it is dropped).
#[derive(Debug)]
pub struct Body {
    bytes: Vec<u8>,
    _lease: Option<Lease>,
}

impl Body {
    /// The body's share of the budget, to hold past the body itself while
    /// what was parsed from it lives.
    pub fn into_lease(self) -> Option<Lease> {
        self._lease
    }
}

impl std::ops::Deref for Body {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub client: reqwest::Client,
    pub base: url::Url,
    pub timeout: Duration,
    /// Said once at start (insecure TLS, say); never contains a secret.
    pub warnings: Vec<String>,
    /// The name messages use instead of the URL: the `kube://` URL of a
    /// backend reached through a local port-forward.
    pub shown_as: Option<String>,
    /// Shared with the environment's other backends; none in tests that
    /// build an endpoint alone.
    pub budget: Option<Arc<ByteBudget>>,
}

/// Reads a secret from where the configuration says it is.
pub trait SecretLookup {
    fn env(&self, name: &str) -> Option<String>;
    fn file(&self, path: &std::path::Path) -> std::io::Result<String>;
}

/// Secrets from a map instead of the process environment (files are still
/// read from disk): for tests and for programs that embed the sources.
impl SecretLookup for std::collections::HashMap<String, String> {
    fn env(&self, name: &str) -> Option<String> {
        self.get(name).cloned().filter(|v| !v.is_empty())
    }
    fn file(&self, path: &std::path::Path) -> std::io::Result<String> {
        crate::small_file::read_text(path, MAX_SECRET_FILE_BYTES)
    }
}

pub struct ProcessSecrets;

impl SecretLookup for ProcessSecrets {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
    fn file(&self, path: &std::path::Path) -> std::io::Result<String> {
        crate::small_file::read_text(path, MAX_SECRET_FILE_BYTES)
    }
}

/// A token or a password file is a few hundred bytes; a kubeconfig's
/// service-account token about two kilobytes.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;
/// A CA bundle of a few hundred certificates.
pub const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;

fn sensitive(value: String, what: &str) -> Result<HeaderValue, ConfigError> {
    let mut header = HeaderValue::from_str(&value).map_err(|_| {
        ConfigError(format!(
            "{what} contains characters not allowed in an HTTP header"
        ))
    })?;
    header.set_sensitive(true);
    Ok(header)
}

impl Endpoint {
    pub fn new(
        config: &BackendConfig,
        what: &str,
        secrets: &dyn SecretLookup,
    ) -> Result<Endpoint, ConfigError> {
        let mut headers = HeaderMap::new();
        if let Some(path) = &config.bearer_token_file {
            let token = secrets.file(path).map_err(|e| {
                ConfigError(format!(
                    "{what}: cannot read bearer_token_file {}: {e}",
                    path.display()
                ))
            })?;
            let token = token.trim().to_string();
            crate::secrets::register(&token);
            crate::secrets::register(&format!("Bearer {token}"));
            if token.is_empty() {
                return Err(ConfigError(format!(
                    "{what}: bearer_token_file {} is empty",
                    path.display()
                )));
            }
            headers.insert(
                AUTHORIZATION,
                sensitive(format!("Bearer {token}"), "the bearer token")?,
            );
        }
        if let Some(var) = &config.bearer_token_env {
            let token = secrets.env(var).ok_or_else(|| {
                ConfigError(format!(
                    "{what}: environment variable {var} (bearer_token_env) is not set"
                ))
            })?;
            crate::secrets::register(&token);
            crate::secrets::register(&format!("Bearer {}", token.trim()));
            headers.insert(
                AUTHORIZATION,
                sensitive(format!("Bearer {}", token.trim()), "the bearer token")?,
            );
        }
        if let Some(basic) = &config.basic_auth {
            let password = secrets.env(&basic.password_env).ok_or_else(|| {
                ConfigError(format!(
                    "{what}: environment variable {} (basic_auth.password_env) is not set",
                    basic.password_env
                ))
            })?;
            crate::secrets::register(&password);
            let credentials = format!("{}:{password}", basic.username);
            crate::secrets::register(&credentials);
            let encoded = BASE64.encode(credentials.as_bytes());
            // The header as sent, so that an echo of it encoded once more
            // is recognised too.
            crate::secrets::register(&encoded);
            crate::secrets::register(&format!("Basic {encoded}"));
            headers.insert(
                AUTHORIZATION,
                sensitive(format!("Basic {encoded}"), "the password")?,
            );
        }
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ConfigError(format!("{what}: {name:?} is not a header name")))?;
            // Header values may be tenant ids or keys alike: treat all as secret.
            crate::secrets::register(value);
            headers.insert(
                name.clone(),
                sensitive(value.clone(), &format!("header {name}"))?,
            );
        }

        let timeout = config.timeout.0;
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .gzip(true)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("site-status/", env!("CARGO_PKG_VERSION")));
        let mut warnings = Vec::new();
        if let Some(ca) = &config.ca_file {
            let pem = crate::small_file::read(ca, MAX_CA_FILE_BYTES).map_err(|e| {
                ConfigError(format!("{what}: cannot read ca_file {}: {e}", ca.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| {
                ConfigError(format!(
                    "{what}: ca_file {} holds no PEM certificate",
                    ca.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(ConfigError(format!(
                    "{what}: ca_file {} holds no PEM certificate",
                    ca.display()
                )));
            }
            builder = builder.tls_certs_merge(certs);
        }
        if config.url.0.scheme() == "http" && config.ca_file.is_none() {
            // Nothing of this endpoint goes over TLS: no need to load the
            // system's root store, which costs each client milliseconds. A
            // redirect to https then fails verification, trusting nothing.
            builder = builder.tls_certs_only(Vec::<reqwest::Certificate>::new());
        }
        if config.insecure_skip_verify {
            warnings.push(format!(
                "{what}: TLS certificate verification is OFF (insecure_skip_verify)"
            ));
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let client = builder
            .build()
            .map_err(|e| ConfigError(format!("{what}: cannot set up the HTTP client: {e}")))?;
        let mut base = config.url.0.clone();
        // Joining "api/v1/query" onto ".../prometheus" would drop the prefix.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Endpoint {
            client,
            base,
            timeout,
            warnings,
            shown_as: None,
            budget: None,
        })
    }

    pub fn url(&self, path: &str) -> Result<url::Url, SourceError> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| SourceError::new(format!("bad URL for {path}: {e}")))
    }

    /// How to name this backend in a message.
    pub fn display(&self) -> String {
        if let Some(shown) = &self.shown_as {
            return shown.clone();
        }
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.as_str().trim_end_matches('/').to_string()
    }

    /// Sends the request and reads its answer: the status and the body
    /// (bounded as [`Endpoint::read_body`] bounds it), or a transport error
    /// in the operator's words.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Body), SourceError> {
        let response = request.send().await.map_err(|e| self.describe(&e))?;
        let status = response.status().as_u16();
        let body = self.read_body(response).await?;
        Ok((status, body))
    }

    /// Reads a body up to `MAX_BODY_BYTES`, and within what the
    /// environment's budget has left.
    pub async fn read_body(&self, mut response: reqwest::Response) -> Result<Body, SourceError> {
        let mut body = Vec::new();
        let mut lease = self.budget.as_ref().map(|budget| Lease {
            budget: budget.clone(),
            bytes: 0,
        });
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(SourceError::new(format!(
                            "{}: response larger than {} MiB, refused",
                            self.display(),
                            MAX_BODY_BYTES >> 20
                        )));
                    }
                    if let Some(lease) = lease.as_mut()
                        && !lease.take(chunk.len().saturating_mul(PARSED_PER_BODY_BYTE))
                    {
                        return Err(SourceError::new(format!(
                            "{}: the answers of one poll need more than {} MiB ({}); raise it for a very large fleet, or narrow the selector",
                            self.display(),
                            lease.budget.limit >> 20,
                            lease.budget.named
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => {
                    return Ok(Body {
                        bytes: crate::secrets::redact_body(body),
                        _lease: lease,
                    });
                }
                Err(e) => return Err(self.describe(&e)),
            }
        }
    }

    /// A transport error in words an operator can act on.
    pub fn describe(&self, error: &reqwest::Error) -> SourceError {
        let target = self.display();
        if error.is_timeout() {
            return SourceError::new(format!(
                "{target}: no answer within {}s",
                self.timeout.as_secs_f64()
            ));
        }
        // The innermost cause says what actually happened ("Connection
        // refused", "invalid peer certificate: UnknownIssuer").
        let mut cause: &dyn std::error::Error = error;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let detail = clean_line(&cause.to_string(), 300);
        let kind = if error.is_connect() {
            "cannot connect"
        } else if error.is_decode() || error.is_body() {
            "broken response"
        } else if error.is_request() {
            "request failed"
        } else {
            "error"
        };
        SourceError::new(format!("{target}: {kind}: {detail}"))
    }
}

/// The start of a non-API body (a proxy's HTML error page), as plain text.
pub fn body_excerpt(body: &[u8]) -> String {
    // Secrets come out before the text is cut short: a secret cut in two
    // by the excerpt's end would no longer be recognised. The margin lets
    // one that straddles the first 4 KiB be found whole.
    let text = String::from_utf8_lossy(&body[..body.len().min(4096 + 1024)]);
    let text = crate::secrets::redact(&text);
    let text = match text.char_indices().nth(4096) {
        Some((cut, _)) => &text[..cut],
        None => &text[..],
    };
    let lower = text.to_ascii_lowercase();
    let html = ["<html", "<!doctype", "<body", "<head", "<h1"]
        .iter()
        .any(|tag| lower.contains(tag));
    if !html {
        return clean_line(&text.split_whitespace().collect::<Vec<_>>().join(" "), 160);
    }
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                plain.push(' ');
            }
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = plain.split_whitespace().collect();
    clean_line(&words.join(" "), 160)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_error_pages_become_one_readable_line() {
        let page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>\n<hr>nginx</body></html>";
        assert_eq!(body_excerpt(page), "502 Bad Gateway 502 Bad Gateway nginx");
        assert_eq!(
            body_excerpt(b"\x1b[31mred\x1b[0m"),
            "\u{FFFD}[31mred\u{FFFD}[0m"
        );
    }
}
