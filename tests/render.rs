//! Snapshots of every view, drawn with ratatui's TestBackend from a demo
//! fleet frozen at one instant, so a change to what the operator sees shows
//! up as a reviewable diff.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use site_status::app::keymap::{Action, Scope};
use site_status::app::{App, Settings};
use site_status::model::{PodReason, RolloutState, SiteState, SiteWorkloads};
use site_status::poller::{Detail, DetailKey, Fetched, Slot};
use site_status::source::demo::DemoFleet;
use site_status::source::{EnvReport, SourceError};
use site_status::ui::{self, Theme};

const NOW_UNIX: u64 = 1_795_469_437;
/// Simulated seconds since the demo started: a deploy wave is rolling.
const DEMO_T: f64 = 50.0;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW_UNIX)
}

fn good(report: EnvReport, age: u64) -> Slot<EnvReport> {
    Slot {
        last_good: Some(Fetched {
            value: Arc::new(report),
            at: now() - Duration::from_secs(age),
        }),
        ..Slot::default()
    }
}

fn demo_app(sites: usize, width: u16, height: u16) -> App {
    let fleet = DemoFleet::new(sites, 1);
    let envs: Vec<String> = fleet.environments().map(String::from).collect();
    let settings = Settings {
        origin: "demo (seed 1)".into(),
        refresh: Duration::from_secs(5),
        ..Settings::default()
    };
    let mut app = App::new(settings, &envs, width, height);
    app.now = now();
    // The demo simulates a cluster per environment.
    for pane in &mut app.envs {
        pane.kubernetes = true;
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

fn render(app: &App) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(app.width, app.height)).unwrap();
    terminal.draw(|f| ui::draw(f, app, &Theme::dark())).unwrap();
    terminal
}

/// Opens the site under the cursor and feeds it the demo's detail, as the
/// poller would.
fn open_site(app: &mut App) -> DetailKey {
    let effects = app.perform(Scope::Grid, Action::Open);
    let (key, workloads_key) = match &effects[..] {
        [
            site_status::app::Effect::Watch(key @ DetailKey::Site(_)),
            site_status::app::Effect::Watch(workloads @ DetailKey::Workloads(_)),
        ] => (key.clone(), workloads.clone()),
        other => panic!("unexpected effects {other:?}"),
    };
    let site = key.site_key().cloned().expect("a site query");
    let fleet = DemoFleet::new(320, 1);
    let detail = fleet
        .detail(&site.env, &site.site, DEMO_T, NOW_UNIX as f64)
        .unwrap();
    app.apply_detail(&key, &detail_slot(Detail::Site(detail)));
    let slot = match fleet.workloads(&site.env, &site.site, DEMO_T, NOW_UNIX as f64) {
        Ok(w) => detail_slot(Detail::Workloads(w)),
        Err(e) => Slot {
            last_error: Some((SourceError::new(e), now() - Duration::from_secs(1))),
            ..Slot::default()
        },
    };
    app.apply_detail(&workloads_key, &slot);
    key
}

/// Moves the cursor to the first site whose namespace `wanted` picks, in
/// grid order, and opens it.
fn open_site_where(app: &mut App, wanted: impl Fn(&SiteWorkloads) -> bool) -> String {
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

#[test]
fn kubernetes_pane_shows_a_rollout_in_progress() {
    let mut app = demo_app(320, 160, 45);
    open_site_where(&mut app, |w| {
        w.workloads
            .iter()
            .any(|w| w.rollout() == RolloutState::InProgress)
    });
    let screen = format!("{}", render(&app).backend());
    assert!(screen.contains("rolling out"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn kubernetes_pane_shows_a_crash_loop_with_its_events() {
    let mut app = demo_app(320, 120, 45);
    open_site_where(&mut app, |w| {
        w.pods.iter().any(|p| {
            p.problem
                .as_ref()
                .is_some_and(|p| p.reason == PodReason::CrashLoopBackOff)
        })
    });
    let screen = format!("{}", render(&app).backend());
    assert!(screen.contains("CrashLoopBackOff"), "{screen}");
    assert!(screen.contains("BackOff Pod/drupal-"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn kubernetes_pane_80x24_keeps_the_requirements_in_sight() {
    let mut app = demo_app(320, 80, 24);
    open_site_where(&mut app, |w| {
        w.pods.iter().any(|p| {
            p.problem
                .as_ref()
                .is_some_and(|p| p.reason == PodReason::ImagePullBackOff)
        })
    });
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn a_site_without_a_namespace_is_flagged_on_its_cell_and_in_its_view() {
    let mut app = demo_app(320, 200, 50);
    let grid = format!("{}", render(&app).backend());
    assert!(grid.contains('∅'), "{grid}");
    let target = app
        .grid
        .layout
        .sites
        .iter()
        .position(|s| app.envs[s.env].fleet.sites[s.index].not_in_cluster)
        .expect("the demo has a site without a namespace");
    for _ in 0..target {
        press(&mut app, Action::Right);
    }
    open_site(&mut app);
    let screen = format!("{}", render(&app).backend());
    assert!(screen.contains("∅ no namespace in the cluster"), "{screen}");
    assert!(
        screen.contains("error 1s ago: no namespace in the cluster for site"),
        "{screen}"
    );
}

fn detail_slot(detail: Detail) -> Slot<Detail> {
    Slot {
        last_good: Some(Fetched {
            value: Arc::new(detail),
            at: now() - Duration::from_secs(1),
        }),
        ..Slot::default()
    }
}

fn press(app: &mut App, action: Action) {
    let scope = app.scope();
    app.perform(scope, action);
}

#[test]
fn grid_80x24() {
    let app = demo_app(320, 80, 24);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn grid_200x50() {
    let app = demo_app(320, 200, 50);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn compact_200x50() {
    let mut app = demo_app(320, 200, 50);
    press(&mut app, Action::ToggleCompact);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn compact_80x24_shows_the_whole_default_fleet() {
    let mut app = demo_app(320, 80, 24);
    press(&mut app, Action::ToggleCompact);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    assert_eq!(app.grid.layout.sites.len(), 320);
    assert!(app.grid.layout.lines.len() <= app.grid_height() as usize);
}

#[test]
fn ten_thousand_sites_compact_200x50_fit_on_one_screen() {
    let mut app = demo_app(10_000, 200, 50);
    press(&mut app, Action::ToggleCompact);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    assert_eq!(app.grid.layout.sites.len(), 10_000);
    assert!(app.grid.layout.lines.len() <= app.grid_height() as usize);
}

#[test]
fn filtered_and_sorted_worst_first() {
    let mut app = demo_app(320, 100, 30);
    press(&mut app, Action::CycleSeverityFilter);
    press(&mut app, Action::ToggleSort);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn site_view() {
    let mut app = demo_app(320, 100, 30);
    // Land on a site in error so the view has something to say.
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
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn help_lists_every_binding() {
    let mut app = demo_app(320, 140, 180);
    press(&mut app, Action::Help);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let screen = format!("{}", terminal.backend());
    for b in site_status::app::keymap::BINDINGS {
        assert!(
            screen.contains(b.description),
            "help misses {:?}",
            b.description
        );
    }
}

#[test]
fn too_small_terminal_says_so() {
    let app = demo_app(320, 30, 6);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn failing_environment_keeps_its_data_marked_stale() {
    let mut app = demo_app(320, 120, 30);
    let fleet = DemoFleet::new(320, 1);
    let report = fleet.report("dev", DEMO_T, NOW_UNIX as f64).unwrap();
    let mut slot = good(report, 95);
    slot.last_error = Some((
        SourceError::new("connection refused"),
        now() - Duration::from_secs(4),
    ));
    slot.consecutive_failures = 3;
    app.apply_fleet(0, &slot);
    let terminal = render(&app);
    insta::assert_snapshot!(terminal.backend());
    let screen = format!("{}", terminal.backend());
    assert!(screen.contains("error 4s ago: connection refused"));
    assert!(screen.contains("STALE"));
    assert!(screen.contains("1m ago"), "the data's own age is shown");
}

#[test]
fn colours_and_selection_follow_the_theme() {
    let app = demo_app(320, 200, 50);
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    let theme = Theme::dark();
    // The cursor starts on the first site: one cell in the selection style,
    // holding that site's glyph, below the header.
    let selected: Vec<(u16, u16)> = (0..50u16)
        .flat_map(|y| (0..200u16).map(move |x| (x, y)))
        .filter(|(x, y)| buffer[(*x, *y)].bg == theme.selection_bg)
        .collect();
    assert!(!selected.is_empty());
    assert!(
        selected.iter().all(|(_, y)| *y == selected[0].1),
        "one line"
    );
    let first_cell = selected[0];
    assert!(first_cell.1 > 0);
    assert!(["●", "▲", "✖", "?", "◷", "⊘", "▼", "○"].contains(&buffer[first_cell].symbol()));
    // Every error glyph in the grid is drawn in the error colour.
    let mut errors = 0;
    // Below the header and the timeline strip, whose text has glyphs too.
    for y in 1 + app.timeline_lines()..48u16 {
        for x in 0..200u16 {
            let cell = &buffer[(x, y)];
            if cell.symbol() == "✖" && cell.bg != theme.selection_bg {
                assert_eq!(cell.fg, theme.state_color(SiteState::Error), "at {x},{y}");
                errors += 1;
            }
        }
    }
    assert!(errors > 0);
}

fn error_site_app(width: u16, height: u16) -> App {
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

#[test]
fn site_view_80x24() {
    let app = error_site_app(80, 24);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn site_view_200x50() {
    let app = error_site_app(200, 50);
    insta::assert_snapshot!(render(&app).backend());
}

/// The requirement view of the failing requirement, fed the demo's history.
fn requirement_app(width: u16, height: u16) -> App {
    let mut app = error_site_app(width, height);
    let effects = app.perform(Scope::Site, Action::Open);
    let key = effects
        .iter()
        .find_map(|e| match e {
            site_status::app::Effect::Watch(k @ DetailKey::History { .. }) => Some(k.clone()),
            _ => None,
        })
        .expect("the requirement view asks for its history");
    let DetailKey::History {
        site,
        requirement,
        window,
    } = &key
    else {
        unreachable!()
    };
    let history = DemoFleet::new(320, 1)
        .history(
            &site.env,
            &site.site,
            requirement,
            *window,
            DEMO_T + 3600.0,
            NOW_UNIX as f64,
        )
        .unwrap();
    app.apply_detail(&key, &detail_slot(Detail::History(history)));
    app
}

#[test]
fn requirement_view_80x24() {
    let app = requirement_app(80, 24);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn requirement_view_200x50() {
    let app = requirement_app(200, 50);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn back_from_every_view_returns_exactly_where_you_were() {
    let mut app = error_site_app(120, 40);
    let grid_cursor = app.grid.cursor;
    press(&mut app, Action::Down);
    press(&mut app, Action::Down);
    let site_selected = match app.stack.last() {
        Some(site_status::app::View::Site(v)) => v.selected,
        _ => panic!("not in the site view"),
    };
    app.perform(Scope::Site, Action::Open);
    press(&mut app, Action::Window24h);
    app.perform(Scope::Requirement, Action::Back);
    match app.stack.last() {
        Some(site_status::app::View::Site(v)) => assert_eq!(v.selected, site_selected),
        _ => panic!("not back in the site view"),
    }
    let effects = app.perform(Scope::Site, Action::Back);
    assert!(app.stack.is_empty());
    assert_eq!(app.grid.cursor, grid_cursor);
    assert!(
        effects
            .iter()
            .all(|e| matches!(e, site_status::app::Effect::Unwatch(_)))
    );
    assert!(
        app.watching
            .iter()
            .all(|k| matches!(k, DetailKey::Timeline { .. })),
        "nothing is polled for closed views: {:?}",
        app.watching
    );
}

/// A site whose recent reports include a change of worst severity, opened
/// on its reports list with the cursor on the changed report.
fn reports_app(width: u16, height: u16) -> App {
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
    assert!(effects.contains(&site_status::app::Effect::Watch(key.clone())));
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

#[test]
fn reports_list_80x24() {
    insta::assert_snapshot!(render(&reports_app(80, 24)).backend());
}

#[test]
fn reports_list_200x50() {
    insta::assert_snapshot!(render(&reports_app(200, 50)).backend());
}

#[test]
fn report_80x24() {
    let mut app = reports_app(80, 24);
    press(&mut app, Action::Open);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn report_200x50() {
    let mut app = reports_app(200, 50);
    press(&mut app, Action::Open);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn report_diff_80x24() {
    let mut app = reports_app(80, 24);
    press(&mut app, Action::ToggleDiff);
    let screen = format!("{}", render(&app).backend());
    assert!(
        screen.contains("changed") || screen.contains("added"),
        "{screen}"
    );
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn report_diff_200x50() {
    let mut app = reports_app(200, 50);
    press(&mut app, Action::Open);
    press(&mut app, Action::ToggleDiff);
    insta::assert_snapshot!(render(&app).backend());
}

/// The demo app after a second poll 40 s later, so transitions exist.
fn app_with_transitions(width: u16, height: u16) -> App {
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

#[test]
fn transition_log_80x24() {
    let mut app = app_with_transitions(80, 24);
    press(&mut app, Action::OpenTransitions);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn transition_log_200x50() {
    let mut app = app_with_transitions(200, 50);
    press(&mut app, Action::OpenTransitions);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn change_markers_underline_recently_changed_cells() {
    let app = app_with_transitions(200, 50);
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    let changed: Vec<&str> = app.transitions.iter().map(|t| t.site.as_str()).collect();
    let mut underlined = 0;
    for y in 0..50u16 {
        for x in 0..200u16 {
            if buffer[(x, y)]
                .modifier
                .contains(ratatui::style::Modifier::UNDERLINED)
            {
                underlined += 1;
            }
        }
    }
    assert!(underlined > 0, "changed cells {changed:?} carry a marker");
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn pivot_80x24() {
    let mut app = demo_app(320, 80, 24);
    press(&mut app, Action::OpenPivot);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn pivot_200x50_and_its_sites() {
    let mut app = demo_app(320, 200, 50);
    press(&mut app, Action::OpenPivot);
    insta::assert_snapshot!("pivot_200x50", render(&app).backend());
    press(&mut app, Action::Open);
    insta::assert_snapshot!("pivot_sites_200x50", render(&app).backend());
}

#[test]
fn frozen_header_counts_the_updates_waiting() {
    let mut app = demo_app(320, 120, 30);
    press(&mut app, Action::ToggleFreeze);
    let fleet = DemoFleet::new(320, 1);
    let report = fleet
        .report("dev", DEMO_T + 40.0, NOW_UNIX as f64 + 40.0)
        .unwrap();
    let before = app.envs[0].counts;
    app.offer_fleets(vec![(0, good(report, 0))]);
    assert_eq!(
        app.envs[0].counts, before,
        "the view does not change while frozen"
    );
    let screen = format!("{}", render(&app).backend());
    assert!(screen.contains("FROZEN, 1 updates waiting"), "{screen}");
    insta::assert_snapshot!(render(&app).backend());
    press(&mut app, Action::ToggleFreeze);
    assert_eq!(app.held_updates, 0);
    assert!(!format!("{}", render(&app).backend()).contains("FROZEN"));
}

fn rollout_app(width: u16, height: u16) -> App {
    let mut app = demo_app(320, width, height);
    let effects = app.perform(Scope::Grid, Action::OpenRollout);
    let fleet = DemoFleet::new(320, 1);
    let mut fed = 0;
    for effect in effects {
        if let site_status::app::Effect::Watch(key @ DetailKey::Rollout { .. }) = effect {
            let DetailKey::Rollout { env, profile } = &key else {
                unreachable!()
            };
            let rollout = fleet.rollout(env, profile, DEMO_T).unwrap();
            app.apply_detail(&key, &detail_slot(Detail::Rollout(rollout)));
            fed += 1;
        }
    }
    assert_eq!(fed, 3, "one rollout query per environment");
    app
}

#[test]
fn rollout_80x24() {
    insta::assert_snapshot!(render(&rollout_app(80, 24)).backend());
}

#[test]
fn rollout_200x50() {
    let mut app = rollout_app(200, 50);
    insta::assert_snapshot!("rollout_200x50", render(&app).backend());
    // → moves to the next profile, which needs its own queries.
    let effects = app.perform(Scope::Rollout, Action::Right);
    assert_eq!(
        effects
            .iter()
            .filter(|e| matches!(
                e,
                site_status::app::Effect::Watch(DetailKey::Rollout { .. })
            ))
            .count(),
        3
    );
}

#[test]
fn alert_badges_mark_cells_and_the_site_view_lists_them() {
    let app = demo_app(320, 200, 50);
    let with_alert = app
        .envs
        .iter()
        .flat_map(|e| e.report.iter().flat_map(|r| r.alerts.iter()))
        .count();
    assert!(with_alert > 0, "the demo has firing alerts");
    let screen = format!("{}", render(&app).backend());
    assert!(screen.contains('⚑'), "{screen}");
}
