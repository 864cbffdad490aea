//! Fetching a submitted image by the digest it was pinned to at submit time.
//!
//! The submissions service pins `registry/repository:tag` to `registry/repository@sha256:…`;
//! the runner reads exactly that manifest and config itself ([`resolve`]) and downloads the
//! layers ([`Pinned::download`]) into an archive that is then rebuilt like an upload, so a tag moved since, an image that merely
//! exists on the engine under some name, or a layer that unpacks past `max_image_bytes` can
//! never run. Logins come from this runner's configuration (`runner.registry_logins`, by
//! registry host), never from the event. The host itself comes from the event: only the
//! submissions service may publish one (NATS permissions), and it pinned the name in an allowed
//! registry (`submissions.registries`).

use std::path::Path;
use std::time::Duration;

use darkroom_core::config::RegistryLogin;
use darkroom_core::domain::image::ImageReference;
use darkroom_core::registry::{self, FetchError, Login, Resolved};
use darkroom_core::sandbox::SandboxError;

/// How long a registry may keep the runner waiting for the next bytes (or a connection).
pub const REGISTRY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a pinned reference could not be fetched, before any registry is asked.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The event names no digest (written before names were pinned) or a malformed one.
    #[error("'{0}' is not pinned to a digest; submit the name again")]
    Unpinned(String),
    /// This runner's login for the registry cannot be read.
    #[error("runner.registry_logins: cannot read '{path}': {detail}")]
    Login { path: String, detail: String },
}

impl From<PullError> for SandboxError {
    fn from(e: PullError) -> Self {
        match e {
            PullError::Unpinned(name) => SandboxError::ImageMissing(name),
            PullError::Login { .. } => SandboxError::Platform(e.to_string()),
        }
    }
}

/// A missing manifest is the participant's, as is an image that breaks a rule; anything else
/// (registry down, disk full) is ours, and retried.
fn sandbox_error(e: FetchError) -> SandboxError {
    match e {
        FetchError::Gone(name) => SandboxError::ImageMissing(name),
        FetchError::Refused { .. } => SandboxError::ImageCorrupt(e.to_string()),
        FetchError::Failed { .. } => SandboxError::Platform(e.to_string()),
    }
}

/// Checks that `name` is `registry/repository@sha256:…` equal to `digest`, and returns it parsed.
pub fn pinned_reference(name: &str, digest: Option<&str>) -> Result<ImageReference, PullError> {
    let unpinned = || PullError::Unpinned(name.to_owned());
    let parsed = ImageReference::parse(name).map_err(|_| unpinned())?;
    match (parsed.digest.as_deref(), digest) {
        (Some(a), Some(b)) if a == b && parsed.tag.is_none() => Ok(parsed),
        _ => Err(unpinned()),
    }
}

/// The login this runner holds for `registry`, if any.
pub fn credentials(logins: &[RegistryLogin], registry: &str) -> Result<Option<Login>, PullError> {
    let Some(login) = logins.iter().find(|l| l.registry.eq_ignore_ascii_case(registry)) else {
        return Ok(None);
    };
    let password = std::fs::read_to_string(&login.password_file)
        .map_err(|e| PullError::Login { path: login.password_file.display().to_string(), detail: e.to_string() })?;
    Ok(Some(Login { username: login.username.clone(), password: password.trim().to_owned() }))
}

/// A submitted name, its manifest and config read: the image id it must load as is known.
pub struct Pinned {
    image: ImageReference,
    login: Option<Login>,
    pub resolved: Resolved,
}

/// Reads the manifest and config the name was pinned to.
pub async fn resolve(
    client: &registry::Client,
    name: &str,
    digest: Option<&str>,
    logins: &[RegistryLogin],
    max_image_bytes: u64,
) -> Result<Pinned, SandboxError> {
    let image = pinned_reference(name, digest)?;
    let login = credentials(logins, &image.registry)?;
    let resolved = registry::resolve(client, &image, login.as_ref(), max_image_bytes).await.map_err(sandbox_error)?;
    Ok(Pinned { image, login, resolved })
}

impl Pinned {
    /// Downloads the layers into a `docker save` archive at `dst`, for the rebuild.
    pub async fn download(&self, client: &registry::Client, dst: &Path) -> Result<(), SandboxError> {
        registry::download(client, &self.image, self.login.as_ref(), &self.resolved, dst).await.map_err(sandbox_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pinned_references_are_pulled() {
        let d = format!("sha256:{}", "c".repeat(64));
        let name = format!("127.0.0.1:5000/m@{d}");
        assert_eq!(pinned_reference(&name, Some(&d)).unwrap().registry, "127.0.0.1:5000");
        assert!(matches!(pinned_reference("m:1", None), Err(PullError::Unpinned(_))), "old unpinned events");
        assert!(pinned_reference(&name, None).is_err());
        let other = format!("sha256:{}", "d".repeat(64));
        assert!(pinned_reference(&name, Some(&other)).is_err(), "name and digest must agree");
        assert!(pinned_reference(&format!("127.0.0.1:5000/m:1@{d}"), Some(&d)).is_err(), "no tag beside the digest");
    }

    #[test]
    fn missing_and_refused_images_are_the_participants_and_the_rest_retries() {
        let gone = sandbox_error(FetchError::Gone("r".into()));
        assert!(matches!(gone, SandboxError::ImageMissing(_)));
        let refused = sandbox_error(FetchError::Refused { reference: "r".into(), reason: "too large".into() });
        assert!(matches!(refused, SandboxError::ImageCorrupt(_)));
        let down = sandbox_error(FetchError::Failed { reference: "r".into(), detail: "connection refused".into() });
        assert!(matches!(down, SandboxError::Platform(_)));
    }

    #[test]
    fn logins_are_found_by_registry_host() {
        let dir = std::env::temp_dir().join(format!("pull-login-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pw"), "tok\n").unwrap();
        let logins =
            vec![RegistryLogin { registry: "ghcr.io".into(), username: "bot".into(), password_file: dir.join("pw") }];
        let c = credentials(&logins, "GHCR.io").unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("bot", "tok"));
        assert!(credentials(&logins, "quay.io").unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
