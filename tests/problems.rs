//! The problems view lists exactly the sites `check` does not count as
//! fine, on the demo fleet and on a real Prometheus, with the mute rules
//! applied the same way: a muted requirement is not listed, and a site
//! whose only failure is muted is not in the list.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use site_status::app::View;
use site_status::app::keymap::{Action, Scope};
use site_status::cli::check::build_report;
use site_status::model::{MuteRule, MuteRules};
use site_status::source::demo::DemoFleet;
use support::scenes::{DEMO_T, NOW_UNIX, demo_app};
use support::tmux::{Tmux, command_line, sh_quote};
use support::{FleetBuilder, FleetExporter, TestPrometheus};

type Listed = BTreeSet<(String, String, String)>;

fn listed(app: &site_status::app::App) -> Listed {
    let Some(View::Problems(view)) = app.stack.last() else {
        panic!("not the problems view");
    };
    app.problem_rows(view.env)
        .iter()
        .map(|(site, state)| {
            let pane = &app.envs[site.env];
            (
                pane.fleet.name.clone(),
                pane.fleet.sites[site.index].label.clone(),
                state.key().to_string(),
            )
        })
        .collect()
}

fn not_fine(report: &site_status::cli::check::CheckReport) -> Listed {
    report
        .environments
        .iter()
        .flat_map(|e| {
            e.sites
                .iter()
                .filter(|s| s.state != "ok" && s.state != "info")
                .map(|s| (e.name.clone(), s.site.clone(), s.state.to_string()))
        })
        .collect()
}

#[test]
fn on_the_demo_the_problems_are_the_sites_check_does_not_pass() {
    let fleet = DemoFleet::new(320, 1);
    let outcomes = || {
        fleet
            .environments()
            .map(|env| {
                (
                    env.to_string(),
                    Ok(fleet.report(env, DEMO_T, NOW_UNIX as f64).unwrap()),
                )
            })
            .collect::<Vec<_>>()
    };
    let mut app = demo_app(320, 200, 50);
    app.perform(Scope::Grid, Action::OpenProblems);
    let stale_after = Duration::from_secs(30 * 60);
    let check = build_report(
        outcomes(),
        NOW_UNIX as f64,
        stale_after,
        &MuteRules::default(),
    );
    let problems = listed(&app);
    assert!(problems.len() > 50, "{} problems", problems.len());
    assert_eq!(problems, not_fine(&check));

    // A site failing one requirement only, and that requirement muted on
    // it: the site leaves the list; a requirement muted everywhere leaves
    // every reason.
    let (env, site, only) = check
        .environments
        .iter()
        .find_map(|e| {
            e.sites
                .iter()
                .find(|s| s.state == "warning" && s.failing.len() == 1)
                .map(|s| (e.name.clone(), s.site.clone(), s.failing[0].clone()))
        })
        .expect("a site with one warning");
    let mut on_site = MuteRule::new(&only, "accepted here");
    on_site.env = Some(env.clone());
    on_site.site = Some(site.clone());
    let everywhere = MuteRule::new("cron", "cron runs from the platform");
    let rules: MuteRules = [on_site, everywhere].into_iter().collect();
    app.set_mutes(rules.clone());
    let check = build_report(outcomes(), NOW_UNIX as f64, stale_after, &rules);
    let problems = listed(&app);
    assert_eq!(problems, not_fine(&check));
    assert!(
        !problems.iter().any(|(e, s, _)| *e == env && *s == site),
        "{site} fails only a muted requirement"
    );
    let Some(View::Problems(view)) = app.stack.last() else {
        unreachable!()
    };
    for (site, state) in app.problem_rows(view.env) {
        let summary = &app.envs[site.env].fleet.sites[site.index];
        assert!(
            !summary.failing.iter().any(|(id, _)| id == "cron"),
            "{} still lists cron",
            summary.name
        );
        let reason = site_status::ui::problems::reason(&app, site, state);
        assert!(!reason.contains("Cron maintenance tasks"), "{reason}");
    }
}

/// The dashboard on a real Prometheus, in tmux: `e` lists exactly the
/// sites `site-status check --format json` says are not fine.
#[tokio::test]
async fn on_a_real_prometheus_the_problems_view_lists_what_check_reports() {
    let fleet = FleetBuilder::new(24).seed(7).build();
    // The first warning site's only warning, muted on it.
    let muted_site = fleet
        .sites
        .iter()
        .find(|s| {
            s.kind == support::SiteKind::Warning
                && s.requirements.values().filter(|sid| **sid >= 1).count() == 1
        })
        .expect("a site with one warning")
        .clone();
    let muted_requirement = muted_site
        .requirements
        .iter()
        .find(|(_, sid)| **sid >= 1)
        .map(|(id, _)| id.clone())
        .unwrap();
    let exporter = FleetExporter::start(fleet);
    let prometheus = TestPrometheus::scraping(&exporter).await;
    prometheus.wait_for_fleet(&exporter).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let mut text = String::from("refresh_interval = \"2s\"\n");
    for env in ["dev", "test", "prod"] {
        text.push_str(&format!(
            "[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\n[environment.prometheus]\nurl = \"{}\"\n",
            prometheus.url()
        ));
    }
    text.push_str(&format!(
        "[[mute]]\nrequirement = \"{muted_requirement}\"\nsite = \"{}\"\nreason = \"accepted\"\n",
        muted_site.name
    ));
    std::fs::write(&config, text).unwrap();
    let home = dir.path().join("home");
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_site-status"))
        .arg("--config")
        .arg(&config)
        .args(["check", "--format", "json"])
        .env("HOME", &home)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let expected: BTreeSet<(String, String)> = json["environments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            let env = e["name"].as_str().unwrap().to_string();
            e["sites"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["state"] != "ok" && s["state"] != "info")
                .map(move |s| (env.clone(), s["site"].as_str().unwrap().to_string()))
        })
        .collect();
    assert!(expected.len() >= 8, "{expected:?}");
    assert!(!expected.iter().any(|(_, s)| *s == muted_site.name));

    let tmux = Tmux::start(
        160,
        50,
        &format!(
            "HOME={} {}",
            sh_quote(home.to_str().unwrap()),
            command_line(&[
                env!("CARGO_BIN_EXE_site-status"),
                "--config",
                config.to_str().unwrap()
            ])
        ),
    );
    tmux.wait_for("the fleet", |s| {
        s.contains("fetched") || s.contains("updated")
    });
    tmux.keys(&["e"]);
    let screen = tmux.wait_for("the problems view", |s| {
        s.body()
            .iter()
            .any(|l| l.starts_with(&format!("Problems: {} of ", expected.len())))
    });
    let on_screen: BTreeSet<(String, String)> = screen
        .body()
        .iter()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let glyph = words.next()?;
            if glyph.chars().count() != 1 || glyph.chars().all(|c| c.is_alphanumeric()) {
                return None;
            }
            let env = words.next()?;
            let _profile = words.next()?;
            let site = words.next()?;
            ["dev", "test", "prod"]
                .contains(&env)
                .then(|| (env.to_string(), site.to_string()))
        })
        .collect();
    assert_eq!(on_screen, expected, "\n{}", screen.framed());
}
