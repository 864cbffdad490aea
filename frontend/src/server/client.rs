//! The submissions API, as the pages' server calls it: the same endpoints and JSON as the CLI.

use darkroom_api::ErrorBody;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why the API gave no answer the page can use.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    /// No credential, or one the API no longer accepts (an unknown token, an expired session).
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// The API refused the request as it stands (e.g. cancelling a running submission).
    #[error("{0}")]
    Refused(String),
    /// The API is unreachable or failed; the visitor can only try again later.
    #[error("{0}")]
    Unavailable(String),
}

#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
}

impl ApiClient {
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("a reqwest client with a timeout always builds");
        Self { http, base: base_url.trim_end_matches('/').to_owned() }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str, token: Option<&str>) -> Result<T, ApiError> {
        self.send(Method::GET, path, token, None::<&()>).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, token: Option<&str>) -> Result<T, ApiError> {
        self.send(Method::POST, path, token, None::<&()>).await
    }

    pub async fn post_json<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &B,
    ) -> Result<T, ApiError> {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn put<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &B,
    ) -> Result<T, ApiError> {
        self.send(Method::PUT, path, token, Some(body)).await
    }

    /// A DELETE answered with 204 and no body.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Result<(), ApiError> {
        self.delete_for(path, token).await
    }

    /// A DELETE answered with a body (what remains, say).
    pub async fn delete_for<T: DeserializeOwned>(&self, path: &str, token: Option<&str>) -> Result<T, ApiError> {
        self.send(Method::DELETE, path, token, None::<&()>).await
    }

    /// A public GET whose answer is passed on as it came (a board export): its content type,
    /// its content disposition, and its bytes.
    pub async fn get_file(&self, path: &str) -> Result<(String, Option<String>, axum::body::Bytes), ApiError> {
        let response = self.answer(Method::GET, path, None, None::<&()>).await?;
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let kind = header(reqwest::header::CONTENT_TYPE).unwrap_or_else(|| "application/octet-stream".into());
        let disposition = header(reqwest::header::CONTENT_DISPOSITION);
        let url = format!("{}/api/v1{path}", self.base);
        let bytes = response.bytes().await.map_err(|e| {
            tracing::warn!(%url, error = %e, "submissions API stopped mid-answer");
            ApiError::Unavailable("the submissions service stopped answering; try again in a moment".into())
        })?;
        Ok((kind, disposition, bytes))
    }

    async fn send<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let url = format!("{}/api/v1{path}", self.base);
        let response = self.answer(method, path, token, body).await?;
        if response.status() == StatusCode::NO_CONTENT {
            // No body to read: only a `()` (or another type that reads from `null`) expects this.
            return serde_json::from_value(serde_json::Value::Null).map_err(|_| {
                tracing::error!(%url, "the submissions API answered 204 where a body was expected");
                ApiError::Unavailable("the submissions service answered nothing where this page expected data".into())
            });
        }
        response.json::<T>().await.map_err(|e| {
            tracing::error!(%url, error = %e, "unexpected answer from the submissions API");
            ApiError::Unavailable("the submissions service answered something this page cannot read".into())
        })
    }

    /// Sends the request; a success is returned to be read, a failure becomes the error its
    /// status and body say.
    async fn answer<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<reqwest::Response, ApiError> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(%url, error = %e, "submissions API unreachable");
            ApiError::Unavailable("the submissions service cannot be reached right now; try again in a moment".into())
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = match response.json::<ErrorBody>().await {
            Ok(body) => body.error.message,
            Err(_) => format!("the submissions service answered {status}"),
        };
        Err(match status {
            StatusCode::NOT_FOUND => ApiError::NotFound(message),
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized(message),
            StatusCode::FORBIDDEN => ApiError::Forbidden(message),
            s if s.is_client_error() => ApiError::Refused(message),
            _ => {
                tracing::error!(%url, %status, %message, "submissions API failed");
                ApiError::Unavailable(message)
            }
        })
    }
}

/// The answer a plain route (an export, the feed) gives when the API gave none it can use:
/// the API's own message, under the status that says whose move it is.
impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::StatusCode as Status;
        let status = match self {
            ApiError::NotFound(_) => Status::NOT_FOUND,
            ApiError::Unavailable(_) => Status::BAD_GATEWAY,
            _ => Status::BAD_REQUEST,
        };
        (status, self.to_string()).into_response()
    }
}
