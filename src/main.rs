//! The `site-status` binary: parses the arguments and hands each command
//! to its file under `src/cli/`.

use std::process::ExitCode;

use clap::Parser;
use site_status::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let Cli { globals, command } = Cli::parse();
    let path = globals.config_path();
    let path = path.as_deref();
    match command {
        None => cli::dashboard::run(&globals, path),
        Some(Command::Demo {
            sites,
            seed,
            refresh,
        }) => cli::demo::run(&globals, path, sites, seed, refresh),
        Some(Command::Check { envs, format }) => cli::check::run(path, &envs, format),
        Some(Command::Watch { envs, format }) => cli::watch::command(path, &envs, format),
        Some(Command::Report {
            env,
            site,
            last,
            format,
        }) => cli::report::run(path, &env, &site, last as usize, format),
        Some(Command::Rollout {
            env,
            profile,
            version,
            sites,
            timeout,
            max_failing,
            format,
            no_run_now,
            demo,
        }) => cli::rollout::command(
            path,
            &cli::rollout::RolloutArgs {
                env: &env,
                profile: &profile,
                version: &version,
                sites: &sites,
                timeout,
                max_failing,
                format,
                run_now: !no_run_now,
                demo,
            },
        ),
        Some(Command::Config { action }) => cli::config::run(&action, path),
        Some(Command::Keys { markdown }) => {
            cli::keys::print(markdown);
            ExitCode::SUCCESS
        }
    }
}
