//! Pulling a submitted image by the digest it was pinned to at submit time.
//!
//! The submissions service pins `registry/repository:tag` to `registry/repository@sha256:…`;
//! the runner pulls exactly that and nothing else, so a tag moved since, or an image that merely
//! exists on the engine under some name, can never run in its place. Logins come from this
//! runner's configuration (`runner.registry_logins`, by registry host), never from the event.

use bollard::auth::DockerCredentials;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::CreateImageOptionsBuilder;
use darkroom_core::config::RegistryLogin;
use darkroom_core::domain::image::ImageReference;
use darkroom_core::sandbox::{Sandbox, SandboxError};
use futures::StreamExt;

/// Why a pinned reference could not be pulled.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The event names no digest (written before names were pinned) or a malformed one.
    #[error("'{0}' is not pinned to a digest; submit the name again")]
    Unpinned(String),
    /// The registry no longer has that manifest: the participant deleted or never pushed it.
    #[error("'{0}' is no longer in its registry; push it again and resubmit")]
    Gone(String),
    /// The registry or the engine failed; worth retrying.
    #[error("pulling '{reference}' failed: {detail}")]
    Failed { reference: String, detail: String },
}

impl From<PullError> for SandboxError {
    fn from(e: PullError) -> Self {
        match e {
            PullError::Unpinned(name) | PullError::Gone(name) => SandboxError::ImageMissing(name),
            PullError::Failed { .. } => SandboxError::Platform(e.to_string()),
        }
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
pub fn credentials(logins: &[RegistryLogin], registry: &str) -> Result<Option<DockerCredentials>, PullError> {
    let Some(login) = logins.iter().find(|l| l.registry.eq_ignore_ascii_case(registry)) else {
        return Ok(None);
    };
    let password = std::fs::read_to_string(&login.password_file).map_err(|e| PullError::Failed {
        reference: registry.to_owned(),
        detail: format!("runner.registry_logins: cannot read '{}': {e}", login.password_file.display()),
    })?;
    Ok(Some(DockerCredentials {
        username: Some(login.username.clone()),
        password: Some(password.trim().to_owned()),
        serveraddress: Some(registry.to_owned()),
        ..Default::default()
    }))
}

/// Pulls the pinned image onto the engine and returns the reference to run it by.
pub async fn pull(
    sandbox: &Sandbox,
    name: &str,
    digest: Option<&str>,
    logins: &[RegistryLogin],
) -> Result<String, PullError> {
    let image = pinned_reference(name, digest)?;
    let reference = name.to_owned();
    let creds = credentials(logins, &image.registry)?;
    let options = CreateImageOptionsBuilder::default().from_image(&reference).build();
    let mut progress = sandbox.docker().create_image(Some(options), None, creds);
    while let Some(step) = progress.next().await {
        if let Err(e) = step {
            return Err(classify(&reference, e));
        }
    }
    Ok(reference)
}

/// A missing manifest is the participant's; anything else (registry down, disk full) is ours.
fn classify(reference: &str, e: DockerError) -> PullError {
    let (status, message) = match &e {
        DockerError::DockerResponseServerError { status_code, message } => (Some(*status_code), message.clone()),
        DockerError::DockerStreamError { error } => (None, error.clone()),
        other => (None, other.to_string()),
    };
    let lower = message.to_ascii_lowercase();
    if status == Some(404) || lower.contains("manifest unknown") || lower.contains("not found: manifest") {
        PullError::Gone(reference.to_owned())
    } else {
        PullError::Failed { reference: reference.to_owned(), detail: message }
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
    fn missing_manifests_are_the_participants_and_the_rest_retries() {
        let gone = classify(
            "r",
            DockerError::DockerResponseServerError { status_code: 404, message: "manifest unknown".into() },
        );
        assert!(matches!(SandboxError::from(gone), SandboxError::ImageMissing(_)));
        let stream =
            classify("r", DockerError::DockerStreamError { error: "manifest unknown: manifest unknown".into() });
        assert!(matches!(stream, PullError::Gone(_)));
        let down = classify(
            "r",
            DockerError::DockerResponseServerError {
                status_code: 500,
                message: "Get \"http://127.0.0.1:5000/v2/\": dial tcp 127.0.0.1:5000: connect: connection refused"
                    .into(),
            },
        );
        assert!(matches!(SandboxError::from(down), SandboxError::Platform(_)));
    }

    #[test]
    fn logins_are_found_by_registry_host() {
        let dir = std::env::temp_dir().join(format!("pull-login-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pw"), "tok\n").unwrap();
        let logins =
            vec![RegistryLogin { registry: "ghcr.io".into(), username: "bot".into(), password_file: dir.join("pw") }];
        let c = credentials(&logins, "GHCR.io").unwrap().unwrap();
        assert_eq!((c.username.as_deref(), c.password.as_deref()), (Some("bot"), Some("tok")));
        assert!(credentials(&logins, "quay.io").unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
