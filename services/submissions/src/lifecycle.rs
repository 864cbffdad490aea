//! A submission's life as this service records it: acceptance (row + history + outbox event +
//! webhook deliveries in one transaction), the organizer's re-runs (a new submission, through
//! the same path), cancellation, and the state events the runners publish.

use chrono::Utc;
use darkroom_api::{ParticipantId, SubmissionId};
use darkroom_core::domain::{ChallengeSpec, FailureKind, ImageSource, Scoring, SubmissionNote, SubmissionState};
use darkroom_core::events::{StateEvent, SubmissionCancelled, SubmissionCreated, SubmissionFailed};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};
use uuid::Uuid;

use crate::db::entities::{submission, transition};
use crate::outbox;
use crate::webhooks::record::{self as webhooks, Told};

/// Platform failures are retried this many times in all before the submission fails for good.
pub const MAX_ATTEMPTS: i32 = 3;

/// The event a runner needs, built from the challenge and the stored submission; a row whose
/// ids do not read is an error.
pub fn created_event(
    spec: &ChallengeSpec,
    row: &submission::Model,
    image: ImageSource,
) -> Result<SubmissionCreated, sea_orm::DbErr> {
    let id = row.submission_id()?;
    let attempt = row.attempt.max(1) as u32;
    Ok(SubmissionCreated {
        event_id: SubmissionCreated::event_id_for(id, attempt),
        submission_id: id,
        attempt,
        challenge: spec.slug.clone(),
        phase: row.phase.clone(),
        participant_id: row.owner_id()?,
        image,
        dataset_host_path: spec.dataset.host_path.display().to_string(),
        ground_truth_host_path: spec.ground_truth.host_path.display().to_string(),
        dataset_fingerprint: spec.dataset.fingerprint.clone(),
        ground_truth_fingerprint: spec.ground_truth.fingerprint.clone(),
        evaluation_image: spec.evaluation.image.clone(),
        evaluation_image_id: spec.evaluation.image_id.clone(),
        metrics: spec.metrics.clone(),
        rank_by: spec.rank_by.clone(),
        scoring: spec.phase(&row.phase).map(Scoring::of).unwrap_or_default(),
        resources: spec.resources.clone(),
        node_type: spec.node_type,
        logs_visible: spec.logs_visible,
        created_at: row.created_at,
        verification: None,
    })
}

async fn record_transition(
    conn: &impl ConnectionTrait,
    submission_id: SubmissionId,
    from: Option<SubmissionState>,
    to: SubmissionState,
    reason: Option<String>,
    event_id: String,
) -> Result<(), sea_orm::DbErr> {
    transition::ActiveModel {
        submission_id: Set(submission_id.to_string()),
        from_state: Set(from.map(|s| s.as_str().to_owned())),
        to_state: Set(to.as_str().to_owned()),
        reason: Set(reason),
        event_id: Set(event_id),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Stores a new QUEUED submission, its first history line and its `submission.created` event
/// atomically: either all three are durable or none is.
pub async fn accept(
    db: &DatabaseConnection,
    spec: &ChallengeSpec,
    phase: &str,
    participant_id: ParticipantId,
    image: ImageSource,
    note: Option<SubmissionNote>,
) -> Result<submission::Model, sea_orm::DbErr> {
    let note = note.map(SubmissionNote::into_string);
    enqueue_new(
        db,
        spec,
        NewSubmission { phase, participant_id, image, counts_against_quota: true, reason: None, note },
    )
    .await
}

/// Queues a finished submission again, at the organizer's request, as a NEW submission of the
/// same participant, challenge, phase and image (scores are unique per submission id, so the
/// old id could never be scored again). It bypasses quota and phase window, never counts
/// against the participant's quota, and goes through the same transactional path as
/// [`accept`], so its `submission.created` is published exactly once. It keeps the original's
/// note: the same image is the same experiment.
pub async fn rerun(
    db: &DatabaseConnection,
    spec: &ChallengeSpec,
    original: &submission::Model,
    image: ImageSource,
) -> Result<submission::Model, sea_orm::DbErr> {
    let reason = format!("re-run of {} requested by the organizer", original.id);
    let new = NewSubmission {
        phase: &original.phase,
        participant_id: original.owner_id()?,
        image,
        counts_against_quota: false,
        reason: Some(reason),
        note: original.note.clone(),
    };
    enqueue_new(db, spec, new).await
}

/// What differs between an accepted submission and a re-run.
struct NewSubmission<'a> {
    phase: &'a str,
    participant_id: ParticipantId,
    image: ImageSource,
    counts_against_quota: bool,
    /// The first history line's reason.
    reason: Option<String>,
    /// Already checked ([`SubmissionNote`]).
    note: Option<String>,
}

async fn enqueue_new(
    db: &DatabaseConnection,
    spec: &ChallengeSpec,
    new: NewSubmission<'_>,
) -> Result<submission::Model, sea_orm::DbErr> {
    let now = Utc::now();
    let id = SubmissionId::from(Uuid::now_v7());
    let image_json = serde_json::to_string(&new.image).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
    let txn = db.begin().await?;
    let row = submission::ActiveModel {
        id: Set(id.to_string()),
        challenge: Set(spec.slug.clone()),
        phase: Set(new.phase.to_owned()),
        participant_id: Set(new.participant_id.to_string()),
        image: Set(image_json),
        state: Set(SubmissionState::Queued.as_str().to_owned()),
        failure_reason: Set(None),
        failure_detail: Set(None),
        counts_against_quota: Set(new.counts_against_quota),
        attempt: Set(1),
        image_digest: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        // The request's trace becomes the submission's: every event about it continues it.
        trace_context: Set(darkroom_core::telemetry::current_traceparent()),
        public_score: Set(None),
        run_duration_ms: Set(None),
        peak_memory_bytes: Set(None),
        note: Set(new.note),
    }
    .insert(&txn)
    .await?;
    record_transition(&txn, id, None, SubmissionState::Queued, new.reason, format!("accepted-{id}")).await?;
    let created = created_event(spec, &row, new.image)?;
    outbox::enqueue(&txn, &created).await?;
    webhooks::record(&txn, Told::Created(&created)).await?;
    txn.commit().await?;
    tracing::info!(submission = %id, challenge = %spec.slug, phase = new.phase, "submission queued");
    Ok(row)
}

/// Who cancelled a submission, for its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelledBy {
    Participant,
    Organizer,
}

/// Why a cancellation was refused.
#[derive(Debug)]
pub enum CancelOutcome {
    Cancelled(Box<submission::Model>),
    NotCancellable(SubmissionState),
}

/// Cancels a submission that no runner has started. The state is re-read inside the
/// transaction so a concurrent RUNNING event is not overwritten.
pub async fn cancel(
    db: &DatabaseConnection,
    submission_id: SubmissionId,
    by: CancelledBy,
) -> Result<Option<CancelOutcome>, sea_orm::DbErr> {
    let id = submission_id.to_string();
    let txn = db.begin().await?;
    let Some(row) = submission::Entity::find_by_id(id.clone()).one(&txn).await? else {
        return Ok(None);
    };
    let state = row.current_state()?;
    if !state.can_become(SubmissionState::Cancelled) {
        return Ok(Some(CancelOutcome::NotCancellable(state)));
    }
    let now = Utc::now();
    let updated = submission::Entity::update_many()
        .col_expr(submission::Column::State, SubmissionState::Cancelled.as_str().into())
        .col_expr(submission::Column::CountsAgainstQuota, false.into())
        .col_expr(submission::Column::UpdatedAt, now.into())
        .filter(submission::Column::Id.eq(&id))
        .filter(submission::Column::State.eq(state.as_str()))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        // Someone moved it meanwhile; report what it is now.
        let now_state = submission::Entity::find_by_id(id.clone())
            .one(&txn)
            .await?
            .and_then(|r| r.state.parse().ok())
            .unwrap_or(state);
        return Ok(Some(CancelOutcome::NotCancellable(now_state)));
    }
    let event_id = SubmissionCancelled::event_id_for(submission_id);
    let reason = match by {
        CancelledBy::Participant => "cancelled by the participant",
        CancelledBy::Organizer => "cancelled by the organizer",
    };
    record_transition(
        &txn,
        submission_id,
        Some(state),
        SubmissionState::Cancelled,
        Some(reason.into()),
        event_id.clone(),
    )
    .await?;
    let cancelled = SubmissionCancelled { event_id, submission_id, at: now };
    outbox::enqueue(&txn, &cancelled).await?;
    webhooks::record(&txn, Told::Cancelled(&cancelled)).await?;
    txn.commit().await?;
    let row = submission::Entity::find_by_id(id).one(db).await?.expect("row read in this transaction");
    Ok(Some(CancelOutcome::Cancelled(Box::new(row))))
}

/// What applying a state event did. Every variant but [`Applied::Early`] is acknowledged; a
/// database error (returned as `Err`) asks for redelivery too.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Moved {
        from: SubmissionState,
        to: SubmissionState,
    },
    /// A platform failure sent it back to the queue as a new attempt.
    Requeued {
        attempt: i32,
    },
    Duplicate,
    Stale,
    UnknownSubmission,
    /// The event is ahead of the submission: it skips a state whose event has not been applied
    /// yet. Events are published in causal order (a score only after the run's end is in the
    /// stream), but a message handed to a service that then crashed comes back only after its
    /// ack wait, behind its successors. So the early event is redelivered until its
    /// predecessor lands; acknowledging it would strand the submission (EVALUATING forever
    /// beside a public score).
    Early {
        from: SubmissionState,
        to: SubmissionState,
    },
}

/// Where a state event comes from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// A runner or an evaluator, through the stream.
    Bus,
    /// This service's watchdog, which found the submission `judged` past its deadline.
    Deadline { judged: SubmissionState },
}

/// Applies one state event from the stream idempotently.
pub async fn apply(db: &DatabaseConnection, event: &StateEvent) -> Result<Applied, sea_orm::DbErr> {
    apply_from(db, event, Origin::Bus).await
}

/// Applies the watchdog's `failure` of a submission it found `judged` past its deadline. Only
/// if the submission is still there: a real event may have moved it since the watchdog read
/// it, and then the deadline is stale. An applied failure is also published (through the
/// outbox, in the same transaction), so that everyone who follows the stream (webhooks) hears
/// of it as of a runner's; the state consumer finds it applied already.
pub async fn expire(
    db: &DatabaseConnection,
    failure: SubmissionFailed,
    judged: SubmissionState,
) -> Result<Applied, sea_orm::DbErr> {
    apply_from(db, &StateEvent::Failed(failure), Origin::Deadline { judged }).await
}

async fn apply_from(db: &DatabaseConnection, event: &StateEvent, origin: Origin) -> Result<Applied, sea_orm::DbErr> {
    let submission_id = event.submission_id();
    let id = submission_id.to_string();
    let event_id = event.event_id().to_owned();
    let txn = db.begin().await?;
    if transition::Entity::find().filter(transition::Column::EventId.eq(&event_id)).one(&txn).await?.is_some() {
        return Ok(Applied::Duplicate);
    }
    let Some(row) = submission::Entity::find_by_id(id.clone()).one(&txn).await? else {
        return Ok(Applied::UnknownSubmission);
    };
    let from = row.current_state()?;
    if let Origin::Deadline { judged } = origin
        && from != judged
    {
        return Ok(Applied::Stale);
    }
    if let Some(attempt) = event_attempt(event)
        && (attempt as i32) < row.attempt
    {
        return Ok(Applied::Stale);
    }
    let (mut to, mut reason) = event.target();
    // A retrying failure before the run started (the registry down, the image not loading)
    // finds the submission QUEUED already: it still queues the next attempt. Its redelivery
    // is caught above (its id, then its attempt, which the requeue made old).
    let retrying = matches!(event, StateEvent::Failed(f) if f.retrying);
    if from == to && !retrying {
        return Ok(Applied::Duplicate);
    }
    if from.is_terminal()
        || (to != SubmissionState::Queued && to != SubmissionState::Failed && to.progress() < from.progress())
    {
        return Ok(Applied::Stale);
    }
    let mut requeue_attempt = None;
    let mut active: submission::ActiveModel = row.clone().into();
    if let StateEvent::Failed(f) = event {
        if f.kind == FailureKind::Platform {
            active.counts_against_quota = Set(false);
        }
        active.failure_detail = Set(f.detail.clone());
        if f.retrying {
            if row.attempt >= MAX_ATTEMPTS {
                to = SubmissionState::Failed;
                reason = Some(format!(
                    "the platform failed {MAX_ATTEMPTS} times running this submission ({}); it does not count against your quota",
                    f.reason
                ));
            } else {
                requeue_attempt = Some(row.attempt + 1);
            }
        }
    }
    let requeued_from_queue = from == to && requeue_attempt.is_some();
    // A score stands whichever attempt earned it. One from an attempt older than the row's
    // arrived after the platform gave that attempt up (a deadline passed while the evaluator
    // or this service was down): the later attempt would only score it again, so the
    // submission is COMPLETE from wherever it is.
    let scored_late = matches!(event, StateEvent::Scored(e) if (e.attempt as i32) < row.attempt);
    if !from.can_become(to) && !requeued_from_queue && !scored_late {
        // Terminal and backward targets were judged stale above: what is left skips ahead.
        return Ok(Applied::Early { from, to });
    }
    match event {
        StateEvent::Started(e) if e.image_digest.is_some() => active.image_digest = Set(e.image_digest.clone()),
        StateEvent::Finished(e) => {
            if e.image_digest.is_some() {
                active.image_digest = Set(e.image_digest.clone());
            }
            // Kept whole; what a participant sees of it is `views::for_participant`'s rule.
            active.run_duration_ms = Set(Some(i64::try_from(e.duration_ms).unwrap_or(i64::MAX)));
            active.peak_memory_bytes = Set(e.peak_memory_bytes.map(|b| i64::try_from(b).unwrap_or(i64::MAX)));
        }
        // Kept for the organizer's list, which then reads no score document.
        StateEvent::Scored(e) => active.public_score = Set(Some(submission::Model::public_score_column(&e.metrics)?)),
        _ => {}
    }
    active.state = Set(to.as_str().to_owned());
    active.updated_at = Set(Utc::now());
    if to == SubmissionState::Failed {
        active.failure_reason = Set(reason.clone());
    }
    if let Some(attempt) = requeue_attempt {
        active.attempt = Set(attempt);
        // What a run used belongs to its attempt; the next one has not run yet.
        active.run_duration_ms = Set(None);
        active.peak_memory_bytes = Set(None);
    }
    // Conditional on the state read above, so a concurrent change (a cancellation) wins
    // cleanly: the event is retried and then judged against the new state.
    let result = submission::Entity::update_many()
        .set(active)
        .filter(submission::Column::Id.eq(&id))
        .filter(submission::Column::State.eq(from.as_str()))
        .exec(&txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(sea_orm::DbErr::Custom(format!("submission {id} changed state concurrently")));
    }
    record_transition(&txn, submission_id, Some(from), to, reason, event_id).await?;
    if let (Origin::Deadline { .. }, StateEvent::Failed(failure)) = (origin, event) {
        outbox::enqueue(&txn, failure).await?;
    }
    if let Some(attempt) = requeue_attempt {
        // The row as it is now, for the job queued again.
        let updated = submission::Entity::find_by_id(id.clone())
            .one(&txn)
            .await?
            .ok_or_else(|| sea_orm::DbErr::Custom(format!("submission {id} vanished")))?;
        let image: ImageSource =
            serde_json::from_str(&updated.image).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
        let Some(spec) = crate::db::challenge_spec(&txn, &updated.challenge).await? else {
            return Err(sea_orm::DbErr::Custom(format!("challenge '{}' vanished", updated.challenge)));
        };
        outbox::enqueue(&txn, &created_event(&spec, &updated, image)?).await?;
        txn.commit().await?;
        darkroom_core::metrics::retried();
        return Ok(Applied::Requeued { attempt });
    }
    txn.commit().await?;
    Ok(Applied::Moved { from, to })
}

fn event_attempt(event: &StateEvent) -> Option<u32> {
    match event {
        StateEvent::Pending(e) => Some(e.attempt),
        StateEvent::Started(e) => Some(e.attempt),
        StateEvent::Finished(e) => Some(e.attempt),
        StateEvent::Failed(e) => Some(e.attempt),
        StateEvent::Scored(_) => None,
    }
}
