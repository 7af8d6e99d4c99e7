//! The gate's progress on stderr, in the form its reader wants: a one-line
//! bar on a terminal, one plain line per change in CI, plus annotations
//! and a step summary on GitHub Actions and issues on Azure DevOps.
//! stdout is left to the result.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::GateRequest;
use super::verdict::{self, GateResult, RunNote};
use crate::model::gate::{GateProgress, GateSite, Verdict};
use crate::model::{Clock, format_rfc3339_utc};

/// Where the gate runs, and so how it shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressForm {
    /// A terminal: one line, redrawn in place.
    Bar,
    /// A log: one line per change.
    Lines,
    /// GitHub Actions: lines, then `::error::`/`::notice::` annotations
    /// and a Markdown summary appended to `$GITHUB_STEP_SUMMARY`.
    GitHub,
    /// Azure DevOps: lines, then `##vso[task.logissue …]` commands.
    Azure,
}

impl ProgressForm {
    /// From the process's environment and whether stderr is a terminal.
    pub fn detect() -> ProgressForm {
        let var = |name: &str| std::env::var(name).ok();
        ProgressForm::from_environment(
            var("GITHUB_ACTIONS").as_deref(),
            var("TF_BUILD").as_deref(),
            var("CI").as_deref(),
            std::io::stderr().is_terminal(),
        )
    }

    pub fn from_environment(
        github_actions: Option<&str>,
        tf_build: Option<&str>,
        ci: Option<&str>,
        stderr_is_terminal: bool,
    ) -> ProgressForm {
        let set = |v: Option<&str>| {
            v.is_some_and(|v| !v.is_empty() && !v.eq_ignore_ascii_case("false") && v != "0")
        };
        if github_actions == Some("true") {
            ProgressForm::GitHub
        } else if tf_build.is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            ProgressForm::Azure
        } else if set(ci) || !stderr_is_terminal {
            ProgressForm::Lines
        } else {
            ProgressForm::Bar
        }
    }
}

/// GitHub allows ten error annotations per step: the rest are summed up.
const MAX_ANNOTATIONS: usize = 9;

/// Says what the gate sees as it sees it.
pub struct Reporter {
    form: ProgressForm,
    origin: String,
    bar: Option<ProgressBar>,
    out: Box<dyn Write + Send>,
    step_summary: Option<PathBuf>,
    asked_any: bool,
    /// Sites whose regression was annotated as the gate found it.
    annotated: std::collections::BTreeSet<String>,
}

impl Reporter {
    /// Progress on stderr; on GitHub Actions the step summary goes to
    /// `$GITHUB_STEP_SUMMARY`.
    pub fn new(form: ProgressForm, origin: String) -> Reporter {
        let step_summary = (form == ProgressForm::GitHub)
            .then(|| std::env::var_os("GITHUB_STEP_SUMMARY"))
            .flatten()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        Reporter::with_writer(form, origin, Box::new(std::io::stderr()), step_summary)
    }

    /// Progress into `out` (tests read it back); the bar, if any, still
    /// draws on stderr.
    pub fn with_writer(
        form: ProgressForm,
        origin: String,
        out: Box<dyn Write + Send>,
        step_summary: Option<PathBuf>,
    ) -> Reporter {
        Reporter {
            form,
            origin,
            bar: None,
            out,
            step_summary,
            asked_any: false,
            annotated: std::collections::BTreeSet::new(),
        }
    }

    fn say(&mut self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                // A closed stderr cannot be told; the result still goes out.
                let _ = writeln!(self.out, "{text}");
                let _ = self.out.flush();
            }
        }
    }

    fn stamped(&mut self, counts: Option<&str>, text: &str) {
        if self.bar.is_some() {
            self.say(text);
            return;
        }
        let now = format_rfc3339_utc(Clock::System.unix_seconds().floor() as i64 * 1_000_000_000);
        let line = match counts {
            Some(c) => format!("{now} [{c}] {text}"),
            None => format!("{now} {text}"),
        };
        self.say(&line);
    }

    pub fn started(&mut self, request: &GateRequest) {
        let mut text = format!(
            "site-status: gating {} {} in {} (timeout {}, at most {} regressed",
            request.profile,
            request.version,
            request.env,
            timeout_text(request.timeout),
            request.max_failing
        );
        if !request.selection.is_all() {
            text.push_str(&format!(", sites {}", request.selection.globs().join(" ")));
        }
        text.push(')');
        if !self.origin.is_empty() {
            text.push_str(&format!("; {}", self.origin));
        }
        if self.form == ProgressForm::Bar {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message("waiting for a baseline");
            bar.enable_steady_tick(Duration::from_millis(200));
            self.bar = Some(bar);
        }
        self.say(&text);
    }

    pub fn baseline(&mut self, request: &GateRequest, sites: usize, profiles: &[String]) {
        let text = if sites == 0 {
            format!(
                "no site of profile {} in {} yet (profiles there: {}); waiting for some to appear",
                request.profile,
                request.env,
                if profiles.is_empty() {
                    "none".to_string()
                } else {
                    profiles.join(", ")
                }
            )
        } else {
            format!(
                "baseline: {sites} site{} of {} in {}",
                if sites == 1 { "" } else { "s" },
                request.profile,
                request.env
            )
        };
        self.stamped(None, &text);
        if let Some(bar) = &self.bar {
            bar.set_style(
                ProgressStyle::with_template(
                    // The message last and as wide as the line has room:
                    // a bar that wraps is redrawn a line too low each time.
                    "{spinner} {prefix} [{bar:24}] {pos}/{len} reported · {elapsed} · {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("{} {}", request.profile, request.version));
            bar.set_length(sites as u64);
        }
    }

    /// Says what changed between two polls, site by site.
    pub fn progress(
        &mut self,
        before: Option<&GateProgress>,
        now: &GateProgress,
        request: &GateRequest,
    ) {
        let counts = counts_text(now, &request.version);
        if let Some(bar) = &self.bar {
            bar.set_length(now.total() as u64);
            bar.set_position(now.reported() as u64);
            bar.set_message(format!(
                "{} on {} · {} regressed",
                now.on_version(),
                request.version,
                now.regressed().len()
            ));
        }
        for line in changes(before, now, &request.version) {
            self.stamped(Some(&counts), &line);
        }
        // A pipeline's reader sees a regression as an annotation the
        // moment it is found (those found at the first poll too), not
        // only with the verdict; a warning, since the verdict may still
        // allow it (`--max-failing`).
        if matches!(self.form, ProgressForm::GitHub | ProgressForm::Azure) {
            for site in now.regressed() {
                if self.annotated.len() >= MAX_ANNOTATIONS {
                    break;
                }
                if self.annotated.insert(site.site.clone()) {
                    let title = format!("{} regressed on {}", site.site, request.version);
                    let message = format!("found as the deploy rolls: {}", why(site));
                    self.annotate(Level::Warning, &title, &message);
                }
            }
        }
    }

    /// One annotation in the pipeline's own syntax; nothing elsewhere.
    fn annotate(&mut self, level: Level, title: &str, message: &str) {
        match self.form {
            ProgressForm::GitHub => {
                let command = match level {
                    Level::Error => "error",
                    Level::Warning => "warning",
                    Level::Notice => "notice",
                };
                self.say(&format!(
                    "::{command} title={}::{}",
                    github_property(title),
                    github_data(message)
                ));
            }
            ProgressForm::Azure => {
                let kind = match level {
                    Level::Error => "error",
                    Level::Warning => "warning",
                    // Azure has no notice: the log line says it.
                    Level::Notice => return,
                };
                self.say(&format!(
                    "##vso[task.logissue type={kind}]{}",
                    azure_data(&format!("{title}: {message}"))
                ));
            }
            ProgressForm::Bar | ProgressForm::Lines => {}
        }
    }

    /// Said once: which sites' agents are asked is in the result.
    pub fn run_asked(&mut self, site: &str) {
        if self.asked_any {
            return;
        }
        self.asked_any = true;
        self.stamped(
            None,
            &format!(
                "asking the agents of sites that switch to run now, {site} first (--no-run-now waits for their schedules)"
            ),
        );
    }

    /// Only a run that failed is news: the report that follows says the
    /// rest.
    pub fn run_finished(&mut self, site: &str, note: &RunNote) {
        if let RunNote::Failed(e) = note {
            self.stamped(
                None,
                &format!("{site}: could not run now ({e}); waiting for its schedule"),
            );
        }
    }

    pub fn backend(&mut self, error: Option<&str>) {
        let text = match error {
            Some(e) => format!("backend failing: {e}; the gate waits on the last good data"),
            None => "backend answering again".to_string(),
        };
        self.stamped(None, &text);
        if let Some(e) = error {
            let warning = format!("the backend is failing: {e}");
            self.annotate(Level::Warning, "Rollout gate", &warning);
        }
    }

    /// The verdict, and for pipelines their annotations and summary.
    pub fn finished(&mut self, request: &GateRequest, result: &GateResult) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let headline = verdict::headline(request, result);
        self.stamped(None, &headline);
        for (level, title, message) in issues(request, result) {
            self.annotate(level, &title, &message);
        }
        // Only GitHub has a step summary (`step_summary` is `None` elsewhere).
        if let Some(path) = self.step_summary.clone() {
            let written = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .and_then(|mut f| writeln!(f, "{}", verdict::markdown(request, result)));
            if let Err(e) = written {
                self.say(&format!(
                    "site-status: cannot append the step summary to {}: {e}",
                    path.display()
                ));
            }
        }
    }
}

fn timeout_text(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// `5/8 on 3.15 · 3 reported · 1 regressed`.
pub fn counts_text(p: &GateProgress, version: &str) -> String {
    format!(
        "{}/{} on {version} · {} reported · {} regressed",
        p.on_version(),
        p.total(),
        p.reported(),
        p.regressed().len()
    )
}

fn why(site: &GateSite) -> String {
    if site.regressions.is_empty() {
        site.state
            .map(|s| s.label().to_string())
            .unwrap_or_default()
    } else {
        site.regressions.join(", ")
    }
}

/// What changed for each site between two polls, as lines.
pub fn changes(before: Option<&GateProgress>, now: &GateProgress, version: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if before.is_none() {
        let already = now.on_version();
        if already > 0 {
            lines.push(format!(
                "{already} of {} sites already run {version}",
                now.total()
            ));
        }
    }
    for site in &now.sites {
        let was = before.and_then(|b| b.sites.iter().find(|s| s.site == site.site));
        let switched = site.switched_at.is_some();
        let was_switched = was.is_some_and(|w| w.switched_at.is_some());
        if before.is_some() && switched && !was_switched {
            lines.push(match &site.old_version {
                Some(old) => format!("{} runs {version} (was {old})", site.site),
                None => format!("{} runs {version}", site.site),
            });
        }
        if !switched && was_switched {
            lines.push(format!(
                "{} is back on {}",
                site.site,
                site.version.as_deref().unwrap_or("no version")
            ));
        }
        let reported_now = site.reported && !was.is_some_and(|w| w.reported);
        if reported_now && (before.is_some() || site.regressed()) {
            if site.regressed() {
                lines.push(format!(
                    "{} reported on {version}: regressed ({})",
                    site.site,
                    why(site)
                ));
            } else {
                lines.push(format!(
                    "{} reported on {version}: {}",
                    site.site,
                    site.state.map(|s| s.label()).unwrap_or("no state")
                ));
            }
        } else if site.reported
            && let Some(w) = was.filter(|w| w.reported)
        {
            match (w.regressed(), site.regressed()) {
                (false, true) => lines.push(format!(
                    "{} regressed on {version} ({})",
                    site.site,
                    why(site)
                )),
                (true, false) => lines.push(format!("{} no longer regressed", site.site)),
                (true, true) if w.regressions != site.regressions || w.state != site.state => {
                    lines.push(format!("{} regressed: now {}", site.site, why(site)))
                }
                _ => {}
            }
        }
    }
    lines
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Error,
    Warning,
    Notice,
}

/// The annotations a pipeline shows for the result: the verdict and each
/// site to look at, at most [`MAX_ANNOTATIONS`] of them.
fn issues(request: &GateRequest, result: &GateResult) -> Vec<(Level, String, String)> {
    let headline = verdict::headline(request, result);
    let mut out = Vec::new();
    let title = format!(
        "Rollout gate: {} {} in {}",
        request.profile, request.version, request.env
    );
    let failed = result.interrupted || result.verdict != Verdict::Passed;
    out.push((
        if failed { Level::Error } else { Level::Notice },
        title,
        headline,
    ));
    let Some(p) = &result.progress else {
        return out;
    };
    let regressed = p.regressed();
    let level = if result.verdict == Verdict::Regressed {
        Level::Error
    } else {
        Level::Warning
    };
    let mut sites: Vec<(Level, String, String)> = regressed
        .iter()
        .map(|s| {
            (
                level,
                format!("{} regressed on {}", s.site, request.version),
                {
                    let r = result.regressions_text(s);
                    if s.regressions.is_empty() {
                        format!("{r} on {}", request.version)
                    } else {
                        format!("newly failing on {}: {r}", request.version)
                    }
                },
            )
        })
        .collect();
    if result.verdict == Verdict::TimedOut {
        sites.extend(p.waiting().iter().map(|s| {
            (
                Level::Error,
                format!("{} did not report on {}", s.site, request.version),
                result.outcome_text(s, &request.version),
            )
        }));
    }
    let extra = sites.len().saturating_sub(MAX_ANNOTATIONS);
    out.extend(sites.into_iter().take(MAX_ANNOTATIONS));
    if extra > 0 {
        out.push((
            level,
            "Rollout gate".to_string(),
            format!("and {extra} more sites: see the step's log"),
        ));
    }
    out
}

/// A workflow command's message: `%`, CR and LF escaped.
pub fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`.
pub fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// An Azure logging command's message.
pub fn azure_data(text: &str) -> String {
    text.replace('%', "%AZP25")
        .replace(';', "%3B")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .replace(']', "%5D")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SiteState;

    #[test]
    fn the_form_follows_the_place_it_runs_in() {
        use ProgressForm::*;
        let form = ProgressForm::from_environment;
        assert_eq!(form(None, None, None, true), Bar);
        assert_eq!(form(None, None, None, false), Lines);
        assert_eq!(form(None, None, Some("true"), true), Lines);
        assert_eq!(form(None, None, Some("false"), true), Bar);
        assert_eq!(form(Some("true"), None, Some("true"), false), GitHub);
        assert_eq!(form(None, Some("True"), None, false), Azure);
        assert_eq!(form(Some("false"), None, None, true), Bar);
    }

    #[test]
    fn pipeline_commands_cannot_be_cut_short_by_what_they_carry() {
        assert_eq!(github_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(github_property("gate: a, b"), "gate%3A a%2C b");
        assert_eq!(
            azure_data("100%; done]\nnext"),
            "100%AZP25%3B done%5D%0Anext"
        );
    }

    fn site(name: &str, switched: bool, reported: bool, regressions: &[&str]) -> GateSite {
        GateSite {
            site: name.into(),
            old_version: Some("3.14".into()),
            version: Some(if switched { "3.15" } else { "3.14" }.into()),
            switched_at: switched.then_some(1_000.0),
            reported,
            state: reported.then_some(if regressions.is_empty() {
                SiteState::Ok
            } else {
                SiteState::Error
            }),
            regressions: regressions.iter().map(|r| r.to_string()).collect(),
            baseline: crate::model::gate::BaselineFrom::Start,
        }
    }

    #[test]
    fn each_change_of_a_site_is_one_line() {
        let before = GateProgress {
            sites: vec![
                site("a", false, false, &[]),
                site("b", true, false, &[]),
                site("c", true, true, &["update"]),
            ],
        };
        let now = GateProgress {
            sites: vec![
                site("a", true, false, &[]),
                site("b", true, true, &["cron"]),
                site("c", true, true, &[]),
            ],
        };
        assert_eq!(
            changes(Some(&before), &now, "3.15"),
            [
                "a runs 3.15 (was 3.14)",
                "b reported on 3.15: regressed (cron)",
                "c no longer regressed",
            ]
        );
        assert!(changes(Some(&now), &now, "3.15").is_empty());
        assert_eq!(
            counts_text(&now, "3.15"),
            "3/3 on 3.15 · 2 reported · 1 regressed"
        );
    }
}
