//! Score receipts (issue 17): the signed bytes, the hash chain, and every check a verifier
//! makes, in one place for the evaluator (which signs), the submissions service (which serves)
//! and the CLI (which verifies on its own, trusting nothing the server computed).
//!
//! - **Signed bytes**: the [`Receipt`]'s canonical JSON ([`super::canonical`]). No float is
//!   signed: metrics are [`metric_text`] strings, CPU limits too, times RFC 3339 strings to the
//!   millisecond ([`time_text`]); integers are plain JSON integers.
//! - **Hash**: SHA-256 of the signed bytes, 64 lowercase hex digits ([`receipt_hash`]). Ed25519
//!   signatures are deterministic and checked strictly, so the hash names one signed receipt.
//! - **Signature**: Ed25519 (RFC 8032) over the signed bytes, 128 hex digits, by the key
//!   `key_id` names: the first 16 hex digits of SHA-256 of the 32-byte public key ([`key_id`]).
//! - **Chain**: a challenge's receipts are numbered from 1; each names the previous one's hash
//!   in `prev` (the first names [`GENESIS_HASH`]). The board carries the head (length, hash).
//! - **Sealed values**: where a score has a private split, the receipt carries
//!   `SHA-256(salt ‖ canonical JSON of` [`SealedValues`]`)` ([`seal`]) instead of the two files'
//!   hashes; the salt stays sealed with the private split.
//!
//! The key file ([`ReceiptSigner::from_file`]) holds the 32-byte Ed25519 seed as 64 hex digits.
//! Pure apart from reading that file: no clock, no network.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use thiserror::Error;

pub use darkroom_api::{
    ChainHead, GENESIS_HASH, Leaderboard, RECEIPT_FORMAT, Receipt, ReceiptClaims, ReceiptKey, ReceiptKeys,
    ReceiptLimits, SealedValues, SignedReceipt,
};

use super::canonical::to_canonical_bytes;
use super::commitment::{Salt, commit_bytes};
use super::{Resources, SubmissionId};
use crate::digest::sha256_hex;

/// How to make a signing key, for error messages and the docs.
pub const KEYGEN_COMMAND: &str = "od -An -tx1 -N32 /dev/urandom | tr -d ' \\n' > FILE && chmod 600 FILE";

/// The receipt's signed bytes: its canonical JSON.
pub fn signed_bytes(receipt: &Receipt) -> Vec<u8> {
    to_canonical_bytes(receipt).expect("a receipt is JSON: string keys, no floats")
}

/// Hex SHA-256 of the receipt's signed bytes.
pub fn receipt_hash(receipt: &Receipt) -> String {
    sha256_hex(&signed_bytes(receipt))
}

/// A metric as a receipt spells it: the shortest decimal that reads back as the same `f64`
/// (serde_json's spelling, `1.0`, `0.955`, `1e-7`); non-finite values (never recorded) as Rust
/// prints them.
pub fn metric_text(value: f64) -> String {
    serde_json::Number::from_f64(value).map_or_else(|| value.to_string(), |n| n.to_string())
}

/// Every metric as [`metric_text`].
pub fn metrics_text(metrics: &BTreeMap<String, f64>) -> BTreeMap<String, String> {
    metrics.iter().map(|(k, v)| (k.clone(), metric_text(*v))).collect()
}

/// A time as a receipt spells it: RFC 3339, UTC, milliseconds, `Z`.
pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `t` cut to the whole second: a receipt's times where the challenge hides logs.
pub fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}

/// The participant's limits as a receipt records them.
pub fn limits_of(r: &Resources) -> ReceiptLimits {
    ReceiptLimits {
        cpus: metric_text(r.cpus),
        memory_mb: r.memory_mb,
        gpus: r.gpus,
        pids: r.pids,
        wall_clock_seconds: r.wall_clock_seconds,
        output_max_mb: r.output_max_mb,
        output_max_files: r.output_max_files,
        output_max_depth: r.output_max_depth,
        allow_root: r.allow_root,
    }
}

/// The commitment a receipt's `sealed` holds: hex `SHA-256(salt ‖ canonical JSON of values)`.
pub fn seal(values: &SealedValues, salt: &Salt) -> String {
    let bytes = to_canonical_bytes(values).expect("sealed values are JSON: string keys, no floats");
    commit_bytes(&bytes, salt).to_string()
}

/// A public key's id: the first 16 hex digits of SHA-256 of its 32 bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    sha256_hex(key.as_bytes())[..16].to_owned()
}

/// Why the signing key cannot be used.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error(
        "receipt signing key '{path}' cannot be read ({source}); create one with `{}` (scripts/setup.sh does \
         for local runs; in Compose it is the secret secrets/receipt_signing_key)",
        KEYGEN_COMMAND.replace("FILE", path)
    )]
    Unreadable { path: String, source: std::io::Error },
    #[error(
        "receipt signing key '{path}' is not 64 hex digits (an Ed25519 seed); create a new one with `{}`",
        KEYGEN_COMMAND.replace("FILE", path)
    )]
    Malformed { path: String },
}

/// The evaluator's signing key.
pub struct ReceiptSigner {
    key: SigningKey,
    public: ReceiptKey,
}

impl fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReceiptSigner({})", self.public.key_id)
    }
}

impl ReceiptSigner {
    /// The signer of a 32-byte Ed25519 seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&seed);
        let verifying = key.verifying_key();
        let public = ReceiptKey {
            key_id: key_id(&verifying),
            algorithm: "ed25519".into(),
            public_key: hex::encode(verifying.as_bytes()),
        };
        Self { key, public }
    }

    /// Reads the seed from `path`: 64 hex digits, surrounding whitespace ignored.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| KeyError::Unreadable { path: shown.clone(), source })?;
        let mut seed = [0; 32];
        hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| KeyError::Malformed { path: shown })?;
        Ok(Self::from_seed(seed))
    }

    pub fn public_key(&self) -> &ReceiptKey {
        &self.public
    }

    /// The key of this signer's ground-truth commitments ([`ground_truth_commitment`]).
    pub fn ground_truth_key(&self) -> GroundTruthKey {
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut hasher, GROUND_TRUTH_KEY_LABEL);
        sha2::Digest::update(&mut hasher, self.key.to_bytes());
        GroundTruthKey(sha2::Digest::finalize(hasher).into())
    }

    /// Signs `receipt`.
    pub fn sign(&self, receipt: Receipt) -> SignedReceipt {
        let bytes = signed_bytes(&receipt);
        let signature = self.key.sign(&bytes);
        SignedReceipt {
            hash: sha256_hex(&bytes),
            key_id: self.public.key_id.clone(),
            signature: hex::encode(signature.to_bytes()),
            receipt,
        }
    }
}

/// Where the ground-truth commitments' key comes from: SHA-256 of this label and the signing
/// seed. One secret to keep, not two; the derived key reveals nothing of the seed, so it can be
/// published once the competition is over, letting anyone check the commitments.
const GROUND_TRUTH_KEY_LABEL: &[u8] = b"darkroom ground-truth commitment key v1\n";

/// The HMAC key of the ground-truth commitments (see [`ReceiptSigner::ground_truth_key`]).
#[derive(Clone)]
pub struct GroundTruthKey([u8; 32]);

impl GroundTruthKey {
    /// The key as 64 hex digits, for an organizer who publishes it after the competition.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for GroundTruthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GroundTruthKey(…)")
    }
}

/// A receipt's `ground_truth_fingerprint`: hex HMAC-SHA256 under `key` of
/// `challenge ‖ "\n" ‖ the fingerprint's digest`. Receipts are public, and a plain hash of a
/// small ground truth could be matched by trying labellings; keyed, it is useless to a guesser,
/// yet the same for every receipt while the ground truth stays the same, so a change shows in
/// the chain (as does a new signing key: receipts name theirs).
pub fn ground_truth_commitment(key: &GroundTruthKey, challenge: &str, digest: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key.0).expect("HMAC takes a key of any length");
    mac.update(challenge.as_bytes());
    mac.update(b"\n");
    mac.update(digest.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// What a verification found wrong: each names the receipt, link or board row.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error("key {key_id}: not an Ed25519 public key (64 hex digits)")]
    BadKey { key_id: String },
    #[error("receipt #{seq} ({submission}): signed by key {key_id}, which is not among the trusted keys")]
    UnknownKey { seq: u64, submission: SubmissionId, key_id: String },
    #[error("receipt #{seq} ({submission}): signature does not verify")]
    Signature { seq: u64, submission: SubmissionId },
    #[error("receipt #{seq} ({submission}): its content hashes to {actual}, not the {claimed} it is served with")]
    Hash { seq: u64, submission: SubmissionId, claimed: String, actual: String },
    #[error("receipt #{seq} ({submission}): format {format}, this verifier reads format {RECEIPT_FORMAT}")]
    Format { seq: u64, submission: SubmissionId, format: u32 },
    #[error("receipt #{seq} ({submission}): belongs to challenge '{other}', not '{challenge}'")]
    WrongChallenge { seq: u64, submission: SubmissionId, challenge: String, other: String },
    #[error("chain link at seq {seq}: expected seq {seq} here, found seq {found} (a receipt is missing or reordered)")]
    Gap { seq: u64, found: u64 },
    #[error("chain link at seq {seq}: prev is {prev}, but receipt #{} hashes to {expected}", seq - 1)]
    Link { seq: u64, prev: String, expected: String },
    #[error("chain: submission {submission} has two receipts (#{first} and #{second})")]
    Duplicate { submission: SubmissionId, first: u64, second: u64 },
    #[error("chain head: the board names #{length} {hash}, but the chain {found}")]
    Head { length: u64, hash: String, found: String },
    #[error("board: it shows scores but no chain head")]
    NoHead,
    #[error("board row {rank} ({submission}): not backed by a receipt")]
    NotBacked { rank: u32, submission: SubmissionId },
    #[error("board row {rank} ({submission}): the receipt is for phase '{receipt}', the board is phase '{board}'")]
    WrongPhase { rank: u32, submission: SubmissionId, receipt: String, board: String },
    #[error("board row {rank} ({submission}): board shows {metric} = {board}, the receipt says {receipt}")]
    Value { rank: u32, submission: SubmissionId, metric: String, board: String, receipt: String },
    #[error("board row {rank} ({submission}): board shows {field} {board}, the receipt says {receipt}")]
    Time { rank: u32, submission: SubmissionId, field: &'static str, board: String, receipt: String },
    #[error("board row {rank}: out of order (rank {found} at position {rank}, or ranked above a better score)")]
    Order { rank: u32, found: u32 },
    #[error("receipt of {submission}: the one served differs from #{seq} in the chain")]
    NotInChain { submission: SubmissionId, seq: u64 },
}

/// The public keys a verifier trusts, by id.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<String, VerifyingKey>,
}

impl KeyRing {
    /// The keys of `GET /keys` (or pinned ones). Ids are recomputed from the keys, never taken
    /// from the listing.
    pub fn new(keys: &[ReceiptKey]) -> Result<Self, VerifyError> {
        let mut ring = Self::default();
        for k in keys {
            let mut bytes = [0; 32];
            let bad = || VerifyError::BadKey { key_id: k.key_id.clone() };
            hex::decode_to_slice(k.public_key.trim(), &mut bytes).map_err(|_| bad())?;
            let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
            ring.keys.insert(key_id(&key), key);
        }
        Ok(ring)
    }

    /// A ring of one key given as 64 hex digits.
    pub fn pinned(public_key_hex: &str) -> Result<Self, VerifyError> {
        let key =
            ReceiptKey { key_id: "pinned".into(), algorithm: "ed25519".into(), public_key: public_key_hex.into() };
        Self::new(&[key])
    }

    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }
}

/// Checks a receipt on its own: its served hash and its signature by a trusted key.
pub fn verify_receipt(signed: &SignedReceipt, keys: &KeyRing) -> Result<(), VerifyError> {
    let r = &signed.receipt;
    let (seq, submission) = (r.seq, r.claims.submission_id);
    if r.format != RECEIPT_FORMAT {
        return Err(VerifyError::Format { seq, submission, format: r.format });
    }
    let bytes = signed_bytes(r);
    let actual = sha256_hex(&bytes);
    if actual != signed.hash {
        return Err(VerifyError::Hash { seq, submission, claimed: signed.hash.clone(), actual });
    }
    let key = keys.keys.get(&signed.key_id).ok_or_else(|| VerifyError::UnknownKey {
        seq,
        submission,
        key_id: signed.key_id.clone(),
    })?;
    let mut sig = [0; 64];
    hex::decode_to_slice(&signed.signature, &mut sig).map_err(|_| VerifyError::Signature { seq, submission })?;
    key.verify_strict(&bytes, &Signature::from_bytes(&sig)).map_err(|_| VerifyError::Signature { seq, submission })
}

/// A challenge's chain, every link and signature checked.
#[derive(Debug, Clone)]
pub struct VerifiedChain {
    pub challenge: String,
    receipts: Vec<SignedReceipt>,
    /// By submission and board generation (a rescored submission has one receipt in each).
    by_submission: HashMap<(SubmissionId, u32), usize>,
}

/// The board generation a receipt belongs to (1: the original evaluation).
fn generation_of(r: &Receipt) -> u32 {
    r.claims.generation.unwrap_or(1)
}

impl VerifiedChain {
    pub fn len(&self) -> u64 {
        self.receipts.len() as u64
    }

    /// How many different ground-truth commitments the receipts of `phase` name: 1 while the
    /// ground truth (and the signing key) stayed the same, more if it changed mid-phase.
    pub fn ground_truth_commitments(&self, phase: &str) -> usize {
        let mut seen: Vec<&str> = self
            .receipts
            .iter()
            .filter(|r| r.receipt.claims.phase == phase)
            .filter_map(|r| r.receipt.claims.ground_truth_fingerprint.as_deref())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.receipts.is_empty()
    }

    /// The last receipt's length and hash (`None` for an empty chain).
    pub fn head(&self) -> Option<ChainHead> {
        self.receipts.last().map(|r| ChainHead { length: r.receipt.seq, hash: r.hash.clone() })
    }

    /// A submission's receipt of the original evaluation (generation 1).
    pub fn receipt_of(&self, submission: SubmissionId) -> Option<&SignedReceipt> {
        self.receipt_of_generation(submission, 1)
    }

    /// A submission's receipt in a board generation (a rescore's).
    pub fn receipt_of_generation(&self, submission: SubmissionId, generation: u32) -> Option<&SignedReceipt> {
        self.by_submission.get(&(submission, generation)).map(|&i| &self.receipts[i])
    }

    /// The chain holds `head` (a head served earlier, with a board): receipt `head.length`
    /// hashes to `head.hash`. A longer chain is fine: receipts were added since.
    pub fn holds(&self, head: &ChainHead) -> Result<(), VerifyError> {
        let found = match head.length.checked_sub(1).and_then(|i| self.receipts.get(i as usize)) {
            Some(r) if r.hash == head.hash => return Ok(()),
            Some(r) => format!("has {} there", r.hash),
            None => format!("has only {} receipts", self.receipts.len()),
        };
        Err(VerifyError::Head { length: head.length, hash: head.hash.clone(), found })
    }

    /// The served receipt of a submission is the one in the chain at its place.
    pub fn check_member(&self, signed: &SignedReceipt) -> Result<(), VerifyError> {
        let submission = signed.receipt.claims.submission_id;
        match self.receipt_of_generation(submission, generation_of(&signed.receipt)) {
            Some(r) if r == signed => Ok(()),
            _ => Err(VerifyError::NotInChain { submission, seq: signed.receipt.seq }),
        }
    }
}

/// Walks `receipts` (the whole chain of `challenge`, in order): numbered 1, 2, …; each `prev`
/// the hash of the one before; each signature by a trusted key; one receipt per submission.
pub fn verify_chain(
    challenge: &str,
    receipts: Vec<SignedReceipt>,
    keys: &KeyRing,
) -> Result<VerifiedChain, VerifyError> {
    let mut by_submission = HashMap::with_capacity(receipts.len());
    let mut prev = GENESIS_HASH;
    for (i, signed) in receipts.iter().enumerate() {
        let r = &signed.receipt;
        let seq = i as u64 + 1;
        let submission = r.claims.submission_id;
        if r.challenge != challenge {
            return Err(VerifyError::WrongChallenge {
                seq: r.seq,
                submission,
                challenge: challenge.into(),
                other: r.challenge.clone(),
            });
        }
        if r.seq != seq {
            return Err(VerifyError::Gap { seq, found: r.seq });
        }
        verify_receipt(signed, keys)?;
        if r.prev != prev {
            return Err(VerifyError::Link { seq, prev: r.prev.clone(), expected: prev.to_owned() });
        }
        if let Some(first) = by_submission.insert((submission, generation_of(r)), i) {
            return Err(VerifyError::Duplicate { submission, first: first as u64 + 1, second: seq });
        }
        prev = &signed.hash;
    }
    Ok(VerifiedChain { challenge: challenge.to_owned(), receipts, by_submission })
}

/// How a board's values relate to its receipts' (the phase's feedback mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// `raw`: the board shows exactly the receipt's value.
    Exact,
    /// `rounded` and `ladder`: the exact values are sealed in the receipts (participants may not
    /// read them), so only the backing, the phase and the times are checked.
    NotCompared,
}

impl Values {
    /// The rule for a phase shown in `feedback`.
    pub fn of(feedback: darkroom_api::Feedback) -> Self {
        match feedback {
            darkroom_api::Feedback::Raw => Values::Exact,
            darkroom_api::Feedback::Rounded | darkroom_api::Feedback::Ladder => Values::NotCompared,
        }
    }
}

/// Checks one board row against the receipt of its submission.
fn check_row(
    row: &darkroom_api::LeaderboardEntry,
    phase: &str,
    receipt: &SignedReceipt,
    values: Values,
) -> Result<(), VerifyError> {
    let (rank, submission) = (row.rank, row.submission_id);
    let claims = &receipt.receipt.claims;
    if claims.phase != phase {
        return Err(VerifyError::WrongPhase { rank, submission, receipt: claims.phase.clone(), board: phase.into() });
    }
    // Where logs are hidden the board cuts times to the whole second.
    for (field, shown, recorded) in
        [("submitted_at", row.submitted_at, &claims.submitted_at), ("scored_at", row.scored_at, &claims.scored_at)]
    {
        let matches = DateTime::parse_from_rfc3339(recorded).is_ok_and(|t| {
            let t = t.with_timezone(&Utc);
            t == shown || t.with_nanosecond(0) == Some(shown)
        });
        if !matches {
            let (board, receipt) = (time_text(shown), recorded.clone());
            return Err(VerifyError::Time { rank, submission, field, board, receipt });
        }
    }
    if values == Values::NotCompared {
        return Ok(());
    }
    for (metric, shown) in &row.metrics {
        let recorded = claims.metrics.get(metric);
        let expected = recorded.and_then(|t| t.parse::<f64>().ok());
        if expected.map(metric_text) != Some(metric_text(*shown)) {
            return Err(VerifyError::Value {
                rank,
                submission,
                metric: metric.clone(),
                board: metric_text(*shown),
                receipt: recorded.cloned().unwrap_or_else(|| "nothing".into()),
            });
        }
    }
    Ok(())
}

/// Every row of `board` is backed by a receipt of `chain` for its phase and shows what it says,
/// and the chain holds the head served with the board. Returns how many rows were checked.
pub fn verify_board(board: &Leaderboard, chain: &VerifiedChain, values: Values) -> Result<usize, VerifyError> {
    match &board.chain {
        Some(head) => chain.holds(head)?,
        None if !board.entries.is_empty() => return Err(VerifyError::NoHead),
        None => {}
    }
    let mut previous: Option<f64> = None;
    for (i, row) in board.entries.iter().enumerate() {
        if row.rank != i as u32 + 1 {
            return Err(VerifyError::Order { rank: i as u32 + 1, found: row.rank });
        }
        // Best first: the ranking metric never improves further down.
        let value = row.metrics.get(&board.rank_by).copied();
        if let (Some(above), Some(here)) = (previous, value) {
            let better = match board.direction {
                darkroom_api::Direction::HigherIsBetter => here > above,
                darkroom_api::Direction::LowerIsBetter => here < above,
            };
            if better && values != Values::NotCompared {
                return Err(VerifyError::Order { rank: row.rank, found: row.rank });
            }
        }
        previous = value;
        let receipt = chain
            .receipt_of_generation(row.submission_id, board.generation())
            .ok_or(VerifyError::NotBacked { rank: row.rank, submission: row.submission_id })?;
        check_row(row, &board.phase, receipt, values)?;
    }
    Ok(board.entries.len())
}

/// Where a submission's receipt stands on its board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnBoard {
    /// The board's row for it shows what the receipt says.
    Shown { rank: u32 },
    /// The board shows another score of the same participant or none (a better one counts).
    NotShown,
}

/// The row of `signed`'s submission on `board`, if any, shows what the receipt says.
pub fn check_on_board(signed: &SignedReceipt, board: &Leaderboard, values: Values) -> Result<OnBoard, VerifyError> {
    let submission = signed.receipt.claims.submission_id;
    // A receipt of another evaluator generation backs no row of this board.
    if generation_of(&signed.receipt) != board.generation() {
        return Ok(OnBoard::NotShown);
    }
    match board.entries.iter().find(|row| row.submission_id == submission) {
        Some(row) => check_row(row, &board.phase, signed, values).map(|()| OnBoard::Shown { rank: row.rank }),
        None => Ok(OnBoard::NotShown),
    }
}

#[cfg(test)]
#[path = "receipt_tests.rs"]
mod tests;
