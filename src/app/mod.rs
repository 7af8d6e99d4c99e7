//! The application's state (`App`), how it is built, and the dispatch of
//! terminal events to actions. Knows nothing of the network: data comes in
//! through `ingest` (`apply_*`, `offer_*`), requests go out as `Effect`s
//! that the runtime carries out. What each screen's keys do is in
//! `actions/`, one file per screen; the grid's geometry in `layout`; which
//! detail queries run in `watches`.

mod actions;
mod fleet;
pub mod grid;
pub mod hit_map;
mod ingest;
pub mod keymap;
mod layout;
mod mouse;
#[cfg(test)]
mod test_fleets;
pub mod views;
mod watches;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{Event, KeyEvent};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use crate::model::{
    Clock, Counts, EnvFleet, EnvReport, MuteRule, MuteRules, SeverityFilter, SiteFilter, SortOrder,
    Tracker, Transition,
};
use crate::model::{Detail, DetailKey, SiteKey};
use crate::poller::Slot;
use grid::{GridLayout, LayoutRequest};
use keymap::{Action, Scope};

pub use actions::prompts::MutePrompt;
pub use hit_map::HitMap;
pub use layout::GridState;

/// Lines the grid view spends on chrome: the header above, the status line
/// and the key line below.
pub const HEADER_LINES: u16 = 1;
pub const FOOTER_LINES: u16 = 2;

#[derive(Debug, Clone)]
pub struct Settings {
    pub stale_after: Duration,
    pub refresh: Duration,
    pub ascii: bool,
    /// Where the data comes from, for the header ("demo", a config path…).
    pub origin: String,
    /// How many transitions the log keeps; older ones are dropped.
    pub transition_log_size: usize,
    /// Cells that changed within this long carry a change marker.
    pub change_marker: Duration,
    /// Clicks and the wheel are read (and the terminal's mouse captured).
    pub mouse: bool,
    /// Per environment, a site's address with `{site}` to fill in.
    pub site_urls: HashMap<String, crate::config::SiteUrlTemplate>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            stale_after: Duration::from_secs(30 * 60),
            refresh: Duration::from_secs(15),
            ascii: false,
            origin: String::new(),
            transition_log_size: 1000,
            change_marker: Duration::from_secs(5 * 60),
            mouse: true,
            site_urls: HashMap::new(),
        }
    }
}

/// One environment as last polled.
#[derive(Debug, Clone, Default)]
pub struct EnvPane {
    /// As the tracker interpreted the last poll; shared with it.
    pub fleet: Arc<EnvFleet>,
    pub counts: Counts,
    pub fetched_at: Option<SystemTime>,
    /// The first good poll: how long a site has been in a state the
    /// transition log does not know is "at least since then".
    pub first_fetched_at: Option<SystemTime>,
    pub error: Option<(String, SystemTime)>,
    pub warnings: Vec<String>,
    pub in_flight: bool,
    /// Site name → Unix time of its latest transition, for the change
    /// markers; only entries younger than the marker window are kept.
    pub changed_at: HashMap<String, f64>,
    /// The last good report as fetched, before mute rules, so the fleet can
    /// be rebuilt when the rules or "show muted" change.
    pub report: Option<Arc<EnvReport>>,
    /// Sites in error and warning over the last hour, for the strip.
    pub timeline: Option<(Arc<crate::model::Timeline>, SystemTime)>,
    /// The environment has a cluster configured: site views show its
    /// Kubernetes pane.
    pub kubernetes: bool,
    /// The environment's mutes are its Alertmanager's silences.
    pub alertmanager: bool,
    /// The environment's reports can be read (a Loki is configured): the
    /// site view takes requirement texts from the latest.
    pub reports: bool,
}

impl EnvPane {
    pub fn changed_recently(&self, site: &str, now_unix: f64, window: Duration) -> bool {
        self.changed_at
            .get(site)
            .is_some_and(|t| now_unix - t <= window.as_secs_f64())
    }
    /// Data is stale when the latest attempt failed, or when it is older
    /// than the refresh interval allows for (the poller is stuck).
    pub fn is_stale(&self, now: SystemTime, refresh: Duration) -> bool {
        self.error.is_some() || self.fetched_at.is_some_and(|at| age(now, at) > refresh * 3)
    }
}

pub fn age(now: SystemTime, then: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

fn unix(t: SystemTime) -> f64 {
    crate::model::clock::unix_seconds(crate::model::clock::timestamp_of_system_time(t))
}

pub use views::{ProblemsView, ReportView, ReportsView, RequirementView, SiteView, View};

/// What the runtime must do for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Watch(DetailKey),
    Unwatch(DetailKey),
    Refresh,
    /// Store a rule made in the dashboard; the runtime answers with
    /// `set_mutes` or `message`.
    AddMute(MuteRule),
    /// Take a rule out of the dashboard's mutes file (it came from there);
    /// the runtime answers with `set_mutes` or `message`.
    RemoveMute(MuteRule),
    /// Draw with the next colour theme (the runtime holds the themes).
    NextTheme,
    /// Put this text on the clipboard (the runtime writes OSC 52).
    Copy(String),
    /// Ask the site's status agent for a run now; the runtime answers with
    /// `offer_run`.
    RunReport(SiteKey),
}

pub struct App {
    pub now: SystemTime,
    pub settings: Settings,
    pub envs: Vec<EnvPane>,
    pub grid: GridState,
    /// Views above the grid; the grid is always at the bottom.
    pub stack: Vec<View>,
    pub filter_input: Option<Input>,
    /// Detail queries the poller runs for the views on the stack.
    pub watching: Vec<DetailKey>,
    /// Newest first, at most `settings.transition_log_size`.
    pub transitions: VecDeque<Transition>,
    /// While frozen, new data is held here instead of changing the view.
    pub frozen: bool,
    held_fleet: Vec<(usize, Slot<EnvReport>)>,
    held_details: Vec<(DetailKey, Slot<Detail>)>,
    /// Poll results that arrived while frozen.
    pub held_updates: usize,
    /// The one interpretation of each poll (mute rules, states,
    /// transitions), shared with `check` and `watch`; the panes draw the
    /// fleets it made.
    tracker: Tracker,
    /// The fleet timeline strip over the grid.
    pub show_timeline: bool,
    /// Rollout answers for the rollout view, by query.
    pub rollouts: HashMap<DetailKey, views::Loaded<crate::model::Rollout>>,
    /// Each environment's alerts, while the alerts view is open; keyed by
    /// environment name.
    pub alert_lists: HashMap<String, views::Loaded<crate::model::AlertList>>,
    /// Typing a mute rule's reason or expiry.
    pub prompt: Option<MutePrompt>,
    /// One line for the status bar: the outcome of the last action.
    pub message: Option<String>,
    /// A mute Alertmanager did not take: offered again (its reason filled
    /// in) when the operator mutes the same requirement of the same site.
    pub refused_mute: Option<MuteRule>,
    pub width: u16,
    pub height: u16,
    pub quit: bool,
    /// The latest left click on the grid: when, and on which site, so a
    /// second one there soon after opens it.
    pub last_click: Option<(SystemTime, usize)>,
    /// The latest left click on a list view's row: when, in which view,
    /// on which row.
    pub last_row_click: Option<(SystemTime, Scope, usize)>,
    /// Where the last frame drew what the mouse can click; the runtime
    /// puts it here after each draw.
    pub hit_map: HitMap,
    /// Requirement id → its title, learned from every report and site
    /// detail that came in: Prometheus knows only ids, and a title is the
    /// same on every site, so lists of many sites can show titles.
    pub titles: HashMap<String, String>,
}

impl App {
    pub fn new(settings: Settings, environments: &[String], width: u16, height: u16) -> App {
        let envs = environments
            .iter()
            .map(|name| EnvPane {
                fleet: Arc::new(EnvFleet {
                    name: name.clone(),
                    ..EnvFleet::default()
                }),
                ..EnvPane::default()
            })
            .collect();
        let settings_stale_after = settings.stale_after;
        let mut app = App {
            now: Clock::System.system_time(),
            settings,
            envs,
            grid: GridState {
                filter_text: String::new(),
                severity: SeverityFilter::All,
                sort: SortOrder::Name,
                compact: false,
                cursor: 0,
                cursor_key: None,
                scroll: 0,
                layout: GridLayout::build(&LayoutRequest {
                    envs: &[],
                    filter: &SiteFilter::default(),
                    sort: SortOrder::Name,
                    compact: false,
                    width,
                    height,
                    cell_width: grid::MIN_CELL_WIDTH,
                }),
                cell_width: grid::MIN_CELL_WIDTH,
            },
            stack: Vec::new(),
            filter_input: None,
            watching: Vec::new(),
            transitions: VecDeque::new(),
            frozen: false,
            held_fleet: Vec::new(),
            held_details: Vec::new(),
            held_updates: 0,
            tracker: Tracker::new(environments, settings_stale_after, MuteRules::default()),
            show_timeline: true,
            rollouts: HashMap::new(),
            alert_lists: HashMap::new(),
            prompt: None,
            message: None,
            refused_mute: None,
            width,
            height,
            quit: false,
            last_click: None,
            last_row_click: None,
            hit_map: HitMap::default(),
            titles: HashMap::new(),
        };
        app.relayout();
        let _ = app.sync_watches();
        app
    }

    pub fn scope(&self) -> Scope {
        if self.prompt.is_some() {
            return Scope::Prompt;
        }
        if self.filter_input.is_some() {
            return Scope::FilterInput;
        }
        match self.stack.last() {
            None => Scope::Grid,
            Some(View::Site(_)) => Scope::Site,
            Some(View::Requirement(_)) => Scope::Requirement,
            Some(View::Reports(_)) => Scope::Reports,
            Some(View::Report(_)) => Scope::Report,
            Some(View::Transitions { .. }) => Scope::Transitions,
            Some(View::Pivot { .. }) => Scope::Pivot,
            Some(View::Alerts { .. }) => Scope::Alerts,
            Some(View::Problems(_)) => Scope::Problems,
            Some(View::PivotSites { .. }) => Scope::PivotSites,
            Some(View::Rollout { .. }) => Scope::Rollout,
            Some(View::Help { .. }) => Scope::Help,
        }
    }

    pub fn handle_event(&mut self, event: &Event) -> Vec<Effect> {
        match event {
            Event::Key(key) if key.kind != crossterm::event::KeyEventKind::Release => {
                self.handle_key(key)
            }
            Event::Resize(w, h) => {
                self.resize(*w, *h);
                Vec::new()
            }
            Event::Mouse(mouse) if self.settings.mouse => {
                let mut effects = self.handle_mouse(mouse);
                effects.extend(self.sync_watches());
                effects
            }
            _ => Vec::new(),
        }
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        self.message = None;
        let scope = self.scope();
        let action = keymap::lookup(scope, key);
        if scope == Scope::Prompt && action.is_none() {
            if let Some(prompt) = self.prompt.as_mut() {
                prompt.input.handle_event(&Event::Key(*key));
                prompt.error = None;
            }
            return Vec::new();
        }
        if scope == Scope::FilterInput && action.is_none() {
            if let Some(input) = self.filter_input.as_mut() {
                input.handle_event(&Event::Key(*key));
                self.grid.filter_text = input.value().to_string();
                self.relayout();
            }
            return Vec::new();
        }
        match action {
            Some(action) => self.perform(scope, action),
            None => Vec::new(),
        }
    }

    pub fn perform(&mut self, scope: Scope, action: Action) -> Vec<Effect> {
        let mut effects = self.perform_action(scope, action);
        effects.extend(self.sync_watches());
        effects
    }

    /// An action's own effects, before the watches are brought in line
    /// (`perform` does that, and the mouse after a click).
    fn perform_action(&mut self, scope: Scope, action: Action) -> Vec<Effect> {
        match (scope, action) {
            (_, Action::Quit) => self.quit = true,
            (_, Action::Refresh) => return vec![Effect::Refresh],
            (Scope::Prompt, action) => return self.prompt_action(action),
            (_, Action::ToggleFreeze) => self.toggle_freeze(),
            (_, Action::CycleTheme) => return vec![Effect::NextTheme],
            (_, Action::ToggleTimeline) => {
                self.show_timeline = !self.show_timeline;
                self.relayout();
            }
            (_, Action::ToggleShowMuted) => self.toggle_show_muted(),
            (Scope::Help, Action::Help) => {
                self.stack.pop();
            }
            (_, Action::Help) => self.stack.push(View::Help { scroll: 0 }),
            (Scope::Grid | Scope::Site, Action::Copy) => return self.copy_site(scope),
            (Scope::Grid, action) => return self.grid_action(action),
            (Scope::Site, action) => return self.site_action(action),
            (Scope::Requirement, action) => self.requirement_action(action),
            (Scope::Reports, action) => self.reports_action(action),
            (Scope::Report, action) => self.report_action(action),
            (Scope::Rollout, action) => self.rollout_action(action),
            (Scope::Problems, action) => return self.problems_action(action),
            (Scope::Transitions | Scope::Pivot | Scope::PivotSites | Scope::Alerts, action) => {
                self.list_action(action)
            }
            (Scope::Help, action) => self.help_action(action),
            (Scope::FilterInput, action) => self.filter_prompt_action(action),
            _ => {}
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::test_fleets::app;

    #[test]
    fn c_asks_for_the_next_theme_from_any_view() {
        let mut app = app(80, 24);
        let key = KeyEvent::new(
            crossterm::event::KeyCode::Char('c'),
            crossterm::event::KeyModifiers::NONE,
        );
        assert_eq!(app.handle_key(&key), vec![Effect::NextTheme]);
        app.perform(Scope::Grid, Action::OpenPivot);
        assert_eq!(app.handle_key(&key), vec![Effect::NextTheme]);
    }
}
