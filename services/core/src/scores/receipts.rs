//! The receipts side of the score store (issue 17): each recorded score's signed receipt, in
//! its challenge's hash chain, and the public keys they are signed with.
//!
//! Two collections:
//! - `receipts`: one document per receipted score, `_id` the submission id (so a submission
//!   has at most one receipt), with a unique index on `(challenge, seq)` (so a challenge's
//!   chain has one receipt per place: linear however many evaluators append at once). The
//!   signed receipt is stored as its canonical JSON text, never re-encoded by the database.
//! - `receipt_keys`: every public key an evaluator has signed with (rotation keeps the old
//!   ones), served at `GET /api/v1/keys`.
//! - `receipt_chain_heads`: per challenge, the place and hash of the last receipt appended, so
//!   an append reads one document instead of the chain's last receipt by sort (which a server
//!   without that index, like the test server, answers by reading the whole chain). The head
//!   is moved forward only after its receipt is stored, so it may lag the chain after a crash,
//!   never lead it; a lagging head costs one lost place, after which the chain itself is read.
//!   An evaluator remembers the last receipt it appended to each chain and tries the place
//!   after it first, reading the head document only when it has appended none (a single
//!   evaluator then reads nothing before its insert); another evaluator's append in between
//!   costs that one lost place and a read of the head document, the chain itself being read
//!   only when the head document lags as well.
//!
//! Appending is crash-safe and idempotent: the receipt's claims are stored in the score
//! document, in the same insert as the score, before any receipt exists; each record (the first
//! or a redelivered one) then appends the receipt if the submission has none: read the head,
//! insert at `head + 1` naming its hash, and on a duplicate key (another evaluator took that
//! place, the head lagged, or this submission was receipted meanwhile) read the chain again. A
//! crash before the insert leaves the claims to the redelivery; after it, the receipt is found
//! and kept.

use std::collections::HashMap;
use std::sync::Arc;

use futures::TryStreamExt;
use mongodb::IndexModel;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;

use super::{ScoreStore, int, is_duplicate_key};
use crate::domain::commitment::Salt;
use crate::domain::receipt::{
    ChainHead, GENESIS_HASH, RECEIPT_FORMAT, Receipt, ReceiptClaims, ReceiptKey, ReceiptSigner, SignedReceipt,
};

/// What the evaluator hands the store with a score: the receipt's claims, and the opening of
/// its sealed commitment where it has one (kept sealed with the private split).
#[derive(Debug, Clone)]
pub struct PendingReceipt {
    pub claims: ReceiptClaims,
    pub opening: Option<Opening>,
}

/// What opens a receipt's `sealed` commitment: `seal(values, salt)` is the commitment. Stored
/// with the score, sealed like the private split: the reveal and a verification re-run read it.
#[derive(Debug, Clone)]
pub struct Opening {
    pub salt: Salt,
    pub values: crate::domain::receipt::SealedValues,
}

/// How often an append retries after losing its place to another evaluator before giving up
/// (the evaluation is then redelivered, and tries again).
const MAX_APPEND_TRIES: usize = 64;

fn bad(what: impl std::fmt::Display) -> mongodb::error::Error {
    mongodb::error::Error::custom(format!("receipt store: {what}"))
}

fn signed_from(d: &Document) -> mongodb::error::Result<SignedReceipt> {
    let text = |k: &str| d.get_str(k).map_err(|_| bad(format!("a receipt without '{k}'")));
    let receipt: Receipt = serde_json::from_str(text("receipt")?).map_err(bad)?;
    Ok(SignedReceipt {
        receipt,
        key_id: text("key_id")?.to_owned(),
        signature: text("signature")?.to_owned(),
        hash: text("hash")?.to_owned(),
    })
}

impl ScoreStore {
    /// This store signs receipts with `signer` (the evaluator's); without one it records
    /// scores without receipts (readers and tests).
    pub fn with_signer(mut self, signer: Arc<ReceiptSigner>) -> Self {
        self.signer = Some(signer);
        self
    }

    pub(super) async fn ensure_receipt_indexes(&self) -> mongodb::error::Result<()> {
        self.receipts
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "challenge": 1, "seq": 1 })
                    .options(IndexOptions::builder().unique(true).name("chain_place_unique".to_owned()).build())
                    .build(),
            )
            .await?;
        Ok(())
    }

    /// Lists the signer's public key at `GET /keys` (idempotent).
    pub async fn publish_key(&self) -> mongodb::error::Result<()> {
        let Some(signer) = &self.signer else { return Ok(()) };
        let key = signer.public_key();
        let set = doc! { "algorithm": &key.algorithm, "public_key": &key.public_key };
        self.receipt_keys.update_one(doc! { "_id": &key.key_id }, doc! { "$set": set }).upsert(true).await?;
        Ok(())
    }

    /// Every public key receipts were signed with, by id.
    pub async fn receipt_keys(&self) -> mongodb::error::Result<Vec<ReceiptKey>> {
        let docs: Vec<Document> = self.receipt_keys.find(doc! {}).sort(doc! { "_id": 1 }).await?.try_collect().await?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                Some(ReceiptKey {
                    key_id: d.get_str("_id").ok()?.to_owned(),
                    algorithm: d.get_str("algorithm").ok()?.to_owned(),
                    public_key: d.get_str("public_key").ok()?.to_owned(),
                })
            })
            .collect())
    }

    /// Appends the receipt of a stored score if it has claims and no receipt yet.
    pub(super) async fn ensure_receipt(&self, submission_id: &str) -> mongodb::error::Result<()> {
        if self.signer.is_none() {
            return Ok(());
        }
        let receipt_id = self.receipt_id(submission_id);
        if self.receipts.find_one(doc! { "_id": &receipt_id }).projection(doc! { "_id": 1 }).await?.is_some() {
            return Ok(());
        }
        let Some(score) = self
            .scores
            .clone_with_type::<Document>()
            .find_one(doc! { "submission_id": submission_id })
            .projection(doc! { "challenge": 1, "receipt_claims": 1 })
            .await?
        else {
            return Ok(());
        };
        // A score recorded before receipts existed has none to append.
        let Ok(claims) = score.get_str("receipt_claims") else { return Ok(()) };
        let claims: ReceiptClaims = serde_json::from_str(claims).map_err(bad)?;
        let challenge = score.get_str("challenge").map_err(|_| bad("a score without its challenge"))?;
        self.append_receipt(submission_id, challenge, &claims).await
    }

    /// Appends the receipt of a score stored just now with `claims`: one that no receipt can
    /// exist for yet, so [`ScoreStore::ensure_receipt`]'s two reads are skipped.
    pub(super) async fn append_receipt(
        &self,
        submission_id: &str,
        challenge: &str,
        claims: &ReceiptClaims,
    ) -> mongodb::error::Result<()> {
        let Some(signer) = &self.signer else { return Ok(()) };
        let receipt_id = self.receipt_id(submission_id);
        let challenge = challenge.to_owned();
        let mut head = self.head_at_least(&challenge, 0).await?;
        for _ in 0..MAX_APPEND_TRIES {
            let (seq, prev) = match head.take() {
                Some(head) => (head.length + 1, head.hash),
                None => (1, GENESIS_HASH.to_owned()),
            };
            let signed = signer.sign(Receipt {
                format: RECEIPT_FORMAT,
                challenge: challenge.clone(),
                seq,
                prev,
                claims: claims.clone(),
            });
            let text = String::from_utf8(crate::domain::receipt::signed_bytes(&signed.receipt)).map_err(bad)?;
            let stored = doc! {
                "_id": &receipt_id, "challenge": &challenge, "seq": seq as i64, "hash": &signed.hash,
                "key_id": &signed.key_id, "signature": &signed.signature, "receipt": text,
            };
            match self.receipts.insert_one(stored).await {
                Ok(_) => {
                    tracing::info!(submission = submission_id, challenge, seq, hash = %signed.hash, "receipt appended");
                    self.remember_appended(&challenge, ChainHead { length: seq, hash: signed.hash.clone() });
                    return self.advance_head(&challenge, seq, &signed.hash).await;
                }
                Err(e) if is_duplicate_key(&e) => {
                    if self.receipts.find_one(doc! { "_id": &receipt_id }).await?.is_some() {
                        return Ok(());
                    }
                    tracing::debug!(submission = submission_id, seq, "chain place taken; reading the chain again");
                    head = self.head_at_least(&challenge, seq).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(bad(format!("could not append the receipt of {submission_id} after {MAX_APPEND_TRIES} tries")))
    }

    /// Where to append next: the first of these that reaches `length` (0 at the start of an
    /// append; after a lost place, that place): the last receipt this process appended (no
    /// read), the head document (another evaluator's append), and only when both lag, or for a
    /// challenge without a head document (its first receipt, or a chain appended before heads
    /// were kept), the chain itself.
    async fn head_at_least(&self, challenge: &str, length: u64) -> mongodb::error::Result<Option<ChainHead>> {
        if let Some(mine) = self.last_appended(challenge).filter(|h| h.length >= length) {
            return Ok(Some(mine));
        }
        match self.known_head(challenge).await? {
            Some(known) if known.length >= length => Ok(Some(known)),
            _ => self.chain_head(challenge).await,
        }
    }

    /// The last receipt this process appended to `challenge`'s chain: never past the chain's
    /// head, possibly behind it.
    fn last_appended(&self, challenge: &str) -> Option<ChainHead> {
        self.appended.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(challenge).cloned()
    }

    fn remember_appended(&self, challenge: &str, head: ChainHead) {
        let mut appended = self.appended.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if appended.get(challenge).is_none_or(|known| known.length < head.length) {
            appended.insert(challenge.to_owned(), head);
        }
    }

    fn chain_heads(&self) -> mongodb::Collection<Document> {
        self.db.collection("receipt_chain_heads")
    }

    /// The head as last appended (see the module's documentation): it may lag the chain.
    async fn known_head(&self, challenge: &str) -> mongodb::error::Result<Option<ChainHead>> {
        let Some(d) = self.chain_heads().find_one(doc! { "_id": challenge }).await? else { return Ok(None) };
        let length = int(&d, "length").ok_or_else(|| bad("a chain head without its length"))? as u64;
        let hash = d.get_str("hash").map_err(|_| bad("a chain head without its hash"))?.to_owned();
        Ok(Some(ChainHead { length, hash }))
    }

    /// Moves the challenge's head to the receipt at `seq`, only forward: a head already there
    /// or past it (another evaluator's append) is kept, and the upsert's duplicate `_id` says so.
    async fn advance_head(&self, challenge: &str, seq: u64, hash: &str) -> mongodb::error::Result<()> {
        let behind = doc! { "_id": challenge, "length": { "$lt": seq as i64 } };
        let head = doc! { "$set": { "length": seq as i64, "hash": hash } };
        match self.chain_heads().update_one(behind, head).upsert(true).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The head of a challenge's chain: its last receipt's place and hash.
    pub async fn chain_head(&self, challenge: &str) -> mongodb::error::Result<Option<ChainHead>> {
        let last = self
            .receipts
            .find_one(doc! { "challenge": challenge })
            .sort(doc! { "seq": -1 })
            .projection(doc! { "seq": 1, "hash": 1 })
            .await?;
        last.map(|d| {
            let length = int(&d, "seq").ok_or_else(|| bad("a receipt without its seq"))? as u64;
            let hash = d.get_str("hash").map_err(|_| bad("a receipt without its hash"))?.to_owned();
            Ok(ChainHead { length, hash })
        })
        .transpose()
    }

    /// A submission's receipt in this store's generation, if its score has one.
    pub async fn receipt(&self, submission_id: &str) -> mongodb::error::Result<Option<SignedReceipt>> {
        self.receipts
            .find_one(doc! { "_id": self.receipt_id(submission_id) })
            .await?
            .as_ref()
            .map(signed_from)
            .transpose()
    }

    /// The `_id` of a submission's receipt in this store's generation: the submission id in
    /// generation 1 (as before rescores existed), `{submission}@{generation}` after, so a
    /// rescored submission has one receipt per generation.
    pub(super) fn receipt_id(&self, submission_id: &str) -> String {
        match self.generation {
            1 => submission_id.to_owned(),
            g => format!("{submission_id}@{g}"),
        }
    }

    /// Up to `limit` receipts of a challenge after place `after`, in order.
    pub async fn chain(&self, challenge: &str, after: u64, limit: u32) -> mongodb::error::Result<Vec<SignedReceipt>> {
        let docs: Vec<Document> = self
            .receipts
            .find(doc! { "challenge": challenge, "seq": { "$gt": after as i64 } })
            .sort(doc! { "seq": 1 })
            .limit(i64::from(limit))
            .await?
            .try_collect()
            .await?;
        docs.iter().map(signed_from).collect()
    }

    /// The receipt hash of each of these submissions that has one (in this store's
    /// generation), by submission id.
    pub async fn receipt_hashes(&self, submission_ids: &[String]) -> mongodb::error::Result<HashMap<String, String>> {
        let mut out = HashMap::with_capacity(submission_ids.len());
        let by_receipt: HashMap<String, &String> = submission_ids.iter().map(|s| (self.receipt_id(s), s)).collect();
        let receipt_ids: Vec<&String> = by_receipt.keys().collect();
        for ids in receipt_ids.chunks(1000) {
            let mut cursor =
                self.receipts.find(doc! { "_id": { "$in": ids } }).projection(doc! { "_id": 1, "hash": 1 }).await?;
            while let Some(d) = cursor.try_next().await? {
                if let (Ok(id), Ok(hash)) = (d.get_str("_id"), d.get_str("hash"))
                    && let Some(submission) = by_receipt.get(id)
                {
                    out.insert((*submission).clone(), hash.to_owned());
                }
            }
        }
        Ok(out)
    }
}
