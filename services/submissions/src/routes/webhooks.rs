//! The organizer's webhooks of a challenge (see [`crate::webhooks`] and
//! `darkroom_api::webhook`): `POST`/`GET /challenges/{slug}/webhooks`, `DELETE
//! /challenges/{slug}/webhooks/{id}`, `GET /challenges/{slug}/webhooks/{id}/deliveries`.
//! Organizers only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use darkroom_api::{CreateWebhook, CreatedWebhook, DeliveriesQuery, WebhookDelivery, WebhookView};

use crate::error::ApiResult;
use crate::extract::{Admin, ApiJson, ApiQuery};
use crate::state::AppState;

/// `POST /challenges/{slug}/webhooks`: registers a URL; the answer holds its signing secret,
/// shown this once.
pub async fn create(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    Ok((StatusCode::CREATED, Json(crate::webhooks::create(&state, &slug, body).await?)))
}

/// `GET /challenges/{slug}/webhooks`: the challenge's webhooks, without their secrets.
pub async fn list(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<WebhookView>>> {
    Ok(Json(crate::webhooks::list(&state, &slug).await?))
}

/// `DELETE /challenges/{slug}/webhooks/{id}`: removes a webhook and its delivery log.
pub async fn remove(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    crate::webhooks::remove(&state, &slug, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /challenges/{slug}/webhooks/{id}/deliveries?limit=`: the delivery log, newest first.
pub async fn deliveries(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<Vec<WebhookDelivery>>> {
    Ok(Json(crate::webhooks::deliveries(&state, &slug, &id, query.limit).await?))
}
