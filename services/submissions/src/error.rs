//! The API's one error shape, `{"error": {"code", "message", "details"?, "retry_at"?}}`
//! (`darkroom_api::ErrorBody`), and the status each failure answers with.
//!
//! Every rejection — ours, axum's extractors', an unknown route — leaves through [`ApiError`], so
//! a client always gets JSON that says what is wrong and how to fix it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use darkroom_api::{ErrorBody, ErrorDetail, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("the request has {} invalid field(s)", .0.len())]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// Forbidden for a reason a client may act on, named by `code` (e.g. `logs_hidden`).
    #[error("{message}")]
    Denied { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// What was asked for existed once and was removed for good (e.g. an expired upload).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    QuotaExceeded { message: String, retry_at: Option<DateTime<Utc>> },
    /// Too many requests from one address or token in a short time; `retry_after` says when
    /// the next one is allowed.
    #[error("{message}")]
    RateLimited { message: String, retry_after: std::time::Duration },
    /// Too much at once from one client, with no time to name: retry when something it has
    /// in progress ends (e.g. `too_many_uploads`).
    #[error("{message}")]
    Busy { code: &'static str, message: String },
    #[error("{0}")]
    Unavailable(String),
    /// A service we depend on for this request (a participant's registry) failed.
    #[error("{message}")]
    BadGateway { code: &'static str, message: String },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, message: message.into() }
    }

    pub fn denied(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Denied { code, message: message.into() }
    }

    /// 404 for a challenge that does not exist, with where to find the ones that do.
    pub fn no_challenge(slug: &str) -> Self {
        ApiError::NotFound(format!(
            "no challenge '{slug}'; list them with darkroom challenge list (GET /api/v1/challenges)"
        ))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict { code, message: message.into() }
    }

    pub fn field(field: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, problem, fix)])
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_fields"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Denied { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::Gone { code, .. } => (StatusCode::GONE, code),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::QuotaExceeded { .. } => (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Busy { code, .. } => (StatusCode::TOO_MANY_REQUESTS, code),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::BadGateway { code, .. } => (StatusCode::BAD_GATEWAY, code),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::Internal(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            ApiError::Internal(e) => {
                // The cause goes to the log, never to the client.
                tracing::error!(error = ?e, "request failed");
                "something went wrong on our side; it has been logged, please retry".to_owned()
            }
            ApiError::Invalid(fields) => {
                let list: Vec<String> = fields.iter().map(ToString::to_string).collect();
                format!("invalid input: {}", list.join("; "))
            }
            other => other.to_string(),
        };
        let now = Utc::now();
        let (details, retry_at) = match &self {
            ApiError::Invalid(fields) => (Some(fields.clone()), None),
            ApiError::QuotaExceeded { retry_at, .. } => (None, *retry_at),
            ApiError::RateLimited { retry_after, .. } => {
                (None, chrono::TimeDelta::from_std(*retry_after).ok().map(|wait| now + wait))
            }
            _ => (None, None),
        };
        let body = ErrorBody { error: ErrorDetail { code: code.to_owned(), message, details, retry_at } };
        let mut response = (status, Json(body)).into_response();
        if let Some(at) = retry_at {
            // Whole seconds, rounded up: a client that waits that long is let in.
            let secs = ((at - now).num_milliseconds().max(0) as u64).div_ceil(1000).max(1);
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
