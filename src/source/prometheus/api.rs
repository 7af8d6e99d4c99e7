//! Prometheus' HTTP API on one endpoint: instant and range queries, the
//! grid's firing alerts read at most every [`ALERTS_MAX_AGE`], and the
//! budgeted instant query whose body counts against the environment's
//! `max_poll_mib` while its samples are held. Knows the wire, not PromQL:
//! callers hand in the query text (the alerts' from `FleetQueries`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::promql::FleetQueries;
use super::wire::{Answer, Sample, parse_response};
use crate::source::SourceError;
use crate::source::http::{Body, Endpoint, Lease};

/// Longer queries go as a POST form: proxies cap URL length.
const MAX_GET_QUERY: usize = 2000;

/// Prometheus' query API on one endpoint.
#[derive(Debug, Clone)]
pub struct PromApi {
    pub endpoint: Endpoint,
    /// The last firing alerts read, and when: see [`PromApi::recent_firing`].
    last_firing: Arc<Mutex<Option<FiringRead>>>,
    /// Off: [`PromApi::recent_firing`] answers none without asking.
    reads_alerts: bool,
}

/// A read of the firing alerts and when it was made.
type FiringRead = (Instant, Arc<FiringAlerts>);

/// The grid's firing alerts as Prometheus counted them
/// ([`FleetQueries::firing_alerts`]): one sample per site and label set,
/// shared by the polls (and the environments) that read them.
#[derive(Debug, Default, PartialEq)]
pub struct FiringAlerts {
    pub samples: Vec<Sample>,
    pub warnings: Vec<String>,
}

/// How old the firing alerts may be before they are read again. Alerts
/// change only when Prometheus evaluates its rules (every 15 s or more in
/// practice): a 2 s refresh need not ask each time. A refresh of 10 s or
/// more reads them every time.
pub const ALERTS_MAX_AGE: Duration = Duration::from_secs(10);

impl PromApi {
    pub fn new(endpoint: Endpoint) -> PromApi {
        PromApi {
            endpoint,
            last_firing: Arc::default(),
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

    /// The grid's firing alerts ([`FleetQueries::firing_alerts`]), read
    /// again only when the last read is [`ALERTS_MAX_AGE`] old (a refresh
    /// cannot be exactly 10 s apart, so a little less counts). A failed
    /// read is not kept: the next poll asks again.
    pub async fn recent_firing(
        &self,
        queries: &FleetQueries,
    ) -> Result<Arc<FiringAlerts>, SourceError> {
        if !self.reads_alerts {
            return Ok(Arc::default());
        }
        let kept = self
            .last_firing
            .lock()
            .ok()
            .and_then(|last| last.clone())
            .filter(|(at, _)| at.elapsed() + Duration::from_millis(500) < ALERTS_MAX_AGE);
        if let Some((_, answer)) = kept {
            return Ok(answer);
        }
        let answer = self.query(&queries.firing_alerts()).await?;
        let warnings = answer.warnings.clone();
        let answer = Arc::new(FiringAlerts {
            samples: answer.into_vector()?,
            warnings,
        });
        if let Ok(mut last) = self.last_firing.lock() {
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
