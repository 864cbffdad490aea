//! Web sessions: the page server trades a participant's or the organizer's token for a session
//! secret at sign-in, keeps only that secret in its cookie, and sends it as the bearer
//! credential. A session stands for the token that opened it (its hash is kept with it) until it
//! expires or is revoked at sign-out, so a stolen cookie is worth less than a stolen token: it
//! dies with the session, and it cannot open another session to outlive its own.
//!
//! Stored as the SHA-256 of the secret, like tokens ([`crate::auth`]); an organizer's session
//! also ends when the admin token changes, since its stored hash no longer matches.

use chrono::{Duration, Utc};
use darkroom_api::SessionCreated;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::auth::{hash_token, new_secret};
use crate::db::entities::session;
use crate::error::ApiError;
use crate::state::AppState;

/// What every session secret starts with, so a bearer credential says which kind it is.
pub const PREFIX: &str = "drs_";

/// Whether a bearer credential is a session secret rather than a token.
pub fn is_session(bearer: &str) -> bool {
    bearer.starts_with(PREFIX)
}

/// Opens a session for the holder of `token_hash` (`organizer`: the admin token's), lasting
/// the configured lifetime of that role. Expired sessions are swept on the way, which keeps the
/// table as small as the sessions in use.
pub async fn open(state: &AppState, token_hash: String, organizer: bool) -> Result<SessionCreated, ApiError> {
    let now = Utc::now();
    session::Entity::delete_many().filter(session::Column::ExpiresAt.lt(now)).exec(&state.db).await?;
    let seconds =
        if organizer { state.config.organizer_session_seconds } else { state.config.participant_session_seconds };
    // Checked at start-up (`check_sessions`); capped anyway so no setting overflows a timestamp.
    let longest = Duration::days(3650);
    let lifetime = i64::try_from(seconds).ok().and_then(Duration::try_seconds).unwrap_or(longest).min(longest);
    let expires_at = now + lifetime;
    let secret = new_secret(PREFIX, 32);
    session::ActiveModel {
        secret_hash: Set(hash_token(&secret)),
        token_hash: Set(token_hash),
        organizer: Set(organizer),
        created_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(&state.db)
    .await?;
    Ok(SessionCreated { secret, expires_at, organizer })
}

/// The session `secret` opens, if it is known and has not expired: 401 otherwise, saying to
/// sign in again.
pub async fn find(state: &AppState, secret: &str) -> Result<session::Model, ApiError> {
    let row = session::Entity::find_by_id(hash_token(secret)).one(&state.db).await?.ok_or_else(|| {
        ApiError::Unauthorized("unknown session: it was signed out or never existed; sign in again".into())
    })?;
    if row.expires_at <= Utc::now() {
        return Err(ApiError::Unauthorized(format!(
            "your session expired at {}; sign in again with your token",
            row.expires_at.to_rfc3339()
        )));
    }
    Ok(row)
}

/// Ends every session of the holder of `token_hash` (`organizer`: the admin token's), expired
/// or not; how many. `db` may be a transaction (a token replacement ends them in its own).
pub async fn end_all(db: &impl ConnectionTrait, token_hash: &str, organizer: bool) -> Result<u64, ApiError> {
    let ended = session::Entity::delete_many()
        .filter(session::Column::TokenHash.eq(token_hash))
        .filter(session::Column::Organizer.eq(organizer))
        .exec(db)
        .await?;
    Ok(ended.rows_affected)
}

/// Ends the session `secret` opens (expired or not); 401 when there is none.
pub async fn revoke(state: &AppState, secret: &str) -> Result<(), ApiError> {
    let deleted = session::Entity::delete_by_id(hash_token(secret)).exec(&state.db).await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::Unauthorized(
            "unknown session: it was already signed out or never existed; nothing to do".into(),
        ));
    }
    Ok(())
}
