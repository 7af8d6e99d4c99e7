//! Prometheus' HTTP API on one endpoint: instant and range queries, the
//! alerts as series, and the budgeted instant query whose body counts
//! against the environment's `max_poll_mib` while its samples are held.
//! Knows the wire, not PromQL: callers hand in the query text (the alerts'
//! from `FleetQueries`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::labels::Labels;
use super::promql::FleetQueries;
use super::wire::{AlertsAnswer, Answer, PromAlert, parse_response};
use crate::source::SourceError;
use crate::source::http::{Body, Endpoint, Lease};

/// Longer queries go as a POST form: proxies cap URL length.
const MAX_GET_QUERY: usize = 2000;

/// Prometheus' query API on one endpoint.
#[derive(Debug, Clone)]
pub struct PromApi {
    pub endpoint: Endpoint,
    /// The last alerts list read, and when: see [`PromApi::recent_alerts`].
    last_alerts: Arc<Mutex<Option<(Instant, AlertsAnswer)>>>,
    /// Off: [`PromApi::recent_alerts`] answers none without asking.
    reads_alerts: bool,
}

/// How old an alerts list may be before it is read again. Alerts change
/// only when Prometheus evaluates its rules (every 15 s or more in
/// practice), and at 10,000 sites the list costs Prometheus a fifth of a
/// round's CPU: a 2 s refresh need not ask for it each time. A refresh of
/// 10 s or more reads it every time.
pub const ALERTS_MAX_AGE: Duration = Duration::from_secs(10);

/// The labels that are not the alert's own: the series' name (`ALERTS`
/// or `ALERTS_FOR_STATE`) and its state.
const IDENTITY_EXCLUDES: [&str; 2] = ["__name__", "alertstate"];

/// What tells one alert's two series apart from other alerts': its labels
/// but the name and state, in their (sorted) order.
fn alert_identity(labels: &Labels) -> String {
    let mut identity = String::new();
    for (name, value) in labels.iter() {
        if !IDENTITY_EXCLUDES.contains(&name) {
            identity.push_str(name);
            identity.push('\u{0}');
            identity.push_str(value);
            identity.push('\u{0}');
        }
    }
    identity
}

impl PromApi {
    pub fn new(endpoint: Endpoint) -> PromApi {
        PromApi {
            endpoint,
            last_alerts: Arc::default(),
            reads_alerts: true,
        }
    }

    /// Whether polls read the alerts (`Config::read_alerts`).
    pub fn reading_alerts(self, reads_alerts: bool) -> PromApi {
        PromApi {
            reads_alerts,
            ..self
        }
    }

    pub fn reads_alerts(&self) -> bool {
        self.reads_alerts
    }

    /// The environment's alerts ([`PromApi::alert_series`]), read again
    /// only when the last read is [`ALERTS_MAX_AGE`] old (a refresh
    /// cannot be exactly 10 s apart, so a little less counts). A failed
    /// read is not kept: the next poll asks again.
    pub async fn recent_alerts(&self, queries: &FleetQueries) -> Result<AlertsAnswer, SourceError> {
        if !self.reads_alerts {
            return Ok(AlertsAnswer::default());
        }
        let kept = self
            .last_alerts
            .lock()
            .ok()
            .and_then(|last| last.clone())
            .filter(|(at, _)| at.elapsed() + Duration::from_millis(500) < ALERTS_MAX_AGE);
        if let Some((_, answer)) = kept {
            return Ok(answer);
        }
        let answer = self.alert_series(queries).await?;
        if let Ok(mut last) = self.last_alerts.lock() {
            *last = Some((Instant::now(), answer.clone()));
        }
        Ok(answer)
    }

    pub async fn query(&self, promql: &str) -> Result<Answer, SourceError> {
        self.call("api/v1/query", vec![("query", promql.to_string())])
            .await
    }

    /// An instant query evaluated at `at` (Unix seconds): what the server
    /// would have answered then.
    pub async fn query_at(&self, promql: &str, at: f64) -> Result<Answer, SourceError> {
        self.call(
            "api/v1/query",
            vec![("query", promql.to_string()), ("time", format!("{at:.3}"))],
        )
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

    /// Every alert that names a site, from the `ALERTS` and
    /// `ALERTS_FOR_STATE` series ([`FleetQueries::alerts`]): labels, state
    /// and since when, without annotations; which environment each is
    /// for is judged by the caller. Without the second answer an
    /// alert has no start time; without the first there are no alerts.
    pub async fn alert_series(&self, queries: &FleetQueries) -> Result<AlertsAnswer, SourceError> {
        let [states, since] = queries.alerts();
        let (states, since) = tokio::join!(self.query(&states), self.query(&since));
        let states = states?;
        let mut warnings = states.warnings.clone();
        let since = match since.and_then(|a| {
            warnings.extend(a.warnings.iter().cloned());
            a.into_vector()
        }) {
            Ok(samples) => samples,
            Err(e) => {
                warnings.push(format!("alerts' start times unavailable: {}", e.message));
                Vec::new()
            }
        };
        let started: std::collections::HashMap<String, f64> = since
            .iter()
            .map(|s| (alert_identity(&s.labels), s.value))
            .collect();
        let alerts = states
            .into_vector()?
            .into_iter()
            .map(|s| {
                let identity = alert_identity(&s.labels);
                let active_at = started
                    .get(&identity)
                    .filter(|at| at.is_finite() && **at > 0.0)
                    // Whole milliseconds: a float of seconds carries no
                    // truer nanoseconds.
                    .map(|at| {
                        crate::model::format_rfc3339_utc((at * 1e3).round() as i64 * 1_000_000)
                    });
                PromAlert {
                    state: s.labels.get("alertstate").unwrap_or_default().to_string(),
                    labels: s
                        .labels
                        .iter()
                        .filter(|(name, _)| !IDENTITY_EXCLUDES.contains(name))
                        .collect::<Labels>(),
                    annotations: Labels::new(),
                    active_at,
                }
            })
            .collect();
        Ok(AlertsAnswer { alerts, warnings })
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
        self.endpoint.send(request).await
    }
}
