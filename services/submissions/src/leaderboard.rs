//! Where leaderboards come from: the score store the evaluator writes (MongoDB), and the
//! rendered boards this service keeps until a new score moves the phase's version.
//!
//! The store is behind a trait so the API does not care where scores live and unit tests can
//! use a fake.
//!
//! A `raw` board is also kept as its ranked lines ([`BoardCache::ranked`]): when a new score
//! moves the version, the lines the store's change log names are read again and spliced in
//! ([`merge`]) instead of querying the whole sorted board (169 ms at 10,000 participants on
//! the test server), falling back to that query whenever the log cannot vouch for the result.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use darkroom_api::{ChainHead, ReceiptKey, SignedReceipt, VerificationId};
pub use darkroom_core::domain::Cases;
pub use darkroom_core::scores::{BestScore, BoardChanges, RankedLine, ScoreDocument, rank_order};
use darkroom_core::scores::{Rescore, SealedScore, Started, StoredVerification};

/// Reads ranked scores: best per participant in a phase, ordered by the ranking metric.
#[async_trait::async_trait]
pub trait ScoreStore: Send + Sync {
    async fn leaderboard(&self, challenge: &str, phase: &str, limit: usize) -> anyhow::Result<Vec<BestScore>>;

    /// Moves whenever a score of the phase is recorded.
    async fn board_version(&self, challenge: &str, phase: &str) -> anyhow::Result<i64>;

    /// [`ScoreStore::leaderboard`] with each line's ranking key, in [`rank_order`]; `None`
    /// from a store that cannot say (then boards are never brought up to date line by line).
    async fn ranked_leaderboard(
        &self,
        _challenge: &str,
        _phase: &str,
        _limit: usize,
    ) -> anyhow::Result<Option<Vec<RankedLine>>> {
        Ok(None)
    }

    /// The version with the participants whose lines its latest bumps touched. Without a log
    /// (this default), nothing can be brought up to date from it.
    async fn board_changes(&self, challenge: &str, phase: &str) -> anyhow::Result<BoardChanges> {
        Ok(BoardChanges { version: self.board_version(challenge, phase).await?, changed: Vec::new(), complete: false })
    }

    /// The current lines of these participants, in any order.
    async fn board_lines(
        &self,
        _challenge: &str,
        _phase: &str,
        _participants: &[String],
    ) -> anyhow::Result<Vec<RankedLine>> {
        anyhow::bail!("this score store reads no single lines")
    }

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

    async fn ranked_leaderboard(
        &self,
        challenge: &str,
        phase: &str,
        limit: usize,
    ) -> anyhow::Result<Option<Vec<RankedLine>>> {
        Ok(Some(darkroom_core::scores::ScoreStore::ranked_leaderboard(self, challenge, phase, limit).await?))
    }

    async fn board_changes(&self, challenge: &str, phase: &str) -> anyhow::Result<BoardChanges> {
        Ok(darkroom_core::scores::ScoreStore::board_changes(self, challenge, phase).await?)
    }

    async fn board_lines(
        &self,
        challenge: &str,
        phase: &str,
        participants: &[String],
    ) -> anyhow::Result<Vec<RankedLine>> {
        Ok(darkroom_core::scores::ScoreStore::board_lines(self, challenge, phase, participants).await?)
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

/// Most submissions whose public cases [`BoardCache`] keeps.
const CASES_KEPT: usize = 20_000;

/// Most participants whose names [`BoardCache`] keeps.
const NAMES_KEPT: usize = 100_000;

/// A `raw` board's kept top lines and the stamp they reflect.
type Kept = (Stamp, Arc<Vec<RankedLine>>);

/// Rendered leaderboards (the JSON body) by challenge and phase, one per phase. Viewers of a
/// live board ask far more often than scores arrive, so a request costs the reads its stamp
/// needs (the version, the rescores, the teams and the disqualified: indexed reads) instead of
/// the board query, the participant names and the serialisation.
#[derive(Default)]
pub struct BoardCache {
    boards: Mutex<HashMap<(String, String), (Stamp, Bytes)>>,
    /// The top lines of `raw` boards as the store ranks them, with the stamp they reflect (at
    /// least that version: read after it), to bring up to date from the change log.
    ranked: Mutex<HashMap<(String, String), Kept>>,
    /// Public per-case values of shown submissions by generation and submission id (`None`:
    /// it has none), for the intervals of `raw` boards. Final once a submission is on a board:
    /// the evaluator writes cases before the score and nothing after it (see
    /// `darkroom_core::scores::ScoreStore::record_evaluation`), so each is read once instead of
    /// a thousand at every new score.
    cases: Mutex<HashMap<(u32, String), Option<Cases>>>,
    /// Shown participants' names and team labels by id. A participant row is written once, at
    /// registration, and never changed, so each is read once instead of a thousand at every new
    /// score (9 ms of the 20 a board took to render after one at 10,000 participants).
    names: Mutex<HashMap<String, (String, Option<String>)>>,
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

    /// The public cases of these submissions of a generation (those that have some), read from
    /// the store only for submissions not seen before.
    pub async fn public_cases(
        &self,
        store: &dyn ScoreStore,
        generation: u32,
        ids: &[String],
    ) -> anyhow::Result<HashMap<String, Cases>> {
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        {
            let memo = self.cases.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for id in ids {
                match memo.get(&(generation, id.clone())) {
                    Some(Some(cases)) => {
                        out.insert(id.clone(), cases.clone());
                    }
                    Some(None) => {}
                    None => missing.push(id.clone()),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let mut found = store.public_cases(&missing).await?;
        let mut memo = self.cases.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bounded: a few boards' worth; starting over costs one full read per board.
        if memo.len() + missing.len() > CASES_KEPT {
            memo.clear();
        }
        for id in missing {
            let cases = found.remove(&id);
            memo.insert((generation, id.clone()), cases.clone());
            if let Some(cases) = cases {
                out.insert(id, cases);
            }
        }
        Ok(out)
    }

    /// The name and team label of each of these participants that exists, read from the
    /// database only for participants not seen before.
    pub async fn participant_names(
        &self,
        db: &sea_orm::DatabaseConnection,
        ids: &[&str],
    ) -> Result<HashMap<String, (String, Option<String>)>, sea_orm::DbErr> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let mut out = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let names = self.names.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for id in ids {
                match names.get(*id) {
                    Some(found) => {
                        out.insert((*id).to_owned(), found.clone());
                    }
                    None => missing.push(*id),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let rows = crate::db::entities::participant::Entity::find()
            .filter(crate::db::entities::participant::Column::Id.is_in(missing))
            .all(db)
            .await?;
        let mut names = self.names.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bounded: starting over costs one read of a board's names.
        if names.len() + rows.len() > NAMES_KEPT {
            names.clear();
        }
        for p in rows {
            names.insert(p.id.clone(), (p.name.clone(), p.team.clone()));
            out.insert(p.id, (p.name, p.team));
        }
        Ok(out)
    }

    /// The kept ranked lines of a phase's `raw` board and their stamp.
    pub fn ranked(&self, challenge: &str, phase: &str) -> Option<Kept> {
        let ranked = self.ranked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ranked.get(&(challenge.to_owned(), phase.to_owned())).cloned()
    }

    /// Keeps `lines` for `stamp`, unless lines of a newer version of the same shape are kept
    /// (a slower reader finishing late must not set the next one further behind).
    pub fn put_ranked(&self, challenge: &str, phase: &str, stamp: Stamp, lines: Arc<Vec<RankedLine>>) {
        let mut ranked = self.ranked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (challenge.to_owned(), phase.to_owned());
        if ranked.get(&key).is_some_and(|(kept, _)| kept.shape == stamp.shape && kept.version > stamp.version) {
            return;
        }
        ranked.insert(key, (stamp, lines));
    }
}

impl BoardCache {
    /// The top `limit` lines of a `raw` board and the version they reflect (at least): the
    /// kept lines with the ones the store's change log names since spliced in, else the whole
    /// sorted board queried again (and kept for next time). `stamp` holds the version read
    /// before.
    ///
    /// Why this is never staler than the version it returns: the evaluator writes a line, then
    /// bumps the version and logs the participant in one atomic update. Here the changes are
    /// read first, then the lines they name, so each line is read as of its bump or newer; a
    /// line bumped after that read is not needed for its version, and the next reader's log
    /// names it. A version the log does not fully account for (too far behind, a rebuild, a
    /// writer without the log) reads the whole board, after its version, as before.
    pub async fn raw_board(
        &self,
        store: &dyn ScoreStore,
        slug: &str,
        phase: &str,
        stamp: &Stamp,
        limit: usize,
    ) -> anyhow::Result<(Vec<BestScore>, i64)> {
        if let Some((kept_stamp, kept)) = self.ranked(slug, phase)
            && kept_stamp.shape == stamp.shape
        {
            let changes = store.board_changes(slug, phase).await?;
            if let Some(touched) = changes.since(kept_stamp.version) {
                let mut unique: Vec<String> = touched.to_vec();
                unique.sort();
                unique.dedup();
                let fresh =
                    if unique.is_empty() { Vec::new() } else { store.board_lines(slug, phase, &unique).await? };
                if let Some(lines) = merge(&kept, &unique, fresh, limit) {
                    let best = lines.iter().map(|l| l.best.clone()).collect();
                    let at = Stamp { version: changes.version, shape: stamp.shape.clone() };
                    self.put_ranked(slug, phase, at, Arc::new(lines));
                    return Ok((best, changes.version));
                }
            }
            tracing::debug!(slug, phase, "kept board cannot be brought up to date from the log; querying it again");
        }
        match store.ranked_leaderboard(slug, phase, limit).await? {
            Some(lines) => {
                let best = lines.iter().map(|l| l.best.clone()).collect();
                self.put_ranked(slug, phase, stamp.clone(), Arc::new(lines));
                Ok((best, stamp.version))
            }
            // A store that cannot rank lines by key: its board, as it always was.
            None => Ok((store.leaderboard(slug, phase, limit).await?, stamp.version)),
        }
    }
}

/// The board at a newer version from the kept top `limit` lines (`kept`, in [`rank_order`]),
/// the participants the change log names since (`touched`) and their lines as read after
/// that log (`fresh`; a touched participant without one has no line). `None` when the kept
/// lines cannot tell: the caller queries the whole board.
///
/// Lines below the kept ones are unknown but rank after the kept tail (the kept lines were the
/// top `limit` when read, and every line changed since is touched). So with `limit` lines kept:
/// a touched line that ranks after the old tail is dropped if it was not kept (it stays
/// below), while a kept line that moved after the tail or vanished means an unknown line may
/// now belong above it, and the board is queried again. With fewer than `limit` kept, the
/// kept lines were the whole board, and every fresh line belongs in it.
pub fn merge(kept: &[RankedLine], touched: &[String], fresh: Vec<RankedLine>, limit: usize) -> Option<Vec<RankedLine>> {
    let touched: HashSet<&str> = touched.iter().map(String::as_str).collect();
    let was_kept: HashSet<&str> = kept.iter().map(|l| l.best.participant_id.as_str()).collect();
    // Only the fresh lines of touched participants count, one each (a store answering more
    // than asked must not add lines the log does not vouch for).
    let mut fresh_by: HashMap<String, RankedLine> = HashMap::new();
    for line in fresh {
        if touched.contains(line.best.participant_id.as_str()) {
            fresh_by.insert(line.best.participant_id.clone(), line);
        }
    }
    let tail = (kept.len() >= limit).then(|| kept.last()).flatten();
    if let Some(tail) = tail {
        for p in &touched {
            let below = match fresh_by.get(*p) {
                Some(line) => rank_order(line, tail) == std::cmp::Ordering::Greater,
                None => true,
            };
            if below && was_kept.contains(p) {
                return None;
            }
            if below {
                fresh_by.remove(*p);
            }
        }
    }
    let mut lines: Vec<RankedLine> =
        kept.iter().filter(|l| !touched.contains(l.best.participant_id.as_str())).cloned().collect();
    lines.extend(fresh_by.into_values());
    lines.sort_by(rank_order);
    lines.truncate(limit);
    Some(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

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

    /// A phase's board as the evaluator keeps it: lines by participant, the version, and the
    /// change log written with each bump.
    #[derive(Default, Clone)]
    struct Board {
        lines: HashMap<String, RankedLine>,
        version: i64,
        changed: Vec<String>,
        complete: bool,
    }

    impl Board {
        /// The evaluator's record, first half: the line is written (visible to readers).
        fn write(&mut self, participant: &str, key: f64, submitted_ms: i64, submissions: u32) {
            self.lines.insert(participant.into(), line(participant, key, submitted_ms, submissions));
        }

        /// Second half: the version moves and the participant is logged, atomically.
        fn bump(&mut self, participant: &str) {
            self.version += 1;
            self.changed.push(participant.into());
            self.complete = true;
        }

        fn record(&mut self, participant: &str, key: f64, submitted_ms: i64, submissions: u32) {
            self.write(participant, key, submitted_ms, submissions);
            self.bump(participant);
        }

        fn top(&self, limit: usize) -> Vec<RankedLine> {
            let mut lines: Vec<RankedLine> = self.lines.values().cloned().collect();
            lines.sort_by(rank_order);
            lines.truncate(limit);
            lines
        }
    }

    type Step = Box<dyn FnOnce(&mut Board) + Send>;

    /// A score store over [`Board`] that counts whole-board queries and can run a writer's
    /// step between a reader's read of the changes and its read of the lines.
    #[derive(Default)]
    struct Fake {
        board: Mutex<Board>,
        full_queries: Mutex<usize>,
        after_changes: Mutex<Option<Step>>,
        cases_read: Mutex<Vec<String>>,
    }

    impl Fake {
        fn with(&self, f: impl FnOnce(&mut Board)) {
            f(&mut self.board.lock().unwrap());
        }

        fn queries(&self) -> usize {
            *self.full_queries.lock().unwrap()
        }
    }

    #[async_trait::async_trait]
    impl ScoreStore for Fake {
        async fn leaderboard(&self, _: &str, _: &str, limit: usize) -> anyhow::Result<Vec<BestScore>> {
            *self.full_queries.lock().unwrap() += 1;
            Ok(self.board.lock().unwrap().top(limit).into_iter().map(|l| l.best).collect())
        }
        async fn ranked_leaderboard(&self, _: &str, _: &str, limit: usize) -> anyhow::Result<Option<Vec<RankedLine>>> {
            *self.full_queries.lock().unwrap() += 1;
            Ok(Some(self.board.lock().unwrap().top(limit)))
        }
        async fn board_version(&self, _: &str, _: &str) -> anyhow::Result<i64> {
            Ok(self.board.lock().unwrap().version)
        }
        async fn board_changes(&self, _: &str, _: &str) -> anyhow::Result<BoardChanges> {
            let changes = {
                let b = self.board.lock().unwrap();
                BoardChanges { version: b.version, changed: b.changed.clone(), complete: b.complete }
            };
            if let Some(step) = self.after_changes.lock().unwrap().take() {
                step(&mut self.board.lock().unwrap());
            }
            Ok(changes)
        }
        async fn board_lines(&self, _: &str, _: &str, participants: &[String]) -> anyhow::Result<Vec<RankedLine>> {
            let b = self.board.lock().unwrap();
            Ok(participants.iter().filter_map(|p| b.lines.get(p).cloned()).collect())
        }
        async fn phase_scores(&self, _: &str, _: &str, _: Option<&str>) -> anyhow::Result<Vec<ScoreDocument>> {
            Ok(Vec::new())
        }
        async fn public_cases(&self, ids: &[String]) -> anyhow::Result<HashMap<String, Cases>> {
            self.cases_read.lock().unwrap().extend(ids.iter().cloned());
            // Submissions of participant "a" have one case; the others none.
            let case = darkroom_core::domain::Case { id: "x".into(), value: 1.0 };
            Ok(ids
                .iter()
                .filter(|id| id.starts_with("a-"))
                .map(|id| (id.clone(), Cases { public: vec![case.clone()], private: Vec::new() }))
                .collect())
        }
        async fn private_scores(
            &self,
            _: &str,
            _: &str,
        ) -> anyhow::Result<BTreeMap<String, Vec<darkroom_core::scores::SealedScore>>> {
            Ok(BTreeMap::new())
        }
        async fn cases(&self, _: &str) -> anyhow::Result<Option<Cases>> {
            Ok(None)
        }
    }

    fn line(participant: &str, key: f64, submitted_ms: i64, submissions: u32) -> RankedLine {
        let at = DateTime::<Utc>::from_timestamp_millis(submitted_ms).unwrap();
        RankedLine {
            key,
            best: BestScore {
                participant_id: participant.into(),
                submission_id: format!("{participant}-{submitted_ms}"),
                metrics: BTreeMap::from([("accuracy".to_owned(), key)]),
                submissions,
                submitted_at: at,
                scored_at: at,
            },
        }
    }

    /// What the reader serves for the store's current version (read first, as the route does).
    async fn read(cache: &BoardCache, store: &Fake, limit: usize) -> (Vec<BestScore>, i64) {
        let version = store.board_version("c", "dev").await.unwrap();
        cache.raw_board(store, "c", "dev", &stamp(version, "raw"), limit).await.unwrap()
    }

    fn names(best: &[BestScore]) -> Vec<&str> {
        best.iter().map(|b| b.participant_id.as_str()).collect()
    }

    fn expected(store: &Fake, limit: usize) -> Vec<BestScore> {
        store.board.lock().unwrap().top(limit).into_iter().map(|l| l.best).collect()
    }

    /// Four lines kept at a limit of three: a, b, c shown, d below.
    fn four() -> Fake {
        let store = Fake::default();
        store.with(|b| {
            b.record("a", 0.9, 1, 1);
            b.record("b", 0.8, 1, 1);
            b.record("c", 0.7, 1, 1);
            b.record("d", 0.6, 1, 1);
        });
        store
    }

    #[tokio::test]
    async fn new_scores_are_spliced_into_the_kept_board_without_querying_it() {
        let (cache, store) = (BoardCache::default(), four());
        assert_eq!(names(&read(&cache, &store, 3).await.0), ["a", "b", "c"]);
        assert_eq!(store.queries(), 1);
        // d climbs to the top, a newcomer enters third, b's count moves, c falls off.
        store.with(|b| {
            b.record("d", 0.95, 5, 2);
            b.record("e", 0.85, 6, 1);
            b.record("b", 0.8, 1, 2);
        });
        let (best, version) = read(&cache, &store, 3).await;
        assert_eq!(names(&best), ["d", "a", "e"]);
        assert_eq!(best, expected(&store, 3));
        assert_eq!(version, 7);
        assert_eq!(store.queries(), 1, "brought up to date from three lines, not queried again");
        // A score that changes nothing shown still moves the version: the kept board serves it.
        store.with(|b| b.record("c", 0.7, 1, 2));
        assert_eq!(read(&cache, &store, 3).await.0, expected(&store, 3));
        assert_eq!(store.queries(), 1);
    }

    #[tokio::test]
    async fn ties_rank_as_the_full_query_ranks_them() {
        let (cache, store) = (BoardCache::default(), four());
        read(&cache, &store, 3).await;
        // Same key as a, submitted earlier: ranks above it. Same key and time as b: by participant.
        store.with(|b| {
            b.record("z", 0.9, 0, 1);
            b.record("aa", 0.8, 1, 1);
        });
        let best = read(&cache, &store, 3).await.0;
        assert_eq!(names(&best), ["z", "a", "aa"]);
        assert_eq!(best, expected(&store, 3));
        assert_eq!(store.queries(), 1);
    }

    #[tokio::test]
    async fn a_kept_line_falling_below_the_tail_queries_the_board_again() {
        // The evaluator only ever improves a line; a rebuild or a hand edit need not.
        let (cache, store) = (BoardCache::default(), four());
        read(&cache, &store, 3).await;
        store.with(|b| b.record("b", 0.1, 1, 1));
        let best = read(&cache, &store, 3).await.0;
        assert_eq!(names(&best), ["a", "c", "d"], "d, never kept, takes the place b left");
        assert_eq!(store.queries(), 2);
        // A kept line that vanished: same.
        store.with(|b| {
            b.lines.remove("a");
            b.bump("a");
        });
        assert_eq!(names(&read(&cache, &store, 3).await.0), ["c", "d", "b"]);
        assert_eq!(store.queries(), 3);
        // A line moving down but staying above the tail needs nothing new.
        store.with(|b| b.record("c", 0.65, 1, 2));
        assert_eq!(read(&cache, &store, 3).await.0, expected(&store, 3));
        assert_eq!(store.queries(), 3);
    }

    #[tokio::test]
    async fn a_log_that_cannot_account_for_every_bump_queries_the_board_again() {
        let (cache, store) = (BoardCache::default(), four());
        read(&cache, &store, 3).await;
        // A rebuild: every line may have changed, the log restarts empty.
        store.with(|b| {
            b.write("d", 0.99, 1, 1);
            b.version += 1;
            b.changed.clear();
        });
        assert_eq!(names(&read(&cache, &store, 3).await.0), ["d", "a", "b"]);
        assert_eq!(store.queries(), 2);
        // A writer without the log.
        store.with(|b| {
            b.write("c", 0.999, 1, 1);
            b.version += 1;
            b.complete = false;
        });
        assert_eq!(names(&read(&cache, &store, 3).await.0), ["c", "d", "a"]);
        assert_eq!(store.queries(), 3);
    }

    #[tokio::test]
    async fn a_line_written_before_its_bump_is_read_at_its_bump_at_the_latest() {
        let (cache, store) = (BoardCache::default(), four());
        read(&cache, &store, 3).await;
        // The evaluator wrote d's better line but has not bumped yet: version 4 still. A reader
        // of version 4 may show either line; it must show d's new one once version 5 is read.
        store.with(|b| b.write("d", 0.95, 2, 2));
        let (_, version) = read(&cache, &store, 3).await;
        assert_eq!(version, 4);
        store.with(|b| b.bump("d"));
        let (best, version) = read(&cache, &store, 3).await;
        assert_eq!((names(&best), version), (vec!["d", "a", "b"], 5));
        // Between a reader's read of the changes (version 6, naming c) and of the lines, e is
        // written and bumped: e is not in this answer's version, which says 6, and the next
        // reader catches it up.
        store.with(|b| b.record("c", 0.97, 3, 2));
        *store.after_changes.lock().unwrap() = Some(Box::new(|b: &mut Board| b.record("e", 0.99, 4, 1)));
        let (best, version) = read(&cache, &store, 3).await;
        assert_eq!((names(&best), version), (vec!["c", "d", "a"], 6));
        let (best, version) = read(&cache, &store, 3).await;
        assert_eq!((names(&best), version), (vec!["e", "c", "d"], 7));
        assert_eq!(best, expected(&store, 3));
        assert_eq!(store.queries(), 1);
    }

    #[tokio::test]
    async fn any_sequence_of_records_reads_as_the_full_query_would() {
        // A seeded walk: improvements, newcomers, counts, ties, the odd hostile move down and
        // reads skipped (several versions at once); after each read the board must equal the
        // sorted whole at the version returned.
        let mut seed: u64 = 0x5eed;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let (cache, store) = (BoardCache::default(), Fake::default());
        let limit = 5;
        for step in 0..3000 {
            let p = format!("p{}", next(12));
            let key = next(8) as f64 / 8.0;
            store.with(|b| {
                let old = b.lines.get(&p).map(|l| (l.key, l.best.submitted_at.timestamp_millis()));
                let submitted = next(4) as i64;
                let better = old.is_none_or(|(k, t)| key > k || (key == k && submitted < t));
                if better || next(20) == 0 {
                    b.write(&p, key, submitted, 1);
                }
                b.bump(&p);
            });
            if next(3) == 0 {
                let (best, version) = read(&cache, &store, limit).await;
                assert_eq!(version, store.board.lock().unwrap().version);
                assert_eq!(best, expected(&store, limit), "step {step}");
            }
        }
        assert!(store.queries() < 300, "mostly brought up to date: {} whole queries", store.queries());
    }

    #[tokio::test]
    async fn each_submissions_cases_are_read_once_per_generation() {
        let (cache, store) = (BoardCache::default(), Fake::default());
        let ids = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let found = cache.public_cases(&store, 1, &ids(&["a-1", "b-1"])).await.unwrap();
        assert_eq!(found.keys().collect::<Vec<_>>(), ["a-1"]);
        // Known with cases, known without, and one new: only the new one is read.
        let found = cache.public_cases(&store, 1, &ids(&["a-1", "b-1", "a-2"])).await.unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found["a-2"].public.len(), 1);
        // Another generation keeps its own cases.
        cache.public_cases(&store, 2, &ids(&["a-1"])).await.unwrap();
        assert_eq!(*store.cases_read.lock().unwrap(), ["a-1", "b-1", "a-2", "a-1"]);
    }
}
