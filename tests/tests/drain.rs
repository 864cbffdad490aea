//! SIGTERM drains instead of dropping work: a stopping runner takes no new request and lets its
//! runs finish for up to `runner.drain_seconds`, then hands the rest back as platform failures,
//! retried and not charged; a stopping evaluator finishes its evaluations. The stop signal is
//! the one `run_until` takes (SIGTERM in the binaries). Needs the images of
//! `scripts/build-images.sh` (the slow participant and the slow evaluation image).

use std::time::{Duration, Instant};

use darkroom_core::config::RunnerBackend;
use darkroom_tests::api;
use darkroom_tests::registry::pushed;
use darkroom_tests::{Stack, states};
use mongodb::bson::doc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Sleeps 8 s, then writes its predictions.
const SLOW_RUN: &str = "darkroom-test-hostile:slow";
/// Sleeps 3 s, then scores 0.5 whatever it is given.
const SLOW_EVALUATION: &str = "darkroom-test-eval:slow";

async fn challenge(stack: &Stack) -> String {
    stack.challenge("drain", |s| s["evaluation"]["image"] = json!(SLOW_EVALUATION)).await
}

/// Submits `image` and returns the submission's id.
async fn submit(stack: &Stack, slug: &str, token: &str, image: &str) -> String {
    let (s, sub) = stack.app.submit(slug, token, &pushed(image)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
    sub["id"].as_str().unwrap().to_owned()
}

async fn show(stack: &Stack, id: &str, token: &str) -> Value {
    stack.app.call(Method::GET, &format!("/api/v1/submissions/{id}"), Some(token), None).await.1
}

/// Waits until the submission's container runs.
async fn running(stack: &Stack, id: &str, token: &str) {
    stack.app.wait_for(id, token, |b| b["state"] == "RUNNING").await;
    // RUNNING is published just before the container is created.
    stack.wait_for_containers(1, Stack::runner_containers).await;
}

/// A run going when the runner is told to stop finishes within the drain time and is scored;
/// a request that arrives meanwhile is left to the next runner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_runner_lets_its_run_finish() {
    let mut stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = challenge(&stack).await;
    let token = stack.app.register("Ada").await;
    let id = submit(&stack, &slug, &token, SLOW_RUN).await;
    running(&stack, &id, &token).await;

    // A request submitted while the runner drains (the stack is borrowed by the stop, so
    // through the API's address).
    let (http, submit_url) = (stack.app.http.clone(), stack.app.url(&format!("/api/v1/challenges/{slug}/submissions")));
    let late_submission = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let body = json!({ "image": pushed("darkroom-test-hostile:ok") });
        let (s, sub) = api::call(&http, Method::POST, submit_url, Some(&token), Some(body)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
        sub["id"].as_str().unwrap().to_owned()
    };
    let started = Instant::now();
    let ((), late) = tokio::join!(stack.stop_runner(), late_submission);
    let drained = started.elapsed();
    assert!(drained >= Duration::from_secs(3), "the runner stopped after {drained:?}, without waiting for its run");
    assert_eq!(stack.runner_containers(), 0, "the finished run's container is removed");

    let done = stack.finished(&id, &token, 60).await;
    assert_eq!(done["state"], "COMPLETE", "{done}");
    assert_eq!(done["attempt"], 1, "the run was not handed back: {done}");
    assert_eq!(states(&done), ["QUEUED", "RUNNING", "EVALUATING", "COMPLETE"]);

    // The stopping runner did not take the late request; the next runner does.
    let waiting = show(&stack, &late, &token).await;
    assert_eq!(waiting["state"], "QUEUED", "a stopping runner took a new request: {waiting}");
    stack.start_runner().await;
    let late = stack.finished(&late, &token, 60).await;
    assert_eq!(late["state"], "COMPLETE", "{late}");
    assert_eq!(late["attempt"], 1, "{late}");
}

/// A run outlasting the drain time is stopped and handed back: a platform failure, retried and
/// not charged. The next runner runs it again, and it completes exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_outlasting_the_drain_is_handed_back_and_runs_again_once() {
    let mut stack = Stack::spawn_configured(RunnerBackend::Engine, |c| c.runner.drain_seconds = 2).await;
    let slug = challenge(&stack).await;
    let token = stack.app.register("Ada").await;
    let id = submit(&stack, &slug, &token, SLOW_RUN).await;
    running(&stack, &id, &token).await;

    let started = Instant::now();
    stack.stop_runner().await;
    let stopped = started.elapsed();
    // Two seconds of drain and the hand-back, well before the run would have ended by itself.
    assert!(stopped < Duration::from_secs(7), "stopping took {stopped:?}");
    assert_eq!(stack.runner_containers(), 0, "the handed-back run's container is removed");
    let queued = stack.app.wait_for(&id, &token, |b| b["state"] == "QUEUED" && b["attempt"] == 2).await;
    assert_eq!(queued["counts_against_quota"], false, "{queued}");
    let retry = &queued["history"][2];
    assert!(
        retry["reason"].as_str().unwrap_or("").contains("the runner stopped during the run"),
        "the requeue says why: {queued}"
    );
    // No runner, no run: it waits.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still = show(&stack, &id, &token).await;
    assert_eq!(still["state"], "QUEUED", "{still}");

    stack.start_runner().await;
    let done = stack.finished(&id, &token, 90).await;
    assert_eq!(done["state"], "COMPLETE", "{done}");
    assert_eq!(done["attempt"], 2, "{done}");
    assert_eq!(states(&done), ["QUEUED", "RUNNING", "QUEUED", "RUNNING", "EVALUATING", "COMPLETE"]);
    assert_eq!(done["counts_against_quota"], false, "a handed-back run is never charged: {done}");
    // Exactly once: one score, and nothing runs after it.
    let scores = stack.scores().await;
    assert_eq!(scores.count_documents(doc! { "submission_id": &id }).await.unwrap(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = show(&stack, &id, &token).await;
    assert_eq!(after["history"], done["history"], "the submission moved after it completed");
    assert_eq!(stack.runner_containers(), 0);
}

/// An evaluation going when the evaluator is told to stop finishes and is scored before the
/// evaluator exits; a run finishing afterwards waits for the next evaluator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_evaluator_finishes_its_evaluation() {
    let mut stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = challenge(&stack).await;
    let token = stack.app.register("Ada").await;
    let id = submit(&stack, &slug, &token, "darkroom-test-hostile:ok").await;
    stack.app.wait_for(&id, &token, |b| b["state"] == "EVALUATING").await;
    stack.wait_for_containers(1, Stack::evaluator_containers).await;

    stack.stop_evaluator().await;
    let scores = stack.scores().await;
    assert_eq!(
        scores.count_documents(doc! { "submission_id": &id }).await.unwrap(),
        1,
        "the evaluator stopped before storing the score"
    );
    assert_eq!(stack.evaluator_containers(), 0);
    let done = stack.finished(&id, &token, 30).await;
    assert_eq!(done["state"], "COMPLETE", "{done}");
    assert_eq!(states(&done), ["QUEUED", "RUNNING", "EVALUATING", "COMPLETE"]);

    // Nothing evaluates while no evaluator runs; the next one does.
    let next = submit(&stack, &slug, &token, "darkroom-test-hostile:ok").await;
    stack.app.wait_for(&next, &token, |b| b["state"] == "EVALUATING").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stack.evaluator_containers(), 0, "an evaluation started with no evaluator running");
    stack.start_evaluator().await;
    let next = stack.finished(&next, &token, 30).await;
    assert_eq!(next["state"], "COMPLETE", "{next}");
}
