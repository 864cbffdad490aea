//! Replacing a participant's own token. A token is shown once and stored only as a hash, so a
//! leaked one cannot be taken back and a lost one cannot be recovered: it is replaced, by its
//! holder with the token itself (`POST /me/token`) or by the organizer with the admin token
//! (`POST /participants/{id}/token`, for a participant who lost theirs, or whose token someone
//! else replaced first: whoever holds a token can replace it, so a thief can too, and the
//! organizer's replacement is the way back).
//!
//! One transaction swaps the stored hash (only if it is still the one read, so of two
//! concurrent replacements one wins), signs out every web session the old token opened and
//! revokes every scoped token it minted. Every credential resolves to its participant through
//! the current hash ([`crate::extract`]), so a session or scoped token the old token makes in
//! the same instant (inserted just after the transaction) never works either. A request already
//! past its credential check when the token is replaced (an upload, a registry lookup) is
//! stopped where it would store a submission: [`check_current`] runs under the submit lock,
//! which a replacement takes too. The participant's submissions, enrollments and team are
//! theirs by id and stay. The old hash is kept in `retired_tokens` (a row per replacement,
//! never pruned: a few a year per participant), so presenting it answers 401 saying when and by
//! whom it was replaced, not "unknown token".
//!
//! A holder replaces their own token at most [`MAX_OWN_REPLACEMENTS_PER_DAY`] times a day:
//! each new token is a fresh per-token rate-limit bucket, and a leak needs one. The organizer's
//! replacements are not counted, so a thief who spends the allowance cannot block the way back.

use chrono::{DateTime, Duration, Utc};
use darkroom_api::ReplacedToken;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};

use crate::auth::{hash_token, new_token};
use crate::db::entities::{api_token, participant, retired_token};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How often a holder may replace their own token in 24 hours.
pub const MAX_OWN_REPLACEMENTS_PER_DAY: u64 = 5;

/// Who asked for a replacement: it decides what the old token's holder is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplacedBy {
    Participant,
    Organizer,
}

/// Gives `who` a new token in place of the one whose hash is `who.token_hash`, ending the old
/// one's sessions and scoped tokens; 409 `token_changed` when another replacement came first,
/// 429 when the holder already replaced theirs [`MAX_OWN_REPLACEMENTS_PER_DAY`] times today.
pub async fn replace(state: &AppState, who: &participant::Model, by: ReplacedBy) -> ApiResult<ReplacedToken> {
    let token = new_token();
    let now = Utc::now();
    let old = &who.token_hash;
    // Submits admitted before this commits are stored first; those after see the new hash.
    let _turn = state.submit_lock.turn().await?;
    let txn = state.db.begin().await?;
    if by == ReplacedBy::Participant {
        check_allowance(&txn, &who.id, now).await?;
    }
    let swapped = participant::Entity::update_many()
        .col_expr(participant::Column::TokenHash, Expr::value(hash_token(&token)))
        .filter(participant::Column::Id.eq(&who.id))
        .filter(participant::Column::TokenHash.eq(old))
        .exec(&txn)
        .await?;
    if swapped.rows_affected == 0 {
        return Err(ApiError::conflict(
            "token_changed",
            "this participant's token was replaced by another request a moment ago; the token that request \
             printed is the one that works (the organizer can replace it again)",
        ));
    }
    // `organizer = false` alone: the admin token's sessions and tokens carry its own hash, which
    // is never a participant's, but a replacement must not be able to reach them even so.
    let ended_sessions = crate::sessions::end_all(&txn, old, false).await?;
    let revoked_tokens = api_token::Entity::delete_many()
        .filter(api_token::Column::OwnerTokenHash.eq(old))
        .filter(api_token::Column::Organizer.eq(false))
        .exec(&txn)
        .await?
        .rows_affected;
    retired_token::ActiveModel {
        token_hash: Set(old.clone()),
        participant_id: Set(who.id.clone()),
        retired_at: Set(now),
        by_organizer: Set(by == ReplacedBy::Organizer),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    tracing::info!(participant = %who.id, ?by, ended_sessions, revoked_tokens, "participant token replaced");
    Ok(ReplacedToken {
        id: who.participant_id()?,
        name: who.name.clone(),
        token,
        replaced_at: now,
        ended_sessions,
        revoked_tokens,
    })
}

/// 429 when the holder replaced their own token [`MAX_OWN_REPLACEMENTS_PER_DAY`] times in the
/// last 24 hours, saying when the next replacement is allowed.
async fn check_allowance(db: &impl ConnectionTrait, participant: &str, now: DateTime<Utc>) -> ApiResult<()> {
    let own_today = || {
        retired_token::Entity::find()
            .filter(retired_token::Column::ParticipantId.eq(participant))
            .filter(retired_token::Column::ByOrganizer.eq(false))
            .filter(retired_token::Column::RetiredAt.gt(now - Duration::hours(24)))
    };
    if own_today().count(db).await? < MAX_OWN_REPLACEMENTS_PER_DAY {
        return Ok(());
    }
    let oldest = own_today().order_by_asc(retired_token::Column::RetiredAt).one(db).await?;
    let next = oldest.map_or(now, |r| r.retired_at + Duration::hours(24));
    Err(ApiError::RateLimited {
        message: format!(
            "you replaced your token {MAX_OWN_REPLACEMENTS_PER_DAY} times in the last 24 hours, the most a day \
             allows; the next replacement is allowed at {} (the organizer can replace it now)",
            next.format("%Y-%m-%d %H:%M UTC")
        ),
        retry_after: (next - now).to_std().unwrap_or_default(),
    })
}

/// 401 when `who`'s token was replaced after the request carrying it was let in: called under
/// the submit lock where a submission is stored, so a long upload cannot outlive a replacement.
pub async fn check_current(db: &impl ConnectionTrait, who: &participant::Model) -> ApiResult<()> {
    let current = participant::Entity::find()
        .filter(participant::Column::Id.eq(&who.id))
        .filter(participant::Column::TokenHash.eq(&who.token_hash))
        .count(db)
        .await?;
    if current == 1 {
        return Ok(());
    }
    let message = refusal(db, &who.token_hash).await?.unwrap_or_else(|| "this participant is no longer known".into());
    Err(ApiError::Unauthorized(format!("nothing was submitted: {message}")))
}

/// What to tell whoever presents `token_hash` when no participant holds it: that it was
/// replaced, when and by whom, if it is a retired token; `None` if it never was one.
pub async fn refusal(db: &impl ConnectionTrait, token_hash: &str) -> ApiResult<Option<String>> {
    let Some(row) = retired_token::Entity::find_by_id(token_hash).one(db).await? else { return Ok(None) };
    let by = if row.by_organizer { "by the organizer" } else { "with the token itself" };
    Ok(Some(format!(
        "this token was replaced {by} on {} and no longer works: use the new one; if you did not replace it, or lost \
         the new one, ask the organizer to replace it",
        row.retired_at.format("%Y-%m-%d %H:%M UTC")
    )))
}
