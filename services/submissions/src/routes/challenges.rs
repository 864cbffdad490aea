//! Challenges: organizers create and update them from a spec; everyone reads them.

use std::path::Path;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use chrono::Utc;
use darkroom_api::{ChallengeListQuery, ChallengeSummary, DatasetFile, DatasetListing, PublicChallenge};
use darkroom_core::domain::ChallengeSpec;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, QueryOrder};

use super::views::{public_challenge, summary};
use crate::db::entities::challenge;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, ApiJson, ApiQuery};
use crate::pinning::pin_evaluation_image;
use crate::state::AppState;

/// Loads a challenge's spec or answers 404 naming it.
pub async fn load(state: &AppState, slug: &str) -> ApiResult<ChallengeSpec> {
    crate::db::challenge_spec(&state.db, slug)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no challenge '{slug}'; list them with GET /api/v1/challenges")))
}

fn validated(spec: &ChallengeSpec) -> ApiResult<()> {
    let errors = spec.validate();
    if errors.is_empty() { Ok(()) } else { Err(ApiError::Invalid(errors)) }
}

fn to_json(spec: &ChallengeSpec) -> ApiResult<String> {
    serde_json::to_string(spec).map_err(|e| ApiError::Internal(e.into()))
}

pub async fn create(
    State(state): State<AppState>,
    _: Admin,
    ApiJson(mut spec): ApiJson<ChallengeSpec>,
) -> ApiResult<(StatusCode, Json<ChallengeSpec>)> {
    validated(&spec)?;
    if challenge::Entity::find_by_id(spec.slug.clone()).one(&state.db).await?.is_some() {
        return Err(ApiError::conflict(
            "challenge_exists",
            format!("challenge '{}' exists already; update it with PUT /api/v1/challenges/{}", spec.slug, spec.slug),
        ));
    }
    pin_evaluation_image(&state.nats, &mut spec).await?;
    let now = Utc::now();
    challenge::ActiveModel {
        slug: Set(spec.slug.clone()),
        title: Set(spec.title.clone()),
        spec: Set(to_json(&spec)?),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    tracing::info!(challenge = %spec.slug, "challenge created");
    Ok((StatusCode::CREATED, Json(spec.redacted())))
}

/// Creates or replaces the challenge named in the URL.
pub async fn upsert(
    State(state): State<AppState>,
    _: Admin,
    UrlPath(slug): UrlPath<String>,
    ApiJson(mut spec): ApiJson<ChallengeSpec>,
) -> ApiResult<(StatusCode, Json<ChallengeSpec>)> {
    if spec.slug != slug {
        return Err(ApiError::field(
            "slug",
            format!("is '{}' but the URL names '{slug}'", spec.slug),
            "make them the same",
        ));
    }
    validated(&spec)?;
    pin_evaluation_image(&state.nats, &mut spec).await?;
    let now = Utc::now();
    let existing = challenge::Entity::find_by_id(slug.clone()).one(&state.db).await?;
    let status = if let Some(row) = existing {
        let mut active: challenge::ActiveModel = row.into();
        active.title = Set(spec.title.clone());
        active.spec = Set(to_json(&spec)?);
        active.updated_at = Set(now);
        active.update(&state.db).await?;
        StatusCode::OK
    } else {
        challenge::ActiveModel {
            slug: Set(slug.clone()),
            title: Set(spec.title.clone()),
            spec: Set(to_json(&spec)?),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&state.db)
        .await?;
        StatusCode::CREATED
    };
    tracing::info!(challenge = %slug, created = status == StatusCode::CREATED, "challenge saved");
    Ok((status, Json(spec.redacted())))
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ChallengeListQuery>,
) -> ApiResult<Json<Vec<ChallengeSummary>>> {
    let now = Utc::now();
    let rows = challenge::Entity::find().order_by_asc(challenge::Column::CreatedAt).all(&state.db).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Ok(spec) = serde_json::from_str::<ChallengeSpec>(&row.spec) else {
            tracing::error!(challenge = %row.slug, "stored spec does not parse; left out of the list");
            continue;
        };
        let line = summary(spec, now);
        if q.status.is_none_or(|s| s == line.status) {
            out.push(line);
        }
    }
    Ok(Json(out))
}

pub async fn show(State(state): State<AppState>, UrlPath(slug): UrlPath<String>) -> ApiResult<Json<PublicChallenge>> {
    Ok(Json(public_challenge(load(&state, &slug).await?, Utc::now())))
}

/// The full spec, host paths included: organizers only.
pub async fn spec(
    State(state): State<AppState>,
    _: Admin,
    UrlPath(slug): UrlPath<String>,
) -> ApiResult<Json<ChallengeSpec>> {
    Ok(Json(load(&state, &slug).await?.redacted()))
}

/// Names and sizes of the dataset's files, relative to the dataset root; never their contents,
/// never the host path, and links are not followed.
pub async fn dataset(State(state): State<AppState>, UrlPath(slug): UrlPath<String>) -> ApiResult<Json<DatasetListing>> {
    let spec = load(&state, &slug).await?;
    let max = state.config.max_listing_entries;
    let root = spec.dataset.host_path.clone();
    let description = spec.dataset.description.clone();
    let listing = tokio::task::spawn_blocking(move || list_files(&root, max))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| {
            tracing::error!(challenge = %slug, error = %e, "dataset cannot be listed");
            ApiError::Unavailable(format!(
                "the dataset of '{slug}' cannot be listed right now; the organizer has been told"
            ))
        })?;
    Ok(Json(DatasetListing { description, ..listing }))
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
