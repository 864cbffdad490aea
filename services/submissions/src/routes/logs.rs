//! A submission's run logs: for its participant where the challenge shows logs, and always for
//! the organizer.

use axum::Json;
use axum::extract::{Path, State};
use darkroom_api::{LogsQuery, RunLogView};

use super::challenges::load;
use super::openapi::{self as doc, SubmissionPath};
use super::submissions::visible;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Viewer};
use crate::run_log;
use crate::state::AppState;

/// Most lines one answer carries: the last ones.
const MAX_LINES: usize = 5000;

#[utoipa::path(
    get,
    path = "/submissions/{id}/logs",
    operation_id = "submission_logs",
    summary = "A run's log lines; `?after=` a cursor for the lines since",
    params(SubmissionPath, LogsQuery),
    responses(
        (status = 200, description = "The lines, with the cursor to ask again from", body = RunLogView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["participant"]), ("bearer" = ["organizer"])),
)]
pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> ApiResult<Json<RunLogView>> {
    let row = visible(&state, &viewer, &id).await?;
    let spec = load(&state, &row.challenge).await?;
    if matches!(viewer, Viewer::Participant(_)) && !spec.logs_visible {
        return Err(ApiError::denied(
            "logs_hidden",
            format!(
                "the organizer of '{}' keeps run logs private; the submission's state and failure reason are in \
                 darkroom status {id} (GET /api/v1/submissions/{id})",
                spec.slug
            ),
        ));
    }
    let submission_id = row.submission_id()?;
    let tail = match q.after {
        Some(after) => run_log::since(&state.db, submission_id, after, MAX_LINES).await?,
        None => run_log::tail(&state.db, submission_id, MAX_LINES).await?,
    };
    Ok(Json(RunLogView {
        submission_id,
        logs_visible: spec.logs_visible,
        lines: tail.lines,
        truncated: tail.truncated,
        cursor: tail.cursor,
    }))
}
