//! `GET /challenges/{slug}/leaderboard/history[?phase=]`: the best score over time of the
//! board's first lines (see `darkroom_api::BoardHistory`), for the leaderboard page's chart.
//!
//! Read beside the board, never instead of it: the lines are the board's own (rendered, and
//! cached, by [`super::leaderboard::render`]), and the values are replayed through the phase's
//! feedback ([`crate::feedback::read`]), so the chart shows what the board shows. The answer is
//! cached as the board is, until the phase's score version or the board itself moves.

use std::hash::{DefaultHasher, Hash, Hasher};

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use darkroom_api::{BoardHistory, HISTORY_TOP, HistoryPoint, HistorySeries, Leaderboard, LeaderboardQuery};

use super::challenges::load;
use super::openapi::{self as doc, SlugPath};
use crate::board_history::new_bests;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::feedback::{self, Mode};
use crate::leaderboard::Stamp;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/challenges/{slug}/leaderboard/history",
    operation_id = "leaderboard_history",
    summary = "The best score over time of the board's top lines",
    params(SlugPath, LeaderboardQuery),
    responses(
        (status = 200, description = "A series per top line, oldest point first", body = BoardHistory),
        (status = 400, response = doc::BadRequest),
        (status = 404, response = doc::NotFound),
        (status = 503, response = doc::Unavailable),
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<LeaderboardQuery>,
) -> ApiResult<Response> {
    let body = super::leaderboard::render(&state, slug.clone(), q).await?;
    let board: Leaderboard = serde_json::from_slice(&body).map_err(|e| ApiError::Internal(e.into()))?;
    let unavailable = |e: anyhow::Error| {
        tracing::error!(error = %e, "score store unavailable");
        ApiError::Unavailable("scores cannot be read right now; try again in a moment".into())
    };
    // Cached beside the board under a key no phase name can take (names have no '#').
    let key = format!("{}#history", board.phase);
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    let stamp = Stamp {
        version: state.scores.board_version(&slug, &board.phase).await.map_err(unavailable)?,
        shape: format!("history/{:x}", hasher.finish()),
    };
    if let Some(cached) = state.boards.get(&slug, &key, &stamp) {
        return Ok(json_body(cached));
    }
    let spec = load(&state, &slug).await?;
    let phase = spec.phase(&board.phase).ok_or_else(|| {
        ApiError::NotFound(format!("challenge '{slug}' has no phase '{}'; reload the board and ask again", board.phase))
    })?;
    let teams = if spec.max_team_size > 1 { Some(crate::teams::Lineup::read(&state.db, &slug).await?) } else { None };
    let entrant = |p: &str| teams.as_ref().map_or_else(|| p.to_owned(), |l| l.entrant(p));
    let (scores, shown) = feedback::read(
        state.scores.as_ref(),
        Mode::of(phase),
        &slug,
        &board.phase,
        &board.rank_by,
        board.direction,
        None,
        &entrant,
    )
    .await
    .map_err(unavailable)?;
    let mut lines = new_bests(&scores, &shown, &board.rank_by, board.direction, &entrant);
    let series = board
        .entries
        .iter()
        .take(HISTORY_TOP)
        .map(|e| {
            let id = e.submission_id.to_string();
            let who = scores.iter().find(|s| s.submission_id == id).map(|s| entrant(&s.participant_id));
            let points = who
                .and_then(|w| lines.remove(&w))
                .unwrap_or_default()
                .into_iter()
                .map(|b| {
                    let submission_id = b.submission_id.parse().map_err(|e| {
                        ApiError::Internal(anyhow::anyhow!("score store of '{slug}': a score's submission_id: {e}"))
                    })?;
                    // Where logs are hidden, times finer than a second are a side channel.
                    let at = if spec.logs_visible { b.at } else { super::views::whole_second(b.at) };
                    Ok(HistoryPoint { at, value: b.value, submission_id })
                })
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(HistorySeries { rank: e.rank, participant: e.participant.clone(), team: e.team.clone(), points })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let history = BoardHistory {
        challenge: board.challenge,
        phase: board.phase,
        rank_by: board.rank_by,
        direction: board.direction,
        decimals: board.decimals,
        series,
    };
    let body = Bytes::from(serde_json::to_vec(&history).map_err(|e| ApiError::Internal(e.into()))?);
    state.boards.put(&slug, &key, stamp, body.clone());
    Ok(json_body(body))
}

fn json_body(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
