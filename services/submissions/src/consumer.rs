//! Applies the runners' state events from a durable JetStream consumer.
//!
//! A message is acknowledged once its outcome is committed — or once it is known to need no
//! change (duplicate, stale): those are logged and acknowledged; an undecodable one the bus
//! worker drops with its reason. So a bad event can never crash the service. Two outcomes ask
//! JetStream to redeliver, after a delay: a database error, and an event that arrived before
//! its predecessor (see [`Applied::Early`]) — the latter for a bounded time only, so it cannot
//! loop forever either.
//!
//! It also records the webhook deliveries each event makes (see `webhooks::record`), whatever
//! applying it made of it, before the ack: a failure to record asks for a redelivery too, and
//! applying and recording again change nothing.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use darkroom_core::bus::{Durable, Handler, MessageContext, Outcome, Worker};
use darkroom_core::config::NatsConfig;
use darkroom_core::events::{STATE_SUBJECTS, StateEvent};
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::lifecycle::{self, Applied};
use crate::webhooks::record::{self as webhooks, Told};

pub const DURABLE_NAME: &str = "submissions-state";

/// How soon an early event is offered again: its predecessor comes back within one ack wait.
const EARLY_RETRY: Duration = Duration::from_secs(1);
/// How many deliveries an early event waits for its predecessor (~10 minutes, twenty ack
/// waits) before it is given up with an error: the predecessor is in the stream before the
/// event exists, so running out means a bug or a hand-published event, not a slow service.
const EARLY_PATIENCE: i64 = 600;

/// Consumes forever, one event at a time in stream order; the worker reconnects with backoff
/// when NATS goes away. `hooks_due` wakes the webhook sender when deliveries are recorded.
pub async fn run(
    db: DatabaseConnection,
    client: async_nats::Client,
    nats: NatsConfig,
    outbox_wakeup: Arc<Notify>,
    hooks_due: Arc<Notify>,
) {
    let js = jetstream::new(client);
    match webhooks::hand_over(&db, &js, &nats).await {
        Ok(0) => {}
        Ok(_) => hooks_due.notify_one(),
        Err(e) => tracing::warn!(error = %e, "the retired webhooks consumer is kept until the next start"),
    }
    let durable = Durable {
        name: DURABLE_NAME,
        subjects: &STATE_SUBJECTS,
        ack_wait: Duration::from_secs(30),
        max_ack_pending: None,
    };
    Worker::new(js, &nats, durable, ApplyState { db, outbox_wakeup, hooks_due }).run().await;
}

/// Applies one state event; applying is idempotent, so a redelivery changes nothing.
struct ApplyState {
    db: DatabaseConnection,
    outbox_wakeup: Arc<Notify>,
    hooks_due: Arc<Notify>,
}

impl Handler for ApplyState {
    type Event = StateEvent;

    async fn handle(&self, event: StateEvent, ctx: &MessageContext) -> Outcome {
        let applied = lifecycle::apply(&self.db, &event).await;
        match webhooks::record(&self.db, Told::State(&event)).await {
            Ok(0) => {}
            Ok(recorded) => {
                tracing::debug!(recorded, event_id = event.event_id(), "webhook deliveries recorded");
                self.hooks_due.notify_one();
            }
            Err(e) => {
                return Outcome::Retry {
                    after: Duration::from_secs(2),
                    reason: format!("webhook deliveries of state event {} not recorded: {e}", event.event_id()),
                };
            }
        }
        match applied {
            Ok(Applied::Early { from, to }) if ctx.delivered < EARLY_PATIENCE => Outcome::Retry {
                after: EARLY_RETRY,
                reason: format!(
                    "state event {} ({from} → {to}) waits for its predecessor, delivery {}",
                    event.event_id(),
                    ctx.delivered
                ),
            },
            Ok(outcome) => {
                log_outcome(&event, &outcome);
                if matches!(outcome, Applied::Requeued { .. }) {
                    self.outbox_wakeup.notify_one();
                }
                Outcome::Ack
            }
            Err(e) => Outcome::Retry {
                after: Duration::from_secs(2),
                reason: format!("state event {} not applied: {e}", event.event_id()),
            },
        }
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
        Applied::Early { from, to } => tracing::error!(
            %submission, %from, %to, event_id,
            "state event given up: its predecessor never arrived"
        ),
    }
}
