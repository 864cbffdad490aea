//! `POST /tokens`, `GET /tokens`, `DELETE /tokens/{id}`: a holder's scoped tokens
//! ([`crate::scoped_tokens`]), managed with the holder's own token only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use darkroom_api::{CurrentCredential, MintToken, MintedToken, TokenView};

use super::openapi::{self as doc, TokenPath};
use crate::error::ApiResult;
use crate::extract::{ApiJson, Bearer, Holder, credential, holder_of, own_token_holder};
use crate::scoped_tokens;
use crate::state::AppState;

/// The holder of `bearer` when it is their own token: `(token hash, organizer)`. A session or a
/// scoped token is refused, so neither can mint something that outlives or outgrows it.
async fn own_token(state: &AppState, bearer: &str) -> ApiResult<(String, bool)> {
    Ok(match own_token_holder(state, bearer, "scoped tokens are managed").await? {
        Holder::Organizer => (state.admin_token_hash.clone(), true),
        Holder::Participant(p) => (p.token_hash, false),
    })
}

#[utoipa::path(
    post,
    path = "/tokens",
    operation_id = "mint_token",
    summary = "Mint a scoped token, with the holder's own token",
    request_body = MintToken,
    responses(
        (status = 201, description = "The token, shown this once, and what it may do", body = MintedToken),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
    ),
    security(("bearer" = ["participant"]), ("bearer" = ["organizer"])),
)]
pub async fn mint(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    ApiJson(request): ApiJson<MintToken>,
) -> ApiResult<(StatusCode, Json<MintedToken>)> {
    let (owner, organizer) = own_token(&state, &bearer).await?;
    let minted = scoped_tokens::mint(&state, owner, organizer, request).await?;
    tracing::info!(organizer, token = %minted.view.id, scopes = ?minted.view.scopes, "scoped token minted");
    Ok((StatusCode::CREATED, Json(minted)))
}

#[utoipa::path(
    get,
    path = "/tokens",
    operation_id = "list_tokens",
    summary = "The holder's scoped tokens (never their secrets)",
    responses(
        (status = 200, description = "The tokens", body = Vec<TokenView>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
    ),
    security(("bearer" = ["participant"]), ("bearer" = ["organizer"])),
)]
pub async fn list(State(state): State<AppState>, Bearer(bearer): Bearer) -> ApiResult<Json<Vec<TokenView>>> {
    let (owner, _) = own_token(&state, &bearer).await?;
    Ok(Json(scoped_tokens::list(&state, &owner).await?))
}

/// What the request's own credential is: any credential may ask, whatever its scopes, since
/// the answer is only what its bearer already holds.
#[utoipa::path(
    get,
    path = "/tokens/current",
    operation_id = "current_token",
    summary = "What the request's credential is: the holder's own token, a web session, or a scoped token",
    responses(
        (status = 200, description = "The credential's kind, and for a scoped token what it may do until when", body = CurrentCredential),
        (status = 401, response = doc::Unauthorized),
    ),
    security(("bearer" = ["participant"]), ("bearer" = ["organizer"])),
)]
pub async fn current(State(state): State<AppState>, Bearer(bearer): Bearer) -> ApiResult<Json<CurrentCredential>> {
    let credential = credential(&state, &bearer).await?;
    // 401 for a token nobody holds, as every other route answers it.
    holder_of(&state, &credential).await?;
    Ok(Json(credential.kind))
}

#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    operation_id = "revoke_token",
    summary = "Revoke a scoped token",
    params(TokenPath),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["participant"]), ("bearer" = ["organizer"])),
)]
pub async fn revoke(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (owner, _) = own_token(&state, &bearer).await?;
    scoped_tokens::revoke(&state, &owner, &id).await?;
    tracing::info!(token = %id, "scoped token revoked");
    Ok(StatusCode::NO_CONTENT)
}
