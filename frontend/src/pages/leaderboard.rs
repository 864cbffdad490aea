//! `/challenges/:slug/leaderboard?phase=`: the ranking of a phase, updated live. When the
//! server announces a new score for this challenge (server-sent events from `score.recorded`),
//! the board is fetched again and re-rendered in place, without a reload.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::render;
use crate::api::{LeaderboardPage, load_leaderboard};
use crate::components::LeaderboardTable;

/// Where the live feed stands, shown to the viewer and read by the browser tests.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LiveState {
    /// Server-rendered, scripts not running yet (or not at all).
    Static,
    Connecting,
    Live,
    Offline,
}

impl LiveState {
    fn label(self) -> &'static str {
        match self {
            LiveState::Static => "static",
            LiveState::Connecting => "connecting",
            LiveState::Live => "live",
            LiveState::Offline => "offline",
        }
    }

    fn text(self) -> &'static str {
        match self {
            LiveState::Static => "Reload for new scores",
            LiveState::Connecting => "Connecting…",
            LiveState::Live => "Live: new scores appear by themselves",
            LiveState::Offline => "Offline: reconnecting…",
        }
    }
}

#[component]
pub fn LeaderboardView() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let phase = move || query.read().get("phase").filter(|p| !p.is_empty());
    let refresh = RwSignal::new(0u64);
    let live = RwSignal::new(LiveState::Static);
    let page = Resource::new(move || (slug(), phase(), refresh.get()), |(s, p, _)| load_leaderboard(s, p));
    #[cfg(feature = "hydrate")]
    crate::live::follow(slug, refresh, live);
    view! {
        // Transition keeps the current board on screen while a refreshed one is fetched.
        <Transition fallback=|| view! { <p>"Loading the leaderboard…"</p> }>
            {move || Suspend::new(async move {
                render("leaderboard", page.await, move |p| view! { <Board page=p live/> }.into_any())
            })}
        </Transition>
    }
}

#[component]
fn Board(page: LeaderboardPage, live: RwSignal<LiveState>) -> impl IntoView {
    let LeaderboardPage { title, metrics, phases, board } = page;
    let slug = board.challenge.clone();
    let current = board.phase.clone();
    view! {
        <Title text=format!("Leaderboard · {title}")/>
        <h1>{title.clone()}" — leaderboard"</h1>
        <p>
            <A href=format!("/challenges/{slug}")>"About this challenge"</A>
            " · "
            <span class="live" id="live-status" data-live=move || live.get().label() aria-live="polite">
                {move || live.get().text()}
            </span>
        </p>
        {(phases.len() > 1).then(|| view! {
            <nav class="phases" aria-label="Phases">
                {phases.into_iter().map(|p| {
                    let href = format!("/challenges/{slug}/leaderboard?phase={p}");
                    // A plain link: the router's <A> marks every phase current (same path).
                    let here = (p == current).then_some("page");
                    view! { <a href=href aria-current=here>{p}</a> }
                }).collect_view()}
            </nav>
        })}
        <div class="table-scroll" aria-live="polite">
            <LeaderboardTable board metrics/>
        </div>
    }
}
