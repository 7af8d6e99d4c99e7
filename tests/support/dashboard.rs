//! `Dashboard`: the dashboard without a terminal. The real poller runs the
//! real sources (each environment's backend over HTTP) and feeds the real
//! `App`, drawn by the real `ui::draw` into ratatui's `TestBackend`: what a
//! user would see, without tmux.
//!
//! Every wait polls and is bounded; a timeout fails with the screen.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use site_status::app::{App, EnvPane, Settings};
use site_status::config::Config;
use site_status::poller::{PollSettings, Poller};
use site_status::source::FleetSource;
use site_status::source::http::ProcessSecrets;
use site_status::ui::{self, Theme};
use unicode_width::UnicodeWidthStr;

/// A configuration of environments, each `(name, Prometheus URL)` selected
/// by `env="<name>"`, with `extra` lines added to each environment's block
/// and `timeout` as each Prometheus' request timeout.
pub fn config_text(envs: &[(&str, &str)], timeout: &str, extra: &str) -> String {
    let mut text = String::from("refresh_interval = \"2s\"\n");
    for (name, url) in envs {
        text.push_str(&format!(
            "[[environment]]\nname = \"{name}\"\nselector = 'env=\"{name}\"'\n{extra}[environment.prometheus]\nurl = \"{url}\"\ntimeout = \"{timeout}\"\n"
        ));
    }
    text
}

pub fn parse_config(text: &str) -> Config {
    Config::parse(text, Path::new("test.toml")).expect("a valid configuration")
}

pub struct Dashboard {
    pub poller: Poller,
    pub app: App,
    width: u16,
    height: u16,
}

/// One drawn frame, as text.
pub struct Rendered {
    /// Each row of the terminal as a terminal would show it: the cells'
    /// symbols, the cells hidden by a wide symbol left out.
    pub lines: Vec<String>,
    pub width: u16,
}

impl Rendered {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    pub fn framed(&self) -> String {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{i:>3}|{l}\n"))
            .collect()
    }

    /// What is wrong with the frame as a terminal would show it: a control
    /// character (an escape sequence starts with one) or a line wider than
    /// the terminal. Empty when nothing is.
    pub fn problems(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            if let Some(c) = line.chars().find(|c| c.is_control()) {
                found.push(format!("line {i} holds control character {c:?}"));
            }
            let width = line.width();
            if width > self.width as usize {
                found.push(format!(
                    "line {i} is {width} columns wide, the terminal {}",
                    self.width
                ));
            }
        }
        found
    }
}

impl Dashboard {
    /// Polls every environment of `config` with `poll`, drawing at
    /// `width`×`height`.
    pub fn start(config: &Config, poll: PollSettings, width: u16, height: u16) -> Dashboard {
        let sources: Vec<Arc<dyn FleetSource>> =
            site_status::source::from_config(config, &ProcessSecrets)
                .expect("sources from the configuration")
                .into_iter()
                .map(|s| s as Arc<dyn FleetSource>)
                .collect();
        let poller = Poller::start(sources, poll);
        let settings = Settings {
            refresh: poll.interval,
            ..Settings::default()
        };
        let app = App::new(settings, &config.environment_names(), width, height);
        Dashboard {
            poller,
            app,
            width,
            height,
        }
    }

    /// Takes what the poller has fetched since the last call.
    pub fn absorb(&mut self) {
        self.app.now = SystemTime::now();
        for (env, slot) in self.poller.changed_fleet() {
            self.app.apply_fleet(env, &slot);
        }
    }

    /// Runs the poll loop until `done` holds, for at most `limit`.
    pub async fn until(&mut self, what: &str, limit: Duration, done: impl Fn(&App) -> bool) {
        let started = Instant::now();
        let wake = self.poller.wake();
        loop {
            self.absorb();
            if done(&self.app) {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}; screen:\n{}",
                self.render().framed()
            );
            let _ = tokio::time::timeout(Duration::from_millis(200), wake.notified()).await;
        }
    }

    /// Presses a key, as a user would (what it asks of the poller is not
    /// done).
    pub fn key(&mut self, code: KeyCode) {
        self.app.now = SystemTime::now();
        self.app
            .handle_key(&KeyEvent::new(code, KeyModifiers::NONE));
    }

    pub fn env(&self, name: &str) -> &EnvPane {
        pane(&self.app, name)
    }

    /// The environment's sites by their (sanitized) names, in name order.
    pub fn site_names(&self, env: &str) -> Vec<String> {
        self.env(env)
            .fleet
            .sites
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// Draws the app as it is now (the grid, or the view on top).
    pub fn render(&self) -> Rendered {
        let mut terminal =
            Terminal::new(TestBackend::new(self.width, self.height)).expect("a test terminal");
        terminal
            .draw(|f| ui::draw(f, &self.app, &Theme::dark()))
            .expect("draw");
        let buffer = terminal.backend().buffer();
        let lines = buffer
            .content
            .chunks(buffer.area.width as usize)
            .map(|cells| {
                let mut line = String::new();
                let mut hidden: u16 = 0;
                for cell in cells {
                    if hidden == 0 {
                        line.push_str(cell.symbol());
                    }
                    hidden = hidden
                        .max(cell.symbol().width().max(1) as u16)
                        .saturating_sub(1);
                }
                line.trim_end().to_string()
            })
            .collect();
        Rendered {
            lines,
            width: self.width,
        }
    }

    /// The environment's section line ("── test 10 sites …") on screen.
    pub fn section_line(&self, env: &str) -> String {
        self.render()
            .lines
            .into_iter()
            .find(|l| l.contains(&format!("── {env} ")))
            .unwrap_or_default()
    }

    /// Waits for `env` to be polled successfully again, after now.
    pub async fn keeps_updating(&mut self, env: &str, limit: Duration) {
        self.absorb();
        let before = self.env(env).fetched_at;
        let name = env.to_string();
        self.until(&format!("{env} to keep updating"), limit, move |app| {
            let pane = pane(app, &name);
            pane.error.is_none() && pane.fetched_at.is_some() && pane.fetched_at > before
        })
        .await;
    }

    /// The checks every failing backend must pass, on the drawn screen:
    /// `env` still shows `sites` (its last good data), its section line
    /// says STALE with the data's age and an error containing `expected`,
    /// and nothing on screen is a control character or wider than the
    /// terminal.
    pub fn assert_stale(&self, env: &str, sites: &[String], expected: &str) {
        assert_eq!(
            self.site_names(env),
            sites,
            "{env}: the last good data stays"
        );
        let frame = self.render();
        let line = frame
            .lines
            .iter()
            .find(|l| l.contains(&format!("── {env} ")))
            .unwrap_or_else(|| panic!("no section line for {env}:\n{}", frame.framed()));
        let age = line
            .split("STALE, data ")
            .nth(1)
            .and_then(|rest| rest.split(" old").next())
            .unwrap_or_else(|| panic!("{env} is not marked STALE with its age: {line}"));
        assert!(
            age.len() >= 2
                && age[..age.len() - 1].chars().all(|c| c.is_ascii_digit())
                && age.ends_with(['s', 'm', 'h', 'd']),
            "the data's age reads {age:?}: {line}"
        );
        assert!(
            line.contains(expected),
            "{env}: the error should say {expected:?}: {line}"
        );
        let problems = frame.problems();
        assert!(problems.is_empty(), "{problems:?}\n{}", frame.framed());
        let sections = frame.lines.iter().filter(|l| l.starts_with("── ")).count();
        assert_eq!(
            sections,
            self.app.envs.len(),
            "every environment's section line is on screen:\n{}",
            frame.framed()
        );
    }
}

pub fn pane<'a>(app: &'a App, name: &str) -> &'a EnvPane {
    app.envs
        .iter()
        .find(|e| e.fleet.name == name)
        .unwrap_or_else(|| panic!("no environment {name}"))
}
