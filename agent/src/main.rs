//! The `site-status-agent` binary: reads its configuration, then runs the
//! schedule, the HTTP endpoints and the Loki sender until SIGTERM.
//!
//! Each run's outcome goes to the metrics (through `shared::Agent`) and to
//! the spool before anything is sent, so a report is in Loki or counted as
//! dropped, never silently lost.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use site_status_agent::config::Config;
use site_status_agent::loki::{self, Auth, Log, LokiClient, PushEvents, Sender, StreamLabels};
use site_status_agent::metrics::{Metrics, MetricsEvents, Target};
use site_status_agent::runner::{self, RunSpec, Runner};
use site_status_agent::shared::Agent;
use site_status_agent::spool::{Spool, SpoolConfig};
use site_status_agent::{http, install};

fn main() -> ExitCode {
    // The FROM scratch image has no cp: its init container runs the agent
    // to copy itself, before any other flag is needed.
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == "--copy-to") {
        let Some(dest) = args.next().map(PathBuf::from) else {
            eprintln!("site-status-agent: --copy-to needs a path");
            return ExitCode::from(2);
        };
        return match install::copy_self(&dest) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("site-status-agent: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = Config::load();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("site-status-agent: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("site-status-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    // The logger knows no trace level: trace shows what debug shows.
    let log = Log::new(
        config
            .log_level
            .as_str()
            .parse()
            .unwrap_or(loki::LogLevel::Debug),
    );
    let target = Target {
        site: config.site.clone(),
        env: config.env.clone(),
        profile: config.profile.clone(),
    };
    let metrics = Arc::new(Metrics::new(
        &target,
        config.target_labels,
        env!("CARGO_PKG_VERSION"),
    ));
    let events: Arc<dyn PushEvents> = Arc::new(MetricsEvents(metrics.clone()));

    let spool = match &config.loki {
        None => None,
        Some(loki_config) => {
            let mut spool_config = SpoolConfig::new(&config.spool);
            spool_config.max_reports = config.spool_max_reports;
            spool_config.max_bytes = config.spool_max_bytes;
            let spool = Spool::open(spool_config, events.clone(), log).map_err(|e| {
                format!(
                    "--spool {} (SITE_STATUS_SPOOL): {e}",
                    config.spool.display()
                )
            })?;
            let spool = Arc::new(spool);
            let mut push = loki::LokiConfig::new(
                loki_config.url.as_str(),
                StreamLabels {
                    site: config.site.clone(),
                    env: config.env.clone(),
                    profile: config.profile.clone(),
                },
            );
            push.tenant = loki_config.tenant.clone();
            push.ca_file = loki_config.ca_file.clone();
            push.auth = match (&loki_config.bearer_token_file, &loki_config.basic_auth_file) {
                (Some(token), _) => Auth::BearerTokenFile(token.clone()),
                (None, Some(basic)) => Auth::BasicAuthFile(basic.clone()),
                (None, None) => Auth::None,
            };
            let client = LokiClient::new(&push).map_err(|e| format!("--loki-url: {e}"))?;
            let sender = Sender::new(client, spool.clone(), events.clone(), push.backoff, log);
            tokio::spawn(async move { sender.run().await });
            Some(spool)
        }
    };

    let runner = Arc::new(Runner::new(RunSpec::from_config(&config), Arc::new(|_| {})));
    let trigger = {
        let runner = runner.clone();
        move || {
            let runner = runner.clone();
            let spool = spool.clone();
            async move {
                log.emit(loki::LogLevel::Debug, "run started", serde_json::json!({}));
                let outcome = runner.run_now().await;
                let level = if outcome.success {
                    loki::LogLevel::Info
                } else {
                    loki::LogLevel::Warn
                };
                log.emit(
                    level,
                    "run finished",
                    serde_json::json!({
                        "success": outcome.success,
                        "duration_seconds": outcome.duration_seconds,
                        "requirements": outcome.requirements.len(),
                        "drush_exit_code": outcome.line.drush_exit_code,
                        "failure": outcome.failure,
                    }),
                );
                if let Some(spool) = spool {
                    let (at, line) = (outcome.started_unix_ns, outcome.line.to_json());
                    // Two fsyncs: off the async workers. The spool logs and
                    // counts a report it could not write.
                    let _ = tokio::task::spawn_blocking(move || spool.push(at, &line)).await;
                }
                (*outcome).clone()
            }
        }
    };
    let agent = Agent::new(metrics, trigger);

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("--listen {} (SITE_STATUS_LISTEN): {e}", config.listen))?;
    let schedule = {
        let agent = agent.clone();
        let first = runner::first_delay(&config);
        let interval = config.interval;
        async move {
            tokio::time::sleep(first).await;
            let mut next = tokio::time::Instant::now();
            loop {
                agent.run_once().await;
                // Runs keep their slot: the interval counts from each
                // start, and a run longer than it is followed at once.
                next += interval;
                let now = tokio::time::Instant::now();
                if next < now {
                    next = now;
                }
                tokio::time::sleep_until(next).await;
            }
        }
    };
    tokio::spawn(schedule);
    http::serve(listener, agent, shutdown())
        .await
        .map_err(|e| format!("serving {}: {e}", config.listen))
}

/// SIGTERM (Kubernetes) or SIGINT: stop serving; the spool keeps what was
/// not sent yet for the next start.
async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
