//! Prometheus as an environment's `FleetSource`: the grid from six
//! aggregated instant queries and the firing alerts counted per site, a
//! site's raw series and alerts, the alerts view's list, a requirement's
//! history, the fleet timeline and a profile's rollout.
//!
//! The grid costs six instant queries per environment per refresh, each
//! aggregated on the server, whatever the number of sites (the sixth, why
//! runs fail, answers only for the failing ones), and the firing alerts
//! counted per site (`count by` over `ALERTS`, never the `GET
//! api/v1/alerts` list with every alert's annotations) at most every 10 s
//! (`api::ALERTS_MAX_AGE`); one site's raw series and alerts, the alerts
//! view's counts and newest alerts, the fleet timeline and a profile's
//! rollout are only asked for while a view shows them. The parts
//! live beside this file: `wire` (answers), `api` (HTTP), `promql` (the
//! queries), `merge` (answers into sites), `labels` (a series' labels).

mod api;
mod group;
mod labels;
mod merge;
mod promql;
#[cfg(test)]
mod test_fixtures;
mod wire;

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use api::{FiringAlerts, PromApi};
pub use group::{EarlyAnswers, MemberAnswers, SharedGrid, SharedSelector, shared_selector};
pub use labels::Labels;
pub use merge::{MergedGrid, NO_PROFILE, alert_groups, merge_grid, merge_site};
pub use promql::{FleetQueries, GRID_QUERIES, MatchOp, Matcher, quote, recorded};
pub use wire::{Answer, QueryData, Sample, Series, parse_response, parse_sample};

use super::http::{Endpoint, Lease, SecretLookup};
use super::{BoxFuture, EnvReport, FleetSource, Preview, SourceError};
use crate::config::{Config, ConfigError, EnvironmentConfig};
use crate::model::gate::Switch;
use crate::model::text::{MAX_NAME_CHARS, clean_line};
use crate::model::{
    Alert, AlertList, History, Rollout, Severity, SiteDetail, Timeline, VanishedSites, Window,
    set_badges,
};

fn unix_now() -> f64 {
    crate::model::Clock::System.unix_seconds()
}

/// Said with a first answer shown before the failing requirements came.
pub const PREVIEW_WARNING: &str =
    "first answer: each site's worst state; its failing requirements are still being read";

/// An answer and the budget its body took.
type Held = Result<(Answer, Option<Lease>), SourceError>;

/// The grid's six answers, in [`FleetQueries::grid`]'s order. The failing
/// requirements (the second) read every requirement series on raw series:
/// the other five go to `first` as soon as they are in, without waiting
/// for it.
async fn ask_grid(
    api: &PromApi,
    queries: &FleetQueries,
    first: impl FnOnce([&Held; 5]),
) -> [Held; GRID_QUERIES] {
    let [q0, q1, q2, q3, q4, q5] = queries.grid();
    let rest = async {
        let (a0, a2, a3, a4, a5) = tokio::join!(
            api.query_held(&q0),
            api.query_held(&q2),
            api.query_held(&q3),
            api.query_held(&q4),
            api.query_held(&q5),
        );
        first([&a0, &a2, &a3, &a4, &a5]);
        (a0, a2, a3, a4, a5)
    };
    let ((a0, a2, a3, a4, a5), a1) = tokio::join!(rest, api.query_held(&q1));
    [a0, a1, a2, a3, a4, a5]
}

/// A copy of an answer's samples, for a first answer offered early.
fn vector_of(answer: &Held) -> Option<Vec<Sample>> {
    match answer {
        Ok((
            Answer {
                data: QueryData::Vector(samples),
                ..
            },
            _,
        )) => Some(samples.clone()),
        _ => None,
    }
}

/// Takes the grid's answers that came first (the failing requirements
/// left empty) and offers them as a partial report.
fn offer_preview(
    queries: &FleetQueries,
    max_sites: usize,
    preview: &Preview,
    answers: [Vec<Sample>; GRID_QUERIES],
) {
    let merged = merge_grid(queries, answers, unix_now());
    if merged.sites.len() > max_sites {
        return;
    }
    preview(EnvReport {
        sites: merged.sites,
        warnings: vec![PREVIEW_WARNING.to_string()],
        silences: None,
        partial: true,
    });
}

struct GridAnswers {
    answers: [Vec<Sample>; GRID_QUERIES],
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
    /// When the environment shares its Prometheus with others: the grid
    /// asked for all of them at once, and this environment's value of the
    /// label that tells them apart.
    shared: Option<(Arc<SharedGrid>, String)>,
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
            api: PromApi::new(endpoint).reading_alerts(config.read_alerts),
            queries: FleetQueries::new(config, env),
            forget_after: config.forget_after.0,
            max_sites: env.max_sites,
            vanished: Mutex::new(VanishedSites::default()),
            shared: None,
        })
    }

    /// From now on the grid comes from `grid`'s rounds, as `member`.
    pub fn share_grid(&mut self, grid: Arc<SharedGrid>, member: String) {
        self.shared = Some((grid, member));
    }

    pub fn queries(&self) -> &FleetQueries {
        &self.queries
    }

    /// The grid's answers and the firing alerts, from this environment's
    /// own requests or its part of a shared round.
    async fn grid_and_alerts(
        &self,
        preview: Option<Preview>,
    ) -> Result<(GridAnswers, Result<Arc<FiringAlerts>, SourceError>), SourceError> {
        let early = preview.map(|preview| {
            let (queries, max_sites) = (self.queries.clone(), self.max_sites);
            Box::new(move |answers| offer_preview(&queries, max_sites, &preview, answers))
                as EarlyAnswers
        });
        if let Some((grid, member)) = &self.shared {
            let MemberAnswers {
                answers,
                warnings,
                alerts,
            } = grid.answers_for(member, early).await?;
            return Ok((
                GridAnswers {
                    answers,
                    warnings,
                    _leases: Vec::new(),
                },
                alerts,
            ));
        }
        let (grid, alerts) = tokio::join!(
            self.grid_answers(early),
            self.api.recent_firing(&self.queries)
        );
        Ok((grid?, alerts))
    }

    /// The grid, and the firing alerts on its sites (labels only) for
    /// their badges: who holds the silences marks them first.
    pub async fn fleet_and_firing(
        &self,
        preview: Option<Preview>,
    ) -> Result<(EnvReport, Vec<Alert>), SourceError> {
        let (grid, alerts) = self.grid_and_alerts(preview).await?;
        let GridAnswers {
            answers,
            mut warnings,
            _leases,
        } = grid;
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
        let firing = match alerts {
            Ok(answer) => {
                warnings.extend(answer.warnings.iter().cloned());
                self.queries
                    .environment_alerts(&answer.samples, sites.iter().map(|s| s.name.as_str()))
            }
            Err(e) => {
                warnings.push(format!("alerts unavailable: {}", e.message));
                Vec::new()
            }
        };
        Ok((
            EnvReport {
                sites,
                warnings,
                silences: None,
                partial: false,
            },
            firing,
        ))
    }

    /// The alerts view's read of this environment
    /// ([`FleetQueries::alert_list`]).
    pub async fn alert_list(&self, per_name: usize) -> Result<AlertList, SourceError> {
        let [counts, newest] = self.queries.alert_list(per_name);
        let (counts, newest) = tokio::join!(self.api.query(&counts), self.api.query(&newest));
        Ok(AlertList {
            groups: alert_groups(&counts?.into_vector()?),
            alerts: self.queries.alerts_since_from(&newest?.into_vector()?),
            per_name,
        })
    }

    /// A profile's versions from the rollout query's samples.
    fn rollout_of(&self, profile: &str, samples: &[Sample]) -> Rollout {
        Rollout::from_pairs(
            profile,
            samples.iter().filter_map(|s| {
                Some((
                    s.labels.get(&self.queries.site)?,
                    s.labels.get("profile_version").unwrap_or(""),
                ))
            }),
        )
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

    /// The grid answers, the warnings they carried, and the budget
    /// their bodies took: held until the poll's sites are merged, so that
    /// one environment's poll holds no more than `max_poll_mib`.
    async fn grid_answers(&self, early: Option<EarlyAnswers>) -> Result<GridAnswers, SourceError> {
        let [a0, a1, a2, a3, a4, a5] = ask_grid(&self.api, &self.queries, |first| {
            let Some(early) = &early else { return };
            let [v0, v2, v3, v4, v5] = first.map(vector_of);
            if let (Some(v0), Some(v2), Some(v3), Some(v4), Some(v5)) = (v0, v2, v3, v4, v5) {
                early([v0, Vec::new(), v2, v3, v4, v5]);
            }
        })
        .await;
        let mut warnings = Vec::new();
        let mut leases = Vec::new();
        let mut take = |answer: Result<(Answer, Option<Lease>), SourceError>| -> Result<Vec<Sample>, SourceError> {
            let (answer, lease) = answer?;
            leases.extend(lease);
            warnings.extend(answer.warnings.clone());
            answer.into_vector()
        };
        let answers = [
            take(a0)?,
            take(a1)?,
            take(a2)?,
            take(a3)?,
            take(a4)?,
            take(a5)?,
        ];
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
            let (mut report, firing) = self.fleet_and_firing(None).await?;
            set_badges(&mut report.sites, firing);
            Ok(report)
        })
    }

    fn fetch_fleet_previewing(
        &self,
        preview: Preview,
    ) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
        Box::pin(async move {
            let (mut report, firing) = self.fleet_and_firing(Some(preview)).await?;
            set_badges(&mut report.sites, firing);
            Ok(report)
        })
    }

    fn fetch_site<'a>(&'a self, site: &'a str) -> BoxFuture<'a, Result<SiteDetail, SourceError>> {
        Box::pin(async move {
            let [q0, q1, q2, q3, q4, q5] = self.queries.site(site);
            let alerts = async {
                if self.api.reads_alerts() {
                    Some(self.api.query(&self.queries.site_alerts(site)).await)
                } else {
                    None
                }
            };
            let (a0, a1, a2, a3, a4, a5, alerts) = tokio::join!(
                self.api.query(&q0),
                self.api.query(&q1),
                self.api.query(&q2),
                self.api.query(&q3),
                self.api.query(&q4),
                self.api.query(&q5),
                alerts,
            );
            let severities = a0?.into_vector()?;
            // Only the severities must answer; the rest shows what it can.
            let rest = [a1, a2, a3, a4, a5].map(|a| a.ok().and_then(|a| a.into_vector().ok()));
            let mut detail = merge_site(&self.queries, site, &severities, rest, unix_now());
            match alerts.map(|a| a.and_then(Answer::into_vector)) {
                Some(Ok(samples)) => detail.alerts = self.queries.alerts_since_from(&samples),
                Some(Err(e)) => detail.alerts_error = Some(e.message),
                None => {}
            }
            Ok(detail)
        })
    }

    fn fetch_alerts(&self, per_name: usize) -> BoxFuture<'_, Result<AlertList, SourceError>> {
        Box::pin(self.alert_list(per_name))
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
            Ok(self.rollout_of(profile, &samples))
        })
    }

    fn fetch_switches<'a>(
        &'a self,
        profile: &'a str,
        version: &'a str,
        lookback: Duration,
    ) -> BoxFuture<'a, Result<std::collections::BTreeMap<String, Switch>, SourceError>> {
        Box::pin(async move {
            let end = unix_now();
            let start = end - lookback.as_secs_f64();
            // At most about 10,000 points a series (the server refuses
            // 11,000), and never coarser than needed for a short lookback.
            // Whole seconds: the server reads no fraction in a step.
            let step = Duration::from_secs((lookback.as_secs() / 10_000).max(1) + 1);
            let series = self
                .api
                .query_range(&self.queries.rollout(profile), start, end, step)
                .await?
                .into_matrix()?;
            let mut last_off: std::collections::BTreeMap<String, Switch> =
                std::collections::BTreeMap::new();
            for s in &series {
                let (Some(site), Some(on)) = (
                    s.labels.get(&self.queries.site),
                    s.labels.get("profile_version"),
                ) else {
                    continue;
                };
                if on == version {
                    continue;
                }
                if let Some(at) = s.points.iter().map(|(t, _)| *t).reduce(f64::max) {
                    let later = last_off.get(site).is_none_or(|known| at > known.at);
                    if later {
                        let from_version = clean_line(on, MAX_NAME_CHARS);
                        last_off.insert(site.to_string(), Switch { at, from_version });
                    }
                }
            }
            Ok(last_off)
        })
    }

    fn fetch_fleet_at(&self, at: f64) -> BoxFuture<'_, Result<EnvReport, SourceError>> {
        Box::pin(async move {
            let queries = self.queries.grid();
            let answers =
                futures::future::join_all(queries.iter().map(|q| self.api.query_at(q, at))).await;
            let mut warnings = Vec::new();
            let mut vectors = Vec::with_capacity(GRID_QUERIES);
            for answer in answers {
                let answer = answer?;
                warnings.extend(answer.warnings.clone());
                vectors.push(answer.into_vector()?);
            }
            let answers: [Vec<Sample>; GRID_QUERIES] = vectors
                .try_into()
                .map_err(|_| SourceError::new("the grid's answers did not come back whole"))?;
            let MergedGrid { sites, .. } = merge_grid(&self.queries, answers, at);
            if sites.len() > self.max_sites {
                return Err(SourceError::new(format!(
                    "{}: {} sites, more than max_sites = {} for {}",
                    self.api.endpoint.display(),
                    sites.len(),
                    self.max_sites,
                    self.env
                )));
            }
            warnings.sort();
            warnings.dedup();
            Ok(EnvReport {
                sites,
                warnings,
                silences: None,
                partial: false,
            })
        })
    }

    fn fetch_rollout_at<'a>(
        &'a self,
        profile: &'a str,
        at: f64,
    ) -> BoxFuture<'a, Result<Rollout, SourceError>> {
        Box::pin(async move {
            let samples = self
                .api
                .query_at(&self.queries.rollout(profile), at)
                .await?
                .into_vector()?;
            Ok(self.rollout_of(profile, &samples))
        })
    }
}
