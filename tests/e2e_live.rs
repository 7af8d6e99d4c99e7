//! End to end: live monitoring during a deploy and muting (README, "During a
//! deploy: live monitoring" and "Muting what is known and accepted") with
//! the real binary in a real terminal (tmux; the harness is in
//! tests/support/tmux.rs).
//!
//! - The demo fleet at 160x45: the transition log (`t`) and Enter on one of
//!   its lines, the change markers in the grid, the timeline strip (`T`),
//!   the requirement pivot (`p`) down to a failing site, the rollout of a
//!   profile (`v`), freezing the view (Space), and muting a warning from
//!   the site view (`m`, `M`) into a temporary rules file.
//! - A real Prometheus scraping a simulated fleet the test changes: every
//!   number on screen (strip, log, pivot, rollout) is checked against what
//!   the fleet serves.
//! - Two app bugs found on the way, each pinned by an ignored test: the
//!   transition log's selection moves when transitions come in, and the
//!   timeline strip's lines lose their last character at some widths.
//!
//! Attributes (the selection in reverse video, change markers underlined
//! and bold) are read from `capture-pane -e`. Every wait polls the screen
//! and is bounded (`SITE_STATUS_E2E_TIMEOUT` seconds, default 15; longer
//! where a real Prometheus has to scrape first). Escape is always sent alone
//! and its effect awaited before the next key: an Escape followed at once by
//! a key reads as Alt+key.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::tmux::{Screen, Tmux, command_line, sh_quote, timeout};
use support::{Fleet, FleetBuilder, FleetExporter, Site, SiteKind, TestPrometheus};

const BIN: &str = env!("CARGO_BIN_EXE_site-status");
const SEP: &str = " › ";
const ENVS: [&str; 3] = ["dev", "test", "prod"];
/// Every state's glyph and label as the app writes them, worst first.
const STATES: [(char, &str); 8] = [
    ('✖', "error"),
    ('▼', "target down"),
    ('⊘', "run failed"),
    ('?', "no data"),
    ('◷', "stale"),
    ('▲', "warning"),
    ('●', "ok"),
    ('○', "info"),
];
const ERROR: char = '✖';
const WARNING: char = '▲';
const OK: char = '●';
/// The sparkline's bars.
const BARS: &str = " ▁▂▃▄▅▆▇█";
/// Waits that include a real Prometheus scraping a change.
const PROMETHEUS_WAIT: Duration = Duration::from_secs(30);

fn is_glyph(c: char) -> bool {
    STATES.iter().any(|(g, _)| *g == c)
}

// ---------------------------------------------------------------------------
// Reading a capture with its attributes
// ---------------------------------------------------------------------------

use support::tmux::{Attr, Styled as Shot};

fn capture(tmux: &Tmux) -> Shot {
    tmux.styled()
}

fn wait<T>(tmux: &Tmux, what: &str, check: impl FnMut(&Shot) -> Option<T>) -> T {
    tmux.wait_styled(what, check)
}

fn wait_within<T>(
    tmux: &Tmux,
    limit: Duration,
    what: &str,
    check: impl FnMut(&Shot) -> Option<T>,
) -> T {
    tmux.wait_styled_within(limit, what, check)
}

/// A check of one frame that must hold. Retried over about a second of
/// frames, as a capture can catch a frame half drawn; fails with the last
/// reason and screen.
fn holds<T>(tmux: &Tmux, what: &str, mut check: impl FnMut(&Shot) -> Result<T, String>) -> T {
    let mut last = String::new();
    for _ in 0..10 {
        let shot = capture(tmux);
        match check(&shot) {
            Ok(found) => return found,
            Err(why) => last = format!("{why}\n{}", shot.screen.framed()),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: {last}");
}

/// Sends Escape alone and waits for its effect.
fn escape<T>(tmux: &Tmux, what: &str, check: impl FnMut(&Shot) -> Option<T>) -> T {
    tmux.keys(&["Escape"]);
    wait(tmux, what, check)
}

// ---------------------------------------------------------------------------
// The grid
// ---------------------------------------------------------------------------

/// The grid's cursor as the status line names it:
/// `dev › kk_borger › data  ▲ warning  (update_contrib)   showing muted …`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    env: String,
    profile: String,
    site: String,
    /// "▲ warning".
    state: String,
    /// The failing requirements listed in parentheses.
    failing: Vec<String>,
    /// Everything else on the line: the modes at its right end.
    modes: String,
}

impl Cursor {
    fn crumbs(&self) -> Vec<String> {
        vec![self.env.clone(), self.profile.clone(), self.site.clone()]
    }
}

fn cursor(s: &Screen) -> Option<Cursor> {
    let mut parts = s
        .status()
        .split("  ")
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let crumbs: Vec<&str> = parts.next()?.split(SEP).collect();
    let [env, profile, site] = crumbs[..] else {
        return None;
    };
    let state = parts.next()?.to_string();
    let mut failing = Vec::new();
    let mut modes = Vec::new();
    for part in parts {
        match part.strip_prefix('(').and_then(|p| p.strip_suffix(')')) {
            Some(list) if failing.is_empty() && modes.is_empty() => {
                failing = list.split(", ").map(str::to_string).collect();
            }
            _ => modes.push(part),
        }
    }
    Some(Cursor {
        env: env.into(),
        profile: profile.into(),
        site: site.into(),
        state,
        failing,
        modes: modes.join("  "),
    })
}

#[derive(Debug, Clone)]
struct Cell {
    env: String,
    profile: String,
    glyph: char,
    /// As shown: possibly cut short with "…".
    name: String,
    /// Glyph and name underlined and bold: the change marker.
    marked: bool,
    /// Any character of glyph or name underlined.
    underlined: bool,
}

#[derive(Debug, Clone)]
struct Group {
    env: String,
    profile: String,
    /// `None` for a flowing profile's label, which carries no count.
    total: Option<usize>,
    /// Its header counts a site without data.
    has_no_data: bool,
}

/// The grid on screen: the timeline strip over it, its profile groups and
/// its cells. Env and profile are "?" while their header is scrolled off.
struct Grid {
    strip: Vec<String>,
    groups: Vec<Group>,
    cells: Vec<Cell>,
}

impl Grid {
    fn cell(&self, env: &str, name: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.env == env && c.name == name)
    }

    fn position(&self, env: &str, name: &str) -> Option<usize> {
        self.cells
            .iter()
            .position(|c| c.env == env && c.name == name)
    }
}

/// Words of a line with the column (char index) each starts at.
fn words(line: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut word = String::new();
    let mut start = 0;
    for (i, c) in line.chars().enumerate() {
        if c.is_whitespace() {
            if !word.is_empty() {
                found.push((start, std::mem::take(&mut word)));
            }
        } else {
            if word.is_empty() {
                start = i;
            }
            word.push(c);
        }
    }
    if !word.is_empty() {
        found.push((start, word));
    }
    found
}

/// The normal-density grid, or `None` when the screen is not the grid
/// (another view, a half-drawn frame).
fn grid(shot: &Shot) -> Option<Grid> {
    let s = &shot.screen;
    cursor(s)?;
    if !s.key_line().contains("t changes") {
        return None;
    }
    let body = s.body();
    let first_section = body.iter().position(|l| l.starts_with("── "))?;
    let strip = body[..first_section].to_vec();
    let mut env = "?".to_string();
    let mut profile = "?".to_string();
    let mut groups = Vec::new();
    let mut cells = Vec::new();
    for (i, line) in body.iter().enumerate().skip(first_section) {
        let pane_line = i + 1;
        if line.trim().is_empty() {
            continue;
        }
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
            let mut w = rest.split_whitespace();
            profile = w.next()?.into();
            let total = Some(w.next()?.parse().ok()?);
            groups.push(Group {
                env: env.clone(),
                profile: profile.clone(),
                total,
                has_no_data: w.any(|c| c.starts_with('?')),
            });
            continue;
        }
        // A badge sits between a cell's glyph and its name; where
        // profiles flow on the same lines, a label starts each.
        let cleaned = support::tmux::without_badges(line);
        let mut found = words(&cleaned).into_iter();
        while let Some((at, glyph)) = found.next() {
            let mut chars = glyph.chars();
            let g = chars.next()?;
            if chars.next().is_some() || !is_glyph(g) {
                profile = glyph.clone();
                groups.push(Group {
                    env: env.clone(),
                    profile: profile.clone(),
                    total: None,
                    has_no_data: false,
                });
                continue;
            }
            let (name_at, name) = found.next()?;
            let (at, name_at, name) = (&at, &name_at, &name);
            let columns: Vec<usize> = std::iter::once(*at)
                .chain(*name_at..*name_at + name.chars().count())
                .collect();
            let attrs: Vec<Attr> = columns.iter().map(|c| shot.attr(pane_line, *c)).collect();
            cells.push(Cell {
                env: env.clone(),
                profile: profile.clone(),
                glyph: g,
                name: name.clone(),
                marked: attrs.iter().all(|a| a.underline && a.bold),
                underlined: attrs.iter().any(|a| a.underline),
            });
        }
    }
    Some(Grid {
        strip,
        groups,
        cells,
    })
}

/// Moves the grid's cursor to the cell of `name` in `env` (on screen) and
/// waits for the status line to name it.
fn move_cursor_to(tmux: &Tmux, env: &str, name: &str) -> Cursor {
    let (from, target) = wait(tmux, &format!("{env} {name} on the grid"), |st| {
        let g = grid(st)?;
        let at = cursor(&st.screen)?;
        Some((g.position(&at.env, &at.site)?, g.position(env, name)?))
    });
    let key = if target >= from { "l" } else { "h" };
    let presses = vec![key; target.abs_diff(from)];
    if !presses.is_empty() {
        tmux.keys(&presses);
    }
    wait(tmux, &format!("the cursor on {env} {name}"), |st| {
        let c = cursor(&st.screen)?;
        grid(st)?;
        (c.env == env && c.site == name).then_some(c)
    })
}

/// A line of the grid without what changes on its own: "12s ago" ages.
fn without_ages(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let is_age = w
            .strip_suffix(['s', 'm', 'h', 'd'])
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            && words.get(i + 1).is_some_and(|n| n.starts_with("ag"));
        out.push(if is_age { "#" } else { w });
    }
    out.join(" ")
}

/// The grid's body as it would compare between two frames showing the same
/// data: ages masked.
fn grid_body(shot: &Shot) -> Option<Vec<String>> {
    grid(shot)?;
    Some(shot.screen.body().iter().map(|l| without_ages(l)).collect())
}

// ---------------------------------------------------------------------------
// The timeline strip
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct StripLine {
    env: String,
    errors_now: u32,
    warnings_now: u32,
    error_bars: String,
    warning_bars: String,
    /// The tail ends "… ago", whole.
    whole: bool,
}

/// `dev  ✖ ▃▃▂… ▲ ███… now ✖2 ▲15 · peak 15 · 1h · 0s ago`.
fn strip_line(line: &str) -> Option<StripLine> {
    let (env, rest) = line.split_once(' ')?;
    let rest = rest.trim_start().strip_prefix("✖ ")?;
    let (error_bars, rest) = rest.split_once(" ▲ ")?;
    let (warning_bars, tail) = rest.split_once(" now ✖")?;
    let (errors, tail) = tail.split_once(" ▲")?;
    let warnings = tail.split_whitespace().next()?;
    let bars = |s: &str| s.chars().all(|c| BARS.contains(c));
    if !bars(error_bars) || !bars(warning_bars) {
        return None;
    }
    Some(StripLine {
        env: env.to_string(),
        errors_now: errors.parse().ok()?,
        warnings_now: warnings.parse().ok()?,
        error_bars: error_bars.to_string(),
        warning_bars: warning_bars.to_string(),
        whole: tail.ends_with(" ago"),
    })
}

/// The strip over the grid, one line per environment in order, each with
/// its counts; `None` while any is still loading.
fn strip(shot: &Shot) -> Option<Vec<StripLine>> {
    let g = grid(shot)?;
    let lines: Vec<StripLine> = g
        .strip
        .iter()
        .map(|l| strip_line(l))
        .collect::<Option<_>>()?;
    let envs: Vec<&str> = lines.iter().map(|l| l.env.as_str()).collect();
    (envs == ENVS).then_some(lines)
}

// ---------------------------------------------------------------------------
// The views
// ---------------------------------------------------------------------------

/// The breadcrumb on top of a view: `dev › kk_base › borger`.
fn crumbs_of(s: &Screen) -> Vec<String> {
    s.body()[0].trim().split(SEP).map(str::to_string).collect()
}

/// " ✖ text": a state glyph and the text after it.
fn glyph_line(line: &str) -> Option<(char, &str)> {
    let rest = line.strip_prefix(' ')?;
    let mut chars = rest.chars();
    let glyph = chars.next()?;
    if !is_glyph(glyph) || chars.next() != Some(' ') {
        return None;
    }
    Some((glyph, chars.as_str()))
}

#[derive(Debug, Clone)]
struct ReqRow {
    glyph: char,
    title: String,
    muted: bool,
}

#[derive(Debug, Clone)]
struct SiteShot {
    /// The site's state line starts with its glyph.
    state_glyph: Option<char>,
    rows: Vec<ReqRow>,
    selected: Option<usize>,
    /// The selected requirement's text: glyph, title, id.
    pane: Option<(char, String, String)>,
    /// " muted: <reason> (until …)" over the selected requirement's text.
    note: Option<String>,
}

impl SiteShot {
    fn selected_id(&self) -> Option<&str> {
        self.pane.as_ref().map(|(_, _, id)| id.as_str())
    }

    fn selected_row(&self) -> Option<&ReqRow> {
        self.rows.get(self.selected?)
    }
}

/// The site view under `crumbs`, with its requirements listed.
fn site_view(shot: &Shot, crumbs: &[String]) -> Option<SiteShot> {
    let s = &shot.screen.left_of_kube_pane();
    if crumbs_of(s) != crumbs {
        return None;
    }
    let body = s.body();
    let state_glyph = body
        .get(1)
        .and_then(|l| l.chars().next())
        .filter(|c| is_glyph(*c));
    let pane_at = body.iter().position(|l| {
        let inner = l.trim_end_matches('─').trim_end();
        inner.len() < l.len() && glyph_line(inner).is_some()
    });
    let end = pane_at.unwrap_or(body.len());
    let mut rows = Vec::new();
    let mut selected = None;
    let mut note = None;
    for (i, line) in body.iter().enumerate().take(end).skip(3) {
        if let Some(rest) = line.strip_prefix(" muted: ") {
            // A long reason wraps onto the lines before the text pane.
            let mut text = rest.trim_end().to_string();
            for more in &body[i + 1..end] {
                text.push(' ');
                text.push_str(more.trim());
            }
            note = Some(text);
            break;
        }
        let Some((glyph, text)) = glyph_line(line) else {
            continue;
        };
        if shot.selected(i + 1) {
            selected = Some(rows.len());
        }
        rows.push(ReqRow {
            glyph,
            title: text.split("  ").next().unwrap_or("").trim().to_string(),
            muted: line.trim_end().ends_with("[muted]"),
        });
    }
    let pane = pane_at.and_then(|at| {
        let inner = body[at].trim_end_matches('─').trim_end();
        let (glyph, text) = glyph_line(inner)?;
        let (title, id) = text.strip_suffix(')')?.rsplit_once(" (")?;
        Some((glyph, title.to_string(), id.to_string()))
    });
    if rows.is_empty() {
        return None;
    }
    Some(SiteShot {
        state_glyph,
        rows,
        selected,
        pane,
        note,
    })
}

/// One line of the transition log:
/// ` 21:04:13Z prod  kk_borger    borger  ● ok → ✖ error  (update, cron)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Logged {
    time: String,
    env: String,
    profile: String,
    site: String,
    from: (char, String),
    to: (char, String),
    /// The requirements crossing, as listed ("cron", "update fixed").
    requirements: Vec<String>,
}

impl Logged {
    fn crumbs(&self) -> Vec<String> {
        vec![self.env.clone(), self.profile.clone(), self.site.clone()]
    }
}

/// The first word of `s` and what follows it.
fn take_word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace)?;
    Some((&s[..end], &s[end..]))
}

fn state_of(text: &str) -> Option<(char, String)> {
    let mut chars = text.trim().chars();
    let glyph = chars.next()?;
    let label = chars.as_str().trim();
    STATES
        .iter()
        .any(|(g, l)| *g == glyph && *l == label)
        .then(|| (glyph, label.to_string()))
}

/// `21:04:13Z` as seconds of the day.
fn clock_seconds(time: &str) -> Option<u32> {
    let t = time.strip_suffix('Z')?;
    let parts: Vec<u32> = t
        .split(':')
        .map(|p| (p.len() == 2).then(|| p.parse().ok()).flatten())
        .collect::<Option<_>>()?;
    match parts[..] {
        [h, m, s] if h < 24 && m < 60 && s < 60 => Some(h * 3600 + m * 60 + s),
        _ => None,
    }
}

fn logged(line: &str) -> Option<Logged> {
    let (time, rest) = take_word(line)?;
    clock_seconds(time)?;
    let (env, rest) = take_word(rest)?;
    let (profile, rest) = take_word(rest)?;
    let (site, rest) = take_word(rest)?;
    let (from, right) = rest.split_once(" → ")?;
    let (to, requirements) = match right.split_once("  (") {
        Some((to, list)) => (
            to,
            list.strip_suffix(')')?
                .split(", ")
                .map(str::to_string)
                .collect(),
        ),
        None => (right, Vec::new()),
    };
    Some(Logged {
        time: time.into(),
        env: env.into(),
        profile: profile.into(),
        site: site.into(),
        from: state_of(from)?,
        to: state_of(to)?,
        requirements,
    })
}

#[derive(Debug, Clone)]
struct Log {
    kept: usize,
    rows: Vec<Logged>,
    /// Lines that are not transitions.
    bad: Vec<String>,
    selected: Option<usize>,
}

/// The transition log: "Transitions, newest first (UTC) · N kept · …".
fn log_view(shot: &Shot) -> Option<Log> {
    let s = &shot.screen;
    let body = s.body();
    if body[0].trim() != "transitions" {
        return None;
    }
    let kept = body[1]
        .strip_prefix("Transitions, newest first (UTC) · ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let mut selected = None;
    for (i, line) in body.iter().enumerate().skip(2) {
        if line.trim().is_empty() || line.starts_with("Nothing has changed") {
            continue;
        }
        match logged(line) {
            Some(row) => {
                if shot.selected(i + 1) {
                    selected = Some(rows.len());
                }
                rows.push(row);
            }
            None => bad.push(line.clone()),
        }
    }
    Some(Log {
        kept,
        rows,
        bad,
        selected,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PivotRow {
    glyph: char,
    requirement: String,
    total: usize,
    per_env: Vec<(String, usize)>,
}

/// ` ▲ update_contrib     71   dev 14    test 20    prod 37`.
fn pivot_row(line: &str) -> Option<PivotRow> {
    let (glyph, text) = glyph_line(line)?;
    let w: Vec<&str> = text.split_whitespace().collect();
    let n = w.len();
    if n < 1 + 1 + 2 * ENVS.len() {
        return None;
    }
    let counts = &w[n - 2 * ENVS.len()..];
    let per_env = counts
        .chunks(2)
        .map(|p| Some((p[0].to_string(), p[1].parse().ok()?)))
        .collect::<Option<Vec<_>>>()?;
    Some(PivotRow {
        glyph,
        requirement: w[..n - 1 - 2 * ENVS.len()].join(" "),
        total: w[n - 1 - 2 * ENVS.len()].parse().ok()?,
        per_env,
    })
}

#[derive(Debug, Clone)]
struct Pivot {
    rows: Vec<PivotRow>,
    selected: Option<usize>,
}

fn pivot_view(shot: &Shot) -> Option<Pivot> {
    let body = shot.screen.body();
    if body[0].trim() != "pivot"
        || !body[1].starts_with("Requirements at warning or worse, by failing sites")
    {
        return None;
    }
    let mut rows = Vec::new();
    let mut selected = None;
    for (i, line) in body.iter().enumerate().skip(2) {
        if line.trim().is_empty() || line.starts_with("No requirement fails") {
            continue;
        }
        if shot.selected(i + 1) {
            selected = Some(rows.len());
        }
        rows.push(pivot_row(line)?);
    }
    Some(Pivot { rows, selected })
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct FailingRow {
    env: String,
    profile: String,
    site: String,
    glyph: char,
}

#[derive(Debug, Clone)]
struct Failing {
    count: usize,
    rows: Vec<FailingRow>,
    selected: Option<usize>,
}

/// "N sites failing REQ, worst first" under the crumbs `pivot › REQ`.
fn failing_view(shot: &Shot, requirement: &str) -> Option<Failing> {
    let body = shot.screen.body();
    if body[0].trim() != format!("pivot{SEP}{requirement}") {
        return None;
    }
    let count = body[1]
        .strip_suffix(&format!(" sites failing {requirement}, worst first"))?
        .parse()
        .ok()?;
    let mut rows = Vec::new();
    let mut selected = None;
    for (i, line) in body.iter().enumerate().skip(2) {
        if line.trim().is_empty() {
            continue;
        }
        let (glyph, text) = glyph_line(line)?;
        let w: Vec<&str> = text.split_whitespace().collect();
        let [env, profile, site] = w[..] else {
            return None;
        };
        if shot.selected(i + 1) {
            selected = Some(rows.len());
        }
        rows.push(FailingRow {
            env: env.into(),
            profile: profile.into(),
            site: site.into(),
            glyph,
        });
    }
    Some(Failing {
        count,
        rows,
        selected,
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RolloutBlock {
    env: String,
    /// Newest first, as drawn.
    versions: Vec<(String, usize)>,
    no_sites: bool,
    /// "still on an older version: a, b".
    older: Vec<String>,
}

#[derive(Debug, Clone)]
struct RolloutShot {
    profile: String,
    blocks: Vec<RolloutBlock>,
}

/// The rollout view, once every environment's block has loaded.
fn rollout_view(shot: &Shot) -> Option<RolloutShot> {
    let body = shot.screen.body();
    let profile = body[0].trim().strip_prefix(&format!("rollout{SEP}"))?;
    if !body[1].starts_with(&format!("Rollout of {profile}  ")) {
        return None;
    }
    let mut blocks: Vec<RolloutBlock> = Vec::new();
    for line in &body[2..] {
        if let Some(list) = line.strip_prefix("  still on an older version: ") {
            blocks.last_mut()?.older = list.split(", ").map(str::to_string).collect();
            continue;
        }
        let Some((env, rest)) = line.split_once(' ') else {
            continue;
        };
        if !ENVS.contains(&env) {
            continue;
        }
        let mut block = RolloutBlock {
            env: env.to_string(),
            ..RolloutBlock::default()
        };
        if rest.starts_with("no sites of this profile") {
            block.no_sites = true;
        } else {
            for part in rest.split(" · ") {
                let w: Vec<&str> = part.split_whitespace().collect();
                let [version, count, bar, ..] = w[..] else {
                    return None; // loading…, or an error
                };
                if !bar.chars().all(|c| c == '█') {
                    return None;
                }
                block
                    .versions
                    .push((version.to_string(), count.parse().ok()?));
            }
        }
        blocks.push(block);
    }
    let envs: Vec<&str> = blocks.iter().map(|b| b.env.as_str()).collect();
    (envs == ENVS).then(|| RolloutShot {
        profile: profile.to_string(),
        blocks,
    })
}

/// The grid as it was frozen (a frame that differs may be half drawn: the
/// next ones must not differ).
fn still_frozen(tmux: &Tmux, body: &[String]) {
    holds(tmux, "the grid changed while frozen", |st| {
        match (frozen(&st.screen), grid_body(st)) {
            (Some(_), Some(now)) if now == body => Ok(()),
            (None, _) => Err("not frozen".to_string()),
            (_, now) => Err(format!("frozen as\n{}\nnow {now:#?}", body.join("\n"))),
        }
    });
}

/// "FROZEN, N updates waiting" in the header: N.
fn frozen(s: &Screen) -> Option<usize> {
    s.header()
        .split_once("FROZEN, ")?
        .1
        .split_once(" updates waiting")?
        .0
        .parse()
        .ok()
}

/// Dotted versions compared part by part, numerically where they are
/// numbers.
fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<(u64, String)> {
        v.split('.')
            .map(|p| (p.parse().unwrap_or(0), p.to_string()))
            .collect()
    };
    parts(a).cmp(&parts(b))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Seconds between two times of day, the short way round midnight.
fn clock_distance(a: u32, b: u32) -> u32 {
    let d = a.abs_diff(b);
    d.min(86_400 - d)
}

// ---------------------------------------------------------------------------
// Starting the dashboard
// ---------------------------------------------------------------------------

/// The dashboard in tmux, with HOME and the mute rules file in a temporary
/// directory of its own.
struct Dashboard {
    tmux: Tmux,
    dir: tempfile::TempDir,
}

impl Dashboard {
    fn start(width: u16, height: u16, args: &[&str], dir: tempfile::TempDir) -> Dashboard {
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("create HOME");
        let mut words = vec![BIN];
        words.extend_from_slice(args);
        let command = format!(
            "unset SITE_STATUS_CONFIG XDG_CONFIG_HOME XDG_DATA_HOME; HOME={} SITE_STATUS_MUTES={} {}",
            sh_quote(&path_text(&home)),
            sh_quote(&path_text(&dir.path().join("mutes.toml"))),
            command_line(&words)
        );
        Dashboard {
            tmux: Tmux::start(width, height, &command),
            dir,
        }
    }

    /// `demo --seed 1 --refresh 1`, up to its first full frame with the
    /// timeline strip loaded.
    fn demo(width: u16, height: u16) -> Dashboard {
        let dashboard = Dashboard::start(
            width,
            height,
            &["demo", "--seed", "1", "--refresh", "1"],
            temp_dir(),
        );
        wait(&dashboard.tmux, "the demo's first full frame", |st| {
            (st.screen.header().contains("updated") && strip(st).is_some()).then_some(())
        });
        dashboard
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("site-status-e2e-live-")
        .tempdir()
        .expect("a temporary directory")
}

fn path_text(p: &Path) -> String {
    p.to_str().expect("a UTF-8 temporary path").to_string()
}

// ---------------------------------------------------------------------------
// Steps shared by the tests
// ---------------------------------------------------------------------------

/// Opens the transition log from the grid and waits for at least `rows`
/// transitions in it.
fn open_log(tmux: &Tmux, rows: usize) -> Log {
    tmux.keys(&["t"]);
    wait(
        tmux,
        &format!("{rows} or more transitions in the log"),
        |st| log_view(st).filter(|l| l.rows.len() >= rows && l.bad.is_empty()),
    )
}

/// From a list view back to the grid with Escape.
fn back_to_grid(tmux: &Tmux, from: &str) -> Grid {
    escape(tmux, &format!("Esc from {from} back to the grid"), grid)
}

/// Checks a log's lines: well formed, newest first, from the last minutes.
fn assert_log_is_sane(log: &Log) {
    assert!(
        log.bad.is_empty(),
        "lines that are no transition: {:#?}",
        log.bad
    );
    let now = (unix_now() as u64 % 86_400) as u32;
    let times: Vec<u32> = log
        .rows
        .iter()
        .map(|r| clock_seconds(&r.time).unwrap())
        .collect();
    for (row, t) in log.rows.iter().zip(&times) {
        assert!(ENVS.contains(&row.env.as_str()), "env of {row:?}");
        assert_ne!(
            row.from, row.to,
            "a transition that changes nothing: {row:?}"
        );
        assert!(
            clock_distance(*t, now) <= 600,
            "{row:?} is not from the last minutes (now {now} s into the day)"
        );
    }
    for pair in times.windows(2) {
        // Newer first; a pair across midnight reads 00:00 before 23:59.
        assert!(
            pair[0] >= pair[1] || pair[1] - pair[0] > 43_200,
            "not newest first: {:#?}",
            log.rows
        );
    }
}

// ---------------------------------------------------------------------------
// The demo
// ---------------------------------------------------------------------------

/// The transition log, Enter on one of its lines, and the change markers
/// in the grid.
#[test]
fn demo_transition_log_opens_sites_and_marks_changes_in_the_grid() {
    let started = Instant::now();
    let demo = Dashboard::demo(160, 45);
    let tmux = &demo.tmux;

    let log = open_log(tmux, 4);
    assert_log_is_sane(&log);
    assert_eq!(log.selected, Some(0), "the newest is selected first");
    assert!(log.kept >= log.rows.len());
    eprintln!("log: {} kept, first {:?}", log.kept, log.rows[0]);

    // j, then Enter on the selected line opens that site. The log is live:
    // a transition coming in between reading the line and Enter moves the
    // selection (see the ignored test below), so a mismatch is retried.
    tmux.keys(&["j"]);
    let mut opened = None;
    for attempt in 0..4 {
        let (row, index) = wait(tmux, "a line selected in the log", |st| {
            let l = log_view(st)?;
            let i = l.selected.filter(|i| *i >= 1)?;
            Some((l.rows[i].clone(), i))
        });
        tmux.keys(&["Enter"]);
        let crumbs = wait(tmux, "Enter to open the line's site", |st| {
            let c = crumbs_of(&st.screen);
            (c.len() == 3 && site_view(st, &c).is_some()).then_some(c)
        });
        let matches = crumbs == row.crumbs();
        if !matches {
            eprintln!("attempt {attempt}: line {index} was {row:?} but Enter opened {crumbs:?}");
        }
        let back = escape(tmux, "Esc back to the log", log_view);
        assert_eq!(back.selected, Some(index), "the log's selection after Esc");
        if matches {
            opened = Some(row);
            break;
        }
    }
    let opened = opened.expect("Enter never opened the selected line's site");
    eprintln!("Enter on {opened:?} opened its site");
    back_to_grid(tmux, "the log");

    // Change markers: every logged site on screen is underlined and bold,
    // and not every cell is.
    let deadline = Instant::now() + timeout();
    loop {
        let log = open_log(tmux, 1);
        assert_log_is_sane(&log);
        back_to_grid(tmux, "the log");
        let logged: BTreeSet<(String, String)> = log
            .rows
            .iter()
            .map(|r| (r.env.clone(), r.site.clone()))
            .collect();
        let (on_screen, marked, cells) = holds(tmux, "change markers", |st| {
            let g = grid(st).ok_or("not the grid")?;
            let on_screen: Vec<&Cell> = g
                .cells
                .iter()
                .filter(|c| logged.contains(&(c.env.clone(), c.name.clone())))
                .collect();
            if let Some(cell) = on_screen.iter().find(|c| !c.marked) {
                return Err(format!(
                    "{} {} changed within the marker's 5 minutes but is not underlined and bold",
                    cell.env, cell.name
                ));
            }
            let underlined = g.cells.iter().filter(|c| c.underlined).count();
            if underlined >= g.cells.len() / 2 {
                return Err(format!(
                    "{underlined} of {} cells on screen are marked as changed",
                    g.cells.len()
                ));
            }
            let marked = g.cells.iter().filter(|c| c.marked).count();
            Ok((on_screen.len(), marked, g.cells.len()))
        });
        if on_screen == 0 {
            assert!(
                Instant::now() < deadline,
                "no site of the log is on screen: {logged:?}"
            );
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        // Each marked cell changed, so the log has at least as many lines.
        tmux.keys(&["t"]);
        let after = wait(tmux, "the log again", log_view);
        assert!(
            after.kept >= marked,
            "{marked} cells marked, {} transitions logged",
            after.kept
        );
        back_to_grid(tmux, "the log");
        eprintln!(
            "markers: {on_screen} logged sites on screen all marked; {marked} of {cells} cells marked"
        );
        break;
    }
    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
    eprintln!("transition log journey took {:?}", started.elapsed());
}

/// The timeline strip and `T`, the pivot down to a failing site, and the
/// rollout of the cursor's profile.
#[test]
fn demo_timeline_pivot_and_rollout() {
    let started = Instant::now();
    let demo = Dashboard::demo(160, 45);
    let tmux = &demo.tmux;

    // The strip: one line per environment over the first section.
    let (lines, g) = wait(tmux, "the timeline strip", |st| {
        Some((strip(st)?, grid(st)?))
    });
    for line in &lines {
        assert!(
            line.error_bars.chars().count() >= 20 && line.warning_bars.chars().count() >= 20,
            "sparklines too short at 160 columns: {line:?}"
        );
        assert!(
            line.warning_bars.trim() != "" || line.warnings_now == 0,
            "{} has warnings now but an empty sparkline: {line:?}",
            line.env
        );
    }
    eprintln!(
        "strip now: {:?}",
        lines
            .iter()
            .map(|l| (l.env.as_str(), l.errors_now, l.warnings_now))
            .collect::<Vec<_>>()
    );
    tmux.keys(&["T"]);
    wait(tmux, "T to hide the strip", |st| {
        let g = grid(st)?;
        (g.strip.is_empty() && st.screen.body()[0].starts_with("── dev")).then_some(())
    });
    tmux.keys(&["T"]);
    wait(tmux, "T to show the strip again", strip);

    // The pivot: ranked by total, each total the sum of its environments.
    tmux.keys(&["p"]);
    let pivot = wait(tmux, "the pivot", |st| {
        pivot_view(st).filter(|p| !p.rows.is_empty())
    });
    assert_eq!(pivot.selected, Some(0));
    for row in &pivot.rows {
        let envs: Vec<&str> = row.per_env.iter().map(|(e, _)| e.as_str()).collect();
        assert_eq!(envs, ENVS, "{row:?}");
        let sum: usize = row.per_env.iter().map(|(_, n)| n).sum();
        assert_eq!(row.total, sum, "{row:?}");
        assert!(
            row.total > 0 && (row.glyph == ERROR || row.glyph == WARNING),
            "{row:?}"
        );
    }
    let totals: Vec<usize> = pivot.rows.iter().map(|r| r.total).collect();
    assert!(
        totals.windows(2).all(|w| w[0] >= w[1]),
        "not sorted by total: {:#?}",
        pivot.rows
    );
    let top = pivot.rows[0].clone();
    eprintln!("pivot: {} requirements, top {top:?}", pivot.rows.len());

    // Enter: the sites failing it. The fleet is live: the count must be the
    // pivot's total just before or just after.
    tmux.keys(&["Enter"]);
    let failing = wait(tmux, "the sites failing the top requirement", |st| {
        failing_view(st, &top.requirement).filter(|f| !f.rows.is_empty())
    });
    assert_eq!(failing.selected, Some(0));
    for row in &failing.rows {
        assert!(ENVS.contains(&row.env.as_str()), "{row:?}");
        assert!(row.glyph == ERROR || row.glyph == WARNING, "{row:?}");
    }
    assert!(failing.rows.len() <= failing.count);
    let first = failing.rows[0].clone();
    tmux.keys(&["Enter"]);
    let crumbs = vec![first.env.clone(), first.profile.clone(), first.site.clone()];
    let view = wait(tmux, "Enter to open the first failing site", |st| {
        let c = crumbs_of(&st.screen);
        (c.len() == 3)
            .then(|| site_view(st, &c).map(|v| (c, v)))
            .flatten()
    });
    if view.0 != crumbs {
        // The list is live; the selection is an index into it.
        assert!(
            failing
                .rows
                .iter()
                .any(|r| [r.env.clone(), r.profile.clone(), r.site.clone()] == view.0[..]),
            "Enter opened {:?}, which does not fail {}: {:#?}",
            view.0,
            top.requirement,
            failing.rows
        );
        eprintln!(
            "the list moved under the cursor: read {crumbs:?}, opened {:?}",
            view.0
        );
    }
    escape(tmux, "Esc back to the failing sites", |st| {
        failing_view(st, &top.requirement)
    });
    let again = escape(tmux, "Esc back to the pivot", pivot_view);
    let after = again
        .rows
        .iter()
        .find(|r| r.requirement == top.requirement)
        .map(|r| r.total);
    assert!(
        failing.count == top.total || Some(failing.count) == after,
        "{} sites listed as failing {}, the pivot said {} before and {after:?} after",
        failing.count,
        top.requirement,
        top.total
    );
    let g2 = back_to_grid(tmux, "the pivot");
    assert_eq!(g2.strip.len(), 3);

    // The rollout of the cursor's profile, one block per environment.
    let at = cursor(&capture(tmux).screen).expect("the cursor");
    tmux.keys(&["v"]);
    let rollout = wait(tmux, &format!("the rollout of {}", at.profile), |st| {
        rollout_view(st).filter(|r| r.profile == at.profile)
    });
    for block in &rollout.blocks {
        let versions: Vec<&str> = block.versions.iter().map(|(v, _)| v.as_str()).collect();
        assert!(!block.versions.is_empty() || block.no_sites, "{block:?}");
        assert!(
            versions
                .windows(2)
                .all(|w| version_order(w[0], w[1]).is_gt()),
            "versions not newest first: {block:?}"
        );
        assert!(
            versions
                .iter()
                .all(|v| v.split('.').all(|p| p.parse::<u32>().is_ok())),
            "{block:?}"
        );
        assert_eq!(
            block.versions.len() > 1,
            !block.older.is_empty(),
            "sites behind are named when, and only when, there are several versions: {block:?}"
        );
        // The counts add up to the profile's sites in the grid.
        if let Some(group) = g
            .groups
            .iter()
            .find(|gr| gr.env == block.env && gr.profile == at.profile && !gr.has_no_data)
        {
            let sum: usize = block.versions.iter().map(|(_, n)| n).sum();
            if let Some(total) = group.total {
                assert_eq!(sum, total, "{block:?} against the grid's {group:?}");
            }
        }
    }
    eprintln!("rollout of {}: {:?}", rollout.profile, rollout.blocks);

    // → the next profile, as the grid orders them.
    let mut profiles: Vec<String> = g.groups.iter().map(|gr| gr.profile.clone()).collect();
    profiles.sort();
    profiles.dedup();
    let next = profiles
        .iter()
        .find(|p| **p > at.profile)
        .cloned()
        .unwrap_or_else(|| profiles[0].clone());
    tmux.keys(&["Right"]);
    let shown = wait(tmux, "→ to the next profile's rollout", |st| {
        rollout_view(st).filter(|r| r.profile != at.profile)
    });
    assert_eq!(shown.profile, next, "→ from {}", at.profile);
    back_to_grid(tmux, "the rollout");
    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
    eprintln!("timeline, pivot and rollout took {:?}", started.elapsed());
}

/// Space freezes the view while polls come in; Space again applies them.
#[test]
fn demo_freeze_holds_updates_until_space() {
    let started = Instant::now();
    let demo = Dashboard::demo(160, 45);
    let tmux = &demo.tmux;
    tmux.keys(&["Space"]);
    let (first, body) = wait(tmux, "Space to freeze", |st| {
        Some((frozen(&st.screen)?, grid_body(st)?))
    });
    // N grows over polls; the grid (strip included) does not change.
    let mut seen = vec![first];
    let frozen_at = Instant::now();
    while seen.len() < 3 || frozen_at.elapsed() < Duration::from_secs(3) {
        let n = wait(tmux, "more updates waiting", |st| {
            let n = frozen(&st.screen)?;
            if grid_body(st)? != body {
                still_frozen(tmux, &body);
            }
            (n > *seen.last().unwrap()).then_some(n)
        });
        seen.push(n);
    }
    eprintln!(
        "frozen: updates waiting {seen:?} over {:?}",
        frozen_at.elapsed()
    );
    tmux.keys(&["Space"]);
    wait(tmux, "Space to apply what came in", |st| {
        let now = grid_body(st)?;
        (!st.screen.header().contains("FROZEN") && now != body).then_some(())
    });
    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
    eprintln!("freeze took {:?}", started.elapsed());
}

/// Mutes a warning from the site view into the demo's own rules file.
#[test]
fn demo_mute_a_warning_from_the_site_view() {
    let started = Instant::now();
    let demo = Dashboard::demo(160, 45);
    let tmux = &demo.tmux;
    let rules = demo.path("demo-mutes.toml");

    // A site whose only failing requirement is update_contrib at warning.
    let g = wait(tmux, "the grid", grid);
    let candidates: Vec<(String, String)> = g
        .cells
        .iter()
        .filter(|c| c.glyph == WARNING && c.env != "?" && !c.name.ends_with('…'))
        .map(|c| (c.env.clone(), c.name.clone()))
        .collect();
    let mut chosen = None;
    for (env, name) in candidates.iter().take(25) {
        let at = move_cursor_to(tmux, env, name);
        if at.state == "▲ warning" && at.failing == ["update_contrib"] {
            chosen = Some(at);
            break;
        }
    }
    let at = chosen.unwrap_or_else(|| {
        panic!("no ▲ site on screen warns of update_contrib alone: {candidates:?}")
    });
    eprintln!("muting update_contrib on {at:?}");
    let crumbs = at.crumbs();

    tmux.keys(&["Enter"]);
    let mut view = wait(tmux, "the site view", |st| {
        site_view(st, &crumbs).filter(|v| v.pane.is_some() && v.selected.is_some())
    });
    for _ in 0..view.rows.len() {
        if view.selected_id() == Some("update_contrib") {
            break;
        }
        let before = view.selected;
        tmux.keys(&["j"]);
        view = wait(tmux, "j to the next requirement", |st| {
            site_view(st, &crumbs).filter(|v| v.pane.is_some() && v.selected != before)
        });
    }
    assert_eq!(view.selected_id(), Some("update_contrib"), "{view:?}");
    let row = view.selected_row().unwrap();
    assert_eq!(row.glyph, WARNING, "{view:?}");
    let (_, title, _) = view.pane.as_ref().unwrap();
    assert!(
        title.starts_with(row.title.trim_end_matches('…')),
        "the selected row {row:?} is not the requirement shown below it: {title:?}"
    );
    assert!(!view.selected_row().unwrap().muted);

    // m, then Esc: nothing is muted.
    let reason_prompt = format!("mute update_contrib on {}: reason>", at.site);
    tmux.keys(&["m"]);
    wait(tmux, "m to ask for a reason", |st| {
        (st.screen.status() == reason_prompt).then_some(())
    });
    tmux.type_text("not this one");
    wait(tmux, "the reason typed", |st| {
        st.screen
            .status()
            .ends_with("reason> not this one")
            .then_some(())
    });
    escape(tmux, "Esc to cancel the mute", |st| {
        let s = &st.screen;
        (!s.status().starts_with("mute ") && s.key_line().contains("m mute"))
            .then(|| site_view(st, &crumbs))
            .flatten()
            .filter(|v| !v.selected_row().is_some_and(|r| r.muted))
    });
    assert!(!rules.exists(), "Esc wrote {}", rules.display());

    // m, a reason (with a space, q and M: text, not keys), an impossible
    // date, then a good one.
    let reason = "Accepted: contrib updates wait for the monthly window (OPS-1234) q M";
    tmux.keys(&["m"]);
    wait(tmux, "m to ask for a reason", |st| {
        (st.screen.status() == reason_prompt).then_some(())
    });
    tmux.type_text(reason);
    wait(tmux, "the reason typed", |st| {
        st.screen.status().ends_with(reason).then_some(())
    });
    tmux.keys(&["Enter"]);
    let expiry_prompt = "expires (YYYY-MM-DD, empty for never)>";
    wait(tmux, "Enter to ask for the expiry", |st| {
        (st.screen.status() == expiry_prompt).then_some(())
    });
    tmux.type_text("2031-02-30");
    tmux.keys(&["Enter"]);
    let error = wait(tmux, "an error for 2031-02-30", |st| {
        let status = st.screen.status();
        status
            .strip_prefix(&format!("{expiry_prompt} 2031-02-30  "))
            .filter(|e| e.contains("2031-02-30"))
            .map(str::to_string)
    });
    eprintln!("2031-02-30: {error}");
    assert!(
        !rules.exists(),
        "an invalid expiry wrote {}",
        rules.display()
    );
    let backspaces = vec!["BSpace"; "2031-02-30".len()];
    tmux.keys(&backspaces);
    wait(tmux, "the expiry erased, the error gone", |st| {
        (st.screen.status() == expiry_prompt).then_some(())
    });
    tmux.type_text("2099-12-31");
    wait(tmux, "the expiry typed", |st| {
        st.screen.status().ends_with("> 2099-12-31").then_some(())
    });
    tmux.keys(&["Enter"]);
    let said = format!("muted update_contrib on {}", at.site);
    let view = wait(tmux, "the requirement muted", |st| {
        (st.screen.status().trim() == said)
            .then(|| site_view(st, &crumbs))
            .flatten()
            .filter(|v| v.selected_row().is_some_and(|r| r.muted))
    });
    assert_eq!(view.selected_id(), Some("update_contrib"));
    assert_ne!(
        view.state_glyph,
        Some(WARNING),
        "the site still warns: {view:?}"
    );
    let note = view.note.clone().expect("a note saying why it is muted");
    assert!(
        note.starts_with(&format!("{reason} (until 2099-12-31)")),
        "{note:?}"
    );

    // The rule, in the demo's own file next to SITE_STATUS_MUTES.
    let text =
        std::fs::read_to_string(&rules).unwrap_or_else(|e| panic!("read {}: {e}", rules.display()));
    let file: toml::Value = toml::from_str(&text).expect("the rules file is TOML");
    let mutes = file["mute"].as_array().expect("[[mute]] rules");
    assert_eq!(mutes.len(), 1, "{text}");
    let rule = &mutes[0];
    for (key, value) in [
        ("requirement", "update_contrib"),
        ("env", at.env.as_str()),
        ("site", at.site.as_str()),
        ("reason", reason),
        ("expires", "2099-12-31"),
    ] {
        assert_eq!(
            rule.get(key).and_then(|v| v.as_str()),
            Some(value),
            "{key} in\n{text}"
        );
    }
    assert!(
        !demo.path("mutes.toml").exists(),
        "the demo wrote the real rules file"
    );

    // The grid: no longer a warning. M shows it as it is, M again hides it.
    let cell = |st: &Shot| {
        let g = grid(st)?;
        let c = cursor(&st.screen)?;
        let cell = g.cell(&at.env, &at.site)?.clone();
        (c.site == at.site).then_some((cell, c))
    };
    let (muted_cell, muted_at) = escape(tmux, "Esc back to the grid, the warning muted", |st| {
        cell(st).filter(|(c, _)| c.glyph != WARNING)
    });
    assert!(
        !muted_at.failing.contains(&"update_contrib".to_string()),
        "{muted_at:?}"
    );
    assert!(!muted_at.modes.contains("showing muted"), "{muted_at:?}");
    tmux.keys(&["M"]);
    let (shown, shown_at) = wait(tmux, "M to show the muted warning", |st| {
        cell(st).filter(|(c, at)| c.glyph == WARNING && at.modes.contains("showing muted"))
    });
    assert_eq!(shown_at.failing, ["update_contrib"], "{shown_at:?}");
    tmux.keys(&["M"]);
    wait(tmux, "M again to hide it", |st| {
        cell(st).filter(|(c, at)| c.glyph != WARNING && !at.modes.contains("showing muted"))
    });
    eprintln!(
        "{} {}: {} muted, {} shown",
        at.env, at.site, muted_cell.glyph, shown.glyph
    );

    // u in the site view takes the rule out of the file: it warns again.
    tmux.keys(&["Enter"]);
    let mut view = wait(tmux, "the site view again", |st| {
        site_view(st, &crumbs).filter(|v| v.pane.is_some() && v.selected.is_some())
    });
    for _ in 0..view.rows.len() {
        if view.selected_id() == Some("update_contrib") {
            break;
        }
        let before = view.selected;
        tmux.keys(&["j"]);
        view = wait(tmux, "j to the next requirement", |st| {
            site_view(st, &crumbs).filter(|v| v.pane.is_some() && v.selected != before)
        });
    }
    assert!(view.selected_row().is_some_and(|r| r.muted), "{view:?}");
    tmux.keys(&["u"]);
    let said = format!("unmuted update_contrib on {}", at.site);
    let view = wait(tmux, "u to unmute the requirement", |st| {
        (st.screen.status().trim() == said)
            .then(|| site_view(st, &crumbs))
            .flatten()
            .filter(|v| v.selected_row().is_some_and(|r| !r.muted))
    });
    assert_eq!(view.state_glyph, Some(WARNING), "{view:?}");
    let text =
        std::fs::read_to_string(&rules).unwrap_or_else(|e| panic!("read {}: {e}", rules.display()));
    let file: toml::Value = toml::from_str(&text).expect("the rules file is TOML");
    let left = file
        .get("mute")
        .and_then(|m| m.as_array())
        .map_or(0, Vec::len);
    assert_eq!(left, 0, "the rule is still in\n{text}");

    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
    eprintln!("mute journey took {:?}", started.elapsed());
}

/// Found while writing the tests above: the transition log's selection is
/// an index into a list that grows at the front, so every transition that
/// comes in slides the lines down under a highlight that stays put: the
/// highlight lands on a newer transition, and Enter opens another site than
/// the one the user chose.
#[test]
fn demo_transition_log_selection_stays_on_its_line_as_transitions_come_in() {
    let demo = Dashboard::demo(160, 45);
    let tmux = &demo.tmux;
    let log = open_log(tmux, 3);
    tmux.keys(&["j", "j"]);
    let (kept, row) = wait(tmux, "the third line selected", |st| {
        let l = log_view(st)?;
        (l.selected == Some(2)).then(|| (l.kept, l.rows[2].clone()))
    });
    assert!(log.kept <= kept);
    let (now_kept, now_row) = wait(tmux, "a new transition", |st| {
        let l = log_view(st)?;
        let i = l.selected?;
        (l.kept > kept).then(|| (l.kept, l.rows[i].clone()))
    });
    assert_eq!(
        now_row, row,
        "the selection moved from {row:?} to {now_row:?} as the log went from {kept} to \
         {now_kept} transitions"
    );
}

/// Found while writing the tests above: at some widths the strip's lines
/// are one column too long and lose their last character.
#[test]
fn demo_timeline_strip_lines_fit_the_terminal() {
    let demo = Dashboard::demo(160, 45);
    let tmux = &demo.tmux;
    for width in [160u16, 161] {
        tmux.resize(width, 45);
        let lines = wait(tmux, &format!("the strip at {width} columns"), |st| {
            let lines = strip(st)?;
            (st.screen
                .lines
                .iter()
                .all(|l| l.chars().count() <= width as usize)
                && st.screen.header().chars().count() >= width as usize - 1)
                .then_some(lines)
        });
        for line in lines {
            assert!(
                line.whole,
                "at {width} columns the {} line is cut short:\n{}",
                line.env,
                capture(tmux).screen.framed()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// A real Prometheus
// ---------------------------------------------------------------------------

/// Every environment on the one Prometheus (told apart by `selector`),
/// polled every 2 s.
fn config(prometheus: &str) -> String {
    let mut text = String::from("refresh_interval = \"2s\"\n");
    for env in ENVS {
        text.push_str(&format!(
            "\n[[environment]]\nname = \"{env}\"\nselector = 'env=\"{env}\"'\n\n\
             [environment.prometheus]\nurl = \"{prometheus}\"\ntimeout = \"2s\"\n"
        ));
    }
    text
}

/// Sites publishing series (a silent one publishes none).
fn publishing(fleet: &Fleet) -> impl Iterator<Item = &Site> {
    fleet.sites.iter().filter(|s| !s.silent)
}

/// (errors, warnings) of an environment as the strip counts them: each
/// publishing site once, at its worst requirement.
fn served_counts(fleet: &Fleet, env: &str) -> (u32, u32) {
    let mut counts = (0, 0);
    for site in publishing(fleet).filter(|s| s.env == env) {
        match site.worst_severity() {
            Some(s) if s >= 2 => counts.0 += 1,
            Some(1) => counts.1 += 1,
            _ => {}
        }
    }
    counts
}

/// The pivot the fleet calls for: requirement → (total, per env), counting
/// publishing sites at warning or worse.
fn served_pivot(fleet: &Fleet) -> BTreeMap<String, (usize, Vec<usize>)> {
    let mut rows: BTreeMap<String, (usize, Vec<usize>)> = BTreeMap::new();
    for site in publishing(fleet) {
        let e = ENVS.iter().position(|e| *e == site.env).unwrap();
        for (id, sid) in &site.requirements {
            if *sid >= 1 {
                let row = rows.entry(id.clone()).or_insert((0, vec![0; ENVS.len()]));
                row.0 += 1;
                row.1[e] += 1;
            }
        }
    }
    rows
}

/// A healthy, publishing dev site not in `but`: on the first screen.
fn healthy_dev_site(fleet: &Fleet, but: &[&str]) -> Site {
    fleet
        .sites
        .iter()
        .find(|s| {
            s.env == "dev"
                && s.kind == SiteKind::Ok
                && s.worst_severity().is_some_and(|w| w <= 0)
                && !but.contains(&s.name.as_str())
        })
        .cloned()
        .expect("a healthy dev site")
}

#[tokio::test]
async fn live_monitoring_against_a_real_prometheus() {
    let started = Instant::now();
    let exporter = FleetExporter::start(FleetBuilder::new(40).build());
    let prometheus = TestPrometheus::builder()
        .target(exporter.target())
        .scrape_interval(Duration::from_secs(1))
        .start()
        .await;
    let dir = temp_dir();
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config(&prometheus.url())).expect("write the configuration");
    prometheus.wait_for_fleet(&exporter).await;
    let dashboard = Dashboard::start(160, 45, &["--config", &path_text(&config_path)], dir);
    let tmux = &dashboard.tmux;
    eprintln!("Prometheus has the fleet after {:?}", started.elapsed());

    // 1. The strip counts what the fleet serves, per environment.
    let fleet = exporter.fleet();
    let expected: Vec<(u32, u32)> = ENVS.iter().map(|e| served_counts(&fleet, e)).collect();
    let strip_counts = |st: &Shot| -> Option<Vec<(u32, u32)>> {
        Some(
            strip(st)?
                .iter()
                .map(|l| (l.errors_now, l.warnings_now))
                .collect(),
        )
    };
    wait_within(
        tmux,
        PROMETHEUS_WAIT,
        &format!("the strip to count {expected:?} (errors, warnings)"),
        |st| strip_counts(st).filter(|c| *c == expected),
    );

    // 2. A healthy dev site fails: a transition, a marker, one more error.
    let site = healthy_dev_site(&fleet, &[]);
    let before = wait(tmux, "the healthy site on the grid", |st| {
        grid(st)?.cell("dev", &site.name).cloned()
    });
    assert_eq!(before.glyph, OK, "{before:?}");
    assert!(!before.underlined, "{before:?} marked before it changed");
    exporter.set_severity(&site.name, "cron", 2);
    let fleet = exporter.fleet();
    wait_within(tmux, PROMETHEUS_WAIT, "the site in error", |st| {
        (grid(st)?.cell("dev", &site.name)?.glyph == ERROR).then_some(())
    });
    holds(tmux, "only the site that changed is marked", |st| {
        let g = grid(st).ok_or("not the grid")?;
        let underlined: Vec<String> = g
            .cells
            .iter()
            .filter(|c| c.underlined)
            .map(|c| format!("{} {}", c.env, c.name))
            .collect();
        let cell = g
            .cell("dev", &site.name)
            .ok_or("the site is not on screen")?;
        if underlined != [format!("dev {}", site.name)] || !cell.marked {
            return Err(format!("underlined: {underlined:?}; the site: {cell:?}"));
        }
        if cell.profile != site.profile {
            return Err(format!("{cell:?} is not under {}", site.profile));
        }
        Ok(())
    });
    let log = open_log(tmux, 1);
    assert_log_is_sane(&log);
    let expected_row = Logged {
        time: log.rows[0].time.clone(),
        env: "dev".into(),
        profile: site.profile.clone(),
        site: site.name.clone(),
        from: (OK, "ok".into()),
        to: (ERROR, "error".into()),
        requirements: vec!["cron".into()],
    };
    assert_eq!(log.rows, [expected_row], "the log after one change");
    back_to_grid(tmux, "the log");
    let expected: Vec<(u32, u32)> = ENVS.iter().map(|e| served_counts(&fleet, e)).collect();
    wait_within(
        tmux,
        PROMETHEUS_WAIT,
        &format!("the strip to count {expected:?} after the change"),
        |st| strip_counts(st).filter(|c| *c == expected),
    );

    // 3. The pivot: every requirement's count per environment.
    let served = served_pivot(&fleet);
    tmux.keys(&["p"]);
    let pivot = wait(tmux, "the pivot to count what the fleet serves", |st| {
        let p = pivot_view(st)?;
        let shown: BTreeMap<String, (usize, Vec<usize>)> = p
            .rows
            .iter()
            .map(|r| {
                (
                    r.requirement.clone(),
                    (r.total, r.per_env.iter().map(|(_, n)| *n).collect()),
                )
            })
            .collect();
        (shown == served).then_some(p)
    });
    let totals: Vec<usize> = pivot.rows.iter().map(|r| r.total).collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "{:#?}", pivot.rows);
    let cron = pivot
        .rows
        .iter()
        .position(|r| r.requirement == "cron")
        .expect("cron in the pivot");
    for _ in 0..cron {
        tmux.keys(&["j"]);
    }
    wait(tmux, "cron selected in the pivot", |st| {
        (pivot_view(st)?.selected? == cron).then_some(())
    });
    tmux.keys(&["Enter"]);
    let expected_sites: BTreeSet<FailingRow> = publishing(&fleet)
        .filter_map(|s| {
            let sid = *s.requirements.get("cron")?;
            (sid >= 1).then(|| FailingRow {
                env: s.env.clone(),
                profile: s.profile.clone(),
                site: s.name.clone(),
                glyph: if sid >= 2 { ERROR } else { WARNING },
            })
        })
        .collect();
    let failing = wait(tmux, "the sites failing cron", |st| {
        failing_view(st, "cron").filter(|f| f.rows.len() == f.count)
    });
    assert_eq!(failing.count, expected_sites.len());
    assert_eq!(
        failing.rows.iter().cloned().collect::<BTreeSet<_>>(),
        expected_sites
    );
    let first = failing.rows[failing.selected.expect("a selected site")].clone();
    tmux.keys(&["Enter"]);
    let crumbs = vec![first.env.clone(), first.profile.clone(), first.site.clone()];
    wait(tmux, &format!("Enter to open {crumbs:?}"), |st| {
        site_view(st, &crumbs)
    });
    escape(tmux, "Esc back to the sites failing cron", |st| {
        failing_view(st, "cron")
    });
    escape(tmux, "Esc back to the pivot", pivot_view);
    back_to_grid(tmux, "the pivot");

    // 4. Rollout: two versions of a profile in one environment.
    let mut groups: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for s in publishing(&fleet) {
        groups
            .entry((s.profile.clone(), s.env.clone()))
            .or_default()
            .push(s.name.clone());
    }
    let ((profile, env), names) = groups
        .iter()
        .filter(|(_, names)| names.len() >= 2)
        .max_by_key(|(_, names)| names.len())
        .map(|(k, v)| (k.clone(), v.clone()))
        .expect("a profile with two sites in one environment");
    let (newer, older) = ("5.1.0", "5.0.9");
    let behind: Vec<String> = names[names.len() / 2..].to_vec();
    exporter.update(|f| {
        for s in f.sites.iter_mut().filter(|s| s.profile == profile) {
            s.info.profile_version = if behind.contains(&s.name) && s.env == env {
                older.into()
            } else {
                newer.into()
            };
        }
    });
    let fleet = exporter.fleet();
    let expected_blocks: Vec<RolloutBlock> = ENVS
        .iter()
        .map(|e| {
            let mut versions: BTreeMap<String, usize> = BTreeMap::new();
            for s in publishing(&fleet).filter(|s| s.profile == profile && s.env == *e) {
                *versions.entry(s.info.profile_version.clone()).or_default() += 1;
            }
            let mut versions: Vec<(String, usize)> = versions.into_iter().collect();
            versions.sort_by(|a, b| version_order(&b.0, &a.0));
            RolloutBlock {
                env: e.to_string(),
                no_sites: versions.is_empty(),
                older: if *e == env {
                    behind.clone()
                } else {
                    Vec::new()
                },
                versions,
            }
        })
        .collect();
    tmux.keys(&["v"]);
    let first_profile = wait(tmux, "the rollout", rollout_view).profile;
    let mut shown_profile = first_profile.clone();
    for _ in 0..10 {
        if shown_profile == profile {
            break;
        }
        let was = shown_profile.clone();
        tmux.keys(&["Right"]);
        shown_profile = wait(tmux, "→ to the next profile", |st| {
            rollout_view(st).filter(|r| r.profile != was)
        })
        .profile;
    }
    assert_eq!(
        shown_profile, profile,
        "→ never reached it from {first_profile}"
    );
    let rollout = wait_within(
        tmux,
        PROMETHEUS_WAIT,
        &format!("the rollout of {profile} to show {expected_blocks:?}"),
        |st| rollout_view(st).filter(|r| r.profile == profile && r.blocks == expected_blocks),
    );
    eprintln!("rollout of {profile}: {:?}", rollout.blocks);
    back_to_grid(tmux, "the rollout");

    // 5. Frozen, a change is held until Space.
    let second = healthy_dev_site(&fleet, &[&site.name]);
    tmux.keys(&["Space"]);
    let held_body = wait(tmux, "Space to freeze", |st| {
        frozen(&st.screen)?;
        let g = grid(st)?;
        (g.cell("dev", &second.name)?.glyph == OK)
            .then(|| grid_body(st))
            .flatten()
    });
    exporter.set_severity(&second.name, "update", 2);
    let query = format!(
        "drupal_requirement_severity{{site=\"{}\",requirement=\"update\"}}",
        second.name
    );
    prometheus
        .wait_for(&query, |samples| {
            samples.len() == 1 && samples[0].value == 2.0
        })
        .await;
    // Polls every 2 s: after 5 s and a dozen updates, the change came in.
    let served_at = Instant::now();
    let waiting_then = frozen(&capture(tmux).screen).expect("still frozen");
    let waiting = wait(tmux, "the change to come in while frozen", |st| {
        let n = frozen(&st.screen)?;
        if grid_body(st)? != held_body {
            still_frozen(tmux, &held_body);
        }
        (served_at.elapsed() >= Duration::from_secs(5) && n >= waiting_then + 12).then_some(n)
    });
    tmux.keys(&["Space"]);
    let space = Instant::now();
    wait(tmux, "Space to apply the held change", |st| {
        let g = grid(st)?;
        (!st.screen.header().contains("FROZEN") && g.cell("dev", &second.name)?.glyph == ERROR)
            .then_some(())
    });
    eprintln!(
        "frozen with {waiting} updates waiting; the change showed {:?} after Space",
        space.elapsed()
    );
    tmux.keys(&["q"]);
    tmux.assert_exits_cleanly("q");
    eprintln!("the real-backend journey took {:?}", started.elapsed());
}
