//! Request extractors that turn every rejection into an [`ApiError`]: JSON bodies (with the
//! path of a wrong field), query strings, and the bearer tokens: the organizer's ([`Admin`]), a
//! participant's ([`Caller`]), or either ([`Viewer`]).

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

/// An organizer: the bearer token matches the configured admin token.
pub struct Admin;

impl<S: Send + Sync> FromRequestParts<S> for Admin
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let token = bearer(&parts.headers)?;
        // Comparing hashes keeps the comparison's time independent of the secret's prefix.
        if hash_token(token) == state.admin_token_hash {
            Ok(Admin)
        } else {
            Err(ApiError::Forbidden("this endpoint needs the organizer's admin token".into()))
        }
    }
}

/// The participant whose token hashes to `token`'s hash, or 401 saying how to get one.
async fn participant_by_token(state: &AppState, token: &str) -> Result<participant::Model, ApiError> {
    participant::Entity::find()
        .filter(participant::Column::TokenHash.eq(hash_token(token)))
        .one(&state.db)
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized("unknown participant token: register first, or check the token you saved".into())
        })
}

/// A registered participant, found by the hash of their bearer token.
pub struct Caller(pub participant::Model);

impl<S: Send + Sync> FromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let token = bearer(&parts.headers)?;
        participant_by_token(&state, token).await.map(Caller)
    }
}

/// Whoever holds a known token, on endpoints both roles use: the organizer (the admin token,
/// compared first, as [`Admin`] does) or a registered participant. Any other token is 401.
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
        let token = bearer(&parts.headers)?;
        if hash_token(token) == state.admin_token_hash {
            return Ok(Viewer::Organizer);
        }
        participant_by_token(&state, token).await.map(Viewer::Participant)
    }
}

/// Whether the request carries the organizer's token, on public endpoints that show the
/// organizer more (the sealed private board). Any other token, or none, is the public: never a
/// rejection.
pub struct MaybeOrganizer(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for MaybeOrganizer
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        Ok(MaybeOrganizer(bearer(&parts.headers).is_ok_and(|t| hash_token(t) == state.admin_token_hash)))
    }
}
