//! The demo's CNN training job, natively and in Darkroom's sandbox: the same static `predict`
//! binary (the native run's is copied out of the image), the same generated data,
//! seed, epochs and thread count. The container goes through the runner's own launch path
//! (`job::run_spec` + the engine backend): no network, read-only root and `/data`, dropped
//! capabilities, CPU / memory / pids limits.
//!
//! Each sample is one whole run, launch to exit. The ratio of the medians, with the spread of
//! the per-run ratios, lands in `bench-results/cnn_training.json`; the time the trainer
//! reports for itself (launch excluded) is kept too.
//!
//! GPU: with `DARKROOM_BENCH_GPU_PREDICT` (a `--features cuda` build of `predict`) and
//! `DARKROOM_BENCH_GPU_IMAGE` (an image whose entrypoint runs it with `--device cuda`) on a
//! host with an NVIDIA GPU and the engine's nvidia runtime, the same pair runs with one GPU
//! requested (engine device request; Swarm generic resource on a cluster). Elsewhere it is
//! skipped with the reason.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use darkroom_benches::{ms, pair_summary, percentile, pick, runtime, smoke, summary_ms, write_results};
use darkroom_core::config::RunnerConfig;
use darkroom_core::digest::sha256_hex;
use darkroom_core::domain::{Direction, ImageSource, Metric, NodeType, Resources};
use darkroom_core::events::SubmissionCreated;
use darkroom_core::sandbox::{Exit, Hardening, OutputDir, Sandbox, thread_env};
use darkroom_swarm_runner::backend::{Backend, EngineBackend};
use serde_json::{Value, json};

const IMAGE: &str = "darkroom-demo-baseline:1";
const EPOCHS: usize = 3;
const SEED: u64 = 42;
/// Alternating native / container pairs after criterion's samples.
const PAIRS: usize = 5;

/// One training job: where its data is and what each variant runs.
struct Job {
    data: PathBuf,
    work: tempfile::TempDir,
    binary: PathBuf,
    image: String,
    cpus: f64,
    gpus: u32,
    device: &'static str,
}

#[derive(Default)]
struct Runs {
    wall: Vec<Duration>,
    trained: Vec<Duration>,
}

/// "trained and predicted in 12.345 s" → the trainer's own time.
fn trained_time(lines: impl IntoIterator<Item = impl AsRef<str>>) -> Option<Duration> {
    lines.into_iter().find_map(|l| {
        let s = l.as_ref().trim().strip_prefix("trained and predicted in ")?.strip_suffix(" s")?;
        s.parse::<f64>().ok().map(Duration::from_secs_f64)
    })
}

/// The image's `/predict`: the native run executes these very bytes, so the two variants run
/// the same binary without the bench knowing where the image's build put it.
async fn image_binary(sandbox: &Sandbox, image: &str) -> Vec<u8> {
    use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
    use futures::StreamExt;
    let docker = sandbox.docker();
    let body = bollard::models::ContainerCreateBody { image: Some(image.into()), ..Default::default() };
    let created = docker
        .create_container(None::<bollard::query_parameters::CreateContainerOptions>, body)
        .await
        .unwrap_or_else(|e| panic!("image {image} is missing ({e}): run scripts/build-images.sh"));
    let mut tar = Vec::new();
    let mut stream = docker.download_from_container(
        &created.id,
        Some(DownloadFromContainerOptionsBuilder::default().path("/predict").build()),
    );
    while let Some(chunk) = stream.next().await {
        tar.extend_from_slice(&chunk.expect("download /predict"));
    }
    sandbox.remove(&created.id).await;
    let mut archive = tar::Archive::new(&tar[..]);
    let mut entry = archive.entries().expect("tar").next().expect("one entry").expect("entry");
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut bytes).expect("read /predict");
    bytes
}

fn request(job: &Job, n: usize) -> SubmissionCreated {
    SubmissionCreated {
        event_id: format!("bench-{n}"),
        submission_id: uuid::Uuid::new_v4().into(),
        attempt: 1,
        challenge: "bench".into(),
        phase: "dev".into(),
        participant_id: uuid::Uuid::new_v4().into(),
        // Only `run_spec` reads this event: the bench times the sandboxed run of a local image,
        // not the runner's pull, so no pinned digest is needed.
        image: ImageSource::Reference { name: job.image.clone(), digest: None, requested: None },
        dataset_host_path: job.data.join("dataset").display().to_string(),
        ground_truth_host_path: job.data.join("ground-truth").display().to_string(),
        dataset_fingerprint: None,
        ground_truth_fingerprint: None,
        evaluation_image: "darkroom-demo-eval:1".into(),
        evaluation_image_id: None,
        metrics: vec![Metric::new("accuracy", Direction::HigherIsBetter)],
        rank_by: "accuracy".into(),
        scoring: Default::default(),
        resources: Resources { gpus: job.gpus, ..Resources::new(job.cpus, 2048, 3600, 16) },
        node_type: if job.gpus > 0 { NodeType::Gpu } else { NodeType::Cpu },
        logs_visible: true,
        created_at: Utc::now(),
        verification: None,
    }
}

/// The binary run as a process, with the thread count the sandbox would give it.
fn run_native(job: &Job) -> (Duration, Duration) {
    let out = job.work.path().join("native-out");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("output dir");
    let mut cmd = Command::new(&job.binary);
    cmd.args(["--model", "cnn", "--device", job.device, "--epochs", &EPOCHS.to_string(), "--seed", &SEED.to_string()]);
    cmd.arg("--data").arg(job.data.join("dataset")).arg("--output").arg(&out);
    for kv in thread_env(job.cpus) {
        let (k, v) = kv.split_once('=').expect("K=V");
        cmd.env(k, v);
    }
    let start = Instant::now();
    let output = cmd.output().expect("predict runs");
    let wall = start.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "native predict failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    (wall, trained_time(stdout.lines()).expect("predict reports its training time"))
}

/// The same through the runner's launch path; the wall time covers create, start, the run,
/// and removal, as a participant's run does.
async fn run_container(job: &Job, backend: &EngineBackend, config: &RunnerConfig, n: usize) -> (Duration, Duration) {
    let req = request(job, n);
    let output =
        OutputDir::create(job.work.path().join(format!("container-out-{n}")), 16 << 20).await.expect("output dir");
    let spec = darkroom_swarm_runner::job::run_spec(
        &req,
        config,
        req.dataset_host_path.clone().into(),
        job.image.clone(),
        output.path.clone(),
    );
    let info = backend.sandbox.image_info(&spec.image).await.expect("the image is on the engine");
    let hardening = Hardening::new(&spec, &info, false).expect("the image is allowed");
    let mut sink = |_: &str| {};
    let start = Instant::now();
    let outcome = backend.run(&spec, &hardening, req.node_type, &mut sink).await.expect("the sandbox runs it");
    let wall = start.elapsed();
    assert_eq!(outcome.exit, Exit::Code(0), "the container failed: {:?}", outcome.log_tail);
    assert!(output.path.join("predictions.csv").exists(), "the container wrote no predictions");
    output.destroy().await;
    (wall, trained_time(&outcome.log_tail).expect("predict reports its training time"))
}

fn bench_pair(c: &mut Criterion, group_name: &str, job: Job, rt: &tokio::runtime::Runtime) -> Value {
    let sandbox = rt.block_on(Sandbox::connect()).expect("Docker engine");
    let backend = EngineBackend { sandbox: sandbox.clone(), runner_id: "bench-training".into() };
    let config = RunnerConfig { runner_id: "bench-training".into(), ..Default::default() };
    let native = Mutex::new(Runs::default());
    let container = Mutex::new(Runs::default());
    let mut group = c.benchmark_group(group_name);
    // One whole training per sample: criterion's minimum of 10 samples plus one warm-up run.
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(1)).measurement_time(Duration::from_secs(1));
    group.bench_function("native", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (wall, trained) = run_native(&job);
                let mut runs = native.lock().unwrap();
                runs.wall.push(wall);
                runs.trained.push(trained);
                total += wall;
            }
            total
        })
    });
    let mut n = 0;
    group.bench_function("container", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let (wall, trained) = rt.block_on(run_container(&job, &backend, &config, n));
                let mut runs = container.lock().unwrap();
                runs.wall.push(wall);
                runs.trained.push(trained);
                total += wall;
            }
            total
        })
    });
    group.finish();
    // Criterion runs every native sample before every container one, so a machine that speeds
    // up or slows down between the two (a shared VM does, by ±20 % here) skews their ratio.
    // Alternating pairs cancel that drift: the headline ratio is the median of the pairs'.
    let mut pairs = Vec::new();
    for i in 0..pick(PAIRS, 1) {
        let (n_wall, n_trained) = run_native(&job);
        let (c_wall, c_trained) = rt.block_on(run_container(&job, &backend, &config, 1000 + i));
        pairs.push(json!({ "native_wall_ms": ms(n_wall), "container_wall_ms": ms(c_wall),
                           "native_trained_ms": ms(n_trained), "container_trained_ms": ms(c_trained),
                           "ratio_wall": c_wall.as_secs_f64() / n_wall.as_secs_f64(),
                           "ratio_trained": c_trained.as_secs_f64() / n_trained.as_secs_f64() }));
    }
    let pair_ratio = |k: &str| pair_summary(&pairs.iter().filter_map(|p| p[k].as_f64()).collect::<Vec<_>>());
    let paired = json!({ "n": pairs.len(), "ratio_wall": pair_ratio("ratio_wall"),
                         "ratio_trained": pair_ratio("ratio_trained"), "pairs": pairs });
    let (native, container) = (native.into_inner().unwrap(), container.into_inner().unwrap());
    let ratio = |c: &[Duration], n: &[Duration]| percentile(c, 50.0).as_secs_f64() / percentile(n, 50.0).as_secs_f64();
    // Spread: each container run over the native median, and each native run over its median.
    let spread = |c: &[Duration], n: &[Duration]| {
        let base = percentile(n, 50.0).as_secs_f64();
        let r: Vec<f64> = c.iter().map(|d| d.as_secs_f64() / base).collect();
        json!({ "min": r.iter().copied().fold(f64::MAX, f64::min), "max": r.iter().copied().fold(0.0, f64::max) })
    };
    let result = json!({
        "native_wall": summary_ms(&native.wall),
        "container_wall": summary_ms(&container.wall),
        "native_trained": summary_ms(&native.trained),
        "container_trained": summary_ms(&container.trained),
        "ratio_wall": ratio(&container.wall, &native.wall),
        "ratio_wall_spread": spread(&container.wall, &native.wall),
        "native_wall_spread": spread(&native.wall, &native.wall),
        "ratio_trained": ratio(&container.trained, &native.trained),
        "paired": paired,
    });
    eprintln!(
        "[{group_name}] native median {:.2} s, container median {:.2} s: ratio {:.3} (trainer's own time: {:.3}); alternating pairs: {:.3} ({:.3})",
        ms(percentile(&native.wall, 50.0)) / 1e3,
        ms(percentile(&container.wall, 50.0)) / 1e3,
        result["ratio_wall"].as_f64().unwrap_or_default(),
        result["ratio_trained"].as_f64().unwrap_or_default(),
        result["paired"]["ratio_wall"]["median"].as_f64().unwrap_or_default(),
        result["paired"]["ratio_trained"]["median"].as_f64().unwrap_or_default(),
    );
    result
}

/// Why the GPU pair cannot run here, or `None` when it can.
fn gpu_unavailable() -> Option<String> {
    match Command::new("nvidia-smi").arg("-L").output() {
        Ok(o) if o.status.success() && !o.stdout.is_empty() => {}
        _ => return Some("no NVIDIA GPU on this host (`nvidia-smi -L` found none)".into()),
    }
    let runtimes = Command::new("docker").args(["info", "--format", "{{json .Runtimes}}"]).output();
    if !runtimes.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("nvidia")) {
        return Some("the Docker engine has no nvidia runtime (install nvidia-container-toolkit)".into());
    }
    for var in ["DARKROOM_BENCH_GPU_PREDICT", "DARKROOM_BENCH_GPU_IMAGE"] {
        if std::env::var(var).is_err() {
            return Some(format!("{var} is not set; see BENCHMARKS.md, 'GPU'"));
        }
    }
    None
}

fn cnn_training(c: &mut Criterion) {
    let rt = runtime();
    // Full: the size where a run takes tens of seconds, so a fixed launch cost weighs what it
    // would for real training; smoke: a few patches, one epoch of code path.
    let (train, test) = pick((600, 150), (48, 16));
    let data = tempfile::tempdir().expect("temp dir");
    darkroom_demo_data::generate(data.path(), SEED, train, test, 64).expect("dataset generated");
    let sandbox = rt.block_on(Sandbox::connect()).expect("Docker engine");
    let predict = rt.block_on(image_binary(&sandbox, IMAGE));
    let in_image = sha256_hex(&predict);
    let bin_dir = tempfile::tempdir().expect("temp dir");
    let binary = bin_dir.path().join("predict");
    std::fs::write(&binary, &predict).expect("write the image's /predict");
    std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("make it executable");
    let cpu = Job {
        data: data.path().to_owned(),
        work: tempfile::tempdir().expect("temp dir"),
        binary,
        image: IMAGE.into(),
        cpus: std::thread::available_parallelism().map(|n| n.get() as f64).unwrap_or(1.0),
        gpus: 0,
        device: "cpu",
    };
    let mut results = json!({
        "job": { "train": train, "test": test, "side": 64, "epochs": EPOCHS, "seed": SEED, "threads": cpu.cpus,
                 "binary_sha256": in_image, "image": IMAGE },
    });
    if smoke() {
        // One epoch's worth of code path is enough to know the bench still works.
        results["job"]["note"] = json!("smoke: tiny data");
    }
    results["cpu"] = bench_pair(c, "cnn_training", cpu, &rt);
    results["gpu"] = match gpu_unavailable() {
        Some(reason) => {
            eprintln!("[cnn_training_gpu] skipped: {reason}");
            json!({ "skipped": reason })
        }
        None => {
            let gpu = Job {
                data: data.path().to_owned(),
                work: tempfile::tempdir().expect("temp dir"),
                binary: std::env::var("DARKROOM_BENCH_GPU_PREDICT").expect("checked").into(),
                image: std::env::var("DARKROOM_BENCH_GPU_IMAGE").expect("checked"),
                cpus: 1.0,
                gpus: 1,
                device: "cuda",
            };
            bench_pair(c, "cnn_training_gpu", gpu, &rt)
        }
    };
    write_results("cnn_training", results);
}

criterion_group!(benches, cnn_training);
criterion_main!(benches);
