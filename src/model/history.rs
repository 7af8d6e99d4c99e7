//! One requirement of one site over time, as a band of severities.

use super::severity::Severity;

/// The windows the requirement view offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Window {
    #[default]
    Hour,
    SixHours,
    Day,
    Week,
}

impl Window {
    pub const ALL: [Window; 4] = [Window::Hour, Window::SixHours, Window::Day, Window::Week];

    pub fn seconds(self) -> f64 {
        match self {
            Window::Hour => 3600.0,
            Window::SixHours => 6.0 * 3600.0,
            Window::Day => 86_400.0,
            Window::Week => 7.0 * 86_400.0,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Window::Hour => "1h",
            Window::SixHours => "6h",
            Window::Day => "24h",
            Window::Week => "7d",
        }
    }

    /// Samples per window: enough to fill a wide terminal, few enough that a
    /// 7-day query stays cheap for Prometheus.
    pub const POINTS: usize = 240;

    pub fn step(self) -> f64 {
        self.seconds() / Window::POINTS as f64
    }
}

/// Evenly spaced samples from `start`, one per `step`; `None` where the
/// series was absent (for requirements that exist only while they fail,
/// absent means fine).
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub start: f64,
    pub step: f64,
    pub points: Vec<Option<Severity>>,
}

/// A moment the severity changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub at: f64,
    pub from: Option<Severity>,
    pub to: Option<Severity>,
}

impl History {
    /// Builds the band from (time, severity) samples as a range query
    /// returns them: times not sampled are absent.
    pub fn from_samples(
        start: f64,
        end: f64,
        step: f64,
        samples: &[(f64, Option<Severity>)],
    ) -> History {
        let step = if step > 0.0 { step } else { 1.0 };
        let count = (((end - start) / step).floor() as usize + 1).min(100_000);
        let mut points = vec![None; count];
        for (t, severity) in samples {
            let index = ((t - start) / step).round();
            if index >= 0.0 && (index as usize) < count {
                points[index as usize] = *severity;
            }
        }
        History {
            start,
            step,
            points,
        }
    }

    pub fn end(&self) -> f64 {
        self.start + self.step * self.points.len().saturating_sub(1) as f64
    }

    pub fn changes(&self) -> Vec<Change> {
        self.points
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w[0] != w[1])
            .map(|(i, w)| Change {
                at: self.start + self.step * (i + 1) as f64,
                from: w[0],
                to: w[1],
            })
            .collect()
    }

    /// The band squeezed (or stretched) into `width` columns, each showing
    /// the worst severity of the samples it covers, so a short error never
    /// disappears between columns.
    pub fn columns(&self, width: usize) -> Vec<Option<Severity>> {
        let n = self.points.len();
        if width == 0 || n == 0 {
            return vec![None; width];
        }
        (0..width)
            .map(|c| {
                let from = c * n / width;
                let to = (((c + 1) * n).div_ceil(width)).clamp(from + 1, n);
                self.points[from..to].iter().flatten().copied().max()
            })
            .collect()
    }

    pub fn worst(&self) -> Option<Severity> {
        self.points.iter().flatten().copied().max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_land_on_their_step_and_gaps_are_absent() {
        let h = History::from_samples(
            0.0,
            50.0,
            10.0,
            &[
                (0.0, Some(Severity::Ok)),
                (10.0, Some(Severity::Ok)),
                (30.0, Some(Severity::Error)),
            ],
        );
        assert_eq!(
            h.points,
            vec![
                Some(Severity::Ok),
                Some(Severity::Ok),
                None,
                Some(Severity::Error),
                None,
                None
            ]
        );
        assert_eq!(h.end(), 50.0);
        let changes = h.changes();
        assert_eq!(changes.len(), 3);
        assert_eq!(
            changes[0],
            Change {
                at: 20.0,
                from: Some(Severity::Ok),
                to: None
            }
        );
        assert_eq!(changes[1].to, Some(Severity::Error));
    }

    #[test]
    fn squeezing_keeps_a_short_error_visible() {
        let mut points = vec![Some(Severity::Ok); 240];
        points[101] = Some(Severity::Error);
        let h = History {
            start: 0.0,
            step: 15.0,
            points,
        };
        let cols = h.columns(60);
        assert_eq!(cols.len(), 60);
        assert_eq!(
            cols.iter().filter(|c| **c == Some(Severity::Error)).count(),
            1
        );
        assert_eq!(cols[25], Some(Severity::Error));
        // Stretching repeats samples.
        let h = History {
            start: 0.0,
            step: 1.0,
            points: vec![Some(Severity::Ok), Some(Severity::Warning)],
        };
        assert_eq!(
            h.columns(4),
            vec![
                Some(Severity::Ok),
                Some(Severity::Ok),
                Some(Severity::Warning),
                Some(Severity::Warning)
            ]
        );
    }

    #[test]
    fn windows_have_fixed_point_counts() {
        for w in Window::ALL {
            assert_eq!((w.seconds() / w.step()).round() as usize, Window::POINTS);
        }
        assert_eq!(Window::Week.label(), "7d");
    }
}
