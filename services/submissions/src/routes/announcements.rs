//! A challenge's announcements (see [`crate::announcements`] and `darkroom_api::announcement`):
//! `GET /challenges/{slug}/announcements` for everyone; `POST` there, `PUT` and `DELETE
//! /challenges/{slug}/announcements/{id}` for the organizer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use darkroom_api::{Announcement, EditAnnouncement, PostAnnouncement};

use super::openapi::{self as doc, AnnouncementPath, SlugPath};
use crate::error::ApiResult;
use crate::extract::{Admin, ApiJson};
use crate::state::AppState;

/// `GET /challenges/{slug}/announcements`: newest first; public, like the challenge.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/announcements",
    operation_id = "list_announcements",
    summary = "A challenge's announcements, newest first",
    params(SlugPath),
    responses(
        (status = 200, description = "The announcements; their bodies are Markdown", body = Vec<Announcement>),
        (status = 404, response = doc::NotFound),
    ),
)]
pub async fn list(State(state): State<AppState>, Path(slug): Path<String>) -> ApiResult<Json<Vec<Announcement>>> {
    Ok(Json(crate::announcements::list(&state, &slug).await?))
}

/// `POST /challenges/{slug}/announcements`.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/announcements",
    operation_id = "post_announcement",
    summary = "Tell a challenge's participants something",
    params(SlugPath),
    request_body = PostAnnouncement,
    responses(
        (status = 201, description = "Posted", body = Announcement),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn post(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<PostAnnouncement>,
) -> ApiResult<(StatusCode, Json<Announcement>)> {
    Ok((StatusCode::CREATED, Json(crate::announcements::post(&state, &slug, &body).await?)))
}

/// `PUT /challenges/{slug}/announcements/{id}`: a new title, body or both, marked as edited.
#[utoipa::path(
    put,
    path = "/challenges/{slug}/announcements/{id}",
    operation_id = "edit_announcement",
    summary = "Replace an announcement's title, body or both (what is left out stays); it says when it was edited",
    params(AnnouncementPath),
    request_body = EditAnnouncement,
    responses(
        (status = 200, description = "As it reads now", body = Announcement),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn edit(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<EditAnnouncement>,
) -> ApiResult<Json<Announcement>> {
    Ok(Json(crate::announcements::edit(&state, &slug, &id, &body).await?))
}

/// `DELETE /challenges/{slug}/announcements/{id}`.
#[utoipa::path(
    delete,
    path = "/challenges/{slug}/announcements/{id}",
    operation_id = "remove_announcement",
    summary = "Remove an announcement",
    params(AnnouncementPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn remove(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    crate::announcements::remove(&state, &slug, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
