//! A site's status reports in Loki: the stream its workload pushes them
//! to, and the newest of them read back and parsed (`model::report`),
//! whatever their shape. Talks to Loki only through `LokiApi`.

use super::api::LokiApi;
use super::logql::stream_selector;
use super::wire::Direction;
use crate::config::{Config, ConfigError, EnvironmentConfig, Matcher};
use crate::model::{Reports, parse_report_line};
use crate::source::SourceError;
use crate::source::http::SecretLookup;

/// How far back the report list looks. Reports come every few minutes, so
/// a week holds far more than a screen; Loki stops at the limit anyway.
pub const REPORT_WINDOW_SECONDS: i64 = 7 * 86_400;

/// A site's status reports in Loki.
pub struct LokiReports {
    pub api: LokiApi,
    job: String,
    site_label: String,
    selector: Vec<Matcher>,
}

impl LokiReports {
    pub fn new(
        config: &Config,
        env: &EnvironmentConfig,
        secrets: &dyn SecretLookup,
    ) -> Result<Option<LokiReports>, ConfigError> {
        let Some(loki) = &env.loki else {
            return Ok(None);
        };
        Ok(Some(LokiReports {
            api: LokiApi::new(loki, &format!("{} loki", env.name.0), secrets)?,
            job: config.metrics.job.clone(),
            site_label: config.labels.site.0.clone(),
            selector: env
                .selector
                .as_ref()
                .map(|s| s.matchers.clone())
                .unwrap_or_default(),
        }))
    }

    /// The stream of one site's reports, e.g.
    /// `{job="site-status", site="borger", env="prod"}`.
    pub fn selector(&self, site: &str) -> String {
        stream_selector(
            &[("job", self.job.as_str()), (self.site_label.as_str(), site)],
            &self.selector,
        )
    }

    /// The newest `count` reports, newest first, each parsed whatever its
    /// shape.
    pub async fn recent(&self, site: &str, count: usize) -> Result<Reports, SourceError> {
        let end = crate::model::Clock::System.unix_nanos();
        let start = end - REPORT_WINDOW_SECONDS * 1_000_000_000;
        let answer = self
            .api
            .query_range(
                &self.selector(site),
                start,
                end,
                count.max(1),
                Direction::Backward,
            )
            .await?;
        Ok(Reports {
            reports: answer
                .entries
                .iter()
                .map(|e| parse_report_line(&e.line, e.time_ns))
                .collect(),
            notices: answer.notices,
        })
    }
}
