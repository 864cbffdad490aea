//! Re-scoring a phase with a new evaluation image (issue 17, see `docs/rescore.md`).
//!
//! - [`handle_item`] scores one [`RescoreItem`]: the submission's kept output evaluated again by
//!   the same [`evaluate`](crate::evaluate) with the rescore's image, recorded into the
//!   rescore's generation with a new receipt, marked done, and the board switched when the
//!   generation is complete. Idempotent: a generation's scores have a unique index on the
//!   submission, and a submission already scored there is only finished (receipt, board line,
//!   done), never evaluated again, so a SIGKILL at any point neither skips nor doubles one.
//! - [`head_target`] says where a new run of a phase is scored: into the generation its board
//!   shows, by that generation's image.
//! - [`propagate`] publishes an item for a score recorded in a generation a rescore started
//!   from, so a score that arrives while (or after) a phase is rescored is rescored too.

use std::borrow::Cow;

use darkroom_core::bus::publish;
use darkroom_core::events::{RescoreItem, RunFinished};
use darkroom_core::scores::ScoreStore;

use crate::evaluate::{Context, EvaluationError, evaluate};

/// A platform failure (retrying) of a rescore's evaluation is tried this many times before it
/// is listed as failed; an evaluation error is listed at once.
pub const PLATFORM_TRIES: i64 = 3;

/// What became of an item.
#[derive(Debug, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Recorded (now or before) in the item's generation.
    Scored,
    /// Listed as failed with its reason.
    Failed,
    /// Not durable: redeliver.
    Retry(String),
}

/// The generation a new run of its phase is recorded into (the board's head), the store of
/// that generation, and the run as that generation evaluates it (its image swapped in).
pub async fn head_target<'a>(
    ctx: &Context,
    run: &'a RunFinished,
) -> Result<(u32, ScoreStore, Cow<'a, RunFinished>), async_nats::Error> {
    let head = ctx.scores.board_head(&run.job.challenge, &run.job.phase).await?;
    if head == 1 {
        return Ok((1, ctx.scores.clone(), Cow::Borrowed(run)));
    }
    let Some(rescore) = ctx.scores.rescore(&run.job.challenge, &run.job.phase, head).await? else {
        return Err(format!("board head {head} of {}/{} has no rescore", run.job.challenge, run.job.phase).into());
    };
    let mut swapped = run.clone();
    swapped.job.evaluation_image = rescore.evaluation_image;
    swapped.job.evaluation_image_id = Some(rescore.evaluation_image_id);
    let store = ctx.scores.generation(head);
    store.ensure_indexes().await?;
    Ok((head, store, Cow::Owned(swapped)))
}

/// Publishes a rescore item for `run`'s submission, just recorded in `generation`, for every
/// rescore of its phase that started from that generation (the item is dropped by JetStream's
/// duplicate window, and recorded once in any case, if it was published already).
pub async fn propagate(ctx: &Context, run: &RunFinished, generation: u32) -> Result<(), async_nats::Error> {
    let rescores = ctx.scores.rescores(&run.job.challenge, &run.job.phase).await?;
    for rescore in rescores.into_iter().filter(|r| r.from_generation == generation) {
        // The run as originally requested: the item swaps in its own image.
        let item = RescoreItem {
            event_id: RescoreItem::event_id_for(
                &rescore.challenge,
                &rescore.phase,
                rescore.generation,
                run.submission_id,
            ),
            submission_id: run.submission_id,
            challenge: rescore.challenge,
            phase: rescore.phase,
            generation: rescore.generation,
            evaluation_image: rescore.evaluation_image,
            evaluation_image_id: rescore.evaluation_image_id,
            run: Box::new(run.clone()),
        };
        tracing::info!(submission = %run.submission_id, generation = item.generation, "scored during a rescore; rescoring it too");
        publish(&ctx.js, &item).await?;
    }
    Ok(())
}

/// Scores one rescore item; see the module's documentation. `delivered` counts deliveries.
pub async fn handle_item(ctx: &Context, item: &RescoreItem, delivered: i64) -> ItemOutcome {
    match try_item(ctx, item, delivered).await {
        Ok(outcome) => outcome,
        Err(e) => ItemOutcome::Retry(e.to_string()),
    }
}

async fn try_item(ctx: &Context, item: &RescoreItem, delivered: i64) -> Result<ItemOutcome, async_nats::Error> {
    let (challenge, phase, generation) = (&item.challenge, &item.phase, item.generation);
    let id = item.submission_id.to_string();
    let Some(rescore) = ctx.scores.rescore(challenge, phase, generation).await? else {
        // Published by a request whose record is not there (it cannot be: the record is
        // written first); nothing to record into.
        tracing::error!(submission = %id, generation, "a rescore item of no known rescore; dropped");
        return Ok(ItemOutcome::Failed);
    };
    if rescore.evaluation_image_id != item.evaluation_image_id {
        tracing::error!(submission = %id, generation, "a rescore item naming another image than its rescore; dropped");
        return Ok(ItemOutcome::Failed);
    }
    let store = ctx.scores.generation(generation);
    store.ensure_indexes().await?;
    let run = item.run_with_new_image();
    let outcome = if let Some(doc) = store.get(&id).await? {
        // Scored in this generation before a crash: finish its receipt and board line only.
        tracing::info!(submission = %id, generation, "already rescored; finishing its record");
        store.record(&doc).await?;
        store.keep_run(&id, &serde_json::to_string(&*item.run)?).await?;
        ItemOutcome::Scored
    } else {
        match evaluate(ctx, &run).await {
            Ok(mut scored) => {
                scored.receipt.claims.generation = Some(generation);
                let run_json = serde_json::to_string(&*item.run)?;
                let recorded = store.record_evaluation(&scored.doc, scored.sealed(&run_json)).await?;
                tracing::info!(submission = %id, generation, metrics = ?scored.doc.metrics, ?recorded, "rescored");
                ItemOutcome::Scored
            }
            Err(EvaluationError::Failed(failure)) if failure.retrying && delivered < PLATFORM_TRIES => {
                return Ok(ItemOutcome::Retry(failure.reason.clone()));
            }
            Err(EvaluationError::Failed(failure)) => {
                let reason = match &failure.detail {
                    Some(detail) => format!("{}: {detail}", failure.reason),
                    None => failure.reason.clone(),
                };
                tracing::warn!(submission = %id, generation, %reason, "rescore of a submission failed");
                ctx.scores.rescore_failed(challenge, phase, generation, &id, &reason).await?;
                ItemOutcome::Failed
            }
            Err(EvaluationError::Transient(e)) => return Err(e),
        }
    };
    if outcome == ItemOutcome::Scored {
        ctx.scores.rescore_done(challenge, phase, generation, &id).await?;
        // A later rescore from this generation must see this score too.
        propagate(ctx, &item.run, generation).await?;
    }
    ctx.scores.try_switch(challenge, phase, generation).await?;
    Ok(outcome)
}
