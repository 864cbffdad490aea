//! Brings a submission to COMPLETE without Docker: the runner's and evaluator's events by hand,
//! and the evaluation (public and sealed private split, optional per-case values) written to the
//! app's score store as the evaluator writes it, receipt included (signed with the app's key).

use std::collections::BTreeMap;

use chrono::Utc;
use darkroom_api::SubmissionId;
use darkroom_core::digest::sha256_hex;
use darkroom_core::domain::commitment::Salt;
use darkroom_core::domain::receipt::{
    ReceiptClaims, ReceiptSigner, SealedValues, limits_of, metrics_text, seal, time_text,
};
use darkroom_core::domain::{Case, Cases, Direction};
use darkroom_core::events::{RunFinished, RunStarted, ScoreRecorded};
use darkroom_core::scores::{Opening, PendingReceipt, ScoreDocument, ScoreStore, Sealed, from_bson_time, to_bson_time};
use reqwest::Method;

use crate::TestApp;

/// What an evaluation scored: `accuracy` on each split (the fixture's ranking metric, `mean`
/// over cases), and optionally per-case values of the private split.
pub struct Evaluation {
    pub public: f64,
    pub private: f64,
    pub private_cases: Option<Vec<f64>>,
}

/// The caller's participant id.
pub async fn participant_id(app: &TestApp, token: &str) -> String {
    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(token), None).await;
    me["id"].as_str().expect("participant id").to_owned()
}

/// Marks the QUEUED submission `id` RUNNING.
pub async fn start(app: &TestApp, id: &str) {
    let submission_id: SubmissionId = id.parse().expect("an id");
    let started = RunStarted {
        event_id: RunStarted::event_id_for(submission_id, 1),
        submission_id,
        attempt: 1,
        image_digest: None,
        node: None,
        at: Utc::now(),
    };
    app.publish(&started).await;
}

/// Takes the submission `id` (QUEUED or RUNNING) to COMPLETE with `evaluation`.
pub async fn complete(app: &TestApp, token: &str, id: &str, evaluation: &Evaluation) {
    let (_, view) = app.call(Method::GET, &format!("/api/v1/submissions/{id}"), Some(token), None).await;
    let (challenge, phase) =
        (view["challenge"].as_str().unwrap().to_owned(), view["phase"].as_str().unwrap().to_owned());
    let submission_id: SubmissionId = id.parse().expect("an id");
    if view["state"] == "QUEUED" {
        start(app, id).await;
    }
    app.wait_for(id, token, |b| b["state"] == "RUNNING").await;
    let mut job = crate::fixtures::job(submission_id, &challenge);
    job.phase = phase.clone();
    let finished = RunFinished {
        event_id: RunFinished::event_id_for(submission_id, 1),
        submission_id,
        attempt: 1,
        exit_code: 0,
        duration_ms: 10,
        peak_memory_bytes: None,
        output_artifact: "none".into(),
        image_digest: None,
        at: Utc::now(),
        runner: None,
        job,
    };
    app.publish(&finished).await;
    app.wait_for(id, token, |b| b["state"] == "EVALUATING").await;

    let participant = participant_id(app, token).await;
    let signer = ReceiptSigner::from_file(&app.config.evaluator.receipt_key_file).expect("the app's receipt key");
    let store = ScoreStore::new(&app.config.mongodb).await.expect("mongo").with_signer(std::sync::Arc::new(signer));
    store.publish_key().await.expect("key listed");
    let now = Utc::now();
    let metrics = BTreeMap::from([("accuracy".to_owned(), evaluation.public), ("roc_auc".to_owned(), 0.5)]);
    let private = BTreeMap::from([("accuracy".to_owned(), evaluation.private), ("roc_auc".to_owned(), 0.5)]);
    let doc = ScoreDocument {
        submission_id: id.to_owned(),
        challenge: challenge.clone(),
        phase: phase.clone(),
        participant_id: participant.clone(),
        attempt: 1,
        metrics: metrics.clone(),
        rank_value: evaluation.public,
        direction: Direction::HigherIsBetter,
        submitted_at: to_bson_time(now),
        scored_at: to_bson_time(now),
        image_digest: None,
        evaluation_image: "darkroom-demo-eval:1".into(),
        evaluation_image_digest: None,
    };
    let cases = evaluation.private_cases.as_ref().map(|values| Cases {
        public: Vec::new(),
        private: values.iter().enumerate().map(|(i, v)| Case { id: format!("case-{i:03}"), value: *v }).collect(),
    });
    let receipt = pending_receipt(&doc, Some(&private));
    store
        .record_evaluation(
            &doc,
            Sealed {
                private_metrics: Some(&private),
                cases: cases.as_ref(),
                receipt: Some(&receipt),
                run_finished: None,
            },
        )
        .await
        .expect("score recorded");
    let scored = ScoreRecorded {
        event_id: ScoreRecorded::event_id_for(submission_id),
        attempt: 1,
        submission_id,
        challenge,
        phase,
        participant_id: participant.parse().expect("a participant id"),
        metrics,
        at: now,
    };
    app.publish(&scored).await;
    app.wait_for(id, token, |b| b["state"] == "COMPLETE").await;
}

/// The receipt claims an evaluator would make for `doc` (a raw phase), its private split sealed
/// when given; the files' hashes stand in for the ones a real evaluation hashes.
pub fn pending_receipt(doc: &ScoreDocument, private: Option<&BTreeMap<String, f64>>) -> PendingReceipt {
    let score_json = sha256_hex(format!("{}/score.json", doc.submission_id).as_bytes());
    let (score_json_sha256, sealed, opening) = match private {
        None => (Some(score_json), None, None),
        Some(private) => {
            let salt = Salt([9; 32]);
            let values = SealedValues {
                public_metrics: None,
                private_metrics: Some(metrics_text(private)),
                score_json_sha256: score_json,
                cases_csv_sha256: None,
            };
            (None, Some(seal(&values, &salt)), Some(Opening { salt, values }))
        }
    };
    let claims = ReceiptClaims {
        submission_id: doc.submission_id.parse().expect("a submission id"),
        participant_id: doc.participant_id.parse().expect("a participant id"),
        phase: doc.phase.clone(),
        attempt: doc.attempt,
        image_digest: doc.image_digest.clone(),
        evaluation_image: doc.evaluation_image.clone(),
        evaluation_image_id: doc.evaluation_image_digest.clone(),
        dataset_fingerprint: None,
        ground_truth_fingerprint: None,
        output_archive_sha256: sha256_hex(format!("{}/output.tar", doc.submission_id).as_bytes()),
        score_json_sha256,
        cases_csv_sha256: None,
        sealed,
        metrics: metrics_text(&doc.metrics),
        limits: limits_of(&crate::fixtures::job(doc.submission_id.parse().expect("an id"), &doc.challenge).resources),
        sandbox_policy: darkroom_core::sandbox::POLICY_VERSION,
        runner: None,
        evaluator: "test-evaluator".into(),
        darkroom_version: env!("CARGO_PKG_VERSION").into(),
        submitted_at: time_text(from_bson_time(doc.submitted_at)),
        run_finished_at: time_text(from_bson_time(doc.scored_at)),
        scored_at: time_text(from_bson_time(doc.scored_at)),
        generation: None,
    };
    PendingReceipt { claims, opening }
}
