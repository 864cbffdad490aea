//! A phase's end: final selections (`GET`/`PUT /challenges/{slug}/phases/{phase}/selections`),
//! the organizer's early close and manual reveal (`POST …/close`, `POST …/reveal`), and the
//! private board (`GET …/private-board`), sealed by a commitment until the reveal.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::challenge::Direction;
use crate::ids::SubmissionId;
use crate::leaderboard::ScoreInterval;

/// `PUT /challenges/{slug}/phases/{phase}/selections`: replaces the caller's final selections.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectionsRequest {
    /// At most the phase's `final_selections`; an empty list clears them (the platform then
    /// uses the N best by public score).
    pub submissions: Vec<SubmissionId>,
}

/// A participant's final selections in a phase.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selections {
    pub challenge: String,
    pub phase: String,
    /// The phase's `final_selections`: how many may be selected.
    pub limit: u32,
    /// Selected submissions, oldest selection first.
    pub submissions: Vec<SubmissionId>,
    /// The selections can no longer change (the phase ended or was closed).
    pub closed: bool,
}

/// The committed private board: rows in private rank order. Its canonical JSON is exactly what
/// the commitment covers (`darkroom_core::domain::commitment`): recompute
/// `SHA-256(salt ‖ canonical bytes)` over it to check a reveal.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalBoard {
    pub rows: Vec<FinalBoardRow>,
}

/// One participant's line on the private board: their best final selection by the private
/// score, with their rank on the public board beside it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalBoardRow {
    pub rank: u32,
    /// The participant's (or team's) name as shown.
    pub participant: String,
    pub submission_id: String,
    /// Private metrics (the whole score where the phase has no private split).
    pub metrics: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_rank: Option<u32>,
}

/// A revealed row's 95 % paired-bootstrap interval, the same [`ScoreInterval`] the public board
/// shows, beside the committed board (not committed itself: it is computed from the sealed
/// per-case values with a fixed seed, so it is reproducible).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowInterval {
    /// The row it belongs to.
    pub rank: u32,
    #[serde(flatten)]
    pub interval: ScoreInterval,
}

/// `GET /challenges/{slug}/phases/{phase}/private-board` (and the answer of close / reveal).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PrivateBoard {
    /// The phase has not closed yet.
    Open { challenge: String, phase: String, ends_at: DateTime<Utc> },
    /// Closed; the board is committed but not revealed. Only the organizer gets `board`.
    Sealed {
        challenge: String,
        phase: String,
        commitment: String,
        closed_at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        board: Option<FinalBoard>,
    },
    /// Revealed: anyone can check `board` and `salt` against `commitment`.
    Revealed {
        challenge: String,
        phase: String,
        rank_by: String,
        direction: Direction,
        board: FinalBoard,
        salt: String,
        commitment: String,
        closed_at: DateTime<Utc>,
        revealed_at: DateTime<Utc>,
        /// Bootstrap intervals where the evaluation wrote per-case values (see the README for
        /// the caps); absent otherwise.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        intervals: Vec<RowInterval>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keep_their_wire_spelling() {
        let at: DateTime<Utc> = "2028-01-02T03:04:05Z".parse().unwrap();
        let sealed = PrivateBoard::Sealed {
            challenge: "c".into(),
            phase: "main".into(),
            commitment: "ab".into(),
            closed_at: at,
            board: None,
        };
        assert_eq!(
            serde_json::to_string(&sealed).unwrap(),
            r#"{"state":"sealed","challenge":"c","phase":"main","commitment":"ab","closed_at":"2028-01-02T03:04:05Z"}"#
        );
        let row = FinalBoardRow {
            rank: 1,
            participant: "Ada".into(),
            submission_id: "s".into(),
            metrics: BTreeMap::from([("accuracy".into(), 0.5)]),
            public_rank: None,
        };
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"rank":1,"participant":"Ada","submission_id":"s","metrics":{"accuracy":0.5}}"#
        );
    }
}
