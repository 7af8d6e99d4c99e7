//! End to end: the real binary in a real terminal. Each test starts its own
//! tmux server with `site-status demo` in it (the harness, `Tmux` and
//! `Screen`, is in tests/support/tmux.rs), types with `tmux send-keys` and
//! reads the screen with `tmux capture-pane`.
//!
//! tmux is a test requirement (the CI script installs it); without it these
//! tests fail and say so.
//!
//! Every check polls the screen until it holds or a generous deadline passes
//! (`SITE_STATUS_E2E_TIMEOUT` seconds, default 15): the app writes a frame in
//! several `write`s, so a capture can catch half a frame, and a loaded
//! machine can be slow. Nothing sleeps a fixed time to "let the app catch
//! up".

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use support::tmux::{POLL, Screen, Tmux, command_line, timeout};

const BIN: &str = env!("CARGO_BIN_EXE_site-status");
/// Every state glyph of the Unicode set, worst first (`SiteState::ALL`).
const STATE_GLYPHS: [char; 8] = ['✖', '▼', '⊘', '?', '◷', '▲', '●', '○'];
const OK: char = '●';
const INFO: char = '○';
const WARNING: char = '▲';

// ---------------------------------------------------------------------------
// The demo in a terminal
// ---------------------------------------------------------------------------

/// `site-status demo --seed 1 --refresh 1 <extra>` in a `width`×`height`
/// terminal, waiting until every environment has been polled once.
fn demo(width: u16, height: u16, extra: &[&str]) -> Tmux {
    let tmux = start_demo(width, height, extra);
    tmux.wait_for("the first full frame (header with \"updated\")", |s| {
        s.header().contains("updated") && s.contains("── dev")
    });
    hide_timeline(&tmux);
    tmux
}

/// These tests are about the grid: `T` hides the timeline strip over it
/// (tests/e2e_live.rs covers the strip).
fn hide_timeline(tmux: &Tmux) {
    let strip = |s: &Screen| s.contains(" peak ") || s.contains("timeline: waiting");
    if strip(&tmux.screen()) {
        tmux.keys(&["T"]);
        tmux.wait_for("the timeline strip to hide", |s| !strip(s));
    }
}

/// Starts the demo without waiting for anything.
fn start_demo(width: u16, height: u16, extra: &[&str]) -> Tmux {
    let mut words = vec![BIN, "demo", "--seed", "1", "--refresh", "1"];
    words.extend_from_slice(extra);
    Tmux::start(width, height, &command_line(&words))
}

/// Waits until the status line names `expected` as the cursor's site.
fn wait_for_cursor(tmux: &Tmux, what: &str, expected: &Cursor) -> Screen {
    tmux.wait_for(&format!("{what}: cursor on {expected}"), |s| {
        s.cursor().as_ref() == Some(expected)
    })
}

// ---------------------------------------------------------------------------
// Reading the grid
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    env: String,
    profile: String,
    site: String,
}

impl Cursor {
    fn new(env: &str, profile: &str, site: &str) -> Cursor {
        Cursor {
            env: env.into(),
            profile: profile.into(),
            site: site.into(),
        }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} › {} › {}", self.env, self.profile, self.site)
    }
}

#[derive(Debug, Clone)]
struct Cell {
    glyph: char,
    /// As shown: possibly cut short with "…".
    name: String,
}

impl Cell {
    fn shows(&self, full_name: &str) -> bool {
        match self.name.strip_suffix('…') {
            Some(prefix) => full_name.starts_with(prefix),
            None => self.name == full_name,
        }
    }
}

#[derive(Debug, Clone)]
struct Group {
    profile: String,
    rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone)]
struct Section {
    /// "?" when the section line is scrolled off the top.
    env: String,
    groups: Vec<Group>,
}

/// The normal-density grid as far as it is on screen.
#[derive(Debug, Clone)]
struct Grid {
    sections: Vec<Section>,
}

impl Grid {
    fn section(&self, env: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.env == env)
    }

    fn rows(&self) -> Vec<(&str, &str, &Vec<Cell>)> {
        self.sections
            .iter()
            .flat_map(|s| {
                s.groups.iter().flat_map(move |g| {
                    g.rows
                        .iter()
                        .map(move |r| (s.env.as_str(), g.profile.as_str(), r))
                })
            })
            .collect()
    }

    fn cells(&self) -> Vec<(&str, &str, &Cell)> {
        self.rows()
            .into_iter()
            .flat_map(|(env, profile, row)| row.iter().map(move |c| (env, profile, c)))
            .collect()
    }
}

/// The cursor on a cell: its env, profile and full name.
fn cursor_at(env: &str, profile: &str, cell: &Cell) -> Cursor {
    assert!(
        !cell.name.ends_with('…'),
        "cell {:?} is cut short; widen the terminal",
        cell.name
    );
    Cursor::new(env, profile, &cell.name)
}

impl Section {
    fn first_cursor(&self) -> Cursor {
        let group = &self.groups[0];
        cursor_at(&self.env, &group.profile, &group.rows[0][0])
    }
}

/// The first two lines of a section's cells, slot by slot: `None` for a
/// flowing profile's label, else the site's profile and cell.
fn screen_slots(screen: &Screen, env: &str) -> Vec<Vec<Option<(String, Cell)>>> {
    let mut lines = Vec::new();
    let mut inside = false;
    let mut profile = String::from("?");
    for line in screen.body() {
        let line = support::tmux::without_badges(line);
        if line.starts_with("──") {
            if inside {
                break;
            }
            inside = line.trim_start_matches('─').split_whitespace().next() == Some(env);
            continue;
        }
        if !inside || lines.len() == 2 {
            continue;
        }
        let mut slots = Vec::new();
        let mut words = line.split_whitespace();
        while let Some(word) = words.next() {
            let mut chars = word.chars();
            let first = chars.next().unwrap();
            if chars.next().is_none() && is_glyph(first) {
                let name = words.next().unwrap_or_default().to_string();
                slots.push(Some((profile.clone(), Cell { glyph: first, name })));
            } else {
                profile = word.to_string();
                slots.push(None);
            }
        }
        lines.push(slots);
    }
    lines
}

fn is_glyph(c: char) -> bool {
    STATE_GLYPHS.contains(&c)
}

/// What these tests read from the dashboard beyond what `Screen` knows.
trait DashboardScreen {
    /// The site the status line names, e.g. `dev › kk_base › borger  ● ok`.
    fn cursor(&self) -> Option<Cursor>;
    /// N from "updated Ns ago" in the header.
    fn updated_secs(&self) -> Option<u64>;
    /// Parses the body as the normal-density grid; `None` when a line is
    /// not what the grid draws (a half-written frame, another view).
    fn grid(&self) -> Option<Grid>;
    /// The compact grid: per environment on screen, the glyphs of its sites.
    fn compact_glyphs(&self) -> Vec<(String, Vec<char>)>;
}

impl DashboardScreen for Screen {
    fn cursor(&self) -> Option<Cursor> {
        let crumbs = self.status().split("  ").next()?;
        let parts: Vec<&str> = crumbs.split(" › ").collect();
        match parts[..] {
            [env, profile, site] if !site.is_empty() => Some(Cursor::new(env, profile, site)),
            _ => None,
        }
    }

    fn updated_secs(&self) -> Option<u64> {
        let rest = self.header().split("updated ").nth(1)?;
        let age = rest.split_whitespace().next()?;
        age.strip_suffix('s')?.parse().ok()
    }

    fn grid(&self) -> Option<Grid> {
        let mut sections: Vec<Section> = Vec::new();
        for line in self.body() {
            if line.trim().is_empty() || support::tmux::is_timeline_line(line) {
                continue;
            }
            // A badge may sit between a cell's glyph and its name.
            let line = &support::tmux::without_badges(line);
            if line.starts_with("──") {
                let env = line.trim_start_matches('─').split_whitespace().next()?;
                sections.push(Section {
                    env: env.to_string(),
                    groups: Vec::new(),
                });
                continue;
            }
            if sections.is_empty() {
                sections.push(Section {
                    env: "?".into(),
                    groups: Vec::new(),
                });
            }
            let section = sections.last_mut()?;
            if let Some(rest) = line.strip_prefix("  ") {
                let profile = rest.split_whitespace().next()?;
                section.groups.push(Group {
                    profile: profile.to_string(),
                    rows: Vec::new(),
                });
                continue;
            }
            if section.groups.is_empty() {
                section.groups.push(Group {
                    profile: "?".into(),
                    rows: Vec::new(),
                });
            }
            // Cells (glyph, name); where profiles flow on the same lines,
            // a profile's label starts its group mid-row.
            let mut words = line.split_whitespace();
            let mut row = Vec::new();
            while let Some(word) = words.next() {
                let mut chars = word.chars();
                let first = chars.next()?;
                if chars.next().is_none() && is_glyph(first) {
                    row.push(Cell {
                        glyph: first,
                        name: words.next()?.to_string(),
                    });
                    continue;
                }
                if !row.is_empty() {
                    section
                        .groups
                        .last_mut()?
                        .rows
                        .push(std::mem::take(&mut row));
                }
                section.groups.push(Group {
                    profile: word.to_string(),
                    rows: Vec::new(),
                });
            }
            if !row.is_empty() {
                section.groups.last_mut()?.rows.push(row);
            }
        }
        // A group whose label ends the screen has no cells on it.
        for section in &mut sections {
            section.groups.retain(|g| !g.rows.is_empty());
        }
        Some(Grid { sections })
    }

    fn compact_glyphs(&self) -> Vec<(String, Vec<char>)> {
        let mut out: Vec<(String, Vec<char>)> = Vec::new();
        for line in self.body() {
            if line.starts_with("──") {
                let env = line
                    .trim_start_matches('─')
                    .split_whitespace()
                    .next()
                    .unwrap_or("?");
                out.push((env.to_string(), Vec::new()));
            } else if let Some((_, glyphs)) = out.last_mut() {
                glyphs.extend(line.chars().filter(|c| *c != ' '));
            }
        }
        out
    }
}

/// The key-binding lines of `site-status keys`, whitespace squeezed:
/// ("Fleet grid", "g / Home First site").
fn keys_output() -> (Vec<String>, Vec<String>) {
    let out = Command::new(BIN)
        .arg("keys")
        .output()
        .expect("run site-status keys");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("keys prints UTF-8");
    let mut titles = Vec::new();
    let mut bindings = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with(' ') {
            bindings.push(squeeze(line));
        } else {
            titles.push(line.trim().to_string());
        }
    }
    (titles, bindings)
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------

const PROFILES: [&str; 10] = [
    "kk_base",
    "kk_borger",
    "kk_campaign",
    "kk_culture",
    "kk_event",
    "kk_intranet",
    "kk_library",
    "kk_local",
    "kk_school",
    "kk_sport",
];

#[test]
fn at_200x50_the_header_the_three_environments_and_dev_profiles_show() {
    let tmux = demo(200, 50, &[]);
    let screen = tmux.wait_for("header, three sections and the dev profiles", |s| {
        s.header().contains("320 sites")
            && s.header().contains("updated")
            && s.envs() == ["dev", "test", "prod"]
            && s.grid().is_some_and(|g| {
                g.section("dev")
                    .is_some_and(|dev| dev.groups.iter().map(|g| g.profile.as_str()).eq(PROFILES))
            })
    });
    // Every environment's sites add up to the fleet, and dev, shown whole,
    // has as many cells as its section line counts.
    let totals = screen.section_lines();
    assert_eq!(
        totals.iter().map(|(_, n)| n).sum::<usize>(),
        320,
        "{totals:?}"
    );
    let grid = screen.grid().unwrap();
    let dev_cells: usize = grid
        .section("dev")
        .unwrap()
        .groups
        .iter()
        .flat_map(|g| &g.rows)
        .map(Vec::len)
        .sum();
    assert_eq!(dev_cells, totals[0].1, "\n{}", screen.framed());
    assert!(screen.header().contains("site-status"));
    assert!(screen.header().contains("demo (seed 1)"));
    assert!(
        screen.key_line().contains("q quit"),
        "{}",
        screen.key_line()
    );
}

#[test]
fn at_80x24_the_header_and_all_three_environments_show() {
    let tmux = demo(80, 24, &[]);
    tmux.wait_for("header and the dev section at 80x24", |s| {
        s.header().contains("320 sites")
            && s.header().contains("updated")
            && s.envs().first().is_some_and(|e| e == "dev")
            && s.grid().is_some()
    });
    // Tab scrolls each environment into view in normal density.
    tmux.keys(&["Tab"]);
    tmux.wait_for("Tab to scroll the test section into view", |s| {
        s.envs().contains(&"test".to_string()) && s.cursor().is_some_and(|c| c.env == "test")
    });
    tmux.keys(&["Tab"]);
    tmux.wait_for("Tab to scroll the prod section into view", |s| {
        s.envs().contains(&"prod".to_string()) && s.cursor().is_some_and(|c| c.env == "prod")
    });
    // Compact density fits all three on one screen.
    tmux.keys(&["g"]);
    tmux.wait_for("g back to dev", |s| {
        s.cursor().is_some_and(|c| c.env == "dev")
    });
    tmux.keys(&["z"]);
    tmux.wait_for("all three sections in compact density at 80x24", |s| {
        s.envs() == ["dev", "test", "prod"]
            && s.status().contains("compact")
            && s.header().contains("320 sites")
            && s.header().contains("updated")
    });
}

// ---------------------------------------------------------------------------
// Live data
// ---------------------------------------------------------------------------

#[test]
fn the_grid_changes_on_its_own_and_the_data_stays_fresh() {
    let tmux = demo(200, 50, &[]);
    let cells = |s: &Screen| -> Option<Vec<(String, String, char)>> {
        let grid = s.grid()?;
        let cells: Vec<_> = grid
            .cells()
            .into_iter()
            .map(|(env, _, c)| (env.to_string(), c.name.clone(), c.glyph))
            .collect();
        (!cells.is_empty()).then_some(cells)
    };
    let first = tmux.wait_for("a full grid", |s| cells(s).is_some());
    let mut before = cells(&first).unwrap();

    // --refresh 1: "updated Ns ago" must never reach 2s, and the demo
    // fleet must change some cell within 15 seconds without a key press.
    let started = Instant::now();
    let observe = Duration::from_secs(15);
    let mut changed = false;
    let mut ages = BTreeSet::new();
    let mut last = first;
    while started.elapsed() < observe && !(changed && started.elapsed() > Duration::from_secs(4)) {
        let screen = tmux.screen();
        assert!(
            screen.exit_status().is_none(),
            "the app exited\n{}",
            screen.framed()
        );
        if let Some(age) = screen.updated_secs() {
            assert!(
                age < 2,
                "with --refresh 1 the header says updated {age}s ago\n{}",
                screen.framed()
            );
            ages.insert(age);
        }
        if let Some(now) = cells(&screen) {
            // A capture taken mid-frame cuts the grid short: the demo's
            // sites do not come and go, so a different count means the
            // reference was torn, and this capture replaces it.
            if now.len() != before.len() {
                before = now;
                last = screen;
                std::thread::sleep(POLL);
                continue;
            }
            // Same sites in the same places (sorted by name), other states.
            if now.len() == before.len()
                && now
                    .iter()
                    .zip(&before)
                    .all(|(a, b)| a.0 == b.0 && a.1 == b.1)
                && now != before
            {
                changed = true;
            }
        }
        last = screen;
        std::thread::sleep(POLL);
    }
    assert!(
        changed,
        "no cell changed state within {observe:?} without input; last screen:\n{}",
        last.framed()
    );
    assert!(
        !ages.is_empty(),
        "never saw \"updated Ns ago\"\n{}",
        last.framed()
    );
}

// ---------------------------------------------------------------------------
// Navigation
// ---------------------------------------------------------------------------

#[test]
fn cursor_keys_move_between_sites_and_environments() {
    let tmux = demo(200, 50, &[]);
    let screen = tmux.wait_for("a grid with all three sections", |s| {
        s.grid().is_some_and(|g| {
            ["dev", "test", "prod"]
                .iter()
                .all(|e| g.section(e).is_some_and(|s| !s.groups.is_empty()))
        }) && s.cursor().is_some()
    });
    let grid = screen.grid().unwrap();
    let dev = grid.section("dev").unwrap();
    let first = dev.first_cursor();
    assert_eq!(
        screen.cursor(),
        Some(first.clone()),
        "starts on the first dev site"
    );
    // The dev section's first two screen lines, slot by slot: a flowing
    // profile's label takes a slot, so a column is a slot.
    let slots = screen_slots(&screen, "dev");
    assert!(slots.len() >= 2, "\n{}", screen.framed());
    let at = |line: usize, slot: usize| {
        let (profile, cell) = slots[line][slot]
            .as_ref()
            .unwrap_or_else(|| panic!("slot {slot} of line {line} is a label"));
        cursor_at("dev", profile, cell)
    };
    // The first site's slot, and the next; both have a site on the line
    // below (the first line starts with kk_base's label).
    let first_slot = slots[0].iter().position(Option::is_some).unwrap();
    let next = first_slot + 1;
    assert!(
        slots[1].get(next).is_some_and(Option::is_some) && slots[1][first_slot].is_some(),
        "\n{}",
        screen.framed()
    );
    assert_eq!(at(0, first_slot), first);

    tmux.keys(&["l"]);
    wait_for_cursor(&tmux, "l", &at(0, next));
    tmux.keys(&["j"]);
    wait_for_cursor(&tmux, "j keeps the column", &at(1, next));
    tmux.keys(&["h"]);
    wait_for_cursor(&tmux, "h", &at(1, first_slot));
    tmux.keys(&["k"]);
    wait_for_cursor(&tmux, "k", &at(0, first_slot));
    tmux.keys(&["Down", "Right"]);
    wait_for_cursor(&tmux, "arrow keys", &at(1, next));

    let test_first = grid.section("test").unwrap().first_cursor();
    let prod_first = grid.section("prod").unwrap().first_cursor();
    assert_eq!(test_first.env, "test");
    assert_eq!(prod_first.env, "prod");
    tmux.keys(&["Tab"]);
    wait_for_cursor(&tmux, "Tab to test", &test_first);
    tmux.keys(&["Tab"]);
    wait_for_cursor(&tmux, "Tab to prod", &prod_first);
    // Tab in the last environment stays; `l` then proves where it stayed.
    let prod_second = {
        let g = &grid.section("prod").unwrap().groups[0];
        cursor_at("prod", &g.profile, &g.rows[0][1])
    };
    tmux.keys(&["Tab"]);
    tmux.keys(&["l"]);
    wait_for_cursor(&tmux, "Tab in prod stays, then l", &prod_second);
    tmux.keys(&["BTab"]);
    wait_for_cursor(&tmux, "BackTab to the start of prod", &prod_first);
    tmux.keys(&["BTab"]);
    wait_for_cursor(&tmux, "BackTab to test", &test_first);
    tmux.keys(&["BTab"]);
    wait_for_cursor(&tmux, "BackTab to dev", &first);

    // G: the last prod site, scrolled into view at the bottom of the grid.
    tmux.keys(&["G"]);
    let end = tmux.wait_for("G to the last prod site", |s| {
        s.cursor().is_some_and(|c| c.env == "prod")
            && s.grid().is_some_and(|g| {
                let rows = g.rows();
                rows.last().is_some_and(|(_, profile, row)| {
                    row.last().is_some_and(|cell| {
                        s.cursor()
                            .is_some_and(|c| c.profile == *profile && cell.shows(&c.site))
                    })
                })
            })
    });
    let last = end.cursor().unwrap();
    assert_eq!(
        last.profile,
        *PROFILES.last().unwrap(),
        "\n{}",
        end.framed()
    );
    tmux.keys(&["g"]);
    tmux.wait_for("g back to the first dev site, scrolled to the top", |s| {
        s.cursor().as_ref() == Some(&first) && s.first_grid_line().starts_with("── dev")
    });
    tmux.keys(&["End"]);
    wait_for_cursor(&tmux, "End", &last);
    tmux.keys(&["Home"]);
    wait_for_cursor(&tmux, "Home", &first);
}

// ---------------------------------------------------------------------------
// Filters and modes
// ---------------------------------------------------------------------------

/// Every cell on screen matches "bib" by name or profile, and there is one.
fn only_bib(s: &Screen) -> bool {
    s.grid().is_some_and(|g| {
        let cells = g.cells();
        !cells.is_empty()
            && cells
                .iter()
                .all(|(_, profile, c)| c.name.contains("bib") || profile.contains("bib"))
    })
}

#[test]
fn slash_filters_by_name_enter_keeps_it_and_esc_clears_it() {
    let tmux = demo(200, 50, &[]);
    tmux.wait_for("the unfiltered grid", |s| {
        s.grid().is_some_and(|g| g.cells().len() > 40)
    });

    tmux.keys(&["/"]);
    tmux.wait_for("the filter prompt", |s| {
        s.status().starts_with("/") && s.key_line().contains("Enter keep")
    });
    tmux.type_text("bib");
    let typed = tmux.wait_for("only sites matching \"bib\" while typing", |s| {
        s.status() == "/ bib" && only_bib(s)
    });
    // Every environment still shows its section line and whole totals.
    assert_eq!(
        typed.envs(),
        ["dev", "test", "prod"],
        "\n{}",
        typed.framed()
    );
    assert!(typed.header().contains("320 sites"), "\n{}", typed.framed());

    tmux.keys(&["Enter"]);
    let kept = tmux.wait_for("Enter to keep the filter", |s| {
        s.status().contains("filter \"bib\"")
            && s.key_line().contains("q quit")
            && s.cursor().is_some_and(|c| c.site.contains("bib"))
            && only_bib(s)
    });
    // "N shown" counts what is on screen.
    let shown: usize = kept
        .status()
        .split(" · ")
        .find_map(|p| p.trim().strip_suffix(" shown")?.parse().ok())
        .unwrap_or_else(|| panic!("no \"N shown\" in {:?}", kept.status()));
    assert_eq!(
        shown,
        kept.grid().unwrap().cells().len(),
        "\n{}",
        kept.framed()
    );

    // Moving keeps the filter.
    tmux.keys(&["g"]);
    tmux.wait_for("g within the filter", |s| {
        s.status().contains("filter \"bib\"")
            && s.cursor()
                .is_some_and(|c| c.env == "dev" && c.site.contains("bib"))
            && only_bib(s)
    });

    tmux.keys(&["Escape"]);
    tmux.wait_for("Esc in the grid to clear the filter", |s| {
        !s.status().contains("filter")
            && s.grid().is_some_and(|g| {
                g.cells().iter().any(|(_, _, c)| !c.name.contains("bib"))
                    && g.section("dev")
                        .is_some_and(|d| d.groups[0].profile == "kk_base")
            })
    });

    // Esc while typing clears too, and leaves the prompt.
    tmux.keys(&["/"]);
    tmux.wait_for("the filter prompt again", |s| s.status().starts_with("/"));
    tmux.type_text("bib");
    tmux.wait_for("the filter applied while typing", |s| {
        s.status() == "/ bib" && only_bib(s)
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("Esc while typing to clear the filter", |s| {
        s.cursor().is_some()
            && !s.status().contains("filter")
            && s.key_line().contains("q quit")
            && s.grid().is_some_and(|g| g.cells().len() > 40)
    });
}

fn cells_all(s: &Screen, allowed: impl Fn(char) -> bool) -> bool {
    s.grid().is_some_and(|g| {
        let cells = g.cells();
        !cells.is_empty() && cells.iter().all(|(_, _, c)| allowed(c.glyph))
    })
}

#[test]
fn f_cycles_the_severity_filter() {
    let tmux = demo(200, 50, &[]);
    tmux.wait_for("ok sites in the grid", |s| {
        s.grid()
            .is_some_and(|g| g.cells().iter().any(|(_, _, c)| c.glyph == OK))
    });

    tmux.keys(&["f"]);
    tmux.wait_for("warnings and worse", |s| {
        s.status().contains("warnings and worse")
            && s.status().contains(" shown")
            && cells_all(s, |g| g != OK && g != INFO)
    });

    tmux.keys(&["f"]);
    tmux.wait_for("errors only, with no ok, info or warning cell", |s| {
        s.status().contains("errors only")
            && !s.status().contains("warnings and worse")
            && cells_all(s, |g| g != OK && g != INFO && g != WARNING)
    });

    tmux.keys(&["f"]);
    tmux.wait_for("all severities again", |s| {
        !s.status().contains("warnings and worse")
            && !s.status().contains("errors only")
            && !s.status().contains(" shown")
            && s.grid()
                .is_some_and(|g| g.cells().iter().any(|(_, _, c)| c.glyph == OK))
    });

    // Esc in the grid clears the severity filter as well.
    tmux.keys(&["f"]);
    tmux.wait_for("warnings and worse again", |s| {
        s.status().contains("warnings and worse")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("Esc to clear the severity filter", |s| {
        !s.status().contains("warnings and worse") && s.cursor().is_some()
    });
}

/// Within every profile, cells are ordered worst state first.
fn worst_first(s: &Screen) -> bool {
    let rank = |c: char| STATE_GLYPHS.iter().position(|g| *g == c).unwrap();
    s.grid().is_some_and(|g| {
        g.sections.iter().all(|section| {
            section.groups.iter().all(|group| {
                let ranks: Vec<usize> =
                    group.rows.iter().flatten().map(|c| rank(c.glyph)).collect();
                ranks.windows(2).all(|w| w[0] <= w[1])
            })
        }) && g.cells().len() > 40
    })
}

#[test]
fn s_toggles_worst_first_sort() {
    let tmux = demo(200, 50, &[]);
    tmux.wait_for("the grid", |s| {
        s.grid().is_some_and(|g| g.cells().len() > 40)
    });
    tmux.keys(&["s"]);
    tmux.wait_for("sort: worst first, and cells so ordered", |s| {
        s.status().contains("sort: worst first") && worst_first(s)
    });
    tmux.keys(&["s"]);
    tmux.wait_for("sort by name again", |s| {
        !s.status().contains("sort:")
            && s.grid().is_some_and(|g| {
                g.section("dev").is_some_and(|d| {
                    d.groups.iter().all(|group| {
                        let names: Vec<&str> = group
                            .rows
                            .iter()
                            .flatten()
                            .map(|c| c.name.as_str())
                            .collect();
                        names.windows(2).all(|w| w[0] <= w[1])
                    })
                })
            })
    });
}

#[test]
fn z_compact_mode_shows_one_glyph_per_site() {
    let tmux = demo(200, 50, &[]);
    tmux.keys(&["z"]);
    let screen = tmux.wait_for("compact: every site one glyph", |s| {
        let sections = s.section_lines();
        let glyphs = s.compact_glyphs();
        s.status().contains("compact")
            && !s.status().contains("2 sites per cell")
            && sections.len() == 3
            && glyphs.len() == 3
            && sections
                .iter()
                .zip(&glyphs)
                .all(|((env, total), (genv, g))| {
                    env == genv && g.len() == *total && g.iter().all(|c| is_glyph(*c))
                })
    });
    assert_eq!(screen.envs(), ["dev", "test", "prod"]);
    assert!(
        screen.cursor().is_some_and(|c| c.env == "dev"),
        "{}",
        screen.status()
    );
    // Navigation still names sites, and z goes back to names.
    tmux.keys(&["Tab"]);
    tmux.wait_for("Tab in compact mode", |s| {
        s.cursor().is_some_and(|c| c.env == "test") && s.status().contains("compact")
    });
    tmux.keys(&["z"]);
    tmux.wait_for("normal density again", |s| {
        !s.status().contains("compact")
            && s.cursor().is_some_and(|c| c.env == "test")
            && s.grid().is_some_and(|g| !g.cells().is_empty())
    });
}

#[test]
fn z_compact_mode_fits_ten_thousand_sites_at_200x50() {
    let tmux = start_demo(200, 50, &["--sites", "10000"]);
    let limit = timeout() * 2;
    tmux.wait_for_within(limit, "the first frame of 10000 sites", |s| {
        s.header().contains("10000 sites") && s.header().contains("updated")
    });
    tmux.keys(&["z"]);
    let screen = tmux.wait_for_within(limit, "all three sections on one screen", |s| {
        s.status().contains("compact") && s.envs() == ["dev", "test", "prod"]
    });
    let totals: usize = screen.section_lines().iter().map(|(_, n)| n).sum();
    assert_eq!(totals, 10_000, "\n{}", screen.framed());
    // Everything fits with the timeline strip shown too: the first grid
    // line, right under the strip, is dev's section line.
    let first_grid_line = |s: &Screen| {
        s.body()
            .iter()
            .find(|l| !(l.contains(" peak ") || l.contains("timeline: waiting")))
            .is_some_and(|l| l.starts_with("── dev"))
    };
    assert!(
        first_grid_line(&screen),
        "not scrolled to the top\n{}",
        screen.framed()
    );
    // The last site is on the same screen: G does not scroll.
    tmux.keys(&["G"]);
    tmux.wait_for_within(limit, "G to prod with nothing scrolled away", |s| {
        s.cursor().is_some_and(|c| c.env == "prod")
            && first_grid_line(s)
            && s.envs() == ["dev", "test", "prod"]
    });
}

// ---------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------

#[test]
fn enter_opens_the_site_and_esc_returns_to_the_same_site() {
    let tmux = demo(200, 50, &[]);
    let screen = tmux.wait_for("the grid", |s| {
        s.grid().is_some_and(|g| g.cells().len() > 40) && s.cursor().is_some()
    });
    // A site past the first row that reports requirements (not "no data").
    let grid = screen.grid().unwrap();
    let cells = grid.cells();
    let (index, (env, profile, cell)) = cells
        .iter()
        .enumerate()
        .skip(7)
        .find(|(_, (_, _, c))| c.glyph != '?')
        .expect("a site with data");
    let target = cursor_at(env, profile, cell);
    for _ in 0..index {
        tmux.keys(&["l"]);
    }
    wait_for_cursor(&tmux, "moving right", &target);

    // The view's first line names the site: "dev › kk_base › borger".
    let title = format!("{} › {} › {}", target.env, target.profile, target.site);
    let names_the_site = |s: &Screen| s.body()[0].trim_start().starts_with(&title);
    tmux.keys(&["Enter"]);
    let site = tmux.wait_for("the site view with its requirements", |s| {
        names_the_site(s) && s.contains("Database updates") && s.key_line().contains("Esc back")
    });
    assert!(site.contains("fetched"), "\n{}", site.framed());
    assert!(
        !site.contains("── dev"),
        "the grid shows through\n{}",
        site.framed()
    );

    // j moves within the requirements and keeps the view.
    tmux.keys(&["j"]);
    tmux.keys(&["Escape"]);
    wait_for_cursor(&tmux, "Esc back to the grid", &target);
    tmux.wait_for("the grid again", |s| {
        s.grid().is_some_and(|g| g.cells().len() > 40) && s.key_line().contains("q quit")
    });

    // Backspace goes back too.
    tmux.keys(&["Enter"]);
    tmux.wait_for("the site view again", |s| {
        s.contains("Database updates") && names_the_site(s)
    });
    tmux.keys(&["BSpace"]);
    wait_for_cursor(&tmux, "Backspace back to the grid", &target);
}

#[test]
fn question_mark_shows_every_binding_and_esc_closes_help() {
    let (titles, bindings) = keys_output();
    assert!(bindings.len() > 20, "{bindings:?}");
    let tmux = demo(200, 50, &[]);
    let before = tmux
        .wait_for("the grid", |s| s.cursor().is_some())
        .cursor()
        .unwrap();

    // The help box's title, under the view's breadcrumb line.
    let shows_help = |s: &Screen| s.body().iter().take(2).any(|l| l.contains("Help"));
    tmux.keys(&["?"]);
    let mut screen = tmux.wait_for("the help view", |s| {
        shows_help(s) && s.key_line().contains("Esc close")
    });
    // Collect what help shows, scrolling with j until every binding of
    // `site-status keys` was seen (it fits at 200x50, but may not always).
    let mut seen = BTreeSet::new();
    // One line per j: as many as help has lines, at most.
    for _ in 0..site_status::app::keymap::help_line_count() {
        for line in screen.body() {
            seen.insert(squeeze(line.trim_matches(|c| c == '│' || c == ' ')));
        }
        let missing: Vec<&String> = bindings.iter().filter(|b| !seen.contains(*b)).collect();
        if missing.is_empty() {
            break;
        }
        tmux.keys(&["j"]);
        let previous = screen.body().to_vec();
        screen = tmux.wait_for("help to scroll", |s| s.body() != previous.as_slice());
    }
    let missing: Vec<&String> = bindings.iter().filter(|b| !seen.contains(*b)).collect();
    assert!(
        missing.is_empty(),
        "help lacks these lines of `site-status keys`: {missing:#?}\nseen: {seen:#?}"
    );
    for title in &titles {
        assert!(seen.contains(title), "help lacks the section {title:?}");
    }

    tmux.keys(&["Escape"]);
    tmux.wait_for("Esc to close help on the same site", |s| {
        s.cursor().as_ref() == Some(&before)
            && s.grid().is_some_and(|g| !g.cells().is_empty())
            && !shows_help(s)
    });
    // ? toggles help as well.
    tmux.keys(&["?"]);
    tmux.wait_for("help again", |s| s.key_line().contains("Esc close"));
    tmux.keys(&["?"]);
    tmux.wait_for("? to close help", |s| s.cursor().as_ref() == Some(&before));
}

// ---------------------------------------------------------------------------
// Leaving
// ---------------------------------------------------------------------------

#[test]
fn q_quits_and_restores_the_terminal() {
    let tmux = demo(80, 24, &[]);
    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
}

#[test]
fn ctrl_c_quits_and_restores_the_terminal() {
    let tmux = demo(80, 24, &[]);
    tmux.keys(&["C-c"]);
    tmux.assert_exits_cleanly("Ctrl-C");
}

#[test]
fn ctrl_c_quits_while_typing_a_filter() {
    let tmux = demo(80, 24, &[]);
    tmux.keys(&["/"]);
    tmux.type_text("bi");
    tmux.wait_for("the filter prompt", |s| s.status() == "/ bi");
    tmux.keys(&["C-c"]);
    tmux.assert_exits_cleanly("Ctrl-C while typing a filter");
}

/// The demo, sent `signal` (`TERM`, `QUIT`, …) once it runs.
fn demo_sent(signal: &str) -> Tmux {
    let tmux = demo(80, 24, &[]);
    let pid = tmux.app_pid();
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}: {status}");
    tmux
}

#[test]
fn sigterm_quits_and_restores_the_terminal() {
    demo_sent("TERM").assert_exits_cleanly("SIGTERM");
}

#[test]
fn sigquit_quits_and_restores_the_terminal() {
    demo_sent("QUIT").assert_exits_cleanly("SIGQUIT");
}

#[test]
fn a_signal_that_kills_the_app_still_restores_the_terminal() {
    // Killed by the signal, as it would have been: 128 + SIGUSR1.
    demo_sent("USR1").assert_exits_restored("SIGUSR1", 128 + 10);
}

#[test]
fn running_out_of_memory_restores_the_terminal() {
    let command = format!(
        "{}=1 {}",
        site_status::runtime::OUT_OF_MEMORY_HOOK_ENV,
        command_line(&[BIN, "demo", "--seed", "1"])
    );
    let tmux = Tmux::start(80, 24, &command);
    // An allocation failure aborts: 128 + SIGABRT.
    tmux.assert_exits_restored("an allocation failure", 128 + 6);
    let all = tmux.run(&[
        "capture-pane",
        "-p",
        "-J",
        "-S",
        "-200",
        "-t",
        &tmux.target(),
    ]);
    assert!(
        all.contains("site-status: aborted: out of memory"),
        "the reason is readable on the normal screen:\n{all}"
    );
}

// ---------------------------------------------------------------------------
// Size
// ---------------------------------------------------------------------------

fn too_small(s: &Screen) -> bool {
    s.lines.join(" ").contains("Terminal too small")
}

fn full_grid_at_80x24(s: &Screen) -> bool {
    s.height() == 24
        && s.header().contains("320 sites")
        && s.header().contains("updated")
        && s.grid().is_some_and(|g| g.cells().len() >= 20)
        && s.cursor().is_some()
        && s.key_line().contains("q quit")
}

#[test]
fn a_too_small_terminal_shows_a_message_and_recovers_on_resize() {
    let tmux = demo(80, 24, &[]);
    let before = tmux.wait_for("the grid at 80x24", |s| {
        full_grid_at_80x24(s) && s.first_grid_line().starts_with("── dev")
    });
    tmux.resize(30, 6);
    let small = tmux.wait_for("\"Terminal too small\" at 30x6", |s| {
        too_small(s) && s.height() == 6
    });
    assert!(
        small.lines.join(" ").contains("30x6"),
        "\n{}",
        small.framed()
    );
    // Keys in a tiny terminal do not crash it either.
    tmux.keys(&["z", "z", "?", "Escape"]);
    tmux.resize(80, 24);
    tmux.wait_for("the same grid again after resizing to 80x24", |s| {
        full_grid_at_80x24(s)
            && s.first_grid_line().starts_with("── dev")
            && s.cursor() == before.cursor()
    });
    // Shrinking below the minimum in one dimension only counts too.
    tmux.resize(80, 6);
    tmux.wait_for("\"Terminal too small\" at 80x6", |s| {
        too_small(s) && s.height() == 6
    });
    tmux.resize(80, 24);
    tmux.wait_for("the grid after 80x6", full_grid_at_80x24);
}

#[test]
fn starting_in_a_too_small_terminal_shows_a_message_and_recovers() {
    let tmux = start_demo(30, 6, &[]);
    tmux.wait_for("\"Terminal too small\" at 30x6", |s| {
        too_small(s) && s.lines.join(" ").contains("30x6")
    });
    tmux.resize(80, 24);
    tmux.wait_for("the dashboard after resizing to 80x24", |s| {
        s.header().contains("updated")
    });
    hide_timeline(&tmux);
    tmux.wait_for("the grid after resizing to 80x24", full_grid_at_80x24);
}

#[test]
fn a_panic_restores_the_terminal_and_says_what_happened() {
    let command = format!(
        "{}=1 {}",
        site_status::runtime::PANIC_HOOK_ENV,
        command_line(&[BIN, "demo", "--seed", "1"])
    );
    let tmux = Tmux::start(80, 24, &command);
    // The panic message may scroll the exit line; look at the whole output.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !(tmux.joined_screen().contains("EXITED 101") && tmux.joined_screen().contains("TTY ")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the app did not exit 101 after its panic:\n{}",
            tmux.screen().framed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let all = tmux.run(&[
        "capture-pane",
        "-p",
        "-J",
        "-S",
        "-200",
        "-t",
        &tmux.target(),
    ]);
    assert!(
        all.contains("panicking on purpose"),
        "the panic message is readable:\n{all}"
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "left on the alternate screen"
    );
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "cursor left hidden");
    let modes: Vec<String> = all
        .split_once("TTY ")
        .map(|(_, rest)| rest.split_whitespace().map(str::to_string).collect())
        .expect("the shell's stty report");
    for mode in ["icanon", "echo", "isig"] {
        assert!(
            modes.iter().any(|m| m == mode),
            "terminal left without {mode} after a panic: {modes:?}"
        );
    }
}
