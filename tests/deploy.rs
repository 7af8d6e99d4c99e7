//! The agent's deployment (deploy/kubernetes/, deploy/agent.Dockerfile), as
//! a platform team would review it. Every kustomization (base, overlays,
//! monitoring, rbac) and every component (rendered onto the base) renders
//! with `kubectl kustomize` (or `kustomize build`) and validates strictly,
//! unknown fields failing: built-in kinds with `kubernetes-validate` (PyPI)
//! against each Kubernetes version AKS supports, the Prometheus Operator's
//! kinds against their CRDs' schemas (tests/fixtures/prometheus-operator-crds,
//! through tests/validate_custom_resources.py). The rendered objects have
//! the properties the agent relies on; the NetworkPolicy lets through
//! exactly the flows a table below lists; the README's RBAC, scrape config
//! and cost table are held to the manifests. scripts/test.sh installs the
//! tools when they are absent.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;
use site_status_contract::names;

const INSTALL_HINT: &str = "scripts/test.sh installs it when absent";
/// The Kubernetes versions AKS supports today (1.29 as long-term support).
const KUBERNETES_VERSIONS: [&str; 3] = ["1.29.0", "1.30.0", "1.31.0"];
/// The kinds checked against tests/fixtures/prometheus-operator-crds.
const CRD_KINDS: [&str; 2] = ["PodMonitor", "PrometheusRule"];
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

fn kube_dir() -> PathBuf {
    root().join("deploy/kubernetes")
}

fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Every folder under deploy/kubernetes holding a kustomization, split into
/// what renders alone and the components (which render onto the base).
fn kustomizations() -> (Vec<PathBuf>, Vec<PathBuf>) {
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
    walk(&kube_dir(), &mut found);
    found.sort();
    found.into_iter().partition(|dir| {
        let text = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
        !text.lines().any(|l| l.trim() == "kind: Component")
    })
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

/// `path` relative to `from`: kustomize takes only relative paths, so up to
/// / and down again.
fn relative_to(from: &Path, path: &Path) -> String {
    let up = "../".repeat(from.components().count() - 1);
    let path = path.canonicalize().unwrap();
    format!("{up}{}", path.strip_prefix("/").unwrap().display())
}

/// The base with `extra` (kustomization fields) added, as an overlay that
/// says no more renders it.
fn render_on_base(extra: impl Fn(&Path) -> String) -> String {
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path().canonicalize().unwrap();
    std::fs::write(
        here.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {}\n{}",
            relative_to(&here, &kube_dir().join("base")),
            extra(&here)
        ),
    )
    .unwrap();
    render(&here)
}

/// The base with `component` applied, as an overlay using it renders it.
fn render_component(component: &Path) -> String {
    render_on_base(|here| format!("components:\n  - {}\n", relative_to(here, component)))
}

/// YAML documents as JSON objects, through PyYAML: the validator's own
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

/// One rendering: a kustomization, or the base with one component.
struct Rendered {
    name: String,
    yaml: String,
    objects: Vec<Value>,
}

/// Every rendering, once per test binary (kubectl takes ~0.1 s each).
fn renderings() -> &'static [Rendered] {
    static ALL: OnceLock<Vec<Rendered>> = OnceLock::new();
    ALL.get_or_init(|| {
        let (plain, components) = kustomizations();
        let relative = |dir: &Path| dir.strip_prefix(kube_dir()).unwrap().display().to_string();
        let mut all: Vec<Rendered> = plain
            .iter()
            .map(|dir| {
                let yaml = render(dir);
                Rendered {
                    name: relative(dir),
                    objects: objects(&yaml),
                    yaml,
                }
            })
            .collect();
        all.extend(components.iter().map(|dir| {
            let yaml = render_component(dir);
            Rendered {
                name: format!("base + {}", relative(dir)),
                objects: objects(&yaml),
                yaml,
            }
        }));
        all
    })
}

fn rendered(name: &str) -> &'static Rendered {
    renderings()
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no rendering {name}"))
}

/// The renderings that deploy an agent: the base, each overlay, each
/// component on the base.
fn agents() -> Vec<&'static Rendered> {
    renderings()
        .iter()
        .filter(|r| r.objects.iter().any(|o| o["kind"] == "Deployment"))
        .collect()
}

impl Rendered {
    fn all(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    fn one(&self, kind: &str) -> &Value {
        let found = self.all(kind);
        assert_eq!(found.len(), 1, "{}: one {kind} expected", self.name);
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

    fn pod_annotations(&self) -> BTreeMap<String, String> {
        match &self.deployment()["spec"]["template"]["metadata"]["annotations"] {
            Value::Null => BTreeMap::new(),
            other => string_map(other),
        }
    }

    fn namespace(&self) -> &str {
        self.deployment()["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    }

    fn container(&self, name: &str) -> &Value {
        let spec = self.pod_spec();
        spec["containers"]
            .as_array()
            .into_iter()
            .chain(spec["initContainers"].as_array())
            .flatten()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{}: no container {name}", self.name))
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

struct Validation {
    passed: bool,
    output: String,
}

/// kubernetes-validate --strict of `files` against one Kubernetes version.
fn validate_builtin(files: &[PathBuf], version: &str) -> Validation {
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet", "-k", version])
        .args(files)
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

/// The custom resources of `files` against the shipped CRD schemas.
fn validate_custom(files: &[PathBuf]) -> Validation {
    let out = Command::new("python3")
        .arg(root().join("tests/validate_custom_resources.py"))
        .arg(root().join("tests/fixtures/prometheus-operator-crds"))
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("python3: {e}; {INSTALL_HINT}"));
    Validation {
        passed: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn every_kustomization_and_component_validates_strictly() {
    let names: Vec<&str> = renderings().iter().map(|r| r.name.as_str()).collect();
    for expected in [
        "base",
        "overlays/example-site",
        "overlays/example-site-alpine",
        "monitoring",
        "rbac",
        "base + components/prometheus-operator",
        "base + components/annotations",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = renderings()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let file = dir.path().join(format!("{i}.yaml"));
            std::fs::write(&file, &r.yaml).unwrap();
            file
        })
        .collect();
    let custom: usize = renderings()
        .iter()
        .map(|r| {
            r.objects
                .iter()
                .filter(|o| CRD_KINDS.iter().any(|k| o["kind"] == *k))
                .count()
        })
        .sum();
    assert!(custom >= 3, "PodMonitors and the PrometheusRule: {custom}");
    for version in KUBERNETES_VERSIONS {
        let result = validate_builtin(&files, version);
        assert!(result.passed, "against {version}:\n{}", result.output);
        // The validator skips kinds it has no schema for with a warning:
        // only the CRD kinds, which are validated below, may be skipped.
        for line in result.output.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                CRD_KINDS
                    .iter()
                    .any(|k| line.contains(&format!("Couldn't find schema for kind {k} "))),
                "against {version}: unexpected output {line}"
            );
        }
    }
    let result = validate_custom(&files);
    assert!(result.passed, "{}", result.output);
    assert_eq!(
        result
            .output
            .lines()
            .filter(|l| l.starts_with("OK "))
            .count(),
        custom,
        "every custom resource validated:\n{}",
        result.output
    );
}

/// `key` with its last two letters swapped: a typo no schema knows.
fn misspelled(key: &str) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    let n = chars.len();
    if n < 2 || chars[n - 1] == chars[n - 2] {
        return format!("{key}x");
    }
    chars.swap(n - 1, n - 2);
    chars.into_iter().collect()
}

/// Every object of `object` below the top level that has a schema (free-form
/// maps, whose values are all strings, such as labels and ConfigMap data,
/// are skipped), as the JSON pointer to it.
fn schema_objects(value: &Value, pointer: String, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if !pointer.is_empty() && !map.values().all(Value::is_string) {
                found.push(pointer.clone());
            }
            for (key, child) in map {
                schema_objects(
                    child,
                    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1")),
                    found,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                schema_objects(child, format!("{pointer}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn a_misspelled_field_anywhere_fails_validation() {
    // Without this, a validator that passes everything (or one that ignores
    // unknown fields, as a plain kubectl apply does) would pass the test
    // above. Each mutant renames one field of one object to a typo.
    let dir = tempfile::tempdir().unwrap();
    let mut builtin = Vec::new();
    let mut custom = Vec::new();
    let mut seen = BTreeSet::new();
    for r in renderings() {
        for object in &r.objects {
            let id = format!(
                "{}/{}/{}",
                object["kind"], object["metadata"]["namespace"], object["metadata"]["name"]
            );
            if !seen.insert(id) {
                continue;
            }
            let mut pointers = Vec::new();
            schema_objects(object, String::new(), &mut pointers);
            for pointer in pointers {
                let mut mutant = object.clone();
                let map = mutant
                    .pointer_mut(&pointer)
                    .unwrap()
                    .as_object_mut()
                    .unwrap();
                let key = map.keys().next().unwrap().clone();
                let value = map.remove(&key).unwrap();
                map.insert(misspelled(&key), value);
                let file = dir
                    .path()
                    .join(format!("{}.json", builtin.len() + custom.len()));
                std::fs::write(&file, mutant.to_string()).unwrap();
                let what = (
                    file,
                    format!("{} {}{pointer}: {key}", r.name, object["kind"]),
                );
                if CRD_KINDS.iter().any(|k| object["kind"] == *k) {
                    custom.push(what);
                } else {
                    builtin.push(what);
                }
            }
        }
    }
    assert!(
        builtin.len() > 100 && custom.len() > 20,
        "{} {}",
        builtin.len(),
        custom.len()
    );
    let files: Vec<PathBuf> = builtin.iter().map(|(f, _)| f.clone()).collect();
    let result = validate_builtin(&files, KUBERNETES_VERSIONS[0]);
    assert!(!result.passed);
    for (file, what) in &builtin {
        let needle = format!("ERROR {} ", file.display());
        assert!(
            result.output.contains(&needle),
            "accepted a typo: {what}\n{}",
            result.output
        );
    }
    let files: Vec<PathBuf> = custom.iter().map(|(f, _)| f.clone()).collect();
    let result = validate_custom(&files);
    assert!(!result.passed);
    for (file, what) in &custom {
        let needle = format!("ERROR {} ", file.display());
        assert!(
            result.output.contains(&needle),
            "accepted a typo: {what}\n{}",
            result.output
        );
    }
}

fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let by_label = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let by_expression = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let value = labels.get(e["key"].as_str().unwrap());
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match e["operator"].as_str().unwrap() {
                "In" => value.is_some_and(|v| values.contains(&v.as_str())),
                "NotIn" => value.is_none_or(|v| !values.contains(&v.as_str())),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                other => panic!("operator {other}"),
            }
        });
    by_label && by_expression
}

fn in_cidr(ip: Ipv4Addr, cidr: &str) -> bool {
    let (net, bits) = cidr.split_once('/').unwrap();
    let net: Ipv4Addr = net.parse().unwrap();
    let bits: u32 = bits.parse().unwrap();
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(ip) & mask == u32::from(net) & mask
}

/// The other end of a connection: a pod (namespace and labels) or an
/// address outside the pod network.
struct Peer {
    namespace: Option<&'static str>,
    labels: &'static [(&'static str, &'static str)],
    ip: &'static str,
}

const fn pod(namespace: &'static str, labels: &'static [(&'static str, &'static str)]) -> Peer {
    Peer {
        namespace: Some(namespace),
        labels,
        ip: "10.244.7.9",
    }
}

const fn address(ip: &'static str) -> Peer {
    Peer {
        namespace: None,
        labels: &[],
        ip,
    }
}

impl Peer {
    fn labels(&self) -> BTreeMap<String, String> {
        self.labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// One `from`/`to` entry of a rule, as Kubernetes reads it.
    fn matches(&self, entry: &Value, policy_namespace: &str) -> bool {
        if let Some(block) = entry.get("ipBlock") {
            let ip: Ipv4Addr = self.ip.parse().unwrap();
            let except = block["except"].as_array().into_iter().flatten();
            return in_cidr(ip, block["cidr"].as_str().unwrap())
                && !except.into_iter().any(|c| in_cidr(ip, c.as_str().unwrap()));
        }
        let Some(namespace) = self.namespace else {
            return false;
        };
        let pods = entry
            .get("podSelector")
            .is_none_or(|s| selects(s, &self.labels()));
        match entry.get("namespaceSelector") {
            Some(selector) => {
                let ns_labels = BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_string(),
                    namespace.to_string(),
                )]);
                selects(selector, &ns_labels) && pods
            }
            None => namespace == policy_namespace && pods,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Direction {
    In,
    Out,
}

/// Whether the rendered policies let `peer` reach the agent on `port`
/// (In) or the agent reach `peer` on `port` (Out). A named port in an
/// ingress rule is the agent's container port of that name.
fn allowed(r: &Rendered, direction: Direction, peer: &Peer, port: u16, protocol: &str) -> bool {
    let (kind, rules, peers) = match direction {
        Direction::In => ("Ingress", "ingress", "from"),
        Direction::Out => ("Egress", "egress", "to"),
    };
    let agent_ports: BTreeMap<String, u64> = r.container("agent")["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["containerPort"].as_u64().unwrap(),
            )
        })
        .collect();
    let pod_labels = r.pod_labels();
    let policies: Vec<&Value> = r
        .all("NetworkPolicy")
        .into_iter()
        .filter(|p| p["metadata"]["namespace"].as_str().unwrap_or("default") == r.namespace())
        .filter(|p| selects(&p["spec"]["podSelector"], &pod_labels))
        .filter(|p| strings(&p["spec"]["policyTypes"]).contains(&kind))
        .collect();
    if policies.is_empty() {
        return true;
    }
    policies.iter().any(|policy| {
        policy["spec"][rules]
            .as_array()
            .into_iter()
            .flatten()
            .any(|rule| {
                let from_ok = match rule[peers].as_array() {
                    None => true,
                    Some(entries) => entries.iter().any(|e| peer.matches(e, r.namespace())),
                };
                let port_ok = match rule["ports"].as_array() {
                    None => true,
                    Some(ports) => ports.iter().any(|p| {
                        let proto = p["protocol"].as_str().unwrap_or("TCP");
                        let number = match &p["port"] {
                            Value::Null => return proto == protocol,
                            Value::Number(n) => n.as_u64().unwrap(),
                            Value::String(name) => {
                                assert_eq!(direction, Direction::In, "named egress port {name}");
                                agent_ports[name]
                            }
                            other => panic!("port {other}"),
                        };
                        let end = p["endPort"].as_u64().unwrap_or(number);
                        proto == protocol && (number..=end).contains(&u64::from(port))
                    }),
                };
                from_ok && port_ok
            })
    })
}

const PROMETHEUS: &[(&str, &str)] = &[("app.kubernetes.io/name", "prometheus")];
const KONNECTIVITY: &[(&str, &str)] = &[("app", "konnectivity-agent")];
const KUBE_DNS: &[(&str, &str)] = &[("k8s-app", "kube-dns")];
const LOKI_GATEWAY: &[(&str, &str)] = &[("app.kubernetes.io/component", "gateway")];
const DRUPAL: &[(&str, &str)] = &[("app.kubernetes.io/name", "drupal")];
const MARIADB: &[(&str, &str)] = &[("app.kubernetes.io/name", "mariadb")];

#[test]
fn the_network_policy_allows_exactly_the_agents_flows() {
    use Direction::{In, Out};
    let base = rendered("base");
    let debian = rendered("overlays/example-site");
    let alpine = rendered("overlays/example-site-alpine");
    // (rendering, direction, peer, port, protocol, allowed, why)
    let table: Vec<(&Rendered, Direction, Peer, u16, &str, bool, &str)> = vec![
        (
            debian,
            In,
            pod("monitoring", PROMETHEUS),
            9101,
            "TCP",
            true,
            "Prometheus scrapes",
        ),
        (
            debian,
            In,
            pod("monitoring", PROMETHEUS),
            9101,
            "UDP",
            false,
            "TCP only",
        ),
        (
            debian,
            In,
            pod("monitoring", PROMETHEUS),
            8080,
            "TCP",
            false,
            "the metrics port only",
        ),
        (
            debian,
            In,
            pod("kube-system", KONNECTIVITY),
            9101,
            "TCP",
            true,
            "the API server's proxy on AKS (r: POST /run)",
        ),
        (
            debian,
            In,
            pod("kube-system", KUBE_DNS),
            9101,
            "TCP",
            false,
            "other kube-system pods",
        ),
        (
            debian,
            In,
            pod("site-borger", DRUPAL),
            9101,
            "TCP",
            false,
            "the site's own web pods",
        ),
        (
            debian,
            In,
            pod("site-other", DRUPAL),
            9101,
            "TCP",
            false,
            "another site's pods",
        ),
        (
            debian,
            In,
            pod("default", KONNECTIVITY),
            9101,
            "TCP",
            false,
            "a look-alike outside kube-system",
        ),
        (
            debian,
            In,
            address("10.224.0.4"),
            9101,
            "TCP",
            false,
            "a node or anything outside the pod network",
        ),
        (
            debian,
            Out,
            pod("kube-system", KUBE_DNS),
            53,
            "UDP",
            true,
            "DNS",
        ),
        (
            debian,
            Out,
            pod("kube-system", KUBE_DNS),
            53,
            "TCP",
            true,
            "DNS over TCP",
        ),
        (
            debian,
            Out,
            pod("site-other", KUBE_DNS),
            53,
            "UDP",
            false,
            "a DNS server elsewhere",
        ),
        (
            debian,
            Out,
            pod("loki", LOKI_GATEWAY),
            8080,
            "TCP",
            true,
            "Loki's gateway",
        ),
        (
            debian,
            Out,
            pod("loki", LOKI_GATEWAY),
            9095,
            "TCP",
            false,
            "Loki's other ports",
        ),
        (
            debian,
            Out,
            address("10.240.8.4"),
            3306,
            "TCP",
            true,
            "the site's database (Azure MySQL)",
        ),
        (
            debian,
            Out,
            address("10.240.8.4"),
            22,
            "TCP",
            false,
            "the database host's other ports",
        ),
        (
            debian,
            Out,
            pod("site-borger", MARIADB),
            3306,
            "TCP",
            false,
            "an in-namespace database, not this site's",
        ),
        (
            debian,
            Out,
            address("10.0.0.1"),
            443,
            "TCP",
            false,
            "the Kubernetes API: the agent never calls it",
        ),
        (
            debian,
            Out,
            address("93.184.216.34"),
            443,
            "TCP",
            false,
            "the internet",
        ),
        (
            debian,
            Out,
            pod("monitoring", PROMETHEUS),
            9090,
            "TCP",
            false,
            "Prometheus",
        ),
        // The base has no namespace: its objects land in "default".
        (
            base,
            Out,
            pod("default", MARIADB),
            3306,
            "TCP",
            true,
            "the base: a database in the site's namespace",
        ),
        (
            base,
            Out,
            pod("default", MARIADB),
            5432,
            "TCP",
            true,
            "or PostgreSQL",
        ),
        (
            base,
            Out,
            pod("site-other", MARIADB),
            3306,
            "TCP",
            false,
            "another namespace's database",
        ),
        (
            base,
            Out,
            address("10.240.8.4"),
            3306,
            "TCP",
            false,
            "an address the overlay did not name",
        ),
        (
            alpine,
            In,
            pod("prometheus", PROMETHEUS),
            9101,
            "TCP",
            true,
            "its Prometheus' namespace, set by the overlay",
        ),
        (
            alpine,
            In,
            pod("monitoring", PROMETHEUS),
            9101,
            "TCP",
            false,
            "the base's namespace, replaced",
        ),
        (
            alpine,
            In,
            pod("kube-system", KONNECTIVITY),
            9101,
            "TCP",
            true,
            "the API server's proxy on AKS",
        ),
    ];
    let mut wrong = Vec::new();
    for (r, direction, peer, port, protocol, expected, why) in &table {
        let got = allowed(r, *direction, peer, *port, protocol);
        if got != *expected {
            wrong.push(format!(
                "{} {direction:?} {:?}/{:?} {}:{port}/{protocol}: allowed={got}, want {expected} ({why})",
                r.name, peer.namespace, peer.labels, peer.ip
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Every rendering that deploys an agent has the policy, both ways.
    for r in agents() {
        let policy = r.one("NetworkPolicy");
        assert_eq!(
            strings(&policy["spec"]["policyTypes"]),
            ["Ingress", "Egress"],
            "{}",
            r.name
        );
        assert!(
            selects(&policy["spec"]["podSelector"], &r.pod_labels()),
            "{}",
            r.name
        );
    }
}

#[test]
fn the_readmes_policy_patch_for_a_generic_cluster_admits_the_api_servers_range() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme
        .find("#### Network policy")
        .expect("README: Network policy")..];
    let patch = section
        .split("```\n")
        .find(|block| block.starts_with("patches:"))
        .expect("the README's patch for a generic cluster");
    let yaml = render_on_base(|_| patch.to_string());
    let r = Rendered {
        name: "base + README's generic-cluster patch".into(),
        objects: objects(&yaml),
        yaml,
    };
    let api_server = address("10.0.0.4");
    assert!(allowed(&r, Direction::In, &api_server, 9101, "TCP"));
    assert!(!allowed(&r, Direction::In, &api_server, 22, "TCP"));
    assert!(!allowed(
        &r,
        Direction::In,
        &address("10.0.0.17"),
        9101,
        "TCP"
    ));
    assert!(!allowed(
        &r,
        Direction::In,
        &pod("kube-system", KONNECTIVITY),
        9101,
        "TCP"
    ));
    assert!(allowed(
        &r,
        Direction::In,
        &pod("monitoring", PROMETHEUS),
        9101,
        "TCP"
    ));
}

/// Prometheus' relabelling of one target's labels, as `relabel_configs`
/// does it (the actions the shipped snippet uses); `None` when dropped.
fn relabel(
    configs: &[Value],
    mut labels: BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    for config in configs {
        let sources: Vec<String> = config["source_labels"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| labels.get(l.as_str().unwrap()).cloned().unwrap_or_default())
            .collect();
        let value = sources.join(config["separator"].as_str().unwrap_or(";"));
        let pattern = match &config["regex"] {
            Value::Null => "(.*)".to_string(),
            Value::String(s) => s.clone(),
            // YAML reads an unquoted true as a boolean.
            other => other.to_string(),
        };
        let regex = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
        let matched = regex.captures(&value);
        match config["action"].as_str().unwrap_or("replace") {
            "keep" if matched.is_none() => return None,
            "drop" if matched.is_some() => return None,
            "keep" | "drop" => {}
            "replace" => {
                if let Some(captures) = matched {
                    let mut out = String::new();
                    captures.expand(config["replacement"].as_str().unwrap_or("$1"), &mut out);
                    let target = config["target_label"].as_str().unwrap().to_string();
                    if out.is_empty() {
                        labels.remove(&target);
                    } else {
                        labels.insert(target, out);
                    }
                }
            }
            other => panic!("relabel action {other} not modelled"),
        }
    }
    Some(labels)
}

/// What Kubernetes pod discovery gives Prometheus for one container port
/// of a rendered pod (`port` None: a container without ports).
fn discovered(
    r: &Rendered,
    container: &str,
    port: Option<(&str, u64)>,
) -> BTreeMap<String, String> {
    let clean = |k: &str| k.replace(['/', '.', '-'], "_");
    let mut labels = BTreeMap::from([
        (
            "__address__".to_string(),
            match port {
                Some((_, number)) => format!("10.244.7.9:{number}"),
                None => "10.244.7.9".to_string(),
            },
        ),
        ("__metrics_path__".to_string(), "/metrics".to_string()),
        (
            "__meta_kubernetes_namespace".to_string(),
            r.namespace().to_string(),
        ),
        (
            "__meta_kubernetes_pod_name".to_string(),
            "site-status-agent-7d9f-x2x4q".to_string(),
        ),
        (
            "__meta_kubernetes_pod_container_name".to_string(),
            container.to_string(),
        ),
    ]);
    if let Some((name, _)) = port {
        labels.insert(
            "__meta_kubernetes_pod_container_port_name".into(),
            name.into(),
        );
    }
    for (k, v) in r.pod_labels() {
        labels.insert(format!("__meta_kubernetes_pod_label_{}", clean(&k)), v);
    }
    for (k, v) in r.pod_annotations() {
        labels.insert(format!("__meta_kubernetes_pod_annotation_{}", clean(&k)), v);
    }
    labels
}

#[test]
fn the_annotation_scrape_config_gives_one_target_with_the_site_labels() {
    let file = kube_dir().join("components/annotations/prometheus-scrape-config.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let config = &objects(&text)[0];
    let jobs = config["scrape_configs"].as_array().unwrap();
    let alpine = rendered("overlays/example-site-alpine");
    let annotations = alpine.pod_annotations();
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], "9101");
    assert_eq!(annotations["prometheus.io/path"], "/metrics");

    // Every target discovery makes of the agent's pod, through every job.
    let candidates = [
        discovered(alpine, "agent", Some(("metrics", 9101))),
        discovered(alpine, "install-agent", None),
    ];
    let mut targets = Vec::new();
    for job in jobs {
        for labels in &candidates {
            let configs = job["relabel_configs"].as_array().unwrap();
            if let Some(mut kept) = relabel(configs, labels.clone()) {
                kept.insert("job".into(), job["job_name"].as_str().unwrap().into());
                targets.push(kept);
            }
        }
    }
    assert_eq!(targets.len(), 1, "scraped once: {targets:#?}");
    let target = &targets[0];
    assert_eq!(target["job"], names::JOB);
    assert_eq!(target["__address__"], "10.244.7.9:9101");
    assert_eq!(target["__metrics_path__"], "/metrics");
    assert_eq!(target["site"], "kulturhus");
    assert_eq!(target["env"], "test");
    assert_eq!(target["profile"], "kk_kultur");
    let site_job = jobs.iter().find(|j| j["job_name"] == names::JOB).unwrap();
    assert_eq!(site_job["honor_labels"], true);

    // The generic job still scrapes every other annotated pod.
    let web = BTreeMap::from([
        ("__address__".to_string(), "10.244.7.10:80".to_string()),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape".to_string(),
            "true".to_string(),
        ),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_port".to_string(),
            "9253".to_string(),
        ),
    ]);
    let generic = jobs
        .iter()
        .find(|j| j["job_name"] == "kubernetes-pods")
        .unwrap();
    let kept = relabel(generic["relabel_configs"].as_array().unwrap(), web).expect("a web pod");
    assert_eq!(kept["__address__"], "10.244.7.10:9253");
}

#[test]
fn each_overlay_has_exactly_one_scrape_path() {
    for r in agents() {
        let monitors = r.all("PodMonitor").len();
        let annotated = r.pod_annotations().contains_key("prometheus.io/scrape");
        match r.name.as_str() {
            // The base leaves the choice to the overlay.
            "base" => assert!(monitors == 0 && !annotated),
            name => assert!(
                (monitors == 1) != annotated,
                "{name}: {monitors} PodMonitor(s), annotations {annotated}"
            ),
        }
    }
    // kube-prometheus-stack picks the PodMonitor and the rule up by label.
    let debian = rendered("overlays/example-site");
    assert_eq!(
        debian.one("PodMonitor")["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    let monitoring = rendered("monitoring");
    let rule = monitoring.one("PrometheusRule");
    assert_eq!(rule["metadata"]["namespace"], "monitoring");
    assert_eq!(
        rule["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    // The rule is the generated copy of the plain rules, not another.
    let shipped = objects(
        &std::fs::read_to_string(root().join("deploy/prometheus/prometheus-rule.yaml")).unwrap(),
    );
    assert_eq!(rule["spec"], shipped[0]["spec"]);
}

/// The YAML blocks of the README section under `heading`.
fn readme_yaml(heading: &str) -> Vec<Value> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README: {heading}"));
    let rest = &readme[start + heading.len()..];
    let end = rest.find("\n#").unwrap_or(rest.len());
    let section = &rest[..end];
    let mut yaml = String::new();
    for block in section.split("```yaml\n").skip(1) {
        yaml.push_str(block.split("```").next().unwrap());
        yaml.push_str("\n---\n");
    }
    objects(&yaml)
}

#[test]
fn the_rbac_manifests_are_the_readmes_and_grant_only_what_the_dashboard_uses() {
    let rbac = rendered("rbac");
    let key = |o: &Value| o.to_string();
    let shipped: BTreeSet<String> = rbac.objects.iter().map(key).collect();
    let documented: BTreeSet<String> = readme_yaml("### RBAC\n").iter().map(key).collect();
    assert_eq!(
        shipped, documented,
        "README's RBAC section and deploy/kubernetes/rbac differ"
    );

    let role = rbac.one("ClusterRole");
    let rules = role["rules"].as_array().unwrap();
    // Nothing that changes the cluster, but the one connection.
    for rule in rules {
        let verbs = strings(&rule["verbs"]);
        let resources = strings(&rule["resources"]);
        if verbs.contains(&"create") {
            assert_eq!(verbs, ["create"]);
            assert_eq!(resources, ["services/proxy"]);
        } else {
            assert!(
                verbs.iter().all(|v| ["get", "list", "watch"].contains(v)),
                "{rule}"
            );
        }
    }
    for (group, resource) in [
        ("", "namespaces"),
        ("", "pods"),
        ("", "events"),
        ("apps", "deployments"),
        ("apps", "statefulsets"),
    ] {
        assert!(
            rules
                .iter()
                .any(|r| strings(&r["apiGroups"]).contains(&group)
                    && strings(&r["resources"]).contains(&resource)
                    && ["get", "list", "watch"]
                        .iter()
                        .all(|v| strings(&r["verbs"]).contains(v))),
            "read {resource}"
        );
    }
    // The proxy reaches the agent's Service by the name and port the base
    // gives it and the dashboard asks for, and no other.
    let service = rendered("base").one("Service");
    let proxy = rules
        .iter()
        .find(|r| strings(&r["resources"]) == ["services/proxy"])
        .unwrap();
    assert_eq!(
        strings(&proxy["resourceNames"]),
        [format!(
            "{}:{}",
            service["metadata"]["name"].as_str().unwrap(),
            service["spec"]["ports"][0]["name"].as_str().unwrap()
        )
        .as_str()]
    );
    assert_eq!(service["metadata"]["name"], "site-status-agent");
    // The overlays keep that name.
    for r in agents() {
        assert_eq!(
            r.one("Service")["metadata"]["name"],
            "site-status-agent",
            "{}",
            r.name
        );
    }
    let binding = rbac.one("ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["kind"], "Group");
}

/// The agent's container at its peak: the agent's VmHWM (5.6 MB), drush's
/// PHP (76.4 MB peak RSS) and its wrappers (BENCHMARKS.md, "What one
/// agent's container uses", from scripts/agent-cost.sh).
const MEASURED_CONTAINER_PEAK: u64 = 82_600_000;

/// "10m", "1" in millicores.
fn millicores(quantity: &str) -> u64 {
    match quantity.strip_suffix('m') {
        Some(n) => n.parse().unwrap(),
        None => quantity.parse::<u64>().unwrap() * 1000,
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

#[test]
fn the_pod_runs_restricted() {
    for r in agents() {
        let spec = r.pod_spec();
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            spec["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        // scratch has no /etc/passwd: runAsNonRoot needs a numeric user.
        assert!(spec["securityContext"]["runAsUser"].as_u64().unwrap() > 0);
        // drush runs as the user that owns the site's files, and the files
        // volume gets its group without a recursive chown at each start.
        let sc = &spec["securityContext"];
        let uid = if r.name.ends_with("-alpine") { 82 } else { 33 };
        assert_eq!(sc["runAsUser"], uid, "{}", r.name);
        assert_eq!(sc["runAsGroup"], uid, "{}", r.name);
        assert_eq!(sc["fsGroup"], uid, "{}", r.name);
        assert_eq!(sc["fsGroupChangePolicy"], "OnRootMismatch", "{}", r.name);
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
                r.name
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

    for r in agents() {
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
    let overlay = rendered("overlays/example-site");
    assert_eq!(
        overlay.container("agent")["image"],
        "registry.example.dk/sites/borger:2026.11.3"
    );
}

#[test]
fn probes_ports_and_scrape_discovery_agree() {
    for r in agents() {
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

        // Ready from the moment it serves (the first run is its own
        // series), checked often enough that a rollout is seen in seconds.
        assert!(agent["readinessProbe"]["initialDelaySeconds"].is_null());
        assert!(agent["readinessProbe"]["periodSeconds"].as_u64().unwrap() <= 5);

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
    }
}

#[test]
fn the_pod_monitor_scrapes_the_agent_as_the_rules_expect() {
    let with_monitor: Vec<&Rendered> = agents()
        .into_iter()
        .filter(|r| !r.all("PodMonitor").is_empty())
        .collect();
    assert!(
        with_monitor.len() >= 2,
        "the component and the example overlay"
    );
    for r in with_monitor {
        let pod_labels = r.pod_labels();
        let port = &r.container("agent")["ports"][0];
        // Its fields are checked against the CRD's schema above; here its
        // selector, the port it scrapes and the labels it gives `up`.
        let monitor = r.one("PodMonitor");
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
    for r in agents() {
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
    let overlay = rendered("overlays/example-site");
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
    for r in agents() {
        let agent = r.container("agent");
        let requests = &agent["resources"]["requests"];
        // A run never takes the container above its request: the agent and
        // drush's PHP at their peaks, as measured.
        let memory = bytes(requests["memory"].as_str().unwrap());
        assert!(memory >= MEASURED_CONTAINER_PEAK * 11 / 10, "{}", r.name);
        let limit = bytes(agent["resources"]["limits"]["memory"].as_str().unwrap());
        assert!(limit >= 2 * memory, "{}", r.name);
        assert!(
            millicores(requests["cpu"].as_str().unwrap()) <= 10,
            "{}",
            r.name
        );
        // No CPU limit: a throttled bootstrap only hits the run's timeout.
        assert!(agent["resources"]["limits"]["cpu"].is_null(), "{}", r.name);
        let storage = bytes(requests["ephemeral-storage"].as_str().unwrap());
        assert!(storage >= 16 << 20, "{}", r.name);

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
    let overlay = rendered("overlays/example-site");
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

#[test]
fn the_readme_cost_table_is_the_bases_requests() {
    let requests = &rendered("base").container("agent")["resources"]["requests"];
    let text = |key: &str| requests[key].as_str().unwrap().to_string();
    let cpu = millicores(&text("cpu")) as f64;
    let mebibytes = |key: &str| (bytes(&text(key)) >> 20) as f64;
    let number = |x: f64| {
        if x.fract() == 0.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.1}")
        }
    };
    let rows = [
        format!(
            "| requested CPU | {} | {} cores | {} cores |",
            text("cpu"),
            number(cpu * 320.0 / 1000.0),
            number(cpu * 10_000.0 / 1000.0)
        ),
        format!(
            "| requested memory | {} | {} GiB | {} GiB |",
            text("memory"),
            number(mebibytes("memory") * 320.0 / 1024.0),
            number(mebibytes("memory") * 10_000.0 / 1024.0)
        ),
        format!(
            "| requested ephemeral storage | {} | {} GiB | {} GiB |",
            text("ephemeral-storage"),
            number(mebibytes("ephemeral-storage") * 320.0 / 1024.0),
            number(mebibytes("ephemeral-storage") * 10_000.0 / 1024.0)
        ),
    ];
    let section = platform_section();
    for row in &rows {
        assert!(
            section.contains(row.as_str()),
            "README's cost table lacks {row}"
        );
    }
    // The figures come from a command anyone can rerun.
    assert!(section.contains("`scripts/agent-cost.sh`"));
    let benchmarks = std::fs::read_to_string(root().join("BENCHMARKS.md")).unwrap();
    assert!(benchmarks.contains("scripts/agent-cost.sh"));
    assert!(root().join("scripts/agent-cost.sh").exists());
}
