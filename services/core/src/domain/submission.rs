//! A submission's life: what it runs and the states it may move through.
//!
//! ```text
//! QUEUED ──▶ PENDING ──▶ RUNNING ──▶ EVALUATING ──▶ COMPLETE
//!   │  ▲        │  │        │  │          │  │
//!   │  └────────┘  │        │  │          │  └──▶ FAILED
//!   │  (retry after a      │  └──▶ FAILED  └─────▶ QUEUED (platform retry)
//!   │   platform failure)  └─────▶ QUEUED (platform retry)
//!   └──▶ RUNNING, FAILED, CANCELLED;  PENDING ──▶ QUEUED, FAILED, CANCELLED
//! ```
//! COMPLETE, FAILED and CANCELLED are terminal.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubmissionState {
    /// Accepted and waiting for a runner.
    Queued,
    /// Taken by a runner but waiting for capacity (a node of the right type, free slots).
    Pending,
    Running,
    Evaluating,
    Complete,
    Failed,
    Cancelled,
}

use SubmissionState::*;

impl SubmissionState {
    pub const ALL: [SubmissionState; 7] = [Queued, Pending, Running, Evaluating, Complete, Failed, Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Queued => "QUEUED",
            Pending => "PENDING",
            Running => "RUNNING",
            Evaluating => "EVALUATING",
            Complete => "COMPLETE",
            Failed => "FAILED",
            Cancelled => "CANCELLED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Complete | Failed | Cancelled)
    }

    /// Whether the state machine allows `self → to`.
    pub fn can_become(self, to: SubmissionState) -> bool {
        matches!(
            (self, to),
            (Queued, Pending | Running | Failed | Cancelled)
                | (Pending, Queued | Running | Failed | Cancelled)
                | (Running, Evaluating | Failed | Queued)
                | (Evaluating, Complete | Failed | Queued)
        )
    }

    /// The checked transition.
    pub fn transition(self, to: SubmissionState) -> Result<SubmissionState, TransitionError> {
        if self.can_become(to) { Ok(to) } else { Err(TransitionError { from: self, to }) }
    }

    /// How far along the happy path a state is; used to recognise stale, redelivered events.
    pub fn progress(self) -> u8 {
        match self {
            Queued => 0,
            Pending => 1,
            Running => 2,
            Evaluating => 3,
            Complete | Failed | Cancelled => 4,
        }
    }
}

impl fmt::Display for SubmissionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SubmissionState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// A state name that is none of [`SubmissionState::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state '{0}'; expected one of QUEUED, PENDING, RUNNING, EVALUATING, COMPLETE, FAILED, CANCELLED")]
pub struct UnknownState(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a submission cannot go from {from} to {to}")]
pub struct TransitionError {
    pub from: SubmissionState,
    pub to: SubmissionState,
}

/// Who a failure is attributed to. Platform failures are retried and never count against a
/// participant's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Participant,
    Evaluation,
    Platform,
}

/// What a submission asks to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageSource {
    /// An image in a registry, pinned at submit time: `name` is `registry/repository@sha256:…`,
    /// the one image the runner pulls and runs, whatever the tag points at later.
    Reference {
        name: String,
        /// The manifest digest `name` is pinned to. Events written before pinning lack it, and
        /// the runner refuses to run those: an unpinned name could be anything on the engine.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digest: Option<String>,
        /// The name as the participant wrote it (`registry/repo:tag`), for them to recognise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        requested: Option<String>,
    },
    /// An uploaded `docker save` tarball, stored content-addressed.
    Tarball { path: String, sha256: String, size_bytes: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_go_nowhere() {
        for from in [Complete, Failed, Cancelled] {
            for to in SubmissionState::ALL {
                assert!(!from.can_become(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn happy_path_and_failures() {
        let mut s = Queued;
        for to in [Pending, Running, Evaluating, Complete] {
            s = s.transition(to).unwrap();
        }
        for from in [Queued, Pending, Running, Evaluating] {
            assert!(from.can_become(Failed));
        }
        assert!(Running.transition(Cancelled).is_err(), "only queued work may be cancelled");
        assert!(Queued.transition(Complete).is_err());
        assert!(Evaluating.transition(Running).is_err());
    }

    #[test]
    fn old_reference_events_read_as_unpinned() {
        let old: ImageSource = serde_json::from_str(r#"{"kind":"reference","name":"m:1"}"#).unwrap();
        assert_eq!(old, ImageSource::Reference { name: "m:1".into(), digest: None, requested: None });
    }

    #[test]
    fn parse_round_trips() {
        for s in SubmissionState::ALL {
            assert_eq!(s.as_str().parse::<SubmissionState>(), Ok(s));
        }
        assert!("DONE".parse::<SubmissionState>().is_err());
    }
}
