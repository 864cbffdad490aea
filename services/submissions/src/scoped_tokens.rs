//! Scoped tokens (issue 18; shapes in `darkroom_api::token`): minted by a holder with their own
//! token, they stand for that token limited to their scopes until they expire or are revoked.
//! Stored as the SHA-256 of the secret, like every secret here ([`crate::auth`]).
//!
//! A scoped token cannot mint another nor open a web session (neither may a session mint one):
//! whatever leaks can never outgrow what it was given. An organizer's scoped token also dies
//! when the admin token changes, as the organizer's sessions do.

use axum::http::Method;
use chrono::{Duration, Utc};
use darkroom_api::{DEFAULT_TOKEN_HOURS, MAX_TOKEN_HOURS, MintToken, MintedToken, TokenScope, TokenView};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::auth::{hash_token, new_secret};
use crate::db::entities::api_token;
use crate::error::ApiError;
use crate::state::AppState;

/// How many live scoped tokens one holder may have: rate limits count per bearer as well as per
/// address, so each token is another bucket; ten bounds what minting could multiply.
pub const MAX_LIVE_TOKENS: usize = 10;

/// What every scoped token starts with, so a bearer credential says which kind it is.
pub const PREFIX: &str = "drt_";

/// Whether a bearer credential is a scoped token.
pub fn is_scoped(bearer: &str) -> bool {
    bearer.starts_with(PREFIX)
}

fn scopes_text(scopes: &[TokenScope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

/// The scopes stored as text; a word this version does not know grants nothing.
pub fn scopes_of(row: &api_token::Model) -> Vec<TokenScope> {
    row.scopes.split(',').filter_map(TokenScope::parse).collect()
}

/// What a token is, as its holder's list shows it (never its secret).
pub fn view(row: &api_token::Model) -> TokenView {
    TokenView {
        id: row.id.clone(),
        scopes: scopes_of(row),
        organizer: row.organizer,
        label: row.label.clone(),
        created_at: row.created_at,
        expires_at: row.expires_at,
    }
}

/// The scope a request needs of a credential: `read` for reading, else the holder's write scope
/// (`submit` for a participant, `organize` for the organizer).
pub fn needed(method: &Method, organizer: bool) -> TokenScope {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => TokenScope::Read,
        _ if organizer => TokenScope::Organize,
        _ => TokenScope::Submit,
    }
}

/// Refuses (403, code `token_scope`) a scoped credential that lacks `needed`; `scopes` is
/// `None` for a full token or a session, which may do all their holder may.
pub fn check(scopes: Option<&[TokenScope]>, needed: TokenScope) -> Result<(), ApiError> {
    match scopes {
        Some(have) if !have.contains(&needed) => Err(ApiError::denied(
            "token_scope",
            format!(
                "this token may only {}; this request needs '{needed}': mint a token with that scope ('darkroom \
                 token create --scope {needed}') or use your own token",
                if have.is_empty() { "do nothing".to_owned() } else { scopes_text(have).replace(',', " and ") }
            ),
        )),
        _ => Ok(()),
    }
}

/// Mints a token for the holder of `owner_token_hash` (`organizer`: the admin token's).
pub async fn mint(
    state: &AppState,
    owner_token_hash: String,
    organizer: bool,
    request: MintToken,
) -> Result<MintedToken, ApiError> {
    let mut scopes = request.scopes;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(ApiError::bad_request(
            "bad_scopes",
            "a token needs at least one scope: read, and submit (participants) or organize (the organizer)",
        ));
    }
    let (allowed, role) =
        if organizer { (TokenScope::Organize, "the organizer") } else { (TokenScope::Submit, "a participant") };
    if let Some(bad) = scopes.iter().find(|s| **s != TokenScope::Read && **s != allowed) {
        return Err(ApiError::bad_request(
            "bad_scopes",
            format!("{role} cannot mint a '{bad}' token: choose among 'read' and '{allowed}'"),
        ));
    }
    let hours = request.expires_in_hours.unwrap_or(DEFAULT_TOKEN_HOURS);
    if !(1..=MAX_TOKEN_HOURS).contains(&hours) {
        return Err(ApiError::bad_request(
            "bad_expiry",
            format!("expires_in_hours {hours} is not between 1 and {MAX_TOKEN_HOURS} (a year)"),
        ));
    }
    let label = request.label.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
    if label.as_ref().is_some_and(|l| l.chars().count() > 100) {
        return Err(ApiError::bad_request("bad_label", "a label is at most 100 characters"));
    }
    let live = list(state, &owner_token_hash).await?.len();
    if live >= MAX_LIVE_TOKENS {
        return Err(ApiError::conflict(
            "too_many_tokens",
            format!(
                "you have {live} live scoped tokens, the most allowed: revoke one (DELETE /api/v1/tokens/{{id}}) first"
            ),
        ));
    }
    let now = Utc::now();
    let secret = new_secret(PREFIX, 32);
    let row = api_token::ActiveModel {
        secret_hash: Set(hash_token(&secret)),
        id: Set(Uuid::now_v7().to_string()),
        owner_token_hash: Set(owner_token_hash),
        organizer: Set(organizer),
        scopes: Set(scopes_text(&scopes)),
        label: Set(label),
        created_at: Set(now),
        expires_at: Set(now + Duration::hours(i64::from(hours))),
    }
    .insert(&state.db)
    .await?;
    Ok(MintedToken { token: secret, view: view(&row) })
}

/// The live token `secret` is: 401 saying what to do when it is unknown, revoked or expired.
pub async fn find(state: &AppState, secret: &str) -> Result<api_token::Model, ApiError> {
    let row = api_token::Entity::find_by_id(hash_token(secret)).one(&state.db).await?.ok_or_else(|| {
        ApiError::Unauthorized("unknown scoped token: it was revoked or never existed; mint a new one".into())
    })?;
    if row.expires_at <= Utc::now() {
        return Err(ApiError::Unauthorized(format!(
            "this scoped token expired at {}; mint a new one with 'darkroom token create'",
            row.expires_at.to_rfc3339()
        )));
    }
    if row.organizer && row.owner_token_hash != state.admin_token_hash {
        return Err(ApiError::Unauthorized(
            "the organizer's token changed since this scoped token was minted; mint a new one".into(),
        ));
    }
    Ok(row)
}

/// The live tokens the holder of `owner_token_hash` minted, newest first.
pub async fn list(state: &AppState, owner_token_hash: &str) -> Result<Vec<TokenView>, ApiError> {
    let rows = api_token::Entity::find()
        .filter(api_token::Column::OwnerTokenHash.eq(owner_token_hash))
        .filter(api_token::Column::ExpiresAt.gt(Utc::now()))
        .order_by_desc(api_token::Column::CreatedAt)
        .all(&state.db)
        .await?;
    Ok(rows.iter().map(view).collect())
}

/// Revokes one of the holder's tokens; 404 for one they did not mint.
pub async fn revoke(state: &AppState, owner_token_hash: &str, id: &str) -> Result<(), ApiError> {
    let deleted = api_token::Entity::delete_many()
        .filter(api_token::Column::Id.eq(id))
        .filter(api_token::Column::OwnerTokenHash.eq(owner_token_hash))
        .exec(&state.db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::NotFound(format!(
            "you have no token '{id}'; list yours with darkroom token list (GET /api/v1/tokens)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_need_read_and_writes_the_holders_write_scope() {
        assert_eq!(needed(&Method::GET, false), TokenScope::Read);
        assert_eq!(needed(&Method::HEAD, true), TokenScope::Read);
        assert_eq!(needed(&Method::POST, false), TokenScope::Submit);
        assert_eq!(needed(&Method::DELETE, true), TokenScope::Organize);
        assert_eq!(needed(&Method::PUT, true), TokenScope::Organize);
    }

    #[test]
    fn a_scoped_credential_is_held_to_its_scopes_and_a_full_one_is_not() {
        assert!(check(None, TokenScope::Organize).is_ok());
        assert!(check(Some(&[TokenScope::Read]), TokenScope::Read).is_ok());
        let refused = check(Some(&[TokenScope::Read]), TokenScope::Submit).unwrap_err().to_string();
        assert!(refused.contains("may only read") && refused.contains("needs 'submit'"), "{refused}");
        assert!(check(Some(&[]), TokenScope::Read).is_err(), "an unknown scope grants nothing");
    }
}
