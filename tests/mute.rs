//! Muting accepted requirements: rule matching and expiry, what a mute does
//! to a site's severity (grid, profile groups, pivot, watch, `check`), and
//! the dashboard's rules file (round trip, corruption, a kill mid-write).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use site_status::cli::check::build_report;
use site_status::cli::exit::{CHECK_CRITICAL as EXIT_CRITICAL, OK as EXIT_OK};
use site_status::config::Config;
use site_status::model::mute::parse_expiry;
use site_status::model::{
    EnvFleet, MuteRule, MuteRules, RuleOrigin, Severity, SiteFilter, SiteState, SiteSummary,
    SortOrder, group_by_profile, transitions,
};
use site_status::mute_store::{self, MuteStore, load_rules};
use site_status::source::{EnvReport, SourceError};

const DAY: f64 = 86_400.0;
/// 2026-03-01T00:00:00Z
const MAR1: f64 = 1_772_323_200.0;
const NOW: f64 = MAR1 - 3600.0;
const STALE: Duration = Duration::from_secs(1800);

fn rule(requirement: &str) -> MuteRule {
    MuteRule::new(requirement, "accepted")
}

fn site(name: &str, profile: &str, worst: Severity, failing: &[(&str, Severity)]) -> SiteSummary {
    SiteSummary {
        worst: Some(worst),
        run_success: Some(true),
        // No last run time: never stale, whatever the clock of a test.
        last_run: None,
        up: Some(true),
        failing: failing.iter().map(|(id, s)| (id.to_string(), *s)).collect(),
        ..SiteSummary::new(name, profile)
    }
}

fn updates_pending(name: &str) -> SiteSummary {
    site(
        name,
        "kk_borger",
        Severity::Error,
        &[("update", Severity::Error)],
    )
}

// ---- matching and expiry -------------------------------------------------

#[test]
fn left_out_fields_match_every_environment_profile_and_site() {
    let everywhere = rule("cron");
    let prod_only = MuteRule {
        env: Some("prod".into()),
        ..rule("cron")
    };
    let one_site = MuteRule {
        env: Some("prod".into()),
        profile: Some("kk_borger".into()),
        site: Some("borger".into()),
        ..rule("cron")
    };
    let one_profile = MuteRule {
        profile: Some("kk_borger".into()),
        ..rule("cron")
    };
    for (env, profile, site) in [
        ("prod", "kk_borger", "borger"),
        ("dev", "kk_borger", "borger"),
        ("prod", "kk_base", "kultur"),
    ] {
        assert!(everywhere.matches(env, profile, site, "cron", NOW));
        assert!(!everywhere.matches(env, profile, site, "update", NOW));
        assert_eq!(
            prod_only.matches(env, profile, site, "cron", NOW),
            env == "prod"
        );
        assert_eq!(
            one_profile.matches(env, profile, site, "cron", NOW),
            profile == "kk_borger"
        );
        assert_eq!(
            one_site.matches(env, profile, site, "cron", NOW),
            (env, profile, site) == ("prod", "kk_borger", "borger")
        );
    }
    let rules = MuteRules::new(vec![prod_only, one_site]);
    assert!(
        rules
            .find("prod", "kk_base", "kultur", "cron", NOW)
            .is_some()
    );
    assert!(
        rules
            .find("dev", "kk_base", "kultur", "cron", NOW)
            .is_none()
    );
}

#[test]
fn a_date_means_through_the_end_of_that_day_utc() {
    let expires = parse_expiry("2026-02-28").unwrap();
    assert_eq!(expires as f64, MAR1);
    let r = MuteRule {
        expires: Some(expires),
        ..rule("update")
    };
    // The last second of 28 February applies; midnight does not.
    assert!(r.matches("prod", "p", "s", "update", MAR1 - DAY));
    assert!(r.matches("prod", "p", "s", "update", MAR1 - 1.0));
    assert!(r.matches("prod", "p", "s", "update", MAR1 - 0.001));
    assert!(!r.matches("prod", "p", "s", "update", MAR1));
    assert!(!r.matches("prod", "p", "s", "update", MAR1 + DAY));
    assert!(r.is_expired(MAR1) && !r.is_expired(MAR1 - 1.0));
}

#[test]
fn leap_days_exist_only_in_leap_years() {
    assert_eq!(parse_expiry("2024-02-29").unwrap(), 1_709_251_200); // 2024-03-01
    assert_eq!(parse_expiry("2000-02-29").unwrap(), 951_868_800); // 2000-03-01
    for not_a_day in ["2026-02-29", "1900-02-29", "2100-02-29"] {
        let e = parse_expiry(not_a_day).unwrap_err();
        assert!(e.contains("28 days"), "{e}");
    }
    // 2024-12-31 is day 366 of a leap year.
    assert_eq!(
        parse_expiry("2024-12-31").unwrap() - parse_expiry("2023-12-31").unwrap(),
        366 * 86_400
    );
}

#[test]
fn an_expired_rule_stops_applying_by_itself() {
    let rules = MuteRules::new(vec![MuteRule {
        expires: Some(MAR1 as i64),
        ..rule("update")
    }]);
    let s = updates_pending("borger");
    let before = rules.apply_to_summary("prod", &s, MAR1 - 1.0);
    assert_eq!(before.worst, Some(Severity::Ok));
    assert_eq!(before.state(MAR1 - 1.0, STALE), SiteState::Ok);
    let after = rules.apply_to_summary("prod", &s, MAR1);
    assert_eq!(after, s, "the rule is gone at its expiry");
    assert_eq!(rules.active(MAR1).count(), 0);
}

// ---- what muting does to a site -----------------------------------------

#[test]
fn apply_to_summary_removes_muted_requirements_and_lowers_the_worst() {
    let s = site(
        "borger",
        "kk_borger",
        Severity::Error,
        &[
            ("update", Severity::Error),
            ("cron", Severity::Warning),
            ("php", Severity::Warning),
        ],
    );
    let apply = |ids: &[&str]| {
        let rules: MuteRules = ids.iter().map(|id| rule(id)).collect();
        rules.apply_to_summary("prod", &s, NOW)
    };
    let out = apply(&["update"]);
    assert_eq!(out.worst, Some(Severity::Warning));
    assert_eq!(out.failing.len(), 2);
    let out = apply(&["update", "cron"]);
    assert_eq!(out.worst, Some(Severity::Warning));
    assert_eq!(out.failing, vec![("php".to_string(), Severity::Warning)]);
    let out = apply(&["update", "cron", "php"]);
    assert_eq!(out.worst, Some(Severity::Ok));
    assert!(out.failing.is_empty());
    let out = apply(&["cron"]);
    assert_eq!(out.worst, Some(Severity::Error), "the error is not muted");
    // Everything else about the site is kept.
    assert_eq!(
        (
            out.name.as_str(),
            out.profile.as_str(),
            out.last_run,
            out.up
        ),
        ("borger", "kk_borger", s.last_run, s.up)
    );

    let rules: MuteRules = [rule("update")].into_iter().collect();
    let muted = rules.muted("prod", &s, NOW);
    assert_eq!(muted.len(), 1);
    assert_eq!(muted[0].requirement, "update");
    assert_eq!(muted[0].severity, Severity::Error);
    assert_eq!(muted[0].rule.reason, "accepted");
}

#[test]
fn muting_never_turns_missing_or_untrusted_data_into_ok() {
    let rules: MuteRules = [rule("update")].into_iter().collect();
    let mut no_data = updates_pending("borger");
    no_data.worst = None;
    assert_eq!(rules.apply_to_summary("prod", &no_data, NOW).worst, None);

    let mut failed = updates_pending("borger");
    failed.run_success = Some(false);
    assert_eq!(
        rules
            .apply_to_summary("prod", &failed, NOW)
            .state(NOW, STALE),
        SiteState::RunFailed
    );
    let mut stale = updates_pending("borger");
    stale.last_run = Some(NOW - 4000.0);
    assert_eq!(stale.state(NOW, STALE), SiteState::Stale);
    assert_eq!(
        rules
            .apply_to_summary("prod", &stale, NOW)
            .state(NOW, STALE),
        SiteState::Stale
    );
    // An error that is not among the listed requirements is not muted.
    let unlisted = site(
        "borger",
        "kk_borger",
        Severity::Error,
        &[("update", Severity::Warning)],
    );
    assert_eq!(
        rules.apply_to_summary("prod", &unlisted, NOW).worst,
        Some(Severity::Error)
    );
}

/// The grid and the pivot are drawn from an `EnvFleet` of summaries; the
/// dashboard builds it from the summaries with the rules applied.
fn fleet(sites: &[SiteSummary], rules: &MuteRules, now: f64) -> EnvFleet {
    let mut sites = sites.to_vec();
    rules.apply_to_sites("prod", &mut sites, now);
    EnvFleet::new("prod", sites, now, STALE)
}

fn demo_sites() -> Vec<SiteSummary> {
    vec![
        updates_pending("borger"),
        site(
            "kultur",
            "kk_borger",
            Severity::Error,
            &[("update", Severity::Error), ("cron", Severity::Warning)],
        ),
        site(
            "skole",
            "kk_base",
            Severity::Warning,
            &[("cron", Severity::Warning)],
        ),
        site("intra", "kk_base", Severity::Ok, &[]),
    ]
}

#[test]
fn a_muted_requirement_changes_the_grid_and_the_profile_counts() {
    let sites = demo_sites();
    let none = MuteRules::default();
    let rules: MuteRules = [MuteRule {
        profile: Some("kk_borger".into()),
        ..rule("update")
    }]
    .into_iter()
    .collect();

    let plain = fleet(&sites, &none, NOW);
    assert_eq!(plain.counts().get(SiteState::Error), 2);
    assert_eq!(plain.counts().get(SiteState::Warning), 1);
    assert_eq!(plain.counts().get(SiteState::Ok), 1);

    let muted = fleet(&sites, &rules, NOW);
    let state = |f: &EnvFleet, name: &str| f.states[f.find(name).unwrap()];
    assert_eq!(state(&muted, "borger"), SiteState::Ok);
    assert_eq!(state(&muted, "kultur"), SiteState::Warning);
    assert_eq!(muted.counts().get(SiteState::Error), 0);
    assert_eq!(muted.counts().get(SiteState::Warning), 2);
    assert_eq!(muted.counts().get(SiteState::Ok), 2);

    let groups = group_by_profile(&muted, &SiteFilter::default(), SortOrder::WorstFirst);
    let borger = groups.iter().find(|g| g.profile == "kk_borger").unwrap();
    assert_eq!(borger.counts.get(SiteState::Error), 0);
    assert_eq!(borger.counts.worst(), Some(SiteState::Warning));

    // Once the rule expires the same data counts in full again.
    let expiring: MuteRules = [MuteRule {
        expires: Some(MAR1 as i64),
        ..rule("update")
    }]
    .into_iter()
    .collect();
    assert_eq!(
        fleet(&sites, &expiring, NOW).counts().get(SiteState::Error),
        0
    );
    assert_eq!(
        fleet(&sites, &expiring, MAR1).counts(),
        fleet(&sites, &none, MAR1).counts()
    );
}

#[test]
fn a_muted_requirement_leaves_the_pivot() {
    // The pivot counts each environment's sites' `failing` lists.
    let pivot = |f: &EnvFleet| {
        let mut rows: std::collections::BTreeMap<String, usize> = Default::default();
        for s in &f.sites {
            for (id, sev) in &s.failing {
                if sev.is_failing() {
                    *rows.entry(id.clone()).or_default() += 1;
                }
            }
        }
        rows
    };
    let sites = demo_sites();
    let plain = pivot(&fleet(&sites, &MuteRules::default(), NOW));
    assert_eq!(plain.get("update"), Some(&2));
    assert_eq!(plain.get("cron"), Some(&2));
    let one_site: MuteRules = [MuteRule {
        site: Some("skole".into()),
        ..rule("cron")
    }]
    .into_iter()
    .collect();
    let muted = pivot(&fleet(&sites, &one_site, NOW));
    assert_eq!(muted.get("update"), Some(&2));
    assert_eq!(muted.get("cron"), Some(&1));
    let everywhere: MuteRules = [rule("update")].into_iter().collect();
    assert_eq!(pivot(&fleet(&sites, &everywhere, NOW)).get("update"), None);
}

#[test]
fn watch_reports_a_mute_and_its_expiry_as_transitions() {
    // `watch` compares consecutive fleets; with the rules applied a muted
    // failure is no transition, and its expiry is one.
    let sites = demo_sites();
    let rules: MuteRules = [MuteRule {
        expires: Some(MAR1 as i64),
        ..rule("update")
    }]
    .into_iter()
    .collect();
    let first = fleet(&sites, &rules, NOW);
    let second = fleet(&sites, &rules, NOW + 60.0);
    assert!(transitions(&first, &second, NOW + 60.0).is_empty());

    let after_expiry = fleet(&sites, &rules, MAR1 + 60.0);
    let changes = transitions(&second, &after_expiry, MAR1 + 60.0);
    let borger = changes.iter().find(|t| t.site == "borger").unwrap();
    assert_eq!((borger.from, borger.to), (SiteState::Ok, SiteState::Error));
    assert_eq!(borger.requirements.len(), 1);
    assert_eq!(borger.requirements[0].id, "update");
    assert_eq!(borger.requirements[0].to, Some(Severity::Error));
    let kultur = changes.iter().find(|t| t.site == "kultur").unwrap();
    assert_eq!(
        (kultur.from, kultur.to),
        (SiteState::Warning, SiteState::Error)
    );
    assert!(!changes.iter().any(|t| t.site == "skole"));
}

fn outcome(sites: Vec<SiteSummary>) -> Vec<(String, Result<EnvReport, SourceError>)> {
    vec![(
        "prod".to_string(),
        Ok(EnvReport {
            sites,
            warnings: vec![],
            silences: None,
            partial: false,
        }),
    )]
}

#[test]
fn check_exits_0_when_the_only_error_is_muted() {
    let sites = vec![
        updates_pending("borger"),
        site("intra", "kk_base", Severity::Ok, &[]),
    ];
    let plain = build_report(outcome(sites.clone()), NOW, STALE, &MuteRules::default());
    assert_eq!(plain.exit_code(), EXIT_CRITICAL);
    let rules: MuteRules = [MuteRule {
        env: Some("prod".into()),
        site: Some("borger".into()),
        ..rule("update")
    }]
    .into_iter()
    .collect();
    let muted = build_report(outcome(sites.clone()), NOW, STALE, &rules);
    assert_eq!(muted.exit_code(), EXIT_OK);
    assert_eq!(muted.summary.ok, 2);
    assert_eq!(muted.summary.error, 0);
    let borger = muted.environments[0]
        .sites
        .iter()
        .find(|s| s.site == "borger")
        .unwrap();
    assert_eq!(borger.severity, "ok");
    assert!(borger.failing.is_empty());
    assert_eq!(borger.muted, ["update"]);
    // A rule for another environment changes nothing.
    let dev: MuteRules = [MuteRule {
        env: Some("dev".into()),
        ..rule("update")
    }]
    .into_iter()
    .collect();
    assert_eq!(
        build_report(outcome(sites), NOW, STALE, &dev).exit_code(),
        EXIT_CRITICAL
    );
}

#[test]
fn check_counts_again_once_the_rule_expired() {
    let s = updates_pending("borger");
    let rules: MuteRules = [MuteRule {
        expires: Some(parse_expiry("2026-02-28").unwrap()),
        ..rule("update")
    }]
    .into_iter()
    .collect();
    let at = |now: f64| build_report(outcome(vec![s.clone()]), now, STALE, &rules);
    assert_eq!(at(MAR1 - 1.0).exit_code(), EXIT_OK);
    assert_eq!(at(MAR1).exit_code(), EXIT_CRITICAL);
}

// ---- the configuration and the rules file --------------------------------

const CONFIG: &str = r#"
[[environment]]
name = "prod"

[environment.prometheus]
url = "http://127.0.0.1:9090"

[[mute]]
requirement = "cron"
env = "prod"
reason = "cron runs from the platform, not Drupal"
"#;

fn dashboard_rules() -> Vec<MuteRule> {
    vec![
        MuteRule {
            env: Some("prod".into()),
            site: Some("borger".into()),
            expires: Some(parse_expiry("2026-06-30").unwrap()),
            ..MuteRule::new("update", "waits for the monthly window")
        },
        MuteRule {
            profile: Some("kk_base".into()),
            expires: Some(parse_expiry("2026-03-01T12:00:00+01:00").unwrap()),
            ..MuteRule::new("public:///.htaccess", "handled by the web server \"nginx\"")
        },
    ]
}

#[test]
fn the_default_file_is_in_the_users_data_directory() {
    if let Some(path) = mute_store::default_path() {
        assert!(path.ends_with("mutes.toml"), "{}", path.display());
        let dirs = directories::ProjectDirs::from("", "", "site-status").unwrap();
        assert_eq!(path.parent(), Some(dirs.data_dir()));
    }
}

#[test]
fn rules_round_trip_through_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = MuteStore::new(dir.path().join("new/dir/mutes.toml"));
    assert_eq!(store.load().unwrap(), vec![], "a missing file is no rules");
    store.save(&dashboard_rules()).unwrap();
    let loaded = store.load().unwrap();
    assert_eq!(loaded, dashboard_rules());
    assert!(loaded.iter().all(|r| r.origin == RuleOrigin::Dashboard));
    let text = std::fs::read_to_string(store.path()).unwrap();
    assert!(
        text.contains("[[mute]]") && text.contains("expires = \"2026-06-30\""),
        "{text}"
    );
    store.save(&[]).unwrap();
    assert_eq!(store.load().unwrap(), vec![]);
}

#[test]
fn add_and_remove_keep_one_rule_per_target_and_drop_expired_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = MuteStore::new(dir.path().join("mutes.toml"));
    let mut first = MuteRule {
        env: Some("prod".into()),
        ..rule("update")
    };
    store.add(first.clone(), NOW).unwrap();
    first.reason = "new reason".into();
    let mut config_origin = rule("cron");
    config_origin.origin = RuleOrigin::Config;
    config_origin.expires = Some(MAR1 as i64);
    store.add(first.clone(), NOW).unwrap();
    let rules = store.add(config_origin, NOW).unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_eq!(rules[0].reason, "new reason");
    assert!(rules.iter().all(|r| r.origin == RuleOrigin::Dashboard));
    assert_eq!(store.load().unwrap(), rules);

    // The cron rule has expired by then: it is dropped with the next change.
    let rules = store.remove(&first, MAR1 + 1.0).unwrap();
    assert!(rules.is_empty(), "{rules:?}");
    assert_eq!(store.load().unwrap(), vec![]);
}

/// `u` in the site view: the rule the dashboard made goes from the file and
/// stops applying; the configuration's rule for the same requirement, and
/// the file's other rules, stay.
#[test]
fn unmuting_removes_the_dashboards_rule_and_leaves_the_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let store = MuteStore::new(dir.path().join("mutes.toml"));
    let on_borger = MuteRule {
        env: Some("prod".into()),
        site: Some("borger".into()),
        ..rule("update_contrib")
    };
    let elsewhere = MuteRule {
        site: Some("kultur".into()),
        ..rule("update_contrib")
    };
    store.add(on_borger.clone(), NOW).unwrap();
    store.add(elsewhere.clone(), NOW).unwrap();
    let mut from_config = rule("cron");
    from_config.origin = RuleOrigin::Config;
    let setup = site_status::runtime::MuteSetup {
        config_rules: vec![from_config.clone()],
        store: Some(store.clone()),
    };
    let borger = site(
        "borger",
        "kk_borger",
        Severity::Error,
        &[
            ("cron", Severity::Error),
            ("update_contrib", Severity::Warning),
        ],
    );
    let (before, _) = setup.load();
    assert!(
        before
            .find("prod", "kk_borger", "borger", "update_contrib", NOW)
            .is_some()
    );

    let after = setup.remove(&on_borger).unwrap();
    assert!(
        after
            .find("prod", "kk_borger", "borger", "update_contrib", NOW)
            .is_none(),
        "{after:?}"
    );
    assert!(
        after
            .find("prod", "kk_borger", "borger", "cron", NOW)
            .is_some()
    );
    let shown = after.apply_to_summary("prod", &borger, NOW);
    assert_eq!(
        shown.failing,
        vec![("update_contrib".to_string(), Severity::Warning)]
    );
    assert_eq!(
        store.load().unwrap(),
        vec![elsewhere],
        "only the one rule left the file"
    );
    assert_eq!(setup.load().0.rules()[0], from_config);
}

#[test]
fn config_and_dashboard_rules_apply_together() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(CONFIG, Path::new("/etc/site-status.toml")).unwrap();
    let store = MuteStore::new(dir.path().join("mutes.toml"));
    store.save(&dashboard_rules()).unwrap();
    let (rules, error) = load_rules(config.mute_rules(), Some(&store));
    assert!(error.is_none());
    assert_eq!(rules.len(), 3);
    assert_eq!(rules.rules()[0].origin, RuleOrigin::Config);
    let s = site(
        "borger",
        "kk_borger",
        Severity::Error,
        &[("update", Severity::Error), ("cron", Severity::Warning)],
    );
    let out = rules.apply_to_summary("prod", &s, NOW);
    assert_eq!(out.worst, Some(Severity::Ok));
    let muted = rules.muted("prod", &s, NOW);
    let origins: Vec<_> = muted.iter().map(|m| m.rule.origin.clone()).collect();
    assert_eq!(origins, [RuleOrigin::Dashboard, RuleOrigin::Config]);
    assert_eq!(
        muted[0].rule.describe(),
        "waits for the monthly window (until 2026-06-30)"
    );
}

#[test]
fn a_corrupt_rules_file_is_a_clear_error_and_config_rules_still_apply() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mutes.toml");
    let store = MuteStore::new(&path);
    let config = Config::parse(CONFIG, Path::new("/etc/site-status.toml")).unwrap();
    let s = site(
        "borger",
        "kk_borger",
        Severity::Warning,
        &[("cron", Severity::Warning)],
    );

    for (corrupt, says) in [
        (
            &b"version = 1\n[[mute]]\nrequirement = \"update\"\nreas"[..],
            ":4:",
        ),
        (b"[[mute]]\nrequirement = \"update\"\n", "reason"),
        (
            b"[[mute]]\nrequirement = \"x\"\nreason = \"y\"\nexpires = \"2026-02-30\"\n",
            "key `expires`",
        ),
        (b"\x00\x9f\x92\x96 garbage", "UTF-8"),
        (b"version = 9\n", "version 9"),
    ] {
        std::fs::write(&path, corrupt).unwrap();
        let e = store.load().unwrap_err();
        assert_eq!(e.path, path);
        assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{e}"
        );
        assert!(e.to_string().contains(says), "{e} should say {says}");

        let (rules, error) = load_rules(config.mute_rules(), Some(&store));
        assert_eq!(error.as_ref().map(|e| &e.path), Some(&path));
        assert_eq!(rules.len(), 1, "the configuration's rule is kept");
        assert_eq!(
            rules.apply_to_summary("prod", &s, NOW).worst,
            Some(Severity::Ok)
        );

        // The dashboard does not write over a file it cannot read.
        assert!(store.add(rule("php"), NOW).is_err());
        assert!(store.remove(&rule("php"), NOW).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), corrupt);
    }
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn successful_saves_leave_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = MuteStore::new(dir.path().join("mutes.toml"));
    for i in 0..50 {
        let rules = if i % 2 == 0 {
            dashboard_rules()
        } else {
            big_set("x", 20)
        };
        store.save(&rules).unwrap();
        store.add(rule(&format!("r{i}")), NOW).unwrap();
    }
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n == "mutes.toml" || n == ".mutes.toml.lock"),
        "{names:?}"
    );
}

#[test]
fn a_failed_save_leaves_the_old_file_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = MuteStore::new(dir.path().join("mutes.toml"));
    store.save(&dashboard_rules()).unwrap();
    let bad = [MuteRule::new("cron", "")];
    let e = store.save(&bad).unwrap_err();
    assert!(e.to_string().contains("mutes.toml"), "{e}");
    assert_eq!(store.load().unwrap(), dashboard_rules());
    assert!(temp_files(dir.path()).is_empty());
}

// ---- a kill in the middle of a write -------------------------------------

const WRITER_ENV: &str = "SITE_STATUS_TEST_MUTE_WRITER";
const ROUNDS: usize = 60;

/// `n` rules of about 4 kB each: large enough that writing takes a while,
/// few enough that encoding does not.
fn big_set(tag: &str, n: usize) -> Vec<MuteRule> {
    (0..n)
        .map(|i| MuteRule {
            env: Some("prod".into()),
            site: Some(format!("site-{tag}-{i:05}")),
            expires: Some(MAR1 as i64 + i as i64),
            ..MuteRule::new(
                format!("requirement {i} «{tag}»"),
                format!(
                    "{tag}: {}",
                    "accepted because the platform handles it; ".repeat(100)
                ),
            )
        })
        .collect()
}

/// Two roles. Run normally, it checks that `write_atomically` replaces a
/// file whole. Run by `a_kill_in_the_middle_of_a_write_…` as a child
/// process (with `SITE_STATUS_TEST_MUTE_WRITER` set), it writes the two
/// files the parent encoded (with `MuteStore::save`) over the rules file in
/// turn, the way `save` does, until killed; reading them ready-made keeps
/// the whole loop in the write.
#[test]
fn mute_writer_child_process() {
    let Ok(path) = std::env::var(WRITER_ENV) else {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mutes.toml");
        mute_store::write_atomically(&path, b"first, a longer content").unwrap();
        mute_store::write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert!(temp_files(dir.path()).is_empty());
        return;
    };
    let path = std::path::PathBuf::from(path);
    let dir = path.parent().unwrap();
    let texts = [
        std::fs::read(dir.join("old.encoded")).unwrap(),
        std::fs::read(dir.join("new.encoded")).unwrap(),
    ];
    println!("writer ready");
    let mut i = 0;
    loop {
        mute_store::write_atomically(&path, &texts[i % 2]).unwrap();
        i += 1;
    }
}

/// Kills the child if the test fails half-way.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
#[test]
fn a_kill_in_the_middle_of_a_write_leaves_the_old_or_the_new_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mutes.toml");
    let store = MuteStore::new(&path);
    let old = big_set("old", 200);
    let new = big_set("new", 200);
    for (rules, name) in [(&new, "new.encoded"), (&old, "old.encoded")] {
        store.save(rules).unwrap();
        std::fs::copy(&path, dir.path().join(name)).unwrap();
    }
    assert_eq!(store.load().unwrap(), old);
    let started = std::time::Instant::now();
    let encoded = std::fs::read(dir.path().join("old.encoded")).unwrap();
    mute_store::write_atomically(&path, &encoded).unwrap();
    // Kills land anywhere over about three writes by the child.
    let window = (started.elapsed().as_micros() as u64 * 3).max(1000);

    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let (mut saw_old, mut saw_new) = (0, 0);
    for round in 0..ROUNDS {
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "mute_writer_child_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WRITER_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut child = KillOnDrop(child);
        let stdout = child.0.stdout.take().unwrap();
        let ready = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains("writer ready"));
        assert!(ready, "the writer did not start");
        std::thread::sleep(Duration::from_micros(random(window)));
        // `Child::kill` is SIGKILL on Unix: no destructor, no flush.
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        drop(child);

        let loaded = store
            .load()
            .unwrap_or_else(|e| panic!("round {round}: the file does not parse: {e}"));
        if loaded == old {
            saw_old += 1;
        } else if loaded == new {
            saw_new += 1;
        } else {
            panic!("round {round}: the file holds neither the old nor the new rules");
        }
    }
    eprintln!(
        "{ROUNDS} kills within {window} µs: old {saw_old}, new {saw_new}, temporary files left by kills mid-write: {}",
        temp_files(dir.path()).len()
    );
    // A save after the kills leaves a complete file (stray temporary files
    // from the kills are ignored by load and swept once stale).
    store.save(&old).unwrap();
    assert_eq!(store.load().unwrap(), old);
}

#[test]
fn rewriting_the_rules_file_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mutes.toml");
    let store = MuteStore::new(path.clone());
    store.save(&dashboard_rules()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    store.add(rule("cron"), NOW).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a private rules file became {mode:o}");
}

#[test]
fn rewriting_a_symlinked_rules_file_writes_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("dotfiles");
    std::fs::create_dir(&shared).unwrap();
    let target = shared.join("mutes.toml");
    MuteStore::new(target.clone())
        .save(&dashboard_rules())
        .unwrap();
    let link = dir.path().join("mutes.toml");
    // Relative, as `ln -s dotfiles/mutes.toml` makes it.
    std::os::unix::fs::symlink("dotfiles/mutes.toml", &link).unwrap();
    let store = MuteStore::new(link.clone());
    let rules = store.add(rule("cron"), NOW).unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced by a regular file"
    );
    assert_eq!(MuteStore::new(target).load().unwrap(), rules);
    assert!(rules.iter().any(|r| r.requirement == "cron"));
}

#[test]
fn a_read_only_rules_file_is_refused_not_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mutes.toml");
    let store = MuteStore::new(path.clone());
    store.save(&dashboard_rules()).unwrap();
    let before = std::fs::read(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let e = store.add(rule("cron"), NOW).unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file was replaced"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o444);
}

// ---- real requirement ids (issue 23) --------------------------------------

/// Ids as a real Drupal reports them: with a space, and the path Drupal 10.3
/// names when its temporary directory is not writable. Each near miss is
/// an id a sloppy match (trimmed, case-folded, a prefix, `_` for a space)
/// would take for one of them.
const FILE_SYSTEM: &str = "file system";
const TEMPORARY_HTACCESS: &str = "temporary:///.htaccess";
const NEAR_MISSES: [&str; 5] = [
    "file_system",
    "File system",
    "file",
    "temporary://",
    "temporary:///.htaccess ",
];

/// borger fails both real ids and every near miss; kultur, of the same
/// profile, fails `file system` too.
fn real_id_sites() -> Vec<SiteSummary> {
    let mut failing = vec![
        (FILE_SYSTEM, Severity::Error),
        (TEMPORARY_HTACCESS, Severity::Error),
    ];
    failing.extend(NEAR_MISSES.iter().map(|id| (*id, Severity::Warning)));
    vec![
        site("borger", "kk_borger", Severity::Error, &failing),
        site(
            "kultur",
            "kk_borger",
            Severity::Error,
            &[(FILE_SYSTEM, Severity::Error)],
        ),
    ]
}

/// What `m` on borger's two requirements writes: one rule per id, narrowed
/// to the site.
fn real_id_rules() -> Vec<MuteRule> {
    [FILE_SYSTEM, TEMPORARY_HTACCESS]
        .into_iter()
        .map(|id| MuteRule {
            env: Some("prod".into()),
            site: Some("borger".into()),
            ..MuteRule::new(id, "the volume is read-only by design")
        })
        .collect()
}

#[test]
fn ids_with_spaces_and_colons_survive_the_rules_file_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = MuteStore::new(dir.path().join("mutes.toml"));
    for rule in real_id_rules() {
        store.add(rule, NOW).unwrap();
    }
    let text = std::fs::read_to_string(store.path()).unwrap();
    assert!(
        text.contains("requirement = \"file system\"")
            && text.contains("requirement = \"temporary:///.htaccess\""),
        "{text}"
    );
    assert_eq!(store.load().unwrap(), real_id_rules());
    // Through the same path the dashboard, `check` and `watch` take.
    let (rules, error) = load_rules(vec![], Some(&store));
    assert!(error.is_none(), "{error:?}");
    assert_eq!(rules.rules(), real_id_rules().as_slice());
}

#[test]
fn a_rule_for_a_real_id_mutes_exactly_that_requirement_on_exactly_that_site() {
    let rules = MuteRules::new(real_id_rules());
    for id in [FILE_SYSTEM, TEMPORARY_HTACCESS] {
        assert!(rules.find("prod", "kk_borger", "borger", id, NOW).is_some());
        assert!(rules.find("prod", "kk_borger", "kultur", id, NOW).is_none());
        assert!(rules.find("dev", "kk_borger", "borger", id, NOW).is_none());
    }
    for id in NEAR_MISSES {
        assert!(
            rules.find("prod", "kk_borger", "borger", id, NOW).is_none(),
            "{id:?} was muted"
        );
    }
    let sites = real_id_sites();
    let borger = rules.apply_to_summary("prod", &sites[0], NOW);
    let left: Vec<&str> = borger.failing.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(left, NEAR_MISSES);
    assert_eq!(borger.worst, Some(Severity::Warning));
    let muted: Vec<String> = rules
        .muted("prod", &sites[0], NOW)
        .into_iter()
        .map(|m| m.requirement)
        .collect();
    assert_eq!(muted, [FILE_SYSTEM, TEMPORARY_HTACCESS]);
    assert_eq!(rules.apply_to_summary("prod", &sites[1], NOW), sites[1]);
}

#[test]
fn check_honours_a_saved_rule_for_a_real_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = MuteStore::new(dir.path().join("mutes.toml"));
    store.save(&real_id_rules()).unwrap();
    let (rules, _) = load_rules(vec![], Some(&store));
    let report = build_report(outcome(real_id_sites()), NOW, STALE, &rules);
    let by_site = |name: &str| {
        let s = report.environments[0]
            .sites
            .iter()
            .find(|s| s.site == name)
            .unwrap();
        (s.severity, s.failing.clone(), s.muted.clone())
    };
    let (severity, failing, muted) = by_site("borger");
    assert_eq!(severity, "warning");
    assert_eq!(failing, NEAR_MISSES);
    assert_eq!(muted, [FILE_SYSTEM, TEMPORARY_HTACCESS]);
    let (severity, failing, muted) = by_site("kultur");
    assert_eq!(severity, "error");
    assert_eq!(failing, [FILE_SYSTEM]);
    assert!(muted.is_empty(), "{muted:?}");
    assert_eq!(report.exit_code(), EXIT_CRITICAL, "kultur still fails");
}

#[test]
fn watch_honours_a_saved_rule_for_a_real_id() {
    use site_status::cli::watch::{WatchFormat, WatchStream};
    use site_status::poller::{Fetched, Slot};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let store = MuteStore::new(dir.path().join("mutes.toml"));
    store.save(&real_id_rules()).unwrap();
    let (rules, _) = load_rules(vec![], Some(&store));
    let mut stream = WatchStream::new(vec!["prod".into()], STALE, rules, WatchFormat::Text);
    let poll = |sites: Vec<SiteSummary>, at: f64| Slot {
        last_good: Some(Fetched {
            value: Arc::new(EnvReport {
                sites,
                warnings: vec![],
                silences: None,
                partial: false,
            }),
            at: UNIX_EPOCH + Duration::from_secs_f64(at),
        }),
        ..Slot::default()
    };
    let healthy = vec![
        site("borger", "kk_borger", Severity::Ok, &[]),
        site("kultur", "kk_borger", Severity::Ok, &[]),
    ];
    assert!(stream.take(0, &poll(healthy, NOW)).lines.is_empty());
    // borger fails only what its rules mute: no line; kultur's
    // `file system` is not muted there, and is said with its id.
    let mut sites = real_id_sites();
    sites[0].failing.truncate(2);
    let said = stream.take(0, &poll(sites, NOW + 60.0));
    assert_eq!(said.lines.len(), 1, "{said:?}");
    assert!(
        said.lines[0].contains(" kultur ") && said.lines[0].ends_with("(file system)"),
        "{said:?}"
    );
}
