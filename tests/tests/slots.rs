//! A runner holds twice as many requests as it runs containers (`ContainerSlots`): while a
//! container runs, the next request is claimed and prepared, so the slot it frees is taken at
//! once. These tests hold that to its promises, against the real engine and NATS: no more
//! containers at once than `runner.concurrency`; a request that waits for a slot longer than the
//! ack wait is neither redelivered nor charged; a cancel that arrives while it waits wins, and
//! its container never starts. Needs the images of `scripts/build-images.sh`.

use std::time::Duration;

use darkroom_core::config::RunnerBackend;
use darkroom_tests::registry::pushed;
use darkroom_tests::{Stack, states};
use reqwest::{Method, StatusCode};

/// Sleeps 8 s (longer than the stack's 3 s ack wait), then writes header-only predictions, which
/// the evaluation refuses: the run itself succeeds, once.
const SLOW_RUN: &str = "darkroom-test-hostile:slow";

/// The names of the containers the engine created since `since` (Unix seconds), by its events.
fn created_since(since: u64) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["events", "--since", &since.to_string(), "--until", "0s", "--filter", "event=create"])
        .args(["--filter", "type=container", "--format", "{{.Actor.Attributes.name}}"])
        .output()
        .expect("docker runs");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

async fn show(stack: &Stack, id: &str, token: &str) -> serde_json::Value {
    stack.app.call(Method::GET, &format!("/api/v1/submissions/{id}"), Some(token), None).await.1
}

async fn submit(stack: &Stack, slug: &str, token: &str, image: &str) -> String {
    let (s, sub) = stack.app.submit(slug, token, &pushed(image)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
    sub["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slot_runs_one_container_while_the_next_request_waits_prepared() {
    let stack = Stack::spawn_configured(RunnerBackend::Engine, |c| {
        c.runner.concurrency = 1;
        c.evaluator.concurrency = 1;
    })
    .await;
    let slug = stack.challenge("slots", |_| {}).await;
    let token = stack.app.register("Ada").await;
    let js = async_nats::jetstream::new(async_nats::connect(stack.app.nats.url()).await.unwrap());
    let runs = darkroom_core::bus::runs_bucket(&js).await.unwrap();
    let claimed = |id: String| {
        let runs = runs.clone();
        async move { runs.get(format!("{id}.1")).await.unwrap().is_some() }
    };

    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let first = submit(&stack, &slug, &token, SLOW_RUN).await;
    let second = submit(&stack, &slug, &token, SLOW_RUN).await;
    let third = submit(&stack, &slug, &token, "darkroom-test-hostile:ok").await;

    // The first runs; the second is already claimed and waits for the one slot, QUEUED still.
    stack.app.wait_for(&first, &token, |b| b["state"] == "RUNNING").await;
    let mut most = 0;
    for _ in 0..50 {
        if claimed(second.clone()).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(claimed(second.clone()).await, "the runner did not take the next request while its slot was busy");
    let waiting = show(&stack, &second, &token).await;
    assert_eq!(waiting["state"], "QUEUED", "a request waiting for a slot is not RUNNING: {waiting}");
    assert!(!claimed(third.clone()).await, "the runner holds no more than twice its concurrency");

    // While the second waits for the slot, the third waits for the runner; cancel the third
    // once the runner holds it (after the first's run ends, it is claimed while the second runs).
    let mut cancelled = false;
    for _ in 0..400 {
        most = most.max(stack.runner_containers());
        if !cancelled && claimed(third.clone()).await {
            let path = format!("/api/v1/submissions/{third}/cancel");
            let (s, body) = stack.app.call(Method::POST, &path, Some(&token), None).await;
            assert_eq!(s, StatusCode::OK, "{body}");
            cancelled = true;
        }
        if show(&stack, &second, &token).await["state"] == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cancelled, "the third request was never claimed");
    assert_eq!(most, 1, "one slot, yet {most} participant containers at once");

    for id in [&first, &second] {
        let done = stack.finished(id, &token, 60).await;
        assert_eq!(done["failure_reason"], "evaluation error", "{done}");
        // Waiting 8 s for the slot outlasted the 3 s ack wait: progress kept it from redelivery.
        assert_eq!(done["attempt"], 1, "the waiting request was redelivered or retried: {done}");
        assert_eq!(states(&done), ["QUEUED", "RUNNING", "EVALUATING", "FAILED"], "{done}");
    }
    let third = stack.finished(&third, &token, 60).await;
    assert_eq!(third["state"], "CANCELLED", "{third}");
    assert_eq!(states(&third), ["QUEUED", "CANCELLED"], "{third}");
    let created = created_since(since);
    let third_id = third["id"].as_str().unwrap();
    assert!(created.iter().any(|n| n.contains(&second)), "the engine's events name the runs: {created:?}");
    assert!(
        !created.iter().any(|n| n.contains(third_id)),
        "the cancelled request's container was created: {created:?}"
    );
    assert_eq!(stack.runner_containers(), 0, "every container is removed");
}
