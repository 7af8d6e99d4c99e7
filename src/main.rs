//! The `site-status` binary: parses the arguments and hands each command
//! to its file under `src/cli/`.

use std::process::ExitCode;

use clap::Parser;
use site_status::cli::{self, Cli, Command};

/// glibc gives each thread that allocates its own arena (up to 8 per
/// core), and an arena keeps what a poll freed: every runtime worker that
/// once parsed a 10,000-site answer would hold its own copy's worth. Two
/// arenas are plenty for one UI thread and a few pollers. A fixed mmap
/// threshold keeps each answer's body (megabytes at 10,000 sites) in its
/// own mapping, given back whole when it is freed, instead of letting
/// glibc raise the threshold and leave the bodies' room in the heap.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

fn main() -> ExitCode {
    limit_malloc_arenas();
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
            since,
            lookback,
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
                since,
                lookback,
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
