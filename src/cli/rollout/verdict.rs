//! What the gate says at its end: the result on stdout (text or JSON), the
//! one-line headline, and the GitHub step summary's Markdown. Every site
//! with its old and new version, when it switched, and why it regressed.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Serialize;

use super::GateRequest;
use crate::model::format_rfc3339_utc;
use crate::model::gate::{BaselineFrom, GateProgress, GateSite, Verdict};
use crate::model::text::terminal_safe_json;

/// What came of asking a site's agent to run now.
#[derive(Debug, Clone, PartialEq)]
pub enum RunNote {
    Asked,
    Ran,
    Failed(String),
}

/// Everything the gate found, for whoever prints it.
#[derive(Debug, Clone)]
pub struct GateResult {
    pub verdict: Verdict,
    /// Stopped by a signal before a verdict.
    pub interrupted: bool,
    /// `None` when no baseline could be taken.
    pub progress: Option<GateProgress>,
    /// Sites whose agents were asked to run now.
    pub runs: BTreeMap<String, RunNote>,
    /// Site → requirement id → title, for the regressed sites.
    pub titles: HashMap<String, HashMap<String, String>>,
    pub waited: Duration,
    /// The backend's latest failure, when it was failing at the end.
    pub backend_error: Option<String>,
}

impl GateResult {
    pub fn verdict_key(&self) -> &'static str {
        if self.interrupted {
            "interrupted"
        } else {
            self.verdict.key()
        }
    }

    fn title_of(&self, site: &str, id: &str) -> Option<&str> {
        self.titles
            .get(site)
            .and_then(|t| t.get(id))
            .map(String::as_str)
    }

    /// `update (Database updates), cron`: a site's regressions as a
    /// phrase.
    pub fn regressions_text(&self, site: &GateSite) -> String {
        if site.regressions.is_empty() {
            return site
                .state
                .map(|s| s.label().to_string())
                .unwrap_or_default();
        }
        site.regressions
            .iter()
            .map(|id| match self.title_of(&site.site, id) {
                Some(title) => format!("{id} ({title})"),
                None => id.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How the site ended: what it waits for, or its result on the
    /// version.
    pub fn outcome_text(&self, site: &GateSite, version: &str) -> String {
        if site.switched_at.is_none() {
            return match &site.version {
                Some(v) => format!("still on {v}"),
                None => "no version reported".to_string(),
            };
        }
        if !site.reported {
            return format!("no report on {version} yet");
        }
        if site.regressed() {
            if site.baseline == BaselineFrom::None {
                return format!("regressed (no baseline): {}", self.regressions_text(site));
            }
            return format!("regressed: {}", self.regressions_text(site));
        }
        site.state
            .map(|s| s.label().to_string())
            .unwrap_or_default()
    }

    pub fn asked_summary(&self) -> Option<String> {
        if self.runs.is_empty() {
            return None;
        }
        let ran = self.runs.values().filter(|r| **r == RunNote::Ran).count();
        let failed = self
            .runs
            .values()
            .filter(|r| matches!(r, RunNote::Failed(_)))
            .count();
        let sites = self.runs.len();
        let mut text = format!(
            "asked the agents of {sites} site{} to run now ({ran} ran",
            if sites == 1 { "" } else { "s" }
        );
        if failed > 0 {
            text.push_str(&format!(", {failed} did not"));
        }
        text.push(')');
        Some(text)
    }
}

/// Where a site's baseline came from: `start`, `before-switch at T`,
/// `since T` or `none`.
pub fn baseline_text(from: BaselineFrom) -> String {
    match from {
        BaselineFrom::BeforeSwitch { at } => format!("before-switch at {}", time_text(at)),
        BaselineFrom::Since { at } => format!("since {}", time_text(at)),
        BaselineFrom::Start | BaselineFrom::None => from.key().to_string(),
    }
}

/// `baselines: 6 start, 2 before-switch`: the sources in use, counted.
pub fn baselines_text(p: &GateProgress) -> String {
    let counts: Vec<String> = p
        .baselines()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    format!("baselines: {}", counts.join(", "))
}

fn time_text(unix: f64) -> String {
    format_rfc3339_utc((unix.floor() as i64).saturating_mul(1_000_000_000))
}

fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// One line: the verdict and the counts behind it.
pub fn headline(request: &GateRequest, result: &GateResult) -> String {
    let what = format!("{} {} in {}", request.profile, request.version, request.env);
    let waited = duration_text(result.waited);
    let Some(p) = &result.progress else {
        let error = result
            .backend_error
            .as_deref()
            .unwrap_or("no answer from the backend");
        return if result.interrupted {
            format!("{what}: interrupted after {waited} before a baseline ({error})")
        } else {
            format!(
                "{what}: backend down: no baseline in {waited}: {error}; the gate does not pass on missing data"
            )
        };
    };
    let regressed = p.regressed().len();
    let counts = format!(
        "{} of {} sites on {}, {} reported, {} regressed (at most {} allowed)",
        p.on_version(),
        p.total(),
        request.version,
        p.reported(),
        regressed,
        request.max_failing
    );
    if result.interrupted {
        return format!("{what}: interrupted after {waited}: {counts}");
    }
    match &result.verdict {
        Verdict::Passed => format!("{what}: passed after {waited}: {counts}"),
        Verdict::Regressed => format!("{what}: regressed after {waited}: {counts}"),
        Verdict::TimedOut if p.total() == 0 => format!(
            "{what}: timed out after {waited}: no site of profile {} in {}",
            request.profile, request.env
        ),
        Verdict::TimedOut => format!(
            "{what}: timed out after {waited}: {counts}; waiting for {}",
            waiting_text(p)
        ),
        Verdict::BackendDown { error } => format!(
            "{what}: backend down at the deadline ({waited}): {error}; the gate does not pass on missing data ({counts})"
        ),
    }
}

/// `site-a (still on 3.14), site-b (no report on 3.15 yet)`, at most ten.
fn waiting_text(p: &GateProgress) -> String {
    let waiting = p.waiting();
    let mut parts: Vec<String> = waiting
        .iter()
        .take(10)
        .map(|s| match (&s.switched_at, &s.version) {
            (None, Some(v)) => format!("{} (still on {v})", s.site),
            (None, None) => format!("{} (no version)", s.site),
            (Some(_), _) => format!("{} (no report since it switched)", s.site),
        })
        .collect();
    if waiting.len() > 10 {
        parts.push(format!("and {} more", waiting.len() - 10));
    }
    parts.join(", ")
}

/// The result as text: the headline, then one row per site.
pub fn text(request: &GateRequest, result: &GateResult) -> String {
    let mut out = headline(request, result);
    if let Some(asked) = result.asked_summary() {
        out.push('\n');
        out.push_str(&asked);
    }
    let Some(p) = &result.progress else {
        return out;
    };
    if p.sites.is_empty() {
        return out;
    }
    out.push('\n');
    out.push_str(&baselines_text(p));
    let rows: Vec<[String; 6]> = p
        .sites
        .iter()
        .map(|s| {
            [
                s.site.clone(),
                s.old_version.clone().unwrap_or_else(|| "-".into()),
                s.version.clone().unwrap_or_else(|| "-".into()),
                s.switched_at.map(time_text).unwrap_or_else(|| "-".into()),
                baseline_text(s.baseline),
                result.outcome_text(s, &request.version),
            ]
        })
        .collect();
    let header = ["SITE", "FROM", "TO", "SWITCHED", "BASELINE", "RESULT"];
    let mut widths = header.map(unicode_width::UnicodeWidthStr::width);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(unicode_width::UnicodeWidthStr::width(cell.as_str()));
        }
    }
    out.push_str("\n\n");
    let line = |cells: &[String]| {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i] - unicode_width::UnicodeWidthStr::width(cell.as_str());
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        line
    };
    out.push_str(&line(&header.map(String::from)));
    for row in &rows {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}

#[derive(Serialize)]
struct JsonRegression<'a> {
    id: &'a str,
    title: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonSite<'a> {
    site: &'a str,
    old_version: Option<&'a str>,
    version: Option<&'a str>,
    switched_at: Option<String>,
    reported: bool,
    state: Option<&'static str>,
    regressed: bool,
    regressions: Vec<JsonRegression<'a>>,
    /// `start`, `before-switch`, `since` or `none`.
    baseline: &'static str,
    /// When the baseline was taken, for `before-switch` and `since`.
    baseline_at: Option<String>,
    /// `asked`, `ran` or `failed` when its agent was asked to run now.
    run_now: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_error: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonCounts {
    total: usize,
    on_version: usize,
    reported: usize,
    regressed: usize,
    /// Sites per baseline source.
    baselines: BTreeMap<&'static str, usize>,
}

#[derive(Serialize)]
struct JsonGate<'a> {
    verdict: &'static str,
    exit_code: u8,
    env: &'a str,
    profile: &'a str,
    version: &'a str,
    max_failing: usize,
    waited_seconds: u64,
    error: Option<&'a str>,
    counts: Option<JsonCounts>,
    asked_to_run: usize,
    sites: Vec<JsonSite<'a>>,
}

/// The result as one JSON document.
pub fn json(request: &GateRequest, result: &GateResult) -> String {
    let exit_code = if result.interrupted {
        crate::cli::exit::INTERRUPTED
    } else {
        super::exit_code(&result.verdict)
    };
    let error = match &result.verdict {
        Verdict::BackendDown { error } => Some(error.as_str()),
        _ => result.backend_error.as_deref(),
    };
    let sites = result
        .progress
        .iter()
        .flat_map(|p| &p.sites)
        .map(|s| {
            let run = result.runs.get(&s.site);
            JsonSite {
                site: &s.site,
                old_version: s.old_version.as_deref(),
                version: s.version.as_deref(),
                switched_at: s.switched_at.map(time_text),
                reported: s.reported,
                state: s.state.map(|st| st.key()),
                regressed: s.regressed(),
                regressions: s
                    .regressions
                    .iter()
                    .map(|id| JsonRegression {
                        id,
                        title: result.title_of(&s.site, id),
                    })
                    .collect(),
                baseline: s.baseline.key(),
                baseline_at: s.baseline.at().map(time_text),
                run_now: run.map(|r| match r {
                    RunNote::Asked => "asked",
                    RunNote::Ran => "ran",
                    RunNote::Failed(_) => "failed",
                }),
                run_error: match run {
                    Some(RunNote::Failed(e)) => Some(e.as_str()),
                    _ => None,
                },
            }
        })
        .collect();
    let gate = JsonGate {
        verdict: result.verdict_key(),
        exit_code,
        env: &request.env,
        profile: &request.profile,
        version: &request.version,
        max_failing: request.max_failing,
        waited_seconds: result.waited.as_secs(),
        error,
        counts: result.progress.as_ref().map(|p| JsonCounts {
            total: p.total(),
            on_version: p.on_version(),
            reported: p.reported(),
            regressed: p.regressed().len(),
            baselines: p.baselines(),
        }),
        asked_to_run: result.runs.len(),
        sites,
    };
    terminal_safe_json(&serde_json::to_string_pretty(&gate).unwrap_or_default())
}

/// A table cell: a pipe would end it.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The GitHub step summary: the headline and the sites that matter (all
/// of them when few).
pub fn markdown(request: &GateRequest, result: &GateResult) -> String {
    let mut out = format!(
        "### Rollout gate: {} {} in {}: {}\n\n{}\n",
        cell(&request.profile),
        cell(&request.version),
        cell(&request.env),
        result.verdict_key().replace('_', " "),
        cell(&headline(request, result))
    );
    if let Some(asked) = result.asked_summary() {
        out.push_str(&format!("\n{asked}\n"));
    }
    let Some(p) = &result.progress else {
        return out;
    };
    if p.sites.is_empty() {
        return out;
    }
    out.push_str("\n| Site | From | To | Switched | Result |\n|---|---|---|---|---|\n");
    for s in &p.sites {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell(&s.site),
            cell(s.old_version.as_deref().unwrap_or("-")),
            cell(s.version.as_deref().unwrap_or("-")),
            s.switched_at.map(time_text).unwrap_or_else(|| "-".into()),
            cell(&result.outcome_text(s, &request.version)),
        ));
    }
    out
}
