//! How the top of a phase's board got there (`GET /challenges/{slug}/leaderboard/history`):
//! for each of the board's first [`HISTORY_TOP`] lines, the entrant's best score after each
//! time it improved, as the board showed it then. The pages draw it as a chart.
//!
//! Values are the phase's feedback values (rounded on the server in `rounded` feedback, the
//! ladder's released scores in `ladder`): a chart never shows a digit the board would not.
//! Times are cut to the whole second where the challenge hides logs, as on the board.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::challenge::Direction;
use crate::ids::SubmissionId;

/// How many of the board's lines a history follows.
pub const HISTORY_TOP: usize = 10;

/// The history of a phase's top lines, in the board's order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardHistory {
    pub challenge: String,
    pub phase: String,
    pub rank_by: String,
    pub direction: Direction,
    /// As on the board: in `rounded` feedback, the decimals every value has at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    pub series: Vec<HistorySeries>,
}

/// One board line's best score over time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistorySeries {
    /// The line's rank on the board now.
    pub rank: u32,
    pub participant: String,
    pub team: Option<String>,
    /// Oldest first; a point each time the best score improved, the last one the board's value.
    pub points: Vec<HistoryPoint>,
}

impl HistorySeries {
    /// Who the line is, for people (as [`crate::LeaderboardEntry::entrant`]).
    pub fn entrant(&self) -> String {
        match &self.team {
            Some(team) => format!("{team} ({})", self.participant),
            None => self.participant.clone(),
        }
    }
}

/// A new best: when it was scored, its value of the ranking metric, and which submission it was.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub at: DateTime<Utc>,
    pub value: f64,
    pub submission_id: SubmissionId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_keeps_its_wire_spelling() {
        let history = BoardHistory {
            challenge: "c".into(),
            phase: "dev".into(),
            rank_by: "accuracy".into(),
            direction: Direction::HigherIsBetter,
            decimals: None,
            series: vec![HistorySeries {
                rank: 1,
                participant: "Ada".into(),
                team: None,
                points: vec![HistoryPoint {
                    at: "2028-01-02T03:04:05Z".parse().unwrap(),
                    value: 0.5,
                    submission_id: "0190a7c2-5b1e-7c3d-8e4f-0123456789ab".parse().unwrap(),
                }],
            }],
        };
        let json = serde_json::to_string(&history).unwrap();
        assert_eq!(
            json,
            r#"{"challenge":"c","phase":"dev","rank_by":"accuracy","direction":"higher_is_better","series":[{"rank":1,"participant":"Ada","team":null,"points":[{"at":"2028-01-02T03:04:05Z","value":0.5,"submission_id":"0190a7c2-5b1e-7c3d-8e4f-0123456789ab"}]}]}"#
        );
        assert_eq!(serde_json::from_str::<BoardHistory>(&json).unwrap(), history);
    }
}
