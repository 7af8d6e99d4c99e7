//! Mutes the whole team shares: with `[environment.alertmanager]`, a mute
//! is a silence in a real Alertmanager (Debian's, started here on a free
//! port with a temporary storage path). Made by the dashboard or by
//! `amtool`, it mutes the requirement in the grid and in `check`; expiring
//! it unmutes; an Alertmanager that is down is said and loses nothing.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use site_status::config::Config;
use site_status::model::{AlertBadge, MuteRule, RuleOrigin};
use site_status::source::FleetSource;
use site_status::source::http::ProcessSecrets;
use support::alertmanager::TestAlertmanager;
use support::{FleetBuilder, FleetExporter, TestPrometheus};

fn config_text(prometheus: &str, alertmanager: &str) -> String {
    format!(
        "operator = \"jane\"\n[[environment]]\nname = \"prod\"\nselector = 'env=\"prod\"'\n[environment.prometheus]\nurl = \"{prometheus}\"\n[environment.alertmanager]\nurl = \"{alertmanager}\"\ntimeout = \"3s\"\n"
    )
}

/// `site` → (failing, muted), as `check --format json` lists them.
type Checked = std::collections::BTreeMap<String, (Vec<String>, Vec<String>)>;

/// The dashboard's configuration in `dir` (polling every 2 s), and the
/// shell command that runs the real binary on it with `dir` as HOME.
fn dashboard(dir: &Path, prometheus: &str, alertmanager: &str) -> (std::path::PathBuf, String) {
    use support::tmux::{command_line, sh_quote};
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "refresh_interval = \"2s\"\n{}",
            config_text(prometheus, alertmanager)
        ),
    )
    .unwrap();
    let command = format!(
        "HOME={} SITE_STATUS_CONFIG={} {}",
        sh_quote(&dir.display().to_string()),
        sh_quote(&config.display().to_string()),
        command_line(&[env!("CARGO_BIN_EXE_site-status")])
    );
    (config, command)
}

/// Two sites with a failing requirement, as `check` sees them, and
/// those requirements.
fn two_failing(sites: &Checked) -> [(String, String); 2] {
    let mut found = sites
        .iter()
        .filter_map(|(site, (failing, _))| failing.first().map(|r| (site.clone(), r.clone())));
    [found.next().unwrap(), found.next().unwrap()]
}

/// The JSON of `check --format json`, and its sites.
fn checked(config: &Path, home: &Path) -> (serde_json::Value, Checked) {
    let out = Command::new(env!("CARGO_BIN_EXE_site-status"))
        .arg("--config")
        .arg(config)
        .args(["check", "--format", "json"])
        .env("HOME", home)
        .env_remove("SITE_STATUS_MUTES")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let list = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    };
    let sites = json["environments"][0]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["site"].as_str().unwrap().to_string(),
                (list(&s["failing"]), list(&s["muted"])),
            )
        })
        .collect();
    (json, sites)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutes_are_silences_read_back_from_alertmanager() {
    let exporter = FleetExporter::start(FleetBuilder::new(40).build());
    let prometheus = TestPrometheus::scraping(&exporter).await;
    prometheus.wait_for_fleet(&exporter).await;
    let mut am = TestAlertmanager::start().await;

    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config_text(&prometheus.url(), &am.url())).unwrap();
    let config = Config::parse(
        &std::fs::read_to_string(&config_path).unwrap(),
        &config_path,
    )
    .unwrap();
    let source: Arc<dyn FleetSource> = site_status::source::from_config(&config, &ProcessSecrets)
        .unwrap()
        .remove(0);
    assert!(source.has_alertmanager());
    let checked_config = Command::new(env!("CARGO_BIN_EXE_site-status"))
        .arg("--config")
        .arg(&config_path)
        .args(["config", "check"])
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked_config.stdout);
    assert!(
        said.contains(&format!(
            "alertmanager {}: reachable, 0 active silences",
            am.url()
        )),
        "{said}"
    );
    let (_, before) = checked(&config_path, dir.path());
    let [(site_a, req_a), (site_b, req_b)] = two_failing(&before);

    // The dashboard's mute (what `m` hands the runtime) becomes a silence.
    let mut rule = MuteRule::new(req_a.clone(), "vendor fix due on Friday");
    rule.env = Some("prod".into());
    rule.site = Some(site_a.clone());
    let ends = jiff::Timestamp::now().as_second() + 3 * 86_400;
    rule.expires = Some(ends);
    let id = source.create_silence(&rule).await.unwrap();
    let active = am.active_silences().await;
    assert_eq!(active.len(), 1, "{active:#?}");
    let silence = &active[0];
    assert_eq!(silence["id"], id.as_str());
    assert_eq!(silence["comment"], "vendor fix due on Friday");
    assert_eq!(silence["createdBy"], "jane");
    let ends_at: jiff::Timestamp = silence["endsAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(ends_at.as_second(), ends);
    let mut matchers: Vec<(String, String, bool, bool)> = silence["matchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["value"].as_str().unwrap().to_string(),
                m["isEqual"].as_bool().unwrap(),
                m["isRegex"].as_bool().unwrap(),
            )
        })
        .collect();
    matchers.sort();
    assert_eq!(
        matchers,
        [
            ("env".into(), "prod".into(), true, false),
            ("requirement".into(), req_a.clone(), true, false),
            ("site".into(), site_a.clone(), true, false),
        ]
    );

    // Read back with the next poll, and muted in `check`.
    let report = source.fetch_fleet().await.unwrap();
    let silences = report.silences.clone().unwrap();
    assert_eq!(silences.len(), 1);
    assert_eq!(
        silences[0].origin,
        RuleOrigin::Silence {
            id: id.clone(),
            created_by: "jane".into()
        }
    );
    let (_, sites) = checked(&config_path, dir.path());
    assert!(sites[&site_a].1.contains(&req_a), "{:?}", sites[&site_a]);
    assert!(!sites[&site_a].0.contains(&req_a), "{:?}", sites[&site_a]);
    assert!(sites[&site_b].0.contains(&req_b), "not muted yet");

    // A silence made with amtool is a mute just the same.
    am.amtool_silence(
        &[
            &format!("requirement={req_b}"),
            &format!("site={site_b}"),
            "env=prod",
        ],
        "bob",
        "accepted: legacy module",
    );
    let (_, sites) = checked(&config_path, dir.path());
    assert!(sites[&site_b].1.contains(&req_b), "{:?}", sites[&site_b]);
    let report = source.fetch_fleet().await.unwrap();
    assert!(
        report.silences.as_ref().unwrap().iter().any(|r| matches!(
            &r.origin,
            RuleOrigin::Silence { created_by, .. } if created_by == "bob"
        ) && r.reason
            == "accepted: legacy module"),
        "{:?}",
        report.silences
    );

    // `u` expires the dashboard's silence: the requirement counts again.
    source.expire_silence(&id).await.unwrap();
    let active = am.active_silences().await;
    assert!(active.iter().all(|s| s["id"] != id.as_str()), "{active:#?}");
    let (_, sites) = checked(&config_path, dir.path());
    assert!(sites[&site_a].0.contains(&req_a), "{:?}", sites[&site_a]);
    let report = source.fetch_fleet().await.unwrap();
    assert_eq!(report.silences.as_ref().unwrap().len(), 1, "bob's is left");

    // Alertmanager down: the poll keeps the last silences and says so;
    // a new mute is refused with the reason, nothing half-made.
    am.stop();
    let report = source.fetch_fleet().await.unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("Alertmanager STALE")),
        "{:?}",
        report.warnings
    );
    assert_eq!(report.silences.as_ref().unwrap().len(), 1, "bob's is kept");
    let refused = source.create_silence(&rule).await.unwrap_err().message;
    assert!(
        refused.starts_with(&format!("Alertmanager {}", am.url())),
        "{refused}"
    );
    assert!(refused.contains("cannot connect"), "{refused}");
    let (json, _) = checked(&config_path, dir.path());
    let warnings = json["environments"][0]["warnings"].to_string();
    assert!(warnings.contains("Alertmanager"), "{json:#}");

    // Back up (killed, it lost what it had not stored yet): what it holds
    // now is what counts, and the warning is gone.
    am.restart().await;
    let report = source.fetch_fleet().await.unwrap();
    assert!(report.silences.is_some());
    assert!(!report.warnings.iter().any(|w| w.contains("Alertmanager")));
    let id = source.create_silence(&rule).await.unwrap();
    assert!(
        am.active_silences()
            .await
            .iter()
            .any(|s| s["id"] == id.as_str())
    );
}

/// The real binary as an operator runs it: `m` on a site's failing
/// requirement makes the silence (matchers, comment, author, end), the
/// site view shows it muted, `u` expires it, and with Alertmanager down
/// `m` says the mute was not made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m_and_u_in_the_dashboard_make_and_expire_the_silence() {
    use support::tmux::Tmux;

    let exporter = FleetExporter::start(FleetBuilder::new(40).build());
    let prometheus = TestPrometheus::scraping(&exporter).await;
    prometheus.wait_for_fleet(&exporter).await;
    let am = TestAlertmanager::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (config, command) = dashboard(dir.path(), &prometheus.url(), &am.url());
    let (_, before) = checked(&config, dir.path());
    let [(site, _), _] = two_failing(&before);
    let failing = before[&site].0.clone();

    let am = Arc::new(tokio::sync::Mutex::new(am));
    let handle = tokio::runtime::Handle::current();
    let alertmanager = am.clone();
    tokio::task::spawn_blocking(move || {
        let silences = || handle.block_on(async { alertmanager.lock().await.silences().await });
        let tmux = Tmux::start(140, 40, &command);
        tmux.wait_for("the grid", |s| s.contains("── prod "));
        tmux.keys(&["/"]);
        tmux.type_text(&site);
        tmux.keys(&["Enter"]);
        tmux.wait_for("the filter kept", |s| {
            s.contains(&format!("filter \"{site}\""))
        });
        tmux.keys(&["Enter"]);
        // Its requirements loaded ("fetched …"): m needs one selected.
        tmux.wait_for("the site view", |s| {
            s.contains(&format!("› {site}"))
                && s.key_line().contains("m mute")
                && s.contains("fetched ")
        });

        tmux.keys(&["m"]);
        tmux.wait_for("the reason prompt", |s| s.status().contains(": reason>"));
        tmux.type_text("vendor fix due on Friday");
        tmux.keys(&["Enter"]);
        tmux.wait_for("the silence's end asked", |s| {
            s.status()
                .starts_with("silence until (YYYY-MM-DD, empty for 30 days)>")
        });
        tmux.type_text("2031-01-15");
        tmux.keys(&["Enter"]);
        let said = tmux.wait_for("the silence made", |s| {
            s.status()
                .contains("in prod's Alertmanager, for the whole team")
        });
        let status = said.status().to_string();
        let requirement = status
            .strip_prefix("muted ")
            .and_then(|r| r.split(" on ").next())
            .unwrap_or_else(|| panic!("{status}"))
            .to_string();
        assert!(
            failing.contains(&requirement),
            "{requirement} not in {failing:?}"
        );

        let made: Vec<serde_json::Value> = silences()
            .into_iter()
            .filter(|s| s["status"]["state"] == "active")
            .collect();
        assert_eq!(made.len(), 1, "{made:#?}");
        let silence = &made[0];
        assert_eq!(silence["comment"], "vendor fix due on Friday");
        assert_eq!(silence["createdBy"], "jane");
        // Through 2031-01-15, UTC: it ends at the next midnight.
        let ends: jiff::Timestamp = silence["endsAt"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            ends,
            "2031-01-16T00:00:00Z".parse::<jiff::Timestamp>().unwrap()
        );
        let mut matchers: Vec<(String, String)> = silence["matchers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap().to_string(),
                    m["value"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        matchers.sort();
        assert_eq!(
            matchers,
            [
                ("env".to_string(), "prod".to_string()),
                ("requirement".to_string(), requirement.clone()),
                ("site".to_string(), site.clone()),
            ]
        );

        // Read back with the next poll: the site view says who silenced it.
        tmux.wait_for("the requirement shown muted", |s| {
            s.contains("silenced by jane")
        });

        tmux.keys(&["u"]);
        tmux.wait_for("the silence expired", |s| {
            s.status().contains(&format!(
                "unmuted {requirement} on {site}: its silence (by jane) is expired"
            ))
        });
        let id = silence["id"].as_str().unwrap().to_string();
        let after = silences();
        let expired = after.iter().find(|s| s["id"] == id.as_str()).unwrap();
        assert_eq!(expired["status"]["state"], "expired", "{expired:#}");

        // Alertmanager down: the mute is refused, and says so.
        handle.block_on(async { alertmanager.lock().await.stop() });
        tmux.keys(&["m"]);
        tmux.wait_for("the reason prompt", |s| s.status().contains(": reason>"));
        tmux.type_text("while it is down");
        tmux.keys(&["Enter"]);
        tmux.wait_for("the end asked", |s| s.status().starts_with("silence until"));
        tmux.keys(&["Enter"]);
        tmux.wait_for("the refusal", |s| {
            s.status().starts_with("NOT muted: Alertmanager")
                && s.status().contains("cannot connect")
        });
        // Offered again, as typed.
        tmux.keys(&["m"]);
        tmux.wait_for("the reason offered again", |s| {
            s.status().ends_with("reason> while it is down")
        });
        tmux.keys(&["Escape"]);
        tmux.keys(&["q"]);
        tmux.assert_exits_cleanly("q");
    })
    .await
    .unwrap();
}

/// The alerts view against the real servers: a real Prometheus fires an
/// alert for a site, `amtool` silences it in a real Alertmanager, and the
/// dashboard's `a` lists it as silenced by whoever did, beside one still
/// firing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alerts_view_shows_who_silenced_a_real_alert() {
    use support::fleet::Fleet;
    use support::tmux::Tmux;

    const RULES: &str = "groups:\n  - name: drupal\n    rules:\n      - alert: DrupalRequirementError\n        expr: drupal_requirement_severity >= 2\n        for: 0s\n        labels:\n          severity: critical\n        annotations:\n          summary: \"{{ $labels.requirement }} is in error on {{ $labels.site }}\"\n";
    let mut fleet = Fleet::new(vec![
        support::Site::new("borger", "prod", "kk_borger"),
        support::Site::new("kultur", "prod", "kk_culture"),
    ]);
    fleet.site_in_mut("prod", "borger").set_severity("cron", 2);
    fleet.site_in_mut("prod", "kultur").set_severity("cron", 2);
    let exporter = FleetExporter::start(fleet);
    let prometheus = TestPrometheus::builder()
        .target(exporter.target())
        .rule_file(RULES)
        .start()
        .await;
    prometheus.wait_for_fleet(&exporter).await;
    prometheus
        .wait_for("ALERTS{alertstate=\"firing\"}", |s| s.len() == 2)
        .await;
    let am = TestAlertmanager::start().await;
    am.amtool_silence(
        &["alertname=DrupalRequirementError", "site=borger"],
        "bob",
        "known: cron moves to the new scheduler",
    );
    let dir = tempfile::tempdir().unwrap();
    let (config, command) = dashboard(dir.path(), &prometheus.url(), &am.url());

    // The source marks the silenced one.
    let parsed = Config::parse(&std::fs::read_to_string(&config).unwrap(), &config).unwrap();
    let source = site_status::source::from_config(&parsed, &ProcessSecrets)
        .unwrap()
        .remove(0);
    let report = source.fetch_fleet().await.unwrap();
    let badges: Vec<(&str, AlertBadge)> = report
        .sites
        .iter()
        .filter(|s| s.alert != AlertBadge::None)
        .map(|s| (s.name.as_str(), s.alert))
        .collect();
    assert_eq!(
        badges,
        [
            ("borger", AlertBadge::Silenced),
            ("kultur", AlertBadge::Loud)
        ]
    );
    // The site's own read names who silenced it.
    let detail = source.fetch_site("borger").await.unwrap();
    let by: Vec<(&str, Option<&str>, Option<&str>)> = detail
        .alerts
        .iter()
        .map(|a| {
            (
                a.site.as_str(),
                a.requirement.as_deref(),
                a.silenced_by.as_deref(),
            )
        })
        .collect();
    assert_eq!(by, [("borger", Some("cron"), Some("bob"))]);

    tokio::task::spawn_blocking(move || {
        let tmux = Tmux::start(140, 30, &command);
        tmux.wait_for("the grid", |s| s.contains("── prod "));
        tmux.keys(&["a"]);
        let shown = tmux.wait_for("the alerts view", |s| {
            s.contains("Alerts: 1 firing, 0 pending, 1 silenced")
        });
        let text = shown.body().join("\n");
        assert!(
            text.contains("DrupalRequirementError 2 site(s)"),
            "{}",
            shown.framed()
        );
        let silenced = shown
            .body()
            .iter()
            .find(|l| l.contains("borger"))
            .unwrap_or_else(|| panic!("{}", shown.framed()));
        assert!(
            silenced.trim_start().starts_with("silenced") && silenced.contains(" by bob"),
            "{silenced}"
        );
        let firing = shown.body().iter().find(|l| l.contains("kultur")).unwrap();
        assert!(firing.trim_start().starts_with("firing"), "{firing}");
        // Enter opens the first: the firing one, kultur.
        tmux.keys(&["Enter"]);
        tmux.wait_for("kultur's site view", |s| {
            s.contains("prod › kk_culture › kultur")
        });
        tmux.keys(&["q"]);
        tmux.assert_exits_cleanly("q");
    })
    .await
    .unwrap();
}

/// `amtool --output=json` with `args`, as an operator at a shell would.
fn amtool_json(am: &TestAlertmanager, args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new("amtool")
        .arg(format!("--alertmanager.url={}", am.url()))
        .arg("--output=json")
        .args(args)
        .output()
        .expect("amtool (Debian's prometheus-alertmanager package)");
    assert!(
        out.status.success(),
        "amtool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "amtool {args:?}: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Issue 23: a requirement id with a space, as a real Drupal names it,
/// goes through unchanged. A real Prometheus scrapes a site failing
/// `file system` (and `file_system`, which a sloppy match would confuse
/// with it): `check --format json` lists it exactly; the mute `m` makes
/// is a silence whose `requirement` matcher is that id as an equality;
/// amtool finds it by that id and not by the near miss; Alertmanager
/// itself silences an alert with `requirement="file system"` on that
/// site and no other; and the dashboard reads the silence back as muting
/// exactly that requirement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requirement_id_with_a_space_goes_through_check_and_silences_unchanged() {
    use support::fleet::Fleet;
    const ID: &str = "file system";
    const NEAR: &str = "file_system";
    let mut fleet = Fleet::new(vec![
        support::Site::new("borger", "prod", "kk_borger"),
        support::Site::new("kultur", "prod", "kk_culture"),
    ]);
    fleet.site_in_mut("prod", "borger").set_severity(ID, 2);
    fleet.site_in_mut("prod", "borger").set_severity(NEAR, 2);
    fleet.site_in_mut("prod", "kultur").set_severity(ID, 2);
    let exporter = FleetExporter::start(fleet);
    let prometheus = TestPrometheus::scraping(&exporter).await;
    prometheus.wait_for_fleet(&exporter).await;
    let am = TestAlertmanager::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config_text(&prometheus.url(), &am.url())).unwrap();

    let (_, sites) = checked(&config_path, dir.path());
    let mut borger = sites["borger"].0.clone();
    borger.sort();
    assert_eq!(borger, [ID, NEAR]);
    assert_eq!(sites["kultur"].0, [ID]);

    // The requirement view's history: the PromQL names the id exactly.
    let config = Config::parse(
        &std::fs::read_to_string(&config_path).unwrap(),
        &config_path,
    )
    .unwrap();
    let source: Arc<dyn FleetSource> = site_status::source::from_config(&config, &ProcessSecrets)
        .unwrap()
        .remove(0);
    let history = source
        .fetch_history("borger", ID, site_status::model::Window::default())
        .await
        .unwrap();
    assert!(
        history
            .points
            .contains(&Some(site_status::model::Severity::Error)),
        "{history:?}"
    );

    // What `m` on borger's `file system` hands the runtime.
    let mut rule = MuteRule::new(ID, "the volume is read-only by design");
    rule.env = Some("prod".into());
    rule.site = Some("borger".into());
    let id = source.create_silence(&rule).await.unwrap();
    let active = am.active_silences().await;
    assert_eq!(active.len(), 1, "{active:#?}");
    let requirement: Vec<&serde_json::Value> = active[0]["matchers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"] == "requirement")
        .collect();
    assert_eq!(
        requirement,
        [
            &serde_json::json!({"name": "requirement", "value": ID, "isRegex": false, "isEqual": true})
        ]
    );

    // amtool finds it by the id, and not by the near miss.
    let found = amtool_json(&am, &["silence", "query", "requirement=\"file system\""]);
    let ids: Vec<&str> = found.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, [id.as_str()]);
    let near = amtool_json(&am, &["silence", "query", "requirement=\"file_system\""]);
    assert!(near.is_empty(), "{near:#?}");

    // Alertmanager silences borger's `file system` alert, not its
    // `file_system` one, and not kultur's.
    let alert = |site: &str, requirement: &str| {
        serde_json::json!({"labels": {
            "alertname": "DrupalRequirementError", "env": "prod",
            "site": site, "requirement": requirement, "severity": "critical"}})
    };
    let client = reqwest::Client::new();
    let posted = client
        .post(format!("{}/api/v2/alerts", am.url()))
        .json(&[
            alert("borger", ID),
            alert("borger", NEAR),
            alert("kultur", ID),
        ])
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{posted:?}");
    let alerts: Vec<serde_json::Value> = client
        .get(format!("{}/api/v2/alerts", am.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut silenced: Vec<(String, String, bool)> = alerts
        .iter()
        .map(|a| {
            let by = a["status"]["silencedBy"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            (
                a["labels"]["site"].as_str().unwrap_or_default().to_string(),
                a["labels"]["requirement"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                by.iter().any(|s| s == id.as_str()),
            )
        })
        .collect();
    silenced.sort();
    assert_eq!(
        silenced,
        [
            ("borger".into(), ID.into(), true),
            ("borger".into(), NEAR.into(), false),
            ("kultur".into(), ID.into(), false),
        ]
    );

    // The dashboard reads the silence back as muting that requirement, on
    // that site: the rule, and `check`.
    let report = source.fetch_fleet().await.unwrap();
    let rules = report.silences.clone().unwrap();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].requirement, ID);
    assert_eq!(rules[0].site.as_deref(), Some("borger"));
    let (_, sites) = checked(&config_path, dir.path());
    assert_eq!(
        sites["borger"],
        (vec![NEAR.to_string()], vec![ID.to_string()])
    );
    assert_eq!(sites["kultur"], (vec![ID.to_string()], vec![]));
}
