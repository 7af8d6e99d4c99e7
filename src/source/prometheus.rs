//! Prometheus' HTTP API, and the fleet as aggregated PromQL.
//!
//! The grid costs five instant queries and one `GET api/v1/alerts` per
//! environment per refresh, each aggregated on the server, whatever the
//! number of sites; one site's raw series, the fleet timeline and a
//! profile's rollout are only asked for while a view shows them.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

use super::http::{Body, Endpoint, Lease, SecretLookup, body_excerpt};
use super::{BoxFuture, EnvReport, FleetSource, SourceError};
use crate::config::{Config, ConfigError, EnvironmentConfig};
use crate::model::text::{MAX_NAME_CHARS, clean_line};
use crate::model::{
    Alert, DrupalInfo, History, Requirement, Rollout, Severity, SiteDetail, SiteSummary, Timeline,
    VanishedSites, Window, sort_alerts, sort_requirements_worst_first,
};

/// What the grid calls sites whose series carry no profile label.
pub const NO_PROFILE: &str = "(no profile)";

/// Longer queries go as a POST form: proxies cap URL length.
const MAX_GET_QUERY: usize = 2000;

pub use super::labels::Labels;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueryData {
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
    Scalar(f64),
    String(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub data: QueryData,
    pub warnings: Vec<String>,
}

impl Answer {
    pub fn into_vector(self) -> Result<Vec<Sample>, SourceError> {
        match self.data {
            QueryData::Vector(v) => Ok(v),
            other => Err(SourceError::new(format!(
                "expected an instant vector, got {}",
                kind(&other)
            ))),
        }
    }

    pub fn into_matrix(self) -> Result<Vec<Series>, SourceError> {
        match self.data {
            QueryData::Matrix(m) => Ok(m),
            other => Err(SourceError::new(format!(
                "expected a range vector, got {}",
                kind(&other)
            ))),
        }
    }
}

fn kind(data: &QueryData) -> &'static str {
    match data {
        QueryData::Vector(_) => "a vector",
        QueryData::Matrix(_) => "a matrix",
        QueryData::Scalar(_) => "a scalar",
        QueryData::String(_) => "a string",
    }
}

/// Prometheus' API envelope around any endpoint's data.
#[derive(Deserialize)]
struct Envelope<D> {
    status: String,
    #[serde(default = "Option::default")]
    data: Option<D>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum RawData {
    Vector(Vec<RawSample>),
    Matrix(Vec<RawSeries>),
    Scalar(RawPoint),
    String(RawPoint),
}

#[derive(Deserialize)]
struct RawSample {
    #[serde(default)]
    metric: Labels,
    value: RawPoint,
}

#[derive(Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: Labels,
    #[serde(default)]
    values: Vec<RawPoint>,
}

/// `[1795469437.564, "0"]`: Prometheus sends sample values as strings so
/// that NaN and ±Inf survive JSON.
#[derive(Deserialize)]
struct RawPoint(f64, String);

/// Parses Prometheus' float text: `1`, `0.5`, `NaN`, `+Inf`, `-Inf`.
pub fn parse_sample(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// Turns an HTTP status and body into an answer or an operator-readable
/// error: the API's error envelope, or whatever a proxy sent instead.
pub fn parse_response(status: u16, body: &[u8]) -> Result<Answer, SourceError> {
    let envelope: Result<Envelope<RawData>, _> = serde_json::from_slice(body);
    match envelope {
        Ok(env) if env.status == "success" => {
            let data = env
                .data
                .ok_or_else(|| SourceError::new("success without data"))?;
            let bad_value = |v: &str| {
                SourceError::new(format!(
                    "sample value {:?} is not a number",
                    clean_line(v, 40)
                ))
            };
            let data = match data {
                RawData::Vector(samples) => QueryData::Vector(
                    samples
                        .into_iter()
                        .map(|s| {
                            Ok(Sample {
                                labels: s.metric,
                                value: parse_sample(&s.value.1)
                                    .ok_or_else(|| bad_value(&s.value.1))?,
                            })
                        })
                        .collect::<Result<_, SourceError>>()?,
                ),
                RawData::Matrix(series) => QueryData::Matrix(
                    series
                        .into_iter()
                        .map(|s| {
                            let points = s
                                .values
                                .iter()
                                .map(|p| {
                                    Ok((p.0, parse_sample(&p.1).ok_or_else(|| bad_value(&p.1))?))
                                })
                                .collect::<Result<_, SourceError>>()?;
                            Ok(Series {
                                labels: s.metric,
                                points,
                            })
                        })
                        .collect::<Result<_, SourceError>>()?,
                ),
                RawData::Scalar(p) => {
                    QueryData::Scalar(parse_sample(&p.1).ok_or_else(|| bad_value(&p.1))?)
                }
                RawData::String(p) => QueryData::String(clean_line(&p.1, 1000)),
            };
            Ok(Answer {
                data,
                warnings: env.warnings.iter().map(|w| clean_line(w, 300)).collect(),
            })
        }
        Ok(env) => Err(api_error(env.error_type.as_deref(), env.error.as_deref())),
        Err(e) => Err(not_an_answer(status, body, &e)),
    }
}

/// The API's own error envelope, worded for the operator.
fn api_error(error_type: Option<&str>, error: Option<&str>) -> SourceError {
    SourceError::new(format!(
        "Prometheus error{}: {}",
        error_type
            .map(|t| format!(" ({})", crate::secrets::clean_line(t, 40)))
            .unwrap_or_default(),
        crate::secrets::clean_line(error.unwrap_or("no message"), 300)
    ))
}

/// A body that is no API envelope: an HTTP error page from a proxy, or
/// garbage.
fn not_an_answer(status: u16, body: &[u8], error: &serde_json::Error) -> SourceError {
    if !(200..300).contains(&status) {
        SourceError::new(format!(
            "HTTP {status}{}",
            match body_excerpt(body) {
                e if e.is_empty() => String::new(),
                e => format!(": {e}"),
            }
        ))
    } else {
        SourceError::new(format!(
            "not a Prometheus API response ({}): {}",
            crate::secrets::clean_line(&error.to_string(), 100),
            body_excerpt(body)
        ))
    }
}

/// One alert as `GET api/v1/alerts` lists it, labels and annotations
/// still raw.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PromAlert {
    #[serde(default)]
    pub labels: Labels,
    #[serde(default)]
    pub annotations: Labels,
    /// `firing`, `pending` (or `inactive`).
    #[serde(default)]
    pub state: String,
    #[serde(default, rename = "activeAt")]
    pub active_at: Option<String>,
}

/// The alerts a Prometheus (or Thanos ruler, Mimir ruler) holds now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertsAnswer {
    pub alerts: Vec<PromAlert>,
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
struct AlertsData {
    #[serde(default)]
    alerts: Vec<PromAlert>,
}

/// Parses `GET api/v1/alerts`: `{"status":"success","data":{"alerts":
/// [{"labels":{…},"annotations":{…},"state":"firing","activeAt":"…",
/// "value":"…"}]}}`, or an error like [`parse_response`].
pub fn parse_alerts(status: u16, body: &[u8]) -> Result<AlertsAnswer, SourceError> {
    let envelope: Result<Envelope<AlertsData>, _> = serde_json::from_slice(body);
    match envelope {
        Ok(env) if env.status == "success" => {
            let data = env
                .data
                .ok_or_else(|| SourceError::new("success without data"))?;
            Ok(AlertsAnswer {
                alerts: data.alerts,
                warnings: env.warnings.iter().map(|w| clean_line(w, 300)).collect(),
            })
        }
        Ok(env) => Err(api_error(env.error_type.as_deref(), env.error.as_deref())),
        Err(e) => Err(not_an_answer(status, body, &e)),
    }
}

/// Prometheus' query API on one endpoint.
#[derive(Debug, Clone)]
pub struct PromApi {
    pub endpoint: Endpoint,
}

impl PromApi {
    pub async fn query(&self, promql: &str) -> Result<Answer, SourceError> {
        self.call("api/v1/query", vec![("query", promql.to_string())])
            .await
    }

    pub async fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step: Duration,
    ) -> Result<Answer, SourceError> {
        self.call(
            "api/v1/query_range",
            vec![
                ("query", promql.to_string()),
                ("start", format!("{start:.3}")),
                ("end", format!("{end:.3}")),
                ("step", format!("{}s", step.as_secs_f64())),
            ],
        )
        .await
    }

    /// Every alert the server holds (`GET api/v1/alerts`), whatever its
    /// state; one request whatever the number of sites.
    pub async fn alerts(&self) -> Result<AlertsAnswer, SourceError> {
        let (status, body) = self.send("api/v1/alerts", Vec::new()).await?;
        parse_alerts(status, &body)
            .map_err(|e| SourceError::new(format!("{}: {}", self.endpoint.display(), e.message)))
    }

    async fn call(&self, path: &str, params: Vec<(&str, String)>) -> Result<Answer, SourceError> {
        self.call_held(path, params).await.map(|(answer, _)| answer)
    }

    /// The answer and the budget its body took, which the caller holds for
    /// as long as it keeps what was parsed (the samples of a whole poll).
    async fn call_held(
        &self,
        path: &str,
        params: Vec<(&str, String)>,
    ) -> Result<(Answer, Option<Lease>), SourceError> {
        let (status, body) = self.send(path, params).await?;
        let answer = parse_response(status, &body)
            .map_err(|e| SourceError::new(format!("{}: {}", self.endpoint.display(), e.message)))?;
        Ok((answer, body.into_lease()))
    }

    /// An instant query whose samples count against the environment's
    /// budget until the lease is dropped.
    pub async fn query_held(&self, promql: &str) -> Result<(Answer, Option<Lease>), SourceError> {
        self.call_held("api/v1/query", vec![("query", promql.to_string())])
            .await
    }

    async fn send(
        &self,
        path: &str,
        params: Vec<(&str, String)>,
    ) -> Result<(u16, Body), SourceError> {
        let url = self.endpoint.url(path)?;
        let long = params.iter().map(|(_, v)| v.len()).sum::<usize>() > MAX_GET_QUERY;
        let request = if long {
            self.endpoint.client.post(url).form(&params)
        } else if params.is_empty() {
            self.endpoint.client.get(url)
        } else {
            self.endpoint.client.get(url).query(&params)
        };
        let response = request
            .send()
            .await
            .map_err(|e| self.endpoint.describe(&e))?;
        let status = response.status().as_u16();
        let body = self.endpoint.read_body(response).await?;
        Ok((status, body))
    }
}

/// The names a fleet uses, and the selector of one environment, turned into
/// the PromQL the dashboard runs.
#[derive(Debug, Clone)]
pub struct FleetQueries {
    site: String,
    profile: String,
    requirement: String,
    severity: String,
    success: String,
    last_run: String,
    duration: String,
    info: String,
    job: String,
    selector: Option<String>,
    /// The selector's matchers, to tell which alerts are this
    /// environment's.
    selector_matchers: Vec<Matcher>,
}

/// One label matcher of a configured selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    /// The value, unquoted and unescaped.
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// What one matcher says of one alert's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Matches,
    Fails,
    /// The alert lacks the label (its rule aggregated it away), or the
    /// matcher is a regex, which is not evaluated here.
    Unsure,
}

impl Matcher {
    fn judge(&self, labels: &Labels) -> Verdict {
        let value = labels.get(&self.name);
        match (self.op, value) {
            (MatchOp::Equal, Some(v)) if *v == self.value => Verdict::Matches,
            (MatchOp::Equal, Some(_)) => Verdict::Fails,
            // In PromQL `label=""` matches series without the label.
            (MatchOp::Equal, None) if self.value.is_empty() => Verdict::Matches,
            (MatchOp::NotEqual, Some(v)) if *v == self.value => Verdict::Fails,
            (MatchOp::NotEqual, Some(_)) => Verdict::Matches,
            (MatchOp::NotEqual, None) if !self.value.is_empty() => Verdict::Matches,
            _ => Verdict::Unsure,
        }
    }
}

/// The matchers of a selector as `config::check_selector` accepts it
/// (`env="prod", cluster=~'aks-.*'`); whatever does not parse is left
/// out (the configuration check refuses such selectors anyway).
pub fn parse_selector(selector: &str) -> Vec<Matcher> {
    let mut out = Vec::new();
    let mut rest = selector.trim();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_string();
        rest = rest[name_end..].trim_start();
        let Some((op, len)) = [
            (MatchOp::Regex, "=~"),
            (MatchOp::NotRegex, "!~"),
            (MatchOp::NotEqual, "!="),
            (MatchOp::Equal, "="),
        ]
        .into_iter()
        .find(|(_, text)| rest.starts_with(text))
        .map(|(op, text)| (op, text.len())) else {
            return out;
        };
        rest = rest[len..].trim_start();
        let Some(quote) = rest
            .chars()
            .next()
            .filter(|c| matches!(c, '"' | '\'' | '`'))
        else {
            return out;
        };
        let mut value = String::new();
        let mut end = None;
        let mut chars = rest.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            if c == quote {
                end = Some(i);
                break;
            }
            if c == '\\' && quote != '`' {
                match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, 'r')) => value.push('\r'),
                    Some((_, other)) => value.push(other),
                    None => return out,
                }
            } else {
                value.push(c);
            }
        }
        let Some(end) = end else {
            return out;
        };
        if !name.is_empty() {
            out.push(Matcher { name, op, value });
        }
        rest = rest[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    out
}

/// A PromQL string literal.
pub use super::string_literal as quote;

impl FleetQueries {
    pub fn new(config: &Config, env: &EnvironmentConfig) -> FleetQueries {
        FleetQueries {
            site: config.labels.site.0.clone(),
            profile: config.labels.profile.0.clone(),
            requirement: config.labels.requirement.0.clone(),
            severity: config.metrics.requirement_severity.0.clone(),
            success: config.metrics.report_success.0.clone(),
            last_run: config.metrics.last_run_timestamp.0.clone(),
            duration: config.metrics.run_duration.0.clone(),
            info: config.metrics.info.0.clone(),
            job: config.metrics.job.clone(),
            selector: env.selector.as_ref().map(|s| s.0.clone()),
            selector_matchers: env
                .selector
                .as_ref()
                .map(|s| parse_selector(&s.0))
                .unwrap_or_default(),
        }
    }

    fn matchers(&self, extra: &[String]) -> String {
        let parts: Vec<&str> = self
            .selector
            .iter()
            .map(String::as_str)
            .chain(extra.iter().map(String::as_str))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }

    fn by(&self) -> String {
        format!("{}, {}", self.site, self.profile)
    }

    /// The five grid queries, in the order `fetch_fleet` reads them.
    pub fn grid(&self) -> [String; 5] {
        let m = self.matchers(&[]);
        let by = self.by();
        [
            format!("max by ({by}) ({}{m})", self.severity),
            format!(
                "max by ({by}, {}) ({}{m} >= 1)",
                self.requirement, self.severity
            ),
            format!("min by ({by}) ({}{m})", self.success),
            format!("time() - max by ({by}) ({}{m})", self.last_run),
            format!(
                "min by ({by}) (up{})",
                self.matchers(&[format!("job={}", quote(&self.job))])
            ),
        ]
    }

    /// One requirement of one site, collapsed over duplicate series (a
    /// restarted pod) and over each step, so a short failure between two
    /// samples still shows.
    pub fn history(&self, site: &str, requirement: &str, step: Duration) -> String {
        let m = self.matchers(&[
            format!("{}={}", self.site, quote(site)),
            format!("{}={}", self.requirement, quote(requirement)),
        ]);
        // The look-back is at least a minute, so that a scrape interval
        // longer than the step (30-60 s is common) leaves no empty windows.
        format!(
            "max(max_over_time({}{m}[{}s]))",
            self.severity,
            step.as_secs().max(60)
        )
    }

    /// Sites in error and in warning, counted on the server, each site
    /// once at its worst requirement. Evaluated at each step like an
    /// instant query (the latest sample within Prometheus' lookback), so
    /// the last step, just ahead of now, is the current count.
    pub fn timeline(&self) -> [String; 2] {
        let worst = format!(
            "max by ({}) ({}{})",
            self.site,
            self.severity,
            self.matchers(&[])
        );
        [
            format!("count({worst} >= 2)"),
            format!("count({worst} == 1)"),
        ]
    }

    /// Each site of one profile with its `profile_version`; a site with
    /// two pods counts once per version.
    pub fn rollout(&self, profile: &str) -> String {
        // The grid shows sites without a profile label as NO_PROFILE.
        let profile = if profile == NO_PROFILE { "" } else { profile };
        format!(
            "count by ({}, profile_version) ({}{})",
            self.site,
            self.info,
            self.matchers(&[format!("{}={}", self.profile, quote(profile))])
        )
    }

    /// The firing alerts that name a site of this environment, sanitized
    /// and sorted.
    ///
    /// Several environments may share one Prometheus, so an alert is kept
    /// only if the environment's selector could have matched it: for each
    /// matcher (`env="prod"`, `env!="dev"`), an alert carrying the label
    /// must satisfy it, or it belongs to another environment. An alert
    /// lacking the label (its rule aggregated it away) cannot say; nor
    /// can a regex matcher, which is not evaluated here: such an alert is
    /// kept only if its site is one of `grid_sites`, this environment's
    /// (sanitized) site names. With no selector every firing alert naming
    /// a site is kept.
    pub fn environment_alerts<'a>(
        &self,
        alerts: &[PromAlert],
        grid_sites: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Alert> {
        let mut known: Option<HashSet<&str>> = None;
        let mut grid_sites = Some(grid_sites);
        let mut out = Vec::new();
        for alert in alerts {
            if alert.state != "firing" {
                continue;
            }
            let Some(site) = alert.labels.get(&self.site) else {
                continue;
            };
            let mut unsure = false;
            let mut fails = false;
            for m in &self.selector_matchers {
                match m.judge(&alert.labels) {
                    Verdict::Matches => {}
                    Verdict::Fails => fails = true,
                    Verdict::Unsure => unsure = true,
                }
            }
            if fails {
                continue;
            }
            let summary = alert
                .annotations
                .get("summary")
                .filter(|s| !s.trim().is_empty())
                .or_else(|| alert.annotations.get("description"));
            let built = Alert::sanitized(
                alert.labels.get("alertname").unwrap_or(""),
                site,
                alert.labels.get("severity"),
                summary,
                alert.active_at.as_deref(),
            );
            if unsure {
                let known = known.get_or_insert_with(|| {
                    grid_sites
                        .take()
                        .map(|s| s.into_iter().collect())
                        .unwrap_or_default()
                });
                if !known.contains(built.site.as_str()) {
                    continue;
                }
            }
            out.push(built);
        }
        sort_alerts(&mut out);
        out
    }

    /// One site's raw series.
    pub fn site(&self, site: &str) -> [String; 5] {
        let m = self.matchers(&[format!("{}={}", self.site, quote(site))]);
        [
            format!("{}{m}", self.severity),
            format!("{}{m}", self.success),
            format!("time() - {}{m}", self.last_run),
            format!("{}{m}", self.duration),
            format!("{}{m}", self.info),
        ]
    }
}

fn unix_now() -> f64 {
    crate::model::Clock::System.unix_seconds()
}

/// The summary a series belongs to, created on first sight. Series without
/// the site label (an `up` without target labels) belong to no site.
///
/// Keyed by the raw label, so text is sanitized once per site rather than
/// once per series: at 10,000 sites this is most of a poll's work.
fn site_entry<'a, 's>(
    sites: &'a mut HashMap<&'s str, SiteSummary>,
    queries: &FleetQueries,
    labels: &'s Labels,
) -> Option<&'a mut SiteSummary> {
    let raw = labels.get(&queries.site)?;
    let summary = sites
        .entry(raw)
        .or_insert_with(|| SiteSummary::from_label(raw, String::new()));
    if summary.profile.is_empty()
        && let Some(profile) = labels.get(&queries.profile)
    {
        summary.profile = clean_line(profile, MAX_NAME_CHARS);
    }
    Some(summary)
}

/// What the grid queries said, merged per site.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedGrid {
    pub sites: Vec<SiteSummary>,
    /// Series that named a site (and requirement) already answered for by
    /// the same query: a federating proxy or a broken aggregation.
    pub duplicates: usize,
}

/// Merges the five grid answers per site. A site answered for twice by
/// one query keeps the worse of the two: a duplicate must never hide a
/// failure, whichever order the backend sent them in.
pub fn merge_grid(queries: &FleetQueries, answers: [Vec<Sample>; 5], now_unix: f64) -> MergedGrid {
    let [worst, failing, success, age, up] = answers;
    let mut sites: HashMap<&str, SiteSummary> = HashMap::with_capacity(worst.len());
    let mut duplicates = 0;
    for s in &worst {
        if let Some(summary) = site_entry(&mut sites, queries, &s.labels) {
            let severity = Severity::from_sample(s.value);
            if summary.worst.is_some() {
                duplicates += 1;
            }
            summary.worst = summary.worst.max(severity);
        }
    }
    for s in &failing {
        let Some(severity) = Severity::from_sample(s.value) else {
            continue;
        };
        let Some(requirement) = s.labels.get(&queries.requirement) else {
            continue;
        };
        if let Some(summary) = site_entry(&mut sites, queries, &s.labels) {
            match summary.failing.iter_mut().find(|(id, _)| id == requirement) {
                Some((_, known)) => {
                    duplicates += 1;
                    *known = (*known).max(severity);
                }
                None => summary.failing.push((requirement.to_string(), severity)),
            }
        }
    }
    for s in &success {
        if let Some(summary) = site_entry(&mut sites, queries, &s.labels)
            && s.value.is_finite()
        {
            let ok = s.value >= 1.0;
            if summary.run_success.is_some() {
                duplicates += 1;
            }
            summary.run_success = Some(summary.run_success.unwrap_or(true) && ok);
        }
    }
    for s in &age {
        if let Some(summary) = site_entry(&mut sites, queries, &s.labels)
            && s.value.is_finite()
        {
            let at = now_unix - s.value;
            if summary.last_run.is_some() {
                duplicates += 1;
            }
            // The older run: a stale duplicate may be the one that is true.
            summary.last_run = Some(summary.last_run.map_or(at, |known| known.min(at)));
        }
    }
    for s in &up {
        if let Some(summary) = site_entry(&mut sites, queries, &s.labels)
            && s.value.is_finite()
        {
            let is_up = s.value >= 1.0;
            if summary.up.is_some() {
                duplicates += 1;
            }
            summary.up = Some(summary.up.unwrap_or(true) && is_up);
        }
    }
    let mut list: Vec<SiteSummary> = sites.into_values().collect();
    for summary in &mut list {
        if summary.profile.is_empty() {
            summary.profile = NO_PROFILE.into();
        }
        summary
            .failing
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    list.sort_by(|a, b| a.name.cmp(&b.name));
    MergedGrid {
        sites: list,
        duplicates,
    }
}

struct GridAnswers {
    answers: [Vec<Sample>; 5],
    warnings: Vec<String>,
    _leases: Vec<Lease>,
}

pub struct PrometheusSource {
    env: String,
    api: PromApi,
    queries: FleetQueries,
    forget_after: Duration,
    max_sites: usize,
    vanished: Mutex<VanishedSites>,
}

impl PrometheusSource {
    pub fn new(
        config: &Config,
        env: &EnvironmentConfig,
        secrets: &dyn SecretLookup,
    ) -> Result<PrometheusSource, ConfigError> {
        let endpoint = Endpoint::new(
            &env.prometheus,
            &format!("{} prometheus", env.name.0),
            secrets,
        )?;
        Ok(PrometheusSource {
            env: env.name.0.clone(),
            api: PromApi { endpoint },
            queries: FleetQueries::new(config, env),
            forget_after: config.forget_after.0,
            max_sites: env.max_sites,
            vanished: Mutex::new(VanishedSites::default()),
        })
    }

    pub fn api_mut(&mut self) -> &mut PromApi {
        &mut self.api
    }

    pub fn api(&self) -> &PromApi {
        &self.api
    }

    pub fn warnings(&self) -> &[String] {
        &self.api.endpoint.warnings
    }

    /// The fleet timeline over any window and step; `fetch_timeline` is
    /// this over the last hour a minute apart. Two range queries, counted
    /// on the server; steps are aligned to multiples of `step`.
    pub async fn timeline(
        &self,
        window: Duration,
        step: Duration,
    ) -> Result<Timeline, SourceError> {
        let step = step.max(Duration::from_secs(1));
        let (start, end) = Timeline::window(unix_now(), window.as_secs_f64(), step.as_secs_f64());
        let [errors, warnings] = self.queries.timeline();
        let (errors, warnings) = tokio::join!(
            self.api.query_range(&errors, start, end, step),
            self.api.query_range(&warnings, start, end, step),
        );
        let points = |answer: Result<Answer, SourceError>| -> Result<Vec<(f64, f64)>, SourceError> {
            Ok(answer?
                .into_matrix()?
                .into_iter()
                .flat_map(|s| s.points)
                .collect())
        };
        Ok(Timeline::from_samples(
            start,
            end,
            step.as_secs_f64(),
            &points(errors)?,
            &points(warnings)?,
        ))
    }

    /// The five grid answers, the warnings they carried, and the budget
    /// their bodies took: held until the poll's sites are merged, so that
    /// one environment's poll holds no more than `max_poll_mib`.
    async fn grid_answers(&self) -> Result<GridAnswers, SourceError> {
        let [q0, q1, q2, q3, q4] = self.queries.grid();
        let (a0, a1, a2, a3, a4) = tokio::join!(
            self.api.query_held(&q0),
            self.api.query_held(&q1),
            self.api.query_held(&q2),
            self.api.query_held(&q3),
            self.api.query_held(&q4),
        );
        let mut warnings = Vec::new();
        let mut leases = Vec::new();
        let mut take = |answer: Result<(Answer, Option<Lease>), SourceError>| -> Result<Vec<Sample>, SourceError> {
            let (answer, lease) = answer?;
            leases.extend(lease);
            warnings.extend(answer.warnings.clone());
            answer.into_vector()
        };
        let answers = [take(a0)?, take(a1)?, take(a2)?, take(a3)?, take(a4)?];
        warnings.sort();
        warnings.dedup();
        Ok(GridAnswers {
            answers,
            warnings,
            _leases: leases,
        })
    }
}

impl FleetSource for PrometheusSource {
    fn environment(&self) -> &str {
        &self.env
    }

    fn fetch_fleet(&self) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
        Box::pin(async move {
            let (grid, alerts) = tokio::join!(self.grid_answers(), self.api.alerts());
            let GridAnswers {
                answers,
                mut warnings,
                _leases,
            } = grid?;
            warnings.extend(self.warnings().iter().cloned());
            let now = unix_now();
            let MergedGrid {
                mut sites,
                duplicates,
            } = merge_grid(&self.queries, answers, now);
            // Before anything is kept: a backend gone wrong must not grow
            // what the dashboard holds from poll to poll.
            if sites.len() > self.max_sites {
                return Err(SourceError::new(format!(
                    "{}: {} sites, more than max_sites = {} for {}; raise it for a very large fleet, or narrow the selector",
                    self.api.endpoint.display(),
                    sites.len(),
                    self.max_sites,
                    self.env
                )));
            }
            if duplicates > 0 {
                warnings.push(format!(
                    "the backend returned {duplicates} duplicate series (a federating proxy or a broken aggregation?); each site shows the worst of them"
                ));
            }
            if let Ok(mut vanished) = self.vanished.lock() {
                vanished.carry(&mut sites, now, self.forget_after.as_secs_f64());
            }
            // The alerts are extra: without them the grid is still right.
            let alerts = match alerts {
                Ok(answer) => {
                    warnings.extend(answer.warnings);
                    self.queries
                        .environment_alerts(&answer.alerts, sites.iter().map(|s| s.name.as_str()))
                }
                Err(e) => {
                    warnings.push(format!("alerts unavailable: {}", e.message));
                    Vec::new()
                }
            };
            Ok(EnvReport {
                sites,
                warnings,
                alerts,
            })
        })
    }

    fn fetch_site<'a>(&'a self, site: &'a str) -> BoxFuture<'a, Result<SiteDetail, SourceError>> {
        Box::pin(async move {
            let [q0, q1, q2, q3, q4] = self.queries.site(site);
            let (a0, a1, a2, a3, a4) = tokio::join!(
                self.api.query(&q0),
                self.api.query(&q1),
                self.api.query(&q2),
                self.api.query(&q3),
                self.api.query(&q4),
            );
            let severities = a0?.into_vector()?;
            let now = unix_now();
            let mut summary = SiteSummary::from_label(site, String::new());
            let mut requirements: Vec<Requirement> = Vec::new();
            for s in &severities {
                if summary.profile.is_empty()
                    && let Some(p) = s.labels.get(&self.queries.profile)
                {
                    summary.profile = clean_line(p, MAX_NAME_CHARS);
                }
                let label = s.labels.get(&self.queries.requirement).unwrap_or_default();
                let severity = Severity::from_sample(s.value);
                // Two series of one requirement (a restarted pod, a
                // federating proxy): one row, at the worse severity.
                if let Some(known) = requirements.iter_mut().find(|r| r.label == label) {
                    known.severity = known.severity.max(severity);
                    continue;
                }
                requirements.push(Requirement {
                    id: clean_line(label, MAX_NAME_CHARS),
                    label: label.to_string(),
                    title: String::new(),
                    severity,
                    value: String::new(),
                    description: String::new(),
                });
            }
            summary.worst = requirements.iter().filter_map(|r| r.severity).max();
            summary.failing = requirements
                .iter()
                .filter_map(|r| {
                    r.severity
                        .filter(|s| s.is_failing())
                        .map(|s| (r.label.clone(), s))
                })
                .collect();
            let first = |answer: Result<Answer, SourceError>| {
                answer
                    .ok()
                    .and_then(|a| a.into_vector().ok())
                    .and_then(|v| v.first().map(|s| s.value))
                    .filter(|v| v.is_finite())
            };
            summary.run_success = first(a1).map(|v| v >= 1.0);
            summary.last_run = first(a2).map(|age| now - age);
            let run_duration = first(a3);
            let info = a4.ok().and_then(|a| a.into_vector().ok()).and_then(|v| {
                let labels = &v.first()?.labels;
                let get = |name: &str| {
                    labels
                        .get(name)
                        .map(|v| clean_line(v, MAX_NAME_CHARS))
                        .unwrap_or_default()
                };
                Some(DrupalInfo {
                    drupal_version: get("drupal_version"),
                    php_version: get("php_version"),
                    drush_version: get("drush_version"),
                    profile_version: get("profile_version"),
                })
            });
            sort_requirements_worst_first(&mut requirements);
            Ok(SiteDetail {
                summary,
                requirements,
                run_duration,
                info,
            })
        })
    }

    fn fetch_history<'a>(
        &'a self,
        site: &'a str,
        requirement: &'a str,
        window: Window,
    ) -> BoxFuture<'a, Result<History, SourceError>> {
        Box::pin(async move {
            let step = Duration::from_secs_f64(window.step().max(1.0));
            // The newest point is now, not the next step boundary: a window
            // ending in the future holds no sample yet and would read as
            // "absent" while the requirement still fails.
            let end = unix_now();
            let start = end - step.as_secs_f64() * Window::POINTS as f64;
            let query = self.queries.history(site, requirement, step);
            let series = self
                .api
                .query_range(&query, start, end, step)
                .await?
                .into_matrix()?;
            let samples: Vec<(f64, Option<Severity>)> = series
                .iter()
                .flat_map(|s| s.points.iter())
                .map(|(t, v)| (*t, Severity::from_sample(*v)))
                .collect();
            Ok(History::from_samples(
                start,
                end,
                step.as_secs_f64(),
                &samples,
            ))
        })
    }

    fn fetch_timeline(&self) -> BoxFuture<'_, Result<Timeline, SourceError>> {
        Box::pin(self.timeline(
            Duration::from_secs_f64(Timeline::WINDOW_SECONDS),
            Duration::from_secs_f64(Timeline::STEP_SECONDS),
        ))
    }

    fn fetch_rollout<'a>(
        &'a self,
        profile: &'a str,
    ) -> BoxFuture<'a, Result<Rollout, SourceError>> {
        Box::pin(async move {
            let samples = self
                .api
                .query(&self.queries.rollout(profile))
                .await?
                .into_vector()?;
            Ok(Rollout::from_pairs(
                profile,
                samples.iter().filter_map(|s| {
                    Some((
                        s.labels.get(&self.queries.site)?,
                        s.labels.get("profile_version").unwrap_or(""),
                    ))
                }),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/prometheus/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn config() -> Config {
        Config::parse(
            "[[environment]]\nname = \"prod\"\nselector = 'env=\"prod\"'\n[environment.prometheus]\nurl = \"http://127.0.0.1:9/\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap()
    }

    #[test]
    fn sample_values_include_nan_and_infinities() {
        assert!(parse_sample("NaN").unwrap().is_nan());
        assert_eq!(parse_sample("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_sample("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_sample("31.617000102996826"), Some(31.617000102996826));
        assert_eq!(parse_sample("1e3"), Some(1000.0));
        assert_eq!(parse_sample("borked"), None);
    }

    #[test]
    fn the_real_worst_severity_response_parses() {
        let answer = parse_response(200, &fixture("query-worst-severity-by-site.json")).unwrap();
        let v = answer.into_vector().unwrap();
        assert_eq!(v.len(), 315);
        assert!(v.iter().all(|s| s.labels.contains_key("site")));
    }

    #[test]
    fn scalar_and_matrix_and_empty_vector_parse() {
        let a = parse_response(200, &fixture("query-scalar.json")).unwrap();
        assert_eq!(a.data, QueryData::Scalar(1.0));
        let m = parse_response(200, &fixture("query-range-error-sites-by-env.json"))
            .unwrap()
            .into_matrix()
            .unwrap();
        assert_eq!(m.len(), 3);
        assert!(m[0].points.len() > 5);
        let e = parse_response(200, &fixture("query-empty-vector.json")).unwrap();
        assert_eq!(e.into_vector().unwrap(), vec![]);
    }

    #[test]
    fn error_envelope_is_shown_with_its_type() {
        let e = parse_response(400, &fixture("error-bad-data.json")).unwrap_err();
        assert_eq!(
            e.message,
            "Prometheus error (bad_data): invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"
        );
    }

    #[test]
    fn warnings_are_kept() {
        let body = br#"{"status":"success","warnings":["results truncated \u001b[2J"],"data":{"resultType":"vector","result":[]}}"#;
        let a = parse_response(200, body).unwrap();
        assert_eq!(a.warnings, vec!["results truncated \u{FFFD}[2J"]);
    }

    #[test]
    fn a_proxy_page_or_garbage_is_an_error_not_a_crash() {
        let e =
            parse_response(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>").unwrap_err();
        assert_eq!(e.message, "HTTP 502: 502 Bad Gateway");
        let e = parse_response(200, b"hello").unwrap_err();
        assert!(
            e.message.starts_with("not a Prometheus API response"),
            "{}",
            e.message
        );
        let e = parse_response(200, br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}"#).unwrap_err();
        assert!(e.message.contains("not a number"));
    }

    #[test]
    fn grid_queries_aggregate_on_the_server_with_the_selector() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let grid = q.grid();
        assert_eq!(
            grid[0],
            "max by (site, profile) (drupal_requirement_severity{env=\"prod\"})"
        );
        assert_eq!(
            grid[1],
            "max by (site, profile, requirement) (drupal_requirement_severity{env=\"prod\"} >= 1)"
        );
        assert_eq!(
            grid[4],
            "min by (site, profile) (up{env=\"prod\", job=\"site-status\"})"
        );
        let site = q.site("bor\"ger");
        assert_eq!(
            site[0],
            "drupal_requirement_severity{env=\"prod\", site=\"bor\\\"ger\"}"
        );
    }

    #[test]
    fn merge_combines_the_five_answers_per_site() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let labels = |site: &str, extra: &[(&str, &str)]| {
            let mut l: Labels = [("site", site), ("profile", "kk_borger")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            for (k, v) in extra {
                l.insert(k.to_string(), v.to_string());
            }
            l
        };
        let sample = |l: Labels, value: f64| Sample { labels: l, value };
        let sites = merge_grid(
            &q,
            [
                vec![sample(labels("a", &[]), 2.0), sample(labels("b", &[]), 0.0)],
                vec![
                    sample(labels("a", &[("requirement", "update")]), 1.0),
                    sample(labels("a", &[("requirement", "cron")]), 2.0),
                ],
                vec![sample(labels("a", &[]), 1.0), sample(labels("c", &[]), 0.0)],
                vec![sample(labels("a", &[]), 60.0)],
                vec![sample(labels("b", &[]), 0.0)],
            ],
            1000.0,
        )
        .sites;
        assert_eq!(sites.len(), 3);
        let a = &sites[0];
        assert_eq!(a.worst, Some(Severity::Error));
        assert_eq!(
            a.failing,
            vec![
                ("cron".to_string(), Severity::Error),
                ("update".to_string(), Severity::Warning)
            ]
        );
        assert_eq!(a.last_run, Some(940.0));
        assert_eq!(a.run_success, Some(true));
        assert_eq!(sites[1].up, Some(false));
        assert_eq!(sites[2].worst, None, "c only reported a failed run");
        assert_eq!(sites[2].run_success, Some(false));
    }

    #[test]
    fn duplicate_series_merge_to_the_worst_and_are_counted() {
        // A federating proxy or a broken aggregation can answer with the
        // same site twice: the worse sample must win, whichever comes last.
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let labels = |site: &str, requirement: Option<&str>| {
            let mut l: Labels = [("site", site), ("profile", "kk_borger")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if let Some(r) = requirement {
                l.insert("requirement", r);
            }
            l
        };
        let sample = |l: Labels, value: f64| Sample { labels: l, value };
        let grid = merge_grid(
            &q,
            [
                vec![
                    sample(labels("a", None), 2.0),
                    sample(labels("a", None), 0.0),
                ],
                vec![
                    sample(labels("a", Some("cron")), 1.0),
                    sample(labels("a", Some("cron")), 2.0),
                    sample(labels("a", Some("cron")), 1.0),
                ],
                vec![
                    sample(labels("a", None), 0.0),
                    sample(labels("a", None), 1.0),
                ],
                vec![
                    sample(labels("a", None), 900.0),
                    sample(labels("a", None), 60.0),
                ],
                vec![
                    sample(labels("a", None), 0.0),
                    sample(labels("a", None), 1.0),
                ],
            ],
            1000.0,
        );
        let a = &grid.sites[0];
        assert_eq!(a.worst, Some(Severity::Error));
        assert_eq!(a.failing, vec![("cron".to_string(), Severity::Error)]);
        assert_eq!(a.run_success, Some(false));
        assert_eq!(
            a.last_run,
            Some(100.0),
            "the oldest run is the one to trust"
        );
        assert_eq!(a.up, Some(false));
        assert_eq!(grid.duplicates, 6);
    }

    fn config_with_selector(selector: Option<&str>) -> Config {
        let selector = selector
            .map(|s| format!("selector = '{s}'\n"))
            .unwrap_or_default();
        Config::parse(
            &format!(
                "[[environment]]\nname = \"prod\"\n{selector}[environment.prometheus]\nurl = \"http://127.0.0.1:9/\"\n"
            ),
            std::path::Path::new("t.toml"),
        )
        .unwrap()
    }

    const ALERTS: &str = r#"{"status":"success","data":{"alerts":[
        {"labels":{"alertname":"DrupalCronStale","site":"borger","env":"prod","severity":"warning"},
         "annotations":{"summary":"Cron is late on borger","description":"long text"},
         "state":"firing","activeAt":"2026-11-23T21:00:00.123456789Z","value":"2e+00"},
        {"labels":{"alertname":"DrupalCronStale","site":"borger","env":"dev","severity":"warning"},
         "annotations":{},"state":"firing","activeAt":"2026-11-23T21:00:00Z","value":"2e+00"},
        {"labels":{"alertname":"DrupalCronStale","site":"kultur","env":"prod"},
         "annotations":{"summary":"pending"},"state":"pending","activeAt":"2026-11-23T21:00:00Z","value":"2e+00"},
        {"labels":{"alertname":"Watchdog"},"annotations":{},"state":"firing","activeAt":"2026-11-23T21:00:00Z","value":"1e+00"},
        {"labels":{"alertname":"DrupalDown","site":"park"},
         "annotations":{"description":"no env label"},"state":"firing","activeAt":"2026-11-23T21:00:00Z","value":"1e+00"},
        {"labels":{"alertname":"DrupalDown","site":"elsewhere"},
         "annotations":{},"state":"firing","activeAt":"2026-11-23T21:00:00Z","value":"1e+00"}
    ]}}"#;

    #[test]
    fn the_alerts_response_parses_and_errors_read_like_queries() {
        let empty = parse_alerts(200, &fixture("alerts-empty.json")).unwrap();
        assert_eq!(empty, AlertsAnswer::default());
        let answer = parse_alerts(200, ALERTS.as_bytes()).unwrap();
        assert_eq!(answer.alerts.len(), 6);
        assert_eq!(answer.alerts[0].state, "firing");
        assert_eq!(
            answer.alerts[0].active_at.as_deref(),
            Some("2026-11-23T21:00:00.123456789Z")
        );
        let e = parse_alerts(404, b"404 page not found").unwrap_err();
        assert_eq!(e.message, "HTTP 404: 404 page not found");
        let e = parse_alerts(
            503,
            br#"{"status":"error","errorType":"unavailable","error":"ruler not ready"}"#,
        )
        .unwrap_err();
        assert_eq!(e.message, "Prometheus error (unavailable): ruler not ready");
    }

    #[test]
    fn selectors_parse_into_matchers() {
        let m = parse_selector(r#"env="prod", cluster=~'aks-.*',team!="x \"y\"", a!~`b\c`,"#);
        assert_eq!(
            m,
            vec![
                Matcher {
                    name: "env".into(),
                    op: MatchOp::Equal,
                    value: "prod".into()
                },
                Matcher {
                    name: "cluster".into(),
                    op: MatchOp::Regex,
                    value: "aks-.*".into()
                },
                Matcher {
                    name: "team".into(),
                    op: MatchOp::NotEqual,
                    value: "x \"y\"".into()
                },
                Matcher {
                    name: "a".into(),
                    op: MatchOp::NotRegex,
                    value: "b\\c".into()
                },
            ]
        );
        assert_eq!(parse_selector(""), vec![]);
        assert_eq!(parse_selector("env=prod").len(), 0, "unquoted: left out");
    }

    #[test]
    fn only_firing_alerts_of_this_environment_are_kept() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let answer = parse_alerts(200, ALERTS.as_bytes()).unwrap();
        let alerts = q.environment_alerts(&answer.alerts, ["borger", "park"]);
        assert_eq!(
            alerts,
            vec![
                Alert {
                    name: "DrupalCronStale".into(),
                    site: "borger".into(),
                    severity: Some("warning".into()),
                    summary: Some("Cron is late on borger".into()),
                    active_since: Some("2026-11-23T21:00:00.123456789Z".into()),
                },
                // No env label: kept because park is one of prod's sites…
                Alert {
                    name: "DrupalDown".into(),
                    site: "park".into(),
                    severity: None,
                    summary: Some("no env label".into()),
                    active_since: Some("2026-11-23T21:00:00Z".into()),
                },
            ],
            "dev's borger, the pending alert, the site-less Watchdog and \
             (no env label, not in the grid) elsewhere are left out"
        );

        // Without a selector every firing alert naming a site is prod's.
        let c = config_with_selector(None);
        let q = FleetQueries::new(&c, &c.environments[0]);
        let alerts = q.environment_alerts(&answer.alerts, std::iter::empty());
        assert_eq!(alerts.len(), 4);
        assert_eq!(alerts[0].site, "borger");
        assert_eq!(alerts[1].site, "borger");
        assert_eq!(alerts[2].site, "elsewhere");

        // A regex matcher cannot be judged: only sites of the grid.
        let c = config_with_selector(Some(r#"env=~"pr.*""#));
        let q = FleetQueries::new(&c, &c.environments[0]);
        let alerts = q.environment_alerts(&answer.alerts, ["park"]);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].site, "park");

        // `!=` rules out the one value.
        let c = config_with_selector(Some(r#"env!="dev""#));
        let q = FleetQueries::new(&c, &c.environments[0]);
        let alerts = q.environment_alerts(&answer.alerts, std::iter::empty());
        let sites: Vec<&str> = alerts.iter().map(|a| a.site.as_str()).collect();
        assert_eq!(sites, vec!["borger", "elsewhere", "park"]);
    }

    #[test]
    fn hostile_alert_text_is_sanitized() {
        let c = config_with_selector(None);
        let q = FleetQueries::new(&c, &c.environments[0]);
        let body = "{\"status\":\"success\",\"data\":{\"alerts\":[{\"labels\":{\"alertname\":\"A\\u001b[2J\",\"site\":\"s\\u202ex\",\"severity\":\"crit\\u0007\"},\"annotations\":{\"summary\":\"line\\nbreak\\u001b]52;c;x\\u0007\"},\"state\":\"firing\",\"activeAt\":\"\\u001b[31m\"}]}}";
        let answer = parse_alerts(200, body.as_bytes()).unwrap();
        let alerts = q.environment_alerts(&answer.alerts, std::iter::empty());
        let a = &alerts[0];
        for text in [
            &a.name,
            &a.site,
            a.severity.as_ref().unwrap(),
            a.summary.as_ref().unwrap(),
            a.active_since.as_ref().unwrap(),
        ] {
            assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        }
        assert_eq!(a.site, "sx");
    }

    #[test]
    fn timeline_and_rollout_queries_count_on_the_server() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let [errors, warnings] = q.timeline();
        assert_eq!(
            errors,
            "count(max by (site) (drupal_requirement_severity{env=\"prod\"}) >= 2)"
        );
        assert_eq!(
            warnings,
            "count(max by (site) (drupal_requirement_severity{env=\"prod\"}) == 1)"
        );
        assert_eq!(
            q.rollout("kk_\"borger"),
            "count by (site, profile_version) (drupal_info{env=\"prod\", profile=\"kk_\\\"borger\"})"
        );
        assert_eq!(
            q.rollout(NO_PROFILE),
            "count by (site, profile_version) (drupal_info{env=\"prod\", profile=\"\"})"
        );
    }

    #[test]
    fn hostile_label_values_are_sanitized() {
        let c = config();
        let q = FleetQueries::new(&c, &c.environments[0]);
        let mut l = Labels::new();
        l.insert("site", "evil\u{1b}[2J\u{202e}site");
        l.insert("profile", "p");
        let sites = merge_grid(
            &q,
            [
                vec![Sample {
                    labels: l,
                    value: 0.0,
                }],
                vec![],
                vec![],
                vec![],
                vec![],
            ],
            0.0,
        )
        .sites;
        assert_eq!(sites[0].name, "evil\u{FFFD}[2Jsite");
    }
}
