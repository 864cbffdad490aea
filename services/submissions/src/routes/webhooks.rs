//! The organizer's webhooks of a challenge (see [`crate::webhooks`] and
//! `darkroom_api::webhook`): `POST`/`GET /challenges/{slug}/webhooks`, `DELETE
//! /challenges/{slug}/webhooks/{id}`, `GET /challenges/{slug}/webhooks/{id}/deliveries`.
//! Organizers only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use darkroom_api::{CreateWebhook, CreatedWebhook, DeliveriesQuery, WebhookDelivery, WebhookView};

use super::openapi::{self as doc, SlugPath, WebhookPath};
use crate::error::ApiResult;
use crate::extract::{Admin, ApiJson, ApiQuery};
use crate::state::AppState;

/// `POST /challenges/{slug}/webhooks`: registers a URL; the answer holds its signing secret,
/// shown this once.
#[utoipa::path(
    post,
    path = "/challenges/{slug}/webhooks",
    operation_id = "create_webhook",
    summary = "Register a webhook; its signing secret is shown this once",
    params(SlugPath),
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "The webhook and its signing secret", body = CreatedWebhook),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn create(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    Ok((StatusCode::CREATED, Json(crate::webhooks::create(&state, &slug, body).await?)))
}

/// `GET /challenges/{slug}/webhooks`: the challenge's webhooks, without their secrets.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/webhooks",
    operation_id = "list_webhooks",
    summary = "A challenge's webhooks, without their secrets",
    params(SlugPath),
    responses(
        (status = 200, description = "The webhooks", body = Vec<WebhookView>),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn list(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<WebhookView>>> {
    Ok(Json(crate::webhooks::list(&state, &slug).await?))
}

/// `DELETE /challenges/{slug}/webhooks/{id}`: removes a webhook and its delivery log.
#[utoipa::path(
    delete,
    path = "/challenges/{slug}/webhooks/{id}",
    operation_id = "remove_webhook",
    summary = "Remove a webhook and its delivery log",
    params(WebhookPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn remove(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    crate::webhooks::remove(&state, &slug, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /challenges/{slug}/webhooks/{id}/deliveries?limit=`: the delivery log, newest first.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/webhooks/{id}/deliveries",
    operation_id = "list_webhook_deliveries",
    summary = "A webhook's delivery log, newest first",
    params(WebhookPath, DeliveriesQuery),
    responses(
        (status = 200, description = "The deliveries", body = Vec<WebhookDelivery>),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 422, response = doc::Unprocessable),
    ),
    security(("bearer" = ["organizer"])),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<Vec<WebhookDelivery>>> {
    Ok(Json(crate::webhooks::deliveries(&state, &slug, &id, query.limit).await?))
}
