//! The leaderboard read path with 100,000 scores from 10,000 participants (smoke: 1,000 from
//! 100), through the submissions service's API on real MongoDB wire protocol and SQLite:
//!
//! - `api_cached`: what a viewer of a live board gets between scores (one version read, the
//!   kept body).
//! - `api_after_new_score`: the first request after a score arrived (version read, the kept
//!   board brought up to date from the changed line, participant names, intervals, JSON).
//! - `store_query`: the whole board query alone (what a request falls back to).
//! - `store_delta`: what replaces it after one new score: the version with its change log,
//!   and the changed line read by `_id`.
//!
//! Every participant joined the challenge and one in a thousand is disqualified, so each request
//! also reads who is excluded and leaves their lines out, as a real board's does.
//!
//! Per-request p50 / p99 from sequential requests land in `bench-results/leaderboard.json`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, SamplingMode};
use darkroom_benches::{ms, percentile, pick, runtime, write_results};
use darkroom_core::domain::Direction;
use darkroom_core::scores::{ScoreDocument, ScoreStore, to_bson_time};
use darkroom_submissions::db::entities::{enrollment, participant};
use darkroom_tests::{Backend, TestApp};
use rand::{Rng, SeedableRng};
use sea_orm::{EntityTrait, Set};
use serde_json::json;

const SLUG: &str = "board";
const PHASE: &str = "dev";

fn score(participant: &str, value: f64, minutes: i64) -> ScoreDocument {
    let t = Utc::now() - chrono::Duration::minutes(minutes);
    ScoreDocument {
        submission_id: uuid::Uuid::now_v7().to_string(),
        challenge: SLUG.into(),
        phase: PHASE.into(),
        participant_id: participant.into(),
        attempt: 1,
        metrics: BTreeMap::from([("accuracy".to_owned(), value), ("roc_auc".to_owned(), value.sqrt())]),
        rank_value: value,
        direction: Direction::HigherIsBetter,
        submitted_at: to_bson_time(t),
        scored_at: to_bson_time(t),
        image_digest: Some("sha256:0".into()),
        evaluation_image: "darkroom-demo-eval:1".into(),
        evaluation_image_digest: None,
    }
}

/// Registers `participants` in the service's database and stores `scores` scores spread over
/// them, then builds the boards from the scores in one pass.
async fn seed(app: &TestApp, store: &ScoreStore, participants: usize, scores: usize) -> Vec<String> {
    let db = sea_orm::Database::connect(&app.database_url).await.expect("database");
    let ids: Vec<String> = (0..participants).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for (c, chunk) in ids.chunks(1000).enumerate() {
        let rows = chunk.iter().enumerate().map(|(i, id)| participant::ActiveModel {
            id: Set(id.clone()),
            name: Set(format!("Lab {}", c * 1000 + i)),
            team: Set(None),
            token_hash: Set(format!("bench-{id}")),
            created_at: Set(Utc::now()),
        });
        participant::Entity::insert_many(rows).exec(&db).await.expect("participants");
        // Each joined the challenge; one in a thousand was disqualified, whose lines every
        // request leaves out (read from the enrollments by their index).
        let joined = chunk.iter().enumerate().map(|(i, id)| enrollment::ActiveModel {
            challenge: Set(SLUG.to_owned()),
            participant_id: Set(id.clone()),
            state: Set("active".to_owned()),
            joined_at: Set(Utc::now()),
            disqualified_at: Set((i == 0).then(Utc::now)),
            disqualified_reason: Set((i == 0).then(|| "two accounts".to_owned())),
            ..Default::default()
        });
        enrollment::Entity::insert_many(joined).exec(&db).await.expect("enrollments");
    }
    let client = mongodb::Client::with_uri_str(&app.config.mongodb.url).await.expect("mongo");
    let raw = client.database(&app.config.mongodb.database).collection::<ScoreDocument>("scores");
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let docs: Vec<ScoreDocument> =
        (0..scores).map(|i| score(&ids[i % participants], rng.random_range(0.0..1.0), i as i64)).collect();
    let started = Instant::now();
    for chunk in docs.chunks(5000) {
        raw.insert_many(chunk).await.expect("scores");
    }
    eprintln!("[leaderboard] stored {scores} scores in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    store.rebuild_boards().await.expect("boards");
    eprintln!("[leaderboard] built the boards in {:.1} s", started.elapsed().as_secs_f64());
    ids
}

fn main() {
    let rt = runtime();
    let (participants, scores) = pick((10_000, 100_000), (100, 1_000));
    let app = rt.block_on(TestApp::spawn(Backend::Sqlite));
    rt.block_on(app.create_challenge(SLUG, |s| s["quotas"] = json!({})));
    let store = rt.block_on(ScoreStore::new(&app.config.mongodb)).expect("store");
    rt.block_on(store.ensure_indexes()).expect("indexes");
    let ids = rt.block_on(seed(&app, &store, participants, scores));
    let url = app.url(&format!("/api/v1/challenges/{SLUG}/leaderboard?phase={PHASE}"));
    let http = reqwest::Client::new();
    let get = || async {
        let resp = http.get(&url).send().await.expect("request");
        assert_eq!(resp.status(), 200);
        let body = resp.bytes().await.expect("body");
        assert!(body.len() > 2);
        body.len()
    };
    let body_bytes = rt.block_on(get());
    // Counted from the board served (the excluded lines left out, the limit still filled).
    let lines_returned = rt.block_on(async {
        let body = http.get(&url).send().await.expect("request").bytes().await.expect("body");
        let board: serde_json::Value = serde_json::from_slice(&body).expect("a board");
        board["entries"].as_array().map_or(0, Vec::len)
    });
    // A score that changes no ranking but moves the version, as a new submission would.
    let mut n = 0;
    let mut new_score = || {
        n += 1;
        let s = score(&ids[n % ids.len()], 0.0, -1);
        rt.block_on(store.record(&s)).expect("record");
    };

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("leaderboard_read");
    group.bench_function("api_cached", |b| b.to_async(&rt).iter(get));
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(5));
    group.bench_function("api_after_new_score", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                new_score();
                let t = Instant::now();
                rt.block_on(get());
                total += t.elapsed();
            }
            total
        })
    });
    group.bench_function("store_query", |b| {
        b.to_async(&rt).iter(|| async { store.leaderboard(SLUG, PHASE, 1000).await.expect("query").len() })
    });
    group.finish();
    c.final_summary();

    // Per-request percentiles.
    let timed = |k: usize, before: &mut dyn FnMut()| -> Vec<Duration> {
        (0..k)
            .map(|_| {
                before();
                let t = Instant::now();
                rt.block_on(get());
                t.elapsed()
            })
            .collect()
    };
    rt.block_on(get());
    let cached = timed(pick(2000, 20), &mut || {});
    let fresh = timed(pick(100, 3), &mut new_score);
    let query: Vec<Duration> = (0..pick(100, 3))
        .map(|_| {
            let t = Instant::now();
            rt.block_on(store.leaderboard(SLUG, PHASE, 1000)).expect("query");
            t.elapsed()
        })
        .collect();
    let delta: Vec<Duration> = (0..pick(100, 3))
        .map(|_| {
            let t = Instant::now();
            let lines = rt.block_on(async {
                let changes = store.board_changes(SLUG, PHASE).await.expect("changes");
                let last = &changes.changed[changes.changed.len().saturating_sub(1)..];
                store.board_lines(SLUG, PHASE, last).await.expect("lines")
            });
            assert_eq!(lines.len(), 1, "the last recorded participant's line");
            t.elapsed()
        })
        .collect();
    let pct =
        |s: &[Duration]| json!({ "n": s.len(), "p50_ms": ms(percentile(s, 50.0)), "p99_ms": ms(percentile(s, 99.0)) });
    let result = json!({
        "participants": participants,
        "scores": scores,
        "lines_returned": lines_returned,
        "body_bytes": body_bytes,
        "api_cached": pct(&cached),
        "api_after_new_score": pct(&fresh),
        "store_query": pct(&query),
        "store_delta": pct(&delta),
    });
    eprintln!(
        "[leaderboard] {scores} scores / {participants} participants: cached p50 {:.2} ms p99 {:.2} ms; after a new score p50 {:.1} ms p99 {:.1} ms; delta read p50 {:.2} ms",
        ms(percentile(&cached, 50.0)),
        ms(percentile(&cached, 99.0)),
        ms(percentile(&fresh, 50.0)),
        ms(percentile(&fresh, 99.0)),
        ms(percentile(&delta, 50.0)),
    );
    write_results("leaderboard", result);
}
