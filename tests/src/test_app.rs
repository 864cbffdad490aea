use std::path::PathBuf;

use darkroom_api::Registered;
use darkroom_core::config::Config;
use darkroom_submissions::startup::Application;
use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::NatsServer;
use crate::fixtures;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A stopped app's state folder and database.
pub struct Parked {
    dir: tempfile::TempDir,
    database_url: String,
}

/// The submissions service on a random port, with its own NATS server and database.
pub struct TestApp {
    pub addr: String,
    pub http: reqwest::Client,
    pub nats: NatsServer,
    pub dir: tempfile::TempDir,
    pub database_url: String,
    /// The configuration file the app's settings were taken from; the runner and evaluator of
    /// a [`crate::Stack`] take theirs from it too.
    pub config: Config,
    server: tokio::task::JoinHandle<()>,
    /// The evaluators' image resolver (the real one, on the real engine), which pins a
    /// challenge's evaluation image when it is applied.
    resolver: tokio::task::JoinHandle<()>,
    _watchdog: crate::watchdog::Watchdog,
}

/// Serves evaluation-image resolutions from the real Docker engine, as an evaluator does.
async fn evaluation_image_resolver(nats_url: &str) -> tokio::task::JoinHandle<()> {
    let client = async_nats::connect(nats_url).await.expect("connect to NATS");
    let sandbox = darkroom_core::sandbox::Sandbox::connect().await.expect("the Docker engine answers");
    let served = darkroom_evaluator::resolver::serve(client.clone(), sandbox);
    let handle = tokio::spawn(async move {
        let _ = served.await;
    });
    // Subscribed once the server has seen the subscription.
    client.flush().await.expect("flush");
    handle
}

async fn postgres_database() -> String {
    let admin = std::env::var("DARKROOM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/postgres".to_owned());
    let name = format!("darkroom_test_{}", uuid::Uuid::new_v4().simple());
    let conn = sea_orm::Database::connect(&admin).await.unwrap_or_else(|e| {
        panic!("PostgreSQL at {admin} is not reachable ({e}): start it with scripts/setup.sh or set DARKROOM_TEST_POSTGRES_URL")
    });
    conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
    let (base, _) = admin.rsplit_once('/').expect("a database URL with a path");
    format!("{base}/{name}")
}

/// The MongoDB wire-protocol server `scripts/setup.sh` starts, or `DARKROOM_TEST_MONGO_URL`.
pub fn mongo_url() -> String {
    std::env::var("DARKROOM_TEST_MONGO_URL").unwrap_or_else(|_| "mongodb://127.0.0.1:27017".to_owned())
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_configured(backend, |_| {}).await
    }

    /// Spawns with `tweak` applied to the test configuration.
    pub async fn spawn_configured(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let nats = NatsServer::start();
        Self::spawn_inner(backend, nats, None, tweak).await
    }

    /// Spawns against a given NATS server and, optionally, an existing database (to restart the
    /// service on the same state), with `tweak` applied to the test configuration.
    pub async fn spawn_with(
        backend: Backend,
        nats: NatsServer,
        previous: Option<Parked>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        Self::spawn_inner(backend, nats, previous, tweak).await
    }

    async fn spawn_inner(
        backend: Backend,
        nats: NatsServer,
        previous: Option<Parked>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let watchdog = crate::watchdog::Watchdog::start();
        let (dir, database_url) = match previous {
            Some(p) => (p.dir, p.database_url),
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = match backend {
                    Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.path().join("darkroom.db").display()),
                    Backend::Postgres => postgres_database().await,
                };
                (dir, url)
            }
        };
        let mut config = Config::default();
        config.log.filter = "warn".into();
        config.nats.url = nats.url();
        config.submissions.listen = "127.0.0.1:0".into();
        config.submissions.data_dir = dir.path().join("data");
        config.submissions.database_url = database_url.clone();
        config.submissions.admin_token = ADMIN_TOKEN.into();
        config.mongodb.url = mongo_url();
        config.mongodb.database = format!("darkroom_test_{}", uuid::Uuid::new_v4().simple());
        config.submissions.max_upload_bytes = 4 << 20;
        config.submissions.max_json_bytes = 64 << 10;
        // The local registry only: no test may depend on Docker Hub (nor reach it).
        config.submissions.registries = vec![crate::registry::registry()];
        config.submissions.registry_timeout_seconds = 5;
        // Every test calls from one address, faster than any client should: no rate limits
        // but where a test (tests/edges.rs) sets them.
        config.submissions.rate_limit_per_address.per_minute = 0;
        config.submissions.rate_limit_per_token.per_minute = 0;
        // An evaluator built from this configuration (a Stack's, a test's own) removes the
        // containers labelled with its id when it starts: never another test's.
        config.evaluator.evaluator_id = format!("test-evaluator-{}", uuid::Uuid::new_v4().simple());
        // Tests keep their datasets in temporary folders (this app's and their own).
        config.runner.data_roots = vec![std::env::temp_dir()];
        config.evaluator.data_roots = vec![std::env::temp_dir()];
        // The app's own receipt signing key, kept across a restart on the same state.
        config.evaluator.receipt_key_file = crate::fixtures::receipt_key(dir.path());
        tweak(&mut config);
        // The first app's subscriber serves the whole test process, so its exporter (if a test
        // configures one) must outlive this app: never dropped, never shut down.
        let telemetry = darkroom_core::telemetry::init("darkroom-tests", &config.log, &config.telemetry);
        std::mem::forget(telemetry.expect("the telemetry configuration is valid"));
        let resolver = evaluation_image_resolver(&config.nats.url).await;
        let app = Application::build(config.clone().into()).await.expect("the app builds");
        let addr = format!("http://{}", app.local_addr());
        let server = tokio::spawn(async move {
            app.run_until(std::future::pending()).await.expect("server runs");
        });
        Self {
            addr,
            http: crate::http_client().build().expect("an HTTP client"),
            nats,
            dir,
            database_url,
            config,
            server,
            resolver,
            _watchdog: watchdog,
        }
    }

    /// Another instance of the service on the same database, NATS, state folder and MongoDB
    /// (as a second replica behind a load balancer would run): its address, and its task.
    pub async fn another_instance(&self) -> (String, tokio::task::JoinHandle<()>) {
        let app = Application::build(self.config.clone().into()).await.expect("the second instance builds");
        let addr = format!("http://{}", app.local_addr());
        let server = tokio::spawn(async move {
            app.run_until(std::future::pending()).await.expect("server runs");
        });
        (addr, server)
    }

    /// Stops the HTTP server and its background tasks, handing back NATS and the state, so the
    /// service can be started again on the same data.
    pub async fn shut_down(self) -> (NatsServer, Parked) {
        self.server.abort();
        self.resolver.abort();
        let _ = self.server.await;
        (self.nats, Parked { dir: self.dir, database_url: self.database_url })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.addr)
    }

    /// Sends JSON (or nothing) and returns the status and parsed body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        crate::api::call(&self.http, method, self.url(path), token, body).await
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Creates a challenge from [`fixtures::spec`] (after `tweak`) and returns its slug.
    pub async fn create_challenge(&self, slug: &str, tweak: impl FnOnce(&mut Value)) -> String {
        let mut spec = fixtures::spec(self.dir.path(), slug);
        tweak(&mut spec);
        let (status, body) = self.call(Method::POST, "/api/v1/challenges", Some(ADMIN_TOKEN), Some(spec)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        slug.to_owned()
    }

    /// Registers a participant and returns its token.
    pub async fn register(&self, name: &str) -> String {
        let (status, body) = self.call(Method::POST, "/api/v1/participants", None, Some(json!({ "name": name }))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Registered::deserialize(&body).expect("a registration").token
    }

    /// Joins the participant to an open challenge, accepting its rules (again: joining twice
    /// answers with the enrollment they have).
    pub async fn join(&self, slug: &str, token: &str) -> Value {
        let path = format!("/api/v1/challenges/{slug}/join");
        let (status, body) = self.call(Method::POST, &path, Some(token), Some(json!({ "accept_rules": true }))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Submits an image by name, joining the challenge first.
    pub async fn submit(&self, slug: &str, token: &str, image: &str) -> (StatusCode, Value) {
        self.join_if_possible(slug, token).await;
        self.call(
            Method::POST,
            &format!("/api/v1/challenges/{slug}/submissions"),
            Some(token),
            Some(json!({ "image": image })),
        )
        .await
    }

    /// Uploads an image archive, joining the challenge first.
    pub async fn upload(&self, slug: &str, token: &str, content_type: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        self.join_if_possible(slug, token).await;
        let resp = self
            .http
            .post(self.url(&format!("/api/v1/challenges/{slug}/submissions/tarball")))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .expect("request sent");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Joins where joining can succeed; where it cannot (no such challenge, a bad token, an
    /// invite-only challenge), the submit that follows gets the API's answer, which tests check.
    async fn join_if_possible(&self, slug: &str, token: &str) {
        let path = format!("/api/v1/challenges/{slug}/join");
        let _ = self.call(Method::POST, &path, Some(token), Some(json!({ "accept_rules": true }))).await;
    }

    /// Publishes `event` to this app's NATS as a runner would (with its `Nats-Msg-Id`) and waits
    /// for JetStream's ack.
    pub async fn publish<E: darkroom_core::events::Event>(&self, event: &E) {
        let client = async_nats::connect(self.nats.url()).await.expect("connect to NATS");
        let js = async_nats::jetstream::new(client);
        darkroom_core::bus::ensure_stream(&js, &self.config.nats).await.expect("the stream exists");
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.event_id());
        js.publish_with_headers(E::SUBJECT, headers, serde_json::to_vec(event).expect("serialise").into())
            .await
            .expect("publish")
            .await
            .expect("JetStream ack");
    }

    /// Polls a submission until `pred` holds or 15 s pass.
    pub async fn wait_for(&self, id: &str, token: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let (_, body) = self.call(Method::GET, &format!("/api/v1/submissions/{id}"), Some(token), None).await;
            if pred(&body) {
                return body;
            }
            assert!(tokio::time::Instant::now() < deadline, "submission never reached the expected state: {body}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
