//! The event loop: terminal input, poll results, a one-second clock and
//! signals in; a redraw only when one of them changed something.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use crossterm::event::EventStream;
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};

use crate::app::{App, Effect, Settings};
use crate::model::{Clock, MuteRule, MuteRules, RuleOrigin};
use crate::mute_store::{MuteStore, load_rules};
use crate::poller::{PollSettings, Poller, SilenceChange};
use crate::source::FleetSource;
use crate::terminal::TerminalGuard;
use crate::ui::{self, Theme};

/// Set, the dashboard panics right after its first frame (for tests).
pub const PANIC_HOOK_ENV: &str = "SITE_STATUS_PANIC_AFTER_FIRST_FRAME";
/// Set, the dashboard fails an allocation after its first frame, as it
/// would out of memory: the process aborts.
pub const OUT_OF_MEMORY_HOOK_ENV: &str = "SITE_STATUS_OUT_OF_MEMORY_AFTER_FIRST_FRAME";

/// Gives the pages a poll freed back to the system. A poll parses
/// megabytes of answers into many small allocations and frees them again;
/// glibc keeps those pages, in the middle of the heap where it cannot trim
/// by itself, and the resident size stays at the poll's peak.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own
    // arenas to the system; it takes the arenas' locks like any malloc.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Where mute rules come from and where the dashboard's go.
#[derive(Default)]
pub struct MuteSetup {
    pub config_rules: Vec<MuteRule>,
    pub store: Option<MuteStore>,
}

impl MuteSetup {
    /// The rules in force, and a message when the rules file is unreadable.
    pub fn load(&self) -> (MuteRules, Option<String>) {
        let (rules, error) = load_rules(self.config_rules.clone(), self.store.as_ref());
        (
            rules,
            error.map(|e| format!("{e}; the configuration's mute rules still apply")),
        )
    }

    fn add(&self, rule: MuteRule) -> Result<MuteRules, String> {
        let Some(store) = &self.store else {
            return Err("no data directory to keep mute rules in".to_string());
        };
        let now = Clock::System.unix_seconds();
        let stored = store.add(rule, now).map_err(|e| e.to_string())?;
        let mut rules = MuteRules::new(self.config_rules.clone());
        rules.extend(stored);
        Ok(rules)
    }

    /// Takes a rule out of the rules file (the configuration's rules are
    /// not the dashboard's to change); returns the rules in force after.
    pub fn remove(&self, rule: &MuteRule) -> Result<MuteRules, String> {
        let Some(store) = &self.store else {
            return Err("no data directory to keep mute rules in".to_string());
        };
        let now = Clock::System.unix_seconds();
        let stored = store.remove(rule, now).map_err(|e| e.to_string())?;
        let mut rules = MuteRules::new(self.config_rules.clone());
        rules.extend(stored);
        Ok(rules)
    }
}

pub async fn run(
    sources: Vec<Arc<dyn FleetSource>>,
    settings: Settings,
    poll: PollSettings,
    mutes: MuteSetup,
    theme: Theme,
) -> anyhow::Result<()> {
    // The chosen theme first, then the other built-ins, all fitted to the
    // same terminal: what `c` cycles through.
    let themes: Vec<Theme> = std::iter::once(theme.clone())
        .chain(
            crate::config::theme_file::built_in_names()
                .filter(|name| *name != theme.name)
                .filter_map(crate::config::theme_file::built_in)
                .map(|t| {
                    t.with_depth(theme.depth)
                        .with_time_zone(theme.time_zone.clone())
                }),
        )
        .collect();
    let mut theme_index = 0;
    let mut theme = theme;
    let mut guard = TerminalGuard::enter(settings.mouse).context("cannot set up the terminal")?;
    let size = guard
        .terminal
        .size()
        .context("cannot read the terminal size")?;
    let mut poller = Poller::start(sources, poll);
    let wake = poller.wake();
    let mut app = App::new(settings, &poller.environments(), size.width, size.height);
    for (((pane, kubernetes), alertmanager), reports) in app
        .envs
        .iter_mut()
        .zip(poller.kubernetes())
        .zip(poller.alertmanagers())
        .zip(poller.reports())
    {
        pane.kubernetes = kubernetes;
        pane.alertmanager = alertmanager;
        pane.reports = reports;
    }
    let (rules, error) = mutes.load();
    app.set_mutes(rules);
    app.message = error;
    for effect in app.initial_watches() {
        if let Effect::Watch(key) = effect {
            poller.watch(key);
        }
    }

    let mut events = EventStream::new();
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut quit = signal(SignalKind::quit()).context("cannot watch SIGQUIT")?;

    let panic_for_tests = std::env::var_os(PANIC_HOOK_ENV).is_some();
    let out_of_memory_for_tests = std::env::var_os(OUT_OF_MEMORY_HOOK_ENV).is_some();
    let mut dirty = true;
    loop {
        if dirty {
            app.now = Clock::System.system_time();
            let mut hits = None;
            guard
                .terminal
                .draw(|frame| hits = Some(ui::draw_with_hit_map(frame, &app, &theme)))
                .context("cannot draw")?;
            app.hit_map = hits.unwrap_or_default();
            dirty = false;
            // Lets the end-to-end tests prove the terminal is restored when
            // the dashboard panics.
            if panic_for_tests {
                panic!("{PANIC_HOOK_ENV} is set: panicking on purpose after the first frame");
            }
            // And when an allocation fails: the process aborts (SIGABRT).
            if out_of_memory_for_tests {
                std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u8; 4096]>());
            }
        }
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => {
                    app.now = Clock::System.system_time();
                    for effect in app.handle_event(&event) {
                        match effect {
                            Effect::Watch(key) => poller.watch(key),
                            Effect::Unwatch(key) => poller.unwatch(&key),
                            Effect::Refresh => poller.refresh_now(),
                            Effect::RunReport(key) => {
                                // Whatever else it finds, the operator
                                // expects `r` to poll too.
                                poller.refresh_now();
                                poller.run_report(key);
                            }
                            Effect::Copy(text) => {
                                use std::io::Write;
                                let out = guard.terminal.backend_mut();
                                let written = out
                                    .write_all(crate::terminal::osc52(&text).as_bytes())
                                    .and_then(|()| out.flush());
                                if let Err(e) = written {
                                    app.message = Some(format!("could not copy: {e}"));
                                }
                            }
                            Effect::NextTheme => {
                                theme_index = (theme_index + 1) % themes.len().max(1);
                                if let Some(next) = themes.get(theme_index) {
                                    theme = next.clone();
                                    app.message = Some(format!("theme: {}", theme.name));
                                }
                            }
                            Effect::AddMute(rule) if poller.has_alertmanager(rule.env.as_deref().unwrap_or_default()) => {
                                let env = rule.env.clone().unwrap_or_default();
                                app.message = Some(format!("muting {}: asking {env}'s Alertmanager…", rule.requirement));
                                poller.change_silence(&env, SilenceChange::Create(rule));
                            }
                            Effect::RemoveMute(rule) if matches!(rule.origin, RuleOrigin::Silence { .. }) => {
                                let env = rule.env.clone().unwrap_or_default();
                                app.message = Some(format!("unmuting {}: asking {env}'s Alertmanager…", rule.requirement));
                                poller.change_silence(&env, SilenceChange::Expire(rule));
                            }
                            Effect::AddMute(rule) => {
                                let what = format!("muted {} on {}", rule.requirement, rule.site.clone().unwrap_or_default());
                                match mutes.add(rule) {
                                    Ok(rules) => {
                                        app.set_mutes(rules);
                                        app.message = Some(what);
                                    }
                                    Err(e) => app.message = Some(format!("could not save the rule: {e}")),
                                }
                            }
                            Effect::RemoveMute(rule) => {
                                let on = rule.site.clone().unwrap_or_else(|| rule.scope_label());
                                let what = format!("unmuted {} on {on}", rule.requirement);
                                match mutes.remove(&rule) {
                                    Ok(rules) => {
                                        app.set_mutes(rules);
                                        app.message = Some(what);
                                    }
                                    Err(e) => app.message = Some(format!("could not remove the rule: {e}")),
                                }
                            }
                        }
                    }
                    // A cursor blink or focus event changes nothing, but
                    // redrawing on every input is cheap and always right.
                    dirty = true;
                }
                Some(Err(e)) => return Err(e).context("cannot read the terminal"),
                None => break,
            },
            _ = wake.notified() => {
                app.now = Clock::System.system_time();
                let changed = poller.changed_fleet();
                if !changed.is_empty() {
                    app.offer_fleets(changed);
                    // The poll's answers and the report it replaced are
                    // freed by now.
                    release_freed_memory();
                    dirty = true;
                }
                for (key, slot) in poller.changed_details() {
                    app.offer_detail(key, slot);
                    dirty = true;
                }
                for done in poller.finished_silences() {
                    app.offer_silence(done);
                    dirty = true;
                }
                let finished = poller.finished_runs();
                if !finished.is_empty() {
                    for run in finished {
                        app.offer_run(run);
                    }
                    // The run's metrics are Prometheus's at its next
                    // scrape; asking now costs little and may catch it.
                    poller.refresh_now();
                    dirty = true;
                }
            }
            // Ages on screen count in seconds; nothing else needs a clock.
            _ = clock.tick() => dirty = true,
            _ = terminate.recv() => break,
            _ = hangup.recv() => break,
            _ = interrupt.recv() => break,
            _ = quit.recv() => break,
        }
        if app.quit {
            break;
        }
    }
    drop(guard);
    Ok(())
}
