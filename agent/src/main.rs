//! The `site-status-agent` binary: reads its configuration, then runs the
//! schedule, the HTTP endpoints and the Loki sender until SIGTERM.
//!
//! Each run's outcome goes to the metrics (through `shared::Agent`) and to
//! the spool before anything is sent, so a report is in Loki or counted as
//! dropped, never silently lost.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use site_status_agent::config::{self, Config};
use site_status_agent::loki::{self, Auth, Log, LokiClient, PushEvents, Sender, StreamLabels};
use site_status_agent::metrics::{Metrics, MetricsEvents, Target};
use site_status_agent::outcome::Outcome;
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
    let served = runtime.block_on(serve(config));
    // What is left: a spool write begun before the signal (a blocking
    // task, which the runtime lets finish) and the Loki sender mid-push
    // (the report stays spooled and is sent after the restart).
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("site-status-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The shutdown's grace budget, from the signal to the exit: requests in
/// flight get [`http::Limits::drain`] (5 s; a waiting `POST /run` is
/// answered at once), then blocking work such as a spool write gets
/// `RUNTIME_SHUTDOWN`. 8 s in all, below the 10 s documented and well
/// below the Deployment's terminationGracePeriodSeconds of 30.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_secs(10);
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(3);

/// How long the start waits for `drush status` to learn the install
/// profile before serving with an empty one (then learned at a later run).
/// Not bounded by `--timeout`: a timeout set shorter than drush's run
/// fails every run, and must not also cost the site its profile label.
const STATUS_AT_START: Duration = Duration::from_secs(30);

async fn serve(config: Config) -> Result<(), String> {
    // The logger knows no trace level: trace shows what debug shows.
    let log = Log::new(
        config
            .log_level
            .as_str()
            .parse()
            .unwrap_or(loki::LogLevel::Debug),
    );
    let runner = Arc::new(Runner::new(RunSpec::from_config(&config)));
    // The profile labels every series and the Loki stream: learn it before
    // the first scrape or push, unless it was given.
    match &config.status_command {
        None => log.emit(
            loki::LogLevel::Warn,
            "drush status is not asked: it cannot be derived from the command; \
             drush_version and the install profile stay unknown (--status-command)",
            serde_json::json!({}),
        ),
        Some(_) => {
            let wait = STATUS_AT_START;
            match runner.refresh_status(wait).await {
                Some(status) => log.emit(
                    loki::LogLevel::Info,
                    "drush status",
                    serde_json::json!({
                        "drush_version": status.drush_version,
                        "install_profile": status.install_profile,
                        "drupal_version": status.drupal_version,
                        "php_version": status.php_version,
                        "db_status": status.db_status,
                    }),
                ),
                None => log.emit(
                    loki::LogLevel::Warn,
                    "drush status gave no answer at start; asked again at the first run",
                    serde_json::json!({"within_seconds": wait.as_secs_f64()}),
                ),
            }
        }
    }
    let profile = runner.profile();
    let target = Target {
        site: config.site.clone(),
        env: config.env.clone(),
        profile: profile.clone(),
    };
    let metrics = Arc::new(Metrics::new(
        &target,
        config.target_labels,
        env!("CARGO_PKG_VERSION"),
    ));
    let events: Arc<dyn PushEvents> = Arc::new(MetricsEvents(metrics.clone()));

    let (spool, sender) = match &config.loki {
        None => (None, None),
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
            // Ready means "can keep reports": an unwritable spool is found
            // now, not at the first report it loses.
            spool.check_writable().map_err(|e| {
                format!(
                    "--spool {} (SITE_STATUS_SPOOL): not writable: {e}",
                    config.spool.display()
                )
            })?;
            let spool = Arc::new(spool);
            let mut push = loki::LokiConfig::new(
                loki_config.url.as_str(),
                StreamLabels {
                    site: config.site.clone(),
                    env: config.env.clone(),
                    profile: profile.clone(),
                },
            );
            push.tenant = loki_config.tenant.clone();
            push.ca_file = loki_config.ca_file.clone();
            push.max_push_bytes = loki_config.max_push_bytes;
            push.auth = match (&loki_config.bearer_token_file, &loki_config.basic_auth_file) {
                (Some(token), _) => Auth::BearerTokenFile(token.clone()),
                (None, Some(basic)) => Auth::BasicAuthFile(basic.clone()),
                (None, None) => Auth::None,
            };
            let client = LokiClient::new(&push)
                .map_err(|e| format!("{}: {}", config::name(e.flag), e.message))?;
            let sender = Arc::new(Sender::new(
                client,
                spool.clone(),
                events.clone(),
                push.backoff,
                log,
            ));
            let running = sender.clone();
            tokio::spawn(async move { running.run().await });
            (Some(spool), Some(sender))
        }
    };

    let checked_spool = spool.clone();
    let trigger = {
        let runner = runner.clone();
        let metrics = metrics.clone();
        let profile_given = !config.profile.is_empty();
        move || {
            let runner = runner.clone();
            let spool = spool.clone();
            let sender = sender.clone();
            let metrics = metrics.clone();
            async move {
                log.emit(loki::LogLevel::Debug, "run started", serde_json::json!({}));
                let outcome = runner.run().await;
                if !profile_given {
                    // Learned late when drush status failed at start.
                    let profile = runner.profile();
                    metrics.set_profile(&profile);
                    if let Some(sender) = &sender {
                        sender.client().set_profile(&profile);
                    }
                }
                log_run(log, &outcome);
                if let Some(spool) = spool {
                    let (at, line) = (outcome.started_unix_ns, outcome.line.to_json());
                    // Two fsyncs: off the async workers. The spool logs and
                    // counts a report it could not write.
                    let _ = tokio::task::spawn_blocking(move || spool.push(at, &line)).await;
                }
                outcome
            }
        }
    };
    let agent = Agent::new(metrics, trigger);
    if let Some(spool) = &checked_spool {
        let spool = spool.clone();
        agent.set_ready_check(Box::new(move || {
            spool
                .check_writable()
                .map_err(|e| format!("the spool is not writable: {e}"))
        }));
    }

    let listener = http::bind(config.listen)
        .map_err(|e| format!("--listen {} (SITE_STATUS_LISTEN): {e}", config.listen))?;
    let schedule = {
        let agent = agent.clone();
        let first = runner::first_delay(&config);
        let interval = config.interval;
        let timeout = config.timeout;
        async move { agent.schedule(first, interval, timeout).await }
    };
    tokio::spawn(schedule);
    let limits = http::Limits {
        max_connections: http::connection_cap(http::DEFAULT_MAX_CONNECTIONS),
        ..http::Limits::default()
    };
    http::serve(listener, agent, shutdown(log), limits)
        .await
        .map_err(|e| format!("serving {}: {e}", config.listen))
}

/// A failed run is a warning with its class and drush's last words; a
/// successful one is info, and what drush wrote to stderr meanwhile (drush
/// 13's offline "[error] Failed to retrieve security advisory data.") is
/// debug: noise, not a failure.
fn log_run(log: Log, outcome: &Outcome) {
    match &outcome.run_failure {
        Some(failure) => log.emit(
            loki::LogLevel::Warn,
            "run failed",
            serde_json::json!({
                "class": failure.class.as_str(),
                "exit_code": failure.exit_code,
                "signal": failure.signal,
                "failure": outcome.failure,
                "duration_seconds": outcome.duration_seconds,
                "stderr_tail": outcome.line.stderr_tail,
            }),
        ),
        None => {
            log.emit(
                loki::LogLevel::Info,
                "run finished",
                serde_json::json!({
                    "success": outcome.success,
                    "duration_seconds": outcome.duration_seconds,
                    "requirements": outcome.requirements.len(),
                    "drush_exit_code": outcome.line.drush_exit_code,
                }),
            );
            if !outcome.stderr_tail.is_empty() {
                log.emit(
                    loki::LogLevel::Debug,
                    "drush stderr of a successful run",
                    serde_json::json!({"stderr_tail": outcome.stderr_tail}),
                );
            }
        }
    }
}

/// SIGTERM (Kubernetes), SIGINT or SIGHUP (a closed terminal; its
/// default action killed the agent and left drush's children running):
/// stop serving, cancel the run (drush's group is killed) and exit within
/// [`SHUTDOWN_BUDGET`]; the spool keeps what was not sent yet for the
/// next start.
async fn shutdown(log: Log) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
        _ = hup.recv() => "SIGHUP",
    };
    log.emit(
        loki::LogLevel::Info,
        "shutting down",
        serde_json::json!({"signal": name, "budget_seconds": SHUTDOWN_BUDGET.as_secs()}),
    );
}
