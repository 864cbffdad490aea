//! Test harness: real servers on random ports, and the real app spawned in-process against them.
//!
//! - [`NatsServer`] runs `nats-server` (JetStream on, its own store and port) and can be stopped and
//!   restarted on the same port and store.
//! - [`Backend`] is a fresh SQLite file or a fresh database on the PostgreSQL server that
//!   `scripts/setup.sh` starts (`DARKROOM_TEST_POSTGRES_URL` overrides where it is).
//! - [`TestApp`] is the submissions service on a random port with helpers for its API.
//! - [`registry`] is the local image registry names are submitted from.
//! - [`scoring`] brings a submission to COMPLETE with a chosen (split) score, without Docker.
//! - [`Stack`] adds the swarm runner and the evaluator on the real Docker engine.
//! - [`cluster`] starts several Docker engines in containers, optionally joined into a Swarm.
//! - Each [`TestApp`] carries a watchdog that aborts a test binary whose test hangs.
//! - [`web`] serves the web pages against either, and drives headless Chromium through them.

pub mod api;
pub mod cluster;
pub mod fixtures;
mod nats_server;
pub mod registry;
pub mod scoring;
mod stack;
pub mod swarm;
mod test_app;
mod watchdog;
pub mod web;

pub use nats_server::{NatsServer, free_port};
pub use stack::Stack;
pub use test_app::{Backend, TestApp, mongo_url};

/// The HTTP client every test request goes through: a request that gets no answer fails after
/// a minute with its URL (reqwest names it), instead of hanging until the watchdog aborts the
/// whole binary without saying which request it was.
pub fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(60))
}

/// The states a submission's view says it went through, oldest first (its `history`).
pub fn states(submission: &serde_json::Value) -> Vec<String> {
    let history = submission["history"].as_array().map(Vec::as_slice).unwrap_or_default();
    history.iter().map(|t| t["to"].as_str().unwrap_or_default().to_owned()).collect()
}

/// Runs an async test body once per database backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )+
    };
}

pub use test_app::ADMIN_TOKEN;
