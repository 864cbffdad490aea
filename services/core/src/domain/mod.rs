//! The domain model shared by the services.

pub mod challenge;
pub mod image;
pub mod participant;
pub mod score;
pub mod submission;

pub use challenge::{
    ChallengeSpec, Direction, FieldError, Metric, NodeType, Phase, PhaseWindow, Quotas, Resources, SpecError,
};
pub use participant::{Participant, ParticipantName};
pub use score::{Score, ScoreError};
pub use submission::{FailureKind, ImageSource, SubmissionState, TransitionError, UnknownState};
