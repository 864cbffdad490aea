//! A run's log lines (`GET /submissions/{id}/logs`): the owner's where the challenge shows
//! logs, always the organizer's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::SubmissionId;

/// The last lines of a submission's runs (every attempt), oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLogView {
    pub submission_id: SubmissionId,
    pub logs_visible: bool,
    pub lines: Vec<LogLine>,
    /// True when older lines were left out.
    pub truncated: bool,
}

/// One line of a run's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub attempt: u32,
    /// When the runner published the batch the line came in.
    pub at: DateTime<Utc>,
    pub line: String,
}
