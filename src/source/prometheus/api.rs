//! Prometheus' HTTP API on one endpoint: instant and range queries, the
//! alerts list, and the budgeted instant query whose body counts against
//! the environment's `max_poll_mib` while its samples are held. Knows the
//! wire, not PromQL: callers hand in the query text.

use std::time::Duration;

use super::wire::{AlertsAnswer, Answer, parse_alerts, parse_response};
use crate::source::SourceError;
use crate::source::http::{Body, Endpoint, Lease};

/// Longer queries go as a POST form: proxies cap URL length.
const MAX_GET_QUERY: usize = 2000;

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
        self.endpoint.send(request).await
    }
}
