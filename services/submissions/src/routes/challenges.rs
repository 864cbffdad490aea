//! Challenges: organizers create and update them from a spec; everyone reads them.

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use chrono::Utc;
use darkroom_api::{ChallengeListQuery, ChallengeSummary, DatasetListing, PublicChallenge};
use darkroom_core::domain::ChallengeSpec;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, QueryOrder};

use super::openapi::{self as doc, SlugPath};
use super::views::{public_challenge, summary};
use crate::db::entities::challenge;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, ApiJson, ApiQuery};
use crate::pinning::pin_evaluation_image;
use crate::state::AppState;

/// Loads a challenge's spec or answers 404 naming it.
pub async fn load(state: &AppState, slug: &str) -> ApiResult<ChallengeSpec> {
    crate::db::challenge_spec(&state.db, slug).await?.ok_or_else(|| ApiError::no_challenge(slug))
}

fn validated(spec: &ChallengeSpec) -> ApiResult<()> {
    let errors = spec.validate();
    if errors.is_empty() { Ok(()) } else { Err(ApiError::Invalid(errors)) }
}

fn to_json(spec: &ChallengeSpec) -> ApiResult<String> {
    serde_json::to_string(spec).map_err(|e| ApiError::Internal(e.into()))
}

#[utoipa::path(
    post,
    path = "/challenges",
    operation_id = "create_challenge",
    summary = "Create a challenge from a spec",
    request_body = ChallengeSpec,
    responses(
        (status = 201, description = "Created: the spec as stored (no registry password), with fingerprints and the pinned evaluation image", body = ChallengeSpec),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
        (status = 503, response = doc::Unavailable),
    ),
    security(("bearer" = ["organizer"])),
)]
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
    crate::fingerprints::take(&state.config, &mut spec).await?;
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
    list_applied(&state, &spec).await?;
    tracing::info!(challenge = %spec.slug, "challenge created");
    Ok((StatusCode::CREATED, Json(spec.redacted())))
}

/// Creates or replaces the challenge named in the URL.
#[utoipa::path(
    put,
    path = "/challenges/{slug}",
    operation_id = "put_challenge",
    summary = "Create or replace the challenge named in the URL",
    params(SlugPath),
    request_body = ChallengeSpec,
    responses(
        (status = 200, description = "Replaced: the spec as stored", body = ChallengeSpec),
        (status = 201, description = "Created: the spec as stored", body = ChallengeSpec),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
        (status = 503, response = doc::Unavailable),
    ),
    security(("bearer" = ["organizer"])),
)]
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
    crate::fingerprints::take(&state.config, &mut spec).await?;
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
    list_applied(&state, &spec).await?;
    tracing::info!(challenge = %slug, created = status == StatusCode::CREATED, "challenge saved");
    Ok((status, Json(spec.redacted())))
}

#[utoipa::path(
    get,
    path = "/challenges",
    operation_id = "list_challenges",
    summary = "List challenges, optionally by status",
    params(ChallengeListQuery),
    responses(
        (status = 200, description = "The challenges, oldest first", body = Vec<ChallengeSummary>),
        (status = 400, response = doc::BadRequest),
    ),
)]
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

#[utoipa::path(
    get,
    path = "/challenges/{slug}",
    operation_id = "show_challenge",
    summary = "A challenge as the public sees it",
    params(SlugPath),
    responses(
        (status = 200, description = "The public view: no host paths, no evaluation image", body = PublicChallenge),
        (status = 404, response = doc::NotFound),
    ),
)]
pub async fn show(State(state): State<AppState>, UrlPath(slug): UrlPath<String>) -> ApiResult<Json<PublicChallenge>> {
    let mut challenge = public_challenge(load(&state, &slug).await?, Utc::now());
    challenge.latest_announcement = crate::announcements::latest(&state.db, &slug).await?;
    Ok(Json(challenge))
}

/// The full spec, host paths included: organizers only.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/spec",
    operation_id = "challenge_spec",
    summary = "The full spec, host paths included",
    params(SlugPath),
    responses(
        (status = 200, description = "The spec (no registry password)", body = ChallengeSpec),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn spec(
    State(state): State<AppState>,
    _: Admin,
    UrlPath(slug): UrlPath<String>,
) -> ApiResult<Json<ChallengeSpec>> {
    Ok(Json(load(&state, &slug).await?.redacted()))
}

/// Names and sizes of the dataset's files, as stored when the challenge was applied or last
/// refreshed: an anonymous request never walks the dataset.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/dataset",
    operation_id = "challenge_dataset",
    summary = "The dataset's file names and sizes",
    params(SlugPath),
    responses(
        (status = 200, description = "As listed when the challenge was applied or last refreshed", body = DatasetListing),
        (status = 404, response = doc::NotFound),
        (status = 503, response = doc::Unavailable),
    ),
)]
pub async fn dataset(State(state): State<AppState>, UrlPath(slug): UrlPath<String>) -> ApiResult<Json<DatasetListing>> {
    let spec = load(&state, &slug).await?;
    Ok(Json(crate::dataset::stored(&state.db, &spec, state.config.max_listing_entries).await?))
}

/// Lists the dataset again (after the organizer changed its files) and stores the listing.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/dataset/refresh",
    operation_id = "refresh_dataset",
    summary = "List the dataset again and serve that listing",
    params(SlugPath),
    responses(
        (status = 200, description = "The new listing", body = DatasetListing),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 422, response = doc::Unprocessable),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn refresh_dataset(
    State(state): State<AppState>,
    _: Admin,
    UrlPath(slug): UrlPath<String>,
) -> ApiResult<Json<DatasetListing>> {
    let spec = load(&state, &slug).await?;
    match crate::dataset::refresh(&state.db, &spec, state.config.max_listing_entries).await? {
        Ok(listing) => {
            tracing::info!(challenge = %slug, files = listing.file_count, "dataset listing refreshed");
            Ok(Json(listing))
        }
        Err(problem) => Err(ApiError::field(
            "dataset.host_path",
            problem,
            format!(
                "make the folder readable on the API's host (or fix the path with PUT /api/v1/challenges/{slug}), then refresh again"
            ),
        )),
    }
}

/// Stores the listing of a challenge just applied. A dataset that cannot be listed does not
/// refuse the spec (the API's host may see the dataset later); it is logged, readers get 503
/// and the organizer's refresh says why.
async fn list_applied(state: &AppState, spec: &ChallengeSpec) -> ApiResult<()> {
    crate::dataset::refresh(&state.db, spec, state.config.max_listing_entries).await?.ok();
    Ok(())
}
