//! The score store in MongoDB: one document per scored submission, the leaderboards kept
//! from them, and the queries the submissions service reads them with.
//!
//! The evaluator writes; the submissions service reads. Three collections:
//!
//! - `scores`: every score. A unique index on `submission_id` means a redelivered evaluation
//!   can never score a submission twice: the second insert fails with duplicate-key error
//!   11000, which [`ScoreStore::record`] reports as "already scored".
//! - `boards`: one document per participant and phase holding their best score, kept up to
//!   date at each record, so reading a leaderboard reads at most one document per line shown
//!   instead of grouping every score of the phase (12.8 s for 100,000 scores on the test
//!   server; see BENCHMARKS.md).
//! - `board_versions`: a counter per phase, bumped after each record, so a reader can keep a
//!   rendered leaderboard until the counter moves ([`ScoreStore::board_version`]). The same
//!   update appends the recorded participant to a short log of the last [`CHANGE_LOG`]
//!   changed lines, so a reader holding the board of an older version can re-read only those
//!   lines instead of the whole sorted board ([`ScoreStore::board_changes`]).
//! - `receipts` and `receipt_keys`: each score's signed receipt in its challenge's hash chain,
//!   and the keys they are signed with (see the `receipts` submodule).
//! - `verifications`: the results of organizers' verification re-runs (the `verifications`
//!   submodule).
//! - `cases`: the per-case values of `cases.csv` (evaluation contract v2), in chunks of
//!   [`CASES_PER_CHUNK`] per submission and split (a document holds at most 16 MiB), written
//!   before the score so a score that says it has cases has them all.
//!
//! Sealed values: a score's private split is stored in the score document as `private_metrics`,
//! which the public read type [`ScoreDocument`] does not have (and [`ScoreStore::get`] does not
//! even fetch); only [`ScoreStore::private_scores`] and [`ScoreStore::cases`] read sealed data,
//! for the organizer and the close of a phase.
//!
//! Every step of a record is idempotent, so a redelivered evaluation repairs whatever a crash
//! between the steps left undone: the insert is guarded by the unique index, the best-score
//! offer by a conditional upsert, the submission count by the list of counted submissions.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::config::{ConfigError, MongoConfig};
use futures::TryStreamExt;
use mongodb::bson::{self, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};

use crate::domain::Direction;

mod generations;
mod receipts;
mod sealed;
mod verifications;
pub use generations::{Rescore, RescoreFailure, RescoreState, Started};
pub use receipts::{Opening, PendingReceipt};
pub use sealed::{CASES_PER_CHUNK, Sealed, SealedScore};
pub use verifications::{OriginalScore, StoredVerification, VerificationResult};

/// The key of a participant's line in `boards`: one per challenge, phase and participant.
fn board_id(challenge: &str, phase: &str, participant: &str) -> String {
    format!("{challenge}/{phase}/{participant}")
}

fn version_id(challenge: &str, phase: &str) -> String {
    format!("{challenge}/{phase}")
}

/// A leaderboard line's fields from the score it shows. Times in milliseconds, not dates: the
/// test server turns dates written by an update into strings.
fn line_fields(score: &ScoreDocument, key: f64) -> Document {
    let metrics = metrics_document(&score.metrics);
    doc! {
        "challenge": &score.challenge,
        "phase": &score.phase,
        "participant_id": &score.participant_id,
        "submission_id": &score.submission_id,
        "metrics": metrics,
        "rank_key": key,
        "submitted_ms": score.submitted_at.timestamp_millis(),
        "scored_ms": score.scored_at.timestamp_millis(),
    }
}

/// The ranking value turned so that larger always ranks higher; `None` when it cannot rank.
fn rank_key(rank_value: f64, direction: Direction) -> Option<f64> {
    rank_value.is_finite().then_some(match direction {
        Direction::HigherIsBetter => rank_value,
        Direction::LowerIsBetter => -rank_value,
    })
}

/// How many changed participants a phase's version document remembers: a reader more than
/// this many records behind reads the whole board again. Each entry is one id (~40 bytes).
pub const CHANGE_LOG: usize = 256;

/// A phase's version with the participants whose lines the latest records touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoardChanges {
    pub version: i64,
    /// The participants of the last `changed.len()` versions, oldest first, one per version,
    /// when the log accounts for every bump (see [`BoardChanges::since`]).
    pub changed: Vec<String>,
    /// False when the version moved without a log entry (a rebuild, or a writer from before
    /// the log): then nothing older than `version` can be brought up to date from the log.
    pub complete: bool,
}

impl BoardChanges {
    /// The participants whose lines may differ between the board at version `from` and at
    /// this version, or `None` when the log cannot tell (too far behind, or a bump without
    /// an entry since). Each bump appends exactly one entry in the same atomic update, after
    /// its line was written, so the last `version - from` entries are those bumps' lines.
    pub fn since(&self, from: i64) -> Option<&[String]> {
        let behind = usize::try_from(self.version.checked_sub(from)?).ok()?;
        if !self.complete || behind > self.changed.len() {
            return None;
        }
        Some(&self.changed[self.changed.len() - behind..])
    }
}

/// A leaderboard line with the key it is ranked by (see [`rank_order`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedLine {
    /// The ranking value turned so that larger ranks higher (as stored).
    pub key: f64,
    pub best: BestScore,
}

/// The board's order: higher key first, then the earlier submission, then (where the store's
/// sort leaves the order open) the participant id, so every reader orders ties the same way.
pub fn rank_order(a: &RankedLine, b: &RankedLine) -> std::cmp::Ordering {
    b.key
        .total_cmp(&a.key)
        .then(a.best.submitted_at.cmp(&b.best.submitted_at))
        .then_with(|| a.best.participant_id.cmp(&b.best.participant_id))
}

/// A stored score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreDocument {
    pub submission_id: String,
    pub challenge: String,
    pub phase: String,
    pub participant_id: String,
    pub attempt: u32,
    pub metrics: BTreeMap<String, f64>,
    /// The ranking metric's value, copied out so one index serves the leaderboard.
    pub rank_value: f64,
    /// Which way the ranking metric improves (scores stored before it existed: higher).
    #[serde(default)]
    pub direction: Direction,
    pub submitted_at: bson::DateTime,
    pub scored_at: bson::DateTime,
    pub image_digest: Option<String>,
    pub evaluation_image: String,
    pub evaluation_image_digest: Option<String>,
}

/// One leaderboard line: a participant's best score in a phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestScore {
    pub participant_id: String,
    pub submission_id: String,
    pub metrics: BTreeMap<String, f64>,
    pub submissions: u32,
    pub submitted_at: DateTime<Utc>,
    pub scored_at: DateTime<Utc>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    New,
    AlreadyScored,
}

#[derive(Clone)]
pub struct ScoreStore {
    /// The database, for the collections shared by every generation (see the `generations`
    /// submodule).
    db: mongodb::Database,
    /// Which evaluator generation of the boards this view reads and writes: 1 (as scored
    /// originally, the unsuffixed collections) unless [`ScoreStore::generation`] says otherwise.
    generation: u32,
    scores: Collection<ScoreDocument>,
    boards: Collection<Document>,
    versions: Collection<Document>,
    cases: Collection<Document>,
    receipts: Collection<Document>,
    receipt_keys: Collection<Document>,
    /// Signs the receipts of the scores this store records (the evaluator's store only).
    signer: Option<std::sync::Arc<crate::domain::receipt::ReceiptSigner>>,
    /// Per challenge, the last receipt this process appended (shared by clones and generation
    /// views): the next append's first guess at the chain's head (see the `receipts` submodule).
    appended: std::sync::Arc<std::sync::Mutex<HashMap<String, crate::domain::receipt::ChainHead>>>,
}

/// What the public reads of a score leave out: the sealed split, the cases' summary, and the
/// receipt's pending claims and sealed salt.
fn public_projection() -> Document {
    doc! {
        "private_metrics": 0, "cases": 0, "receipt_claims": 0, "receipt_salt": 0, "receipt_sealed_values": 0,
        RUN_FINISHED: 0,
    }
}

/// The score document's field holding the finished run it was evaluated from (JSON): the job,
/// with the host's paths, so never part of a public read.
const RUN_FINISHED: &str = "run_finished";

/// A stored integer, whichever width the server kept it in.
fn int(d: &Document, key: &str) -> Option<i64> {
    d.get_i64(key).ok().or_else(|| d.get_i32(key).ok().map(i64::from))
}

const DUPLICATE_KEY: i32 = 11000;

pub fn to_bson_time(t: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(t.timestamp_millis())
}

/// A stored time as a chrono time (to the millisecond, as stored).
pub fn from_bson_time(t: bson::DateTime) -> DateTime<Utc> {
    from_millis(t.timestamp_millis())
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Why a [`ScoreStore`] could not be set up from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("mongodb.url: '{url}' is not a MongoDB URL ({source}); write it as mongodb://HOST:PORT")]
    Url { url: String, source: mongodb::error::Error },
    #[error(transparent)]
    Login(#[from] ConfigError),
}

impl ScoreStore {
    /// A client for the configured server, logged in as its user when one is set; it connects
    /// on first use, so a service starts while MongoDB is down.
    pub async fn new(config: &MongoConfig) -> Result<Self, ConnectError> {
        let mut options = mongodb::options::ClientOptions::parse(&config.url)
            .await
            .map_err(|source| ConnectError::Url { url: config.url.clone(), source })?;
        options.server_selection_timeout = Some(std::time::Duration::from_secs(5));
        options.app_name = Some("darkroom".into());
        if let Some((user, password)) = config.credentials()? {
            // The driver's default source (the URL's authSource, else `admin`) and mechanism
            // (negotiated SCRAM), as for the official image's root user.
            let mut credential = options.credential.take().unwrap_or_default();
            credential.username = Some(user);
            credential.password = Some(password);
            options.credential = Some(credential);
        }
        let client = mongodb::Client::with_options(options)
            .map_err(|source| ConnectError::Url { url: config.url.clone(), source })?;
        let db = client.database(&config.database);
        Ok(Self {
            generation: 1,
            db: db.clone(),
            scores: db.collection("scores"),
            boards: db.collection("boards"),
            versions: db.collection("board_versions"),
            cases: db.collection("cases"),
            receipts: db.collection("receipts"),
            receipt_keys: db.collection("receipt_keys"),
            signer: None,
            appended: Default::default(),
        })
    }

    /// Creates the score, leaderboard and case indexes; the writer calls it.
    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        self.scores
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "submission_id": 1 })
                    .options(IndexOptions::builder().unique(true).name("submission_id_unique".to_owned()).build())
                    .build(),
            )
            .await?;
        // A participant's scores in a phase (their submissions' feedback), and a phase's
        // (rescores, the private board) by its prefix: without it each read scans every score.
        self.scores
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "challenge": 1, "phase": 1, "participant_id": 1, "scored_at": 1 })
                    .options(IndexOptions::builder().name("scores_of_participant".to_owned()).build())
                    .build(),
            )
            .await?;
        self.boards
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "challenge": 1, "phase": 1, "rank_key": -1, "submitted_ms": 1 })
                    .options(IndexOptions::builder().name("leaderboard".to_owned()).build())
                    .build(),
            )
            .await?;
        self.cases
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "submission_id": 1, "split": 1, "chunk": 1 })
                    .options(IndexOptions::builder().name("cases_of_submission".to_owned()).build())
                    .build(),
            )
            .await?;
        self.ensure_receipt_indexes().await
    }

    pub async fn ping(&self) -> mongodb::error::Result<()> {
        self.scores.find_one(doc! {}).await.map(|_| ())
    }

    /// Stores a score and brings its phase's leaderboard up to date. Recording a submission
    /// again stores nothing new but finishes what a crash may have cut short: the receipt (when
    /// the stored score has claims and this store a signer), then the leaderboard update.
    pub async fn record(&self, score: &ScoreDocument) -> mongodb::error::Result<Recorded> {
        let recorded = match self.scores.insert_one(score).await {
            Ok(_) => Recorded::New,
            Err(e) if is_duplicate_key(&e) => Recorded::AlreadyScored,
            Err(e) => return Err(e),
        };
        // The receipt before the board: a board row is never shown without its receipt.
        self.ensure_receipt(&score.submission_id).await?;
        self.update_board(score).await?;
        Ok(recorded)
    }

    /// Offers `score` as its participant's best, counts it, and bumps the phase's version.
    async fn update_board(&self, score: &ScoreDocument) -> mongodb::error::Result<()> {
        let Some(key) = rank_key(score.rank_value, score.direction) else {
            // Never ranked, as before: a board shows only finite scores. Logged all the same
            // (re-reading an unchanged line is harmless), so the log accounts for every bump.
            return self.bump_version(&score.challenge, &score.phase, Some(&score.participant_id)).await;
        };
        let id = board_id(&score.challenge, &score.phase, &score.participant_id);
        // Better, or as good and submitted earlier: replace the line. Otherwise the filter
        // misses, the upsert tries to insert the existing `_id`, and 11000 says "keep yours".
        // (`$and` rather than `_id` beside `$or`: the test server ignores the `_id` there.)
        let better = doc! {
            "$and": [
                { "_id": &id },
                { "$or": [
                    { "rank_key": { "$lt": key } },
                    { "rank_key": key, "submitted_ms": { "$gt": score.submitted_at.timestamp_millis() } },
                ] },
            ],
        };
        let line = doc! { "$set": line_fields(score, key), "$setOnInsert": { "counted": [], "submissions": 0_i64 } };
        match self.boards.update_one(better, line).upsert(true).await {
            Ok(_) => {}
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(e),
        }
        // Counted once however often it is recorded: the filter misses once it is listed.
        self.boards
            .update_one(
                doc! { "_id": &id, "counted": { "$nin": [&score.submission_id] } },
                doc! { "$push": { "counted": &score.submission_id }, "$inc": { "submissions": 1_i64 } },
            )
            .await?;
        // Last, after the line and its count: a reader that sees this version (and the log
        // entry written with it, atomically) finds the line as recorded or newer.
        self.bump_version(&score.challenge, &score.phase, Some(&score.participant_id)).await
    }

    /// Moves the phase's version. With a participant, the same update appends it to the
    /// change log and moves `logged` along, so `logged == version` says every bump since the
    /// log's last reset has its entry. Without one (a rebuild, where every line may have
    /// changed), the log restarts empty: readers behind this version read the whole board.
    async fn bump_version(
        &self,
        challenge: &str,
        phase: &str,
        participant: Option<&str>,
    ) -> mongodb::error::Result<()> {
        let update = match participant {
            Some(p) => doc! {
                "$inc": { "version": 1_i64, "logged": 1_i64 },
                "$push": { "changed": { "$each": [p], "$slice": -(CHANGE_LOG as i64) } },
            },
            None => doc! { "$inc": { "version": 1_i64, "logged": 1_i64 }, "$set": { "changed": [] } },
        };
        let id = version_id(challenge, phase);
        let after = self
            .versions
            .find_one_and_update(doc! { "_id": &id }, update)
            .upsert(true)
            .return_document(mongodb::options::ReturnDocument::After)
            .await?;
        // A version document from before the log (or moved by a writer without one) never
        // gets `logged` level on its own: restart the log at this version, unless another
        // bump came in between (then that bump's own check restarts it).
        if let Some(d) = after {
            let int = |field: &str| int(&d, field);
            if let Some(version) = int("version")
                && int("logged") != Some(version)
            {
                self.versions
                    .update_one(
                        doc! { "_id": &id, "version": version },
                        doc! { "$set": { "logged": version, "changed": [] } },
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// A counter that moves whenever a score of the phase is recorded; 0 before the first.
    pub async fn board_version(&self, challenge: &str, phase: &str) -> mongodb::error::Result<i64> {
        let found = self.versions.find_one(doc! { "_id": version_id(challenge, phase) }).await?;
        Ok(found
            .and_then(|d| d.get_i64("version").ok().or_else(|| d.get_i32("version").ok().map(i64::from)))
            .unwrap_or(0))
    }

    /// The phase's version and the change log written with it, read in one document so the
    /// two agree. A version moved by a writer that keeps no log (`logged` missing or behind)
    /// reads as incomplete: the reader then reads the whole board.
    pub async fn board_changes(&self, challenge: &str, phase: &str) -> mongodb::error::Result<BoardChanges> {
        let Some(found) = self.versions.find_one(doc! { "_id": version_id(challenge, phase) }).await? else {
            return Ok(BoardChanges { complete: true, ..BoardChanges::default() });
        };
        let int = |field: &str| int(&found, field);
        let version = int("version").unwrap_or(0);
        let changed: Vec<String> = found
            .get_array("changed")
            .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Ok(BoardChanges { version, complete: int("logged") == Some(version), changed })
    }

    /// The current lines of these participants in the phase (one point read by `_id`), in no
    /// particular order; a participant without a line has none in the answer.
    pub async fn board_lines(
        &self,
        challenge: &str,
        phase: &str,
        participants: &[String],
    ) -> mongodb::error::Result<Vec<RankedLine>> {
        let ids: Vec<String> = participants.iter().map(|p| board_id(challenge, phase, p)).collect();
        let rows: Vec<Document> = self
            .boards
            .find(doc! { "_id": { "$in": ids } })
            .projection(doc! { "counted": 0 })
            .await?
            .try_collect()
            .await?;
        Ok(rows.iter().filter_map(ranked_from).collect())
    }

    /// Builds the leaderboard lines from the stored scores when there are scores but no lines
    /// (a database written before the boards existed). Returns how many scores it replayed.
    pub async fn rebuild_boards_if_missing(&self) -> mongodb::error::Result<u64> {
        if self.boards.find_one(doc! {}).await?.is_some() || self.scores.find_one(doc! {}).await?.is_none() {
            return Ok(0);
        }
        self.rebuild_boards().await
    }

    /// Rewrites every leaderboard line from the stored scores: one pass over them, the lines
    /// built in memory by the rule [`ScoreStore::record`] applies, then written in bulk.
    pub async fn rebuild_boards(&self) -> mongodb::error::Result<u64> {
        struct Line {
            best: ScoreDocument,
            key: f64,
            counted: Vec<String>,
        }
        let mut lines: HashMap<String, Line> = HashMap::new();
        let mut phases: HashSet<(String, String)> = HashSet::new();
        let mut cursor = self.scores.find(doc! {}).await?;
        let mut n = 0;
        while let Some(score) = cursor.try_next().await? {
            n += 1;
            phases.insert((score.challenge.clone(), score.phase.clone()));
            let Some(key) = rank_key(score.rank_value, score.direction) else { continue };
            let id = board_id(&score.challenge, &score.phase, &score.participant_id);
            match lines.get_mut(&id) {
                Some(line) => {
                    line.counted.push(score.submission_id.clone());
                    if key > line.key || (key == line.key && score.submitted_at < line.best.submitted_at) {
                        line.best = score;
                        line.key = key;
                    }
                }
                None => {
                    lines.insert(id, Line { counted: vec![score.submission_id.clone()], best: score, key });
                }
            }
        }
        self.boards.delete_many(doc! {}).await?;
        let docs: Vec<Document> = lines
            .into_iter()
            .map(|(id, line)| {
                let mut d = doc! { "_id": id, "counted": &line.counted, "submissions": line.counted.len() as i64 };
                d.extend(line_fields(&line.best, line.key));
                d
            })
            .collect();
        for chunk in docs.chunks(1000) {
            self.boards.insert_many(chunk).await?;
        }
        for (challenge, phase) in phases {
            self.bump_version(&challenge, &phase, None).await?;
        }
        Ok(n)
    }

    /// A submission's score, public split only: the sealed private split is not even fetched.
    pub async fn get(&self, submission_id: &str) -> mongodb::error::Result<Option<ScoreDocument>> {
        self.scores.find_one(doc! { "submission_id": submission_id }).projection(public_projection()).await
    }

    /// Every score of a phase (of one participant when given), public split only, in the order
    /// they were scored (ties by submission id): what the `rounded` and `ladder` feedback modes
    /// are computed from.
    pub async fn phase_scores(
        &self,
        challenge: &str,
        phase: &str,
        participant: Option<&str>,
    ) -> mongodb::error::Result<Vec<ScoreDocument>> {
        let mut filter = doc! { "challenge": challenge, "phase": phase };
        if let Some(p) = participant {
            filter.insert("participant_id", p);
        }
        self.scores
            .find(filter)
            .projection(public_projection())
            .sort(doc! { "scored_at": 1, "submission_id": 1 })
            .await?
            .try_collect()
            .await
    }

    /// Best score per participant in a phase, best first; ties go to the earlier submission.
    /// Non-finite values are never ranked.
    pub async fn leaderboard(
        &self,
        challenge: &str,
        phase: &str,
        limit: usize,
    ) -> mongodb::error::Result<Vec<BestScore>> {
        Ok(self.ranked_leaderboard(challenge, phase, limit).await?.into_iter().map(|l| l.best).collect())
    }

    /// [`ScoreStore::leaderboard`] with each line's ranking key, in [`rank_order`] (the
    /// store's sort, ties beyond it ordered by participant), for readers that keep the board
    /// and bring it up to date from [`ScoreStore::board_changes`].
    pub async fn ranked_leaderboard(
        &self,
        challenge: &str,
        phase: &str,
        limit: usize,
    ) -> mongodb::error::Result<Vec<RankedLine>> {
        let rows: Vec<Document> = self
            .boards
            .find(doc! { "challenge": challenge, "phase": phase })
            .sort(doc! { "rank_key": -1, "submitted_ms": 1 })
            .projection(doc! { "counted": 0 })
            .limit(limit as i64)
            .await?
            .try_collect()
            .await?;
        let mut lines: Vec<RankedLine> = rows.iter().filter_map(ranked_from).collect();
        lines.sort_by(rank_order);
        Ok(lines)
    }
}

fn metrics_document(metrics: &BTreeMap<String, f64>) -> Document {
    metrics.iter().map(|(k, v)| (k.clone(), bson::Bson::Double(*v))).collect()
}

fn metrics_from(d: &Document) -> BTreeMap<String, f64> {
    d.iter().filter_map(|(k, v)| v.as_f64().or_else(|| v.as_i64().map(|i| i as f64)).map(|f| (k.clone(), f))).collect()
}

fn best_from(d: &Document) -> Option<BestScore> {
    let metrics = metrics_from(d.get_document("metrics").ok()?);
    Some(BestScore {
        participant_id: d.get_str("participant_id").ok()?.to_owned(),
        submission_id: d.get_str("submission_id").ok()?.to_owned(),
        metrics,
        submissions: d
            .get_i32("submissions")
            .map(|n| n as u32)
            .or_else(|_| d.get_i64("submissions").map(|n| n as u32))
            .ok()?,
        submitted_at: from_millis(d.get_i64("submitted_ms").ok()?),
        scored_at: from_millis(d.get_i64("scored_ms").ok()?),
    })
}

fn ranked_from(d: &Document) -> Option<RankedLine> {
    let key = d.get_f64("rank_key").ok().or_else(|| d.get_i64("rank_key").ok().map(|i| i as f64))?;
    Some(RankedLine { key, best: best_from(d)? })
}

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(m) => m.write_errors.as_ref().is_some_and(|w| w.iter().any(|w| w.code == DUPLICATE_KEY)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(version: i64, changed: &[&str], complete: bool) -> BoardChanges {
        BoardChanges { version, changed: changed.iter().map(|p| (*p).to_owned()).collect(), complete }
    }

    #[test]
    fn the_log_names_the_lines_of_the_versions_since_a_readers_own() {
        let log = changes(10, &["a", "b", "c"], true);
        assert_eq!(log.since(10), Some(&[][..]), "up to date: nothing to re-read");
        assert_eq!(log.since(9).unwrap(), ["c"]);
        assert_eq!(log.since(7).unwrap(), ["a", "b", "c"]);
        assert_eq!(log.since(6), None, "four bumps, three entries: the fourth line is unknown");
        assert_eq!(log.since(11), None, "a reader ahead of the store (another generation) reads it all");
        assert_eq!(changes(10, &["a", "b", "c"], false).since(9), None, "a bump without its entry");
        assert_eq!(changes(3, &[], true).since(2), None, "a rebuild restarts the log empty");
    }

    fn line(participant: &str, key: f64, submitted_ms: i64) -> RankedLine {
        RankedLine {
            key,
            best: BestScore {
                participant_id: participant.into(),
                submission_id: format!("s-{participant}"),
                metrics: BTreeMap::new(),
                submissions: 1,
                submitted_at: from_millis(submitted_ms),
                scored_at: from_millis(submitted_ms),
            },
        }
    }

    #[test]
    fn the_order_is_the_stores_then_the_participant() {
        let mut lines = [line("d", 0.5, 10), line("c", 0.9, 20), line("b", 0.9, 10), line("a", 0.5, 10)];
        lines.sort_by(rank_order);
        let order: Vec<&str> = lines.iter().map(|l| l.best.participant_id.as_str()).collect();
        assert_eq!(order, ["b", "c", "a", "d"]);
    }
}
