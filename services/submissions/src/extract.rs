//! Request extractors that turn every rejection into an [`ApiError`]: JSON bodies (with the
//! path of a wrong field), query strings, and the bearer credentials: the organizer's
//! ([`Admin`]), a participant's ([`Caller`]), or either ([`Viewer`]). A credential is a token, a
//! web session's secret ([`crate::sessions`]), which stands for the token that opened it, or a
//! scoped token ([`crate::scoped_tokens`]), which stands for the token that minted it but may
//! only read (`GET`) or write what its scopes say.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::de::DeserializeOwned;

use crate::auth::hash_token;
use crate::db::entities::participant;
use crate::error::ApiError;
use crate::state::AppState;
use crate::{scoped_tokens, sessions, token_replacement};
use darkroom_api::{CurrentCredential, TokenScope};

/// A JSON body. Wrong syntax, a wrong type or a missing field answers 400 naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json =
            req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "expected a JSON body: send it with 'Content-Type: application/json'".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge("the JSON body is larger than this server accepts (max_json_bytes)".into())
            } else {
                ApiError::bad_request("unreadable_body", format!("could not read the body: {e}"))
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Deserialises JSON, naming the path of the offending field (`phases[1].ends_at`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("the body is not valid JSON: {inner}")
        } else if path == "." {
            format!("the body does not have the expected shape: {inner}")
        } else {
            format!("field '{path}': {inner}")
        };
        ApiError::bad_request("bad_json", message)
    })
}

/// A query string.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|e| ApiError::bad_request("bad_query", e.body_text()))
    }
}

/// The bearer token of a request, or 401 saying what the header must look like.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("missing 'Authorization: Bearer <token>' header".into()))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be 'Bearer <token>'".into()))
}

/// Whom a bearer credential stands for, once it is known to be valid.
pub(crate) enum Holder {
    Organizer,
    Participant(participant::Model),
}

/// A bearer credential, once known to be valid: the hash of the token it stands for (its own
/// for a token; for a session or a scoped token, that of the token that opened or minted it),
/// and what it is, as `GET /tokens/current` tells it (a scoped token with its scopes).
pub(crate) struct Credential {
    pub token_hash: String,
    pub kind: CurrentCredential,
}

impl Credential {
    pub fn is_session(&self) -> bool {
        matches!(self.kind, CurrentCredential::Session { .. })
    }

    /// What it may do: `None` all its holder may; a scoped token its scopes.
    pub fn scopes(&self) -> Option<&[TokenScope]> {
        match &self.kind {
            CurrentCredential::Scoped(token) => Some(&token.scopes),
            CurrentCredential::Own | CurrentCredential::Session { .. } => None,
        }
    }
}

/// What `bearer` is (401 saying to sign in again, or to mint a new token, when it is a session
/// or scoped token no longer live).
pub(crate) async fn credential(state: &AppState, bearer: &str) -> Result<Credential, ApiError> {
    if scoped_tokens::is_scoped(bearer) {
        let token = scoped_tokens::find(state, bearer).await?;
        let kind = CurrentCredential::Scoped(scoped_tokens::view(&token));
        return Ok(Credential { token_hash: token.owner_token_hash, kind });
    }
    if !sessions::is_session(bearer) {
        return Ok(Credential { token_hash: hash_token(bearer), kind: CurrentCredential::Own });
    }
    let session = sessions::find(state, bearer).await?;
    if session.organizer && session.token_hash != state.admin_token_hash {
        return Err(ApiError::Unauthorized(
            "the organizer's token changed since this session began; sign in again with the new one".into(),
        ));
    }
    let kind = CurrentCredential::Session { expires_at: session.expires_at };
    Ok(Credential { token_hash: session.token_hash, kind })
}

/// The organizer or the participant a credential stands for; 401 for one nobody holds.
pub(crate) async fn holder_of(state: &AppState, credential: &Credential) -> Result<Holder, ApiError> {
    // Comparing hashes keeps the comparison's time independent of the secret's prefix.
    if credential.token_hash == state.admin_token_hash {
        return Ok(Holder::Organizer);
    }
    let found = participant::Entity::find()
        .filter(participant::Column::TokenHash.eq(&credential.token_hash))
        .one(&state.db)
        .await?;
    if let Some(p) = found {
        return Ok(Holder::Participant(p));
    }
    Err(ApiError::Unauthorized(if credential.is_session() {
        "this session's participant is no longer known; sign in again".into()
    } else if credential.scopes().is_some() {
        "this scoped token's participant is no longer known".into()
    } else if let Some(replaced) = token_replacement::refusal(&state.db, &credential.token_hash).await? {
        replaced
    } else {
        "unknown participant token: register first, or check the token you saved".into()
    }))
}

/// The holder of `bearer` when it is their own token (`darkroom register`'s, or the admin
/// token). A session or a scoped token is refused: what manages credentials (`what`, e.g.
/// "scoped tokens are managed") must not let a stolen cookie or a leaked scoped token outgrow
/// or outlive itself.
pub(crate) async fn own_token_holder(state: &AppState, bearer: &str, what: &str) -> Result<Holder, ApiError> {
    let credential = credential(state, bearer).await?;
    if !matches!(credential.kind, CurrentCredential::Own) {
        return Err(ApiError::Forbidden(format!(
            "{what} with your own token only (not a web session or a scoped token): use the token 'darkroom \
             register' gave you, or the admin token"
        )));
    }
    holder_of(state, &credential).await
}

/// The organizer or the participant a bearer credential (token, session or scoped token)
/// stands for; 401 for one nobody holds.
pub(crate) async fn holder(state: &AppState, bearer: &str) -> Result<Holder, ApiError> {
    holder_of(state, &credential(state, bearer).await?).await
}

/// An organizer: the bearer is the configured admin token, a live session opened with it, or a
/// scoped token it minted whose scopes allow the request (`read` to read, `organize` to change).
pub struct Admin;

impl<S: Send + Sync> FromRequestParts<S> for Admin
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let bearer = bearer(&parts.headers)?;
        // A participant's token (or an unknown one) is refused without a lookup, as before
        // sessions; an expired or revoked session is 401, so the page asks to sign in again.
        let credential = credential(&state, bearer).await?;
        if credential.token_hash != state.admin_token_hash {
            return Err(ApiError::Forbidden("this endpoint needs the organizer's admin token".into()));
        }
        scoped_tokens::check(credential.scopes(), scoped_tokens::needed(&parts.method, true))?;
        Ok(Admin)
    }
}

/// A registered participant, found by the hash of their bearer token (or of the token behind
/// their session or scoped token, whose scopes must allow the request).
pub struct Caller(pub participant::Model);

impl<S: Send + Sync> FromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let credential = credential(&state, bearer(&parts.headers)?).await?;
        match holder_of(&state, &credential).await? {
            Holder::Participant(p) => {
                scoped_tokens::check(credential.scopes(), scoped_tokens::needed(&parts.method, false))?;
                Ok(Caller(p))
            }
            Holder::Organizer => Err(ApiError::Unauthorized(
                "this endpoint is a participant's: the organizer's token or session is not one; use a participant token"
                    .into(),
            )),
        }
    }
}

/// Whoever holds a known token or live session, on endpoints both roles use: the organizer or
/// a registered participant. Anything else is 401.
pub enum Viewer {
    Organizer,
    Participant(participant::Model),
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let credential = credential(&state, bearer(&parts.headers)?).await?;
        let viewer = match holder_of(&state, &credential).await? {
            Holder::Organizer => Viewer::Organizer,
            Holder::Participant(p) => Viewer::Participant(p),
        };
        let organizer = matches!(viewer, Viewer::Organizer);
        scoped_tokens::check(credential.scopes(), scoped_tokens::needed(&parts.method, organizer))?;
        Ok(viewer)
    }
}

/// Whether the request carries the organizer's token (or a live session opened with it), on
/// public endpoints that show the organizer more (the sealed private board). Any other
/// credential, or none, is the public: never a rejection.
pub struct MaybeOrganizer(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for MaybeOrganizer
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let Ok(bearer) = bearer(&parts.headers) else { return Ok(MaybeOrganizer(false)) };
        let organizer = match credential(&state, bearer).await {
            Ok(c) => {
                c.token_hash == state.admin_token_hash
                    && scoped_tokens::check(c.scopes(), scoped_tokens::needed(&parts.method, true)).is_ok()
            }
            Err(ApiError::Internal(e)) => return Err(ApiError::Internal(e)),
            Err(_) => false,
        };
        Ok(MaybeOrganizer(organizer))
    }
}

/// The bearer credential itself, for the session endpoints: opening one needs a token,
/// revoking one needs its secret.
pub struct Bearer(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        bearer(&parts.headers).map(|b| Bearer(b.to_owned()))
    }
}
