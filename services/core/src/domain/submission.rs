//! A submission's life: what it runs and who a failure is attributed to.
//!
//! Its states and their transitions ([`SubmissionState`]) are shown by the API, so they are
//! defined once, in `darkroom_api`, and re-exported here.

use serde::{Deserialize, Serialize};

pub use darkroom_api::{SubmissionState, TransitionError, UnknownState};

/// A participant's own words about a submission ("resnet50, lr 1e-3"), so a list of twenty
/// images reads as twenty experiments: at most [`SubmissionNote::MAX_CHARS`] characters on one
/// line, trimmed, nothing invisible (the rule names follow, so it cannot reorder or hide the
/// text around it in the organizer's list). Shown to its owner and the organizer, never on a
/// board. An empty one clears the note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionNote(String);

impl SubmissionNote {
    pub const MAX_CHARS: usize = darkroom_api::MAX_NOTE_CHARS;

    /// `None` for a note that is empty once trimmed.
    pub fn parse(field: &str, s: &str) -> Result<Option<Self>, super::FieldError> {
        let s = super::text::one_line(field, s, Self::MAX_CHARS, "the note")?;
        Ok((!s.is_empty()).then(|| Self(s.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
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

#[cfg(test)]
mod note_tests {
    use super::SubmissionNote;

    #[test]
    fn a_note_is_one_trimmed_line_of_at_most_200_characters() {
        let note = SubmissionNote::parse("note", "  resnet50, lr 1e-3 <b>  ").unwrap().unwrap();
        assert_eq!(note.as_str(), "resnet50, lr 1e-3 <b>", "markup is text: pages escape it");
        assert_eq!(SubmissionNote::parse("note", "   ").unwrap(), None, "blank clears");
        assert!(SubmissionNote::parse("note", &"é".repeat(200)).unwrap().is_some(), "counted in characters");
        let long = SubmissionNote::parse("note", &"x".repeat(201)).unwrap_err();
        assert_eq!((long.field.as_str(), long.problem.as_str()), ("note", "is 201 characters long"));
        for (bad, code) in
            [("two\nlines", "U+000A"), ("tab\there", "U+0009"), ("Ada\u{202E}evil", "U+202E"), ("a\u{200B}b", "U+200B")]
        {
            let e = SubmissionNote::parse("note", bad).unwrap_err();
            assert!(e.problem.contains(code), "{bad:?}: {e:?}");
        }
    }
}
