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
                    alerts: vec![],
                    silences: None,
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
                alerts: vec![],
                silences: None,
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
    };
    app.apply_detail(
        &DetailKey::Site(key),
        &Slot {
            last_good: Some(Fetched {
                value: Arc::new(Detail::Site(detail)),
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
