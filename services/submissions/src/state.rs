//! What every handler shares.

use std::sync::Arc;

use darkroom_core::config::SubmissionsConfig;
use sea_orm::DatabaseConnection;
use tokio::sync::{Mutex, Notify};

use crate::leaderboard::{BoardCache, ScoreStore};

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<SubmissionsConfig>,
    pub admin_token_hash: String,
    /// Wakes the outbox relay after a commit that added events.
    pub outbox_wakeup: Arc<Notify>,
    /// Serialises quota check + insert, so two concurrent submits cannot both take the last
    /// slot, and makes storing an upload + referencing it atomic for the upload sweep (which
    /// holds it while it deletes). This service is the single writer of submissions, so a
    /// process-local lock suffices.
    pub submit_lock: Arc<Mutex<()>>,
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
