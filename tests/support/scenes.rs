//! The demo fleet frozen at one instant, in every view: the scenes the
//! snapshot tests (tests/render.rs) and the screenshots
//! (tests/screenshots.rs, `cargo run --example screenshots`) draw.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use site_status::app::keymap::{Action, Scope};
use site_status::app::{App, Settings};
use site_status::model::{SiteState, SiteWorkloads};
use site_status::poller::{Detail, DetailKey, Fetched, Slot};
use site_status::source::demo::DemoFleet;
use site_status::source::{EnvReport, SourceError};
use site_status::ui::{self, Theme};

pub const NOW_UNIX: u64 = 1_795_469_437;
/// Simulated seconds since the demo started: a deploy wave is rolling.
pub const DEMO_T: f64 = 50.0;

pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW_UNIX)
}

pub fn good(report: EnvReport, age: u64) -> Slot<EnvReport> {
    Slot {
        last_good: Some(Fetched {
            value: Arc::new(report),
            at: now() - Duration::from_secs(age),
        }),
        ..Slot::default()
    }
}

pub fn demo_app(sites: usize, width: u16, height: u16) -> App {
    let fleet = DemoFleet::new(sites, 1);
    let envs: Vec<String> = fleet.environments().map(String::from).collect();
    let settings = Settings {
        origin: "demo (seed 1)".into(),
        refresh: Duration::from_secs(5),
        ..Settings::default()
    };
    let mut app = App::new(settings, &envs, width, height);
    app.now = now();
    // The demo simulates a cluster and a Loki per environment.
    for pane in &mut app.envs {
        pane.kubernetes = true;
        pane.reports = true;
    }
    for (i, env) in envs.iter().enumerate() {
        let report = fleet.report(env, DEMO_T, NOW_UNIX as f64).unwrap();
        app.apply_fleet(i, &good(report, 2));
        // The strip over the grid, as the demo simulates it.
        let timeline = fleet
            .timeline(env, DEMO_T, NOW_UNIX as f64, 3600.0, 60.0)
            .unwrap();
        app.apply_detail(
            &DetailKey::Timeline { env: env.clone() },
            &detail_slot(Detail::Timeline(timeline)),
        );
    }
    app
}

pub fn render(app: &App) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(app.width, app.height)).unwrap();
    terminal.draw(|f| ui::draw(f, app, &Theme::dark())).unwrap();
    terminal
}

/// Opens the site under the cursor and feeds it the demo's detail, as the
/// poller would.
pub fn open_site(app: &mut App) -> DetailKey {
    let effects = app.perform(Scope::Grid, Action::Open);
    let (key, workloads_key, reports_key) = match &effects[..] {
        [
            site_status::app::Effect::Watch(key @ DetailKey::Site(_)),
            site_status::app::Effect::Watch(workloads @ DetailKey::Workloads(_)),
            site_status::app::Effect::Watch(reports @ DetailKey::Reports(_)),
        ] => (key.clone(), workloads.clone(), reports.clone()),
        other => panic!("unexpected effects {other:?}"),
    };
    let site = key.site_key().cloned().expect("a site query");
    let fleet = DemoFleet::new(320, 1);
    let detail = fleet
        .detail(&site.env, &site.site, DEMO_T, NOW_UNIX as f64)
        .unwrap();
    app.apply_detail(&key, &detail_slot(Detail::Site(Box::new(detail))));
    let slot = match fleet.workloads(&site.env, &site.site, DEMO_T, NOW_UNIX as f64) {
        Ok(w) => detail_slot(Detail::Workloads(w)),
        Err(e) => Slot {
            last_error: Some((SourceError::new(e), now() - Duration::from_secs(1))),
            ..Slot::default()
        },
    };
    app.apply_detail(&workloads_key, &slot);
    // Its latest reports, where the requirement texts come from.
    let reports = site_status::model::Reports {
        reports: fleet
            .report_lines(
                &site.env,
                &site.site,
                site_status::poller::REPORTS_SHOWN,
                DEMO_T,
                NOW_UNIX as f64,
            )
            .unwrap_or_default()
            .iter()
            .map(|(t, line)| site_status::model::parse_report_line(line, *t))
            .collect(),
        notices: Vec::new(),
    };
    app.apply_detail(&reports_key, &detail_slot(Detail::Reports(reports)));
    key
}

/// Moves the cursor to the first site whose namespace `wanted` picks, in
/// grid order, and opens it.
pub fn open_site_where(app: &mut App, wanted: impl Fn(&SiteWorkloads) -> bool) -> String {
    let fleet = DemoFleet::new(320, 1);
    let (target, name) = app
        .grid
        .layout
        .sites
        .iter()
        .enumerate()
        .find_map(|(i, s)| {
            let env = &app.envs[s.env];
            let name = &env.fleet.sites[s.index].name;
            let w = fleet
                .workloads(&env.fleet.name, name, DEMO_T, NOW_UNIX as f64)
                .ok()?;
            wanted(&w).then(|| (i, name.clone()))
        })
        .expect("the demo has such a site");
    for _ in 0..target {
        press(app, Action::Right);
    }
    open_site(app);
    name
}

/// Opens the alerts view and feeds it each environment's alerts, as the
/// poller would.
pub fn open_alerts(app: &mut App) {
    let scope = app.scope();
    let effects = app.perform(scope, Action::OpenAlerts);
    let fleet = DemoFleet::new(320, 1);
    let mut fed = 0;
    for effect in &effects {
        if let site_status::app::Effect::Watch(key @ DetailKey::Alerts { env }) = effect {
            let list = fleet
                .alert_list(
                    env,
                    DEMO_T,
                    NOW_UNIX as f64,
                    site_status::model::ALERTS_PER_NAME,
                )
                .unwrap();
            app.apply_detail(key, &detail_slot(Detail::Alerts(list)));
            fed += 1;
        }
    }
    assert_eq!(
        fed,
        app.envs.len(),
        "one alerts read per environment: {effects:?}"
    );
}

pub fn detail_slot(detail: Detail) -> Slot<Detail> {
    Slot {
        last_good: Some(Fetched {
            value: Arc::new(detail),
            at: now() - Duration::from_secs(1),
        }),
        ..Slot::default()
    }
}

pub fn press(app: &mut App, action: Action) {
    let scope = app.scope();
    app.perform(scope, action);
}

pub fn error_site_app(width: u16, height: u16) -> App {
    let mut app = demo_app(320, width, height);
    let target = app
        .grid
        .layout
        .sites
        .iter()
        .position(|s| app.site_state(*s) == Some(SiteState::Error))
        .unwrap();
    for _ in 0..target {
        press(&mut app, Action::Right);
    }
    open_site(&mut app);
    app
}

/// A site whose recent reports include a change of worst severity, opened
/// on its reports list with the cursor on the changed report.
pub fn reports_app(width: u16, height: u16) -> App {
    let fleet = DemoFleet::new(320, 1);
    let mut app = demo_app(320, width, height);
    let parse = |env: &str, site: &str| -> Vec<site_status::model::Report> {
        fleet
            .report_lines(
                env,
                site,
                site_status::poller::REPORTS_SHOWN,
                DEMO_T + 3600.0,
                NOW_UNIX as f64,
            )
            .unwrap()
            .iter()
            .map(|(t, line)| site_status::model::parse_report_line(line, *t))
            .collect()
    };
    let (target, changed_at) = app
        .grid
        .layout
        .sites
        .iter()
        .enumerate()
        .find_map(|(i, s)| {
            let env = &app.envs[s.env].fleet;
            let reports = parse(&env.name, &env.sites[s.index].name);
            let at = (0..reports.len().saturating_sub(1)).find(|k| {
                reports[*k].worst() == Some(site_status::model::Severity::Error)
                    && reports[*k + 1].worst() != reports[*k].worst()
            })?;
            Some((i, at))
        })
        .expect("some demo site's reports change");
    for _ in 0..target {
        press(&mut app, Action::Right);
    }
    let site = open_site(&mut app);
    let effects = app.perform(Scope::Site, Action::OpenReports);
    let site = site.site_key().cloned().expect("a site query");
    let key = DetailKey::Reports(site.clone());
    // The site view already reads the same reports (its texts): one query.
    assert!(
        !effects.contains(&site_status::app::Effect::Watch(key.clone())),
        "{effects:?}"
    );
    let reports = parse(&site.env, &site.site);
    app.apply_detail(
        &key,
        &detail_slot(Detail::Reports(site_status::model::Reports {
            reports,
            notices: vec![],
        })),
    );
    for _ in 0..changed_at {
        press(&mut app, Action::Down);
    }
    app
}

/// The demo app after a second poll 40 s later, so transitions exist.
pub fn app_with_transitions(width: u16, height: u16) -> App {
    let mut app = demo_app(320, width, height);
    let fleet = DemoFleet::new(320, 1);
    let later = now() + Duration::from_secs(40);
    app.now = later;
    let envs: Vec<String> = fleet.environments().map(String::from).collect();
    let changes = envs
        .iter()
        .enumerate()
        .map(|(i, env)| {
            let report = fleet
                .report(env, DEMO_T + 40.0, NOW_UNIX as f64 + 40.0)
                .unwrap();
            (
                i,
                Slot {
                    last_good: Some(Fetched {
                        value: Arc::new(report),
                        at: later - Duration::from_secs(1),
                    }),
                    ..Slot::default()
                },
            )
        })
        .collect();
    app.offer_fleets(changes);
    assert!(!app.transitions.is_empty());
    app
}

/// One screenshot: a file name in `screenshots/`, what it shows, and the
/// app and theme that draw it.
pub struct Shot {
    pub name: &'static str,
    pub caption: &'static str,
    pub app: App,
    pub theme: Theme,
}

/// The README's screenshots, all from the demo (seed 1) at one instant.
pub fn screenshots() -> Vec<Shot> {
    let light = site_status::config::theme_file::built_in("light").expect("the light theme");
    let grid = || demo_app(320, 160, 45);
    let mut compact = demo_app(10_000, 200, 50);
    press(&mut compact, Action::ToggleCompact);
    let mut site = demo_app(320, 160, 45);
    open_site_where(&mut site, |w| {
        w.pods.iter().any(|p| {
            p.problem
                .as_ref()
                .is_some_and(|p| p.reason == site_status::model::PodReason::CrashLoopBackOff)
        })
    });
    let mut diff = reports_app(160, 45);
    press(&mut diff, Action::Open);
    press(&mut diff, Action::ToggleDiff);
    let mut pivot = grid();
    press(&mut pivot, Action::OpenPivot);
    let mut log = app_with_transitions(160, 45);
    press(&mut log, Action::OpenTransitions);
    let mut small_warnings = demo_app(320, 80, 24);
    press(&mut small_warnings, Action::CycleSeverityFilter);
    vec![
        Shot {
            name: "grid-200x50.png",
            caption: "The default grid at 200x50: all 320 sites, each with its name",
            app: demo_app(320, 200, 50),
            theme: Theme::dark(),
        },
        Shot {
            name: "problems-200x50.png",
            caption: "The problems view (e): every site that is not OK, worst first, and why",
            app: problems_app(320, 200, 50),
            theme: Theme::dark(),
        },
        Shot {
            name: "grid-80x24-warnings.png",
            caption: "At 80x24, one f: every site that is not OK, by name",
            app: small_warnings,
            theme: Theme::dark(),
        },
        Shot {
            name: "problems-80x24.png",
            caption: "The problems view at 80x24, the selected site's latest report under it",
            app: problems_app(320, 80, 24),
            theme: Theme::dark(),
        },
        Shot {
            name: "grid-dark.png",
            caption: "The fleet grid, dark theme",
            app: grid(),
            theme: Theme::dark(),
        },
        Shot {
            name: "grid-light.png",
            caption: "The fleet grid, light theme",
            app: grid(),
            theme: light,
        },
        Shot {
            name: "compact-10000.png",
            caption: "Compact mode: 10,000 sites on a 200x50 terminal",
            app: compact,
            theme: Theme::dark(),
        },
        Shot {
            name: "site-view.png",
            caption: "A failing site: its requirements, and its Kubernetes pane",
            app: site,
            theme: Theme::dark(),
        },
        Shot {
            name: "report-diff.png",
            caption: "What changed between two status reports",
            app: diff,
            theme: Theme::dark(),
        },
        Shot {
            name: "pivot.png",
            caption: "The requirement pivot: which requirements fail on how many sites",
            app: pivot,
            theme: Theme::dark(),
        },
        Shot {
            name: "transitions.png",
            caption: "The transition log: what changed, when",
            app: log,
            theme: Theme::dark(),
        },
    ]
}

/// A shot's frame, drawn as the terminal would get it.
pub fn frame(shot: &Shot) -> ratatui::buffer::Buffer {
    let mut terminal =
        Terminal::new(TestBackend::new(shot.app.width, shot.app.height)).expect("a test terminal");
    terminal
        .draw(|f| ui::draw(f, &shot.app, &shot.theme))
        .expect("a frame");
    terminal.backend().buffer().clone()
}

/// The problems view on the demo fleet, with the selected site's latest
/// report fed in as the poller would, so the pane under the list says why.
pub fn problems_app(sites: usize, width: u16, height: u16) -> App {
    let fleet = DemoFleet::new(sites, 1);
    let mut app = demo_app(sites, width, height);
    let effects = app.perform(Scope::Grid, Action::OpenProblems);
    let key = effects
        .iter()
        .find_map(|e| match e {
            site_status::app::Effect::Watch(key @ DetailKey::Reports(_)) => Some(key.clone()),
            _ => None,
        })
        .expect("the problems view reads its selected site's report");
    let site = match &key {
        DetailKey::Reports(site) => site.clone(),
        _ => unreachable!(),
    };
    let reports = site_status::model::Reports {
        reports: fleet
            .report_lines(&site.env, &site.site, 1, DEMO_T, NOW_UNIX as f64)
            .unwrap()
            .iter()
            .map(|(t, line)| site_status::model::parse_report_line(line, *t))
            .collect(),
        notices: Vec::new(),
    };
    app.apply_detail(&key, &detail_slot(Detail::Reports(reports)));
    app
}
