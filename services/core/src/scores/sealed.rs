//! The sealed side of the score store (evaluation contract v2): a score's private split and its
//! per-case values, written by the evaluator and read only for the organizer and the close of a
//! phase. Nothing here is reachable from a participant's route; the public reads are beside
//! [`ScoreStore::get`] and [`ScoreStore::leaderboard`] in the parent module.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{self, Document, doc};
use serde::Serialize;

use super::{
    DUPLICATE_KEY, PendingReceipt, RUN_FINISHED, Recorded, ScoreDocument, ScoreStore, from_millis, int,
    is_duplicate_key, metrics_document, metrics_from,
};
use crate::domain::{Case, Cases, Split};

/// A score with its sealed private split: the organizer's view, never a participant's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SealedScore {
    pub submission_id: String,
    pub participant_id: String,
    /// The public split (what the board shows).
    pub metrics: BTreeMap<String, f64>,
    /// The private split; `None` when the evaluation wrote the flat form.
    pub private_metrics: Option<BTreeMap<String, f64>>,
    pub submitted_at: DateTime<Utc>,
    pub scored_at: DateTime<Utc>,
}

/// Per-case values are stored in chunks of this many cases.
pub const CASES_PER_CHUNK: usize = 50_000;

/// What an evaluation stores beside its public score, none of it ever shown to a participant.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sealed<'a> {
    /// The private split (contract v2); `None` for the flat form.
    pub private_metrics: Option<&'a BTreeMap<String, f64>>,
    /// The per-case values of `cases.csv`, where the evaluation wrote one.
    pub cases: Option<&'a Cases>,
    /// The receipt's claims (and the opening of its commitment).
    pub receipt: Option<&'a PendingReceipt>,
    /// The finished run the score was evaluated from, as JSON, so a rescore can evaluate the
    /// same output again (see [`ScoreStore::kept_runs`]). Stored by the score's own insert.
    pub run_finished: Option<&'a str>,
}

impl ScoreStore {
    /// Stores an evaluation of contract v2: the per-case values first, then the score with its
    /// sealed parts, then the receipt and the leaderboard update as [`ScoreStore::record`] does.
    /// Idempotent: once the score is stored nothing is written again, and before that each
    /// chunk of cases is replaced by its id, so a redelivered evaluation duplicates nothing. A
    /// score found stored gets the run it lacks ([`ScoreStore::keep_run`]).
    pub async fn record_evaluation(
        &self,
        score: &ScoreDocument,
        sealed: Sealed<'_>,
    ) -> mongodb::error::Result<Recorded> {
        let recorded = self.insert_sealed(score, sealed).await?;
        match (&recorded, sealed.receipt) {
            // Stored by this very insert: no receipt can exist yet, and its claims are at hand.
            (Recorded::New, Some(pending)) => {
                self.append_receipt(&score.submission_id, &score.challenge, &pending.claims).await?
            }
            _ => self.ensure_receipt(&score.submission_id).await?,
        }
        if recorded == Recorded::AlreadyScored
            && let Some(run) = sealed.run_finished
        {
            self.keep_run(&score.submission_id, run).await?;
        }
        self.update_board(score).await?;
        Ok(recorded)
    }

    /// Writes the cases, then inserts the score with its sealed parts. Cases are written before
    /// the score, so a stored score must stop them (a redelivered evaluation may differ): the
    /// writer asks whether it is stored before it replaces anything (see [`CasesWritten`]);
    /// without cases the insert's duplicate key says as much.
    async fn insert_sealed(&self, score: &ScoreDocument, sealed: Sealed<'_>) -> mongodb::error::Result<Recorded> {
        let Sealed { private_metrics, cases, receipt, run_finished } = sealed;
        let written = match cases {
            Some(cases) => Some(self.write_cases(&score.submission_id, cases).await?),
            None => None,
        };
        if matches!(written, Some(CasesWritten::ScoreStored)) {
            return Ok(Recorded::AlreadyScored);
        }
        let mut stored = bson::to_document(score).map_err(|e| mongodb::error::Error::custom(e.to_string()))?;
        if let Some(private) = private_metrics {
            stored.insert("private_metrics", metrics_document(private));
        }
        if let Some(cases) = cases {
            stored.insert("cases", doc! { "public": cases.public.len() as i64, "private": cases.private.len() as i64 });
        }
        if let Some(run) = run_finished {
            stored.insert(RUN_FINISHED, run);
        }
        if let Some(pending) = receipt {
            let claims =
                serde_json::to_string(&pending.claims).map_err(|e| mongodb::error::Error::custom(e.to_string()))?;
            stored.insert("receipt_claims", claims);
            if let Some(opening) = &pending.opening {
                stored.insert("receipt_salt", opening.salt.to_string());
                let values =
                    serde_json::to_string(&opening.values).map_err(|e| mongodb::error::Error::custom(e.to_string()))?;
                stored.insert("receipt_sealed_values", values);
            }
        }
        match self.scores.clone_with_type::<Document>().insert_one(stored).await {
            Ok(_) => Ok(Recorded::New),
            Err(e) if is_duplicate_key(&e) => {
                // Stored by an attempt that wrote no cases (its evaluation left no `cases.csv`
                // that time): the cases just added, all new, must not stand beside that score.
                // A score stored with cases keeps them: a concurrent attempt that won may have
                // replaced ours with its own since, under the same ids.
                if let Some(CasesWritten::Fresh(ids)) = written
                    && self.stored_score(&score.submission_id).await? != StoredScore::WithCases
                {
                    self.cases.delete_many(doc! { "_id": { "$in": ids } }).await?;
                }
                Ok(Recorded::AlreadyScored)
            }
            Err(e) => Err(e),
        }
    }

    /// What is stored of `submission_id`'s score, reading its `cases` field alone: whether a
    /// writer must leave the cases alone, and whether a stored score has cases of its own.
    async fn stored_score(&self, submission_id: &str) -> mongodb::error::Result<StoredScore> {
        let filter = doc! { "submission_id": submission_id };
        let found = self.scores.clone_with_type::<Document>().find_one(filter).projection(doc! { "cases": 1 }).await?;
        Ok(match found {
            None => StoredScore::Absent,
            Some(score) if score.contains_key("cases") => StoredScore::WithCases,
            Some(_) => StoredScore::WithoutCases,
        })
    }

    /// Writes the chunks by id (replacing what an earlier attempt wrote under the same ids) and
    /// removes the chunks an earlier, longer attempt left past this one's. Which those are comes
    /// from the submission's chunk mark, `{submission}/chunks`: the most chunks of each split any
    /// attempt may have written, raised before the first chunk is written (so no chunk ever lies
    /// past it) and lowered after the stale ones are gone. Everything is read and written by
    /// `_id`: the test server answers a filter on `submission_id` by reading the whole collection
    /// (22 ms at 2,000 chunks), which every score paid twice before.
    ///
    /// A submission's first evaluation, the usual case, finds no mark and hence no chunk: the
    /// mark and every chunk then go in one ordered insert, the mark first, instead of a raise and
    /// a write per chunk (one command where there were three). A mark already there stops that
    /// insert before it writes anything, and the general path below takes over; so does an
    /// unmarked attempt's chunk, which collides with ours as long as each split has one (a split
    /// without cases could not tell, so it takes the general path from the start).
    ///
    /// Only the general path replaces what another attempt wrote, so only it first asks whether
    /// the score is stored (and then writes nothing, removing what its insert added). The one
    /// insert can add cases beside a stored score only when that score's attempt wrote none;
    /// [`ScoreStore::insert_sealed`] removes them when the score's insert says so.
    async fn write_cases(&self, submission_id: &str, cases: &Cases) -> mongodb::error::Result<CasesWritten> {
        let splits = [Split::Public, Split::Private];
        let chunks = splits.map(|split| chunk_documents(submission_id, split, cases));
        let counts = chunks.each_ref().map(|c| c.len() as i64);
        let mark = doc! { "_id": format!("{submission_id}/chunks") };
        let raise = doc! { "$max": { splits[0].label(): counts[0], splits[1].label(): counts[1] } };
        let raised = || {
            self.cases
                .find_one_and_update(mark.clone(), raise.clone())
                .upsert(true)
                .return_document(mongodb::options::ReturnDocument::Before)
        };
        let before = if counts.contains(&0) {
            if self.stored_score(submission_id).await? != StoredScore::Absent {
                return Ok(CasesWritten::ScoreStored);
            }
            raised().await?
        } else {
            let mut first = mark.clone();
            first.extend(doc! { splits[0].label(): counts[0], splits[1].label(): counts[1] });
            let all: Vec<Document> = std::iter::once(first).chain(chunks.iter().flatten().cloned()).collect();
            let ids = |docs: &[Document]| docs.iter().filter_map(|d| d.get("_id").cloned()).collect::<Vec<_>>();
            match self.cases.insert_many(&all).ordered(true).await {
                Ok(_) => return Ok(CasesWritten::Fresh(ids(&all))),
                Err(e) => match failed_insert(&e) {
                    // The mark is there: an earlier attempt of this submission wrote cases.
                    Some((0, DUPLICATE_KEY)) => {
                        if self.stored_score(submission_id).await? != StoredScore::Absent {
                            return Ok(CasesWritten::ScoreStored);
                        }
                        raised().await?
                    }
                    // The mark went in but a chunk was there: an attempt from before marks were
                    // kept. The mark is ours now; its leftovers are found as an unmarked one's.
                    // Unless its score is stored: then what went in goes again, and it all stays.
                    Some((n, DUPLICATE_KEY)) => {
                        if self.stored_score(submission_id).await? != StoredScore::Absent {
                            self.cases.delete_many(doc! { "_id": { "$in": ids(&all[..n]) } }).await?;
                            return Ok(CasesWritten::ScoreStored);
                        }
                        None
                    }
                    _ => return Err(e),
                },
            }
        };
        let mut lowered = false;
        for ((split, count), chunks) in splits.into_iter().zip(counts).zip(chunks) {
            let mut rewrote_unmarked = false;
            for d in chunks {
                let id = d.get_str("_id").map_err(|e| mongodb::error::Error::custom(e.to_string()))?.to_owned();
                let replaced = self.cases.replace_one(doc! { "_id": &id }, d).upsert(true).await?;
                rewrote_unmarked |= before.is_none() && replaced.matched_count > 0;
            }
            match before.as_ref().map(|b| int(b, split.label()).unwrap_or(0)) {
                Some(marked) => {
                    for n in count..marked {
                        self.cases.delete_one(doc! { "_id": format!("{submission_id}/{split}/{n}") }).await?;
                        lowered = true;
                    }
                }
                // No mark, yet chunks were there: an attempt stored before marks were kept; its
                // leftovers are found by filter, once. With no chunk of ours to tell, its first
                // chunk (by `_id`) does, so a split without cases costs no scan either.
                None => {
                    // With no chunks of ours written, deleting an old chunk 0 is that check.
                    let old_first_chunk_deleted = count == 0
                        && self
                            .cases
                            .delete_one(doc! { "_id": format!("{submission_id}/{split}/0") })
                            .await?
                            .deleted_count
                            > 0;
                    if rewrote_unmarked || old_first_chunk_deleted {
                        let stale = doc! {
                            "submission_id": submission_id, "split": split.label(), "chunk": { "$gte": count },
                        };
                        self.cases.delete_many(stale).await?;
                    }
                }
            }
        }
        if lowered {
            let exact = doc! { "$set": { splits[0].label(): counts[0], splits[1].label(): counts[1] } };
            self.cases.update_one(mark, exact).await?;
        }
        Ok(CasesWritten::Replaced)
    }

    /// The per-case values stored for a submission; `None` when its evaluation wrote no
    /// `cases.csv`. Sealed: for the organizer and the platform (the Ladder, intervals), never
    /// for a participant's route.
    pub async fn cases(&self, submission_id: &str) -> mongodb::error::Result<Option<Cases>> {
        Ok(self.read_cases(doc! { "submission_id": submission_id }).await?.remove(submission_id))
    }

    /// The public split's per-case values of many submissions at once (the Ladder's and the
    /// intervals' input), by submission id, the private split not even fetched; a submission
    /// whose evaluation wrote no public cases is absent. One query per 1,000 submissions.
    pub async fn public_cases(&self, submission_ids: &[String]) -> mongodb::error::Result<HashMap<String, Cases>> {
        let mut out = HashMap::new();
        for ids in submission_ids.chunks(1000) {
            let filter = doc! { "submission_id": { "$in": ids }, "split": Split::Public.label() };
            out.extend(self.read_cases(filter).await?);
        }
        Ok(out)
    }

    async fn read_cases(&self, filter: Document) -> mongodb::error::Result<HashMap<String, Cases>> {
        let mut cursor = self.cases.find(filter).sort(doc! { "submission_id": 1, "split": 1, "chunk": 1 }).await?;
        let mut out: HashMap<String, Cases> = HashMap::new();
        while let Some(d) = cursor.try_next().await? {
            let submission_id = d.get_str("submission_id").unwrap_or_default();
            let bad = |what: &str| mongodb::error::Error::custom(format!("cases of {submission_id}: {what}"));
            let ids = d.get_array("ids").map_err(|_| bad("no ids"))?;
            let values = d.get_array("values").map_err(|_| bad("no values"))?;
            let cases = out.entry(submission_id.to_owned()).or_default();
            let target = match d.get_str("split") {
                Ok("public") => &mut cases.public,
                Ok("private") => &mut cases.private,
                _ => return Err(bad("unknown split")),
            };
            for (id, value) in ids.iter().zip(values) {
                let (Some(id), Some(value)) = (id.as_str(), value.as_f64()) else { return Err(bad("bad case")) };
                target.push(Case { id: id.to_owned(), value });
            }
        }
        Ok(out)
    }

    /// Every score of a phase with its sealed private split, per participant (by participant
    /// id), each participant's in submission order. A score exists only for a COMPLETE
    /// submission. For closing a phase and the organizer; never for a participant's route.
    pub async fn private_scores(
        &self,
        challenge: &str,
        phase: &str,
    ) -> mongodb::error::Result<BTreeMap<String, Vec<SealedScore>>> {
        let mut cursor = self
            .scores
            .clone_with_type::<Document>()
            .find(doc! { "challenge": challenge, "phase": phase })
            .sort(doc! { "submitted_at": 1, "submission_id": 1 })
            .await?;
        let mut out: BTreeMap<String, Vec<SealedScore>> = BTreeMap::new();
        while let Some(d) = cursor.try_next().await? {
            let text = |k: &str| d.get_str(k).map(str::to_owned).unwrap_or_default();
            let time = |k: &str| d.get_datetime(k).map(|t| from_millis(t.timestamp_millis())).unwrap_or_default();
            let sealed = SealedScore {
                submission_id: text("submission_id"),
                participant_id: text("participant_id"),
                metrics: d.get_document("metrics").map(metrics_from).unwrap_or_default(),
                private_metrics: d.get_document("private_metrics").ok().map(metrics_from),
                submitted_at: time("submitted_at"),
                scored_at: time("scored_at"),
            };
            out.entry(sealed.participant_id.clone()).or_default().push(sealed);
        }
        Ok(out)
    }
}

/// The documents of one split's chunks, `_id` `{submission}/{split}/{n}`.
fn chunk_documents(submission_id: &str, split: Split, cases: &Cases) -> Vec<Document> {
    cases
        .split(split)
        .chunks(CASES_PER_CHUNK)
        .enumerate()
        .map(|(n, chunk)| {
            let ids: Vec<&str> = chunk.iter().map(|c| c.id.as_str()).collect();
            let values: Vec<f64> = chunk.iter().map(|c| c.value).collect();
            doc! {
                "_id": format!("{submission_id}/{split}/{n}"), "submission_id": submission_id,
                "split": split.label(), "chunk": n as i64, "ids": ids, "values": values,
            }
        })
        .collect()
}

/// What writing a submission's cases came to.
#[derive(Debug)]
enum CasesWritten {
    /// The mark and every chunk went in with one insert: none of these ids was there before.
    Fresh(Vec<bson::Bson>),
    /// Cases an earlier attempt wrote (and its score did not follow) are replaced.
    Replaced,
    /// The submission's score is stored: its cases are left as they are, nothing written.
    ScoreStored,
}

/// What is stored of a submission's score, as far as its cases are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoredScore {
    Absent,
    /// Stored by an attempt whose evaluation wrote no `cases.csv`.
    WithoutCases,
    WithCases,
}

/// Where an ordered insert stopped: the index of the document refused and the server's code.
fn failed_insert(e: &mongodb::error::Error) -> Option<(usize, i32)> {
    match &*e.kind {
        mongodb::error::ErrorKind::InsertMany(m) => m.write_errors.as_ref()?.first().map(|w| (w.index, w.code)),
        _ => None,
    }
}
