//! The Ladder (Blum & Hardt, "The Ladder: A Reliable Leaderboard for Machine Learning
//! Competitions", ICML 2015), parameter-free variant: the public feedback a participant gets
//! when a phase's feedback mode is `ladder`.
//!
//! Each participant has a ladder submission (the last one whose score was released) with its
//! per-case values and its released score. A new submission's score is released only if it
//! beats the released score by more than the standard error of the paired per-case differences
//! against the ladder submission, one-sided:
//!
//! ```text
//! d_i  = gain_i(new) − gain_i(ladder)      for every case i (paired by case id)
//! s    = std(d) / sqrt(n)                  (sample standard deviation, n − 1 denominator)
//! release  ⇔  mean(gain(new)) − mean(gain(ladder)) > s
//! ```
//!
//! where `gain` is the value itself when higher is better and its negation when lower is
//! better. The first submission is always released (the paper starts from an infinite loss).
//! Otherwise the participant keeps the previous released score, with the note
//! [`NO_SIGNIFICANT_IMPROVEMENT`], and the ladder submission does not change.
//!
//! **What is released.** Algorithm 1 of the paper (fixed step η) releases the new loss rounded
//! to the nearest multiple of η; the parameter-free variant drops the step and releases the
//! fresh empirical loss, rounded only to a multiple of 1/n — which, for a mean of 0/1 losses
//! over n cases, is the value itself. The authors' reference implementation (Ladder.jl) releases
//! it unrounded. We take that reading: the released score is the new submission's mean per-case
//! value, unrounded. (I read Algorithm 1 and the reference implementation; I did not have the
//! text of the parameter-free algorithm itself, so the 1/n reading comes from the paper as
//! summarised, and the code follows the reference implementation.)
//!
//! **The score is the mean of the per-case values** given here (the ranking metric declared
//! `aggregate = "mean"`), computed here, so the released value and the test agree with each
//! other exactly; the caller should store it as the submission's public feedback score.
//!
//! Pure: no I/O, no clock, no randomness. [`Ladder`] is serde-serialisable so a service can
//! keep one per participant (per team once teams exist) beside the scores.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::Direction;

/// The note shown with a submission whose score was not released.
pub const NO_SIGNIFICANT_IMPROVEMENT: &str = "no significant improvement";

/// Why per-case values cannot be used.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LadderError {
    /// Fewer than two cases: no standard deviation of the differences exists.
    #[error("the Ladder needs at least 2 cases, got {0}")]
    TooFewCases(usize),
    /// The same case id twice in one submission's values.
    #[error("case {0:?} appears more than once")]
    DuplicateCase(String),
    /// A value that is NaN or infinite.
    #[error("case {case:?} has a value that is not a finite number ({value})")]
    NotFinite { case: String, value: f64 },
    /// The new submission's cases differ from the ladder submission's.
    #[error("the cases differ from the ladder submission's: {}", describe_mismatch(missing, unexpected))]
    CaseMismatch {
        /// Cases of the ladder submission the new one lacks (sorted).
        missing: Vec<String>,
        /// Cases of the new submission the ladder submission lacks (sorted).
        unexpected: Vec<String>,
    },
}

fn describe_mismatch(missing: &[String], unexpected: &[String]) -> String {
    fn list(what: &str, ids: &[String]) -> Option<String> {
        if ids.is_empty() {
            return None;
        }
        let shown: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
        let more = if ids.len() > 10 { format!(" and {} more", ids.len() - 10) } else { String::new() };
        Some(format!("{} {what} ({}{more})", ids.len(), shown.join(", ")))
    }
    [list("missing", missing), list("unexpected", unexpected)].into_iter().flatten().collect::<Vec<_>>().join("; ")
}

/// One submission's per-case values of the ranking metric, sorted by case id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseValues {
    ids: Vec<String>,
    values: Vec<f64>,
}

impl CaseValues {
    /// Checks and sorts `(case id, value)` pairs: at least 2 cases, ids unique, values finite.
    pub fn new(cases: impl IntoIterator<Item = (String, f64)>) -> Result<Self, LadderError> {
        let mut pairs: Vec<(String, f64)> = cases.into_iter().collect();
        if pairs.len() < 2 {
            return Err(LadderError::TooFewCases(pairs.len()));
        }
        if let Some((case, value)) = pairs.iter().find(|(_, v)| !v.is_finite()) {
            return Err(LadderError::NotFinite { case: case.clone(), value: *value });
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(LadderError::DuplicateCase(w[0].0.clone()));
        }
        let (ids, values) = pairs.into_iter().unzip();
        Ok(Self { ids, values })
    }

    /// The case ids, sorted.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The values, in the order of [`ids`](Self::ids).
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Number of cases (at least 2).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Always false: a `CaseValues` holds at least 2 cases.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The mean value: the score these cases give.
    pub fn mean(&self) -> f64 {
        self.values.iter().sum::<f64>() / self.values.len() as f64
    }

    /// Fails with the missing and unexpected cases unless `other` holds exactly these cases.
    pub fn check_same_cases(&self, other: &CaseValues) -> Result<(), LadderError> {
        if self.ids == other.ids {
            return Ok(());
        }
        let missing = sorted_difference(&self.ids, &other.ids);
        let unexpected = sorted_difference(&other.ids, &self.ids);
        Err(LadderError::CaseMismatch { missing, unexpected })
    }
}

/// Ids in sorted `a` and not in sorted `b`.
fn sorted_difference(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().filter(|id| b.binary_search(id).is_err()).cloned().collect()
}

/// Why a submission's score was or was not released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    /// The participant's first submission: always released.
    First,
    /// Better than the ladder score by more than the standard error: released.
    Improved,
    /// Not better by more than the standard error: the previous score stands.
    NoSignificantImprovement,
}

/// What the Ladder says about one new submission.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LadderOutcome {
    /// The score the participant and the board see after this submission.
    pub released: f64,
    /// This submission's own score (mean of its values). Never shown to the participant
    /// unless `release` is not [`Release::NoSignificantImprovement`], where it equals
    /// `released`.
    pub fresh: f64,
    /// The standard error of the paired differences the improvement had to beat (`None` for
    /// the first submission).
    pub standard_error: Option<f64>,
    pub release: Release,
}

impl LadderOutcome {
    /// True when this submission's score was released (it is the new ladder submission).
    pub fn released_new_score(&self) -> bool {
        self.release != Release::NoSignificantImprovement
    }

    /// The note to show beside the score: [`NO_SIGNIFICANT_IMPROVEMENT`] when it was kept.
    pub fn note(&self) -> Option<&'static str> {
        (self.release == Release::NoSignificantImprovement).then_some(NO_SIGNIFICANT_IMPROVEMENT)
    }
}

/// One participant's ladder: the ladder submission's values and its released score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ladder {
    direction: Direction,
    current: Option<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Step {
    score: f64,
    cases: CaseValues,
}

impl Ladder {
    /// An empty ladder (no submission yet) for a metric ranked in `direction`.
    pub fn new(direction: Direction) -> Self {
        Self { direction, current: None }
    }

    /// The released score, if any submission was made.
    pub fn released(&self) -> Option<f64> {
        self.current.as_ref().map(|s| s.score)
    }

    /// The ladder submission's per-case values.
    pub fn current_cases(&self) -> Option<&CaseValues> {
        self.current.as_ref().map(|s| &s.cases)
    }

    /// Takes a new submission's per-case values: releases its score or keeps the previous one.
    /// The ladder is unchanged on error.
    pub fn submit(&mut self, cases: CaseValues) -> Result<LadderOutcome, LadderError> {
        let fresh = cases.mean();
        let Some(current) = &self.current else {
            self.current = Some(Step { score: fresh, cases });
            return Ok(LadderOutcome { released: fresh, fresh, standard_error: None, release: Release::First });
        };
        current.cases.check_same_cases(&cases)?;
        let sign = match self.direction {
            Direction::HigherIsBetter => 1.0,
            Direction::LowerIsBetter => -1.0,
        };
        let standard_error = paired_standard_error(cases.values(), current.cases.values());
        let improvement = sign * (fresh - current.score);
        if improvement > standard_error {
            self.current = Some(Step { score: fresh, cases });
            Ok(LadderOutcome {
                released: fresh,
                fresh,
                standard_error: Some(standard_error),
                release: Release::Improved,
            })
        } else {
            Ok(LadderOutcome {
                released: current.score,
                fresh,
                standard_error: Some(standard_error),
                release: Release::NoSignificantImprovement,
            })
        }
    }
}

/// std(a − b) / sqrt(n), with the sample (n − 1) standard deviation; `a` and `b` paired and at
/// least 2 long. The sign of the differences does not matter, so neither does the direction.
pub fn paired_standard_error(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len() as f64;
    let mean = a.iter().zip(b).map(|(x, y)| x - y).sum::<f64>() / n;
    let ss: f64 = a.iter().zip(b).map(|(x, y)| (x - y - mean).powi(2)).sum();
    (ss / (n - 1.0)).sqrt() / n.sqrt()
}

#[cfg(test)]
#[path = "ladder_tests.rs"]
mod tests;
