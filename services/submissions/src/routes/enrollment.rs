//! Joining challenges (participants) and admitting participants (the organizer): invites and
//! approvals. The rules live in [`crate::enrollment`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use darkroom_api::{
    DisqualifyRequest, Enrollment, EnrollmentDecision, EnrollmentListQuery, Invite, InviteRequest, JoinRequest,
    OrganizerEnrollment, ParticipantId,
};
use darkroom_core::domain::DisqualificationReason;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::challenges::load;
use super::openapi::{self as doc, MemberPath, SlugPath};
use super::organizer::participants_by_id;
use super::views::participant_ref;
use crate::db::entities::{self, invite};
use crate::enrollment::{self, Decision};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, ApiJson, ApiQuery, Caller};
use crate::state::AppState;

/// `POST /challenges/{slug}/join`: 200 with the enrollment (`active`, or `pending` where the
/// organizer approves).
#[utoipa::path(
    post,
    path = "/challenges/{slug}/join",
    operation_id = "join_challenge",
    summary = "Join a challenge, accepting its rules",
    params(SlugPath),
    request_body = JoinRequest,
    responses(
        (status = 200, description = "The enrollment: `active`, or `pending` the organizer's approval", body = Enrollment),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
    ),
    security(("bearer" = ["participant"])),
)]
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
#[utoipa::path(
    get,
    path = "/challenges/{slug}/enrollment",
    operation_id = "my_enrollment",
    summary = "The caller's enrollment",
    params(SlugPath),
    responses(
        (status = 200, description = "The enrollment", body = Enrollment),
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
) -> ApiResult<Json<Enrollment>> {
    load(&state, &slug).await?;
    let row = enrollment::find(&state.db, &slug, &who.id).await?.ok_or_else(|| {
        ApiError::NotFound(format!("you have not joined '{slug}'; join it with darkroom join {slug}"))
    })?;
    Ok(Json(enrollment::view(&row)?))
}

/// `GET /challenges/{slug}/enrollments[?state=pending]`: everyone who joined or asked to, oldest
/// first.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/enrollments",
    operation_id = "list_enrollments",
    summary = "Who joined or asked to, with the invite used",
    params(SlugPath, EnrollmentListQuery),
    responses(
        (status = 200, description = "The enrollments", body = Vec<OrganizerEnrollment>),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["organizer"])),
)]
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

/// The participant a path names, as an id; anything else is nobody.
fn participant_in_path(slug: &str, participant: &str) -> ApiResult<ParticipantId> {
    participant
        .parse()
        .map_err(|e: darkroom_api::ParseIdError| ApiError::NotFound(format!("{e}; {}", enrollment::list_hint(slug))))
}

async fn decide(
    state: &AppState,
    slug: &str,
    participant: &str,
    decision: Decision,
) -> ApiResult<Json<EnrollmentDecision>> {
    load(state, slug).await?;
    let id = participant_in_path(slug, participant)?;
    let enrollment = enrollment::decide(&state.db, slug, &id.to_string(), decision, Utc::now()).await?;
    Ok(Json(EnrollmentDecision { participant: id, enrollment, cancelled: Vec::new() }))
}

/// The enrollment of the participant a path names, or 404 saying where to look.
async fn enrolled(
    state: &AppState,
    slug: &str,
    participant: &str,
) -> ApiResult<(ParticipantId, entities::enrollment::Model)> {
    load(state, slug).await?;
    let id = participant_in_path(slug, participant)?;
    let row = enrollment::find(&state.db, slug, &id.to_string()).await?.ok_or_else(|| {
        ApiError::NotFound(format!("participant '{id}' has not joined '{slug}'; {}", enrollment::list_hint(slug)))
    })?;
    Ok((id, row))
}

/// `POST /challenges/{slug}/enrollments/{participant}/disqualify`: see [`crate::disqualification`].
#[utoipa::path(
    post,
    path = "/challenges/{slug}/enrollments/{participant}/disqualify",
    operation_id = "disqualify_participant",
    summary = "Disqualify a participant: their submits are refused and their line (or their team's) leaves every board",
    params(MemberPath),
    request_body = DisqualifyRequest,
    responses(
        (status = 200, description = "The participant's enrollment now, with the disqualification", body = EnrollmentDecision),
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
pub async fn disqualify(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, participant)): Path<(String, String)>,
    ApiJson(request): ApiJson<DisqualifyRequest>,
) -> ApiResult<Json<EnrollmentDecision>> {
    // After a submit admitted meanwhile is inserted (so that it is cancelled below), and with
    // the team as it stands (team changes take the lock too).
    let _turn = state.submit_lock.turn().await?;
    let (id, row) = enrolled(&state, &slug, &participant).await?;
    let reason = DisqualificationReason::parse(&request.reason).map_err(|e| ApiError::Invalid(vec![e]))?;
    let members = crate::teams::members_of(&state.db, &row).await?;
    let enrollment = crate::disqualification::disqualify(&state.db, row, reason, Utc::now()).await?;
    let cancelled = super::submissions::cancel_waiting(&state, &slug, &members).await?;
    crate::disqualification::hint_live_pages(&state.nats, &slug).await;
    Ok(Json(EnrollmentDecision { participant: id, enrollment, cancelled }))
}

/// `POST /challenges/{slug}/enrollments/{participant}/reinstate`: lifts a disqualification.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/enrollments/{participant}/reinstate",
    operation_id = "reinstate_participant",
    summary = "Lift a participant's disqualification: their line comes back as their scores say",
    params(MemberPath),
    responses(
        (status = 200, description = "The participant's enrollment now", body = EnrollmentDecision),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn reinstate(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, participant)): Path<(String, String)>,
) -> ApiResult<Json<EnrollmentDecision>> {
    let _turn = state.submit_lock.turn().await?;
    let (id, row) = enrolled(&state, &slug, &participant).await?;
    let enrollment = crate::disqualification::reinstate(&state.db, row).await?;
    crate::disqualification::hint_live_pages(&state.nats, &slug).await;
    Ok(Json(EnrollmentDecision { participant: id, enrollment, cancelled: Vec::new() }))
}

/// `POST /challenges/{slug}/enrollments/{participant}/approve`.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/enrollments/{participant}/approve",
    operation_id = "approve_enrollment",
    summary = "Approve a request to join",
    params(MemberPath),
    responses(
        (status = 200, description = "The participant's enrollment now", body = EnrollmentDecision),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn approve(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, participant)): Path<(String, String)>,
) -> ApiResult<Json<EnrollmentDecision>> {
    decide(&state, &slug, &participant, Decision::Approve).await
}

/// `POST /challenges/{slug}/enrollments/{participant}/reject`.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/enrollments/{participant}/reject",
    operation_id = "reject_enrollment",
    summary = "Reject a request to join",
    params(MemberPath),
    responses(
        (status = 200, description = "The participant's enrollment now", body = EnrollmentDecision),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn reject(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, participant)): Path<(String, String)>,
) -> ApiResult<Json<EnrollmentDecision>> {
    decide(&state, &slug, &participant, Decision::Reject).await
}

/// `POST /challenges/{slug}/invites`: 201 with the code, shown this once.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/invites",
    operation_id = "mint_invite",
    summary = "Mint an invite code",
    params(SlugPath),
    request_body = InviteRequest,
    responses(
        (status = 201, description = "The invite, with its code (shown this once)", body = Invite),
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
#[utoipa::path(
    get,
    path = "/challenges/{slug}/invites",
    operation_id = "list_invites",
    summary = "A challenge's invites and their use counts (no codes)",
    params(SlugPath),
    responses(
        (status = 200, description = "The invites", body = Vec<Invite>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["organizer"])),
)]
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
