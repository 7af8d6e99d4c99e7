//! Why a site's last status run failed, as the dashboard knows it from
//! `drupal_status_report_failure{class, exit_code}`: the contract's
//! [`RunFailure`] when the class is one this dashboard knows, else the
//! class as a newer agent wrote it, sanitized, so it is shown rather than
//! dropped. The one answer to "why did its run fail" on a site's summary.

use std::fmt;

pub use site_status_contract::failure::{FailureClass, RunFailure};
use site_status_contract::text::clean_line;

/// A class label is a short word; anything longer is cut for display.
const MAX_CLASS_CHARS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RunFailureReason {
    Known(RunFailure),
    /// A class this dashboard does not know, sanitized for the terminal.
    Unknown {
        class: String,
        exit_code: Option<i32>,
    },
}

impl RunFailureReason {
    /// From the metric's two labels as the backend has them. An
    /// `exit_code` that is not a number (garbage, an empty label) is no
    /// exit code: the class alone still says why.
    pub fn from_labels(class: &str, exit_code: &str) -> RunFailureReason {
        let exit_code = exit_code.trim().parse::<i32>().ok();
        match FailureClass::parse(class) {
            Some(known) => RunFailureReason::Known(RunFailure {
                exit_code,
                ..RunFailure::new(known)
            }),
            None => {
                let cleaned = clean_line(class, MAX_CLASS_CHARS);
                RunFailureReason::Unknown {
                    class: if cleaned.trim().is_empty() {
                        "unknown".to_string()
                    } else {
                        cleaned
                    },
                    exit_code,
                }
            }
        }
    }

    /// The class as published (sanitized when unknown).
    pub fn class(&self) -> &str {
        match self {
            RunFailureReason::Known(f) => f.class.as_str(),
            RunFailureReason::Unknown { class, .. } => class,
        }
    }

    pub fn exit_code(&self) -> Option<i32> {
        match self {
            RunFailureReason::Known(f) => f.exit_code,
            RunFailureReason::Unknown { exit_code, .. } => *exit_code,
        }
    }

    /// A few words: `exit 255`, `timed out`, or an unknown class as it is.
    pub fn summary(&self) -> String {
        match self {
            RunFailureReason::Known(f) => f.summary(),
            RunFailureReason::Unknown {
                class,
                exit_code: Some(code),
            } => format!("{class} (exit {code})"),
            RunFailureReason::Unknown { class, .. } => class.clone(),
        }
    }

    /// Of two pods' reasons for one site, the one to show: a known class
    /// over an unknown one, then the smaller, so that which one wins does
    /// not depend on the order the backend answered in.
    pub fn preferred(self, other: RunFailureReason) -> RunFailureReason {
        let rank = |r: &RunFailureReason| {
            (
                matches!(r, RunFailureReason::Unknown { .. }),
                r.class().to_string(),
                r.exit_code(),
            )
        };
        if rank(&other) < rank(&self) {
            other
        } else {
            self
        }
    }
}

/// A failed run in words: `run failed: exit 255`, or `run failed` when
/// the site does not say why.
pub fn run_failed_phrase(reason: Option<&RunFailureReason>) -> String {
    match reason {
        Some(reason) => format!("run failed: {}", reason.summary()),
        None => "run failed".to_string(),
    }
}

impl fmt::Display for RunFailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_class_reads_with_its_exit_code() {
        let r = RunFailureReason::from_labels("exit_code", "255");
        assert_eq!(r.class(), "exit_code");
        assert_eq!(r.exit_code(), Some(255));
        assert_eq!(r.summary(), "exit 255");
        let t = RunFailureReason::from_labels("timeout", "");
        assert_eq!(t.summary(), "timed out");
        assert_eq!(t.exit_code(), None);
    }

    #[test]
    fn a_garbage_exit_code_is_no_exit_code() {
        for garbage in ["abc", "255.5", "99999999999", "-", " "] {
            let r = RunFailureReason::from_labels("exit_code", garbage);
            assert_eq!(r.exit_code(), None, "{garbage:?}");
            assert_eq!(r.summary(), "non-zero exit", "{garbage:?}");
        }
        assert_eq!(
            RunFailureReason::from_labels("exit_code", " 1 ").exit_code(),
            Some(1)
        );
    }

    #[test]
    fn an_unknown_class_is_shown_sanitized_never_dropped() {
        let r = RunFailureReason::from_labels("cosmic_rays", "3");
        assert_eq!(r.class(), "cosmic_rays");
        assert_eq!(r.summary(), "cosmic_rays (exit 3)");
        let hostile = RunFailureReason::from_labels("\x1b[31mevil\u{202e}x", "");
        assert!(!hostile.summary().contains('\x1b'), "{hostile:?}");
        assert!(!hostile.summary().contains('\u{202e}'), "{hostile:?}");
        assert!(hostile.summary().contains("evil"), "{hostile:?}");
        let long = RunFailureReason::from_labels(&"x".repeat(10_000), "");
        // Cut, with an ellipsis.
        assert!(long.summary().chars().count() <= MAX_CLASS_CHARS + 1);
        assert_eq!(RunFailureReason::from_labels("", "").class(), "unknown");
    }

    #[test]
    fn of_two_reasons_the_known_one_is_shown_whatever_the_order() {
        let known = RunFailureReason::from_labels("timeout", "");
        let unknown = RunFailureReason::from_labels("new_thing", "");
        assert_eq!(known.clone().preferred(unknown.clone()), known);
        assert_eq!(unknown.preferred(known.clone()), known);
    }
}
