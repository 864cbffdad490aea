//! Getting a submission's image onto the engine, and off it again.
//!
//! An uploaded archive never reaches the engine as the participant wrote it: it is checked and
//! rebuilt ([`darkroom_core::image_archive`]) into an archive whose only tag is ours
//! (`darkroom-submission/<id>:<attempt>`), loaded, and the engine's image id must then equal the
//! config digest the rebuild wrote, or the run fails as "image corrupt". The tag is removed
//! when the attempt ends ([`release`]); nothing later needs it, since a retry loads the upload
//! again under its own attempt's tag.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use darkroom_core::config::RegistryLogin;
use darkroom_core::domain::ImageSource;
use darkroom_core::domain::image::SUBMISSION_NAMESPACE;
use darkroom_core::events::SubmissionCreated;
use darkroom_core::image_archive::{self, ArchiveError};
use darkroom_core::sandbox::{ImageInfo, Sandbox, SandboxError};

/// How often an image is pulled for one attempt when another attempt's release removes it
/// between the pull and our tag.
const PULLS_BEFORE_GIVING_UP: u32 = 3;

/// One lock per pulled image name: an attempt's pull-and-tag and another attempt's release
/// (which drops the pinned reference once no attempt holds the image) take turns, so a release
/// never removes a reference an attempt has just pulled and is about to run.
#[derive(Default)]
pub struct ImageLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl ImageLocks {
    async fn hold(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            // A lock only the map still holds is neither held nor awaited.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.entry(name.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// The tag a loaded archive or a pulled image gets for one attempt.
pub fn submission_tag(job: &SubmissionCreated) -> String {
    format!("{}:{}", submission_repository(job), job.run_label())
}

fn submission_repository(job: &SubmissionCreated) -> String {
    format!("{SUBMISSION_NAMESPACE}/{}", job.submission_id)
}

/// Makes the job's image available and describes it; returns the reference to run. `logins`
/// are this runner's registry logins, for images submitted by name.
pub async fn prepare(
    sandbox: &Sandbox,
    locks: &ImageLocks,
    job: &SubmissionCreated,
    scratch: &Path,
    max_image_bytes: u64,
    logins: &[RegistryLogin],
) -> Result<(String, ImageInfo), SandboxError> {
    let reference = match &job.image {
        // Runs by the pinned `registry/repo@sha256:…` rather than the local id: it is exact on
        // the engine (only a pull records a repo digest) and Swarm nodes resolve it too.
        ImageSource::Reference { name, digest, .. } => {
            // Our tag holds the image for this attempt, so another attempt's release (which
            // drops the pinned reference when no attempt holds the image) cannot take it away;
            // the lock keeps this runner's releases out until the tag is on. A runner beside
            // us on the same engine can still release between our pull and our tag: the tag
            // then finds no image, and we pull again.
            let _turn = locks.hold(name).await;
            let mut pulls = 1;
            loop {
                let pinned = crate::pull::pull(sandbox, name, digest.as_deref(), logins).await?;
                match sandbox.tag(&pinned, &submission_repository(job), &job.run_label()).await {
                    Ok(()) => break pinned,
                    Err(SandboxError::ImageMissing(_)) if pulls < PULLS_BEFORE_GIVING_UP => pulls += 1,
                    Err(e) => return Err(e),
                }
            }
        }
        ImageSource::Tarball { path, .. } => {
            let tag = submission_tag(job);
            let copy = scratch.join(format!("{}-{}.tar", job.submission_id, job.run_label()));
            let (src, dst, t) = (PathBuf::from(path), copy.clone(), tag.clone());
            let rebuilt = tokio::task::spawn_blocking(move || rebuild(&src, &dst, &t, max_image_bytes))
                .await
                .map_err(|e| SandboxError::Platform(e.to_string()))?;
            let loaded = match rebuilt {
                Ok(expected_id) => sandbox.load_archive(&copy).await.map(|_| expected_id),
                Err(e) => Err(e),
            };
            let _ = tokio::fs::remove_file(&copy).await;
            let expected_id = loaded?;
            let info = sandbox.image_info(&tag).await?;
            if info.id != expected_id {
                // Not the image we rebuilt: never run it, and take our tag off it.
                release(sandbox, locks, job).await;
                return Err(SandboxError::ImageCorrupt(format!(
                    "the engine loaded image {} where the archive's config is {expected_id}",
                    info.id
                )));
            }
            tag
        }
    };
    let info = sandbox.image_info(&reference).await?;
    if !info.has_entrypoint {
        return Err(SandboxError::NoEntrypoint(reference));
    }
    Ok((reference, info))
}

/// Checks and rebuilds the upload at `src` into `dst`; returns the image id it must load as.
fn rebuild(src: &Path, dst: &Path, tag: &str, max_image_bytes: u64) -> Result<String, SandboxError> {
    let checked = image_archive::inspect(src).and_then(|plan| {
        tracing::debug!(tags = ?plan.repo_tags, "participant's tags, not applied");
        image_archive::rebuild(src, &plan, dst, tag, max_image_bytes)
    });
    match checked {
        Ok(rebuilt) => Ok(rebuilt.image_id),
        Err(ArchiveError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(SandboxError::Platform(format!("the uploaded archive {} is gone", src.display())))
        }
        Err(ArchiveError::Io(e)) => Err(SandboxError::Platform(e.to_string())),
        Err(refused) => Err(SandboxError::ImageCorrupt(refused.to_string())),
    }
}

/// Removes what an attempt put on the engine: its tag (and with it an uploaded image, unless a
/// container still uses it) and, for a pulled image, the pinned reference once no other attempt
/// holds the image (an image some other name also tags stays).
pub async fn release(sandbox: &Sandbox, locks: &ImageLocks, job: &SubmissionCreated) {
    let ImageSource::Reference { name, .. } = &job.image else {
        sandbox.remove_image(&submission_tag(job)).await;
        return;
    };
    let _turn = locks.hold(name).await;
    sandbox.remove_image(&submission_tag(job)).await;
    let held = sandbox
        .image_tags(name)
        .await
        .is_some_and(|tags| tags.iter().any(|t| t.starts_with(&format!("{SUBMISSION_NAMESPACE}/"))));
    if !held {
        sandbox.remove_image(name).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::ImageLocks;

    #[tokio::test]
    async fn one_name_takes_turns_and_other_names_do_not_wait() {
        let locks = ImageLocks::default();
        let held = locks.hold("registry/model@sha256:a").await;
        let same = tokio::time::timeout(Duration::from_millis(50), locks.hold("registry/model@sha256:a")).await;
        assert!(same.is_err(), "a second holder of one name must wait");
        let other = tokio::time::timeout(Duration::from_millis(50), locks.hold("registry/other@sha256:b")).await;
        assert!(other.is_ok(), "another name must not wait");
        drop((held, other));
        let again = tokio::time::timeout(Duration::from_millis(50), locks.hold("registry/model@sha256:a")).await;
        assert!(again.is_ok(), "a released name is free again");
        drop(again);
        // Unheld locks do not pile up.
        let _ = locks.hold("x").await;
        assert!(locks.0.lock().unwrap().len() <= 1);
    }
}
