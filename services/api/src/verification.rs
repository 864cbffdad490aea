//! Verification re-runs (issue 17): an organizer runs a scored submission again, the same
//! participant image on the same fingerprinted data under the same limits and seed, evaluated by
//! the same evaluation image, and compares what comes out with what the receipt says.
//!
//! - `POST /submissions/{id}/verifications` (organizer): starts one; answers 202 with its
//!   [`Verification`] (state `running`).
//! - `GET /verifications/{id}` (organizer): its state, and once it ended its [`RerunReport`]
//!   (or the reason it could not run).
//!
//! A re-run never touches the submission, its score, its receipt or the board: it is a check.
//! The comparison is `darkroom_core::domain::rerun`'s; these are its shapes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{SubmissionId, VerificationId};

/// Where a verification re-run stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationState {
    /// Requested; the run or its evaluation is under way.
    Running,
    /// Ran and was evaluated: the report says how it compares.
    Complete,
    /// Could not run or be evaluated (the upload expired, the evaluation failed…): `reason` says
    /// why. Nothing was compared.
    Failed,
}

/// One verification re-run as the organizer reads it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub id: VerificationId,
    pub submission_id: SubmissionId,
    pub challenge: String,
    pub state: VerificationState,
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed (state `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How the re-run compares with the receipt (state `complete`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<RerunReport>,
}

/// The outcome of a comparison, from the best to the worst.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RerunVerdict {
    /// The re-run's `score.json` has the very bytes the original's had.
    Identical,
    /// The bytes differ, but every metric is within the tolerance its spec declares.
    WithinTolerance,
    /// At least one metric differs by more than its tolerance (none declared: any difference).
    Different,
    /// The re-run did not run under the receipt's conditions (another image, evaluation image,
    /// dataset, limits or sandbox policy), so its numbers prove nothing about the original's.
    NotComparable,
}

/// How a re-run compares with the original score and its receipt.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerunReport {
    pub verdict: RerunVerdict,
    /// Whether `score.json` came out byte for byte the same.
    pub score_json_identical: bool,
    /// Hex SHA-256 of the original's `score.json` and of the re-run's.
    pub original_score_json_sha256: String,
    pub rerun_score_json_sha256: String,
    /// Every metric of both splits, public first, each once.
    pub metrics: Vec<MetricComparison>,
    /// The receipt's conditions of the run and what the re-run had.
    pub conditions: Vec<Condition>,
}

/// One metric, originally and on the re-run.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    pub name: String,
    /// `public` or `private`.
    pub split: String,
    /// Absent where that run did not write the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<f64>,
    /// `|rerun - original|`, where both exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<f64>,
    /// The metric's `rerun_tolerance` from the spec (0 when none is declared).
    pub tolerance: f64,
    pub within: bool,
}

/// One condition the receipt states about the run, and whether the re-run met it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// What is compared: `image_digest`, `evaluation_image_id`, `dataset_fingerprint`, `limits`,
    /// `sandbox_policy`.
    pub name: String,
    pub original: String,
    pub rerun: String,
    pub same: bool,
}
