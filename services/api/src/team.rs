//! Teams within a challenge (where its `max_team_size` is above 1): the team as its members see
//! it, the requests that create, join, leave and merge teams, and the organizer's flag for
//! images two teams both submitted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ParticipantId, SubmissionId};

/// `POST /challenges/{slug}/teams`: the caller creates a team and becomes its captain.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    pub name: String,
}

/// `POST /challenges/{slug}/teams/join` (the caller joins the team whose code this is) and
/// `POST /challenges/{slug}/team/merge` (the caller's team, by its captain, merges into it).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamCode {
    pub code: String,
}

/// One member of a team.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    pub id: ParticipantId,
    pub name: String,
    pub captain: bool,
}

/// A team as its members see it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub id: String,
    pub challenge: String,
    pub name: String,
    pub members: Vec<TeamMember>,
    /// The challenge's `max_team_size`.
    pub max_size: u32,
    /// Whether a member has submitted to the challenge: from then on nobody may leave or be
    /// removed.
    pub has_submitted: bool,
    /// Whether the organizer disqualified a member: the team is then out of the competition
    /// (no submits, no line on any board) until they reinstate them.
    #[serde(default)]
    pub disqualified: bool,
    /// The code that lets others join (or merge into) the team: only in the answers that
    /// create the team or renew its code (the captain's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `GET /challenges/{slug}/duplicate-images` (organizer): one image digest submitted by more
/// than one team (or participant outside teams) — a likely multi-account.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateImage {
    pub digest: String,
    pub entrants: Vec<DuplicateEntrant>,
}

/// Who submitted a [`DuplicateImage`]: a team, or a participant in none.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateEntrant {
    /// The team's name, or the participant's where they are in no team.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    pub submissions: Vec<SubmissionId>,
}
