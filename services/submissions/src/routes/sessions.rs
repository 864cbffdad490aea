//! `POST /sessions` opens a web session with a token; `DELETE /sessions/current` ends the
//! session whose secret is the bearer (sign-out); `DELETE /sessions` ends all of its holder's
//! (sign out everywhere). See [`crate::sessions`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use darkroom_api::{CurrentCredential, SessionCreated, SessionsEnded};

use super::openapi::{self as doc};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Bearer, Holder, credential, holder, holder_of};
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

#[utoipa::path(
    delete,
    path = "/sessions",
    operation_id = "end_all_sessions",
    summary = "Sign out everywhere: end every web session of the credential's holder",
    responses(
        (status = 200, description = "How many sessions were ended", body = SessionsEnded),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
    ),
    security(("bearer" = ["participant"]), ("bearer" = ["organizer"])),
)]
pub async fn end_all(State(state): State<AppState>, Bearer(bearer): Bearer) -> ApiResult<Json<SessionsEnded>> {
    let credential = credential(&state, &bearer).await?;
    // The token or one of its sessions (a browser left signed in elsewhere is what this is
    // for); a scoped token stands for less than the holder and may not sign them out.
    if matches!(credential.kind, CurrentCredential::Scoped(_)) {
        return Err(ApiError::Forbidden(
            "a scoped token cannot sign its holder out: use your own token (from 'darkroom register') or a web session"
                .into(),
        ));
    }
    let (token_hash, organizer) = match holder_of(&state, &credential).await? {
        Holder::Organizer => (state.admin_token_hash.clone(), true),
        Holder::Participant(p) => (p.token_hash, false),
    };
    let ended = sessions::end_all(&state.db, &token_hash, organizer).await?;
    tracing::info!(organizer, ended, "signed out everywhere");
    Ok(Json(SessionsEnded { ended }))
}
