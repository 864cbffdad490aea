//! The public leaderboard of a challenge's phase.

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use darkroom_core::domain::Direction;
use serde::{Deserialize, Serialize};

use super::challenges::load;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::leaderboard::LeaderboardEntry;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderboardQuery {
    phase: Option<String>,
}

#[derive(Serialize)]
pub struct Leaderboard {
    challenge: String,
    phase: String,
    rank_by: String,
    direction: Direction,
    entries: Vec<LeaderboardEntry>,
}

pub async fn show(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<LeaderboardQuery>,
) -> ApiResult<Json<Leaderboard>> {
    let spec = load(&state, &slug).await?;
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
    let entries = state.scores.leaderboard(&slug, &phase.name, &spec.rank_by, direction).await?;
    Ok(Json(Leaderboard {
        challenge: slug,
        phase: phase.name.clone(),
        rank_by: spec.rank_by.clone(),
        direction,
        entries,
    }))
}
