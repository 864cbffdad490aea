//! Score receipts (issue 17): what a recorded score was computed from, signed by the evaluator
//! that recorded it and chained per challenge, so anyone can check a board after the fact.
//!
//! - `GET /keys`: the public keys receipts are signed with ([`ReceiptKeys`]).
//! - `GET /submissions/{id}/receipt`: a submission's [`SignedReceipt`] (its owner, its team and
//!   organizers).
//! - `GET /challenges/{slug}/receipts[?after=&limit=]`: the challenge's chain, oldest first,
//!   paged by sequence number ([`ReceiptChainPage`]); public, as the boards are.
//! - The leaderboard carries its challenge's [`ChainHead`]; its export
//!   (`GET /challenges/{slug}/leaderboard/export?format=csv|json`) gives each row's receipt hash
//!   ([`ExportedBoard`]).
//!
//! These are shapes only. The signed bytes (canonical JSON), the hash, the signature and every
//! check are `darkroom_core::domain::receipt`'s; `docs/receipts.md` describes the format for a
//! verifier in any language. No floating-point number is signed: metrics and CPU limits are
//! decimal strings, times RFC 3339 strings, so the signed bytes never depend on how a JSON
//! library prints a float.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::challenge::Direction;
use crate::ids::{ParticipantId, SubmissionId};

/// The receipt format this crate reads and writes (the `format` field).
pub const RECEIPT_FORMAT: u32 = 1;

/// The `prev` of a challenge's first receipt: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The signed document: one recorded score, its place in its challenge's chain, and the
/// previous receipt's hash. Its canonical JSON is what the signature and the hash cover.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// [`RECEIPT_FORMAT`].
    pub format: u32,
    pub challenge: String,
    /// 1 for the challenge's first receipt, then one more each.
    pub seq: u64,
    /// The previous receipt's hash (hex SHA-256 of its signed bytes); [`GENESIS_HASH`] at seq 1.
    pub prev: String,
    pub claims: ReceiptClaims,
}

/// What was scored, on what, by whom, and what came out.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptClaims {
    pub submission_id: SubmissionId,
    pub participant_id: ParticipantId,
    pub phase: String,
    /// The run attempt that earned the score.
    pub attempt: u32,
    /// The participant image that ran (the engine's image id, `sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// The evaluation image's name and the id it was pinned to and ran as.
    pub evaluation_image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_image_id: Option<String>,
    /// Fingerprints of the hidden dataset and ground truth, when the challenge was applied with
    /// them (absent before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground_truth_fingerprint: Option<String>,
    /// Hex SHA-256 of the participant's output archive as the evaluator received it.
    pub output_archive_sha256: String,
    /// Hex SHA-256 of the evaluator's `score.json` and `cases.csv`. Absent (and folded into
    /// `sealed`) when anything is sealed: these files hold the sealed values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_json_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases_csv_sha256: Option<String>,
    /// A salted commitment (hex SHA-256) to what stays sealed: the private metrics (until the
    /// reveal), exact public values the phase hides, and the two files' hashes. See
    /// [`SealedValues`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    /// The public metrics, each as the shortest decimal that reads back as the stored `f64`
    /// (what serde_json prints for it). Empty where the phase's feedback is `rounded` or
    /// `ladder`: participants may not read exact public values there, so they are sealed too.
    pub metrics: BTreeMap<String, String>,
    pub limits: ReceiptLimits,
    /// The sandbox policy's version (`darkroom_core::sandbox::POLICY_VERSION`).
    pub sandbox_policy: u32,
    /// The runner that ran the participant's image, when the run says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    pub evaluator: String,
    /// Darkroom's version that recorded the score.
    pub darkroom_version: String,
    /// RFC 3339, UTC, to the millisecond (`2026-11-30T16:00:00.000Z`); cut to the whole
    /// second where the challenge hides logs, as the board's times are.
    pub submitted_at: String,
    pub run_finished_at: String,
    pub scored_at: String,
    /// The board generation this score belongs to when a rescore recorded it (2, 3, …);
    /// absent for the original evaluation, so receipts from before rescores read the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u32>,
}

/// The participant's resource limits as the run had them. `cpus` is a decimal string.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLimits {
    pub cpus: String,
    pub memory_mb: u64,
    pub gpus: u32,
    pub pids: u32,
    pub wall_clock_seconds: u64,
    pub output_max_mb: u64,
    pub output_max_files: u64,
    pub output_max_depth: u32,
    pub allow_root: bool,
}

/// What a receipt's `sealed` commits to: `SHA-256(salt ‖ canonical JSON of this)`, the salt's
/// 32 bytes first (the board commitment's rule). Kept sealed with the private split; revealing
/// it and the salt lets anyone check the commitment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedValues {
    /// The exact public metrics where the phase shows them only rounded or through the Ladder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_metrics: Option<BTreeMap<String, String>>,
    /// The private metrics, as decimal strings like the public ones (absent: no private split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_metrics: Option<BTreeMap<String, String>>,
    pub score_json_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases_csv_sha256: Option<String>,
}

/// A receipt as served: the signed document, the signature and its key, and its hash (which
/// a verifier recomputes rather than trusts).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    pub receipt: Receipt,
    /// Which key of `GET /keys` signed it.
    pub key_id: String,
    /// Ed25519 over the receipt's canonical bytes, 128 hex digits.
    pub signature: String,
    /// Hex SHA-256 of the receipt's canonical bytes: what the next receipt's `prev` names.
    pub hash: String,
}

/// `GET /keys`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptKeys {
    pub keys: Vec<ReceiptKey>,
}

/// A public key receipts may be signed with.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptKey {
    /// The first 16 hex digits of the SHA-256 of the public key's 32 bytes.
    pub key_id: String,
    /// Always `ed25519`.
    pub algorithm: String,
    /// The 32-byte public key, 64 hex digits.
    pub public_key: String,
}

/// The last receipt of a challenge's chain: its length and hash.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub length: u64,
    pub hash: String,
}

/// `GET /challenges/{slug}/receipts?after=&limit=`: receipts with `seq > after` (0 when absent),
/// at most `limit` (default and maximum [`MAX_CHAIN_PAGE`]).
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptChainQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The most receipts one page of the chain holds.
pub const MAX_CHAIN_PAGE: u32 = 1000;

/// One page of a challenge's chain, in sequence order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptChainPage {
    pub challenge: String,
    /// The chain's head when the page was read (absent: no receipt yet).
    pub head: Option<ChainHead>,
    pub receipts: Vec<SignedReceipt>,
}

/// `GET /challenges/{slug}/leaderboard/export?phase=&format=`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// `json` (the default) or `csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ExportFormat>,
    /// The evaluator generation to export (the phase's current one when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluator: Option<u32>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
}

/// A board as exported: the leaderboard's rows, each with the hash of the receipt behind it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedBoard {
    pub challenge: String,
    pub phase: String,
    pub rank_by: String,
    pub direction: Direction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    pub chain: Option<ChainHead>,
    pub rows: Vec<ExportedRow>,
}

/// One exported row.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedRow {
    pub rank: u32,
    pub participant: String,
    pub team: Option<String>,
    pub submission_id: SubmissionId,
    pub metrics: BTreeMap<String, f64>,
    pub submissions: u32,
    pub submitted_at: DateTime<Utc>,
    pub scored_at: DateTime<Utc>,
    /// The hash of the receipt of `submission_id` (absent: the score has none, e.g. recorded
    /// before receipts existed).
    pub receipt_hash: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_refuses_unknown_fields_and_omits_absent_ones() {
        let json = r#"{"format":1,"challenge":"c","seq":1,"prev":"00","claims":{"submission_id":"0190a7c2-5b1e-7c3d-8e4f-0123456789ab","participant_id":"0190a7c2-5b1e-7c3d-8e4f-0123456789ac","phase":"dev","attempt":1,"evaluation_image":"e","output_archive_sha256":"a","metrics":{"accuracy":"0.5"},"limits":{"cpus":"1.0","memory_mb":512,"gpus":0,"pids":256,"wall_clock_seconds":60,"output_max_mb":10,"output_max_files":10000,"output_max_depth":32,"allow_root":false},"sandbox_policy":1,"evaluator":"ev","darkroom_version":"0.1.0","submitted_at":"t","run_finished_at":"t","scored_at":"t"}}"#;
        let receipt: Receipt = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&receipt).unwrap(), json);
        let extra = json.replacen(r#""seq":1"#, r#""seq":1,"note":"x""#, 1);
        assert!(serde_json::from_str::<Receipt>(&extra).is_err(), "an unsigned extra field is refused");
    }
}
