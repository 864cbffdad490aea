//! The sandbox's newer limits against a hostile participant on the real engine: a root image,
//! an image `VOLUME`, 100,000 files, a 40-deep path, output the platform cannot archive, and
//! hidden logs. Needs the images of `scripts/build-images.sh`.

use std::collections::BTreeSet;

use darkroom_core::config::RunnerBackend;
use darkroom_tests::Stack;
use darkroom_tests::registry::pushed;
use reqwest::StatusCode;
use serde_json::Value;

fn docker_lines(args: &[&str]) -> BTreeSet<String> {
    let out = std::process::Command::new("docker").args(args).output().expect("docker runs");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// Each case ends as expected with its reason, a neighbour completes, and no container or
/// volume is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_contains_root_volumes_and_hostile_outputs() {
    let volumes_before = docker_lines(&["volume", "ls", "-q"]);
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = stack
        .challenge("hostile-fs", |s| {
            s["resources"] = serde_json::json!({
                "cpus": 1.0, "memory_mb": 256, "wall_clock_seconds": 30, "output_max_mb": 16, "pids": 32
            });
            s["logs_visible"] = serde_json::json!(true);
        })
        .await;
    let token = stack.app.register("Mallory").await;
    // (image, final state, what the reason says)
    let cases: Vec<(&str, &str, &str)> = vec![
        // Forced to 65534, the root image's run succeeds (it exits 1 only as uid 0) and reaches
        // the evaluation, which rejects its header-only predictions.
        ("darkroom-test-hostile:root", "FAILED", "evaluation error"),
        // The runner's /tmp size (64 MB) caps the tmpfs over the declared volume.
        ("darkroom-test-hostile:volume", "FAILED", "exited with code 1"),
        ("darkroom-test-hostile:many-files", "FAILED", "too many files: /output may hold at most 10000 files"),
        ("darkroom-test-hostile:deep", "FAILED", "output too deep: paths under /output may be at most 32 levels"),
        ("darkroom-test-hostile:unreadable", "FAILED", "output not archivable: /output/socket is not a regular file"),
    ];
    let mut ids = Vec::new();
    for (image, _, _) in &cases {
        let (s, b) = stack.app.submit(&slug, &token, &pushed(image)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        ids.push(b["id"].as_str().unwrap().to_owned());
    }
    let good = stack.app.register("Alice").await;
    let (_, g) = stack.app.submit(&slug, &good, &pushed("darkroom-demo-weak:1")).await;

    let mut problems = Vec::new();
    for ((image, state, says), id) in cases.iter().zip(&ids) {
        let sub = stack.finished(id, &token, 240).await;
        let reason = sub["failure_reason"].as_str().unwrap_or("");
        if sub["state"] != *state || !reason.contains(says) {
            problems.push(format!("{image}: expected {state} with '{says}', got {} '{reason}'", sub["state"]));
        }
        let ran_clean = sub["history"].as_array().unwrap().iter().any(|t| t["to"] == "EVALUATING");
        if image.ends_with(":root") && !ran_clean {
            problems.push(format!("{image}: the run itself failed, so it ran as uid 0: {sub}"));
        }
        if *state == "FAILED" && sub["counts_against_quota"] != true {
            problems.push(format!("{image}: a participant's failure was refunded: {sub}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let neighbour = stack.finished(g["id"].as_str().unwrap(), &good, 120).await;
    assert_eq!(neighbour["state"], "COMPLETE", "{neighbour}");

    let owner = format!("label=darkroom.owner={}", stack.runner_config.runner.runner_id);
    assert!(docker_lines(&["ps", "-aq", "--filter", &owner]).is_empty(), "containers left behind");
    assert!(docker_lines(&["volume", "ls", "-q", "--filter", &owner]).is_empty(), "labelled volumes left behind");
    let new: Vec<String> = docker_lines(&["volume", "ls", "-q"]).difference(&volumes_before).cloned().collect();
    assert!(new.is_empty(), "volumes created (an image VOLUME reached the host's disk?): {new:?}");
}

/// Where the challenge hides logs, a failure says only its class: no exit code, no log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_logs_leave_only_the_class_of_failure() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = stack
        .challenge("hostile-hidden", |s| {
            s["resources"] = serde_json::json!({
                "cpus": 1.0, "memory_mb": 128, "wall_clock_seconds": 20, "output_max_mb": 2, "pids": 32
            });
            s["logs_visible"] = serde_json::json!(false);
        })
        .await;
    let token = stack.app.register("Eve").await;
    let (_, a) = stack.app.submit(&slug, &token, &pushed("darkroom-test-hostile:fail")).await;
    let (_, b) = stack.app.submit(&slug, &token, &pushed("darkroom-test-hostile:unreadable")).await;
    let a: Value = stack.finished(a["id"].as_str().unwrap(), &token, 120).await;
    let b: Value = stack.finished(b["id"].as_str().unwrap(), &token, 120).await;
    assert_eq!(a["failure_reason"], "failed: the run ended with an error", "{a}");
    let reason = b["failure_reason"].as_str().unwrap_or("");
    assert!(reason.starts_with("output not archivable") && !reason.contains("socket"), "{b}");
    // Times come cut to the whole second.
    for t in a["history"].as_array().unwrap() {
        let at = t["at"].as_str().unwrap();
        let parsed = chrono::DateTime::parse_from_rfc3339(at).unwrap();
        assert_eq!(parsed.timestamp_subsec_nanos(), 0, "{at}");
    }
    // What a finished run used: its duration cut to the whole second too, and no peak memory
    // (a figure the program sets could carry hidden data out). The organizer sees both whole.
    // `slow` runs 8 s, long enough for the engine to sample its memory; its run succeeds and
    // its header-only predictions then fail the evaluation.
    let (_, c) = stack.app.submit(&slug, &token, &pushed("darkroom-test-hostile:slow")).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let c: Value = stack.finished(&id, &token, 120).await;
    assert_eq!(darkroom_tests::states(&c), ["QUEUED", "RUNNING", "EVALUATING", "FAILED"], "{c}");
    assert_eq!(c["run"]["duration_ms"].as_u64().expect("a finished run's duration") % 1000, 0, "{c}");
    assert!(c["run"].get("peak_memory_bytes").is_none(), "{c}");
    let path = format!("/api/v1/submissions/{id}");
    let (_, seen) = stack.app.call(reqwest::Method::GET, &path, Some(darkroom_tests::ADMIN_TOKEN), None).await;
    assert!(seen["run"]["peak_memory_bytes"].as_u64().is_some_and(|b| b > 0), "{seen}");
}

/// Forged run requests naming host folders outside the data roots: `/`, `/etc`, a `..` that
/// climbs out of a root, a link inside a root pointing out. The runner (dataset) and the
/// evaluator (ground truth) fail each as a platform error naming the path and the setting, and
/// create no container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_requests_cannot_mount_host_folders_outside_the_data_roots() {
    use darkroom_core::domain::{FailureKind, ImageSource};
    use darkroom_core::events::{Event, RunFinished, SubmissionCreated, SubmissionFailed};
    use futures::StreamExt;

    let started = chrono::Utc::now().timestamp();
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let link = stack.app.dir.path().join("escape");
    std::os::unix::fs::symlink("/etc", &link).unwrap();
    let climb = format!("{}/../../etc", stack.app.dir.path().display());
    let forged_paths = ["/".to_owned(), "/etc".to_owned(), climb, link.display().to_string()];
    let client = async_nats::connect(stack.app.nats.url()).await.expect("connect to NATS");
    let mut failures = client.subscribe(SubmissionFailed::SUBJECT).await.expect("subscribe");
    client.flush().await.expect("flush");

    let mut expected = Vec::new();
    for path in &forged_paths {
        let id = darkroom_api::SubmissionId::from(uuid::Uuid::now_v7());
        let mut job = darkroom_tests::fixtures::job(id, "forged");
        job.event_id = SubmissionCreated::event_id_for(id, 1);
        job.image = ImageSource::Reference { name: pushed("darkroom-demo-weak:1"), digest: None, requested: None };
        job.dataset_host_path = path.clone();
        stack.app.publish(&job).await;
        expected.push((id, path.clone(), "runner.data_roots"));

        let id = darkroom_api::SubmissionId::from(uuid::Uuid::now_v7());
        let mut job = darkroom_tests::fixtures::job(id, "forged");
        job.evaluation_image = "darkroom-demo-eval:1".into();
        job.ground_truth_host_path = path.clone();
        let finished = RunFinished {
            event_id: RunFinished::event_id_for(id, 1),
            submission_id: id,
            attempt: 1,
            exit_code: 0,
            duration_ms: 1,
            peak_memory_bytes: None,
            output_artifact: format!("{id}-1.tar"),
            image_digest: None,
            at: chrono::Utc::now(),
            runner: None,
            job,
        };
        stack.app.publish(&finished).await;
        expected.push((id, path.clone(), "evaluator.data_roots"));
    }

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = std::collections::HashMap::new();
    while seen.len() < expected.len() {
        let message = tokio::time::timeout_at(deadline, failures.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {} forged requests failed: {seen:?}", seen.len(), expected.len()))
            .expect("the subscription stays open");
        let failure: SubmissionFailed = serde_json::from_slice(&message.payload).expect("a failure");
        seen.insert(failure.submission_id, failure);
    }
    for (id, path, setting) in &expected {
        let failure = &seen[id];
        assert_eq!((failure.kind, failure.retrying), (FailureKind::Platform, false), "{failure:?}");
        let detail = failure.detail.as_deref().unwrap_or("");
        assert!(detail.contains(&format!("'{path}'")) && detail.contains(setting), "{path}: {detail}");
        assert!(!failure.reason.contains(path.as_str()), "the participant read the host path: {failure:?}");
    }
    // Nothing reached the engine: no container was ever created for either service.
    for owner in [&stack.runner_config.runner.runner_id, &stack.runner_config.evaluator.evaluator_id] {
        let created = docker_lines(&[
            "events",
            "--since",
            &started.to_string(),
            "--until",
            &chrono::Utc::now().timestamp().to_string(),
            "--filter",
            "event=create",
            "--filter",
            &format!("label=darkroom.owner={owner}"),
        ]);
        assert!(created.is_empty(), "containers created for {owner}: {created:?}");
    }
}
