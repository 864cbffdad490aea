//! Teams within a challenge whose `max_team_size` is above 1. A participant is in at most one
//! team per challenge (their enrollment's `team_id`); the team is who submits: quotas count the
//! submissions of all its members.
//!
//! Joining a team is merging a team of one into it, so one rule decides both ([`check_merge`]):
//! before the challenge's `merge_deadline`, never past `max_team_size`, and only when the merged
//! team's submissions in the open phase are at most `per_day` × the days since it opened
//! (Kaggle's rule: a merge must not hand a team more probes than it could have made). Leaving or
//! removing a member is allowed only before the team's first submission, so nobody carries a
//! fresh quota from team to team.
//!
//! Team changes take the submit lock ([`crate::submit_lock`]), as submits do: a member cannot
//! leave between a submit's quota check and its insert.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use darkroom_api::{Team, TeamMember};
use darkroom_core::domain::{ChallengeSpec, ParticipantName};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionTrait,
};

use crate::auth::{hash_token, new_secret};
use crate::db::entities::{enrollment, participant, submission, team};
use crate::error::{ApiError, ApiResult};
use crate::leaderboard::BestScore;
use crate::state::AppState;

/// The participant's team in the challenge, if any.
pub async fn team_of(db: &impl ConnectionTrait, slug: &str, participant: &str) -> ApiResult<Option<team::Model>> {
    let Some(row) = crate::enrollment::find(db, slug, participant).await? else { return Ok(None) };
    let Some(id) = row.team_id else { return Ok(None) };
    Ok(team::Entity::find_by_id(id).one(db).await?)
}

/// The members' participant ids, oldest enrollment first.
pub async fn member_ids(db: &impl ConnectionTrait, team_id: &str) -> ApiResult<Vec<String>> {
    use sea_orm::QueryOrder;
    Ok(enrollment::Entity::find()
        .filter(enrollment::Column::TeamId.eq(team_id))
        .order_by_asc(enrollment::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|e| e.participant_id)
        .collect())
}

/// Whose submissions count together with `participant`'s: their team's members, or only them.
pub async fn entrant_members(db: &impl ConnectionTrait, slug: &str, participant: &str) -> ApiResult<Vec<String>> {
    match crate::enrollment::find(db, slug, participant).await? {
        Some(row) => members_of(db, &row).await,
        None => Ok(vec![participant.to_owned()]),
    }
}

/// [`entrant_members`] from an enrollment already read (the submit path's, from its admission).
pub async fn members_of(db: &impl ConnectionTrait, row: &enrollment::Model) -> ApiResult<Vec<String>> {
    match &row.team_id {
        Some(team) => member_ids(db, team).await,
        None => Ok(vec![row.participant_id.clone()]),
    }
}

/// How many submissions these participants made to the challenge (every phase, every state).
async fn submissions_of(db: &impl ConnectionTrait, slug: &str, members: &[String]) -> ApiResult<u64> {
    Ok(submission::Entity::find()
        .filter(submission::Column::Challenge.eq(slug))
        .filter(submission::Column::ParticipantId.is_in(members.iter().map(String::as_str)))
        .count(db)
        .await?)
}

/// Counted submissions of these participants in the phase (what quotas count).
async fn counted_in_phase(db: &impl ConnectionTrait, slug: &str, phase: &str, members: &[String]) -> ApiResult<u64> {
    Ok(submission::Entity::find()
        .filter(submission::Column::Challenge.eq(slug))
        .filter(submission::Column::Phase.eq(phase))
        .filter(submission::Column::CountsAgainstQuota.eq(true))
        .filter(submission::Column::ParticipantId.is_in(members.iter().map(String::as_str)))
        .count(db)
        .await?)
}

/// Who is in which team of a challenge, for its leaderboard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineup {
    /// participant id → (team id, team name)
    teams: HashMap<String, (String, String)>,
}

impl Lineup {
    pub async fn read(db: &impl ConnectionTrait, slug: &str) -> ApiResult<Self> {
        let names: HashMap<String, String> = team::Entity::find()
            .filter(team::Column::Challenge.eq(slug))
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let teams = enrollment::Entity::find()
            .filter(enrollment::Column::Challenge.eq(slug))
            .filter(enrollment::Column::TeamId.is_not_null())
            .all(db)
            .await?
            .into_iter()
            .filter_map(|e| {
                let team = e.team_id?;
                let name = names.get(&team)?.clone();
                Some((e.participant_id, (team, name)))
            })
            .collect();
        Ok(Self { teams })
    }

    /// Who competes for `participant`: their team's id, or their own id.
    pub fn entrant(&self, participant: &str) -> String {
        self.teams.get(participant).map_or_else(|| participant.to_owned(), |(team, _)| team.clone())
    }

    /// The name of `participant`'s team, if they are in one.
    pub fn team_name(&self, participant: &str) -> Option<&str> {
        self.teams.get(participant).map(|(_, name)| name.as_str())
    }

    /// Changes whenever anyone joins, leaves or changes team (for the board cache).
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut pairs: Vec<_> = self.teams.iter().collect();
        pairs.sort();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        pairs.hash(&mut hasher);
        hasher.finish()
    }

    /// Keeps each team's best row (rows come best first) with the team's submissions summed,
    /// and each row's interval beside it; returns the team name of each kept row's participant.
    pub fn fold<I>(
        &self,
        best: Vec<BestScore>,
        intervals: Vec<I>,
    ) -> (Vec<BestScore>, Vec<I>, HashMap<String, String>) {
        let entrant =
            |b: &BestScore| self.teams.get(&b.participant_id).map_or(b.participant_id.clone(), |t| t.0.clone());
        let mut totals: HashMap<String, u32> = HashMap::new();
        for b in &best {
            *totals.entry(entrant(b)).or_default() += b.submissions;
        }
        let (mut rows, mut kept_intervals, mut names) = (Vec::new(), Vec::new(), HashMap::new());
        let mut seen = std::collections::HashSet::new();
        for (mut b, interval) in best.into_iter().zip(intervals) {
            let who = entrant(&b);
            if !seen.insert(who.clone()) {
                continue;
            }
            b.submissions = totals[&who];
            if let Some((_, name)) = self.teams.get(&b.participant_id) {
                names.insert(b.participant_id.clone(), name.clone());
            }
            rows.push(b);
            kept_intervals.push(interval);
        }
        (rows, kept_intervals, names)
    }
}

/// Whether two groups may become one team (see the module doc); every refusal names its rule.
pub fn check_merge(
    spec: &ChallengeSpec,
    merged_size: usize,
    counted_in_open_phase: u64,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if let Some(deadline) = spec.merge_deadline
        && now >= deadline
    {
        return Err(ApiError::conflict(
            "merge_deadline_passed",
            format!(
                "teams of '{}' can no longer change members: the merge deadline was {}",
                spec.slug,
                deadline.to_rfc3339()
            ),
        ));
    }
    let max = spec.max_team_size as usize;
    if merged_size > max {
        return Err(ApiError::conflict(
            "team_too_large",
            format!(
                "the team would have {merged_size} members; challenge '{}' allows at most {max} (max_team_size)",
                spec.slug
            ),
        ));
    }
    if let (Some(per_day), Some(darkroom_core::domain::challenge::PhaseWindow::Open(phase))) =
        (spec.quotas.per_day, spec.phase_window(now))
    {
        // Days begun since the phase opened: on its first day, one day's worth.
        let days = ((now - phase.starts_at).num_seconds() / Duration::days(1).num_seconds() + 1).max(1) as u64;
        let allowed = u64::from(per_day) * days;
        if counted_in_open_phase > allowed {
            return Err(ApiError::conflict(
                "merge_too_many_submissions",
                format!(
                    "together you made {counted_in_open_phase} submissions in phase '{}', more than a team may have made \
                     by now: per_day ({per_day}) × {days} day(s) since it opened = {allowed}",
                    phase.name
                ),
            ));
        }
    }
    Ok(())
}

fn teams_enabled(spec: &ChallengeSpec) -> ApiResult<()> {
    if spec.max_team_size <= 1 {
        return Err(ApiError::denied(
            "teams_disabled",
            format!("challenge '{}' has no teams (max_team_size is 1): everyone competes alone", spec.slug),
        ));
    }
    Ok(())
}

/// The caller's active enrollment, which every team action needs.
async fn active_enrollment(
    db: &impl ConnectionTrait,
    spec: &ChallengeSpec,
    who: &participant::Model,
) -> ApiResult<enrollment::Model> {
    crate::enrollment::admit(db, spec, &who.id).await
}

fn not_in_a_team(spec: &ChallengeSpec) -> ApiError {
    ApiError::NotFound(format!(
        "you are in no team of '{}': create one (darkroom team create {slug} NAME, or POST /api/v1/challenges/{slug}/teams) or join one with its code (darkroom team join {slug} CODE)",
        spec.slug,
        slug = spec.slug
    ))
}

/// A team as its members see it; `code` only where it was just made.
pub async fn view(
    db: &impl ConnectionTrait,
    spec: &ChallengeSpec,
    team: team::Model,
    code: Option<String>,
) -> ApiResult<Team> {
    let ids = member_ids(db, &team.id).await?;
    let people = participant::Entity::find().filter(participant::Column::Id.is_in(ids.clone())).all(db).await?;
    let members = ids
        .iter()
        .map(|id| {
            let name = people.iter().find(|p| &p.id == id).map_or_else(|| "(unknown)".to_owned(), |p| p.name.clone());
            Ok(TeamMember {
                id: crate::db::parse_column("enrollments.participant_id", id)?,
                name,
                captain: *id == team.captain_id,
            })
        })
        .collect::<ApiResult<_>>()?;
    let has_submitted = submissions_of(db, &spec.slug, &ids).await? > 0;
    let disqualified = crate::disqualification::team_is_out(db, &team.id).await?;
    Ok(Team {
        id: team.id,
        challenge: team.challenge,
        name: team.name,
        members,
        max_size: spec.max_team_size,
        has_submitted,
        disqualified,
        code,
        created_at: team.created_at,
    })
}

/// Creates a team with the caller as its captain; the answer holds its code, once.
pub async fn create(state: &AppState, spec: &ChallengeSpec, who: &participant::Model, name: &str) -> ApiResult<Team> {
    teams_enabled(spec)?;
    let name = ParticipantName::parse("name", name).map_err(|e| ApiError::Invalid(vec![e]))?;
    let _turn = state.submit_lock.turn().await?;
    let mine = active_enrollment(&state.db, spec, who).await?;
    if let Some(current) = team_of(&state.db, &spec.slug, &who.id).await? {
        return Err(ApiError::conflict(
            "already_in_team",
            format!("you are already in team '{}' of '{}'; leave it first", current.name, spec.slug),
        ));
    }
    let code = new_secret("drt_", 16);
    let txn = state.db.begin().await?;
    let inserted = team::ActiveModel {
        id: Set(new_secret("team_", 8)),
        challenge: Set(spec.slug.clone()),
        name: Set(name.as_str().to_owned()),
        captain_id: Set(who.id.clone()),
        code_hash: Set(hash_token(&code)),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await;
    let team = match inserted {
        Ok(t) => t,
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
            return Err(ApiError::conflict(
                "team_name_taken",
                format!("challenge '{}' already has a team named '{}'; choose another", spec.slug, name.as_str()),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    set_team(&txn, mine, Some(team.id.clone())).await?;
    txn.commit().await?;
    tracing::info!(challenge = %spec.slug, team = %team.id, captain = %who.id, "team created");
    view(&state.db, spec, team, Some(code)).await
}

async fn set_team(db: &impl ConnectionTrait, row: enrollment::Model, team: Option<String>) -> ApiResult<()> {
    let mut active: enrollment::ActiveModel = row.into();
    active.team_id = Set(team);
    active.update(db).await?;
    Ok(())
}

async fn team_by_code(db: &impl ConnectionTrait, spec: &ChallengeSpec, code: &str) -> ApiResult<team::Model> {
    team::Entity::find()
        .filter(team::Column::CodeHash.eq(hash_token(code.trim())))
        .filter(team::Column::Challenge.eq(&spec.slug))
        .one(db)
        .await?
        .ok_or_else(|| {
            ApiError::denied(
                "team_code_invalid",
                format!("that is not the code of a team of '{}'; ask the team's captain for it", spec.slug),
            )
        })
}

/// The caller joins the team whose code this is: a merge of their team of one into it.
pub async fn join(state: &AppState, spec: &ChallengeSpec, who: &participant::Model, code: &str) -> ApiResult<Team> {
    teams_enabled(spec)?;
    let _turn = state.submit_lock.turn().await?;
    let mine = active_enrollment(&state.db, spec, who).await?;
    if let Some(current) = team_of(&state.db, &spec.slug, &who.id).await? {
        return Err(ApiError::conflict(
            "already_in_team",
            format!(
                "you are in team '{}' of '{}': its captain can merge it into another team (POST …/team/merge)",
                current.name, spec.slug
            ),
        ));
    }
    let target = team_by_code(&state.db, spec, code).await?;
    crate::disqualification::check_team_open(&state.db, &target).await?;
    let mut members = member_ids(&state.db, &target.id).await?;
    members.push(who.id.clone());
    let counted = counted_now(&state.db, spec, &members).await?;
    check_merge(spec, members.len(), counted, Utc::now())?;
    set_team(&state.db, mine, Some(target.id.clone())).await?;
    tracing::info!(challenge = %spec.slug, team = %target.id, participant = %who.id, "joined a team");
    view(&state.db, spec, target, None).await
}

/// Counted submissions of `members` in the phase open now (none open: 0).
async fn counted_now(db: &impl ConnectionTrait, spec: &ChallengeSpec, members: &[String]) -> ApiResult<u64> {
    match spec.phase_window(Utc::now()) {
        Some(darkroom_core::domain::challenge::PhaseWindow::Open(p)) => {
            counted_in_phase(db, &spec.slug, &p.name, members).await
        }
        _ => Ok(0),
    }
}

/// The caller's team (by its captain) merges into the team whose code this is.
pub async fn merge(state: &AppState, spec: &ChallengeSpec, who: &participant::Model, code: &str) -> ApiResult<Team> {
    teams_enabled(spec)?;
    let _turn = state.submit_lock.turn().await?;
    active_enrollment(&state.db, spec, who).await?;
    let mine = team_of(&state.db, &spec.slug, &who.id).await?.ok_or_else(|| not_in_a_team(spec))?;
    if mine.captain_id != who.id {
        return Err(ApiError::denied("not_captain", format!("only the captain of team '{}' can merge it", mine.name)));
    }
    let target = team_by_code(&state.db, spec, code).await?;
    if target.id == mine.id {
        return Err(ApiError::conflict("same_team", "that is your own team's code; a team cannot merge into itself"));
    }
    crate::disqualification::check_team_open(&state.db, &target).await?;
    let moving = member_ids(&state.db, &mine.id).await?;
    let mut members = member_ids(&state.db, &target.id).await?;
    members.extend(moving.iter().cloned());
    let counted = counted_now(&state.db, spec, &members).await?;
    check_merge(spec, members.len(), counted, Utc::now())?;
    let txn = state.db.begin().await?;
    enrollment::Entity::update_many()
        .col_expr(enrollment::Column::TeamId, sea_orm::sea_query::Expr::value(target.id.clone()))
        .filter(enrollment::Column::TeamId.eq(&mine.id))
        .exec(&txn)
        .await?;
    team::Entity::delete_by_id(mine.id.clone()).exec(&txn).await?;
    txn.commit().await?;
    tracing::info!(challenge = %spec.slug, from = %mine.id, into = %target.id, members = moving.len(), "teams merged");
    view(&state.db, spec, target, None).await
}

fn submitted_already(team: &team::Model) -> ApiError {
    ApiError::conflict(
        "team_has_submitted",
        format!(
            "team '{}' has submitted: its members are fixed from the first submission on, so nobody carries a fresh quota to another team",
            team.name
        ),
    )
}

/// The caller leaves their team (before its first submission); the last one out dissolves it.
pub async fn leave(state: &AppState, spec: &ChallengeSpec, who: &participant::Model) -> ApiResult<()> {
    let _turn = state.submit_lock.turn().await?;
    let mine = crate::enrollment::find(&state.db, &spec.slug, &who.id).await?.ok_or_else(|| not_in_a_team(spec))?;
    let team = team_of(&state.db, &spec.slug, &who.id).await?.ok_or_else(|| not_in_a_team(spec))?;
    let members = member_ids(&state.db, &team.id).await?;
    if submissions_of(&state.db, &spec.slug, &members).await? > 0 {
        return Err(submitted_already(&team));
    }
    if team.captain_id == who.id && members.len() > 1 {
        return Err(ApiError::conflict(
            "captain_leaves_last",
            format!("you captain team '{}': remove its other members first, then leave", team.name),
        ));
    }
    let txn = state.db.begin().await?;
    set_team(&txn, mine, None).await?;
    if members.len() == 1 {
        team::Entity::delete_by_id(team.id.clone()).exec(&txn).await?;
    }
    txn.commit().await?;
    tracing::info!(challenge = %spec.slug, team = %team.id, participant = %who.id, "left a team");
    Ok(())
}

/// The captain removes a member (before the team's first submission).
pub async fn remove(state: &AppState, spec: &ChallengeSpec, who: &participant::Model, member: &str) -> ApiResult<Team> {
    let _turn = state.submit_lock.turn().await?;
    let team = team_of(&state.db, &spec.slug, &who.id).await?.ok_or_else(|| not_in_a_team(spec))?;
    if team.captain_id != who.id {
        return Err(ApiError::denied(
            "not_captain",
            format!("only the captain of team '{}' can remove members", team.name),
        ));
    }
    let members = member_ids(&state.db, &team.id).await?;
    if member == who.id || !members.iter().any(|m| m == member) {
        return Err(ApiError::NotFound(format!(
            "team '{}' has no other member '{member}'; see its members with darkroom team show {slug} (GET /api/v1/challenges/{slug}/team)",
            team.name,
            slug = spec.slug
        )));
    }
    if submissions_of(&state.db, &spec.slug, &members).await? > 0 {
        return Err(submitted_already(&team));
    }
    let row = crate::enrollment::find(&state.db, &spec.slug, member).await?.ok_or_else(|| not_in_a_team(spec))?;
    set_team(&state.db, row, None).await?;
    tracing::info!(challenge = %spec.slug, team = %team.id, removed = member, "member removed");
    view(&state.db, spec, team, None).await
}

/// The captain replaces the team's code (the old one stops working); the answer holds it once.
pub async fn renew_code(state: &AppState, spec: &ChallengeSpec, who: &participant::Model) -> ApiResult<Team> {
    let team = team_of(&state.db, &spec.slug, &who.id).await?.ok_or_else(|| not_in_a_team(spec))?;
    if team.captain_id != who.id {
        return Err(ApiError::denied("not_captain", format!("only the captain of team '{}' sees its code", team.name)));
    }
    let code = new_secret("drt_", 16);
    let mut active: team::ActiveModel = team.into();
    active.code_hash = Set(hash_token(&code));
    let team = active.update(&state.db).await?;
    view(&state.db, spec, team, Some(code)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use darkroom_core::domain::{Phase, Quotas};

    fn spec(now: DateTime<Utc>) -> ChallengeSpec {
        let mut spec: ChallengeSpec = serde_json::from_value(serde_json::json!({
            "slug": "teams", "title": "t", "description": "d", "rank_by": "accuracy",
            "dataset": { "host_path": "/d" }, "ground_truth": { "host_path": "/g" },
            "evaluation": { "image": "eval:1" },
            "metrics": [{ "name": "accuracy", "direction": "higher_is_better" }],
            "phases": [], "resources": { "cpus": 1.0, "memory_mb": 256, "wall_clock_seconds": 60, "output_max_mb": 1 },
        }))
        .unwrap();
        spec.phases = vec![Phase::new("dev", now - Duration::hours(36), now + Duration::days(5))];
        spec.quotas = Quotas { per_day: Some(3), total: None };
        spec.max_team_size = 3;
        spec
    }

    fn code(r: ApiResult<()>) -> Option<&'static str> {
        match r {
            Ok(()) => None,
            Err(ApiError::Conflict { code, .. }) => Some(code),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn merges_follow_the_deadline_the_size_cap_and_the_submission_count() {
        let now = Utc::now();
        let mut s = spec(now);
        // Day 2 of the phase: 3 per day × 2 days = 6 submissions at most.
        assert_eq!(code(check_merge(&s, 3, 6, now)), None);
        assert_eq!(code(check_merge(&s, 3, 7, now)), Some("merge_too_many_submissions"));
        assert_eq!(code(check_merge(&s, 4, 0, now)), Some("team_too_large"));
        s.merge_deadline = Some(now - Duration::minutes(1));
        assert_eq!(code(check_merge(&s, 2, 0, now)), Some("merge_deadline_passed"));
        s.merge_deadline = Some(now + Duration::minutes(1));
        s.quotas.per_day = None;
        assert_eq!(code(check_merge(&s, 2, 1_000, now)), None, "no daily quota: no count rule");
    }
}
