//! Questions asked of the whole fleet: which requirements fail where (the
//! pivot), which sites fail one requirement, which profiles exist. Pure
//! functions of the fleets they are given, in the app's environment order;
//! the answers name sites by `SiteRef` into those same fleets.

use std::collections::HashMap;

use super::{EnvFleet, Severity, SiteFilter, SiteRef, SiteState};

/// One requirement in the pivot.
#[derive(Debug, Clone, PartialEq)]
pub struct PivotRow {
    pub requirement: String,
    /// Failing sites per environment, in the order of the fleets given.
    pub per_env: Vec<usize>,
    pub total: usize,
    pub worst: Severity,
}

/// Requirements by how many sites fail them in each environment, most
/// failed first: one problem on many sites, or many problems?
pub fn pivot(fleets: &[&EnvFleet]) -> Vec<PivotRow> {
    let mut rows: HashMap<&str, PivotRow> = HashMap::new();
    for (e, fleet) in fleets.iter().enumerate() {
        for site in &fleet.sites {
            for (id, severity) in site.failing.iter().filter(|(_, s)| s.is_failing()) {
                let row = rows.entry(id.as_str()).or_insert_with(|| PivotRow {
                    requirement: id.clone(),
                    per_env: vec![0; fleets.len()],
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

/// The sites that are not OK (nor Info): worst state first, then by
/// environment in the order given, profile and name. The problems view's
/// rows, and exactly the sites `check` does not count as fine. `filter`
/// narrows it as it narrows the grid.
pub fn problems(fleets: &[&EnvFleet], filter: &SiteFilter) -> Vec<(SiteRef, SiteState)> {
    let mut found: Vec<(SiteRef, SiteState)> = Vec::new();
    for (e, fleet) in fleets.iter().enumerate() {
        for (i, site) in fleet.sites.iter().enumerate() {
            let Some(state) = fleet.states.get(i).copied() else {
                continue;
            };
            if matches!(state, SiteState::Ok | SiteState::Info) || !filter.admits(site, state) {
                continue;
            }
            found.push((SiteRef { env: e, index: i }, state));
        }
    }
    found.sort_by(|(a, sa), (b, sb)| {
        let site = |r: &SiteRef| &fleets[r.env].sites[r.index];
        sa.rank()
            .cmp(&sb.rank())
            .then(a.env.cmp(&b.env))
            .then_with(|| site(a).profile.cmp(&site(b).profile))
            .then_with(|| site(a).name.cmp(&site(b).name))
    });
    found
}

/// Every site failing a requirement, worst first, by environment.
pub fn failing_sites(fleets: &[&EnvFleet], requirement: &str) -> Vec<(SiteRef, Severity)> {
    let mut found = Vec::new();
    for (e, fleet) in fleets.iter().enumerate() {
        for (i, site) in fleet.sites.iter().enumerate() {
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

/// Sites of one environment (`env_index` is its place among the fleets)
/// failing a requirement at warning or worse, worst first, without the site
/// labelled `except`.
pub fn others_failing(
    fleet: &EnvFleet,
    env_index: usize,
    requirement: &str,
    except: &str,
) -> Vec<SiteRef> {
    let mut found: Vec<(Severity, usize)> = fleet
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

/// Every profile in the fleets, by name, each once.
pub fn profiles(fleets: &[&EnvFleet]) -> Vec<String> {
    let mut profiles: Vec<String> = fleets
        .iter()
        .flat_map(|fleet| fleet.sites.iter().map(|s| s.profile.clone()))
        .collect();
    profiles.sort();
    profiles.dedup();
    profiles
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SiteSummary;
    use std::time::Duration;

    fn site(name: &str, profile: &str, failing: &[(&str, Severity)]) -> SiteSummary {
        SiteSummary {
            worst: failing.iter().map(|(_, s)| *s).max().or(Some(Severity::Ok)),
            failing: failing
                .iter()
                .map(|(id, s)| ((*id).to_string(), *s))
                .collect(),
            ..SiteSummary::new(name, profile)
        }
    }

    fn fleet(name: &str, sites: Vec<SiteSummary>) -> EnvFleet {
        EnvFleet::new(name, sites, 0.0, Duration::from_secs(3600))
    }

    fn two_envs() -> (EnvFleet, EnvFleet) {
        let dev = fleet(
            "dev",
            vec![
                site("a", "kk_base", &[("cron", Severity::Error)]),
                site("b", "kk_culture", &[("update_contrib", Severity::Warning)]),
            ],
        );
        let prod = fleet(
            "prod",
            vec![
                site(
                    "c",
                    "kk_base",
                    &[
                        ("cron", Severity::Warning),
                        ("update_contrib", Severity::Warning),
                    ],
                ),
                site("d", "kk_base", &[("update_contrib", Severity::Warning)]),
                site("e", "kk_borger", &[("notes", Severity::Info)]),
            ],
        );
        (dev, prod)
    }

    #[test]
    fn the_pivot_puts_the_most_failed_requirement_first_and_counts_per_environment() {
        let (dev, prod) = two_envs();
        let rows = pivot(&[&dev, &prod]);
        let names: Vec<&str> = rows.iter().map(|r| r.requirement.as_str()).collect();
        assert_eq!(names, ["update_contrib", "cron"], "info is not failing");
        assert_eq!(rows[0].per_env, [1, 2]);
        assert_eq!(rows[0].total, 3);
        assert_eq!(
            rows[1].worst,
            Severity::Error,
            "the worst of error and warning"
        );
    }

    #[test]
    fn failing_sites_lists_the_worst_first_across_environments() {
        let (dev, prod) = two_envs();
        let found = failing_sites(&[&dev, &prod], "cron");
        assert_eq!(
            found,
            [
                (SiteRef { env: 0, index: 0 }, Severity::Error),
                (SiteRef { env: 1, index: 0 }, Severity::Warning),
            ]
        );
        assert!(failing_sites(&[&dev, &prod], "notes").is_empty());
    }

    #[test]
    fn others_failing_leaves_out_the_site_asked_about() {
        let (_, prod) = two_envs();
        assert_eq!(
            others_failing(&prod, 1, "update_contrib", "c"),
            [SiteRef { env: 1, index: 1 }]
        );
        assert_eq!(others_failing(&prod, 1, "update_contrib", "x").len(), 2);
    }

    #[test]
    fn profiles_are_sorted_and_each_named_once() {
        let (dev, prod) = two_envs();
        assert_eq!(
            profiles(&[&dev, &prod]),
            ["kk_base", "kk_borger", "kk_culture"]
        );
    }
}
