//! Hostile image archives against the real API, runner and engine: each refused with its
//! reason (at upload, or by the runner's rebuild when it slips past the upload), the organizer's
//! evaluation image untouched, a neighbour's submission completing, no submission image left on
//! the engine, and a cancel during a slow load honoured before any container starts. Needs the
//! images of `scripts/build-images.sh`.

use std::time::Duration;

use darkroom_core::config::RunnerBackend;
use darkroom_core::image_archive::fixture::{self, Entry};
use darkroom_tests::{Backend, Stack, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const EVAL_IMAGE: &str = "darkroom-demo-eval:1";

fn docker(args: &[&str]) -> String {
    let out = std::process::Command::new("docker").args(args).output().expect("docker runs");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn image_id(image: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", image])
}

/// The entries of `docker save IMAGE`, as the engine wrote them.
fn saved(image: &str) -> Vec<Entry> {
    let out = std::process::Command::new("docker").args(["save", image]).output().expect("docker save");
    assert!(out.status.success());
    let mut archive = tar::Archive::new(out.stdout.as_slice());
    let mut entries = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let kind = e.header().entry_type();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        entries.push(Entry { name: if kind.is_dir() { format!("{name}/") } else { name }, data, kind });
    }
    entries
}

fn manifest(entries: &mut [Entry]) -> &mut Entry {
    entries.iter_mut().find(|e| e.name == "manifest.json").expect("a manifest")
}

/// Adds `layer` to a saved image as `<dir>/layer.tar`: its diff_id into the config, the config
/// renamed by its new digest, both into the manifest. Returns the new image id.
fn with_layer(entries: &mut Vec<Entry>, dir: &str, layer: Vec<u8>) -> String {
    let diff_id = format!("sha256:{}", fixture::sha256_hex(&layer));
    let mut m: Value = serde_json::from_slice(&manifest(entries).data).unwrap();
    let config_name = m[0]["Config"].as_str().unwrap().to_owned();
    let config = entries.iter().position(|e| e.name == config_name).unwrap();
    let mut cfg: Value = serde_json::from_slice(&entries[config].data).unwrap();
    cfg["rootfs"]["diff_ids"].as_array_mut().unwrap().push(Value::String(diff_id));
    let cfg = serde_json::to_vec(&cfg).unwrap();
    let digest = fixture::sha256_hex(&cfg);
    let new_name = format!("{digest}.json");
    entries[config] = Entry::file(&new_name, cfg);
    let layer_name = format!("{dir}/layer.tar");
    entries.push(Entry::file(&layer_name, layer));
    m[0]["Config"] = Value::String(new_name);
    m[0]["Layers"].as_array_mut().unwrap().push(Value::String(layer_name));
    manifest(entries).data = serde_json::to_vec(&m).unwrap();
    format!("sha256:{digest}")
}

/// The participant image's save with a second manifest, spelled differently, that tags it
/// as the evaluation image: the attack that once replaced the organizer's image.
fn evaluation_hijack() -> Vec<u8> {
    let mut entries = saved("darkroom-test-hostile:fake-score");
    let text = String::from_utf8(manifest(&mut entries).data.clone()).unwrap();
    let mut list: Value = serde_json::from_str(&text).unwrap();
    list[0]["RepoTags"] = serde_json::json!([EVAL_IMAGE]);
    entries.push(Entry::file("./manifest.json", serde_json::to_vec(&list).unwrap()));
    fixture::tar(&entries)
}

fn uploaded_error(body: &Value) -> String {
    body["error"]["message"].as_str().or(body["message"].as_str()).unwrap_or_default().to_owned() + &body.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_archives_are_refused_at_upload_with_their_reason() {
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| c.submissions.max_upload_bytes = 64 << 20).await;
    let slug = app.create_challenge("hostile-uploads", |_| {}).await;
    let token = app.register("Mallory").await;
    let eval_before = image_id(EVAL_IMAGE);

    let two_images = {
        let mut e = saved("darkroom-test-hostile:ok");
        let m = manifest(&mut e);
        let mut list: Value = serde_json::from_slice(&m.data).unwrap();
        let again = list[0].clone();
        list.as_array_mut().unwrap().push(again);
        m.data = serde_json::to_vec(&list).unwrap();
        fixture::tar(&e)
    };
    let oci_two = {
        let mut e = saved("darkroom-test-hostile:ok");
        e.push(Entry::file("oci-layout", r#"{"imageLayoutVersion":"1.0.0"}"#));
        e.push(Entry::file("index.json", r#"{"schemaVersion":2,"manifests":[{},{}]}"#));
        fixture::tar(&e)
    };
    let config_mismatch = {
        let mut e = saved("darkroom-test-hostile:ok");
        let config = e.iter_mut().find(|x| x.name.len() == 69 && x.name.ends_with(".json")).expect("config");
        config.data = String::from_utf8(config.data.clone()).unwrap().replace("/hostile", "/hostilX").into_bytes();
        fixture::tar(&e)
    };
    let missing_layer = {
        let e: Vec<Entry> =
            saved("darkroom-test-hostile:ok").into_iter().filter(|x| !x.name.ends_with("layer.tar")).collect();
        fixture::tar(&e)
    };
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("duplicate manifest names", evaluation_hijack(), "name the same file 'manifest.json'"),
        ("two images", two_images, "lists 2 images"),
        ("OCI layout with two images", oci_two, "index.json lists 2 images"),
        ("config digest mismatch", config_mismatch, "not the one its name claims"),
        ("manifest naming a missing layer", missing_layer, "lacks"),
    ];
    let uploads = app.data_dir().join("data/uploads");
    for (what, archive, says) in cases {
        let (status, body) = app.upload(&slug, &token, "application/x-tar", archive).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert!(uploaded_error(&body).contains(says), "{what}: expected '{says}' in {body}");
    }
    let left: Vec<_> =
        std::fs::read_dir(&uploads).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "refused uploads leave nothing on disk: {left:?}");
    // A real archive from the engine passes.
    let (status, body) =
        app.upload(&slug, &token, "application/x-tar", fixture::tar(&saved("darkroom-test-hostile:ok"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(image_id(EVAL_IMAGE), eval_before);
}

/// The runner rebuilds what it loads even when the upload check was passed: archives swapped
/// on disk after the upload (as if the check had a hole) fail as "image corrupt", a bomb stops
/// at `max_image_bytes`, a real upload completes, and no submission image stays on the engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_rebuilds_every_upload_before_the_engine_sees_it() {
    let mut stack = Stack::spawn_configured(RunnerBackend::Engine, |c| {
        c.submissions.max_upload_bytes = 64 << 20;
        c.runner.max_image_bytes = 64 << 20;
    })
    .await;
    let slug = stack.challenge("rebuilds", |_| {}).await;
    let eval_before = image_id(EVAL_IMAGE);
    stack.kill_runner().await;

    // Each participant uploads a valid archive (distinct, so each is stored apart); the stored
    // file is then replaced by the hostile one while no runner is looking.
    let bomb = fixture::tar(&fixture::with_compressed_layer(fixture::gzip_zeros(256 << 20), b"x"));
    let swaps: [(&str, Vec<u8>, &str); 2] =
        [("hijack", evaluation_hijack(), "name the same file 'manifest.json'"), ("bomb", bomb, "unpacks to more than")];
    let mut swapped = Vec::new();
    for (i, (who, hostile, says)) in swaps.into_iter().enumerate() {
        let token = stack.app.register(who).await;
        let mut valid = saved("darkroom-test-hostile:ok");
        valid.push(Entry::file(&format!("padding-{i}"), "x"));
        let (status, body) = stack.app.upload(&slug, &token, "application/x-tar", fixture::tar(&valid)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let stored = std::fs::read_dir(stack.app.data_dir().join("data/uploads"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| !swapped.iter().any(|(_, _, _, q): &(String, String, &str, std::path::PathBuf)| q == p))
            .expect("the stored upload");
        std::fs::write(&stored, hostile).unwrap();
        swapped.push((body["id"].as_str().unwrap().to_owned(), token, says, stored));
    }
    let good = stack.app.register("Alice").await;
    let (status, g) =
        stack.app.upload(&slug, &good, "application/x-tar", fixture::tar(&saved("darkroom-demo-weak:1"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{g}");
    stack.start_runner().await;

    for (id, token, says, _) in &swapped {
        let sub = stack.finished(id, token, 120).await;
        let reason = sub["failure_reason"].as_str().unwrap_or_default();
        assert_eq!(sub["state"], "FAILED", "{sub}");
        assert!(reason.starts_with("image corrupt") && reason.contains(says), "expected '{says}': {sub}");
    }
    let neighbour = stack.finished(g["id"].as_str().unwrap(), &good, 120).await;
    assert_eq!(neighbour["state"], "COMPLETE", "{neighbour}");
    assert_eq!(image_id(EVAL_IMAGE), eval_before, "the evaluation image is untouched");
    let ids: Vec<String> =
        swapped.iter().map(|(id, ..)| id.clone()).chain([g["id"].as_str().unwrap().into()]).collect();
    assert_nothing_left(&stack, &ids).await;
}

/// No tag of these submissions is left on the engine and no archive in the runner's scratch
/// folder. Only this test's tags: tests beside it in this binary load images of their own.
async fn assert_nothing_left(stack: &Stack, ids: &[String]) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in ids {
        let ours = format!("darkroom-submission/{id}");
        assert_eq!(docker(&["images", "-q", &ours]), "", "loaded images are removed after their run");
    }
    let scratch = stack.runner_config.runner.work_dir.join("scratch");
    let left: Vec<_> =
        std::fs::read_dir(&scratch).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "no fetched or rebuilt archive is left: {left:?}");
}

/// A name submitted from a registry goes through the same rebuild as an upload: the runner
/// fetches the pinned digest itself (the engine never pulls it), so a layer pushed as a gzip
/// bomb stops at `max_image_bytes` before the engine sees a byte, while neighbours' pushed
/// images complete with what ran on their receipts: one the engine already held (tagged by its
/// id, not downloaded again), and one it never saw (downloaded, rebuilt, loaded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bomb_pushed_to_a_registry_stops_at_max_image_bytes() {
    let stack = Stack::spawn_configured(RunnerBackend::Engine, |c| c.runner.max_image_bytes = 64 << 20).await;
    let slug = stack.challenge("registry-bomb", |_| {}).await;
    let eval_before = image_id(EVAL_IMAGE);
    let repo = format!("bomb-{}", uuid::Uuid::new_v4().simple());
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Entrypoint":["/x"]}},"rootfs":{{"type":"layers","diff_ids":["sha256:{}"]}}}}"#,
        "0".repeat(64)
    );
    let bomb = darkroom_tests::registry::publish_image(
        &format!("{repo}:1"),
        config.as_bytes(),
        &[fixture::gzip_zeros(256 << 20)],
    )
    .await;
    // An image the engine has never seen: the demo's, relabelled (so its id is new) and pushed
    // layer by layer, as `docker push` would from another machine.
    let fresh_repo = format!("fresh-{}", uuid::Uuid::new_v4().simple());
    let (fresh, fresh_id) = {
        let entries = saved("darkroom-demo-weak:1");
        let m: Value =
            serde_json::from_slice(&entries.iter().find(|e| e.name == "manifest.json").unwrap().data).unwrap();
        let file = |name: &str| entries.iter().find(|e| e.name == name).unwrap().data.clone();
        let mut config: Value = serde_json::from_slice(&file(m[0]["Config"].as_str().unwrap())).unwrap();
        config["config"]["Labels"] = serde_json::json!({ "darkroom.test": fresh_repo });
        let config = serde_json::to_vec(&config).unwrap();
        let layers: Vec<Vec<u8>> =
            m[0]["Layers"].as_array().unwrap().iter().map(|l| file(l.as_str().unwrap())).collect();
        let name = darkroom_tests::registry::publish_image(&format!("{fresh_repo}:1"), &config, &layers).await;
        (name, format!("sha256:{}", fixture::sha256_hex(&config)))
    };
    let (mallory, alice, carol) =
        (stack.app.register("Mallory").await, stack.app.register("Alice").await, stack.app.register("Carol").await);
    let (status, b) = stack.app.submit(&slug, &mallory, &bomb).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{b}");
    let (status, g) = stack.app.submit(&slug, &alice, &darkroom_tests::registry::pushed("darkroom-demo-weak:1")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{g}");
    let (status, f) = stack.app.submit(&slug, &carol, &fresh).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{f}");

    let failed = stack.finished(b["id"].as_str().unwrap(), &mallory, 120).await;
    let reason = failed["failure_reason"].as_str().unwrap_or_default();
    assert_eq!(failed["state"], "FAILED", "{failed}");
    assert!(reason.starts_with("image corrupt") && reason.contains("unpacks to more than"), "{failed}");
    let done = stack.finished(g["id"].as_str().unwrap(), &alice, 120).await;
    assert_eq!(done["state"], "COMPLETE", "{done}");
    let pinned = g["image"]["name"].as_str().expect("the pinned name");
    assert!(pinned.contains("@sha256:"), "{g}");
    assert_eq!(done["image"]["name"].as_str(), Some(pinned), "{done}");
    // The score's receipt names the image that ran: the config the pinned manifest points at,
    // which is the image `docker push` sent from this engine.
    let (_, receipt) = stack
        .app
        .call(Method::GET, &format!("/api/v1/submissions/{}/receipt", g["id"].as_str().unwrap()), Some(&alice), None)
        .await;
    let pushed_id = image_id(&darkroom_tests::registry::pushed("darkroom-demo-weak:1"));
    assert_eq!(receipt["receipt"]["claims"]["image_digest"].as_str(), Some(pushed_id.as_str()), "{receipt}");
    let done = stack.finished(f["id"].as_str().unwrap(), &carol, 120).await;
    assert_eq!(done["state"], "COMPLETE", "the image fetched, rebuilt and loaded ran: {done}");
    let (_, receipt) = stack
        .app
        .call(Method::GET, &format!("/api/v1/submissions/{}/receipt", f["id"].as_str().unwrap()), Some(&carol), None)
        .await;
    assert_eq!(receipt["receipt"]["claims"]["image_digest"].as_str(), Some(fresh_id.as_str()), "{receipt}");
    assert_eq!(docker(&["images", "-q", &format!("*/{fresh_repo}")]), "", "the engine never pulled it");

    assert_eq!(image_id(EVAL_IMAGE), eval_before, "the evaluation image is untouched");
    assert_eq!(docker(&["images", "-q", &format!("*/{repo}")]), "", "the engine never pulled the bomb");
    assert_nothing_left(&stack, &[&b, &g, &f].map(|s| s["id"].as_str().unwrap().to_owned())).await;
}

/// A cancel that arrives while the runner is rebuilding and loading a large upload wins: the
/// container never starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_a_slow_load_is_honoured_before_the_container_starts() {
    let stack = Stack::spawn_configured(RunnerBackend::Engine, |c| c.submissions.max_upload_bytes = 256 << 20).await;
    let slug = stack.challenge("slow-load", |_| {}).await;
    let token = stack.app.register("Patience").await;
    // 96 MiB that does not compress, so rebuilding and loading take a moment.
    let mut noise = vec![0u8; 96 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in noise.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let mut entries = saved("darkroom-test-hostile:ok");
    with_layer(&mut entries, "noise", fixture::layer(&[("noise", &noise)]));

    let (status, body) = stack.app.upload(&slug, &token, "application/x-tar", fixture::tar(&entries)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    // The rebuilt copy appears in the runner's scratch folder when the load begins.
    let scratch = stack.runner_config.runner.work_dir.join("scratch");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !std::fs::read_dir(&scratch).is_ok_and(|mut d| d.next().is_some()) {
        assert!(tokio::time::Instant::now() < deadline, "the runner never started loading");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (s, c) = stack.app.call(Method::POST, &format!("/api/v1/submissions/{id}/cancel"), Some(&token), None).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let done = stack.finished(&id, &token, 60).await;
    assert_eq!(done["state"], "CANCELLED", "{done}");
    // Give the runner time to finish the load and decide; it must not start the container.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, sub) = stack.app.call(Method::GET, &format!("/api/v1/submissions/{id}"), Some(&token), None).await;
    let states: Vec<&str> = sub["history"].as_array().unwrap().iter().filter_map(|t| t["to"].as_str()).collect();
    assert!(!states.contains(&"RUNNING"), "{sub}");
    let owner = format!("label=darkroom.submission={id}");
    assert_eq!(docker(&["ps", "-aq", "--filter", &owner]), "", "no container was created");
}

/// The other side of that race: a cancel that lands after the container started (the runner
/// had already checked) leaves a finished run waiting for the evaluator, marked cancelled in the
/// runs bucket. The evaluator never scores it, while a neighbour's run behind it is scored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evaluator_never_scores_a_run_cancelled_after_it_started() {
    let mut stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = stack.challenge("late-cancel", |_| {}).await;
    stack.stop_evaluator().await;
    let (ada, bob) = (stack.app.register("Ada").await, stack.app.register("Bob").await);
    let image = darkroom_tests::registry::pushed("darkroom-demo-weak:1");
    let mut ids = Vec::new();
    for token in [&ada, &bob] {
        let (status, body) = stack.app.submit(&slug, token, &image).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        stack.app.wait_for(&id, token, |b| b["state"] == "EVALUATING").await;
        ids.push(id);
    }
    // What the API's cancel writes for runners and the evaluator (a cancel in time for the
    // database to refuse RUNNING is the case above; this is the one that came too late for it).
    let js = async_nats::jetstream::new(async_nats::connect(stack.app.nats.url()).await.unwrap());
    let runs = darkroom_core::bus::runs_bucket(&js).await.unwrap();
    darkroom_core::bus::mark_cancelled(&runs, ids[0].parse().unwrap()).await.unwrap();

    stack.start_evaluator().await;
    let scored = stack.finished(&ids[1], &bob, 60).await;
    assert_eq!(scored["state"], "COMPLETE", "{scored}");
    // Both runs were handled and acknowledged: nothing waits for the evaluator any more.
    let stream = js.get_stream(darkroom_core::events::STREAM).await.unwrap();
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer(darkroom_evaluator::startup::DURABLE_NAME).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let info = consumer.info().await.unwrap();
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the evaluator still holds runs: {info:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let scores = stack.scores().await;
    let count = |id: &str| scores.count_documents(mongodb::bson::doc! { "submission_id": id.to_owned() });
    assert_eq!(count(&ids[1]).await.unwrap(), 1);
    assert_eq!(count(&ids[0]).await.unwrap(), 0, "a cancelled run was scored");
    let evaluated = format!("name=darkroom-eval-{}", ids[0]);
    assert_eq!(docker(&["ps", "-aq", "--filter", &evaluated]), "", "no evaluation container for it");
}

/// The evaluation image is pinned when the challenge is applied: a name that is not on the
/// evaluators' engine is refused, and a name retagged afterwards fails the evaluation as a
/// platform error with the organizer told why, instead of scoring with another image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evaluation_image_is_pinned_when_the_challenge_is_applied() {
    let stack = Stack::spawn_configured(RunnerBackend::Engine, |c| c.submissions.max_upload_bytes = 64 << 20).await;
    let missing = format!("darkroom-test-missing-{}:1", uuid::Uuid::new_v4().simple());
    let mut spec = darkroom_tests::fixtures::spec(&stack.app.data_dir(), "unpinnable");
    spec["evaluation"]["image"] = Value::String(missing.clone());
    let (s, body) =
        stack.app.call(Method::POST, "/api/v1/challenges", Some(darkroom_tests::ADMIN_TOKEN), Some(spec)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("not on the evaluators' Docker engine"), "{body}");

    let name = format!("darkroom-test-eval-pin-{}:1", uuid::Uuid::new_v4().simple());
    docker(&["tag", EVAL_IMAGE, &name]);
    let slug = stack.challenge("pinned", |s| s["evaluation"]["image"] = Value::String(name.clone())).await;
    // The name now points at a participant's image.
    docker(&["tag", "darkroom-test-hostile:fake-score", &name]);
    let token = stack.app.register("Bob").await;
    let archive = fixture::tar(&saved("darkroom-demo-weak:1"));
    let (status, sub) = stack.app.upload(&slug, &token, "application/x-tar", archive).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sub}");
    let id = sub["id"].as_str().unwrap();
    let done = stack.finished(id, &token, 120).await;
    docker(&["rmi", &name]);
    assert_eq!(done["state"], "FAILED", "{done}");
    assert!(done["failure_reason"].as_str().unwrap().contains("organizer has been alerted"), "{done}");
    let (_, seen) = stack
        .app
        .call(Method::GET, &format!("/api/v1/submissions/{id}"), Some(darkroom_tests::ADMIN_TOKEN), None)
        .await;
    assert!(seen.to_string().contains("pinned when the challenge was applied"), "the organizer is told: {seen}");
    assert_eq!(seen["counts_against_quota"], false, "not charged: {seen}");
    let scores = stack.scores().await;
    assert_eq!(scores.count_documents(mongodb::bson::doc! { "submission_id": id }).await.unwrap(), 0);
}

/// Bytes under `path` (files only, not following links) and how many files.
fn tree_size(path: &std::path::Path) -> (u64, usize) {
    let Ok(dir) = std::fs::read_dir(path) else { return (0, 0) };
    dir.flatten().fold((0, 0), |(bytes, files), e| match e.file_type() {
        Ok(t) if t.is_dir() => {
            let (b, f) = tree_size(&e.path());
            (bytes + b, files + f)
        }
        Ok(t) if t.is_file() => (bytes + e.metadata().map(|m| m.len()).unwrap_or(0), files + 1),
        _ => (bytes, files),
    })
}

/// The engine's `docker system df` layer bytes (`LayersSize`), from its API.
fn engine_layers_size() -> u64 {
    let out = std::process::Command::new("curl")
        .args(["-sf", "--unix-socket", "/var/run/docker.sock", "http://localhost/v1.41/system/df"])
        .output()
        .expect("curl runs");
    let df: Value = serde_json::from_slice(&out.stdout).expect("docker system df as JSON");
    df["LayersSize"].as_u64().expect("LayersSize")
}

/// Issue 13's "disk left after 100 submissions with GC on": 100 uploads, each a distinct image
/// (the demo's weak model plus a 1 MiB layer of its own), run to COMPLETE through the real
/// stack; then what is left on the engine and on disk. Prints the numbers; asserts only what
/// the runner's GC promises (no submission image, container or rebuilt copy left). Slow (a few
/// minutes): `cargo test -p darkroom-tests --test images -- --ignored gc_after_100 --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn gc_after_100_submissions() {
    const N: usize = 100;
    // GC on: uploads go at the first sweep after their submission is terminal.
    let stack = Stack::spawn_configured(RunnerBackend::Engine, |c| {
        c.submissions.max_upload_bytes = 64 << 20;
        c.submissions.upload_retention_hours = 0;
        c.submissions.upload_sweep_interval_seconds = 1;
    })
    .await;
    let slug = stack.challenge("gc-100", |_| {}).await;
    let token = stack.app.register("Hundred").await;
    let base = saved("darkroom-demo-weak:1");
    let layers_before = engine_layers_size();
    let submission_tags_before = docker(&["images", "-q", "darkroom-submission/*"]).lines().count();

    let started = std::time::Instant::now();
    let mut sent = Vec::new();
    // Fresh per run, so no image of an earlier run (or of a neighbour's) shares these ids.
    let mut x: u64 = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
    for i in 0..N {
        let mut own = vec![0u8; 1 << 20];
        for chunk in own.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let mut entries = base.clone();
        let image_id = with_layer(&mut entries, &format!("own{i}"), fixture::layer(&[("own.bin", &own)]));
        let (status, body) = stack.app.upload(&slug, &token, "application/x-tar", fixture::tar(&entries)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "upload {i}: {body}");
        sent.push((body["id"].as_str().unwrap().to_owned(), image_id));
    }
    let uploaded = started.elapsed();
    let mut states = std::collections::BTreeMap::<String, usize>::new();
    for (id, _) in &sent {
        let done = stack.finished(id, &token, 900).await;
        *states.entry(done["state"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
    }
    let finished = started.elapsed();
    // The tag is removed when the attempt ends, just after the state is written.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let ours: std::collections::HashSet<&str> = sent.iter().map(|(id, _)| id.as_str()).collect();
    let submission_tags = docker(&["images", "--format", "{{.Repository}}", "darkroom-submission/*"]);
    let our_tags = submission_tags.lines().filter(|r| ours.iter().any(|id| r.ends_with(id))).count();
    let images_left = sent.iter().filter(|(_, image)| !docker_ok(&["image", "inspect", image])).count();
    let images_left = N - images_left;
    let containers = docker(&["ps", "-a", "--format", "{{.Label \"darkroom.submission\"}}"]);
    let our_containers = containers.lines().filter(|l| ours.contains(l)).count();
    let layers_after = engine_layers_size();
    let (scratch_bytes, scratch_files) = tree_size(&stack.runner_config.runner.work_dir.join("scratch"));
    let (runs_bytes, runs_files) = tree_size(&stack.runner_config.runner.work_dir);
    let (eval_bytes, eval_files) = tree_size(&stack.runner_config.evaluator.work_dir);
    let uploads = stack.app.data_dir().join("data/uploads");
    for _ in 0..50 {
        if tree_size(&uploads).1 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (upload_bytes, upload_files) = tree_size(&uploads);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "gc_after_100_submissions: {N} uploads sent in {:.1} s, all finished after {:.1} s: {states:?}",
        uploaded.as_secs_f64(),
        finished.as_secs_f64()
    );
    println!(
        "  submission tags of these runs left on the engine: {our_tags} (all darkroom-submission/* now: {}, before: {submission_tags_before})",
        submission_tags.lines().count()
    );
    println!(
        "  these runs' images (distinct ids) still on the engine: {images_left}; their containers: {our_containers}"
    );
    println!(
        "  engine layer bytes (docker system df, whole engine): before {:.1} MiB, after {:.1} MiB, delta {:+.1} MiB",
        mib(layers_before),
        mib(layers_after),
        mib(layers_after) - mib(layers_before)
    );
    println!(
        "  runner scratch: {scratch_files} files, {:.1} MiB; runner work_dir: {runs_files} files, {:.1} MiB; evaluator work_dir: {eval_files} files, {:.1} MiB",
        mib(scratch_bytes),
        mib(runs_bytes),
        mib(eval_bytes)
    );
    println!("  uploads folder: {upload_files} files, {:.1} MiB", mib(upload_bytes));
    assert_eq!(states.get("COMPLETE"), Some(&N), "every submission completes: {states:?}");
    assert_eq!(our_tags, 0, "no submission tag left");
    assert_eq!(images_left, 0, "no submission image left");
    assert_eq!(our_containers, 0, "no container left");
    assert_eq!(scratch_files, 0, "no rebuilt archive left");
    assert_eq!(upload_files, 0, "no stored upload left");
}

fn docker_ok(args: &[&str]) -> bool {
    std::process::Command::new("docker").args(args).output().is_ok_and(|o| o.status.success())
}

/// A runner that restarts removes the submission tags of attempts that finished (a crash
/// between the run and the removal leaves them) and keeps those still claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_runner_sweeps_the_tags_of_finished_attempts() {
    let mut stack = Stack::spawn(RunnerBackend::Engine).await;
    stack.kill_runner().await;
    let (done, running) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let tag = |id: uuid::Uuid| format!("darkroom-submission/{id}:1");
    docker(&["tag", "darkroom-demo-weak:1", &tag(done)]);
    docker(&["tag", "darkroom-demo-weak:1", &tag(running)]);
    let js = async_nats::jetstream::new(async_nats::connect(stack.app.nats.url()).await.unwrap());
    let runs = darkroom_core::bus::runs_bucket(&js).await.unwrap();
    runs.put(format!("{done}.1"), "done".into()).await.unwrap();
    runs.put(format!("{running}.1"), "claimed".into()).await.unwrap();
    stack.start_runner().await;
    let exists =
        |t: &str| std::process::Command::new("docker").args(["image", "inspect", t]).output().unwrap().status.success();
    assert!(!exists(&tag(done)), "a finished attempt's tag is swept");
    assert!(exists(&tag(running)), "a claimed attempt's tag stays");
    docker(&["rmi", &tag(running)]);
}

/// Attempts of a name whose pinned image the engine already holds run under the runner's one
/// hold on it, with no tag of their own: the hold is there after they end, for
/// `runner.image_hold_seconds`, then gone. A restarted runner removes its own holds (a crash
/// leaves them) and never another runner's, whose attempts may be running on this engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_of_an_image_the_engine_has_share_one_hold_that_goes_when_idle() {
    const IDLE: u64 = 15;
    let mut stack = Stack::spawn_configured(RunnerBackend::Engine, |c| c.runner.image_hold_seconds = IDLE).await;
    let slug = stack.challenge("holds", |_| {}).await;
    let image = darkroom_tests::registry::pushed("darkroom-demo-weak:1");
    let id = image_id(&image);
    let hex = id.trim_start_matches("sha256:").to_owned();
    let sandbox = darkroom_core::sandbox::Sandbox::connect_to("").await.expect("the engine");
    let hold_of = |runner: &str| {
        let holds = darkroom_swarm_runner::holds::Holds::new(sandbox.clone(), runner, Duration::ZERO);
        format!("{}:{hex}", holds.repository())
    };
    let hold = hold_of(&stack.runner_config.runner.runner_id);
    let held = |tag: &str| docker_ok(&["image", "inspect", tag]);
    assert!(!held(&hold), "no hold before the first attempt");
    let (alice, bob) = (stack.app.register("Alice").await, stack.app.register("Bob").await);
    let mut ids = Vec::new();
    for token in [&alice, &bob] {
        let (status, body) = stack.app.submit(&slug, token, &image).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    for (id_, token) in ids.iter().zip([&alice, &bob]) {
        let done = stack.finished(id_, token, 120).await;
        assert_eq!(done["state"], "COMPLETE", "{done}");
        let (_, receipt) =
            stack.app.call(Method::GET, &format!("/api/v1/submissions/{id_}/receipt"), Some(token), None).await;
        assert_eq!(receipt["receipt"]["claims"]["image_digest"].as_str(), Some(id.as_str()), "{receipt}");
    }
    assert!(held(&hold), "the hold outlives its attempts for the idle time");

    // An operator removes the hold by hand while the runner still counts on it: the next
    // attempt's create misses it, which is the platform's loss, not the participant's image.
    docker(&["rmi", &hold]);
    let carol = stack.app.register("Carol").await;
    let (status, body) = stack.app.submit(&slug, &carol, &image).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    ids.push(body["id"].as_str().unwrap().to_owned());
    let done = stack.finished(&ids[2], &carol, 120).await;
    assert_eq!(done["state"], "COMPLETE", "a lost hold is retried, not blamed on the image: {done}");
    assert_eq!(done["attempt"], 2, "the first attempt met the missing hold: {done}");
    assert!(held(&hold), "the retry placed the hold again");
    assert_nothing_left(&stack, &ids).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(IDLE + 30);
    while held(&hold) {
        assert!(std::time::Instant::now() < deadline, "the hold is still there {IDLE} s after its last attempt");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(held(&image), "the pushed image itself stays");

    // What a crash leaves: this runner's hold, and another runner's beside it.
    stack.kill_runner().await;
    let theirs = hold_of("another-runner-on-this-engine");
    for tag in [&hold, &theirs] {
        docker(&["tag", &image, tag]);
    }
    stack.start_runner().await;
    assert!(!held(&hold), "a restarted runner removes its own holds");
    assert!(held(&theirs), "another runner's hold stays");
    docker(&["rmi", &theirs]);
}

/// What a digest names never changes, so the runner's registry client resolves a pinned
/// reference once: a second attempt (or participant) of the same image skips the registry.
#[tokio::test]
async fn a_pinned_reference_is_resolved_from_the_registry_once() {
    use darkroom_core::domain::image::ImageReference;
    use darkroom_core::registry::{Client, FetchError, resolve};
    let repo = format!("darkroom-test-memo/{}", uuid::Uuid::new_v4().simple());
    let name = darkroom_tests::registry::publish(&format!("{repo}:1")).await;
    let http = darkroom_tests::http_client().build().unwrap();
    let registry = darkroom_tests::registry::registry();
    let manifest = http
        .head(format!("http://{registry}/v2/{repo}/manifests/1"))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    let digest = manifest.headers()["docker-content-digest"].to_str().unwrap().to_owned();
    let image = ImageReference::parse(&format!("{registry}/{repo}@{digest}")).unwrap();
    let client = Client::new(Duration::from_secs(5)).unwrap();
    let first = resolve(&client, &image, None, 1 << 20).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    // Gone from the registry: only what the client kept can answer now.
    let deleted = http.delete(format!("http://{registry}/v2/{repo}/manifests/{digest}")).send().await.unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let again = resolve(&client, &image, None, 1 << 20).await.expect("kept by the client");
    assert_eq!(again.config_digest, first.config_digest);
    let fresh = Client::new(Duration::from_secs(5)).unwrap();
    let gone = resolve(&fresh, &image, None, 1 << 20).await;
    assert!(matches!(gone, Err(FetchError::Gone(_))), "a client that never resolved it asks the registry");
}
