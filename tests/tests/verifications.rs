//! Verification re-runs' API (issue 17), against the real service, NATS and MongoDB: what may be
//! re-run and by whom, that the request published is the scored attempt's own (same attempt, so
//! the same seed; same image, limits and fingerprints) marked as a verification, and that it
//! moves nothing of the submission. The runs themselves are `services/cli/tests/cli.rs`'s.

use darkroom_core::events::{Event, SubmissionCreated};
use darkroom_tests::scoring::{Evaluation, complete};
use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_scored_submission_is_re_run_only_by_the_organizer_and_nothing_of_it_moves() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let slug = app.create_challenge("reruns", |_| {}).await;
    let token = app.register("Ada").await;
    let image = darkroom_tests::registry::publish("reruns-model:1").await;
    let (_, queued) = app.submit(&slug, &token, &image).await;
    let queued = queued["id"].as_str().unwrap().to_owned();
    let (_, scored) = app.submit(&slug, &token, &image).await;
    let scored = scored["id"].as_str().unwrap().to_owned();
    complete(&app, &token, &scored, &Evaluation { public: 0.8, private: 0.7, private_cases: None }).await;

    let start = |id: String, token: &'static str| {
        let app = &app;
        async move { app.call(Method::POST, &format!("/api/v1/submissions/{id}/verifications"), Some(token), None).await }
    };
    // Refused: a participant (even the owner), a submission with no score yet, an unknown one.
    let (s, body) =
        app.call(Method::POST, &format!("/api/v1/submissions/{scored}/verifications"), Some(&token), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, body) = start(queued.clone(), ADMIN_TOKEN).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_verifiable")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("only a COMPLETE submission"), "{body}");
    let (s, _) = start(uuid::Uuid::now_v7().to_string(), ADMIN_TOKEN).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for bad in ["nope", &uuid::Uuid::now_v7().to_string()] {
        let (s, body) = app.call(Method::GET, &format!("/api/v1/verifications/{bad}"), Some(ADMIN_TOKEN), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    }

    // Accepted: the request on the bus is the scored attempt's, marked as a verification.
    let client = async_nats::connect(app.nats.url()).await.expect("NATS");
    let mut requests = client.subscribe(SubmissionCreated::SUBJECT).await.expect("subscribe");
    client.flush().await.unwrap();
    let history_before = app.call(Method::GET, &format!("/api/v1/submissions/{scored}"), Some(&token), None).await.1;
    let (s, started) = start(scored.clone(), ADMIN_TOKEN).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{started}");
    assert_eq!(
        (started["state"].as_str(), started["submission_id"].as_str()),
        (Some("running"), Some(scored.as_str()))
    );
    let vid = started["id"].as_str().unwrap().to_owned();
    let message = tokio::time::timeout(std::time::Duration::from_secs(10), requests.next())
        .await
        .expect("the request is published")
        .unwrap();
    let job: SubmissionCreated = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(job.verification.map(|v| v.to_string()), Some(vid.clone()));
    assert_eq!(job.event_id(), format!("verification-requested-{vid}"));
    assert_eq!((job.submission_id.to_string(), job.attempt), (scored.clone(), 1));
    assert_eq!(job.run_label(), format!("verify-{vid}"));
    assert!(matches!(&job.image, darkroom_core::domain::ImageSource::Reference { digest: Some(_), .. }), "{job:?}");

    // Readable by the organizer only, running until the evaluator stores a result.
    let (s, _) = app.call(Method::GET, &format!("/api/v1/verifications/{vid}"), Some(&token), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, now) = app.call(Method::GET, &format!("/api/v1/verifications/{vid}"), Some(ADMIN_TOKEN), None).await;
    assert_eq!((s, now["state"].as_str()), (StatusCode::OK, Some("running")), "{now}");
    // The submission is as it was: same state, same history.
    let history_after: Value =
        app.call(Method::GET, &format!("/api/v1/submissions/{scored}"), Some(&token), None).await.1;
    assert_eq!(history_after["history"], history_before["history"]);
    assert_eq!(history_after["state"], "COMPLETE");
}
