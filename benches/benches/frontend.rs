//! The web pages' costs: rendering a 10,000-row leaderboard on the server, and fanning one
//! score update out to 1,000 live subscribers.
//!
//! `cargo bench -p darkroom-benches --bench frontend`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use darkroom_api::{Direction, Leaderboard, LeaderboardEntry, Metric, ScoreUpdate};
use darkroom_frontend::components::LeaderboardTable;
use darkroom_frontend::server::live::LiveHub;
use futures::StreamExt;
use leptos::prelude::*;

fn board(rows: usize) -> (Leaderboard, Vec<Metric>) {
    let now = Utc::now();
    let entries = (0..rows)
        .map(|i| LeaderboardEntry {
            rank: i as u32 + 1,
            participant: format!("participant-{i:05}"),
            team: (i % 3 == 0).then(|| format!("team-{}", i / 3)),
            submission_id: format!("0190a7c2-0000-7000-8000-{i:012}").parse().expect("a UUID"),
            metrics: BTreeMap::from([
                ("accuracy".to_owned(), 1.0 - i as f64 / rows as f64),
                ("roc_auc".to_owned(), 0.99 - i as f64 / (2 * rows) as f64),
            ]),
            submissions: (i % 20) as u32 + 1,
            submitted_at: now,
            scored_at: now,
            interval: None,
        })
        .collect();
    let metrics =
        vec![Metric::new("accuracy", Direction::HigherIsBetter), Metric::new("roc_auc", Direction::HigherIsBetter)];
    let board = Leaderboard {
        challenge: "bench".into(),
        phase: "dev".into(),
        rank_by: "accuracy".into(),
        direction: Direction::HigherIsBetter,
        entries,
        decimals: None,
        chain: None,
        evaluator: None,
        generations: Vec::new(),
    };
    (board, metrics)
}

fn render(board: Leaderboard, metrics: Vec<Metric>) -> String {
    Owner::new().with(|| view! { <LeaderboardTable board metrics/> }.to_html())
}

fn ssr_leaderboard(c: &mut Criterion) {
    let _ = any_spawner::Executor::init_tokio();
    let (b, m) = board(10_000);
    let html = render(b.clone(), m.clone());
    assert!(html.contains("participant-09999"), "all rows rendered");
    eprintln!("10,000-row leaderboard: {} KiB of HTML", html.len() / 1024);
    let mut group = c.benchmark_group("frontend");
    group.sample_size(20);
    group.bench_function("ssr_leaderboard_10k_rows", |bench| bench.iter(|| render(b.clone(), m.clone())));
    group.finish();
}

/// One update published to the hub → every one of 1,000 subscribers holds its SSE event.
/// Subscribers are the same streams the `/live/{slug}` handler returns, each polled by its
/// own task as a connection's would be; the HTTP write itself is left out.
fn live_fanout(c: &mut Criterion) {
    const SUBSCRIBERS: usize = 1000;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let hub = LiveHub::new(64);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    rt.block_on(async {
        for _ in 0..SUBSCRIBERS {
            let mut events = Box::pin(hub.events("bench".into()));
            let done = done_tx.clone();
            tokio::spawn(async move {
                while let Some(Ok(_event)) = events.next().await {
                    if done.send(()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    assert_eq!(hub.subscribers(), SUBSCRIBERS);
    let mut group = c.benchmark_group("frontend");
    group.sample_size(30);
    group.bench_function("live_fanout_1000_subscribers", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let start = Instant::now();
                    let submission_id = uuid::Uuid::from_u128(u128::from(i)).into();
                    let update = ScoreUpdate { challenge: "bench".into(), phase: "dev".into(), submission_id };
                    assert_eq!(hub.publish(update), SUBSCRIBERS);
                    for _ in 0..SUBSCRIBERS {
                        done_rx.recv().await.expect("a subscriber answered");
                    }
                    total += start.elapsed();
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group!(benches, ssr_leaderboard, live_fanout);
criterion_main!(benches);
