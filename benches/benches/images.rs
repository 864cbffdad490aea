//! What checking and rebuilding an uploaded image costs before it runs (issue 13): a
//! participant's ~500 MB `docker save` archive loaded as is (`docker load`, the old path)
//! against the runner's real path, `images::prepare` (inspect, rebuild into the scratch
//! folder, load the rebuilt copy, check the engine's id against the config digest).
//!
//! The archive is `docker save darkroom-demo-weak:1` plus one layer of incompressible
//! pseudo-random bytes, its diff_id added to the config and the config renamed by its new
//! digest, as a participant's image with a large model would look. It is written by streaming
//! (never held in memory). A second archive carries the same kind of layer gzip-compressed,
//! which the rebuild decompresses (the engine would too, on the old path).
//!
//! Both loads go through the same API call (`Sandbox::load_archive`, the engine's
//! `POST /images/load`), from the page cache, and the image is removed after every sample so
//! each load unpacks the layer again. Criterion takes 10 samples of each; then alternating
//! pairs (raw, platform) cancel the machine's drift: the headline overhead is the median of
//! the pairs' differences. Last, the plain image's round trip through a registry (push, then
//! pull by digest), what reaching a Swarm node costs. Results: `bench-results/image_load.json`.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use darkroom_benches::{ms, percentile, pick, runtime, summary_ms, write_results};
use darkroom_core::config::RunnerConfig;
use darkroom_core::domain::{Direction, ImageSource, Metric, NodeType, Resources};
use darkroom_core::events::SubmissionCreated;
use darkroom_core::image_archive::fixture::sha256_hex;
use darkroom_core::sandbox::Sandbox;
use darkroom_swarm_runner::holds::Holds;
use darkroom_swarm_runner::images;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const BASE: &str = "darkroom-demo-weak:1";
const NOISE_PATH: &str = "noise/layer.tar";

/// A participant's archive on disk and what it loads as.
struct Upload {
    path: PathBuf,
    /// `sha256:<hex>` of its config: the image id on the engine.
    image_id: String,
    bytes: u64,
    /// The tag written in its manifest (what the old path applied).
    tag: String,
}

/// xorshift64: incompressible enough for gzip and deflate, and fast.
struct Noise {
    x: u64,
    left: u64,
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize & !7;
        let n = if n == 0 { (self.left as usize).min(buf.len()) } else { n };
        for chunk in buf[..n].chunks_mut(8) {
            self.x ^= self.x << 13;
            self.x ^= self.x >> 7;
            self.x ^= self.x << 17;
            chunk.copy_from_slice(&self.x.to_le_bytes()[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Hashes what passes through, for the layer's diff_id (the digest of the uncompressed tar).
struct Hashing<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn docker(args: &[&str]) -> Vec<u8> {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Writes a one-file layer of `noise_bytes` to `path` (gzip-compressed if asked) and returns
/// its diff_id.
fn write_noise_layer(path: &Path, noise_bytes: u64, seed: u64, gzip: bool) -> String {
    let file = BufWriter::with_capacity(1 << 20, File::create(path).expect("layer file"));
    let sink: Box<dyn Write> =
        if gzip { Box::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast())) } else { Box::new(file) };
    let mut hashing = Hashing { inner: sink, hash: Sha256::new() };
    {
        let mut b = tar::Builder::new(&mut hashing);
        let mut h = tar::Header::new_gnu();
        h.set_size(noise_bytes);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, "model.bin", Noise { x: seed | 1, left: noise_bytes }).expect("layer written");
        b.finish().expect("layer written");
    }
    let Hashing { mut inner, hash } = hashing;
    inner.flush().expect("layer written");
    drop(inner); // finishes the gzip stream
    format!("sha256:{}", hex::encode(hash.finalize()))
}

/// `docker save BASE` with one more layer of `noise_bytes`, written to `dir/<name>.tar`.
fn build_upload(dir: &Path, name: &str, noise_bytes: u64, gzip: bool, seed: u64) -> Upload {
    let saved = docker(&["save", BASE]);
    let layer = dir.join(format!("{name}-layer.tar"));
    let diff_id = write_noise_layer(&layer, noise_bytes, seed, gzip);
    let mut entries = Vec::new();
    for e in tar::Archive::new(saved.as_slice()).entries().expect("docker save is a tar") {
        let mut e = e.expect("entry");
        let mut data = Vec::new();
        e.read_to_end(&mut data).expect("entry read");
        entries.push((e.header().clone(), e.path().expect("path").display().to_string(), data));
    }
    let manifest_at = entries.iter().position(|(_, n, _)| n == "manifest.json").expect("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&entries[manifest_at].2).expect("manifest");
    let config_name = manifest[0]["Config"].as_str().expect("Config").to_owned();
    let config_at = entries.iter().position(|(_, n, _)| *n == config_name).expect("the config");
    let mut config: Value = serde_json::from_slice(&entries[config_at].2).expect("config");
    config["rootfs"]["diff_ids"].as_array_mut().expect("diff_ids").push(json!(diff_id));
    let config = serde_json::to_vec(&config).expect("json");
    let digest = sha256_hex(&config);
    let tag = format!("darkroom-bench-upload:{name}-{seed:x}");
    manifest[0]["Config"] = json!(format!("{digest}.json"));
    manifest[0]["Layers"].as_array_mut().expect("Layers").push(json!(NOISE_PATH));
    // Our own tag, never BASE's: the old path applies whatever the archive names.
    manifest[0]["RepoTags"] = json!([tag]);
    entries[config_at].1 = format!("{digest}.json");
    entries[config_at].2 = config;
    entries[manifest_at].2 = serde_json::to_vec(&manifest).expect("json");
    // The legacy file names BASE too; the engine ignores it beside manifest.json, but a
    // benchmark must not be the one that retags a shared image.
    entries.retain(|(_, n, _)| n != "repositories");

    let path = dir.join(format!("{name}.tar"));
    let mut b = tar::Builder::new(BufWriter::with_capacity(1 << 20, File::create(&path).expect("archive file")));
    for (mut h, name, data) in entries {
        if h.entry_type().is_dir() {
            b.append_data(&mut h, &name, std::io::empty()).expect("archive written");
        } else {
            h.set_size(data.len() as u64);
            b.append_data(&mut h, &name, data.as_slice()).expect("archive written");
        }
    }
    b.append_path_with_name(&layer, NOISE_PATH).expect("archive written");
    b.into_inner().expect("archive written").flush().expect("archive written");
    std::fs::remove_file(&layer).expect("layer removed");
    let bytes = std::fs::metadata(&path).expect("archive").len();
    Upload { path, image_id: format!("sha256:{digest}"), bytes, tag }
}

/// The runner's job for an upload, as the submissions service would publish it.
fn job(upload: &Upload) -> SubmissionCreated {
    SubmissionCreated {
        event_id: format!("bench-images-{}", uuid::Uuid::new_v4()),
        submission_id: uuid::Uuid::new_v4().into(),
        attempt: 1,
        challenge: "bench-images".into(),
        phase: "dev".into(),
        participant_id: uuid::Uuid::nil().into(),
        image: ImageSource::Tarball {
            path: upload.path.display().to_string(),
            sha256: String::new(),
            size_bytes: upload.bytes,
        },
        dataset_host_path: "/nonexistent".into(),
        ground_truth_host_path: "/nonexistent".into(),
        dataset_fingerprint: None,
        ground_truth_fingerprint: None,
        evaluation_image: "darkroom-demo-eval:1".into(),
        evaluation_image_id: None,
        metrics: vec![Metric::new("accuracy", Direction::HigherIsBetter)],
        rank_by: "accuracy".into(),
        scoring: Default::default(),
        resources: Resources::new(1.0, 256, 60, 4),
        node_type: NodeType::Cpu,
        logs_visible: false,
        created_at: Utc::now(),
        verification: None,
    }
}

/// Removes the loaded image (every tag, its unshared layers), outside the timed part.
fn remove(upload: &Upload) {
    let _ = Command::new("docker").args(["rmi", "-f", &upload.image_id]).output();
}

/// The old path: the participant's archive straight to the engine.
async fn raw_load(sandbox: &Sandbox, upload: &Upload) -> Duration {
    let start = Instant::now();
    let loaded = sandbox.load_archive(&upload.path).await.expect("the engine loads the archive");
    let took = start.elapsed();
    assert_eq!(loaded, upload.tag, "loaded under the archive's tag");
    remove(upload);
    took
}

/// The platform's path, exactly as the runner takes it for an uploaded submission.
async fn platform_load(sandbox: &Sandbox, upload: &Upload, scratch: &Path, max_image_bytes: u64) -> Duration {
    let job = job(upload);
    let registry = darkroom_core::registry::Client::new(Duration::from_secs(5)).expect("a registry client");
    // Uploads never run under a hold; the runner passes its own.
    let holds = Holds::new(sandbox.clone(), "bench", Duration::ZERO);
    let start = Instant::now();
    let (reference, info) = images::load(sandbox, &registry, &holds, &job, scratch, max_image_bytes, &[])
        .await
        .expect("the runner loads the upload");
    let took = start.elapsed();
    assert_eq!(reference, images::submission_tag(&job));
    assert_eq!(info.id, upload.image_id, "the rebuilt image is the uploaded one");
    images::unload(sandbox, &job).await;
    remove(upload);
    took
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Criterion's samples (if `criterion`) and alternating pairs for one archive.
fn bench_upload(c: &mut Criterion, group: &str, upload: &Upload, pairs: usize, criterion: bool) -> Value {
    let rt = runtime();
    let sandbox = rt.block_on(Sandbox::connect()).expect("Docker engine");
    let scratch = tempfile::tempdir().expect("scratch dir");
    let max_image_bytes = RunnerConfig::default().max_image_bytes;
    let raw = Mutex::new(Vec::new());
    let platform = Mutex::new(Vec::new());
    if criterion {
        let mut g = c.benchmark_group(group);
        g.sample_size(10).sampling_mode(SamplingMode::Flat);
        g.warm_up_time(Duration::from_millis(1)).measurement_time(Duration::from_secs(1));
        g.bench_function("raw_docker_load", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let d = rt.block_on(raw_load(&sandbox, upload));
                        raw.lock().unwrap().push(d);
                        d
                    })
                    .sum()
            })
        });
        g.bench_function("rebuild_and_load", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let d = rt.block_on(platform_load(&sandbox, upload, scratch.path(), max_image_bytes));
                        platform.lock().unwrap().push(d);
                        d
                    })
                    .sum()
            })
        });
        g.finish();
    }
    // Criterion runs all of one function before the other; alternating pairs cancel drift.
    let mut pair_list = Vec::new();
    for _ in 0..pairs {
        let a = rt.block_on(raw_load(&sandbox, upload));
        let b = rt.block_on(platform_load(&sandbox, upload, scratch.path(), max_image_bytes));
        pair_list.push((a, b));
    }
    let left = std::fs::read_dir(scratch.path()).map(Iterator::count).unwrap_or(0);
    assert_eq!(left, 0, "the runner leaves no rebuilt copy in its scratch folder");
    let mut overheads: Vec<f64> = pair_list.iter().map(|(a, b)| secs(*b) - secs(*a)).collect();
    overheads.sort_by(f64::total_cmp);
    let overhead = overheads[overheads.len() / 2];
    let (raw_pairs, platform_pairs): (Vec<Duration>, Vec<Duration>) = pair_list.iter().copied().unzip();
    let mb = upload.bytes as f64 / 1e6;
    let raw_med = secs(percentile(&raw_pairs, 50.0));
    let platform_med = secs(percentile(&platform_pairs, 50.0));
    let (raw, platform) = (raw.into_inner().unwrap(), platform.into_inner().unwrap());
    let result = json!({
        "archive_bytes": upload.bytes,
        "criterion": { "raw_docker_load": summary_ms(&raw), "rebuild_and_load": summary_ms(&platform) },
        "pairs": {
            "n": pair_list.len(),
            "raw_docker_load": summary_ms(&raw_pairs),
            "rebuild_and_load": summary_ms(&platform_pairs),
            "overhead_s": { "median": overhead, "min": overheads[0], "max": overheads[overheads.len() - 1] },
        },
        "overhead_s": overhead,
        "ratio": platform_med / raw_med,
        "raw_mb_per_s": mb / raw_med,
        "platform_mb_per_s": mb / platform_med,
        // The rebuild's own throughput, were it the only cost: archive bytes over the overhead.
        "overhead_mb_per_s": if overhead > 0.0 { mb / overhead } else { f64::INFINITY },
    });
    eprintln!(
        "[{group}] {mb:.0} MB: raw load median {:.2} s ({:.0} MB/s), rebuild + load {:.2} s ({:.0} MB/s); \
         overhead {overhead:+.2} s (pairs {:+.2}..{:+.2}), ratio {:.2}",
        raw_med,
        mb / raw_med,
        platform_med,
        mb / platform_med,
        overheads[0],
        overheads[overheads.len() - 1],
        platform_med / raw_med,
    );
    if !raw.is_empty() {
        eprintln!(
            "[{group}] criterion medians: raw {:.2} s, rebuild + load {:.2} s",
            ms(percentile(&raw, 50.0)) / 1e3,
            ms(percentile(&platform, 50.0)) / 1e3
        );
    }
    result
}

/// What distributing the image to a node costs on a cluster (issue 19): the engine pushes it
/// to a registry (the runner's push to `runner.image_registry`), and an engine that never had
/// it pulls it by digest (a node starting the task). A registry of its own on loopback, so
/// every layer is new to it; one sample each, since a second push would find the layers there.
fn registry_round_trip(upload: &Upload) -> Value {
    let rt = runtime();
    let sandbox = rt.block_on(Sandbox::connect()).expect("Docker engine");
    let registry = darkroom_tests::registry::Ephemeral::start("127.0.0.1");
    let repository = format!("{}/darkroom-bench/round-trip", registry.addr);
    rt.block_on(sandbox.load_archive(&upload.path)).expect("the engine loads the archive");
    docker(&["tag", &upload.tag, &format!("{repository}:1")]);
    let start = Instant::now();
    docker(&["push", "--quiet", &format!("{repository}:1")]);
    let push = start.elapsed();
    let digest = rt.block_on(sandbox.repo_digest(&format!("{repository}:1"), &repository)).expect("a pushed digest");
    docker(&["rmi", &format!("{repository}:1")]);
    remove(upload);
    let by_digest = format!("{repository}@{digest}");
    let start = Instant::now();
    docker(&["pull", "--quiet", &by_digest]);
    let pull = start.elapsed();
    let pulled = docker(&["image", "inspect", "--format", "{{.Id}}", &by_digest]);
    assert_eq!(String::from_utf8_lossy(&pulled).trim(), upload.image_id, "the pull is the pushed image");
    docker(&["rmi", &by_digest]);
    let mb = upload.bytes as f64 / 1e6;
    eprintln!(
        "[registry] {mb:.0} MB: push {:.2} s ({:.0} MB/s), pull by digest {:.2} s ({:.0} MB/s), together {:.2} s",
        secs(push),
        mb / secs(push),
        secs(pull),
        mb / secs(pull),
        secs(push + pull)
    );
    json!({
        "registry": "docker-registry 2.8 on loopback, filesystem storage",
        "image_bytes": upload.bytes,
        "push_s": secs(push),
        "pull_s": secs(pull),
        "push_and_pull_s": secs(push + pull),
    })
}

fn image_load(c: &mut Criterion) {
    // Full: the 500 MB upload issue 13 asks about; smoke: 2 MB, one of each.
    let noise = pick(500_000_000, 2_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = Utc::now().timestamp_nanos_opt().unwrap_or(1) as u64;
    let t = Instant::now();
    let plain = build_upload(dir.path(), "plain", noise, false, seed);
    let built_plain = t.elapsed();
    let t = Instant::now();
    let gzip = build_upload(dir.path(), "gzip", noise, true, seed ^ 0x5555);
    let built_gzip = t.elapsed();
    eprintln!(
        "[image_load] archives: plain {} bytes in {:.1} s, gzip layer {} bytes in {:.1} s",
        plain.bytes,
        secs(built_plain),
        gzip.bytes,
        secs(built_gzip)
    );
    let results = json!({
        "base_image": BASE,
        "noise_layer_bytes": noise,
        "load_call": "Sandbox::load_archive (POST /images/load), image removed after every sample",
        "platform_call": "darkroom_swarm_runner::images::prepare (inspect + rebuild + load + id check)",
        "plain": bench_upload(c, "image_load", &plain, pick(5, 1), true),
        // Decompression makes the rebuild dearer; pairs only, to keep the run short.
        "gzip_layer": bench_upload(c, "image_load_gzip", &gzip, pick(3, 1), false),
        "registry_round_trip": registry_round_trip(&plain),
    });
    write_results("image_load", results);
}

criterion_group!(benches, image_load);
criterion_main!(benches);
