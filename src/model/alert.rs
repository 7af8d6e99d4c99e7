//! Alerts firing on sites, as an environment's Prometheus evaluates them.

use super::text::{MAX_NAME_CHARS, clean_line};

/// Longest alert summary kept: one line in a list, never a page.
pub const MAX_SUMMARY_CHARS: usize = 500;

/// One firing alert on one site. Every field is sanitized: alert labels
/// and annotations are as untrusted as any other label value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Alert {
    /// The `alertname` label.
    pub name: String,
    /// The site label's value (config `labels.site`).
    pub site: String,
    /// The alert's `severity` label (`critical`, `warning`…), as written
    /// in the rule: not Drupal's severity.
    pub severity: Option<String>,
    /// `annotations.summary`, else `annotations.description`.
    pub summary: Option<String>,
    /// When the alert became active (`activeAt`, RFC 3339 as Prometheus
    /// sends it).
    pub active_since: Option<String>,
    /// Still within its rule's `for:`: not firing yet. The grid's badge is
    /// for firing alerts only; the alerts view lists both.
    pub pending: bool,
    /// The `requirement` and `profile` labels, when the alert has them.
    pub requirement: Option<String>,
    pub profile: Option<String>,
    /// Who silenced it (the silence's `createdBy`), when an Alertmanager
    /// silence matches it.
    pub silenced_by: Option<String>,
}

impl Alert {
    /// Builds an alert from raw backend text, sanitizing every field.
    /// Empty optional fields become `None`.
    pub fn sanitized(
        name: &str,
        site: &str,
        severity: Option<&str>,
        summary: Option<&str>,
        active_since: Option<&str>,
    ) -> Alert {
        let optional = |text: Option<&str>, max: usize| {
            text.map(|t| clean_line(t.trim(), max))
                .filter(|t| !t.is_empty())
        };
        Alert {
            name: clean_line(name, MAX_NAME_CHARS),
            site: clean_line(site, MAX_NAME_CHARS),
            severity: optional(severity, MAX_NAME_CHARS),
            summary: optional(summary, MAX_SUMMARY_CHARS),
            active_since: optional(active_since, 64),
            pending: false,
            requirement: None,
            profile: None,
            silenced_by: None,
        }
    }

    /// The `requirement` and `profile` labels, sanitized.
    pub fn with_labels(mut self, requirement: Option<&str>, profile: Option<&str>) -> Alert {
        let clean = |t: Option<&str>| {
            t.map(|t| clean_line(t, MAX_NAME_CHARS))
                .filter(|t| !t.is_empty())
        };
        self.requirement = clean(requirement);
        self.profile = clean(profile);
        self
    }

    /// When the alert became active, as Unix seconds; `None` when the
    /// backend gave no time, or one that is not RFC 3339.
    pub fn active_since_unix(&self) -> Option<f64> {
        let at = self
            .active_since
            .as_deref()?
            .parse::<jiff::Timestamp>()
            .ok()?;
        Some(crate::model::clock::unix_seconds(at))
    }

    /// Firing and not silenced: what the grid's badge calls for.
    pub fn is_loud(&self) -> bool {
        !self.pending && self.silenced_by.is_none()
    }
}

/// The alerts of one site, from `alerts` sorted by site ([`sort_alerts`]):
/// found by binary search, since the grid asks for every cell it draws
/// and a storm brings ten thousand alerts.
pub fn alerts_for<'a>(alerts: &'a [Alert], site: &str) -> &'a [Alert] {
    let start = alerts.partition_point(|a| a.site.as_str() < site);
    let len = alerts[start..].partition_point(|a| a.site == site);
    &alerts[start..start + len]
}

/// What the grid's badge says of a site's firing alerts: all the grid
/// keeps of them. The alerts themselves are read while a view shows them
/// (the site view, the alerts view), never held for the whole fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum AlertBadge {
    /// No alert fires (pending ones have no badge yet).
    #[default]
    None,
    /// Every firing alert is held by a silence.
    Silenced,
    /// At least one fires unsilenced.
    Loud,
}

impl AlertBadge {
    /// The badge of one site's alerts (pending ones count for nothing).
    pub fn of<'a>(alerts: impl IntoIterator<Item = &'a Alert>) -> AlertBadge {
        alerts
            .into_iter()
            .filter(|a| !a.pending)
            .map(|a| {
                if a.silenced_by.is_some() {
                    AlertBadge::Silenced
                } else {
                    AlertBadge::Loud
                }
            })
            .max()
            .unwrap_or_default()
    }
}

/// Gives each site the badge of its firing alerts, matched by the site's
/// sanitized name, and lets the alerts go.
pub fn set_badges(sites: &mut [super::SiteSummary], mut alerts: Vec<Alert>) {
    if !sorted_by_site(&alerts) {
        sort_alerts(&mut alerts);
    }
    for site in sites {
        site.alert = AlertBadge::of(alerts_for(&alerts, &site.name));
    }
}

/// One environment's alerts as the alerts view reads them: how many of
/// each alert name fire and wait, over all of them, and only the newest
/// few of each name in full, so that a storm of ten thousand costs a
/// screenful.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertList {
    /// By alert name.
    pub groups: Vec<AlertGroup>,
    /// At most `per_name` of each name, the most recently active first
    /// chosen; sorted by site then name.
    pub alerts: Vec<Alert>,
    /// How many of each name were asked for.
    pub per_name: usize,
}

impl AlertList {
    /// The list of `all` an environment's alerts: every name counted, the
    /// `per_name` most recently active of each kept.
    pub fn newest(mut all: Vec<Alert>, per_name: usize) -> AlertList {
        let mut groups: Vec<AlertGroup> = Vec::new();
        for alert in &all {
            let group = match groups.iter().position(|g| g.name == alert.name) {
                Some(i) => &mut groups[i],
                None => {
                    groups.push(AlertGroup {
                        name: alert.name.clone(),
                        ..AlertGroup::default()
                    });
                    let last = groups.len() - 1;
                    &mut groups[last]
                }
            };
            if alert.pending {
                group.pending += 1;
            } else {
                group.firing += 1;
            }
        }
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        // Newest first within a name; RFC 3339 in UTC sorts as time does.
        all.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| b.active_since.cmp(&a.active_since))
        });
        let mut kept = 0;
        let mut last_name: Option<String> = None;
        all.retain(|a| {
            if last_name.as_deref() != Some(a.name.as_str()) {
                last_name = Some(a.name.clone());
                kept = 0;
            }
            kept += 1;
            kept <= per_name
        });
        sort_alerts(&mut all);
        AlertList {
            groups,
            alerts: all,
            per_name,
        }
    }
}

/// How many alerts of one name fire and wait, counted by the backend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertGroup {
    pub name: String,
    pub firing: usize,
    pub pending: usize,
}

/// How many of each alert name the alerts view reads per environment:
/// more than a tall terminal shows of one name.
pub const ALERTS_PER_NAME: usize = 100;

/// Whether `alerts` are sorted by site, as [`alerts_for`] needs.
pub fn sorted_by_site(alerts: &[Alert]) -> bool {
    alerts.is_sorted_by(|a, b| a.site <= b.site)
}

/// Sorts by site, then alert name, then the rest, and drops exact
/// duplicates (the same alert from two rule groups or replicas).
pub fn sort_alerts(alerts: &mut Vec<Alert>) {
    alerts.sort_by(|a, b| a.site.cmp(&b.site).then_with(|| a.cmp(b)));
    alerts.dedup();
}

/// Every alert of the fleet for the alerts view, `(environment index,
/// alert)`: by alert name, then firing and loud first, silenced next,
/// pending last, then by environment and site. One list, so the view's
/// groups and its cursor agree.
pub fn fleet_alerts<'a>(per_env: impl IntoIterator<Item = &'a [Alert]>) -> Vec<(usize, &'a Alert)> {
    let mut all: Vec<(usize, &Alert)> = per_env
        .into_iter()
        .enumerate()
        .flat_map(|(env, alerts)| alerts.iter().map(move |a| (env, a)))
        .collect();
    let rank = |a: &Alert| (a.pending, a.silenced_by.is_some());
    all.sort_by(|(ea, a), (eb, b)| {
        a.name
            .cmp(&b.name)
            .then_with(|| rank(a).cmp(&rank(b)))
            .then_with(|| ea.cmp(eb))
            .then_with(|| a.site.cmp(&b.site))
            .then_with(|| a.requirement.cmp(&b.requirement))
    });
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fleet_alerts_group_by_name_loud_first() {
        let a = |name: &str, site: &str| Alert::sanitized(name, site, None, None, None);
        let prod = vec![
            Alert {
                pending: true,
                ..a("B", "p1")
            },
            a("B", "p2"),
            Alert {
                silenced_by: Some("jane".into()),
                ..a("B", "p0")
            },
            a("A", "p3"),
        ];
        let dev = vec![a("B", "d1")];
        let all = fleet_alerts([prod.as_slice(), dev.as_slice()]);
        let order: Vec<(usize, &str, &str)> = all
            .iter()
            .map(|(e, x)| (*e, x.name.as_str(), x.site.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (0, "A", "p3"),
                (0, "B", "p2"),
                (1, "B", "d1"),
                (0, "B", "p0"),
                (0, "B", "p1")
            ]
        );
    }

    #[test]
    fn hostile_text_is_cleaned_and_empty_fields_are_none() {
        let a = Alert::sanitized(
            "Cron\u{1b}[2JStale",
            "bor\u{202e}ger",
            Some(""),
            Some("line one\nline two"),
            None,
        );
        assert_eq!(a.name, "Cron\u{FFFD}[2JStale");
        assert_eq!(a.site, "borger");
        assert_eq!(a.severity, None);
        assert_eq!(a.summary.as_deref(), Some("line one line two"));
        let long = "x".repeat(10_000);
        let a = Alert::sanitized("a", "s", None, Some(&long), None);
        assert_eq!(
            a.summary.unwrap().chars().count(),
            MAX_SUMMARY_CHARS + 1,
            "cut with a mark"
        );
    }

    #[test]
    fn sorted_by_site_then_name_without_duplicates() {
        let a = |name: &str, site: &str| Alert::sanitized(name, site, None, None, None);
        let mut alerts = vec![a("B", "x"), a("A", "y"), a("A", "x"), a("B", "x")];
        sort_alerts(&mut alerts);
        assert_eq!(alerts, vec![a("A", "x"), a("B", "x"), a("A", "y")]);
        assert!(sorted_by_site(&alerts));
        assert_eq!(alerts_for(&alerts, "x").len(), 2);
        assert_eq!(alerts_for(&alerts, "y"), [a("A", "y")]);
        assert!(alerts_for(&alerts, "w").is_empty() && alerts_for(&alerts, "z").is_empty());
    }
}
