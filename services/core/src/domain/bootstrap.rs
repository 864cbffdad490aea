//! Paired-bootstrap confidence intervals for a board whose ranking metric is a mean over cases
//! (`cases.csv`), and which rows are tied with #1.
//!
//! **Resampling.** Every resample draws `n` case indices with replacement; the same resample is
//! applied to every row (paired: rows are compared on the same cases, so case difficulty cancels
//! out of the differences). For each row, the mean of its values over the resample is one draw
//! of its mean. The interval is the [`alpha/2`, `1 − alpha/2`] percentiles of those draws (95 %
//! by default, 2,000 resamples), percentiles by linear interpolation between order statistics
//! (numpy's default, "type 7": position `(R − 1)·p`).
//!
//! **Tied with #1.** The leader is the row with the best mean (first such row on equal means).
//! For every other row, the same resamples give draws of `row − leader`; the row is tied with #1
//! when the interval of those differences contains 0 (`low ≤ 0 ≤ high`). A row whose values equal
//! the leader's on every case is tied (its differences are all 0).
//!
//! **Reproducible.** The generator is ChaCha8 (`rand_chacha`) seeded with [`BootstrapConfig::seed`]
//! ([`DEFAULT_SEED`] unless set), and an index is drawn from one `u64` as `⌊u·n / 2⁶⁴⌋` — our
//! own rule, so the intervals depend neither on `rand`'s `StdRng` (whose algorithm may change
//! in a new major version) nor on its range sampling. Same rows, same config → same intervals,
//! bit for bit. (The rule's bias is below n/2⁶⁴ per draw.)
//!
//! **Cost.** `resamples × rows × cases` multiply-adds, row by row: the resample weights (how
//! often each case was drawn) are computed once (`resamples × cases` floats), then each row
//! needs only its own `resamples` draws, so memory does not grow with the number of rows.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::Direction;

/// The seed used unless the phase sets another: fixed, so a board's intervals never change
/// between two renderings.
pub const DEFAULT_SEED: u64 = 0x0D1A_2C00;
/// Resamples unless set (issue 15: 2,000).
pub const DEFAULT_RESAMPLES: usize = 2_000;

/// How to bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    pub resamples: usize,
    pub seed: u64,
    /// Coverage of the interval, in (0, 1): 0.95 by default.
    pub confidence: f64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self { resamples: DEFAULT_RESAMPLES, seed: DEFAULT_SEED, confidence: 0.95 }
    }
}

/// Why intervals cannot be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BootstrapError {
    #[error("no rows to bootstrap")]
    NoRows,
    #[error("at least 2 cases are needed, got {0}")]
    TooFewCases(usize),
    #[error("row {row} has {got} cases, row 0 has {expected}: rows must hold the same cases in the same order")]
    RaggedRows { row: usize, got: usize, expected: usize },
    #[error("row {row}, case {case}: the value is not a finite number")]
    NotFinite { row: usize, case: usize },
    #[error("resamples must be at least 1")]
    NoResamples,
    #[error("confidence must lie strictly between 0 and 1, got {0}")]
    BadConfidence(f64),
}

/// One row's interval, in the order the rows were given.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RowInterval {
    /// The row's mean over all cases (its score).
    pub mean: f64,
    /// The interval of the mean.
    pub low: f64,
    pub high: f64,
    /// The interval of `row − leader` (0 to 0 for the leader).
    pub diff_low: f64,
    pub diff_high: f64,
    /// This row is the leader (#1).
    pub leader: bool,
    /// Not separable from the leader: the interval of the difference contains 0. False for the
    /// leader itself.
    pub tied_with_leader: bool,
}

/// What a board shows of it: the interval of the mean and whether it is tied with #1.
impl From<&RowInterval> for darkroom_api::ScoreInterval {
    fn from(i: &RowInterval) -> Self {
        Self { low: i.low, high: i.high, tied_with_first: i.tied_with_leader }
    }
}

/// Intervals for every row of a board. `rows[r][i]` is row `r`'s value on case `i`: the caller
/// pairs the rows by case id first (every row must hold the same cases in the same order, e.g.
/// [`CaseValues::values`](super::ladder::CaseValues::values) of rows whose
/// [`check_same_cases`](super::ladder::CaseValues::check_same_cases) passed).
pub fn paired_bootstrap<R: AsRef<[f64]>>(
    rows: &[R],
    direction: Direction,
    config: &BootstrapConfig,
) -> Result<Vec<RowInterval>, BootstrapError> {
    let first = rows.first().ok_or(BootstrapError::NoRows)?.as_ref();
    let n = first.len();
    if n < 2 {
        return Err(BootstrapError::TooFewCases(n));
    }
    if config.resamples == 0 {
        return Err(BootstrapError::NoResamples);
    }
    if !(config.confidence > 0.0 && config.confidence < 1.0) {
        return Err(BootstrapError::BadConfidence(config.confidence));
    }
    for (r, row) in rows.iter().enumerate() {
        let row = row.as_ref();
        if row.len() != n {
            return Err(BootstrapError::RaggedRows { row: r, got: row.len(), expected: n });
        }
        if let Some(case) = row.iter().position(|v| !v.is_finite()) {
            return Err(BootstrapError::NotFinite { row: r, case });
        }
    }
    let means: Vec<f64> = rows.iter().map(|r| r.as_ref().iter().sum::<f64>() / n as f64).collect();
    let leader = (1..means.len()).fold(0, |best, r| if direction.better(means[r], means[best]) { r } else { best });

    let weights = resample_weights(n, config);
    let draws = |row: &[f64]| -> Vec<f64> {
        weights.chunks_exact(n).map(|w| w.iter().zip(row).map(|(w, v)| w * v).sum::<f64>() / n as f64).collect()
    };
    let leader_draws = draws(rows[leader].as_ref());
    let p = (1.0 - config.confidence) / 2.0;
    let interval = |mut d: Vec<f64>| {
        d.sort_by(f64::total_cmp);
        (percentile(&d, p), percentile(&d, 1.0 - p))
    };
    let (leader_low, leader_high) = interval(leader_draws.clone());
    Ok(rows
        .iter()
        .enumerate()
        .map(|(r, row)| {
            if r == leader {
                return RowInterval {
                    mean: means[r],
                    low: leader_low,
                    high: leader_high,
                    diff_low: 0.0,
                    diff_high: 0.0,
                    leader: true,
                    tied_with_leader: false,
                };
            }
            let d = draws(row.as_ref());
            let diff: Vec<f64> = d.iter().zip(&leader_draws).map(|(a, b)| a - b).collect();
            let (low, high) = interval(d);
            let (diff_low, diff_high) = interval(diff);
            RowInterval {
                mean: means[r],
                low,
                high,
                diff_low,
                diff_high,
                leader: false,
                tied_with_leader: diff_low <= 0.0 && 0.0 <= diff_high,
            }
        })
        .collect())
}

/// `resamples × n` weights, resample after resample: how many times each case was drawn.
fn resample_weights(n: usize, config: &BootstrapConfig) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut weights = vec![0.0; config.resamples * n];
    for w in weights.chunks_exact_mut(n) {
        for _ in 0..n {
            w[index(&mut rng, n)] += 1.0;
        }
    }
    weights
}

/// A uniform index below `n` from one `u64` (multiply-shift; bias below n/2⁶⁴).
fn index(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// The `p` percentile of sorted `d`, interpolating linearly at position `(len − 1)·p`.
fn percentile(d: &[f64], p: f64) -> f64 {
    let pos = (d.len() - 1) as f64 * p;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    d[lo] + (d[hi] - d[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng_rows(seed: u64, rows: usize, n: usize, shift: &[f64]) -> Vec<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let base: Vec<f64> = (0..n).map(|_| (rng.next_u32() % 1000) as f64 / 1000.0).collect();
        (0..rows)
            .map(|r| base.iter().map(|b| b + shift[r] + (rng.next_u32() % 100) as f64 / 1000.0).collect())
            .collect()
    }

    #[test]
    fn same_seed_same_intervals_other_seed_other_intervals() {
        let rows = rng_rows(1, 4, 300, &[0.0, 0.01, 0.2, -0.3]);
        let config = BootstrapConfig::default();
        let a = paired_bootstrap(&rows, Direction::HigherIsBetter, &config).unwrap();
        let b = paired_bootstrap(&rows, Direction::HigherIsBetter, &config).unwrap();
        assert_eq!(a, b);
        let c = paired_bootstrap(&rows, Direction::HigherIsBetter, &BootstrapConfig { seed: 7, ..config }).unwrap();
        assert_ne!(a, c);
        // Pinned: a change of generator, index rule or percentile rule shows here.
        let pinned = paired_bootstrap(&[[0.0, 1.0, 0.5, 0.25]], Direction::HigherIsBetter, &config).unwrap();
        assert_eq!((pinned[0].low, pinned[0].high), (0.125, 0.8125), "{pinned:?}");
    }

    #[test]
    fn the_interval_holds_the_mean_and_ties_follow_the_differences() {
        let rows = rng_rows(2, 4, 400, &[0.0, 0.002, 0.2, 0.0]);
        let out = paired_bootstrap(&rows, Direction::HigherIsBetter, &BootstrapConfig::default()).unwrap();
        for r in &out {
            assert!(r.low <= r.mean && r.mean <= r.high, "{r:?}");
        }
        // Row 2 is far ahead: the leader; rows 0, 1 and 3 are 0.2 behind on every case, well
        // separated. Rows 0 and 1 differ by 0.002 against a per-case noise of ±0.05.
        assert!(out[2].leader && !out[2].tied_with_leader);
        assert!(out.iter().filter(|r| r.leader).count() == 1);
        assert!(!out[0].tied_with_leader && !out[1].tied_with_leader && !out[3].tied_with_leader);
        assert!(out[0].diff_high < 0.0);

        let close = rng_rows(3, 2, 400, &[0.0, 0.002]);
        let out = paired_bootstrap(&close, Direction::HigherIsBetter, &BootstrapConfig::default()).unwrap();
        let follower = out.iter().find(|r| !r.leader).unwrap();
        assert!(follower.tied_with_leader, "{out:?}");
    }

    #[test]
    fn lower_is_better_picks_the_lowest_mean_as_leader() {
        let rows = [vec![1.0, 2.0, 3.0], vec![0.0, 0.0, 0.5], vec![0.0, 0.0, 0.5]];
        let out = paired_bootstrap(&rows, Direction::LowerIsBetter, &BootstrapConfig::default()).unwrap();
        assert!(out[1].leader);
        // Identical to the leader on every case: tied.
        assert!(out[2].tied_with_leader);
        assert_eq!((out[2].diff_low, out[2].diff_high), (0.0, 0.0));
        assert!(!out[0].tied_with_leader);
    }

    #[test]
    fn bad_input_is_refused() {
        let c = BootstrapConfig::default();
        let empty: [Vec<f64>; 0] = [];
        assert_eq!(paired_bootstrap(&empty, Direction::HigherIsBetter, &c), Err(BootstrapError::NoRows));
        assert_eq!(paired_bootstrap(&[[1.0]], Direction::HigherIsBetter, &c), Err(BootstrapError::TooFewCases(1)));
        assert_eq!(
            paired_bootstrap(&[vec![1.0, 2.0], vec![1.0]], Direction::HigherIsBetter, &c),
            Err(BootstrapError::RaggedRows { row: 1, got: 1, expected: 2 })
        );
        assert_eq!(
            paired_bootstrap(&[[1.0, f64::INFINITY]], Direction::HigherIsBetter, &c),
            Err(BootstrapError::NotFinite { row: 0, case: 1 })
        );
        let none = BootstrapConfig { resamples: 0, ..c };
        assert_eq!(paired_bootstrap(&[[1.0, 2.0]], Direction::HigherIsBetter, &none), Err(BootstrapError::NoResamples));
        let bad = BootstrapConfig { confidence: 1.0, ..c };
        assert!(matches!(
            paired_bootstrap(&[[1.0, 2.0]], Direction::HigherIsBetter, &bad),
            Err(BootstrapError::BadConfidence(_))
        ));
    }
}
