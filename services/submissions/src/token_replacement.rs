//! Replacing a participant's own token. A token is shown once and stored only as a hash, so a
//! leaked one cannot be taken back and a lost one cannot be recovered: it is replaced, by its
//! holder with the token itself (`POST /me/token`) or by the organizer with the admin token
//! (`POST /participants/{id}/token`, for a participant who lost theirs).
//!
//! One transaction swaps the stored hash (only if it is still the one read, so of two
//! concurrent replacements one wins), signs out every web session the old token opened and
//! revokes every scoped token it minted: whoever copied the old token, and anything they made
//! from it, is out at once. The participant's submissions, enrollments and team are theirs by
//! id and stay. The old hash is kept in `retired_tokens`, so presenting it answers 401 saying
//! when and by whom it was replaced, not "unknown token".

use chrono::Utc;
use darkroom_api::ReplacedToken;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};

use crate::auth::{hash_token, new_token};
use crate::db::entities::{api_token, participant, retired_token, session};
use crate::error::{ApiError, ApiResult};

/// Who asked for a replacement: it decides what the old token's holder is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplacedBy {
    Participant,
    Organizer,
}

/// Gives `who` a new token in place of the one whose hash is `who.token_hash`, ending the old
/// one's sessions and scoped tokens; 409 `token_changed` when another replacement came first.
pub async fn replace(db: &DatabaseConnection, who: &participant::Model, by: ReplacedBy) -> ApiResult<ReplacedToken> {
    let token = new_token();
    let now = Utc::now();
    let old = &who.token_hash;
    let txn = db.begin().await?;
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
    let ended_sessions = session::Entity::delete_many()
        .filter(session::Column::TokenHash.eq(old))
        .filter(session::Column::Organizer.eq(false))
        .exec(&txn)
        .await?
        .rows_affected;
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

/// What to tell whoever presents `token_hash` when no participant holds it: that it was
/// replaced, when and by whom, if it is a retired token; `None` if it never was one.
pub async fn refusal(db: &impl ConnectionTrait, token_hash: &str) -> ApiResult<Option<String>> {
    let Some(row) = retired_token::Entity::find_by_id(token_hash).one(db).await? else { return Ok(None) };
    let by = if row.by_organizer { "by the organizer" } else { "by its holder" };
    Ok(Some(format!(
        "this token was replaced {by} on {} and no longer works: use the new one ('darkroom token replace' printed it; \
         if you lost it, ask the organizer to replace it)",
        row.retired_at.format("%Y-%m-%d %H:%M UTC")
    )))
}
