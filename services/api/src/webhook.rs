//! Webhooks (issue 18): the organizer registers URLs for a challenge; its submissions' state
//! changes, its board's changes and its announcements are POSTed to them, signed, and retried
//! with backoff. An announcement's `body` is sent as the organizer wrote it (Markdown, not
//! sanitised): a receiver that shows it as HTML sanitises it first.
//!
//! - `POST /challenges/{slug}/webhooks` ([`CreateWebhook`] → [`CreatedWebhook`], the signing
//!   secret shown once), `GET /challenges/{slug}/webhooks` ([`WebhookView`]s, never a secret),
//!   `DELETE /challenges/{slug}/webhooks/{id}`, `GET /challenges/{slug}/webhooks/{id}/deliveries`
//!   ([`DeliveriesQuery`] → [`WebhookDelivery`]s, newest first): the organizer's only.
//! - What a receiver gets: a [`WebhookPayload`] as the body, with the headers named below. The
//!   signature is `sha256=` and the hex HMAC-SHA256, keyed with the secret, of the timestamp
//!   header's value, a `.`, and the body's bytes; a receiver recomputes it and compares, and
//!   refuses an old timestamp to stop replays. A delivery may arrive twice (after a crash of
//!   the sender between the POST and recording it): its [`DELIVERY_HEADER`] id is the same
//!   then, so a receiver dedupes by it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Announcement, ParticipantId, SubmissionId, SubmissionState};

/// `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
pub const SIGNATURE_HEADER: &str = "X-Darkroom-Signature";
/// When the delivery was signed, in Unix seconds: part of what is signed.
pub const TIMESTAMP_HEADER: &str = "X-Darkroom-Timestamp";
/// The delivery's id ([`WebhookPayload::id`]): the same on every attempt, for deduplication.
pub const DELIVERY_HEADER: &str = "X-Darkroom-Delivery";
/// The event's kind ([`WebhookEvent::as_str`]).
pub const EVENT_HEADER: &str = "X-Darkroom-Event";

/// The longest URL a webhook may have.
pub const MAX_WEBHOOK_URL_LEN: usize = 2048;
/// The most deliveries `GET …/deliveries` lists at once, and how many when not told.
pub const MAX_DELIVERIES_PAGE: u64 = 500;
pub const DEFAULT_DELIVERIES_PAGE: u64 = 50;

/// What a webhook is told about.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEvent {
    /// A submission of the challenge changed state ([`SubmissionChange`]).
    Submission,
    /// A score was recorded on the challenge's board ([`BoardChange`]).
    Board,
    /// The organizer posted or edited an announcement ([`Announcement`], with `edited_at` for
    /// an edit), e.g. to relay it to a chat the participants read.
    Announcement,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 3] = [WebhookEvent::Submission, WebhookEvent::Board, WebhookEvent::Announcement];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::Submission => "submission",
            WebhookEvent::Board => "board",
            WebhookEvent::Announcement => "announcement",
        }
    }

    /// The event named `s` (`submission`, `board`, `announcement`), if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

impl std::fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /challenges/{slug}/webhooks`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `http://` or `https://`, without user or password, at most [`MAX_WEBHOOK_URL_LEN`].
    pub url: String,
    /// What to be told about; every event when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<WebhookEvent>>,
}

/// A webhook as listed: never its secret.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookView {
    /// What `DELETE …/webhooks/{id}` and `…/deliveries` name.
    pub id: String,
    pub challenge: String,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub created_at: DateTime<Utc>,
}

/// The answer of `POST …/webhooks`: the signing secret, shown this once, and the webhook.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedWebhook {
    pub secret: String,
    #[serde(flatten)]
    pub webhook: WebhookView,
}

/// Where a delivery stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet: its next attempt is due at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed (or the target was refused); `last_status`/`last_error` say why.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed].into_iter().find(|d| d.as_str() == s)
    }
}

/// One event's delivery to one webhook, as the organizer's delivery log shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// The [`DELIVERY_HEADER`] id.
    pub id: String,
    pub event: WebhookEvent,
    /// The Darkroom event it tells of.
    pub event_id: String,
    pub state: DeliveryState,
    /// POSTs made so far.
    pub attempts: u32,
    /// The receiver's status code at the last attempt, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// Why the last attempt failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the next attempt is due (pending deliveries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET …/webhooks/{id}/deliveries?limit=`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// 1 to [`MAX_DELIVERIES_PAGE`]; [`DEFAULT_DELIVERIES_PAGE`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// The body POSTed to a webhook.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// The delivery's id, as in [`DELIVERY_HEADER`].
    pub id: String,
    pub event: WebhookEvent,
    pub challenge: String,
    pub occurred_at: DateTime<Utc>,
    pub data: WebhookData,
}

/// What happened: a [`SubmissionChange`] for `submission` events, a [`BoardChange`] for `board`,
/// the [`Announcement`] itself for `announcement`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WebhookData {
    Submission(SubmissionChange),
    Board(BoardChange),
    Announcement(Announcement),
}

/// A submission moved to `state` (as the event that moved it says; events of one submission
/// may arrive out of order: `attempt` and the payload's `occurred_at` order them).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionChange {
    pub submission_id: SubmissionId,
    pub phase: String,
    pub participant_id: ParticipantId,
    pub state: SubmissionState,
    pub attempt: u32,
    /// Why (a failure's reason, why it waits, why it is retried), where the event says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A score was recorded on the phase's board: its public metrics.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardChange {
    pub phase: String,
    pub submission_id: SubmissionId,
    pub participant_id: ParticipantId,
    pub metrics: BTreeMap<String, f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_states_keep_their_spelling() {
        for e in WebhookEvent::ALL {
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
            assert_eq!(WebhookEvent::parse(e.as_str()), Some(e));
        }
        assert_eq!(WebhookEvent::parse("scores"), None);
        assert_eq!(serde_json::to_value(DeliveryState::Delivered).unwrap(), "delivered");
        assert_eq!(DeliveryState::parse("failed"), Some(DeliveryState::Failed));
    }

    #[test]
    fn a_payload_reads_back_as_the_data_it_carries() {
        let board = WebhookPayload {
            id: "d".into(),
            event: WebhookEvent::Board,
            challenge: "c".into(),
            occurred_at: "2028-01-02T03:04:05Z".parse().unwrap(),
            data: WebhookData::Board(BoardChange {
                phase: "dev".into(),
                submission_id: "0190a7c2-5b1e-7c3d-8e4f-0123456789ab".parse().unwrap(),
                participant_id: "0190a7c2-5b1e-7c3d-8e4f-0123456789ac".parse().unwrap(),
                metrics: BTreeMap::from([("accuracy".into(), 0.5)]),
            }),
        };
        let back: WebhookPayload = serde_json::from_str(&serde_json::to_string(&board).unwrap()).unwrap();
        assert_eq!(back, board);
    }
}
