//! What only the organizer does with submissions: list a challenge's, and re-run a finished one.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use darkroom_api::{FeedbackScore, OrganizerListQuery, OrganizerSubmissionView, SubmissionState, SubmissionView};
use darkroom_core::domain::ImageSource;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::challenges::load;
use super::openapi::{self as doc, SlugPath, SubmissionPath};
use super::submissions::{list_filter, visible};
use super::views::{organizer_view, submission_view};
use crate::db::entities::submission::PublicScore;
use crate::db::entities::{participant, submission};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, ApiQuery, Viewer};
use crate::lifecycle;
use crate::state::AppState;

/// Every participant's submissions to a challenge, newest first, with whose each is and the
/// failure detail.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/submissions",
    operation_id = "challenge_submissions",
    summary = "Every submission of a challenge, with its participant and failure detail",
    params(SlugPath, OrganizerListQuery),
    responses(
        (status = 200, description = "Newest first", body = Vec<OrganizerSubmissionView>),
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
    ApiQuery(q): ApiQuery<OrganizerListQuery>,
) -> ApiResult<Json<Vec<OrganizerSubmissionView>>> {
    let (limit, wanted) = list_filter(q.limit, 200, q.state.as_deref())?;
    load(&state, &slug).await?;
    let mut find = submission::Entity::find().filter(submission::Column::Challenge.eq(&slug));
    if let Some(s) = wanted {
        find = find.filter(submission::Column::State.eq(s.as_str()));
    }
    let rows = find
        .order_by_desc(submission::Column::CreatedAt)
        .order_by_desc(submission::Column::Id)
        .limit(limit)
        .all(&state.db)
        .await?;
    let owners = participants_by_id(&state, rows.iter().map(|r| r.participant_id.as_str())).await?;
    let kept = kept_scores(&rows);
    let mut views: Vec<OrganizerSubmissionView> = rows
        .into_iter()
        .map(|r| {
            let owner = owners.get(&r.participant_id);
            organizer_view(r, None, owner)
        })
        .collect::<Result<_, _>>()?;
    attach_exact_scores(&state, &slug, &mut views, kept).await;
    Ok(Json(views))
}

/// The exact public scores the rows kept when they were scored, by submission id.
fn kept_scores(rows: &[submission::Model]) -> HashMap<String, PublicScore> {
    let mut kept = HashMap::new();
    for row in rows {
        match row.kept_public_score() {
            None => {}
            Some(Ok(metrics)) => {
                kept.insert(row.id.clone(), metrics);
            }
            Some(Err(e)) => {
                tracing::warn!(submission = %row.id, error = %e, "kept score unreadable; reading it from the scores")
            }
        }
    }
    kept
}

/// The organizer sees every COMPLETE submission's exact public score, whatever the phase
/// shows participants: the one its row kept (`kept`), so a list reads no score document. Rows
/// scored before rows kept them are read from the score store, one read per phase they are
/// in. Scores that cannot be read are left out (logged), as on the participants' lists.
async fn attach_exact_scores(
    state: &AppState,
    slug: &str,
    views: &mut [OrganizerSubmissionView],
    mut scores: HashMap<String, PublicScore>,
) {
    let mut phases: Vec<String> = views
        .iter()
        .filter(|v| {
            v.submission.state == SubmissionState::Complete && !scores.contains_key(&v.submission.id.to_string())
        })
        .map(|v| v.submission.phase.clone())
        .collect();
    phases.sort();
    phases.dedup();
    for phase in phases {
        match state.scores.phase_scores(slug, &phase, None).await {
            Ok(docs) => {
                for d in docs {
                    scores.entry(d.submission_id).or_insert(d.metrics);
                }
            }
            Err(e) => tracing::warn!(challenge = %slug, %phase, error = %e, "scores unreadable; listed without"),
        }
    }
    for v in views.iter_mut() {
        if let Some(metrics) = scores.remove(&v.submission.id.to_string()) {
            v.submission.score = Some(FeedbackScore { metrics, note: None, decimals: None });
        }
    }
}

/// The participants with these ids, by id (one query, whatever the number of rows naming them).
pub(super) async fn participants_by_id<'a>(
    state: &AppState,
    ids: impl Iterator<Item = &'a str>,
) -> ApiResult<HashMap<String, participant::Model>> {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(participant::Entity::find()
        .filter(participant::Column::Id.is_in(ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect())
}

/// Queues a finished submission again as a new submission (see [`lifecycle::rerun`]).
#[utoipa::path(
    post,
    path = "/submissions/{id}/rerun",
    operation_id = "rerun_submission",
    summary = "Queue a finished submission again, as a new one not counted against quota",
    params(SubmissionPath),
    responses(
        (status = 202, description = "The new submission, queued", body = SubmissionView),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 410, response = doc::Gone),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn rerun(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<SubmissionView>)> {
    let original = visible(&state, &Viewer::Organizer, &id).await?;
    let current = original.current_state()?;
    if !current.is_terminal() {
        return Err(ApiError::conflict(
            "not_rerunnable",
            format!(
                "submission '{id}' is {current}; only finished submissions (COMPLETE, FAILED or CANCELLED) can be \
                 re-run: wait for it to finish, or cancel it first"
            ),
        ));
    }
    let spec = load(&state, &original.challenge).await?;
    let image = image_of(&original)?;
    // Under the submit lock, so the upload sweep cannot delete the archive between this check
    // and the insert that makes it referenced by an active submission again.
    let row = {
        let _guard = state.submit_lock.turn().await?;
        ensure_kept(&state, &image, "re-run; ask the participant to submit it again").await?;
        lifecycle::rerun(&state.db, &spec, &original, image).await?
    };
    state.outbox_wakeup.notify_one();
    tracing::info!(submission = %row.id, rerun_of = %original.id, challenge = %row.challenge, "submission re-run");
    Ok((StatusCode::ACCEPTED, Json(submission_view(row, None)?)))
}

/// The image a stored submission ran.
pub(super) fn image_of(row: &submission::Model) -> ApiResult<ImageSource> {
    serde_json::from_str(&row.image).map_err(|e| ApiError::Internal(anyhow::Error::new(e)))
}

/// Refuses, as 410 Gone, to run an upload the sweep already removed; `what_then` ends the
/// message ("re-run; ask …"). Call it under the submit lock, with the insert that follows, so
/// the sweep cannot remove the archive in between.
pub(super) async fn ensure_kept(state: &AppState, image: &ImageSource, what_then: &str) -> ApiResult<()> {
    match image {
        ImageSource::Tarball { path, .. } if !tokio::fs::try_exists(path).await.unwrap_or(false) => {
            Err(ApiError::Gone {
                code: "image_gone",
                message: format!(
                    "the uploaded archive was removed: archives are kept {} hour(s) after the last submission using \
                     them finished (submissions.upload_retention_hours), so it cannot be {what_then}",
                    state.config.upload_retention_hours
                ),
            })
        }
        _ => Ok(()),
    }
}
