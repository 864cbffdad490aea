//! Who may submit to a challenge: participants join it first (accepting its rules), by the
//! challenge's [`EnrollmentMode`]: open, with an invite code the organizer minted, or pending
//! the organizer's approval. [`admit`] is the check the submit path makes.

use chrono::{DateTime, Utc};
use darkroom_api::{Disqualification, Enrollment, EnrollmentMode, EnrollmentState, Invite, InviteRequest, JoinRequest};
use darkroom_core::domain::ChallengeSpec;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};

use crate::auth::{hash_token, new_secret};
use crate::db::entities::{enrollment, invite};
use crate::error::{ApiError, ApiResult};

/// Most participants one invite code may admit.
pub const MAX_INVITE_USES: u32 = 10_000;

pub fn view(row: &enrollment::Model) -> ApiResult<Enrollment> {
    let state = EnrollmentState::parse(&row.state).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("enrollments.state holds '{}', which is no state", row.state))
    })?;
    let disqualified = row
        .disqualified_at
        .map(|at| Disqualification { reason: row.disqualified_reason.clone().unwrap_or_default(), at });
    Ok(Enrollment {
        challenge: row.challenge.clone(),
        state,
        joined_at: row.joined_at,
        decided_at: row.decided_at,
        disqualified,
    })
}

pub async fn find(db: &impl ConnectionTrait, slug: &str, participant: &str) -> ApiResult<Option<enrollment::Model>> {
    Ok(enrollment::Entity::find()
        .filter(enrollment::Column::Challenge.eq(slug))
        .filter(enrollment::Column::ParticipantId.eq(participant))
        .one(db)
        .await?)
}

/// Where the organizer sees who joined `slug` (for refusals that name nobody who did).
pub fn list_hint(slug: &str) -> String {
    format!("list who asked to join with darkroom enrollment list {slug} (GET /api/v1/challenges/{slug}/enrollments)")
}

fn join_hint(slug: &str) -> String {
    format!("darkroom join {slug} (or POST /api/v1/challenges/{slug}/join with {{\"accept_rules\": true}})")
}

/// Refuses a submission from a participant who may not submit to `spec`, saying why; else their
/// (active) enrollment, which also names their team.
pub async fn admit(db: &impl ConnectionTrait, spec: &ChallengeSpec, participant: &str) -> ApiResult<enrollment::Model> {
    let slug = &spec.slug;
    let Some(row) = find(db, slug, participant).await? else {
        return Err(ApiError::denied(
            "not_enrolled",
            format!("join challenge '{slug}' before submitting to it: {}", join_hint(slug)),
        ));
    };
    match view(&row)?.state {
        EnrollmentState::Active => {
            crate::disqualification::check(db, &row).await?;
            Ok(row)
        }
        EnrollmentState::Pending => Err(ApiError::denied(
            "enrollment_pending",
            format!(
                "your request to join '{slug}' waits for the organizer's approval; you can submit once they approve it"
            ),
        )),
        EnrollmentState::Rejected => Err(ApiError::denied(
            "enrollment_rejected",
            format!("the organizer of '{slug}' rejected your request to join; you cannot submit to it"),
        )),
    }
}

/// Joins `participant` to the challenge, or returns the enrollment they already have (a
/// rejected one is refused). Joining with an invite code uses it up by one, in the same
/// transaction as the enrollment, so a code never admits more than its uses.
pub async fn join(
    db: &DatabaseConnection,
    spec: &ChallengeSpec,
    participant: &str,
    request: &JoinRequest,
    now: DateTime<Utc>,
) -> ApiResult<Enrollment> {
    let slug = &spec.slug;
    if !request.accept_rules {
        return Err(ApiError::field(
            "accept_rules",
            "is not true: joining a challenge means accepting its rules",
            format!(
                "read the rules (GET /api/v1/challenges/{slug}, field 'rules' or 'description') and send accept_rules: true"
            ),
        ));
    }
    if let Some(existing) = find(db, slug, participant).await? {
        let enrollment = view(&existing)?;
        if enrollment.state == EnrollmentState::Rejected {
            return Err(ApiError::denied(
                "enrollment_rejected",
                format!("the organizer of '{slug}' rejected your request to join; joining again does not change that"),
            ));
        }
        return Ok(enrollment);
    }
    let txn = db.begin().await?;
    let (state, invite_id) = match spec.enrollment {
        EnrollmentMode::Open => (EnrollmentState::Active, None),
        EnrollmentMode::Approval => (EnrollmentState::Pending, None),
        EnrollmentMode::Invite => {
            let Some(code) = request.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
                return Err(ApiError::denied(
                    "invite_required",
                    format!(
                        "challenge '{slug}' admits participants by invitation: join with the code its organizer gave you (darkroom join {slug} --code CODE)"
                    ),
                ));
            };
            (EnrollmentState::Active, Some(use_invite(&txn, slug, code, now).await?))
        }
    };
    let inserted = enrollment::ActiveModel {
        challenge: Set(slug.clone()),
        participant_id: Set(participant.to_owned()),
        state: Set(state.as_str().to_owned()),
        invite_id: Set(invite_id),
        joined_at: Set(now),
        decided_at: Set(None),
        team_id: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    match inserted {
        Ok(row) => {
            txn.commit().await?;
            tracing::info!(challenge = %slug, participant, state = state.as_str(), "participant joined");
            view(&row)
        }
        // A concurrent join of the same participant won: theirs stands, and this one's invite
        // use rolls back with the transaction.
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
            txn.rollback().await?;
            let row = find(db, slug, participant).await?.ok_or_else(|| ApiError::Internal(e.into()))?;
            view(&row)
        }
        Err(e) => Err(e.into()),
    }
}

/// Takes one use of the code for `slug`; returns the invite's id.
async fn use_invite(db: &impl ConnectionTrait, slug: &str, code: &str, now: DateTime<Utc>) -> ApiResult<String> {
    let refused = |code: &'static str, why: String| ApiError::denied(code, why);
    // A code of another challenge reads as no code at all: codes say nothing about challenges
    // their holder was not invited to.
    let Some(row) = invite::Entity::find()
        .filter(invite::Column::CodeHash.eq(hash_token(code)))
        .filter(invite::Column::Challenge.eq(slug))
        .one(db)
        .await?
    else {
        return Err(refused(
            "invite_invalid",
            format!("that is not an invite code of challenge '{slug}'; check it, or ask the organizer for one"),
        ));
    };
    if let Some(at) = row.expires_at
        && at <= now
    {
        return Err(refused(
            "invite_expired",
            format!("this invite code expired at {}; ask the organizer for a new one", at.to_rfc3339()),
        ));
    }
    // Taken only while uses remain, in one statement, so concurrent joins cannot overdraw it.
    let taken = invite::Entity::update_many()
        .col_expr(invite::Column::Used, Expr::col(invite::Column::Used).add(1))
        .filter(invite::Column::Id.eq(&row.id))
        .filter(Expr::col(invite::Column::Used).lt(Expr::col(invite::Column::Uses)))
        .exec(db)
        .await?;
    if taken.rows_affected == 0 {
        return Err(refused(
            "invite_used_up",
            format!(
                "this invite code has admitted {} participant(s), all it may; ask the organizer for a new one",
                row.uses
            ),
        ));
    }
    Ok(row.id)
}

/// Mints an invite code for `slug`; the answer is the only place the code ever appears.
pub async fn mint_invite(
    db: &impl ConnectionTrait,
    slug: &str,
    request: &InviteRequest,
    now: DateTime<Utc>,
) -> ApiResult<Invite> {
    let uses = request.uses.unwrap_or(1);
    if !(1..=MAX_INVITE_USES).contains(&uses) {
        return Err(ApiError::field(
            "uses",
            format!("{uses} is not between 1 and {MAX_INVITE_USES}"),
            "give how many participants the code may admit (default 1)",
        ));
    }
    if let Some(at) = request.expires_at
        && at <= now
    {
        return Err(ApiError::field(
            "expires_at",
            format!("{} is in the past", at.to_rfc3339()),
            "give a time in the future, or none for a code that does not expire",
        ));
    }
    let code = new_secret("dri_", 16);
    let row = invite::ActiveModel {
        id: Set(new_secret("inv_", 6)),
        challenge: Set(slug.to_owned()),
        code_hash: Set(hash_token(&code)),
        uses: Set(i32::try_from(uses).unwrap_or(i32::MAX)),
        used: Set(0),
        expires_at: Set(request.expires_at),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    tracing::info!(challenge = %slug, invite = %row.id, uses, "invite minted");
    Ok(Invite { code: Some(code), ..invite_view(row) })
}

pub fn invite_view(row: invite::Model) -> Invite {
    Invite {
        id: row.id,
        code: None,
        challenge: row.challenge,
        uses: u32::try_from(row.uses).unwrap_or(0),
        used: u32::try_from(row.used).unwrap_or(0),
        expires_at: row.expires_at,
        created_at: row.created_at,
    }
}

/// The organizer's decision on a participant's enrollment; either may be reversed later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

pub async fn decide(
    db: &impl ConnectionTrait,
    slug: &str,
    participant: &str,
    decision: Decision,
    now: DateTime<Utc>,
) -> ApiResult<Enrollment> {
    let Some(row) = find(db, slug, participant).await? else {
        return Err(ApiError::NotFound(format!(
            "participant '{participant}' has not asked to join '{slug}'; {}",
            list_hint(slug)
        )));
    };
    let state = match decision {
        Decision::Approve => EnrollmentState::Active,
        Decision::Reject => EnrollmentState::Rejected,
    };
    let mut active: enrollment::ActiveModel = row.into();
    active.state = Set(state.as_str().to_owned());
    active.decided_at = Set(Some(now));
    let row = active.update(db).await?;
    tracing::info!(challenge = %slug, participant, state = state.as_str(), "enrollment decided");
    view(&row)
}
