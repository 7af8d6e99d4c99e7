//! Loki's HTTP API on one endpoint: `query_range` (asking once more with
//! a lower limit when Loki refuses the one asked for), `labels` and
//! `label/<name>/values`. Knows the wire, not LogQL: callers hand in the
//! query text.

use super::wire::{
    CATEGORIZE_LABELS, Direction, ENCODING_FLAGS_HEADER, LokiAnswer, Refusal, parse_label_list,
    parse_streams,
};
use crate::config::{BackendConfig, ConfigError};
use crate::secrets::clean_line;
use crate::source::SourceError;
use crate::source::http::{Body, Endpoint, SecretLookup};

/// Loki's query API on one endpoint.
#[derive(Debug, Clone)]
pub struct LokiApi {
    pub endpoint: Endpoint,
}

impl LokiApi {
    /// Same auth, headers (`X-Scope-OrgID` for a tenant) and TLS settings as
    /// any backend; `what` names it in messages ("prod loki").
    pub fn new(
        config: &BackendConfig,
        what: &str,
        secrets: &dyn SecretLookup,
    ) -> Result<LokiApi, ConfigError> {
        Ok(LokiApi {
            endpoint: Endpoint::new(config, what, secrets)?,
        })
    }

    /// Said once at start (insecure TLS, say).
    pub fn warnings(&self) -> &[String] {
        &self.endpoint.warnings
    }

    /// Log lines of `logql` in `[start_ns, end_ns)`, at most `limit`.
    ///
    /// If Loki refuses the limit (`max_entries_limit_per_query`), asks once
    /// more with Loki's maximum (or half the limit if the refusal cannot be
    /// read) and says so in a notice.
    pub async fn query_range(
        &self,
        logql: &str,
        start_ns: i64,
        end_ns: i64,
        limit: usize,
        direction: Direction,
    ) -> Result<LokiAnswer, SourceError> {
        let first = self
            .fetch_streams(logql, start_ns, end_ns, limit, direction)
            .await;
        let refusal = match first {
            Ok(answer) => return Ok(answer),
            Err(refusal) => refusal,
        };
        let Some(too_many) = refusal.too_many else {
            return Err(refusal.error);
        };
        let lowered = too_many.max.filter(|max| *max < limit).unwrap_or(limit / 2);
        if lowered == 0 || lowered >= limit {
            return Err(refusal.error);
        }
        let mut answer = self
            .fetch_streams(logql, start_ns, end_ns, lowered, direction)
            .await
            .map_err(|r| r.error)?;
        let notice = match too_many.max {
            Some(max) if max == lowered => format!(
                "Loki allows at most {max} entries per query (max_entries_limit_per_query): asked for {lowered} instead of {limit}"
            ),
            _ => format!(
                "Loki refused a limit of {limit} entries per query: asked for {lowered} instead"
            ),
        };
        answer.notices.insert(0, notice);
        Ok(answer)
    }

    async fn fetch_streams(
        &self,
        logql: &str,
        start_ns: i64,
        end_ns: i64,
        limit: usize,
        direction: Direction,
    ) -> Result<LokiAnswer, Refusal> {
        let url = self.endpoint.url("loki/api/v1/query_range")?;
        let params = [
            ("query", logql.to_string()),
            ("start", start_ns.to_string()),
            ("end", end_ns.to_string()),
            ("limit", limit.to_string()),
            ("direction", direction.as_str().to_string()),
        ];
        let (status, body) = self.get(url, &params, true).await?;
        let mut answer = parse_streams(status, &body, direction).map_err(|r| Refusal {
            error: self.located(r.error),
            too_many: r.too_many,
        })?;
        if limit > 0 && answer.entries.len() > limit {
            answer.notices.push(format!(
                "Loki sent {} entries for a limit of {limit}; the {} were dropped",
                answer.entries.len(),
                match direction {
                    Direction::Backward => "oldest",
                    Direction::Forward => "newest",
                }
            ));
            answer.entries.truncate(limit);
        }
        Ok(answer)
    }

    /// Label names with any stream in `[start_ns, end_ns]`. Unsanitized.
    pub async fn labels(&self, start_ns: i64, end_ns: i64) -> Result<Vec<String>, SourceError> {
        let url = self.endpoint.url("loki/api/v1/labels")?;
        self.label_list(url, start_ns, end_ns).await
    }

    /// Values of `label` with any stream in `[start_ns, end_ns]`: the sites
    /// that pushed reports, say. Unsanitized.
    pub async fn label_values(
        &self,
        label: &str,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<String>, SourceError> {
        if label.is_empty() || label == "." || label == ".." {
            return Err(SourceError::new(format!(
                "{:?} is not a label name",
                clean_line(label, 40)
            )));
        }
        let mut url = self.endpoint.url("loki/api/v1/label")?;
        url.path_segments_mut()
            .map_err(|_| SourceError::new(format!("{}: not a base URL", self.endpoint.display())))?
            .push(label)
            .push("values");
        self.label_list(url, start_ns, end_ns).await
    }

    async fn label_list(
        &self,
        url: url::Url,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<String>, SourceError> {
        let params = [("start", start_ns.to_string()), ("end", end_ns.to_string())];
        let (status, body) = self.get(url, &params, false).await.map_err(|r| r.error)?;
        parse_label_list(status, &body).map_err(|e| self.located(e))
    }

    async fn get(
        &self,
        url: url::Url,
        params: &[(&str, String)],
        categorize: bool,
    ) -> Result<(u16, Body), Refusal> {
        let mut request = self.endpoint.client.get(url).query(params);
        if categorize {
            request = request.header(ENCODING_FLAGS_HEADER, CATEGORIZE_LABELS);
        }
        Ok(self.endpoint.send(request).await?)
    }

    fn located(&self, error: SourceError) -> SourceError {
        SourceError::new(format!("{}: {}", self.endpoint.display(), error.message))
    }
}
