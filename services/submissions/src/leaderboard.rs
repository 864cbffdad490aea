//! Where leaderboards come from: the score store the evaluator writes (MongoDB), and the
//! rendered boards this service keeps until a new score moves the phase's version.
//!
//! The store is behind a trait so the API does not care where scores live and unit tests can
//! use a fake.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use bytes::Bytes;
use darkroom_api::{ChainHead, ReceiptKey, SignedReceipt, VerificationId};
pub use darkroom_core::domain::Cases;
pub use darkroom_core::scores::{BestScore, ScoreDocument};
use darkroom_core::scores::{Rescore, SealedScore, Started, StoredVerification};

/// Reads ranked scores: best per participant in a phase, ordered by the ranking metric.
#[async_trait::async_trait]
pub trait ScoreStore: Send + Sync {
    async fn leaderboard(&self, challenge: &str, phase: &str, limit: usize) -> anyhow::Result<Vec<BestScore>>;

    /// Moves whenever a score of the phase is recorded.
    async fn board_version(&self, challenge: &str, phase: &str) -> anyhow::Result<i64>;

    /// Every score of a phase (one participant's when given), public split only, in the order
    /// they were scored.
    async fn phase_scores(
        &self,
        challenge: &str,
        phase: &str,
        participant: Option<&str>,
    ) -> anyhow::Result<Vec<ScoreDocument>>;

    /// Public per-case values of submissions, by submission id (absent: none written), the
    /// private split not fetched.
    async fn public_cases(&self, submission_ids: &[String]) -> anyhow::Result<HashMap<String, Cases>>;

    /// Every score of the phase with its sealed private split, per participant id. For closing
    /// a phase only.
    async fn private_scores(&self, challenge: &str, phase: &str) -> anyhow::Result<BTreeMap<String, Vec<SealedScore>>>;

    /// A submission's sealed per-case values, if its evaluation wrote any. For closing a phase.
    async fn cases(&self, submission_id: &str) -> anyhow::Result<Option<Cases>>;

    /// The public keys receipts are signed with (none in a store that keeps no receipts).
    async fn receipt_keys(&self) -> anyhow::Result<Vec<ReceiptKey>> {
        Ok(Vec::new())
    }

    /// A submission's receipt, if its score has one.
    async fn receipt(&self, _submission_id: &str) -> anyhow::Result<Option<SignedReceipt>> {
        Ok(None)
    }

    /// Up to `limit` receipts of a challenge's chain after place `after`, in order.
    async fn chain(&self, _challenge: &str, _after: u64, _limit: u32) -> anyhow::Result<Vec<SignedReceipt>> {
        Ok(Vec::new())
    }

    /// The head of a challenge's chain.
    async fn chain_head(&self, _challenge: &str) -> anyhow::Result<Option<ChainHead>> {
        Ok(None)
    }

    /// The receipt hash of each of these submissions that has one.
    async fn receipt_hashes(&self, _submission_ids: &[String]) -> anyhow::Result<HashMap<String, String>> {
        Ok(HashMap::new())
    }

    /// A verification re-run's result, once the evaluator stored one. Organizer only.
    async fn verification(&self, _id: VerificationId) -> anyhow::Result<Option<StoredVerification>> {
        Ok(None)
    }

    // Rescores (issue 17, see crate::rescore and docs/rescore.md): evaluator generations of a
    // phase's board. A store without them (the unit tests' fakes) has generation 1 only.

    /// The generation the phase's board shows (1 until a rescore switched it).
    async fn board_head(&self, _challenge: &str, _phase: &str) -> anyhow::Result<u32> {
        Ok(1)
    }

    /// This store at another generation; `None` where generations do not exist.
    fn at_generation(&self, _generation: u32) -> Option<std::sync::Arc<dyn ScoreStore>> {
        None
    }

    /// Every rescore of a phase, oldest first.
    async fn rescores(&self, _challenge: &str, _phase: &str) -> anyhow::Result<Vec<Rescore>> {
        Ok(Vec::new())
    }

    /// The submissions scored in this generation of the phase.
    async fn scored_ids(&self, _challenge: &str, _phase: &str) -> anyhow::Result<std::collections::HashSet<String>> {
        Ok(Default::default())
    }

    /// Each score of this generation of the phase, with its kept finished run (JSON) if any.
    async fn kept_runs(&self, _challenge: &str, _phase: &str) -> anyhow::Result<Vec<(String, Option<String>)>> {
        Ok(Vec::new())
    }

    /// Records a requested rescore.
    async fn start_rescore(&self, _rescore: &Rescore) -> anyhow::Result<Started> {
        anyhow::bail!("this score store keeps no rescores")
    }

    /// Lists a submission as failed in a rescore.
    async fn rescore_failed(
        &self,
        _challenge: &str,
        _phase: &str,
        _generation: u32,
        _submission_id: &str,
        _reason: &str,
    ) -> anyhow::Result<()> {
        Ok(())
    }

    /// Switches the board if the rescore is complete (or marks it incomplete).
    async fn try_switch(&self, _challenge: &str, _phase: &str, _generation: u32) -> anyhow::Result<Option<Rescore>> {
        Ok(None)
    }
}

#[async_trait::async_trait]
impl ScoreStore for darkroom_core::scores::ScoreStore {
    async fn leaderboard(&self, challenge: &str, phase: &str, limit: usize) -> anyhow::Result<Vec<BestScore>> {
        Ok(darkroom_core::scores::ScoreStore::leaderboard(self, challenge, phase, limit).await?)
    }

    async fn board_version(&self, challenge: &str, phase: &str) -> anyhow::Result<i64> {
        Ok(darkroom_core::scores::ScoreStore::board_version(self, challenge, phase).await?)
    }

    async fn phase_scores(
        &self,
        challenge: &str,
        phase: &str,
        participant: Option<&str>,
    ) -> anyhow::Result<Vec<ScoreDocument>> {
        Ok(darkroom_core::scores::ScoreStore::phase_scores(self, challenge, phase, participant).await?)
    }

    async fn public_cases(&self, submission_ids: &[String]) -> anyhow::Result<HashMap<String, Cases>> {
        Ok(darkroom_core::scores::ScoreStore::public_cases(self, submission_ids).await?)
    }

    async fn private_scores(&self, challenge: &str, phase: &str) -> anyhow::Result<BTreeMap<String, Vec<SealedScore>>> {
        Ok(darkroom_core::scores::ScoreStore::private_scores(self, challenge, phase).await?)
    }

    async fn cases(&self, submission_id: &str) -> anyhow::Result<Option<Cases>> {
        Ok(darkroom_core::scores::ScoreStore::cases(self, submission_id).await?)
    }

    async fn receipt_keys(&self) -> anyhow::Result<Vec<ReceiptKey>> {
        Ok(darkroom_core::scores::ScoreStore::receipt_keys(self).await?)
    }

    async fn receipt(&self, submission_id: &str) -> anyhow::Result<Option<SignedReceipt>> {
        Ok(darkroom_core::scores::ScoreStore::receipt(self, submission_id).await?)
    }

    async fn chain(&self, challenge: &str, after: u64, limit: u32) -> anyhow::Result<Vec<SignedReceipt>> {
        Ok(darkroom_core::scores::ScoreStore::chain(self, challenge, after, limit).await?)
    }

    async fn chain_head(&self, challenge: &str) -> anyhow::Result<Option<ChainHead>> {
        Ok(darkroom_core::scores::ScoreStore::chain_head(self, challenge).await?)
    }

    async fn receipt_hashes(&self, submission_ids: &[String]) -> anyhow::Result<HashMap<String, String>> {
        Ok(darkroom_core::scores::ScoreStore::receipt_hashes(self, submission_ids).await?)
    }

    async fn verification(&self, id: VerificationId) -> anyhow::Result<Option<StoredVerification>> {
        Ok(darkroom_core::scores::ScoreStore::verification(self, id).await?)
    }

    async fn board_head(&self, challenge: &str, phase: &str) -> anyhow::Result<u32> {
        Ok(darkroom_core::scores::ScoreStore::board_head(self, challenge, phase).await?)
    }

    fn at_generation(&self, generation: u32) -> Option<std::sync::Arc<dyn ScoreStore>> {
        Some(std::sync::Arc::new(darkroom_core::scores::ScoreStore::generation(self, generation)))
    }

    async fn rescores(&self, challenge: &str, phase: &str) -> anyhow::Result<Vec<Rescore>> {
        Ok(darkroom_core::scores::ScoreStore::rescores(self, challenge, phase).await?)
    }

    async fn scored_ids(&self, challenge: &str, phase: &str) -> anyhow::Result<std::collections::HashSet<String>> {
        Ok(darkroom_core::scores::ScoreStore::scored_ids(self, challenge, phase).await?)
    }

    async fn kept_runs(&self, challenge: &str, phase: &str) -> anyhow::Result<Vec<(String, Option<String>)>> {
        Ok(darkroom_core::scores::ScoreStore::kept_runs(self, challenge, phase).await?)
    }

    async fn start_rescore(&self, rescore: &Rescore) -> anyhow::Result<Started> {
        Ok(darkroom_core::scores::ScoreStore::start_rescore(self, rescore).await?)
    }

    async fn rescore_failed(
        &self,
        challenge: &str,
        phase: &str,
        generation: u32,
        submission_id: &str,
        reason: &str,
    ) -> anyhow::Result<()> {
        Ok(darkroom_core::scores::ScoreStore::rescore_failed(self, challenge, phase, generation, submission_id, reason)
            .await?)
    }

    async fn try_switch(&self, challenge: &str, phase: &str, generation: u32) -> anyhow::Result<Option<Rescore>> {
        Ok(darkroom_core::scores::ScoreStore::try_switch(self, challenge, phase, generation).await?)
    }
}

/// What a rendered board depends on besides its scores: the phase's score version and the
/// parts of the challenge that shape the answer (the ranking metric and its direction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub version: i64,
    pub shape: String,
}

/// Rendered leaderboards (the JSON body) by challenge and phase, one per phase. Viewers of a
/// live board ask far more often than scores arrive, so a request costs one version read
/// instead of the board query, the participant names and the serialisation.
#[derive(Default)]
pub struct BoardCache {
    boards: Mutex<HashMap<(String, String), (Stamp, Bytes)>>,
    /// Held while a `rounded` or `ladder` board is replayed from every score of its phase (a few
    /// hundred ms per 2,000 scores): viewers arriving meanwhile wait and take it from the cache
    /// instead of replaying it again each.
    pub replaying: tokio::sync::Mutex<()>,
}

impl BoardCache {
    pub fn get(&self, challenge: &str, phase: &str, stamp: &Stamp) -> Option<Bytes> {
        let boards = self.boards.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        boards.get(&(challenge.to_owned(), phase.to_owned())).filter(|(s, _)| s == stamp).map(|(_, body)| body.clone())
    }

    /// Keeps `body` for `stamp`. Rendered after reading the version, so a score recorded
    /// meanwhile at worst costs one more rendering, never a stale board.
    pub fn put(&self, challenge: &str, phase: &str, stamp: Stamp, body: Bytes) {
        let mut boards = self.boards.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        boards.insert((challenge.to_owned(), phase.to_owned()), (stamp, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(version: i64, shape: &str) -> Stamp {
        Stamp { version, shape: shape.into() }
    }

    #[test]
    fn a_board_is_served_until_its_version_or_shape_moves() {
        let cache = BoardCache::default();
        assert!(cache.get("c", "dev", &stamp(1, "accuracy")).is_none());
        cache.put("c", "dev", stamp(1, "accuracy"), Bytes::from_static(b"one"));
        assert_eq!(cache.get("c", "dev", &stamp(1, "accuracy")).as_deref(), Some(&b"one"[..]));
        assert!(cache.get("c", "dev", &stamp(2, "accuracy")).is_none(), "a new score invalidates");
        assert!(cache.get("c", "dev", &stamp(1, "auc")).is_none(), "a new ranking metric invalidates");
        assert!(cache.get("c", "final", &stamp(1, "accuracy")).is_none(), "phases are apart");
        cache.put("c", "dev", stamp(2, "accuracy"), Bytes::from_static(b"two"));
        assert_eq!(cache.get("c", "dev", &stamp(2, "accuracy")).as_deref(), Some(&b"two"[..]));
    }
}
