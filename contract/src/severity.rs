//! Drupal's requirement severity and the dashboard's wider notion of a site's state.

use std::fmt;

/// Drupal's `REQUIREMENT_*` scale, carried on the wire as the `sid`.
///
/// The derived ordering follows the sid (Info < Ok < Warning < Error), so the
/// worst of a set of requirements is simply its maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Ok,
    Warning,
    Error,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Error,
        Severity::Warning,
        Severity::Ok,
        Severity::Info,
    ];

    pub fn from_sid(sid: i64) -> Option<Severity> {
        match sid {
            -1 => Some(Severity::Info),
            0 => Some(Severity::Ok),
            1 => Some(Severity::Warning),
            2 => Some(Severity::Error),
            _ => None,
        }
    }

    /// Prometheus carries the sid as a float sample; anything that is not one
    /// of the four integers (NaN, +Inf, 1.5) is not a severity.
    pub fn from_sample(value: f64) -> Option<Severity> {
        if value.fract() != 0.0 || !value.is_finite() {
            return None;
        }
        Severity::from_sid(value as i64)
    }

    /// Drush prints the label ("OK", "Warning"…), sometimes translated or in
    /// another case; only the English labels are recognised.
    pub fn from_label(label: &str) -> Option<Severity> {
        match label.trim().to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "ok" => Some(Severity::Ok),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }

    pub fn sid(self) -> i64 {
        match self {
            Severity::Info => -1,
            Severity::Ok => 0,
            Severity::Warning => 1,
            Severity::Error => 2,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn is_failing(self) -> bool {
        self >= Severity::Warning
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What the grid shows for one site: Drupal's scale plus the states that
/// mean "we do not actually know", none of which may ever look like OK.
///
/// Variants are declared from worst to best; `rank` makes that explicit for
/// sorting "worst first".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiteState {
    Error,
    /// Prometheus could not scrape the status workload (`up == 0`).
    TargetDown,
    /// The last drush run did not produce a parsable report.
    RunFailed,
    /// The site is known to exist but has no series at all.
    NoData,
    /// The last run is older than the stale threshold.
    Stale,
    Warning,
    Ok,
    Info,
}

impl SiteState {
    /// Every state, worst first; the order of legends and counters.
    pub const ALL: [SiteState; 8] = [
        SiteState::Error,
        SiteState::TargetDown,
        SiteState::RunFailed,
        SiteState::NoData,
        SiteState::Stale,
        SiteState::Warning,
        SiteState::Ok,
        SiteState::Info,
    ];

    /// 0 is the worst.
    pub fn rank(self) -> u8 {
        SiteState::ALL
            .iter()
            .position(|s| *s == self)
            .unwrap_or(SiteState::ALL.len()) as u8
    }

    pub fn index(self) -> usize {
        self.rank() as usize
    }

    pub fn label(self) -> &'static str {
        match self {
            SiteState::Error => "error",
            SiteState::TargetDown => "target down",
            SiteState::RunFailed => "run failed",
            SiteState::NoData => "no data",
            SiteState::Stale => "stale",
            SiteState::Warning => "warning",
            SiteState::Ok => "ok",
            SiteState::Info => "info",
        }
    }

    /// The state as a machine-readable word (`no_data`, `run_failed`…).
    pub fn key(self) -> &'static str {
        match self {
            SiteState::Error => "error",
            SiteState::TargetDown => "target_down",
            SiteState::RunFailed => "run_failed",
            SiteState::NoData => "no_data",
            SiteState::Stale => "stale",
            SiteState::Warning => "warning",
            SiteState::Ok => "ok",
            SiteState::Info => "info",
        }
    }

    pub fn attention(self) -> Attention {
        match self {
            SiteState::Ok | SiteState::Info => Attention::Fine,
            SiteState::Warning => Attention::Warning,
            _ => Attention::Critical,
        }
    }
}

impl fmt::Display for SiteState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How much a state asks of the operator; what the severity filter cuts on.
/// Everything that is not known to be fine (no data, stale, run failed,
/// target down) counts with errors: an operator must look at it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attention {
    #[default]
    Fine,
    Warning,
    Critical,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_requirement_is_the_maximum_sid() {
        let worst = [Severity::Info, Severity::Warning, Severity::Ok]
            .into_iter()
            .max();
        assert_eq!(worst, Some(Severity::Warning));
        assert!(Severity::Error > Severity::Warning);
        assert!(Severity::Ok > Severity::Info);
    }

    #[test]
    fn sid_round_trips_and_rejects_out_of_scale_values() {
        for s in Severity::ALL {
            assert_eq!(Severity::from_sid(s.sid()), Some(s));
        }
        assert_eq!(Severity::from_sid(3), None);
        assert_eq!(Severity::from_sample(f64::NAN), None);
        assert_eq!(Severity::from_sample(f64::INFINITY), None);
        assert_eq!(Severity::from_sample(1.5), None);
        assert_eq!(Severity::from_sample(2.0), Some(Severity::Error));
        assert_eq!(Severity::from_label(" WARNING "), Some(Severity::Warning));
        assert_eq!(Severity::from_label("Advarsel"), None);
    }

    #[test]
    fn unknown_states_never_rank_as_fine() {
        for s in [
            SiteState::NoData,
            SiteState::Stale,
            SiteState::RunFailed,
            SiteState::TargetDown,
        ] {
            assert_eq!(s.attention(), Attention::Critical, "{s}");
            assert!(s.rank() < SiteState::Ok.rank());
            assert!(s.rank() < SiteState::Warning.rank());
        }
        assert!(SiteState::Error.rank() < SiteState::Warning.rank());
        assert!(SiteState::Warning.rank() < SiteState::Ok.rank());
    }
}
