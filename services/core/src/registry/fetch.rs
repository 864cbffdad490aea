//! Fetching a pinned image from its registry into a `docker save`-shaped archive.
//!
//! The engine is never asked to pull a participant's name: an engine pull unpacks layers with
//! no size limit and trusts whatever the registry serves. Instead the runner fetches the
//! manifest it pinned (its SHA-256 must be the pinned digest), picks the Linux image of this
//! machine's architecture from an index, downloads the config and each layer (each blob's
//! size and SHA-256 must be what the manifest says; the compressed total counts against
//! `max_image_bytes`), and writes them as a `docker save` archive. That archive then goes
//! through the same check and rebuild as an upload (`image_archive`), which counts the
//! *decompressed* size while it reads, so a decompression bomb pushed to a registry stops
//! where an uploaded one does, before the engine sees a byte.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{Client, Login, MAX_MANIFEST_BYTES, RegistryProblem, Session, SessionError, read_limited};
use crate::domain::image::ImageReference;

/// Why a pinned image could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The registry no longer has the pinned manifest: the participant deleted or never pushed it.
    #[error("'{0}' is no longer in its registry; push it again and resubmit")]
    Gone(String),
    /// What the registry holds breaks a rule; the participant's to fix.
    #[error("'{reference}': {reason}")]
    Refused { reference: String, reason: String },
    /// The registry or this machine failed (unreachable, refused our login, disk): worth retrying.
    #[error("fetching '{reference}' failed: {detail}")]
    Failed { reference: String, detail: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: Option<u32>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: u64,
    platform: Option<Platform>,
    #[serde(default)]
    urls: Vec<String>,
}

#[derive(Clone, Deserialize)]
struct Platform {
    os: String,
    architecture: String,
}

/// A pinned image's manifest and config, read and checked: enough to know the image id
/// (`config_digest`) before any layer is downloaded.
#[derive(Clone)]
pub struct Resolved {
    /// The engine's id of this image: the config's SHA-256.
    pub config_digest: String,
    config: Vec<u8>,
    layers: Vec<Descriptor>,
}

/// Reads the manifest `image` is pinned to (`registry/repository@sha256:…`; from an index, the
/// Linux image of this machine's architecture) and its config, each checked against its
/// digest; refuses foreign layers and a compressed total over `max_bytes`. Kept by `client`:
/// a pinned reference is resolved from the registry once.
pub async fn resolve(
    client: &Client,
    image: &ImageReference,
    login: Option<&Login>,
    max_bytes: u64,
) -> Result<Resolved, FetchError> {
    let key = image.digest.as_ref().map(|d| (format!("{}/{}@{d}", image.registry, image.repository), max_bytes));
    let kept =
        |k: &(String, u64)| client.resolved.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(k).cloned();
    if let Some(found) = key.as_ref().and_then(kept) {
        return Ok(found);
    }
    let resolved = Fetching::new(client, image, login).resolve(max_bytes).await?;
    if let Some(key) = key {
        let mut kept = client.resolved.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bounded: starting over costs one resolution per image in use.
        if kept.len() >= RESOLUTIONS_KEPT {
            kept.clear();
        }
        kept.insert(key, resolved.clone());
    }
    Ok(resolved)
}

/// Most resolutions a [`Client`] keeps.
const RESOLUTIONS_KEPT: usize = 1_000;

/// Downloads a resolved image's layers into a `docker save` archive at `dst`, layers as the
/// registry compressed them, each checked against its size and digest while it streams. `dst`
/// is removed when the download fails.
pub async fn download(
    client: &Client,
    image: &ImageReference,
    login: Option<&Login>,
    resolved: &Resolved,
    dst: &Path,
) -> Result<(), FetchError> {
    let result = Fetching::new(client, image, login).write(resolved, dst).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(dst).await;
    }
    result
}

/// [`resolve`] then [`download`].
pub async fn fetch(
    client: &Client,
    image: &ImageReference,
    login: Option<&Login>,
    dst: &Path,
    max_bytes: u64,
) -> Result<(), FetchError> {
    let resolved = resolve(client, image, login, max_bytes).await?;
    download(client, image, login, &resolved, dst).await
}

struct Fetching<'a> {
    session: Session<'a>,
    image: &'a ImageReference,
    reference: String,
}

impl<'a> Fetching<'a> {
    fn new(client: &'a Client, image: &'a ImageReference, login: Option<&'a Login>) -> Self {
        let reference = match &image.digest {
            Some(d) => image.pinned(d),
            None => format!("{}/{}", image.registry, image.repository),
        };
        Self { session: client.session(image, login), image, reference }
    }

    fn refused(&self, reason: impl Into<String>) -> FetchError {
        FetchError::Refused { reference: self.reference.clone(), reason: reason.into() }
    }

    fn failed(&self, detail: impl std::fmt::Display) -> FetchError {
        FetchError::Failed { reference: self.reference.clone(), detail: detail.to_string() }
    }

    fn asked(&self, e: SessionError) -> FetchError {
        match e {
            SessionError::Unreachable(p) => self.failed(format!("the registry could not be asked ({p})")),
            SessionError::Denied(p) => self.failed(format!("the registry refused access ({p})")),
        }
    }

    async fn resolve(&mut self, max_bytes: u64) -> Result<Resolved, FetchError> {
        let Some(pinned) = self.image.digest.clone() else {
            return Err(self.refused("the name is not pinned to a digest; submit it again"));
        };
        let mut manifest = self.manifest(&pinned).await?;
        if let Some(entries) = &manifest.manifests {
            let arch = engine_architecture();
            let chosen = entries
                .iter()
                .find(|m| m.platform.as_ref().is_some_and(|p| p.os == "linux" && p.architecture == arch))
                .ok_or_else(|| {
                    self.refused(format!("the image index holds no linux/{arch} image; build one for it"))
                })?;
            let digest = chosen.digest.clone();
            manifest = self.manifest(&digest).await?;
            if manifest.manifests.is_some() {
                return Err(self.refused("an image index inside an image index; push a plain image"));
            }
        }
        let (Some(config), Some(layers)) = (manifest.config, manifest.layers) else {
            let why = if manifest.schema_version == Some(1) {
                "schema 1 manifests are not supported; push it again with a current docker"
            } else {
                "the manifest names no config or no layers"
            };
            return Err(self.refused(why));
        };
        for d in std::iter::once(&config).chain(&layers) {
            self.check_descriptor(d)?;
        }
        let compressed: u64 = layers.iter().map(|l| l.size).fold(config.size, u64::saturating_add);
        if compressed > max_bytes {
            return Err(self.refused(format!(
                "its layers are {compressed} bytes compressed, more than the {max_bytes} bytes an image may unpack to (max_image_bytes)"
            )));
        }
        if config.size > MAX_MANIFEST_BYTES as u64 {
            return Err(self.refused(format!("its config is {} bytes; at most {MAX_MANIFEST_BYTES}", config.size)));
        }
        let body = self.small_blob(&config).await?;
        Ok(Resolved { config_digest: config.digest, config: body, layers })
    }

    async fn write(&mut self, resolved: &Resolved, dst: &Path) -> Result<(), FetchError> {
        let file = tokio::fs::File::create(dst).await.map_err(|e| self.failed(e))?;
        let mut out = tokio::io::BufWriter::new(file);
        let config_name = format!("{}.json", hex_of(&resolved.config_digest));
        append_header(&mut out, &config_name, resolved.config.len() as u64).await.map_err(|e| self.failed(e))?;
        out.write_all(&resolved.config).await.map_err(|e| self.failed(e))?;
        pad(&mut out, resolved.config.len() as u64).await.map_err(|e| self.failed(e))?;
        let mut names = Vec::new();
        let mut written = std::collections::HashSet::new();
        for (i, layer) in resolved.layers.iter().enumerate() {
            let name = format!("{}/layer.tar", hex_of(&layer.digest));
            if written.insert(layer.digest.clone()) {
                self.layer(&mut out, &name, layer, i + 1).await?;
            }
            names.push(name);
        }
        let manifest = serde_json::json!([{ "Config": config_name, "RepoTags": null, "Layers": names }]);
        let manifest = serde_json::to_vec(&manifest).map_err(|e| self.failed(e))?;
        append_header(&mut out, "manifest.json", manifest.len() as u64).await.map_err(|e| self.failed(e))?;
        out.write_all(&manifest).await.map_err(|e| self.failed(e))?;
        pad(&mut out, manifest.len() as u64).await.map_err(|e| self.failed(e))?;
        out.write_all(&[0; 1024]).await.map_err(|e| self.failed(e))?;
        out.flush().await.map_err(|e| self.failed(e))?;
        Ok(())
    }

    /// A manifest by digest, checked to hash to that digest.
    async fn manifest(&mut self, digest: &str) -> Result<Manifest, FetchError> {
        let url = format!("{}/v2/{}/manifests/{digest}", self.image.api_base(), self.image.repository);
        let response = self.session.send(reqwest::Method::GET, &url).await.map_err(|e| self.asked(e))?;
        match response.status() {
            s if s.is_success() => {}
            reqwest::StatusCode::NOT_FOUND => return Err(FetchError::Gone(self.reference.clone())),
            s => return Err(self.failed(format!("the registry answered {s} for the manifest"))),
        }
        let (body, actual) = read_limited(response, MAX_MANIFEST_BYTES).await.map_err(|p| self.fetch_problem(p))?;
        if actual != digest {
            return Err(self.refused(format!("the registry served a manifest whose sha256 is {actual}, not {digest}")));
        }
        serde_json::from_slice(&body).map_err(|e| self.refused(format!("its manifest is not valid JSON: {e}")))
    }

    fn fetch_problem(&self, p: RegistryProblem) -> FetchError {
        match p {
            RegistryProblem::TooLarge(_) => self.refused(format!("the registry served a blob or manifest where {p}")),
            p => self.failed(format!("the registry could not be read ({p})")),
        }
    }

    fn check_descriptor(&self, d: &Descriptor) -> Result<(), FetchError> {
        let hex = d.digest.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(self.refused(format!("its manifest names '{}', not a sha256 digest", d.digest)));
        }
        if !d.urls.is_empty() || d.media_type.contains("foreign") {
            return Err(self.refused(format!(
                "layer {} is a foreign layer (downloaded from elsewhere); push an image with only its own layers",
                d.digest
            )));
        }
        Ok(())
    }

    async fn blob_response(&mut self, d: &Descriptor) -> Result<reqwest::Response, FetchError> {
        let response = self.session.blob(&d.digest).await.map_err(|e| self.asked(e))?;
        match response.status() {
            s if s.is_success() => Ok(response),
            reqwest::StatusCode::NOT_FOUND => Err(FetchError::Gone(self.reference.clone())),
            s => Err(self.failed(format!("the registry answered {s} for blob {}", d.digest))),
        }
    }

    async fn small_blob(&mut self, d: &Descriptor) -> Result<Vec<u8>, FetchError> {
        let response = self.blob_response(d).await?;
        let (body, actual) = read_limited(response, MAX_MANIFEST_BYTES).await.map_err(|p| self.fetch_problem(p))?;
        if actual != d.digest || body.len() as u64 != d.size {
            return Err(self.refused(format!("the registry served blob {} with other content", d.digest)));
        }
        Ok(body)
    }

    /// Streams one layer blob into the archive, checking its size and SHA-256 as it goes.
    async fn layer(
        &mut self,
        out: &mut (impl tokio::io::AsyncWrite + Unpin),
        name: &str,
        d: &Descriptor,
        layer_no: usize,
    ) -> Result<(), FetchError> {
        let mut response = self.blob_response(d).await?;
        append_header(out, name, d.size).await.map_err(|e| self.failed(e))?;
        let mut hasher = Sha256::new();
        let mut read: u64 = 0;
        while let Some(chunk) =
            response.chunk().await.map_err(|e| self.failed(format!("reading layer {layer_no}: {e}")))?
        {
            read += chunk.len() as u64;
            if read > d.size {
                return Err(
                    self.refused(format!("layer {layer_no} is longer than the {} bytes its manifest says", d.size))
                );
            }
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(|e| self.failed(e))?;
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if read != d.size || actual != d.digest {
            return Err(self.refused(format!("layer {layer_no}: the registry served other content than {}", d.digest)));
        }
        pad(out, d.size).await.map_err(|e| self.failed(e))
    }
}

/// The engine's architecture in OCI's words, for picking an image out of an index.
fn engine_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

async fn append_header(out: &mut (impl tokio::io::AsyncWrite + Unpin), name: &str, size: u64) -> std::io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_path(name)?;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(0);
    header.set_cksum();
    out.write_all(header.as_bytes()).await
}

/// Fills an entry of `size` bytes up to tar's 512-byte block.
async fn pad(out: &mut (impl tokio::io::AsyncWrite + Unpin), size: u64) -> std::io::Result<()> {
    let rest = (512 - size % 512) % 512;
    out.write_all(&vec![0; rest as usize]).await
}
