//! The API's shapes (`darkroom_api`) made from what this service stores: challenge specs and
//! database rows. Public views never carry host paths or the evaluation image; only the
//! organizer's views carry whose a submission is and its failure detail. Text columns become
//! typed ids and states here, and one that does not read is an error, never a default.

use chrono::{DateTime, Utc};
use darkroom_api::{
    ChallengeStatus, ChallengeSummary, ImageView, OrganizerSubmissionView, ParticipantRef, Profile, PublicChallenge,
    RunUsage, SubmissionView, TransitionView,
};
use darkroom_core::domain::ImageSource;
use darkroom_core::domain::challenge::{ChallengeSpec, PhaseWindow};
use sea_orm::DbErr;

use crate::db::entities::{participant, submission, transition};
use crate::db::parse_column;

pub fn status_of(spec: &ChallengeSpec, now: DateTime<Utc>) -> ChallengeStatus {
    match spec.phase_window(now) {
        Some(PhaseWindow::Open(_)) => ChallengeStatus::Open,
        Some(PhaseWindow::NotYetOpen(_) | PhaseWindow::Between { .. }) => ChallengeStatus::Upcoming,
        Some(PhaseWindow::Closed { .. }) | None => ChallengeStatus::Closed,
    }
}

/// A line of the challenge list.
pub fn summary(spec: ChallengeSpec, now: DateTime<Utc>) -> ChallengeSummary {
    ChallengeSummary {
        status: status_of(&spec, now),
        current_phase: spec.current_or_last_phase(now).map(|p| p.name.clone()),
        slug: spec.slug,
        title: spec.title,
    }
}

/// What anyone may read of a challenge.
pub fn public_challenge(spec: ChallengeSpec, now: DateTime<Utc>) -> PublicChallenge {
    PublicChallenge {
        status: status_of(&spec, now),
        slug: spec.slug,
        title: spec.title,
        description: spec.description,
        dataset_description: spec.dataset.description,
        dataset_fingerprint: spec.dataset.fingerprint,
        metrics: spec.metrics,
        rank_by: spec.rank_by,
        phases: spec.phases,
        quotas: spec.quotas,
        resources: spec.resources,
        node_type: spec.node_type,
        logs_visible: spec.logs_visible,
        enrollment: spec.enrollment,
        rules: spec.rules,
        max_team_size: spec.max_team_size,
        merge_deadline: spec.merge_deadline,
        // Not in the spec: the handler adds it from the announcements.
        latest_announcement: None,
    }
}

/// A stored submission as its owner sees it, with its history when given.
pub fn submission_view(
    row: submission::Model,
    history: Option<Vec<transition::Model>>,
) -> Result<SubmissionView, DbErr> {
    let image = match serde_json::from_str::<ImageSource>(&row.image) {
        Ok(ImageSource::Reference { name, requested, .. }) => ImageView::Reference { name, requested },
        Ok(ImageSource::Tarball { sha256, size_bytes, .. }) => ImageView::Tarball { sha256, size_bytes },
        Err(_) => ImageView::Unknown,
    };
    let history = match history {
        Some(lines) => Some(lines.into_iter().map(transition_view).collect::<Result<Vec<_>, _>>()?),
        None => None,
    };
    Ok(SubmissionView {
        id: row.submission_id()?,
        state: row.current_state()?,
        challenge: row.challenge,
        phase: row.phase,
        failure_reason: row.failure_reason,
        image,
        image_digest: row.image_digest,
        attempt: row.attempt,
        counts_against_quota: row.counts_against_quota,
        created_at: row.created_at,
        updated_at: row.updated_at,
        note: row.note,
        history,
        score: None,
        run: row.run_duration_ms.map(|ms| RunUsage {
            duration_ms: u64::try_from(ms).unwrap_or(0),
            peak_memory_bytes: row.peak_memory_bytes.and_then(|b| u64::try_from(b).ok()),
        }),
    })
}

fn transition_view(t: transition::Model) -> Result<TransitionView, DbErr> {
    Ok(TransitionView {
        from: t.from_state.as_deref().map(|s| parse_column("submission_transitions.from_state", s)).transpose()?,
        to: parse_column("submission_transitions.to_state", &t.to_state)?,
        reason: t.reason,
        at: t.at,
    })
}

/// A stored submission as the organizer sees it; `owner` is its participant, when found.
pub fn organizer_view(
    row: submission::Model,
    history: Option<Vec<transition::Model>>,
    owner: Option<&participant::Model>,
) -> Result<OrganizerSubmissionView, DbErr> {
    let participant = participant_ref(owner, row.owner_id()?)?;
    let failure_detail = row.failure_detail.clone();
    Ok(OrganizerSubmissionView { submission: submission_view(row, history)?, participant, failure_detail })
}

/// Whose something is, in the organizer's views; `id` stands when the record is gone.
pub fn participant_ref(
    owner: Option<&participant::Model>,
    id: darkroom_api::ParticipantId,
) -> Result<ParticipantRef, DbErr> {
    Ok(match owner {
        Some(p) => ParticipantRef { id: p.participant_id()?, name: p.name.clone(), team: p.team.clone() },
        None => ParticipantRef { id, name: "(unknown)".into(), team: None },
    })
}

/// A participant as they see themselves (`/me`).
pub fn profile(p: participant::Model) -> Result<Profile, DbErr> {
    Ok(Profile { id: p.participant_id()?, name: p.name, team: p.team, created_at: p.created_at })
}

/// The view as its participant may see it where `logs_visible` is false: every time, and the
/// run's duration, cut to the whole second, and no peak memory. Where a challenge hides logs,
/// nothing the program chooses may leave but its score, and a run time finer than that, or a
/// memory figure the program sets, could carry information out of the hidden data.
pub fn for_participant(mut view: SubmissionView, logs_visible: bool) -> SubmissionView {
    if logs_visible {
        return view;
    }
    view.created_at = whole_second(view.created_at);
    view.updated_at = whole_second(view.updated_at);
    for t in view.history.iter_mut().flatten() {
        t.at = whole_second(t.at);
    }
    if let Some(run) = &mut view.run {
        run.duration_ms -= run.duration_ms % 1000;
        run.peak_memory_bytes = None;
    }
    view
}

/// `t` cut to the whole second (one rule with the receipts').
pub use darkroom_core::domain::receipt::whole_second;

#[cfg(test)]
mod tests {
    use darkroom_api::SubmissionState;

    use super::*;

    #[test]
    fn hidden_logs_cut_every_time_to_the_second() {
        let at = DateTime::parse_from_rfc3339("2028-01-02T03:04:05.678901Z").unwrap().with_timezone(&Utc);
        let view = || SubmissionView {
            id: uuid::Uuid::nil().into(),
            challenge: "c".into(),
            phase: "p".into(),
            state: SubmissionState::Failed,
            failure_reason: None,
            image: ImageView::Unknown,
            image_digest: None,
            attempt: 1,
            counts_against_quota: true,
            created_at: at,
            updated_at: at,
            note: None,
            history: Some(vec![TransitionView { from: None, to: SubmissionState::Running, reason: None, at }]),
            score: None,
            run: Some(RunUsage { duration_ms: 12_345, peak_memory_bytes: Some(150 << 20) }),
        };
        let hidden = for_participant(view(), false);
        let whole = DateTime::parse_from_rfc3339("2028-01-02T03:04:05Z").unwrap().with_timezone(&Utc);
        assert_eq!((hidden.created_at, hidden.updated_at), (whole, whole));
        assert_eq!(hidden.history.unwrap()[0].at, whole);
        assert_eq!(hidden.run, Some(RunUsage { duration_ms: 12_000, peak_memory_bytes: None }));
        let shown = for_participant(view(), true);
        assert_eq!(shown.created_at, at, "shown logs keep full precision");
        assert_eq!(shown.run, view().run);
    }
}
