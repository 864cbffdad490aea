//! The live score feed: one NATS subscription to `score.recorded` (and one to the hint that a
//! board changed without a score) per page server, fanned out to every open leaderboard as
//! server-sent events.
//!
//! Why SSE over a websocket: the feed only flows to the browser, SSE reconnects by itself and
//! passes through any HTTP proxy. Why a broadcast channel: one NATS message becomes one shared
//! `Arc`, serialised once, that each subscriber's stream wraps as its own SSE event; a
//! subscriber too slow to keep up skips to the newest and is told to refresh, so it never
//! holds the others back.
//!
//! Each open feed holds a connection, so [`LiveGate`] caps them per client address and in total
//! (`frontend.live_max_per_client`, `frontend.live_max_total`); the one over a cap is refused
//! with 429 or 503 and a message, and the page polls the board instead of following the feed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use darkroom_api::ScoreUpdate;
use darkroom_core::events::{BoardChanged, Event, ScoreRecorded};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

/// An update as every subscriber sends it: serialised once at publish, not once per viewer.
struct Encoded {
    challenge: String,
    /// The SSE event's name: `score` (a [`ScoreUpdate`]) or `refresh` (read the board again).
    event: &'static str,
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
        self.sender.send(Arc::new(Encoded { challenge: update.challenge, event: "score", json })).unwrap_or(0)
    }

    /// Tells every open board of `challenge` to read itself again (it changed without a score).
    pub fn refresh(&self, challenge: String) -> usize {
        self.sender.send(Arc::new(Encoded { challenge, event: "refresh", json: "{}".into() })).unwrap_or(0)
    }

    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// The SSE events for one challenge's leaderboard: a `score` event per update of that
    /// challenge, a bare `refresh` when its board changed without a score or after the
    /// subscriber fell behind.
    pub fn events(&self, challenge: String) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send + use<> {
        BroadcastStream::new(self.sender.subscribe()).filter_map(move |item| {
            let event = match item {
                Ok(update) if update.challenge == challenge => {
                    Some(SseEvent::default().event(update.event).data(update.json.as_str()))
                }
                Ok(_) => None,
                Err(BroadcastStreamRecvError::Lagged(_)) => Some(SseEvent::default().event("refresh").data("{}")),
            };
            std::future::ready(event.map(Ok))
        })
    }
}

/// How often a page refused the feed re-fetches its board instead (the browser's side, in
/// `crate::live`, uses the same number; the refusal's `Retry-After` says it too).
pub const POLL_SECONDS: u64 = 30;

/// Counts the open feeds and admits a new one only under both caps.
#[derive(Clone)]
pub struct LiveGate {
    per_client: usize,
    total: usize,
    open: Arc<Mutex<Open>>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// Why a feed was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// This client address holds `live_max_per_client` feeds already.
    Client(usize),
    /// The page server holds `live_max_total` feeds already.
    Total(usize),
}

/// One admitted feed; dropping it (the stream ends when the client goes) frees its place.
pub struct Admission {
    gate: LiveGate,
    client: IpAddr,
}

impl LiveGate {
    pub fn new(per_client: usize, total: usize) -> Self {
        Self { per_client, total, open: Arc::default() }
    }

    pub fn admit(&self, client: IpAddr) -> Result<Admission, Refused> {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mine = open.by_client.get(&client).copied().unwrap_or(0);
        if mine >= self.per_client {
            return Err(Refused::Client(self.per_client));
        }
        if open.total >= self.total {
            return Err(Refused::Total(self.total));
        }
        open.total += 1;
        *open.by_client.entry(client).or_default() += 1;
        Ok(Admission { gate: self.clone(), client })
    }

    /// Feeds open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).total
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_client.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_client.remove(&self.client);
            }
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Refused::Client(cap) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this address has {cap} live leaderboards open already (frontend.live_max_per_client): close some; \
                     this page re-reads the board every {POLL_SECONDS} s instead"
                ),
            ),
            Refused::Total(cap) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the server follows {cap} live leaderboards already (frontend.live_max_total); this page re-reads \
                     the board every {POLL_SECONDS} s instead"
                ),
            ),
        };
        (status, [(RETRY_AFTER, POLL_SECONDS.to_string())], message).into_response()
    }
}

/// `GET /live/{slug}`: the challenge's score updates as server-sent events, when the caps admit
/// one more feed for this client address.
pub async fn sse(
    State(hub): State<LiveHub>,
    State(gate): State<LiveGate>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
) -> Response {
    let admission = match gate.admit(client.ip()) {
        Ok(a) => a,
        Err(refused) => {
            tracing::debug!(client = %client.ip(), ?refused, "live feed refused");
            return refused.into_response();
        }
    };
    // The admission lives as long as the stream, which axum drops when the client goes.
    let events = hub.events(slug).map(move |event| {
        let _held = &admission;
        event
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

/// Feeds the hub from NATS until the connection is dropped. A plain subscription, not a durable
/// consumer: a page server that was down has nobody to tell, and pages re-read the leaderboard
/// whenever their feed reconnects.
pub async fn follow_scores(nats: async_nats::Client, hub: LiveHub) {
    let subscriptions =
        futures::future::try_join(nats.subscribe(ScoreRecorded::SUBJECT), nats.subscribe(BoardChanged::SUBJECT)).await;
    let (scores, hints) = match subscriptions {
        Ok(both) => both,
        Err(e) => {
            tracing::error!(error = %e, "cannot subscribe to score events; leaderboards will not update live");
            return;
        }
    };
    let mut messages = futures::stream::select(scores, hints);
    while let Some(message) = messages.next().await {
        if message.subject.as_str() == BoardChanged::SUBJECT {
            match serde_json::from_slice::<BoardChanged>(&message.payload) {
                Ok(hint) => {
                    let reached = hub.refresh(hint.challenge);
                    tracing::debug!(reached, "board change pushed to leaderboards");
                }
                Err(e) => tracing::warn!(error = %e, "undecodable board change ignored"),
            }
            continue;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_caps_per_client_and_in_total_and_frees_places() {
        let gate = LiveGate::new(2, 3);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).err(), Some(Refused::Client(2)));
        let _third = gate.admit(b).unwrap();
        assert_eq!(gate.admit(b).err(), Some(Refused::Total(3)));
        drop(first);
        assert_eq!(gate.open(), 2);
        assert!(gate.admit(b).is_ok());
    }
}
