//! Snapshots of every view, drawn with ratatui's TestBackend from a demo
//! fleet frozen at one instant, so a change to what the operator sees shows
//! up as a reviewable diff.

mod support;

use std::time::Duration;

use site_status::app::App;
use site_status::app::keymap::{Action, Scope};
use site_status::model::{PodReason, RolloutState, SiteState};
use site_status::poller::{Detail, DetailKey};
use site_status::source::SourceError;
use site_status::source::demo::DemoFleet;
use site_status::ui::Theme;
use support::scenes::*;

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

#[test]
fn grid_80x24() {
    let app = demo_app(320, 80, 24);
    insta::assert_snapshot!(render(&app).backend());
}

#[test]
fn grid_120x40() {
    let app = demo_app(320, 120, 40);
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
    // A site in error, so the view has something to say.
    let app = error_site_app(100, 30);
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

/// A requirement the site passes and no other site in its environment
/// fails: the list of others says so, not "this site is the only one".
#[test]
fn requirement_no_site_fails_says_so_80x24() {
    let mut app = error_site_app(80, 24);
    // The site view lists requirements worst first: the last one passes.
    for _ in 0..100 {
        press(&mut app, Action::Down);
    }
    app.perform(Scope::Site, Action::Open);
    let screen = render(&app).backend().to_string();
    assert!(screen.contains("None: no site in"), "{screen}");
    assert!(!screen.contains("this site is the only one"), "{screen}");
    insta::assert_snapshot!(screen);
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
        .flat_map(|e| e.fleet.sites.iter())
        .filter(|s| s.alert != site_status::model::AlertBadge::None)
        .count();
    assert!(with_alert > 0, "the demo has firing alerts");
    let screen = format!("{}", render(&app).backend());
    assert!(screen.contains('⚑'), "{screen}");
}

/// The site view's `r`: "running…" under the site's facts while the
/// agent runs, then the fresh report it made on top, said to be fresh.
#[test]
fn run_now_shows_running_then_the_fresh_report() {
    use site_status::app::Effect;
    use site_status::poller::FinishedRun;
    use std::sync::Arc;

    let mut app = error_site_app(100, 30);
    let effects = app.perform(Scope::Site, Action::RunReport);
    let key = match &effects[..] {
        [Effect::RunReport(key)] => key.clone(),
        other => panic!("unexpected effects {other:?}"),
    };
    app.now = now() + Duration::from_secs(3);
    let running = render(&app);
    let screen = format!("{}", running.backend());
    assert!(
        screen.contains("running… the status report, on the site's agent (3s so far)"),
        "{screen}"
    );
    insta::assert_snapshot!("run_now_running", running.backend());

    let fleet = DemoFleet::new(320, 1);
    let lines = fleet
        .report_lines(&key.env, &key.site, 1, DEMO_T, NOW_UNIX as f64)
        .unwrap();
    let report = site_status::model::parse_report_line(&lines[0].1, lines[0].0);
    app.offer_run(FinishedRun {
        key,
        result: Ok(Arc::new(report)),
        at: now() + Duration::from_secs(4),
    });
    let fresh = render(&app);
    let screen = format!("{}", fresh.backend());
    assert!(screen.contains("› run now ›"), "{screen}");
    assert!(
        screen.contains("made just now by the site's agent"),
        "{screen}"
    );
    insta::assert_snapshot!("run_now_fresh_report", fresh.backend());
}

/// `a`: the fleet's alerts by name, firing first, then silenced (with
/// who), then pending; the demo simulates all three.
#[test]
fn alerts_view_groups_the_fleets_alerts() {
    let mut app = demo_app(320, 140, 40);
    open_alerts(&mut app);
    let terminal = render(&app);
    let screen = format!("{}", terminal.backend());
    assert!(screen.contains("alerts"), "{screen}");
    assert!(
        screen.contains("silenced prod   erhverv                  by ops-oncall"),
        "{screen}"
    );
    assert!(screen.contains("pending"), "{screen}");
    assert!(screen.contains("firing"), "{screen}");
    insta::assert_snapshot!(terminal.backend());

    // Enter opens the selected alert's site.
    let alerts = app.fleet_alerts();
    let (env, first) = alerts[0];
    let (env_name, site) = (app.envs[env].fleet.name.clone(), first.site.clone());
    press(&mut app, Action::Open);
    match app.stack.last() {
        Some(site_status::app::View::Site(view)) => {
            assert_eq!(
                (view.key.env.as_str(), view.key.site.as_str()),
                (env_name.as_str(), site.as_str())
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn problems_view_80x24() {
    insta::assert_snapshot!(render(&problems_app(320, 80, 24)).backend());
}

#[test]
fn problems_view_120x40() {
    insta::assert_snapshot!(render(&problems_app(320, 120, 40)).backend());
}

#[test]
fn problems_view_200x50() {
    insta::assert_snapshot!(render(&problems_app(320, 200, 50)).backend());
}

/// At 80x19 a crash-looping site's pane has more to say than it has room
/// for: it says how much is below, and the wheel over it scrolls it (and
/// only it: the requirement list keeps its cursor).
#[test]
fn a_kubernetes_pane_too_long_for_the_screen_scrolls_with_the_wheel() {
    use crossterm::event::{Event, KeyModifiers, MouseEvent, MouseEventKind};
    let mut app = demo_app(320, 80, 19);
    open_site_where(&mut app, |w| {
        w.pods.iter().any(|p| {
            p.problem
                .as_ref()
                .is_some_and(|p| p.reason == PodReason::CrashLoopBackOff)
        })
    });
    let draw = |app: &mut App| {
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 19)).unwrap();
        let mut hits = None;
        terminal
            .draw(|f| hits = Some(site_status::ui::draw_with_hit_map(f, app, &Theme::dark())))
            .unwrap();
        app.hit_map = hits.unwrap_or_default();
        let buffer = terminal.backend().buffer().clone();
        (0..19)
            .map(|y| {
                (0..80)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
    };
    let before = draw(&mut app);
    let (row, line) = before
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains("more lines below"))
        .unwrap_or_else(|| panic!("the pane says it has more:\n{}", before.join("\n")));
    let column = line
        .find("more lines")
        .map(|at| line[..at].chars().count())
        .unwrap() as u16;
    let wheel = |kind| {
        Event::Mouse(MouseEvent {
            kind,
            column,
            row: row as u16 - 1,
            modifiers: KeyModifiers::NONE,
        })
    };
    let selected = |app: &App| match app.stack.last() {
        Some(site_status::app::View::Site(v)) => (v.selected, v.kube_scroll),
        _ => panic!("the site view"),
    };
    let (requirement, _) = selected(&app);
    app.handle_event(&wheel(MouseEventKind::ScrollDown));
    app.handle_event(&wheel(MouseEventKind::ScrollDown));
    assert_eq!(
        selected(&app),
        (requirement, 2),
        "the pane scrolled, not the list"
    );
    let after = draw(&mut app);
    assert_ne!(before[row - 1], after[row - 1], "new lines in the pane");
    assert_eq!(before[..row - 8], after[..row - 8], "the list stays");
    for _ in 0..5 {
        app.handle_event(&wheel(MouseEventKind::ScrollUp));
    }
    assert_eq!(selected(&app), (requirement, 0));
    assert_eq!(draw(&mut app), before);
}

// ---- real requirement ids, and where the site view's texts come from ------

/// One site, prod's borger, failing ids as a real Drupal names them, its
/// site view open with Prometheus' answer in (ids, no titles); `loki` says
/// whether prod has reports.
fn real_ids_site_app(loki: bool) -> App {
    use site_status::app::Settings;
    use site_status::model::{EnvReport, Requirement, Severity, SiteDetail, SiteSummary};
    let ids = [
        ("file system", Severity::Error),
        ("image.toolkit.gd.version", Severity::Warning),
    ];
    let summary = SiteSummary {
        worst: Some(Severity::Error),
        run_success: Some(true),
        up: Some(true),
        failing: ids.iter().map(|(id, s)| (id.to_string(), *s)).collect(),
        ..SiteSummary::new("borger", "kk_borger")
    };
    let mut app = App::new(Settings::default(), &["prod".to_string()], 100, 20);
    app.now = now();
    app.envs[0].reports = loki;
    app.apply_fleet(
        0,
        &good(
            EnvReport {
                sites: vec![summary.clone()],
                warnings: vec![],
                silences: None,
                partial: false,
            },
            2,
        ),
    );
    let effects = app.perform(Scope::Grid, Action::Open);
    let Some(site_status::app::Effect::Watch(key @ DetailKey::Site(_))) = effects.first() else {
        panic!("{effects:?}");
    };
    let detail = SiteDetail {
        summary,
        requirements: ids
            .iter()
            .map(|(id, s)| Requirement {
                id: id.to_string(),
                label: id.to_string(),
                title: String::new(),
                severity: Some(*s),
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
    app.apply_detail(key, &detail_slot(Detail::Site(Box::new(detail))));
    app
}

#[test]
fn site_view_says_when_no_report_can_be_read() {
    let mut app = real_ids_site_app(true);
    let key = DetailKey::Reports(site_status::model::SiteKey {
        env: "prod".into(),
        site: "borger".into(),
    });
    app.apply_detail(
        &key,
        &site_status::poller::Slot {
            last_error: Some((
                SourceError::new("Loki http://loki:3100: HTTP 502: bad gateway"),
                now() - Duration::from_secs(30),
            )),
            ..Default::default()
        },
    );
    let screen = render(&app).backend().to_string();
    assert!(
        screen.contains("no report can be read: Loki http://loki:3100: HTTP 502"),
        "{screen}"
    );
    assert!(screen.contains("file system"), "{screen}");
    assert!(!screen.contains("file system (file system)"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn site_view_says_when_no_loki_is_configured() {
    let app = real_ids_site_app(false);
    let screen = render(&app).backend().to_string();
    assert!(screen.contains("no Loki configured for prod"), "{screen}");
    assert!(screen.contains("image.toolkit.gd.version"), "{screen}");
    insta::assert_snapshot!(screen);
}

/// Enter on `file system`: the view is titled by the id as it is (no
/// report gave a title), and its heading names no other.
#[test]
fn requirement_view_titles_a_real_id_as_it_is() {
    let mut app = real_ids_site_app(false);
    let effects = app.perform(Scope::Site, Action::Open);
    assert!(
        effects.iter().any(|e| matches!(
            e,
            site_status::app::Effect::Watch(DetailKey::History { requirement, .. })
                if requirement == "file system"
        )),
        "{effects:?}"
    );
    let screen = render(&app).backend().to_string();
    assert!(screen.contains("file system loading…"), "{screen}");
    insta::assert_snapshot!(screen);
}

/// In a storm the alerts view lists the newest few of each name and counts
/// them all; an environment whose read failed says so, with the age of
/// what it still shows.
#[test]
fn alerts_view_in_a_storm_counts_all_and_lists_the_newest() {
    use site_status::model::{Alert, AlertGroup, AlertList};
    use site_status::poller::{Detail, DetailKey};
    use site_status::source::SourceError;

    let mut app = demo_app(320, 120, 16);
    open_alerts(&mut app);
    let newest: Vec<Alert> = (0..3)
        .map(|i| {
            Alert::sanitized(
                "DrupalRequirementError",
                &format!("site-{i:05}"),
                Some("critical"),
                None,
                Some("2026-11-23T21:00:00Z"),
            )
            .with_labels(Some("cron"), None)
        })
        .map(|a| Alert { pending: true, ..a })
        .collect();
    let storm = AlertList {
        groups: vec![AlertGroup {
            name: "DrupalRequirementError".into(),
            firing: 0,
            pending: 10_093,
        }],
        alerts: newest,
        per_name: 3,
    };
    let key = DetailKey::Alerts { env: "prod".into() };
    app.apply_detail(&key, &detail_slot(Detail::Alerts(storm)));
    let mut failed = detail_slot(Detail::Alerts(AlertList::default()));
    failed.last_error = Some((
        SourceError::new("Prometheus error (timeout): query timed out"),
        now(),
    ));
    app.apply_detail(&DetailKey::Alerts { env: "dev".into() }, &failed);
    let terminal = render(&app);
    let screen = format!("{}", terminal.backend());
    assert!(
        screen.contains(
            "DrupalRequirementError 10093 alerts: 0 firing, 10093 pending; the 3 newest listed"
        ),
        "{screen}"
    );
    assert!(
        screen.contains("dev: STALE, read 1s ago: Prometheus error (timeout): query timed out"),
        "{screen}"
    );
    insta::assert_snapshot!(terminal.backend());
}
