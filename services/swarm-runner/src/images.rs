//! Getting a submission's image onto the engine.
//!
//! An uploaded archive is loaded from a rewritten copy whose only tag is ours
//! (`darkroom-submission/<id>:<attempt>`): `docker load` applies the tags written in the
//! archive, and a participant must never be able to overwrite another image's name — the
//! organizer's evaluation image least of all.

use std::io::Read;
use std::path::{Path, PathBuf};

use darkroom_core::config::RegistryLogin;
use darkroom_core::domain::ImageSource;
use darkroom_core::events::SubmissionCreated;
use darkroom_core::sandbox::{ImageInfo, Sandbox, SandboxError};

/// The tag a loaded archive gets.
pub fn submission_tag(job: &SubmissionCreated) -> String {
    format!("darkroom-submission/{}:{}", job.submission_id, job.attempt)
}

/// Makes the job's image available and describes it. `logins` are this runner's registry
/// logins, for images submitted by name.
pub async fn prepare(
    sandbox: &Sandbox,
    job: &SubmissionCreated,
    scratch: &Path,
    logins: &[RegistryLogin],
) -> Result<(String, ImageInfo), SandboxError> {
    let reference = match &job.image {
        // Runs by the pinned `registry/repo@sha256:…` rather than the local id: it is exact on
        // the engine (only a pull records a repo digest) and Swarm nodes resolve it too.
        ImageSource::Reference { name, digest, .. } => {
            crate::pull::pull(sandbox, name, digest.as_deref(), logins).await?
        }
        ImageSource::Tarball { path, .. } => {
            let tag = submission_tag(job);
            let copy = scratch.join(format!("{}-{}.tar", job.submission_id, job.attempt));
            let (src, dst, t) = (PathBuf::from(path), copy.clone(), tag.clone());
            tokio::task::spawn_blocking(move || retag(&src, &dst, &t))
                .await
                .map_err(|e| SandboxError::Platform(e.to_string()))??;
            let loaded = sandbox.load_archive(&copy).await;
            let _ = tokio::fs::remove_file(&copy).await;
            loaded?;
            tag
        }
    };
    let info = sandbox.image_info(&reference).await?;
    if !info.has_entrypoint {
        return Err(SandboxError::NoEntrypoint(reference));
    }
    Ok((reference, info))
}

/// Copies a `docker save` archive, replacing the tags in `manifest.json` with `tag` and
/// dropping the legacy `repositories` file.
pub fn retag(src: &Path, dst: &Path, tag: &str) -> Result<(), SandboxError> {
    let missing = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SandboxError::Platform(format!("the uploaded archive {} is gone", src.display()))
        } else {
            SandboxError::Platform(e.to_string())
        }
    };
    let corrupt = |e: std::io::Error| SandboxError::ImageCorrupt(e.to_string());
    let mut archive = tar::Archive::new(std::fs::File::open(src).map_err(missing)?);
    let mut out = tar::Builder::new(std::fs::File::create(dst)?);
    let mut saw_manifest = false;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let path = entry.path().map_err(corrupt)?.into_owned();
        let name = path.to_string_lossy().trim_start_matches("./").to_owned();
        let mut header = entry.header().clone();
        if name == "repositories" {
            continue;
        }
        if name == "manifest.json" {
            let mut text = Vec::new();
            entry.by_ref().take(1 << 20).read_to_end(&mut text).map_err(corrupt)?;
            let mut manifest: serde_json::Value =
                serde_json::from_slice(&text).map_err(|e| SandboxError::ImageCorrupt(format!("manifest.json: {e}")))?;
            let images = manifest
                .as_array_mut()
                .ok_or_else(|| SandboxError::ImageCorrupt("manifest.json is not a list".into()))?;
            for image in images.iter_mut() {
                image["RepoTags"] = serde_json::json!([tag]);
            }
            let bytes = serde_json::to_vec(&manifest).map_err(|e| SandboxError::Platform(e.to_string()))?;
            header.set_size(bytes.len() as u64);
            header.set_cksum();
            out.append_data(&mut header, "manifest.json", bytes.as_slice())?;
            saw_manifest = true;
        } else {
            out.append_data(&mut header, &path, &mut entry).map_err(corrupt)?;
        }
    }
    if !saw_manifest {
        return Err(SandboxError::ImageCorrupt("the archive has no manifest.json".into()));
    }
    out.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retag_replaces_every_tag_and_drops_repositories() {
        let dir = std::env::temp_dir().join(format!("retag-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [
            (
                "manifest.json",
                &br#"[{"Config":"c.json","RepoTags":["darkroom-demo-eval:1"],"Layers":["l/layer.tar"]}]"#[..],
            ),
            ("repositories", br#"{"darkroom-demo-eval":{"1":"abc"}}"#),
            ("c.json", b"{}"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, data).unwrap();
        }
        std::fs::write(dir.join("in.tar"), b.into_inner().unwrap()).unwrap();
        retag(&dir.join("in.tar"), &dir.join("out.tar"), "darkroom-submission/x:1").unwrap();
        let mut names = Vec::new();
        let mut manifest = String::new();
        let mut a = tar::Archive::new(std::fs::File::open(dir.join("out.tar")).unwrap());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let n = e.path().unwrap().display().to_string();
            if n == "manifest.json" {
                e.read_to_string(&mut manifest).unwrap();
            }
            names.push(n);
        }
        assert_eq!(names, ["manifest.json", "c.json"]);
        assert!(manifest.contains("darkroom-submission/x:1") && !manifest.contains("darkroom-demo-eval"), "{manifest}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
