//! What changed between two polls of an environment: sites whose state
//! changed, and requirements that crossed into or out of warning/error.

use std::collections::HashMap;

use super::fleet::EnvFleet;
use super::run_failure::RunFailureReason;
use super::severity::{Severity, SiteState};
use super::text::{MAX_NAME_CHARS, clean_line};

/// A requirement whose failing severity changed; `None` is "not failing"
/// (below warning, or absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    /// The requirement's label (its identity); cleaned where it is drawn.
    pub id: String,
    pub from: Option<Severity>,
    pub to: Option<Severity>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// Unix time of the poll that saw it.
    pub time: f64,
    pub env: String,
    /// The site's label: its identity (see `SiteSummary::label`).
    pub site: String,
    /// The site's name as drawn.
    pub name: String,
    pub profile: String,
    pub from: SiteState,
    pub to: SiteState,
    pub requirements: Vec<Crossing>,
    /// Why the site's run fails, as of `to`; `None` when it does not or
    /// does not say.
    pub run_failure: Option<RunFailureReason>,
}

fn failing_map(failing: &[(String, Severity)]) -> HashMap<&str, Severity> {
    failing
        .iter()
        .filter(|(_, s)| s.is_failing())
        .map(|(id, s)| (id.as_str(), *s))
        .collect()
}

/// Every change between two polls of one environment, in site-name order.
/// A site new in `next` counts as coming from no data.
pub fn transitions(previous: &EnvFleet, next: &EnvFleet, time: f64) -> Vec<Transition> {
    let before: HashMap<&str, usize> = previous
        .sites
        .iter()
        .enumerate()
        .map(|(i, s)| (s.label.as_str(), i))
        .collect();
    let mut out = Vec::new();
    for (site, to) in next.sites.iter().zip(&next.states) {
        let (from, old_failing) = match before.get(site.label.as_str()) {
            Some(i) => (
                previous.states[*i],
                failing_map(&previous.sites[*i].failing),
            ),
            None => (SiteState::NoData, HashMap::new()),
        };
        let new_failing = failing_map(&site.failing);
        let mut crossings: Vec<Crossing> = new_failing
            .iter()
            .filter(|(id, sev)| old_failing.get(*id) != Some(sev))
            .map(|(id, sev)| Crossing {
                id: id.to_string(),
                from: old_failing.get(id).copied(),
                to: Some(*sev),
            })
            .chain(
                old_failing
                    .iter()
                    .filter(|(id, _)| !new_failing.contains_key(*id))
                    .map(|(id, sev)| Crossing {
                        id: id.to_string(),
                        from: Some(*sev),
                        to: None,
                    }),
            )
            .collect();
        if from == *to && crossings.is_empty() {
            continue;
        }
        crossings.sort_by(|a, b| b.to.cmp(&a.to).then_with(|| a.id.cmp(&b.id)));
        out.push(Transition {
            time,
            env: next.name.clone(),
            site: site.label.clone(),
            name: site.name.clone(),
            profile: site.profile.clone(),
            from,
            to: *to,
            requirements: crossings,
            run_failure: site.run_failure.clone(),
        });
    }
    out
}

/// The requirement ids of a transition as the log shows them:
/// `(update, cron)`, with those that recovered marked.
pub fn crossing_summary(t: &Transition) -> String {
    let parts: Vec<String> = t
        .requirements
        .iter()
        .map(|c| {
            let id = clean_line(&c.id, MAX_NAME_CHARS);
            match c.to {
                Some(_) => id,
                None => format!("{id} fixed"),
            }
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("({})", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SiteSummary;
    use std::time::Duration;

    const NOW: f64 = 1_800_000_000.0;

    fn site(name: &str, worst: Option<Severity>, failing: &[(&str, Severity)]) -> SiteSummary {
        SiteSummary {
            worst,
            run_success: Some(true),
            last_run: Some(NOW),
            up: Some(true),
            failing: failing.iter().map(|(i, s)| (i.to_string(), *s)).collect(),
            ..SiteSummary::new(name, "kk_borger")
        }
    }

    fn fleet(sites: Vec<SiteSummary>) -> EnvFleet {
        EnvFleet::new("prod", sites, NOW, Duration::from_secs(1800))
    }

    #[test]
    fn a_steady_fleet_has_no_transitions() {
        let a = fleet(vec![site(
            "borger",
            Some(Severity::Warning),
            &[("update_contrib", Severity::Warning)],
        )]);
        assert!(transitions(&a, &a.clone(), NOW).is_empty());
    }

    #[test]
    fn state_changes_and_crossings_are_recorded() {
        let a = fleet(vec![
            site("borger", Some(Severity::Ok), &[]),
            site(
                "kultur",
                Some(Severity::Error),
                &[("cron", Severity::Error)],
            ),
            site("park", Some(Severity::Error), &[("cron", Severity::Error)]),
        ]);
        let b = fleet(vec![
            site(
                "borger",
                Some(Severity::Error),
                &[("update", Severity::Error), ("cron", Severity::Error)],
            ),
            site("kultur", Some(Severity::Ok), &[]),
            site(
                "park",
                Some(Severity::Error),
                &[("cron", Severity::Error), ("update", Severity::Warning)],
            ),
            site("ny", Some(Severity::Ok), &[]),
        ]);
        let t = transitions(&a, &b, NOW);
        assert_eq!(t.len(), 4);
        assert_eq!(
            (t[0].site.as_str(), t[0].from, t[0].to),
            ("borger", SiteState::Ok, SiteState::Error)
        );
        assert_eq!(crossing_summary(&t[0]), "(cron, update)");
        assert_eq!(
            (t[1].site.as_str(), t[1].from, t[1].to),
            ("kultur", SiteState::Error, SiteState::Ok)
        );
        assert_eq!(crossing_summary(&t[1]), "(cron fixed)");
        assert_eq!(t[2].site, "ny");
        assert_eq!(t[2].from, SiteState::NoData);
        // Same state, but a requirement crossed into warning.
        assert_eq!(
            (t[3].site.as_str(), t[3].from, t[3].to),
            ("park", SiteState::Error, SiteState::Error)
        );
        assert_eq!(
            t[3].requirements,
            vec![Crossing {
                id: "update".into(),
                from: None,
                to: Some(Severity::Warning)
            }]
        );
    }

    #[test]
    fn a_site_going_silent_is_a_transition_to_no_data() {
        let a = fleet(vec![site("borger", Some(Severity::Ok), &[])]);
        let mut silent = SiteSummary::new("borger", "kk_borger");
        silent.up = Some(true);
        let b = fleet(vec![silent]);
        let t = transitions(&a, &b, NOW);
        assert_eq!(t[0].to, SiteState::NoData);
    }
}
