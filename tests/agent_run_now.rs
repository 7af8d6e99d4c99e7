//! The site view's `r` end to end: the dashboard asks a site's real status
//! agent for a run now through the API server's service proxy (the
//! stand-in API server of tests/support/fake_kube.rs relays it as the real
//! one does), and shows the report that run made. And each way it can
//! fail says what to do: RBAC, no agent, no pod, the agent's rate limit.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use site_status::config::Config;
use site_status::source::FleetSource;
use site_status::source::http::ProcessSecrets;
use support::agent::TestAgent;
use support::fake_kube::FakeApiServer;

const RUN_PATH: &str =
    "POST /api/v1/namespaces/site-borger/services/site-status-agent:metrics/proxy/run?wait=true";

fn config_text(kubeconfig: &Path, prometheus: &str) -> String {
    format!(
        r#"
refresh_interval = "2s"
[[environment]]
name = "prod"
selector = 'env="prod"'
[environment.prometheus]
url = "{prometheus}"
timeout = "5s"
[environment.kube]
kubeconfig = "{}"
namespace_selector = "sitefactory.dk/type=site"
site_label = "sitefactory.dk/site"
"#,
        kubeconfig.display()
    )
}

/// The environment's source, with a cluster that has borger's namespace.
async fn source(api: &FakeApiServer, dir: &Path) -> Arc<dyn FleetSource> {
    api.add_site_namespace("borger");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig_yaml()).unwrap();
    // Prometheus is not asked: `r` goes to the cluster only.
    let text = config_text(&kubeconfig, "http://127.0.0.1:9");
    let config = Config::parse(&text, Path::new("test.toml")).unwrap();
    let sources = site_status::source::from_config(&config, &ProcessSecrets).unwrap();
    sources.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_asked_through_the_service_proxy_answers_with_the_fresh_report() {
    let dir = tempfile::tempdir().unwrap();
    let agent = TestAgent::start(dir.path(), "drush13-broken-full.json", "1h");
    tokio::task::block_in_place(|| agent.wait_ready());
    let api = FakeApiServer::start().await;
    api.add_agent("borger", agent.addr());
    let source = source(&api, dir.path()).await;

    // The operator fixed the site: drush now says it is healthy.
    agent.set_drush_output("drush13-healthy.json");
    let report = source.run_report("borger").await.unwrap();
    assert!(api.log().iter().any(|r| r == RUN_PATH), "{:?}", api.log());
    let counts = report.counts();
    // drush13-healthy: nothing in error, the contrib updates a warning.
    assert_eq!(
        (counts.error, counts.warning),
        (0, 1),
        "{:?}",
        report.requirements
    );
    assert_eq!(report.requirements.len(), 20);
    assert_eq!(report.drush_exit_code, Some(0));
    let generated: jiff::Timestamp = report.generated_at.as_deref().unwrap().parse().unwrap();
    let age = jiff::Timestamp::now().duration_since(generated);
    assert!(age.as_secs() < 30, "the report is not fresh: {generated}");
    // The agent serves the same run as its last report.
    let last = agent.get("/report").unwrap();
    assert!(
        last.contains(report.generated_at.as_deref().unwrap()),
        "{last}"
    );

    // Asked again at once: the agent's rate limit, said as such.
    let error = source.run_report("borger").await.unwrap_err().message;
    assert!(error.contains("rate-limited"), "{error}");
    assert!(error.contains("retry in"), "{error}");
    assert!(!error.contains("not-a-real-token"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_way_a_run_cannot_be_asked_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let api = FakeApiServer::start().await;
    let source = source(&api, dir.path()).await;

    // No agent Service in the namespace.
    let error = source.run_report("borger").await.unwrap_err().message;
    assert!(
        error.contains("no Service site-status-agent in site-borger")
            && error.contains("is the status agent deployed there?"),
        "{error}"
    );

    // A Service with nothing behind it.
    api.add_service("site-borger", "site-status-agent", "metrics", 9101);
    let error = source.run_report("borger").await.unwrap_err().message;
    assert!(error.contains("is not reachable"), "{error}");
    assert!(error.contains("no endpoints available"), "{error}");

    // RBAC without create on services/proxy.
    api.state().forbid_service_proxy = true;
    let error = source.run_report("borger").await.unwrap_err().message;
    assert!(
        error.contains(
            "forbidden: cannot create services/proxy in namespace site-borger (RBAC: create on services/proxy)"
        ),
        "{error}"
    );

    // A site the cluster does not have.
    let error = source.run_report("nowhere").await.unwrap_err().message;
    assert!(
        error.contains("no namespace in the cluster for site nowhere"),
        "{error}"
    );
}

/// The real binary as an operator runs it: the grid from a real Prometheus
/// scraping the agent, `Enter` on borger, `r`: "running…", then the fresh
/// report on screen, healthy where the grid still shows the broken one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_in_the_site_view_runs_the_report_and_shows_it() {
    use support::TestPrometheus;
    use support::tmux::{Tmux, command_line, sh_quote};

    let dir = tempfile::tempdir().unwrap();
    let agent = TestAgent::start(dir.path(), "drush13-broken-full.json", "1h");
    tokio::task::block_in_place(|| agent.wait_ready());
    let prometheus = TestPrometheus::start([agent.addr().to_string()]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while prometheus
        .query(r#"drupal_requirement_severity{site="borger"}"#)
        .await
        .unwrap_or_default()
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "Prometheus never scraped the agent"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let api = FakeApiServer::start().await;
    api.add_site_namespace("borger");
    api.add_agent("borger", agent.addr());
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig_yaml()).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, config_text(&kubeconfig, &prometheus.url())).unwrap();
    let command = format!(
        "HOME={} SITE_STATUS_CONFIG={} {}",
        sh_quote(&dir.path().display().to_string()),
        sh_quote(&config.display().to_string()),
        command_line(&[env!("CARGO_BIN_EXE_site-status")])
    );

    let api = Arc::new(api);
    let cluster = api.clone();
    let agent = Arc::new(agent);
    let fixing = agent.clone();
    tokio::task::spawn_blocking(move || {
        let tmux = Tmux::start(120, 36, &command);
        tmux.wait_for("the grid with borger in error", |s| {
            s.contains("── prod 1 sites") && s.contains("✖1")
        });
        tmux.keys(&["Enter"]);
        tmux.wait_for("borger's site view", |s| {
            s.contains("config sync directory") && s.contains("r run now")
        });

        // drush takes a while, as a real one does.
        fixing.set_drush_output("drush13-healthy.json");
        fixing.set_drush_delay(3);
        tmux.keys(&["r"]);
        tmux.wait_for("running…", |s| s.contains("running… the status report"));
        // Whole frames only: a capture may fall between two draws.
        let fresh = tmux.wait_for("the fresh report", |s| {
            s.contains("made just now by the site's agent")
                && s.contains("fresh report of borger:")
                && !s.contains("Kubernetes namespace")
        });
        let text = fresh.body().join("\n");
        assert!(text.contains("run now"), "{}", fresh.framed());
        assert!(
            fresh.contains("fresh report of borger: 0 error(s), 1 warning(s)"),
            "{}",
            fresh.framed()
        );
        // drush13-healthy: no requirement in error; the broken one is gone.
        assert!(
            !text.contains("Configuration sync directory"),
            "{}",
            fresh.framed()
        );
        assert!(
            cluster.log().iter().any(|r| r == RUN_PATH),
            "{:?}",
            cluster.log()
        );

        // Back in the site view, `r` at once: the agent's limit, in the view.
        tmux.keys(&["Escape"]);
        // Escape and r in one read are Alt-r to the terminal: r only once
        // the site view is back.
        tmux.wait_for("borger's site view again", |s| {
            s.contains("r run now") && !s.contains("made just now by the site's agent")
        });
        tmux.keys(&["r"]);
        tmux.wait_for("the rate limit said", |s| {
            s.contains("run now failed") && s.contains("rate-limited")
        });
        tmux.keys(&["q"]);
        tmux.assert_exits_cleanly("q");
    })
    .await
    .unwrap();
}
