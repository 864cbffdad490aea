//! The transactional outbox: events are written in the same database transaction as the change
//! that caused them, and this relay publishes them to JetStream afterwards.
//!
//! Nothing accepted is lost when NATS is down: the row waits and the relay retries with backoff.
//! Nothing is published twice: each message carries its `Nats-Msg-Id`, so a publish repeated
//! after a crash between "acked by JetStream" and "marked published" is dropped by the stream's
//! duplicate window, and consumers are idempotent beyond it. Rows are published through
//! `core::bus`, as every other event is.
//!
//! Each row keeps the W3C trace context it is published under: the trace of the submission it
//! is about (stored with the submission when the request that created it arrived), so every
//! event about one submission, whoever causes it (a request, a consumer, the watchdog), joins
//! that submission's trace; else the trace current when it was enqueued. The relay publishes
//! the row inside a span continuing that trace, which `bus::publish_payload` puts in the
//! message's headers.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use chrono::Utc;
use darkroom_core::backoff::Backoff;
use darkroom_core::config::NatsConfig;
use darkroom_core::events::Event;
use darkroom_core::telemetry;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use tokio::sync::Notify;
use tracing::Instrument;

use crate::db::entities::{outbox, submission};

/// Adds an event to the outbox inside the caller's transaction, under its submission's trace
/// (see the module's documentation).
pub async fn enqueue<E: Event>(conn: &impl ConnectionTrait, event: &E) -> Result<(), sea_orm::DbErr> {
    let payload = serde_json::to_string(event).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
    let submissions_trace = submission::Entity::find_by_id(event.submission_id().to_string())
        .select_only()
        .column(submission::Column::TraceContext)
        .into_tuple::<Option<String>>()
        .one(conn)
        .await?
        .flatten();
    outbox::ActiveModel {
        msg_id: Set(event.event_id().to_owned()),
        subject: Set(E::SUBJECT.to_owned()),
        payload: Set(payload),
        created_at: Set(Utc::now()),
        published_at: Set(None),
        attempts: Set(0),
        trace_context: Set(submissions_trace.or_else(telemetry::current_traceparent)),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

const BATCH: u64 = 256;

/// Publishes pending rows forever: woken by `wakeup` after commits, and every second anyway.
pub async fn run_relay(db: DatabaseConnection, client: async_nats::Client, nats: NatsConfig, wakeup: Arc<Notify>) {
    let js = jetstream::new(client);
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut stream_ready = false;
    loop {
        if !stream_ready {
            match darkroom_core::bus::ensure_stream(&js, &nats).await {
                Ok(_) => stream_ready = true,
                Err(e) => {
                    let delay = backoff.next();
                    tracing::warn!(error = %e, retry_in = ?delay, "JetStream not reachable; outbox events wait");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
        }
        match publish_pending(&db, &js).await {
            Ok(0) => {
                backoff.reset();
                let _ = tokio::time::timeout(Duration::from_secs(1), wakeup.notified()).await;
            }
            Ok(n) => {
                backoff.reset();
                tracing::debug!(published = n, "outbox batch published");
            }
            Err(e) => {
                let delay = backoff.next();
                tracing::warn!(error = %e, retry_in = ?delay, "outbox publish failed; will retry");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Publishes up to one batch in order; returns how many were published.
async fn publish_pending(db: &DatabaseConnection, js: &jetstream::Context) -> anyhow::Result<usize> {
    let rows = outbox::Entity::find()
        .filter(outbox::Column::PublishedAt.is_null())
        .order_by_asc(outbox::Column::Id)
        .limit(BATCH)
        .all(db)
        .await?;
    let mut published = 0;
    for row in rows {
        let span = tracing::info_span!("outbox_publish", subject = %row.subject, msg_id = %row.msg_id, trace_id = tracing::field::Empty);
        telemetry::continue_trace(&span, |name| {
            if name == telemetry::TRACEPARENT { row.trace_context.as_deref() } else { None }
        });
        let result = darkroom_core::bus::publish_payload(js, &row.subject, &row.msg_id, row.payload.as_bytes())
            .instrument(span)
            .await;
        if let Err(e) = result {
            let attempts = row.attempts + 1;
            let mut active: outbox::ActiveModel = row.into();
            active.attempts = Set(attempts);
            active.update(db).await?;
            return Err(anyhow::anyhow!(e));
        }
        let mut active: outbox::ActiveModel = row.into();
        active.published_at = Set(Some(Utc::now()));
        active.update(db).await?;
        published += 1;
    }
    Ok(published)
}
