//! End to end: the drill-down views (README, "Why a site fails: drilling
//! down") with the real binary in a real terminal (tmux; the harness is in
//! tests/support/tmux.rs).
//!
//! - The demo fleet at 120x40 and 80x24: grid → site → requirement (its
//!   windows, another site failing it) → back → reports → one report → its
//!   diff → back to the grid, which must be exactly as it was left: cursor,
//!   filter, scroll. The site view must refresh live without moving the
//!   selection.
//! - A real Prometheus scraping a simulated fleet, and a Loki stand-in
//!   (wiremock) answering with a captured Loki response: the requirement's
//!   band from a real range query, and the reports and their diff.
//!
//! Which entry of a list is selected is read from the terminal's attributes
//! (the selection is drawn in reverse video), from `capture-pane -e`.
//!
//! Every wait polls the screen and is bounded (`SITE_STATUS_E2E_TIMEOUT`
//! seconds, default 15). Escape is always sent alone and its effect awaited
//! before the next key: an Escape followed at once by a key reads as Alt+key.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::tmux::{Screen, Tmux, command_line, sh_quote};
use support::{FleetBuilder, FleetExporter, SiteKind, TestPrometheus};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_site-status");
/// Every state glyph of the Unicode set, worst first.
const STATE_GLYPHS: [char; 8] = ['✖', '▼', '⊘', '?', '◷', '▲', '●', '○'];
const ERROR: char = '✖';
const SEP: &str = " › ";
/// The requirement view's windows as its window line labels them.
const WINDOWS: [(&str, &str); 4] = [("1", "1h"), ("2", "6h"), ("3", "24h"), ("4", "7d")];

// ---------------------------------------------------------------------------
// Reading a capture with its attributes
// ---------------------------------------------------------------------------

use support::tmux::Styled;

fn capture(tmux: &Tmux) -> Styled {
    tmux.styled()
}

fn wait<T>(tmux: &Tmux, what: &str, check: impl FnMut(&Styled) -> Option<T>) -> T {
    tmux.wait_styled(what, check)
}

fn wait_within<T>(
    tmux: &Tmux,
    limit: Duration,
    what: &str,
    check: impl FnMut(&Styled) -> Option<T>,
) -> T {
    tmux.wait_styled_within(limit, what, check)
}

/// Sends Escape alone and waits for its effect.
fn escape<T>(tmux: &Tmux, what: &str, check: impl FnMut(&Styled) -> Option<T>) -> T {
    tmux.keys(&["Escape"]);
    wait(tmux, what, check)
}

// ---------------------------------------------------------------------------
// The grid
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    env: String,
    profile: String,
    site: String,
}

impl Cursor {
    fn crumbs(&self) -> Vec<String> {
        vec![self.env.clone(), self.profile.clone(), self.site.clone()]
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.crumbs().join(SEP))
    }
}

/// The grid's cursor as the status line names it:
/// `dev › kk_base › borger  ● ok   filter "e" · 12 shown`.
fn cursor(s: &Screen) -> Option<Cursor> {
    let crumbs = s.status().split("  ").next()?;
    match crumbs.split(SEP).collect::<Vec<_>>()[..] {
        [env, profile, site] if !env.is_empty() && !site.is_empty() => Some(Cursor {
            env: env.into(),
            profile: profile.into(),
            site: site.into(),
        }),
        _ => None,
    }
}

/// The status line's modes (`filter "e" · 12 shown`), at its right end.
fn modes(s: &Screen) -> Option<String> {
    let status = s.status();
    [
        "filter \"",
        "warnings and worse",
        "errors only",
        "sort: ",
        "compact",
        "showing muted",
    ]
    .iter()
    .filter_map(|m| status.find(m))
    .min()
    .map(|at| status[at..].trim().to_string())
}

#[derive(Debug, Clone)]
struct Cell {
    env: String,
    profile: String,
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

    fn whole(&self) -> bool {
        !self.name.ends_with('…')
    }
}

/// The normal-density grid's cells on screen, in order; env and profile are
/// "?" when their header is scrolled off. `None` when the screen is not the
/// grid (another view, a half-drawn frame).
/// A line of the fleet timeline strip over the grid, not part of it.
fn is_timeline_line(line: &str) -> bool {
    // Folded to one line, each environment's counts stick to their glyph
    // (`✖2`), which a grid cell never does; section and profile header
    // lines carry counts too.
    let header = line.starts_with("──") || line.starts_with("  ");
    let folded = !header
        && line.split_whitespace().any(|w| {
            let mut chars = w.chars();
            chars.next().is_some_and(|g| STATE_GLYPHS.contains(&g))
                && chars.next().is_some_and(|c| c.is_ascii_digit())
        });
    folded
        || (line.contains(" now ") && line.contains(" peak "))
        || line.contains("timeline: waiting")
}

/// A profile as shown (a flowing label may be cut short with "…") is the
/// one named.
fn profile_shows(shown: &str, profile: &str) -> bool {
    match shown.strip_suffix('…') {
        Some(prefix) => profile.starts_with(prefix),
        None => shown == profile,
    }
}

fn grid_cells(s: &Screen) -> Option<Vec<Cell>> {
    if cursor(s).is_none() || !s.key_line().contains("q quit") {
        return None;
    }
    let mut env = "?".to_string();
    let mut profile = "?".to_string();
    let mut cells = Vec::new();
    for line in s.body() {
        if line.trim().is_empty() || is_timeline_line(line) {
            continue;
        }
        // A badge may sit between a cell's glyph and its name.
        let line = &support::tmux::without_badges(line);
        if line.starts_with("──") {
            env = line
                .trim_start_matches('─')
                .split_whitespace()
                .next()?
                .into();
            profile = "?".into();
            continue;
        }
        if let Some(rest) = line.strip_prefix("  ") {
            profile = rest.split_whitespace().next()?.into();
            continue;
        }
        // A row of cells (glyph, name), where profiles flowing on the same
        // lines each begin with their label.
        let mut words = line.split_whitespace();
        while let Some(word) = words.next() {
            let mut chars = word.chars();
            let first = chars.next()?;
            if chars.next().is_none() && STATE_GLYPHS.contains(&first) {
                cells.push(Cell {
                    env: env.clone(),
                    profile: profile.clone(),
                    glyph: first,
                    name: words.next()?.into(),
                });
            } else {
                profile = word.into();
            }
        }
    }
    Some(cells)
}

/// The grid on screen without what changes on its own (glyphs, counts,
/// ages): section and profile names and site names, line by line. Equal
/// skeletons mean the same sites in the same places, the same scroll.
fn skeleton(s: &Screen) -> Option<Vec<String>> {
    grid_cells(s)?;
    Some(
        s.body()
            .iter()
            .filter(|line| !is_timeline_line(line))
            .map(|line| {
                if line.starts_with("──") {
                    let env = line.trim_start_matches('─').split_whitespace().next();
                    format!("── {}", env.unwrap_or(""))
                } else if let Some(rest) = line.strip_prefix("  ") {
                    format!("  {}", rest.split_whitespace().next().unwrap_or(""))
                } else {
                    // Names and flowing labels; glyphs change on their own.
                    line.split_whitespace()
                        .filter(|w| {
                            let mut chars = w.chars();
                            !(chars.next().is_some_and(|g| STATE_GLYPHS.contains(&g))
                                && chars.next().is_none())
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                }
            })
            .collect(),
    )
}

/// Where the status line's cursor is among the cells on screen.
fn cursor_index(cells: &[Cell], at: &Cursor) -> Option<usize> {
    let matches = |c: &Cell, exact_env: bool| {
        c.shows(&at.site)
            && (profile_shows(&c.profile, &at.profile) || c.profile == "?")
            && (c.env == at.env || (!exact_env && c.env == "?"))
    };
    cells
        .iter()
        .position(|c| matches(c, true))
        .or_else(|| cells.iter().position(|c| matches(c, false)))
}

/// Moves the grid's cursor from where it is to `cells[target]` (both on
/// screen) and waits for the status line to name that site.
fn move_cursor_to(tmux: &Tmux, screen: &Screen, cells: &[Cell], target: usize) -> Cursor {
    let at = cursor(screen).expect("the status line names the cursor");
    let from = cursor_index(cells, &at)
        .unwrap_or_else(|| panic!("the cursor {at} is not on screen\n{}", screen.framed()));
    let key = if target >= from { "l" } else { "h" };
    let presses = vec![key; target.abs_diff(from)];
    if !presses.is_empty() {
        tmux.keys(&presses);
    }
    let cell = &cells[target];
    wait(
        tmux,
        &format!("the cursor on {} (from {at})", cell.name),
        |s| {
            let c = cursor(&s.screen)?;
            (c.site == cell.name
                && (c.profile == cell.profile || cell.profile == "?")
                && (c.env == cell.env || cell.env == "?")
                && grid_cells(&s.screen).is_some())
            .then_some(c)
        },
    )
}

/// The grid as it was left, for coming back to it.
#[derive(Debug, Clone, PartialEq)]
struct GridState {
    cursor: Cursor,
    modes: Option<String>,
    skeleton: Vec<String>,
}

fn grid_state(s: &Screen) -> Option<GridState> {
    Some(GridState {
        cursor: cursor(s)?,
        modes: modes(s),
        skeleton: skeleton(s)?,
    })
}

// ---------------------------------------------------------------------------
// The views
// ---------------------------------------------------------------------------

/// The breadcrumb on top of a view: `dev › kk_base › borger › cron`.
fn crumbs_of(s: &Screen) -> Vec<String> {
    s.body()[0].trim().split(SEP).map(str::to_string).collect()
}

fn crumbs_are(s: &Screen, expected: &[String]) -> bool {
    crumbs_of(s) == expected
}

fn with(crumbs: &[String], more: &str) -> Vec<String> {
    let mut all = crumbs.to_vec();
    all.push(more.to_string());
    all
}

/// " ✖ text": a glyph and the text after it.
fn glyph_line(line: &str) -> Option<(char, &str)> {
    let rest = line.strip_prefix(' ')?;
    let mut chars = rest.chars();
    let glyph = chars.next()?;
    if !STATE_GLYPHS.contains(&glyph) || chars.next() != Some(' ') {
        return None;
    }
    Some((glyph, chars.as_str()))
}

/// " ✖ Title   value": a requirement row of the site or report view.
fn requirement_row(line: &str) -> Option<(char, String)> {
    let (glyph, text) = glyph_line(line)?;
    let title = text.split("  ").next()?.trim();
    (!title.is_empty() && !text.trim_end().ends_with('─')).then(|| (glyph, title.to_string()))
}

/// " ✖ Title (id) ────": the title of the selected requirement's text.
fn pane_title(line: &str) -> Option<(String, String)> {
    let inner = line.trim_end_matches('─').trim_end();
    if inner.len() == line.len() {
        return None;
    }
    let text = glyph_line(inner)?.1;
    // "Title (id)"; a requirement without a title (no report read) is
    // headed by its id alone.
    match text.strip_suffix(')').and_then(|t| t.rsplit_once(" (")) {
        Some((title, id)) => Some((title.to_string(), id.to_string())),
        None => Some((text.to_string(), text.to_string())),
    }
}

/// A row's title (possibly cut short with "…") names `title`.
fn title_matches(row: &str, title: &str) -> bool {
    match row.strip_suffix('…') {
        Some(prefix) => title.starts_with(prefix),
        None => row == title,
    }
}

#[derive(Debug, Clone)]
struct SiteShot {
    rows: Vec<(char, String)>,
    /// The selected requirement: its id and title (from its text's title,
    /// checked against the list's reverse-video row).
    selected_id: String,
    selected_title: String,
    selected_glyph: char,
    value: bool,
    description: bool,
    /// N of "fetched Ns ago".
    fetched_secs: Option<u64>,
}

/// The site view under `expected` crumbs, whole (the selected row in the
/// list agrees with the selected requirement's text), or `None`.
fn site_view(st: &Styled, expected: &[String]) -> Option<SiteShot> {
    let s = &st.screen.left_of_kube_pane();
    if !crumbs_are(s, expected) {
        return None;
    }
    let body_start = 1; // pane line of body()[0]
    let body = s.body();
    let pane = body.iter().position(|l| pane_title(l).is_some())?;
    let (title, id) = pane_title(&body[pane])?;
    let mut rows = Vec::new();
    let mut selected = None;
    for (i, line) in body.iter().enumerate().take(pane).skip(3) {
        let Some(row) = requirement_row(line) else {
            continue;
        };
        if let Some(run) = st.selection_on(body_start + i) {
            let (glyph, row_title) = requirement_row(&format!(" {run}"))?;
            selected = Some((glyph, row_title));
        }
        rows.push(row);
    }
    let (selected_glyph, row_title) = selected?;
    if !title_matches(&row_title, &title) {
        return None;
    }
    let text = &body[pane + 1..];
    let fetched_secs = body[2].split("fetched ").nth(1).and_then(|rest| {
        let age = rest.split_whitespace().next()?;
        match age.strip_suffix('s') {
            Some(n) => n.parse().ok(),
            None => age.strip_suffix('m')?.parse::<u64>().ok().map(|m| m * 60),
        }
    });
    Some(SiteShot {
        rows,
        selected_id: id,
        selected_title: title,
        selected_glyph,
        value: text.iter().any(|l| l == "Value"),
        description: text.iter().any(|l| l == "Description"),
        fetched_secs,
    })
}

#[derive(Debug, Clone)]
struct RequirementShot {
    /// The highlighted window, e.g. "2 6h".
    window: String,
    /// "Changes in the last 6h …": the window it names.
    changes_in: Option<String>,
    /// The lines under "Changes in the last …".
    changes: Vec<String>,
    /// The lower band row: each column's state glyph, or blank.
    glyph_row: String,
    /// The time axis under the band: "20:04:13Z    …    21:04:13Z (now)".
    axis: String,
    others_count: usize,
    /// The other sites listed: (name, profile); and the selected one.
    others: Vec<(String, String)>,
    selected_other: Option<String>,
}

/// The requirement view under `expected` crumbs with its band drawn.
fn requirement_view(st: &Styled, expected: &[String], width: usize) -> Option<RequirementShot> {
    let s = &st.screen;
    if !crumbs_are(s, expected) {
        return None;
    }
    let w = s.lines.iter().position(|l| l.starts_with("window "))?;
    let window = st.selection_on(w)?;
    let band = s.lines.get(w + 1)?;
    if band.chars().count() != width || !band.chars().all(|c| c == '█' || c == '·') {
        return None;
    }
    let glyph_row = s.lines.get(w + 2)?.clone();
    if !glyph_row
        .chars()
        .all(|c| c == ' ' || STATE_GLYPHS.contains(&c))
    {
        return None;
    }
    let axis = s.lines.get(w + 3)?.clone();
    let others_at = s
        .lines
        .iter()
        .position(|l| l.starts_with(" Other sites in "))?;
    let title = s.lines[others_at].trim_end_matches('─').trim_end();
    let others_count = title
        .strip_suffix(')')?
        .rsplit_once('(')?
        .1
        .parse::<usize>()
        .ok()?;
    let changes_at = s
        .lines
        .iter()
        .position(|l| l.starts_with("Changes in the last "));
    let changes_in = changes_at.and_then(|i| {
        s.lines[i]
            .strip_prefix("Changes in the last ")?
            .split_whitespace()
            .next()
            .map(str::to_string)
    });
    let changes = changes_at
        .map(|i| {
            s.lines[i + 1..others_at]
                .iter()
                .filter(|l| !l.trim().is_empty())
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut others = Vec::new();
    let mut selected_other = None;
    let footer = s.height() - 2;
    for i in others_at + 1..footer {
        let line = &s.lines[i];
        if line.trim().is_empty() || line.starts_with("None:") {
            continue;
        }
        let Some((_, rest)) = glyph_line(line) else {
            continue;
        };
        let mut parts = rest.trim().splitn(2, "  ");
        let name = parts.next()?.trim().to_string();
        let profile = parts.next().unwrap_or("").trim().to_string();
        if st.selection_on(i).is_some() {
            selected_other = Some(name.clone());
        }
        others.push((name, profile));
    }
    if others_count > 0 && (others.is_empty() || selected_other.is_none()) {
        return None;
    }
    Some(RequirementShot {
        window,
        changes_in,
        changes,
        glyph_row,
        axis,
        others_count,
        others,
        selected_other,
    })
}

/// `2026-11-23T20:46:09Z`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// The time a report row starts with.
fn row_time(line: &str) -> Option<String> {
    let time = line.trim_start().get(..20)?;
    is_rfc3339(time).then(|| time.to_string())
}

#[derive(Debug, Clone)]
struct ReportsShot {
    times: Vec<String>,
    selected: String,
}

fn reports_view(st: &Styled, expected: &[String]) -> Option<ReportsShot> {
    let s = &st.screen;
    if !crumbs_are(s, expected) || !s.body()[1].starts_with("Recent status reports") {
        return None;
    }
    let mut times = Vec::new();
    let mut selected = None;
    for (i, line) in s.lines.iter().enumerate().skip(3) {
        if let Some(time) = row_time(line) {
            if st.selection_on(i).is_some() {
                selected = Some(time.clone());
            }
            times.push(time);
        }
    }
    Some(ReportsShot {
        times,
        selected: selected?,
    })
}

/// The report's first line says "diff against <time>" (at 80 columns the
/// time may be cut short).
fn diffs_against(s: &Screen, time: &str) -> bool {
    s.body()[1]
        .split_once("diff against ")
        .is_some_and(|(_, shown)| !shown.is_empty() && time.starts_with(shown.trim_end()))
}

/// The diff's rows ("~ changed  Cron maintenance tasks  value"), or the
/// line saying nothing changed.
fn diff_rows(s: &Screen) -> Vec<String> {
    s.body()
        .iter()
        .map(|l| l.trim())
        .filter(|l| {
            l.starts_with("~ changed")
                || l.starts_with("+ added")
                || l.starts_with("- removed")
                || l.starts_with("No requirement changed")
        })
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------
// Steps shared by the journeys
// ---------------------------------------------------------------------------

/// Opens the site under the cursor and waits for its view, whole.
/// `texts`: whether requirements come with a value and description (the
/// demo's do; Prometheus has only their severities).
fn open_site(tmux: &Tmux, site: &Cursor, texts: bool) -> SiteShot {
    tmux.keys(&["Enter"]);
    let crumbs = site.crumbs();
    let shot = wait(tmux, &format!("the site view of {site}"), |st| {
        site_view(st, &crumbs).filter(|v| {
            !v.rows.is_empty()
                && (v.value || v.description || !texts)
                && st.screen.key_line().contains("history")
                && st.screen.key_line().contains("reports")
        })
    });
    let screen = capture(tmux).screen;
    assert!(
        !screen.contains(&format!("── {} ", site.env)),
        "the grid shows through the site view\n{}",
        screen.framed()
    );
    shot
}

/// In the site view: a refresh comes in (the data's age goes back down
/// while the view stays open) and the selection stays on `id`.
fn refreshes_live_keeping(tmux: &Tmux, crumbs: &[String], id: &str) {
    let first = wait(tmux, "the site view's \"fetched Ns ago\"", |st| {
        site_view(st, crumbs).and_then(|v| v.fetched_secs.map(|n| (n, v.selected_id)))
    });
    assert_eq!(first.1, id, "the selection moved");
    let started = Instant::now();
    let mut moved = 0;
    // Without a refresh the age would only grow: after N seconds it reads at
    // least (first + N - 2). Seeing it lower means new data came in.
    let (age, elapsed) = wait(tmux, "a refresh of the site view", |st| {
        let view = site_view(st, crumbs)?;
        if view.selected_id != id {
            moved += 1;
            assert!(
                moved < 3,
                "a refresh moved the selection from {id:?} to {:?}\n{}",
                view.selected_id,
                st.screen.framed()
            );
            return None;
        }
        moved = 0;
        let elapsed = started.elapsed().as_secs();
        let age = view.fetched_secs?;
        (elapsed >= 3 && age + 3 <= first.0 + elapsed).then_some((age, elapsed))
    });
    eprintln!(
        "site view: fetched {}s ago at first, {age}s ago {elapsed}s later, selection kept on {id:?}",
        first.0
    );
}

/// In the requirement view: when "Other sites in … failing …" lists any,
/// Enter opens the selected one and Esc comes back to this view as it was.
/// Returns the site opened.
fn visit_another_failing_site(
    tmux: &Tmux,
    crumbs: &[String],
    width: usize,
    window: &str,
) -> Option<String> {
    let shot = wait(tmux, "the requirement view with its other sites", |st| {
        requirement_view(st, crumbs, width).filter(|v| v.window == window)
    });
    if shot.others_count == 0 {
        return None;
    }
    let listed: Vec<String> = shot.others.iter().map(|(n, _)| n.clone()).collect();
    tmux.keys(&["Enter"]);
    let opened = wait(tmux, "Enter to open another site failing it", |st| {
        let c = crumbs_of(&st.screen);
        (c.len() == 3 && c[0] == crumbs[0] && c[2] != crumbs[2] && site_view(st, &c).is_some())
            .then_some(c)
    });
    assert!(
        listed.iter().any(|n| title_matches(n, &opened[2])),
        "opened {opened:?}, which the list did not show: {listed:?}"
    );
    if !shot
        .selected_other
        .as_deref()
        .is_some_and(|n| title_matches(n, &opened[2]))
    {
        // The list is live: it may have changed between reading and Enter.
        eprintln!(
            "opened {opened:?} while {:?} was selected when read",
            shot.selected_other
        );
    }
    let back = escape(tmux, "Esc back to the requirement view", |st| {
        requirement_view(st, crumbs, width).filter(|v| v.window == window)
    });
    assert_eq!(
        back.changes_in.as_deref(),
        window.split_whitespace().nth(1),
        "the window's changes after coming back"
    );
    Some(opened[2].clone())
}

/// Waits for the requirement view showing `window` ("2 6h") with its
/// changes loaded.
fn wait_for_window(tmux: &Tmux, crumbs: &[String], width: usize, window: &str) -> RequirementShot {
    let label = window.split_whitespace().nth(1).unwrap();
    wait(tmux, &format!("the requirement view over {label}"), |st| {
        requirement_view(st, crumbs, width)
            .filter(|v| v.window == window && v.changes_in.as_deref() == Some(label))
    })
}

// ---------------------------------------------------------------------------
// The demo
// ---------------------------------------------------------------------------

fn demo(width: u16, height: u16) -> Tmux {
    let tmux = Tmux::start(
        width,
        height,
        &command_line(&[BIN, "demo", "--seed", "1", "--refresh", "1"]),
    );
    tmux.wait_for("the first full frame", |s| {
        s.header().contains("updated") && s.contains("── dev")
    });
    tmux
}

/// Applies a text filter from the grid.
fn filter(tmux: &Tmux, text: &str) {
    tmux.keys(&["/"]);
    tmux.wait_for("the filter prompt", |s| s.status().starts_with('/'));
    tmux.type_text(text);
    tmux.keys(&["Enter"]);
    let mode = format!("filter \"{text}\"");
    wait(tmux, &format!("the grid filtered by {text:?}"), |st| {
        (st.screen.status().contains(&mode) && grid_cells(&st.screen).is_some()).then_some(())
    });
}

/// The first error cell on screen with its whole name, if any.
fn error_cell(cells: &[Cell], prefer: Option<&str>) -> Option<usize> {
    let errors = |c: &Cell| c.glyph == ERROR && c.whole();
    prefer
        .and_then(|name| cells.iter().position(|c| errors(c) && c.name == name))
        .or_else(|| cells.iter().position(errors))
}

/// The drill-down journey through the demo at `width`×`height`.
fn demo_journey(width: u16, height: u16) {
    let started = Instant::now();
    let tmux = demo(width, height);
    let small = height < 30;

    // 1. A site in error, under a text filter (and, at 80x24, scrolled).
    let mut filter_text = String::from("e");
    let (screen, cells, target) = if small {
        // "e" keeps most of the fleet: more than a screen.
        filter(&tmux, &filter_text);
        let mut found = None;
        for page in 0..12 {
            let before = cursor(&tmux.screen());
            tmux.keys(&["PageDown"]);
            let st = wait(&tmux, "PgDn in the filtered grid", |st| {
                let s = &st.screen;
                let cells = grid_cells(s)?;
                (cursor(s) != before && !s.body()[0].starts_with("── dev"))
                    .then(|| (s.clone(), cells))
            });
            if let Some(i) = error_cell(&st.1, None) {
                found = Some((st.0, st.1, i));
                break;
            }
            assert!(page < 11, "no site in error on any page\n{}", st.0.framed());
        }
        found.unwrap()
    } else {
        let (name, _) = wait(&tmux, "a site in error on screen", |st| {
            let cells = grid_cells(&st.screen)?;
            let i = error_cell(&cells, None)?;
            Some((cells[i].name.clone(), cells))
        });
        filter_text = name.clone();
        filter(&tmux, &name);
        // A flapping site may be between errors: wait for one.
        wait(&tmux, "a site in error in the filtered grid", |st| {
            let cells = grid_cells(&st.screen)?;
            let i = error_cell(&cells, Some(&name))?;
            Some((st.screen.clone(), cells, i))
        })
    };
    let site = move_cursor_to(&tmux, &screen, &cells, target);
    let left = wait(&tmux, "the grid to settle on the site", |st| {
        let state = grid_state(&st.screen)?;
        let cells = grid_cells(&st.screen)?;
        (state.cursor == site && cells.iter().any(|c| c.shows(&site.site))).then_some(state)
    });
    // (At 80 columns a long status line cuts the modes short.)
    let filter_mode = format!("filter \"{filter_text}\"");
    assert!(
        left.modes
            .as_deref()
            .is_some_and(|m| m.starts_with(&filter_mode)),
        "no {filter_mode} in the status line: {:?}",
        left.modes
    );
    if small {
        assert!(
            !left.skeleton[0].starts_with("── dev"),
            "the grid is not scrolled: {:?}",
            left.skeleton
        );
    }

    // 2. The site view: breadcrumb, requirements, the selected one's text.
    let crumbs = site.crumbs();
    let first = open_site(&tmux, &site, true);
    if first.selected_glyph == ERROR {
        assert!(
            first.value && first.description,
            "the selected error requirement {:?} lacks its value or description",
            first.selected_title
        );
    }
    let screen = capture(&tmux).screen;
    assert!(
        screen.status().contains(&filter_mode),
        "the site view does not say the grid is {filter_mode}\n{}",
        screen.framed()
    );

    // j moves the selection; the data refreshes without moving it.
    tmux.keys(&["j"]);
    let second = wait(&tmux, "j to select the next requirement", |st| {
        site_view(st, &crumbs).filter(|v| v.selected_id != first.selected_id)
    });
    let id = second.selected_id.clone();
    refreshes_live_keeping(&tmux, &crumbs, &id);

    // 3. The requirement view, its windows, another site failing it. The
    // breadcrumb names the requirement by its title.
    tmux.keys(&["Enter"]);
    let req_crumbs = with(&crumbs, &second.selected_title);
    let w = width as usize;
    let hour = wait_for_window(&tmux, &req_crumbs, w, "1 1h");
    assert!(!hour.changes.is_empty(), "no line under the changes");
    for (key, label) in &WINDOWS[1..] {
        tmux.keys(&[key]);
        wait_for_window(&tmux, &req_crumbs, w, &format!("{key} {label}"));
    }
    let mut visited = visit_another_failing_site(&tmux, &req_crumbs, w, "4 7d");

    // Back on the site, on the same requirement.
    escape(&tmux, "Esc back to the site view", |st| {
        site_view(st, &crumbs).filter(|v| v.selected_id == id)
    });

    // The first (worst) requirement is more likely to have company.
    if visited.is_none() {
        tmux.keys(&["k"]);
        wait(&tmux, "k back to the first requirement", |st| {
            site_view(st, &crumbs).filter(|v| v.selected_id == first.selected_id)
        });
        tmux.keys(&["Enter"]);
        let worst = with(&crumbs, &first.selected_title);
        wait_for_window(&tmux, &worst, w, "1 1h");
        visited = visit_another_failing_site(&tmux, &worst, w, "1 1h");
        escape(&tmux, "Esc back to the site view", |st| {
            site_view(st, &crumbs).filter(|v| v.selected_id == first.selected_id)
        });
    }
    eprintln!("{width}x{height}: other site failing the requirement opened: {visited:?}");
    let selected = capture(&tmux);
    let selected = site_view(&selected, &crumbs).unwrap().selected_id;

    // 4. The reports, one report, its diff.
    tmux.keys(&["l"]);
    let reports_crumbs = with(&crumbs, "reports");
    let list = wait(&tmux, "the reports list", |st| {
        reports_view(st, &reports_crumbs).filter(|r| r.times.len() >= 2)
    });
    assert_eq!(list.selected, list.times[0], "the newest is selected first");
    tmux.keys(&["Enter"]);
    let report_crumbs = with(&reports_crumbs, &list.selected);
    wait(&tmux, "the newest report", |st| {
        let s = &st.screen;
        (crumbs_are(s, &report_crumbs) && s.body().iter().any(|l| requirement_row(l).is_some()))
            .then_some(())
    });
    tmux.keys(&["d"]);
    let diff_crumbs = with(&report_crumbs, "diff");
    let rows = wait(&tmux, "d to show the diff", |st| {
        let s = &st.screen;
        let rows = diff_rows(s);
        (crumbs_are(s, &diff_crumbs) && diffs_against(s, &list.times[1]) && !rows.is_empty())
            .then_some(rows)
    });
    eprintln!("{width}x{height}: diff rows {rows:?}");
    tmux.keys(&["d"]);
    wait(&tmux, "d again back to the report", |st| {
        crumbs_are(&st.screen, &report_crumbs).then_some(())
    });

    // 5. Esc, Esc, Esc: the grid exactly as it was left.
    escape(&tmux, "Esc back to the reports", |st| {
        reports_view(st, &reports_crumbs).filter(|r| r.selected == list.selected)
    });
    escape(&tmux, "Esc back to the site", |st| {
        site_view(st, &crumbs).filter(|v| v.selected_id == selected)
    });
    let back = escape(&tmux, "Esc back to the grid", |st| grid_state(&st.screen));
    let back = if back == left {
        back
    } else {
        // A frame caught half-drawn: give it a moment, then compare.
        wait_within(&tmux, Duration::from_secs(3), "the grid as left", |st| {
            grid_state(&st.screen).filter(|g| *g == left)
        })
    };
    assert_eq!(back, left);
    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
    eprintln!("{width}x{height}: the journey took {:?}", started.elapsed());
}

#[test]
fn drill_down_through_the_demo_at_120x40() {
    demo_journey(120, 40);
}

#[test]
fn drill_down_through_the_demo_at_80x24() {
    demo_journey(80, 24);
}

// ---------------------------------------------------------------------------
// A real Prometheus and a Loki stand-in
// ---------------------------------------------------------------------------

/// The captured reports of borger (tests/fixtures/loki/README.md), newest
/// first: healthy, half fixed, broken, broken, healthy, healthy.
const REPORT_TIMES: [&str; 6] = [
    "2026-11-23T20:46:09Z",
    "2026-11-23T19:46:09Z",
    "2026-11-23T18:46:09Z",
    "2026-11-23T17:46:09Z",
    "2026-11-23T16:46:09Z",
    "2026-11-23T15:46:09Z",
];

fn loki_fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/loki")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every environment on the one Prometheus (told apart by `selector`) and,
/// when given, the one Loki; polled every 2 s.
fn config(prometheus: &str, loki: Option<&str>) -> String {
    let mut text = String::from("refresh_interval = \"2s\"\n");
    for env in ["dev", "test", "prod"] {
        text.push_str(&format!(
            "\n[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\n\n\
             [environment.prometheus]\nurl = \"{prometheus}\"\ntimeout = \"2s\"\n"
        ));
        if let Some(loki) = loki {
            text.push_str(&format!(
                "\n[environment.loki]\nurl = \"{loki}\"\ntimeout = \"2s\"\n"
            ));
        }
    }
    text
}

/// A simulated fleet scraped by a real Prometheus, and the dashboard's
/// configuration for it in a temporary directory (HOME there too).
struct RealBackends {
    exporter: FleetExporter,
    /// Runs as long as the test needs it.
    _prometheus: TestPrometheus,
    dir: tempfile::TempDir,
}

impl RealBackends {
    /// Starts them, and waits until Prometheus has scraped the fleet.
    async fn start(scrape_interval: Duration, loki: Option<&MockServer>) -> RealBackends {
        let exporter = FleetExporter::start(FleetBuilder::new(40).build());
        let prometheus = TestPrometheus::builder()
            .target(exporter.target())
            .scrape_interval(scrape_interval)
            .start()
            .await;
        let dir = tempfile::Builder::new()
            .prefix("site-status-e2e-drilldown-")
            .tempdir()
            .expect("a temporary directory");
        std::fs::create_dir(dir.path().join("home")).expect("create HOME");
        let text = config(&prometheus.url(), loki.map(|l| l.uri()).as_deref());
        std::fs::write(dir.path().join("config.toml"), text).expect("write the configuration");
        prometheus.wait_for_fleet(&exporter).await;
        RealBackends {
            exporter,
            _prometheus: prometheus,
            dir,
        }
    }

    /// An error site in dev: near the top of the grid.
    fn error_site(&self) -> support::Site {
        let site = self
            .exporter
            .fleet()
            .sites
            .into_iter()
            .find(|s| s.kind == SiteKind::Error && s.env == "dev")
            .expect("an error site in dev");
        assert_eq!(site.worst_severity(), Some(2), "{site:?}");
        site
    }

    /// The dashboard on this configuration, at 120x40.
    fn dashboard(&self) -> Tmux {
        let path = |p: &Path| p.to_str().expect("a UTF-8 temporary path").to_string();
        let command = format!(
            "unset SITE_STATUS_CONFIG XDG_CONFIG_HOME; HOME={} {}",
            sh_quote(&path(&self.dir.path().join("home"))),
            command_line(&[BIN, "--config", &path(&self.dir.path().join("config.toml"))])
        );
        Tmux::start(120, 40, &command)
    }
}

/// Moves the grid's cursor to `site` (on the first screen) and returns the
/// grid as left there.
fn go_to(tmux: &Tmux, site: &support::Site) -> GridState {
    let cell = format!("{ERROR} {}", site.name);
    let (screen, cells) = wait(tmux, "the fleet with the error site", |st| {
        let s = &st.screen;
        let cells = grid_cells(s)?;
        (s.header().contains("updated") && s.contains(&cell)).then(|| (s.clone(), cells))
    });
    let target = cells
        .iter()
        .position(|c| c.env == site.env && c.name == site.name)
        .expect("the error site's cell");
    let at = move_cursor_to(tmux, &screen, &cells, target);
    assert_eq!(
        at.crumbs(),
        [site.env.clone(), site.profile.clone(), site.name.clone()]
    );
    wait(tmux, "the grid to settle on the site", |st| {
        grid_state(&st.screen).filter(|g| g.cursor == at)
    })
}

#[tokio::test]
async fn drill_down_against_a_real_prometheus_and_loki() {
    let started = Instant::now();
    let loki = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/loki/api/v1/query_range"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            loki_fixture("query-range-borger-history.json"),
            "application/json; charset=UTF-8",
        ))
        .mount(&loki)
        .await;
    let backends = RealBackends::start(Duration::from_secs(1), Some(&loki)).await;
    let site = backends.error_site();
    let tmux = backends.dashboard();
    let left = go_to(&tmux, &site);
    let at = left.cursor.clone();

    // The site: every requirement, the worst (an error) selected.
    let crumbs = at.crumbs();
    let view = open_site(&tmux, &at, false);
    assert_eq!(
        view.rows.len(),
        site.requirements.len(),
        "requirements listed: {:?}",
        view.rows
    );
    assert_eq!(view.selected_glyph, ERROR);
    assert_eq!(
        site.requirements.get(&view.selected_id),
        Some(&2),
        "the selected requirement {:?} is not one of the site's errors",
        view.selected_id
    );

    // Its history from a range query: absent before the fleet was scraped,
    // an error since. The view is named by the title the site's latest
    // report (from Loki) gives the requirement, as the site view lists it.
    tmux.keys(&["Enter"]);
    let req_crumbs = with(&crumbs, &view.selected_title);
    let history = wait(&tmux, "the requirement's band from Prometheus", |st| {
        requirement_view(st, &req_crumbs, 120).filter(|v| {
            v.window == "1 1h"
                && v.changes_in.as_deref() == Some("1h")
                && v.changes
                    .iter()
                    .any(|l| l.contains('→') || l.starts_with("steady") || l.starts_with("absent"))
        })
    });
    assert_eq!(
        history.glyph_row.trim_end().chars().last(),
        Some(ERROR),
        "the band does not end in an error: {:?}",
        history.glyph_row
    );
    assert!(
        history
            .changes
            .iter()
            .any(|l| l.ends_with("absent → ✖ error")),
        "the error's start is not among the changes: {:?}",
        history.changes
    );
    let visited = visit_another_failing_site(&tmux, &req_crumbs, 120, "1 1h");
    assert!(
        visited.is_some(),
        "the fleet has other dev sites failing {:?}",
        view.selected_id
    );
    escape(&tmux, "Esc back to the site", |st| {
        site_view(st, &crumbs).filter(|v| v.selected_id == view.selected_id)
    });

    // The reports: the six captured, newest first.
    tmux.keys(&["l"]);
    let reports_crumbs = with(&crumbs, "reports");
    let list = wait(&tmux, "the six reports from Loki", |st| {
        reports_view(st, &reports_crumbs).filter(|r| r.times.len() == REPORT_TIMES.len())
    });
    assert_eq!(list.times, REPORT_TIMES);
    assert_eq!(list.selected, REPORT_TIMES[0]);
    tmux.keys(&["Enter"]);
    let report_crumbs = with(&reports_crumbs, REPORT_TIMES[0]);
    wait(&tmux, "the newest report", |st| {
        let s = &st.screen;
        (crumbs_are(s, &report_crumbs) && s.body().iter().any(|l| requirement_row(l).is_some()))
            .then_some(())
    });
    // Half fixed → healthy: the two requirements fixed last.
    tmux.keys(&["d"]);
    let diff_crumbs = with(&report_crumbs, "diff");
    let rows = wait(&tmux, "the diff against the report before", |st| {
        let s = &st.screen;
        (crumbs_are(s, &diff_crumbs) && diffs_against(s, REPORT_TIMES[1]))
            .then(|| diff_rows(s))
            .filter(|r| !r.is_empty())
    });
    let mut squeezed: Vec<String> = rows
        .iter()
        .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    squeezed.sort();
    assert_eq!(
        squeezed,
        [
            "~ changed Drupal core update status ✖ error → ● ok",
            "~ changed Entity/field definitions ✖ error → ● ok",
        ],
        "{rows:#?}"
    );

    // Esc ×3: the grid on the same site.
    escape(&tmux, "Esc back to the reports", |st| {
        reports_view(st, &reports_crumbs).filter(|r| r.selected == REPORT_TIMES[0])
    });
    escape(&tmux, "Esc back to the site", |st| {
        site_view(st, &crumbs).filter(|v| v.selected_id == view.selected_id)
    });
    let back = escape(&tmux, "Esc back to the grid", |st| grid_state(&st.screen));
    let back = if back == left {
        back
    } else {
        wait_within(&tmux, Duration::from_secs(3), "the grid as left", |st| {
            grid_state(&st.screen).filter(|g| *g == left)
        })
    };
    assert_eq!(back, left);

    // The reports asked Loki for this site's stream in its environment.
    let requests = loki.received_requests().await.unwrap_or_default();
    let selector = format!("site=\"{}\"", site.name);
    assert!(
        requests.iter().any(|r| r
            .url
            .query_pairs()
            .any(|(k, v)| k == "query" && v.contains(&selector) && v.contains("env=\"dev\""))),
        "no query_range for {selector} in dev: {:?}",
        requests
            .iter()
            .map(|r| r.url.to_string())
            .collect::<Vec<_>>()
    );

    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
    eprintln!("the real-backend journey took {:?}", started.elapsed());
}

/// `21:04:13Z`, as the requirement view writes times.
fn clock(unix_seconds: f64) -> String {
    let s = unix_seconds as u64 % 86_400;
    format!("{:02}:{:02}:{:02}Z", s / 3600, (s / 60) % 60, s % 60)
}

/// Found while writing the journey above: the newest point of a failing
/// requirement's band reads "absent" right after each step boundary, and
/// the view lists "error → absent" as its newest change (a recovery that
/// did not happen).
///
/// A requirement that still fails must not read as recovered at the newest
/// point of its band. (`fetch_history` once rounded the range query's end up
/// to the next step, whose window held no sample until the next scrape; the
/// band then ended in a false `error → absent`.)
#[tokio::test]
async fn a_failing_requirement_does_not_read_as_recovered_after_a_step_boundary() {
    // Scrapes 5 s apart: the newest window stays empty for a while.
    let backends = RealBackends::start(Duration::from_secs(5), None).await;
    let site = backends.error_site();
    let tmux = backends.dashboard();
    let at = go_to(&tmux, &site).cursor;
    let view = open_site(&tmux, &at, false);
    assert_eq!(site.requirements.get(&view.selected_id), Some(&2));
    tmux.keys(&["Enter"]);
    let crumbs = with(&at.crumbs(), &view.selected_id);
    wait(&tmux, "the requirement's band", |st| {
        requirement_view(st, &crumbs, 120)
            .filter(|v| v.changes.iter().any(|l| l.ends_with("absent → ✖ error")))
    });

    // Just past the 1h window's next step boundary (15 s), poll now.
    let step = 15.0;
    let boundary = (support::fleet::unix_now() / step).ceil() * step;
    let deadline = Instant::now() + Duration::from_secs(20);
    while support::fleet::unix_now() < boundary + 0.1 {
        assert!(Instant::now() < deadline, "the clock does not move");
        std::thread::sleep(Duration::from_millis(10));
    }
    tmux.keys(&["r"]);
    // A poll after the boundary: the band's end ("… (now)") has passed it.
    let boundary_label = clock(boundary);
    let shot = wait(&tmux, "a band polled after the boundary", |st| {
        requirement_view(st, &crumbs, 120).filter(|v| {
            v.axis
                .trim_end()
                .strip_suffix(" (now)")
                .and_then(|a| a.split_whitespace().last())
                .is_some_and(|end| end >= boundary_label.as_str())
        })
    });
    // The exporter still serves the error: nothing recovered.
    assert_eq!(
        backends.exporter.fleet().site(&site.name).requirements[&view.selected_id],
        2
    );
    assert!(
        !shot.changes[0].ends_with("? absent"),
        "a still-failing requirement reads as gone since {}: {:?}",
        clock(boundary),
        shot.changes
    );
}
