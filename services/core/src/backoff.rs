//! Exponential backoff: the one way Darkroom waits longer after each failure in a row.
//!
//! The caller sleeps for what [`Backoff::next`] returns and calls [`Backoff::reset`] once it
//! succeeds, so the next failure starts again from the initial delay.

use std::time::Duration;

/// Delays growing from `initial` by `factor` after each failure, capped at `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    factor: u32,
    next: Duration,
}

impl Backoff {
    /// Doubles from `initial` up to `max`.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Self { initial, max, factor: 2, next: initial }
    }

    /// Grows by `factor` (at least 1: a constant delay) instead of doubling.
    pub const fn with_factor(mut self, factor: u32) -> Self {
        self.factor = if factor == 0 { 1 } else { factor };
        self
    }

    /// The delay to wait now; the one after it is longer, up to the cap.
    #[expect(
        clippy::should_implement_trait,
        reason = "there is always a next delay: an Iterator's None would never come"
    )]
    pub fn next(&mut self) -> Duration {
        let now = self.next.min(self.max);
        self.next = now.saturating_mul(self.factor).min(self.max);
        now
    }

    /// Back to the initial delay, after a success.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_by_the_factor_up_to_the_cap_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(500));
        let delays: Vec<_> = (0..5).map(|_| b.next()).collect();
        assert_eq!(delays, [ms(100), ms(200), ms(400), ms(500), ms(500)]);
        b.reset();
        assert_eq!(b.next(), ms(100));
        let mut thrice = Backoff::new(ms(10), ms(1000)).with_factor(3);
        assert_eq!([thrice.next(), thrice.next(), thrice.next()], [ms(10), ms(30), ms(90)]);
        let mut constant = Backoff::new(ms(7), ms(1000)).with_factor(0);
        assert_eq!([constant.next(), constant.next()], [ms(7), ms(7)]);
    }

    #[test]
    fn an_initial_delay_above_the_cap_is_capped() {
        let mut b = Backoff::new(Duration::from_secs(9), Duration::from_secs(5));
        assert_eq!(b.next(), Duration::from_secs(5));
    }
}
