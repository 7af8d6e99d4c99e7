//! The agent's deployment (deploy/kubernetes/, deploy/agent.Dockerfile), as
//! a platform team would apply it: every kustomization renders with
//! `kubectl kustomize` (or `kustomize build`), validates against the
//! Kubernetes schemas with `kubernetes-validate` (PyPI), and the rendered
//! objects have the properties the agent relies on. The PodMonitor is a
//! CRD the validator has no schema for: it is checked structurally here.
//! scripts/test.sh installs the tools when they are absent. The README's
//! platform section is held to the contract and the manifests too.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use site_status_contract::names;

const INSTALL_HINT: &str = "scripts/test.sh installs it when absent";
/// The oldest Kubernetes still commonly run, and the validator's newest.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];
const AGENT_ARGS: [&str; 5] = [
    "--",
    "drush",
    "core-requirements",
    "--format=json",
    "--fields=title,severity,sid,description,value",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Every folder under deploy/kubernetes holding a kustomization.
fn kustomizations() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        if dir.join("kustomization.yaml").exists() {
            found.push(dir.to_path_buf());
        }
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(&root().join("deploy/kubernetes"), &mut found);
    found.sort();
    found
}

fn render(dir: &Path) -> String {
    let mut command = if on_path("kubectl") {
        let mut c = Command::new("kubectl");
        c.arg("kustomize");
        c
    } else if on_path("kustomize") {
        let mut c = Command::new("kustomize");
        c.arg("build");
        c
    } else {
        panic!("neither kubectl nor kustomize is installed; {INSTALL_HINT}");
    };
    let out = command.arg(dir).output().unwrap();
    assert!(
        out.status.success(),
        "rendering {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The rendered YAML as JSON objects, through PyYAML: the validator's own
/// dependency, so no YAML parser is added to the workspace for a test.
fn objects(yaml: &str) -> Vec<Value> {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3: {e}; {INSTALL_HINT}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "PyYAML (installed with kubernetes-validate; {INSTALL_HINT}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).unwrap() {
        Value::Array(objects) => objects,
        other => panic!("not a list of objects: {other}"),
    }
}

struct Validation {
    passed: bool,
    output: String,
}

fn validate(yaml: &str, version: &str) -> Validation {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet", "-k", version])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("kubernetes-validate: {e}; {INSTALL_HINT}"));
    Validation {
        passed: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The rendered objects of one kustomization, by kind.
struct Rendered {
    dir: PathBuf,
    objects: Vec<Value>,
}

impl Rendered {
    fn of(relative: &str) -> Rendered {
        let dir = root().join("deploy/kubernetes").join(relative);
        Rendered {
            objects: objects(&render(&dir)),
            dir,
        }
    }

    fn one(&self, kind: &str) -> &Value {
        let found: Vec<&Value> = self.objects.iter().filter(|o| o["kind"] == kind).collect();
        assert_eq!(
            found.len(),
            1,
            "{}: one {kind} expected",
            self.dir.display()
        );
        found[0]
    }

    fn deployment(&self) -> &Value {
        self.one("Deployment")
    }

    fn pod_spec(&self) -> &Value {
        &self.deployment()["spec"]["template"]["spec"]
    }

    fn pod_labels(&self) -> BTreeMap<String, String> {
        string_map(&self.deployment()["spec"]["template"]["metadata"]["labels"])
    }

    fn container(&self, name: &str) -> &Value {
        let spec = self.pod_spec();
        spec["containers"]
            .as_array()
            .into_iter()
            .chain(spec["initContainers"].as_array())
            .flatten()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{}: no container {name}", self.dir.display()))
    }

    fn volume(&self, name: &str) -> &Value {
        self.pod_spec()["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no volume {name}"))
    }
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not a map: {value}"))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

fn is_subset(small: &BTreeMap<String, String>, big: &BTreeMap<String, String>) -> bool {
    !small.is_empty() && small.iter().all(|(k, v)| big.get(k) == Some(v))
}

/// Where `container` mounts `volume`, and whether read-only.
fn mount<'a>(container: &'a Value, volume: &str) -> Option<(&'a str, bool)> {
    container["volumeMounts"].as_array()?.iter().find_map(|m| {
        (m["name"] == volume).then(|| {
            (
                m["mountPath"].as_str().unwrap(),
                m["readOnly"].as_bool().unwrap_or(false),
            )
        })
    })
}

/// The volume mounted at exactly `path` in `container`.
fn volume_at<'a>(container: &'a Value, path: &str) -> Option<(&'a str, bool)> {
    container["volumeMounts"].as_array()?.iter().find_map(|m| {
        (m["mountPath"] == path).then(|| {
            (
                m["name"].as_str().unwrap(),
                m["readOnly"].as_bool().unwrap_or(false),
            )
        })
    })
}

fn env_value<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no env {name}"))
}

/// "256Mi", "1Gi", "512M" in bytes.
fn bytes(quantity: &str) -> u64 {
    let units = [
        ("Ki", 1u64 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("k", 1000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
    ];
    for (suffix, factor) in units {
        if let Some(n) = quantity.strip_suffix(suffix) {
            return n.parse::<u64>().unwrap() * factor;
        }
    }
    quantity.parse().unwrap()
}

fn both() -> [Rendered; 2] {
    [Rendered::of("base"), Rendered::of("overlays/example-site")]
}

#[test]
fn every_kustomization_renders_and_validates_against_the_kubernetes_schemas() {
    let dirs = kustomizations();
    let names: Vec<String> = dirs
        .iter()
        .map(|d| {
            d.strip_prefix(root().join("deploy/kubernetes"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert!(names.contains(&"base".to_string()), "{names:?}");
    assert!(
        names.contains(&"overlays/example-site".to_string()),
        "{names:?}"
    );
    for dir in &dirs {
        let yaml = render(dir);
        let kinds: Vec<String> = objects(&yaml)
            .iter()
            .map(|o| o["kind"].as_str().unwrap().to_string())
            .collect();
        for kind in ["Deployment", "Service", "PodMonitor"] {
            assert!(
                kinds.iter().any(|k| k == kind),
                "{}: {kinds:?}",
                dir.display()
            );
        }
        for version in KUBERNETES_VERSIONS {
            let result = validate(&yaml, version);
            assert!(
                result.passed,
                "{} against {version}:\n{}",
                dir.display(),
                result.output
            );
            // The validator skips kinds it has no schema for with a
            // warning: only the PodMonitor (a CRD, checked below) may be.
            for line in result.output.lines().filter(|l| !l.trim().is_empty()) {
                assert!(
                    line.contains("Couldn't find schema for kind PodMonitor"),
                    "{} against {version}: unexpected output {line}",
                    dir.display()
                );
            }
        }
    }
}

#[test]
fn the_validator_rejects_what_the_cluster_would() {
    // Without this, a validator that passes everything would pass the test
    // above.
    let yaml = render(&root().join("deploy/kubernetes/base"));
    let wrong_type = yaml.replacen("containerPort: 9101", "containerPort: metrics", 1);
    let unknown_field = yaml.replacen(
        "publishNotReadyAddresses: true",
        "publishNotReadyAddresses: true\n  publishNotReady: true",
        1,
    );
    for broken in [wrong_type, unknown_field] {
        assert_ne!(broken, yaml);
        let result = validate(&broken, KUBERNETES_VERSIONS[1]);
        assert!(
            !result.passed,
            "accepted a broken manifest:\n{}",
            result.output
        );
    }
}

#[test]
fn the_pod_runs_restricted() {
    for r in both() {
        let spec = r.pod_spec();
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            spec["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        // scratch has no /etc/passwd: runAsNonRoot needs a numeric user.
        assert!(spec["securityContext"]["runAsUser"].as_u64().unwrap() > 0);
        // No RBAC: the agent never calls the API server.
        assert_eq!(spec["automountServiceAccountToken"], false);
        for name in ["install-agent", "agent"] {
            let sc = &r.container(name)["securityContext"];
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
            assert_eq!(sc["runAsNonRoot"], true, "{name}");
            assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{name}");
            assert!(sc["capabilities"]["add"].is_null(), "{name}");
            assert!(sc["privileged"] != true, "{name}");
        }
        for kind in [
            "Role",
            "ClusterRole",
            "RoleBinding",
            "ClusterRoleBinding",
            "ServiceAccount",
        ] {
            assert!(
                r.objects.iter().all(|o| o["kind"] != kind),
                "{}: the agent needs no {kind}",
                r.dir.display()
            );
        }
    }
}

#[test]
fn the_init_container_copies_the_agent_image_binary_into_the_drupal_container() {
    let dockerfile = std::fs::read_to_string(root().join("deploy/agent.Dockerfile")).unwrap();
    let lines: Vec<&str> = dockerfile
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(lines.first(), Some(&"FROM scratch"), "{lines:?}");
    // The static binary from the documented cargo build, to one path.
    let copy = lines
        .iter()
        .find(|l| l.starts_with("COPY "))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!(
        copy[1..],
        [
            "target/x86_64-unknown-linux-gnu/agent/site-status-agent",
            "/site-status-agent"
        ]
    );
    assert!(dockerfile.contains(
        "RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --profile agent -p site-status-agent --target x86_64-unknown-linux-gnu"
    ));
    let ignore =
        std::fs::read_to_string(root().join("deploy/agent.Dockerfile.dockerignore")).unwrap();
    assert!(ignore.contains(&format!("!{}", copy[1])));

    for r in both() {
        let init = r.container("install-agent");
        let agent = r.container("agent");
        let command = strings(&init["command"]);
        assert_eq!(command[..2], ["/site-status-agent", "--copy-to"]);
        let installed = Path::new(command[2]);
        let bin_dir = installed.parent().unwrap().to_str().unwrap();
        // The same emptyDir, writable in the init container, at the same
        // place in the agent's container.
        let (volume, read_only) =
            volume_at(init, bin_dir).expect("init mounts the binary's folder");
        assert!(!read_only);
        assert!(r.volume(volume)["emptyDir"].is_object());
        assert_eq!(mount(agent, volume).map(|m| m.0), Some(bin_dir));
        assert_eq!(strings(&agent["command"]), [command[2]]);
        assert_eq!(strings(&agent["args"]), AGENT_ARGS);
        // The two images: the agent image for the copy, the site's for drush.
        assert_ne!(init["image"], agent["image"]);
        assert!(
            init["image"]
                .as_str()
                .unwrap()
                .contains("site-status-agent")
        );
    }
    let overlay = Rendered::of("overlays/example-site");
    assert_eq!(
        overlay.container("agent")["image"],
        "registry.example.dk/sites/borger:2026.11.3"
    );
}

#[test]
fn probes_ports_and_scrape_discovery_agree() {
    for r in both() {
        let agent = r.container("agent");
        let port = agent["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "metrics")
            .expect("a container port named metrics");
        assert_eq!(port["containerPort"], 9101);

        assert_eq!(agent["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(agent["readinessProbe"]["httpGet"]["port"], "metrics");
        assert_eq!(agent["livenessProbe"]["httpGet"]["path"], "/livez");
        assert_eq!(agent["livenessProbe"]["httpGet"]["port"], "metrics");

        let annotations =
            string_map(&r.deployment()["spec"]["template"]["metadata"]["annotations"]);
        assert_eq!(annotations["prometheus.io/scrape"], "true");
        assert_eq!(annotations["prometheus.io/port"], "9101");
        assert_eq!(annotations["prometheus.io/path"], "/metrics");

        let pod_labels = r.pod_labels();
        let selector = string_map(&r.deployment()["spec"]["selector"]["matchLabels"]);
        assert!(is_subset(&selector, &pod_labels));

        let service = r.one("Service");
        assert!(is_subset(
            &string_map(&service["spec"]["selector"]),
            &pod_labels
        ));
        let service_port = &service["spec"]["ports"][0];
        assert_eq!(service_port["name"], "metrics");
        assert_eq!(service_port["port"], 9101);
        assert_eq!(service_port["targetPort"], "metrics");

        // The PodMonitor, which the validator cannot check: its fields,
        // its selector and the port it scrapes.
        let monitor = r.one("PodMonitor");
        assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
        let spec = monitor["spec"].as_object().unwrap();
        for key in spec.keys() {
            assert!(
                [
                    "jobLabel",
                    "selector",
                    "podMetricsEndpoints",
                    "namespaceSelector"
                ]
                .contains(&key.as_str()),
                "unexpected PodMonitor field {key}"
            );
        }
        let matched = string_map(&monitor["spec"]["selector"]["matchLabels"]);
        assert!(
            is_subset(&matched, &pod_labels),
            "{matched:?} ⊄ {pod_labels:?}"
        );
        let job_label = monitor["spec"]["jobLabel"].as_str().unwrap();
        assert_eq!(
            pod_labels[job_label],
            names::JOB,
            "up{{job=...}} of the contract"
        );
        let endpoints = monitor["spec"]["podMetricsEndpoints"].as_array().unwrap();
        assert_eq!(endpoints.len(), 1);
        assert_eq!(endpoints[0]["port"], port["name"]);
        assert_eq!(endpoints[0]["path"], "/metrics");
        // `up` names its site: the pod's identity labels become target
        // labels, as the rules' target-down state needs.
        assert_eq!(endpoints[0]["honorLabels"], true);
        let relabelled: Vec<(String, String)> = endpoints[0]["relabelings"]
            .as_array()
            .expect("relabelings")
            .iter()
            .map(|r| {
                (
                    r["sourceLabels"][0].as_str().unwrap().to_string(),
                    r["targetLabel"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for (pod_label, target) in [
            ("site-status/site", "site"),
            ("site-status/env", "env"),
            ("site-status/profile", "profile"),
        ] {
            let meta = format!(
                "__meta_kubernetes_pod_label_{}",
                pod_label.replace(['/', '-', '.'], "_")
            );
            assert!(
                relabelled.contains(&(meta.clone(), target.to_string())),
                "{meta} → {target} missing: {relabelled:?}"
            );
        }
        assert_eq!(
            monitor["metadata"]["namespace"],
            r.deployment()["metadata"]["namespace"]
        );
    }
}

#[test]
fn the_site_identity_comes_from_the_pod_labels() {
    for r in both() {
        let agent = r.container("agent");
        for (var, key) in [
            ("SITE_STATUS_SITE", "site-status/site"),
            ("SITE_STATUS_ENV", "site-status/env"),
            ("SITE_STATUS_PROFILE", "site-status/profile"),
        ] {
            assert_eq!(
                env_value(agent, var)["valueFrom"]["fieldRef"]["fieldPath"],
                format!("metadata.labels['{key}']"),
                "{var}"
            );
        }
    }
    let overlay = Rendered::of("overlays/example-site");
    let labels = overlay.pod_labels();
    assert_eq!(labels["site-status/site"], "borger");
    assert_eq!(labels["site-status/env"], "prod");
    assert_eq!(labels["site-status/profile"], "kk_borger");
    // A Deployment's selector cannot change once applied: the site labels
    // stay out of it (and so out of the Service's and PodMonitor's).
    let selector = string_map(&overlay.deployment()["spec"]["selector"]["matchLabels"]);
    assert!(
        selector.keys().all(|k| !k.starts_with("site-status/")),
        "{selector:?}"
    );
}

#[test]
fn the_agent_has_room_for_php_a_writable_spool_and_the_site_settings() {
    for r in both() {
        let agent = r.container("agent");
        let requests = &agent["resources"]["requests"];
        // memory_limit 128M of PHP, opcache and the agent itself.
        assert!(bytes(requests["memory"].as_str().unwrap()) >= 256 << 20);
        let limit = bytes(agent["resources"]["limits"]["memory"].as_str().unwrap());
        assert!(limit >= bytes(requests["memory"].as_str().unwrap()));
        assert!(requests["cpu"].is_string());

        let spool = env_value(agent, "SITE_STATUS_SPOOL")["value"]
            .as_str()
            .unwrap();
        let (volume, read_only) = volume_at(agent, spool).expect("the spool is a volume");
        assert!(!read_only);
        let size = r.volume(volume)["emptyDir"]["sizeLimit"].as_str().unwrap();
        // The spool's own bound is 50 MB.
        assert!(bytes(size) >= 50_000_000, "{size}");
        // The root filesystem is read-only; PHP and drush write to /tmp.
        let (tmp, read_only) = volume_at(agent, "/tmp").expect("/tmp is a volume");
        assert!(!read_only && r.volume(tmp)["emptyDir"].is_object());

        let env_from = agent["envFrom"].as_array().unwrap();
        let config = env_from
            .iter()
            .find_map(|e| e["configMapRef"]["name"].as_str())
            .unwrap();
        let map = r.one("ConfigMap");
        assert_eq!(
            map["metadata"]["name"], config,
            "the generated ConfigMap, hash and all"
        );
        assert!(string_map(&map["data"]).contains_key("SITE_STATUS_LOKI_URL"));
        assert!(env_from.iter().any(|e| e["secretRef"]["name"].is_string()));
    }
    let overlay = Rendered::of("overlays/example-site");
    let agent = overlay.container("agent");
    let secrets: Vec<&str> = agent["envFrom"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["secretRef"]["name"].as_str())
        .collect();
    assert_eq!(secrets, ["borger-drupal-env"]);
    // The site's files volume, or the status report says its files
    // directory is not writable.
    let (files, _) = volume_at(agent, "/opt/drupal/web/sites/default/files").unwrap();
    assert_eq!(
        overlay.volume(files)["persistentVolumeClaim"]["claimName"],
        "borger-files"
    );
    for object in &overlay.objects {
        assert_eq!(object["metadata"]["namespace"], "site-borger", "{object}");
        assert!(
            object["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("borger-")
        );
    }
    let map = overlay.one("ConfigMap");
    assert_eq!(map["data"]["SITE_STATUS_LOKI_TENANT"], "kk-prod");
}

fn platform_section() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let heading = "## The status agent (for the platform team)\n";
    let start = readme.find(heading).expect("the platform section");
    let code_map = readme.find("\n## Code map").expect("the code map");
    assert!(
        start < code_map,
        "the platform section comes before the code map"
    );
    let end = readme[start + heading.len()..]
        .find("\n## ")
        .map_or(readme.len(), |i| start + heading.len() + i);
    readme[start..end].to_string()
}

#[test]
fn the_readme_platform_section_shows_the_commands_metrics_and_flags() {
    let section = platform_section();
    for command in [
        "kubectl kustomize deploy/kubernetes/overlays/example-site",
        "kubectl apply -k deploy/kubernetes/overlays/example-site",
        "RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --profile agent -p site-status-agent --target x86_64-unknown-linux-gnu",
        "docker build -f deploy/agent.Dockerfile",
    ] {
        assert!(section.contains(command), "README lacks `{command}`");
    }
    // The contract's metrics table: one row per metric of the contract.
    for metric in [
        names::REQUIREMENT_SEVERITY,
        names::REPORT_SUCCESS,
        names::LAST_RUN_TIMESTAMP,
        names::LAST_SUCCESS_TIMESTAMP,
        names::RUN_DURATION,
        names::INFO,
    ] {
        let row = format!("| `{metric}` |");
        assert_eq!(
            section.matches(&row).count(),
            1,
            "README metrics table: {row}"
        );
    }
    for label in names::INFO_LABELS {
        assert!(section.contains(&format!("`{label}`")), "{label}");
    }
    for flag in [
        "site",
        "env",
        "profile",
        "listen",
        "interval",
        "timeout",
        "splay",
        "loki-url",
        "loki-tenant",
        "loki-bearer-token-file",
        "loki-basic-auth-file",
        "loki-ca-file",
        "spool",
        "log-level",
        "no-target-labels",
    ] {
        let var = format!("SITE_STATUS_{}", flag.to_uppercase().replace('-', "_"));
        assert!(
            section.contains(&format!("`--{flag}")) && section.contains(&format!("`{var}`")),
            "README flags: --{flag} / {var}"
        );
    }
}
