//! One environment's sites in error and in warning over the last hour.

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
