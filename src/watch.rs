//! `site-status watch`: the transition log as a stream on stdout, for chat
//! bots, scripts and CI gates. The first poll of each environment is the
//! baseline and prints nothing.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::model::clock;
use crate::model::{
    EnvFleet, MuteRules, Transition, crossing_summary, format_rfc3339_utc, transitions,
};
use crate::poller::{PollSettings, Poller};
use crate::source::FleetSource;

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
            t.to.label(),
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
            };
            crate::model::text::terminal_safe_json(
                &serde_json::to_string(&json).unwrap_or_default(),
            )
        }
    }
}

/// What the stream has seen of each environment.
pub struct Watcher {
    previous: Vec<Option<EnvFleet>>,
    stale_after: Duration,
    mutes: MuteRules,
}

impl Watcher {
    pub fn new(environments: usize, stale_after: Duration, mutes: MuteRules) -> Watcher {
        Watcher {
            previous: vec![None; environments],
            stale_after,
            mutes,
        }
    }

    /// The transitions a new poll of environment `env` brings; none for
    /// the first (the baseline).
    pub fn observe(
        &mut self,
        env: usize,
        name: &str,
        mut sites: Vec<crate::model::SiteSummary>,
        at: f64,
    ) -> Option<Vec<Transition>> {
        // Muted requirements do not count, here as in the grid.
        self.mutes.apply_to_sites(name, &mut sites, at);
        let fleet = EnvFleet::new(name, sites, at, self.stale_after);
        let slot = self.previous.get_mut(env)?;
        let found = slot.as_ref().map(|before| transitions(before, &fleet, at));
        *slot = Some(fleet);
        found
    }
}

fn unix(t: SystemTime) -> f64 {
    clock::unix_seconds(clock::timestamp_of_system_time(t))
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
    let mut watcher = Watcher::new(names.len(), stale_after, mutes);
    let mut last_error: Vec<Option<String>> = vec![None; names.len()];
    let mut seen_at: Vec<Option<SystemTime>> = vec![None; names.len()];
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut quit = signal(SignalKind::quit())?;
    eprintln!(
        "site-status: watching {}; the first poll of each is the baseline",
        names.join(", ")
    );
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
            let error = slot.last_error.as_ref().map(|(e, _)| e.message.clone());
            if error != last_error[env] {
                match &error {
                    Some(e) => eprintln!("site-status: {}: {e}", names[env]),
                    None if last_error[env].is_some() => {
                        eprintln!("site-status: {}: recovered", names[env])
                    }
                    None => {}
                }
                last_error[env] = error;
            }
            let Some(good) = &slot.last_good else {
                continue;
            };
            if seen_at[env] == Some(good.at) {
                continue;
            }
            seen_at[env] = Some(good.at);
            let at = unix(good.at);
            match watcher.observe(env, &names[env], good.value.sites.clone(), at) {
                None => eprintln!(
                    "site-status: {}: baseline of {} sites",
                    names[env],
                    good.value.sites.len()
                ),
                Some(found) => {
                    let mut out = stdout.lock();
                    for t in &found {
                        if writeln!(out, "{}", format_transition(t, format)).is_err() {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Severity, SiteSummary};

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
        let mut w = Watcher::new(1, Duration::from_secs(1800), rules);
        w.observe(
            0,
            "prod",
            vec![site("borger", Severity::Ok, &[])],
            1_800_000_000.0,
        );
        let warned = vec![site(
            "borger",
            Severity::Warning,
            &[("update_contrib", Severity::Warning)],
        )];
        assert_eq!(w.observe(0, "prod", warned, 1_800_000_015.0), Some(vec![]));
    }

    #[test]
    fn the_first_poll_is_a_baseline_and_a_steady_fleet_says_nothing() {
        let mut w = Watcher::new(1, Duration::from_secs(1800), MuteRules::default());
        let fleet = vec![site("borger", Severity::Ok, &[])];
        assert!(
            w.observe(0, "prod", fleet.clone(), 1_800_000_000.0)
                .is_none()
        );
        assert_eq!(
            w.observe(0, "prod", fleet.clone(), 1_800_000_015.0),
            Some(vec![])
        );
        let broken = vec![site(
            "borger",
            Severity::Error,
            &[("update", Severity::Error)],
        )];
        let t = w.observe(0, "prod", broken, 1_800_000_030.0).unwrap();
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
                "requirements": [{"id": "update", "from": "ok", "to": "error"}]})
        );
    }
}
