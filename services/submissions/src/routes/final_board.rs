//! A phase's end: final selections, the organizer's close and reveal, and the private board.

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use darkroom_api::{PrivateBoard, Selections, SelectionsRequest, SubmissionState};
use darkroom_core::domain::{ChallengeSpec, Phase};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};

use super::challenges::load;
use super::openapi::{self as doc, PhasePath};
use crate::db::entities::{final_selection, submission};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, ApiJson, Caller, MaybeOrganizer};
use crate::phase_close::{self, ClosedBy};
use crate::state::AppState;

pub(super) fn phase_of<'a>(spec: &'a ChallengeSpec, name: &str) -> ApiResult<&'a Phase> {
    spec.phase(name).ok_or_else(|| {
        let names: Vec<&str> = spec.phases.iter().map(|p| p.name.as_str()).collect();
        ApiError::NotFound(format!(
            "challenge '{}' has no phase '{name}'; its phases are: {}",
            spec.slug,
            names.join(", ")
        ))
    })
}

fn internal(e: anyhow::Error) -> ApiError {
    ApiError::Internal(e)
}

/// The final selections of `who`'s team (any member's choice stands for all), or theirs alone.
async fn selections_of(state: &AppState, slug: &str, phase: &Phase, who: &str) -> ApiResult<Selections> {
    let close = phase_close::find(&state.db, slug, &phase.name).await?;
    let members = crate::teams::entrant_members(&state.db, slug, who).await?;
    let rows = final_selection::Entity::find()
        .filter(final_selection::Column::Challenge.eq(slug))
        .filter(final_selection::Column::Phase.eq(&phase.name))
        .filter(final_selection::Column::ParticipantId.is_in(members))
        .order_by_asc(final_selection::Column::Id)
        .all(&state.db)
        .await?;
    let submissions = rows
        .iter()
        .map(|r| crate::db::parse_column("final_selections.submission_id", &r.submission_id))
        .collect::<Result<_, _>>()?;
    Ok(Selections {
        challenge: slug.to_owned(),
        phase: phase.name.clone(),
        limit: phase.final_selections,
        submissions,
        closed: phase_close::frozen_at(phase, close.as_ref(), Utc::now()).is_some(),
    })
}

/// `GET /challenges/{slug}/phases/{phase}/selections`: the caller's final selections.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/phases/{phase}/selections",
    operation_id = "show_selections",
    summary = "The caller's final selections in a phase",
    params(PhasePath),
    responses(
        (status = 200, description = "The selections", body = Selections),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn show_selections(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((slug, phase)): Path<(String, String)>,
) -> ApiResult<Json<Selections>> {
    let spec = load(&state, &slug).await?;
    let phase = phase_of(&spec, &phase)?;
    Ok(Json(selections_of(&state, &slug, phase, &who.id).await?))
}

/// `PUT /challenges/{slug}/phases/{phase}/selections`: replaces the final selections of the
/// caller's team (or the caller's): up to N of the team's COMPLETE submissions of the phase.
#[utoipa::path(
    put,
    path = "/challenges/{slug}/phases/{phase}/selections",
    operation_id = "put_selections",
    summary = "Replace the caller's final selections",
    params(PhasePath),
    request_body = SelectionsRequest,
    responses(
        (status = 200, description = "The selections now", body = Selections),
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
pub async fn put_selections(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((slug, phase)): Path<(String, String)>,
    ApiJson(body): ApiJson<SelectionsRequest>,
) -> ApiResult<Json<Selections>> {
    let spec = load(&state, &slug).await?;
    let phase = phase_of(&spec, &phase)?;
    let now = Utc::now();
    let close = phase_close::find(&state.db, &slug, &phase.name).await?;
    if let Some(at) = phase_close::frozen_at(phase, close.as_ref(), now) {
        return Err(ApiError::conflict(
            "phase_closed",
            format!("phase '{}' closed at {}; selections can no longer change", phase.name, at.to_rfc3339()),
        ));
    }
    let mut wanted: Vec<String> = Vec::new();
    for id in &body.submissions {
        let id = id.to_string();
        if !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    if wanted.len() > phase.final_selections as usize {
        return Err(ApiError::conflict(
            "too_many_selections",
            format!(
                "at most {} final selections in phase '{}'; unselect one first (you sent {})",
                phase.final_selections,
                phase.name,
                wanted.len()
            ),
        ));
    }
    let members = crate::teams::entrant_members(&state.db, &slug, &who.id).await?;
    let found = submission::Entity::find().filter(submission::Column::Id.is_in(wanted.clone())).all(&state.db).await?;
    for id in &wanted {
        // Someone else's submission reads as one that does not exist: ids are not disclosed.
        let Some(row) = found.iter().find(|r| &r.id == id && members.contains(&r.participant_id)) else {
            return Err(ApiError::NotFound(format!(
                "you have no submission '{id}'; list yours with darkroom status (GET /api/v1/submissions)"
            )));
        };
        if row.challenge != slug || row.phase != phase.name {
            return Err(ApiError::conflict(
                "wrong_phase",
                format!(
                    "submission '{id}' belongs to phase '{}' of '{}', not phase '{}' of '{slug}'",
                    row.phase, row.challenge, phase.name
                ),
            ));
        }
        let current = row.current_state()?;
        if current != SubmissionState::Complete {
            return Err(ApiError::conflict(
                "not_complete",
                format!("submission '{id}' is {current}; only COMPLETE submissions can be selected"),
            ));
        }
    }
    let txn = state.db.begin().await?;
    final_selection::Entity::delete_many()
        .filter(final_selection::Column::Challenge.eq(&slug))
        .filter(final_selection::Column::Phase.eq(&phase.name))
        .filter(final_selection::Column::ParticipantId.is_in(members.iter().map(String::as_str)))
        .exec(&txn)
        .await?;
    for id in &wanted {
        final_selection::Entity::insert(final_selection::ActiveModel {
            challenge: Set(slug.clone()),
            phase: Set(phase.name.clone()),
            participant_id: Set(who.id.clone()),
            submission_id: Set(id.clone()),
            created_at: Set(now),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(Json(selections_of(&state, &slug, phase, &who.id).await?))
}

/// `POST /challenges/{slug}/phases/{phase}/close` (organizer): closes the phase now. Closing a
/// closed phase answers its close unchanged.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/phases/{phase}/close",
    operation_id = "close_phase",
    summary = "Close a phase now and seal its private board",
    params(PhasePath),
    responses(
        (status = 200, description = "The sealed board", body = PrivateBoard),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn close(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, phase)): Path<(String, String)>,
) -> ApiResult<Json<PrivateBoard>> {
    let spec = load(&state, &slug).await?;
    let phase = phase_of(&spec, &phase)?;
    let now = Utc::now();
    if now < phase.starts_at {
        return Err(ApiError::conflict(
            "phase_not_started",
            format!(
                "phase '{}' opens at {}; a phase closes only once it has started",
                phase.name,
                phase.starts_at.to_rfc3339()
            ),
        ));
    }
    let done =
        phase_close::close(&state.db, &state.scores, &spec, phase, ClosedBy::Organizer, now).await.map_err(internal)?;
    Ok(Json(phase_close::view(&spec, phase, Some(&done), true).map_err(internal)?))
}

/// `POST /challenges/{slug}/phases/{phase}/reveal` (organizer): publishes a closed phase's board
/// and salt. Revealing twice changes nothing.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/phases/{phase}/reveal",
    operation_id = "reveal_phase",
    summary = "Publish a closed phase's sealed board",
    params(PhasePath),
    responses(
        (status = 200, description = "The revealed board", body = PrivateBoard),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn reveal(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, phase)): Path<(String, String)>,
) -> ApiResult<Json<PrivateBoard>> {
    let spec = load(&state, &slug).await?;
    let phase = phase_of(&spec, &phase)?;
    let Some(done) = phase_close::find(&state.db, &slug, &phase.name).await? else {
        return Err(ApiError::conflict(
            "phase_open",
            format!(
                "phase '{}' has not closed (it ends at {}); close it first with POST …/close or `darkroom phase close`",
                phase.name,
                phase.ends_at.to_rfc3339()
            ),
        ));
    };
    phase_close::reveal(&state.db, &done, Utc::now()).await?;
    let done = phase_close::find(&state.db, &slug, &phase.name).await?.unwrap_or(done);
    Ok(Json(phase_close::view(&spec, phase, Some(&done), true).map_err(internal)?))
}

/// `GET /challenges/{slug}/phases/{phase}/private-board`: open, sealed (commitment only; the
/// organizer also sees the board) or revealed (board, salt, commitment, intervals).
#[utoipa::path(
    get,
    path = "/challenges/{slug}/phases/{phase}/private-board",
    operation_id = "private_board",
    summary = "A phase's private board: open, sealed or revealed",
    params(PhasePath),
    responses(
        (status = 200, description = "The board as the caller may see it (the organizer sees a sealed board too)", body = PrivateBoard),
        (status = 404, response = doc::NotFound),
    ),
    security((), ("bearer" = ["organizer"])),
)]
pub async fn private_board(
    State(state): State<AppState>,
    MaybeOrganizer(organizer): MaybeOrganizer,
    Path((slug, phase)): Path<(String, String)>,
) -> ApiResult<Json<PrivateBoard>> {
    let spec = load(&state, &slug).await?;
    let phase = phase_of(&spec, &phase)?;
    let done = phase_close::find(&state.db, &slug, &phase.name).await?;
    Ok(Json(phase_close::view(&spec, phase, done.as_ref(), organizer).map_err(internal)?))
}

/// Refuses a submission to a phase the organizer closed early (the window refuses the others).
pub async fn check_not_closed(state: &AppState, slug: &str, phase: &str) -> ApiResult<()> {
    if let Some(c) = phase_close::find(&state.db, slug, phase).await? {
        return Err(ApiError::Forbidden(format!(
            "phase '{phase}' of '{slug}' was closed by the organizer at {}; it accepts no more submissions",
            c.closed_at.to_rfc3339()
        )));
    }
    Ok(())
}
