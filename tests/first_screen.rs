//! The first screen answers the operator's three questions (what is wrong,
//! where, and why) on the real binary in tmux: at 200x50 the default grid
//! names all 320 demo sites; at 80x24 one key shows every site that is not
//! OK by name; and "which prod sites are in error, and why" takes two keys
//! from launch, at 320 sites and at 10,000.

mod support;

use support::tmux::{Screen, Tmux, command_line, is_timeline_line, without_badges};

const BIN: &str = env!("CARGO_BIN_EXE_site-status");
const GLYPHS: [char; 8] = ['✖', '▼', '⊘', '?', '◷', '▲', '●', '○'];
const OK_GLYPHS: [char; 2] = ['●', '○'];

fn demo(width: u16, height: u16, sites: &str) -> Tmux {
    let tmux = Tmux::start(
        width,
        height,
        &command_line(&[BIN, "demo", "--seed", "1", "--sites", sites]),
    );
    tmux.wait_for("the first full frame", |s| {
        s.header().contains("updated") && s.contains("── dev")
    });
    tmux
}

/// The grid's cells on screen: (environment, glyph, name as shown).
fn cells(s: &Screen) -> Vec<(String, char, String)> {
    let mut env = String::from("?");
    let mut found = Vec::new();
    for line in s.body() {
        if is_timeline_line(line) {
            continue;
        }
        if line.starts_with("──") {
            env = line
                .trim_start_matches('─')
                .split_whitespace()
                .next()
                .unwrap_or("?")
                .to_string();
            continue;
        }
        let line = without_badges(line);
        let mut words = line.split_whitespace();
        while let Some(word) = words.next() {
            let mut chars = word.chars();
            let Some(glyph) = chars.next() else { continue };
            if chars.next().is_none()
                && GLYPHS.contains(&glyph)
                && let Some(name) = words.next()
            {
                found.push((env.clone(), glyph, name.to_string()));
            }
        }
    }
    found
}

/// `N shown` or `N sites` as the screen says it.
fn number_before(text: &str, word: &str) -> Option<usize> {
    let at = text.find(word)?;
    text[..at].split_whitespace().last()?.parse().ok()
}

#[test]
fn at_200x50_the_default_view_names_all_320_sites() {
    let tmux = demo(200, 50, "320");
    let screen = tmux.wait_for("every site of the fleet on screen", |s| {
        cells(s).len() == 320
    });
    let on_screen = cells(&screen);
    let per_env = |env: &str| on_screen.iter().filter(|(e, _, _)| e == env).count();
    assert_eq!(
        (per_env("dev"), per_env("test"), per_env("prod")),
        (60, 60, 200),
        "\n{}",
        screen.framed()
    );
    // Names, not glyphs only: at most a few long ones are cut short.
    let cut = on_screen
        .iter()
        .filter(|(_, _, n)| n.ends_with('…'))
        .count();
    assert!(cut <= 5, "{cut} names cut\n{}", screen.framed());
    assert!(
        screen.status().contains("profiles flowing"),
        "the status line says which density: {}",
        screen.status()
    );
}

#[test]
fn at_80x24_one_key_shows_every_site_that_is_not_ok_by_name() {
    let tmux = demo(80, 24, "320");
    tmux.keys(&["f"]);
    let screen = tmux.wait_for("warnings and worse, every one on screen", |s| {
        let shown = number_before(s.status(), " shown");
        shown.is_some_and(|n| n > 50 && cells(s).len() == n) && s.contains("── prod")
    });
    let on_screen = cells(&screen);
    assert!(
        on_screen.iter().all(|(_, g, _)| !OK_GLYPHS.contains(g)),
        "\n{}",
        screen.framed()
    );
    // Whole names, or cut to seven columns, "…" included: never glyphs only.
    assert!(
        on_screen
            .iter()
            .all(|(_, _, n)| !n.ends_with('…') || n.chars().count() >= 7),
        "\n{}",
        screen.framed()
    );
}

/// From launch: `e` (problems), BackTab (only the last environment,
/// prod); the screen then lists prod's sites in error first, each with why.
fn prod_errors_in_two_keys(sites: &str) {
    let tmux = demo(200, 50, sites);
    tmux.keys(&["e"]);
    tmux.keys(&["BTab"]);
    let screen = tmux.wait_for("the problems of prod", |s| {
        s.body().iter().any(|l| l.starts_with("Problems in prod: "))
    });
    let heading = screen
        .body()
        .iter()
        .find(|l| l.starts_with("Problems in prod: "))
        .unwrap()
        .clone();
    let errors = number_before(&heading, " error").expect("the heading counts errors");
    assert!(errors > 0, "{heading}");
    // The list, down to the rule above the selected site's report.
    let rows: Vec<&String> = screen
        .body()
        .iter()
        .skip_while(|l| !l.starts_with("Problems in prod: "))
        .take_while(|l| !l.starts_with('─'))
        .filter(|l| l.starts_with("✖ "))
        .collect();
    let visible = screen.body().len().saturating_sub(10);
    assert!(
        rows.len() >= errors.min(visible),
        "{} error rows for {errors} errors\n{}",
        rows.len(),
        screen.framed()
    );
    for row in &rows {
        let words: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(words.get(1), Some(&"prod"), "{row}");
        // glyph, env, profile, site, since, then why.
        assert!(
            words.len() >= 6,
            "a reason after the site and its age: {row}"
        );
    }
}

#[test]
fn which_prod_sites_are_in_error_and_why_takes_two_keys_at_320_sites() {
    prod_errors_in_two_keys("320");
}

#[test]
fn which_prod_sites_are_in_error_and_why_takes_two_keys_at_10000_sites() {
    prod_errors_in_two_keys("10000");
}
