//! A phase's ranking (`GET /challenges/{slug}/leaderboard[?phase=]`) and the live feed's
//! message that a new score is in.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::challenge::Direction;
use crate::ids::SubmissionId;

/// `GET /challenges/{slug}/leaderboard[?phase=]`; the current (or last) phase when absent.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderboardQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The evaluator generation to read (`?evaluator=N`; see [`crate::rescore`]); the phase's
    /// current one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluator: Option<u32>,
}

/// The best score of each participant in one phase, best first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    pub challenge: String,
    pub phase: String,
    pub rank_by: String,
    pub direction: Direction,
    pub entries: Vec<LeaderboardEntry>,
    /// In `rounded` feedback, the phase's decimals: every value has at most this many, and
    /// clients print exactly this many (absent in `raw` and `ladder`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    /// The head of the challenge's receipt chain when the board was read (absent: no receipt
    /// yet). A verifier checks the chain it walks reaches this head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<crate::receipt::ChainHead>,
    /// The evaluator generation the rows come from (absent: 1, the board as scored
    /// originally). Its rows are backed by that generation's receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluator: Option<u32>,
    /// The phase's board generations when a rescore made more than one (absent otherwise),
    /// so a previous one stays discoverable (`?evaluator=N`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generations: Vec<crate::rescore::BoardGeneration>,
}

impl Leaderboard {
    /// The evaluator generation of its rows (1 when the board does not say).
    pub fn generation(&self) -> u32 {
        self.evaluator.unwrap_or(1)
    }
}

/// One participant's line.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardEntry {
    pub rank: u32,
    /// The participant's name (`(unknown)` when the record is gone).
    pub participant: String,
    pub team: Option<String>,
    /// The submission whose score this is.
    pub submission_id: SubmissionId,
    pub metrics: BTreeMap<String, f64>,
    /// How many of the participant's submissions were scored in the phase.
    pub submissions: u32,
    /// Cut to the whole second where the challenge hides logs.
    pub submitted_at: DateTime<Utc>,
    pub scored_at: DateTime<Utc>,
    /// The 95 % paired-bootstrap interval of the ranking metric, on the public board in `raw`
    /// feedback where the evaluation wrote per-case values (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<ScoreInterval>,
}

impl LeaderboardEntry {
    /// Who the line is, for people: the team with the member whose score it is, or the
    /// participant.
    pub fn entrant(&self) -> String {
        match &self.team {
            Some(team) => format!("{team} ({})", self.participant),
            None => self.participant.clone(),
        }
    }
}

/// A row's 95 % paired-bootstrap interval (seeded, so the same board always shows the same
/// intervals) and whether it cannot be told apart from #1.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreInterval {
    pub low: f64,
    pub high: f64,
    /// The interval of this row's difference from #1 holds 0 (never true for #1 itself).
    pub tied_with_first: bool,
}

/// The live feed's message (a server-sent `score` event on the pages' `/live/{slug}`): a score
/// was recorded for this challenge and phase.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreUpdate {
    pub challenge: String,
    pub phase: String,
    pub submission_id: SubmissionId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_board_keeps_its_wire_spelling() {
        let at: DateTime<Utc> = "2028-01-02T03:04:05Z".parse().unwrap();
        let board = Leaderboard {
            challenge: "c".into(),
            phase: "dev".into(),
            rank_by: "accuracy".into(),
            direction: Direction::HigherIsBetter,
            entries: vec![LeaderboardEntry {
                rank: 1,
                participant: "Ada".into(),
                team: None,
                submission_id: "0190a7c2-5b1e-7c3d-8e4f-0123456789ab".parse().unwrap(),
                metrics: BTreeMap::from([("accuracy".into(), 0.5)]),
                submissions: 2,
                submitted_at: at,
                scored_at: at,
                interval: None,
            }],
            decimals: None,
            chain: None,
            evaluator: None,
            generations: Vec::new(),
        };
        let json = serde_json::to_string(&board).unwrap();
        assert_eq!(
            json,
            r#"{"challenge":"c","phase":"dev","rank_by":"accuracy","direction":"higher_is_better","entries":[{"rank":1,"participant":"Ada","team":null,"submission_id":"0190a7c2-5b1e-7c3d-8e4f-0123456789ab","metrics":{"accuracy":0.5},"submissions":2,"submitted_at":"2028-01-02T03:04:05Z","scored_at":"2028-01-02T03:04:05Z"}]}"#
        );
        assert_eq!(serde_json::from_str::<Leaderboard>(&json).unwrap(), board);
        let mut with = board.clone();
        with.entries[0].interval = Some(ScoreInterval { low: 0.25, high: 0.75, tied_with_first: false });
        let json = serde_json::to_string(&with).unwrap();
        assert!(json.ends_with(r#""interval":{"low":0.25,"high":0.75,"tied_with_first":false}}]}"#), "{json}");
        assert_eq!(serde_json::from_str::<Leaderboard>(&json).unwrap(), with);
    }
}
