//! What every handler shares.

use std::sync::Arc;

use darkroom_core::config::SubmissionsConfig;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::leaderboard::{BoardCache, ScoreStore};

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<SubmissionsConfig>,
    pub admin_token_hash: String,
    /// Wakes the outbox relay after a commit that added events.
    pub outbox_wakeup: Arc<Notify>,
    /// One turn at a time for admission + insert, team changes, disqualification and token
    /// replacement, in this instance and (on PostgreSQL) across instances: see
    /// [`crate::submit_lock`].
    pub submit_lock: crate::submit_lock::SubmitLock,
    pub nats: async_nats::Client,
    pub scores: Arc<dyn ScoreStore>,
    pub boards: Arc<BoardCache>,
    /// Pins submitted image names to digests; talks only to `submissions.registries`.
    pub registries: crate::registry::Registries,
    /// Uploads in progress per participant, at most `max_concurrent_uploads` each.
    pub uploads: crate::tarball::UploadSlots,
    /// The per-address and per-token limits on registration and submitting.
    pub limits: crate::rate_limit::RateLimits,
    /// The `[webhooks]` settings registration checks against.
    pub webhooks: Arc<darkroom_core::config::WebhooksConfig>,
}
