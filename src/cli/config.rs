//! `site-status config path|init|check`: where the configuration lives,
//! an example to start from, and a check of the file and of every backend
//! it names (reachability and round-trip time).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use super::{ConfigAction, exit, load_config, runtime};
use crate::config::Config;
use crate::model::Clock;
use crate::source::http::ProcessSecrets;
use crate::source::{self, FleetSource};

pub fn run(action: &ConfigAction, path: Option<&Path>) -> ExitCode {
    let Some(path) = path else {
        eprintln!("site-status: no home directory; pass --config PATH");
        return ExitCode::from(exit::BAD_CONFIGURATION);
    };
    match action {
        ConfigAction::Path => {
            println!("{}", path.display());
            ExitCode::from(exit::OK)
        }
        ConfigAction::Init => {
            if path.exists() {
                eprintln!(
                    "site-status: {} already exists; not overwriting it",
                    path.display()
                );
                return ExitCode::from(exit::FAILURE);
            }
            if let Some(dir) = path.parent()
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                eprintln!("site-status: cannot create {}: {e}", dir.display());
                return ExitCode::from(exit::FAILURE);
            }
            let written = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .and_then(|mut f| {
                    std::io::Write::write_all(&mut f, crate::config::EXAMPLE.as_bytes())
                });
            match written {
                Ok(()) => {
                    println!(
                        "wrote {}\nEdit each environment's prometheus.url, then run `site-status config check`.",
                        path.display()
                    );
                    ExitCode::from(exit::OK)
                }
                Err(e) => {
                    eprintln!("site-status: cannot write {}: {e}", path.display());
                    ExitCode::from(exit::FAILURE)
                }
            }
        }
        ConfigAction::Check => {
            let Some(config) = load_config(Some(path)) else {
                return ExitCode::from(exit::BAD_CONFIGURATION);
            };
            println!("{}: valid", path.display());
            let Ok(rt) = runtime() else {
                return ExitCode::from(exit::FAILURE);
            };
            if rt.block_on(try_backends(&config)) {
                ExitCode::from(exit::OK)
            } else {
                ExitCode::from(exit::FAILURE)
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
        let started = Instant::now();
        let alertmanager = s
            .check_alertmanager()
            .await
            .map(|(target, outcome)| (target, outcome, started.elapsed()));
        (s, outcome, prometheus_took, loki, kube, alertmanager)
    });
    let mut all_ok = true;
    for (s, outcome, took, loki, kube, alertmanager) in futures::future::join_all(probes).await {
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
        match alertmanager {
            Some((target, Ok(active), took)) => println!(
                "  {:<10} alertmanager {target}: reachable, {active} active silences, {} ms",
                s.environment(),
                took.as_millis()
            ),
            Some((_, Err(e), took)) => {
                all_ok = false;
                println!(
                    "  {:<10} alertmanager: FAILED after {} ms: {e}",
                    s.environment(),
                    took.as_millis()
                );
            }
            None => println!(
                "  {:<10} alertmanager: not configured (mutes are the dashboard's own)",
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
