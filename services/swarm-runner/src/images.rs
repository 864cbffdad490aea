//! Getting a submission's image onto the engine, and off it again.
//!
//! An image never reaches the engine as the participant wrote it. An upload, or the archive the
//! runner fetches from a registry for a name ([`crate::pull`]; the engine never pulls), is
//! checked and rebuilt ([`darkroom_core::image_archive`]) into an archive whose only tag is ours
//! (`darkroom-submission/<id>:<attempt>`), loaded, and the engine's image id must then equal the
//! config digest the rebuild wrote, or the run fails as "image corrupt". The tag is removed
//! when the attempt ends ([`release`]); nothing later needs it, since a retry loads the upload
//! (or fetches the name) again under its own attempt's tag. A name whose pinned image the
//! engine already holds runs under the runner's hold on it instead ([`crate::holds`]). With
//! `runner.image_registry`, the checked image is also pushed to the platform's own registry and
//! runs from there by digest, so a Swarm task can start on any node; its manifest is deleted
//! when the attempt ends.

use std::path::{Path, PathBuf};

use darkroom_core::config::RegistryLogin;
use darkroom_core::domain::ImageSource;
use darkroom_core::domain::image::{ImageReference, SUBMISSION_NAMESPACE};
use darkroom_core::events::SubmissionCreated;
use darkroom_core::image_archive::{self, ArchiveError};
use darkroom_core::registry;
use darkroom_core::sandbox::{ImageInfo, Sandbox, SandboxError};

use crate::holds::Holds;
use crate::job::{Context, claim_key};

/// The tag a loaded archive gets for one attempt.
pub fn submission_tag(job: &SubmissionCreated) -> String {
    format!("{}:{}", submission_repository(job), job.run_label())
}

fn submission_repository(job: &SubmissionCreated) -> String {
    format!("{SUBMISSION_NAMESPACE}/{}", job.submission_id)
}

/// Makes the job's image available and describes it; returns the reference to run: the
/// attempt's tag, or with `runner.image_registry` the image's digest in that registry.
pub async fn prepare(
    ctx: &Context,
    job: &SubmissionCreated,
    scratch: &Path,
) -> Result<(String, ImageInfo), SandboxError> {
    let config = &ctx.config;
    let (tag, info) =
        load(&ctx.sandbox, &ctx.registry, &ctx.holds, job, scratch, config.max_image_bytes, &config.registry_logins)
            .await?;
    let Some((registry, _)) = config.platform_registry() else {
        return Ok((tag, info));
    };
    Ok((push(ctx, job, &tag, registry).await?, info))
}

/// The attempt's repository in the platform's registry `registry`.
fn platform_repository(registry: &str, job: &SubmissionCreated) -> String {
    format!("{registry}/{}", submission_repository(job))
}

/// The attempt's image pushed to the platform's `registry` (`runner.image_registry`): returns
/// `<registry>/darkroom-submission/<id>@sha256:…`, which every node can run.
async fn push(ctx: &Context, job: &SubmissionCreated, tag: &str, registry: &str) -> Result<String, SandboxError> {
    let repository = platform_repository(registry, job);
    ctx.sandbox.tag(tag, &repository, &job.run_label()).await?;
    let login = crate::pull::credentials(&ctx.config.registry_logins, registry)?;
    let credentials = login.map(|l| bollard::auth::DockerCredentials {
        username: Some(l.username),
        password: Some(l.password),
        serveraddress: Some(registry.to_owned()),
        ..Default::default()
    });
    let digest = ctx.sandbox.push(&repository, &job.run_label(), credentials).await?;
    Ok(format!("{repository}@{digest}"))
}

/// The job's image loaded (or found) under the attempt's own tag, checked.
/// `logins` are the runner's registry logins, for images submitted by name.
pub async fn load(
    sandbox: &Sandbox,
    registry: &registry::Client,
    holds: &Holds,
    job: &SubmissionCreated,
    scratch: &Path,
    max_image_bytes: u64,
    logins: &[RegistryLogin],
) -> Result<(String, ImageInfo), SandboxError> {
    let tag = submission_tag(job);
    let (archive, fetched) = match &job.image {
        ImageSource::Reference { name, digest, .. } => {
            // Fetched by us, never pulled by the engine, so it is rebuilt and bounded exactly
            // like an upload (see `crate::pull`).
            let pinned = crate::pull::resolve(registry, name, digest.as_deref(), logins, max_image_bytes).await?;
            // The engine may hold this very image already (an earlier attempt loaded it): its
            // id is the config's digest, and the config names every layer's content, so running
            // it by that id runs exactly what the registry serves, without downloading it
            // again. The runner's hold keeps it there while attempts count on it.
            if let Some((held, info)) = holds.acquire(&claim_key(job), &pinned.resolved.config_digest).await? {
                runnable(&info, &tag)?;
                return Ok((held, info));
            }
            let fetched = scratch.join(format!("{}-{}.fetched.tar", job.submission_id, job.run_label()));
            tokio::fs::create_dir_all(scratch).await.map_err(|e| scratch_error(scratch, e))?;
            pinned.download(registry, &fetched).await?;
            (fetched, true)
        }
        ImageSource::Tarball { path, .. } => (PathBuf::from(path), false),
    };
    let copy = scratch.join(format!("{}-{}.tar", job.submission_id, job.run_label()));
    // The scratch folder is made where it is first needed: a held image never needs it.
    let (scratch_dir, src, dst, t) = (scratch.to_owned(), archive.clone(), copy.clone(), tag.clone());
    let rebuilt = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&scratch_dir).map_err(|e| scratch_error(&scratch_dir, e))?;
        rebuild(&src, &dst, &t, max_image_bytes)
    })
    .await
    .map_err(|e| SandboxError::Platform(e.to_string()));
    if fetched {
        let _ = tokio::fs::remove_file(&archive).await;
    }
    let loaded = match rebuilt.and_then(|r| r) {
        Ok(expected_id) => sandbox.load_archive(&copy).await.map(|_| expected_id),
        Err(e) => Err(e),
    };
    let _ = tokio::fs::remove_file(&copy).await;
    let expected_id = loaded?;
    described(sandbox, &tag, &expected_id).await
}

fn scratch_error(scratch: &Path, e: std::io::Error) -> SandboxError {
    SandboxError::Platform(format!("cannot create {}: {e}", scratch.display()))
}

/// Describes the image our `tag` names, which must be `expected_id`, or the run fails as
/// "image corrupt" (and our tag comes off it).
async fn described(sandbox: &Sandbox, tag: &str, expected_id: &str) -> Result<(String, ImageInfo), SandboxError> {
    let info = sandbox.image_info(tag).await?;
    if let Err(e) = same_image(&info, expected_id) {
        sandbox.remove_image(tag).await;
        return Err(e);
    }
    runnable(&info, tag)?;
    Ok((tag.to_owned(), info))
}

/// The engine's description must be of the image whose config we checked (its id is that
/// config's digest); the caller takes its tag off one that is not.
pub(crate) fn same_image(info: &ImageInfo, expected_id: &str) -> Result<(), SandboxError> {
    if info.id == expected_id {
        return Ok(());
    }
    Err(SandboxError::ImageCorrupt(format!(
        "the engine loaded image {} where the archive's config is {expected_id}",
        info.id
    )))
}

/// An image with nothing to run fails the run, named as the participant's attempt knows it.
fn runnable(info: &ImageInfo, name: &str) -> Result<(), SandboxError> {
    if info.has_entrypoint { Ok(()) } else { Err(SandboxError::NoEntrypoint(name.to_owned())) }
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

/// Removes what an attempt put on the engine: its count on the runner's hold, or its tag, and
/// with the tag the image unless a container or another tag still uses it.
pub async fn release(ctx: &Context, job: &SubmissionCreated) {
    if let Some((registry, plain_http)) = ctx.config.platform_registry() {
        unpublish(ctx, job, registry, plain_http).await;
    }
    if !ctx.holds.release(&claim_key(job)).await {
        ctx.holds.remove_attempt_tag(&submission_tag(job)).await;
    }
}

/// Removes the attempt's own tag from the engine (and with it the image, unless a container
/// or another tag still uses it).
pub async fn unload(sandbox: &Sandbox, job: &SubmissionCreated) {
    sandbox.remove_image(&submission_tag(job)).await;
}

/// Deletes the attempt's manifest from the platform's registry and its tag from the engine.
/// A registry that refuses deletes (`storage.delete.enabled` off) keeps it, with a warning.
async fn unpublish(ctx: &Context, job: &SubmissionCreated, registry: &str, plain_http: bool) {
    let repository = platform_repository(registry, job);
    let pushed = format!("{repository}:{}", job.run_label());
    let digest = ctx.sandbox.repo_digest(&pushed, &repository).await;
    ctx.sandbox.remove_image(&pushed).await;
    let Some(digest) = digest else { return };
    let Ok(mut image) = ImageReference::parse(&format!("{repository}@{digest}")) else { return };
    image.plain_http = plain_http;
    let login = crate::pull::credentials(&ctx.config.registry_logins, registry).ok().flatten();
    if let Err(e) = ctx.registry.delete_manifest(&image, login.as_ref()).await {
        tracing::warn!(image = %pushed, error = %e, "the platform's registry kept the image (is storage.delete enabled?)");
    }
}
