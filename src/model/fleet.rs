//! The fleet as environments of sites, and the pure functions the grid is
//! built from: roll-ups, filters and ordering.

use std::time::Duration;

use super::severity::{Attention, SiteState};
use super::site::SiteSummary;

/// Sites per state, indexed by `SiteState::index`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts([usize; SiteState::ALL.len()]);

impl Counts {
    pub fn add(&mut self, state: SiteState) {
        self.0[state.index()] += 1;
    }

    pub fn merge(&mut self, other: &Counts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0.iter()) {
            *mine += theirs;
        }
    }

    pub fn get(&self, state: SiteState) -> usize {
        self.0[state.index()]
    }

    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }

    /// Non-zero counts, worst state first.
    pub fn nonzero(&self) -> impl Iterator<Item = (SiteState, usize)> + '_ {
        SiteState::ALL
            .into_iter()
            .map(|s| (s, self.get(s)))
            .filter(|(_, n)| *n > 0)
    }

    pub fn worst(&self) -> Option<SiteState> {
        self.nonzero().next().map(|(s, _)| s)
    }
}

pub fn count_states<'a>(states: impl IntoIterator<Item = &'a SiteState>) -> Counts {
    let mut counts = Counts::default();
    for s in states {
        counts.add(*s);
    }
    counts
}

/// One environment's sites with their states computed once per snapshot,
/// so drawing and filtering never recompute them.
#[derive(Debug, Clone, Default)]
pub struct EnvFleet {
    pub name: String,
    pub sites: Vec<SiteSummary>,
    pub states: Vec<SiteState>,
}

impl EnvFleet {
    pub fn new(
        name: impl Into<String>,
        mut sites: Vec<SiteSummary>,
        now_unix: f64,
        stale_after: Duration,
    ) -> EnvFleet {
        // Sorted once here, so every layout (each filter keystroke) keeps
        // name order without comparing strings again.
        if !sites.is_sorted_by(|a, b| a.name <= b.name) {
            sites.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let states = sites
            .iter()
            .map(|s| s.state(now_unix, stale_after))
            .collect();
        EnvFleet {
            name: name.into(),
            sites,
            states,
        }
    }

    pub fn counts(&self) -> Counts {
        count_states(&self.states)
    }

    /// The site with this label (its identity, not its display name).
    pub fn find(&self, label: &str) -> Option<usize> {
        self.sites.iter().position(|s| s.label == label)
    }
}

/// Sites that were seen and have since vanished from the metrics. A site
/// whose status workload died must not silently leave the grid: it stays,
/// as "no data", until `forget_after` has passed since it was last seen.
#[derive(Debug, Clone, Default)]
pub struct VanishedSites {
    /// By site label: its profile and when it was last seen (Unix time).
    seen: std::collections::HashMap<String, (String, f64)>,
}

impl VanishedSites {
    /// Records the sites of this poll and appends the recently vanished ones.
    pub fn carry(&mut self, sites: &mut Vec<SiteSummary>, now_unix: f64, forget_after: f64) {
        let present: std::collections::HashSet<&str> =
            sites.iter().map(|s| s.label.as_str()).collect();
        let mut missing: Vec<SiteSummary> = self
            .seen
            .iter()
            .filter(|(name, (_, last_seen))| {
                !present.contains(name.as_str()) && now_unix - last_seen <= forget_after
            })
            .map(|(label, (profile, _))| SiteSummary::from_label(label, profile.clone()))
            .collect();
        self.seen
            .retain(|_, (_, last_seen)| now_unix - *last_seen <= forget_after);
        for site in sites.iter() {
            match self.seen.get_mut(&site.label) {
                // Every poll sees every site again: its profile is copied
                // only when it changed.
                Some((profile, last_seen)) => {
                    if *profile != site.profile {
                        profile.clone_from(&site.profile);
                    }
                    *last_seen = now_unix;
                }
                None => {
                    self.seen
                        .insert(site.label.clone(), (site.profile.clone(), now_unix));
                }
            }
        }
        missing.sort_by(|a, b| a.label.cmp(&b.label));
        sites.extend(missing);
    }
}

/// What the severity filter (`f`) lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeverityFilter {
    #[default]
    All,
    WarningsAndWorse,
    ErrorsOnly,
}

impl SeverityFilter {
    pub fn next(self) -> SeverityFilter {
        match self {
            SeverityFilter::All => SeverityFilter::WarningsAndWorse,
            SeverityFilter::WarningsAndWorse => SeverityFilter::ErrorsOnly,
            SeverityFilter::ErrorsOnly => SeverityFilter::All,
        }
    }

    pub fn admits(self, state: SiteState) -> bool {
        match self {
            SeverityFilter::All => true,
            SeverityFilter::WarningsAndWorse => state.attention() >= Attention::Warning,
            SeverityFilter::ErrorsOnly => state.attention() >= Attention::Critical,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SeverityFilter::All => "all",
            SeverityFilter::WarningsAndWorse => "warnings and worse",
            SeverityFilter::ErrorsOnly => "errors only",
        }
    }
}

/// The grid's text and severity filter together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteFilter {
    /// Lower-cased; matched as a substring of the site or profile name.
    needle: String,
    pub severity: SeverityFilter,
}

impl SiteFilter {
    pub fn new(text: &str, severity: SeverityFilter) -> SiteFilter {
        SiteFilter {
            needle: text.trim().to_lowercase(),
            severity,
        }
    }

    pub fn text(&self) -> &str {
        &self.needle
    }

    pub fn is_active(&self) -> bool {
        !self.needle.is_empty() || self.severity != SeverityFilter::All
    }

    pub fn admits(&self, site: &SiteSummary, state: SiteState) -> bool {
        self.severity.admits(state)
            && (self.needle.is_empty()
                || contains_lowercase(&site.name, &self.needle)
                || contains_lowercase(&site.profile, &self.needle))
    }
}

/// Case-insensitive substring test that avoids allocating for the common
/// ASCII names.
fn contains_lowercase(haystack: &str, lower_needle: &str) -> bool {
    if haystack.is_ascii() && lower_needle.is_ascii() {
        let h = haystack.as_bytes();
        let n = lower_needle.as_bytes();
        if n.len() > h.len() {
            return false;
        }
        h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    } else {
        haystack.to_lowercase().contains(lower_needle)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Name,
    WorstFirst,
}

impl SortOrder {
    pub fn toggle(self) -> SortOrder {
        match self {
            SortOrder::Name => SortOrder::WorstFirst,
            SortOrder::WorstFirst => SortOrder::Name,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortOrder::Name => "name",
            SortOrder::WorstFirst => "worst first",
        }
    }
}

/// One profile inside an environment: the sites that pass the filter, in
/// display order, as indices into `EnvFleet::sites`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileGroup {
    pub profile: String,
    pub sites: Vec<usize>,
    /// All sites of the profile in this environment, filter or not, so the
    /// header always tells the whole truth.
    pub counts: Counts,
}

/// Groups an environment's sites by profile (profiles by name), keeping
/// only what the filter admits, each group in the requested order. Groups
/// left empty by the filter are dropped.
pub fn group_by_profile(
    env: &EnvFleet,
    filter: &SiteFilter,
    order: SortOrder,
) -> Vec<ProfileGroup> {
    let mut by_profile: std::collections::BTreeMap<&str, ProfileGroup> = Default::default();
    for (i, (site, state)) in env.sites.iter().zip(&env.states).enumerate() {
        let group = by_profile
            .entry(site.profile.as_str())
            .or_insert_with(|| ProfileGroup {
                profile: site.profile.clone(),
                sites: Vec::new(),
                counts: Counts::default(),
            });
        group.counts.add(*state);
        if filter.admits(site, *state) {
            group.sites.push(i);
        }
    }
    let mut groups: Vec<ProfileGroup> = by_profile
        .into_values()
        .filter(|g| !g.sites.is_empty())
        .collect();
    // Sites are in name order already (`EnvFleet::new`), and the sort is
    // stable, so worst first keeps names in order within a state.
    if order == SortOrder::WorstFirst {
        for group in &mut groups {
            group.sites.sort_by_key(|i| env.states[*i].rank());
        }
    }
    groups
}

/// Orders environment names: those in `preferred` first in that order, the
/// rest alphabetically after them.
pub fn order_environments(names: &mut [String], preferred: &[String]) {
    names.sort_by_key(|name| {
        (
            preferred
                .iter()
                .position(|p| p == name)
                .unwrap_or(usize::MAX),
            name.clone(),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    const NOW: f64 = 1_800_000_000.0;
    const STALE: Duration = Duration::from_secs(1800);

    fn site(name: &str, profile: &str, worst: Option<Severity>) -> SiteSummary {
        SiteSummary {
            worst,
            run_success: Some(true),
            last_run: Some(NOW - 10.0),
            up: Some(true),
            ..SiteSummary::new(name, profile)
        }
    }

    fn fleet() -> EnvFleet {
        let mut stale = site("havn", "kk_base", Some(Severity::Ok));
        stale.last_run = Some(NOW - 7200.0);
        EnvFleet::new(
            "prod",
            vec![
                site("borger", "kk_borger", Some(Severity::Ok)),
                site("aarhus", "kk_borger", Some(Severity::Error)),
                site("bib", "kk_library", Some(Severity::Warning)),
                site("Kultur", "kk_culture", None),
                stale,
                site("zoo", "kk_borger", Some(Severity::Warning)),
            ],
            NOW,
            STALE,
        )
    }

    #[test]
    fn roll_up_counts_every_state() {
        let counts = fleet().counts();
        assert_eq!(counts.total(), 6);
        assert_eq!(counts.get(SiteState::Error), 1);
        assert_eq!(counts.get(SiteState::Warning), 2);
        assert_eq!(counts.get(SiteState::Ok), 1);
        assert_eq!(counts.get(SiteState::NoData), 1);
        assert_eq!(counts.get(SiteState::Stale), 1);
        assert_eq!(counts.worst(), Some(SiteState::Error));
        let order: Vec<_> = counts.nonzero().map(|(s, _)| s).collect();
        assert_eq!(
            order,
            [
                SiteState::Error,
                SiteState::NoData,
                SiteState::Stale,
                SiteState::Warning,
                SiteState::Ok
            ]
        );
    }

    #[test]
    fn groups_are_by_profile_name_and_sorted_within() {
        let env = fleet();
        let groups = group_by_profile(&env, &SiteFilter::default(), SortOrder::Name);
        let profiles: Vec<_> = groups.iter().map(|g| g.profile.as_str()).collect();
        assert_eq!(
            profiles,
            ["kk_base", "kk_borger", "kk_culture", "kk_library"]
        );
        let borger: Vec<_> = groups[1]
            .sites
            .iter()
            .map(|i| env.sites[*i].name.as_str())
            .collect();
        assert_eq!(borger, ["aarhus", "borger", "zoo"]);

        let worst = group_by_profile(&env, &SiteFilter::default(), SortOrder::WorstFirst);
        let borger: Vec<_> = worst[1]
            .sites
            .iter()
            .map(|i| env.sites[*i].name.as_str())
            .collect();
        assert_eq!(borger, ["aarhus", "zoo", "borger"]);
    }

    #[test]
    fn text_filter_matches_site_or_profile_case_insensitively() {
        let env = fleet();
        let f = SiteFilter::new("KULT", SeverityFilter::All);
        let groups = group_by_profile(&env, &f, SortOrder::Name);
        assert_eq!(groups.len(), 1);
        assert_eq!(env.sites[groups[0].sites[0]].name, "Kultur");

        let f = SiteFilter::new("library", SeverityFilter::All);
        let groups = group_by_profile(&env, &f, SortOrder::Name);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].profile, "kk_library");
        // The header still counts the whole profile.
        assert_eq!(groups[0].counts.total(), 1);

        let f = SiteFilter::new("nothing-matches", SeverityFilter::All);
        assert!(group_by_profile(&env, &f, SortOrder::Name).is_empty());
    }

    #[test]
    fn severity_filter_cycles_and_keeps_unknown_states_with_errors() {
        let env = fleet();
        let names = |sev| {
            let f = SiteFilter::new("", sev);
            let mut v: Vec<String> = group_by_profile(&env, &f, SortOrder::Name)
                .iter()
                .flat_map(|g| g.sites.iter().map(|i| env.sites[*i].name.clone()))
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(SeverityFilter::All).len(), 6);
        assert_eq!(
            names(SeverityFilter::WarningsAndWorse),
            ["Kultur", "aarhus", "bib", "havn", "zoo"]
        );
        assert_eq!(
            names(SeverityFilter::ErrorsOnly),
            ["Kultur", "aarhus", "havn"]
        );
        assert_eq!(
            SeverityFilter::All.next().next().next(),
            SeverityFilter::All
        );
    }

    #[test]
    fn group_counts_ignore_the_filter() {
        let env = fleet();
        let f = SiteFilter::new("", SeverityFilter::ErrorsOnly);
        let groups = group_by_profile(&env, &f, SortOrder::Name);
        let borger = groups.iter().find(|g| g.profile == "kk_borger").unwrap();
        assert_eq!(borger.sites.len(), 1);
        assert_eq!(borger.counts.total(), 3);
    }

    #[test]
    fn a_vanished_site_stays_as_no_data_until_forgotten() {
        let mut memory = VanishedSites::default();
        let mut first = vec![
            site("borger", "kk_borger", Some(Severity::Ok)),
            site("bib", "kk_library", Some(Severity::Ok)),
        ];
        memory.carry(&mut first, 1000.0, 3600.0);
        assert_eq!(first.len(), 2);

        let mut second = vec![site("borger", "kk_borger", Some(Severity::Ok))];
        memory.carry(&mut second, 1060.0, 3600.0);
        assert_eq!(second.len(), 2);
        assert_eq!(second[1].name, "bib");
        assert_eq!(second[1].profile, "kk_library");
        assert_eq!(second[1].state(NOW, STALE), SiteState::NoData);

        // Carrying it forward does not count as seeing it again.
        let mut third = vec![site("borger", "kk_borger", Some(Severity::Ok))];
        memory.carry(&mut third, 1000.0 + 3601.0, 3600.0);
        assert_eq!(third.len(), 1, "forgotten after forget_after");
    }

    #[test]
    fn environments_follow_the_configured_order_then_alphabetical() {
        let mut names: Vec<String> = ["prod", "qa", "dev", "test", "alpha"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let preferred: Vec<String> = ["dev", "test", "prod"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        order_environments(&mut names, &preferred);
        assert_eq!(names, ["dev", "test", "prod", "alpha", "qa"]);
    }
}
