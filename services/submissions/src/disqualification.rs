//! The organizer's disqualification of a participant (multiple accounts, a leaked label, a
//! broken rule), and what it does while it stands:
//!
//! - their submits are refused, saying why ([`check`], part of [`crate::enrollment::admit`]);
//! - their line leaves every board: the public boards, their charts and exports, and the
//!   private board of a phase that closes while it stands ([`Excluded`]);
//! - in a team, the whole team is out: it is one entrant with one quota and one line, so its
//!   other members may not submit either, and its line goes (its best may be anyone's);
//! - their (or their team's) submissions still waiting to run are cancelled: they would only
//!   score for a board that does not show them (one already running finishes and is scored);
//! - open live boards are told to read themselves again ([`hint_live_pages`]).
//!
//! Nothing is deleted: their submissions and scores stay, and reinstating them puts their line
//! back as the scores say. A private board sealed before the disqualification stays as it was
//! sealed: its commitment covers what it held then.
//!
//! Disqualifying and reinstating take the submit lock ([`crate::submit_lock`]), as submits and
//! team changes do, so a submit admitted just before is inserted first and then cancelled with
//! the others; on PostgreSQL that holds across several instances of the service too.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use darkroom_api::{Enrollment, EnrollmentState};
use darkroom_core::domain::DisqualificationReason;
use darkroom_core::events::BoardChanged;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::db::entities::{enrollment, team};
use crate::error::{ApiError, ApiResult};
use crate::leaderboard::BestScore;

/// Whether the organizer disqualified the participant whose enrollment this is.
pub fn is_disqualified(row: &enrollment::Model) -> bool {
    row.disqualified_at.is_some()
}

/// Disqualifies the admitted participant whose enrollment this is, or gives a new reason to a
/// standing disqualification (which keeps its time). One who was never admitted (pending,
/// rejected) cannot submit anyway: refused, naming what to do instead.
pub async fn disqualify(
    db: &impl ConnectionTrait,
    row: enrollment::Model,
    reason: DisqualificationReason,
    now: DateTime<Utc>,
) -> ApiResult<Enrollment> {
    let state = crate::enrollment::view(&row)?.state;
    if state != EnrollmentState::Active {
        return Err(ApiError::conflict(
            "not_admitted",
            format!(
                "participant '{}' is {} in '{}', not admitted: they cannot submit, so there is nothing to disqualify; reject them instead (darkroom enrollment reject)",
                row.participant_id,
                state.as_str(),
                row.challenge
            ),
        ));
    }
    let at = row.disqualified_at.unwrap_or(now);
    let (slug, participant) = (row.challenge.clone(), row.participant_id.clone());
    let mut active: enrollment::ActiveModel = row.into();
    active.disqualified_at = Set(Some(at));
    active.disqualified_reason = Set(Some(reason.into_string()));
    let row = active.update(db).await?;
    tracing::info!(challenge = %slug, participant, "participant disqualified");
    crate::enrollment::view(&row)
}

/// Lifts a disqualification; a participant who has none is left as they are.
pub async fn reinstate(db: &impl ConnectionTrait, row: enrollment::Model) -> ApiResult<Enrollment> {
    if !is_disqualified(&row) {
        return crate::enrollment::view(&row);
    }
    let (slug, participant) = (row.challenge.clone(), row.participant_id.clone());
    let mut active: enrollment::ActiveModel = row.into();
    active.disqualified_at = Set(None);
    active.disqualified_reason = Set(None);
    let row = active.update(db).await?;
    tracing::info!(challenge = %slug, participant, "participant reinstated");
    crate::enrollment::view(&row)
}

/// Tells live pages that `slug`'s boards changed without a score (see
/// [`darkroom_core::events::BoardChanged`]). A hint: when it cannot be sent, pages show the
/// change at their next read, so the organizer's request does not fail for it.
pub async fn hint_live_pages(nats: &async_nats::Client, slug: &str) {
    let hint = BoardChanged { challenge: slug.to_owned() };
    let sent = match serde_json::to_vec(&hint) {
        Ok(payload) => nats.publish(BoardChanged::SUBJECT, payload.into()).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        tracing::warn!(challenge = %slug, error = %e, "live pages not told of the board's change; they show it at their next read");
    }
}

/// Refuses a submit from a disqualified participant, or from a member of a team one of whose
/// members is disqualified. Only the disqualified participant reads the reason.
pub async fn check(db: &impl ConnectionTrait, row: &enrollment::Model) -> ApiResult<()> {
    let slug = &row.challenge;
    if let (Some(at), reason) = (row.disqualified_at, row.disqualified_reason.as_deref()) {
        return Err(ApiError::denied(
            "disqualified",
            format!(
                "the organizer of '{slug}' disqualified you on {}: {}; you cannot submit to it unless they reinstate you",
                at.format("%Y-%m-%d"),
                reason.unwrap_or("no reason given")
            ),
        ));
    }
    let Some(team) = &row.team_id else { return Ok(()) };
    match team_is_out(db, team).await? {
        false => Ok(()),
        true => Err(ApiError::denied(
            "team_disqualified",
            format!(
                "the organizer of '{slug}' disqualified a member of your team, so the team is out of the competition; you cannot submit to it unless they reinstate them"
            ),
        )),
    }
}

/// Refuses to let anyone join or merge into a team that is out: they would be out with it.
pub async fn check_team_open(db: &impl ConnectionTrait, team: &team::Model) -> ApiResult<()> {
    match team_is_out(db, &team.id).await? {
        false => Ok(()),
        true => Err(ApiError::denied(
            "team_disqualified",
            format!(
                "team '{}' is out of the competition (the organizer disqualified a member); whoever joined it would be out too, so join or form another team",
                team.name
            ),
        )),
    }
}

/// Whether a member of the team is disqualified.
pub async fn team_is_out(db: &impl ConnectionTrait, team: &str) -> ApiResult<bool> {
    Ok(enrollment::Entity::find()
        .filter(enrollment::Column::TeamId.eq(team))
        .filter(enrollment::Column::DisqualifiedAt.is_not_null())
        .one(db)
        .await?
        .is_some())
}

/// The participants whose lines no board of a challenge shows: the disqualified, and every
/// member of a team that holds one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Excluded {
    ids: HashSet<String>,
}

impl Excluded {
    /// Who is excluded from `slug`'s boards now: one indexed read of the disqualified, and one
    /// more of their teams' members when any is in a team.
    pub async fn read(db: &impl ConnectionTrait, slug: &str) -> ApiResult<Self> {
        let out = enrollment::Entity::find()
            .filter(enrollment::Column::Challenge.eq(slug))
            .filter(enrollment::Column::DisqualifiedAt.is_not_null())
            .all(db)
            .await?;
        let teams: Vec<String> = out.iter().filter_map(|r| r.team_id.clone()).collect();
        let mut ids: HashSet<String> = out.into_iter().map(|r| r.participant_id).collect();
        if !teams.is_empty() {
            let members = enrollment::Entity::find()
                .filter(enrollment::Column::Challenge.eq(slug))
                .filter(enrollment::Column::TeamId.is_in(teams))
                .all(db)
                .await?;
            ids.extend(members.into_iter().map(|r| r.participant_id));
        }
        Ok(Self { ids })
    }

    /// Whether `participant`'s lines stay off the boards.
    pub fn contains(&self, participant: &str) -> bool {
        self.ids.contains(participant)
    }

    /// How many participants are excluded (a board reads that many lines more, so that it can
    /// still show its limit once theirs are gone).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Drops the excluded participants' lines, keeping the others in their order.
    pub fn retain(&self, best: &mut Vec<BestScore>) {
        if !self.is_empty() {
            best.retain(|b| !self.contains(&b.participant_id));
        }
    }

    /// Changes whenever someone is disqualified or reinstated, or an excluded team's lineup
    /// moves (for the board cache).
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut ids: Vec<&String> = self.ids.iter().collect();
        ids.sort();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        ids.hash(&mut hasher);
        hasher.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(participant: &str) -> BestScore {
        BestScore {
            participant_id: participant.into(),
            submission_id: format!("s-{participant}"),
            metrics: Default::default(),
            submissions: 1,
            submitted_at: Utc::now(),
            scored_at: Utc::now(),
        }
    }

    #[test]
    fn excluded_lines_leave_and_the_rest_keep_their_order() {
        let excluded = Excluded { ids: ["b".to_owned(), "d".to_owned()].into() };
        let mut best: Vec<BestScore> = ["a", "b", "c", "d", "e"].into_iter().map(line).collect();
        excluded.retain(&mut best);
        let left: Vec<&str> = best.iter().map(|b| b.participant_id.as_str()).collect();
        assert_eq!(left, ["a", "c", "e"]);
        assert_ne!(excluded.fingerprint(), Excluded::default().fingerprint());
        assert_eq!(excluded.fingerprint(), Excluded { ids: ["d".to_owned(), "b".to_owned()].into() }.fingerprint());
    }
}
