//! The engine's images as the sandbox needs them: what an image declares (user, entrypoint,
//! volumes), loading a rebuilt archive, and the tags the runner holds and releases per attempt.

use std::collections::HashMap;
use std::path::Path;

use bollard::errors::Error as DockerError;
use bollard::query_parameters::ImportImageOptionsBuilder;
use futures::StreamExt;

use super::{ImageInfo, Sandbox, SandboxError};

impl Sandbox {
    pub async fn image_info(&self, image: &str) -> Result<ImageInfo, SandboxError> {
        match self.docker.inspect_image(image).await {
            Ok(img) => {
                let config = img.config.unwrap_or_default();
                let has_entrypoint = config.entrypoint.as_ref().is_some_and(|e| !e.is_empty())
                    || config.cmd.as_ref().is_some_and(|c| !c.is_empty());
                let mut volumes: Vec<String> = config.volumes.unwrap_or_default();
                volumes.sort();
                Ok(ImageInfo {
                    id: img.id.unwrap_or_default(),
                    user: config.user.filter(|u| !u.is_empty()),
                    has_entrypoint,
                    volumes,
                })
            }
            Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => {
                Err(SandboxError::ImageMissing(image.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Loads a `docker save` archive (streamed from disk) and returns what the engine loaded:
    /// `name:tag` or `sha256:…`.
    pub async fn load_archive(&self, path: &Path) -> Result<String, SandboxError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| SandboxError::Platform(format!("cannot open the uploaded archive {}: {e}", path.display())))?;
        let body = tokio_util::io::ReaderStream::new(file);
        let options = ImportImageOptionsBuilder::default().quiet(true).build();
        let mut stream = self.docker.import_image_stream(options, body, None);
        let mut loaded = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(line) = info.stream.as_deref().map(str::trim)
                        && let Some(r) =
                            line.strip_prefix("Loaded image: ").or_else(|| line.strip_prefix("Loaded image ID: "))
                    {
                        loaded = Some(r.to_owned());
                    }
                }
                Err(DockerError::DockerStreamError { error }) => return Err(SandboxError::ImageCorrupt(error)),
                Err(DockerError::DockerResponseServerError { status_code, message }) if status_code < 500 => {
                    return Err(SandboxError::ImageCorrupt(message));
                }
                Err(e) => return Err(e.into()),
            }
        }
        loaded.ok_or_else(|| SandboxError::ImageCorrupt("the engine loaded no image from it".into()))
    }

    /// Removes an image reference (a tag, or the image once no tag is left); a missing one is
    /// fine, and one a container still uses stays (the engine refuses without `force`).
    pub async fn remove_image(&self, reference: &str) {
        let options = bollard::query_parameters::RemoveImageOptionsBuilder::default().force(false).build();
        match self.docker.remove_image(reference, Some(options), None).await {
            Ok(_) | Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => tracing::warn!(image = reference, error = %e, "could not remove image"),
        }
    }

    /// Tags the image `reference` names as `repository:tag`.
    pub async fn tag(&self, reference: &str, repository: &str, tag: &str) -> Result<(), SandboxError> {
        let options = bollard::query_parameters::TagImageOptionsBuilder::default().repo(repository).tag(tag).build();
        match self.docker.tag_image(reference, Some(options)).await {
            Ok(()) => Ok(()),
            Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => {
                Err(SandboxError::ImageMissing(reference.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Pushes `repository:tag` to its registry and returns the digest the registry gave it
    /// (`sha256:…`, from the image's `RepoDigests`).
    pub async fn push(
        &self,
        repository: &str,
        tag: &str,
        credentials: Option<bollard::auth::DockerCredentials>,
    ) -> Result<String, SandboxError> {
        use futures::StreamExt;
        let options = bollard::query_parameters::PushImageOptionsBuilder::default().tag(tag).build();
        let mut progress = self.docker.push_image(repository, Some(options), credentials);
        while let Some(step) = progress.next().await {
            step.map_err(|e| SandboxError::Platform(format!("pushing {repository}:{tag}: {e}")))?;
        }
        self.repo_digest(&format!("{repository}:{tag}"), repository)
            .await
            .ok_or_else(|| SandboxError::Platform(format!("the registry gave {repository}:{tag} no digest")))
    }

    /// The digest `repository` holds the image `reference` names under (from its
    /// `RepoDigests`, recorded by a push or a pull), if any.
    pub async fn repo_digest(&self, reference: &str, repository: &str) -> Option<String> {
        let image = self.docker.inspect_image(reference).await.ok()?;
        let prefix = format!("{repository}@");
        image.repo_digests.unwrap_or_default().iter().find_map(|d| d.strip_prefix(&prefix).map(str::to_owned))
    }

    /// The tags on the engine under `namespace/` (`<namespace>/<name>:<tag>` each).
    pub async fn tags_under(&self, namespace: &str) -> Result<Vec<String>, SandboxError> {
        let pattern = format!("{namespace}/*");
        let filters: HashMap<&str, Vec<&str>> = HashMap::from([("reference", vec![pattern.as_str()])]);
        let images = self
            .docker
            .list_images(Some(bollard::query_parameters::ListImagesOptionsBuilder::default().filters(&filters).build()))
            .await?;
        let prefix = format!("{namespace}/");
        Ok(images.into_iter().flat_map(|i| i.repo_tags).filter(|t| t.starts_with(&prefix)).collect())
    }
}
