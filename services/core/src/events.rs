//! The event contracts: JetStream subjects and their payloads.
//!
//! Every subject ends in its payload's version (`.v1`); a breaking change adds a `.v2` subject
//! and its own struct, so old and new services can run side by side during an upgrade. Every
//! payload carries an `event_id`, published as the `Nats-Msg-Id` header, so JetStream drops a
//! republished duplicate and consumers can recognise a redelivered one.
//!
//! One file on purpose (about 360 lines of code, tests below): the whole contract between the
//! services, subjects, payloads and the spelling of every event id, is read in one place.

use crate::domain::challenge::{Metric, NodeType, Resources, TreeFingerprint};
use crate::domain::{FailureKind, ImageSource, ParticipantId, Scoring, SubmissionId, SubmissionState};
use chrono::{DateTime, Utc};
use darkroom_api::VerificationId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The one stream that carries every Darkroom event.
pub const STREAM: &str = "DARKROOM";
/// Everything the stream captures.
pub const STREAM_SUBJECTS: &str = "darkroom.>";
/// The subjects that move a submission's state, which the submissions service applies.
pub const STATE_SUBJECTS: [&str; 5] =
    [RunPending::SUBJECT, RunStarted::SUBJECT, RunFinished::SUBJECT, ScoreRecorded::SUBJECT, SubmissionFailed::SUBJECT];

/// A payload with its subject; implemented by every event type.
///
/// Each type also says how its `event_id` is spelled (`event_id_for` and the like): the id is
/// derived from the event's natural key (submission, attempt, batch…), so a republished or
/// redelivered event carries the same id and JetStream's duplicate window and the consumers'
/// idempotence recognise it. Publishers call those functions and never format an id.
pub trait Event: Serialize + DeserializeOwned {
    const SUBJECT: &'static str;
    /// Unique per logical event; the `Nats-Msg-Id` header.
    fn event_id(&self) -> &str;
    fn submission_id(&self) -> SubmissionId;
    /// The run attempt the event is about, for those that name one.
    fn attempt(&self) -> Option<u32>;
}

macro_rules! event {
    ($ty:ident, $subject:literal) => {
        event!($ty, $subject, |_e| None);
    };
    ($ty:ident, $subject:literal, attempt) => {
        event!($ty, $subject, |e| Some(e.attempt));
    };
    ($ty:ident, $subject:literal, |$e:ident| $attempt:expr) => {
        impl Event for $ty {
            const SUBJECT: &'static str = $subject;
            fn event_id(&self) -> &str {
                &self.event_id
            }
            fn submission_id(&self) -> SubmissionId {
                self.submission_id
            }
            fn attempt(&self) -> Option<u32> {
                let $e = self;
                $attempt
            }
        }
    };
}

/// What a consumer takes off the stream: decoded from a message's subject and payload. Every
/// [`Event`] decodes from its JSON; [`StateEvent`] picks its type by subject.
pub trait Decode: Sized {
    fn decode(subject: &str, payload: &[u8]) -> Result<Self, DecodeError>;
    /// The submission the message is about, and its attempt where it names one: the fields of
    /// the span its handling runs in.
    fn submission(&self) -> (SubmissionId, Option<u32>);
}

impl<E: Event> Decode for E {
    fn decode(subject: &str, payload: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(payload).map_err(|source| DecodeError::Payload { subject: subject.into(), source })
    }

    fn submission(&self) -> (SubmissionId, Option<u32>) {
        (self.submission_id(), self.attempt())
    }
}

/// An accepted submission, with everything a runner needs so it never reads another service's
/// database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionCreated {
    pub event_id: String,
    pub submission_id: SubmissionId,
    /// 1 for the first run; a platform retry publishes the next attempt.
    pub attempt: u32,
    pub challenge: String,
    pub phase: String,
    pub participant_id: ParticipantId,
    pub image: ImageSource,
    pub dataset_host_path: String,
    pub ground_truth_host_path: String,
    /// The dataset's fingerprint taken when the challenge was applied: the runner checks the
    /// data against it before starting the container (absent in events from before
    /// fingerprints, and for challenges applied before them: not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_fingerprint: Option<TreeFingerprint>,
    /// The same for the ground truth, checked by the evaluator before evaluating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground_truth_fingerprint: Option<TreeFingerprint>,
    pub evaluation_image: String,
    /// The id `evaluation_image` was pinned to when the challenge was applied (absent in events
    /// from before pinning).
    #[serde(default)]
    pub evaluation_image_id: Option<String>,
    pub metrics: Vec<Metric>,
    pub rank_by: String,
    /// What the evaluator checks of the phase's settings (private split, Ladder); absent in
    /// events from before evaluation contract v2, which scored as the defaults do.
    #[serde(default)]
    pub scoring: Scoring,
    pub resources: Resources,
    pub node_type: NodeType,
    pub logs_visible: bool,
    pub created_at: DateTime<Utc>,
    /// Set when this is an organizer's verification re-run of a scored submission rather than
    /// a run of it: the runner then publishes its outcome as [`RunVerified`] only (no state
    /// event, no logs), so the submission, its score and the board are never touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationId>,
}
event!(SubmissionCreated, "darkroom.submission.created.v1", attempt);

impl SubmissionCreated {
    /// One request per attempt.
    pub fn event_id_for(submission_id: SubmissionId, attempt: u32) -> String {
        format!("submission-created-{submission_id}-{attempt}")
    }

    /// The request of a verification re-run.
    pub fn verification_event_id(verification: VerificationId) -> String {
        format!("verification-requested-{verification}")
    }

    /// Which run of the submission this is: its attempt number, or `verify-<id>` for a
    /// verification re-run. It names the run's claim, container, image tag, work folders and
    /// output object, so a re-run never collides with the runs it re-checks.
    pub fn run_label(&self) -> String {
        match self.verification {
            Some(v) => format!("verify-{v}"),
            None => self.attempt.to_string(),
        }
    }
}

/// How a verification re-run's participant container ended: run and stored (the output is
/// evaluated next), or not (the reason is the failure a submission would have read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationRun {
    Finished(Box<RunFinished>),
    Failed(Box<SubmissionFailed>),
}

/// A runner ran a verification re-run ([`SubmissionCreated::verification`]); the evaluator
/// evaluates it and stores the comparison. A `run.*` subject: only runners may publish it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunVerified {
    pub event_id: String,
    pub submission_id: SubmissionId,
    pub verification_id: VerificationId,
    pub outcome: VerificationRun,
}
event!(RunVerified, "darkroom.run.verified.v1");

impl RunVerified {
    /// One outcome per verification.
    pub fn event_id_for(verification: VerificationId) -> String {
        format!("run-verified-{verification}")
    }
}

/// A participant cancelled a queued submission; runners drop it if they hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionCancelled {
    pub event_id: String,
    pub submission_id: SubmissionId,
    pub at: DateTime<Utc>,
}
event!(SubmissionCancelled, "darkroom.submission.cancelled.v1");

impl SubmissionCancelled {
    /// A submission is cancelled once; the transition it records carries the same id.
    pub fn event_id_for(submission_id: SubmissionId) -> String {
        format!("cancelled-{submission_id}")
    }
}

/// A runner holds the submission but waits for capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPending {
    pub event_id: String,
    pub submission_id: SubmissionId,
    pub attempt: u32,
    pub reason: String,
    pub at: DateTime<Utc>,
}
event!(RunPending, "darkroom.run.pending.v1", attempt);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStarted {
    pub event_id: String,
    pub submission_id: SubmissionId,
    pub attempt: u32,
    /// The image digest that actually ran.
    pub image_digest: Option<String>,
    pub node: Option<String>,
    pub at: DateTime<Utc>,
}
event!(RunStarted, "darkroom.run.started.v1", attempt);

impl RunStarted {
    pub fn event_id_for(submission_id: SubmissionId, attempt: u32) -> String {
        format!("run-started-{submission_id}-{attempt}")
    }
}

/// A line (or a capped batch of lines) of the participant's output, only where allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLog {
    pub event_id: String,
    pub submission_id: SubmissionId,
    pub attempt: u32,
    pub lines: Vec<String>,
    pub at: DateTime<Utc>,
}
event!(RunLog, "darkroom.run.log.v1", attempt);

impl RunLog {
    /// `batch` counts an attempt's batches from 1.
    pub fn event_id_for(submission_id: SubmissionId, attempt: u32, batch: u64) -> String {
        format!("run-log-{submission_id}-{attempt}-{batch}")
    }
}

/// The participant's container exited successfully and its output is stored for evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFinished {
    pub event_id: String,
    pub submission_id: SubmissionId,
    pub attempt: u32,
    pub exit_code: i64,
    pub duration_ms: u64,
    pub peak_memory_bytes: Option<u64>,
    /// The output archive's object name in the [`OUTPUT_BUCKET`] object store.
    pub output_artifact: String,
    pub image_digest: Option<String>,
    pub at: DateTime<Utc>,
    /// The runner that ran it (its `runner.runner_id`), for the score's receipt; absent in
    /// events from before receipts.
    #[serde(default)]
    pub runner: Option<String>,
    /// The request this run answered, so the evaluator needs no other source.
    pub job: SubmissionCreated,
}
event!(RunFinished, "darkroom.run.finished.v1", attempt);

impl RunFinished {
    pub fn event_id_for(submission_id: SubmissionId, attempt: u32) -> String {
        format!("run-finished-{submission_id}-{attempt}")
    }
}

/// The JetStream object store holding participants' output archives. An object store rather
/// than a shared folder: runners and evaluators may sit on different Swarm nodes with no common
/// filesystem, and NATS already persists (and can replicate) what it holds; outputs are capped
/// by the challenge's `output_max_mb`, so they fit comfortably.
pub const OUTPUT_BUCKET: &str = "darkroom-outputs";

/// The JetStream key-value bucket where runners record which run attempts they have claimed
/// and finished, so a redelivered request never runs twice.
pub const RUNS_BUCKET: &str = "darkroom-runs";

/// The key in [`RUNS_BUCKET`] that marks a submission cancelled: runners look before starting a
/// container, evaluators before scoring.
pub fn cancel_key(submission_id: SubmissionId) -> String {
    format!("{submission_id}.cancelled")
}

/// A board changed without a new score: the organizer disqualified or reinstated someone, so
/// live pages should read it again. Not an event of the stream (no id, no submission, nothing
/// stored): a core NATS message outside `darkroom.>`, published once by the submissions
/// service; a page that misses it shows the change at its next read of the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardChanged {
    pub challenge: String,
}

impl BoardChanged {
    pub const SUBJECT: &'static str = "live.board.changed.v1";
}

/// The evaluator stored the score; the submission is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecorded {
    pub event_id: String,
    #[serde(default)]
    pub attempt: u32,
    pub submission_id: SubmissionId,
    pub challenge: String,
    pub phase: String,
    pub participant_id: ParticipantId,
    pub metrics: std::collections::BTreeMap<String, f64>,
    pub at: DateTime<Utc>,
}
event!(ScoreRecorded, "darkroom.score.recorded.v1", attempt);

impl ScoreRecorded {
    /// One score per submission, whichever attempt earned it.
    pub fn event_id_for(submission_id: SubmissionId) -> String {
        format!("score-recorded-{submission_id}")
    }
}

/// A run or an evaluation failed, with a reason the participant can read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionFailed {
    pub event_id: String,
    pub submission_id: SubmissionId,
    pub attempt: u32,
    pub kind: FailureKind,
    /// Shown to the participant.
    pub reason: String,
    /// For the organizer only (evaluation errors, platform faults).
    pub detail: Option<String>,
    /// A platform failure that will be retried: the submission goes back to QUEUED.
    pub retrying: bool,
    pub at: DateTime<Utc>,
}
event!(SubmissionFailed, "darkroom.submission.failed.v1", attempt);

/// Who failed a submission: each publishes at most one failure per attempt (per state, for
/// the deadlines), and its id says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedBy {
    /// The runner: the run failed, or the runner handed it back.
    Runner,
    /// The evaluator: the evaluation failed.
    Evaluator,
    /// The submissions service's watchdog: the submission outstayed its deadline in `state`.
    Deadline(SubmissionState),
}

impl SubmissionFailed {
    pub fn event_id_for(submission_id: SubmissionId, attempt: u32, by: FailedBy) -> String {
        match by {
            FailedBy::Runner => format!("run-failed-{submission_id}-{attempt}"),
            FailedBy::Evaluator => format!("eval-failed-{submission_id}-{attempt}"),
            FailedBy::Deadline(state) => format!("deadline-{submission_id}-{attempt}-{}", state.as_str()),
        }
    }
}

/// A state event decoded from any of [`STATE_SUBJECTS`].
#[derive(Debug, Clone, PartialEq)]
pub enum StateEvent {
    Pending(RunPending),
    Started(RunStarted),
    Finished(Box<RunFinished>),
    Scored(ScoreRecorded),
    Failed(SubmissionFailed),
}

/// Why a message could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("no state event is published on subject '{0}'")]
    UnknownSubject(String),
    #[error("payload on '{subject}' is not valid: {source}")]
    Payload { subject: String, source: serde_json::Error },
}

impl Decode for StateEvent {
    fn decode(subject: &str, payload: &[u8]) -> Result<Self, DecodeError> {
        Ok(match subject {
            RunPending::SUBJECT => StateEvent::Pending(Decode::decode(subject, payload)?),
            RunStarted::SUBJECT => StateEvent::Started(Decode::decode(subject, payload)?),
            RunFinished::SUBJECT => StateEvent::Finished(Box::new(Decode::decode(subject, payload)?)),
            ScoreRecorded::SUBJECT => StateEvent::Scored(Decode::decode(subject, payload)?),
            SubmissionFailed::SUBJECT => StateEvent::Failed(Decode::decode(subject, payload)?),
            other => return Err(DecodeError::UnknownSubject(other.into())),
        })
    }

    fn submission(&self) -> (SubmissionId, Option<u32>) {
        let attempt = match self {
            StateEvent::Pending(e) => e.attempt,
            StateEvent::Started(e) => e.attempt,
            StateEvent::Finished(e) => e.attempt,
            StateEvent::Scored(e) => e.attempt,
            StateEvent::Failed(e) => e.attempt,
        };
        (self.submission_id(), Some(attempt))
    }
}

impl StateEvent {
    pub fn submission_id(&self) -> SubmissionId {
        match self {
            StateEvent::Pending(e) => e.submission_id,
            StateEvent::Started(e) => e.submission_id,
            StateEvent::Finished(e) => e.submission_id,
            StateEvent::Scored(e) => e.submission_id,
            StateEvent::Failed(e) => e.submission_id,
        }
    }

    pub fn event_id(&self) -> &str {
        match self {
            StateEvent::Pending(e) => &e.event_id,
            StateEvent::Started(e) => &e.event_id,
            StateEvent::Finished(e) => &e.event_id,
            StateEvent::Scored(e) => &e.event_id,
            StateEvent::Failed(e) => &e.event_id,
        }
    }

    /// The state this event moves the submission to, and the reason to record with it.
    pub fn target(&self) -> (SubmissionState, Option<String>) {
        match self {
            StateEvent::Pending(e) => (SubmissionState::Pending, Some(e.reason.clone())),
            StateEvent::Started(_) => (SubmissionState::Running, None),
            StateEvent::Finished(_) => (SubmissionState::Evaluating, None),
            StateEvent::Scored(_) => (SubmissionState::Complete, None),
            StateEvent::Failed(e) if e.retrying => {
                (SubmissionState::Queued, Some(format!("retrying after a platform failure: {}", e.reason)))
            }
            StateEvent::Failed(e) => (SubmissionState::Failed, Some(e.reason.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_routes_by_subject_and_names_bad_payloads() {
        let id = SubmissionId::from(uuid::Uuid::new_v4());
        let started = RunStarted {
            event_id: "e1".into(),
            submission_id: id,
            attempt: 1,
            image_digest: None,
            node: None,
            at: Utc::now(),
        };
        let bytes = serde_json::to_vec(&started).unwrap();
        let ev = StateEvent::decode(RunStarted::SUBJECT, &bytes).unwrap();
        assert_eq!(ev.target().0, SubmissionState::Running);
        assert_eq!(ev.submission_id(), id);
        assert!(matches!(StateEvent::decode("darkroom.nope.v1", &bytes), Err(DecodeError::UnknownSubject(_))));
        assert!(matches!(StateEvent::decode(RunFinished::SUBJECT, &bytes), Err(DecodeError::Payload { .. })));
    }

    /// Deduplication across restarts and releases compares these strings: they must never
    /// change.
    #[test]
    fn event_ids_keep_their_spelling() {
        let id = SubmissionId::from(uuid::Uuid::parse_str("0190f1a2-0000-7000-8000-00000000000a").unwrap());
        assert_eq!(SubmissionCreated::event_id_for(id, 2), format!("submission-created-{id}-2"));
        assert_eq!(SubmissionCancelled::event_id_for(id), format!("cancelled-{id}"));
        assert_eq!(RunStarted::event_id_for(id, 1), format!("run-started-{id}-1"));
        assert_eq!(RunLog::event_id_for(id, 1, 3), format!("run-log-{id}-1-3"));
        assert_eq!(RunFinished::event_id_for(id, 1), format!("run-finished-{id}-1"));
        assert_eq!(ScoreRecorded::event_id_for(id), format!("score-recorded-{id}"));
        assert_eq!(SubmissionFailed::event_id_for(id, 1, FailedBy::Runner), format!("run-failed-{id}-1"));
        assert_eq!(SubmissionFailed::event_id_for(id, 3, FailedBy::Evaluator), format!("eval-failed-{id}-3"));
        assert_eq!(
            SubmissionFailed::event_id_for(id, 1, FailedBy::Deadline(SubmissionState::Running)),
            format!("deadline-{id}-1-RUNNING")
        );
    }

    #[test]
    fn a_decoded_message_names_its_submission_and_attempt() {
        let id = SubmissionId::from(uuid::Uuid::new_v4());
        let cancelled = SubmissionCancelled { event_id: "c".into(), submission_id: id, at: Utc::now() };
        let bytes = serde_json::to_vec(&cancelled).unwrap();
        let back = <SubmissionCancelled as Decode>::decode(SubmissionCancelled::SUBJECT, &bytes).unwrap();
        assert_eq!(back.submission(), (id, None));
        let failed = SubmissionFailed {
            event_id: "f".into(),
            submission_id: id,
            attempt: 4,
            kind: FailureKind::Platform,
            reason: "r".into(),
            detail: None,
            retrying: true,
            at: Utc::now(),
        };
        let bytes = serde_json::to_vec(&failed).unwrap();
        assert_eq!(StateEvent::decode(SubmissionFailed::SUBJECT, &bytes).unwrap().submission(), (id, Some(4)));
        let garbage = <RunLog as Decode>::decode(RunLog::SUBJECT, b"not json").unwrap_err();
        assert!(garbage.to_string().contains(RunLog::SUBJECT), "{garbage}");
    }

    /// Events published before evaluation contract v2 carry no `scoring` nor metric aggregate:
    /// they decode to the defaults, which score as before.
    #[test]
    fn a_submission_created_before_contract_v2_decodes_to_the_defaults() {
        let old = r#"{"event_id":"e","submission_id":"0190f1a2-0000-7000-8000-00000000000a","attempt":1,
            "challenge":"c","phase":"dev","participant_id":"0190f1a2-0000-7000-8000-00000000000b",
            "image":{"kind":"reference","name":"m:1"},"dataset_host_path":"/d","ground_truth_host_path":"/g",
            "evaluation_image":"e:1","metrics":[{"name":"accuracy","direction":"higher_is_better"}],
            "rank_by":"accuracy","resources":{"cpus":1.0,"memory_mb":64,"gpus":0,"wall_clock_seconds":10,
            "output_max_mb":1,"pids":32},"node_type":"cpu","logs_visible":false,
            "created_at":"2026-01-01T00:00:00Z"}"#;
        let event = <SubmissionCreated as Decode>::decode(SubmissionCreated::SUBJECT, old.as_bytes()).unwrap();
        assert_eq!(event.scoring, Scoring::default());
        assert_eq!(event.metrics[0].aggregate, None);
        assert_eq!((&event.dataset_fingerprint, &event.ground_truth_fingerprint), (&None, &None));
        let mut new = event.clone();
        new.scoring.private_split = true;
        new.dataset_fingerprint = Some(TreeFingerprint { digest: "ab".repeat(32), files: 2, bytes: 10 });
        let back: SubmissionCreated = serde_json::from_slice(&serde_json::to_vec(&new).unwrap()).unwrap();
        assert_eq!(back, new);
    }

    #[test]
    fn every_subject_is_versioned_and_inside_the_stream() {
        for s in STATE_SUBJECTS
            .iter()
            .chain([SubmissionCreated::SUBJECT, SubmissionCancelled::SUBJECT, RunLog::SUBJECT].iter())
        {
            assert!(s.starts_with("darkroom.") && s.ends_with(".v1"), "{s}");
        }
    }
}

/// Request–reply (core NATS, outside the stream's `darkroom.>` so JetStream does not answer it):
/// the submissions service asks an evaluator what image id a name has on its engine, to pin the
/// evaluation image when a challenge is applied. The request body is the image name.
pub const RESOLVE_EVALUATION_IMAGE: &str = "rpc.darkroom.resolve-evaluation-image.v1";
/// The queue group evaluators answer [`RESOLVE_EVALUATION_IMAGE`] in (one answer per request).
pub const RESOLVERS_GROUP: &str = "darkroom-evaluators";

/// An evaluator's answer to [`RESOLVE_EVALUATION_IMAGE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResolvedImage {
    /// The name's image id (`sha256:…`).
    Found { id: String },
    /// No image of that name on the evaluator's engine.
    Missing,
    /// The engine could not be asked.
    Failed { message: String },
}

/// One submission to evaluate again for a rescore of its phase with a new evaluation image
/// (issue 17, see `docs/rescore.md`): published by the submissions service through its outbox
/// when the organizer asks, and by the evaluator for a score recorded in the old generation
/// while (or after) the rescore runs. The evaluator's durable consumer `evaluator-rescore`
/// records it into `generation` with a new receipt, once however often it is delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescoreItem {
    pub event_id: String,
    pub submission_id: SubmissionId,
    pub challenge: String,
    pub phase: String,
    /// The board generation to record into (2 for the first rescore).
    pub generation: u32,
    pub evaluation_image: String,
    /// The id the image was pinned to when the rescore was requested.
    pub evaluation_image_id: String,
    /// The finished run the submission's score was evaluated from (its output is still in the
    /// [`OUTPUT_BUCKET`]).
    pub run: Box<RunFinished>,
}
event!(RescoreItem, "darkroom.rescore.item.v1", |e| Some(e.run.attempt));

impl RescoreItem {
    /// One item per rescore generation and submission.
    pub fn event_id_for(challenge: &str, phase: &str, generation: u32, submission_id: SubmissionId) -> String {
        format!("rescore-{challenge}-{phase}-{generation}-{submission_id}")
    }

    /// The run as the rescore evaluates it: the same output, the new evaluation image.
    pub fn run_with_new_image(&self) -> RunFinished {
        let mut run = (*self.run).clone();
        run.job.evaluation_image = self.evaluation_image.clone();
        run.job.evaluation_image_id = Some(self.evaluation_image_id.clone());
        run
    }
}

#[cfg(test)]
mod rescore_tests {
    use super::*;

    #[test]
    fn a_rescore_item_id_names_its_generation_and_submission() {
        let id = SubmissionId::from(uuid::Uuid::parse_str("0190f1a2-0000-7000-8000-00000000000a").unwrap());
        assert_eq!(RescoreItem::event_id_for("c", "dev", 2, id), format!("rescore-c-dev-2-{id}"));
        assert!(RescoreItem::SUBJECT.starts_with("darkroom.") && RescoreItem::SUBJECT.ends_with(".v1"));
    }
}
