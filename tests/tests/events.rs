//! The event spine on a real NATS server: the outbox survives NATS being down, publishes each
//! submission (and each organizer's re-run) exactly once, state events are applied
//! idempotently, run logs are stored once each and shown only to whom they may be, and output
//! archives are read back exactly as written.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use chrono::Utc;
use darkroom_api::SubmissionId;
use darkroom_core::bus::Outputs;
use darkroom_core::bus::outputs::ReadError;
use darkroom_core::domain::ImageSource;
use darkroom_core::domain::SubmissionState;
use darkroom_core::events::OUTPUT_BUCKET;
use darkroom_core::events::{
    Event, FailedBy, RunFinished, RunLog, RunStarted, ScoreRecorded, SubmissionCreated, SubmissionFailed,
};
use darkroom_tests::registry::publish as published;
use darkroom_tests::{ADMIN_TOKEN, Backend, NatsServer, TestApp, fixtures, on_both_backends};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use uuid::Uuid;

on_both_backends!(
    submission_created_arrives_exactly_once_across_a_nats_outage,
    state_events_move_submissions_idempotently,
    platform_failures_are_retried_and_never_charged,
    a_score_stands_after_its_attempt_was_given_up,
    a_lost_evaluation_is_retried_and_published,
    a_deadline_judged_before_a_real_event_changes_nothing,
    after_an_outage_the_backlog_is_applied_before_deadlines,
    organizer_reruns_finished_submissions_as_new_ones,
    run_logs_arrive_once_each_in_order,
    hidden_run_logs_are_for_the_organizer_only,
);

/// Every message on `subject` in the stream, read by a fresh consumer from the start.
async fn messages_on<E: serde::de::DeserializeOwned>(nats_url: &str, subject: &str, wait: Duration) -> Vec<E> {
    let client = async_nats::connect(nats_url).await.expect("connect");
    let js = jetstream::new(client);
    let stream = js.get_stream(darkroom_core::events::STREAM).await.expect("the stream exists");
    let consumer = stream
        .create_consumer(pull::Config {
            filter_subject: subject.to_owned(),
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut out = Vec::new();
    let mut batch = consumer.fetch().max_messages(1000).expires(wait).messages().await.expect("fetch");
    while let Some(Ok(m)) = batch.next().await {
        out.push(serde_json::from_slice(&m.payload).expect("a valid event"));
        m.ack().await.ok();
    }
    out
}

/// Every `submission.created` message in the stream.
async fn created_messages(nats_url: &str, wait: Duration) -> Vec<SubmissionCreated> {
    messages_on(nats_url, SubmissionCreated::SUBJECT, wait).await
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
    let (_, first) = app.submit(&slug, &token, &published("m:0").await).await;
    wait_until(|| async { created_messages(&app.nats.url(), Duration::from_millis(300)).await.len() == 1 }).await;

    app.nats.stop();
    let (s, sub) = app.submit(&slug, &token, &published("m:1").await).await;
    assert_eq!(s, StatusCode::ACCEPTED, "accepting must not need NATS: {sub}");
    let id: SubmissionId = sub["id"].as_str().unwrap().parse().unwrap();
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
    let app = TestApp::spawn_with(backend, nats, Some(parked), |_| {}).await;
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
    let (_, sub) = app.submit(&slug, &token, &published("m:1").await).await;
    let id_str = sub["id"].as_str().unwrap().to_owned();
    let id: SubmissionId = id_str.parse().unwrap();
    let url = app.nats.url();

    let started = RunStarted {
        event_id: format!("started-{id}"),
        image_digest: Some("sha256:abc".into()),
        ..fixtures::run_started(id, 1)
    };
    publish(&url, &started).await;
    app.wait_for(&id_str, &token, |b| b["state"] == "RUNNING").await;

    // A redelivered or republished event changes nothing.
    let mut again = started.clone();
    again.event_id = format!("started-again-{id}");
    publish(&url, &again).await;
    // A score ahead of the run's end (as when the service that took the end crashed and JetStream
    // hands it back after its ack wait) waits for it: it neither skips EVALUATING nor is lost.
    let score = ScoreRecorded { event_id: format!("scored-early-{id}"), ..fixtures::score_recorded(id, &slug) };
    publish(&url, &score).await;
    let garbage = async_nats::connect(url.as_str()).await.unwrap();
    jetstream::new(garbage).publish(RunFinished::SUBJECT, "not json".into()).await.unwrap().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, b) = app.call(Method::GET, &format!("/api/v1/submissions/{id_str}"), Some(&token), None).await;
    assert_eq!(b["state"], "RUNNING", "an early score moves nothing before the run's end: {b}");

    let finished = RunFinished { event_id: format!("finished-{id}"), ..fixtures::run_finished(id, &slug) };
    publish(&url, &finished).await;
    let done = app.wait_for(&id_str, &token, |b| b["state"] == "COMPLETE").await;
    let states = darkroom_tests::states(&done);
    assert_eq!(states, ["QUEUED", "RUNNING", "EVALUATING", "COMPLETE"]);
    assert_eq!(done["image_digest"], "sha256:abc");
    // The same score published again under another id finds it finished.
    let mut late = score.clone();
    late.event_id = format!("scored-{id}");
    publish(&url, &late).await;

    // After COMPLETE, a stale failure changes nothing.
    let failed = SubmissionFailed { event_id: format!("failed-{id}"), ..fixtures::run_failed(id, 1, "late", false) };
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
    let (_, sub) = app.submit(&slug, &token, &published("m:1").await).await;
    let id_str = sub["id"].as_str().unwrap().to_owned();
    let id: SubmissionId = id_str.parse().unwrap();
    let url = app.nats.url();
    for attempt in 1..=3u32 {
        // The first attempt fails before its run starts (the registry down): QUEUED already,
        // it is still queued again as a new attempt.
        if attempt > 1 {
            let started = RunStarted { event_id: format!("s-{id}-{attempt}"), ..fixtures::run_started(id, attempt) };
            publish(&url, &started).await;
            app.wait_for(&id_str, &token, |b| b["state"] == "RUNNING" && b["attempt"] == attempt).await;
        }
        let failed = SubmissionFailed {
            event_id: format!("f-{id}-{attempt}"),
            ..fixtures::run_failed(id, attempt, "the Docker engine went away", true)
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

/// A submission to a new challenge of `app`, its run started (attempt 1): slug, token, id.
async fn running_submission(app: &TestApp) -> (String, String, SubmissionId) {
    let slug = app.create_challenge("nuclei", |_| {}).await;
    let token = app.register("Ada").await;
    let (_, sub) = app.submit(&slug, &token, &published("m:1").await).await;
    let id_str = sub["id"].as_str().unwrap().to_owned();
    publish(&app.nats.url(), &fixtures::run_started(id_str.parse().unwrap(), 1)).await;
    app.wait_for(&id_str, &token, |b| b["state"] == "RUNNING").await;
    (slug, token, id_str.parse().unwrap())
}

/// The watchdog gave attempt 1 up (its evaluation outlived the deadline while the evaluator
/// was down) and queued attempt 2; then attempt 1's score arrives. The score is public already:
/// the submission is COMPLETE, and the second attempt's events find it finished.
async fn a_score_stands_after_its_attempt_was_given_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (slug, token, id) = running_submission(&app).await;
    let (id_str, url) = (id.to_string(), app.nats.url());
    let given_up = SubmissionFailed {
        event_id: format!("deadline-{id}-1"),
        ..fixtures::run_failed(id, 1, "the run was lost", true)
    };
    publish(&url, &given_up).await;
    app.wait_for(&id_str, &token, |b| b["state"] == "QUEUED" && b["attempt"] == 2).await;
    publish(&url, &fixtures::score_recorded(id, &slug)).await;
    let done = app.wait_for(&id_str, &token, |b| b["state"] == "COMPLETE").await;
    let states = darkroom_tests::states(&done);
    assert_eq!(states, ["QUEUED", "RUNNING", "QUEUED", "COMPLETE"]);
    publish(&url, &fixtures::run_started(id, 2)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, b) = app.call(Method::GET, &format!("/api/v1/submissions/{id_str}"), Some(&token), None).await;
    assert_eq!(b["state"], "COMPLETE", "{b}");
    assert_eq!(b["history"].as_array().unwrap().len(), 4);
}

/// The evaluator is lost after the run's end: the watchdog queues the submission again as a
/// new attempt, and its failure is published, so those who follow the stream (webhooks) hear
/// of it; the state consumer, handed it back, adds nothing to the history.
async fn a_lost_evaluation_is_retried_and_published(backend: Backend) {
    let app = TestApp::spawn_configured(backend, |c| {
        c.submissions.evaluating_deadline_seconds = 1;
        c.submissions.watchdog_interval_seconds = 1;
    })
    .await;
    let (slug, token, id) = running_submission(&app).await;
    let (id_str, url) = (id.to_string(), app.nats.url());
    publish(&url, &fixtures::run_finished(id, &slug)).await;
    let requeued = app.wait_for(&id_str, &token, |b| b["state"] == "QUEUED" && b["attempt"] == 2).await;
    let last = requeued["history"].as_array().unwrap().last().unwrap().clone();
    assert!(last["reason"].as_str().unwrap().contains("the evaluator was lost"), "{last}");

    let expected = SubmissionFailed::event_id_for(id, 1, FailedBy::Deadline(SubmissionState::Evaluating));
    wait_until(|| async {
        let failures: Vec<SubmissionFailed> =
            messages_on(&url, SubmissionFailed::SUBJECT, Duration::from_millis(300)).await;
        failures.iter().any(|f| f.event_id == expected && f.retrying && f.submission_id == id)
    })
    .await;
    wait_until(|| async {
        created_messages(&url, Duration::from_millis(300)).await.iter().any(|e| e.submission_id == id && e.attempt == 2)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, b) = app.call(Method::GET, &format!("/api/v1/submissions/{id_str}"), Some(&token), None).await;
    let states = darkroom_tests::states(&b);
    assert_eq!(states, ["QUEUED", "RUNNING", "EVALUATING", "QUEUED"], "{b}");
}

/// The watchdog read a submission RUNNING past its deadline, and the run's end landed before
/// it applied its verdict: the verdict is stale and changes nothing.
async fn a_deadline_judged_before_a_real_event_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (slug, token, id) = running_submission(&app).await;
    let (id_str, url) = (id.to_string(), app.nats.url());
    let db = sea_orm::Database::connect(&app.database_url).await.expect("the app's database");
    let row = darkroom_submissions::db::entities::submission::Entity::find_by_id(id_str.clone())
        .one(&db)
        .await
        .unwrap()
        .expect("the row");
    let config = darkroom_core::config::SubmissionsConfig { running_grace_seconds: 0, ..Default::default() };
    let (judged, verdict) =
        darkroom_submissions::watchdog::expired(&row, 0, &config, Utc::now() + chrono::Duration::hours(1))
            .expect("past its deadline");
    assert_eq!(judged, SubmissionState::Running);

    publish(&url, &fixtures::run_finished(id, &slug)).await;
    app.wait_for(&id_str, &token, |b| b["state"] == "EVALUATING").await;
    let applied = darkroom_submissions::lifecycle::expire(&db, verdict, judged).await.unwrap();
    assert_eq!(applied, darkroom_submissions::lifecycle::Applied::Stale);
    let (_, b) = app.call(Method::GET, &format!("/api/v1/submissions/{id_str}"), Some(&token), None).await;
    assert_eq!(b["state"], "EVALUATING", "{b}");
    assert_eq!(b["attempt"], 1);
}

/// The service was down past a submission's evaluating deadline while its score was published.
/// Restarted, it applies the score before it judges deadlines: COMPLETE, never queued again.
async fn after_an_outage_the_backlog_is_applied_before_deadlines(backend: Backend) {
    let tweak = |c: &mut darkroom_core::config::Config| {
        c.submissions.evaluating_deadline_seconds = 1;
        c.submissions.watchdog_interval_seconds = 1;
    };
    let app = TestApp::spawn_configured(backend, tweak).await;
    let (slug, token, id) = running_submission(&app).await;
    let id_str = id.to_string();
    publish(&app.nats.url(), &fixtures::run_finished(id, &slug)).await;
    app.wait_for(&id_str, &token, |b| b["state"] == "EVALUATING").await;
    let (nats, parked) = app.shut_down().await;

    // Many scores of others first, so the consumer has a backlog to work through.
    for _ in 0..300 {
        publish(&nats.url(), &fixtures::score_recorded(Uuid::now_v7().into(), &slug)).await;
    }
    publish(&nats.url(), &fixtures::score_recorded(id, &slug)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let app = TestApp::spawn_with(backend, nats, Some(parked), tweak).await;
    let done = app.wait_for(&id_str, &token, |b| b["state"] == "COMPLETE").await;
    let states = darkroom_tests::states(&done);
    assert_eq!(states, ["QUEUED", "RUNNING", "EVALUATING", "COMPLETE"], "{done}");
    assert_eq!(done["attempt"], 1);
}

async fn rerun(app: &TestApp, id: &str, token: &str) -> (StatusCode, Value) {
    app.call(Method::POST, &format!("/api/v1/submissions/{id}/rerun"), Some(token), None).await
}

async fn organizer_reruns_finished_submissions_as_new_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |s| s["quotas"] = json!({ "total": 2 })).await;
    let token = app.register("Ada").await;
    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(&token), None).await;
    let (_, image_sub) = app.submit(&slug, &token, &published("m:1").await).await;
    let (s, tar_sub) = app.upload(&slug, &token, "application/x-tar", fixtures::image_archive()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{tar_sub}");
    let (a, t) = (image_sub["id"].as_str().unwrap().to_owned(), tar_sub["id"].as_str().unwrap().to_owned());

    // Only finished submissions can be re-run, and only by the organizer.
    let (s, e) = rerun(&app, &a, ADMIN_TOKEN).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_rerunnable")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("is QUEUED"), "{e}");
    assert_eq!(rerun(&app, &a, &token).await.0, StatusCode::FORBIDDEN);
    for id in [&a, &t] {
        let (s, c) = app.call(Method::POST, &format!("/api/v1/submissions/{id}/cancel"), Some(&token), None).await;
        assert_eq!(s, StatusCode::OK, "{c}");
    }

    // Use up the quota, then close the phase: the organizer's re-runs pass both.
    for n in 2..4 {
        assert_eq!(app.submit(&slug, &token, &published(&format!("m:{n}")).await).await.0, StatusCode::ACCEPTED);
    }
    assert_eq!(app.submit(&slug, &token, &published("m:4").await).await.0, StatusCode::TOO_MANY_REQUESTS);
    let mut spec = fixtures::spec(&app.data_dir(), &slug);
    spec["quotas"] = json!({ "total": 2 });
    spec["phases"][0]["starts_at"] = json!(Utc::now() - chrono::Duration::days(10));
    spec["phases"][0]["ends_at"] = json!(Utc::now() - chrono::Duration::days(1));
    let (s, b) = app.call(Method::PUT, &format!("/api/v1/challenges/{slug}"), Some(ADMIN_TOKEN), Some(spec)).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let (s, new_a) = rerun(&app, &a, ADMIN_TOKEN).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{new_a}");
    let (s, new_t) = rerun(&app, &t, ADMIN_TOKEN).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{new_t}");
    let new_id = new_a["id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, a);
    assert_eq!(new_a["state"], "QUEUED");
    assert_eq!(new_a["phase"], "dev");
    assert_eq!(new_a["attempt"], 1);
    assert_eq!(new_a["counts_against_quota"], false);
    assert_eq!(new_a["image"], image_sub["image"]);
    assert_eq!(new_t["image"], tar_sub["image"]);

    // The participant sees it as theirs, with why it exists.
    let (_, shown) = app.call(Method::GET, &format!("/api/v1/submissions/{new_id}"), Some(&token), None).await;
    assert_eq!(shown["history"].as_array().unwrap().len(), 1, "{shown}");
    assert_eq!(shown["history"][0]["to"], "QUEUED");
    assert_eq!(shown["history"][0]["reason"], format!("re-run of {a} requested by the organizer"));
    let (_, old) = app.call(Method::GET, &format!("/api/v1/submissions/{a}"), Some(&token), None).await;
    assert_eq!(old["state"], "CANCELLED", "the original is left as it was");
    let (s, e) = app.submit(&slug, &token, &published("m:5").await).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the phase is closed for participants: {e}");

    // Exactly one submission.created per re-run, for the new ids, with the same image.
    let url = app.nats.url();
    let (na, nt): (SubmissionId, SubmissionId) =
        (new_id.parse().unwrap(), new_t["id"].as_str().unwrap().parse().unwrap());
    wait_until(|| async {
        let all = created_messages(&url, Duration::from_millis(300)).await;
        all.iter().any(|e| e.submission_id == na) && all.iter().any(|e| e.submission_id == nt)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // room for a duplicate to show up
    let all = created_messages(&url, Duration::from_millis(500)).await;
    assert_eq!(all.len(), 6, "4 accepted + 2 re-runs: {all:?}");
    let of = |id: SubmissionId| all.iter().filter(|e| e.submission_id == id).collect::<Vec<_>>();
    let (ea, et) = (of(na), of(nt));
    assert_eq!((ea.len(), et.len()), (1, 1), "{all:?}");
    assert_eq!(ea[0].attempt, 1);
    assert_eq!(ea[0].phase, "dev");
    assert_eq!(ea[0].participant_id.to_string(), me["id"].as_str().unwrap());
    let ImageSource::Reference { name, digest: Some(digest), requested } = &ea[0].image else {
        panic!("a pinned reference: {:?}", ea[0].image)
    };
    assert_eq!(requested.as_deref(), Some(darkroom_tests::registry::pushed("m:1").as_str()));
    assert!(name.ends_with(&format!("/m@{digest}")) && digest.starts_with("sha256:"), "{name}");
    let original_tar = &of(t.parse().unwrap())[0].image;
    assert!(matches!(original_tar, ImageSource::Tarball { .. }), "{original_tar:?}");
    assert_eq!(&et[0].image, original_tar, "the stored archive is re-used");
}

/// Publishes raw bytes on `subject`, optionally with a `Nats-Msg-Id`, and waits for the ack.
async fn publish_raw(nats_url: &str, subject: &'static str, msg_id: Option<&str>, payload: Vec<u8>) {
    let js = jetstream::new(async_nats::connect(nats_url).await.expect("connect"));
    let mut headers = async_nats::HeaderMap::new();
    if let Some(id) = msg_id {
        headers.insert("Nats-Msg-Id", id);
    }
    js.publish_with_headers(subject, headers, payload.into()).await.expect("publish").await.expect("ack");
}

fn log_batch(id: SubmissionId, n: u32, attempt: u32, secs: i64, lines: &[&str]) -> RunLog {
    RunLog {
        event_id: format!("run-log-{id}-{attempt}-{n}"),
        submission_id: id,
        attempt,
        lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        at: chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap(),
    }
}

/// Polls GET /logs until `pred` holds.
async fn logs_until(app: &TestApp, id: &str, token: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (s, body) = app.call(Method::GET, &format!("/api/v1/submissions/{id}/logs"), Some(token), None).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        if pred(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "logs never matched: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run_logs_arrive_once_each_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |_| {}).await; // logs_visible
    let alice = app.register("Alice").await;
    let bob = app.register("Bob").await;
    let (_, sub) = app.submit(&slug, &alice, &published("m:1").await).await;
    let id_str = sub["id"].as_str().unwrap().to_owned();
    let id: SubmissionId = id_str.parse().unwrap();
    let url = app.nats.url();

    let (s, empty) = app.call(Method::GET, &format!("/api/v1/submissions/{id_str}/logs"), Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK, "{empty}");
    assert_eq!(
        empty,
        json!({ "submission_id": id_str, "logs_visible": true, "lines": [], "truncated": false, "cursor": 0 })
    );

    // Published out of time order, with the first batch three times over (once as the runner
    // sends it, then with no Nats-Msg-Id and with another one, so JetStream keeps every copy),
    // an undecodable payload and a batch of a submission that does not exist.
    let first = log_batch(id, 1, 1, 1, &["epoch 1"]);
    let second = log_batch(id, 2, 1, 2, &["loss 0.5", "loss 0.4"]);
    let retry = log_batch(id, 1, 2, 3, &["retrying", ""]);
    app.publish(&second).await;
    app.publish(&first).await;
    publish_raw(&url, RunLog::SUBJECT, None, serde_json::to_vec(&first).unwrap()).await;
    publish_raw(&url, RunLog::SUBJECT, Some("another-id"), serde_json::to_vec(&first).unwrap()).await;
    publish_raw(&url, RunLog::SUBJECT, None, b"not json".to_vec()).await;
    app.publish(&log_batch(Uuid::now_v7().into(), 1, 1, 1, &["nobody's"])).await;
    app.publish(&retry).await;

    // One consumer, in stream order: once the last batch shows, every earlier one was handled.
    let has_retry = |b: &Value| b["lines"].as_array().is_some_and(|l| l.iter().any(|l| l["line"] == "retrying"));
    let logs = logs_until(&app, &id_str, &alice, has_retry).await;
    let lines: Vec<(u64, &str)> = logs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["attempt"].as_u64().unwrap(), l["line"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, [(1, "epoch 1"), (1, "loss 0.5"), (1, "loss 0.4"), (2, "retrying"), (2, "")], "{logs}");
    assert_eq!(logs["lines"][0]["at"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap(), first.at);
    assert_eq!((logs["logs_visible"].as_bool(), logs["truncated"].as_bool()), (Some(true), Some(false)));

    // Every copy, the garbage and the stranger's batch were acknowledged, none left to retry.
    let js = jetstream::new(async_nats::connect(url.as_str()).await.unwrap());
    let stream = js.get_stream(darkroom_core::events::STREAM).await.unwrap();
    wait_until(|| async {
        let info = stream.consumer_info(darkroom_submissions::run_log::DURABLE_NAME).await.unwrap();
        info.num_pending == 0 && info.num_ack_pending == 0
    })
    .await;

    // The organizer reads them too; another participant finds nothing.
    let organizer = logs_until(&app, &id_str, ADMIN_TOKEN, |_| true).await;
    assert_eq!(organizer["lines"], logs["lines"]);
    let (s, e) = app.call(Method::GET, &format!("/api/v1/submissions/{id_str}/logs"), Some(&bob), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");

    // Nothing arrives twice later either.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = logs_until(&app, &id_str, &alice, |_| true).await;
    assert_eq!(again["lines"], logs["lines"]);
}

async fn hidden_run_logs_are_for_the_organizer_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("quiet", |s| s["logs_visible"] = json!(false)).await;
    let alice = app.register("Alice").await;
    let bob = app.register("Bob").await;
    let (_, sub) = app.submit(&slug, &alice, &published("m:1").await).await;
    let id_str = sub["id"].as_str().unwrap().to_owned();
    app.publish(&log_batch(id_str.parse().unwrap(), 1, 1, 1, &["secret progress"])).await;

    let path = format!("/api/v1/submissions/{id_str}/logs");
    let (s, e) = app.call(Method::GET, &path, Some(&alice), None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("logs_hidden")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("the organizer of 'quiet' keeps run logs private"), "{e}");
    let (s, e) = app.call(Method::GET, &path, Some(&bob), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");

    let logs = logs_until(&app, &id_str, ADMIN_TOKEN, |b| b["lines"].as_array().is_some_and(|l| !l.is_empty())).await;
    assert_eq!(logs["logs_visible"], false);
    assert_eq!(logs["lines"][0]["line"], "secret progress");
}

/// The consumers the outputs' stream has: a direct read creates none, the crate's reader one.
async fn output_consumers(js: &jetstream::Context) -> usize {
    js.get_stream(format!("OBJ_{OUTPUT_BUCKET}")).await.unwrap().info().await.unwrap().state.consumer_count
}

#[tokio::test]
async fn outputs_read_back_as_written_and_never_as_tampered() {
    let nats = NatsServer::start();
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let outputs = Outputs::open(&js).await.unwrap();
    let small: Vec<u8> = (0..5_000u32).map(|i| (i % 251) as u8).collect();
    // Three chunks of the object store's 128 KiB.
    let large: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    outputs.store().put("small.tar", &mut small.as_slice()).await.unwrap();
    outputs.store().put("large.tar", &mut large.as_slice()).await.unwrap();

    // One chunk: read directly, whole or up to the limit, with no consumer made for it.
    assert_eq!(outputs.read("small.tar", 1 << 20).await.unwrap(), small);
    assert_eq!(outputs.read("small.tar", 100).await.unwrap(), small[..100]);
    assert_eq!(output_consumers(&js).await, 0, "a one-chunk output is read without a consumer");
    // Written again: the new content, never the old chunk.
    outputs.store().put("small.tar", &mut &b"second attempt"[..]).await.unwrap();
    assert_eq!(outputs.read("small.tar", 1 << 20).await.unwrap(), b"second attempt");
    // Several chunks: through the crate's reader.
    assert_eq!(outputs.read("large.tar", 1 << 20).await.unwrap(), large);
    assert_eq!(outputs.read("large.tar", 200_000).await.unwrap(), large[..200_000]);

    // Missing, or deleted: said so, as the evaluator's "lost output" needs.
    assert!(matches!(outputs.read("never.tar", 1 << 20).await, Err(ReadError::NotFound { .. })));
    outputs.store().delete("small.tar").await.unwrap();
    assert!(matches!(outputs.read("small.tar", 1 << 20).await, Err(ReadError::NotFound { .. })));

    // A chunk swapped under its object's digest is refused, not read.
    outputs.store().put("swapped.tar", &mut &b"what the run wrote"[..]).await.unwrap();
    let nuid = outputs.store().info("swapped.tar").await.unwrap().nuid;
    let chunk = format!("$O.{OUTPUT_BUCKET}.C.{nuid}");
    let stream = js.get_stream(format!("OBJ_{OUTPUT_BUCKET}")).await.unwrap();
    stream.purge().filter(&chunk).await.unwrap();
    js.publish(chunk, "what a forger wrote".into()).await.unwrap().await.unwrap();
    let read = outputs.read("swapped.tar", 1 << 20).await;
    assert!(matches!(read, Err(ReadError::Other { .. })), "{read:?}");
}
