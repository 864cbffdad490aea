//! Inputs for tests: challenge specs and `docker save`-shaped archives.

use std::path::Path;

use chrono::{Duration, Utc};
use darkroom_core::image_archive::fixture::{self, Entry};
use serde_json::{Value, json};

/// A valid spec whose dataset and ground truth live under `dir`; one phase open now.
pub fn spec(dir: &Path, slug: &str) -> Value {
    let data = dir.join(format!("{slug}-data"));
    let truth = dir.join(format!("{slug}-truth"));
    std::fs::create_dir_all(data.join("train")).unwrap();
    std::fs::create_dir_all(&truth).unwrap();
    std::fs::write(data.join("train/labels.csv"), "id,label\n1,20x\n").unwrap();
    std::fs::write(data.join("README.txt"), "patches").unwrap();
    std::fs::write(truth.join("test.csv"), "id,label\n").unwrap();
    let now = Utc::now();
    json!({
        "slug": slug,
        "title": "Nuclei magnification",
        "description": "Tell 20X from 40X.",
        "dataset": { "host_path": data, "description": "grayscale patches" },
        "ground_truth": { "host_path": truth },
        "evaluation": { "image": "darkroom-demo-eval:1" },
        "metrics": [
            { "name": "accuracy", "direction": "higher_is_better", "aggregate": "mean" },
            { "name": "roc_auc", "direction": "higher_is_better" }
        ],
        "rank_by": "accuracy",
        "phases": [
            { "name": "dev", "starts_at": now - Duration::days(1), "ends_at": now + Duration::days(30) },
            { "name": "final", "starts_at": now + Duration::days(31), "ends_at": now + Duration::days(40) }
        ],
        "quotas": { "per_day": 5, "total": 20 },
        "resources": { "cpus": 1.0, "memory_mb": 512, "wall_clock_seconds": 600, "output_max_mb": 16 },
        "node_type": "cpu",
        "logs_visible": true
    })
}

fn append(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, path, data).unwrap();
}

fn valid_entries() -> Vec<Entry> {
    fixture::docker_save(&[fixture::layer(&[("predict", b"#!/bin/true\n")])], &["/predict"], &["team/model:1"])
}

/// A small, well-formed archive in the layout `docker save` writes (its one file is no program).
pub fn image_archive() -> Vec<u8> {
    fixture::tar(&valid_entries())
}

/// A small, well-formed archive whose one file holds `content`: distinct contents give distinct
/// archives (stored under distinct hashes).
pub fn image_archive_holding(content: &[u8]) -> Vec<u8> {
    fixture::tar(&fixture::docker_save(&[fixture::layer(&[("predict", content)])], &["/predict"], &["team/model:1"]))
}

/// An archive that passes the upload's checks but whose layer is not the one its config
/// describes, so the runner's rebuild refuses it.
pub fn archive_with_wrong_diff_id() -> Vec<u8> {
    let mut entries = valid_entries();
    for e in &mut entries {
        if e.name.ends_with("layer.tar") {
            e.data = fixture::layer(&[("predict", b"something else")]);
        }
    }
    fixture::tar(&entries)
}

/// A valid archive plus an entry with the raw name `name` (`..` or absolute names).
pub fn archive_with_raw_name(name: &str) -> Vec<u8> {
    let mut entries = valid_entries();
    entries.push(Entry::file(name, "evil"));
    fixture::tar(&entries)
}

/// A valid archive plus a symlink.
pub fn archive_with_symlink() -> Vec<u8> {
    let mut entries = valid_entries();
    entries.push(Entry { name: "abc/layer.tar".into(), data: Vec::new(), kind: tar::EntryType::Symlink });
    fixture::tar(&entries)
}

/// A `docker save`-like archive with a custom manifest.
pub fn archive_with_manifest(manifest: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, "cfg.json", b"{}");
    append(&mut b, "manifest.json", manifest.as_bytes());
    b.into_inner().unwrap()
}

/// A well-formed tar archive that is not an image archive.
pub fn archive_without_manifest() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, "hello.txt", b"hello");
    b.into_inner().unwrap()
}

/// A `submission.created` payload for hand-made events in tests.
pub fn job(submission_id: darkroom_api::SubmissionId, challenge: &str) -> darkroom_core::events::SubmissionCreated {
    use darkroom_core::domain::challenge::{Metric, NodeType, Resources};
    use darkroom_core::domain::{Direction, ImageSource};
    darkroom_core::events::SubmissionCreated {
        event_id: format!("test-job-{submission_id}"),
        submission_id,
        attempt: 1,
        challenge: challenge.into(),
        phase: "dev".into(),
        participant_id: uuid::Uuid::nil().into(),
        image: ImageSource::Reference { name: "m:1".into(), digest: None, requested: None },
        dataset_host_path: "/nonexistent".into(),
        ground_truth_host_path: "/nonexistent".into(),
        dataset_fingerprint: None,
        ground_truth_fingerprint: None,
        evaluation_image: "eval:1".into(),
        evaluation_image_id: None,
        metrics: vec![Metric::new("accuracy", Direction::HigherIsBetter)],
        rank_by: "accuracy".into(),
        scoring: Default::default(),
        resources: Resources { pids: 32, ..Resources::new(1.0, 64, 10, 1) },
        node_type: NodeType::Cpu,
        logs_visible: false,
        created_at: Utc::now(),
        verification: None,
    }
}

/// A receipt signing key in `dir` (64 random hex digits, as `scripts/setup.sh` writes one), kept
/// if one is already there so a restarted evaluator signs with the same key; returns its path.
pub fn receipt_key(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("receipt_signing_key");
    if !path.exists() {
        let seed = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        std::fs::write(&path, seed).expect("receipt key written");
    }
    path
}

/// Attempt `attempt` of `submission_id` started, as a runner reports it (no digest, no node).
pub fn run_started(submission_id: darkroom_api::SubmissionId, attempt: u32) -> darkroom_core::events::RunStarted {
    darkroom_core::events::RunStarted {
        event_id: darkroom_core::events::RunStarted::event_id_for(submission_id, attempt),
        submission_id,
        attempt,
        image_digest: None,
        node: None,
        at: chrono::Utc::now(),
    }
}

/// Attempt 1 of `submission_id` ended with exit code 0, as a runner reports it.
pub fn run_finished(submission_id: darkroom_api::SubmissionId, challenge: &str) -> darkroom_core::events::RunFinished {
    darkroom_core::events::RunFinished {
        event_id: darkroom_core::events::RunFinished::event_id_for(submission_id, 1),
        submission_id,
        attempt: 1,
        exit_code: 0,
        duration_ms: 1200,
        peak_memory_bytes: None,
        output_artifact: "sha256-x".into(),
        image_digest: None,
        at: chrono::Utc::now(),
        runner: None,
        job: job(submission_id, challenge),
    }
}

/// Attempt 1 of `submission_id` scored (no metrics) in phase `dev`, as the evaluator reports it.
pub fn score_recorded(
    submission_id: darkroom_api::SubmissionId,
    challenge: &str,
) -> darkroom_core::events::ScoreRecorded {
    darkroom_core::events::ScoreRecorded {
        event_id: darkroom_core::events::ScoreRecorded::event_id_for(submission_id),
        attempt: 1,
        submission_id,
        challenge: challenge.into(),
        phase: "dev".into(),
        participant_id: uuid::Uuid::nil().into(),
        metrics: Default::default(),
        at: chrono::Utc::now(),
    }
}

/// Attempt `attempt` of `submission_id` failed for `reason`, as a runner reports it: the
/// platform's failure when `retrying`, else the participant's.
pub fn run_failed(
    submission_id: darkroom_api::SubmissionId,
    attempt: u32,
    reason: &str,
    retrying: bool,
) -> darkroom_core::events::SubmissionFailed {
    use darkroom_core::events::{FailedBy, SubmissionFailed};
    SubmissionFailed {
        event_id: SubmissionFailed::event_id_for(submission_id, attempt, FailedBy::Runner),
        submission_id,
        attempt,
        kind: if retrying {
            darkroom_core::domain::FailureKind::Platform
        } else {
            darkroom_core::domain::FailureKind::Participant
        },
        reason: reason.into(),
        detail: None,
        retrying,
        at: chrono::Utc::now(),
    }
}
