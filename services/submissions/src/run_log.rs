//! Run logs: the runners' `run.log` batches, stored from a durable consumer of their own and
//! read back as the last lines of a submission.
//!
//! The consumer `submissions-logs` is separate from `submissions-state`, so however much a run
//! prints, it never delays a state change. Storing is idempotent: a batch is keyed by its
//! `event_id`, so a redelivered or republished batch is acknowledged and ignored. Empty batches
//! and batches of unknown submissions are logged and acknowledged, undecodable payloads dropped
//! by the bus worker with their reason; only a database error asks JetStream to redeliver,
//! after a delay.

use std::time::Duration;

use async_nats::jetstream;
use darkroom_core::bus::{Durable, Handler, MessageContext, Outcome, Worker};
use darkroom_core::config::NatsConfig;
use darkroom_core::domain::SubmissionId;
use darkroom_core::events::{Event, RunLog};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult,
};

use crate::db::entities::{run_log, submission};

pub const DURABLE_NAME: &str = "submissions-logs";

/// Consumes `run.log` forever; the worker waits for NATS at start-up and reconnects when it
/// goes away.
pub async fn run(db: DatabaseConnection, client: async_nats::Client, nats: NatsConfig) {
    let durable = Durable {
        name: DURABLE_NAME,
        subjects: &[RunLog::SUBJECT],
        ack_wait: Duration::from_secs(30),
        max_ack_pending: None,
    };
    // One at a time: batches are small inserts, and arrival order breaks ties between batches
    // stamped with the same time.
    Worker::new(jetstream::new(client), &nats, durable, StoreLogs { db }).run().await;
}

/// Stores one batch; storing is idempotent, so a redelivery changes nothing.
struct StoreLogs {
    db: DatabaseConnection,
}

impl Handler for StoreLogs {
    type Event = RunLog;

    async fn handle(&self, event: RunLog, _: &MessageContext) -> Outcome {
        match store(&self.db, &event).await {
            Ok(outcome) => {
                let (submission, event_id) = (event.submission_id, &event.event_id);
                match outcome {
                    Stored::Inserted => {
                        tracing::debug!(%submission, event_id, lines = event.lines.len(), "run log stored")
                    }
                    Stored::Duplicate | Stored::Empty => {
                        tracing::debug!(%submission, event_id, ?outcome, "run log needs no change")
                    }
                    Stored::UnknownSubmission => {
                        tracing::warn!(%submission, event_id, "run log of an unknown submission ignored")
                    }
                }
                Outcome::Ack
            }
            Err(e) => Outcome::Retry {
                after: Duration::from_secs(2),
                reason: format!("run log {} not stored: {e}", event.event_id),
            },
        }
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
    /// The newest batch's id: lines stored later come [`since`] it.
    pub cursor: i64,
}

fn lines_of(row: &run_log::Model) -> Vec<String> {
    serde_json::from_str(&row.lines).unwrap_or_else(|e| {
        tracing::error!(event_id = %row.event_id, error = %e, "stored run log does not parse; left out");
        Vec::new()
    })
}

/// The lines of batches stored after batch `after` (their arrival order), at most about `max`
/// (whole batches): `truncated` says more are waiting at the returned cursor.
pub async fn since(
    db: &DatabaseConnection,
    submission_id: SubmissionId,
    after: i64,
    max: usize,
) -> Result<Tail, DbErr> {
    let rows = run_log::Entity::find()
        .filter(run_log::Column::SubmissionId.eq(submission_id.to_string()))
        .filter(run_log::Column::Id.gt(after))
        .order_by_asc(run_log::Column::Id)
        .limit(max as u64 + 1)
        .all(db)
        .await?;
    let (mut lines, mut cursor, mut truncated) = (Vec::new(), after, false);
    for row in rows {
        if lines.len() >= max {
            truncated = true;
            break;
        }
        let attempt = row.attempt.max(0) as u32;
        lines.extend(lines_of(&row).into_iter().map(|line| LogLine { attempt, at: row.at, line }));
        cursor = row.id;
    }
    Ok(Tail { lines, truncated, cursor })
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
    let cursor = rows.iter().map(|r| r.id).max().unwrap_or(0);
    'rows: for row in rows {
        for line in lines_of(&row).into_iter().rev() {
            if newest_first.len() == max {
                truncated = true;
                break 'rows;
            }
            newest_first.push(LogLine { attempt: row.attempt.max(0) as u32, at: row.at, line });
        }
    }
    newest_first.reverse();
    Ok(Tail { lines: newest_first, truncated, cursor })
}
