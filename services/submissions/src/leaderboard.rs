//! Where leaderboards come from: the score store the evaluator writes.
//!
//! The store is behind a trait so the API does not care where scores live. Until the evaluator
//! runner writes scores (the MongoDB store arrives with it), [`NoScoresYet`] answers every
//! leaderboard with no entries.

use chrono::{DateTime, Utc};
use darkroom_core::domain::Direction;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaderboardEntry {
    pub rank: u32,
    pub participant: String,
    pub team: Option<String>,
    pub submission_id: String,
    pub metrics: std::collections::BTreeMap<String, f64>,
    pub submissions: u32,
    pub scored_at: DateTime<Utc>,
}

/// Reads ranked scores: best per participant in a phase, ordered by `rank_by` in `direction`.
#[async_trait::async_trait]
pub trait ScoreStore: Send + Sync {
    async fn leaderboard(
        &self,
        challenge: &str,
        phase: &str,
        rank_by: &str,
        direction: Direction,
    ) -> anyhow::Result<Vec<LeaderboardEntry>>;
}

/// The store used before any evaluator writes scores: every leaderboard is empty.
pub struct NoScoresYet;

#[async_trait::async_trait]
impl ScoreStore for NoScoresYet {
    async fn leaderboard(&self, _: &str, _: &str, _: &str, _: Direction) -> anyhow::Result<Vec<LeaderboardEntry>> {
        Ok(Vec::new())
    }
}
