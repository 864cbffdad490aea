//! The score store in MongoDB: one document per scored submission, and the leaderboard query.
//!
//! The evaluator writes; the submissions service reads. A unique index on `submission_id`
//! means a redelivered evaluation can never score a submission twice: the second insert fails
//! with duplicate-key error 11000, which [`ScoreStore::record`] reports as "already scored".

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{self, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};

use crate::domain::Direction;

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
    scores: Collection<ScoreDocument>,
}

const DUPLICATE_KEY: i32 = 11000;

pub fn to_bson_time(t: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(t.timestamp_millis())
}

fn from_bson_time(t: bson::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or_default()
}

impl ScoreStore {
    /// A client for `url`; it connects on first use, so a service starts while MongoDB is down.
    pub async fn new(url: &str, database: &str) -> mongodb::error::Result<Self> {
        let mut options = mongodb::options::ClientOptions::parse(url).await?;
        options.server_selection_timeout = Some(std::time::Duration::from_secs(5));
        options.app_name = Some("darkroom".into());
        let client = mongodb::Client::with_options(options)?;
        Ok(Self { scores: client.database(database).collection("scores") })
    }

    /// Creates the unique submission index and the leaderboard index; the writer calls it.
    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        self.scores
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "submission_id": 1 })
                    .options(IndexOptions::builder().unique(true).name("submission_id_unique".to_owned()).build())
                    .build(),
            )
            .await?;
        self.scores
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "challenge": 1, "phase": 1, "rank_value": -1, "submitted_at": 1 })
                    .options(IndexOptions::builder().name("leaderboard".to_owned()).build())
                    .build(),
            )
            .await?;
        Ok(())
    }

    pub async fn ping(&self) -> mongodb::error::Result<()> {
        self.scores.find_one(doc! {}).await.map(|_| ())
    }

    pub async fn record(&self, score: &ScoreDocument) -> mongodb::error::Result<Recorded> {
        match self.scores.insert_one(score).await {
            Ok(_) => Ok(Recorded::New),
            Err(e) if is_duplicate_key(&e) => Ok(Recorded::AlreadyScored),
            Err(e) => Err(e),
        }
    }

    pub async fn get(&self, submission_id: &str) -> mongodb::error::Result<Option<ScoreDocument>> {
        self.scores.find_one(doc! { "submission_id": submission_id }).await
    }

    /// Best score per participant in a phase, best first; ties go to the earlier submission.
    /// Non-finite values are never ranked (NaN fails both bounds).
    pub async fn leaderboard(
        &self,
        challenge: &str,
        phase: &str,
        direction: Direction,
        limit: usize,
    ) -> mongodb::error::Result<Vec<BestScore>> {
        let order = match direction {
            Direction::HigherIsBetter => -1,
            Direction::LowerIsBetter => 1,
        };
        let pipeline = vec![
            doc! { "$match": { "challenge": challenge, "phase": phase, "rank_value": { "$gt": f64::MIN, "$lt": f64::MAX } } },
            doc! { "$sort": { "rank_value": order, "submitted_at": 1 } },
            doc! { "$group": {
                "_id": "$participant_id",
                "submission_id": { "$first": "$submission_id" },
                "metrics": { "$first": "$metrics" },
                "rank_value": { "$first": "$rank_value" },
                "submitted_at": { "$first": "$submitted_at" },
                "scored_at": { "$first": "$scored_at" },
                "submissions": { "$sum": 1 },
            } },
            doc! { "$sort": { "rank_value": order, "submitted_at": 1 } },
            doc! { "$limit": limit as i64 },
        ];
        let rows: Vec<Document> = self.scores.aggregate(pipeline).await?.try_collect().await?;
        Ok(rows.into_iter().filter_map(|d| best_from(&d)).collect())
    }
}

fn best_from(d: &Document) -> Option<BestScore> {
    let metrics = d
        .get_document("metrics")
        .ok()?
        .iter()
        .filter_map(|(k, v)| v.as_f64().or_else(|| v.as_i64().map(|i| i as f64)).map(|f| (k.clone(), f)))
        .collect();
    Some(BestScore {
        participant_id: d.get_str("_id").ok()?.to_owned(),
        submission_id: d.get_str("submission_id").ok()?.to_owned(),
        metrics,
        submissions: d
            .get_i32("submissions")
            .map(|n| n as u32)
            .or_else(|_| d.get_i64("submissions").map(|n| n as u32))
            .ok()?,
        submitted_at: from_bson_time(*d.get_datetime("submitted_at").ok()?),
        scored_at: from_bson_time(*d.get_datetime("scored_at").ok()?),
    })
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
