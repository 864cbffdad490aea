//! The participants' output archives, in the JetStream object store
//! [`OUTPUT_BUCKET`](crate::events::OUTPUT_BUCKET): runners write one per attempt, evaluators
//! read it back.
//!
//! Why not only the crate's own reader: `ObjectStore::get` reads through an ephemeral ordered
//! consumer, which the server creates and later removes for every read (measured here, 300
//! reads each: 1.1 ms of nats-server's CPU and 2.1 ms of wall time per read, against 0.35 ms
//! and 0.85 ms for the object's info and a direct get). Nearly every output fits in one chunk,
//! so [`Outputs::read`] fetches that chunk with a direct get by its subject, as the object
//! store's own layout names it (NATS ADR-20, which the crate's reader follows too), and checks
//! it against the object's SHA-256 digest. Anything else (several chunks, a link, a
//! replica that has not caught up, a digest that does not match) goes through the crate's
//! reader, so a shortcut can make a read cheaper but never different.

use async_nats::jetstream::{self, object_store, stream};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt as _;

use crate::events::OUTPUT_BUCKET;

/// The outputs object store and the stream beneath it.
#[derive(Clone)]
pub struct Outputs {
    store: object_store::ObjectStore,
    stream: stream::Stream,
}

/// Why an output could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No such object (never written, deleted, or swept).
    #[error("output '{name}' not found: {detail}")]
    NotFound { name: String, detail: String },
    /// NATS failed; reading again later may succeed.
    #[error("output '{name}' not read: {source}")]
    Other { name: String, source: async_nats::Error },
}

impl Outputs {
    /// The store, created if absent, with the stream it lives in.
    pub async fn open(js: &jetstream::Context) -> Result<Self, async_nats::Error> {
        let config = object_store::Config { bucket: OUTPUT_BUCKET.into(), ..Default::default() };
        let store = js.create_object_store(config).await?;
        let stream = js.get_stream(format!("OBJ_{OUTPUT_BUCKET}")).await?;
        Ok(Self { store, stream })
    }

    /// The object store itself, for writing and deleting.
    pub fn store(&self) -> &object_store::ObjectStore {
        &self.store
    }

    /// The first `limit` bytes of output `name`.
    pub async fn read(&self, name: &str, limit: u64) -> Result<Vec<u8>, ReadError> {
        let other = |source: async_nats::Error| ReadError::Other { name: name.to_owned(), source };
        let not_found = |detail: String| ReadError::NotFound { name: name.to_owned(), detail };
        let info = match self.store.info(name).await {
            Ok(info) if info.deleted => return Err(not_found("deleted".into())),
            Ok(info) => info,
            Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => return Err(not_found(e.to_string())),
            Err(e) => return Err(other(e.into())),
        };
        let linked = info.options.as_ref().is_some_and(|o| o.link.is_some());
        if info.chunks == 1 && !linked {
            let subject = format!("$O.{OUTPUT_BUCKET}.C.{}", info.nuid);
            match self.stream.direct_get_first_for_subject(subject).await {
                Ok(chunk) if info.digest.as_deref() == Some(digest_of(&chunk.payload).as_str()) => {
                    let mut bytes = Vec::from(chunk.payload);
                    bytes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                    return Ok(bytes);
                }
                Ok(_) => tracing::debug!(object = name, "direct read does not match the digest; reading it in full"),
                Err(e) => tracing::debug!(object = name, error = %e, "direct read failed; reading it in full"),
            }
        }
        let object = match self.store.get(name).await {
            Ok(object) => object,
            Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Err(not_found(e.to_string())),
            Err(e) => return Err(other(e.into())),
        };
        let mut bytes = Vec::new();
        object.take(limit).read_to_end(&mut bytes).await.map_err(|e| other(e.into()))?;
        Ok(bytes)
    }
}

/// An object's digest as the object store spells it in its info.
fn digest_of(data: &[u8]) -> String {
    format!("SHA-256={}", base64::engine::general_purpose::URL_SAFE.encode(Sha256::digest(data)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_digest_is_spelled_as_the_object_store_spells_it() {
        // SHA-256 of "abc", URL-safe base64 with padding, as async-nats writes it on put.
        assert_eq!(super::digest_of(b"abc"), "SHA-256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=");
    }
}
