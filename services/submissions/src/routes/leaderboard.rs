//! The public leaderboard of a challenge's phase, in its feedback mode (see [`crate::feedback`]).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::collections::HashMap;

use chrono::Utc;
use darkroom_api::{Direction, Leaderboard, LeaderboardEntry, LeaderboardQuery};

use super::challenges::load;
use super::openapi::{self as doc, SlugPath};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::feedback::{self, Mode};
use crate::intervals;
use crate::leaderboard::Stamp;
use crate::state::AppState;

/// Most lines a leaderboard shows.
const LIMIT: usize = 1000;

#[utoipa::path(
    get,
    path = "/challenges/{slug}/leaderboard",
    operation_id = "leaderboard",
    summary = "A phase's ranked best scores, in its feedback mode",
    params(SlugPath, LeaderboardQuery),
    responses(
        (status = 200, description = "The board, with the receipt chain's head", body = Leaderboard),
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
    Ok(json_body(render(&state, slug, q).await?))
}

/// The board's JSON (a [`Leaderboard`]), from the cache while the phase's version holds.
pub(super) async fn render(state: &AppState, slug: String, q: LeaderboardQuery) -> ApiResult<Bytes> {
    let spec = load(state, &slug).await?;
    let phase = match q.phase {
        Some(name) => spec.phase(&name).ok_or_else(|| {
            let names: Vec<&str> = spec.phases.iter().map(|p| p.name.as_str()).collect();
            ApiError::NotFound(format!(
                "challenge '{slug}' has no phase '{name}'; its phases are: {}",
                names.join(", ")
            ))
        })?,
        None => spec
            .current_or_last_phase(Utc::now())
            .ok_or_else(|| ApiError::NotFound(format!("challenge '{slug}' has no phases")))?,
    };
    let direction = spec.metric(&spec.rank_by).map(|m| m.direction).unwrap_or(Direction::HigherIsBetter);
    let unavailable = |e: anyhow::Error| {
        tracing::error!(error = %e, "score store unavailable");
        ApiError::Unavailable("scores cannot be read right now; try again in a moment".into())
    };
    // The generation once (the phase's head, or `?evaluator=N`), then only its store: a reader
    // never mixes rows of two evaluators (see crate::rescore).
    let crate::rescore::AtGeneration { generation, store } =
        crate::rescore::at(&state.scores, &slug, &phase.name, q.evaluator).await?;
    let rescores = state.scores.rescores(&slug, &phase.name).await.map_err(unavailable)?;
    let rescores_shape: String = rescores
        .iter()
        .map(|r| format!("{}:{:?}:{}:{};", r.generation, r.state, r.done.len(), r.failed_ids.len()))
        .collect();
    // Who is in which team changes the board as a new score does.
    let teams = if spec.max_team_size > 1 { Some(crate::teams::Lineup::read(&state.db, &slug).await?) } else { None };
    // So does a disqualification (see crate::disqualification).
    let excluded = crate::disqualification::Excluded::read(&state.db, &slug).await?;
    // The version first: a score recorded after it only makes the next request render again.
    let mut stamp = Stamp {
        version: store.board_version(&slug, &phase.name).await.map_err(unavailable)?,
        shape: format!(
            "g{generation}/{rescores_shape}/{}/{direction:?}/{:?}/{}/{}",
            spec.rank_by,
            Mode::of(phase),
            teams.as_ref().map_or(0, crate::teams::Lineup::fingerprint),
            excluded.fingerprint()
        ),
    };
    if let Some(body) = state.boards.get(&slug, &phase.name, &stamp) {
        return Ok(body);
    }
    // Replays one at a time, kept until this board is cached; a board rendered meanwhile is taken.
    let replaying = match Mode::of(phase) {
        Mode::Raw => None,
        Mode::Rounded(_) | Mode::Ladder => Some(state.boards.replaying.lock().await),
    };
    if replaying.is_some()
        && let Some(body) = state.boards.get(&slug, &phase.name, &stamp)
    {
        return Ok(body);
    }
    let mut best = match Mode::of(phase) {
        // Raw: the store's board of best scores, brought up to date from the kept one where
        // the change log allows. Everything below (intervals, teams, names) is computed from
        // these rows as before, so only where the rows come from differs.
        Mode::Raw => {
            // As many more lines as there are excluded participants, so the limit still fills.
            let lines = LIMIT + excluded.len();
            let (best, version) =
                state.boards.raw_board(store.as_ref(), &slug, &phase.name, &stamp, lines).await.map_err(unavailable)?;
            stamp.version = version;
            best
        }
        // Rounded and ladder: ranked by the feedback score, never by a value participants cannot see.
        mode => {
            let (scores, shown) = {
                let entrant = |p: &str| teams.as_ref().map_or_else(|| p.to_owned(), |l| l.entrant(p));
                feedback::read(store.as_ref(), mode, &slug, &phase.name, &spec.rank_by, direction, None, &entrant)
                    .await
                    .map_err(unavailable)?
            };
            feedback::board(mode, direction, &spec.rank_by, &scores, &shown)
        }
    };
    // Before the teams fold: a team with a disqualified member has no line at all, whoever's
    // score its best is.
    excluded.retain(&mut best);
    best.truncate(LIMIT);
    // Raw boards of a mean metric: each row's bootstrap interval where the cases allow it.
    let rank_metric_is_mean = spec.metric(&spec.rank_by).is_some_and(darkroom_api::Metric::is_mean);
    let intervals = if Mode::of(phase) == Mode::Raw && rank_metric_is_mean {
        // The cases through the service's memo: a new score adds one submission, not a thousand.
        let ids: Vec<String> = best.iter().map(|b| b.submission_id.clone()).collect();
        match state.boards.public_cases(store.as_ref(), generation, &ids).await {
            Ok(found) => intervals::of_cases(&best, found, direction).await,
            Err(e) => {
                tracing::warn!(error = %e, "per-case values unreadable; board shown without intervals");
                vec![None; best.len()]
            }
        }
    } else {
        vec![None; best.len()]
    };
    // With teams, each team's line is its best member's, counting all members' submissions.
    let (best, intervals, team_names) = match &teams {
        Some(lineup) => lineup.fold(best, intervals),
        None => (best, intervals, HashMap::new()),
    };
    let mut intervals = intervals.into_iter();
    let ids: Vec<&str> = best.iter().map(|b| b.participant_id.as_str()).collect();
    let names = state.boards.participant_names(&state.db, &ids).await?;
    let entries = best
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            let (participant, label) =
                names.get(&b.participant_id).cloned().unwrap_or_else(|| ("(unknown)".into(), None));
            let team = team_names.get(&b.participant_id).cloned().or(label);
            // Written by the evaluator from a typed id; text that does not read is a corrupt
            // score store, and a board with a line missing would rank the others wrongly.
            let submission_id = b.submission_id.parse().map_err(|e| {
                ApiError::Internal(anyhow::anyhow!("score store of '{slug}': a best score's submission_id: {e}"))
            })?;
            Ok(LeaderboardEntry {
                rank: i as u32 + 1,
                participant,
                team,
                submission_id,
                metrics: b.metrics,
                submissions: b.submissions,
                // Where logs are hidden, run times finer than a second are a side channel.
                submitted_at: if spec.logs_visible {
                    b.submitted_at
                } else {
                    super::views::whole_second(b.submitted_at)
                },
                scored_at: if spec.logs_visible { b.scored_at } else { super::views::whole_second(b.scored_at) },
                interval: intervals.next().flatten(),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    // Read after the rows: every row's receipt was appended before its row was written, so the
    // chain up to this head backs them all.
    let chain = state.scores.chain_head(&slug).await.map_err(unavailable)?;
    // The generations, when a rescore made more than one (the old ones stay readable).
    let mut scored = Vec::new();
    let head = match q.evaluator {
        Some(_) if !rescores.is_empty() => state.scores.board_head(&slug, &phase.name).await.map_err(unavailable)?,
        _ => generation,
    };
    for g in rescores.iter().map(|r| r.generation).chain((!rescores.is_empty()).then_some(1)) {
        let at = crate::rescore::at(&state.scores, &slug, &phase.name, Some(g)).await?;
        scored.push((g, at.store.scored_ids(&slug, &phase.name).await.map_err(unavailable)?.len() as u64));
    }
    let board = Leaderboard {
        evaluator: (generation > 1 || !rescores.is_empty()).then_some(generation),
        generations: crate::rescore::generations(&rescores, head, &scored),
        chain,
        challenge: slug,
        phase: phase.name.clone(),
        rank_by: spec.rank_by.clone(),
        direction,
        entries,
        decimals: Mode::of(phase).decimals(),
    };
    let body = Bytes::from(serde_json::to_vec(&board).map_err(|e| ApiError::Internal(e.into()))?);
    state.boards.put(&board.challenge, &board.phase, stamp, body.clone());
    Ok(body)
}

fn json_body(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
