//! Evaluator generations of a phase's board, and the rescores that make them (issue 17,
//! "Re-score"; see `docs/rescore.md`).
//!
//! Generation 1 is the board as scored originally: the unsuffixed collections (`scores`,
//! `boards`, `board_versions`, `cases`), untouched, so data from before rescores keeps working.
//! A rescore of a phase with a new evaluation image records into generation `n + 1`: the same
//! collections suffixed `_g{n+1}`, through a view of the store ([`ScoreStore::generation`]), so
//! recording, the board, the phase's scores and the sealed reads work unchanged per generation.
//! Receipts stay in the challenge's one chain, a rescored submission's `_id` being
//! `{submission}@{generation}`.
//!
//! Two collections shared by every generation:
//! - `board_heads`: one document per challenge and phase naming the generation its board shows
//!   (absent: 1). Switching is one document update, monotonic, so a reader that reads the head
//!   once and then that generation's board never sees rows of two evaluators.
//! - `rescores`: one document per rescore, `_id` `{challenge}/{phase}/{generation}` (so a
//!   generation is requested once), with its image, the submissions fully re-recorded (`done`),
//!   the ones that failed with their reasons, its state and when it switched the board.
//!
//! The switch rule ([`ScoreStore::try_switch`]): every submission scored in the generation the
//! rescore started from is done in the new one, and none failed. A score recorded in the old
//! generation while the rescore runs is rescored too (the evaluator publishes its item), so the
//! switch never drops one.

use std::collections::HashSet;

use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::{Document, doc};
use serde::{Deserialize, Serialize};

use super::{ScoreStore, int, is_duplicate_key};

/// Where a rescore stands and what it could not score: the API's types, stored as spelled on
/// the wire.
pub use darkroom_api::{RescoreFailure, RescoreState};

/// A rescore of a phase: its document in `rescores`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rescore {
    #[serde(rename = "_id")]
    pub id: String,
    pub challenge: String,
    pub phase: String,
    /// The generation it records into.
    pub generation: u32,
    /// The generation whose submissions it evaluates again (the board's head when requested).
    pub from_generation: u32,
    pub evaluation_image: String,
    /// The image id the name was pinned to when the rescore was requested.
    pub evaluation_image_id: String,
    pub state: RescoreState,
    /// Submissions re-recorded in full (score, receipt, board line).
    #[serde(default)]
    pub done: Vec<String>,
    /// The submissions that failed, and beside them (same index) why: two arrays of text
    /// pushed in one update, since the test server stores a pushed document as a string.
    #[serde(default)]
    pub failed_ids: Vec<String>,
    #[serde(default)]
    pub failed_reasons: Vec<String>,
    /// Milliseconds (the test server turns dates written by an update into strings).
    pub requested_ms: i64,
    #[serde(default)]
    pub switched_ms: Option<i64>,
}

impl Rescore {
    /// The failed submissions with their reasons.
    /// Each failed submission with its reason (an id that does not parse, which only a hand
    /// edit of the store could leave, is left out).
    pub fn failures(&self) -> Vec<RescoreFailure> {
        self.failed_ids
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                Some(RescoreFailure {
                    submission_id: id.parse().ok()?,
                    reason: self.failed_reasons.get(i).cloned().unwrap_or_default(),
                })
            })
            .collect()
    }

    pub fn id_for(challenge: &str, phase: &str, generation: u32) -> String {
        format!("{challenge}/{phase}/{generation}")
    }
}

/// What [`ScoreStore::start_rescore`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Started {
    New,
    /// A rescore of that generation exists already.
    Exists,
}

/// Whether every submission of the old generation is done in the new one (`Some(true)`), all
/// are done or failed with some failed (`Some(false)`), or some are still to come (`None`).
pub fn completion(old: &HashSet<String>, done: &HashSet<String>, failed: &HashSet<String>) -> Option<bool> {
    let missing = old.iter().filter(|s| !done.contains(*s)).collect::<Vec<_>>();
    if missing.is_empty() {
        return Some(true);
    }
    missing.iter().all(|s| failed.contains(*s)).then_some(false)
}

fn suffixed(name: &str, generation: u32) -> String {
    match generation {
        1 => name.to_owned(),
        g => format!("{name}_g{g}"),
    }
}

fn head_id(challenge: &str, phase: &str) -> String {
    format!("{challenge}/{phase}")
}

fn custom(e: impl std::fmt::Display) -> mongodb::error::Error {
    mongodb::error::Error::custom(e.to_string())
}

impl ScoreStore {
    /// A view of this store at evaluator generation `generation` (1: the original board).
    /// Receipts, keys and the shared rescore collections are the same for every generation.
    pub fn generation(&self, generation: u32) -> ScoreStore {
        let generation = generation.max(1);
        ScoreStore {
            generation,
            scores: self.db.collection(&suffixed("scores", generation)),
            boards: self.db.collection(&suffixed("boards", generation)),
            versions: self.db.collection(&suffixed("board_versions", generation)),
            cases: self.db.collection(&suffixed("cases", generation)),
            ..self.clone()
        }
    }

    /// Which generation this view reads and writes.
    pub fn generation_number(&self) -> u32 {
        self.generation
    }

    fn heads(&self) -> Collection<Document> {
        self.db.collection("board_heads")
    }

    fn rescores_collection(&self) -> Collection<Rescore> {
        self.db.collection("rescores")
    }

    /// The generation a phase's board shows: 1 until a rescore switched it.
    pub async fn board_head(&self, challenge: &str, phase: &str) -> mongodb::error::Result<u32> {
        let found = self.heads().find_one(doc! { "_id": head_id(challenge, phase) }).await?;
        Ok(found.and_then(|d| int(&d, "generation")).map_or(1, |g| g.max(1) as u32))
    }

    /// Every rescore of a phase, oldest first.
    pub async fn rescores(&self, challenge: &str, phase: &str) -> mongodb::error::Result<Vec<Rescore>> {
        let mut all: Vec<Rescore> = self
            .rescores_collection()
            .find(doc! { "challenge": challenge, "phase": phase })
            .await?
            .try_collect()
            .await?;
        all.sort_by_key(|r| r.generation);
        Ok(all)
    }

    pub async fn rescore(
        &self,
        challenge: &str,
        phase: &str,
        generation: u32,
    ) -> mongodb::error::Result<Option<Rescore>> {
        self.rescores_collection().find_one(doc! { "_id": Rescore::id_for(challenge, phase, generation) }).await
    }

    /// Records a requested rescore; a second request of the same generation finds it.
    pub async fn start_rescore(&self, rescore: &Rescore) -> mongodb::error::Result<Started> {
        match self.rescores_collection().insert_one(rescore).await {
            Ok(_) => Ok(Started::New),
            Err(e) if is_duplicate_key(&e) => Ok(Started::Exists),
            Err(e) => Err(e),
        }
    }

    /// Marks a submission re-recorded in full in `generation` (idempotent).
    pub async fn rescore_done(
        &self,
        challenge: &str,
        phase: &str,
        generation: u32,
        submission_id: &str,
    ) -> mongodb::error::Result<()> {
        let id = Rescore::id_for(challenge, phase, generation);
        self.rescores_collection()
            .update_one(
                doc! { "_id": &id, "done": { "$nin": [submission_id] } },
                doc! { "$push": { "done": submission_id } },
            )
            .await?;
        Ok(())
    }

    /// Lists a submission as failed in `generation`, with its reason (idempotent: the first
    /// reason stays).
    pub async fn rescore_failed(
        &self,
        challenge: &str,
        phase: &str,
        generation: u32,
        submission_id: &str,
        reason: &str,
    ) -> mongodb::error::Result<()> {
        let id = Rescore::id_for(challenge, phase, generation);
        self.rescores_collection()
            .update_one(
                doc! { "_id": &id, "failed_ids": { "$nin": [submission_id] } },
                doc! { "$push": { "failed_ids": submission_id, "failed_reasons": reason } },
            )
            .await?;
        Ok(())
    }

    /// The submission ids scored in this generation of a phase.
    pub async fn scored_ids(&self, challenge: &str, phase: &str) -> mongodb::error::Result<HashSet<String>> {
        let docs: Vec<Document> = self
            .scores
            .clone_with_type::<Document>()
            .find(doc! { "challenge": challenge, "phase": phase })
            .projection(doc! { "submission_id": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(docs.iter().filter_map(|d| d.get_str("submission_id").ok().map(str::to_owned)).collect())
    }

    /// Switches the phase's board to `generation` if its rescore is complete (see the module's
    /// documentation), or marks it incomplete when every submission is done or failed with
    /// some failed. Idempotent, and the head only moves forward. Returns the rescore as left.
    pub async fn try_switch(
        &self,
        challenge: &str,
        phase: &str,
        generation: u32,
    ) -> mongodb::error::Result<Option<Rescore>> {
        let Some(rescore) = self.rescore(challenge, phase, generation).await? else { return Ok(None) };
        if rescore.state == RescoreState::Switched {
            return Ok(Some(rescore));
        }
        let old = self.generation(rescore.from_generation).scored_ids(challenge, phase).await?;
        let done: HashSet<String> = rescore.done.iter().cloned().collect();
        let failed: HashSet<String> = rescore.failed_ids.iter().cloned().collect();
        let id = Rescore::id_for(challenge, phase, generation);
        match completion(&old, &done, &failed) {
            None => Ok(Some(rescore)),
            Some(false) => {
                self.rescores_collection()
                    .update_one(doc! { "_id": &id, "state": "running" }, doc! { "$set": { "state": "incomplete" } })
                    .await?;
                self.rescore(challenge, phase, generation).await
            }
            Some(true) => {
                self.switch_head(challenge, phase, generation).await?;
                let now = chrono::Utc::now().timestamp_millis();
                self.rescores_collection()
                    .update_one(
                        doc! { "_id": &id, "state": { "$in": ["running", "incomplete"] } },
                        doc! { "$set": { "state": "switched", "switched_ms": now } },
                    )
                    .await?;
                tracing::info!(challenge, phase, generation, "rescore complete; the board shows the new generation");
                self.rescore(challenge, phase, generation).await
            }
        }
    }

    /// Points the phase's board at `generation`, never back to an older one: one document.
    async fn switch_head(&self, challenge: &str, phase: &str, generation: u32) -> mongodb::error::Result<()> {
        let id = head_id(challenge, phase);
        let newer = doc! { "$and": [ { "_id": &id }, { "generation": { "$lt": i64::from(generation) } } ] };
        let set = doc! { "$set": { "generation": i64::from(generation), "challenge": challenge, "phase": phase } };
        match self.heads().update_one(newer, set).upsert(true).await {
            Ok(_) => Ok(()),
            // The head is there and already at this generation or a later one.
            Err(e) if is_duplicate_key(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Keeps the finished run a score was evaluated from (its JSON), sealed beside the score,
    /// so a rescore can evaluate the same output again. The evaluator stores it with the score's
    /// insert ([`super::Sealed::run_finished`]); this is for a score found stored without one
    /// (a crash before it was kept, or a score from before runs went into the insert). A score
    /// that has its run keeps it: that is the run it was evaluated from.
    pub async fn keep_run(&self, submission_id: &str, run_json: &str) -> mongodb::error::Result<()> {
        let lacking = doc! { "submission_id": submission_id, super::RUN_FINISHED: { "$exists": false } };
        self.scores.update_one(lacking, doc! { "$set": { super::RUN_FINISHED: run_json } }).await?;
        Ok(())
    }

    /// Each score of this generation of a phase with the finished run it was evaluated from,
    /// if it was kept (scores recorded before rescores existed have none).
    pub async fn kept_runs(
        &self,
        challenge: &str,
        phase: &str,
    ) -> mongodb::error::Result<Vec<(String, Option<String>)>> {
        let docs: Vec<Document> = self
            .scores
            .clone_with_type::<Document>()
            .find(doc! { "challenge": challenge, "phase": phase })
            .projection(doc! { "submission_id": 1, super::RUN_FINISHED: 1 })
            .sort(doc! { "submission_id": 1 })
            .await?
            .try_collect()
            .await?;
        docs.iter()
            .map(|d| {
                let id = d.get_str("submission_id").map_err(|_| custom("a score without its submission_id"))?;
                Ok((id.to_owned(), d.get_str(super::RUN_FINISHED).ok().map(str::to_owned)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_rescore_completes_only_when_every_old_submission_is_done() {
        let old = set(&["a", "b", "c"]);
        assert_eq!(completion(&old, &set(&["a", "b"]), &set(&[])), None);
        assert_eq!(completion(&old, &set(&["a", "b", "c"]), &set(&[])), Some(true));
        // Extra submissions in the new generation (scored after the request) do not matter.
        assert_eq!(completion(&old, &set(&["a", "b", "c", "d"]), &set(&[])), Some(true));
        // A failure keeps the board where it is once everything else is done.
        assert_eq!(completion(&old, &set(&["a", "b"]), &set(&["c"])), Some(false));
        assert_eq!(completion(&old, &set(&["a"]), &set(&["c"])), None);
        // An empty phase has nothing left to rescore.
        assert_eq!(completion(&set(&[]), &set(&[]), &set(&[])), Some(true));
    }

    #[test]
    fn generation_one_keeps_the_original_collections() {
        assert_eq!(suffixed("scores", 1), "scores");
        assert_eq!(suffixed("boards", 2), "boards_g2");
        assert_eq!(Rescore::id_for("c", "dev", 3), "c/dev/3");
    }
}
