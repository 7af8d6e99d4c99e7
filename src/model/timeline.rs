//! One environment's sites in error and in warning over the last hour.

use crate::model::Severity;

/// How many sites were in error and in warning at each step, from `start`
/// (Unix seconds) every `step` seconds: each site once, by its worst
/// requirement at that instant. Steps without data count 0.
///
/// Sampled at instants: a state shorter than a step can fall between two
/// steps. A site's severities change when its status workload runs drush,
/// every few minutes, so at one step a minute that does not happen with
/// real data.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub start: f64,
    pub step: f64,
    /// Sites whose worst requirement was an error (sid 2).
    pub errors: Vec<u32>,
    /// Sites whose worst requirement was a warning (sid 1).
    pub warnings: Vec<u32>,
}

impl Timeline {
    /// The window sources fetch: the last hour…
    pub const WINDOW_SECONDS: f64 = 3600.0;
    /// …one point a minute (61 points, both ends included).
    pub const STEP_SECONDS: f64 = 60.0;

    /// The aligned window ending at or just after `now_unix`: steps fall
    /// on multiples of `step`, so consecutive polls sample the same
    /// instants. Returns `(start, end)`.
    pub fn window(now_unix: f64, window: f64, step: f64) -> (f64, f64) {
        let step = if step > 0.0 { step } else { 1.0 };
        let end = (now_unix / step).ceil() * step;
        let start = end - (window / step).round() * step;
        (start, end)
    }

    /// Builds the timeline from `(time, count)` samples as two range
    /// queries return them; times not sampled count 0.
    pub fn from_samples(
        start: f64,
        end: f64,
        step: f64,
        errors: &[(f64, f64)],
        warnings: &[(f64, f64)],
    ) -> Timeline {
        let step = if step > 0.0 { step } else { 1.0 };
        let count = (((end - start) / step).round().max(0.0) as usize + 1).min(100_000);
        let place = |samples: &[(f64, f64)]| {
            let mut points = vec![0u32; count];
            for (t, value) in samples {
                let index = ((t - start) / step).round();
                if index >= 0.0 && (index as usize) < count && value.is_finite() && *value > 0.0 {
                    points[index as usize] = value.round().min(f64::from(u32::MAX)) as u32;
                }
            }
            points
        };
        Timeline {
            start,
            step,
            errors: place(errors),
            warnings: place(warnings),
        }
    }

    /// A poll's gap longer than this many steps is not filled in by
    /// [`Timeline::extend`]: Prometheus' look-back (5 minutes) would have
    /// let the old counts lapse, so only the server knows those steps.
    pub const MAX_FILLED_GAP_STEPS: usize = 5;

    /// `(errors, warnings)` of one poll's sites, counted as the timeline's
    /// range queries count them: each site once by its worst requirement;
    /// a site without data (vanished, or only in the cluster) in neither.
    pub fn counts(sites: &[crate::model::SiteSummary]) -> (u32, u32) {
        let mut errors = 0u32;
        let mut warnings = 0u32;
        for site in sites {
            match site.worst {
                Some(Severity::Error) => errors = errors.saturating_add(1),
                Some(Severity::Warning) => warnings = warnings.saturating_add(1),
                _ => {}
            }
        }
        (errors, warnings)
    }

    /// Carries a poll's counts, taken at `at_unix`, into the timeline
    /// without asking the server again: the step just ahead of `at_unix`
    /// takes them (as the range query's last step would), steps skipped
    /// since the last point repeat the last known counts, and the window
    /// slides so its length stays. `false` when the poll is older than the
    /// timeline or the gap is too long to fill: then only fetching the
    /// range again gives the truth.
    pub fn extend(&mut self, at_unix: f64, errors: u32, warnings: u32) -> bool {
        let Some(last) = self.last() else {
            return false;
        };
        if !at_unix.is_finite() || self.step <= 0.0 {
            return false;
        }
        let point = (at_unix / self.step).ceil() * self.step;
        let ahead = ((point - self.end()) / self.step).round();
        if ahead < 0.0 || ahead > Self::MAX_FILLED_GAP_STEPS as f64 {
            return false;
        }
        let ahead = ahead as usize;
        if ahead > 0 {
            for _ in 1..ahead {
                self.errors.push(last.0);
                self.warnings.push(last.1);
            }
            self.errors.push(errors);
            self.warnings.push(warnings);
            let drop = ahead.min(self.errors.len().saturating_sub(1));
            self.errors.drain(..drop);
            self.warnings.drain(..drop);
            self.start += self.step * drop as f64;
        } else if let (Some(e), Some(w)) = (self.errors.last_mut(), self.warnings.last_mut()) {
            *e = errors;
            *w = warnings;
        }
        true
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Time of the last point.
    pub fn end(&self) -> f64 {
        self.start + self.step * self.len().saturating_sub(1) as f64
    }

    /// `(errors, warnings)` at the last point.
    pub fn last(&self) -> Option<(u32, u32)> {
        Some((*self.errors.last()?, *self.warnings.last()?))
    }

    /// The largest count of either kind: the scale of a chart.
    pub fn peak(&self) -> u32 {
        self.errors
            .iter()
            .chain(&self.warnings)
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// The points squeezed (or stretched) into `width` columns, each the
    /// largest `(errors, warnings)` of the points it covers, so a short
    /// spike never disappears between columns.
    pub fn columns(&self, width: usize) -> Vec<(u32, u32)> {
        let n = self.len().min(self.warnings.len());
        if width == 0 || n == 0 {
            return vec![(0, 0); width];
        }
        (0..width)
            .map(|c| {
                let from = c * n / width;
                let to = (((c + 1) * n).div_ceil(width)).clamp(from + 1, n);
                let e = self.errors[from..to].iter().copied().max().unwrap_or(0);
                let w = self.warnings[from..to].iter().copied().max().unwrap_or(0);
                (e, w)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour() -> Timeline {
        Timeline::from_samples(0.0, 240.0, 60.0, &[(240.0, 3.0)], &[(240.0, 1.0)])
    }

    #[test]
    fn a_poll_within_the_last_step_updates_it() {
        let mut t = hour();
        assert!(t.extend(200.5, 4, 2));
        assert_eq!((t.start, t.len()), (0.0, 5));
        assert_eq!(t.last(), Some((4, 2)));
    }

    #[test]
    fn a_poll_past_the_last_step_slides_the_window_and_fills_the_gap() {
        let mut t = hour();
        assert!(t.extend(370.0, 7, 0));
        // 420 is the step just ahead of 370: three steps on.
        assert_eq!(t.start, 180.0);
        assert_eq!(t.end(), 420.0);
        assert_eq!(t.errors, vec![0, 3, 3, 3, 7]);
        assert_eq!(t.warnings, vec![0, 1, 1, 1, 0]);
    }

    #[test]
    fn a_long_gap_or_an_old_poll_asks_for_the_range_again() {
        let mut t = hour();
        let before = t.clone();
        assert!(!t.extend(240.0 + 60.0 * 6.0, 1, 1));
        assert!(!t.extend(100.0, 1, 1));
        assert!(!t.extend(f64::NAN, 1, 1));
        assert_eq!(t, before);
        let mut empty = Timeline {
            start: 0.0,
            step: 60.0,
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        assert!(!empty.extend(10.0, 1, 1));
    }

    #[test]
    fn the_window_is_aligned_to_the_step() {
        let (start, end) = Timeline::window(1_000_030.5, 3600.0, 60.0);
        assert_eq!(end, 1_000_080.0);
        assert_eq!(start, end - 3600.0);
        assert_eq!(end % 60.0, 0.0);
    }

    #[test]
    fn missing_steps_count_zero() {
        let t = Timeline::from_samples(
            0.0,
            240.0,
            60.0,
            &[(0.0, 3.0), (120.0, 5.0), (240.0, 1.0)],
            &[(60.0, 2.0)],
        );
        assert_eq!(t.errors, vec![3, 0, 5, 0, 1]);
        assert_eq!(t.warnings, vec![0, 2, 0, 0, 0]);
        assert_eq!(t.len(), 5);
        assert_eq!(t.end(), 240.0);
        assert_eq!(t.last(), Some((1, 0)));
        assert_eq!(t.peak(), 5);
    }

    #[test]
    fn samples_outside_the_window_or_not_numbers_are_ignored() {
        let t = Timeline::from_samples(
            0.0,
            120.0,
            60.0,
            &[(-60.0, 9.0), (180.0, 9.0), (60.0, f64::NAN)],
            &[(60.0, f64::INFINITY)],
        );
        assert_eq!(t.errors, vec![0, 0, 0]);
        assert_eq!(t.warnings, vec![0, 0, 0]);
    }

    #[test]
    fn squeezing_keeps_a_short_spike() {
        let mut errors = vec![0; 61];
        errors[30] = 7;
        let t = Timeline {
            start: 0.0,
            step: 60.0,
            warnings: vec![1; 61],
            errors,
        };
        let cols = t.columns(20);
        assert_eq!(cols.len(), 20);
        let spiked = cols.iter().filter(|c| c.0 == 7).count();
        assert!((1..=2).contains(&spiked), "{cols:?}");
        assert!(cols.iter().all(|c| c.1 == 1));
        assert_eq!(t.columns(0), vec![]);
    }
}
