//! Which release of an install profile each of its sites runs.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::text::{MAX_NAME_CHARS, clean_line};

/// What a site without a `profile_version` label counts under.
pub const UNKNOWN_VERSION: &str = "(unknown)";

/// One profile's sites in one environment, by `profile_version`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rollout {
    pub profile: String,
    /// Each version and how many sites run it, newest first
    /// ([`compare_versions`]).
    pub versions: Vec<(String, usize)>,
    /// `(site, version)`, each site once: grouped by version in the order
    /// of `versions`, then by site name.
    pub sites: Vec<(String, String)>,
}

impl Rollout {
    /// Builds a rollout from raw `(site, version)` pairs as the backend
    /// has them, sanitizing both. A site reported with several versions
    /// (an old pod's series not yet gone mid-deploy) counts once, under
    /// its newest.
    pub fn from_pairs<'a>(
        profile: &str,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Rollout {
        let mut newest: BTreeMap<String, String> = BTreeMap::new();
        for (site, version) in pairs {
            // The site's label, its identity; cleaned where it is drawn.
            let site = site.to_string();
            let version = match clean_line(version.trim(), MAX_NAME_CHARS) {
                v if v.is_empty() => UNKNOWN_VERSION.to_string(),
                v => v,
            };
            match newest.get_mut(&site) {
                Some(old) => {
                    if compare_versions(&version, old) == Ordering::Greater {
                        *old = version;
                    }
                }
                None => {
                    newest.insert(site, version);
                }
            }
        }
        let mut sites: Vec<(String, String)> = newest.into_iter().collect();
        sites.sort_by(|a, b| compare_versions(&b.1, &a.1).then_with(|| a.0.cmp(&b.0)));
        let mut versions: Vec<(String, usize)> = Vec::new();
        for (_, version) in &sites {
            match versions.last_mut() {
                Some((v, n)) if v == version => *n += 1,
                _ => versions.push((version.clone(), 1)),
            }
        }
        Rollout {
            profile: clean_line(profile, MAX_NAME_CHARS),
            versions,
            sites,
        }
    }

    pub fn site_count(&self) -> usize {
        self.sites.len()
    }

    /// The newest version any site runs.
    pub fn newest(&self) -> Option<&str> {
        self.versions.first().map(|(v, _)| v.as_str())
    }

    /// Whether every site runs the same version.
    pub fn is_settled(&self) -> bool {
        self.versions.len() <= 1
    }
}

/// Orders version strings the way people read them: split on `.`, `-`,
/// `+` and `_`, number parts compared as numbers (`3.14.10` > `3.14.9`),
/// other parts as text, a number part above a text part (`3.14.0` >
/// `3.14.0-rc1`, by the part after it), more parts above fewer when the
/// rest is equal. [`UNKNOWN_VERSION`] is the oldest; a leading `v` is
/// ignored. Total, so it sorts.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (a == UNKNOWN_VERSION, b == UNKNOWN_VERSION) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        _ => {}
    }
    let strip = |s: &'_ str| -> String {
        match s.strip_prefix(['v', 'V']) {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest.to_string(),
            _ => s.to_string(),
        }
    };
    let (a_text, b_text) = (strip(a), strip(b));
    let split = |s: &'_ str| -> Vec<String> {
        s.split(['.', '-', '+', '_'])
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let (pa, pb) = (split(&a_text), split(&b_text));
    for (x, y) in pa.iter().zip(&pb) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            (Ok(_), Err(_)) => Ordering::Greater,
            (Err(_), Ok(_)) => Ordering::Less,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    match pa.len().cmp(&pb.len()) {
        Ordering::Equal => a.cmp(b),
        longer => {
            // `3.14.0-rc1` is older than `3.14.0`; `3.14.0.1` newer.
            let (rest, sign) = if longer == Ordering::Greater {
                (&pa[pb.len()], Ordering::Greater)
            } else {
                (&pb[pa.len()], Ordering::Less)
            };
            if rest.parse::<u64>().is_ok() {
                sign
            } else {
                sign.reverse()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_numbers_compare_as_numbers() {
        use Ordering::*;
        for (a, b, want) in [
            ("3.14.10", "3.14.9", Greater),
            ("3.14.2", "3.14.2", Equal),
            ("3.9", "3.14.1", Less),
            ("10.0.0", "9.99.99", Greater),
            ("3.14.0", "3.14.0-rc1", Greater),
            ("3.14.0.1", "3.14.0", Greater),
            ("v3.15.0", "3.14.9", Greater),
            ("3.14.1", UNKNOWN_VERSION, Greater),
            ("abc", UNKNOWN_VERSION, Greater),
            ("3.14.x", "3.14.1", Less),
        ] {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn versions_newest_first_and_sites_grouped() {
        let r = Rollout::from_pairs(
            "kk_borger",
            [
                ("c", "3.14.9"),
                ("a", "3.14.10"),
                ("b", "3.14.9"),
                ("d", ""),
                ("e", "3.14.10"),
            ],
        );
        assert_eq!(
            r.versions,
            vec![
                ("3.14.10".to_string(), 2),
                ("3.14.9".to_string(), 2),
                (UNKNOWN_VERSION.to_string(), 1)
            ]
        );
        let sites: Vec<(&str, &str)> = r
            .sites
            .iter()
            .map(|(s, v)| (s.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            sites,
            vec![
                ("a", "3.14.10"),
                ("e", "3.14.10"),
                ("b", "3.14.9"),
                ("c", "3.14.9"),
                ("d", UNKNOWN_VERSION)
            ]
        );
        assert_eq!(r.newest(), Some("3.14.10"));
        assert!(!r.is_settled());
    }

    #[test]
    fn a_site_with_two_versions_counts_once_under_the_newest() {
        let r = Rollout::from_pairs("p", [("a", "1.2"), ("a", "1.10"), ("a", "1.3")]);
        assert_eq!(r.sites, vec![("a".to_string(), "1.10".to_string())]);
        assert_eq!(r.versions, vec![("1.10".to_string(), 1)]);
        assert!(r.is_settled());
    }

    #[test]
    fn hostile_versions_are_cleaned_and_site_labels_kept_for_identity() {
        let r = Rollout::from_pairs("p\u{1b}[31m", [("s\u{202e}x", "1.0\u{7}")]);
        assert_eq!(r.profile, "p\u{FFFD}[31m");
        // The site is found in the grid by its label; it is cleaned where drawn.
        assert_eq!(
            r.sites,
            vec![("s\u{202e}x".to_string(), "1.0\u{FFFD}".to_string())]
        );
    }
}
