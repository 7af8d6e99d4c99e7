use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};

use site_status::app::{Settings, keymap};
use site_status::check;
use site_status::config::terminal_env;
use site_status::config::theme_file;
use site_status::config::{self, Config};
use site_status::model::Clock;
use site_status::poller::PollSettings;
use site_status::runtime;
use site_status::source::demo::{DEFAULT_SEED, DEFAULT_SITES, DemoClock, DemoFleet, DemoSource};
use site_status::source::http::ProcessSecrets;
use site_status::source::{self, FleetSource};
use site_status::ui::Theme;
use site_status::ui::glyphs::locale_is_utf8;
use site_status::ui::theme::ColorChoice;

/// Live status of a fleet of Drupal sites across environments.
#[derive(Parser)]
#[command(name = "site-status", version, about)]
struct Cli {
    /// Configuration file (default: the user's config directory).
    #[arg(long, global = true, env = config::ENV_VAR)]
    config: Option<PathBuf>,
    /// ASCII glyphs instead of Unicode (automatic when the locale is not UTF-8).
    #[arg(long, global = true)]
    ascii: bool,
    /// Colour theme: dark, light, high-contrast, colorblind, a theme in the
    /// config directory's themes/NAME.toml, or a path to a theme file
    /// (default: the configuration's `theme`, else dark).
    #[arg(long, global = true, value_name = "NAME|PATH")]
    theme: Option<String>,
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
    color: ColorChoice,
    /// Show times in UTC instead of the local time zone (TZ, else the
    /// system's); also `utc = true` in the configuration. JSON is always UTC.
    #[arg(long, global = true)]
    utc: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum StreamFormat {
    Text,
    Jsonl,
}

#[derive(Subcommand)]
enum Command {
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
    /// (warnings), 2 (errors, no data, stale, failed runs) or 3 (a backend failed).
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
enum ConfigAction {
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

fn ascii_wanted(flag: bool) -> bool {
    flag || !locale_is_utf8(
        std::env::var("LC_ALL").ok().as_deref(),
        std::env::var("LC_CTYPE").ok().as_deref(),
        std::env::var("LANG").ok().as_deref(),
    )
}

/// The theme to draw with: `--theme`, else the configuration's `theme`,
/// else dark; fitted to the colours the terminal shows and carrying the
/// zone times are shown in. User themes by name live in the configuration
/// file's directory, under `themes/`.
fn choose_theme(
    cli: &Cli,
    config: Option<&Config>,
    config_path: Option<&Path>,
) -> Result<Theme, String> {
    let configured = config.and_then(|c| c.theme.as_deref()).zip(config_path);
    let theme = match (&cli.theme, configured) {
        (Some(spec), _) => theme_file::load(spec, config_path.and_then(Path::parent)),
        (None, Some((spec, path))) => theme_file::load_for_config(spec, path),
        (None, None) => Ok(Theme::dark()),
    };
    let utc = cli.utc || config.is_some_and(|c| c.utc);
    theme
        .map(|t| {
            t.with_depth(terminal_env::color_depth(cli.color))
                .with_time_zone(terminal_env::display_time_zone(utc))
        })
        .map_err(|e| e.to_string())
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("site-status: cannot start: {e}");
            ExitCode::FAILURE
        })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = cli.config.clone().or_else(config::default_path);
    match &cli.command {
        Some(Command::Keys { markdown }) => {
            print_keys(*markdown);
            ExitCode::SUCCESS
        }
        Some(Command::Demo {
            sites,
            seed,
            refresh,
        }) => {
            let fleet = Arc::new(DemoFleet::new(*sites, *seed));
            let sources: Vec<Arc<dyn FleetSource>> =
                DemoSource::for_fleet(fleet, DemoClock::running(0.0))
                    .into_iter()
                    .map(|s| Arc::new(s) as Arc<dyn FleetSource>)
                    .collect();
            // The demo needs no configuration, but wears its theme.
            let config = path
                .as_deref()
                .filter(|p| p.exists())
                .and_then(|p| Config::load(p).ok());
            let theme = match choose_theme(&cli, config.as_ref(), path.as_deref()) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("site-status: {e}");
                    return ExitCode::from(2);
                }
            };
            let refresh = Duration::from_secs(*refresh);
            let settings = Settings {
                refresh,
                ascii: ascii_wanted(cli.ascii),
                origin: format!("demo (seed {seed})"),
                mouse: config.as_ref().is_none_or(|c| c.mouse),
                ..Settings::default()
            };
            let poll = PollSettings {
                interval: refresh,
                ..PollSettings::default()
            };
            // The demo's sites are not real ones: its rules live apart.
            let store = site_status::mute_store::default_path().map(|p| {
                site_status::mute_store::MuteStore::new(p.with_file_name("demo-mutes.toml"))
            });
            let mutes = site_status::runtime::MuteSetup {
                config_rules: Vec::new(),
                store,
            };
            run_dashboard(sources, settings, poll, mutes, theme)
        }
        Some(Command::Config { action }) => config_command(action, path.as_deref()),
        Some(Command::Watch { envs, format }) => {
            let Some(config) = load_config(path.as_deref()) else {
                return ExitCode::from(2);
            };
            watch_command(&config, envs, *format)
        }
        Some(Command::Report {
            env,
            site,
            last,
            format,
        }) => {
            let Some(config) = load_config(path.as_deref()) else {
                return ExitCode::from(2);
            };
            report_command(&config, env, site, *last as usize, *format)
        }
        Some(Command::Check { envs, format }) => {
            let Some(config) = load_config(path.as_deref()) else {
                return ExitCode::from(check::EXIT_BACKEND);
            };
            check_command(&config, envs, *format)
        }
        None => {
            let Some(config) = load_config(path.as_deref()) else {
                return ExitCode::from(2);
            };
            let theme = match choose_theme(&cli, Some(&config), path.as_deref()) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("site-status: {e}");
                    return ExitCode::from(2);
                }
            };
            let sources = match source::from_config(&config, &ProcessSecrets) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("site-status: {e}");
                    return ExitCode::from(2);
                }
            };
            for s in &sources {
                for w in s.warnings() {
                    eprintln!("site-status: warning: {w}");
                }
            }
            let timeout = config
                .environments
                .iter()
                .map(|e| e.prometheus.timeout.0)
                .max()
                .unwrap_or(Duration::from_secs(10));
            let settings = Settings {
                refresh: config.refresh_interval.0,
                stale_after: config.stale_after.0,
                ascii: ascii_wanted(cli.ascii),
                origin: path
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                transition_log_size: config.transition_log_size.max(1),
                change_marker: config.change_marker.0,
                mouse: config.mouse,
                site_urls: config
                    .environments
                    .iter()
                    .filter_map(|e| Some((e.name.0.clone(), e.site_url.clone()?)))
                    .collect(),
            };
            let poll = PollSettings {
                interval: config.refresh_interval.0,
                // The HTTP client times out first and says why; this only
                // catches a request that hangs beyond that.
                timeout: timeout + Duration::from_secs(2),
                ..PollSettings::default()
            };
            let sources = sources
                .into_iter()
                .map(|s| s as Arc<dyn FleetSource>)
                .collect();
            let mutes = site_status::runtime::MuteSetup {
                config_rules: config.mute_rules(),
                store: site_status::mute_store::MuteStore::open_default(),
            };
            run_dashboard(sources, settings, poll, mutes, theme)
        }
    }
}

fn print_keys(markdown: bool) {
    if markdown {
        print!("{}", keymap::markdown_table());
        return;
    }
    for scope in keymap::SCOPES {
        println!("{}", scope.title());
        for b in keymap::BINDINGS.iter().filter(|b| b.scope == scope) {
            println!("  {:<24} {}", keymap::keys_label(b), b.description);
        }
    }
}

/// Loads the configuration, or says what is wrong and how to start.
fn load_config(path: Option<&Path>) -> Option<Config> {
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

fn config_command(action: &ConfigAction, path: Option<&Path>) -> ExitCode {
    let Some(path) = path else {
        eprintln!("site-status: no home directory; pass --config PATH");
        return ExitCode::from(2);
    };
    match action {
        ConfigAction::Path => {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        ConfigAction::Init => {
            if path.exists() {
                eprintln!(
                    "site-status: {} already exists; not overwriting it",
                    path.display()
                );
                return ExitCode::FAILURE;
            }
            if let Some(dir) = path.parent()
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                eprintln!("site-status: cannot create {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
            let written = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .and_then(|mut f| std::io::Write::write_all(&mut f, config::EXAMPLE.as_bytes()));
            match written {
                Ok(()) => {
                    println!(
                        "wrote {}\nEdit each environment's prometheus.url, then run `site-status config check`.",
                        path.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("site-status: cannot write {}: {e}", path.display());
                    ExitCode::FAILURE
                }
            }
        }
        ConfigAction::Check => {
            let Some(config) = load_config(Some(path)) else {
                return ExitCode::from(2);
            };
            println!("{}: valid", path.display());
            let Ok(rt) = runtime() else {
                return ExitCode::FAILURE;
            };
            if rt.block_on(try_backends(&config)) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Tries every environment's backend with a trivial query, printing
/// reachability and round-trip time. True when all answered.
async fn try_backends(config: &Config) -> bool {
    let sources = match source::from_config(config, &ProcessSecrets) {
        Ok(s) => s,
        Err(e) => {
            println!("  {e}");
            return false;
        }
    };
    let probes = sources.iter().map(|s| async move {
        s.start_forwarding();
        let started = Instant::now();
        let outcome = s.prometheus().api().query("vector(1)").await;
        let prometheus_took = started.elapsed();
        let loki = match s.loki() {
            Some(loki) => {
                let started = Instant::now();
                let now = Clock::System.unix_nanos();
                let outcome = loki.api.labels(now - 3_600_000_000_000, now).await;
                Some((loki.api.endpoint.display(), outcome, started.elapsed()))
            }
            None => None,
        };
        let started = Instant::now();
        let kube = s
            .check_kubernetes()
            .await
            .map(|outcome| (outcome, started.elapsed()));
        (s, outcome, prometheus_took, loki, kube)
    });
    let mut all_ok = true;
    for (s, outcome, took, loki, kube) in futures::future::join_all(probes).await {
        let target = s.prometheus().api().endpoint.display();
        for w in s.warnings() {
            println!("  warning: {w}");
        }
        match outcome {
            Ok(_) => println!(
                "  {:<10} prometheus {target}: reachable, {} ms",
                s.environment(),
                took.as_millis()
            ),
            Err(e) => {
                all_ok = false;
                println!(
                    "  {:<10} prometheus: FAILED after {} ms: {e}",
                    s.environment(),
                    took.as_millis()
                );
            }
        }
        match loki {
            Some((target, Ok(_), took)) => println!(
                "  {:<10} loki {target}: reachable, {} ms",
                s.environment(),
                took.as_millis()
            ),
            Some((_, Err(e), took)) => {
                all_ok = false;
                println!(
                    "  {:<10} loki: FAILED after {} ms: {e}",
                    s.environment(),
                    took.as_millis()
                );
            }
            None => println!(
                "  {:<10} loki: not configured (reports unavailable)",
                s.environment()
            ),
        }
        let context = s
            .kube_config()
            .and_then(|k| k.context.as_ref())
            .map(|c| format!("context {}", c.0))
            .unwrap_or_else(|| "current context".into());
        let selector = s
            .kube_config()
            .map(|k| k.namespace_selector.0.as_str())
            .unwrap_or_default();
        match kube {
            Some((Ok(count), took)) => println!(
                "  {:<10} kubernetes ({context}): {count} site namespaces match {selector}, {} ms",
                s.environment(),
                took.as_millis()
            ),
            Some((Err(e), took)) => {
                all_ok = false;
                println!(
                    "  {:<10} kubernetes ({context}): FAILED after {} ms: {e}",
                    s.environment(),
                    took.as_millis()
                );
            }
            None => println!(
                "  {:<10} kubernetes: not configured (no site discovery, no Kubernetes pane)",
                s.environment()
            ),
        }
    }
    all_ok
}

/// The configuration's mute rules and the dashboard's; a rules file that
/// cannot be read is reported, and the configuration's rules still apply.
fn load_mutes(config: &Config) -> site_status::model::MuteRules {
    let store = site_status::mute_store::MuteStore::open_default();
    let (mutes, error) = site_status::mute_store::load_rules(config.mute_rules(), store.as_ref());
    if let Some(e) = error {
        eprintln!("site-status: {e}; the configuration's mute rules still apply");
    }
    mutes
}

fn configured_sources(
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

fn watch_command(config: &Config, only: &[String], format: StreamFormat) -> ExitCode {
    let sources = match configured_sources(config, only) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("site-status: {e}");
            return ExitCode::from(2);
        }
    };
    let timeout = config
        .environments
        .iter()
        .map(|e| e.prometheus.timeout.0)
        .max()
        .unwrap_or(Duration::from_secs(10));
    let poll = PollSettings {
        interval: config.refresh_interval.0,
        timeout: timeout + Duration::from_secs(2),
        ..PollSettings::default()
    };
    let format = match format {
        StreamFormat::Text => site_status::watch::WatchFormat::Text,
        StreamFormat::Jsonl => site_status::watch::WatchFormat::Jsonl,
    };
    let Ok(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    let mutes = load_mutes(config);
    match rt.block_on(site_status::watch::run(
        sources,
        poll,
        config.stale_after.0,
        format,
        mutes,
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("site-status: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn report_command(config: &Config, env: &str, site: &str, last: usize, format: Format) -> ExitCode {
    let sources = match source::from_config(config, &ProcessSecrets) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("site-status: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(source) = sources.iter().find(|s| s.environment() == env) else {
        let names: Vec<&str> = sources.iter().map(|s| s.environment()).collect();
        eprintln!(
            "site-status: no environment {env:?} in the configuration (there are: {})",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    let Ok(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(source.fetch_reports(site, last)) {
        Ok(reports) => {
            match format {
                Format::Json => println!(
                    "{}",
                    site_status::report_command::to_json(env, site, &reports)
                ),
                Format::Text => print!(
                    "{}",
                    site_status::report_command::to_text(env, site, &reports)
                ),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("site-status: {e}");
            ExitCode::from(3)
        }
    }
}

fn check_command(config: &Config, only: &[String], format: Format) -> ExitCode {
    let sources = match source::from_config(config, &ProcessSecrets) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("site-status: {e}");
            return ExitCode::from(check::EXIT_BACKEND);
        }
    };
    for name in only {
        if !sources.iter().any(|s| s.environment() == name) {
            eprintln!("site-status: no environment {name:?} in the configuration");
            return ExitCode::from(check::EXIT_BACKEND);
        }
    }
    let sources: Vec<Arc<dyn FleetSource>> = sources
        .into_iter()
        .filter(|s| only.is_empty() || only.iter().any(|n| n == s.environment()))
        .map(|s| s as Arc<dyn FleetSource>)
        .collect();
    let timeout = config
        .environments
        .iter()
        .map(|e| e.prometheus.timeout.0)
        .max()
        .unwrap_or(Duration::from_secs(10))
        + Duration::from_secs(2);
    let Ok(rt) = runtime() else {
        return ExitCode::from(check::EXIT_BACKEND);
    };
    let outcomes = rt.block_on(check::poll_once(&sources, timeout));
    let mutes = load_mutes(config);
    let report =
        check::build_report_with_mutes(outcomes, check::unix_now(), config.stale_after.0, &mutes);
    match format {
        Format::Json => println!("{}", report.to_json()),
        Format::Text => print!("{}", report.to_text()),
    }
    ExitCode::from(report.exit_code())
}

fn run_dashboard(
    sources: Vec<Arc<dyn FleetSource>>,
    settings: Settings,
    poll: PollSettings,
    mutes: site_status::runtime::MuteSetup,
    theme: Theme,
) -> ExitCode {
    let Ok(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(runtime::run(sources, settings, poll, mutes, theme)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("site-status: {e:#}");
            ExitCode::FAILURE
        }
    }
}
