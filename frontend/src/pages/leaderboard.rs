//! `/challenges/:slug/leaderboard?phase=`: the ranking of a phase, updated live. When the
//! server announces a new score for this challenge (server-sent events from `score.recorded`),
//! the board is fetched again and re-rendered in place, without a reload.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::render;
use darkroom_api::BoardHistory;

use crate::api::{LeaderboardPage, load_leaderboard};
use crate::chart::{self, Chart, Point, Series, Style};
use crate::components::LeaderboardTable;
use crate::format;

/// Where the live feed stands, shown to the viewer and read by the browser tests.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LiveState {
    /// Server-rendered, scripts not running yet (or not at all).
    Static,
    Connecting,
    Live,
    Offline,
    /// The server refused the feed (too many open): the board is re-read every 30 s.
    Polling,
}

impl LiveState {
    fn label(self) -> &'static str {
        match self {
            LiveState::Static => "static",
            LiveState::Connecting => "connecting",
            LiveState::Live => "live",
            LiveState::Offline => "offline",
            LiveState::Polling => "polling",
        }
    }

    fn text(self) -> &'static str {
        match self {
            LiveState::Static => "Reload for new scores",
            LiveState::Connecting => "Connecting…",
            LiveState::Live => "Live: new scores appear by themselves",
            LiveState::Offline => "Offline: reconnecting…",
            LiveState::Polling => "Live updates are busy: the board refreshes every 30 seconds",
        }
    }
}

#[component]
pub fn LeaderboardView() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let phase = move || query.read().get("phase").filter(|p| !p.is_empty());
    let private = move || query.read().get("board").is_some_and(|b| b == "private");
    let refresh = RwSignal::new(0u64);
    let live = RwSignal::new(LiveState::Static);
    let page = Resource::new(move || (slug(), phase(), refresh.get()), |(s, p, _)| load_leaderboard(s, p));
    #[cfg(feature = "hydrate")]
    crate::live::follow(slug, refresh, live);
    view! {
        // Transition keeps the current board on screen while a refreshed one is fetched.
        <Transition fallback=|| view! { <p>"Loading the leaderboard…"</p> }>
            {move || Suspend::new(async move {
                render("leaderboard", page.await, move |p| {
                    if private() { view! { <Private page=p/> }.into_any() } else { view! { <Board page=p live/> }.into_any() }
                })
            })}
        </Transition>
    }
}

#[component]
fn Board(page: LeaderboardPage, live: RwSignal<LiveState>) -> impl IntoView {
    let LeaderboardPage { title, metrics, phases, board, history, latest_announcement, yours, .. } = page;
    let your_rank = yours.flatten().and_then(|id| board.entries.iter().find(|e| e.submission_id == id)).map(|e| e.rank);
    let lines = board.entries.len();
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
        {latest_announcement.map(|news| view! {
            <p class="latest-announcement" id="latest-announcement">
                "Latest announcement, "<time datetime=news.posted_at.to_rfc3339()>{format::time(news.posted_at)}</time>": "
                <a href=format!("/challenges/{slug}#announcement-{}", news.id)>{news.title}</a>
            </p>
        })}
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
        <Tabs slug=slug.clone() phase=current.clone() private=false/>
        {yours.map(|_| view! {
            <p id="your-line">
                {match your_rank {
                    Some(rank) => view! { "You are "<strong>{format!("#{rank}")}</strong>{format!(" of {lines} on this board.")} }.into_any(),
                    None => "You have no score on this board yet.".into_any(),
                }}
            </p>
        })}
        <div class="table-scroll" aria-live="polite">
            <LeaderboardTable board metrics yours=yours.flatten()/>
        </div>
        {history.map(|history| view! { <BoardChart history/> })}
        <ExportButtons
            base=format!("/challenges/{slug}/export")
            query=format!("phase={current}")
            note="each row with the hash of its signed receipt; darkroom verify --board checks them"
        />
    }
}

/// The board's downloads as buttons: plain links (rel=external: not the router's) to files the
/// page server passes through from the API.
#[component]
fn ExportButtons(base: String, query: String, note: &'static str) -> impl IntoView {
    view! {
        <p class="export" id="export">
            "Download this board: "
            <a class="button" href=format!("{base}/csv?{query}") rel="external" download="">"CSV"</a>
            " "
            <a class="button" href=format!("{base}/json?{query}") rel="external" download="">"JSON"</a>
            " "<span class="hint">{format!("({note})")}</span>
        </p>
    }
}

/// The best score over time of the board's top lines (a step each time one improved), drawn
/// on the server from the values the board shows; re-read and redrawn with the board when a
/// live update arrives.
#[component]
fn BoardChart(history: BoardHistory) -> impl IntoView {
    let drawn: Vec<Series> = history
        .series
        .iter()
        .map(|s| Series {
            name: format!("#{} {}", s.rank, s.entrant()),
            points: s.points.iter().map(|p| Point { at: p.at, value: p.value }).collect(),
        })
        .collect();
    let count = drawn.len();
    let chart = Chart {
        title: format!("Best {} over time of the top {count} ({})", history.rank_by, history.direction.label()),
        metric: history.rank_by.clone(),
        decimals: history.decimals,
        style: Style::Steps,
        series: drawn,
        best: None,
    };
    chart::svg(&chart).map(|svg| {
        view! {
            <figure class="chart-figure" id="board-chart">
                <figcaption>{format!("Best {} over time, top {count}", history.rank_by)}</figcaption>
                <div class="chart-box" inner_html=svg></div>
            </figure>
        }
    })
}

/// Public / Private, for the phase shown.
#[component]
fn Tabs(slug: String, phase: String, private: bool) -> impl IntoView {
    let base = format!("/challenges/{slug}/leaderboard?phase={phase}");
    view! {
        <nav class="phases board-tabs" aria-label="Boards">
            <a href=base.clone() aria-current=(!private).then_some("page")>"Public"</a>
            <a href=format!("{base}&board=private") aria-current=private.then_some("page")>"Private"</a>
        </nav>
    }
}

/// The private board: sealed (the commitment) until the reveal, then the board with the public
/// rank beside the private one.
#[component]
fn Private(page: LeaderboardPage) -> impl IntoView {
    use darkroom_api::PrivateBoard;
    let LeaderboardPage { title, board, private, .. } = page;
    let (slug, phase) = (board.challenge.clone(), board.phase.clone());
    let (export_slug, export_phase) = (slug.clone(), phase.clone());
    let body = match private {
        None => view! { <p>"The private board cannot be read right now; try again in a moment."</p> }.into_any(),
        Some(PrivateBoard::Open { ends_at, .. }) => view! {
            <p id="private-state" data-state="open">
                "Sealed until the phase closes (" {crate::format::time(ends_at)} "): private scores are computed on data nobody gets feedback on."
            </p>
        }
        .into_any(),
        Some(PrivateBoard::Sealed { commitment, closed_at, .. }) => view! {
            <p id="private-state" data-state="sealed">
                "Closed " {crate::format::time(closed_at)} ". Sealed until reveal; commitment (SHA-256 of salt and board): "
                <code id="commitment">{commitment}</code>
            </p>
        }
        .into_any(),
        Some(PrivateBoard::Revealed { rank_by, board, commitment, revealed_at, intervals, .. }) => view! {
            <p id="private-state" data-state="revealed">
                "Revealed " {crate::format::time(revealed_at)} "; commitment " <code id="commitment">{commitment}</code>
                " (check it with " <code>"darkroom verify-board"</code> ")."
            </p>
            <ExportButtons
                base=format!("/challenges/{export_slug}/export")
                query=format!("phase={export_phase}&board=private")
                note="JSON: the revealed board as the API serves it, with the salt and commitment darkroom verify-board checks"
            />
            <div class="table-scroll">
                <table class="board private-board">
                    <thead><tr>
                        <th>"Rank"</th><th>"Public rank"</th><th>"Participant"</th><th>{rank_by.clone()}</th><th>"95 % interval"</th>
                    </tr></thead>
                    <tbody>
                        {board.rows.into_iter().map(|r| {
                            let interval = intervals.iter().find(|i| i.rank == r.rank).map(|i| format!(
                                "{} – {}{}",
                                crate::format::metric(i.interval.low),
                                crate::format::metric(i.interval.high),
                                if i.interval.tied_with_first { " (tied with #1)" } else { "" }
                            ));
                            let value = r.metrics.get(&rank_by).copied().map(crate::format::metric).unwrap_or_default();
                            let name = r.participant.clone();
                            view! {
                                <tr data-participant=name>
                                    <td>{r.rank}</td>
                                    <td>{r.public_rank.map(|p| p.to_string()).unwrap_or_else(|| "–".into())}</td>
                                    <td>{r.participant}</td>
                                    <td>{value}</td>
                                    <td>{interval}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any(),
    };
    view! {
        <Title text=format!("Private leaderboard · {title}")/>
        <h1>{title}" — leaderboard"</h1>
        <p><A href=format!("/challenges/{slug}")>"About this challenge"</A></p>
        <Tabs slug phase private=true/>
        {body}
    }
}
