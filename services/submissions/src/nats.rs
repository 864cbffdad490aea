//! The JetStream connection and the stream every Darkroom event lives in.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use darkroom_core::config::NatsConfig;
use darkroom_core::events::{STREAM, STREAM_SUBJECTS};

/// Connects without waiting for the server: when NATS is down the client keeps retrying in the
/// background, and the outbox holds events until it is back.
pub async fn connect(config: &NatsConfig) -> anyhow::Result<async_nats::Client> {
    let client = async_nats::ConnectOptions::new()
        .name("darkroom-submissions")
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        .connect(&config.url)
        .await
        .map_err(|e| anyhow::anyhow!("nats.url '{}': {e}", config.url))?;
    Ok(client)
}

/// Creates the stream if it does not exist yet (every service calls this; it is idempotent).
pub async fn ensure_stream(js: &jetstream::Context, config: &NatsConfig) -> Result<stream::Stream, async_nats::Error> {
    let stream = js
        .get_or_create_stream(stream::Config {
            name: STREAM.to_owned(),
            subjects: vec![STREAM_SUBJECTS.to_owned()],
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(config.duplicate_window_seconds),
            ..Default::default()
        })
        .await?;
    Ok(stream)
}
