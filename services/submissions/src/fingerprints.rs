//! Fingerprinting a challenge's dataset and ground truth when the organizer applies it (issue
//! 17): the fingerprints go into the stored spec, every run request carries them, and the
//! runner and the evaluator check the data against them before running anything.
//!
//! The manifests are cached under `<data_dir>/fingerprints`, so applying again reads only files
//! whose size or mtime changed. The request waits for the computation (a 10 GB tree takes
//! about 15 s on the build machine, cold; see BENCHMARKS.md); progress is logged every few
//! seconds, and an organizer who wants to watch a large tree being read runs `darkroom
//! challenge fingerprint SPEC` first on the same host, which shows it and prints the same
//! digests.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use darkroom_core::config::SubmissionsConfig;
use darkroom_core::domain::ChallengeSpec;
use darkroom_core::fingerprint::{Cache, Progress, TreeFingerprint};

use crate::error::{ApiError, ApiResult};

/// How often a long computation logs its progress.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// The cache directory under the service's data directory.
pub fn cache(config: &SubmissionsConfig) -> Cache {
    Cache::new(config.data_dir.join("fingerprints"))
}

/// Fingerprints `spec`'s dataset and ground truth and sets them in the spec. A fingerprint the
/// organizer gave must match what the data is now (as a given `image_id` must).
pub async fn take(config: &SubmissionsConfig, spec: &mut ChallengeSpec) -> ApiResult<()> {
    let cache = cache(config);
    let dataset = compute(&cache, &spec.slug, "dataset", spec.dataset.host_path.clone()).await?;
    let truth = compute(&cache, &spec.slug, "ground_truth", spec.ground_truth.host_path.clone()).await?;
    for (field, given, now) in [
        ("dataset", &mut spec.dataset.fingerprint, dataset),
        ("ground_truth", &mut spec.ground_truth.fingerprint, truth),
    ] {
        if let Some(given) = given.as_ref()
            && given != &now
        {
            return Err(ApiError::field(
                &format!("{field}.fingerprint"),
                format!(
                    "is {} ({} files, {} bytes), but the data is now {} ({} files, {} bytes)",
                    given.digest, given.files, given.bytes, now.digest, now.files, now.bytes
                ),
                "restore the data you meant, or leave the fingerprint out to take the data as it is",
            ));
        }
        *given = Some(now);
    }
    Ok(())
}

async fn compute(cache: &Cache, slug: &str, field: &'static str, root: PathBuf) -> ApiResult<TreeFingerprint> {
    let (cache, slug_owned) = (cache.clone(), slug.to_owned());
    let started = Instant::now();
    let computed = tokio::task::spawn_blocking(move || {
        let mut last = Instant::now();
        let mut log = |p: Progress| {
            if last.elapsed() >= LOG_EVERY {
                last = Instant::now();
                tracing::info!(challenge = %slug_owned, data = field, read_bytes = p.bytes_done, of_bytes = p.bytes_total, files = p.files_done, of_files = p.files_total, "fingerprinting");
            }
        };
        cache.compute(&root, false, &mut log).map_err(|e| (root, e))
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    match computed {
        Ok((manifest, read)) => {
            let fp = manifest.fingerprint;
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(challenge = %slug, data = field, digest = %fp.digest, files = fp.files, bytes = fp.bytes, read_bytes = read, mb_per_s = read as f64 / 1e6 / secs.max(1e-9), "fingerprinted");
            Ok(fp)
        }
        Err((root, e)) => Err(ApiError::field(
            &format!("{field}.host_path"),
            format!("'{}' cannot be fingerprinted: {e}", root.display()),
            "fix the data (or its permissions) on the API's host, then apply the challenge again",
        )),
    }
}
