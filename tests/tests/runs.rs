//! Submissions run for real: the swarm runner and the evaluator on the Docker engine, scores in
//! MongoDB, the leaderboard through the API. Needs the images of `scripts/build-images.sh`.

use std::time::Duration;

use darkroom_core::config::RunnerBackend;
use darkroom_tests::Stack;
use mongodb::bson::doc;
use reqwest::{Method, StatusCode};
use serde_json::Value;

fn states(sub: &Value) -> Vec<String> {
    sub["history"].as_array().unwrap().iter().map(|t| t["to"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_two_participants_are_scored_and_ranked() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = stack.challenge("e2e", |_| {}).await;
    let strong = stack.app.register("Baseline Lab").await;
    let weak = stack.app.register("Quick Guess").await;
    let (s, a) = stack.app.submit(&slug, &strong, "darkroom-demo-baseline:1").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let (_, b) = stack.app.submit(&slug, &weak, "darkroom-demo-weak:1").await;
    let a = stack.finished(a["id"].as_str().unwrap(), &strong, 120).await;
    let b = stack.finished(b["id"].as_str().unwrap(), &weak, 120).await;
    for sub in [&a, &b] {
        assert_eq!(sub["state"], "COMPLETE", "{sub}");
        assert_eq!(states(sub), ["QUEUED", "RUNNING", "EVALUATING", "COMPLETE"]);
        assert!(sub["image_digest"].as_str().unwrap().starts_with("sha256:"));
    }
    // One score document per submission, with both digests.
    let scores = stack.scores().await;
    let doc = scores.find_one(doc! { "submission_id": a["id"].as_str().unwrap() }).await.unwrap().expect("a score document");
    assert!(doc.get_str("evaluation_image_digest").unwrap().starts_with("sha256:"));
    assert_eq!(scores.count_documents(doc! {}).await.unwrap(), 2);

    let (s, board) = stack.app.call(Method::GET, &format!("/api/v1/challenges/{slug}/leaderboard"), None, None).await;
    assert_eq!(s, StatusCode::OK, "{board}");
    let entries = board["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{board}");
    assert_eq!(entries[0]["rank"], 1);
    // Ranked by accuracy, best first; every metric the challenge declares is there.
    let accuracy = |i: usize| entries[i]["metrics"]["accuracy"].as_f64().unwrap();
    assert!(accuracy(0) >= accuracy(1), "{board}");
    for e in entries {
        assert!((0.0..=1.0).contains(&e["metrics"]["roc_auc"].as_f64().unwrap()), "{e}");
        assert_eq!(e["submissions"], 1);
    }

    // The same run.finished delivered again (a new message id, so JetStream keeps it) scores nothing twice.
    let js = async_nats::jetstream::new(async_nats::connect(stack.app.nats.url()).await.unwrap());
    let stream = js.get_stream(darkroom_core::events::STREAM).await.unwrap();
    let finished = stream.get_last_raw_message_by_subject(<darkroom_core::events::RunFinished as darkroom_core::events::Event>::SUBJECT).await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "replayed-run-finished");
    js.publish_with_headers(finished.subject.to_string(), headers, finished.payload.clone()).await.unwrap().await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(scores.count_documents(doc! {}).await.unwrap(), 2, "a redelivered run.finished scored twice");
}
