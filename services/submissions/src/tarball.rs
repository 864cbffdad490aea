//! Uploaded `docker save` tarballs: streamed to disk under a size cap (never held whole in
//! memory), hashed on the way, checked for the image-archive shape, and stored by content hash;
//! at most `max_concurrent_uploads` at once per participant ([`UploadSlots`]). The runner
//! checks it again and rebuilds it before the engine sees it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use darkroom_core::config::ConfigError;
use darkroom_core::image_archive::{self, ArchiveError};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::ApiError;

/// Uploads in progress per participant, capped, so one participant cannot hold many slow
/// uploads (each a connection, a task and a growing file) at once.
#[derive(Debug, Clone)]
pub struct UploadSlots {
    cap: usize,
    in_progress: Arc<Mutex<HashMap<String, usize>>>,
}

impl UploadSlots {
    pub fn new(cap: usize) -> Result<Self, ConfigError> {
        if cap == 0 {
            return Err(ConfigError::Invalid(
                "submissions.max_concurrent_uploads: must be at least 1 (uploads per participant at once)".into(),
            ));
        }
        Ok(Self { cap, in_progress: Default::default() })
    }

    /// One of `participant`'s slots until the slot is dropped, or 429 when all are taken.
    pub fn take(&self, participant: &str) -> Result<UploadSlot, ApiError> {
        let mut in_progress = self.in_progress.lock().unwrap_or_else(PoisonError::into_inner);
        let count = in_progress.entry(participant.to_owned()).or_default();
        if *count >= self.cap {
            return Err(ApiError::Busy {
                code: "too_many_uploads",
                message: format!(
                    "you have {} uploads in progress, the most this server takes at once from one participant; \
                     send this one again when one of them has finished",
                    self.cap
                ),
            });
        }
        *count += 1;
        Ok(UploadSlot { slots: self.clone(), participant: participant.to_owned() })
    }
}

/// A participant's upload in progress; frees its slot when dropped, however the upload ends.
#[derive(Debug)]
pub struct UploadSlot {
    slots: UploadSlots,
    participant: String,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut in_progress = self.slots.in_progress.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = in_progress.get_mut(&self.participant) {
            *count -= 1;
            if *count == 0 {
                in_progress.remove(&self.participant);
            }
        }
    }
}

/// A stored, checked upload.
#[derive(Debug, Clone)]
pub struct StoredTarball {
    pub path: PathBuf,
    pub sha256: String,
    pub size_bytes: u64,
    pub repo_tags: Vec<String>,
}

/// A checked upload still in its temporary file, which is removed when this is dropped unless
/// [`Received::store`] moved it into place (so a refused submission or a dropped request leaves
/// nothing behind).
#[derive(Debug)]
pub struct Received {
    tmp: PathBuf,
    dir: PathBuf,
    pub sha256: String,
    pub size_bytes: u64,
    pub repo_tags: Vec<String>,
}

impl Received {
    /// Moves the upload to `dir/sha256-<hex>.tar`. Callers hold the submit lock from here until
    /// the submission referencing it is inserted, so the upload sweep never sees the file
    /// stored but unreferenced (or deletes an identical file that is about to be reused).
    pub async fn store(mut self) -> Result<StoredTarball, ApiError> {
        let path = self.dir.join(format!("sha256-{}.tar", self.sha256));
        tokio::fs::rename(&self.tmp, &path).await.map_err(|e| ApiError::Internal(e.into()))?;
        self.tmp = PathBuf::new();
        Ok(StoredTarball {
            path,
            sha256: std::mem::take(&mut self.sha256),
            size_bytes: self.size_bytes,
            repo_tags: std::mem::take(&mut self.repo_tags),
        })
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Streams `body` into a temporary file in `dir`, refusing more than `max_bytes`, and checks
/// it. A refused upload leaves nothing behind.
pub async fn receive(body: Body, dir: &Path, max_bytes: u64) -> Result<Received, ApiError> {
    tokio::fs::create_dir_all(dir).await.map_err(|e| ApiError::Internal(e.into()))?;
    // The guard exists before the file does: an error or a dropped request removes it.
    let mut received = Received {
        tmp: tempfile_in(dir),
        dir: dir.to_path_buf(),
        sha256: String::new(),
        size_bytes: 0,
        repo_tags: Vec::new(),
    };
    (received.sha256, received.size_bytes) = write_capped(body, &received.tmp, max_bytes).await?;
    let check_path = received.tmp.clone();
    let checked =
        tokio::task::spawn_blocking(move || inspect(&check_path)).await.map_err(|e| ApiError::Internal(e.into()))?;
    received.repo_tags = checked?;
    Ok(received)
}

/// The name of an upload's temporary file; [`crate::upload_sweep`] removes abandoned ones.
fn tempfile_in(dir: &Path) -> PathBuf {
    dir.join(format!("{PART_PREFIX}{}{PART_SUFFIX}", uuid::Uuid::new_v4()))
}

pub const PART_PREFIX: &str = ".upload-";
pub const PART_SUFFIX: &str = ".part";

async fn write_capped(body: Body, path: &Path, max_bytes: u64) -> Result<(String, u64), ApiError> {
    let mut file = tokio::fs::File::create(path).await.map_err(|e| ApiError::Internal(e.into()))?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request("upload_interrupted", format!("the upload broke off: {e}")))?;
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(ApiError::TooLarge(format!(
                "the image tarball is larger than the {max_bytes} bytes this server accepts; \
                 shrink the image (multi-stage build, smaller base) or ask the organizer"
            )));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(|e| ApiError::Internal(e.into()))?;
    }
    if size == 0 {
        return Err(ApiError::bad_request(
            "empty_upload",
            "the upload is empty: send the output of 'docker save IMAGE'",
        ));
    }
    file.flush().await.map_err(|e| ApiError::Internal(e.into()))?;
    file.sync_all().await.map_err(|e| ApiError::Internal(e.into()))?;
    Ok((hex::encode(hasher.finalize()), size))
}

/// Checks the upload's shape with the same rules the runner applies before loading it
/// ([`image_archive::inspect`]), so a participant learns at once what is wrong with an archive.
/// Returns the image's tags (logged, never applied).
pub fn inspect(path: &Path) -> Result<Vec<String>, ApiError> {
    match image_archive::inspect(path) {
        Ok(plan) => Ok(plan.repo_tags),
        Err(ArchiveError::Io(e)) => Err(ApiError::Internal(e.into())),
        Err(refused) => Err(ApiError::bad_request(
            "bad_tarball",
            format!(
                "the upload is not an image archive Darkroom accepts: {refused}; create it with 'docker save IMAGE -o image.tar'"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_slots_are_capped_per_participant_and_freed_on_drop() {
        let slots = UploadSlots::new(2).unwrap();
        let (a1, _a2) = (slots.take("a").unwrap(), slots.take("a").unwrap());
        let refused = slots.take("a").unwrap_err();
        assert!(matches!(refused, ApiError::Busy { code: "too_many_uploads", .. }), "{refused:?}");
        let _b = slots.take("b").expect("another participant has slots of their own");
        drop(a1);
        let _a3 = slots.take("a").expect("a finished upload frees its slot");
        assert!(UploadSlots::new(0).unwrap_err().to_string().contains("max_concurrent_uploads"));
    }
}
