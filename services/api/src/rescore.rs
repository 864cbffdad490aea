//! Re-scoring a phase with a new evaluation image (issue 17): the organizer's request, its
//! progress, and the board generations a leaderboard lists. See `docs/rescore.md`.

use serde::{Deserialize, Serialize};

use crate::ids::SubmissionId;

/// `POST /challenges/{slug}/phases/{phase}/rescores`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RescoreRequest {
    /// The new evaluation image's name on the evaluators' engine; pinned to its id now.
    pub evaluation_image: String,
}

/// Where a rescore stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RescoreState {
    /// Submissions are being evaluated again; the board still shows the previous generation.
    Running,
    /// Every submission was re-scored and the board shows this generation.
    Switched,
    /// Every submission was tried and some failed (listed): the board did not switch.
    Incomplete,
}

impl RescoreState {
    pub fn as_str(self) -> &'static str {
        match self {
            RescoreState::Running => "running",
            RescoreState::Switched => "switched",
            RescoreState::Incomplete => "incomplete",
        }
    }
}

/// A submission the rescore could not score.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RescoreFailure {
    pub submission_id: SubmissionId,
    pub reason: String,
}

/// A rescore's progress (`GET /challenges/{slug}/phases/{phase}/rescores`, and the answer to
/// the request).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescoreProgress {
    pub challenge: String,
    pub phase: String,
    /// The board generation it records into (the original board is generation 1).
    pub generation: u32,
    pub from_generation: u32,
    pub evaluation_image: String,
    pub evaluation_image_id: String,
    pub state: RescoreState,
    /// Submissions of the previous generation to score again (grows if scores arrive while it
    /// runs: those are rescored too).
    pub total: u64,
    pub scored: u64,
    pub failed: Vec<RescoreFailure>,
    pub requested_at: chrono::DateTime<chrono::Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switched_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every rescore of a phase, oldest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescoreList {
    pub rescores: Vec<RescoreProgress>,
}

/// One evaluator generation of a phase's board, as a leaderboard lists them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardGeneration {
    pub generation: u32,
    /// The evaluation image that scored it (absent for generation 1: the challenge's image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_image_id: Option<String>,
    /// `current` (what the board shows by default), `previous`, or a rescore's state.
    pub state: String,
    /// Submissions scored in it.
    pub scored: u64,
    /// Submissions its rescore could not score.
    pub failed: u64,
}
