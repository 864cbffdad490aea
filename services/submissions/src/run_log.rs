//! Run logs: the runners' `run.log` batches, stored from a durable consumer of their own and
//! read back as the last lines of a submission.
//!
//! The consumer `submissions-logs` is separate from `submissions-state`, so however much a run
//! prints, it never delays a state change. Storing is idempotent: a batch is keyed by its
//! `event_id`, so a redelivered or republished batch is acknowledged and ignored. Undecodable
//! payloads, empty batches and batches of unknown submissions are logged and acknowledged; only
//! a database error asks JetStream to redeliver, after a delay.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use darkroom_core::bus::{consume, durable_consumer, ensure_stream, retry_until_ok};
use darkroom_core::config::NatsConfig;
use darkroom_core::domain::SubmissionId;
use darkroom_core::events::{Event, RunLog};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult,
};

use crate::db::entities::{run_log, submission};

pub const DURABLE_NAME: &str = "submissions-logs";

const ACK_WAIT: Duration = Duration::from_secs(30);

/// Consumes `run.log` forever; waits for NATS at start-up and reconnects when it goes away.
pub async fn run(db: DatabaseConnection, client: async_nats::Client, nats: NatsConfig) {
    let js = jetstream::new(client);
    let stream = retry_until_ok("the JetStream stream", || ensure_stream(&js, &nats)).await;
    let consumer = retry_until_ok("the run-log consumer", || {
        durable_consumer(&stream, DURABLE_NAME, &[RunLog::SUBJECT], ACK_WAIT, None)
    })
    .await;
    tracing::info!(consumer = DURABLE_NAME, "consuming run logs");
    // One at a time: batches are small inserts, and arrival order breaks ties between batches
    // stamped with the same time.
    consume(consumer, 1, move |message| {
        let db = db.clone();
        async move { handle(&db, message).await }
    })
    .await;
}

async fn handle(db: &DatabaseConnection, message: jetstream::Message) {
    let event: RunLog = match serde_json::from_slice(&message.payload) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, subject = %message.subject, "undecodable run log dropped");
            ack(&message, AckKind::Ack).await;
            return;
        }
    };
    match store(db, &event).await {
        Ok(outcome) => {
            let submission = event.submission_id.to_string();
            match outcome {
                Stored::Inserted => {
                    tracing::debug!(%submission, event_id = %event.event_id, lines = event.lines.len(), "run log stored")
                }
                Stored::Duplicate | Stored::Empty => {
                    tracing::debug!(%submission, event_id = %event.event_id, ?outcome, "run log needs no change")
                }
                Stored::UnknownSubmission => {
                    tracing::warn!(%submission, event_id = %event.event_id, "run log of an unknown submission ignored")
                }
            }
            ack(&message, AckKind::Ack).await;
        }
        Err(e) => {
            tracing::warn!(error = %e, event_id = %event.event_id, "run log not stored; redelivery in 2 s");
            ack(&message, AckKind::Nak(Some(Duration::from_secs(2)))).await;
        }
    }
}

async fn ack(message: &jetstream::Message, kind: AckKind) {
    if let Err(e) = message.ack_with(kind).await {
        // Redelivery after ack_wait is harmless: storing is idempotent.
        tracing::warn!(error = %e, "could not acknowledge a run log");
    }
}

/// What storing a batch did. Every variant is acknowledged.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    Inserted,
    /// This `event_id` is stored already.
    Duplicate,
    /// A batch without lines; nothing to keep.
    Empty,
    UnknownSubmission,
}

/// Stores one batch, once per `event_id`.
pub async fn store(db: &DatabaseConnection, event: &RunLog) -> Result<Stored, DbErr> {
    if event.lines.is_empty() {
        return Ok(Stored::Empty);
    }
    let submission_id = event.submission_id.to_string();
    if submission::Entity::find_by_id(submission_id.clone()).count(db).await? == 0 {
        return Ok(Stored::UnknownSubmission);
    }
    let lines = serde_json::to_string(&event.lines).map_err(|e| DbErr::Custom(e.to_string()))?;
    let row = run_log::ActiveModel {
        event_id: Set(event.event_id().to_owned()),
        submission_id: Set(submission_id),
        attempt: Set(i32::try_from(event.attempt).unwrap_or(i32::MAX)),
        lines: Set(lines),
        at: Set(event.at),
        ..Default::default()
    };
    let result = run_log::Entity::insert(row)
        .on_conflict_do_nothing_on([run_log::Column::EventId])
        .exec_without_returning(db)
        .await?;
    Ok(match result {
        TryInsertResult::Inserted(n) if n > 0 => Stored::Inserted,
        _ => Stored::Duplicate,
    })
}

/// One line of a run's output: the API's shape.
pub use darkroom_api::LogLine;

/// The last lines of a submission's runs, oldest first.
#[derive(Debug)]
pub struct Tail {
    pub lines: Vec<LogLine>,
    /// True when older lines were left out.
    pub truncated: bool,
}

/// The last `max` lines of a submission (every attempt), ordered by batch time then arrival.
pub async fn tail(db: &DatabaseConnection, submission_id: SubmissionId, max: usize) -> Result<Tail, DbErr> {
    // Every stored batch holds at least one line, so `max + 1` batches are enough to know
    // whether more than `max` lines exist.
    let rows = run_log::Entity::find()
        .filter(run_log::Column::SubmissionId.eq(submission_id.to_string()))
        .order_by_desc(run_log::Column::At)
        .order_by_desc(run_log::Column::Id)
        .limit(max as u64 + 1)
        .all(db)
        .await?;
    let mut newest_first = Vec::new();
    let mut truncated = false;
    'rows: for row in rows {
        let lines: Vec<String> = match serde_json::from_str(&row.lines) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(event_id = %row.event_id, error = %e, "stored run log does not parse; left out");
                continue;
            }
        };
        for line in lines.into_iter().rev() {
            if newest_first.len() == max {
                truncated = true;
                break 'rows;
            }
            newest_first.push(LogLine { attempt: row.attempt.max(0) as u32, at: row.at, line });
        }
    }
    newest_first.reverse();
    Ok(Tail { lines: newest_first, truncated })
}
