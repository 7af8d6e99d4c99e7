//! The configuration file: which environments exist and how to reach their
//! backends. Parsing reports errors with the file, the line and the key;
//! secrets are never read into this struct, only where to find them (an
//! environment variable or a file), so nothing here can print one.

pub mod terminal_env;
pub mod theme_file;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use site_status_contract::names;

mod selector;
pub use selector::{MatchOp, Matcher, Selector};

pub const ENV_VAR: &str = "SITE_STATUS_CONFIG";
pub const MIN_REFRESH: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Seconds between polls of each backend.
    #[serde(default = "default_refresh")]
    pub refresh_interval: RefreshInterval,
    /// A site whose last run is older than this is stale.
    #[serde(default = "default_stale_after")]
    pub stale_after: Seconds,
    /// How long a site that vanished from the metrics stays on screen as
    /// "no data" before it is forgotten.
    #[serde(default = "default_forget_after")]
    pub forget_after: Seconds,
    /// How many transitions the dashboard's log keeps.
    #[serde(default = "default_transition_log_size")]
    pub transition_log_size: usize,
    /// Grid cells that changed within this long carry a change marker.
    #[serde(default = "default_change_marker")]
    pub change_marker: Seconds,
    /// Environments in this order first, the rest alphabetically.
    #[serde(default = "default_order")]
    pub environment_order: Vec<String>,
    /// The colour theme: a built-in one, a file in this directory's
    /// `themes/`, or a path (relative to this file); `--theme` overrides it.
    #[serde(default)]
    pub theme: Option<String>,
    /// Mouse clicks and the wheel in the dashboard. Off leaves the
    /// terminal's own mouse handling (selecting text) alone.
    #[serde(default = "default_mouse")]
    pub mouse: bool,
    /// Times on screen in UTC rather than the local zone; `--utc` does the
    /// same.
    #[serde(default)]
    pub utc: bool,
    /// Who the operator is, for the silences `m` makes (`createdBy`);
    /// default: `$USER`.
    #[serde(default)]
    pub operator: Option<String>,
    /// Whether the grid's polls read the alerts. Not a setting of the
    /// file: `check`, which prints no alert, asks for none.
    #[serde(skip, default = "default_read_alerts")]
    pub read_alerts: bool,
    #[serde(default)]
    pub labels: LabelNames,
    #[serde(default)]
    pub metrics: MetricNames,
    #[serde(default, rename = "environment")]
    pub environments: Vec<EnvironmentConfig>,
    /// Accepted requirements that do not count toward a site's severity.
    #[serde(default, rename = "mute")]
    pub mutes: Vec<MuteConfig>,
}

fn default_refresh() -> RefreshInterval {
    RefreshInterval(Duration::from_secs(15))
}
/// A site whose last run is older than this is stale, unless the
/// configuration says otherwise.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(30 * 60);

fn default_stale_after() -> Seconds {
    Seconds(DEFAULT_STALE_AFTER)
}
fn default_forget_after() -> Seconds {
    Seconds(Duration::from_secs(24 * 3600))
}
fn default_transition_log_size() -> usize {
    1000
}
fn default_change_marker() -> Seconds {
    Seconds(Duration::from_secs(5 * 60))
}
fn default_order() -> Vec<String> {
    vec!["dev".into(), "test".into(), "prod".into()]
}

/// The contract's label names, each overridable: a real fleet may call
/// `site` `namespace`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LabelNames {
    pub site: LabelName,
    pub profile: LabelName,
    pub requirement: LabelName,
}

impl Default for LabelNames {
    fn default() -> Self {
        LabelNames {
            site: LabelName(names::SITE_LABEL.into()),
            profile: LabelName(names::PROFILE_LABEL.into()),
            requirement: LabelName(names::REQUIREMENT_LABEL.into()),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricNames {
    pub requirement_severity: MetricName,
    pub report_success: MetricName,
    pub last_run_timestamp: MetricName,
    /// When the last run that parsed ran: how old the last good report
    /// is, for a site whose runs keep failing.
    pub last_success_timestamp: MetricName,
    pub run_duration: MetricName,
    /// Present while a site's last run failed; why, in its `class` and
    /// `exit_code` labels.
    pub report_failure: MetricName,
    pub info: MetricName,
    /// The scrape job of the status workloads, for `up`.
    pub job: String,
}

impl Default for MetricNames {
    fn default() -> Self {
        MetricNames {
            requirement_severity: MetricName(names::REQUIREMENT_SEVERITY.into()),
            report_success: MetricName(names::REPORT_SUCCESS.into()),
            last_run_timestamp: MetricName(names::LAST_RUN_TIMESTAMP.into()),
            last_success_timestamp: MetricName(names::LAST_SUCCESS_TIMESTAMP.into()),
            run_duration: MetricName(names::RUN_DURATION.into()),
            report_failure: MetricName(names::REPORT_FAILURE.into()),
            info: MetricName(names::INFO.into()),
            job: names::JOB.into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    pub name: EnvName,
    /// Label matchers added to every query, e.g. `env="prod"`.
    #[serde(default)]
    pub selector: Option<Selector>,
    pub prometheus: BackendConfig,
    #[serde(default)]
    pub loki: Option<BackendConfig>,
    /// The environment's Alertmanager: mutes are its silences, shared by
    /// the team, instead of the dashboard's own mutes file.
    #[serde(default)]
    pub alertmanager: Option<BackendConfig>,
    /// Where the environment's sites live in Kubernetes (optional).
    #[serde(default)]
    pub kube: Option<KubeConfig>,
    /// A site's address, `{site}` (and `{env}`) filled in: what `y`
    /// copies; without it `y` copies the site's name.
    #[serde(default)]
    pub site_url: Option<SiteUrlTemplate>,
    /// MiB the environment's backend answers may take at once, parsed: the
    /// grid's parallel queries together, and a detail query beside them
    /// (counted as five times their bodies' size). A poll past it fails
    /// with a message instead of growing the dashboard.
    #[serde(default = "default_max_poll_mib")]
    pub max_poll_mib: u32,
    /// Sites the environment may report; more is an error (a selector that
    /// matches far too much, a backend gone wrong).
    #[serde(default = "default_max_sites")]
    pub max_sites: usize,
    /// The grid reads the series that deploy/prometheus/site-status.rules.yml
    /// records instead of aggregating the raw ones on every poll: the same
    /// answers, much cheaper for Prometheus. Needs those rules loaded, and
    /// the contract's default metric and label names.
    #[serde(default)]
    pub use_recording_rules: bool,
}

/// The five answers at 10,000 sites take about 25 MiB parsed; 100,000
/// sites (`DEFAULT_MAX_SITES`) fit.
pub const DEFAULT_MAX_POLL_MIB: u32 = 256;
pub const DEFAULT_MAX_SITES: usize = 100_000;

fn default_max_poll_mib() -> u32 {
    DEFAULT_MAX_POLL_MIB
}

fn default_max_sites() -> usize {
    DEFAULT_MAX_SITES
}

/// `https://{site}.kk.dk`: an http(s) URL with a `{site}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteUrlTemplate(pub String);

impl<'de> Deserialize<'de> for SiteUrlTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if !text.contains("{site}") {
            return Err(de::Error::custom(
                "site_url needs a {site} placeholder, e.g. \"https://{site}.kk.dk\"",
            ));
        }
        let sample = text.replace("{site}", "borger").replace("{env}", "prod");
        let url = url::Url::parse(&sample)
            .map_err(|e| de::Error::custom(format!("site_url is not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(de::Error::custom("site_url must be an http or https URL"));
        }
        Ok(SiteUrlTemplate(text))
    }
}

impl SiteUrlTemplate {
    pub fn fill(&self, env: &str, site: &str) -> String {
        self.0.replace("{site}", site).replace("{env}", env)
    }
}

/// `[environment.kube]`: the cluster that runs the environment's sites.
/// Credentials come from the kubeconfig (`KUBECONFIG` or `~/.kube/config`),
/// never from this file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KubeConfig {
    /// The kubeconfig file; default: `KUBECONFIG`, else `~/.kube/config`
    /// (else the in-cluster service account).
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; default: the kubeconfig's current context.
    #[serde(default)]
    pub context: Option<KubeContext>,
    /// Label selector of the site namespaces, e.g.
    /// `sitefactory.dk/type=site`. Required: without it every namespace
    /// (kube-system too) would be a site.
    pub namespace_selector: LabelSelector,
    /// Namespace label holding the site's name; default: the namespace's
    /// own name.
    #[serde(default)]
    pub site_label: Option<LabelKey>,
    /// Namespace label holding the site's install profile; default: none
    /// (the profile then comes from the metrics only).
    #[serde(default)]
    pub profile_label: Option<LabelKey>,
    /// The Service of the status agent in each site namespace, which the
    /// site view's `r` asks for a run through the API server's service
    /// proxy; default `site-status-agent` (deploy/kubernetes/base).
    #[serde(default = "AgentService::default_service")]
    pub agent_service: AgentService,
    /// That Service's port, by name or number; default `metrics`.
    #[serde(default = "AgentService::default_port")]
    pub agent_port: AgentService,
}

/// A Service's name or port as it goes into the API server's proxy path
/// (`services/NAME:PORT/proxy`): a DNS label (lowercase letters, digits
/// and `-`, at most 63) or a port number, so nothing else can reach the
/// path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentService(pub String);

impl AgentService {
    fn default_service() -> AgentService {
        AgentService("site-status-agent".into())
    }

    fn default_port() -> AgentService {
        AgentService("metrics".into())
    }
}

impl<'de> Deserialize<'de> for AgentService {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum NameOrNumber {
            Name(String),
            Number(u16),
        }
        let text = match NameOrNumber::deserialize(d)? {
            NameOrNumber::Name(name) => name,
            NameOrNumber::Number(n) => n.to_string(),
        };
        let b = text.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 63
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
        if !ok {
            return Err(de::Error::custom(format!(
                "{text:?} is not a Service name or port: lowercase letters, digits and '-', \
                 at most 63, starting and ending with a letter or digit"
            )));
        }
        Ok(AgentService(text))
    }
}

/// A kubeconfig context name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeContext(pub String);

impl<'de> Deserialize<'de> for KubeContext {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().is_empty() || text.chars().any(char::is_control) {
            return Err(de::Error::custom(
                "a context name may not be empty; leave `context` out for the current one",
            ));
        }
        Ok(KubeContext(text))
    }
}

/// A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 letters, digits, `-`, `_` or `.` that starts and ends
/// with a letter or digit (`sitefactory.dk/site`, `app`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelKey(pub String);

impl<'de> Deserialize<'de> for LabelKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        check_label_key(&text).map_err(de::Error::custom)?;
        Ok(LabelKey(text))
    }
}

/// A Kubernetes label selector, as `kubectl get -l` takes it:
/// `sitefactory.dk/type=site,tier!=test`, `env in (prod,test)`, `!legacy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector(pub String);

impl<'de> Deserialize<'de> for LabelSelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        check_label_selector(&text).map_err(de::Error::custom)?;
        Ok(LabelSelector(text.trim().to_string()))
    }
}

fn label_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn dns_subdomain_ok(prefix: &str) -> bool {
    prefix.len() <= 253
        && prefix.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

pub fn check_label_key(text: &str) -> Result<(), String> {
    let (prefix, name) = match text.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, text),
    };
    if prefix.is_some_and(|p| !dns_subdomain_ok(p)) || !label_name_ok(name) {
        return Err(format!(
            "{text:?} is not a Kubernetes label key (like \"sitefactory.dk/site\")"
        ));
    }
    Ok(())
}

fn label_value_ok(value: &str) -> bool {
    value.is_empty() || label_name_ok(value)
}

pub fn check_label_selector(text: &str) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the selector may not be empty (e.g. \"sitefactory.dk/type=site\")".into());
    }
    // Split on the commas that are not inside `in (a,b)`.
    let mut requirements = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                requirements.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err(format!("unbalanced parentheses in {text:?}"));
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced parentheses in {text:?}"));
    }
    requirements.push(&text[start..]);
    for requirement in requirements {
        check_label_requirement(requirement.trim())?;
    }
    Ok(())
}

fn check_label_requirement(req: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "{req:?} is not a label selector requirement (key=value, key!=value, key in (a,b), key notin (a,b), key or !key)"
        )
    };
    if req.is_empty() {
        return Err("empty requirement between commas".into());
    }
    if let Some(key) = req.strip_prefix('!') {
        return check_label_key(key.trim());
    }
    for op in ["==", "!=", "="] {
        if let Some((key, value)) = req.split_once(op) {
            check_label_key(key.trim())?;
            let value = value.trim();
            if !label_value_ok(value) {
                return Err(format!("{value:?} is not a label value"));
            }
            return Ok(());
        }
    }
    for op in [" notin ", " in "] {
        if let Some((key, values)) = req.split_once(op) {
            check_label_key(key.trim())?;
            let values = values
                .trim()
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(bad)?;
            for value in values.split(',') {
                if !label_value_ok(value.trim()) {
                    return Err(format!("{:?} is not a label value", value.trim()));
                }
            }
            return Ok(());
        }
    }
    if req.contains(|c: char| c.is_whitespace() || "()<>".contains(c)) {
        return Err(bad());
    }
    check_label_key(req)
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    pub url: HttpUrl,
    /// Bearer token read from this file (a Kubernetes service account
    /// token, say) at start.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// Bearer token read from this environment variable.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// Extra request headers, e.g. `X-Scope-OrgID` for Mimir or Loki.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// PEM file with the CA that signed the backend's certificate.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Turns off TLS certificate verification. Only for a lab.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    #[serde(default = "default_timeout")]
    pub timeout: Seconds,
}

fn default_mouse() -> bool {
    true
}

fn default_read_alerts() -> bool {
    true
}

fn default_timeout() -> Seconds {
    Seconds(Duration::from_secs(10))
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    /// The password is only ever read from this environment variable.
    pub password_env: String,
}

/// A duration written as seconds (`90`) or with a unit (`"90s"`, `"30m"`,
/// `"2h"`, `"1d"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Float(f64),
            Text(String),
        }
        let raw = Raw::deserialize(d).map_err(|_| {
            de::Error::custom("expected a duration: seconds (90) or with a unit (\"90s\", \"30m\", \"2h\", \"1d\")")
        })?;
        let secs = match raw {
            Raw::Int(n) if n >= 0 => n as f64,
            Raw::Float(f) if f >= 0.0 && f.is_finite() => f,
            Raw::Text(t) => parse_duration(&t).map_err(de::Error::custom)?,
            _ => return Err(de::Error::custom("a duration cannot be negative")),
        };
        Duration::try_from_secs_f64(secs)
            .map(Seconds)
            .map_err(|_| de::Error::custom("a duration too long to be meant"))
    }
}

pub fn parse_duration(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like \"90s\", \"30m\", \"2h\""))?;
    let factor = match unit.trim() {
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use s, m, h or d"
            ));
        }
    };
    Ok(value * factor)
}

/// The refresh interval, at least two seconds: faster polling of a fleet's
/// Prometheus buys nothing and costs the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshInterval(pub Duration);

impl<'de> Deserialize<'de> for RefreshInterval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Seconds(value) = Seconds::deserialize(d)?;
        if value < MIN_REFRESH {
            return Err(de::Error::custom(format!(
                "refresh_interval must be at least {}s",
                MIN_REFRESH.as_secs()
            )));
        }
        Ok(RefreshInterval(value))
    }
}

/// An http(s) URL, which may carry a path prefix (Mimir's `/prometheus`).
/// Credentials in the URL are refused: they would end up in error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(pub url::Url);

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let url =
            url::Url::parse(&text).map_err(|e| de::Error::custom(format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https" | "kube") {
            return Err(de::Error::custom(format!(
                "unsupported scheme {:?}; use http, https or kube (kube://NAMESPACE/SERVICE:PORT)",
                url.scheme()
            )));
        }
        if url.scheme() == "kube" {
            KubeTarget::from_url(&url).map_err(de::Error::custom)?;
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(de::Error::custom(
                "put credentials in basic_auth (password_env), not in the URL",
            ));
        }
        if url.query().is_some() {
            return Err(de::Error::custom("the URL may not have a query string"));
        }
        Ok(HttpUrl(url))
    }
}

/// A backend inside the environment's cluster, reached by port-forward
/// through the API server: `kube://NAMESPACE/SERVICE:PORT[/PATH]`. PORT is
/// the Service's port, by number or by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KubeTarget {
    pub namespace: String,
    pub service: String,
    pub port: ServicePort,
    /// Path prefix on the backend (`/prometheus` for Mimir), `/` if none.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServicePort {
    Number(u16),
    Name(String),
}

impl fmt::Display for ServicePort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServicePort::Number(n) => write!(f, "{n}"),
            ServicePort::Name(n) => f.write_str(n),
        }
    }
}

impl KubeTarget {
    pub fn from_url(url: &url::Url) -> Result<KubeTarget, String> {
        const FORM: &str = "write kube://NAMESPACE/SERVICE:PORT";
        let namespace = url.host_str().unwrap_or_default().to_string();
        if !is_dns_label(&namespace) {
            return Err(format!("{namespace:?} is not a namespace name; {FORM}"));
        }
        if url.port().is_some() {
            return Err(format!("the port goes after the service; {FORM}"));
        }
        let mut segments = url.path().trim_start_matches('/').splitn(2, '/');
        let first = segments.next().unwrap_or_default();
        let rest = segments.next().unwrap_or_default();
        let Some((service, port)) = first.split_once(':') else {
            return Err(format!("no SERVICE:PORT after the namespace; {FORM}"));
        };
        if !is_dns_label(service) {
            return Err(format!("{service:?} is not a service name; {FORM}"));
        }
        let port = match port.parse::<u16>() {
            Ok(n) if n > 0 => ServicePort::Number(n),
            _ if is_dns_label(port) && port.chars().any(|c| c.is_ascii_alphabetic()) => {
                ServicePort::Name(port.to_string())
            }
            _ => return Err(format!("{port:?} is not a port number or name; {FORM}")),
        };
        Ok(KubeTarget {
            namespace,
            service: service.to_string(),
            port,
            path: format!("/{rest}"),
        })
    }
}

impl fmt::Display for KubeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kube://{}/{}:{}{}",
            self.namespace,
            self.service,
            self.port,
            self.path.trim_end_matches('/')
        )
    }
}

/// An RFC 1123 label: what namespaces, services and port names are.
fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

impl HttpUrl {
    /// The cluster backend this URL names, for `kube://` URLs.
    pub fn kube_target(&self) -> Option<KubeTarget> {
        (self.0.scheme() == "kube")
            .then(|| KubeTarget::from_url(&self.0).ok())
            .flatten()
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// A Prometheus label or metric name.
fn valid_name(text: &str, allow_colon: bool) -> bool {
    let mut chars = text.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (allow_colon && c == ':'));
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':'))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelName(pub String);

impl<'de> Deserialize<'de> for LabelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if !valid_name(&text, false) {
            return Err(de::Error::custom(format!(
                "{text:?} is not a Prometheus label name"
            )));
        }
        Ok(LabelName(text))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricName(pub String);

impl<'de> Deserialize<'de> for MetricName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if !valid_name(&text, true) {
            return Err(de::Error::custom(format!(
                "{text:?} is not a Prometheus metric name"
            )));
        }
        Ok(MetricName(text))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvName(pub String);

impl<'de> Deserialize<'de> for EnvName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let ok = !text.is_empty()
            && text.len() <= 40
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(de::Error::custom(
                "an environment name is 1-40 letters, digits, '-', '_' or '.'",
            ));
        }
        Ok(EnvName(text))
    }
}

/// A `[[mute]]` block: a requirement that fails and is accepted. The same
/// keys make up the dashboard's own rules file (`mute_store`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuteConfig {
    /// The requirement id, exactly as Drupal reports it.
    pub requirement: MuteText,
    /// Left out: every environment; else one configured environment.
    #[serde(default)]
    pub env: Option<toml::Spanned<MuteText>>,
    #[serde(default)]
    pub profile: Option<MuteText>,
    #[serde(default)]
    pub site: Option<MuteText>,
    /// Why the failure is accepted.
    pub reason: MuteText,
    /// `YYYY-MM-DD` (through that day, UTC) or an RFC 3339 time.
    #[serde(default)]
    pub expires: Option<MuteExpiry>,
}

impl MuteConfig {
    pub fn to_rule(&self, origin: crate::model::RuleOrigin) -> crate::model::MuteRule {
        crate::model::MuteRule {
            requirement: self.requirement.0.clone(),
            env: self.env.as_ref().map(|e| e.get_ref().0.clone()),
            profile: self.profile.as_ref().map(|p| p.0.clone()),
            site: self.site.as_ref().map(|s| s.0.clone()),
            reason: self.reason.0.clone(),
            expires: self.expires.map(|e| e.0),
            origin,
        }
    }
}

/// Text that may not be empty (a mute rule's id, reason or scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuteText(pub String);

impl<'de> Deserialize<'de> for MuteText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().is_empty() {
            return Err(de::Error::custom("may not be empty"));
        }
        Ok(MuteText(text))
    }
}

/// A mute rule's expiry as unix seconds; the rule applies strictly before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuteExpiry(pub i64);

impl<'de> Deserialize<'de> for MuteExpiry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d).map_err(|_| {
            de::Error::custom(
                "expected a date in quotes: \"2026-03-01\" or \"2026-03-01T12:00:00Z\"",
            )
        })?;
        crate::model::mute::parse_expiry(&text)
            .map(MuteExpiry)
            .map_err(de::Error::custom)
    }
}

/// A configuration error, worded for the person editing the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::secrets::redact(&self.0))
    }
}

impl std::error::Error for ConfigError {}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Even a configuration listing hundreds of mutes is far smaller.
pub const MAX_CONFIG_FILE_BYTES: u64 = 4 * 1024 * 1024;

impl Config {
    /// Who makes the silences: `operator`, else `$USER`, else "site-status".
    pub fn operator_name(&self) -> String {
        self.operator
            .clone()
            .filter(|o| !o.trim().is_empty())
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "site-status".to_string())
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = crate::small_file::read_text(path, MAX_CONFIG_FILE_BYTES)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let location = match e.span() {
                Some(span) => {
                    let line = line_of(text, span.start);
                    // Name the key, never echo the value: it may be a secret.
                    let source = text.lines().nth(line - 1).unwrap_or("");
                    let key = source
                        .split_once('=')
                        .map(|(k, _)| k.trim())
                        .filter(|k| !k.is_empty() && !k.starts_with('['))
                        .map(|k| format!("key `{k}`: "))
                        .unwrap_or_default();
                    format!("{}:{line}: {key}{}", path.display(), e.message().trim())
                }
                None => format!("{}: {}", path.display(), e.message().trim()),
            };
            ConfigError(location)
        })?;
        config.validate(text, path)?;
        Ok(config)
    }

    /// Rules that span several keys.
    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let line_of_env = |name: &str| {
            let needle_a = format!("name = \"{name}\"");
            let needle_b = format!("name = '{name}'");
            text.find(&needle_a)
                .or_else(|| text.find(&needle_b))
                .map(|at| line_of(text, at))
                .unwrap_or(0)
        };
        let fail = |name: &str, message: String| {
            ConfigError(format!(
                "{}:{}: environment {name:?}: {message}",
                path.display(),
                line_of_env(name)
            ))
        };
        if self.environments.is_empty() {
            return Err(ConfigError(format!(
                "{}: no [[environment]] is configured; see `site-status config init`",
                path.display()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for env in &self.environments {
            let name = env.name.0.as_str();
            if !seen.insert(name) {
                return Err(fail(name, "name is used twice".into()));
            }
            if env.use_recording_rules {
                self.check_recording_rules(env)
                    .map_err(|why| fail(name, why))?;
            }
            for (which, backend) in [
                ("prometheus", Some(&env.prometheus)),
                ("loki", env.loki.as_ref()),
                ("alertmanager", env.alertmanager.as_ref()),
            ] {
                let Some(b) = backend else { continue };
                if b.url.kube_target().is_some() && env.kube.is_none() {
                    return Err(fail(
                        name,
                        format!(
                            "{which}: a kube:// URL needs [environment.kube] for the cluster to forward through"
                        ),
                    ));
                }
                if b.url.kube_target().is_some() && (b.ca_file.is_some() || b.insecure_skip_verify)
                {
                    return Err(fail(
                        name,
                        format!(
                            "{which}: a kube:// backend is spoken to in plain HTTP inside the port-forward; ca_file and insecure_skip_verify do not apply"
                        ),
                    ));
                }
                let auths = usize::from(b.bearer_token_file.is_some())
                    + usize::from(b.bearer_token_env.is_some())
                    + usize::from(b.basic_auth.is_some());
                if auths > 1 {
                    return Err(fail(
                        name,
                        format!(
                            "{which}: choose one of bearer_token_file, bearer_token_env and basic_auth"
                        ),
                    ));
                }
                for header in b.headers.keys() {
                    if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                        return Err(fail(
                            name,
                            format!("{which}: {header:?} is not a header name"),
                        ));
                    }
                }
            }
        }
        for mute in &self.mutes {
            if let Some(env) = &mute.env
                && !self
                    .environments
                    .iter()
                    .any(|e| e.name.0 == env.get_ref().0)
            {
                return Err(ConfigError(format!(
                    "{}:{}: key `env`: [[mute]] for {:?}: no environment {:?} is configured",
                    path.display(),
                    line_of(text, env.span().start),
                    mute.requirement.0,
                    env.get_ref().0
                )));
            }
        }
        Ok(())
    }

    /// deploy/prometheus/site-status.rules.yml records the contract's own
    /// names, aggregated by env, site and profile: a fleet named otherwise,
    /// or a selector on any other label, would find nothing there.
    fn check_recording_rules(&self, env: &EnvironmentConfig) -> Result<(), String> {
        if self.labels != LabelNames::default() || self.metrics != MetricNames::default() {
            return Err(
                "use_recording_rules needs the contract's metric and label names (the rules \
                 record those); leave [labels] and [metrics] at their defaults, or edit the rules"
                    .into(),
            );
        }
        let kept = ["env", "site", "profile"];
        for matcher in env.selector.iter().flat_map(|s| &s.matchers) {
            if !kept.contains(&matcher.name.as_str()) {
                return Err(format!(
                    "use_recording_rules: the recorded series keep only env, site and profile, \
                     so the selector cannot match on {:?}",
                    matcher.name
                ));
            }
        }
        Ok(())
    }

    /// The `[[mute]]` rules, in file order.
    pub fn mute_rules(&self) -> Vec<crate::model::MuteRule> {
        self.mutes
            .iter()
            .map(|m| m.to_rule(crate::model::RuleOrigin::Config))
            .collect()
    }

    pub fn environment_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.environments.iter().map(|e| e.name.0.clone()).collect();
        crate::model::order_environments(&mut names, &self.environment_order);
        names
    }
}

/// Where the configuration lives: `--config`, then `SITE_STATUS_CONFIG`
/// (clap reads both into one option), then the user's config directory.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "site-status")
        .map(|d| d.config_dir().join("config.toml"))
}

/// The file `config init` writes: every key, commented.
pub const EXAMPLE: &str = include_str!("../config.example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/site-status.toml"))
    }

    const SMALLEST: &str = r#"
[[environment]]
name = "prod"
selector = 'env="prod"'          # optional

[environment.prometheus]
url = "http://127.0.0.1:9090"
"#;

    #[test]
    fn a_duration_too_long_for_any_clock_is_an_error() {
        let error = parse(&format!("refresh_interval = 1e300\n{SMALLEST}")).unwrap_err();
        assert!(error.to_string().contains("too long"), "{error}");
    }

    #[test]
    fn times_are_local_unless_utc_is_asked_for() {
        assert!(!parse(SMALLEST).unwrap().utc);
        assert!(parse(&format!("utc = true\n{SMALLEST}")).unwrap().utc);
        assert!(parse(&format!("utc = \"yes\"\n{SMALLEST}")).is_err());
    }

    #[test]
    fn mouse_and_site_url_have_defaults_and_are_checked() {
        let c = parse(SMALLEST).unwrap();
        assert!(c.mouse);
        assert_eq!(c.environments[0].site_url, None);
        let c = parse(&format!("mouse = false\n{SMALLEST}")).unwrap();
        assert!(!c.mouse);
        let with = |url: &str| {
            parse(&SMALLEST.replace(
                "selector = 'env=\"prod\"'",
                &format!("selector = 'env=\"prod\"'\nsite_url = \"{url}\""),
            ))
        };
        let c = with("https://{site}.{env}.kk.dk/").unwrap();
        let template = c.environments[0].site_url.as_ref().unwrap();
        assert_eq!(
            template.fill("prod", "borger"),
            "https://borger.prod.kk.dk/"
        );
        let e = with("https://kk.dk/").unwrap_err().0;
        assert!(
            e.contains(":5: key `site_url`") && e.contains("{site}"),
            "{e}"
        );
        let e = with("ftp://{site}.kk.dk").unwrap_err().0;
        assert!(e.contains("http or https"), "{e}");
    }

    #[test]
    fn kube_urls_name_a_service_port_in_a_namespace() {
        let kube = "[environment.kube]\nnamespace_selector = \"t=site\"\n";
        let with = |url: &str| {
            parse(&format!(
                "{}{kube}",
                SMALLEST.replace("http://127.0.0.1:9090", url)
            ))
        };
        let c = with("kube://monitoring/prometheus-k8s:9090").unwrap();
        let target = c.environments[0].prometheus.url.kube_target().unwrap();
        assert_eq!(target.namespace, "monitoring");
        assert_eq!(target.service, "prometheus-k8s");
        assert_eq!(target.port, ServicePort::Number(9090));
        assert_eq!(target.path, "/");
        assert_eq!(target.to_string(), "kube://monitoring/prometheus-k8s:9090");
        let c = with("kube://mimir/gateway:http-metrics/prometheus").unwrap();
        let target = c.environments[0].prometheus.url.kube_target().unwrap();
        assert_eq!(target.port, ServicePort::Name("http-metrics".into()));
        assert_eq!(target.path, "/prometheus");
        for (bad, says) in [
            ("kube://monitoring/prometheus", "no SERVICE:PORT"),
            (
                "kube://monitoring:9090/prometheus",
                "the port goes after the service",
            ),
            ("kube://Monitoring/prometheus:9090", "not a namespace name"),
            (
                "kube://monitoring/prometheus:0",
                "not a port number or name",
            ),
            ("kube://monitoring/Prom:9090", "not a service name"),
        ] {
            let e = with(bad).unwrap_err().0;
            assert!(
                e.contains(says) && e.contains(":7: key `url`"),
                "{bad}: {e}"
            );
        }
        // Without a cluster to forward through, it is refused.
        let e = parse(&SMALLEST.replace("http://127.0.0.1:9090", "kube://monitoring/p:9090"))
            .unwrap_err()
            .0;
        assert!(e.contains("needs [environment.kube]"), "{e}");
    }

    #[test]
    fn the_smallest_configuration_gets_every_default() {
        let c = parse(SMALLEST).unwrap();
        assert_eq!(c.refresh_interval.0, Duration::from_secs(15));
        assert_eq!(c.stale_after.0, Duration::from_secs(1800));
        assert_eq!(c.environments.len(), 1);
        let env = &c.environments[0];
        assert_eq!(env.name.0, "prod");
        assert_eq!(env.selector.as_ref().unwrap().text, "env=\"prod\"");
        assert_eq!(env.prometheus.timeout.0, Duration::from_secs(10));
        assert!(!env.prometheus.insecure_skip_verify);
        assert_eq!(c.labels.site.0, "site");
        assert_eq!(
            c.metrics.requirement_severity.0,
            "drupal_requirement_severity"
        );
    }

    #[test]
    fn the_shipped_example_parses() {
        let c = parse(EXAMPLE).unwrap();
        assert!(c.environments.len() >= 3);
        assert_eq!(c.environment_names(), ["dev", "test", "prod"]);
    }

    #[test]
    fn unknown_keys_name_the_file_line_and_key() {
        let text = SMALLEST.replace("url = ", "urll = ");
        let e = parse(&text).unwrap_err().0;
        assert!(e.starts_with("/etc/site-status.toml:7:"), "{e}");
        assert!(e.contains("urll"), "{e}");
    }

    #[test]
    fn bad_values_name_the_line_and_key() {
        let e = parse(&format!("refresh_interval = 1\n{SMALLEST}"))
            .unwrap_err()
            .0;
        assert!(e.starts_with("/etc/site-status.toml:1:"), "{e}");
        assert!(e.contains("refresh_interval"), "{e}");

        let e = parse(&SMALLEST.replace("http://127.0.0.1:9090", "ftp://x"))
            .unwrap_err()
            .0;
        assert!(
            e.contains(":7:") && e.contains("scheme") && e.contains("url"),
            "{e}"
        );

        let e = parse(&SMALLEST.replace("env=\"prod\"", "{env=\"prod\"}"))
            .unwrap_err()
            .0;
        assert!(e.contains(":4:") && e.contains("selector"), "{e}");

        let e = parse(&format!("stale_after = \"10 parsecs\"\n{SMALLEST}"))
            .unwrap_err()
            .0;
        assert!(e.contains(":1:") && e.contains("stale_after"), "{e}");
    }

    #[test]
    fn credentials_in_the_url_are_refused() {
        let e = parse(&SMALLEST.replace("http://", "http://admin:hunter2@"))
            .unwrap_err()
            .0;
        assert!(e.contains("basic_auth") && e.contains("key `url`"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn two_auth_methods_are_refused() {
        let text = format!(
            "{SMALLEST}bearer_token_env = \"T\"\nbasic_auth = {{ username = \"u\", password_env = \"P\" }}\n"
        );
        let e = parse(&text).unwrap_err().0;
        assert!(e.contains(":3:") && e.contains("choose one"), "{e}");
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("90").unwrap(), 90.0);
        assert_eq!(parse_duration("30m").unwrap(), 1800.0);
        assert_eq!(parse_duration("1.5h").unwrap(), 5400.0);
        assert!(parse_duration("5 weeks").is_err());
        let c = parse(&format!(
            "stale_after = \"45m\"\nrefresh_interval = \"2s\"\n{SMALLEST}"
        ))
        .unwrap();
        assert_eq!(c.stale_after.0, Duration::from_secs(2700));
    }

    #[test]
    fn selectors_are_parsed_when_the_file_is_read() {
        let with = |selector: &str| {
            parse(&SMALLEST.replace("'env=\"prod\"'", selector)).map(|c| c.environments[0].clone())
        };
        let env = with(r#"'env="prod", cluster=~"a|b", team!="x \"y\"", tier!~`t.*`,'"#).unwrap();
        let selector = env.selector.unwrap();
        assert_eq!(
            selector.matchers,
            vec![
                Matcher {
                    name: "env".into(),
                    op: MatchOp::Equal,
                    value: "prod".into()
                },
                Matcher {
                    name: "cluster".into(),
                    op: MatchOp::Regex,
                    value: "a|b".into()
                },
                Matcher {
                    name: "team".into(),
                    op: MatchOp::NotEqual,
                    value: "x \"y\"".into()
                },
                Matcher {
                    name: "tier".into(),
                    op: MatchOp::NotRegex,
                    value: "t.*".into()
                },
            ]
        );
        for bad in [
            "'{env=\"prod\"}'",
            "'env=prod'",
            "'env==\"x\"'",
            "'env=\"x\" y=\"z\"'",
            "'1x=\"a\"'",
            "'env=\"x'",
            "'cluster=~\"aks\\.prod\"'",
        ] {
            let e = with(bad).unwrap_err().0;
            assert!(
                e.starts_with("/etc/site-status.toml:4: key `selector`: "),
                "{bad}: {e}"
            );
        }
        let e = with("'env=prod'").unwrap_err().0;
        assert!(e.contains("expected a quoted value"), "{e}");
    }

    #[test]
    fn duplicate_environments_are_refused() {
        let e = parse(&format!("{SMALLEST}{SMALLEST}")).unwrap_err().0;
        assert!(e.contains("used twice"), "{e}");
    }

    #[test]
    fn mute_rules_are_read_with_their_origin() {
        let c = parse(&format!(
            "{SMALLEST}\n[[mute]]\nrequirement = \"update\"\nenv = \"prod\"\nsite = \"borger\"\nreason = \"OPS-1\"\nexpires = \"2026-02-28\"\n\n[[mute]]\nrequirement = \"cron\"\nreason = \"known\"\n"
        ))
        .unwrap();
        let rules = c.mute_rules();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].requirement, "update");
        assert_eq!(rules[0].env.as_deref(), Some("prod"));
        assert_eq!(rules[0].profile, None);
        assert_eq!(rules[0].site.as_deref(), Some("borger"));
        assert_eq!(rules[0].reason, "OPS-1");
        assert_eq!(rules[0].expires, Some(1_772_323_200));
        assert_eq!(rules[0].origin, crate::model::RuleOrigin::Config);
        assert_eq!(rules[1].env, None);
        assert_eq!(rules[1].expires, None);
        assert!(parse(SMALLEST).unwrap().mute_rules().is_empty());
    }

    #[test]
    fn bad_mute_rules_name_the_line_and_key() {
        let with = |body: &str| parse(&format!("{SMALLEST}[[mute]]\n{body}")).unwrap_err().0;
        // SMALLEST is 7 lines; [[mute]] is line 8.
        let e = with("requirement = \"cron\"\n");
        assert!(e.contains(":8:") && e.contains("reason"), "{e}");
        let e = with("requirement = \"cron\"\nreason = \"  \"\n");
        assert!(
            e.contains(":10:") && e.contains("key `reason`") && e.contains("empty"),
            "{e}"
        );
        let e = with("requirement = \"cron\"\nreason = \"x\"\nexpires = \"2026-02-30\"\n");
        assert!(
            e.contains(":11:") && e.contains("key `expires`") && e.contains("has 28 days"),
            "{e}"
        );
        let e = with("requirement = \"cron\"\nreason = \"x\"\nexpires = 2026-03-01\n");
        assert!(e.contains(":11:") && e.contains("key `expires`"), "{e}");
        let e = with("requirement = \"cron\"\nreason = \"x\"\nenviron = \"prod\"\n");
        assert!(e.contains(":11:") && e.contains("environ"), "{e}");
        let e = with("requirement = \"cron\"\nreason = \"x\"\nenv = \"staging\"\n");
        assert!(
            e.contains(":11:") && e.contains("key `env`") && e.contains("staging"),
            "{e}"
        );
    }

    #[test]
    fn the_shipped_mute_example_parses_once_uncommented() {
        let start = EXAMPLE.find("# [[mute]]").expect("a [[mute]] example");
        let uncommented: String = EXAMPLE[start..]
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let c = parse(&format!("{}{uncommented}\n", &EXAMPLE[..start])).unwrap();
        let rules = c.mute_rules();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].requirement, "update_contrib");
        assert_eq!(rules[0].expiry_label().as_deref(), Some("2026-06-30"));
    }

    #[test]
    fn a_kube_block_is_optional_and_takes_label_keys() {
        assert_eq!(parse(SMALLEST).unwrap().environments[0].kube, None);
        let c = parse(&format!(
            "{SMALLEST}[environment.kube]\nnamespace_selector = \"sitefactory.dk/type=site\"\n"
        ))
        .unwrap();
        let kube = c.environments[0].kube.as_ref().unwrap();
        assert_eq!(kube.namespace_selector.0, "sitefactory.dk/type=site");
        assert_eq!(kube.context, None);
        assert_eq!(kube.site_label, None);
        assert_eq!(kube.profile_label, None);

        let c = parse(&format!(
            "{SMALLEST}[environment.kube]\ncontext = \"aks-prod\"\nnamespace_selector = \"sitefactory.dk/type=site, tier in (a,b),!legacy\"\nsite_label = \"sitefactory.dk/site\"\nprofile_label = \"profile\"\n"
        ))
        .unwrap();
        let kube = c.environments[0].kube.as_ref().unwrap();
        assert_eq!(kube.context.as_ref().unwrap().0, "aks-prod");
        assert_eq!(kube.site_label.as_ref().unwrap().0, "sitefactory.dk/site");
        assert_eq!(kube.profile_label.as_ref().unwrap().0, "profile");
    }

    #[test]
    fn recording_rules_need_the_contract_names_and_a_selector_they_keep() {
        let env = |selector: &str| {
            format!(
                "[[environment]]\nname = \"prod\"\nselector = '{selector}'\nuse_recording_rules = true\n[environment.prometheus]\nurl = \"http://p:9090\"\n"
            )
        };
        assert!(parse(&env(r#"env="prod""#)).unwrap().environments[0].use_recording_rules);
        let e = parse(&env(r#"cluster="aks-1""#)).unwrap_err().0;
        assert!(e.contains("cannot match on \"cluster\""), "{e}");
        let e = parse(&format!(
            "[labels]\nsite = \"drupal_site\"\n{}",
            env(r#"env="prod""#)
        ))
        .unwrap_err()
        .0;
        assert!(e.contains("contract's metric and label names"), "{e}");
        assert!(!parse(SMALLEST).unwrap().environments[0].use_recording_rules);
    }

    #[test]
    fn the_agent_service_defaults_to_the_deployed_one_and_takes_a_port_number() {
        let block = "[environment.kube]\nnamespace_selector = \"type=site\"\n";
        let c = parse(&format!("{SMALLEST}{block}")).unwrap();
        let kube = c.environments[0].kube.as_ref().unwrap();
        assert_eq!(kube.agent_service.0, "site-status-agent");
        assert_eq!(kube.agent_port.0, "metrics");

        let c = parse(&format!(
            "{SMALLEST}{block}agent_service = \"status\"\nagent_port = 9101\n"
        ))
        .unwrap();
        let kube = c.environments[0].kube.as_ref().unwrap();
        assert_eq!(kube.agent_service.0, "status");
        assert_eq!(kube.agent_port.0, "9101");

        // Nothing that could change the proxy path gets in.
        for bad in ["a/b", "Agent", "a:b", "", "-a", "x?y"] {
            let e = parse(&format!("{SMALLEST}{block}agent_service = \"{bad}\"\n"))
                .unwrap_err()
                .0;
            assert!(
                e.contains(":10:") && e.contains("agent_service"),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn bad_kube_settings_name_the_line_and_key() {
        let with = |body: &str| {
            parse(&format!("{SMALLEST}[environment.kube]\n{body}"))
                .unwrap_err()
                .0
        };
        // SMALLEST is 7 lines; [environment.kube] is line 8.
        let e = with("context = \"x\"\n");
        assert!(e.contains(":8:") && e.contains("namespace_selector"), "{e}");
        let e = with("namespace_selector = \"type=site\"\nsite_label = \"bad key!\"\n");
        assert!(
            e.contains(":10:") && e.contains("key `site_label`") && e.contains("label key"),
            "{e}"
        );
        let e = with("namespace_selector = \"type=site\"\nprofile_label = \"/x\"\n");
        assert!(
            e.contains(":10:") && e.contains("key `profile_label`"),
            "{e}"
        );
        for bad in [
            "",
            "type===x",
            "type=site)",
            "type in a,b",
            "a b",
            "=x",
            "x=ä",
        ] {
            let e = with(&format!("namespace_selector = \"{bad}\"\n"));
            assert!(
                e.contains(":9:") && e.contains("key `namespace_selector`"),
                "{bad:?}: {e}"
            );
        }
        let e = with("namespace_selector = \"type=site\"\ncontext = \"\"\n");
        assert!(e.contains(":10:") && e.contains("key `context`"), "{e}");
        let e = with("namespace_selector = \"type=site\"\nnamespace = \"x\"\n");
        assert!(e.contains(":10:") && e.contains("namespace"), "{e}");
    }

    #[test]
    fn label_selectors_are_checked() {
        for ok in [
            "sitefactory.dk/type=site",
            "type==site",
            "type!=site",
            "type=",
            "a=b,c!=d",
            "env in (prod, test)",
            "env notin (dev)",
            "sitefactory.dk/site",
            "!legacy",
            " a = b , !c ",
        ] {
            assert!(check_label_selector(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", ",", "a=b,", "a=b c", "a in (b", "a in b", "-a=b", "a=-b", "ex ample",
        ] {
            assert!(check_label_selector(bad).is_err(), "{bad}");
        }
        assert!(check_label_key("sitefactory.dk/site").is_ok());
        assert!(check_label_key("app.kubernetes.io/name").is_ok());
        for bad in ["", "a/", "/a", "a/b/c", "-a", "a_", &"x".repeat(64)] {
            assert!(check_label_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_shipped_kube_example_parses_once_uncommented() {
        let start = EXAMPLE
            .find("# [environment.kube]")
            .expect("an [environment.kube] example");
        let block: String = EXAMPLE[start..]
            .lines()
            .take_while(|l| l.starts_with('#'))
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.starts_with('[') || l.contains(" = "))
            .collect::<Vec<_>>()
            .join("\n");
        let c = parse(&format!("{}{block}\n", &EXAMPLE[..start])).unwrap();
        let kube = c.environments.last().unwrap().kube.as_ref().unwrap();
        assert_eq!(kube.context.as_ref().unwrap().0, "aks-prod");
        assert_eq!(kube.namespace_selector.0, "sitefactory.dk/type=site");
        assert_eq!(kube.site_label.as_ref().unwrap().0, "sitefactory.dk/site");
        assert_eq!(
            kube.profile_label.as_ref().unwrap().0,
            "sitefactory.dk/profile"
        );
    }

    #[test]
    fn label_and_metric_names_can_be_overridden() {
        let c = parse(&format!(
            "[labels]\nsite = \"namespace\"\n[metrics]\nrequirement_severity = \"kk:drupal_req\"\n{SMALLEST}"
        ))
        .unwrap();
        assert_eq!(c.labels.site.0, "namespace");
        assert_eq!(c.labels.profile.0, "profile");
        assert_eq!(c.metrics.requirement_severity.0, "kk:drupal_req");
        let e = parse(&format!("[labels]\nsite = \"bad-name\"\n{SMALLEST}"))
            .unwrap_err()
            .0;
        assert!(e.contains(":2:"), "{e}");
    }
}
