//! Dataset listings: the names and sizes of a challenge's dataset files, relative to its root
//! (never contents, never the host path, links not followed). Walking a large dataset costs
//! disk reads on the organizer's machine, so it happens when the challenge is applied and when
//! the organizer asks for a refresh; the result (or why it failed) is stored, and every reader
//! is served the stored listing.

use std::path::Path;

use chrono::Utc;
use darkroom_api::{DatasetFile, DatasetListing};
use darkroom_core::domain::ChallengeSpec;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};

use crate::db::entities::dataset_listing;
use crate::error::{ApiError, ApiResult};

/// Walks the dataset of `spec` now and stores what it found; returns the listing, or why the
/// dataset cannot be listed (for the organizer: it may name the host path).
pub async fn refresh(
    db: &DatabaseConnection,
    spec: &ChallengeSpec,
    max_entries: usize,
) -> ApiResult<Result<DatasetListing, String>> {
    let root = spec.dataset.host_path.clone();
    let walked = tokio::task::spawn_blocking(move || list_files(&root, max_entries))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| format!("the dataset at '{}' cannot be listed: {e}", spec.dataset.host_path.display()));
    let (listing, error) = match &walked {
        Ok(listing) => (Some(serde_json::to_string(listing).map_err(|e| ApiError::Internal(e.into()))?), None),
        Err(problem) => {
            tracing::error!(challenge = %spec.slug, error = %problem, "dataset cannot be listed");
            (None, Some(problem.clone()))
        }
    };
    let row = dataset_listing::ActiveModel {
        challenge: Set(spec.slug.clone()),
        listing: Set(listing),
        error: Set(error),
        listed_at: Set(Utc::now()),
    };
    dataset_listing::Entity::insert(row)
        .on_conflict(
            OnConflict::column(dataset_listing::Column::Challenge)
                .update_columns([
                    dataset_listing::Column::Listing,
                    dataset_listing::Column::Error,
                    dataset_listing::Column::ListedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(walked.map(|listing| DatasetListing { description: spec.dataset.description.clone(), ..listing }))
}

/// The stored listing of `spec`'s dataset, with the spec's description. A challenge applied
/// before listings were stored is listed once, here.
pub async fn stored(db: &DatabaseConnection, spec: &ChallengeSpec, max_entries: usize) -> ApiResult<DatasetListing> {
    let listed = match dataset_listing::Entity::find_by_id(spec.slug.clone()).one(db).await? {
        Some(row) => match row.listing {
            Some(json) => Ok(serde_json::from_str::<DatasetListing>(&json).map_err(|e| ApiError::Internal(e.into()))?),
            None => Err(()),
        },
        None => refresh(db, spec, max_entries).await?.map_err(drop),
    };
    match listed {
        Ok(listing) => Ok(DatasetListing { description: spec.dataset.description.clone(), ..listing }),
        Err(()) => Err(ApiError::Unavailable(format!(
            "the dataset of '{}' cannot be listed right now; the organizer has been told",
            spec.slug
        ))),
    }
}

fn list_files(root: &Path, max: usize) -> std::io::Result<DatasetListing> {
    let mut files = Vec::new();
    let (mut count, mut total) = (0u64, 0u64);
    for entry in walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name() {
        let entry = entry.map_err(std::io::Error::other)?;
        if !entry.file_type().is_file() {
            continue;
        }
        let size = entry.metadata().map_err(std::io::Error::other)?.len();
        count += 1;
        total += size;
        if files.len() < max {
            let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
            files.push(DatasetFile { path: rel.display().to_string(), size_bytes: size });
        }
    }
    Ok(DatasetListing {
        description: String::new(),
        truncated: count as usize > files.len(),
        files,
        file_count: count,
        total_bytes: total,
    })
}
