//! The command line: the arguments (clap), and one file per subcommand.
//! `main.rs` parses and dispatches; what each command does is here, on top
//! of the library's layers (config, source, poller, app, ui). Exit codes
//! live in `exit.rs`.

pub mod check;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod exit;
pub mod keys;
pub mod report;
pub mod rollout;
pub mod watch;

/// A failed run's reason as `check` and `watch` print it:
/// `{"class": "exit_code", "exit_code": 255}`; `null` where there is none.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JsonRunFailure {
    pub class: String,
    pub exit_code: Option<i32>,
}

impl JsonRunFailure {
    pub fn of(reason: Option<&crate::model::RunFailureReason>) -> Option<JsonRunFailure> {
        reason.map(|r| JsonRunFailure {
            class: r.class().to_string(),
            exit_code: r.exit_code(),
        })
    }
}

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self as configuration, Config, terminal_env, theme_file};
use crate::poller::PollSettings;
use crate::source::demo::{DEFAULT_SEED, DEFAULT_SITES};
use crate::source::http::ProcessSecrets;
use crate::source::{self, FleetSource};
use crate::ui::Theme;
use crate::ui::glyphs::locale_is_utf8;
use crate::ui::theme::ColorChoice;

/// Live status of a fleet of Drupal sites across environments.
#[derive(Parser)]
#[command(name = "site-status", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The options every command takes.
#[derive(clap::Args)]
pub struct Globals {
    /// Configuration file (default: the user's config directory).
    #[arg(long, global = true, env = configuration::ENV_VAR)]
    pub config: Option<PathBuf>,
    /// ASCII glyphs instead of Unicode (automatic when the locale is not UTF-8).
    #[arg(long, global = true)]
    pub ascii: bool,
    /// Colour theme: dark, light, high-contrast, colorblind, a theme in the
    /// config directory's themes/NAME.toml, or a path to a theme file
    /// (default: the configuration's `theme`, else dark).
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub theme: Option<String>,
    /// Colour: auto (NO_COLOR, COLORTERM and TERM decide), always (even
    /// with NO_COLOR), never, or a depth: truecolor, 256, 16.
    #[arg(
        long,
        global = true,
        value_name = "WHEN",
        default_value = "auto",
        value_parser = PossibleValuesParser::new(ColorChoice::NAMES)
            .map(|s| s.parse::<ColorChoice>().unwrap_or(ColorChoice::Auto)),
    )]
    pub color: ColorChoice,
    /// Show times in UTC instead of the local time zone (TZ, else the
    /// system's); also `utc = true` in the configuration. JSON is always UTC.
    #[arg(long, global = true)]
    pub utc: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum StreamFormat {
    Text,
    Jsonl,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the dashboard on a simulated fleet.
    Demo {
        /// Number of sites across dev, test and prod.
        #[arg(long, default_value_t = DEFAULT_SITES, value_parser = parse_site_count)]
        sites: usize,
        /// Seed of the simulation: the same seed tells the same story.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Seconds between polls.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
        refresh: u64,
    },
    /// Poll every environment once, print the result, exit 0 (all OK), 1
    /// (warnings), 2 (errors, target down, failed runs, no data, stale) or 3 (a
    /// backend failed).
    Check {
        /// Only these environments (repeatable).
        #[arg(long = "env", value_name = "NAME")]
        envs: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Stream every change of a site's state to stdout as it happens, until
    /// interrupted. The first poll is the baseline and prints nothing.
    Watch {
        /// Only these environments (repeatable).
        #[arg(long = "env", value_name = "NAME")]
        envs: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: StreamFormat,
    },
    /// Print a site's latest status reports from Loki, newest first.
    Report {
        /// Environment, as named in the configuration.
        env: String,
        /// Site name.
        site: String,
        /// How many reports.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
        last: u64,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Gate a deploy: wait until every site of PROFILE in ENV runs VERSION
    /// and has reported on it, then exit 0 (at most --max-failing
    /// regressed), 1 (more regressed), 2 (timed out: sites named) or 3 (the
    /// backend was down). Progress on stderr, the result on stdout.
    Rollout {
        /// Environment, as named in the configuration (dev, test, prod in
        /// the demo).
        #[arg(long, value_name = "NAME")]
        env: String,
        /// Install profile being rolled out.
        #[arg(long)]
        profile: String,
        /// The `profile_version` every site must report.
        #[arg(long)]
        version: String,
        /// Only sites matching this glob (`*`, `?`, `[a-z]`; repeatable).
        #[arg(long = "site", value_name = "GLOB")]
        sites: Vec<String>,
        /// How long to wait for every site to report on the version.
        #[arg(long, default_value = "30m", value_parser = rollout::parse_timeout)]
        timeout: Duration,
        /// How many sites may regress and the gate still pass.
        #[arg(long, default_value_t = 0)]
        max_failing: usize,
        /// The deploy's start: every site's baseline is its state then. An
        /// RFC 3339 time, or a duration such as `20m` meaning that long ago.
        #[arg(long, value_name = "TIME", value_parser = rollout::parse_since)]
        since: Option<f64>,
        /// How far back to look for the switch of a site already on
        /// VERSION when the gate starts (its baseline is its state just
        /// before).
        #[arg(long, default_value = "6h", value_parser = rollout::parse_lookback)]
        lookback: Duration,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Do not ask the agents of sites that switched to run now (by
        /// default they are asked, where Kubernetes is configured).
        #[arg(long)]
        no_run_now: bool,
        /// Against the demo's simulated fleet, where a pipeline starts
        /// deploying VERSION of PROFILE to ENV as the gate starts.
        #[arg(long)]
        demo: bool,
    },
    /// Where the configuration lives, an example to start from, and a check of it.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print the key bindings (as the README's Markdown table with --markdown).
    Keys {
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Subcommand)]
pub enum ConfigAction {
    /// Print the configuration file's path.
    Path,
    /// Write a commented example configuration (never overwrites).
    Init,
    /// Validate the file and try every backend.
    Check,
}

fn parse_site_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=200_000).contains(&n) => Ok(n),
        _ => Err("a number of sites from 1 to 200000".to_string()),
    }
}

impl Globals {
    /// `--config`, else the user's configuration directory's file.
    pub fn config_path(&self) -> Option<PathBuf> {
        self.config.clone().or_else(configuration::default_path)
    }

    /// ASCII glyphs when asked for or when the locale cannot show others.
    pub fn ascii(&self) -> bool {
        self.ascii
            || !locale_is_utf8(
                std::env::var("LC_ALL").ok().as_deref(),
                std::env::var("LC_CTYPE").ok().as_deref(),
                std::env::var("LANG").ok().as_deref(),
            )
    }

    /// The theme to draw with: `--theme`, else the configuration's
    /// `theme`, else dark; fitted to the colours the terminal shows and
    /// carrying the zone times are shown in. User themes by name live in
    /// the configuration file's directory, under `themes/`.
    pub fn theme(
        &self,
        config: Option<&Config>,
        config_path: Option<&Path>,
    ) -> Result<Theme, String> {
        let configured = config.and_then(|c| c.theme.as_deref()).zip(config_path);
        let theme = match (&self.theme, configured) {
            (Some(spec), _) => theme_file::load(spec, config_path.and_then(Path::parent)),
            (None, Some((spec, path))) => theme_file::load_for_config(spec, path),
            (None, None) => Ok(Theme::dark()),
        };
        let utc = self.utc || config.is_some_and(|c| c.utc);
        theme
            .map(|t| {
                t.with_depth(terminal_env::color_depth(self.color))
                    .with_time_zone(terminal_env::display_time_zone(utc))
            })
            .map_err(|e| e.to_string())
    }
}

/// The async runtime the commands run on; two workers are plenty for a
/// handful of environments and keep the jump host quiet.
pub fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("site-status: cannot start: {e}");
            ExitCode::from(exit::FAILURE)
        })
}

/// Loads the configuration, or says what is wrong and how to start.
pub fn load_config(path: Option<&Path>) -> Option<Config> {
    let Some(path) = path else {
        eprintln!(
            "site-status: no home directory to look for a configuration in; pass --config PATH.\n\
             Try the dashboard on a simulated fleet:  site-status demo"
        );
        return None;
    };
    if !path.exists() {
        eprintln!(
            "site-status: no configuration at {}\n\
             Create one with `site-status config init`, or try the dashboard on a simulated fleet:  site-status demo",
            path.display()
        );
        return None;
    }
    match Config::load(path) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("site-status: {e}");
            None
        }
    }
}

/// The configuration's mute rules and the dashboard's; a rules file that
/// cannot be read is reported, and the configuration's rules still apply.
pub fn load_mutes(config: &Config) -> crate::model::MuteRules {
    let store = crate::mute_store::MuteStore::open_default();
    let (mutes, error) = crate::mute_store::load_rules(config.mute_rules(), store.as_ref());
    if let Some(e) = error {
        eprintln!("site-status: {e}; the configuration's mute rules still apply");
    }
    mutes
}

/// The sources of the environments asked for (`--env`, repeatable; all
/// when none), their start-up warnings printed once. An `--env` the
/// configuration does not have is an error.
pub fn selected_sources(
    config: &Config,
    only: &[String],
) -> Result<Vec<Arc<dyn FleetSource>>, String> {
    let sources = source::from_config(config, &ProcessSecrets).map_err(|e| e.to_string())?;
    for name in only {
        if !sources.iter().any(|s| s.environment() == name) {
            return Err(format!("no environment {name:?} in the configuration"));
        }
    }
    for s in &sources {
        for w in s.warnings() {
            eprintln!("site-status: warning: {w}");
        }
    }
    Ok(sources
        .into_iter()
        .filter(|s| only.is_empty() || only.iter().any(|n| n == s.environment()))
        .map(|s| s as Arc<dyn FleetSource>)
        .collect())
}

/// How often to poll and how long one poll may take: the slowest
/// environment's HTTP timeout, plus a margin, since the client times out
/// first and says why; this only catches a request that hangs beyond it.
pub fn poll_settings(config: &Config) -> PollSettings {
    let http_timeout = config
        .environments
        .iter()
        .map(|e| e.prometheus.timeout.0)
        .max()
        .unwrap_or(Duration::from_secs(10));
    PollSettings {
        interval: config.refresh_interval.0,
        timeout: http_timeout + Duration::from_secs(2),
        ..PollSettings::default()
    }
}
