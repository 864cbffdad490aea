//! Fingerprints (issue 17) through the whole pipeline: applying a challenge fingerprints its
//! dataset and ground truth; the public view shows the dataset's only; a dataset file changed
//! after that is detected before the next run, and a ground-truth file before the next
//! evaluation, each failing the submission as the platform's fault (not charged) with the file
//! named for the organizer alone; applying again takes the data as it is. Needs the images of
//! `scripts/build-images.sh`.

use darkroom_core::config::RunnerBackend;
use darkroom_core::fingerprint::fingerprint;
use darkroom_tests::registry::pushed;
use darkroom_tests::{ADMIN_TOKEN, Backend, Stack, TestApp, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::Value;

on_both_backends!(applying_a_challenge_stores_both_fingerprints_and_shows_the_datasets_only);

/// The API alone, on SQLite and PostgreSQL: the stored fingerprints are those of the folders
/// (computed here independently); the public view carries the dataset's only; a dataset holding
/// a symbolic link is refused at apply, naming it.
async fn applying_a_challenge_stores_both_fingerprints_and_shows_the_datasets_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("fp-api", |_| {}).await;
    let here = |folder: &str| fingerprint(&app.dir.path().join(folder), None, &mut |_| {}).unwrap().0.fingerprint;
    let (data, truth) = (here("fp-api-data"), here("fp-api-truth"));

    let (_, public) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}"), None, None).await;
    assert_eq!(public["dataset_fingerprint"], serde_json::to_value(&data).unwrap(), "{public}");
    assert_eq!((data.files, data.bytes), (2, 22), "train/labels.csv and README.txt");
    assert!(!public.to_string().contains(&truth.digest), "{public}");
    let (_, spec) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}/spec"), Some(ADMIN_TOKEN), None).await;
    assert_eq!(spec["ground_truth"]["fingerprint"], serde_json::to_value(&truth).unwrap(), "{spec}");

    std::os::unix::fs::symlink("/etc/passwd", app.dir.path().join("fp-api-data/train/passwd")).unwrap();
    let mut reapply = spec.clone();
    reapply["dataset"].as_object_mut().unwrap().remove("fingerprint");
    let (s, body) =
        app.call(Method::PUT, &format!("/api/v1/challenges/{slug}"), Some(ADMIN_TOKEN), Some(reapply)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "dataset.host_path", "{body}");
    assert!(body.to_string().contains("'train/passwd' is a symbolic link"), "{body}");
}

/// Submits the quick demo image and waits for the end.
async fn submit(stack: &Stack, slug: &str, token: &str) -> Value {
    let (s, sub) = stack.app.submit(slug, token, &pushed("darkroom-demo-weak:1")).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
    stack.finished(sub["id"].as_str().unwrap(), token, 120).await
}

/// The organizer's line for submission `id`.
async fn organizer_view(stack: &Stack, slug: &str, id: &str) -> Value {
    let (s, list) =
        stack.app.call(Method::GET, &format!("/api/v1/challenges/{slug}/submissions"), Some(ADMIN_TOKEN), None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    list.as_array().unwrap().iter().find(|l| l["id"] == id).cloned().expect("the submission is listed")
}

/// A failure because the data changed: the participant reads a generic platform error, is not
/// charged, and the organizer reads which file changed.
async fn assert_refused_for(stack: &Stack, slug: &str, done: &Value, state_before: &str, file: &str) {
    assert_eq!(done["state"], "FAILED", "{done}");
    let reason = done["failure_reason"].as_str().unwrap();
    assert!(reason.contains("data changed since the challenge was applied"), "{reason}");
    assert!(!reason.contains(file), "the participant is not told which file: {reason}");
    assert_eq!(done["counts_against_quota"], false, "{done}");
    let steps = darkroom_tests::states(done);
    assert_eq!(steps[steps.len() - 2], state_before, "{done}");
    let line = organizer_view(stack, slug, done["id"].as_str().unwrap()).await;
    let detail = line["failure_detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&format!("changed '{file}'")), "the organizer reads '{detail}'");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_dataset_file_is_detected_before_the_next_run_and_ground_truth_before_evaluation() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = stack.challenge("fingerprinted", |_| {}).await;

    // Applied: both fingerprinted; the public view has the dataset's, the spec both.
    let (_, public) = stack.app.call(Method::GET, &format!("/api/v1/challenges/{slug}"), None, None).await;
    let dataset_fp = public["dataset_fingerprint"].clone();
    assert_eq!(dataset_fp["digest"].as_str().map(str::len), Some(64), "{public}");
    assert_eq!(dataset_fp["files"], 901, "800 train and 100 test images, and labels.csv: {public}");
    let (_, spec) =
        stack.app.call(Method::GET, &format!("/api/v1/challenges/{slug}/spec"), Some(ADMIN_TOKEN), None).await;
    assert_eq!(spec["dataset"]["fingerprint"], dataset_fp);
    let truth_digest = spec["ground_truth"]["fingerprint"]["digest"].as_str().unwrap().to_owned();
    assert!(!public.to_string().contains(&truth_digest), "the ground truth's fingerprint is the organizer's");

    let token = stack.app.register("Ada").await;
    let first = submit(&stack, &slug, &token).await;
    assert_eq!(first["state"], "COMPLETE", "{first}");

    // One dataset file changes (same name, one more byte): the next run never starts.
    let labels = stack.data.join("dataset/train/labels.csv");
    let mut bytes = std::fs::read(&labels).unwrap();
    bytes.push(b'\n');
    std::fs::write(&labels, bytes).unwrap();
    let refused = submit(&stack, &slug, &token).await;
    assert_refused_for(&stack, &slug, &refused, "QUEUED", "train/labels.csv").await;

    // Applying again takes the data as it is now: runs go through again.
    let mut reapply = spec.clone();
    reapply["dataset"].as_object_mut().unwrap().remove("fingerprint");
    reapply["ground_truth"].as_object_mut().unwrap().remove("fingerprint");
    let (s, saved) =
        stack.app.call(Method::PUT, &format!("/api/v1/challenges/{slug}"), Some(ADMIN_TOKEN), Some(reapply)).await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    assert_ne!(saved["dataset"]["fingerprint"], dataset_fp, "{saved}");
    assert_eq!(saved["ground_truth"]["fingerprint"]["digest"], truth_digest.as_str());
    // A spec that insists on the old fingerprint is refused, naming the field.
    let mut stale = saved.clone();
    stale["dataset"]["fingerprint"] = dataset_fp.clone();
    let (s, refused_apply) =
        stack.app.call(Method::PUT, &format!("/api/v1/challenges/{slug}"), Some(ADMIN_TOKEN), Some(stale)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{refused_apply}");
    assert_eq!(refused_apply["error"]["details"][0]["field"], "dataset.fingerprint", "{refused_apply}");
    let again = submit(&stack, &slug, &token).await;
    assert_eq!(again["state"], "COMPLETE", "{again}");

    // The ground truth changes: the run goes through, the evaluation is refused.
    let truth = stack.data.join("ground-truth/test_labels.csv");
    let mut bytes = std::fs::read(&truth).unwrap();
    bytes.push(b'\n');
    std::fs::write(&truth, bytes).unwrap();
    let refused = submit(&stack, &slug, &token).await;
    assert_refused_for(&stack, &slug, &refused, "EVALUATING", "test_labels.csv").await;
    assert_eq!(stack.scores().await.count_documents(mongodb::bson::doc! {}).await.unwrap(), 2);
}
