//! A requirement of Drupal's status report, as both programs read it.

use crate::severity::Severity;

/// A requirement from drush's status report, already sanitized.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// Drupal's requirement key, sanitized for display; an arbitrary
    /// string (`public:///.htaccess`).
    pub id: String,
    /// The key exactly as the backend has it: the requirement's identity
    /// in queries and mute rules. Never drawn.
    pub label: String,
    /// Translated title; empty when the source only knows the id (Prometheus).
    pub title: String,
    /// `None` when drush gave neither a usable sid nor a known label.
    pub severity: Option<Severity>,
    pub value: String,
    pub description: String,
}

impl Requirement {
    pub fn display_title(&self) -> &str {
        if self.title.is_empty() {
            &self.id
        } else {
            &self.title
        }
    }
}

/// Worst first, then by title, so the site view leads with what to fix.
pub fn sort_requirements_worst_first(reqs: &mut [Requirement]) {
    reqs.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.display_title().cmp(b.display_title()))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_sort_worst_first_then_by_title() {
        let req = |id: &str, sev| Requirement {
            id: id.into(),
            label: id.into(),
            title: String::new(),
            severity: sev,
            value: String::new(),
            description: String::new(),
        };
        let mut reqs = vec![
            req("php", Some(Severity::Info)),
            req("update", Some(Severity::Error)),
            req("cron", Some(Severity::Ok)),
            req("broken", None),
            req("update_contrib", Some(Severity::Warning)),
            req("config sync directory", Some(Severity::Error)),
        ];
        sort_requirements_worst_first(&mut reqs);
        let ids: Vec<_> = reqs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "config sync directory",
                "update",
                "update_contrib",
                "cron",
                "php",
                "broken"
            ]
        );
    }
}
