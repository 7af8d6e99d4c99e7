//! Application state, the navigation stack, and what each action does.
//! Knows nothing of the network: data comes in through `apply_*`, requests
//! go out as `Effect`s that the runtime hands to the poller.

pub mod grid;
pub mod keymap;
mod mouse;
pub mod views;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{Event, KeyEvent};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use crate::model::{
    Counts, EnvFleet, MuteRule, MuteRules, SeverityFilter, SiteFilter, SiteState, SortOrder,
    Transition, transitions,
};
use crate::poller::{Detail, DetailKey, SiteKey, Slot};
use crate::source::EnvReport;
use grid::{GridLayout, LayoutRequest, SiteRef, normal_cell_width};
use keymap::{Action, Scope};

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
    pub fleet: EnvFleet,
    pub counts: Counts,
    pub fetched_at: Option<SystemTime>,
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
}

impl EnvPane {
    /// Firing alerts naming a site.
    pub fn alerts_for<'a>(
        &'a self,
        site: &'a str,
    ) -> impl Iterator<Item = &'a crate::model::Alert> + 'a {
        self.report
            .iter()
            .flat_map(|r| r.alerts.iter())
            .filter(move |a| a.site == site)
    }
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
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub use mouse::osc52;
pub use views::{ReportView, ReportsView, RequirementView, SiteView, View};

/// Typing a new mute rule in the site view: first the reason, then the
/// expiry.
#[derive(Debug, Clone)]
pub struct MutePrompt {
    pub site: SiteKey,
    pub requirement: String,
    pub reason: Option<String>,
    pub input: Input,
    pub error: Option<String>,
}

/// One requirement in the pivot.
#[derive(Debug, Clone, PartialEq)]
pub struct PivotRow {
    pub requirement: String,
    /// Failing sites per environment, in `App::envs` order.
    pub per_env: Vec<usize>,
    pub total: usize,
    pub worst: crate::model::Severity,
}

/// What the runtime must do for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Watch(DetailKey),
    Unwatch(DetailKey),
    Refresh,
    /// Store a rule made in the dashboard; the runtime answers with
    /// `set_mutes` or `message`.
    AddMute(MuteRule),
    /// Draw with the next colour theme (the runtime holds the themes).
    NextTheme,
    /// Put this text on the clipboard (the runtime writes OSC 52).
    Copy(String),
}

#[derive(Debug, Clone)]
pub struct GridState {
    pub filter_text: String,
    pub severity: SeverityFilter,
    pub sort: SortOrder,
    pub compact: bool,
    /// Index into `layout.sites`.
    pub cursor: usize,
    /// The site under the cursor by name, so it stays put when data moves.
    pub cursor_key: Option<SiteKey>,
    pub scroll: usize,
    pub layout: GridLayout,
    pub cell_width: u16,
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
    /// Accepted requirements that do not count toward a site's state.
    pub mutes: MuteRules,
    /// Show everything as it is, mute rules ignored.
    pub show_muted: bool,
    /// The fleet timeline strip over the grid.
    pub show_timeline: bool,
    /// Rollout answers for the rollout view, by query.
    pub rollouts: HashMap<DetailKey, views::Loaded<crate::model::Rollout>>,
    /// Typing a mute rule's reason or expiry.
    pub prompt: Option<MutePrompt>,
    /// One line for the status bar: the outcome of the last action.
    pub message: Option<String>,
    pub width: u16,
    pub height: u16,
    pub quit: bool,
    /// The latest left click on the grid: when, and on which site, so a
    /// second one there soon after opens it.
    pub last_click: Option<(SystemTime, usize)>,
}

impl App {
    pub fn new(settings: Settings, environments: &[String], width: u16, height: u16) -> App {
        let envs = environments
            .iter()
            .map(|name| EnvPane {
                fleet: EnvFleet {
                    name: name.clone(),
                    ..EnvFleet::default()
                },
                ..EnvPane::default()
            })
            .collect();
        let mut app = App {
            now: SystemTime::now(),
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
            mutes: MuteRules::default(),
            show_muted: false,
            show_timeline: true,
            rollouts: HashMap::new(),
            prompt: None,
            message: None,
            width,
            height,
            quit: false,
            last_click: None,
        };
        app.relayout();
        let _ = app.sync_watches();
        app
    }

    pub fn grid_height(&self) -> u16 {
        self.height
            .saturating_sub(HEADER_LINES + FOOTER_LINES + self.timeline_lines())
    }

    /// Lines the fleet timeline strip takes over the grid: one per
    /// environment, when shown and the screen is tall enough to spare them.
    pub fn timeline_lines(&self) -> u16 {
        let lines = self.envs.len() as u16;
        if self.show_timeline && self.height >= 20 + lines {
            lines
        } else {
            0
        }
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
            Some(View::PivotSites { .. }) => Scope::PivotSites,
            Some(View::Rollout { .. }) => Scope::Rollout,
            Some(View::Help { .. }) => Scope::Help,
        }
    }

    pub fn filter(&self) -> SiteFilter {
        SiteFilter::new(&self.grid.filter_text, self.grid.severity)
    }

    pub fn totals(&self) -> Counts {
        let mut counts = Counts::default();
        for env in &self.envs {
            counts.merge(&env.counts);
        }
        counts
    }

    /// Age of the oldest environment's data, the honest "updated N ago".
    pub fn oldest_fetch(&self) -> Option<SystemTime> {
        if self.envs.iter().any(|e| e.fetched_at.is_none()) {
            return None;
        }
        self.envs.iter().filter_map(|e| e.fetched_at).min()
    }

    pub fn cursor_site(&self) -> Option<SiteRef> {
        self.grid.layout.sites.get(self.grid.cursor).copied()
    }

    pub fn site_key(&self, site: SiteRef) -> Option<SiteKey> {
        let env = self.envs.get(site.env)?;
        Some(SiteKey {
            env: env.fleet.name.clone(),
            site: env.fleet.sites.get(site.index)?.label.clone(),
        })
    }

    fn find_site(&self, key: &SiteKey) -> Option<SiteRef> {
        let env = self.envs.iter().position(|e| e.fleet.name == key.env)?;
        let index = self.envs[env].fleet.find(&key.site)?;
        Some(SiteRef { env, index })
    }

    pub fn site_state_by_key(&self, key: &SiteKey) -> Option<SiteState> {
        self.find_site(key).and_then(|s| self.site_state(s))
    }

    pub fn profile_of(&self, key: &SiteKey) -> Option<String> {
        let site = self.find_site(key)?;
        Some(self.envs[site.env].fleet.sites[site.index].profile.clone())
    }

    pub fn site_state(&self, site: SiteRef) -> Option<SiteState> {
        self.envs
            .get(site.env)?
            .fleet
            .states
            .get(site.index)
            .copied()
    }

    /// Takes a new poll outcome for one environment.
    pub fn apply_fleet(&mut self, env: usize, slot: &Slot<EnvReport>) {
        if self.absorb_fleet(env, slot) {
            self.relayout();
        }
    }

    /// Rebuilds every environment from its last report, e.g. after the mute
    /// rules changed; no transitions are recorded for that.
    pub fn rebuild_fleets(&mut self) {
        let now = unix(self.now);
        for pane in &mut self.envs {
            let Some(report) = &pane.report else { continue };
            let mut sites = report.sites.clone();
            if !self.show_muted {
                self.mutes.apply_to_sites(&pane.fleet.name, &mut sites, now);
            }
            pane.fleet = EnvFleet::new(
                pane.fleet.name.clone(),
                sites,
                now,
                self.settings.stale_after,
            );
            pane.counts = pane.fleet.counts();
        }
        self.relayout();
    }

    pub fn set_mutes(&mut self, mutes: MuteRules) {
        self.mutes = mutes;
        self.rebuild_fleets();
    }

    /// The rule muting a requirement of a site, if one applies now.
    pub fn mute_for(&self, key: &SiteKey, requirement: &str) -> Option<&crate::model::MuteRule> {
        let profile = self.profile_of(key).unwrap_or_default();
        self.mutes
            .find(&key.env, &profile, &key.site, requirement, unix(self.now))
    }

    /// New data from the poller: applied at once, or held while frozen.
    pub fn offer_fleets(&mut self, changes: Vec<(usize, Slot<EnvReport>)>) {
        if self.frozen {
            self.held_updates += changes.len();
            for (env, slot) in changes {
                self.held_fleet.retain(|(e, _)| *e != env);
                self.held_fleet.push((env, slot));
            }
        } else {
            self.apply_fleets(&changes);
        }
    }

    pub fn offer_detail(&mut self, key: DetailKey, slot: Slot<Detail>) {
        if self.frozen {
            self.held_updates += 1;
            self.held_details.retain(|(k, _)| *k != key);
            self.held_details.push((key, slot));
        } else {
            self.apply_detail(&key, &slot);
        }
    }

    /// Freezes the view, or applies everything held while it was frozen.
    pub fn toggle_freeze(&mut self) {
        self.frozen = !self.frozen;
        if !self.frozen {
            let fleet = std::mem::take(&mut self.held_fleet);
            self.apply_fleets(&fleet);
            for (key, slot) in std::mem::take(&mut self.held_details) {
                self.apply_detail(&key, &slot);
            }
            self.held_updates = 0;
        }
    }

    /// Takes several environments' outcomes and lays out once, as a poll
    /// round often brings more than one.
    pub fn apply_fleets(&mut self, changes: &[(usize, Slot<EnvReport>)]) {
        let mut fresh = false;
        for (env, slot) in changes {
            fresh |= self.absorb_fleet(*env, slot);
        }
        if fresh {
            self.relayout();
        }
    }

    /// True when the environment has new sites, so the layout must change.
    fn absorb_fleet(&mut self, env: usize, slot: &Slot<EnvReport>) -> bool {
        let now = self.now;
        let stale_after = self.settings.stale_after;
        let Some(pane) = self.envs.get_mut(env) else {
            return false;
        };
        pane.in_flight = slot.in_flight;
        pane.error = slot
            .last_error
            .as_ref()
            .map(|(e, at)| (e.message.clone(), *at));
        if let Some(good) = &slot.last_good {
            let first = pane.fetched_at.is_none();
            let fresh = pane.fetched_at != Some(good.at);
            pane.fetched_at = Some(good.at);
            pane.warnings = good.value.warnings.clone();
            if fresh {
                pane.report = Some(good.value.clone());
                let at = unix(now.max(good.at));
                let mut sites = good.value.sites.clone();
                if !self.show_muted {
                    self.mutes.apply_to_sites(&pane.fleet.name, &mut sites, at);
                }
                let fleet = EnvFleet::new(pane.fleet.name.clone(), sites, at, stale_after);
                // The first poll is the baseline: nothing has changed yet.
                if !first {
                    let at = unix(good.at);
                    let found = transitions(&pane.fleet, &fleet, at);
                    for t in &found {
                        pane.changed_at.insert(t.site.clone(), at);
                    }
                    let window = self.settings.change_marker.as_secs_f64();
                    pane.changed_at.retain(|_, when| at - *when <= window);
                    let added = found.len();
                    for t in found {
                        self.transitions.push_front(t);
                    }
                    self.transitions.truncate(self.settings.transition_log_size);
                    // New lines arrive on top: an open log keeps its
                    // cursor on the transition it was on, unless it was
                    // following the newest at the top.
                    let last = self.transitions.len().saturating_sub(1);
                    for view in &mut self.stack {
                        if let View::Transitions { selected } = view
                            && *selected > 0
                        {
                            *selected = (*selected + added).min(last);
                        }
                    }
                }
                pane.fleet = fleet;
                pane.counts = pane.fleet.counts();
                self.grid.cell_width = normal_cell_width(self.envs.iter().map(|e| &e.fleet));
                return true;
            }
        }
        false
    }

    /// The queries the app needs from the start (the timeline); the
    /// runtime starts them once.
    pub fn initial_watches(&self) -> Vec<Effect> {
        self.watching.iter().cloned().map(Effect::Watch).collect()
    }

    /// Takes a new outcome of a detail query into every view showing it.
    pub fn apply_detail(&mut self, key: &DetailKey, slot: &Slot<Detail>) {
        if let DetailKey::Timeline { env } = key
            && let Some(pane) = self.envs.iter_mut().find(|e| e.fleet.name == *env)
            && let Some(good) = &slot.last_good
            && let Detail::Timeline(t) = good.value.as_ref()
        {
            pane.timeline = Some((Arc::new(t.clone()), good.at));
        }
        if matches!(key, DetailKey::Rollout { .. }) && self.watching.contains(key) {
            let loaded = self.rollouts.entry(key.clone()).or_default();
            if let Some(good) = &slot.last_good
                && let Detail::Rollout(r) = good.value.as_ref()
            {
                loaded.data = Some((Arc::new(r.clone()), good.at));
            }
            loaded.error = slot
                .last_error
                .as_ref()
                .map(|(e, at)| (e.message.clone(), *at));
        }
        for view in &mut self.stack {
            view.apply(key, slot);
        }
    }

    /// Tells the poller what the stack now needs: new queries start, those
    /// no view shows any more stop.
    fn sync_watches(&mut self) -> Vec<Effect> {
        let mut wanted: Vec<DetailKey> = Vec::new();
        if self.show_timeline {
            for env in &self.envs {
                wanted.push(DetailKey::Timeline {
                    env: env.fleet.name.clone(),
                });
            }
        }
        for view in &self.stack {
            let mut keys = view.watches();
            if let View::Rollout { profile, .. } = view {
                keys.extend(self.envs.iter().map(|e| DetailKey::Rollout {
                    env: e.fleet.name.clone(),
                    profile: profile.clone(),
                }));
            }
            for key in keys {
                // Only environments with a cluster have workloads to show.
                if let DetailKey::Workloads(site) = &key
                    && !self
                        .envs
                        .iter()
                        .any(|e| e.fleet.name == site.env && e.kubernetes)
                {
                    continue;
                }
                if !wanted.contains(&key) {
                    wanted.push(key);
                }
            }
        }
        self.rollouts.retain(|key, _| wanted.contains(key));
        let mut effects: Vec<Effect> = self
            .watching
            .iter()
            .filter(|k| !wanted.contains(k))
            .map(|k| Effect::Unwatch(k.clone()))
            .collect();
        effects.extend(
            wanted
                .iter()
                .filter(|k| !self.watching.contains(k))
                .map(|k| Effect::Watch(k.clone())),
        );
        self.watching = wanted;
        effects
    }

    /// Sites in an environment failing a requirement at warning or worse,
    /// worst first, without the one named.
    pub fn others_failing(&self, env: &str, requirement: &str, except: &str) -> Vec<SiteRef> {
        let Some(env_index) = self.envs.iter().position(|e| e.fleet.name == env) else {
            return Vec::new();
        };
        let fleet = &self.envs[env_index].fleet;
        let mut found: Vec<(crate::model::Severity, usize)> = fleet
            .sites
            .iter()
            .enumerate()
            .filter(|(_, s)| s.label != except)
            .filter_map(|(i, s)| {
                s.failing
                    .iter()
                    .find(|(id, sev)| id == requirement && sev.is_failing())
                    .map(|(_, sev)| (*sev, i))
            })
            .collect();
        found.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| fleet.sites[a.1].name.cmp(&fleet.sites[b.1].name))
        });
        found
            .into_iter()
            .map(|(_, index)| SiteRef {
                env: env_index,
                index,
            })
            .collect()
    }

    pub fn resize(&mut self, width: u16, height: u16) {
        self.width = width;
        self.height = height;
        // Scroll only as far as the new size needs, not as far as the
        // smallest size on the way did.
        self.grid.scroll = 0;
        self.relayout();
    }

    /// Rebuilds the layout and puts the cursor back on the same site (or
    /// its nearest neighbour when the filter hid it).
    pub fn relayout(&mut self) {
        let envs: Vec<&EnvFleet> = self.envs.iter().map(|e| &e.fleet).collect();
        let filter = self.filter();
        self.grid.layout = GridLayout::build(&LayoutRequest {
            envs: &envs,
            filter: &filter,
            sort: self.grid.sort,
            compact: self.grid.compact,
            width: self.width,
            height: self.grid_height(),
            cell_width: self.grid.cell_width,
        });
        let sites = &self.grid.layout.sites;
        let wanted = self
            .grid
            .cursor_key
            .clone()
            .and_then(|key| self.find_site(&key));
        let restored = wanted.and_then(|site| sites.iter().position(|s| *s == site));
        let count = sites.len();
        self.grid.cursor = match (restored, wanted) {
            (Some(i), _) => i,
            (None, Some(site)) => self.nearest_visible(site),
            (None, None) => self.grid.cursor.min(count.saturating_sub(1)),
        };
        // Only a site the operator chose is remembered (in `move_cursor_to`):
        // not one the filter landed on, and not the first site of whichever
        // backend happened to answer first.
        let _ = count;
        self.scroll_to_cursor();
    }

    /// Where the cursor goes when the filter hides its site: the first
    /// visible site at or after it in (environment, profile, name) order,
    /// so it stays in the same neighbourhood.
    fn nearest_visible(&self, hidden: SiteRef) -> usize {
        let order = |site: SiteRef| {
            let s = &self.envs[site.env].fleet.sites[site.index];
            (site.env, s.profile.clone(), s.name.clone())
        };
        let target = order(hidden);
        let sites = &self.grid.layout.sites;
        sites
            .iter()
            .position(|s| order(*s) >= target)
            .unwrap_or(sites.len().saturating_sub(1))
    }

    fn move_cursor_to(&mut self, index: usize) {
        let count = self.grid.layout.sites.len();
        if count == 0 {
            return;
        }
        self.grid.cursor = index.min(count - 1);
        self.grid.cursor_key = self.cursor_site().and_then(|s| self.site_key(s));
        self.scroll_to_cursor();
    }

    /// Keeps the cursor's line on screen, showing the headers above it when
    /// scrolling up so the operator sees which profile they are in.
    fn scroll_to_cursor(&mut self) {
        let height = self.grid_height().max(1) as usize;
        let layout = &self.grid.layout;
        let max_scroll = layout.lines.len().saturating_sub(height);
        let Some(line) = layout.line_of_site(self.grid.cursor) else {
            self.grid.scroll = self.grid.scroll.min(max_scroll);
            return;
        };
        if line < self.grid.scroll {
            let mut top = line;
            while top > 0
                && !matches!(
                    layout.lines[top - 1],
                    grid::Line::Cells { .. } | grid::Line::Pair { .. }
                )
                && line - (top - 1) < height
            {
                top -= 1;
            }
            self.grid.scroll = top;
        } else if line >= self.grid.scroll + height {
            self.grid.scroll = line + 1 - height;
        }
        if self.grid.cursor == 0 {
            self.grid.scroll = 0;
        }
        self.grid.scroll = self.grid.scroll.min(max_scroll);
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
            (_, Action::ToggleShowMuted) => {
                self.show_muted = !self.show_muted;
                self.rebuild_fleets();
            }
            (Scope::Help, Action::Help) => {
                self.stack.pop();
            }
            (_, Action::Help) => self.stack.push(View::Help { scroll: 0 }),
            (Scope::Grid | Scope::Site, Action::Copy) => return self.copy_site(scope),
            (Scope::Grid, action) => return self.grid_action(action),
            (Scope::Site, action) => self.site_action(action),
            (Scope::Requirement, action) => self.requirement_action(action),
            (Scope::Reports, action) => self.reports_action(action),
            (Scope::Report, action) => self.report_action(action),
            (Scope::Rollout, action) => self.rollout_action(action),
            (Scope::Transitions | Scope::Pivot | Scope::PivotSites, action) => {
                self.list_action(action)
            }
            (Scope::Help, action) => self.help_action(action),
            (Scope::FilterInput, Action::ApplyFilter) => self.filter_input = None,
            (Scope::FilterInput, Action::ClearFilter) => {
                self.filter_input = None;
                self.grid.filter_text.clear();
                self.relayout();
            }
            _ => {}
        }
        Vec::new()
    }

    fn page_rows(&self) -> isize {
        let rows_per_line = if self.grid.layout.density == grid::Density::Dense {
            2
        } else {
            1
        };
        (self.grid_height().saturating_sub(2).max(1) as isize) * rows_per_line
    }

    fn grid_action(&mut self, action: Action) -> Vec<Effect> {
        let cursor = self.grid.cursor;
        let layout = &self.grid.layout;
        let target = match action {
            Action::Left => Some(cursor.saturating_sub(1)),
            Action::Right => Some(cursor + 1),
            Action::Up => layout.vertical(cursor, -1),
            Action::Down => layout.vertical(cursor, 1),
            Action::PageUp => layout.vertical(cursor, -self.page_rows()),
            Action::PageDown => layout.vertical(cursor, self.page_rows()),
            Action::First => Some(0),
            Action::Last => Some(layout.sites.len().saturating_sub(1)),
            Action::NextSection => layout.next_section_start(cursor),
            Action::PrevSection => layout.prev_section_start(cursor),
            _ => None,
        };
        if let Some(target) = target {
            self.move_cursor_to(target);
            return Vec::new();
        }
        match action {
            Action::StartFilter => {
                self.filter_input = Some(Input::new(self.grid.filter_text.clone()));
            }
            Action::ClearFilter => {
                self.grid.filter_text.clear();
                self.grid.severity = SeverityFilter::All;
                self.relayout();
            }
            Action::CycleSeverityFilter => {
                self.grid.severity = self.grid.severity.next();
                self.relayout();
            }
            Action::ToggleSort => {
                self.grid.sort = self.grid.sort.toggle();
                self.relayout();
            }
            Action::OpenTransitions => self.stack.push(View::Transitions { selected: 0 }),
            Action::OpenPivot => self.stack.push(View::Pivot { selected: 0 }),
            Action::OpenRollout => {
                if let Some(site) = self.cursor_site() {
                    let profile = self.envs[site.env].fleet.sites[site.index].profile.clone();
                    self.stack.push(View::Rollout { profile, scroll: 0 });
                }
            }
            Action::ToggleCompact => {
                self.grid.compact = !self.grid.compact;
                self.grid.scroll = 0;
                self.relayout();
            }
            Action::Open => {
                if let Some(key) = self.cursor_site().and_then(|s| self.site_key(s)) {
                    self.stack.push(View::Site(SiteView::new(key)));
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn site_action(&mut self, action: Action) {
        if action == Action::Back {
            self.stack.pop();
            return;
        }
        let profile = match self.stack.last() {
            Some(View::Site(site)) => self
                .find_site(&site.key)
                .map(|r| self.envs[r.env].fleet.sites[r.index].profile.clone())
                .or_else(|| site.detail.value().map(|d| d.summary.profile.clone()))
                .unwrap_or_default(),
            _ => return,
        };
        let Some(View::Site(site)) = self.stack.last_mut() else {
            return;
        };
        let last = site.requirement_count().saturating_sub(1);
        match action {
            Action::Up => site.select(site.selected.saturating_sub(1)),
            Action::Down => site.select(site.selected + 1),
            Action::First => site.select(0),
            Action::Last => site.select(last),
            Action::ScrollTextUp => site.text_scroll = site.text_scroll.saturating_sub(3),
            Action::ScrollTextDown => site.text_scroll = site.text_scroll.saturating_add(3),
            Action::OpenReports => {
                let key = site.key.clone();
                self.stack.push(View::Reports(ReportsView::new(key)));
            }
            Action::Mute => {
                if let Some(req) = site
                    .detail
                    .value()
                    .and_then(|d| d.requirements.get(site.selected))
                {
                    self.prompt = Some(MutePrompt {
                        site: site.key.clone(),
                        requirement: req.label.clone(),
                        reason: None,
                        input: Input::default(),
                        error: None,
                    });
                }
            }
            Action::Open => {
                let Some(req) = site
                    .detail
                    .value()
                    .and_then(|d| d.requirements.get(site.selected))
                else {
                    return;
                };
                let view = RequirementView {
                    site: site.key.clone(),
                    profile,
                    requirement: req.label.clone(),
                    title: req.display_title().to_string(),
                    window: crate::model::Window::default(),
                    history: Default::default(),
                    selected: 0,
                };
                self.stack.push(View::Requirement(view));
            }
            _ => {}
        }
    }

    /// Requirements by how many sites fail them in each environment, most
    /// failed first: one problem on many sites, or many problems?
    pub fn pivot(&self) -> Vec<PivotRow> {
        let mut rows: HashMap<&str, PivotRow> = HashMap::new();
        for (e, env) in self.envs.iter().enumerate() {
            for site in &env.fleet.sites {
                for (id, severity) in site.failing.iter().filter(|(_, s)| s.is_failing()) {
                    let row = rows.entry(id.as_str()).or_insert_with(|| PivotRow {
                        requirement: id.clone(),
                        per_env: vec![0; self.envs.len()],
                        total: 0,
                        worst: *severity,
                    });
                    row.per_env[e] += 1;
                    row.total += 1;
                    row.worst = row.worst.max(*severity);
                }
            }
        }
        let mut rows: Vec<PivotRow> = rows.into_values().collect();
        rows.sort_by(|a, b| {
            b.total
                .cmp(&a.total)
                .then_with(|| b.worst.cmp(&a.worst))
                .then_with(|| a.requirement.cmp(&b.requirement))
        });
        rows
    }

    /// Every site failing a requirement, worst first, by environment.
    pub fn failing_sites(&self, requirement: &str) -> Vec<(SiteRef, crate::model::Severity)> {
        let mut found = Vec::new();
        for (e, env) in self.envs.iter().enumerate() {
            for (i, site) in env.fleet.sites.iter().enumerate() {
                if let Some((_, severity)) = site
                    .failing
                    .iter()
                    .find(|(id, s)| id == requirement && s.is_failing())
                {
                    found.push((SiteRef { env: e, index: i }, *severity));
                }
            }
        }
        found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.env.cmp(&b.0.env)));
        found
    }

    /// Cursor movement and Enter in the list views (transitions, pivot).
    fn list_action(&mut self, action: Action) {
        let (len, open): (usize, Option<View>) = match self.stack.last() {
            Some(View::Transitions { selected }) => (
                self.transitions.len(),
                self.transitions.get(*selected).map(|t| {
                    View::Site(SiteView::new(SiteKey {
                        env: t.env.clone(),
                        site: t.site.clone(),
                    }))
                }),
            ),
            Some(View::Pivot { selected }) => {
                let rows = self.pivot();
                (
                    rows.len(),
                    rows.get(*selected).map(|r| View::PivotSites {
                        requirement: r.requirement.clone(),
                        selected: 0,
                    }),
                )
            }
            Some(View::PivotSites {
                requirement,
                selected,
            }) => {
                let sites = self.failing_sites(requirement);
                (
                    sites.len(),
                    sites
                        .get(*selected)
                        .and_then(|(s, _)| self.site_key(*s))
                        .map(|key| View::Site(SiteView::new(key))),
                )
            }
            _ => return,
        };
        let last = len.saturating_sub(1);
        let selected = match self.stack.last_mut() {
            Some(View::Transitions { selected })
            | Some(View::Pivot { selected })
            | Some(View::PivotSites { selected, .. }) => selected,
            _ => return,
        };
        match action {
            Action::Up => *selected = selected.saturating_sub(1),
            Action::Down => *selected = (*selected + 1).min(last),
            Action::First => *selected = 0,
            Action::Last => *selected = last,
            Action::Back => {
                self.stack.pop();
            }
            Action::Open => {
                if let Some(view) = open {
                    self.stack.push(view);
                }
            }
            _ => {}
        }
    }

    /// Enter moves from the reason to the expiry and then stores the rule;
    /// Esc cancels.
    fn prompt_action(&mut self, action: Action) -> Vec<Effect> {
        let Some(prompt) = self.prompt.as_mut() else {
            return Vec::new();
        };
        match action {
            Action::ClearFilter | Action::Back => self.prompt = None,
            Action::ApplyFilter => {
                let text = prompt.input.value().trim().to_string();
                match &prompt.reason {
                    None if text.is_empty() => {
                        prompt.error = Some("a reason is required".into());
                    }
                    None => {
                        prompt.reason = Some(text);
                        prompt.input = Input::default();
                    }
                    Some(reason) => {
                        let expires = if text.is_empty() {
                            None
                        } else {
                            match crate::model::mute::parse_expiry(&text) {
                                Ok(at) => Some(at),
                                Err(e) => {
                                    prompt.error = Some(e);
                                    return Vec::new();
                                }
                            }
                        };
                        let mut rule = MuteRule::new(prompt.requirement.clone(), reason.clone());
                        rule.env = Some(prompt.site.env.clone());
                        rule.site = Some(prompt.site.site.clone());
                        rule.expires = expires;
                        self.prompt = None;
                        return vec![Effect::AddMute(rule)];
                    }
                }
            }
            Action::Quit => self.quit = true,
            _ => {}
        }
        Vec::new()
    }

    /// Every profile in the fleet, by name.
    pub fn profiles(&self) -> Vec<String> {
        let mut profiles: Vec<String> = self
            .envs
            .iter()
            .flat_map(|e| e.fleet.sites.iter().map(|s| s.profile.clone()))
            .collect();
        profiles.sort();
        profiles.dedup();
        profiles
    }

    fn rollout_action(&mut self, action: Action) {
        let profiles = self.profiles();
        let Some(View::Rollout { profile, scroll }) = self.stack.last_mut() else {
            return;
        };
        let at = profiles.iter().position(|p| p == profile).unwrap_or(0);
        match action {
            Action::Back => {
                self.stack.pop();
            }
            Action::Up => *scroll = scroll.saturating_sub(1),
            Action::Down => *scroll = scroll.saturating_add(1),
            Action::Right | Action::NextSection if !profiles.is_empty() => {
                *profile = profiles[(at + 1) % profiles.len()].clone();
                *scroll = 0;
            }
            Action::Left | Action::PrevSection if !profiles.is_empty() => {
                *profile = profiles[(at + profiles.len() - 1) % profiles.len()].clone();
                *scroll = 0;
            }
            _ => {}
        }
    }

    fn reports_action(&mut self, action: Action) {
        let Some(View::Reports(view)) = self.stack.last_mut() else {
            return;
        };
        let last = view.count().saturating_sub(1);
        match action {
            Action::Back => {
                self.stack.pop();
            }
            Action::Up => view.select(view.selected.saturating_sub(1)),
            Action::Down => view.select(view.selected + 1),
            Action::First => view.select(0),
            Action::Last => view.select(last),
            Action::Open | Action::ToggleDiff => {
                let Some(list) = view.reports.value() else {
                    return;
                };
                let Some(report) = list.reports.get(view.selected) else {
                    return;
                };
                let opened = ReportView {
                    site: view.site.clone(),
                    report: Arc::new(report.clone()),
                    previous: list.reports.get(view.selected + 1).cloned().map(Arc::new),
                    selected: 0,
                    text_scroll: 0,
                    show_diff: action == Action::ToggleDiff,
                };
                self.stack.push(View::Report(opened));
            }
            _ => {}
        }
    }

    fn report_action(&mut self, action: Action) {
        let Some(View::Report(view)) = self.stack.last_mut() else {
            return;
        };
        let last = view.row_count().saturating_sub(1);
        let target = match action {
            Action::Up => Some(view.selected.saturating_sub(1)),
            Action::Down => Some(view.selected + 1),
            Action::First => Some(0),
            Action::Last => Some(last),
            _ => None,
        };
        if let Some(i) = target {
            let i = i.min(last);
            if i != view.selected {
                view.text_scroll = 0;
            }
            view.selected = i;
            return;
        }
        match action {
            Action::Back => {
                self.stack.pop();
            }
            Action::ScrollTextUp => view.text_scroll = view.text_scroll.saturating_sub(3),
            Action::ScrollTextDown => view.text_scroll = view.text_scroll.saturating_add(3),
            Action::ToggleDiff => {
                view.show_diff = !view.show_diff;
                view.selected = 0;
                view.text_scroll = 0;
            }
            _ => {}
        }
    }

    fn requirement_action(&mut self, action: Action) {
        let Some(View::Requirement(view)) = self.stack.last() else {
            return;
        };
        let others = self.others_failing(&view.site.env, &view.requirement, &view.site.site);
        let open = others
            .get(view.selected)
            .and_then(|site| self.site_key(*site));
        let Some(View::Requirement(view)) = self.stack.last_mut() else {
            return;
        };
        let last = others.len().saturating_sub(1);
        let window = |w| Some(w);
        let new_window = match action {
            Action::Window1h => window(crate::model::Window::Hour),
            Action::Window6h => window(crate::model::Window::SixHours),
            Action::Window24h => window(crate::model::Window::Day),
            Action::Window7d => window(crate::model::Window::Week),
            _ => None,
        };
        if let Some(w) = new_window
            && w != view.window
        {
            view.window = w;
            view.history = Default::default();
            return;
        }
        match action {
            Action::Back => {
                self.stack.pop();
            }
            Action::Up => view.selected = view.selected.saturating_sub(1),
            Action::Down => view.selected = (view.selected + 1).min(last),
            Action::First => view.selected = 0,
            Action::Last => view.selected = last,
            Action::Open => {
                if let Some(key) = open {
                    self.stack.push(View::Site(SiteView::new(key)));
                }
            }
            _ => {}
        }
    }

    fn help_action(&mut self, action: Action) {
        if let Some(View::Help { scroll }) = self.stack.last_mut() {
            match action {
                Action::Up => *scroll = scroll.saturating_sub(1),
                Action::Down => {
                    // The box's borders, the breadcrumb, header and footer.
                    let visible = self
                        .height
                        .saturating_sub(HEADER_LINES + FOOTER_LINES + 1 + 2);
                    let last = keymap::help_line_count().saturating_sub(visible as usize);
                    *scroll = scroll.saturating_add(1).min(last as u16);
                }
                Action::Back => {
                    self.stack.pop();
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Severity, SiteSummary};
    use crate::poller::Fetched;
    use std::sync::Arc;

    fn app(width: u16, height: u16) -> App {
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
                    }),
                    at: app.now,
                }),
                ..Slot::default()
            };
            app.apply_fleet(i, &slot);
        }
        app
    }

    fn cursor_name(app: &App) -> String {
        let site = app.cursor_site().unwrap();
        app.envs[site.env].fleet.sites[site.index].name.clone()
    }

    #[test]
    fn a_filter_that_hides_the_cursor_site_moves_it_nearby_and_clearing_brings_it_back() {
        let mut app = app(80, 24);
        for _ in 0..2 {
            app.perform(Scope::Grid, Action::Right);
        }
        assert_eq!(cursor_name(&app), "dev-borger");
        app.grid.filter_text = "bib".into();
        app.relayout();
        assert_eq!(
            cursor_name(&app),
            "prod-bib-nord",
            "first match after dev-borger"
        );
        app.grid.filter_text = "u".into();
        app.relayout();
        assert_eq!(cursor_name(&app), "dev-kultur");
        app.grid.filter_text.clear();
        app.relayout();
        assert_eq!(cursor_name(&app), "dev-borger");
    }

    #[test]
    fn growing_the_terminal_scrolls_back_to_the_top() {
        let mut app = app(30, 24);
        app.perform(Scope::Grid, Action::Down);
        app.perform(Scope::Grid, Action::Down);
        app.resize(30, 5);
        assert!(app.grid.scroll > 0);
        app.resize(30, 24);
        assert_eq!(app.grid.scroll, 0);
    }

    #[test]
    fn opening_a_site_asks_the_poller_and_back_closes_it() {
        let mut app = app(80, 24);
        let effects = app.perform(Scope::Grid, Action::Open);
        let site = DetailKey::Site(SiteKey {
            env: "dev".into(),
            site: "dev-alpha".into(),
        });
        assert_eq!(effects, vec![Effect::Watch(site.clone())]);
        assert_eq!(app.scope(), Scope::Site);
        assert_eq!(
            app.perform(Scope::Site, Action::Back),
            vec![Effect::Unwatch(site.clone())]
        );
        assert_eq!(app.scope(), Scope::Grid);
        assert_eq!(cursor_name(&app), "dev-alpha");

        // With a cluster, the site's workloads are watched too.
        app.envs[0].kubernetes = true;
        let workloads = DetailKey::Workloads(SiteKey {
            env: "dev".into(),
            site: "dev-alpha".into(),
        });
        let effects = app.perform(Scope::Grid, Action::Open);
        assert_eq!(
            effects,
            vec![
                Effect::Watch(site.clone()),
                Effect::Watch(workloads.clone())
            ]
        );
        let effects = app.perform(Scope::Site, Action::Back);
        assert!(effects.contains(&Effect::Unwatch(workloads)), "{effects:?}");
    }

    #[test]
    fn help_scrolls_to_its_last_line_and_no_further() {
        let mut app = app(80, 24);
        app.perform(Scope::Grid, Action::Help);
        for _ in 0..500 {
            app.perform(Scope::Help, Action::Down);
        }
        let Some(&View::Help { scroll }) = app.stack.last() else {
            panic!("help is open");
        };
        let visible = 24 - (HEADER_LINES + FOOTER_LINES + 1 + 2);
        assert_eq!(
            scroll as usize,
            keymap::help_line_count() - visible as usize
        );
        app.perform(Scope::Help, Action::Up);
        let Some(&View::Help { scroll: after }) = app.stack.last() else {
            panic!("help is open");
        };
        assert_eq!(after + 1, scroll, "one step back up");
    }

    fn failing_app() -> App {
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
                }),
                at: app.now,
            }),
            ..Slot::default()
        };
        app.apply_fleet(0, &slot);
        app
    }

    #[test]
    fn a_muted_requirement_stops_counting_in_the_grid_and_the_pivot() {
        let mut app = failing_app();
        assert_eq!(app.envs[0].counts.get(SiteState::Warning), 1);
        assert_eq!(app.pivot()[0].requirement, "update_contrib");
        let rules: MuteRules = [MuteRule::new(
            "update_contrib",
            "accepted until the next release",
        )]
        .into_iter()
        .collect();
        app.set_mutes(rules);
        assert_eq!(app.envs[0].counts.get(SiteState::Warning), 0);
        assert_eq!(app.envs[0].counts.get(SiteState::Ok), 1);
        assert_eq!(
            app.envs[0].counts.get(SiteState::Error),
            1,
            "cron still counts"
        );
        let pivot = app.pivot();
        assert_eq!(pivot.len(), 1);
        assert_eq!(pivot[0].requirement, "cron");
        // M shows everything as it is, and back.
        app.perform(Scope::Grid, Action::ToggleShowMuted);
        assert_eq!(app.envs[0].counts.get(SiteState::Warning), 1);
        app.perform(Scope::Grid, Action::ToggleShowMuted);
        assert_eq!(app.envs[0].counts.get(SiteState::Warning), 0);
    }

    #[test]
    fn an_expired_rule_stops_applying() {
        let mut app = failing_app();
        let mut rule = MuteRule::new("update_contrib", "old");
        rule.expires = Some(unix(app.now) as i64 - 1);
        app.set_mutes([rule].into_iter().collect());
        assert_eq!(app.envs[0].counts.get(SiteState::Warning), 1);
    }

    #[test]
    fn m_asks_for_a_reason_and_an_expiry_and_asks_to_store_the_rule() {
        let mut app = failing_app();
        app.perform(Scope::Grid, Action::Open);
        let key = SiteKey {
            env: "prod".into(),
            site: "borger".into(),
        };
        let detail = crate::model::SiteDetail {
            summary: app.envs[0].fleet.sites[0].clone(),
            requirements: vec![crate::model::Requirement {
                id: "update_contrib".into(),
                label: "update_contrib".into(),
                title: "Module and theme update status".into(),
                severity: Some(Severity::Warning),
                value: String::new(),
                description: String::new(),
            }],
            run_duration: None,
            info: None,
        };
        app.apply_detail(
            &DetailKey::Site(key.clone()),
            &Slot {
                last_good: Some(Fetched {
                    value: Arc::new(Detail::Site(detail)),
                    at: app.now,
                }),
                ..Slot::default()
            },
        );
        app.perform(Scope::Site, Action::Mute);
        assert_eq!(app.scope(), Scope::Prompt);
        // An empty reason is refused.
        assert!(app.perform(Scope::Prompt, Action::ApplyFilter).is_empty());
        assert!(app.prompt.as_ref().unwrap().error.is_some());
        for c in "known".chars() {
            app.handle_key(&KeyEvent::new(
                crossterm::event::KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            ));
        }
        app.perform(Scope::Prompt, Action::ApplyFilter);
        for c in "2031-02-30".chars() {
            app.handle_key(&KeyEvent::new(
                crossterm::event::KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            ));
        }
        assert!(app.perform(Scope::Prompt, Action::ApplyFilter).is_empty());
        assert!(app.prompt.as_ref().unwrap().error.is_some(), "no such day");
        for _ in 0..2 {
            app.handle_key(&KeyEvent::new(
                crossterm::event::KeyCode::Backspace,
                crossterm::event::KeyModifiers::NONE,
            ));
        }
        for c in "28".chars() {
            app.handle_key(&KeyEvent::new(
                crossterm::event::KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            ));
        }
        let effects = app.perform(Scope::Prompt, Action::ApplyFilter);
        let Some(Effect::AddMute(rule)) = effects.first() else {
            panic!("{effects:?}");
        };
        assert_eq!(rule.requirement, "update_contrib");
        assert_eq!(rule.env.as_deref(), Some("prod"));
        assert_eq!(rule.site.as_deref(), Some("borger"));
        assert_eq!(rule.reason, "known");
        assert_eq!(
            crate::model::mute::format_date(rule.expires.unwrap() - 1),
            "2031-02-28"
        );
        assert_eq!(app.scope(), Scope::Site);
    }

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
