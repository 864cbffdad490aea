//! `POST /sessions` opens a web session with a token; `DELETE /sessions/current` ends the
//! session whose secret is the bearer (sign-out). See [`crate::sessions`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use darkroom_api::SessionCreated;

use super::openapi::{self as doc};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Bearer, Holder, holder};
use crate::state::AppState;
use crate::{scoped_tokens, sessions};

#[utoipa::path(
    post,
    path = "/sessions",
    operation_id = "open_session",
    summary = "Open a web session with a token (not a session)",
    responses(
        (status = 201, description = "The session: its secret, shown this once", body = SessionCreated),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
    ),
    security(("bearer" = ["participant"]), ("bearer" = ["organizer"])),
)]
pub async fn open(
    State(state): State<AppState>,
    Bearer(token): Bearer,
) -> ApiResult<(StatusCode, Json<SessionCreated>)> {
    // A session opening another would outlive its own expiry (and the organizer's cap).
    if sessions::is_session(&token) {
        return Err(ApiError::Forbidden(
            "a session cannot open another session: sign in with your token (from 'darkroom register')".into(),
        ));
    }
    // A session stands for a whole token; a scoped one would outgrow its scopes through it.
    if scoped_tokens::is_scoped(&token) {
        return Err(ApiError::Forbidden(
            "a scoped token cannot open a session: sign in with your own token (from 'darkroom register')".into(),
        ));
    }
    let (token_hash, organizer) = match holder(&state, &token).await? {
        Holder::Organizer => (state.admin_token_hash.clone(), true),
        Holder::Participant(p) => (p.token_hash, false),
    };
    let created = sessions::open(&state, token_hash, organizer).await?;
    tracing::info!(organizer, expires_at = %created.expires_at, "web session opened");
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    delete,
    path = "/sessions/current",
    operation_id = "revoke_session",
    summary = "Revoke the session whose secret is the bearer (sign out)",
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
    ),
    security(("bearer" = ["participant"]), ("bearer" = ["organizer"])),
)]
pub async fn revoke(State(state): State<AppState>, Bearer(secret): Bearer) -> ApiResult<StatusCode> {
    if !sessions::is_session(&secret) {
        return Err(ApiError::bad_request(
            "not_a_session",
            format!(
                "the bearer is not a session secret (they start with '{}'); a token cannot be signed out",
                sessions::PREFIX
            ),
        ));
    }
    sessions::revoke(&state, &secret).await?;
    Ok(StatusCode::NO_CONTENT)
}
