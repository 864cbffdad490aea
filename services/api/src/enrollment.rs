//! Joining a challenge: how a challenge admits participants ([`EnrollmentMode`], a field of the
//! spec), a participant's [`Enrollment`] and the request that makes it, and the organizer's
//! invite codes and approval list.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::ParticipantId;
use crate::submission::ParticipantRef;

/// How participants join a challenge (the spec's `enrollment`). Whatever the mode, a
/// participant joins before submitting and accepts the challenge's rules by joining.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentMode {
    /// Anyone registered may join.
    #[default]
    Open,
    /// Only with an invite code the organizer minted.
    Invite,
    /// Anyone may ask; the organizer approves or rejects.
    Approval,
}

impl EnrollmentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentMode::Open => "open",
            EnrollmentMode::Invite => "invite",
            EnrollmentMode::Approval => "approval",
        }
    }
}

/// Where a participant stands with a challenge they asked to join.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentState {
    /// May submit.
    Active,
    /// Waits for the organizer's decision (approval mode); may not submit yet.
    Pending,
    /// The organizer said no; may not submit.
    Rejected,
}

impl EnrollmentState {
    pub const ALL: [EnrollmentState; 3] =
        [EnrollmentState::Active, EnrollmentState::Pending, EnrollmentState::Rejected];

    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentState::Active => "active",
            EnrollmentState::Pending => "pending",
            EnrollmentState::Rejected => "rejected",
        }
    }

    /// The state stored as [`Self::as_str`] wrote it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// `POST /challenges/{slug}/join`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// Must be `true`: joining is accepting the challenge's rules (its `rules`, or its
    /// description where it has none).
    #[serde(default)]
    pub accept_rules: bool,
    /// The organizer's invite code; required by `invite` challenges, ignored by the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// A participant's enrollment in one challenge, as they see it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrollment {
    pub challenge: String,
    pub state: EnrollmentState,
    /// When they joined (or asked to).
    pub joined_at: DateTime<Utc>,
    /// When the organizer approved or rejected them (approval mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// Present while the organizer has disqualified them: they may not submit, and neither
    /// their line (nor their team's) shows on any board.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disqualified: Option<Disqualification>,
}

impl Enrollment {
    /// Whether the enrollment lets its participant submit: active and not disqualified (their
    /// team may still be out, which the team view says).
    pub fn may_submit(&self) -> bool {
        self.state == EnrollmentState::Active && self.disqualified.is_none()
    }

    /// The state as one word for lists: `disqualified` while a disqualification stands.
    pub fn standing(&self) -> &'static str {
        match self.disqualified {
            Some(_) => "disqualified",
            None => self.state.as_str(),
        }
    }
}

/// Most characters of a disqualification's reason.
pub const MAX_DISQUALIFICATION_REASON_CHARS: usize = 300;

/// Why and when the organizer disqualified a participant. The participant reads it on their
/// enrollment and in the refusal of their submits; it is never shown to others.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disqualification {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// `POST /challenges/{slug}/enrollments/{participant}/disqualify`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisqualifyRequest {
    /// What they did, in one line of at most [`MAX_DISQUALIFICATION_REASON_CHARS`] characters
    /// (e.g. "several accounts: see the rules, section 3"); the participant reads it.
    pub reason: String,
}

/// An enrollment in the organizer's list: who, and with which invite.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizerEnrollment {
    #[serde(flatten)]
    pub enrollment: Enrollment,
    pub participant: ParticipantRef,
    /// The invite the participant joined with (its id, never the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
}

/// `GET /challenges/{slug}/enrollments?state=pending`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentListQuery {
    pub state: Option<EnrollmentState>,
}

/// `POST /challenges/{slug}/enrollments/{participant}/approve`, `/reject`, `/disqualify` or
/// `/reinstate` answers with the participant's enrollment as it is now.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollmentDecision {
    pub participant: ParticipantId,
    #[serde(flatten)]
    pub enrollment: Enrollment,
    /// The submissions a disqualification cancelled: theirs (or their team's) still waiting to
    /// run, which would only score for a board that does not show them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancelled: Vec<crate::ids::SubmissionId>,
}

/// `POST /challenges/{slug}/invites`: mints an invite code.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// How many participants may join with the code; default 1 (single use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<u32>,
    /// After this, the code admits nobody; default: never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// An invite code. The code itself is shown once, when it is minted; it is stored hashed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// Names the invite in lists and enrollments.
    pub id: String,
    /// Only in the answer that minted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub challenge: String,
    pub uses: u32,
    pub used: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_the_wire_format() {
        assert_eq!(serde_json::to_value(EnrollmentMode::Approval).unwrap(), "approval");
        for state in EnrollmentState::ALL {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
            assert_eq!(EnrollmentState::parse(state.as_str()), Some(state));
        }
        let join: JoinRequest = serde_json::from_str(r#"{"accept_rules": true, "code": "x"}"#).unwrap();
        assert_eq!(join, JoinRequest { accept_rules: true, code: Some("x".into()) });
        assert!(serde_json::from_str::<JoinRequest>(r#"{"accept": true}"#).is_err(), "a typo is named");
    }
}
