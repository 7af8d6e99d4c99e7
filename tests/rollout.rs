//! `site-status rollout` against a real Prometheus scraping an exporter
//! that rolls `kk_borger` in `test` from 3.14.0 to 3.15 over ~40 s: each
//! exit code, the mute rules, and the progress in each of its forms (a
//! bar on a terminal, plain lines in CI, GitHub annotations with a step
//! summary, Azure issues), stdout clean for the result.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::tmux::{Tmux, command_line, sh_quote};
use support::{Fleet, FleetExporter, Roll, Site, TestPrometheus};

const ROLL: Duration = Duration::from_secs(40);

fn healthy(name: &str, env: &str, profile: &str) -> Site {
    let mut site = Site::new(name, env, profile);
    for sid in site.requirements.values_mut() {
        *sid = (*sid).min(0);
    }
    site
}

/// Eight kk_borger sites in test on 3.14.0, one of them failing cron
/// before the deploy (not a regression when it still does), and sites the
/// gate must leave alone: kk_borger in prod, another profile in test.
fn fleet() -> Fleet {
    let mut sites: Vec<Site> = ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .map(|s| healthy(&format!("borger-{s}"), "test", "kk_borger"))
        .collect();
    sites[2].set_severity("cron", 2);
    sites.push(healthy("borger-prod", "prod", "kk_borger"));
    sites.push(healthy("skole-a", "test", "kk_skole"));
    Fleet::new(sites)
}

struct Setup {
    exporter: FleetExporter,
    prometheus: TestPrometheus,
    dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let exporter = FleetExporter::start(fleet());
    let prometheus = TestPrometheus::scraping(&exporter).await;
    prometheus.wait_for_fleet(&exporter).await;
    Setup {
        exporter,
        prometheus,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Setup {
    /// A configuration of test and prod on the Prometheus, with `extra`
    /// (mute rules) after it.
    fn config(&self, name: &str, extra: &str) -> PathBuf {
        let mut text = String::from("refresh_interval = \"2s\"\n");
        for env in ["test", "prod"] {
            text.push_str(&format!(
                "[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\n[environment.prometheus]\nurl = \"{}\"\n",
                self.prometheus.url()
            ));
        }
        text.push_str(extra);
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The gate as a pipeline step runs it: no terminal, the CI variables
    /// cleared but for `vars`; its own home, so no user's mutes apply.
    fn gate(&self, config: &Path, args: &[&str], vars: &[(&str, &str)]) -> std::process::Child {
        let home = self.dir.path().join("home");
        let mut command = Command::new(env!("CARGO_BIN_EXE_site-status"));
        command
            .arg("--config")
            .arg(config)
            .args(["rollout", "--env", "test", "--profile", "kk_borger"])
            .args(["--version", "3.15"])
            .args(args)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env_remove("CI")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("TF_BUILD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in vars {
            command.env(k, v);
        }
        command.spawn().expect("start site-status rollout")
    }
}

struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

async fn ended(child: std::process::Child) -> Ended {
    let output: Output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    Ended {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn json_of(ended: &Ended) -> serde_json::Value {
    serde_json::from_str(&ended.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{ended}"))
}

/// Gives the gates time for their baseline (their first poll is at once,
/// answered in milliseconds), so the roll starts after it; the roll's
/// first site switches a further eighth of the roll later.
async fn wait_for_baseline() {
    tokio::time::sleep(Duration::from_secs(3)).await;
}

#[tokio::test]
async fn a_clean_rollout_passes_in_ci_on_github_and_on_a_terminal() {
    let s = setup().await;
    let config = s.config("config.toml", "");
    let summary = s.dir.path().join("step-summary.md");
    std::fs::write(&summary, "earlier steps' summary\n").unwrap();
    let ci = s.gate(&config, &["--format", "json"], &[("CI", "true")]);
    let github = s.gate(
        &config,
        &["--format", "json"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    // On a terminal: stderr is the pane, stdout goes to a file.
    let result_file = s.dir.path().join("tty-result.json");
    let home = s.dir.path().join("home");
    let tmux = Tmux::start(
        120,
        20,
        &format!(
            "unset CI GITHUB_ACTIONS GITHUB_STEP_SUMMARY TF_BUILD; HOME={} {} > {}",
            sh_quote(home.to_str().unwrap()),
            command_line(&[
                env!("CARGO_BIN_EXE_site-status"),
                "--config",
                config.to_str().unwrap(),
                "rollout",
                "--env",
                "test",
                "--profile",
                "kk_borger",
                "--version",
                "3.15",
                "--format",
                "json",
            ]),
            sh_quote(result_file.to_str().unwrap())
        ),
    );
    wait_for_baseline().await;
    let rolling = s
        .exporter
        .roll(Roll::new("test", "kk_borger", "3.15", ROLL));

    // The bar: one line with the counts, redrawn in place while it rolls.
    let bar = tokio::task::spawn_blocking(move || {
        let screen = tmux.wait_for_within(ROLL, "the progress bar mid-roll", |s| {
            s.body().iter().any(|l| {
                l.contains("kk_borger 3.15 [")
                    && l.contains("/8 reported")
                    && !l.contains("0/8 reported")
                    && !l.contains("8/8 reported")
            })
        });
        let bar_lines = screen
            .body()
            .iter()
            .filter(|l| l.contains("kk_borger 3.15 ["))
            .count();
        let end = tmux.wait_for_within(ROLL + Duration::from_secs(20), "the gate to end", |s| {
            s.exit_status().is_some()
        });
        (screen, bar_lines, end)
    });

    let (ci, github) = (ended(ci).await, ended(github).await);
    rolling.join();
    assert_eq!(ci.code, Some(0), "{ci}");
    let json = json_of(&ci);
    assert_eq!(json["verdict"], "passed", "{ci}");
    assert_eq!(json["counts"]["total"], 8, "only kk_borger in test: {ci}");
    let sites = json["sites"].as_array().unwrap();
    for site in sites {
        assert_eq!(site["old_version"], "3.14.0", "{site}");
        assert_eq!(site["version"], "3.15", "{site}");
        assert!(
            site["switched_at"].as_str().unwrap().ends_with('Z'),
            "{site}"
        );
        assert_eq!(site["regressed"], false, "{site}");
    }
    let c = sites.iter().find(|s| s["site"] == "borger-c").unwrap();
    assert_eq!(c["state"], "error", "still failing cron, as before: {c}");
    // Plain lines: one per change, with the counts.
    assert!(
        ci.stderr.contains("baseline: 8 sites of kk_borger in test"),
        "{ci}"
    );
    for site in ["borger-a", "borger-h"] {
        assert!(
            ci.stderr
                .contains(&format!("{site} runs 3.15 (was 3.14.0)")),
            "{ci}"
        );
        assert!(
            ci.stderr.contains(&format!("{site} reported on 3.15: ")),
            "{ci}"
        );
    }
    assert!(
        ci.stderr
            .contains("[8/8 on 3.15 · 8 reported · 0 regressed]"),
        "{ci}"
    );
    assert!(
        !ci.stderr.contains("::"),
        "no annotations outside GitHub: {ci}"
    );

    assert_eq!(github.code, Some(0), "{github}");
    assert_eq!(json_of(&github)["verdict"], "passed");
    assert!(
        github.stderr.lines().any(|l| l
            .starts_with("::notice title=Rollout gate%3A kk_borger 3.15 in test::kk_borger 3.15 in test: passed after")),
        "{github}"
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.starts_with(
            "earlier steps' summary\n### Rollout gate: kk_borger 3.15 in test: passed"
        ),
        "appended:\n{summary}"
    );
    assert!(
        summary.contains("| Site | From | To | Switched | Result |"),
        "{summary}"
    );
    assert!(
        summary.contains("| borger-c | 3.14.0 | 3.15 |"),
        "{summary}"
    );

    let (mid_roll, bar_lines, end) = bar.await.unwrap();
    assert_eq!(bar_lines, 1, "one bar line:\n{}", mid_roll.framed());
    assert_eq!(end.exit_status(), Some(0), "{}", end.framed());
    assert!(
        end.contains("kk_borger 3.15 in test: passed after"),
        "the verdict stays on the terminal:\n{}",
        end.framed()
    );
    let tty_result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result_file).unwrap())
            .expect("stdout is clean JSON on a terminal too");
    assert_eq!(tty_result["verdict"], "passed");
}

#[tokio::test]
async fn two_sites_failing_update_fail_the_gate_unless_allowed_or_muted() {
    let s = setup().await;
    let config = s.config("config.toml", "");
    let muted = s.config(
        "muted.toml",
        "[[mute]]\nrequirement = \"update\"\nenv = \"test\"\nprofile = \"kk_borger\"\nreason = \"updb runs after the gate (OPS-7)\"\n",
    );
    let strict = s.gate(&config, &[], &[("TF_BUILD", "True")]);
    let allowing = s.gate(&config, &["--max-failing", "2", "--format", "json"], &[]);
    let muting = s.gate(&muted, &["--format", "json"], &[]);
    wait_for_baseline().await;
    let rolling = s.exporter.roll(
        Roll::new("test", "kk_borger", "3.15", ROLL)
            .regress("borger-b", "update")
            .regress("borger-e", "update"),
    );
    let (strict, allowing, muting) = (
        ended(strict).await,
        ended(allowing).await,
        ended(muting).await,
    );
    rolling.join();

    assert_eq!(strict.code, Some(1), "{strict}");
    assert!(
        strict
            .stdout
            .starts_with("kk_borger 3.15 in test: regressed after"),
        "{strict}"
    );
    assert!(
        strict.stdout.contains("2 regressed (at most 0 allowed)"),
        "{strict}"
    );
    let regressed: Vec<&str> = strict
        .stdout
        .lines()
        .filter(|l| l.contains("regressed: "))
        .collect();
    assert_eq!(regressed.len(), 2, "{strict}");
    assert!(regressed[0].starts_with("borger-b ") && regressed[0].ends_with("regressed: update"));
    assert!(regressed[1].starts_with("borger-e ") && regressed[1].ends_with("regressed: update"));
    // Azure DevOps: the verdict and each regressed site as an issue.
    let issues: Vec<&str> = strict
        .stderr
        .lines()
        .filter(|l| l.starts_with("##vso[task.logissue type=error]"))
        .collect();
    assert_eq!(issues.len(), 3, "{strict}");
    assert!(issues[1].contains("borger-b regressed on 3.15: newly failing on 3.15: update"));

    assert_eq!(allowing.code, Some(0), "{allowing}");
    let json = json_of(&allowing);
    assert_eq!(json["verdict"], "passed");
    assert_eq!(json["counts"]["regressed"], 2);
    let b = &json["sites"].as_array().unwrap()[1];
    assert_eq!(b["site"], "borger-b");
    assert_eq!(
        b["regressions"],
        serde_json::json!([{"id": "update", "title": null}])
    );

    assert_eq!(
        muting.code,
        Some(0),
        "a muted requirement does not count: {muting}"
    );
    let json = json_of(&muting);
    assert_eq!(json["counts"]["regressed"], 0, "{muting}");
}

#[tokio::test]
async fn a_site_left_on_the_old_version_times_the_gate_out() {
    let s = setup().await;
    let config = s.config("config.toml", "");
    let gate = s.gate(&config, &["--timeout", "32s"], &[("CI", "1")]);
    wait_for_baseline().await;
    let rolling = s
        .exporter
        .roll(Roll::new("test", "kk_borger", "3.15", Duration::from_secs(20)).hold("borger-d"));
    let gate = ended(gate).await;
    rolling.join();
    assert_eq!(gate.code, Some(2), "{gate}");
    assert!(
        gate.stdout.starts_with(
            "kk_borger 3.15 in test: timed out after 32 s: 7 of 8 sites on 3.15, 7 reported, 0 regressed (at most 0 allowed); waiting for borger-d (still on 3.14.0)"
        ),
        "{gate}"
    );
    assert!(
        gate.stdout
            .lines()
            .any(|l| l.starts_with("borger-d ") && l.ends_with("still on 3.14.0")),
        "{gate}"
    );
}

#[tokio::test]
async fn a_prometheus_stopped_for_the_whole_timeout_fails_the_gate_as_a_backend_failure() {
    let mut s = setup().await;
    let config = s.config("config.toml", "");
    let gate = s.gate(&config, &["--timeout", "12s", "--format", "json"], &[]);
    wait_for_baseline().await;
    s.prometheus.kill();
    let gate = ended(gate).await;
    assert_eq!(gate.code, Some(3), "{gate}");
    let json = json_of(&gate);
    assert_eq!(json["verdict"], "backend_down", "{gate}");
    assert!(
        json["error"].as_str().unwrap().contains("127.0.0.1"),
        "says which backend: {gate}"
    );
    assert!(gate.stderr.contains("backend failing: "), "{gate}");

    // Down from the start: no baseline, and still no pass.
    let gate = ended(s.gate(&config, &["--timeout", "4s"], &[])).await;
    assert_eq!(gate.code, Some(3), "{gate}");
    assert!(
        gate.stdout
            .starts_with("kk_borger 3.15 in test: backend down: no baseline in 4 s: "),
        "{gate}"
    );
}

/// The demo's pipeline rolls kk_borger to 3.15.0 through test's nine sites
/// over 40 s; with the default seed two of them fail their database
/// update, and the gate asks each switched site's agent to run now.
#[tokio::test]
async fn the_gate_runs_against_the_demo_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let demo = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_site-status"))
            .args([
                "rollout",
                "--demo",
                "--env",
                "test",
                "--profile",
                "kk_borger",
            ])
            .args(["--version", "3.15.0", "--timeout", "2m", "--format", "json"])
            .args(extra)
            .env("HOME", dir.path())
            .env_remove("CI")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("TF_BUILD")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (strict, allowing) = (demo(&[]), demo(&["--max-failing", "2"]));
    let (strict, allowing) = (ended(strict).await, ended(allowing).await);
    assert_eq!(strict.code, Some(1), "{strict}");
    let json = json_of(&strict);
    assert_eq!(json["counts"]["on_version"], 9, "{strict}");
    assert_eq!(json["counts"]["reported"], 9, "{strict}");
    let regressed: Vec<(&str, &serde_json::Value)> = json["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["regressed"] == true)
        .map(|s| (s["site"].as_str().unwrap(), &s["regressions"]))
        .collect();
    let update = serde_json::json!([{"id": "update", "title": "Database updates"}]);
    assert_eq!(
        regressed,
        [("byraad", &update), ("havn", &update)],
        "{strict}"
    );
    assert!(json["asked_to_run"].as_u64().unwrap() >= 1, "{strict}");
    assert!(
        strict
            .stderr
            .contains("demo: a pipeline began deploying kk_borger 3.15.0 to test 12 s ago"),
        "{strict}"
    );
    // The deploy had begun: byraad switched and regressed before the gate
    // started, and is judged against its state before its switch.
    let byraad = json["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["site"] == "byraad")
        .unwrap();
    assert_eq!(byraad["baseline"], "before-switch", "{strict}");
    assert_eq!(byraad["old_version"], "3.14.2", "{strict}");
    assert!(json["counts"]["baselines"]["start"].as_u64().unwrap() > 0);
    assert_eq!(allowing.code, Some(0), "{allowing}");
}

/// Site → its regressions' ids, of the regressed sites.
type RegressedSites = Vec<(String, Vec<String>)>;
/// Site → where its baseline came from.
type Baselines = Vec<(String, String)>;

/// The regressed sites of a JSON result with their regressions' ids, and
/// each site's baseline source.
fn regressed_and_baselines(ended: &Ended) -> (RegressedSites, Baselines) {
    let json = json_of(ended);
    let sites = json["sites"].as_array().cloned().unwrap_or_default();
    let regressed = sites
        .iter()
        .filter(|s| s["regressed"] == true)
        .map(|s| {
            let ids = s["regressions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["id"].as_str().map(String::from))
                .collect();
            (s["site"].as_str().unwrap_or("").to_string(), ids)
        })
        .collect();
    let baselines = sites
        .iter()
        .map(|s| {
            (
                s["site"].as_str().unwrap_or("").to_string(),
                s["baseline"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    (regressed, baselines)
}

/// What a late-started gate must find: borger-a and borger-b, which
/// regressed on `update` before it started, and borger-new, on 3.15 with
/// no history before it, failing closed on `cron`; borger-c's cron failure
/// from before the deploy is no regression. Exit 1.
fn names_the_early_regressions(ended: &Ended) -> Result<(), String> {
    if ended.code != Some(1) {
        return Err(format!("exit {:?}, not 1", ended.code));
    }
    let (regressed, _) = regressed_and_baselines(ended);
    let want = [
        ("borger-a".to_string(), vec!["update".to_string()]),
        ("borger-b".to_string(), vec!["update".to_string()]),
        ("borger-new".to_string(), vec!["cron".to_string()]),
    ];
    if regressed != want {
        return Err(format!("regressed {regressed:?}, not {want:?}"));
    }
    Ok(())
}

/// The issue's pipeline: the gate step starts after the deploy step, when
/// the first two sites have already switched and reported their new
/// failures. Their baseline is their last state before their switch, from
/// Prometheus' history, or with `--since` taken before the roll their
/// state then: either way they are named and the gate fails, and passes
/// with `--max-failing` at their number; borger-c, failing cron before the
/// deploy, is not a regression; a site with no history before VERSION has
/// no baseline and fails closed. A baseline taken at the gate's start (the
/// old way, which `--since 0s` asks for) passes them: the test would fail.
#[tokio::test]
async fn a_gate_started_late_names_the_sites_that_regressed_before_it() {
    let s = setup().await;
    let config = s.config("config.toml", "");
    let since = jiff::Timestamp::now().to_string();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let over = Duration::from_secs(30);
    let rolling = s.exporter.roll(
        Roll::new("test", "kk_borger", "3.15", over)
            .regress("borger-a", "update")
            .regress("borger-b", "update"),
    );
    // A site deployed straight on 3.15 after --since, failing cron.
    s.exporter.update(|fleet| {
        let mut site = healthy("borger-new", "test", "kk_borger");
        site.info.profile_version = "3.15".into();
        site.set_severity("cron", 2);
        fleet.sites.push(site);
    });
    // borger-b switches at 2/8 of the roll and reports 2 s later; a
    // scrape and a margin after that.
    tokio::time::sleep(over * 2 / 8 + Duration::from_secs(5)).await;
    let gate_in = |args: &[&str], vars: &[(&str, &str)]| {
        let mut all = vec!["--timeout", "2m"];
        all.extend_from_slice(args);
        s.gate(&config, &all, vars)
    };
    let gate = |args: &[&str]| gate_in(args, &[("CI", "true")]);
    let with_since = gate(&["--since", &since, "--format", "json"]);
    let without = gate(&["--format", "json"]);
    let allowing = gate_in(
        &["--format", "json", "--max-failing", "3"],
        &[("TF_BUILD", "True")],
    );
    let as_text = gate_in(&[], &[("GITHUB_ACTIONS", "true")]);
    let at_start = gate(&["--since", "0s", "--format", "json"]);
    let late = ended(with_since).await;
    let without = ended(without).await;
    let allowing = ended(allowing).await;
    let as_text = ended(as_text).await;
    let at_start = ended(at_start).await;
    rolling.join();

    names_the_early_regressions(&late).unwrap_or_else(|e| panic!("{e}\n{late}"));
    let (_, baselines) = regressed_and_baselines(&late);
    for (site, from) in &baselines {
        let want = if site == "borger-new" {
            "none"
        } else {
            "since"
        };
        assert_eq!(from, want, "{site}: {late}");
    }
    let json = json_of(&late);
    assert_eq!(json["counts"]["baselines"]["since"], 8, "{late}");
    assert_eq!(json["counts"]["baselines"]["none"], 1, "{late}");
    // Without --since: the same verdict, from each switched site's last
    // state before its switch in Prometheus' history.
    names_the_early_regressions(&without).unwrap_or_else(|e| panic!("{e}\n{without}"));
    let (_, baselines) = regressed_and_baselines(&without);
    for (site, from) in &baselines {
        let want: &[&str] = match site.as_str() {
            "borger-a" | "borger-b" => &["before-switch"],
            "borger-new" => &["none"],
            // borger-c switches about when the gate starts.
            "borger-c" => &["before-switch", "start"],
            _ => &["start"],
        };
        assert!(want.contains(&from.as_str()), "{site} {from}: {without}");
    }
    let json = json_of(&without);
    let sites = json["sites"].as_array().unwrap();
    let borger_a = sites.iter().find(|s| s["site"] == "borger-a").unwrap();
    assert_eq!(
        borger_a["old_version"], "3.14.0",
        "from its switch: {without}"
    );
    assert!(borger_a["baseline_at"].is_string(), "{without}");
    // Found at the first poll, said at once.
    for site in ["borger-a", "borger-b"] {
        for gate in [&without, &late] {
            let said = format!("{site} reported on 3.15: regressed (update");
            assert!(gate.stderr.contains(&said), "{gate}");
        }
    }
    // On GitHub and Azure, annotated as found, before the verdict.
    let before_verdict = |ended: &Ended, said: &str| {
        let at = ended.stderr.find(said);
        let verdict = ended.stderr.find("kk_borger 3.15 in test: ");
        assert!(
            at.is_some() && verdict.is_some() && at < verdict,
            "{said:?} before the verdict: {ended}"
        );
    };
    for site in ["borger-a", "borger-b"] {
        before_verdict(
            &as_text,
            &format!("::warning title={site} regressed on 3.15::found as the deploy rolls: update"),
        );
        before_verdict(
            &allowing,
            &format!(
                "##vso[task.logissue type=warning]{site} regressed on 3.15: found as the deploy rolls: update"
            ),
        );
    }
    // Three regressions allowed: the operator's deliberate choice.
    assert_eq!(allowing.code, Some(0), "{allowing}");
    assert_eq!(
        regressed_and_baselines(&allowing).0.len(),
        3,
        "still named: {allowing}"
    );
    // The text result: where each baseline came from, and no baseline
    // said in words.
    assert_eq!(as_text.code, Some(1), "{as_text}");
    let row = |site: &str| {
        as_text
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(site))
            .unwrap_or_else(|| panic!("no row for {site}: {as_text}"))
            .to_string()
    };
    assert!(
        as_text
            .stdout
            .lines()
            .any(|l| l.starts_with("SITE") && l.contains("BASELINE")),
        "{as_text}"
    );
    assert!(
        as_text.stdout.contains("1 none") && as_text.stdout.contains("before-switch"),
        "{as_text}"
    );
    let a = row("borger-a");
    assert!(
        a.contains("3.14.0") && a.contains("before-switch at ") && a.contains("regressed: update"),
        "{a}"
    );
    let new = row("borger-new");
    assert!(
        new.contains(" none ") && new.contains("regressed (no baseline): cron"),
        "{new}"
    );
    // The old way: a baseline at the gate's start holds the early
    // sites' new failures, and the gate passes them.
    assert_eq!(at_start.code, Some(0), "{at_start}");
    assert!(
        names_the_early_regressions(&at_start).is_err(),
        "{at_start}"
    );
}
