//! Submissions run for real: the swarm runner and the evaluator on the Docker engine, scores in
//! MongoDB, the leaderboard through the API. Needs the images of `scripts/build-images.sh`.

use std::time::Duration;

use darkroom_core::config::RunnerBackend;
use darkroom_tests::registry::pushed;
use darkroom_tests::{Stack, states};
use mongodb::bson::doc;
use reqwest::{Method, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_two_participants_are_scored_and_ranked() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = stack.challenge("e2e", |_| {}).await;
    let strong = stack.app.register("Baseline Lab").await;
    let weak = stack.app.register("Quick Guess").await;
    let (s, a) = stack.app.submit(&slug, &strong, &pushed("darkroom-demo-baseline:1")).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let (_, b) = stack.app.submit(&slug, &weak, &pushed("darkroom-demo-weak:1")).await;
    let a = stack.finished(a["id"].as_str().unwrap(), &strong, 120).await;
    let b = stack.finished(b["id"].as_str().unwrap(), &weak, 120).await;
    for sub in [&a, &b] {
        assert_eq!(sub["state"], "COMPLETE", "{sub}");
        assert_eq!(states(sub), ["QUEUED", "RUNNING", "EVALUATING", "COMPLETE"]);
        assert!(sub["image_digest"].as_str().unwrap().starts_with("sha256:"));
        assert!(sub["run"]["duration_ms"].as_u64().is_some_and(|ms| ms > 0), "what the run used: {sub}");
    }
    // Where logs are shown, a run long enough for the engine to sample (the baseline trains for
    // seconds; the weak guess may end before the first sample) shows its peak memory.
    assert!(a["run"]["peak_memory_bytes"].as_u64().is_some_and(|b| b > 0), "{a}");
    // One score document per submission, with both digests.
    let scores = stack.scores().await;
    let doc =
        scores.find_one(doc! { "submission_id": a["id"].as_str().unwrap() }).await.unwrap().expect("a score document");
    assert!(doc.get_str("evaluation_image_digest").unwrap().starts_with("sha256:"));
    // The name was pinned at submit time, and exactly that pull is what ran and was scored.
    let pinned = a["image"]["name"].as_str().unwrap();
    assert!(pinned.starts_with(&format!("{}@sha256:", pushed("darkroom-demo-baseline"))), "{a}");
    assert_eq!(a["image"]["requested"], pushed("darkroom-demo-baseline:1"));
    // (The pinned reference itself is released after the run; the pushed tag is the same image.)
    let pushed_id = std::process::Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &pushed("darkroom-demo-baseline:1")])
        .output()
        .expect("docker runs");
    let pushed_id = String::from_utf8_lossy(&pushed_id.stdout).trim().to_owned();
    assert_eq!(doc.get_str("image_digest").unwrap(), pushed_id, "the score names the pinned image");
    let attempt_tag = format!("darkroom-submission/{}:1", a["id"].as_str().unwrap());
    let held = std::process::Command::new("docker").args(["image", "inspect", &attempt_tag]).output().unwrap();
    assert!(!held.status.success(), "the attempt's hold on the pulled image is released");
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
    let finished = stream
        .get_last_raw_message_by_subject(<darkroom_core::events::RunFinished as darkroom_core::events::Event>::SUBJECT)
        .await
        .unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "replayed-run-finished");
    js.publish_with_headers(finished.subject.to_string(), headers, finished.payload.clone())
        .await
        .unwrap()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(scores.count_documents(doc! {}).await.unwrap(), 2, "a redelivered run.finished scored twice");
}

/// Every hostile submission ends with its reason; the host, the dataset and a well-behaved
/// neighbour are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_submissions_are_contained() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = stack
        .challenge("hostile", |s| {
            s["resources"] = serde_json::json!({ "cpus": 0.5, "memory_mb": 64, "wall_clock_seconds": 6, "output_max_mb": 2, "pids": 32 });
            s["logs_visible"] = serde_json::json!(true);
        })
        .await;
    let token = stack.app.register("Mallory").await;
    let cases: Vec<(&str, &str)> = vec![
        ("darkroom-test-hostile:egress", "exited with code 1"),
        ("darkroom-test-hostile:write-data", "exited with code 1"),
        ("darkroom-test-hostile:fork-bomb", "timed out"),
        ("darkroom-test-hostile:memory-hog", "out of memory"),
        // Its worker is OOM-killed, it recovers and exits 0: the run is judged a success and
        // evaluated (its header-only predictions then fail the evaluation), not "out of memory".
        ("darkroom-test-hostile:child-oom", "evaluation error"),
        ("darkroom-test-hostile:infinite-loop", "timed out"),
        ("darkroom-test-hostile:huge-output", "output too large"),
        ("darkroom-test-hostile:stdout-flood", "timed out"),
        ("darkroom-test-hostile:fake-score", "evaluation error"),
        ("darkroom-test-hostile:fail", "exited with code 3; last output:"),
        ("darkroom-test-hostile:no-output", "no output"),
        ("darkroom-test-noentry:1", "no ENTRYPOINT or CMD"),
    ];
    let mut ids = Vec::new();
    for (image, _) in &cases {
        let (s, b) = stack.app.submit(&slug, &token, &pushed(image)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        ids.push(b["id"].as_str().unwrap().to_owned());
    }
    // An archive that passes the upload's shape check but not the runner's rebuild.
    let archive = darkroom_tests::fixtures::archive_with_wrong_diff_id();
    let (s, b) = stack.app.upload(&slug, &token, "application/x-tar", archive).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let corrupt = b["id"].as_str().unwrap().to_owned();
    // A well-behaved neighbour submitted alongside.
    let good = stack.app.register("Alice").await;
    let (_, g) = stack.app.submit(&slug, &good, &pushed("darkroom-demo-weak:1")).await;

    let mut problems = Vec::new();
    for ((image, says), id) in cases.iter().zip(&ids) {
        let sub = stack.finished(id, &token, 180).await;
        let reason = sub["failure_reason"].as_str().unwrap_or("");
        if sub["state"] != "FAILED" || !reason.contains(says) {
            problems.push(format!("{image}: expected FAILED with '{says}', got {} '{reason}'", sub["state"]));
        }
    }
    let sub = stack.finished(&corrupt, &token, 60).await;
    if !sub["failure_reason"].as_str().unwrap_or("").contains("image corrupt") {
        problems.push(format!("corrupt archive: {sub}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let neighbour = stack.finished(g["id"].as_str().unwrap(), &good, 120).await;
    assert_eq!(neighbour["state"], "COMPLETE", "{neighbour}");
    // Nothing was written into the dataset; the fake score.json scored nothing.
    assert!(!stack.data.join("dataset/stolen.txt").exists());
    let scores = stack.scores().await;
    assert_eq!(scores.count_documents(doc! {}).await.unwrap(), 1, "only the neighbour has a score");
    // Failures of the participant's own making count against the quota.
    let (_, mine) = stack.app.call(Method::GET, "/api/v1/submissions", Some(&token), None).await;
    assert!(mine.as_array().unwrap().iter().all(|s| s["counts_against_quota"] == true), "{mine}");
    // No container is left behind.
    let left = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=darkroom.owner={}", stack.runner_config.runner.runner_id)])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "containers left: {}", String::from_utf8_lossy(&left.stdout));
}

/// A runner killed in the middle of a run: after its restart no container of it is left, and
/// the submission still reaches a terminal state (retried as a new attempt).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_mid_run_leaves_nothing_behind() {
    let mut stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = stack.challenge("crash", |s| s["resources"]["wall_clock_seconds"] = serde_json::json!(4)).await;
    let token = stack.app.register("Ada").await;
    let (_, sub) = stack.app.submit(&slug, &token, &pushed("darkroom-test-hostile:infinite-loop")).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    stack.app.wait_for(&id, &token, |b| b["state"] == "RUNNING").await;
    let owner = format!("label=darkroom.owner={}", stack.runner_config.runner.runner_id);
    let containers = || {
        let out = std::process::Command::new("docker").args(["ps", "-aq", "--filter", &owner]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    // RUNNING is published just before the container is created: wait until it exists.
    for _ in 0..50 {
        if containers() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stack.kill_runner().await;
    assert_eq!(containers(), 1, "the killed runner's container is orphaned");
    // The retry (attempt 2) gets a folder of its own: only attempt 1's is looked at.
    let first = stack.runner_config.runner.work_dir.join(format!("darkroom-run-{id}-1"));
    let lock = first.with_extension("lock");
    assert_eq!(mounts_under(&first), 1, "the killed run's output tmpfs is left mounted");
    assert!(first.exists() && lock.exists(), "the killed run's folder and its lock file are left");
    stack.start_runner().await;
    assert_eq!(containers(), 0, "the restarted runner removes its orphan");
    assert_eq!(mounts_under(&first), 0, "the restarted runner unmounts the killed run's output");
    assert!(!first.exists() && !lock.exists(), "the restarted runner removes the killed run's folder");
    let done = stack.finished(&id, &token, 90).await;
    assert_eq!(done["state"], "FAILED", "{done}");
    assert!(done["failure_reason"].as_str().unwrap().contains("timed out"), "{done}");
    assert_eq!(done["attempt"], 2, "the interrupted attempt was retried: {done}");
    let steps = states(&done);
    assert_eq!(steps, ["QUEUED", "RUNNING", "QUEUED", "RUNNING", "FAILED"], "{done}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(containers(), 0);
}

/// How many mounts this machine has at or below `path`.
fn mounts_under(path: &std::path::Path) -> usize {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mounts.lines().filter(|l| l.split(' ').nth(4).is_some_and(|p| std::path::Path::new(p).starts_with(path))).count()
}

/// The Swarm backend on a one-node swarm: a run placed by its node label, and one whose node
/// type no node has, which fails with a clear reason instead of hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_places_runs_by_node_label() {
    darkroom_tests::swarm::ensure_single_node_swarm("highcpu");
    let stack = Stack::spawn(RunnerBackend::Swarm).await;
    let placed = stack.challenge("swarm-highcpu", |s| s["node_type"] = serde_json::json!("highcpu")).await;
    let nowhere = stack.challenge("swarm-highmem", |s| s["node_type"] = serde_json::json!("highmem")).await;
    let token = stack.app.register("Grace").await;
    let (_, a) = stack.app.submit(&placed, &token, &pushed("darkroom-demo-weak:1")).await;
    let (_, b) = stack.app.submit(&nowhere, &token, &pushed("darkroom-demo-weak:1")).await;
    let a = stack.finished(a["id"].as_str().unwrap(), &token, 120).await;
    assert_eq!(a["state"], "COMPLETE", "{a}");
    let b = stack.finished(b["id"].as_str().unwrap(), &token, 60).await;
    assert_eq!(b["state"], "FAILED", "{b}");
    assert!(b["failure_reason"].as_str().unwrap().contains("no node of type 'highmem'"), "{b}");
    assert_eq!(b["counts_against_quota"], false, "{b}");
}

/// The probe a container healthcheck runs (`darkroom-swarm-runner healthcheck`), against a
/// running runner and evaluator: ready while NATS, the engine (and MongoDB) answer, not ready,
/// with the reason, once NATS is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_and_evaluator_answer_health_probes() {
    use darkroom_core::health::healthcheck;
    let mut app = darkroom_tests::TestApp::spawn(darkroom_tests::Backend::Sqlite).await;
    let mut config = app.config.clone();
    config.runner.work_dir = app.dir.path().join("runs");
    config.runner.runner_id = format!("health-{}", uuid::Uuid::new_v4().simple());
    config.runner.health_listen = "127.0.0.1:0".into();
    config.evaluator.work_dir = app.dir.path().join("evaluations");
    config.evaluator.health_listen = "127.0.0.1:0".into();
    let runner = darkroom_swarm_runner::Runner::build(config.clone().into()).await.expect("runner builds");
    let evaluator = darkroom_evaluator::Evaluator::build(config.into()).await.expect("evaluator builds");
    let addrs = [runner.health_addr().expect("runner health"), evaluator.health_addr().expect("evaluator health")];
    tokio::spawn(runner.run());
    tokio::spawn(evaluator.run());
    let probe = |path: &'static str| async move {
        tokio::task::spawn_blocking(move || addrs.map(|a| healthcheck("health_listen", &a.to_string(), path)))
            .await
            .unwrap()
    };
    for outcome in probe("/readyz").await {
        outcome.expect("ready");
    }
    app.nats.stop();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let outcomes = probe("/readyz").await;
        if outcomes
            .iter()
            .all(|o| o.as_ref().is_err_and(|e| e.to_string().contains("503") && e.to_string().contains("nats")))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still ready without NATS: {outcomes:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Alive all the same: liveness does not depend on NATS.
    for outcome in probe("/healthz").await {
        outcome.expect("alive");
    }
    app.nats.restart();
}

/// A container left behind under a run's name (a crash before its removal) does not block the
/// run: the create meets the name, the leftover is removed, and the create is tried again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leftover_container_under_the_runs_name_is_replaced() {
    use darkroom_core::sandbox::{Exit, Logs, Sandbox};
    let sandbox = Sandbox::connect().await.expect("Docker engine");
    let name = format!("darkroom-test-leftover-{}", uuid::Uuid::new_v4().simple());
    let image = "darkroom-demo-weak:1";
    let created = std::process::Command::new("docker").args(["create", "--name", &name, image]).output().unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let leftover = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    darkroom_demo_data::generate(&data, 7, 4, 4, 16).expect("a tiny dataset");
    let inputs = vec![(data.join("dataset"), "/data".to_owned())];
    let run = run_image(&sandbox, dir.path(), &name, image, inputs, Logs::Follow(&mut |_| {})).await;
    assert_eq!(run.exit, Exit::Code(0), "{run:?}");
    let gone = std::process::Command::new("docker").args(["inspect", &leftover]).output().unwrap();
    assert!(!gone.status.success(), "the leftover container was removed");
}

/// With `runner.image_registry`, a submission's image reaches Swarm nodes through the
/// platform's registry: the runner pushes the checked image and the service runs it by digest
/// (what lets a task start on a node that never loaded it); the manifest is deleted from the
/// registry and the tags from the engine when the attempt ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_runs_uploaded_images_from_the_platform_registry_by_digest() {
    darkroom_tests::swarm::ensure_single_node_swarm("highcpu");
    let registry = darkroom_tests::registry::registry();
    let stack = Stack::spawn_configured(RunnerBackend::Swarm, |c| {
        c.runner.image_registry = registry.clone();
        c.submissions.max_upload_bytes = 64 << 20;
    })
    .await;
    let slug = stack.challenge("swarm-registry", |s| s["node_type"] = serde_json::json!("highcpu")).await;
    let token = stack.app.register("Hedy").await;
    let archive = std::process::Command::new("docker").args(["save", "darkroom-test-hostile:slow"]).output().unwrap();
    assert!(archive.status.success());
    let (status, sub) = stack.app.upload(&slug, &token, "application/x-tar", archive.stdout).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sub}");
    let id = sub["id"].as_str().unwrap().to_owned();
    let label = format!("label=darkroom.submission={id}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let image = loop {
        let out = std::process::Command::new("docker")
            .args(["service", "ls", "--filter", &label, "--format", "{{.Image}}"])
            .output()
            .unwrap();
        let image = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !image.is_empty() {
            break image;
        }
        assert!(tokio::time::Instant::now() < deadline, "no Swarm service for {id}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let repository = format!("{registry}/darkroom-submission/{id}");
    assert!(image.starts_with(&format!("{repository}@sha256:")), "the service runs the pushed digest: {image}");
    // The run finished and went to the evaluator (which may refuse the hostile image's
    // predictions: that is not what this test is about).
    let done = stack.finished(&id, &token, 120).await;
    assert!(states(&done).iter().any(|s| s == "EVALUATING"), "{done}");
    // Gone from the registry and from the engine once the attempt ended.
    let digest = image.rsplit_once('@').unwrap().1.to_owned();
    let http = darkroom_tests::http_client().build().unwrap();
    let manifest = format!("http://{registry}/v2/darkroom-submission/{id}/manifests/{digest}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = http.head(&manifest).send().await.unwrap().status();
        if status == StatusCode::NOT_FOUND {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the manifest is still in the registry: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let left = std::process::Command::new("docker").args(["images", "-q", &repository]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "", "no tag of the attempt is left");
}

/// An evaluation's logs are read only when it fails, and then its last lines are there: a
/// failing image's output ends up in the outcome, a clean exit's is never read, and a
/// participant's run (followed live) sees every line either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_read_after_the_end_hold_a_failures_last_lines() {
    use darkroom_core::sandbox::{Exit, Logs, Sandbox};
    let sandbox = Sandbox::connect().await.expect("Docker engine");
    let dir = tempfile::tempdir().unwrap();
    let failed =
        run_image(&sandbox, dir.path(), &logs_run(), "darkroom-test-hostile:fail", vec![], Logs::TailOnFailure).await;
    assert_eq!(failed.exit, Exit::Code(3), "{failed:?}");
    for line in ["step 1 of 3", "step 3 of 3", "something broke in the participant's code"] {
        assert!(failed.log_tail.iter().any(|l| l == line), "'{line}' in the tail: {:?}", failed.log_tail);
    }
    let clean =
        run_image(&sandbox, dir.path(), &logs_run(), "darkroom-test-hostile:no-output", vec![], Logs::TailOnFailure)
            .await;
    assert_eq!(clean.exit, Exit::Code(0), "{clean:?}");
    assert!(clean.log_tail.is_empty(), "a clean exit's logs are not read: {:?}", clean.log_tail);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut sink = {
        let seen = seen.clone();
        move |line: &str| seen.lock().unwrap().push(line.to_owned())
    };
    let followed = run_image(
        &sandbox,
        dir.path(),
        &logs_run(),
        "darkroom-test-hostile:no-output",
        vec![],
        Logs::Follow(&mut sink),
    )
    .await;
    assert_eq!(followed.exit, Exit::Code(0), "{followed:?}");
    assert_eq!(followed.log_tail, ["done, but wrote nothing"]);
    assert_eq!(*seen.lock().unwrap(), ["done, but wrote nothing"], "followed live");
}

/// A fresh run name for the logs test.
fn logs_run() -> String {
    format!("darkroom-test-logs-{}", uuid::Uuid::new_v4().simple())
}

/// Runs `image` in the sandbox as `name`, with `inputs` mounted and a fresh output folder
/// under `dir` (writable by the run's user, as the runner's `OutputDir` hands it over).
async fn run_image(
    sandbox: &darkroom_core::sandbox::Sandbox,
    dir: &std::path::Path,
    name: &str,
    image: &str,
    inputs: Vec<(std::path::PathBuf, String)>,
    logs: darkroom_core::sandbox::Logs<'_>,
) -> darkroom_core::sandbox::RunOutcome {
    use darkroom_core::sandbox::{Hardening, Limits, RunSpec};
    let output = dir.join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&output).unwrap();
    std::fs::set_permissions(&output, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let spec = RunSpec {
        name: name.to_owned(),
        image: image.to_owned(),
        labels: Default::default(),
        inputs,
        output,
        limits: Limits {
            cpus: 1.0,
            memory_mb: 256,
            pids: 64,
            gpus: 0,
            tmp_size_mb: 16,
            output_max_mb: 4,
            wall_clock: Duration::from_secs(60),
        },
        seed: 1,
    };
    let info = sandbox.image_info(image).await.unwrap();
    let hardening = Hardening::new(&spec, &info, false).unwrap();
    sandbox.run(&spec, &hardening, logs).await.expect("a run (a leftover under its name does not block it)")
}
