//! Recording webhook deliveries: for each submission state change, each recorded score and each
//! announcement posted or edited, one delivery row per webhook of the challenge that wants it.
//!
//! It only records: the POSTs are made by [`super::send`] from the delivery table, so a slow or
//! failing receiver never holds a message (nor the stream's order) for the minutes its retries
//! take. A row is unique per (webhook, event id), so recording an event again (a redelivery, a
//! crash between recording and acknowledging) records nothing twice.
//!
//! Who records what, and why there is no consumer of its own:
//! - `submission.created` (first attempts: QUEUED) and `submission.cancelled` are this
//!   service's own events. They are recorded in the transaction that writes them to the outbox
//!   (`lifecycle`), so a notice exists exactly when the change does. The sender finds them
//!   within its poll interval (at most a second).
//! - The runners' and the evaluator's state events are recorded by the state consumer
//!   (`consumer`) as it reads them, whatever it makes of them, before it acknowledges them.
//!   Earlier versions read them all a second time, from a webhooks consumer of their own
//!   ([`RETIRED_DURABLE`]): 4 of the 10 deliveries a submission made, each with its ack and
//!   with nats-server rewriting that consumer's state file after both. At start-up the state
//!   consumer first records what that consumer still holds, then deletes it ([`hand_over`]).
//! - Announcements are recorded in the transaction that posts or edits them
//!   (`crate::announcements`, through [`record_announcement`]). A removal is not told: a
//!   receiver that relayed one cannot be made to take it back.
//!
//! A recorded score is what changes a board, so `score.recorded` is also told as a `board` event
//! (event id `board-<its id>`). A disqualification or reinstatement is the organizer's own act
//! and is not told here (live pages hear of it: `darkroom_core::events::BoardChanged`); the
//! score of a disqualified participant's run that had started before is still told as a
//! `board` event, though no board shows it. Events are told as they were
//! published; one that the state consumer finds stale, or holds back until its predecessor
//! arrives, is still told at once, with its attempt and time, by which a receiver orders them.

use async_nats::jetstream::{self, consumer::pull};
use chrono::{DateTime, Utc};
use darkroom_api::{
    Announcement, BoardChange, SubmissionChange, SubmissionId, SubmissionState, WebhookData, WebhookEvent,
    WebhookPayload,
};
use darkroom_core::config::NatsConfig;
use darkroom_core::events::{Decode, DecodeError, Event, StateEvent, SubmissionCancelled, SubmissionCreated};
use futures::StreamExt;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TryInsertResult,
};
use uuid::Uuid;

use super::events_of;
use crate::db::entities::{submission, webhook, webhook_delivery};

/// The webhooks consumer of earlier versions. The state consumer hands over from it at
/// start-up ([`hand_over`]): left on the stream, it would hold its backlog and report its lag
/// for good, and the events it had not read yet would never be told.
pub const RETIRED_DURABLE: &str = "submissions-webhooks";

/// An event read from the retired consumer, decoded by its subject.
enum Unread {
    State(StateEvent),
    Created(Box<SubmissionCreated>),
    Cancelled(SubmissionCancelled),
}

impl Unread {
    fn decode(subject: &str, payload: &[u8]) -> Result<Self, DecodeError> {
        Ok(match subject {
            SubmissionCreated::SUBJECT => Unread::Created(Box::new(Decode::decode(subject, payload)?)),
            SubmissionCancelled::SUBJECT => Unread::Cancelled(Decode::decode(subject, payload)?),
            _ => Unread::State(StateEvent::decode(subject, payload)?),
        })
    }

    fn told(&self) -> Told<'_> {
        match self {
            Unread::State(e) => Told::State(e),
            Unread::Created(e) => Told::Created(e),
            Unread::Cancelled(e) => Told::Cancelled(e),
        }
    }
}

/// Records the deliveries of every event the retired consumer still holds, acknowledging each,
/// then deletes it; returns how many deliveries were new. On an error the consumer is kept, so
/// the next start finishes the hand-over (recording again adds nothing). An event that does not
/// decode is logged and passed over, as the consumer would have dropped it.
pub async fn hand_over(db: &DatabaseConnection, js: &jetstream::Context, nats: &NatsConfig) -> Result<usize, String> {
    let stream = darkroom_core::bus::retry_until_ok("the stream", || darkroom_core::bus::ensure_stream(js, nats)).await;
    let Ok(consumer) = stream.get_consumer::<pull::Config>(RETIRED_DURABLE).await else {
        return Ok(0);
    };
    let mut recorded = 0;
    loop {
        // A fetch answers at once with what is there, so the loop ends when nothing is left.
        let mut batch = consumer.fetch().max_messages(100).messages().await.map_err(|e| e.to_string())?;
        let mut read = 0;
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| e.to_string())?;
            read += 1;
            match Unread::decode(&message.subject, &message.payload) {
                Ok(event) => recorded += record(db, event.told()).await.map_err(|e| e.to_string())?,
                Err(e) => tracing::warn!(error = %e, "an event of the retired webhooks consumer passed over"),
            }
            message.ack().await.map_err(|e| e.to_string())?;
        }
        if read == 0 {
            break;
        }
    }
    stream.delete_consumer(RETIRED_DURABLE).await.map_err(|e| e.to_string())?;
    tracing::info!(consumer = RETIRED_DURABLE, recorded, "retired consumer read to its end and deleted");
    Ok(recorded)
}

/// An event a webhook may be told of.
#[derive(Debug, Clone, Copy)]
pub enum Told<'a> {
    State(&'a StateEvent),
    Created(&'a SubmissionCreated),
    Cancelled(&'a SubmissionCancelled),
}

impl Told<'_> {
    fn submission_id(&self) -> SubmissionId {
        match self {
            Told::State(e) => e.submission_id(),
            Told::Created(e) => e.submission_id(),
            Told::Cancelled(e) => e.submission_id(),
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
fn notices(told: Told<'_>, row: &submission::Model) -> Result<Vec<Notice>, DbErr> {
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
pub async fn record(db: &impl ConnectionTrait, told: Told<'_>) -> Result<usize, DbErr> {
    let id = told.submission_id();
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
    deliver(db, &hooks, &row.challenge, notices(told, &row)?).await
}

/// Records an announcement's delivery to each webhook of its challenge that wants it: once
/// when it is posted, and once more for each edit (told with its `edited_at`). Called in the
/// transaction that writes it, so a notice exists exactly when the change does.
pub async fn record_announcement(db: &impl ConnectionTrait, announcement: &Announcement) -> Result<usize, DbErr> {
    let hooks = webhook::Entity::find().filter(webhook::Column::Challenge.eq(&announcement.challenge)).all(db).await?;
    if hooks.is_empty() {
        return Ok(0);
    }
    let (event_id, occurred_at) = match announcement.edited_at {
        Some(at) => (format!("announcement-{}-edited-{}", announcement.id, at.timestamp_micros()), at),
        None => (format!("announcement-{}", announcement.id), announcement.posted_at),
    };
    let notice = Notice {
        event: WebhookEvent::Announcement,
        event_id,
        occurred_at,
        data: WebhookData::Announcement(announcement.clone()),
    };
    deliver(db, &hooks, &announcement.challenge, vec![notice]).await
}

/// One pending delivery per notice and webhook that wants its kind, unless recorded already;
/// how many were new.
async fn deliver(
    db: &impl ConnectionTrait,
    hooks: &[webhook::Model],
    challenge: &str,
    notices: Vec<Notice>,
) -> Result<usize, DbErr> {
    let mut recorded = 0;
    for notice in notices {
        for hook in hooks.iter().filter(|h| events_of(h).contains(&notice.event)) {
            let delivery = Uuid::now_v7().to_string();
            let payload = WebhookPayload {
                id: delivery.clone(),
                event: notice.event,
                challenge: challenge.to_owned(),
                occurred_at: notice.occurred_at,
                data: notice.data.clone(),
            };
            let now = Utc::now();
            let active = webhook_delivery::ActiveModel {
                id: Set(delivery),
                webhook_id: Set(hook.id.clone()),
                challenge: Set(challenge.to_owned()),
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
