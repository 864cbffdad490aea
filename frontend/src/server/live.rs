//! The live score feed: one NATS subscription to `score.recorded` per page server, fanned out
//! to every open leaderboard as server-sent events.
//!
//! Why SSE over a websocket: the feed only flows to the browser, SSE reconnects by itself and
//! passes through any HTTP proxy. Why a broadcast channel: one NATS message becomes one shared
//! `Arc`, serialised once, that each subscriber's stream wraps as its own SSE event; a
//! subscriber too slow to keep up skips to the newest and is told to refresh, so it never
//! holds the others back.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use darkroom_api::ScoreUpdate;
use darkroom_core::events::{Event, ScoreRecorded};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

/// An update as every subscriber sends it: serialised once at publish, not once per viewer.
struct Encoded {
    challenge: String,
    json: String,
}

/// Fans score updates out to the open leaderboards.
#[derive(Clone)]
pub struct LiveHub {
    sender: broadcast::Sender<Arc<Encoded>>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl LiveHub {
    /// `backlog`: updates kept for a subscriber that has not read them yet.
    pub fn new(backlog: usize) -> Self {
        Self { sender: broadcast::channel(backlog).0 }
    }

    /// Sends an update to every subscriber; returns how many there were.
    pub fn publish(&self, update: ScoreUpdate) -> usize {
        let json = serde_json::to_string(&update).unwrap_or_default();
        self.sender.send(Arc::new(Encoded { challenge: update.challenge, json })).unwrap_or(0)
    }

    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// The SSE events for one challenge's leaderboard: a `score` event per update of that
    /// challenge, or a bare `refresh` after the subscriber fell behind.
    pub fn events(&self, challenge: String) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send + use<> {
        BroadcastStream::new(self.sender.subscribe()).filter_map(move |item| {
            let event = match item {
                Ok(update) if update.challenge == challenge => {
                    Some(SseEvent::default().event("score").data(update.json.as_str()))
                }
                Ok(_) => None,
                Err(BroadcastStreamRecvError::Lagged(_)) => Some(SseEvent::default().event("refresh").data("{}")),
            };
            std::future::ready(event.map(Ok))
        })
    }
}

/// `GET /live/{slug}`: the challenge's score updates as server-sent events.
pub async fn sse(
    State(hub): State<LiveHub>,
    Path(slug): Path<String>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    Sse::new(hub.events(slug)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Feeds the hub from NATS until the connection is dropped. A plain subscription, not a durable
/// consumer: a page server that was down has nobody to tell, and pages re-read the leaderboard
/// whenever their feed reconnects.
pub async fn follow_scores(nats: async_nats::Client, hub: LiveHub) {
    let mut subscription = match nats.subscribe(ScoreRecorded::SUBJECT).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot subscribe to score events; leaderboards will not update live");
            return;
        }
    };
    while let Some(message) = subscription.next().await {
        match serde_json::from_slice::<ScoreRecorded>(&message.payload) {
            Ok(score) => {
                let update =
                    ScoreUpdate { challenge: score.challenge, phase: score.phase, submission_id: score.submission_id };
                let reached = hub.publish(update);
                tracing::debug!(submission = %score.submission_id, reached, "score pushed to leaderboards");
            }
            Err(e) => tracing::warn!(error = %e, "undecodable score.recorded event ignored"),
        }
    }
}
