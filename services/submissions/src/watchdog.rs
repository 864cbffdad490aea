//! Deadlines: no submission stays in a non-terminal state forever, whatever crashed.
//!
//! - QUEUED or PENDING longer than `queue_deadline_seconds`: FAILED, no capacity.
//! - RUNNING longer than the challenge's wall-clock limit plus `running_grace_seconds`: the
//!   run is lost (a runner died); retried as a platform failure.
//! - EVALUATING longer than `evaluating_deadline_seconds`: the evaluation is lost; retried.
//!
//! The first sweep waits until the state consumer has applied its backlog (see `caught_up`).
//!
//! Expiry goes through the same path as a runner's failure event, so retry bounds, quota
//! refunds and history are applied the same way, and a later real event is judged stale; it
//! applies only if the submission is still in the state the sweep read, and it is published
//! like a runner's (see `lifecycle::expire`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use darkroom_core::config::SubmissionsConfig;
use darkroom_core::domain::{FailureKind, SubmissionState};
use darkroom_core::events::{FailedBy, SubmissionFailed};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio::sync::Notify;
use tracing::Instrument;

use crate::db::entities::submission;
use crate::lifecycle::{self, Applied};

/// How long the first sweep waits at most for the state consumer to catch up.
const STARTUP_PATIENCE: Duration = Duration::from_secs(300);

/// Checks deadlines every `watchdog_interval_seconds`, forever, once the state consumer has
/// caught up with what the stream held at start.
pub async fn run(
    db: DatabaseConnection,
    config: SubmissionsConfig,
    outbox_wakeup: std::sync::Arc<Notify>,
    nats: async_nats::Client,
) {
    caught_up(&async_nats::jetstream::new(nats)).await;
    let mut tick = tokio::time::interval(Duration::from_secs(config.watchdog_interval_seconds.max(1)));
    loop {
        tick.tick().await;
        match sweep(&db, &config, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(expired = n, "deadlines expired");
                outbox_wakeup.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "deadline check failed; will retry"),
        }
    }
}

/// Waits until the state consumer's backlog is empty, for at most [`STARTUP_PATIENCE`]. After
/// an outage longer than a deadline, the events that make it moot (the score of a submission
/// that looks lost) wait in that backlog, as do those a crashed instance held until their ack
/// wait hands them back; a sweep before them would queue finished work again. Only the first
/// sweep waits, so a consumer that never catches up under load cannot hold the watchdog off.
async fn caught_up(js: &async_nats::jetstream::Context) {
    let started = tokio::time::Instant::now();
    loop {
        let backlog = darkroom_core::bus::consumer_backlog(js, crate::consumer::DURABLE_NAME).await;
        if backlog == Some(0) {
            return;
        }
        if started.elapsed() >= STARTUP_PATIENCE {
            tracing::warn!(?backlog, "the state consumer has not caught up; checking deadlines anyway");
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// When `row` is past its deadline at `now`: the state it was judged in, and the failure to
/// apply while it is still there.
pub fn expired(
    row: &submission::Model,
    wall_clock_seconds: u64,
    config: &SubmissionsConfig,
    now: DateTime<Utc>,
) -> Option<(SubmissionState, SubmissionFailed)> {
    let state: SubmissionState = row.state.parse().ok()?;
    let (limit, retrying, reason) = match state {
        SubmissionState::Queued | SubmissionState::Pending => (
            config.queue_deadline_seconds,
            false,
            format!(
                "not started within {} s: no runner had capacity; it does not count against your quota",
                config.queue_deadline_seconds
            ),
        ),
        SubmissionState::Running => {
            let limit = wall_clock_seconds + config.running_grace_seconds;
            (limit, true, format!("no result {limit} s after the run started (the runner was lost)"))
        }
        SubmissionState::Evaluating => (
            config.evaluating_deadline_seconds,
            true,
            format!(
                "no score {} s after the run finished (the evaluator was lost)",
                config.evaluating_deadline_seconds
            ),
        ),
        _ => return None,
    };
    let deadline = row.updated_at + chrono::Duration::seconds(limit as i64);
    if now <= deadline {
        return None;
    }
    let submission_id = match row.submission_id() {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(submission = %row.id, error = %e, "deadline expired, but the row's id does not read; left as it is");
            return None;
        }
    };
    let attempt = row.attempt.max(1) as u32;
    Some((
        state,
        SubmissionFailed {
            event_id: SubmissionFailed::event_id_for(submission_id, attempt, FailedBy::Deadline(state)),
            submission_id,
            attempt,
            kind: FailureKind::Platform,
            reason,
            detail: Some(format!("{state} since {}", row.updated_at.to_rfc3339())),
            retrying,
            at: now,
        },
    ))
}

/// Applies every expired deadline; returns how many changed a submission.
pub async fn sweep(
    db: &DatabaseConnection,
    config: &SubmissionsConfig,
    now: DateTime<Utc>,
) -> Result<usize, sea_orm::DbErr> {
    let active =
        [SubmissionState::Queued, SubmissionState::Pending, SubmissionState::Running, SubmissionState::Evaluating];
    let rows = submission::Entity::find()
        .filter(submission::Column::State.is_in(active.iter().map(|s| s.as_str())))
        .all(db)
        .await?;
    let mut changed = 0;
    let mut specs = std::collections::HashMap::new();
    for row in rows {
        if !specs.contains_key(&row.challenge) {
            let spec = crate::db::challenge_spec(db, &row.challenge).await?;
            specs.insert(row.challenge.clone(), spec.map(|s| s.resources.wall_clock_seconds).unwrap_or(0));
        }
        let wall_clock = specs[&row.challenge];
        if let Some((judged, failure)) = expired(&row, wall_clock, config, now) {
            // In the submission's trace, as everything that happens to it.
            let span = tracing::info_span!("deadline", submission = %row.id, trace_id = tracing::field::Empty);
            let trace = row.trace_context.as_deref();
            darkroom_core::telemetry::continue_trace(&span, |name| {
                if name == darkroom_core::telemetry::TRACEPARENT { trace } else { None }
            });
            let applied = async {
                tracing::warn!(submission = %row.id, state = %row.state, reason = %failure.reason, "deadline expired");
                lifecycle::expire(db, failure, judged).await
            }
            .instrument(span)
            .await?;
            if matches!(applied, Applied::Moved { .. } | Applied::Requeued { .. }) {
                changed += 1;
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: &str, age_seconds: i64) -> submission::Model {
        let now = Utc::now();
        submission::Model {
            id: uuid::Uuid::nil().to_string(),
            challenge: "c".into(),
            phase: "p".into(),
            participant_id: "x".into(),
            image: "{}".into(),
            state: state.into(),
            failure_reason: None,
            failure_detail: None,
            counts_against_quota: true,
            attempt: 1,
            image_digest: None,
            created_at: now,
            updated_at: now - chrono::Duration::seconds(age_seconds),
            trace_context: None,
            public_score: None,
            run_duration_ms: None,
            peak_memory_bytes: None,
            note: None,
        }
    }

    #[test]
    fn each_active_state_has_a_deadline() {
        let c = SubmissionsConfig {
            queue_deadline_seconds: 100,
            running_grace_seconds: 10,
            evaluating_deadline_seconds: 50,
            ..Default::default()
        };
        let now = Utc::now();
        assert!(expired(&row("QUEUED", 99), 60, &c, now).is_none());
        assert!(!expired(&row("QUEUED", 101), 60, &c, now).unwrap().1.retrying);
        assert!(expired(&row("RUNNING", 69), 60, &c, now).is_none());
        assert!(expired(&row("RUNNING", 71), 60, &c, now).unwrap().1.retrying);
        assert!(expired(&row("EVALUATING", 51), 60, &c, now).unwrap().1.retrying);
        assert!(expired(&row("COMPLETE", 10_000), 60, &c, now).is_none());
    }
}
