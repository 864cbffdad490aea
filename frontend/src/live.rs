//! The browser end of the live feed: an `EventSource` on `/live/<slug>` that bumps the
//! leaderboard's refresh counter when a score of the shown phase arrives, or a `refresh` (after
//! a gap, or when the board changed without a score: a disqualification or reinstatement).
//!
//! When the server refuses the feed (too many open from this address or in total: 429 or 503),
//! the `EventSource` closes for good instead of reconnecting, and the page polls: it bumps the
//! counter every [`POLL_SECONDS`] for as long as it is shown.

use darkroom_api::ScoreUpdate;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

use crate::pages::leaderboard::LiveState;

/// How often a page refused the feed re-reads the board (the server's `Retry-After` says the same).
const POLL_SECONDS: u64 = 30;

/// Follows `slug`'s feed for as long as the calling component lives.
pub fn follow(slug: impl Fn() -> String + Send + Sync + 'static, refresh: RwSignal<u64>, live: RwSignal<LiveState>) {
    Effect::new(move |_| {
        let slug = slug();
        live.set(LiveState::Connecting);
        let Ok(source) = EventSource::new(&format!("/live/{slug}")) else {
            live.set(LiveState::Offline);
            return;
        };
        let on_open = Closure::<dyn FnMut()>::new(move || {
            live.set(LiveState::Live);
            // Anything recorded while the feed was down is in the fresh board.
            refresh.update(|n| *n += 1);
        });
        // A dropped connection reconnects by itself (CONNECTING); a refusal, or any answer that
        // is not a feed, leaves the source CLOSED: then poll instead.
        let polling = std::rc::Rc::new(std::cell::Cell::new(None::<IntervalHandle>));
        let (closed_source, poller) = (source.clone(), polling.clone());
        let on_error = Closure::<dyn FnMut()>::new(move || {
            if closed_source.ready_state() != EventSource::CLOSED {
                live.set(LiveState::Offline);
                return;
            }
            live.set(LiveState::Polling);
            if poller.get().is_none() {
                let every = std::time::Duration::from_secs(POLL_SECONDS);
                poller.set(set_interval_with_handle(move || refresh.update(|n| *n += 1), every).ok());
            }
        });
        let on_score = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let update = event.data().as_string().and_then(|d| serde_json::from_str::<ScoreUpdate>(&d).ok());
            if update.is_some() {
                refresh.update(|n| *n += 1);
            }
        });
        let on_refresh = Closure::<dyn FnMut()>::new(move || refresh.update(|n| *n += 1));
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let _ = source.add_event_listener_with_callback("score", on_score.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("refresh", on_refresh.as_ref().unchecked_ref());
        let held = SendWrapper::new((source, on_open, on_error, on_score, on_refresh, polling));
        on_cleanup(move || {
            held.0.close();
            if let Some(handle) = held.5.take() {
                handle.clear();
            }
        });
    });
}
