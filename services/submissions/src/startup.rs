//! Builds the application from configuration and runs it until a shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use darkroom_core::config::{HttpConfig, SubmissionsSettings};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::auth::hash_token;
use crate::leaderboard::ScoreStore;
use crate::state::AppState;

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    http: HttpConfig,
    background: tokio::task::JoinSet<()>,
}

impl Application {
    /// Connects the database (migrating it), the NATS client (without waiting for the server),
    /// starts the outbox relay, the state and run-log consumers, the webhook sender,
    /// the watchdog, the upload sweep and the phase closer, and binds the listener.
    pub async fn build(config: SubmissionsSettings) -> anyhow::Result<Self> {
        let scores = darkroom_core::scores::ScoreStore::new(&config.mongodb).await?;
        Self::build_with_scores(config, Arc::new(scores)).await
    }

    pub async fn build_with_scores(config: SubmissionsSettings, scores: Arc<dyn ScoreStore>) -> anyhow::Result<Self> {
        let sub = &config.submissions;
        let admin_token = sub.resolve_admin_token()?;
        sub.check_sessions()?;
        std::fs::create_dir_all(&sub.data_dir)
            .with_context(|| format!("submissions.data_dir: cannot create '{}'", sub.data_dir.display()))?;
        let url = sub.effective_database_url()?;
        let db = crate::db::connect(&url)
            .await
            .with_context(|| format!("submissions.database_url: cannot open '{}'", redact(&url)))?;
        let limits = crate::rate_limit::RateLimits::new(sub)?;
        config.webhooks.check()?;
        let nats = darkroom_core::bus::connect(&config.nats, "darkroom-submissions").await?;
        let wakeup = Arc::new(Notify::new());
        let submit_lock = crate::submit_lock::SubmitLock::new(db.clone());
        // Wakes the webhook sender when the state consumer records deliveries.
        let hooks_due = Arc::new(Notify::new());
        // A JoinSet aborts its tasks when dropped: also when the future serving the app is
        // dropped rather than shut down (a test's abort), no consumer or sweep outlives it.
        let mut background = tokio::task::JoinSet::new();
        background.spawn(crate::outbox::run_relay(db.clone(), nats.clone(), config.nats.clone(), wakeup.clone()));
        background.spawn(crate::consumer::run(
            db.clone(),
            nats.clone(),
            config.nats.clone(),
            wakeup.clone(),
            hooks_due.clone(),
        ));
        background.spawn(crate::run_log::run(db.clone(), nats.clone(), config.nats.clone()));
        background.spawn(crate::watchdog::run(db.clone(), sub.clone(), wakeup.clone(), nats.clone()));
        background.spawn(crate::upload_sweep::run(db.clone(), sub.clone(), submit_lock.clone()));
        background.spawn(crate::output_sweep::run(db.clone(), nats.clone(), sub.clone()));
        background.spawn(crate::phase_close::run(db.clone(), scores.clone(), sub.clone()));
        background.spawn(limits.clone().forget_idle_clients(Duration::from_secs(60)));
        background.spawn(crate::webhooks::send::run(db.clone(), config.webhooks.clone(), hooks_due));
        let registries =
            crate::registry::Registries::new(&sub.registries, Duration::from_secs(sub.registry_timeout_seconds.max(1)))
                .context("cannot build the registry client")?;
        let state = AppState {
            db,
            registries,
            config: Arc::new(sub.clone()),
            admin_token_hash: hash_token(&admin_token),
            outbox_wakeup: wakeup,
            submit_lock,
            nats,
            scores,
            boards: Default::default(),
            limits,
            uploads: crate::tarball::UploadSlots::new(sub.max_concurrent_uploads)?,
            webhooks: Arc::new(config.webhooks.clone()),
        };
        let listener = TcpListener::bind(&sub.listen)
            .await
            .with_context(|| format!("submissions.listen: cannot listen on '{}'", sub.listen))?;
        darkroom_core::metrics::install();
        Ok(Self { listener, router: crate::routes::router(state), http: config.http.clone(), background })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until ctrl-c / SIGTERM, or forever when `shutdown` never completes.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), "submissions API listening");
        darkroom_core::http::serve(self.listener, self.router, &self.http, shutdown).await;
        drop(self.background);
        Ok(())
    }
}

/// Hides a password in a database URL before it reaches a log or an error.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..s + 3 + colon], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(super::redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
