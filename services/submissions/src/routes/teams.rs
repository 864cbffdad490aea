//! Teams (participants: create, join, leave, merge, the captain's removals and code) and the
//! organizer's duplicate-image flag. The rules live in [`crate::teams`].

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use darkroom_api::{CreateTeam, DuplicateEntrant, DuplicateImage, Team, TeamCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::challenges::load;
use super::openapi::{self as doc, MemberPath, SlugPath};
use super::organizer::participants_by_id;
use crate::db::entities::{enrollment, submission, team};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, ApiJson, Caller};
use crate::state::AppState;
use crate::teams;

/// `POST /challenges/{slug}/teams`: 201 with the team and its code (shown this once).
#[utoipa::path(
    post,
    path = "/challenges/{slug}/teams",
    operation_id = "create_team",
    summary = "Create a team and become its captain",
    params(SlugPath),
    request_body = CreateTeam,
    responses(
        (status = 201, description = "The team, with its code (shown to the captain)", body = Team),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<CreateTeam>,
) -> ApiResult<(StatusCode, Json<Team>)> {
    let spec = load(&state, &slug).await?;
    Ok((StatusCode::CREATED, Json(teams::create(&state, &spec, &who, &body.name).await?)))
}

/// `POST /challenges/{slug}/teams/join`: the caller joins the team whose code this is.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/teams/join",
    operation_id = "join_team",
    summary = "Join the team whose code this is",
    params(SlugPath),
    request_body = TeamCode,
    responses(
        (status = 200, description = "The team", body = Team),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn join(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<TeamCode>,
) -> ApiResult<Json<Team>> {
    let spec = load(&state, &slug).await?;
    Ok(Json(teams::join(&state, &spec, &who, &body.code).await?))
}

/// `GET /challenges/{slug}/team`: the caller's team.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/team",
    operation_id = "my_team",
    summary = "The caller's team",
    params(SlugPath),
    responses(
        (status = 200, description = "The team", body = Team),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn mine(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(slug): Path<String>,
) -> ApiResult<Json<Team>> {
    let spec = load(&state, &slug).await?;
    let team = teams::team_of(&state.db, &slug, &who.id).await?.ok_or_else(|| {
        ApiError::NotFound(format!("you are in no team of '{slug}'; create one or join one with its code"))
    })?;
    Ok(Json(teams::view(&state.db, &spec, team, None).await?))
}

/// `POST /challenges/{slug}/team/leave`: 204.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/team/leave",
    operation_id = "leave_team",
    summary = "Leave the caller's team",
    params(SlugPath),
    responses(
        (status = 204, description = "Left"),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn leave(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    let spec = load(&state, &slug).await?;
    teams::leave(&state, &spec, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /challenges/{slug}/team/code`: the captain's new code (the old one stops working).
#[utoipa::path(
    post,
    path = "/challenges/{slug}/team/code",
    operation_id = "renew_team_code",
    summary = "Renew the team's code (captain)",
    params(SlugPath),
    responses(
        (status = 200, description = "The team, with its new code", body = Team),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn renew_code(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(slug): Path<String>,
) -> ApiResult<Json<Team>> {
    let spec = load(&state, &slug).await?;
    Ok(Json(teams::renew_code(&state, &spec, &who).await?))
}

/// `POST /challenges/{slug}/team/merge`: the caller's team (by its captain) merges into the team
/// whose code this is.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/team/merge",
    operation_id = "merge_team",
    summary = "Merge the caller's team into the team whose code this is (captain)",
    params(SlugPath),
    request_body = TeamCode,
    responses(
        (status = 200, description = "The merged team", body = Team),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn merge(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<TeamCode>,
) -> ApiResult<Json<Team>> {
    let spec = load(&state, &slug).await?;
    Ok(Json(teams::merge(&state, &spec, &who, &body.code).await?))
}

/// `DELETE /challenges/{slug}/team/members/{participant}`: the captain removes a member.
#[utoipa::path(
    delete,
    path = "/challenges/{slug}/team/members/{participant}",
    operation_id = "remove_team_member",
    summary = "Remove a member from the team (captain)",
    params(MemberPath),
    responses(
        (status = 200, description = "The team now", body = Team),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn remove(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((slug, member)): Path<(String, String)>,
) -> ApiResult<Json<Team>> {
    let spec = load(&state, &slug).await?;
    Ok(Json(teams::remove(&state, &spec, &who, &member).await?))
}

/// `GET /challenges/{slug}/duplicate-images`: image digests submitted by more than one team (or
/// participant in no team) — likely one person behind several accounts.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/duplicate-images",
    operation_id = "duplicate_images",
    summary = "Images submitted by more than one team",
    params(SlugPath),
    responses(
        (status = 200, description = "Each image digest with who submitted it", body = Vec<DuplicateImage>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn duplicates(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<DuplicateImage>>> {
    load(&state, &slug).await?;
    let rows = submission::Entity::find()
        .filter(submission::Column::Challenge.eq(&slug))
        .order_by_asc(submission::Column::CreatedAt)
        .all(&state.db)
        .await?;
    let team_of: HashMap<String, String> = enrollment::Entity::find()
        .filter(enrollment::Column::Challenge.eq(&slug))
        .all(&state.db)
        .await?
        .into_iter()
        .filter_map(|e| Some((e.participant_id, e.team_id?)))
        .collect();
    let team_names: HashMap<String, String> = team::Entity::find()
        .filter(team::Column::Challenge.eq(&slug))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let people = participants_by_id(&state, rows.iter().map(|r| r.participant_id.as_str())).await?;
    // digest → entrant (a team id, or a participant id) → their submissions.
    let mut by_digest: BTreeMap<&str, BTreeMap<&str, Vec<&submission::Model>>> = BTreeMap::new();
    let digests: Vec<Option<String>> = rows.iter().map(image_identity).collect();
    for (row, digest) in rows.iter().zip(&digests) {
        let Some(digest) = digest.as_deref() else { continue };
        let entrant = team_of.get(&row.participant_id).map_or(row.participant_id.as_str(), String::as_str);
        by_digest.entry(digest).or_default().entry(entrant).or_default().push(row);
    }
    let flagged = by_digest
        .into_iter()
        .filter(|(_, entrants)| entrants.len() > 1)
        .map(|(digest, entrants)| {
            let mut entrants: Vec<DuplicateEntrant> = entrants
                .into_iter()
                .map(|(entrant, subs)| {
                    let team = team_names.get(entrant).cloned();
                    let name = team.clone().unwrap_or_else(|| {
                        people.get(entrant).map_or_else(|| "(unknown)".to_owned(), |p| p.name.clone())
                    });
                    let submissions = subs
                        .iter()
                        .map(|s| crate::db::parse_column("submissions.id", &s.id))
                        .collect::<Result<_, _>>()?;
                    Ok(DuplicateEntrant { name, team, submissions })
                })
                .collect::<ApiResult<_>>()?;
            entrants.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(DuplicateImage { digest: digest.to_owned(), entrants })
        })
        .collect::<ApiResult<_>>()?;
    Ok(Json(flagged))
}

/// What identifies a submission's image: the image id the runner saw, or before it ran, the
/// digest it was pinned to (by name) or the upload's SHA-256.
fn image_identity(row: &submission::Model) -> Option<String> {
    if let Some(id) = &row.image_digest {
        return Some(id.clone());
    }
    match serde_json::from_str::<darkroom_core::domain::ImageSource>(&row.image).ok()? {
        darkroom_core::domain::ImageSource::Reference { digest, .. } => digest,
        darkroom_core::domain::ImageSource::Tarball { sha256, .. } => Some(format!("sha256:{sha256}")),
    }
}
