//! The submissions service under load, against real NATS and a real SQLite file:
//!
//! - `submit_api/sqlite`: one accepted submission (HTTP → quota check → transaction with the
//!   outbox row), sequential and 8 at a time.
//! - `event_round_trip`: from the HTTP submit until the `submission.created` event reaches a
//!   NATS subscriber through the outbox relay and JetStream.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use darkroom_core::events::{Event, SubmissionCreated};
use darkroom_tests::registry::publish;
use darkroom_tests::{Backend, TestApp};
use futures::StreamExt;
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// An app with an open challenge without quotas and one registered participant.
async fn setup() -> (TestApp, String, String) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let slug = app.create_challenge("bench", |s| s["quotas"] = json!({})).await;
    let token = app.register("Bencher").await;
    (app, slug, token)
}

fn submit_api(c: &mut Criterion) {
    let rt = runtime();
    let (app, slug, token) = rt.block_on(setup());
    let name = rt.block_on(publish("bench/model:1"));
    let mut group = c.benchmark_group("submit_api/sqlite");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sequential", |b| {
        b.to_async(&rt).iter(|| async {
            let (status, body) = app.submit(&slug, &token, &name).await;
            assert_eq!(status, 202, "{body}");
        })
    });
    group.throughput(Throughput::Elements(8));
    group.bench_function("8_concurrent", |b| {
        b.to_async(&rt).iter(|| async {
            let results = futures::future::join_all((0..8).map(|_| app.submit(&slug, &token, &name))).await;
            assert!(results.iter().all(|(s, _)| *s == 202));
        })
    });
    group.finish();
}

fn event_round_trip(c: &mut Criterion) {
    let rt = runtime();
    let (app, slug, token) = rt.block_on(setup());
    let name = rt.block_on(publish("bench/model:1"));
    let client = rt.block_on(async_nats::connect(app.nats.url())).expect("connect");
    let events = tokio::sync::Mutex::new(rt.block_on(client.subscribe(SubmissionCreated::SUBJECT)).expect("subscribe"));
    let mut group = c.benchmark_group("event_round_trip");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("submit_to_submission_created", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (app, slug, token, events, name) = (&app, &slug, &token, &events, &name);
            async move {
                let mut events = events.lock().await;
                let start = Instant::now();
                for _ in 0..iters {
                    let (status, body) = app.submit(slug, token, name).await;
                    assert_eq!(status, 202, "{body}");
                    let id = body["id"].as_str().unwrap().to_owned();
                    loop {
                        let msg = tokio::time::timeout(Duration::from_secs(10), events.next())
                            .await
                            .expect("event in time")
                            .expect("stream open");
                        let ev: SubmissionCreated = serde_json::from_slice(&msg.payload).expect("payload");
                        if ev.submission_id.to_string() == id {
                            break;
                        }
                    }
                }
                start.elapsed()
            }
        })
    });
    group.finish();
}

criterion_group!(benches, submit_api, event_round_trip);
criterion_main!(benches);
