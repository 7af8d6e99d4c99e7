//! `kube://` backends end to end: the dashboard's Prometheus source talks
//! to a real Prometheus through a port-forward opened via a stand-in API
//! server (tests/support/fake_kube.rs), which speaks the real WebSocket
//! port-forward protocol and forwards to the Prometheus as if it were the
//! pod. When the pod goes away the forward is made again to the next ready
//! pod; with no ready pod, or no permission, the error says so.

mod support;

use std::path::Path;
use std::time::Duration;

use site_status::config::Config;
use site_status::source::FleetSource;
use site_status::source::http::ProcessSecrets;
use support::fake_kube::FakeApiServer;
use support::{FleetBuilder, FleetExporter, TestPrometheus};

fn config(kubeconfig: &Path) -> Config {
    let text = format!(
        r#"
[[environment]]
name = "prod"
selector = 'env="prod"'
[environment.prometheus]
url = "kube://monitoring/prometheus:web"
timeout = "5s"
[environment.kube]
kubeconfig = "{}"
namespace_selector = "sitefactory.dk/type=site"
"#,
        kubeconfig.display()
    );
    Config::parse(&text, Path::new("test.toml")).unwrap()
}

fn prometheus_addr(prom: &TestPrometheus) -> std::net::SocketAddr {
    format!("127.0.0.1:{}", prom.port()).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kube_url_reaches_prometheus_through_a_port_forward_and_follows_the_pods() {
    let exporter = FleetExporter::start(FleetBuilder::new(30).build());
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;
    let expected = exporter
        .fleet()
        .sites
        .iter()
        .filter(|s| s.env == "prod")
        .count();
    assert!(expected > 0);

    let api = FakeApiServer::start().await;
    api.add_service("monitoring", "prometheus", "web", 9090);
    api.add_unready_pod("monitoring", "prometheus", "prometheus-0", 9090);
    api.add_pod(
        "monitoring",
        "prometheus",
        "prometheus-1",
        9090,
        prometheus_addr(&prom),
    );
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig_yaml()).unwrap();

    let sources = site_status::source::from_config(&config(&kubeconfig), &ProcessSecrets).unwrap();
    let source = &sources[0];
    let report = source
        .fetch_fleet()
        .await
        .expect("through the port-forward");
    assert_eq!(report.sites.len(), expected);
    let log = api.log();
    assert!(
        log.iter()
            .any(|r| r.contains("/pods/prometheus-1/portforward?") && r.contains("ports=9090")),
        "forwarded to the ready pod: {log:?}"
    );
    assert!(
        !log.iter().any(|r| r.contains("/pods/prometheus-0/")),
        "never to the one that is not ready: {log:?}"
    );

    // A rollout replaces the pod: the forward breaks, the next request goes
    // to the new pod.
    api.add_pod(
        "monitoring",
        "prometheus",
        "prometheus-2",
        9090,
        prometheus_addr(&prom),
    );
    api.remove_pod("monitoring", "prometheus-1");
    let mut outcome = source.fetch_fleet().await;
    if outcome.is_err() {
        // A pooled connection that broke under a request fails that one
        // request; the poller's next attempt must work.
        outcome = source.fetch_fleet().await;
    }
    assert_eq!(outcome.expect("through the new pod").sites.len(), expected);
    assert!(
        api.log()
            .iter()
            .any(|r| r.contains("/pods/prometheus-2/portforward?")),
        "{:?}",
        api.log()
    );

    // No ready pod at all: said, with the service's name.
    api.remove_pod("monitoring", "prometheus-2");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut error = String::new();
    for _ in 0..2 {
        match source.fetch_fleet().await {
            Err(e) => {
                error = e.message;
                break;
            }
            Ok(_) => continue,
        }
    }
    assert!(
        error.contains("kube://monitoring/prometheus:web (port-forward)")
            && error.contains("no ready pod behind service monitoring/prometheus"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_port_forward_names_the_permission() {
    let api = FakeApiServer::start().await;
    api.add_service("monitoring", "prometheus", "web", 9090);
    // Nothing listens behind it: the request must fail at the forward.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    api.add_pod("monitoring", "prometheus", "prometheus-0", 9090, nobody);
    api.state().forbid_portforward = true;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig_yaml()).unwrap();
    let sources = site_status::source::from_config(&config(&kubeconfig), &ProcessSecrets).unwrap();
    let error = sources[0].fetch_fleet().await.unwrap_err().message;
    assert!(
        error.contains("forbidden: cannot create pods/portforward in namespace monitoring (RBAC: create on pods/portforward)"),
        "{error}"
    );
    assert!(!error.contains("not-a-real-token"), "{error}");
}

/// The real binary, as an operator runs it, on an environment whose
/// Prometheus is `kube://`: the grid fills through the port-forward, the
/// site view shows the cluster's pane, and after the Prometheus pod is
/// replaced a refresh still gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_runs_on_a_kube_backend_in_a_terminal() {
    use support::tmux::{Tmux, command_line, sh_quote};

    let exporter = FleetExporter::start(FleetBuilder::new(30).build());
    let prom = TestPrometheus::scraping(&exporter).await;
    prom.wait_for_fleet(&exporter).await;
    let sites: Vec<String> = exporter
        .fleet()
        .sites
        .iter()
        .filter(|s| s.env == "prod")
        .map(|s| s.name.clone())
        .collect();

    let api = FakeApiServer::start().await;
    api.add_service("monitoring", "prometheus", "web", 9090);
    api.add_pod(
        "monitoring",
        "prometheus",
        "prometheus-1",
        9090,
        prometheus_addr(&prom),
    );
    for site in &sites {
        api.add_site_namespace(site);
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig_yaml()).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "refresh_interval = \"2s\"\n[[environment]]\nname = \"prod\"\nselector = 'env=\"prod\"'\n[environment.prometheus]\nurl = \"kube://monitoring/prometheus:web\"\ntimeout = \"5s\"\n[environment.kube]\nkubeconfig = \"{}\"\nnamespace_selector = \"sitefactory.dk/type=site\"\nsite_label = \"sitefactory.dk/site\"\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    let command = format!(
        "HOME={} SITE_STATUS_CONFIG={} {}",
        sh_quote(&dir.path().display().to_string()),
        sh_quote(&config.display().to_string()),
        command_line(&[env!("CARGO_BIN_EXE_site-status")])
    );
    let expected = format!("── prod {} sites", sites.len());

    // `config check` tries the cluster and the kube:// Prometheus.
    let checked = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_site-status"))
                .args(["--config", &config.display().to_string(), "config", "check"])
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let said = String::from_utf8_lossy(&checked.stdout).into_owned();
    assert!(checked.status.success(), "{said}");
    assert!(
        said.contains("prometheus kube://monitoring/prometheus:web (port-forward): reachable"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "kubernetes (current context): {} site namespaces match sitefactory.dk/type=site",
            sites.len()
        )),
        "{said}"
    );

    let api = std::sync::Arc::new(api);
    let cluster = api.clone();
    let prom_addr = prometheus_addr(&prom);
    tokio::task::spawn_blocking(move || {
        let tmux = Tmux::start(140, 40, &command);
        let grid = tmux.wait_for("the grid through the port-forward", |s| {
            s.contains(&expected) && s.status().contains(" › ")
        });
        let section = grid.section_line_texts().join("\n");
        assert!(!section.contains("error"), "{section}");
        assert!(
            !grid.body().iter().any(|l| l.contains('∅')),
            "{}",
            grid.framed()
        );

        tmux.keys(&["Enter"]);
        tmux.wait_for("the site's Kubernetes pane", |s| {
            s.contains("Kubernetes namespace site-") && s.contains("no Deployments or StatefulSets")
        });
        tmux.keys(&["Escape"]);
        tmux.wait_for("the grid again", |s| s.contains(&expected));

        // The Prometheus pod is replaced; the next polls go to the new one.
        cluster.add_pod("monitoring", "prometheus", "prometheus-2", 9090, prom_addr);
        cluster.remove_pod("monitoring", "prometheus-1");
        let seen = cluster.log().len();
        tmux.keys(&["r"]);
        tmux.wait_for("a poll through the new pod", |s| {
            s.contains(&expected)
                && !s.section_line_texts().join(" ").contains("error")
                && cluster.log()[seen..]
                    .iter()
                    .any(|r| r.contains("/pods/prometheus-2/portforward?"))
        });
        tmux.keys(&["q"]);
        tmux.assert_exits_cleanly("q");
    })
    .await
    .unwrap();
}
