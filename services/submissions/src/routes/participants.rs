//! Registration: a participant gets a token once; only its hash is stored. And `/me`: who a
//! token belongs to.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use darkroom_api::{Me, ParticipantId, Registered, Registration};
use darkroom_core::domain::ParticipantName;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::openapi::{self as doc};
use super::views::profile;
use crate::auth::{hash_token, new_token};
use crate::db::entities::participant;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Viewer};
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/participants",
    operation_id = "register",
    summary = "Register as a participant",
    request_body = Registration,
    responses(
        (status = 201, description = "Registered: the token, shown this once", body = Registered),
        (status = 400, response = doc::BadRequest),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<Registration>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let name = ParticipantName::parse("name", &r.name).map_err(|e| ApiError::Invalid(vec![e]))?;
    let team = match r.team.as_deref() {
        Some(t) => Some(ParticipantName::parse("team", t).map_err(|e| ApiError::Invalid(vec![e]))?.as_str().to_owned()),
        None => None,
    };
    if participant::Entity::find().filter(participant::Column::Name.eq(name.as_str())).one(&state.db).await?.is_some() {
        return Err(ApiError::conflict("name_taken", format!("the name '{}' is taken; choose another", name.as_str())));
    }
    let token = new_token();
    let id = ParticipantId::from(uuid::Uuid::now_v7());
    let inserted = participant::ActiveModel {
        id: Set(id.to_string()),
        name: Set(name.as_str().to_owned()),
        team: Set(team.clone()),
        token_hash: Set(hash_token(&token)),
        created_at: Set(Utc::now()),
    }
    .insert(&state.db)
    .await;
    if let Err(e) = inserted {
        // A concurrent registration of the same name loses on the unique index.
        if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) {
            return Err(ApiError::conflict(
                "name_taken",
                format!("the name '{}' is taken; choose another", name.as_str()),
            ));
        }
        return Err(e.into());
    }
    tracing::info!(participant = %id, "participant registered");
    Ok((StatusCode::CREATED, Json(Registered { id, name: name.as_str().to_owned(), team, token })))
}

#[utoipa::path(
    get,
    path = "/me",
    operation_id = "me",
    summary = "Who the credential belongs to",
    responses(
        (status = 200, description = "The organizer (`role: organizer`) or the participant's profile (`role: participant`)", body = Me),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
    ),
    security(("bearer" = ["participant"]), ("bearer" = ["organizer"])),
)]
pub async fn me(viewer: Viewer) -> ApiResult<Json<Me>> {
    Ok(Json(match viewer {
        Viewer::Organizer => Me::Organizer,
        Viewer::Participant(p) => Me::Participant(profile(p)?),
    }))
}
