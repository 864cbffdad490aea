//! The event spine on a real NATS server: the outbox survives NATS being down, publishes each
//! submission exactly once, and state events are applied idempotently.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use chrono::Utc;
use darkroom_core::domain::FailureKind;
use darkroom_core::events::{Event, RunFinished, RunStarted, ScoreRecorded, SubmissionCreated, SubmissionFailed};
use darkroom_tests::{Backend, TestApp, on_both_backends};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use uuid::Uuid;

on_both_backends!(
    submission_created_arrives_exactly_once_across_a_nats_outage,
    state_events_move_submissions_idempotently,
    platform_failures_are_retried_and_never_charged,
);

/// Every `submission.created` message in the stream, read by a fresh consumer from the start.
async fn created_messages(nats_url: &str, wait: Duration) -> Vec<SubmissionCreated> {
    let client = async_nats::connect(nats_url).await.expect("connect");
    let js = jetstream::new(client);
    let stream = js.get_stream(darkroom_core::events::STREAM).await.expect("the stream exists");
    let consumer = stream
        .create_consumer(pull::Config {
            filter_subject: SubmissionCreated::SUBJECT.into(),
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut out = Vec::new();
    let mut batch = consumer.fetch().max_messages(1000).expires(wait).messages().await.expect("fetch");
    while let Some(Ok(m)) = batch.next().await {
        out.push(serde_json::from_slice(&m.payload).expect("a SubmissionCreated"));
        m.ack().await.ok();
    }
    out
}

async fn publish<E: Event>(nats_url: &str, event: &E) {
    let js = jetstream::new(async_nats::connect(nats_url).await.expect("connect"));
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", event.event_id());
    js.publish_with_headers(E::SUBJECT, headers, serde_json::to_vec(event).unwrap().into())
        .await
        .expect("publish")
        .await
        .expect("ack");
}

async fn submission_created_arrives_exactly_once_across_a_nats_outage(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |_| {}).await;
    let token = app.register("Ada").await;
    // Let the relay create the stream, then take NATS away.
    let (_, first) = app.submit(&slug, &token, "m:0").await;
    wait_until(|| async { created_messages(&app.nats.url(), Duration::from_millis(300)).await.len() == 1 }).await;

    app.nats.stop();
    let (s, sub) = app.submit(&slug, &token, "m:1").await;
    assert_eq!(s, StatusCode::ACCEPTED, "accepting must not need NATS: {sub}");
    let id: Uuid = sub["id"].as_str().unwrap().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await; // the relay tries and fails meanwhile
    app.nats.restart();

    let url = app.nats.url();
    wait_until(|| async {
        created_messages(&url, Duration::from_millis(300)).await.iter().any(|e| e.submission_id == id)
    })
    .await;
    // Give a duplicate every chance to show up, then count.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = created_messages(&url, Duration::from_millis(500)).await;
    let ours: Vec<_> = all.iter().filter(|e| e.submission_id == id).collect();
    assert_eq!(ours.len(), 1, "expected exactly one event for {id}, got {}", ours.len());
    assert_eq!(all.len(), 2, "one event per accepted submission: {all:?}");
    assert_eq!(ours[0].challenge, "nuclei");
    assert_eq!(ours[0].attempt, 1);
    assert_eq!(first["state"], "QUEUED");

    // A restart of the service itself republishes nothing.
    let (nats, parked) = app.shut_down().await;
    let app = TestApp::spawn_with(backend, nats, Some(parked)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(created_messages(&app.nats.url(), Duration::from_millis(500)).await.len(), 2);
}

async fn wait_until<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "condition not met within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn state_events_move_submissions_idempotently(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |_| {}).await;
    let token = app.register("Ada").await;
    let (_, sub) = app.submit(&slug, &token, "m:1").await;
    let id_str = sub["id"].as_str().unwrap().to_owned();
    let id: Uuid = id_str.parse().unwrap();
    let url = app.nats.url();
    let now = Utc::now();

    let started = RunStarted {
        event_id: format!("started-{id}"),
        submission_id: id,
        attempt: 1,
        image_digest: Some("sha256:abc".into()),
        node: None,
        at: now,
    };
    publish(&url, &started).await;
    app.wait_for(&id_str, &token, |b| b["state"] == "RUNNING").await;

    // A redelivered or republished event changes nothing; an impossible one is ignored.
    let mut again = started.clone();
    again.event_id = format!("started-again-{id}");
    publish(&url, &again).await;
    let score = ScoreRecorded {
        event_id: format!("scored-early-{id}"),
        attempt: 1,
        submission_id: id,
        challenge: slug.clone(),
        phase: "dev".into(),
        participant_id: Uuid::nil(),
        metrics: Default::default(),
        at: now,
    };
    publish(&url, &score).await; // RUNNING → COMPLETE skips EVALUATING: impossible
    let garbage = async_nats::connect(url.as_str()).await.unwrap();
    jetstream::new(garbage).publish(RunFinished::SUBJECT, "not json".into()).await.unwrap().await.unwrap();

    let finished = RunFinished {
        event_id: format!("finished-{id}"),
        submission_id: id,
        attempt: 1,
        exit_code: 0,
        duration_ms: 1200,
        peak_memory_bytes: None,
        output_artifact: "sha256-x".into(),
        image_digest: None,
        at: now,
        job: darkroom_tests::fixtures::job(id, &slug),
    };
    publish(&url, &finished).await;
    app.wait_for(&id_str, &token, |b| b["state"] == "EVALUATING").await;
    let mut late = score.clone();
    late.event_id = format!("scored-{id}");
    publish(&url, &late).await;
    let done = app.wait_for(&id_str, &token, |b| b["state"] == "COMPLETE").await;
    let states: Vec<&str> = done["history"].as_array().unwrap().iter().map(|t| t["to"].as_str().unwrap()).collect();
    assert_eq!(states, ["QUEUED", "RUNNING", "EVALUATING", "COMPLETE"]);
    assert_eq!(done["image_digest"], "sha256:abc");

    // After COMPLETE, a stale failure changes nothing.
    let failed = SubmissionFailed {
        event_id: format!("failed-{id}"),
        submission_id: id,
        attempt: 1,
        kind: FailureKind::Participant,
        reason: "late".into(),
        detail: None,
        retrying: false,
        at: now,
    };
    publish(&url, &failed).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, b) = app.call(Method::GET, &format!("/api/v1/submissions/{id_str}"), Some(&token), None).await;
    assert_eq!(b["state"], "COMPLETE");
    assert_eq!(b["history"].as_array().unwrap().len(), 4);
}

async fn platform_failures_are_retried_and_never_charged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |_| {}).await;
    let token = app.register("Ada").await;
    let (_, sub) = app.submit(&slug, &token, "m:1").await;
    let id_str = sub["id"].as_str().unwrap().to_owned();
    let id: Uuid = id_str.parse().unwrap();
    let url = app.nats.url();
    for attempt in 1..=3u32 {
        let started = RunStarted {
            event_id: format!("s-{id}-{attempt}"),
            submission_id: id,
            attempt,
            image_digest: None,
            node: None,
            at: Utc::now(),
        };
        publish(&url, &started).await;
        app.wait_for(&id_str, &token, |b| b["state"] == "RUNNING" && b["attempt"] == attempt).await;
        let failed = SubmissionFailed {
            event_id: format!("f-{id}-{attempt}"),
            submission_id: id,
            attempt,
            kind: FailureKind::Platform,
            reason: "the Docker engine went away".into(),
            detail: None,
            retrying: true,
            at: Utc::now(),
        };
        publish(&url, &failed).await;
        if attempt < 3 {
            app.wait_for(&id_str, &token, |b| b["state"] == "QUEUED" && b["attempt"] == attempt + 1).await;
        }
    }
    let done = app.wait_for(&id_str, &token, |b| b["state"] == "FAILED").await;
    assert!(done["failure_reason"].as_str().unwrap().contains("does not count against your quota"), "{done}");
    assert_eq!(done["counts_against_quota"], false);
    // The retries were published as new attempts of the same submission.
    let attempts = || async {
        created_messages(&url, Duration::from_millis(300))
            .await
            .iter()
            .filter(|e| e.submission_id == id)
            .map(|e| e.attempt)
            .collect::<Vec<u32>>()
    };
    wait_until(|| async { attempts().await.len() >= 3 }).await;
    assert_eq!(attempts().await, [1, 2, 3]);
}
