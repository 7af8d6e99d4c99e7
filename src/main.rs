use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use site_status::app::{Settings, keymap};
use site_status::poller::PollSettings;
use site_status::runtime;
use site_status::source::FleetSource;
use site_status::source::demo::{DEFAULT_SEED, DEFAULT_SITES, DemoClock, DemoFleet, DemoSource};
use site_status::ui::glyphs::locale_is_utf8;

/// Live status of a fleet of Drupal sites across environments.
#[derive(Parser)]
#[command(name = "site-status", version, about)]
struct Cli {
    /// Configuration file (default: the user's config directory; also SITE_STATUS_CONFIG).
    #[arg(long, global = true, env = "SITE_STATUS_CONFIG")]
    config: Option<PathBuf>,
    /// ASCII glyphs instead of Unicode (automatic when the locale is not UTF-8).
    #[arg(long, global = true)]
    ascii: bool,
    #[command(subcommand)]
    command: Option<Command>,
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
    /// Print the key bindings (as the README's Markdown table with --markdown).
    Keys {
        #[arg(long)]
        markdown: bool,
    },
}

fn parse_site_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=200_000).contains(&n) => Ok(n),
        _ => Err("a number of sites from 1 to 200000".to_string()),
    }
}

fn config_path(cli: &Cli) -> Option<PathBuf> {
    cli.config.clone().or_else(|| {
        directories::ProjectDirs::from("", "", "site-status")
            .map(|dirs| dirs.config_dir().join("config.toml"))
    })
}

fn ascii_wanted(flag: bool) -> bool {
    flag || !locale_is_utf8(
        std::env::var("LC_ALL").ok().as_deref(),
        std::env::var("LC_CTYPE").ok().as_deref(),
        std::env::var("LANG").ok().as_deref(),
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Keys { markdown }) => {
            if *markdown {
                print!("{}", keymap::markdown_table());
            } else {
                for scope in keymap::SCOPES {
                    println!("{}", scope.title());
                    for b in keymap::BINDINGS.iter().filter(|b| b.scope == scope) {
                        println!("  {:<24} {}", keymap::keys_label(b), b.description);
                    }
                }
            }
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
            let refresh = Duration::from_secs(*refresh);
            let settings = Settings {
                refresh,
                ascii: ascii_wanted(cli.ascii),
                origin: format!("demo (seed {seed})"),
                ..Settings::default()
            };
            let poll = PollSettings {
                interval: refresh,
                ..PollSettings::default()
            };
            run_dashboard(sources, settings, poll)
        }
        None => {
            match config_path(&cli) {
                Some(path) if path.exists() => eprintln!(
                    "site-status: found {}, but this version cannot poll real environments yet.\n\
                     Try the dashboard on a simulated fleet:  site-status demo",
                    path.display()
                ),
                Some(path) => eprintln!(
                    "site-status: no configuration at {}\n\
                     Try the dashboard on a simulated fleet:  site-status demo",
                    path.display()
                ),
                None => eprintln!(
                    "site-status: no home directory to look for a configuration in; pass --config PATH.\n\
                     Try the dashboard on a simulated fleet:  site-status demo"
                ),
            }
            ExitCode::from(2)
        }
    }
}

fn run_dashboard(
    sources: Vec<Arc<dyn FleetSource>>,
    settings: Settings,
    poll: PollSettings,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("site-status: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(runtime::run(sources, settings, poll)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("site-status: {e:#}");
            ExitCode::FAILURE
        }
    }
}
