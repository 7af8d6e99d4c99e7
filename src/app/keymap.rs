//! Keybindings as data. The dispatcher, the footer, the help screen and the
//! README's key table all read this one list, so they cannot disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    First,
    Last,
    NextSection,
    PrevSection,
    StartFilter,
    ApplyFilter,
    ClearFilter,
    CycleSeverityFilter,
    ToggleSort,
    ToggleCompact,
    Refresh,
    Help,
    Open,
    Back,
    ScrollTextUp,
    ScrollTextDown,
    Window1h,
    Window6h,
    Window24h,
    Window7d,
    OpenReports,
    ToggleDiff,
    ToggleFreeze,
    OpenTransitions,
    OpenPivot,
    Mute,
    Unmute,
    /// The mute prompt's Enter: the reason is taken, then the expiry and
    /// the rule is stored.
    SaveMute,
    CancelMute,
    ToggleShowMuted,
    ToggleTimeline,
    OpenRollout,
    CycleTheme,
    Copy,
    /// The site view's `r`: a run of the status report now, on the agent.
    RunReport,
    OpenAlerts,
    /// The mute prompt's Tab: this site, or every site of its profile.
    CycleMuteScope,
    OpenProblems,
}

/// Where a binding applies. `Global` bindings apply in every scope except
/// while typing a filter, where keys are text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Global,
    Grid,
    Site,
    Requirement,
    Reports,
    Report,
    Transitions,
    Pivot,
    PivotSites,
    Alerts,
    Problems,
    Rollout,
    Help,
    FilterInput,
    Prompt,
}

impl Scope {
    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "Everywhere",
            Scope::Grid => "Fleet grid",
            Scope::Site => "Site view",
            Scope::Requirement => "Requirement view",
            Scope::Reports => "Reports list",
            Scope::Report => "One report",
            Scope::Transitions => "Transition log",
            Scope::Pivot => "Requirement pivot",
            Scope::Alerts => "Alerts",
            Scope::Problems => "Problems",
            Scope::PivotSites => "Sites failing a requirement",
            Scope::Rollout => "Rollout progress",
            Scope::Help => "Help",
            Scope::FilterInput => "Typing a filter",
            Scope::Prompt => "Typing a mute rule",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

const fn plain(code: KeyCode) -> Key {
    Key {
        code,
        modifiers: KeyModifiers::NONE,
    }
}

const fn ch(c: char) -> Key {
    plain(KeyCode::Char(c))
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        modifiers: KeyModifiers::CONTROL,
    }
}

impl Key {
    /// Whether a terminal event is this key. Shift is part of the character
    /// itself for printable keys ('G'), so it is ignored there.
    pub fn matches(&self, event: &KeyEvent) -> bool {
        let relevant = event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        let wanted = self.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        match (self.code, event.code) {
            (KeyCode::Char(a), KeyCode::Char(b)) => a == b && relevant == wanted,
            (a, b) => a == b && relevant == wanted,
        }
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            KeyCode::Left => "←".to_string(),
            KeyCode::Right => "→".to_string(),
            KeyCode::PageUp => "PgUp".to_string(),
            KeyCode::PageDown => "PgDn".to_string(),
            KeyCode::Home => "Home".to_string(),
            KeyCode::End => "End".to_string(),
            KeyCode::Tab => "Tab".to_string(),
            KeyCode::BackTab => "Shift-Tab".to_string(),
            KeyCode::Enter => "Enter".to_string(),
            KeyCode::Esc => "Esc".to_string(),
            KeyCode::Backspace => "Backspace".to_string(),
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            other => format!("{other:?}"),
        };
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            format!("Ctrl-{}", base.to_uppercase())
        } else {
            base
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub scope: Scope,
    pub keys: &'static [Key],
    pub action: Action,
    pub description: &'static str,
    /// Shown in the footer when the scope is active (the rest only in help).
    pub in_footer: Option<&'static str>,
}

const fn bind(
    scope: Scope,
    keys: &'static [Key],
    action: Action,
    description: &'static str,
    in_footer: Option<&'static str>,
) -> Binding {
    Binding {
        scope,
        keys,
        action,
        description,
        in_footer,
    }
}

use Action as A;
use Scope as S;

// One binding a line: this table is read more than it is edited.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    bind(S::Global, &[ch('q'), ctrl('c')], A::Quit, "Quit", Some("quit")),
    bind(S::Global, &[ch('?')], A::Help, "Show this help", Some("help")),
    bind(S::Global, &[ch('r')], A::Refresh, "Poll every backend now (in the site view, r also runs its status report)", None),
    bind(S::Global, &[ch('c')], A::CycleTheme, "Next colour theme: dark, light, high-contrast, colorblind", None),
    bind(S::Global, &[ch('M')], A::ToggleShowMuted, "Show muted requirements as they are, or hide them again", None),
    bind(S::Global, &[ch(' ')], A::ToggleFreeze, "Freeze the view while polling goes on; again to apply what came in", Some("freeze")),
    bind(S::Grid, &[plain(KeyCode::Up), ch('k')], A::Up, "Move up", None),
    bind(S::Grid, &[plain(KeyCode::Down), ch('j')], A::Down, "Move down", None),
    bind(S::Grid, &[plain(KeyCode::Left), ch('h')], A::Left, "Move left", None),
    bind(S::Grid, &[plain(KeyCode::Right), ch('l')], A::Right, "Move right", None),
    bind(S::Grid, &[plain(KeyCode::PageUp)], A::PageUp, "Page up", None),
    bind(S::Grid, &[plain(KeyCode::PageDown)], A::PageDown, "Page down", None),
    bind(S::Grid, &[ch('g'), plain(KeyCode::Home)], A::First, "First site", None),
    bind(S::Grid, &[ch('G'), plain(KeyCode::End)], A::Last, "Last site", None),
    bind(S::Grid, &[plain(KeyCode::Tab)], A::NextSection, "Next environment", Some("env")),
    bind(S::Grid, &[plain(KeyCode::BackTab)], A::PrevSection, "Previous environment", None),
    bind(S::Grid, &[ch('/')], A::StartFilter, "Filter by site or profile name", Some("filter")),
    bind(S::Grid, &[ch('e')], A::OpenProblems, "Problems: every site that is not OK, worst first, with why", Some("problems")),
    bind(S::Grid, &[ch('f')], A::CycleSeverityFilter, "Cycle severity filter: all, warnings and worse, errors only", Some("severity")),
    bind(S::Grid, &[ch('s')], A::ToggleSort, "Sort within a profile: by name or worst first", Some("sort")),
    bind(S::Grid, &[ch('z')], A::ToggleCompact, "Compact density: one character per site", Some("compact")),
    bind(S::Grid, &[plain(KeyCode::Enter)], A::Open, "Open the site under the cursor", Some("open")),
    bind(S::Grid, &[plain(KeyCode::Esc)], A::ClearFilter, "Clear the filters", None),
    bind(S::Grid, &[ch('t')], A::OpenTransitions, "Transition log: what changed, when", Some("changes")),
    bind(S::Grid, &[ch('T')], A::ToggleTimeline, "Show or hide the fleet timeline: errors and warnings over the last hour", None),
    bind(S::Grid, &[ch('v')], A::OpenRollout, "Rollout progress of the cursor's profile: which versions run where", Some("rollout")),
    bind(S::Grid, &[ch('p')], A::OpenPivot, "Requirement pivot: requirements by how many sites fail them", Some("pivot")),
    bind(S::Grid, &[ch('a')], A::OpenAlerts, "Alerts: every firing and pending alert of the fleet, by name, and who silenced it", Some("alerts")),
    bind(S::Grid, &[ch('y')], A::Copy, "Copy the site's name (its URL when site_url is configured) to the clipboard (OSC 52, works over SSH)", None),
    bind(S::Site, &[plain(KeyCode::Up), ch('k')], A::Up, "Previous requirement", None),
    bind(S::Site, &[plain(KeyCode::Down), ch('j')], A::Down, "Next requirement", None),
    bind(S::Site, &[ch('g'), plain(KeyCode::Home)], A::First, "First requirement", None),
    bind(S::Site, &[ch('G'), plain(KeyCode::End)], A::Last, "Last requirement", None),
    bind(S::Site, &[plain(KeyCode::PageUp)], A::ScrollTextUp, "Scroll the requirement's text up", None),
    bind(S::Site, &[plain(KeyCode::PageDown)], A::ScrollTextDown, "Scroll the requirement's text down", Some("scroll text")),
    bind(S::Site, &[plain(KeyCode::Enter)], A::Open, "The selected requirement over time, and other sites failing it", Some("history")),
    bind(S::Site, &[ch('m')], A::Mute, "Mute the selected requirement on this site: asks for a reason and an expiry", Some("mute")),
    bind(S::Site, &[ch('u')], A::Unmute, "Unmute the selected requirement: removes the dashboard's own rule (a rule from the configuration stays)", None),
    bind(S::Site, &[ch('l')], A::OpenReports, "The site's recent status reports (from Loki)", Some("reports")),
    bind(S::Site, &[ch('r')], A::RunReport, "Run the status report now on the site's agent and show the fresh report (polls too)", Some("run now")),
    bind(S::Site, &[ch('y')], A::Copy, "Copy the site's name (its URL when site_url is configured) to the clipboard", Some("copy")),
    bind(S::Site, &[plain(KeyCode::Esc), plain(KeyCode::Backspace)], A::Back, "Back to where you came from", Some("back")),
    bind(S::Requirement, &[ch('1')], A::Window1h, "Show the last hour", Some("1h")),
    bind(S::Requirement, &[ch('2')], A::Window6h, "Show the last 6 hours", Some("6h")),
    bind(S::Requirement, &[ch('3')], A::Window24h, "Show the last 24 hours", Some("24h")),
    bind(S::Requirement, &[ch('4')], A::Window7d, "Show the last 7 days", Some("7d")),
    bind(S::Requirement, &[plain(KeyCode::Up), ch('k')], A::Up, "Previous site failing this requirement", None),
    bind(S::Requirement, &[plain(KeyCode::Down), ch('j')], A::Down, "Next site failing this requirement", None),
    bind(S::Requirement, &[ch('g'), plain(KeyCode::Home)], A::First, "First site", None),
    bind(S::Requirement, &[ch('G'), plain(KeyCode::End)], A::Last, "Last site", None),
    bind(S::Requirement, &[plain(KeyCode::Enter)], A::Open, "Open the selected site", Some("open site")),
    bind(S::Requirement, &[plain(KeyCode::Esc), plain(KeyCode::Backspace)], A::Back, "Back to the site", Some("back")),
    bind(S::Reports, &[plain(KeyCode::Up), ch('k')], A::Up, "Newer report", None),
    bind(S::Reports, &[plain(KeyCode::Down), ch('j')], A::Down, "Older report", None),
    bind(S::Reports, &[ch('g'), plain(KeyCode::Home)], A::First, "Newest report", None),
    bind(S::Reports, &[ch('G'), plain(KeyCode::End)], A::Last, "Oldest report", None),
    bind(S::Reports, &[plain(KeyCode::Enter)], A::Open, "Open the selected report", Some("open")),
    bind(S::Reports, &[ch('d')], A::ToggleDiff, "Open the selected report's diff against the one before", Some("diff")),
    bind(S::Reports, &[plain(KeyCode::Esc), plain(KeyCode::Backspace)], A::Back, "Back to the site", Some("back")),
    bind(S::Report, &[plain(KeyCode::Up), ch('k')], A::Up, "Previous requirement", None),
    bind(S::Report, &[plain(KeyCode::Down), ch('j')], A::Down, "Next requirement", None),
    bind(S::Report, &[ch('g'), plain(KeyCode::Home)], A::First, "First requirement", None),
    bind(S::Report, &[ch('G'), plain(KeyCode::End)], A::Last, "Last requirement", None),
    bind(S::Report, &[plain(KeyCode::PageUp)], A::ScrollTextUp, "Scroll the requirement's text up", None),
    bind(S::Report, &[plain(KeyCode::PageDown)], A::ScrollTextDown, "Scroll the requirement's text down", Some("scroll text")),
    bind(S::Report, &[ch('d')], A::ToggleDiff, "Diff against the previous report, or back to the report", Some("diff")),
    bind(S::Report, &[plain(KeyCode::Esc), plain(KeyCode::Backspace)], A::Back, "Back to the reports", Some("back")),
    bind(S::Transitions, &[plain(KeyCode::Up), ch('k')], A::Up, "Newer transition", None),
    bind(S::Transitions, &[plain(KeyCode::Down), ch('j')], A::Down, "Older transition", None),
    bind(S::Transitions, &[ch('g'), plain(KeyCode::Home)], A::First, "Newest", None),
    bind(S::Transitions, &[ch('G'), plain(KeyCode::End)], A::Last, "Oldest", None),
    bind(S::Transitions, &[plain(KeyCode::Enter)], A::Open, "Open the transition's site", Some("open site")),
    bind(S::Transitions, &[plain(KeyCode::Esc), plain(KeyCode::Backspace), ch('t')], A::Back, "Back to the grid", Some("back")),
    bind(S::Alerts, &[plain(KeyCode::Up), ch('k')], A::Up, "Previous alert", None),
    bind(S::Alerts, &[plain(KeyCode::Down), ch('j')], A::Down, "Next alert", None),
    bind(S::Alerts, &[ch('g'), plain(KeyCode::Home)], A::First, "First alert", None),
    bind(S::Alerts, &[ch('G'), plain(KeyCode::End)], A::Last, "Last alert", None),
    bind(S::Alerts, &[plain(KeyCode::Enter)], A::Open, "Open the alert's site", Some("site")),
    bind(S::Alerts, &[plain(KeyCode::Esc), plain(KeyCode::Backspace), ch('a')], A::Back, "Back to the grid", Some("back")),
    bind(S::Problems, &[plain(KeyCode::Up), ch('k')], A::Up, "Previous site", None),
    bind(S::Problems, &[plain(KeyCode::Down), ch('j')], A::Down, "Next site", None),
    bind(S::Problems, &[plain(KeyCode::PageUp)], A::PageUp, "Page up", None),
    bind(S::Problems, &[plain(KeyCode::PageDown)], A::PageDown, "Page down", None),
    bind(S::Problems, &[ch('g'), plain(KeyCode::Home)], A::First, "Worst site", None),
    bind(S::Problems, &[ch('G'), plain(KeyCode::End)], A::Last, "Last site", None),
    bind(S::Problems, &[plain(KeyCode::Tab)], A::NextSection, "Only the next environment (all, then each in turn)", Some("env")),
    bind(S::Problems, &[plain(KeyCode::BackTab)], A::PrevSection, "Only the previous environment (from all: the last, often prod)", None),
    bind(S::Problems, &[ch('/')], A::StartFilter, "Filter by site or profile name, as in the grid", Some("filter")),
    bind(S::Problems, &[plain(KeyCode::Enter)], A::Open, "Open the site", Some("open site")),
    bind(S::Problems, &[plain(KeyCode::Esc), plain(KeyCode::Backspace), ch('e')], A::Back, "Back to the grid", Some("back")),
    bind(S::Pivot, &[plain(KeyCode::Up), ch('k')], A::Up, "Previous requirement", None),
    bind(S::Pivot, &[plain(KeyCode::Down), ch('j')], A::Down, "Next requirement", None),
    bind(S::Pivot, &[ch('g'), plain(KeyCode::Home)], A::First, "Most failed requirement", None),
    bind(S::Pivot, &[ch('G'), plain(KeyCode::End)], A::Last, "Least failed requirement", None),
    bind(S::Pivot, &[plain(KeyCode::Enter)], A::Open, "List the sites failing the requirement", Some("sites")),
    bind(S::Pivot, &[plain(KeyCode::Esc), plain(KeyCode::Backspace), ch('p')], A::Back, "Back to the grid", Some("back")),
    bind(S::PivotSites, &[plain(KeyCode::Up), ch('k')], A::Up, "Previous site", None),
    bind(S::PivotSites, &[plain(KeyCode::Down), ch('j')], A::Down, "Next site", None),
    bind(S::PivotSites, &[ch('g'), plain(KeyCode::Home)], A::First, "First site", None),
    bind(S::PivotSites, &[ch('G'), plain(KeyCode::End)], A::Last, "Last site", None),
    bind(S::PivotSites, &[plain(KeyCode::Enter)], A::Open, "Open the site", Some("open site")),
    bind(S::PivotSites, &[plain(KeyCode::Esc), plain(KeyCode::Backspace)], A::Back, "Back to the pivot", Some("back")),
    bind(S::Rollout, &[plain(KeyCode::Right), ch('l'), plain(KeyCode::Tab)], A::Right, "Next profile", Some("next profile")),
    bind(S::Rollout, &[plain(KeyCode::Left), ch('h'), plain(KeyCode::BackTab)], A::Left, "Previous profile", None),
    bind(S::Rollout, &[plain(KeyCode::Up), ch('k')], A::Up, "Scroll up", None),
    bind(S::Rollout, &[plain(KeyCode::Down), ch('j')], A::Down, "Scroll down", None),
    bind(S::Rollout, &[plain(KeyCode::Esc), plain(KeyCode::Backspace), ch('v')], A::Back, "Back to the grid", Some("back")),
    bind(S::Help, &[plain(KeyCode::Up), ch('k')], A::Up, "Scroll up", None),
    bind(S::Help, &[plain(KeyCode::Down), ch('j')], A::Down, "Scroll down", None),
    bind(S::Help, &[plain(KeyCode::Esc), plain(KeyCode::Backspace)], A::Back, "Close help", Some("close")),
    bind(S::FilterInput, &[plain(KeyCode::Enter)], A::ApplyFilter, "Keep the filter and return to the grid", Some("keep")),
    bind(S::FilterInput, &[plain(KeyCode::Esc)], A::ClearFilter, "Clear the filter", Some("clear")),
    bind(S::Prompt, &[plain(KeyCode::Enter)], A::SaveMute, "Next: the reason, then the expiry (YYYY-MM-DD, empty for none), then save", Some("next")),
    bind(S::Prompt, &[plain(KeyCode::Tab)], A::CycleMuteScope, "Mute on this site, or on every site of its profile", Some("scope")),
    bind(S::Prompt, &[plain(KeyCode::Esc)], A::CancelMute, "Cancel the mute", Some("cancel")),
];

/// What the mouse does (unless `mouse = false`), for help and the README.
pub struct MouseBinding {
    pub gesture: &'static str,
    pub scope: Scope,
    pub description: &'static str,
}

/// Scope keys that take over a global key on purpose, because they do
/// what the global one does and more: the site view's `r` polls every
/// backend too, and asks the site's agent for a run.
pub const DELIBERATE_SHADOWS: &[(Scope, Action)] = &[(S::Site, A::RunReport)];

pub const MOUSE: &[MouseBinding] = &[
    MouseBinding {
        gesture: "Click",
        scope: S::Grid,
        description: "Select the site under the pointer",
    },
    MouseBinding {
        gesture: "Double-click",
        scope: S::Grid,
        description: "Open the site under the pointer",
    },
    MouseBinding {
        gesture: "Click a row",
        scope: S::Global,
        description: "In a list (problems, transitions, pivot, alerts, reports): select the row",
    },
    MouseBinding {
        gesture: "Double-click a row",
        scope: S::Global,
        description: "In a list: open what the row names, as Enter does",
    },
    MouseBinding {
        gesture: "Wheel",
        scope: S::Global,
        description: "Move up and down, as the arrow keys do in each view",
    },
];

/// How many lines the help screen has (`ui::help` draws them; a test there
/// holds the two equal), so scrolling stops at its end.
pub fn help_line_count() -> usize {
    let bindings: usize = SCOPES
        .iter()
        .map(|scope| 2 + BINDINGS.iter().filter(|b| b.scope == *scope).count())
        .sum();
    let mouse = 2 + MOUSE.len();
    let states = 1 + crate::model::SiteState::ALL.len();
    // A blank line, the title, two marks, the underline.
    let marks = 5;
    bindings + mouse + states + marks
}

/// The action a key performs in a scope: the scope's own bindings first,
/// then the global ones (not while typing, where keys are text).
pub fn lookup(scope: Scope, event: &KeyEvent) -> Option<Action> {
    let find = |s: Scope| {
        BINDINGS
            .iter()
            .filter(|b| b.scope == s)
            .find(|b| b.keys.iter().any(|k| k.matches(event)))
            .map(|b| b.action)
    };
    find(scope).or_else(|| {
        if matches!(scope, Scope::FilterInput | Scope::Prompt) {
            // Ctrl-C must still quit while typing.
            (ctrl('c').matches(event)).then_some(Action::Quit)
        } else {
            find(Scope::Global)
        }
    })
}

pub fn keys_label(binding: &Binding) -> String {
    binding
        .keys
        .iter()
        .map(Key::label)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Scopes in the order help and the README list them.
pub const SCOPES: [Scope; 15] = [
    S::Global,
    S::Grid,
    S::Problems,
    S::Site,
    S::Requirement,
    S::Reports,
    S::Report,
    S::Transitions,
    S::Pivot,
    S::PivotSites,
    S::Alerts,
    S::Rollout,
    S::Help,
    S::FilterInput,
    S::Prompt,
];

/// The README's key table, generated; `tests/readme.rs` holds the README to it.
pub fn markdown_table() -> String {
    let mut out = String::from("| Where | Keys | Action |\n|---|---|---|\n");
    for scope in SCOPES {
        for b in BINDINGS.iter().filter(|b| b.scope == scope) {
            let keys = b
                .keys
                .iter()
                .map(|k| format!("`{}`", k.label().replace('|', "\\|")))
                .collect::<Vec<_>>()
                .join(" ");
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                scope.title(),
                keys,
                b.description
            ));
        }
    }
    for m in MOUSE {
        out.push_str(&format!(
            "| {} (mouse) | {} | {} |\n",
            m.scope.title(),
            m.gesture,
            m.description
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn no_key_is_bound_twice_in_a_scope_or_shadows_a_global_by_accident() {
        for scope in SCOPES {
            let mut seen = HashSet::new();
            for b in BINDINGS.iter().filter(|b| b.scope == scope) {
                for k in b.keys {
                    assert!(
                        seen.insert(k.label()),
                        "{} bound twice in {:?}",
                        k.label(),
                        scope
                    );
                }
            }
        }
        let globals: HashSet<String> = BINDINGS
            .iter()
            .filter(|b| b.scope == Scope::Global)
            .flat_map(|b| b.keys.iter().map(Key::label))
            .collect();
        for b in BINDINGS.iter().filter(|b| b.scope != Scope::Global) {
            for k in b.keys {
                assert!(
                    !globals.contains(&k.label())
                        || matches!(b.scope, Scope::FilterInput | Scope::Prompt)
                        || DELIBERATE_SHADOWS.contains(&(b.scope, b.action)),
                    "{} in {:?} shadows a global key",
                    k.label(),
                    b.scope
                );
            }
        }
    }

    #[test]
    fn every_action_that_a_scope_handles_has_a_description() {
        for b in BINDINGS {
            assert!(!b.description.is_empty());
            assert!(!b.keys.is_empty());
        }
    }

    #[test]
    fn lookup_uses_the_scope_then_global_keys() {
        assert_eq!(
            lookup(Scope::Grid, &key(KeyCode::Char('j'))),
            Some(Action::Down)
        );
        assert_eq!(
            lookup(Scope::Grid, &key(KeyCode::Char('q'))),
            Some(Action::Quit)
        );
        assert_eq!(lookup(Scope::Site, &key(KeyCode::Esc)), Some(Action::Back));
        assert_eq!(
            lookup(Scope::Grid, &key(KeyCode::Char('G'))),
            Some(Action::Last)
        );
        let shift_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(lookup(Scope::Grid, &shift_g), Some(Action::Last));
        // While typing, letters are text, but Ctrl-C still quits.
        assert_eq!(lookup(Scope::FilterInput, &key(KeyCode::Char('q'))), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(lookup(Scope::FilterInput, &ctrl_c), Some(Action::Quit));
        assert_eq!(
            lookup(Scope::Grid, &key(KeyCode::Char('c'))),
            Some(Action::CycleTheme),
            "plain c is not Ctrl-C"
        );
        assert_eq!(lookup(Scope::Grid, &key(KeyCode::Char('x'))), None);
    }
}
