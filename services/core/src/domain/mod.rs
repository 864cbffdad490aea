//! The domain model shared by the services. The value types the API shows (metrics, phases,
//! quotas, resources, states, ids) are `darkroom_api`'s, re-exported here so that the services
//! name one type wherever they reach it from.

pub mod announcement;
pub mod bootstrap;
pub mod canonical;
pub mod cases;
pub mod challenge;
pub mod commitment;
pub mod disqualification;
pub mod image;
pub mod ladder;
pub mod participant;
pub mod receipt;
pub mod rerun;
pub mod rounding;
pub mod score;
pub mod submission;
mod text;

pub use announcement::AnnouncementText;
pub use cases::{Case, Cases, CasesError, Split};
pub use challenge::{
    Aggregate, ChallengeSpec, Direction, Feedback, FieldError, Metric, NodeType, Phase, PhaseWindow, Quotas, Resources,
    Reveal, SpecError,
};
pub use darkroom_api::{ParticipantId, SubmissionId};
pub use disqualification::DisqualificationReason;
pub use participant::{Participant, ParticipantName};
pub use score::{EvaluationOutput, OutputError, Score, ScoreError, Scoring, SplitScore};
pub use submission::{FailureKind, ImageSource, SubmissionNote, SubmissionState, TransitionError, UnknownState};
