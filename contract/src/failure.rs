//! Why a status run failed, in a small fixed set of classes: the agent
//! classifies each failed run once, publishes the class as a bounded label
//! (`drupal_status_report_failure{class, exit_code}`) and in the Loki
//! report (`run_failure`), and every reader (dashboard, rules, `check`)
//! reads the class back from here. Free text never goes into a class.

use std::fmt;

/// The class of a failed run. Each is a distinct thing an operator does
/// something different about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureClass {
    /// drush exited with a non-zero status (a PHP fatal error exits 255).
    ExitCode,
    /// drush was killed by a signal the agent did not send (OOM killer).
    Signal,
    /// drush outlived the agent's `--timeout` and was killed.
    Timeout,
    /// drush exited 0 and printed nothing.
    NoOutput,
    /// drush printed something that is not a status report.
    Unparsable,
    /// drush printed more than a report can be.
    TooLarge,
    /// drush printed a report without requirements: a real Drupal always
    /// has some, so drush and Drupal do not fit together.
    EmptyReport,
    /// drush reached Drupal but not its database (`drush status`'s
    /// `db-status` is not `Connected`).
    NoDatabase,
    /// The command could not be started (not found, not executable).
    SpawnFailed,
}

impl FailureClass {
    pub const ALL: [FailureClass; 9] = [
        FailureClass::ExitCode,
        FailureClass::Signal,
        FailureClass::Timeout,
        FailureClass::NoOutput,
        FailureClass::Unparsable,
        FailureClass::TooLarge,
        FailureClass::EmptyReport,
        FailureClass::NoDatabase,
        FailureClass::SpawnFailed,
    ];

    /// The label value, as published.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::ExitCode => "exit_code",
            FailureClass::Signal => "signal",
            FailureClass::Timeout => "timeout",
            FailureClass::NoOutput => "no_output",
            FailureClass::Unparsable => "unparsable",
            FailureClass::TooLarge => "too_large",
            FailureClass::EmptyReport => "empty_report",
            FailureClass::NoDatabase => "no_database",
            FailureClass::SpawnFailed => "spawn_failed",
        }
    }

    /// The class a label value names; `None` for anything else (a newer
    /// agent's class is shown as it is by the caller, sanitized).
    pub fn parse(label: &str) -> Option<FailureClass> {
        FailureClass::ALL
            .into_iter()
            .find(|class| class.as_str() == label)
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed run's reason in bounded parts: what the metric's labels and
/// the report's `run_failure` object carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunFailure {
    pub class: FailureClass,
    /// drush's exit status, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended drush, when one did.
    pub signal: Option<i32>,
}

impl RunFailure {
    pub fn new(class: FailureClass) -> RunFailure {
        RunFailure {
            class,
            exit_code: None,
            signal: None,
        }
    }

    /// The `exit_code` label's value: the number, or empty.
    pub fn exit_code_label(&self) -> String {
        self.exit_code.map(|c| c.to_string()).unwrap_or_default()
    }

    /// A few words for a status line: `exit 255`, `timed out`. Callers put
    /// "run failed: " in front where the context does not say it.
    pub fn summary(&self) -> String {
        match self.class {
            FailureClass::ExitCode => match self.exit_code {
                Some(code) => format!("exit {code}"),
                None => "non-zero exit".to_string(),
            },
            FailureClass::Signal => match self.signal {
                Some(signal) => format!("killed by signal {signal}"),
                None => "killed by a signal".to_string(),
            },
            FailureClass::Timeout => "timed out".to_string(),
            FailureClass::NoOutput => with_exit("no output", self.exit_code),
            FailureClass::Unparsable => with_exit("output is not a report", self.exit_code),
            FailureClass::TooLarge => with_exit("output too large", self.exit_code),
            FailureClass::EmptyReport => with_exit("empty report", self.exit_code),
            FailureClass::NoDatabase => "no database connection".to_string(),
            FailureClass::SpawnFailed => "drush could not be started".to_string(),
        }
    }
}

fn with_exit(what: &str, exit_code: Option<i32>) -> String {
    match exit_code {
        Some(code) if code != 0 => format!("{what} (exit {code})"),
        _ => what.to_string(),
    }
}

impl fmt::Display for RunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_reads_back_from_its_label() {
        for class in FailureClass::ALL {
            assert_eq!(FailureClass::parse(class.as_str()), Some(class));
        }
        assert_eq!(FailureClass::parse("exit code"), None);
        assert_eq!(FailureClass::parse(""), None);
    }

    #[test]
    fn labels_are_bounded_words() {
        for class in FailureClass::ALL {
            let label = class.as_str();
            assert!(label.len() <= 16, "{label}");
            assert!(label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }

    #[test]
    fn summaries_say_what_an_operator_looks_for() {
        let exit = RunFailure {
            exit_code: Some(255),
            ..RunFailure::new(FailureClass::ExitCode)
        };
        assert_eq!(exit.summary(), "exit 255");
        assert_eq!(exit.exit_code_label(), "255");
        assert_eq!(
            RunFailure::new(FailureClass::Timeout).summary(),
            "timed out"
        );
        assert_eq!(RunFailure::new(FailureClass::Timeout).exit_code_label(), "");
        let killed = RunFailure {
            signal: Some(9),
            ..RunFailure::new(FailureClass::Signal)
        };
        assert_eq!(killed.to_string(), "killed by signal 9");
        let garbage = RunFailure {
            exit_code: Some(1),
            ..RunFailure::new(FailureClass::Unparsable)
        };
        assert_eq!(garbage.summary(), "output is not a report (exit 1)");
    }
}
