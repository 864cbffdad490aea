//! Secrets the API hands out (participant tokens, invite codes): random, shown once, stored only
//! as a SHA-256 hash.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new token, `drp_` followed by 64 hex characters (256 random bits).
pub fn new_token() -> String {
    new_secret("drp_", 32)
}

/// `prefix` followed by `bytes` random bytes in hex; the prefix says what the secret is for
/// when one turns up in a log or a paste.
pub fn new_secret(prefix: &str, bytes: usize) -> String {
    let mut random = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut random);
    format!("{prefix}{}", hex::encode(random))
}

/// The hex SHA-256 that is stored and looked up instead of the secret itself.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hashes_stable() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 68);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
    }
}
