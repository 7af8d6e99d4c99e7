//! `site-status watch`: the transition log as a stream on stdout, for chat
//! bots, scripts and CI gates. The first poll of each environment is the
//! baseline and prints nothing.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{
    StreamFormat, exit, load_config, load_mutes, poll_settings, runtime, selected_sources,
};
use crate::model::clock;
use crate::model::{MuteRules, Tracker, Transition, crossing_summary, format_rfc3339_utc};
use crate::poller::{PollSettings, Poller, Slot};
use crate::source::{EnvReport, FleetSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFormat {
    Text,
    Jsonl,
}

#[derive(Serialize)]
struct JsonCrossing<'a> {
    id: &'a str,
    from: &'static str,
    to: &'static str,
}

#[derive(Serialize)]
struct JsonTransition<'a> {
    time: String,
    env: &'a str,
    site: &'a str,
    profile: &'a str,
    from: &'static str,
    to: &'static str,
    requirements: Vec<JsonCrossing<'a>>,
    run_failure: Option<super::JsonRunFailure>,
}

fn time_text(unix: f64) -> String {
    format_rfc3339_utc((unix.floor() as i64).saturating_mul(1_000_000_000))
}

pub fn format_transition(t: &Transition, format: WatchFormat) -> String {
    match format {
        WatchFormat::Text => format!(
            "{} {} {} {}  {} → {}  {}",
            time_text(t.time),
            t.env,
            t.profile,
            t.name,
            t.from.label(),
            match t.to {
                crate::model::SiteState::RunFailed => {
                    crate::model::run_failure::run_failed_phrase(t.run_failure.as_ref())
                }
                to => to.label().to_string(),
            },
            crossing_summary(t)
        )
        .trim_end()
        .to_string(),
        WatchFormat::Jsonl => {
            let level = |s: Option<crate::model::Severity>| s.map(|s| s.label()).unwrap_or("ok");
            let json = JsonTransition {
                time: time_text(t.time),
                env: &t.env,
                site: &t.site,
                profile: &t.profile,
                from: t.from.key(),
                to: t.to.key(),
                requirements: t
                    .requirements
                    .iter()
                    .map(|c| JsonCrossing {
                        id: &c.id,
                        from: level(c.from),
                        to: level(c.to),
                    })
                    .collect(),
                run_failure: super::JsonRunFailure::of(t.run_failure.as_ref()),
            };
            crate::model::text::terminal_safe_json(
                &serde_json::to_string(&json).unwrap_or_default(),
            )
        }
    }
}

fn unix(t: SystemTime) -> f64 {
    clock::unix_seconds(clock::timestamp_of_system_time(t))
}

/// What one outcome of a poll makes the stream say.
#[derive(Debug, Default, PartialEq)]
pub struct Said {
    /// Transition lines, for stdout.
    pub lines: Vec<String>,
    /// Baselines, failures and recoveries, for stderr.
    pub notes: Vec<String>,
}

/// The stream's memory: the tracker's, plus what it last said of each
/// environment's backend, so a failure is reported once.
pub struct WatchStream {
    names: Vec<String>,
    tracker: Tracker,
    format: WatchFormat,
    last_error: Vec<Option<String>>,
    seen_at: Vec<Option<SystemTime>>,
}

impl WatchStream {
    pub fn new(
        names: Vec<String>,
        stale_after: Duration,
        mutes: MuteRules,
        format: WatchFormat,
    ) -> WatchStream {
        WatchStream {
            tracker: Tracker::new(&names, stale_after, mutes),
            last_error: vec![None; names.len()],
            seen_at: vec![None; names.len()],
            names,
            format,
        }
    }

    /// Takes the poller's latest outcome for environment `env`.
    pub fn take(&mut self, env: usize, slot: &Slot<EnvReport>) -> Said {
        let mut said = Said::default();
        let (Some(name), Some(last_error), Some(seen_at)) = (
            self.names.get(env),
            self.last_error.get_mut(env),
            self.seen_at.get_mut(env),
        ) else {
            return said;
        };
        let error = slot.last_error.as_ref().map(|(e, _)| e.message.clone());
        if error != *last_error {
            match &error {
                Some(e) => said.notes.push(format!("site-status: {name}: {e}")),
                None if last_error.is_some() => {
                    said.notes.push(format!("site-status: {name}: recovered"))
                }
                None => {}
            }
            *last_error = error;
        }
        // A first answer without the failing requirements is for the
        // screen; a line per change waits for the whole poll.
        let Some(good) = slot.last_good.as_ref().filter(|g| !g.value.partial) else {
            return said;
        };
        if *seen_at == Some(good.at) {
            return said;
        }
        *seen_at = Some(good.at);
        let at = unix(good.at);
        match self.tracker.observe(env, good.value.clone(), at, at) {
            None => said.notes.push(format!(
                "site-status: {name}: baseline of {} sites",
                good.value.sites.len()
            )),
            Some(found) => {
                said.lines = found
                    .iter()
                    .map(|t| format_transition(t, self.format))
                    .collect();
            }
        }
        said
    }
}

/// Streams until interrupted (SIGINT, SIGTERM, SIGHUP) or stdout closes.
pub async fn run(
    sources: Vec<Arc<dyn FleetSource>>,
    poll: PollSettings,
    stale_after: Duration,
    format: WatchFormat,
    mutes: MuteRules,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut poller = Poller::start(sources, poll);
    let names = poller.environments();
    let wake = poller.wake();
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut quit = signal(SignalKind::quit())?;
    eprintln!(
        "site-status: watching {}; the first poll of each is the baseline",
        names.join(", ")
    );
    let mut stream = WatchStream::new(names, stale_after, mutes, format);
    let stdout = std::io::stdout();
    loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
            _ = hangup.recv() => return Ok(()),
            _ = quit.recv() => return Ok(()),
        }
        for (env, slot) in poller.changed_fleet() {
            let said = stream.take(env, &slot);
            for note in &said.notes {
                eprintln!("{note}");
            }
            if said.lines.is_empty() {
                continue;
            }
            let mut out = stdout.lock();
            for line in &said.lines {
                if writeln!(out, "{line}").is_err() {
                    // Whoever read the stream has gone.
                    return Ok(());
                }
            }
            if out.flush().is_err() {
                return Ok(());
            }
        }
    }
}

/// `site-status watch`: streams the selected environments' transitions.
pub fn command(path: Option<&std::path::Path>, only: &[String], format: StreamFormat) -> ExitCode {
    let Some(mut config) = load_config(path) else {
        return ExitCode::from(exit::BAD_CONFIGURATION);
    };
    // Transitions name no alert: none is read.
    config.read_alerts = false;
    let sources = match selected_sources(&config, only) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("site-status: {e}");
            return ExitCode::from(exit::BAD_CONFIGURATION);
        }
    };
    let format = match format {
        StreamFormat::Text => WatchFormat::Text,
        StreamFormat::Jsonl => WatchFormat::Jsonl,
    };
    let Ok(rt) = runtime() else {
        return ExitCode::from(exit::FAILURE);
    };
    let mutes = load_mutes(&config);
    match rt.block_on(run(
        sources,
        poll_settings(&config),
        config.stale_after.0,
        format,
        mutes,
    )) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("site-status: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Severity, SiteSummary};

    fn poll(sites: Vec<SiteSummary>) -> Arc<EnvReport> {
        Arc::new(EnvReport {
            sites,
            ..EnvReport::default()
        })
    }

    fn site(name: &str, worst: Severity, failing: &[(&str, Severity)]) -> SiteSummary {
        SiteSummary {
            worst: Some(worst),
            run_success: Some(true),
            last_run: Some(1_800_000_000.0),
            failing: failing.iter().map(|(i, s)| (i.to_string(), *s)).collect(),
            ..SiteSummary::new(name, "kk_borger")
        }
    }

    #[test]
    fn a_muted_requirement_makes_no_transition() {
        let rules: MuteRules = [crate::model::MuteRule::new("update_contrib", "accepted")]
            .into_iter()
            .collect();
        let mut w = Tracker::new(&["prod".into()], Duration::from_secs(1800), rules);
        let at = 1_800_000_000.0;
        w.observe(0, poll(vec![site("borger", Severity::Ok, &[])]), at, at);
        let warned = vec![site(
            "borger",
            Severity::Warning,
            &[("update_contrib", Severity::Warning)],
        )];
        assert_eq!(
            w.observe(0, poll(warned), at + 15.0, at + 15.0),
            Some(vec![])
        );
    }

    #[test]
    fn the_first_poll_is_a_baseline_and_a_steady_fleet_says_nothing() {
        let mut w = Tracker::new(
            &["prod".into()],
            Duration::from_secs(1800),
            MuteRules::default(),
        );
        let fleet = vec![site("borger", Severity::Ok, &[])];
        let at = 1_800_000_000.0;
        assert!(w.observe(0, poll(fleet.clone()), at, at).is_none());
        assert_eq!(
            w.observe(0, poll(fleet.clone()), at + 15.0, at + 15.0),
            Some(vec![])
        );
        let broken = vec![site(
            "borger",
            Severity::Error,
            &[("update", Severity::Error)],
        )];
        let t = w.observe(0, poll(broken), at + 30.0, at + 30.0).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(
            format_transition(&t[0], WatchFormat::Text),
            "2027-01-15T08:00:30Z prod kk_borger borger  ok → error  (update)"
        );
        let json: serde_json::Value =
            serde_json::from_str(&format_transition(&t[0], WatchFormat::Jsonl)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"time": "2027-01-15T08:00:30Z", "env": "prod", "site": "borger",
                "profile": "kk_borger", "from": "ok", "to": "error",
                "requirements": [{"id": "update", "from": "ok", "to": "error"}], "run_failure": null})
        );
        let mut failing = site("borger", Severity::Error, &[("update", Severity::Error)]);
        failing.run_success = Some(false);
        failing.run_failure = Some(crate::model::RunFailureReason::from_labels(
            "exit_code",
            "255",
        ));
        let t = w
            .observe(0, poll(vec![failing]), at + 45.0, at + 45.0)
            .unwrap();
        assert_eq!(
            format_transition(&t[0], WatchFormat::Text),
            "2027-01-15T08:00:45Z prod kk_borger borger  error → run failed: exit 255"
        );
        let json: serde_json::Value =
            serde_json::from_str(&format_transition(&t[0], WatchFormat::Jsonl)).unwrap();
        assert_eq!(
            json["run_failure"],
            serde_json::json!({"class": "exit_code", "exit_code": 255})
        );
    }
}
