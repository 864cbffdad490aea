//! What the pages show, as the submissions API returns it.
//!
//! These are the API's JSON shapes seen from a client (the browser needs them too, and the
//! services' own crates don't build for wasm). Extra fields in the API's answers are ignored,
//! so the API can grow without breaking the pages.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeStatus {
    Open,
    Upcoming,
    Closed,
}

impl ChallengeStatus {
    pub fn label(self) -> &'static str {
        match self {
            ChallengeStatus::Open => "open",
            ChallengeStatus::Upcoming => "upcoming",
            ChallengeStatus::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeSummary {
    pub slug: String,
    pub title: String,
    pub status: ChallengeStatus,
    pub current_phase: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

impl Direction {
    pub fn label(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher is better",
            Direction::LowerIsBetter => "lower is better",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub direction: Direction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quotas {
    pub per_day: Option<u32>,
    pub total: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub cpus: f64,
    pub memory_mb: u64,
    #[serde(default)]
    pub gpus: u32,
    pub wall_clock_seconds: u64,
    pub output_max_mb: u64,
    #[serde(default)]
    pub pids: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub status: ChallengeStatus,
    pub dataset_description: String,
    pub metrics: Vec<Metric>,
    pub rank_by: String,
    pub phases: Vec<Phase>,
    pub quotas: Quotas,
    pub resources: Resources,
    pub node_type: String,
    pub logs_visible: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetFile {
    pub path: String,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetListing {
    pub files: Vec<DatasetFile>,
    pub file_count: u64,
    pub total_bytes: u64,
    pub truncated: bool,
}

/// A challenge page's data, fetched in one round trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengePage {
    pub challenge: Challenge,
    /// None when the dataset cannot be listed right now; the page says so.
    pub dataset: Option<DatasetListing>,
    /// The server's clock when the page was made, so countdowns agree before the browser ticks.
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardEntry {
    pub rank: u32,
    pub participant: String,
    pub team: Option<String>,
    pub submission_id: String,
    pub metrics: BTreeMap<String, f64>,
    pub submissions: u32,
    pub submitted_at: DateTime<Utc>,
    pub scored_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    pub challenge: String,
    pub phase: String,
    pub rank_by: String,
    pub direction: Direction,
    pub entries: Vec<LeaderboardEntry>,
}

/// A leaderboard page: the board plus what the page needs around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardPage {
    pub title: String,
    pub metrics: Vec<Metric>,
    pub phases: Vec<String>,
    pub board: Leaderboard,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageView {
    Reference { name: String },
    Tarball { sha256: String, size_bytes: u64 },
    Unknown,
}

impl ImageView {
    pub fn label(&self) -> String {
        match self {
            ImageView::Reference { name } => name.clone(),
            ImageView::Tarball { sha256, .. } => format!("upload sha256:{}", &sha256[..sha256.len().min(12)]),
            ImageView::Unknown => "(unknown)".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub from: Option<String>,
    pub to: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantRef {
    pub id: String,
    pub name: String,
    pub team: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub id: String,
    pub challenge: String,
    pub phase: String,
    pub state: String,
    pub failure_reason: Option<String>,
    pub image: ImageView,
    pub attempt: i32,
    pub counts_against_quota: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub history: Option<Vec<Transition>>,
    /// Present in the organizer's listing only.
    #[serde(default)]
    pub participant: Option<ParticipantRef>,
    /// Organizer-only detail of a failure (evaluation errors, platform faults).
    #[serde(default)]
    pub failure_detail: Option<String>,
}

impl Submission {
    pub fn is_finished(&self) -> bool {
        matches!(self.state.as_str(), "COMPLETE" | "FAILED" | "CANCELLED")
    }

    pub fn is_cancellable(&self) -> bool {
        matches!(self.state.as_str(), "QUEUED" | "PENDING")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLogs {
    pub logs_visible: bool,
    pub lines: Vec<LogLine>,
    pub truncated: bool,
}

/// One submission with what its owner (or the organizer) may see of its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionPage {
    pub submission: Submission,
    /// None where the organizer keeps logs private.
    pub logs: Option<RunLogs>,
    pub organizer: bool,
}

/// Who the signed-in token belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Viewer {
    Participant { name: String, team: Option<String> },
    Organizer,
}

/// A participant's own page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MyPage {
    pub name: String,
    pub team: Option<String>,
    pub submissions: Vec<Submission>,
}

/// The live feed's message: a score was recorded for this challenge and phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreUpdate {
    pub challenge: String,
    pub phase: String,
    pub submission_id: String,
}

/// The organizer's view of one challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizerPage {
    pub slug: String,
    pub title: String,
    pub submissions: Vec<Submission>,
}
