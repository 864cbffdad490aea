//! Uploaded `docker save` tarballs: streamed to disk under a size cap (never held whole in
//! memory), hashed on the way, checked for the image-archive shape, and stored by content hash.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use futures::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::ApiError;

/// A stored, checked upload.
#[derive(Debug, Clone)]
pub struct StoredTarball {
    pub path: PathBuf,
    pub sha256: String,
    pub size_bytes: u64,
    pub repo_tags: Vec<String>,
}

/// Streams `body` into `dir`, refusing more than `max_bytes`; checks it and moves it to
/// `dir/sha256-<hex>.tar`. A refused upload leaves nothing behind.
pub async fn receive(body: Body, dir: &Path, max_bytes: u64) -> Result<StoredTarball, ApiError> {
    tokio::fs::create_dir_all(dir).await.map_err(|e| ApiError::Internal(e.into()))?;
    let tmp = tempfile_in(dir);
    let result = write_capped(body, &tmp, max_bytes).await;
    let (sha256, size_bytes) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
    };
    let check_path = tmp.clone();
    let checked =
        tokio::task::spawn_blocking(move || inspect(&check_path)).await.map_err(|e| ApiError::Internal(e.into()))?;
    let repo_tags = match checked {
        Ok(tags) => tags,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
    };
    let path = dir.join(format!("sha256-{sha256}.tar"));
    tokio::fs::rename(&tmp, &path).await.map_err(|e| ApiError::Internal(e.into()))?;
    Ok(StoredTarball { path, sha256, size_bytes, repo_tags })
}

fn tempfile_in(dir: &Path) -> PathBuf {
    dir.join(format!(".upload-{}.part", uuid::Uuid::new_v4()))
}

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

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn corrupt(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        "bad_tarball",
        format!(
            "the upload is not a valid 'docker save' archive: {detail}; create it with 'docker save IMAGE -o image.tar'"
        ),
    )
}

/// Reads every entry: refuses paths and links that leave the archive, device files, and
/// archives without a consistent `manifest.json`. Returns the image's tags.
pub fn inspect(path: &Path) -> Result<Vec<String>, ApiError> {
    let file = std::fs::File::open(path).map_err(|e| ApiError::Internal(e.into()))?;
    let mut archive = tar::Archive::new(file);
    let mut names = std::collections::HashSet::new();
    let mut manifest: Option<Vec<u8>> = None;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let name = entry.path().map_err(corrupt)?.into_owned();
        check_inside(&name).map_err(|d| corrupt(format!("entry '{}' {d}", name.display())))?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name().map_err(corrupt)?.ok_or_else(|| corrupt("a link without a target"))?;
            let resolved = if kind.is_symlink() {
                name.parent().unwrap_or(Path::new("")).join(&target)
            } else {
                target.into_owned()
            };
            check_inside(&resolved).map_err(|d| corrupt(format!("link '{}' {d}", name.display())))?;
        } else if !(kind.is_file()
            || kind.is_dir()
            || kind == tar::EntryType::XGlobalHeader
            || kind == tar::EntryType::XHeader)
        {
            return Err(corrupt(format!(
                "entry '{}' is a {:?}, which image archives never hold",
                name.display(),
                kind
            )));
        }
        let normalized = normalize(&name);
        if normalized == "manifest.json" {
            let mut buf = Vec::new();
            entry.by_ref().take(1 << 20).read_to_end(&mut buf).map_err(corrupt)?;
            manifest = Some(buf);
        } else {
            // Reading the entry to its end is what detects a truncated archive.
            std::io::copy(&mut entry, &mut std::io::sink()).map_err(corrupt)?;
        }
        names.insert(normalized);
    }
    let manifest = manifest.ok_or_else(|| corrupt("it has no manifest.json"))?;
    let entries: Vec<ManifestEntry> =
        serde_json::from_slice(&manifest).map_err(|e| corrupt(format!("manifest.json does not parse: {e}")))?;
    let Some(first) = entries.first() else {
        return Err(corrupt("manifest.json lists no image"));
    };
    if entries.len() > 1 {
        return Err(ApiError::bad_request(
            "bad_tarball",
            format!("the archive holds {} images; save exactly one image per submission", entries.len()),
        ));
    }
    for referenced in std::iter::once(&first.config).chain(first.layers.iter()) {
        check_inside(Path::new(referenced)).map_err(|d| corrupt(format!("manifest entry '{referenced}' {d}")))?;
        if !names.contains(&normalize(Path::new(referenced))) {
            return Err(corrupt(format!("manifest.json names '{referenced}', which the archive lacks (truncated?)")));
        }
    }
    Ok(first.repo_tags.clone().unwrap_or_default())
}

fn check_inside(path: &Path) -> Result<(), &'static str> {
    let mut depth: i32 = 0;
    for c in path.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path"),
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Err("points outside the archive");
                }
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
        }
    }
    Ok(())
}

fn normalize(path: &Path) -> String {
    let parts: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_string_lossy()),
            _ => None,
        })
        .collect();
    parts.join("/")
}
