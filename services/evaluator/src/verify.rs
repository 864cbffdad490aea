//! Verification re-runs (issue 17): a runner re-ran a scored submission for the organizer; its
//! output is evaluated exactly as a submission's ([`crate::evaluate::evaluate`]), and instead of
//! a score the comparison with the original score and its receipt is stored
//! ([`darkroom_core::domain::rerun`]). Nothing here records a score, a receipt or a board line.
//! Idempotent: a redelivered outcome finds its result stored and only tidies up.

use chrono::Utc;
use darkroom_core::domain::rerun::{RunFacts, compare};
use darkroom_core::events::{RunFinished, RunVerified, SubmissionFailed, VerificationRun};
use darkroom_core::scores::{StoredVerification, VerificationResult};

use crate::evaluate::{Context, EvaluationError, evaluate};

fn failure_text(stage: &str, f: &SubmissionFailed) -> String {
    match &f.detail {
        Some(detail) => format!("the re-run's {stage} failed: {} ({detail})", f.reason),
        None => format!("the re-run's {stage} failed: {}", f.reason),
    }
}

/// Evaluates a re-run's output and compares it with the original score.
async fn judge(ctx: &Context, run: &RunFinished) -> Result<VerificationResult, async_nats::Error> {
    let id = run.submission_id.to_string();
    let Some(original) = ctx.scores.original_score(&id).await? else {
        return Ok(VerificationResult::Failed("the submission has no recorded score to compare with".into()));
    };
    let Some(original_claims) = original.claims.as_ref() else {
        return Ok(VerificationResult::Failed(
            "the submission was scored before receipts existed, so nothing states what its run was".into(),
        ));
    };
    let scored = match evaluate(ctx, run).await {
        Ok(scored) => scored,
        Err(EvaluationError::Failed(f)) => return Ok(VerificationResult::Failed(failure_text("evaluation", &f))),
        Err(EvaluationError::Transient(e)) => return Err(e),
    };
    let before = RunFacts {
        public: &original.metrics,
        private: original.private_metrics.as_ref(),
        score_json_sha256: original.score_json_sha256.as_deref(),
        claims: original_claims,
    };
    let after = RunFacts {
        public: &scored.doc.metrics,
        private: scored.private_metrics.as_ref(),
        score_json_sha256: Some(&scored.score_json_sha256),
        claims: &scored.receipt.claims,
    };
    Ok(VerificationResult::Complete(compare(&before, &after, &run.job.metrics)))
}

/// Handles one re-run's outcome. `Err`: nothing durable happened; redeliver.
pub async fn handle(ctx: &Context, event: &RunVerified) -> Result<(), async_nats::Error> {
    let artifact = match &event.outcome {
        VerificationRun::Finished(run) => Some(run.output_artifact.clone()),
        VerificationRun::Failed(_) => None,
    };
    if ctx.scores.verification(event.verification_id).await?.is_none() {
        let result = match &event.outcome {
            VerificationRun::Failed(f) => VerificationResult::Failed(failure_text("run", f)),
            VerificationRun::Finished(run) => judge(ctx, run).await?,
        };
        let verdict = match &result {
            VerificationResult::Complete(report) => format!("{:?}", report.verdict),
            VerificationResult::Failed(reason) => reason.clone(),
        };
        tracing::info!(submission = %event.submission_id, verification = %event.verification_id, %verdict, "verification re-run judged");
        let stored = StoredVerification {
            id: event.verification_id,
            submission_id: event.submission_id,
            finished_at: Utc::now(),
            result,
        };
        ctx.scores.record_verification(&stored).await?;
    }
    // A re-run's output served its one comparison.
    if let Some(name) = artifact
        && let Err(e) = ctx.outputs.store().delete(name.as_str()).await
    {
        tracing::debug!(object = %name, error = %e, "re-run output not deleted (already gone?)");
    }
    Ok(())
}
