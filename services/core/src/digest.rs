//! The one SHA-256 helper for content hashes shown as text: 64 lowercase hex digits, as the
//! receipts (`domain::receipt`) and the image archive checks spell them.

use sha2::{Digest, Sha256};

/// SHA-256 of `data`, as 64 lowercase hex digits.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_empty_input_has_the_known_digest() {
        assert_eq!(super::sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
