//! The JetStream side every service shares: connecting, the one stream, publishing an event
//! so that it is durable before the caller moves on, and consuming through a [`Worker`] (see
//! [`worker`]), the only way a service reads the stream.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};

use crate::backoff::Backoff;
use crate::config::NatsConfig;
use crate::domain::SubmissionId;
use crate::events::{Event, STREAM, STREAM_SUBJECTS};

pub mod outputs;
pub mod worker;

pub use outputs::Outputs;
pub use worker::{Durable, Handler, MessageContext, Outcome, StopSignal, Worker};

/// Connects without waiting for the server: when NATS is down the client keeps retrying in the
/// background, and callers see errors until it is back.
pub async fn connect(config: &NatsConfig, name: &str) -> Result<async_nats::Client, ConnectError> {
    let mut options = async_nats::ConnectOptions::new();
    if let Some((user, password)) = config.credentials()? {
        options = async_nats::ConnectOptions::with_user_and_password(user, password);
    }
    options
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        .connect(&config.url)
        .await
        .map_err(|error| ConnectError::Server { url: config.url.clone(), error })
}

/// NATS cannot be used as configured.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// `nats.url` does not parse, or names no server that can be tried.
    #[error("nats.url '{url}': {error}")]
    Server { url: String, error: async_nats::ConnectError },
    /// The credentials cannot be read.
    #[error(transparent)]
    Credentials(#[from] crate::config::ConfigError),
}

/// Creates the stream if it does not exist yet; idempotent.
pub async fn ensure_stream(js: &jetstream::Context, config: &NatsConfig) -> Result<stream::Stream, async_nats::Error> {
    Ok(js
        .get_or_create_stream(stream::Config {
            name: STREAM.to_owned(),
            subjects: vec![STREAM_SUBJECTS.to_owned()],
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(config.duplicate_window_seconds),
            ..Default::default()
        })
        .await?)
}

/// Publishes `event` with its `Nats-Msg-Id` and waits for JetStream's ack, retrying with
/// backoff for up to about a minute: when this returns `Ok`, the event is stored.
pub async fn publish<E: Event>(js: &jetstream::Context, event: &E) -> Result<(), async_nats::Error> {
    let payload = serde_json::to_vec(event)?;
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut attempt = 0;
    loop {
        match publish_payload(js, E::SUBJECT, event.event_id(), &payload).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 12 => {
                let delay = backoff.next();
                tracing::warn!(error = %e, subject = E::SUBJECT, retry_in = ?delay, "publish failed; retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// How long a publish waits for JetStream's ack.
const PUBLISH_ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Publishes an already serialized `payload` on `subject` with `msg_id` as its `Nats-Msg-Id`
/// and waits for JetStream's ack, once: [`publish`] retries it, the outbox relay retries its
/// rows in its own loop.
///
/// The one place a message gets its trace context: the current span's, as W3C `traceparent`
/// (and `tracestate`) headers, which the consuming [`Worker`] continues. The outbox relay
/// publishes each row inside a span continuing the trace stored with the row.
pub async fn publish_payload(
    js: &jetstream::Context,
    subject: &str,
    msg_id: &str,
    payload: &[u8],
) -> Result<(), async_nats::Error> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", msg_id);
    crate::telemetry::inject_current(|name, value| headers.insert(name, value));
    let ack = js.publish_with_headers(subject.to_owned(), headers, payload.to_vec().into()).await?;
    tokio::time::timeout(PUBLISH_ACK_TIMEOUT, ack).await.map_err(|_| "no publish ack within 5 s")??;
    Ok(())
}

/// Retries a start-up step with backoff until it succeeds, so a service can start before
/// NATS does.
pub async fn retry_until_ok<T, E, F>(what: &str, mut step: impl FnMut() -> F) -> T
where
    E: std::fmt::Display,
    F: std::future::Future<Output = Result<T, E>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        match step().await {
            Ok(v) => return v,
            Err(e) => {
                let delay = backoff.next();
                tracing::warn!(error = %e, retry_in = ?delay, "cannot set up {what}");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// The durable pull consumer `name` on `subjects`, with explicit acks; `max_ack_pending`
/// bounds how many messages it holds unacknowledged (the server's default when `None`).
pub async fn durable_consumer(
    stream: &stream::Stream,
    name: &str,
    subjects: &[&str],
    ack_wait: Duration,
    max_ack_pending: Option<i64>,
) -> Result<jetstream::consumer::Consumer<jetstream::consumer::pull::Config>, async_nats::Error> {
    let mut config = jetstream::consumer::pull::Config {
        durable_name: Some(name.to_owned()),
        filter_subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait,
        ..Default::default()
    };
    if let Some(max) = max_ack_pending {
        config.max_ack_pending = max;
    }
    Ok(stream.get_or_create_consumer(name, config).await?)
}

/// A durable consumer's backlog: messages not yet delivered plus delivered and not yet
/// acknowledged (a dead member's among them, until their ack wait hands them back).
pub fn backlog(info: &jetstream::consumer::Info) -> u64 {
    info.num_pending + info.num_ack_pending as u64
}

/// The backlog of the stream's durable consumer `name`; `None` when it cannot be read (NATS
/// away, or the consumer not made yet).
pub async fn consumer_backlog(js: &jetstream::Context, name: &str) -> Option<u64> {
    let info = js.get_stream(crate::events::STREAM).await.ok()?.consumer_info(name).await.ok()?;
    Some(backlog(&info))
}

/// The runs bucket ([`crate::events::RUNS_BUCKET`]), created if absent: runners claim attempts
/// and record cancellations there; evaluators read the cancellations.
pub async fn runs_bucket(js: &jetstream::Context) -> Result<jetstream::kv::Store, async_nats::Error> {
    let config = jetstream::kv::Config { bucket: crate::events::RUNS_BUCKET.into(), history: 1, ..Default::default() };
    Ok(js.create_key_value(config).await?)
}

/// Records in the runs bucket that `submission_id` is cancelled.
pub async fn mark_cancelled(runs: &jetstream::kv::Store, submission_id: SubmissionId) -> Result<(), async_nats::Error> {
    runs.put(crate::events::cancel_key(submission_id), "1".into()).await?;
    Ok(())
}

/// Whether `submission_id` is cancelled: runners ask before starting a container, evaluators
/// before scoring.
pub async fn is_cancelled(runs: &jetstream::kv::Store, submission_id: SubmissionId) -> Result<bool, async_nats::Error> {
    Ok(runs.get(crate::events::cancel_key(submission_id)).await?.is_some())
}
