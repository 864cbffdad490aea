//! Joining challenges (participants) and admitting participants (the organizer): invites and
//! approvals. The rules live in [`crate::enrollment`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use darkroom_api::{
    Enrollment, EnrollmentDecision, EnrollmentListQuery, Invite, InviteRequest, JoinRequest, OrganizerEnrollment,
    ParticipantId,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::challenges::load;
use super::organizer::participants_by_id;
use super::views::participant_ref;
use crate::db::entities::{self, invite};
use crate::enrollment::{self, Decision};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, ApiJson, ApiQuery, Caller};
use crate::state::AppState;

/// `POST /challenges/{slug}/join`: 200 with the enrollment (`active`, or `pending` where the
/// organizer approves).
pub async fn join(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(slug): Path<String>,
    ApiJson(request): ApiJson<JoinRequest>,
) -> ApiResult<Json<Enrollment>> {
    let spec = load(&state, &slug).await?;
    Ok(Json(enrollment::join(&state.db, &spec, &who.id, &request, Utc::now()).await?))
}

/// `GET /challenges/{slug}/enrollment`: the caller's own.
pub async fn mine(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(slug): Path<String>,
) -> ApiResult<Json<Enrollment>> {
    load(&state, &slug).await?;
    let row = enrollment::find(&state.db, &slug, &who.id).await?.ok_or_else(|| {
        ApiError::NotFound(format!("you have not joined '{slug}'; join it with darkroom join {slug}"))
    })?;
    Ok(Json(enrollment::view(&row)?))
}

/// `GET /challenges/{slug}/enrollments[?state=pending]`: everyone who joined or asked to, oldest
/// first.
pub async fn list(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<EnrollmentListQuery>,
) -> ApiResult<Json<Vec<OrganizerEnrollment>>> {
    load(&state, &slug).await?;
    use entities::enrollment::{Column, Entity};
    let mut find = Entity::find().filter(Column::Challenge.eq(&slug));
    if let Some(wanted) = q.state {
        find = find.filter(Column::State.eq(wanted.as_str()));
    }
    let rows = find.order_by_asc(Column::Id).all(&state.db).await?;
    let who = participants_by_id(&state, rows.iter().map(|r| r.participant_id.as_str())).await?;
    let views = rows
        .iter()
        .map(|r| {
            let id = crate::db::parse_column("enrollments.participant_id", &r.participant_id)?;
            Ok(OrganizerEnrollment {
                enrollment: enrollment::view(r)?,
                participant: participant_ref(who.get(&r.participant_id), id)?,
                invite: r.invite_id.clone(),
            })
        })
        .collect::<ApiResult<_>>()?;
    Ok(Json(views))
}

async fn decide(
    state: &AppState,
    slug: &str,
    participant: &str,
    decision: Decision,
) -> ApiResult<Json<EnrollmentDecision>> {
    load(state, slug).await?;
    let id: ParticipantId = participant.parse().map_err(|e: darkroom_api::ParseIdError| {
        ApiError::NotFound(format!("{e}; list who asked to join with GET /api/v1/challenges/{slug}/enrollments"))
    })?;
    let enrollment = enrollment::decide(&state.db, slug, &id.to_string(), decision, Utc::now()).await?;
    Ok(Json(EnrollmentDecision { participant: id, enrollment }))
}

/// `POST /challenges/{slug}/enrollments/{participant}/approve`.
pub async fn approve(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, participant)): Path<(String, String)>,
) -> ApiResult<Json<EnrollmentDecision>> {
    decide(&state, &slug, &participant, Decision::Approve).await
}

/// `POST /challenges/{slug}/enrollments/{participant}/reject`.
pub async fn reject(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, participant)): Path<(String, String)>,
) -> ApiResult<Json<EnrollmentDecision>> {
    decide(&state, &slug, &participant, Decision::Reject).await
}

/// `POST /challenges/{slug}/invites`: 201 with the code, shown this once.
pub async fn mint(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
    ApiJson(request): ApiJson<InviteRequest>,
) -> ApiResult<(StatusCode, Json<Invite>)> {
    load(&state, &slug).await?;
    Ok((StatusCode::CREATED, Json(enrollment::mint_invite(&state.db, &slug, &request, Utc::now()).await?)))
}

/// `GET /challenges/{slug}/invites`: the challenge's invites and their use, without codes.
pub async fn invites(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<Invite>>> {
    load(&state, &slug).await?;
    let rows = invite::Entity::find()
        .filter(invite::Column::Challenge.eq(&slug))
        .order_by_asc(invite::Column::CreatedAt)
        .all(&state.db)
        .await?;
    Ok(Json(rows.into_iter().map(enrollment::invite_view).collect()))
}
