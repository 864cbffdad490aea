//! The event contracts: JetStream subjects and their payloads.
//!
//! Every subject ends in its payload's version (`.v1`); a breaking change adds a `.v2` subject
//! and its own struct, so old and new services can run side by side during an upgrade. Every
//! payload carries an `event_id`, published as the `Nats-Msg-Id` header, so JetStream drops a
//! republished duplicate and consumers can recognise a redelivered one.

use crate::domain::challenge::{Metric, NodeType, Resources};
use crate::domain::{FailureKind, ImageSource, ParticipantId, SubmissionId, SubmissionState};
use chrono::{DateTime, Utc};
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
pub trait Event: Serialize + DeserializeOwned {
    const SUBJECT: &'static str;
    /// Unique per logical event; the `Nats-Msg-Id` header.
    fn event_id(&self) -> &str;
    fn submission_id(&self) -> SubmissionId;
}

macro_rules! event {
    ($ty:ident, $subject:literal) => {
        impl Event for $ty {
            const SUBJECT: &'static str = $subject;
            fn event_id(&self) -> &str {
                &self.event_id
            }
            fn submission_id(&self) -> SubmissionId {
                self.submission_id
            }
        }
    };
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
    pub evaluation_image: String,
    /// The id `evaluation_image` was pinned to when the challenge was applied (absent in events
    /// from before pinning).
    #[serde(default)]
    pub evaluation_image_id: Option<String>,
    pub metrics: Vec<Metric>,
    pub rank_by: String,
    pub resources: Resources,
    pub node_type: NodeType,
    pub logs_visible: bool,
    pub created_at: DateTime<Utc>,
}
event!(SubmissionCreated, "darkroom.submission.created.v1");

impl SubmissionCreated {
    pub fn event_id_for(submission_id: SubmissionId, attempt: u32) -> String {
        format!("submission-created-{submission_id}-{attempt}")
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

/// A runner holds the submission but waits for capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPending {
    pub event_id: String,
    pub submission_id: SubmissionId,
    pub attempt: u32,
    pub reason: String,
    pub at: DateTime<Utc>,
}
event!(RunPending, "darkroom.run.pending.v1");

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
event!(RunStarted, "darkroom.run.started.v1");

/// A line (or a capped batch of lines) of the participant's output, only where allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLog {
    pub event_id: String,
    pub submission_id: SubmissionId,
    pub attempt: u32,
    pub lines: Vec<String>,
    pub at: DateTime<Utc>,
}
event!(RunLog, "darkroom.run.log.v1");

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
    /// The request this run answered, so the evaluator needs no other source.
    pub job: SubmissionCreated,
}
event!(RunFinished, "darkroom.run.finished.v1");

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
event!(ScoreRecorded, "darkroom.score.recorded.v1");

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
event!(SubmissionFailed, "darkroom.submission.failed.v1");

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

impl StateEvent {
    pub fn decode(subject: &str, payload: &[u8]) -> Result<Self, DecodeError> {
        fn de<T: Event>(subject: &str, payload: &[u8]) -> Result<T, DecodeError> {
            serde_json::from_slice(payload).map_err(|source| DecodeError::Payload { subject: subject.into(), source })
        }
        Ok(match subject {
            RunPending::SUBJECT => StateEvent::Pending(de(subject, payload)?),
            RunStarted::SUBJECT => StateEvent::Started(de(subject, payload)?),
            RunFinished::SUBJECT => StateEvent::Finished(Box::new(de(subject, payload)?)),
            ScoreRecorded::SUBJECT => StateEvent::Scored(de(subject, payload)?),
            SubmissionFailed::SUBJECT => StateEvent::Failed(de(subject, payload)?),
            other => return Err(DecodeError::UnknownSubject(other.into())),
        })
    }

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
