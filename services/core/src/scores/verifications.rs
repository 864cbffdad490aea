//! Verification re-runs in the score store (issue 17): what the evaluator compares a re-run
//! with (the original score, both splits, its receipt's claims and the opening of its sealed
//! commitment), and the result it stores.
//!
//! One collection, `verifications`: one document per re-run, `_id` its id, holding the result
//! as JSON text (a report is read whole, never queried by field; text keeps every float as the
//! evaluator wrote it). The first result stored wins, so a redelivered evaluation changes
//! nothing. Organizer-only: no participant route reads here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mongodb::Collection;
use mongodb::bson::{Document, doc};
use serde::{Deserialize, Serialize};

use super::{ScoreStore, from_millis, is_duplicate_key, metrics_from};
use crate::domain::receipt::{ReceiptClaims, SealedValues};
use crate::domain::rerun::RerunReport;
use darkroom_api::{SubmissionId, VerificationId};

/// A recorded score as a re-run is compared with it.
#[derive(Debug, Clone)]
pub struct OriginalScore {
    pub metrics: BTreeMap<String, f64>,
    pub private_metrics: Option<BTreeMap<String, f64>>,
    /// Its receipt's claims; `None` for a score recorded before receipts.
    pub claims: Option<ReceiptClaims>,
    /// Hex SHA-256 of its `score.json`: from the claims, or from the opening of their sealed
    /// commitment; `None` where neither says (sealed before openings were kept).
    pub score_json_sha256: Option<String>,
}

/// How a verification re-run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationResult {
    Complete(RerunReport),
    /// It could not run or be evaluated; the reason, for the organizer.
    Failed(String),
}

/// A stored verification result.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVerification {
    pub id: VerificationId,
    pub submission_id: SubmissionId,
    pub finished_at: DateTime<Utc>,
    pub result: VerificationResult,
}

fn bad(what: impl std::fmt::Display) -> mongodb::error::Error {
    mongodb::error::Error::custom(format!("verification store: {what}"))
}

impl ScoreStore {
    fn verifications(&self) -> Collection<Document> {
        self.scores.client().database(&self.scores.namespace().db).collection("verifications")
    }

    /// The recorded score of `submission_id` with what a re-run is compared against; `None`
    /// when it has no score.
    pub async fn original_score(&self, submission_id: &str) -> mongodb::error::Result<Option<OriginalScore>> {
        let found = self.scores.clone_with_type::<Document>().find_one(doc! { "submission_id": submission_id }).await?;
        let Some(d) = found else { return Ok(None) };
        let claims: Option<ReceiptClaims> =
            d.get_str("receipt_claims").ok().map(serde_json::from_str).transpose().map_err(bad)?;
        let opening: Option<SealedValues> =
            d.get_str("receipt_sealed_values").ok().map(serde_json::from_str).transpose().map_err(bad)?;
        let score_json_sha256 =
            claims.as_ref().and_then(|c| c.score_json_sha256.clone()).or_else(|| opening.map(|o| o.score_json_sha256));
        Ok(Some(OriginalScore {
            metrics: d.get_document("metrics").map(metrics_from).unwrap_or_default(),
            private_metrics: d.get_document("private_metrics").ok().map(metrics_from),
            claims,
            score_json_sha256,
        }))
    }

    /// Stores a re-run's result unless one is stored already (then the first stays).
    pub async fn record_verification(&self, v: &StoredVerification) -> mongodb::error::Result<()> {
        let result = serde_json::to_string(&v.result).map_err(bad)?;
        let d = doc! {
            "_id": v.id.to_string(),
            "submission_id": v.submission_id.to_string(),
            "finished_ms": v.finished_at.timestamp_millis(),
            "result": result,
        };
        match self.verifications().insert_one(d).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A re-run's stored result; `None` while it is still running (or was never asked for).
    pub async fn verification(&self, id: VerificationId) -> mongodb::error::Result<Option<StoredVerification>> {
        let Some(d) = self.verifications().find_one(doc! { "_id": id.to_string() }).await? else { return Ok(None) };
        let text = |k: &str| d.get_str(k).map_err(|_| bad(format!("a verification without '{k}'")));
        Ok(Some(StoredVerification {
            id,
            submission_id: text("submission_id")?.parse().map_err(bad)?,
            finished_at: from_millis(d.get_i64("finished_ms").map_err(|_| bad("no finish time"))?),
            result: serde_json::from_str(text("result")?).map_err(bad)?,
        }))
    }
}
