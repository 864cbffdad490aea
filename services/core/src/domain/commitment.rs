//! The commitment to a sealed board: at a phase's close the platform publishes
//! `SHA-256(salt ‖ canonical bytes of the board)` (hex), and at the reveal the board and the
//! salt, so anyone can check the revealed board is the one computed at the close.
//!
//! **Canonical bytes** are the board's JSON written by the rule of [`super::canonical`] (keys
//! sorted, no whitespace, floats as ryu's shortest decimal, absent optional fields left out);
//! NaN and infinities are refused (JSON has no spelling for them).
//!
//! Two boards with the same content give the same bytes, whatever the map order in memory; a
//! metric differing in its last digit gives different bytes.
//!
//! **Salt**: 32 random bytes, written as 64 lowercase hex digits; drawn by the caller's
//! generator (a CSPRNG such as the OS's: it keeps the board unguessable until the reveal).
//! The salt bytes (not their hex) come first in the hashed input.
//!
//! Pure: no I/O, no clock.

use std::fmt;
use std::str::FromStr;

use rand_chacha::rand_core::RngCore;
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::canonical::write_canonical;

/// The board committed at the close and served at the reveal is the API's: its JSON is what
/// anyone recomputes the commitment over, so there is one definition of it.
pub use darkroom_api::{FinalBoard, FinalBoardRow};

/// Why a board cannot be committed or a commitment does not hold.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CommitmentError {
    #[error("metric {metric:?} of {participant:?} is not a finite number")]
    NotFinite { participant: String, metric: String },
    #[error("a salt is 64 hex digits (32 bytes)")]
    BadSalt,
    #[error("a commitment is 64 hex digits (a SHA-256)")]
    BadCommitment,
    #[error("the board and salt do not match the commitment")]
    Mismatch,
}

/// 32 bytes mixed into the commitment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt(pub [u8; 32]);

impl Salt {
    /// A salt from `rng`, which should be cryptographically secure (e.g. `rand::rngs::OsRng`
    /// or `rand::rng()`).
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut bytes = [0; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }
}

impl fmt::Display for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salt({self})")
    }
}

impl FromStr for Salt {
    type Err = CommitmentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| CommitmentError::BadSalt)?;
        Ok(Self(bytes))
    }
}

/// A SHA-256 over salt and board, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Commitment(pub [u8; 32]);

impl fmt::Display for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Commitment({self})")
    }
}

impl FromStr for Commitment {
    type Err = CommitmentError;
    /// Accepts upper- or lowercase hex.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| CommitmentError::BadCommitment)?;
        Ok(Self(bytes))
    }
}

/// The board's canonical JSON bytes (see the module's documentation for the rule).
pub fn canonical_bytes(board: &FinalBoard) -> Result<Vec<u8>, CommitmentError> {
    for row in &board.rows {
        if let Some((metric, _)) = row.metrics.iter().find(|(_, v)| !v.is_finite()) {
            return Err(CommitmentError::NotFinite { participant: row.participant.clone(), metric: metric.clone() });
        }
    }
    let value = serde_json::to_value(board).expect("a board with finite metrics is JSON");
    let mut out = Vec::with_capacity(128 * board.rows.len() + 16);
    write_canonical(&value, &mut out);
    Ok(out)
}

/// SHA-256 over the salt's 32 bytes followed by the board's canonical bytes.
pub fn commit(board: &FinalBoard, salt: &Salt) -> Result<Commitment, CommitmentError> {
    Ok(commit_bytes(&canonical_bytes(board)?, salt))
}

/// SHA-256 over the salt's 32 bytes followed by `bytes`: the one salted commitment, over a
/// board here and over a receipt's sealed values in [`super::receipt`].
pub fn commit_bytes(bytes: &[u8], salt: &Salt) -> Commitment {
    let mut hash = Sha256::new();
    hash.update(salt.0);
    hash.update(bytes);
    Commitment(hash.finalize().into())
}

/// Ok when `board` and `salt` give `commitment`.
pub fn verify(board: &FinalBoard, salt: &Salt, commitment: &Commitment) -> Result<(), CommitmentError> {
    if commit(board, salt)? == *commitment { Ok(()) } else { Err(CommitmentError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;

    use super::*;

    fn board() -> FinalBoard {
        let row = |rank, name: &str, acc: f64, public_rank| FinalBoardRow {
            rank,
            participant: name.into(),
            submission_id: format!("0190-{rank}"),
            metrics: BTreeMap::from([("accuracy".into(), acc), ("f1".into(), acc - 0.01)]),
            public_rank,
        };
        FinalBoard { rows: vec![row(1, "Lab \"A\" ü", 0.9123456789, Some(2)), row(2, "B", 0.9, None)] }
    }

    fn salt() -> Salt {
        Salt::generate(&mut ChaCha8Rng::seed_from_u64(9))
    }

    #[test]
    fn canonical_bytes_are_sorted_compact_and_fixed() {
        let bytes = String::from_utf8(canonical_bytes(&board()).unwrap()).unwrap();
        assert_eq!(
            bytes,
            r#"{"rows":[{"metrics":{"accuracy":0.9123456789,"f1":0.9023456789},"participant":"Lab \"A\" ü","public_rank":2,"rank":1,"submission_id":"0190-1"},{"metrics":{"accuracy":0.9,"f1":0.89},"participant":"B","rank":2,"submission_id":"0190-2"}]}"#
        );
        let mut b = board();
        b.rows[1].metrics.insert("accuracy".into(), 1.0);
        b.rows[1].metrics.insert("f1".into(), 1e-7);
        let bytes = String::from_utf8(canonical_bytes(&b).unwrap()).unwrap();
        assert!(bytes.contains(r#"{"accuracy":1.0,"f1":1e-7}"#), "{bytes}");
    }

    #[test]
    fn a_commitment_verifies_and_fails_on_any_change() {
        let (board, salt) = (board(), salt());
        let c = commit(&board, &salt).unwrap();
        assert_eq!(verify(&board, &salt, &c), Ok(()));
        // Through its text form, as published and typed back.
        let c2: Commitment = c.to_string().to_uppercase().parse().unwrap();
        let s2: Salt = salt.to_string().parse().unwrap();
        assert_eq!(verify(&board, &s2, &c2), Ok(()));

        // A metric differing in its last digit.
        let mut changed = board.clone();
        changed.rows[0].metrics.insert("accuracy".into(), 0.9123456788);
        assert_eq!(verify(&changed, &salt, &c), Err(CommitmentError::Mismatch));
        // One byte of a name.
        let mut changed = board.clone();
        changed.rows[1].participant = "C".into();
        assert_eq!(verify(&changed, &salt, &c), Err(CommitmentError::Mismatch));
        // The public rank.
        let mut changed = board.clone();
        changed.rows[0].public_rank = Some(1);
        assert_eq!(verify(&changed, &salt, &c), Err(CommitmentError::Mismatch));
        // Another salt, by one bit.
        let mut other = salt;
        other.0[31] ^= 1;
        assert_eq!(verify(&board, &other, &c), Err(CommitmentError::Mismatch));
    }

    #[test]
    fn bad_inputs_are_named() {
        assert_eq!("abc".parse::<Salt>(), Err(CommitmentError::BadSalt));
        assert_eq!("zz".repeat(32).parse::<Commitment>(), Err(CommitmentError::BadCommitment));
        let mut b = board();
        b.rows[1].metrics.insert("f1".into(), f64::NAN);
        assert_eq!(
            canonical_bytes(&b),
            Err(CommitmentError::NotFinite { participant: "B".into(), metric: "f1".into() })
        );
    }
}
