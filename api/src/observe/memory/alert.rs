//! The memory alert: an error once when RSS goes above the threshold, an info line once when it
//! falls back under it, and silence in between.

/// Whether `rss` is above `threshold` (0: no threshold, never above). The one place this is
/// decided, for the alert, the memory endpoint and `/metrics`.
pub(super) fn is_over(rss: u64, threshold: u64) -> bool {
    threshold > 0 && rss > threshold
}

/// A change of side of the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    Above,
    Below,
}

/// Which side of the threshold the last sample was on.
#[derive(Debug, Clone)]
pub struct Alert {
    threshold: u64,
    over: bool,
}

impl Alert {
    /// An alert above `threshold` bytes; 0 never fires.
    pub fn new(threshold: u64) -> Self {
        Self {
            threshold,
            over: false,
        }
    }

    /// The crossing `rss` makes, if it is on the other side from the previous sample.
    pub fn observe(&mut self, rss: u64) -> Option<Crossing> {
        let over = is_over(rss, self.threshold);
        if over == self.over {
            return None;
        }
        self.over = over;
        Some(if over {
            Crossing::Above
        } else {
            Crossing::Below
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crossings(threshold: u64, samples: &[u64]) -> Vec<Option<Crossing>> {
        let mut alert = Alert::new(threshold);
        samples.iter().map(|&rss| alert.observe(rss)).collect()
    }

    #[test]
    fn it_fires_once_per_crossing_and_clears_once() {
        use Crossing::{Above, Below};
        assert_eq!(
            crossings(100, &[50, 150, 160, 170, 90, 80, 101, 100]),
            [
                None,
                Some(Above),
                None,
                None,
                Some(Below),
                None,
                Some(Above),
                Some(Below)
            ]
        );
    }

    #[test]
    fn a_zero_threshold_never_fires() {
        assert_eq!(crossings(0, &[1, u64::MAX, 0]), [None, None, None]);
    }

    #[test]
    fn being_over_from_the_first_sample_fires_at_once() {
        assert_eq!(crossings(10, &[11, 12]), [Some(Crossing::Above), None]);
    }
}
