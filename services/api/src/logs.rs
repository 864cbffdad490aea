//! A run's log lines (`GET /submissions/{id}/logs[?after=CURSOR]`): the owner's where the
//! challenge shows logs, always the organizer's. Without `after`, the last lines; with it, the
//! lines stored since that answer's `cursor`, oldest first (how `darkroom logs --follow` reads a
//! run while it goes on).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::SubmissionId;

/// The last lines of a submission's runs (every attempt), oldest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLogView {
    pub submission_id: SubmissionId,
    pub logs_visible: bool,
    pub lines: Vec<LogLine>,
    /// True when older lines were left out.
    pub truncated: bool,
    /// Where this answer ends: ask again with `?after=` it for the lines stored since (0 when
    /// there are none yet).
    #[serde(default)]
    pub cursor: i64,
}

/// `?after=`: the `cursor` of an earlier answer.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

/// One line of a run's output.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub attempt: u32,
    /// When the runner published the batch the line came in.
    pub at: DateTime<Utc>,
    pub line: String,
}
