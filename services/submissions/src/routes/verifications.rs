//! Verification re-runs (issue 17), organizer only: `POST /submissions/{id}/verifications`
//! queues a re-run of a scored submission (the same request its scored attempt had, marked as a
//! verification, so the runner reports it to the evaluator alone), and `GET /verifications/{id}`
//! reads where it stands and, once the evaluator stored it, how it compares.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use darkroom_api::{SubmissionState, Verification, VerificationId, VerificationState};
use darkroom_core::events::SubmissionCreated;
use darkroom_core::scores::{StoredVerification, VerificationResult};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, TransactionTrait};
use uuid::Uuid;

use super::challenges::load;
use super::openapi::{self as doc, SubmissionPath, VerificationPath};
use super::organizer::{ensure_kept, image_of};
use super::submissions::visible;
use crate::db::entities::verification;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Viewer};
use crate::lifecycle::created_event;
use crate::outbox;
use crate::state::AppState;

fn unavailable(e: anyhow::Error) -> ApiError {
    tracing::error!(error = %e, "score store unavailable");
    ApiError::Unavailable("the score store cannot be read right now; try again in a moment".into())
}

fn view(row: &verification::Model, stored: Option<StoredVerification>) -> ApiResult<Verification> {
    let internal = |e: darkroom_api::ParseIdError| ApiError::Internal(anyhow::Error::new(e));
    let mut v = Verification {
        id: row.id.parse().map_err(internal)?,
        submission_id: row.submission_id.parse().map_err(internal)?,
        challenge: row.challenge.clone(),
        state: VerificationState::Running,
        requested_at: row.requested_at,
        finished_at: None,
        reason: None,
        report: None,
    };
    if let Some(stored) = stored {
        v.finished_at = Some(stored.finished_at);
        match stored.result {
            VerificationResult::Complete(report) => {
                v.state = VerificationState::Complete;
                v.report = Some(report);
            }
            VerificationResult::Failed(reason) => {
                v.state = VerificationState::Failed;
                v.reason = Some(reason);
            }
        }
    }
    Ok(v)
}

/// `POST /submissions/{id}/verifications`: re-runs a COMPLETE submission with a receipt.
#[utoipa::path(
    post,
    path = "/submissions/{id}/verifications",
    operation_id = "start_verification",
    summary = "Re-run a COMPLETE submission under its receipt's conditions, to compare",
    params(SubmissionPath),
    responses(
        (status = 202, description = "Started: its state is `running`", body = Verification),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 410, response = doc::Gone),
        (status = 503, response = doc::Unavailable),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn start(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Verification>)> {
    let original = visible(&state, &Viewer::Organizer, &id).await?;
    let current = original.current_state()?;
    if current != SubmissionState::Complete {
        return Err(ApiError::conflict(
            "not_verifiable",
            format!(
                "submission '{id}' is {current}; only a COMPLETE submission has a score to re-check: wait for it to \
                 be scored"
            ),
        ));
    }
    if state.scores.receipt(&original.id).await.map_err(unavailable)?.is_none() {
        return Err(ApiError::conflict(
            "no_receipt",
            format!(
                "submission '{id}' was scored before receipts existed, so nothing states what its run was and a \
                 re-run has nothing to be compared with"
            ),
        ));
    }
    let spec = load(&state, &original.challenge).await?;
    let image = image_of(&original)?;
    let verification_id = VerificationId::from(Uuid::now_v7());
    // The request its scored attempt had (same attempt, so the same seed and limits as now
    // applied), marked as a verification.
    let job = SubmissionCreated {
        event_id: SubmissionCreated::verification_event_id(verification_id),
        verification: Some(verification_id),
        ..created_event(&spec, &original, image.clone())?
    };
    let row = verification::ActiveModel {
        id: Set(verification_id.to_string()),
        submission_id: Set(original.id.clone()),
        challenge: Set(original.challenge.clone()),
        requested_at: Set(Utc::now()),
    };
    let row = {
        let _guard = state.submit_lock.turn().await?;
        ensure_kept(&state, &image, "re-run for verification").await?;
        let txn = state.db.begin().await?;
        let row = row.insert(&txn).await?;
        outbox::enqueue(&txn, &job).await?;
        txn.commit().await?;
        row
    };
    state.outbox_wakeup.notify_one();
    tracing::info!(submission = %original.id, verification = %verification_id, "verification re-run requested");
    Ok((StatusCode::ACCEPTED, Json(view(&row, None)?)))
}

/// `GET /verifications/{id}`: where a re-run stands, and its report once it ended.
#[utoipa::path(
    get,
    path = "/verifications/{id}",
    operation_id = "show_verification",
    summary = "A verification re-run and, once ended, its report",
    params(VerificationPath),
    responses(
        (status = 200, description = "The verification", body = Verification),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 503, response = doc::Unavailable),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn show(State(state): State<AppState>, _: Admin, Path(id): Path<String>) -> ApiResult<Json<Verification>> {
    let not_found = || {
        ApiError::NotFound(format!(
            "no verification '{id}'; start one with darkroom verify ID --rerun (POST /api/v1/submissions/{{id}}/verifications)"
        ))
    };
    let verification_id: VerificationId = id.parse().map_err(|_| not_found())?;
    let row =
        verification::Entity::find_by_id(verification_id.to_string()).one(&state.db).await?.ok_or_else(not_found)?;
    let stored = state.scores.verification(verification_id).await.map_err(unavailable)?;
    Ok(Json(view(&row, stored)?))
}
