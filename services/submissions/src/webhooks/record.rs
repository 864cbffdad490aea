//! The durable consumer `submissions-webhooks`: for each submission state event and each
//! recorded score, one delivery row per webhook of the challenge that wants it, then the ack.
//!
//! It only records: the POSTs are made by [`super::send`] from the delivery table, so a slow or
//! failing receiver never holds a message (nor the stream's order) for the minutes its retries
//! take. A row is unique per (webhook, event id), so a redelivered message (a lost ack, a crash
//! between recording and acking) records nothing twice; a crash before recording leaves the
//! message unacknowledged, and JetStream delivers it again.
//!
//! Which events: the runners' and the evaluator's state events (`STATE_SUBJECTS`), and the
//! submissions service's own `submission.created` (first attempts: QUEUED) and
//! `submission.cancelled`, each told as a `submission` event with the state it moves the
//! submission to. No event says "the board changed": a recorded score is what changes it, so
//! `score.recorded` is also told as a `board` event (event id `board-<its id>`). Events are
//! told as they were published; one that the state consumer finds stale is still told, with
//! its attempt and time, by which a receiver orders them.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use chrono::{DateTime, Utc};
use darkroom_api::{
    BoardChange, SubmissionChange, SubmissionId, SubmissionState, WebhookData, WebhookEvent, WebhookPayload,
};
use darkroom_core::bus::{Durable, Handler, MessageContext, Outcome, Worker};
use darkroom_core::config::NatsConfig;
use darkroom_core::events::{
    Decode, DecodeError, Event, RunFinished, RunPending, RunStarted, ScoreRecorded, StateEvent, SubmissionCancelled,
    SubmissionCreated, SubmissionFailed,
};
use sea_orm::sea_query::Query;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, TryInsertResult};
use tokio::sync::Notify;
use uuid::Uuid;

use super::events_of;
use crate::db::entities::{submission, webhook, webhook_delivery};

pub const DURABLE_NAME: &str = "submissions-webhooks";

/// Every subject a webhook may be told of.
pub const SUBJECTS: [&str; 7] = [
    SubmissionCreated::SUBJECT,
    SubmissionCancelled::SUBJECT,
    RunPending::SUBJECT,
    RunStarted::SUBJECT,
    RunFinished::SUBJECT,
    ScoreRecorded::SUBJECT,
    SubmissionFailed::SUBJECT,
];

/// Consumes forever, in stream order; `wakeup` tells the sender that deliveries are due.
pub async fn run(db: DatabaseConnection, client: async_nats::Client, nats: NatsConfig, wakeup: Arc<Notify>) {
    let durable =
        Durable { name: DURABLE_NAME, subjects: &SUBJECTS, ack_wait: Duration::from_secs(30), max_ack_pending: None };
    Worker::new(jetstream::new(client), &nats, durable, RecordDeliveries { db, wakeup }).run().await;
}

/// An event a webhook may be told of, decoded by its subject.
#[derive(Debug)]
pub enum Told {
    State(StateEvent),
    Created(Box<SubmissionCreated>),
    Cancelled(SubmissionCancelled),
}

impl Decode for Told {
    fn decode(subject: &str, payload: &[u8]) -> Result<Self, DecodeError> {
        Ok(match subject {
            SubmissionCreated::SUBJECT => Told::Created(Box::new(Decode::decode(subject, payload)?)),
            SubmissionCancelled::SUBJECT => Told::Cancelled(Decode::decode(subject, payload)?),
            _ => Told::State(StateEvent::decode(subject, payload)?),
        })
    }

    fn submission(&self) -> (SubmissionId, Option<u32>) {
        match self {
            Told::State(e) => e.submission(),
            Told::Created(e) => (e.submission_id, Some(e.attempt)),
            Told::Cancelled(e) => (e.submission_id, None),
        }
    }
}

struct RecordDeliveries {
    db: DatabaseConnection,
    wakeup: Arc<Notify>,
}

impl Handler for RecordDeliveries {
    type Event = Told;

    async fn handle(&self, event: Told, _: &MessageContext) -> Outcome {
        match record(&self.db, &event).await {
            Ok(0) => Outcome::Ack,
            Ok(recorded) => {
                tracing::debug!(recorded, "webhook deliveries recorded");
                self.wakeup.notify_one();
                Outcome::Ack
            }
            Err(e) => Outcome::Retry {
                after: Duration::from_secs(2),
                reason: format!("webhook deliveries of {:?} not recorded: {e}", event.submission().0),
            },
        }
    }
}

/// One thing to tell: its kind, the id deliveries are unique by, when it happened, what.
struct Notice {
    event: WebhookEvent,
    event_id: String,
    occurred_at: DateTime<Utc>,
    data: WebhookData,
}

/// What `told` tells about `row`'s submission (nothing for a verification re-run's request or
/// a retry's, which the failure that caused it already told as QUEUED).
fn notices(told: &Told, row: &submission::Model) -> Result<Vec<Notice>, DbErr> {
    let change = |state: SubmissionState, attempt: u32, reason: Option<String>| -> Result<WebhookData, DbErr> {
        Ok(WebhookData::Submission(SubmissionChange {
            submission_id: row.submission_id()?,
            phase: row.phase.clone(),
            participant_id: row.owner_id()?,
            state,
            attempt,
            reason,
        }))
    };
    let submission = |event_id: &str, occurred_at, data| Notice {
        event: WebhookEvent::Submission,
        event_id: event_id.to_owned(),
        occurred_at,
        data,
    };
    Ok(match told {
        Told::Created(e) if e.verification.is_some() || e.attempt > 1 => Vec::new(),
        Told::Created(e) => {
            vec![submission(&e.event_id, e.created_at, change(SubmissionState::Queued, e.attempt, None)?)]
        }
        Told::Cancelled(e) => {
            let attempt = u32::try_from(row.attempt).unwrap_or(1);
            vec![submission(&e.event_id, e.at, change(SubmissionState::Cancelled, attempt, None)?)]
        }
        Told::State(e) => {
            let (state, reason) = e.target();
            let (attempt, at) = match e {
                StateEvent::Pending(p) => (p.attempt, p.at),
                StateEvent::Started(s) => (s.attempt, s.at),
                StateEvent::Finished(f) => (f.attempt, f.at),
                StateEvent::Scored(s) => (s.attempt, s.at),
                StateEvent::Failed(f) => (f.attempt, f.at),
            };
            let mut out = vec![submission(e.event_id(), at, change(state, attempt, reason)?)];
            if let StateEvent::Scored(s) = e {
                out.push(Notice {
                    event: WebhookEvent::Board,
                    event_id: format!("board-{}", s.event_id),
                    occurred_at: s.at,
                    data: WebhookData::Board(BoardChange {
                        phase: s.phase.clone(),
                        submission_id: s.submission_id,
                        participant_id: s.participant_id,
                        metrics: s.metrics.clone(),
                    }),
                });
            }
            out
        }
    })
}

/// Records the deliveries `told` makes; how many were new.
pub async fn record(db: &DatabaseConnection, told: &Told) -> Result<usize, DbErr> {
    let id = told.submission().0;
    // The webhooks of the submission's challenge in one statement: most challenges have none,
    // and every event of every submission comes through here.
    let challenge_of = Query::select()
        .column(submission::Column::Challenge)
        .from(submission::Entity)
        .and_where(submission::Column::Id.eq(id.to_string()))
        .to_owned();
    let hooks = webhook::Entity::find().filter(webhook::Column::Challenge.in_subquery(challenge_of)).all(db).await?;
    if hooks.is_empty() {
        return Ok(0);
    }
    let Some(row) = submission::Entity::find_by_id(id.to_string()).one(db).await? else {
        tracing::debug!(submission = %id, "event of a submission gone since: no webhook to tell");
        return Ok(0);
    };
    let mut recorded = 0;
    for notice in notices(told, &row)? {
        for hook in hooks.iter().filter(|h| events_of(h).contains(&notice.event)) {
            let delivery = Uuid::now_v7().to_string();
            let payload = WebhookPayload {
                id: delivery.clone(),
                event: notice.event,
                challenge: row.challenge.clone(),
                occurred_at: notice.occurred_at,
                data: notice.data.clone(),
            };
            let now = Utc::now();
            let active = webhook_delivery::ActiveModel {
                id: Set(delivery),
                webhook_id: Set(hook.id.clone()),
                challenge: Set(row.challenge.clone()),
                event: Set(notice.event.as_str().to_owned()),
                event_id: Set(notice.event_id.clone()),
                payload: Set(serde_json::to_string(&payload).map_err(|e| DbErr::Custom(e.to_string()))?),
                state: Set(darkroom_api::DeliveryState::Pending.as_str().to_owned()),
                attempts: Set(0),
                last_status: Set(None),
                last_error: Set(None),
                next_attempt_at: Set(Some(now)),
                created_at: Set(now),
                updated_at: Set(now),
            };
            let inserted = webhook_delivery::Entity::insert(active)
                .on_conflict_do_nothing_on([webhook_delivery::Column::WebhookId, webhook_delivery::Column::EventId])
                .exec_without_returning(db)
                .await?;
            if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
                recorded += 1;
            }
        }
    }
    Ok(recorded)
}
