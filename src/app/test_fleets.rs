//! Small fleets for the app's unit tests: two environments of six healthy
//! sites, or one environment with two failing ones (and its first site's
//! view open).

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::model::{
    Detail, DetailKey, EnvReport, Requirement, Severity, SiteDetail, SiteKey, SiteSummary,
};
use crate::poller::{Fetched, Slot};

use super::keymap::{Action, Scope};
use super::{App, Settings};

pub(super) fn app(width: u16, height: u16) -> App {
    let envs = vec!["dev".to_string(), "prod".to_string()];
    let mut app = App::new(Settings::default(), &envs, width, height);
    for (i, env) in envs.iter().enumerate() {
        let sites = ["alpha", "bib-nord", "borger", "kultur", "park", "zoo"]
            .iter()
            .map(|name| SiteSummary {
                worst: Some(Severity::Ok),
                ..SiteSummary::new(format!("{env}-{name}"), "kk_base")
            })
            .collect();
        let slot = Slot {
            last_good: Some(Fetched {
                value: Arc::new(EnvReport {
                    sites,
                    warnings: vec![],
                    silences: None,
                    partial: false,
                }),
                at: app.now,
            }),
            ..Slot::default()
        };
        app.apply_fleet(i, &slot);
    }
    app
}

pub(super) fn cursor_name(app: &App) -> String {
    let site = app.cursor_site().unwrap();
    app.envs[site.env].fleet.sites[site.index].name.clone()
}

pub(super) fn failing_app() -> App {
    let envs = vec!["prod".to_string()];
    let mut app = App::new(Settings::default(), &envs, 80, 24);
    let sites = vec![
        SiteSummary {
            worst: Some(Severity::Warning),
            failing: vec![("update_contrib".into(), Severity::Warning)],
            ..SiteSummary::new("borger", "kk_borger")
        },
        SiteSummary {
            worst: Some(Severity::Error),
            failing: vec![
                ("cron".into(), Severity::Error),
                ("update_contrib".into(), Severity::Warning),
            ],
            ..SiteSummary::new("kultur", "kk_culture")
        },
    ];
    let slot = Slot {
        last_good: Some(Fetched {
            value: Arc::new(EnvReport {
                sites,
                warnings: vec![],
                silences: None,
                partial: false,
            }),
            at: app.now,
        }),
        ..Slot::default()
    };
    app.apply_fleet(0, &slot);
    app
}

/// `failing_app` with the site view of prod's `borger` open and its detail
/// in: one requirement, `update_contrib`, at warning.
pub(super) fn failing_app_with_site_open() -> App {
    let mut app = failing_app();
    app.perform(Scope::Grid, Action::Open);
    let key = SiteKey {
        env: "prod".into(),
        site: "borger".into(),
    };
    let detail = SiteDetail {
        summary: app.envs[0].fleet.sites[0].clone(),
        requirements: vec![Requirement {
            id: "update_contrib".into(),
            label: "update_contrib".into(),
            title: "Module and theme update status".into(),
            severity: Some(Severity::Warning),
            value: String::new(),
            description: String::new(),
        }],
        run_duration: None,
        info: None,
        last_success: None,
        alerts: vec![],
        alerts_error: None,
    };
    app.apply_detail(
        &DetailKey::Site(key),
        &Slot {
            last_good: Some(Fetched {
                value: Arc::new(Detail::Site(Box::new(detail))),
                at: app.now,
            }),
            ..Slot::default()
        },
    );
    app
}

/// Types `text` a key at a time, as the operator would.
pub(super) fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle_key(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
}

/// Requirement ids as a real Drupal 10.3 reports them (issue 23): with
/// spaces, dots, and the path it names when its temporary directory is
/// not writable. In Prometheus' order (no titles: by id).
pub(super) const REAL_IDS: [&str; 4] = [
    "file system",
    "image.toolkit.gd.version",
    "temporary:///.htaccess",
    "update access",
];

/// `failing_app` with prod's `borger` open, failing [`REAL_IDS`] at
/// warning, as Prometheus has them (ids, no titles); with `loki`, prod has
/// reports. Answers the effects of opening the site too.
pub(super) fn real_ids_app(loki: bool) -> (App, Vec<super::Effect>) {
    let mut app = failing_app();
    app.envs[0].reports = loki;
    let effects = app.perform(Scope::Grid, Action::Open);
    let key = SiteKey {
        env: "prod".into(),
        site: "borger".into(),
    };
    let detail = SiteDetail {
        summary: app.envs[0].fleet.sites[0].clone(),
        requirements: REAL_IDS
            .iter()
            .map(|id| Requirement {
                id: id.to_string(),
                label: id.to_string(),
                title: String::new(),
                severity: Some(Severity::Warning),
                value: String::new(),
                description: String::new(),
            })
            .collect(),
        run_duration: None,
        info: None,
        last_success: None,
        alerts: vec![],
        alerts_error: None,
    };
    app.apply_detail(
        &DetailKey::Site(key),
        &Slot {
            last_good: Some(Fetched {
                value: Arc::new(Detail::Site(Box::new(detail))),
                at: app.now,
            }),
            ..Slot::default()
        },
    );
    (app, effects)
}

/// borger's latest report in Loki, with Drupal's titles for [`REAL_IDS`]:
/// sorted by title they come in another order than by id.
pub(super) fn real_ids_report() -> crate::model::Reports {
    let line = r#"{"site": "borger", "drush_exit_code": 0, "requirements": {
        "file system": {"title": "File system", "severity": "Warning", "sid": 1, "value": "Writable (public download method)", "description": ""},
        "image.toolkit.gd.version": {"title": "GD library", "severity": "Warning", "sid": 1, "value": "bundled (2.1.0 compatible)", "description": ""},
        "temporary:///.htaccess": {"title": "Temporary files directory", "severity": "Warning", "sid": 1, "value": "not writable", "description": ""},
        "update access": {"title": "Access to update.php", "severity": "Warning", "sid": 1, "value": "Protected", "description": ""}}}"#;
    crate::model::Reports {
        reports: vec![crate::model::parse_report_line(
            line,
            1_700_000_000_000_000_000,
        )],
        notices: Vec::new(),
    }
}

/// The selected requirement's label, in the site view on top.
pub(super) fn selected_label(app: &App) -> Option<String> {
    match app.stack.last() {
        Some(super::View::Site(site)) => site
            .shown()
            .and_then(|d| d.requirements.get(site.selected))
            .map(|r| r.label.clone()),
        _ => None,
    }
}
