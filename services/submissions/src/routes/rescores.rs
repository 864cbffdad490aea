//! The organizer's rescores of a phase (issue 17, see [`crate::rescore`] and
//! `docs/rescore.md`): `POST /challenges/{slug}/phases/{phase}/rescores` asks for one,
//! `GET` the same path lists them with their progress.
//!
//! A request pins the new image (as applying a challenge does), records the rescore in the
//! score store (MongoDB: the evaluator writes its progress there, beside the scores it
//! re-records), then enqueues one item per submission in the outbox, in one transaction. A
//! crash between the two leaves a running rescore with items missing: asking again with the
//! same image enqueues its remaining items again (their ids are fixed, so nothing doubles).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use darkroom_api::{RescoreList, RescoreProgress, RescoreRequest};
use darkroom_core::events::{RescoreItem, RunFinished};
use darkroom_core::scores::{Rescore, RescoreState, Started};
use sea_orm::TransactionTrait;

use super::challenges::load;
use super::openapi::{self as doc, PhasePath};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, ApiJson};
use crate::state::AppState;

fn unavailable(e: anyhow::Error) -> ApiError {
    tracing::error!(error = %e, "score store unavailable");
    ApiError::Unavailable("rescores cannot be read or recorded right now; try again in a moment".into())
}

async fn progress_of(state: &AppState, rescore: &Rescore) -> ApiResult<RescoreProgress> {
    let from = crate::rescore::at(&state.scores, &rescore.challenge, &rescore.phase, Some(rescore.from_generation))
        .await?
        .store
        .scored_ids(&rescore.challenge, &rescore.phase)
        .await
        .map_err(unavailable)?;
    Ok(crate::rescore::progress(rescore, &from))
}

/// `GET /challenges/{slug}/phases/{phase}/rescores`: every rescore of the phase, oldest
/// first, with its progress and failures. Organizers only.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/phases/{phase}/rescores",
    operation_id = "list_rescores",
    summary = "Every rescore of a phase, oldest first",
    params(PhasePath),
    responses(
        (status = 200, description = "Their progress", body = RescoreList),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 503, response = doc::Unavailable),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn list(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, phase)): Path<(String, String)>,
) -> ApiResult<Json<RescoreList>> {
    let spec = load(&state, &slug).await?;
    let phase = super::final_board::phase_of(&spec, &phase)?;
    let mut rescores = Vec::new();
    for r in state.scores.rescores(&slug, &phase.name).await.map_err(unavailable)? {
        rescores.push(progress_of(&state, &r).await?);
    }
    Ok(Json(RescoreList { rescores }))
}

/// `POST /challenges/{slug}/phases/{phase}/rescores`: evaluates every scored submission of the
/// phase again with `evaluation_image` into a new board generation. Organizers only.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/phases/{phase}/rescores",
    operation_id = "request_rescore",
    summary = "Re-score a phase with a new evaluation image",
    params(PhasePath),
    request_body = RescoreRequest,
    responses(
        (status = 202, description = "Started (or the one already running)", body = RescoreProgress),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
        (status = 503, response = doc::Unavailable),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn request(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, phase)): Path<(String, String)>,
    ApiJson(body): ApiJson<RescoreRequest>,
) -> ApiResult<(StatusCode, Json<RescoreProgress>)> {
    let spec = load(&state, &slug).await?;
    let phase = super::final_board::phase_of(&spec, &phase)?.name.clone();
    let image = body.evaluation_image.trim().to_owned();
    if image.is_empty() {
        return Err(ApiError::field(
            "evaluation_image",
            "is empty",
            "name the new evaluation image as the evaluators' engine knows it, e.g. eval:2",
        ));
    }
    // Pinned exactly as applying a challenge pins its image.
    let mut pinned = spec.clone();
    pinned.evaluation.image = image.clone();
    pinned.evaluation.image_id = None;
    crate::pinning::pin_evaluation_image(&state.nats, &mut pinned).await?;
    let image_id = pinned.evaluation.image_id.clone().unwrap_or_default();

    let rescores = state.scores.rescores(&slug, &phase).await.map_err(unavailable)?;
    if let Some(running) = rescores.iter().find(|r| r.state == RescoreState::Running) {
        if running.evaluation_image_id != image_id {
            return Err(ApiError::conflict(
                "rescore_running",
                format!(
                    "phase '{phase}' is being rescored with '{}' (generation {}); wait until it is done (darkroom \
                     challenge rescore {slug} --phase {phase} --wait, or GET this path) before asking for another",
                    running.evaluation_image, running.generation
                ),
            ));
        }
        // The same request again: enqueue what may not have been (see the module's documentation).
        enqueue_items(&state, running).await?;
        return Ok((StatusCode::ACCEPTED, Json(progress_of(&state, running).await?)));
    }
    let from_generation = state.scores.board_head(&slug, &phase).await.map_err(unavailable)?;
    let generation = rescores.iter().map(|r| r.generation).max().unwrap_or(1).max(from_generation) + 1;
    let from = crate::rescore::at(&state.scores, &slug, &phase, Some(from_generation)).await?.store;
    let runs = from.kept_runs(&slug, &phase).await.map_err(unavailable)?;
    if runs.is_empty() {
        return Err(ApiError::conflict(
            "nothing_to_rescore",
            format!("phase '{phase}' of '{slug}' has no scored submission yet; rescore it once some are scored"),
        ));
    }
    let rescore = Rescore {
        id: Rescore::id_for(&slug, &phase, generation),
        challenge: slug.clone(),
        phase: phase.clone(),
        generation,
        from_generation,
        evaluation_image: image.clone(),
        evaluation_image_id: image_id,
        state: RescoreState::Running,
        done: Vec::new(),
        failed_ids: Vec::new(),
        failed_reasons: Vec::new(),
        requested_ms: chrono::Utc::now().timestamp_millis(),
        switched_ms: None,
    };
    if state.scores.start_rescore(&rescore).await.map_err(unavailable)? == Started::Exists {
        return Err(ApiError::conflict(
            "rescore_running",
            format!(
                "another rescore of phase '{phase}' was requested at the same moment; list them with GET on this path"
            ),
        ));
    }
    tracing::info!(challenge = %slug, %phase, generation, image = %image, "rescore requested");
    enqueue_items(&state, &rescore).await?;
    // A phase whose every score predates kept runs is already as done as it can be.
    let rescore = state.scores.try_switch(&slug, &phase, generation).await.map_err(unavailable)?.unwrap_or(rescore);
    Ok((StatusCode::ACCEPTED, Json(progress_of(&state, &rescore).await?)))
}

/// One outbox row per submission of the generation the rescore starts from that is not done
/// yet, in one transaction; a score whose run was not kept (recorded before rescores existed)
/// cannot be evaluated again and is listed as failed with that reason.
async fn enqueue_items(state: &AppState, rescore: &Rescore) -> ApiResult<()> {
    let (slug, phase) = (&rescore.challenge, &rescore.phase);
    let from = crate::rescore::at(&state.scores, slug, phase, Some(rescore.from_generation)).await?.store;
    let runs = from.kept_runs(slug, phase).await.map_err(unavailable)?;
    let mut items = Vec::with_capacity(runs.len());
    for (submission, run) in runs {
        if rescore.done.contains(&submission) || rescore.failed_ids.contains(&submission) {
            continue;
        }
        let run = run.and_then(|json| serde_json::from_str::<RunFinished>(&json).ok());
        let Some(run) = run else {
            let reason = "scored before rescores existed: the run it was evaluated from was not kept, so its output \
                          cannot be found again; re-run the submission to score it with the new image";
            state
                .scores
                .rescore_failed(slug, phase, rescore.generation, &submission, reason)
                .await
                .map_err(unavailable)?;
            continue;
        };
        items.push(RescoreItem {
            event_id: RescoreItem::event_id_for(slug, phase, rescore.generation, run.submission_id),
            submission_id: run.submission_id,
            challenge: slug.clone(),
            phase: phase.clone(),
            generation: rescore.generation,
            evaluation_image: rescore.evaluation_image.clone(),
            evaluation_image_id: rescore.evaluation_image_id.clone(),
            run: Box::new(run),
        });
    }
    let txn = state.db.begin().await?;
    for item in &items {
        crate::outbox::enqueue(&txn, item).await?;
    }
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(())
}
