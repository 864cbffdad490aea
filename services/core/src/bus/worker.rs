//! The one way to consume JetStream: a [`Handler`] says what one decoded event means and
//! answers with an [`Outcome`]; the [`Worker`] does everything else.
//!
//! The worker (re)creates the stream and the durable consumer, reconnecting with [`Backoff`]
//! after a NATS outage; pulls with bounded concurrency; decodes (an undecodable message is
//! logged and terminated, so it can never loop); runs each handler in a span naming its
//! submission and attempt, a child of the trace context in the message's headers (see
//! `telemetry`; a redelivery continues the same trace with a new span), telling JetStream
//! every third of the ack wait that a long handler is still at work; then acknowledges,
//! redelivers, passes on or drops as the handler said.
//!
//! On shutdown ([`Worker::run_until`]) it stops pulling, lets the handlers in flight finish
//! for up to the drain time, then raises their [`StopSignal`] and gives them [`HAND_BACK`] to
//! hand their work back before it abandons them; the message of an abandoned handler is
//! redelivered after its ack wait, as after a crash.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::config::NatsConfig;
use crate::events::Decode;

/// How long a message passed on waits before JetStream offers it again, so that a message no
/// running member takes does not spin between them.
pub const PASS_ON_DELAY: Duration = Duration::from_secs(2);

/// How long handlers have to hand their work back once the drain time is over.
pub const HAND_BACK: Duration = Duration::from_secs(10);

/// What to do with a message once its handler is done with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handled (or known to need nothing): acknowledged, never delivered again.
    Ack,
    /// Not handled now, but it may be later (a database or NATS away): redelivered after
    /// `after`. `reason` is logged.
    Retry { after: Duration, reason: String },
    /// Not for this member of the durable consumer (a runner of another node type): offered
    /// again, after [`PASS_ON_DELAY`], to whichever member pulls next.
    PassOn,
    /// Can never be handled: logged as an error with `reason` and terminated.
    Drop { reason: String },
}

/// Handles one consumer's events. `handle` runs once per delivery; redeliveries happen (a
/// crash, a lost ack), so it must be idempotent.
pub trait Handler: Send + Sync + 'static {
    type Event: Decode + Send + 'static;

    fn handle(&self, event: Self::Event, message: &MessageContext) -> impl Future<Output = Outcome> + Send;
}

/// What a handler knows about the message beside its event.
#[derive(Debug)]
pub struct MessageContext {
    pub subject: String,
    /// How many times the message has been delivered, this time included.
    pub delivered: i64,
    pub stop: StopSignal,
}

/// Raised when the worker shuts down and its drain time is over: a handler still at work
/// hands it back (stops it, publishes what lets another take it over) and returns.
#[derive(Debug, Clone)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// A signal that is never raised, for running a handler's work outside a worker.
    pub fn never() -> Self {
        let (_, rx) = watch::channel(false);
        Self(rx)
    }

    pub fn is_raised(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the signal is raised; never, if it never is.
    pub async fn raised(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|raised| *raised).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The durable pull consumer a worker reads from.
#[derive(Debug, Clone)]
pub struct Durable {
    pub name: &'static str,
    pub subjects: &'static [&'static str],
    /// How long a delivered message may go unacknowledged before JetStream redelivers it;
    /// handlers in progress report every third of it.
    pub ack_wait: Duration,
    /// How many messages the consumer hands out unacknowledged (the server's default when
    /// `None`); a worker whose handlers take long sets it to its concurrency, so no message
    /// waits in its hands for a slot.
    pub max_ack_pending: Option<i64>,
}

/// Runs a [`Handler`] on a durable consumer.
pub struct Worker<H> {
    js: jetstream::Context,
    nats: NatsConfig,
    durable: Durable,
    concurrency: usize,
    handler: Arc<H>,
}

impl<H: Handler> Worker<H> {
    /// One message at a time, in stream order, until [`Worker::concurrency`] says otherwise.
    pub fn new(js: jetstream::Context, nats: &NatsConfig, durable: Durable, handler: H) -> Self {
        Self { js, nats: nats.clone(), durable, concurrency: 1, handler: Arc::new(handler) }
    }

    /// Handles up to `n` messages at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Consumes forever; dropping the future stops the handlers mid-way, and their messages
    /// are redelivered after their ack wait.
    pub async fn run(self) {
        self.run_until(std::future::pending(), Duration::ZERO).await;
    }

    /// Consumes until `shutdown` resolves, then drains (see the module's documentation) for
    /// up to `drain` and returns.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>, drain: Duration) {
        let name = self.durable.name;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut jobs = JoinSet::new();
        self.pull_until(shutdown, &mut jobs, &StopSignal(stop_rx)).await;
        if jobs.is_empty() {
            return;
        }
        tracing::info!(consumer = name, in_flight = jobs.len(), ?drain, "stopped pulling; draining");
        if finish(&mut jobs, drain).await {
            return;
        }
        tracing::warn!(consumer = name, in_flight = jobs.len(), "drain time over; handing the rest back");
        let _ = stop_tx.send(true);
        if !finish(&mut jobs, HAND_BACK).await {
            tracing::error!(
                consumer = name,
                abandoned = jobs.len(),
                "handlers did not hand back in time; their messages are redelivered after the ack wait"
            );
            jobs.shutdown().await;
        }
    }

    /// Pulls and spawns handlers until `shutdown`; reconnects after any failure.
    async fn pull_until(&self, shutdown: impl Future<Output = ()>, jobs: &mut JoinSet<()>, stop: &StopSignal) {
        let name = self.durable.name;
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        tokio::pin!(shutdown);
        loop {
            let Some(pulled) = unless(shutdown.as_mut(), self.messages()).await else { return };
            let failure = match pulled {
                Err(e) => format!("cannot pull messages: {e}"),
                Ok(mut messages) => {
                    tracing::info!(consumer = name, concurrency = self.concurrency, "consuming");
                    loop {
                        let Some(next) = unless(shutdown.as_mut(), messages.next()).await else { return };
                        let message = match next {
                            Some(Ok(m)) => m,
                            Some(Err(e)) => break format!("message stream interrupted: {e}"),
                            None => break "message stream ended".to_owned(),
                        };
                        backoff.reset();
                        let Some(permit) = unless(shutdown.as_mut(), permits.clone().acquire_owned()).await else {
                            // Not started: whoever pulls next takes it at once.
                            let _ = message.ack_with(AckKind::Nak(None)).await;
                            return;
                        };
                        while jobs.try_join_next().is_some() {}
                        let delivery = Delivery {
                            handler: self.handler.clone(),
                            consumer: name,
                            progress_every: (self.durable.ack_wait / 3).max(Duration::from_millis(100)),
                            stop: stop.clone(),
                        };
                        jobs.spawn(delivery.handle(message, permit.expect("the semaphore is never closed")));
                    }
                }
            };
            let delay = backoff.next();
            tracing::warn!(consumer = name, error = %failure, retry_in = ?delay, "consumer interrupted; reconnecting");
            if unless(shutdown.as_mut(), tokio::time::sleep(delay)).await.is_none() {
                return;
            }
        }
    }

    /// The stream, the durable consumer and its message stream, each created if missing (after
    /// an outage the server may have lost them).
    async fn messages(&self) -> Result<jetstream::consumer::pull::Stream, async_nats::Error> {
        let stream = super::ensure_stream(&self.js, &self.nats).await?;
        let d = &self.durable;
        let consumer = super::durable_consumer(&stream, d.name, d.subjects, d.ack_wait, d.max_ack_pending).await?;
        Ok(consumer.messages().await?)
    }
}

/// What `work` gives, or `None` when `shutdown` comes first.
async fn unless<F: Future>(shutdown: Pin<&mut impl Future<Output = ()>>, work: F) -> Option<F::Output> {
    tokio::select! {
        biased;
        () = shutdown => None,
        out = work => Some(out),
    }
}

/// Waits up to `limit` for every job to end; whether they all did.
async fn finish(jobs: &mut JoinSet<()>, limit: Duration) -> bool {
    tokio::time::timeout(limit, async { while jobs.join_next().await.is_some() {} }).await.is_ok()
}

/// One message through its handler.
struct Delivery<H> {
    handler: Arc<H>,
    consumer: &'static str,
    progress_every: Duration,
    stop: StopSignal,
}

impl<H: Handler> Delivery<H> {
    async fn handle(self, message: jetstream::Message, _permit: OwnedSemaphorePermit) {
        let consumer = self.consumer;
        let subject = message.subject.to_string();
        let event = match H::Event::decode(&subject, &message.payload) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!(consumer, subject, error = %e, "undecodable message dropped");
                settle(&message, AckKind::Term).await;
                return;
            }
        };
        let (submission, attempt) = event.submission();
        let span = tracing::info_span!("message", consumer, %submission, attempt, trace_id = tracing::field::Empty);
        let headers = message.headers.as_ref();
        crate::telemetry::continue_trace(&span, |name| headers?.get(name).map(async_nats::HeaderValue::as_str));
        let context = MessageContext {
            subject,
            delivered: message.info().map(|i| i.delivered).unwrap_or(1),
            stop: self.stop.clone(),
        };
        async {
            let outcome = with_progress(&message, self.progress_every, self.handler.handle(event, &context)).await;
            match outcome {
                // A plain ack: waiting for the server to confirm it (a double ack) would cost a
                // reply per message and hold the handler's slot for the round trip, and a lost
                // ack only means a redelivery, which every handler recognises as handled. The
                // ack goes out on the connection before the worker's next pull, so the server
                // counts it before it hands out another message.
                Outcome::Ack => settle(&message, AckKind::Ack).await,
                Outcome::Retry { after, reason } => {
                    tracing::warn!(%reason, retry_in = ?after, "not handled; redelivery later");
                    settle(&message, AckKind::Nak(Some(after))).await;
                }
                Outcome::PassOn => {
                    tracing::debug!("passed on to another member of the consumer");
                    settle(&message, AckKind::Nak(Some(PASS_ON_DELAY))).await;
                }
                Outcome::Drop { reason } => {
                    tracing::error!(%reason, "message dropped");
                    settle(&message, AckKind::Term).await;
                }
            }
        }
        .instrument(span)
        .await;
    }
}

/// Sends `kind`; a lost one only means a redelivery after the ack wait, which handlers expect.
async fn settle(message: &jetstream::Message, kind: AckKind) {
    if let Err(e) = message.ack_with(kind).await {
        tracing::warn!(error = %e, "could not answer JetStream about a message; it will be redelivered");
    }
}

/// Runs `work` while telling JetStream every `every` that `message` is still being worked on,
/// so a long handler's message is not redelivered; when the worker's task dies, the progress
/// stops with it and the message is redelivered after its ack wait.
async fn with_progress<F: Future>(message: &jetstream::Message, every: Duration, work: F) -> F::Output {
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            () = tokio::time::sleep(every) => {
                let _ = message.ack_with(AckKind::Progress).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_signal_is_raised_once_sent_and_never_without() {
        let (tx, rx) = watch::channel(false);
        let stop = StopSignal(rx);
        assert!(!stop.is_raised());
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(1), stop.raised()).await.expect("raised");
        assert!(stop.is_raised());
        let never = StopSignal::never();
        assert!(tokio::time::timeout(Duration::from_millis(50), never.raised()).await.is_err());
        assert!(!never.is_raised());
    }

    #[tokio::test]
    async fn unless_gives_the_work_or_nothing_once_shut_down() {
        let open = std::pin::pin!(std::future::pending::<()>());
        assert_eq!(unless(open, async { 7 }).await, Some(7));
        let closed = std::pin::pin!(async {});
        assert_eq!(unless(closed, std::future::pending::<u8>()).await, None);
    }
}
