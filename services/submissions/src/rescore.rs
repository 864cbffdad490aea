//! Evaluator generations of a phase's board as this service reads them (issue 17, "Re-score";
//! see `docs/rescore.md` and `darkroom_core::scores` for the store's side).
//!
//! Every reader of a board (the board API, its export, the feedback modes, the close of a
//! phase) reads the phase's head generation ONCE, then only that generation's store, so a
//! reader never mixes rows of two evaluators; `?evaluator=N` reads generation N instead.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::DateTime;
use darkroom_api::{BoardGeneration, RescoreProgress};
use darkroom_core::scores::Rescore;

use crate::error::{ApiError, ApiResult};
use crate::leaderboard::ScoreStore;

/// A phase's board store at one generation.
pub struct AtGeneration {
    pub generation: u32,
    pub store: Arc<dyn ScoreStore>,
}

fn unavailable(e: anyhow::Error) -> ApiError {
    tracing::error!(error = %e, "score store unavailable");
    ApiError::Unavailable("scores cannot be read right now; try again in a moment".into())
}

/// The store of the phase's current generation, or of `requested` (`?evaluator=N`).
pub async fn at(
    scores: &Arc<dyn ScoreStore>,
    challenge: &str,
    phase: &str,
    requested: Option<u32>,
) -> ApiResult<AtGeneration> {
    let generation = match requested {
        Some(n) => n,
        None => scores.board_head(challenge, phase).await.map_err(unavailable)?,
    };
    if generation == 1 {
        return Ok(AtGeneration { generation, store: scores.clone() });
    }
    let known = requested.is_none()
        || scores.rescores(challenge, phase).await.map_err(unavailable)?.iter().any(|r| r.generation == generation);
    match scores.at_generation(generation) {
        Some(store) if known => Ok(AtGeneration { generation, store }),
        _ => Err(ApiError::NotFound(format!(
            "phase '{phase}' of '{challenge}' has no evaluator generation {generation}; the board lists its \
             generations under 'generations' (1 is the board as scored originally)"
        ))),
    }
}

/// The store of the phase's current generation, for readers that cannot fail with an API
/// error (the close of a phase).
pub async fn current(
    scores: &Arc<dyn ScoreStore>,
    challenge: &str,
    phase: &str,
) -> anyhow::Result<Arc<dyn ScoreStore>> {
    let head = scores.board_head(challenge, phase).await?;
    Ok(if head == 1 { scores.clone() } else { scores.at_generation(head).unwrap_or_else(|| scores.clone()) })
}

/// A rescore's progress: `total` is what the generation it started from holds now (scores
/// that arrive while it runs are rescored too).
pub fn progress(rescore: &Rescore, from_scored: &HashSet<String>) -> RescoreProgress {
    let done: HashSet<&String> = rescore.done.iter().collect();
    let total = from_scored.iter().chain(rescore.done.iter()).chain(rescore.failed_ids.iter()).collect::<HashSet<_>>();
    RescoreProgress {
        challenge: rescore.challenge.clone(),
        phase: rescore.phase.clone(),
        generation: rescore.generation,
        from_generation: rescore.from_generation,
        evaluation_image: rescore.evaluation_image.clone(),
        evaluation_image_id: rescore.evaluation_image_id.clone(),
        state: rescore.state,
        total: total.len() as u64,
        scored: done.len() as u64,
        failed: rescore.failures(),
        requested_at: DateTime::from_timestamp_millis(rescore.requested_ms).unwrap_or_default(),
        switched_at: rescore.switched_ms.and_then(DateTime::from_timestamp_millis),
    }
}

/// The phase's board generations, for the board's answer: empty while there is only the
/// original one.
pub fn generations(rescores: &[Rescore], head: u32, scored: &[(u32, u64)]) -> Vec<BoardGeneration> {
    if rescores.is_empty() {
        return Vec::new();
    }
    let count = |g: u32| scored.iter().find(|(n, _)| *n == g).map_or(0, |(_, c)| *c);
    let label = |g: u32, fallback: &str| if g == head { "current".to_owned() } else { fallback.to_owned() };
    let mut out = vec![BoardGeneration {
        generation: 1,
        evaluation_image: None,
        evaluation_image_id: None,
        state: label(1, "previous"),
        scored: count(1),
        failed: 0,
    }];
    out.extend(rescores.iter().map(|r| BoardGeneration {
        generation: r.generation,
        evaluation_image: Some(r.evaluation_image.clone()),
        evaluation_image_id: Some(r.evaluation_image_id.clone()),
        state: label(r.generation, if r.generation < head { "previous" } else { r.state.as_str() }),
        scored: count(r.generation),
        failed: r.failed_ids.len() as u64,
    }));
    out
}

#[cfg(test)]
mod tests {
    use darkroom_api::RescoreState;

    use super::*;

    fn rescore(generation: u32, state: RescoreState, done: &[&str], failed: &[&str]) -> Rescore {
        Rescore {
            id: Rescore::id_for("c", "dev", generation),
            challenge: "c".into(),
            phase: "dev".into(),
            generation,
            from_generation: generation - 1,
            evaluation_image: format!("eval:{generation}"),
            evaluation_image_id: format!("sha256:{generation}"),
            state,
            done: done.iter().map(|s| (*s).to_owned()).collect(),
            failed_ids: failed.iter().map(|s| (*s).to_owned()).collect(),
            failed_reasons: failed.iter().map(|_| "r".to_owned()).collect(),
            requested_ms: 0,
            switched_ms: None,
        }
    }

    #[test]
    fn progress_counts_what_the_old_generation_holds_now() {
        let old: HashSet<String> = ["a", "b", "c", "d"].iter().map(|s| (*s).to_owned()).collect();
        let p = progress(&rescore(2, RescoreState::Running, &["a", "b"], &[]), &old);
        assert_eq!((p.total, p.scored, p.failed.len()), (4, 2, 0));
        assert_eq!(p.state, RescoreState::Running);
    }

    #[test]
    fn generations_name_the_current_one() {
        assert!(generations(&[], 1, &[]).is_empty());
        let all = generations(&[rescore(2, RescoreState::Switched, &[], &[])], 2, &[(1, 20), (2, 20)]);
        let states: Vec<(u32, &str, u64)> = all.iter().map(|g| (g.generation, g.state.as_str(), g.scored)).collect();
        assert_eq!(states, vec![(1, "previous", 20), (2, "current", 20)]);
        let running = generations(&[rescore(2, RescoreState::Running, &[], &[])], 1, &[(1, 20), (2, 3)]);
        assert_eq!(running[0].state, "current");
        assert_eq!(running[1].state, "running");
    }
}
