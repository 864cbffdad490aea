//! Stored uploads on the real service: the sweep deletes an archive once every submission using
//! it is terminal (retention 0 here), never one an active submission uses, and removes stray
//! archives and abandoned partial uploads; a re-run of a deleted archive says why it cannot run.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use darkroom_api::SubmissionId;
use darkroom_core::events::SubmissionFailed;
use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp, fixtures, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::Value;

on_both_backends!(uploads_are_swept_once_no_submission_needs_them);

/// Writes `name` in `dir`, last modified `age` ago.
fn file_aged(dir: &Path, name: &str, age: Duration) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, b"leftover").unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
    path
}

async fn wait_gone(path: &Path) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while path.exists() {
        assert!(tokio::time::Instant::now() < deadline, "{} was not swept within 20 s", path.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Uploads `archive` as `token`; returns the submission id and where the archive is stored
/// (by content hash, under the configured data directory).
async fn upload(app: &TestApp, token: &str, archive: Vec<u8>) -> (String, PathBuf) {
    let (s, body) = app.upload("nuclei", token, "application/x-tar", archive).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let sha256 = body["image"]["sha256"].as_str().unwrap_or_else(|| panic!("an upload: {body}"));
    let path = app.config.submissions.data_dir.join("uploads").join(format!("sha256-{sha256}.tar"));
    assert!(path.exists(), "{} stored", path.display());
    (body["id"].as_str().unwrap().to_owned(), path)
}

async fn cancel(app: &TestApp, id: &str) {
    let (s, body) = app.call(Method::POST, &format!("/api/v1/submissions/{id}/cancel"), Some(ADMIN_TOKEN), None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

async fn rerun(app: &TestApp, id: &str) -> (StatusCode, Value) {
    app.call(Method::POST, &format!("/api/v1/submissions/{id}/rerun"), Some(ADMIN_TOKEN), None).await
}

async fn uploads_are_swept_once_no_submission_needs_them(backend: Backend) {
    let app = TestApp::spawn_configured(backend, |c| {
        c.submissions.upload_retention_hours = 0;
        c.submissions.upload_sweep_interval_seconds = 1;
    })
    .await;
    app.create_challenge("nuclei", |_| {}).await;
    let ada = app.register("Ada").await;
    let bob = app.register("Bob").await;

    // Shared: Ada's and Bob's uploads are the same bytes, so one file.
    let shared = fixtures::image_archive();
    let (ada_shared, shared_path) = upload(&app, &ada, shared.clone()).await;
    let (bob_shared, bob_path) = upload(&app, &bob, shared).await;
    assert_eq!(shared_path, bob_path, "same content, same file");
    // Ada's own archive fails for good, as a runner would report it.
    let (own, own_path) = upload(&app, &ada, fixtures::image_archive_holding(b"#!/bin/false\n")).await;
    assert_ne!(own_path, shared_path);

    let uploads = shared_path.parent().unwrap().to_path_buf();
    let hour = Duration::from_secs(3600);
    let orphan = format!("sha256-{}.tar", "ab".repeat(32));
    let fresh_orphan = format!("sha256-{}.tar", "cd".repeat(32));
    let old_orphan = file_aged(&uploads, &orphan, 2 * hour);
    let young_orphan = file_aged(&uploads, &fresh_orphan, Duration::from_secs(60));
    let old_part = file_aged(&uploads, ".upload-0000.part", 2 * hour);
    let young_part = file_aged(&uploads, ".upload-1111.part", Duration::from_secs(60));
    let foreign = file_aged(&uploads, "README.txt", 100 * hour);

    let failed = SubmissionFailed {
        event_id: format!("failed-{own}"),
        ..fixtures::run_failed(own.parse::<SubmissionId>().unwrap(), 1, "exited with status 1", false)
    };
    app.publish(&failed).await;
    app.wait_for(&own, &ada, |b| b["state"] == "FAILED").await;
    cancel(&app, &ada_shared).await;

    wait_gone(&own_path).await;
    wait_gone(&old_orphan).await;
    wait_gone(&old_part).await;
    // Two more sweeps: what must stay has been judged at least once since.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(shared_path.exists(), "Bob's QUEUED submission still uses the shared archive");
    assert!(young_orphan.exists() && young_part.exists(), "strays younger than an hour stay");
    assert!(foreign.exists(), "files the service did not write stay");

    let (s, e) = rerun(&app, &own).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::GONE, Some("image_gone")), "{e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("upload_retention_hours") && message.contains("submit it again"), "{message}");

    // A re-run makes the shared archive used by an active submission again; it goes only when
    // every submission using it has finished.
    let (s, again) = rerun(&app, &ada_shared).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{again}");
    cancel(&app, &bob_shared).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(shared_path.exists(), "the QUEUED re-run still uses the shared archive");
    cancel(&app, again["id"].as_str().unwrap()).await;
    wait_gone(&shared_path).await;
}
