//! Where leaderboards come from: the score store the evaluator writes (MongoDB).
//!
//! Behind a trait so the API does not care where scores live and unit tests can use a fake.

use darkroom_core::domain::Direction;
pub use darkroom_core::scores::BestScore;

/// Reads ranked scores: best per participant in a phase, ordered by the ranking metric.
#[async_trait::async_trait]
pub trait ScoreStore: Send + Sync {
    async fn leaderboard(
        &self,
        challenge: &str,
        phase: &str,
        direction: Direction,
        limit: usize,
    ) -> anyhow::Result<Vec<BestScore>>;
}

#[async_trait::async_trait]
impl ScoreStore for darkroom_core::scores::ScoreStore {
    async fn leaderboard(
        &self,
        challenge: &str,
        phase: &str,
        direction: Direction,
        limit: usize,
    ) -> anyhow::Result<Vec<BestScore>> {
        Ok(darkroom_core::scores::ScoreStore::leaderboard(self, challenge, phase, direction, limit).await?)
    }
}
