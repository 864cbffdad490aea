//! Applies the runners' state events from a durable JetStream consumer.
//!
//! A message is acknowledged once its outcome is committed — or once it is known to need no
//! change (duplicate, stale, impossible, undecodable): those are logged and acknowledged, so a
//! bad event can never crash the service or loop forever. Only a database error asks JetStream
//! to redeliver, after a delay.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use darkroom_core::config::NatsConfig;
use darkroom_core::events::{Decode, STATE_SUBJECTS, StateEvent};
use futures::StreamExt;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::lifecycle::{self, Applied};

pub const DURABLE_NAME: &str = "submissions-state";

/// Consumes forever, reconnecting with backoff when NATS goes away.
pub async fn run(db: DatabaseConnection, client: async_nats::Client, nats: NatsConfig, outbox_wakeup: Arc<Notify>) {
    let js = jetstream::new(client);
    let mut backoff = Duration::from_millis(200);
    loop {
        match consume(&db, &js, &nats, &outbox_wakeup).await {
            Ok(()) => backoff = Duration::from_millis(200),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "state consumer interrupted");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn consume(
    db: &DatabaseConnection,
    js: &jetstream::Context,
    nats: &NatsConfig,
    outbox_wakeup: &Notify,
) -> anyhow::Result<()> {
    let stream = darkroom_core::bus::ensure_stream(js, nats).await.map_err(|e| anyhow::anyhow!(e))?;
    let consumer =
        darkroom_core::bus::durable_consumer(&stream, DURABLE_NAME, &STATE_SUBJECTS, Duration::from_secs(30), None)
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
    let mut messages = consumer.messages().await.map_err(|e| anyhow::anyhow!(e))?;
    tracing::info!(consumer = DURABLE_NAME, "consuming state events");
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| anyhow::anyhow!(e))?;
        let subject = message.subject.as_str();
        let event = match StateEvent::decode(subject, &message.payload) {
            Ok(ev) => ev,
            Err(e) => {
                tracing::error!(error = %e, subject, "undecodable state event dropped");
                ack(&message, AckKind::Ack).await;
                continue;
            }
        };
        match lifecycle::apply(db, &event).await {
            Ok(outcome) => {
                log_outcome(&event, &outcome);
                if matches!(outcome, Applied::Requeued { .. }) {
                    outbox_wakeup.notify_one();
                }
                ack(&message, AckKind::Ack).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, event_id = event.event_id(), "state event not applied; redelivery in 2 s");
                ack(&message, AckKind::Nak(Some(Duration::from_secs(2)))).await;
            }
        }
    }
    Ok(())
}

async fn ack(message: &jetstream::Message, kind: AckKind) {
    if let Err(e) = message.ack_with(kind).await {
        // Redelivery after ack_wait is harmless: applying is idempotent.
        tracing::warn!(error = %e, "could not acknowledge a state event");
    }
}

fn log_outcome(event: &StateEvent, outcome: &Applied) {
    let submission = event.submission_id().to_string();
    let event_id = event.event_id();
    match outcome {
        Applied::Moved { from, to } => tracing::info!(%submission, %from, %to, event_id, "submission moved"),
        Applied::Requeued { attempt } => {
            tracing::info!(%submission, attempt, event_id, "submission re-queued after a platform failure")
        }
        Applied::Duplicate | Applied::Stale => {
            tracing::debug!(%submission, event_id, ?outcome, "event needs no change")
        }
        Applied::UnknownSubmission => tracing::warn!(%submission, event_id, "event for an unknown submission ignored"),
        Applied::Impossible { from, to } => {
            tracing::warn!(%submission, %from, %to, event_id, "impossible transition ignored")
        }
    }
}
