//! The organizer's webhooks (issue 18; shapes and the receiver's contract in
//! `darkroom_api::webhook`): registering, listing and removing them, and their delivery log.
//!
//! - [`target`]: which URLs may be registered and which addresses a POST may reach (SSRF).
//! - [`record`]: records one delivery per event and webhook (called by the lifecycle and the
//!   state consumer).
//! - [`send`]: the sender that POSTs due deliveries, signed, retrying with backoff.

pub mod record;
pub mod send;
pub mod target;

use chrono::Utc;
use darkroom_api::webhook::{DEFAULT_DELIVERIES_PAGE, MAX_DELIVERIES_PAGE};
use darkroom_api::{CreateWebhook, CreatedWebhook, DeliveryState, WebhookDelivery, WebhookEvent, WebhookView};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;

use crate::auth::new_secret;
use crate::db::entities::{webhook, webhook_delivery};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// What every signing secret starts with, so one found in a file says what it is.
pub const SECRET_PREFIX: &str = "whsec_";

/// The events a webhook row wants; a word this version does not know is left out.
pub fn events_of(row: &webhook::Model) -> Vec<WebhookEvent> {
    row.events.split(',').filter_map(WebhookEvent::parse).collect()
}

fn view(row: &webhook::Model) -> WebhookView {
    WebhookView {
        id: row.id.clone(),
        challenge: row.challenge.clone(),
        url: row.url.clone(),
        events: events_of(row),
        created_at: row.created_at,
    }
}

fn delivery_view(row: webhook_delivery::Model) -> WebhookDelivery {
    WebhookDelivery {
        event: WebhookEvent::parse(&row.event).unwrap_or(WebhookEvent::Submission),
        state: DeliveryState::parse(&row.state).unwrap_or(DeliveryState::Pending),
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        last_status: row.last_status.and_then(|s| u16::try_from(s).ok()),
        next_attempt_at: row.next_attempt_at.filter(|_| row.state == DeliveryState::Pending.as_str()),
        id: row.id,
        event_id: row.event_id,
        last_error: row.last_error,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Registers a webhook for `slug` (which must exist) and returns it with its secret.
pub async fn create(state: &AppState, slug: &str, body: CreateWebhook) -> ApiResult<CreatedWebhook> {
    crate::db::require_challenge(&state.db, slug).await?;
    let url = target::check_url(&body.url, state.webhooks.allow_private_targets)
        .map_err(|r| ApiError::field("url", r.problem, r.fix))?;
    let mut events = body.events.unwrap_or_else(|| WebhookEvent::ALL.to_vec());
    if events.is_empty() {
        return Err(ApiError::field(
            "events",
            "is empty",
            "name what to be told of (submission, board, announcement), or leave events out for all",
        ));
    }
    events.sort();
    events.dedup();
    let txn = state.db.begin().await?;
    let existing = webhook::Entity::find().filter(webhook::Column::Challenge.eq(slug)).count(&txn).await?;
    let cap = state.webhooks.max_per_challenge;
    if usize::try_from(existing).unwrap_or(usize::MAX) >= cap {
        return Err(ApiError::conflict(
            "webhook_limit",
            format!(
                "challenge '{slug}' has {existing} webhooks, the most it may have ({cap}, webhooks.max_per_challenge); \
                 remove one first"
            ),
        ));
    }
    let secret = new_secret(SECRET_PREFIX, 32);
    let row = webhook::ActiveModel {
        id: Set(Uuid::now_v7().to_string()),
        challenge: Set(slug.to_owned()),
        url: Set(url.to_string()),
        events: Set(events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",")),
        secret: Set(secret.clone()),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    tracing::info!(challenge = %slug, webhook = %row.id, url = %row.url, "webhook registered");
    Ok(CreatedWebhook { secret, webhook: view(&row) })
}

/// The challenge's webhooks, oldest first, without their secrets.
pub async fn list(state: &AppState, slug: &str) -> ApiResult<Vec<WebhookView>> {
    crate::db::require_challenge(&state.db, slug).await?;
    let rows = webhook::Entity::find()
        .filter(webhook::Column::Challenge.eq(slug))
        .order_by_asc(webhook::Column::CreatedAt)
        .order_by_asc(webhook::Column::Id)
        .all(&state.db)
        .await?;
    Ok(rows.iter().map(view).collect())
}

async fn find(state: &AppState, slug: &str, id: &str) -> ApiResult<webhook::Model> {
    webhook::Entity::find_by_id(id.to_owned())
        .filter(webhook::Column::Challenge.eq(slug))
        .one(&state.db)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "challenge '{slug}' has no webhook '{id}'; list them with darkroom webhook list {slug} (GET /api/v1/challenges/{slug}/webhooks)"
            ))
        })
}

/// Removes a webhook and its delivery log; pending deliveries are not sent.
pub async fn remove(state: &AppState, slug: &str, id: &str) -> ApiResult<()> {
    find(state, slug, id).await?;
    let txn = state.db.begin().await?;
    webhook_delivery::Entity::delete_many().filter(webhook_delivery::Column::WebhookId.eq(id)).exec(&txn).await?;
    webhook::Entity::delete_by_id(id.to_owned()).exec(&txn).await?;
    txn.commit().await?;
    tracing::info!(challenge = %slug, webhook = %id, "webhook removed");
    Ok(())
}

/// A webhook's deliveries, newest first, at most `limit`.
pub async fn deliveries(state: &AppState, slug: &str, id: &str, limit: Option<u64>) -> ApiResult<Vec<WebhookDelivery>> {
    let limit = limit.unwrap_or(DEFAULT_DELIVERIES_PAGE);
    if !(1..=MAX_DELIVERIES_PAGE).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            format!("is {limit}"),
            format!("ask for 1 to {MAX_DELIVERIES_PAGE} deliveries"),
        ));
    }
    find(state, slug, id).await?;
    let rows = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::WebhookId.eq(id))
        .order_by_desc(webhook_delivery::Column::CreatedAt)
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().map(delivery_view).collect())
}
