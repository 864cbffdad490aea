//! Registration: a participant gets a token once; only its hash is stored. `/me`: who a token
//! belongs to. And replacing a participant's token ([`crate::token_replacement`]): their own
//! after a leak, or by the organizer after a loss.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use darkroom_api::{Me, ParticipantId, Registered, Registration, ReplacedToken};
use darkroom_core::domain::ParticipantName;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::openapi::{self as doc, ParticipantPath};
use super::views::profile;
use crate::auth::{hash_token, new_token};
use crate::db::entities::participant;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Bearer, Holder, Viewer, own_token_holder};
use crate::state::AppState;
use crate::token_replacement::{self, ReplacedBy};

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

#[utoipa::path(
    post,
    path = "/me/token",
    operation_id = "replace_own_token",
    summary = "Replace your own token (after a leak): the old one, its sessions and its scoped tokens stop working",
    responses(
        (status = 201, description = "The new token, shown this once", body = ReplacedToken),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn replace_own_token(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
) -> ApiResult<(StatusCode, Json<ReplacedToken>)> {
    // The token itself, not a session: a stolen cookie must not be able to lock its owner out.
    let Holder::Participant(who) = own_token_holder(&state, &bearer, "a token is replaced").await? else {
        return Err(ApiError::Forbidden(
            "the admin token is not replaced here: change submissions.admin_token in the configuration (its \
             sessions and scoped tokens end with it); this route replaces a participant's own token"
                .into(),
        ));
    };
    let replaced = token_replacement::replace(&state, &who, ReplacedBy::Participant).await?;
    Ok((StatusCode::CREATED, Json(replaced)))
}

#[utoipa::path(
    post,
    path = "/participants/{participant}/token",
    operation_id = "replace_participant_token",
    summary = "Replace a participant's token (after a loss): the organizer passes the new one on",
    params(ParticipantPath),
    responses(
        (status = 201, description = "The participant's new token, shown this once", body = ReplacedToken),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn replace_participant_token(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(participant): Path<String>,
) -> ApiResult<(StatusCode, Json<ReplacedToken>)> {
    // The admin token itself: a co-organizer's scoped token (even `organize`) or a session
    // must not be able to take over a participant's account.
    if let Holder::Participant(_) = own_token_holder(&state, &bearer, "a participant's token is replaced").await? {
        return Err(ApiError::Forbidden(
            "only the organizer replaces another participant's token; replace your own with POST /api/v1/me/token \
             ('darkroom token replace')"
                .into(),
        ));
    }
    let unknown = || {
        ApiError::NotFound(format!(
            "no participant '{participant}'; the organizer's enrollment lists ('darkroom enrollment list SLUG') \
             show participants' ids"
        ))
    };
    let id: ParticipantId = participant.parse().map_err(|_| unknown())?;
    let who = participant::Entity::find_by_id(id.to_string()).one(&state.db).await?.ok_or_else(unknown)?;
    let replaced = token_replacement::replace(&state, &who, ReplacedBy::Organizer).await?;
    Ok((StatusCode::CREATED, Json(replaced)))
}
