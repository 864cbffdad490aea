//! One run, from claim to outcome.
//!
//! 1. Claim `<submission>.<attempt>` in the runs bucket (an atomic create). A redelivered
//!    request finds the claim: `done` means it was handled; `claimed` means a runner died
//!    mid-run, so its container is removed and a retrying platform failure is published.
//!    Then check the dataset against the fingerprint taken when the challenge was applied
//!    ([`darkroom_core::fingerprint`]); data that changed fails the run as the platform's fault.
//! 2. Get the image onto the engine (load an archive under our own tag, or find the named one).
//! 3. Publish `run.started`, run the sandbox with logs capped and published where allowed.
//! 4. Judge the outcome; store the output archive in the object store; publish `run.finished`
//!    or `submission.failed` with the participant's reason.
//! 5. Mark the claim `done`. Only then is the request acknowledged (by the caller).
//!
//! When the runner shuts down and its drain time runs out (`stop` is raised), a run still going
//! is stopped, its container removed, and it is handed back as a platform failure that is
//! retried and not charged; the claim is marked `done` as for any outcome.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use chrono::Utc;
use darkroom_core::bus::{Outputs, StopSignal, publish};
use darkroom_core::config::RunnerConfig;
use darkroom_core::domain::{FailureKind, NodeType};
use darkroom_core::events::{
    FailedBy, RunFinished, RunStarted, RunVerified, SubmissionCreated, SubmissionFailed, VerificationRun,
};
use darkroom_core::fingerprint::{CHANGED_REASON, Cache, check_before_run};
use darkroom_core::sandbox::{
    DataRoots, Hardening, ImageInfo, Limits, OWNER_LABEL, OutputArchiveError, OutputDir, OutputLimits, RunFolder,
    RunSpec, Sandbox, SandboxError, archive_to_file, run_seed, scan_output,
};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::backend::Backend;
use crate::failure::{Rules, Verdict, judge};
use crate::logs::LogBudget;

/// What the runner shares between runs.
pub struct Context {
    pub js: jetstream::Context,
    pub runs: kv::Store,
    pub outputs: Outputs,
    pub sandbox: Sandbox,
    pub backend: Arc<dyn Backend>,
    pub config: RunnerConfig,
    /// Fetches images submitted by name (the engine never pulls them).
    pub registry: darkroom_core::registry::Client,
    /// Keeps images the engine already holds tagged while attempts run them.
    pub holds: crate::holds::Holds,
}

pub fn container_name(job: &SubmissionCreated) -> String {
    format!("darkroom-run-{}-{}", job.submission_id, job.run_label())
}

pub fn claim_key(job: &SubmissionCreated) -> String {
    format!("{}.{}", job.submission_id, job.run_label())
}

pub fn artifact_name(job: &SubmissionCreated) -> String {
    format!("{}-{}.tar", job.submission_id, job.run_label())
}

/// Where this runner keeps the manifests of the datasets it checks.
pub fn fingerprint_cache(config: &RunnerConfig) -> Cache {
    Cache::new(config.work_dir.join("fingerprints"))
}

/// Whether a runner configured for `node_types` takes a run for `wanted` (none configured:
/// every type).
pub fn serves(node_types: &[NodeType], wanted: NodeType) -> bool {
    node_types.is_empty() || node_types.contains(&wanted)
}

const CLAIMED: &str = "claimed";
/// A claim whose outcome is published.
pub const DONE: &str = "done";

/// Handles one request; `stop` asks it to hand the run back. `Err` means the outcome could not
/// be made durable (NATS down): the request must not be acknowledged, so it is redelivered.
pub async fn handle(ctx: &Context, job: &SubmissionCreated, stop: &StopSignal) -> Result<(), async_nats::Error> {
    let key = claim_key(job);
    match ctx.runs.create(&key, CLAIMED.into()).await {
        Ok(_) => {}
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
            let state = ctx.runs.get(&key).await?.map(|v| String::from_utf8_lossy(v.as_ref()).into_owned());
            if state.as_deref() == Some(DONE) {
                tracing::info!(submission = %job.submission_id, attempt = job.attempt, "already handled; dropping the redelivery");
                return Ok(());
            }
            // A runner took it and died before finishing: clean up, let the platform retry.
            ctx.sandbox.remove(&container_name(job)).await;
            crate::images::release(ctx, job).await;
            tracing::warn!(submission = %job.submission_id, attempt = job.attempt, "found an abandoned run; retrying it as a new attempt");
            let failure = platform_failure(job, STOPPED_DURING_THE_RUN, true, None);
            announce(ctx, job, Outcome::Failed(Box::new(failure))).await?;
            ctx.runs.put(&key, DONE.into()).await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    let started = Instant::now();
    let outcome = run(ctx, job, stop).await?;
    match &outcome {
        Outcome::Finished(_) => darkroom_core::metrics::run_ended("finished", started.elapsed()),
        Outcome::Failed(f) => {
            darkroom_core::metrics::run_ended("failed", started.elapsed());
            darkroom_core::metrics::failed("runner", f.kind.as_str());
        }
        Outcome::Cancelled => darkroom_core::metrics::run_ended("cancelled", started.elapsed()),
    }
    announce(ctx, job, outcome).await?;
    ctx.runs.put(&key, DONE.into()).await?;
    Ok(())
}

/// Publishes a run's outcome: a submission's as its state event, a verification re-run's as
/// [`RunVerified`] alone, which only the evaluator reads.
async fn announce(ctx: &Context, job: &SubmissionCreated, outcome: Outcome) -> Result<(), async_nats::Error> {
    let run = match (job.verification, outcome) {
        (_, Outcome::Cancelled) => return Ok(()),
        (None, Outcome::Finished(event)) => return publish(&ctx.js, event.as_ref()).await,
        (None, Outcome::Failed(event)) => return publish(&ctx.js, event.as_ref()).await,
        (Some(_), Outcome::Finished(event)) => VerificationRun::Finished(event),
        (Some(_), Outcome::Failed(event)) => VerificationRun::Failed(event),
    };
    let verification_id = job.verification.expect("matched a verification above");
    let event = RunVerified {
        event_id: RunVerified::event_id_for(verification_id),
        submission_id: job.submission_id,
        verification_id,
        outcome: run,
    };
    publish(&ctx.js, &event).await
}

enum Outcome {
    Finished(Box<RunFinished>),
    Failed(Box<SubmissionFailed>),
    Cancelled,
}

fn failure(
    job: &SubmissionCreated,
    kind: FailureKind,
    reason: String,
    retrying: bool,
    detail: Option<String>,
) -> Outcome {
    Outcome::Failed(Box::new(SubmissionFailed {
        event_id: SubmissionFailed::event_id_for(job.submission_id, job.attempt, FailedBy::Runner),
        submission_id: job.submission_id,
        attempt: job.attempt,
        kind,
        reason,
        detail,
        retrying,
        at: Utc::now(),
    }))
}

/// What the participant reads of a run the runner gave up: it went away (a crash found on
/// redelivery) or shut down before the run ended.
const STOPPED_DURING_THE_RUN: &str = "the runner stopped during the run";

/// A run given up because the runner shuts down: retried, not charged.
fn handed_back(job: &SubmissionCreated, detail: &str) -> Outcome {
    Outcome::Failed(Box::new(platform_failure(job, STOPPED_DURING_THE_RUN, true, Some(detail.to_owned()))))
}

fn platform_failure(job: &SubmissionCreated, reason: &str, retrying: bool, detail: Option<String>) -> SubmissionFailed {
    match failure(job, FailureKind::Platform, reason.to_owned(), retrying, detail) {
        Outcome::Failed(f) => *f,
        _ => unreachable!("failure() builds a failure"),
    }
}

/// The container a request asks for: the challenge's dataset (`dataset`, the request's path as
/// [`DataRoots::confine`] resolved it) read-only at `/data`, `output` at `/output`, the
/// challenge's limits. The benchmarks launch through it too.
pub fn run_spec(
    job: &SubmissionCreated,
    config: &RunnerConfig,
    dataset: PathBuf,
    image: String,
    output: PathBuf,
) -> RunSpec {
    let r = &job.resources;
    RunSpec {
        name: container_name(job),
        image,
        labels: HashMap::from([
            (OWNER_LABEL.to_owned(), config.runner_id.clone()),
            ("darkroom.submission".to_owned(), job.submission_id.to_string()),
            ("darkroom.attempt".to_owned(), job.attempt.to_string()),
        ]),
        inputs: vec![(dataset, "/data".to_owned())],
        output,
        limits: Limits {
            cpus: r.cpus,
            memory_mb: r.memory_mb,
            pids: r.pids,
            gpus: r.gpus,
            tmp_size_mb: config.tmp_size_mb,
            output_max_mb: r.output_max_mb,
            wall_clock: Duration::from_secs(r.wall_clock_seconds),
        },
        seed: run_seed(job.submission_id),
    }
}

/// Maps a sandbox error before or during the run to the failure the participant reads.
fn sandbox_failure(job: &SubmissionCreated, e: SandboxError) -> Outcome {
    match e {
        SandboxError::ImageMissing(image) => failure(
            job,
            FailureKind::Participant,
            format!(
                "image missing: '{image}' is neither on the Darkroom engine nor in its registry; push it and submit the name again, or upload it with 'darkroom submit --tar'"
            ),
            false,
            None,
        ),
        // The reason is about the participant's own archive, so they read it whole.
        SandboxError::ImageCorrupt(detail) => failure(
            job,
            FailureKind::Participant,
            format!("image corrupt: {detail}; create the archive with 'docker save IMAGE -o image.tar'"),
            false,
            Some(detail),
        ),
        SandboxError::NoEntrypoint(image) => failure(
            job,
            FailureKind::Participant,
            format!("image '{image}' has no ENTRYPOINT or CMD, so there is nothing to run"),
            false,
            None,
        ),
        SandboxError::ImageRefused(reason) => {
            failure(job, FailureKind::Participant, format!("image refused: {reason}"), false, None)
        }
        SandboxError::Refused(detail) => {
            failure(job, FailureKind::Platform, "the engine refused to run the container".into(), false, Some(detail))
        }
        SandboxError::Unplaceable(detail) => failure(
            job,
            FailureKind::Platform,
            format!(
                "no node of type '{}' could take the run; it does not count against your quota",
                job.node_type.label_value()
            ),
            false,
            Some(detail),
        ),
        SandboxError::Platform(detail) => {
            failure(job, FailureKind::Platform, "the platform failed during the run".into(), true, Some(detail))
        }
    }
}

async fn run(ctx: &Context, job: &SubmissionCreated, stop: &StopSignal) -> Result<Outcome, async_nats::Error> {
    if darkroom_core::bus::is_cancelled(&ctx.runs, job.submission_id).await? {
        tracing::info!(submission = %job.submission_id, "cancelled before it started");
        return Ok(Outcome::Cancelled);
    }
    // Before anything else touches the engine: a request naming a folder outside the data
    // roots (forged, or a challenge applied with a path this runner must not mount) fails here.
    let dataset = match DataRoots::new(&ctx.config.data_roots, "runner.data_roots")
        .confine("dataset", &job.dataset_host_path)
    {
        Ok(path) => path,
        Err(refused) => {
            tracing::error!(submission = %job.submission_id, error = %refused, "dataset outside the data roots; not run");
            return Ok(failure(
                job,
                FailureKind::Platform,
                "the challenge's dataset cannot be mounted on this platform; the organizer has been told, and it does \
                 not count against your quota"
                    .into(),
                false,
                Some(refused.to_string()),
            ));
        }
    };
    // The data must be what was fingerprinted when the challenge was applied: a stat walk,
    // reading only files whose size or mtime changed, on a blocking thread while the image is
    // made ready (both sit between the request and the container's start).
    let check = {
        let (cache, root, expected) =
            (fingerprint_cache(&ctx.config), dataset.clone(), job.dataset_fingerprint.clone());
        tokio::task::spawn_blocking(move || check_before_run(&cache, "dataset", &root, expected.as_ref()))
    };
    let prepared = crate::images::prepare(ctx, job, &ctx.config.work_dir.join("scratch")).await;
    if let Err(detail) = check.await? {
        tracing::error!(submission = %job.submission_id, error = %detail, "dataset changed since the challenge was applied; not run");
        crate::images::release(ctx, job).await;
        return Ok(failure(job, FailureKind::Platform, CHANGED_REASON.into(), false, Some(detail)));
    }
    let outcome = match prepared {
        Ok((image, info)) => match RunFolder::claim(ctx.config.work_dir.join(container_name(job))).await {
            Ok(folder) => {
                let outcome = run_prepared(ctx, job, dataset, image, info, stop, &folder).await;
                folder.remove().await;
                outcome
            }
            Err(e) => Ok(sandbox_failure(job, e)),
        },
        Err(e) => Ok(sandbox_failure(job, e)),
    };
    crate::images::release(ctx, job).await;
    outcome
}

/// Runs a job whose image is on the engine, in its claimed working folder (which the caller
/// removes whatever the outcome).
async fn run_prepared(
    ctx: &Context,
    job: &SubmissionCreated,
    dataset: PathBuf,
    image: String,
    info: ImageInfo,
    stop: &StopSignal,
    folder: &RunFolder,
) -> Result<Outcome, async_nats::Error> {
    if stop.is_raised() {
        tracing::info!("the runner is shutting down; handed back before it started");
        return Ok(handed_back(job, "the runner shut down before the run started"));
    }
    // Loading a large upload takes a while; a cancel that arrived meanwhile wins.
    if darkroom_core::bus::is_cancelled(&ctx.runs, job.submission_id).await? {
        tracing::info!(submission = %job.submission_id, "cancelled while its image was loaded; not started");
        return Ok(Outcome::Cancelled);
    }
    let r = &job.resources;
    let cap = r.output_max_mb << 20;
    let output =
        match OutputDir::create_limited(folder.output(), cap, r.output_max_files, ctx.config.output_tmpfs).await {
            Ok(o) => o,
            Err(e) => return Ok(sandbox_failure(job, e)),
        };
    let spec = run_spec(job, &ctx.config, dataset, image, output.path.clone());
    let hardening = match Hardening::new(&spec, &info, r.allow_root) {
        Ok(h) => h,
        Err(e) => return Ok(sandbox_failure(job, e)),
    };
    // A verification re-run moves no submission's state and shows nobody its logs.
    let verifying = job.verification.is_some();
    if !verifying {
        let started = RunStarted {
            event_id: RunStarted::event_id_for(job.submission_id, job.attempt),
            submission_id: job.submission_id,
            attempt: job.attempt,
            image_digest: Some(info.id.clone()),
            node: Some(ctx.backend.describe(job.node_type)),
            at: Utc::now(),
        };
        publish(&ctx.js, &started).await?;
    }
    tracing::info!(submission = %job.submission_id, run = %job.run_label(), image = %spec.image, "run started");

    let (lines_tx, lines_rx) = mpsc::unbounded_channel::<String>();
    let log_task = (job.logs_visible && !verifying).then(|| {
        tokio::spawn(
            crate::logs::publish_logs(ctx.js.clone(), job.clone(), lines_rx).instrument(tracing::Span::current()),
        )
    });
    let mut budget = LogBudget::new(ctx.config.log_lines_per_second, ctx.config.log_max_bytes);
    let visible = job.logs_visible && !verifying;
    let mut on_line = move |line: &str| {
        if visible && let Some(l) = budget.admit(line, Instant::now()) {
            let _ = lines_tx.send(l);
        }
    };
    let result = tokio::select! {
        result = ctx.backend.run(&spec, &hardening, job.node_type, &mut on_line) => Some(result),
        () = stop.raised() => None,
    };
    drop(on_line);
    if result.is_none() {
        tracing::warn!("drain time over; the run is stopped and handed back");
        ctx.backend.abandon(&spec).await;
    }
    if let Some(task) = log_task {
        let _ = task.await;
    }
    let outcome = match result {
        None => handed_back(job, "the runner shut down and its drain time ran out"),
        // Not the participant's image that is missing but the runner's hold on it.
        Some(Err(SandboxError::ImageMissing(image))) if ctx.holds.is_hold(&image) => {
            ctx.holds.lost(&image).await;
            failure(job, FailureKind::Platform, "the platform lost its copy of the image".into(), true, Some(image))
        }
        Some(Err(e)) => sandbox_failure(job, e),
        Some(Ok(run)) => {
            let limits = OutputLimits { max_files: r.output_max_files, max_depth: r.output_max_depth };
            let rules = Rules {
                cap_bytes: cap,
                max_files: r.output_max_files,
                max_depth: r.output_max_depth,
                wall_clock_s: r.wall_clock_seconds,
                memory_mb: r.memory_mb,
                logs_visible: job.logs_visible,
                tail_lines: ctx.config.failure_log_lines,
            };
            // The walk, the verdict and the packing share one blocking thread.
            let ended = {
                let (path, tar, run) = (output.path.clone(), folder.path().join("output.tar"), run.clone());
                tokio::task::spawn_blocking(move || {
                    let scan = scan_output(&path, &limits);
                    let judged = match judge(&run, &scan, &rules) {
                        Verdict::Success => Judged::Passed(pack(&path, tar)),
                        Verdict::Failed { reason, detail } => Judged::Failed { reason, detail },
                    };
                    (scan, judged)
                })
            };
            let (scan, judged) = match ended.await {
                Ok(ended) => ended,
                Err(e) => {
                    let detail = Some(format!("the output check did not finish: {e}"));
                    return Ok(failure(
                        job,
                        FailureKind::Platform,
                        "the output could not be checked".into(),
                        true,
                        detail,
                    ));
                }
            };
            tracing::info!(submission = %job.submission_id, exit = ?run.exit, ms = run.duration.as_millis() as u64, output_bytes = scan.bytes, output_files = scan.files, verdict = ?judged, "run ended");
            match judged {
                Judged::Failed { reason, detail } => failure(job, FailureKind::Participant, reason, false, detail),
                Judged::Passed(packed) => match store_output(ctx, job, packed).await {
                    Ok(name) => Outcome::Finished(Box::new(RunFinished {
                        event_id: RunFinished::event_id_for(job.submission_id, job.attempt),
                        submission_id: job.submission_id,
                        attempt: job.attempt,
                        exit_code: 0,
                        duration_ms: run.duration.as_millis() as u64,
                        peak_memory_bytes: run.peak_memory_bytes,
                        output_artifact: name,
                        image_digest: Some(info.id.clone()),
                        at: Utc::now(),
                        runner: Some(ctx.config.runner_id.clone()),
                        job: job.clone(),
                    })),
                    // What the program left is charged to the participant; only the host's
                    // faults are refunded and retried.
                    Err(OutputArchiveError::Participant(what)) => {
                        let reason = if job.logs_visible {
                            format!("output not archivable: {what}")
                        } else {
                            // A file name could carry hidden data out: the path stays in `detail`.
                            "output not archivable: /output may hold only regular files and folders the platform \
                             can read"
                                .to_owned()
                        };
                        failure(job, FailureKind::Participant, reason, false, Some(what))
                    }
                    Err(OutputArchiveError::Platform(e)) => {
                        failure(job, FailureKind::Platform, "the output could not be stored".into(), true, Some(e))
                    }
                },
            }
        }
    };
    Ok(outcome)
}

/// A run's output as the packing thread left it: the participant's failure (by the rules), or
/// passed and packed (or why packing failed).
enum Judged {
    Failed { reason: String, detail: Option<String> },
    Passed(Result<Packed, OutputArchiveError>),
}

/// Logged as the verdict was: the failure's reasons, or `Success`.
impl std::fmt::Debug for Judged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Judged::Failed { reason, detail } => {
                f.debug_struct("Failed").field("reason", reason).field("detail", detail).finish()
            }
            Judged::Passed(_) => f.write_str("Success"),
        }
    }
}

/// A packed `/output`: small archives are read whole on the packing thread (no further hops
/// to stream them), larger ones stay in their file and are streamed, so a large output is never
/// held whole in memory.
enum Packed {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// Archives up to this size are read into memory after packing.
const READ_WHOLE_MAX: u64 = 1 << 20;

/// Packs the folder `root` into a tar file `tar` in the run's folder, beside the output.
fn pack(root: &Path, tar: PathBuf) -> Result<Packed, OutputArchiveError> {
    if archive_to_file(root, &tar)? > READ_WHOLE_MAX {
        return Ok(Packed::File(tar));
    }
    std::fs::read(&tar).map(Packed::Bytes).map_err(|e| OutputArchiveError::Platform(format!("{}: {e}", tar.display())))
}

/// Stores the packed output in the object store under the attempt's artifact name; a packing
/// error passes through.
async fn store_output(
    ctx: &Context,
    job: &SubmissionCreated,
    packed: Result<Packed, OutputArchiveError>,
) -> Result<String, OutputArchiveError> {
    let platform = |e: &dyn std::fmt::Display| OutputArchiveError::Platform(e.to_string());
    let packed = packed?;
    let name = artifact_name(job);
    let store = ctx.outputs.store();
    match packed {
        Packed::Bytes(bytes) => store.put(name.as_str(), &mut bytes.as_slice()).await.map_err(|e| platform(&e))?,
        Packed::File(tar) => {
            let mut file = tokio::fs::File::open(&tar).await.map_err(|e| platform(&e))?;
            store.put(name.as_str(), &mut file).await.map_err(|e| platform(&e))?
        }
    };
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runner_takes_its_node_types_or_all_when_none_are_named() {
        assert!(serves(&[], NodeType::Gpu));
        assert!(serves(&[NodeType::Highmem, NodeType::Gpu], NodeType::Gpu));
        assert!(!serves(&[NodeType::Highcpu], NodeType::Gpu));
        assert!(!serves(&[NodeType::Cpu], NodeType::Highcpu));
    }

    /// A small output is read whole on the packing thread; one over the limit stays in its
    /// file, to be streamed; a link in it is the participant's failure, as before.
    #[test]
    fn a_small_output_is_read_whole_a_large_one_streamed_and_a_link_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("output");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("p.csv"), b"id,label\n1,0\n").unwrap();
        let tar = dir.path().join("output.tar");
        let Ok(Packed::Bytes(bytes)) = pack(&out, tar.clone()) else { panic!("a small output is read whole") };
        assert_eq!(bytes, std::fs::read(&tar).unwrap(), "the bytes are the archive's");
        assert!(bytes.windows(5).any(|w| w == b"p.csv"), "the archive names the file");

        std::fs::write(out.join("big.bin"), vec![7u8; (READ_WHOLE_MAX + 1) as usize]).unwrap();
        let Ok(Packed::File(file)) = pack(&out, tar.clone()) else { panic!("a large output is streamed") };
        assert_eq!(file, tar);
        assert!(std::fs::metadata(&file).unwrap().len() > READ_WHOLE_MAX);

        std::os::unix::fs::symlink("/etc/shadow", out.join("link")).unwrap();
        assert!(matches!(pack(&out, tar), Err(OutputArchiveError::Participant(_))), "a link is refused");
    }
}
