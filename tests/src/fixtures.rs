//! Inputs for tests: challenge specs and `docker save`-shaped archives.

use std::path::Path;

use chrono::{Duration, Utc};
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
        "evaluation": { "image": "darkroom-eval:1" },
        "metrics": [
            { "name": "accuracy", "direction": "higher_is_better" },
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

/// A small archive in the layout `docker save` writes.
pub fn image_archive() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let layer = {
        let mut l = tar::Builder::new(Vec::new());
        append(&mut l, "predict", b"#!/bin/true\n");
        l.into_inner().unwrap()
    };
    append(&mut b, "abc123/layer.tar", &layer);
    append(&mut b, "abc123/VERSION", b"1.0");
    append(&mut b, "cfg.json", br#"{"config":{"Entrypoint":["/predict"]}}"#);
    append(
        &mut b,
        "manifest.json",
        br#"[{"Config":"cfg.json","RepoTags":["team/model:1"],"Layers":["abc123/layer.tar"]}]"#,
    );
    b.into_inner().unwrap()
}

/// An archive with an entry whose raw name climbs out with `..` (the `tar` crate refuses to
/// write one, so the name is put into the header bytes directly).
pub fn archive_with_raw_name(name: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_old();
    {
        let raw = header.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
    }
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    b.append(&header, &b"evil"[..]).unwrap();
    append(&mut b, "manifest.json", br#"[{"Config":"c","Layers":[]}]"#);
    b.into_inner().unwrap()
}

/// An archive holding a symlink to `target`.
pub fn archive_with_symlink(target: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    header.set_mode(0o777);
    b.append_link(&mut header, "abc/layer.tar", target).unwrap();
    append(&mut b, "manifest.json", br#"[{"Config":"abc/layer.tar","Layers":[]}]"#);
    b.into_inner().unwrap()
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
pub fn job(submission_id: uuid::Uuid, challenge: &str) -> darkroom_core::events::SubmissionCreated {
    use darkroom_core::domain::challenge::{Metric, NodeType, Resources};
    use darkroom_core::domain::{Direction, ImageSource};
    darkroom_core::events::SubmissionCreated {
        event_id: format!("test-job-{submission_id}"),
        submission_id,
        attempt: 1,
        challenge: challenge.into(),
        phase: "dev".into(),
        participant_id: uuid::Uuid::nil(),
        image: ImageSource::Reference { name: "m:1".into(), digest: None, requested: None },
        dataset_host_path: "/nonexistent".into(),
        ground_truth_host_path: "/nonexistent".into(),
        evaluation_image: "eval:1".into(),
        metrics: vec![Metric { name: "accuracy".into(), direction: Direction::HigherIsBetter }],
        rank_by: "accuracy".into(),
        resources: Resources { cpus: 1.0, memory_mb: 64, gpus: 0, wall_clock_seconds: 10, output_max_mb: 1, pids: 32 },
        node_type: NodeType::Cpu,
        logs_visible: false,
        created_at: Utc::now(),
    }
}
