//! A submission's life: what it runs and who a failure is attributed to.
//!
//! Its states and their transitions ([`SubmissionState`]) are shown by the API, so they are
//! defined once, in `darkroom_api`, and re-exported here.

use serde::{Deserialize, Serialize};

pub use darkroom_api::{SubmissionState, TransitionError, UnknownState};

/// Who a failure is attributed to. Platform failures are retried and never count against a
/// participant's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Participant,
    Evaluation,
    Platform,
}

impl FailureKind {
    /// As spelled on the wire (`participant`, `evaluation`, `platform`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Participant => "participant",
            FailureKind::Evaluation => "evaluation",
            FailureKind::Platform => "platform",
        }
    }
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
    fn old_reference_events_read_as_unpinned() {
        let old: ImageSource = serde_json::from_str(r#"{"kind":"reference","name":"m:1"}"#).unwrap();
        assert_eq!(old, ImageSource::Reference { name: "m:1".into(), digest: None, requested: None });
    }
}
