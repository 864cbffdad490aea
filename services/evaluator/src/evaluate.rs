//! Scoring one finished run, idempotently: a submission that already has a score document is
//! not evaluated again; its `score.recorded` is simply published again (same event id, so
//! JetStream drops it if the first one arrived). Before the evaluation image runs, the ground
//! truth is checked against the fingerprint taken when the challenge was applied; data that
//! changed fails the evaluation as the platform's fault, naming the files for the organizer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use chrono::Utc;
use darkroom_core::bus::outputs::ReadError;
use darkroom_core::bus::{Outputs, publish};
use darkroom_core::config::EvaluatorConfig;
use darkroom_core::digest::sha256_hex;
use darkroom_core::domain::cases::MAX_CASES_BYTES;
use darkroom_core::domain::commitment::Salt;
use darkroom_core::domain::receipt::{
    GroundTruthKey, ReceiptClaims, SealedValues, ground_truth_commitment, limits_of, metrics_text, seal, time_text,
    whole_second,
};
use darkroom_core::domain::score::MAX_SCORE_BYTES;
use darkroom_core::domain::{Cases, EvaluationOutput, FailureKind, Feedback};
use darkroom_core::events::{FailedBy, RunFinished, ScoreRecorded, SubmissionFailed};
use darkroom_core::fingerprint::{CHANGED_REASON, Cache, check_before_run};
use darkroom_core::sandbox::{
    DataRoots, Exit, Hardening, Limits, Logs, OWNER_LABEL, OutputDir, POLICY_VERSION, RunFolder, RunSpec, Sandbox,
    SandboxError, extract_archive, run_seed,
};
use darkroom_core::scores::{Opening, PendingReceipt, ScoreDocument, ScoreStore, Sealed, from_bson_time, to_bson_time};

pub struct Context {
    pub js: jetstream::Context,
    /// The runners' bucket, read for cancellations.
    pub runs: kv::Store,
    pub outputs: Outputs,
    pub scores: ScoreStore,
    pub sandbox: Sandbox,
    pub config: EvaluatorConfig,
    pub owner: String,
    /// Keys the receipts' commitment to the ground truth (derived from the signing key).
    pub ground_truth_key: GroundTruthKey,
}

/// The most `score.json` and `cases.csv` may weigh together, and so the cap of the evaluator's
/// `/output` (a larger file fails the write inside the container, or the size check here).
const OUTPUT_CAP: u64 = (MAX_SCORE_BYTES + MAX_CASES_BYTES) as u64;

/// A score and what the organizer alone may see of it: the private split and the cases; and
/// its receipt's claims, signed and chained when it is recorded.
pub(crate) struct Scored {
    pub(crate) doc: ScoreDocument,
    pub(crate) private_metrics: Option<std::collections::BTreeMap<String, f64>>,
    pub(crate) cases: Option<Cases>,
    pub(crate) receipt: PendingReceipt,
    /// Hex SHA-256 of the evaluation's `score.json` (a verification re-run compares it).
    pub(crate) score_json_sha256: String,
}

impl Scored {
    /// What is stored sealed beside the score: the private split, the cases, the receipt and
    /// the run it was evaluated from (`run_json`), for a later rescore.
    pub(crate) fn sealed<'a>(&'a self, run_json: &'a str) -> Sealed<'a> {
        Sealed {
            private_metrics: self.private_metrics.as_ref(),
            cases: self.cases.as_ref(),
            receipt: Some(&self.receipt),
            run_finished: Some(run_json),
        }
    }
}

/// The hashes of what the evaluation read and wrote, for the receipt.
struct Hashes {
    output_archive: String,
    score_json: String,
    cases_csv: Option<String>,
}

/// The receipt's claims for `doc`: what ran, on what, under which limits, and what came out.
/// A private split (and so the files that hold it) is committed to by a salted hash only.
fn pending_receipt(
    ctx: &Context,
    run: &RunFinished,
    doc: &ScoreDocument,
    private: Option<&std::collections::BTreeMap<String, f64>>,
    hashes: Hashes,
) -> PendingReceipt {
    let job = &run.job;
    // Exact public values are as sealed as private ones where the phase shows them rounded or
    // through the Ladder.
    let hidden_public = (job.scoring.feedback != Feedback::Raw).then(|| metrics_text(&doc.metrics));
    let (metrics, score_json_sha256, cases_csv_sha256, sealed, opening) =
        if private.is_none() && hidden_public.is_none() {
            (metrics_text(&doc.metrics), Some(hashes.score_json), hashes.cases_csv, None, None)
        } else {
            let salt = Salt::generate(&mut rand::rng());
            let values = SealedValues {
                public_metrics: hidden_public,
                private_metrics: private.map(metrics_text),
                score_json_sha256: hashes.score_json,
                cases_csv_sha256: hashes.cases_csv,
            };
            let metrics = if values.public_metrics.is_some() { Default::default() } else { metrics_text(&doc.metrics) };
            let sealed = seal(&values, &salt);
            (metrics, None, None, Some(sealed), Some(Opening { salt, values }))
        };
    // Where logs are hidden, times finer than a second are a side channel (as on the board).
    let time = |t: chrono::DateTime<Utc>| time_text(if job.logs_visible { t } else { whole_second(t) });
    let claims = ReceiptClaims {
        submission_id: run.submission_id,
        participant_id: job.participant_id,
        phase: job.phase.clone(),
        attempt: run.attempt,
        image_digest: run.image_digest.clone(),
        evaluation_image: job.evaluation_image.clone(),
        evaluation_image_id: doc.evaluation_image_digest.clone(),
        // The dataset's fingerprint is public (the challenge page shows it); the ground truth's
        // only as a keyed commitment (see `ground_truth_commitment` and docs/adr/0009).
        dataset_fingerprint: job.dataset_fingerprint.as_ref().map(|f| f.digest.clone()),
        ground_truth_fingerprint: job
            .ground_truth_fingerprint
            .as_ref()
            .map(|f| ground_truth_commitment(&ctx.ground_truth_key, &job.challenge, &f.digest)),
        output_archive_sha256: hashes.output_archive,
        score_json_sha256,
        cases_csv_sha256,
        sealed,
        metrics,
        limits: limits_of(&job.resources),
        sandbox_policy: POLICY_VERSION,
        runner: run.runner.clone(),
        evaluator: ctx.config.evaluator_id.clone(),
        darkroom_version: env!("CARGO_PKG_VERSION").to_owned(),
        submitted_at: time(from_bson_time(doc.submitted_at)),
        run_finished_at: time(run.at),
        scored_at: time(from_bson_time(doc.scored_at)),
        // Set by the caller when it records into a rescore's generation.
        generation: None,
    };
    PendingReceipt { claims, opening }
}

/// The event for `doc`, the score of `run`'s submission: its ids are the run's, typed, rather
/// than read back from the document's text.
fn recorded(doc: &ScoreDocument, run: &RunFinished) -> ScoreRecorded {
    ScoreRecorded {
        event_id: ScoreRecorded::event_id_for(run.submission_id),
        attempt: doc.attempt,
        submission_id: run.submission_id,
        challenge: doc.challenge.clone(),
        phase: doc.phase.clone(),
        participant_id: run.job.participant_id,
        metrics: doc.metrics.clone(),
        at: Utc::now(),
    }
}

fn failed(
    run: &RunFinished,
    kind: FailureKind,
    reason: &str,
    detail: Option<String>,
    retrying: bool,
) -> SubmissionFailed {
    SubmissionFailed {
        event_id: SubmissionFailed::event_id_for(run.submission_id, run.attempt, FailedBy::Evaluator),
        submission_id: run.submission_id,
        attempt: run.attempt,
        kind,
        reason: reason.to_owned(),
        detail,
        retrying,
        at: Utc::now(),
    }
}

/// Handles one finished run. `Err` means nothing durable happened and the message should be
/// redelivered (NATS or MongoDB unavailable).
pub async fn handle(ctx: &Context, run: &RunFinished) -> Result<(), async_nats::Error> {
    let id = run.submission_id.to_string();
    if let Some(doc) = ctx.scores.get(&id).await? {
        tracing::info!(submission = %id, "already scored; finishing its leaderboard update and publishing it again");
        // A crash may have come between the insert and the leaderboard update.
        ctx.scores.record(&doc).await?;
        kept(ctx, &ctx.scores, run, 1).await?;
        publish(&ctx.js, &recorded(&doc, run)).await?;
        return Ok(());
    }
    // Once a rescore switched the phase's board, its runs are scored into that generation by
    // its image (see crate::rescore).
    let (generation, store, run) = crate::rescore::head_target(ctx, run).await?;
    let run = &*run;
    if generation > 1
        && let Some(doc) = store.get(&id).await?
    {
        tracing::info!(submission = %id, generation, "already scored; finishing its record and publishing it again");
        store.record(&doc).await?;
        kept(ctx, &store, run, generation).await?;
        publish(&ctx.js, &recorded(&doc, run)).await?;
        return Ok(());
    }
    // A submission cancelled after its run finished is never scored.
    if darkroom_core::bus::is_cancelled(&ctx.runs, run.submission_id).await? {
        tracing::info!(submission = %id, "cancelled; not evaluated");
        return Ok(());
    }
    let started = std::time::Instant::now();
    let verdict = evaluate(ctx, run).await;
    match &verdict {
        Ok(_) => darkroom_core::metrics::evaluation_ended("scored", started.elapsed()),
        Err(EvaluationError::Failed(f)) => {
            darkroom_core::metrics::evaluation_ended("failed", started.elapsed());
            darkroom_core::metrics::failed("evaluator", f.kind.as_str());
        }
        Err(EvaluationError::Transient(_)) => {}
    }
    match verdict {
        Ok(mut scored) => {
            if generation > 1 {
                scored.receipt.claims.generation = Some(generation);
            }
            let run_json = serde_json::to_string(run)?;
            let outcome = store.record_evaluation(&scored.doc, scored.sealed(&run_json)).await?;
            // Public metrics only: the private split never reaches a log.
            tracing::info!(submission = %id, metrics = ?scored.doc.metrics, ?outcome, "scored");
            crate::rescore::propagate(ctx, run, generation).await?;
            publish(&ctx.js, &recorded(&scored.doc, run)).await?;
        }
        Err(EvaluationError::Failed(failure)) => {
            tracing::warn!(submission = %id, reason = %failure.reason, detail = ?failure.detail, "evaluation failed");
            publish(&ctx.js, &*failure).await?;
        }
        Err(EvaluationError::Transient(e)) => return Err(e),
    }
    Ok(())
}

/// After a score found already recorded in `generation`: keeps its run for a later rescore (a
/// crash may have come before it was kept), and hands it to a rescore that started from that
/// generation (see [`crate::rescore::propagate`]).
async fn kept(ctx: &Context, store: &ScoreStore, run: &RunFinished, generation: u32) -> Result<(), async_nats::Error> {
    store.keep_run(&run.submission_id.to_string(), &serde_json::to_string(run)?).await?;
    crate::rescore::propagate(ctx, run, generation).await
}

/// Why a finished run yields no score document.
#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    /// The evaluation ended without a score, for a reason the submission's owner is told (the
    /// failure is published; it says whose fault it is and whether it will be retried).
    #[error("{}", .0.reason)]
    Failed(Box<SubmissionFailed>),
    /// Nothing durable happened (NATS, the object store or the host failed): redeliver the run.
    #[error("{0}")]
    Transient(async_nats::Error),
}

impl From<SubmissionFailed> for EvaluationError {
    fn from(failure: SubmissionFailed) -> Self {
        EvaluationError::Failed(Box::new(failure))
    }
}

impl EvaluationError {
    fn transient(e: impl Into<async_nats::Error>) -> Self {
        EvaluationError::Transient(e.into())
    }
}

/// Why the evaluation container did not run to an exit.
enum EvalError {
    /// The evaluation image's name points at another image than the one pinned at apply.
    Moved {
        now: String,
    },
    Sandbox(SandboxError),
}

impl From<SandboxError> for EvalError {
    fn from(e: SandboxError) -> Self {
        EvalError::Sandbox(e)
    }
}

fn sandbox_verdict(run: &RunFinished, e: SandboxError) -> Result<Scored, SubmissionFailed> {
    match e {
        SandboxError::Platform(detail) => {
            Err(failed(run, FailureKind::Platform, "the platform failed during evaluation", Some(detail), true))
        }
        e => Err(failed(run, FailureKind::Evaluation, "evaluation error", Some(e.to_string()), false)),
    }
}

/// Runs the evaluation image on `run`'s output: a submission's run, or a verification re-run.
pub(crate) async fn evaluate(ctx: &Context, run: &RunFinished) -> Result<Scored, EvaluationError> {
    let job = &run.job;
    // Before anything else: a request naming ground truth outside the data roots (forged, or a
    // challenge applied with a path this evaluator must not mount) runs no container.
    let roots = DataRoots::new(&ctx.config.data_roots, "evaluator.data_roots");
    let ground_truth = roots.confine("ground truth", &job.ground_truth_host_path).map_err(|refused| {
        tracing::error!(submission = %run.submission_id, error = %refused, "ground truth outside the data roots; not evaluated");
        failed(
            run,
            FailureKind::Platform,
            "the challenge's ground truth cannot be mounted on this platform; the organizer has been told, and it does \
             not count against your quota",
            Some(refused.to_string()),
            false,
        )
    })?;
    // The ground truth must be what was fingerprinted when the challenge was applied.
    let checked = {
        let cache = Cache::new(ctx.config.work_dir.join("fingerprints"));
        let (root, expected) = (ground_truth.clone(), job.ground_truth_fingerprint.clone());
        tokio::task::spawn_blocking(move || check_before_run(&cache, "ground truth", &root, expected.as_ref()))
            .await
            .map_err(EvaluationError::transient)?
    };
    if let Err(detail) = checked {
        tracing::error!(submission = %run.submission_id, error = %detail, "ground truth changed since the challenge was applied; not evaluated");
        return Err(failed(run, FailureKind::Platform, CHANGED_REASON, Some(detail), false).into());
    }
    let folder = RunFolder::claim(ctx.config.work_dir.join(format!("{}-{}", run.submission_id, job.run_label())))
        .await
        .map_err(EvaluationError::transient)?;
    let verdict = evaluate_in(ctx, run, ground_truth, &folder).await;
    folder.remove().await;
    verdict
}

/// Evaluates in a claimed working folder, which the caller removes whatever the outcome.
async fn evaluate_in(
    ctx: &Context,
    run: &RunFinished,
    ground_truth: PathBuf,
    folder: &RunFolder,
) -> Result<Scored, EvaluationError> {
    let job = &run.job;
    let predictions = folder.path().join("predictions");
    // The participant's output, bounded by their cap (plus tar framing).
    let limit = (job.resources.output_max_mb << 20) + (1 << 20);
    let archive = match ctx.outputs.read(&run.output_artifact, limit).await {
        Ok(bytes) => bytes,
        Err(e @ ReadError::NotFound { .. }) => {
            return Err(failed(
                run,
                FailureKind::Platform,
                "the run's output was lost; the run will be repeated",
                Some(e.to_string()),
                true,
            )
            .into());
        }
        Err(e) => return Err(EvaluationError::transient(e)),
    };
    let output_archive_sha256 = sha256_hex(&archive);
    let unpack = {
        let p = predictions.clone();
        tokio::task::spawn_blocking(move || extract_archive(&archive, &p)).await.map_err(EvaluationError::transient)?
    };
    if let Err(e) = unpack {
        let detail = Some(e.to_string());
        return Err(failed(run, FailureKind::Participant, "the output could not be unpacked", detail, false).into());
    }
    let output = OutputDir::create(folder.output(), OUTPUT_CAP).await.map_err(EvaluationError::transient)?;
    let spec = RunSpec {
        name: format!("darkroom-eval-{}-{}", run.submission_id, job.run_label()),
        image: job.evaluation_image.clone(),
        labels: HashMap::from([
            (OWNER_LABEL.to_owned(), ctx.owner.clone()),
            ("darkroom.submission".to_owned(), run.submission_id.to_string()),
        ]),
        inputs: vec![
            (predictions.clone(), "/input/predictions".to_owned()),
            (ground_truth, "/input/ground-truth".to_owned()),
        ],
        output: output.path.clone(),
        limits: Limits {
            cpus: ctx.config.cpus,
            memory_mb: ctx.config.memory_mb,
            pids: 256,
            gpus: 0,
            tmp_size_mb: 64,
            output_max_mb: OUTPUT_CAP.div_ceil(1 << 20),
            wall_clock: Duration::from_secs(ctx.config.timeout_seconds),
        },
        // The participant's run's seed: an evaluation that samples (a bootstrap, say) repeats too.
        seed: run_seed(run.submission_id),
    };
    let result = async {
        let info = ctx.sandbox.image_info(&spec.image).await?;
        // Fail closed: a submission of a challenge applied before pinning has nothing to check.
        if job.evaluation_image_id.as_ref() != Some(&info.id) {
            return Err(EvalError::Moved { now: info.id });
        }
        // Run the image checked, not whatever the name points at a moment later. The
        // organizer's image is trusted to choose its user (root included); everything else
        // about the sandbox is the participants'.
        let spec = RunSpec { image: info.id.clone(), ..spec.clone() };
        let hardening = Hardening::new(&spec, &info, true)?;
        Ok(ctx.sandbox.run(&spec, &hardening, Logs::TailOnFailure).await.map(|o| (o, info))?)
    }
    .await;
    let verdict = match result {
        Err(EvalError::Moved { now }) => Err(failed(
            run,
            FailureKind::Platform,
            "the platform failed during evaluation: the organizer has been alerted",
            Some(match &job.evaluation_image_id {
                Some(pinned) => format!(
                    "the evaluation image '{}' now points at {now}, not at {pinned} pinned when the challenge was \
                     applied; restore the image, or apply the challenge again to pin the new one, then re-run the \
                     submission",
                    job.evaluation_image
                ),
                None => format!(
                    "the challenge was applied before evaluation images were pinned, so '{}' ({now}) cannot be \
                     checked; apply the challenge again to pin it, then re-run the submission",
                    job.evaluation_image
                ),
            }),
            false,
        )),
        Err(EvalError::Sandbox(e)) => sandbox_verdict(run, e),
        Ok((outcome, info)) => match outcome.exit {
            Exit::Code(0) => match read_results(output.path.clone()).await {
                Err(e) => Err(failed(run, FailureKind::Evaluation, "evaluation error", Some(e), false)),
                Ok((bytes, cases_bytes)) => match EvaluationOutput::check(
                    &bytes,
                    cases_bytes.as_deref(),
                    &job.metrics,
                    &job.rank_by,
                    job.scoring,
                ) {
                    Err(e) => Err(failed(run, FailureKind::Evaluation, "evaluation error", Some(e.to_string()), false)),
                    Ok(EvaluationOutput { score, cases }) => {
                        let cases_csv = cases_bytes.as_deref().map(sha256_hex);
                        let doc = ScoreDocument {
                            submission_id: run.submission_id.to_string(),
                            challenge: job.challenge.clone(),
                            phase: job.phase.clone(),
                            participant_id: job.participant_id.to_string(),
                            attempt: run.attempt,
                            rank_value: score.public.metrics.get(&job.rank_by).copied().unwrap_or(f64::NAN),
                            direction: job
                                .metrics
                                .iter()
                                .find(|m| m.name == job.rank_by)
                                .map(|m| m.direction)
                                .unwrap_or_default(),
                            metrics: score.public.metrics,
                            submitted_at: to_bson_time(job.created_at),
                            scored_at: to_bson_time(Utc::now()),
                            image_digest: run.image_digest.clone(),
                            evaluation_image: job.evaluation_image.clone(),
                            evaluation_image_digest: Some(info.id),
                        };
                        let private_metrics = score.private.map(|p| p.metrics);
                        let score_json_sha256 = sha256_hex(&bytes);
                        let hashes = Hashes {
                            output_archive: output_archive_sha256,
                            score_json: score_json_sha256.clone(),
                            cases_csv,
                        };
                        let receipt = pending_receipt(ctx, run, &doc, private_metrics.as_ref(), hashes);
                        Ok(Scored { doc, private_metrics, cases, receipt, score_json_sha256 })
                    }
                },
            },
            other => Err(failed(
                run,
                FailureKind::Evaluation,
                "evaluation error",
                Some(format!(
                    "the evaluation image ended with {other:?}; its last output:\n{}",
                    outcome.log_tail.join("\n")
                )),
                false,
            )),
        },
    };
    verdict.map_err(EvaluationError::from)
}

/// What the evaluation wrote, read on one blocking thread: `/output/score.json` (required) and
/// `/output/cases.csv` (optional). A missing score or a file that cannot be read is the
/// evaluation's failure; the error says which file and why.
async fn read_results(output: std::path::PathBuf) -> Result<(Vec<u8>, Option<Vec<u8>>), String> {
    let read = tokio::task::spawn_blocking(move || {
        let score = std::fs::read(output.join("score.json"))
            .map_err(|e| format!("the evaluation wrote no /output/score.json: {e}"))?;
        let cases = match std::fs::read(output.join("cases.csv")) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("the evaluation's /output/cases.csv cannot be read: {e}")),
        };
        Ok((score, cases))
    });
    read.await.map_err(|e| format!("the evaluation's output was not read: {e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn results_are_the_score_and_the_optional_cases_or_say_which_file_failed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_path_buf();
        let missing = read_results(out.clone()).await.unwrap_err();
        assert!(missing.contains("wrote no /output/score.json"), "{missing}");

        std::fs::write(out.join("score.json"), br#"{"accuracy": 0.5}"#).unwrap();
        assert_eq!(read_results(out.clone()).await.unwrap(), (br#"{"accuracy": 0.5}"#.to_vec(), None));

        std::fs::write(out.join("cases.csv"), b"case,accuracy\na,1\n").unwrap();
        let (_, cases) = read_results(out.clone()).await.unwrap();
        assert_eq!(cases.as_deref(), Some(&b"case,accuracy\na,1\n"[..]));

        // A folder where the file should be cannot be read: the evaluation's failure, named.
        std::fs::remove_file(out.join("cases.csv")).unwrap();
        std::fs::create_dir(out.join("cases.csv")).unwrap();
        let unreadable = read_results(out).await.unwrap_err();
        assert!(unreadable.contains("/output/cases.csv cannot be read"), "{unreadable}");
    }
}
