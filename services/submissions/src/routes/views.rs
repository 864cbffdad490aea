//! What the API shows. Public views never carry host paths or the evaluation image; only the
//! organizer's views carry whose a submission is and its failure detail.

use chrono::{DateTime, Timelike, Utc};
use darkroom_core::domain::challenge::{ChallengeSpec, Metric, NodeType, PhaseWindow, Quotas, Resources};
use darkroom_core::domain::{ImageSource, Phase};
use serde::{Deserialize, Serialize};

use crate::db::entities::{participant, submission, transition};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeStatus {
    Open,
    Upcoming,
    Closed,
}

pub fn status_of(spec: &ChallengeSpec, now: DateTime<Utc>) -> ChallengeStatus {
    match spec.phase_window(now) {
        Some(PhaseWindow::Open(_)) => ChallengeStatus::Open,
        Some(PhaseWindow::NotYetOpen(_) | PhaseWindow::Between { .. }) => ChallengeStatus::Upcoming,
        Some(PhaseWindow::Closed { .. }) | None => ChallengeStatus::Closed,
    }
}

#[derive(Serialize)]
pub struct ChallengeSummary {
    pub slug: String,
    pub title: String,
    pub status: ChallengeStatus,
    pub current_phase: Option<String>,
}

#[derive(Serialize)]
pub struct PublicChallenge {
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
    pub node_type: NodeType,
    pub logs_visible: bool,
}

impl PublicChallenge {
    pub fn new(spec: ChallengeSpec, now: DateTime<Utc>) -> Self {
        Self {
            status: status_of(&spec, now),
            slug: spec.slug,
            title: spec.title,
            description: spec.description,
            dataset_description: spec.dataset.description,
            metrics: spec.metrics,
            rank_by: spec.rank_by,
            phases: spec.phases,
            quotas: spec.quotas,
            resources: spec.resources,
            node_type: spec.node_type,
            logs_visible: spec.logs_visible,
        }
    }
}

#[derive(Serialize)]
pub struct SubmissionView {
    pub id: String,
    pub challenge: String,
    pub phase: String,
    pub state: String,
    pub failure_reason: Option<String>,
    pub image: ImageView,
    pub image_digest: Option<String>,
    pub attempt: i32,
    pub counts_against_quota: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<TransitionView>>,
}

/// The image as the participant gave it; the server-side tarball path stays private.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageView {
    /// `name` is the pinned `registry/repository@sha256:…` that runs; `requested` is what was
    /// submitted.
    Reference {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        requested: Option<String>,
    },
    Tarball {
        sha256: String,
        size_bytes: u64,
    },
    Unknown,
}

#[derive(Serialize)]
pub struct TransitionView {
    pub from: Option<String>,
    pub to: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl SubmissionView {
    pub fn new(row: submission::Model, history: Option<Vec<transition::Model>>) -> Self {
        let image = match serde_json::from_str::<ImageSource>(&row.image) {
            Ok(ImageSource::Reference { name, requested, .. }) => ImageView::Reference { name, requested },
            Ok(ImageSource::Tarball { sha256, size_bytes, .. }) => ImageView::Tarball { sha256, size_bytes },
            Err(_) => ImageView::Unknown,
        };
        Self {
            id: row.id,
            challenge: row.challenge,
            phase: row.phase,
            state: row.state,
            failure_reason: row.failure_reason,
            image,
            image_digest: row.image_digest,
            attempt: row.attempt,
            counts_against_quota: row.counts_against_quota,
            created_at: row.created_at,
            updated_at: row.updated_at,
            history: history.map(|h| {
                h.into_iter()
                    .map(|t| TransitionView { from: t.from_state, to: t.to_state, reason: t.reason, at: t.at })
                    .collect()
            }),
        }
    }
}

impl SubmissionView {
    /// The view with every time cut to the whole second: where a challenge hides logs, run
    /// times finer than that could carry information out of the hidden data.
    pub fn rounded_to_seconds(mut self) -> Self {
        let cut = whole_second;
        self.created_at = cut(self.created_at);
        self.updated_at = cut(self.updated_at);
        for t in self.history.iter_mut().flatten() {
            t.at = cut(t.at);
        }
        self
    }

    /// [`Self::rounded_to_seconds`] when `logs_visible` is false.
    pub fn for_participant(self, logs_visible: bool) -> Self {
        if logs_visible { self } else { self.rounded_to_seconds() }
    }
}

/// `t` cut to the whole second: the precision participants and viewers get where a challenge
/// hides logs.
pub fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}

/// A submission as the organizer sees it: the participant's view, plus whose it is and the
/// failure detail participants never see.
#[derive(Serialize)]
pub struct OrganizerSubmissionView {
    #[serde(flatten)]
    pub submission: SubmissionView,
    pub participant: ParticipantRef,
    pub failure_detail: Option<String>,
}

#[derive(Serialize)]
pub struct ParticipantRef {
    pub id: String,
    pub name: String,
    pub team: Option<String>,
}

impl OrganizerSubmissionView {
    /// `owner` is the submission's participant, when found.
    pub fn new(
        row: submission::Model,
        history: Option<Vec<transition::Model>>,
        owner: Option<&participant::Model>,
    ) -> Self {
        let participant = match owner {
            Some(p) => ParticipantRef { id: p.id.clone(), name: p.name.clone(), team: p.team.clone() },
            None => ParticipantRef { id: row.participant_id.clone(), name: "(unknown)".into(), team: None },
        };
        let failure_detail = row.failure_detail.clone();
        Self { submission: SubmissionView::new(row, history), participant, failure_detail }
    }
}

/// A submission as its viewer may see it.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ViewedSubmission {
    Participant(SubmissionView),
    Organizer(OrganizerSubmissionView),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_logs_cut_every_time_to_the_second() {
        let at = DateTime::parse_from_rfc3339("2028-01-02T03:04:05.678901Z").unwrap().with_timezone(&Utc);
        let view = || SubmissionView {
            id: "s".into(),
            challenge: "c".into(),
            phase: "p".into(),
            state: "FAILED".into(),
            failure_reason: None,
            image: ImageView::Unknown,
            image_digest: None,
            attempt: 1,
            counts_against_quota: true,
            created_at: at,
            updated_at: at,
            history: Some(vec![TransitionView { from: None, to: "RUNNING".into(), reason: None, at }]),
        };
        let hidden = view().for_participant(false);
        let whole = DateTime::parse_from_rfc3339("2028-01-02T03:04:05Z").unwrap().with_timezone(&Utc);
        assert_eq!((hidden.created_at, hidden.updated_at), (whole, whole));
        assert_eq!(hidden.history.unwrap()[0].at, whole);
        assert_eq!(view().for_participant(true).created_at, at, "shown logs keep full precision");
    }
}
