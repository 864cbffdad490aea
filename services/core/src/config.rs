//! Configuration for every service, from one file plus environment overrides.
//!
//! Precedence, lowest first: built-in defaults, the TOML file named by `DARKROOM_CONFIG`
//! (default `darkroom.toml` in the working directory, optional), then environment variables
//! `DARKROOM_<SECTION>__<KEY>`, e.g. `DARKROOM_SUBMISSIONS__ADMIN_TOKEN` or
//! `DARKROOM_NATS__URL`. Every key is listed with its default in `darkroom.example.toml` at the
//! repository root.
//!
//! One file may configure every service, and it is always checked whole: an unknown key in any
//! section is an error naming it, whichever service reads the file. Each service then keeps
//! only its own section and the shared ones (`log`, `telemetry`, `nats`, `mongodb` where scores are read
//! or written, `http` where HTTP is served): [`SubmissionsSettings`], [`RunnerSettings`],
//! [`EvaluatorSettings`], [`FrontendSettings`]. No service can come to depend on another's keys.
//!
//! One file on purpose (about 400 lines of code, tests below): every key, its default and its
//! check sit together, which is what `darkroom.example.toml` and its completeness test mirror.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::domain::NodeType;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub log: LogConfig,
    pub telemetry: TelemetryConfig,
    pub nats: NatsConfig,
    pub mongodb: MongoConfig,
    pub http: HttpConfig,
    pub submissions: SubmissionsConfig,
    pub runner: RunnerConfig,
    pub evaluator: EvaluatorConfig,
    pub frontend: FrontendConfig,
    pub webhooks: WebhooksConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MongoConfig {
    /// Where scores live; the submissions service reads leaderboards from it.
    pub url: String,
    pub database: String,
    /// The user to authenticate as (SCRAM, against the `admin` database unless the URL names
    /// an `authSource`), where the server requires one. Unset or empty: no authentication.
    pub user: Option<String>,
    /// The user's password; prefer `password_file`.
    pub password: Option<Secret>,
    /// A file holding the password (a Docker secret); wins over `password`.
    pub password_file: Option<PathBuf>,
}

impl Default for MongoConfig {
    fn default() -> Self {
        Self {
            url: "mongodb://127.0.0.1:27017".into(),
            database: "darkroom".into(),
            user: None,
            password: None,
            password_file: None,
        }
    }
}

impl MongoConfig {
    /// The user and password to authenticate with, if a user is set.
    pub fn credentials(&self) -> Result<Option<(String, String)>, ConfigError> {
        login("mongodb", self.user.as_deref(), self.password.as_ref(), self.password_file.as_deref())
    }
}

/// How long the HTTP servers (the submissions API, the web pages) wait for a slow client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// A request's line and headers must have arrived this long after the server started
    /// reading them (a new connection, or the end of the previous request); then the
    /// connection is closed. At least 1.
    pub header_read_timeout_seconds: u64,
    /// A request body that sends nothing for this long fails the request. Measured between
    /// chunks, not over the whole body, so a large upload at a steady pace is never cut.
    pub body_idle_timeout_seconds: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { header_read_timeout_seconds: 10, body_idle_timeout_seconds: 30 }
    }
}

/// How participant containers are run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RunnerBackend {
    /// One Docker Engine, the one `DOCKER_HOST` (or the local socket) points at.
    Engine,
    /// Docker Swarm services, placed by node labels `darkroom.node=<node_type>`.
    Swarm,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RunnerConfig {
    pub backend: RunnerBackend,
    /// The engine this runner drives (`unix:///var/run/docker.sock`, `tcp://10.0.0.5:2375`):
    /// its own node's engine (one runner per node), or a Swarm manager. Empty: `DOCKER_HOST`,
    /// or the local socket.
    pub docker_host: String,
    /// Runs at once on this runner.
    pub concurrency: usize,
    /// Each run's `/output` is a tmpfs mounted here, capped in bytes and files while it runs.
    /// Turn off when runs execute on other hosts than this runner's (a multi-node Swarm, or a
    /// `docker_host` on another machine), which see `work_dir` through a shared filesystem but
    /// not a mount made here: `/output` is then a plain folder there, measured after the run,
    /// so give `work_dir` a filesystem (or quota) of its own.
    pub output_tmpfs: bool,
    /// Per-run folders (the participant's `/output` and its packed archive) live here, each
    /// claimed while its run lives (see `sandbox::run_folder`), and under `fingerprints/` the
    /// manifests the check of the dataset before each run reuses.
    pub work_dir: PathBuf,
    /// Identifies this runner's containers, so a restart cleans up only its own leftovers.
    pub runner_id: String,
    /// Most log lines per second published for one run; the rest are dropped and counted.
    pub log_lines_per_second: u32,
    /// Most log bytes published for one run.
    pub log_max_bytes: u64,
    /// Swarm: how long a task may wait for a node before the run fails.
    pub placement_timeout_seconds: u64,
    /// Size of the writable `/tmp` given to participant containers.
    pub tmp_size_mb: u64,
    /// How long the runner keeps its hold on an image the engine already had (a name from a
    /// registry that an earlier attempt loaded) once no attempt runs it; runs of it meanwhile
    /// ask the engine nothing about the image. 0 releases it when its last attempt ends.
    pub image_hold_seconds: u64,
    /// How many of the last log lines a failure reason quotes (where logs are visible).
    pub failure_log_lines: usize,
    /// How long a request may go unacknowledged before JetStream hands it to another runner;
    /// running jobs send progress every third of it, so only a dead runner's job moves.
    pub ack_wait_seconds: u64,
    /// The node types (challenge `node_type`) this runner takes; empty takes every type. On a
    /// cluster, a runner per labelled node serves that node's type and passes the others on.
    pub node_types: Vec<NodeType>,
    /// On SIGTERM the runner takes no new request and lets running containers finish for up
    /// to this long; it then stops the rest and hands them back as platform failures, retried
    /// and not charged. Give the container that long plus some seconds to stop (Compose's
    /// `stop_grace_period`).
    pub drain_seconds: u64,
    /// Address of `/healthz` and `/readyz` (NATS and the Docker engine answer); empty serves
    /// none. `darkroom-swarm-runner healthcheck` probes it.
    pub health_listen: String,
    /// Most bytes an uploaded image may unpack to (the sum of its decompressed layers), counted
    /// while the runner rebuilds the archive, so a compression bomb stops before the engine.
    pub max_image_bytes: u64,
    /// Logins for pulling submitted images from private registries, by registry host. The
    /// runner reads them here rather than from events, so no secret travels through NATS.
    pub registry_logins: Vec<RegistryLogin>,
    /// The platform's own registry (`host[:port]`: HTTPS, or plain HTTP on loopback;
    /// `http://host[:port]` for plain HTTP on a private network, which its engines must list
    /// in `insecure-registries`), where every submission image is pushed
    /// once it is loaded and checked, and run from by digest, so a Swarm task on any node can
    /// start it; the manifest is deleted when the attempt ends. Empty: images stay on the
    /// runner's engine (one engine, or a one-node Swarm). Participants must not be able to
    /// write to it; a login for it comes from `registry_logins`.
    pub image_registry: String,
    /// The folders datasets may be mounted from (absolute). A run whose dataset path resolves
    /// (`..` and links followed) outside all of them fails as a platform error, before any
    /// container exists: a forged request cannot mount the host's `/`.
    pub data_roots: Vec<PathBuf>,
}

/// A pull login for one registry host.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegistryLogin {
    /// As participants write it: `ghcr.io`, `registry.example.org:5000`.
    pub registry: String,
    pub username: String,
    /// A file holding the password or token.
    pub password_file: PathBuf,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin").field("registry", &self.registry).field("username", &self.username).finish()
    }
}

impl RunnerConfig {
    /// [`Self::image_registry`]'s `host[:port]`, and whether it speaks plain HTTP off loopback;
    /// `None` when there is no platform registry.
    pub fn platform_registry(&self) -> Option<(&str, bool)> {
        let r = self.image_registry.trim_end_matches('/');
        match r.strip_prefix("http://") {
            Some(host) => Some((host, true)),
            None if r.is_empty() => None,
            None => Some((r.strip_prefix("https://").unwrap_or(r), false)),
        }
    }
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            backend: RunnerBackend::Engine,
            docker_host: String::new(),
            output_tmpfs: true,
            concurrency: 2,
            work_dir: PathBuf::from("./data/runs"),
            runner_id: "runner-1".into(),
            log_lines_per_second: 50,
            log_max_bytes: 1 << 20,
            placement_timeout_seconds: 300,
            tmp_size_mb: 64,
            image_hold_seconds: 60,
            failure_log_lines: 10,
            ack_wait_seconds: 30,
            node_types: Vec::new(),
            drain_seconds: 60,
            health_listen: String::new(),
            max_image_bytes: 8 << 30,
            registry_logins: Vec::new(),
            image_registry: String::new(),
            data_roots: vec![PathBuf::from(DEFAULT_DATA_ROOT)],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluatorConfig {
    /// Identifies this evaluator's containers, so a restart cleans up only its own leftovers:
    /// unique per evaluator sharing an engine, and unlike every `runner.runner_id` there.
    pub evaluator_id: String,
    pub concurrency: usize,
    /// Per-evaluation folders (the predictions and the evaluation's `/output`) live here, each
    /// claimed while its evaluation lives (see `sandbox::run_folder`), and under `fingerprints/`
    /// the manifests the check of the ground truth before each evaluation reuses.
    pub work_dir: PathBuf,
    /// Wall-clock limit of one evaluation container.
    pub timeout_seconds: u64,
    pub memory_mb: u64,
    pub cpus: f64,
    /// Address of `/healthz` and `/readyz` (NATS, the Docker engine and MongoDB answer); empty
    /// serves none. `darkroom-evaluator healthcheck` probes it.
    pub health_listen: String,
    /// The folders ground truths may be mounted from, as `runner.data_roots` for datasets.
    pub data_roots: Vec<PathBuf>,
    /// The Ed25519 seed (64 hex digits) every score receipt is signed with (issue 17); its
    /// public key is listed at `GET /api/v1/keys`. `scripts/setup.sh` creates one for local
    /// runs; Compose mounts the secret `secrets/receipt_signing_key`. Missing or malformed, the
    /// evaluator does not start, and says how to make one.
    pub receipt_key_file: PathBuf,
}

/// Where datasets and ground truths live unless `data_roots` says otherwise: the folder the
/// Compose files mount (`DARKROOM_DATA_ROOT`).
pub const DEFAULT_DATA_ROOT: &str = "/srv/darkroom/data";

impl Default for EvaluatorConfig {
    fn default() -> Self {
        Self {
            evaluator_id: "evaluator-1".into(),
            concurrency: 2,
            work_dir: PathBuf::from("./data/evaluations"),
            timeout_seconds: 600,
            memory_mb: 1024,
            cpus: 1.0,
            health_listen: String::new(),
            data_roots: vec![PathBuf::from(DEFAULT_DATA_ROOT)],
            receipt_key_file: PathBuf::from("./data/receipt_signing_key"),
        }
    }
}

/// The web pages: where they listen, which API they read, where the built browser code is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FrontendConfig {
    /// Address the pages are served on; port 0 picks a free one.
    pub listen: String,
    /// The submissions service's base URL: every page reads the same API as the CLI.
    pub api_url: String,
    /// Holds `pkg/` (the wasm, its JS glue and the stylesheet) written by
    /// `scripts/build-frontend.sh`. Without it pages still render, only not live.
    pub site_root: PathBuf,
    /// The address visitors reach the pages at. When it is `https://…`, the session cookie is
    /// `Secure` and named with the `__Host-` prefix (no subdomain can set or shadow it).
    pub public_url: String,
    /// Live leaderboard feeds (`/live/{slug}`) one client address may hold open at once; the
    /// next is refused with 429 and the page polls instead.
    pub live_max_per_client: usize,
    /// Live feeds the page server holds open at once, from everyone; the next is refused with
    /// 503 and the page polls instead.
    pub live_max_total: usize,
}

impl Default for FrontendConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:3000".into(),
            api_url: "http://127.0.0.1:8080".into(),
            site_root: PathBuf::from("./target/site"),
            public_url: "http://127.0.0.1:3000".into(),
            live_max_per_client: 16,
            live_max_total: 4096,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `darkroom_submissions=debug,info`.
    pub filter: String,
    /// `pretty` for people, `json` for log collectors.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { filter: "info".into(), format: LogFormat::Pretty }
    }
}

/// Traces (see `telemetry`): trace ids are always made and carried through HTTP and NATS
/// headers, so logs correlate; spans are exported only to a configured collector.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The collector's OTLP/HTTP (protobuf) traces URL, e.g.
    /// `http://otel-collector:4318/v1/traces`. Empty: no span leaves the process and nothing
    /// connects anywhere.
    pub otlp_endpoint: String,
    /// The `service.name` spans are exported under. Empty: the binary's name
    /// (`darkroom-submissions`, `darkroom-swarm-runner`, `darkroom-evaluator`,
    /// `darkroom-frontend`), which is what one file shared by every service wants.
    pub service_name: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    pub url: String,
    /// How long JetStream remembers a `Nats-Msg-Id` to drop a republished duplicate.
    pub duplicate_window_seconds: u64,
    /// The service's NATS user, where the server requires one (Compose gives each service its
    /// own, with the subjects it may publish and subscribe to). Unset or empty: no user.
    pub user: Option<String>,
    /// The user's password; prefer `password_file`.
    pub password: Option<Secret>,
    /// A file holding the password (a Docker secret); wins over `password`.
    pub password_file: Option<PathBuf>,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            duplicate_window_seconds: 3600,
            user: None,
            password: None,
            password_file: None,
        }
    }
}

impl NatsConfig {
    /// The user and password to connect with, if a user is set.
    pub fn credentials(&self) -> Result<Option<(String, String)>, ConfigError> {
        login("nats", self.user.as_deref(), self.password.as_ref(), self.password_file.as_deref())
    }
}

/// A password or token from the configuration: serialised as itself, never shown by `{:?}`, so
/// printing a configuration cannot leak it into a log.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The one way a store's client (NATS, MongoDB) gets its login: none without a user (or with an
/// empty one, so an environment can switch a file's user off); then the password from
/// `password_file` when set, else the inline one, else an error naming the section.
fn login(
    section: &str,
    user: Option<&str>,
    password: Option<&Secret>,
    password_file: Option<&Path>,
) -> Result<Option<(String, String)>, ConfigError> {
    let Some(user) = user.filter(|u| !u.is_empty()) else { return Ok(None) };
    let password = match password_file {
        Some(path) => read_secret_file(&format!("{section}.password_file"), path)?,
        None => password.map(|p| p.expose().to_owned()).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "{section}.user is '{user}' but no password is set: set {section}.password_file (or {section}.password)"
            ))
        })?,
    };
    Ok(Some((user.to_owned(), password)))
}

/// A secret kept in a file (a Docker secret, say), without surrounding whitespace.
pub fn read_secret_file(setting: &str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map(|s| s.trim().to_owned()).map_err(|e| {
        ConfigError::Invalid(format!(
            "{setting}: cannot read '{}': {e}; point it at a readable file holding the secret",
            path.display()
        ))
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SubmissionsConfig {
    /// Address the HTTP API listens on; port 0 picks a free one.
    pub listen: String,
    /// Holds the SQLite file (by default), uploaded image tarballs and, under `fingerprints/`,
    /// the manifests of the challenges' data (see `fingerprint`).
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://<data_dir>/darkroom.db`.
    pub database_url: String,
    /// Bearer token for organizer endpoints. Required: set it here, in
    /// `DARKROOM_SUBMISSIONS__ADMIN_TOKEN`, or in the file named by `admin_token_file`.
    pub admin_token: String,
    /// A file holding the admin token (a Docker secret, for instance); wins over `admin_token`.
    pub admin_token_file: Option<PathBuf>,
    /// A file holding the password of a `postgres://` `database_url` (a Docker secret), so the
    /// URL itself carries none; wins over a password in the URL.
    pub database_password_file: Option<PathBuf>,
    /// Largest accepted `docker save` upload.
    pub max_upload_bytes: u64,
    /// Uploads one participant may have in progress at once; one more is refused (429) before
    /// anything is written. At least 1.
    pub max_concurrent_uploads: usize,
    /// Largest accepted JSON body.
    pub max_json_bytes: usize,
    /// Most entries listed from a dataset directory.
    pub max_listing_entries: usize,
    /// QUEUED or PENDING longer than this fails the submission (no capacity); platform's fault.
    pub queue_deadline_seconds: u64,
    /// RUNNING may last the challenge's wall-clock limit plus this grace before it is
    /// considered lost (runner crash) and retried.
    pub running_grace_seconds: u64,
    /// EVALUATING longer than this is considered lost (evaluator crash) and retried.
    pub evaluating_deadline_seconds: u64,
    /// How often deadlines are checked.
    pub watchdog_interval_seconds: u64,
    /// Registry hosts participants may submit image names from (`host[:port]`, as written in
    /// the name; `docker.io` is Docker Hub, which unqualified names mean). The service fetches
    /// manifests from these hosts and no others.
    pub registries: Vec<String>,
    /// How long one registry request (token or manifest) may take when pinning a name.
    pub registry_timeout_seconds: u64,
    /// An uploaded archive is deleted this many hours after the last submission using it
    /// became terminal (COMPLETE, FAILED, CANCELLED); until then the organizer can re-run it.
    /// 0 deletes it at the first sweep after that. Never while a submission using it is active.
    pub upload_retention_hours: u64,
    /// How often stored uploads are swept (also once at start-up).
    pub upload_sweep_interval_seconds: u64,
    /// Participants' output archives (the JetStream object store `darkroom-outputs`) are kept
    /// for their phase's life plus this many hours, so a rescore can evaluate them again, then
    /// deleted by a sweep every `upload_sweep_interval_seconds`. Default 720 (30 days).
    pub output_retention_hours: u64,
    /// Requests one client address may make to the routes a stranger can hammer (registration,
    /// submitting a name, uploading an archive), counted together. Counted in each instance
    /// of the service apart (see the README on several instances).
    pub rate_limit_per_address: RateLimit,
    /// Requests one bearer token may make to those of the routes that take one (submitting,
    /// uploading), whatever address they come from.
    pub rate_limit_per_token: RateLimit,
    /// Reverse proxies in front of the API, by address. A request whose TCP peer is one of
    /// them counts against the last address of its `X-Forwarded-For` that is not one of them;
    /// any other request against its peer, whatever its headers say. Empty: always the peer.
    pub trusted_proxies: Vec<IpAddr>,
    /// Whether a request's W3C `traceparent` header continues the caller's trace (standard W3C
    /// behaviour, right behind a gateway that traces). Off, every request starts a trace of its
    /// own: a participant cannot file their requests under a trace id of their choosing (one
    /// they have seen, or one trace holding all their requests) nor force sampling.
    pub accept_traceparent: bool,
    /// How long a participant's web session (`POST /api/v1/sessions`) lasts.
    pub participant_session_seconds: u64,
    /// How long an organizer's web session lasts: at most [`MAX_ORGANIZER_SESSION_SECONDS`],
    /// since it stands in for the admin token.
    pub organizer_session_seconds: u64,
}

/// A token bucket: `burst` requests at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests allowed at once, before any wait.
    pub burst: u32,
    /// Requests allowed per minute once the burst is spent; 0 switches the limit off.
    pub per_minute: u32,
}

impl RateLimit {
    /// The burst and the time one request's allowance takes to come back, or `None` when the
    /// limit is off. `key` names the setting in the error.
    pub fn quota(&self, key: &str) -> Result<Option<(u32, Duration)>, ConfigError> {
        if self.per_minute == 0 {
            return Ok(None);
        }
        if self.burst == 0 {
            return Err(ConfigError::Invalid(format!(
                "{key}.burst: must be at least 1 while per_minute is {}; raise it, or set per_minute = 0 to switch the limit off",
                self.per_minute
            )));
        }
        Ok(Some((self.burst, Duration::from_secs(60) / self.per_minute)))
    }
}

/// 12 hours: the longest an organizer's web session may last.
pub const MAX_ORGANIZER_SESSION_SECONDS: u64 = 12 * 3600;

impl Default for SubmissionsConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            admin_token: String::new(),
            admin_token_file: None,
            database_password_file: None,
            max_upload_bytes: 4 << 30,
            max_concurrent_uploads: 2,
            max_json_bytes: 256 << 10,
            max_listing_entries: 10_000,
            queue_deadline_seconds: 24 * 3600,
            running_grace_seconds: 300,
            evaluating_deadline_seconds: 1800,
            watchdog_interval_seconds: 10,
            registries: vec!["docker.io".into(), "ghcr.io".into(), "quay.io".into()],
            registry_timeout_seconds: 15,
            upload_retention_hours: 24,
            upload_sweep_interval_seconds: 600,
            output_retention_hours: 720,
            rate_limit_per_address: RateLimit { burst: 30, per_minute: 60 },
            rate_limit_per_token: RateLimit { burst: 10, per_minute: 10 },
            trusted_proxies: Vec::new(),
            accept_traceparent: false,
            participant_session_seconds: 30 * 24 * 3600,
            organizer_session_seconds: MAX_ORGANIZER_SESSION_SECONDS,
        }
    }
}

impl SubmissionsConfig {
    /// The database to open: `database_url` (SQLite under `data_dir` when empty), with the
    /// password from `database_password_file` when one is set.
    pub fn effective_database_url(&self) -> Result<String, ConfigError> {
        if self.database_url.is_empty() {
            if self.database_password_file.is_some() {
                return Err(ConfigError::Invalid(
                    "submissions.database_password_file is set but database_url is empty (SQLite has no password): \
                     set database_url to postgres://USER@HOST:PORT/DATABASE"
                        .into(),
                ));
            }
            return Ok(format!("sqlite://{}?mode=rwc", self.data_dir.join("darkroom.db").display()));
        }
        let Some(path) = &self.database_password_file else { return Ok(self.database_url.clone()) };
        let password = read_secret_file("submissions.database_password_file", path)?;
        let mut url = url::Url::parse(&self.database_url).map_err(|e| {
            ConfigError::Invalid(format!(
                "submissions.database_url: not a URL ({e}); write it as postgres://USER@HOST:PORT/DATABASE"
            ))
        })?;
        if url.scheme() != "postgres" && url.scheme() != "postgresql" {
            return Err(ConfigError::Invalid(format!(
                "submissions.database_password_file is set but database_url is a {}:// URL; only postgres:// \
                 URLs take a password",
                url.scheme()
            )));
        }
        // `Url` percent-encodes the password, so any character a secret holds survives.
        url.set_password(Some(&password)).map_err(|()| {
            ConfigError::Invalid("submissions.database_url: names no host, so it cannot take a password".into())
        })?;
        Ok(url.into())
    }

    /// Checks the session lifetimes: neither zero, the organizer's at most 12 hours.
    pub fn check_sessions(&self) -> Result<(), ConfigError> {
        if self.participant_session_seconds == 0 {
            return Err(ConfigError::Invalid(
                "submissions.participant_session_seconds: must be at least 1; the default is 2592000 (30 days)".into(),
            ));
        }
        if !(1..=MAX_ORGANIZER_SESSION_SECONDS).contains(&self.organizer_session_seconds) {
            return Err(ConfigError::Invalid(format!(
                "submissions.organizer_session_seconds: {} is outside 1..={MAX_ORGANIZER_SESSION_SECONDS}; an organizer's \
                 web session may last at most 12 hours",
                self.organizer_session_seconds
            )));
        }
        Ok(())
    }

    /// The admin token, read from `admin_token_file` when set.
    pub fn resolve_admin_token(&self) -> Result<String, ConfigError> {
        let token = match &self.admin_token_file {
            Some(path) => read_secret_file("submissions.admin_token_file", path)?,
            None => self.admin_token.clone(),
        };
        if token.len() < 16 {
            return Err(ConfigError::Invalid(
                "submissions.admin_token: must be at least 16 characters; set DARKROOM_SUBMISSIONS__ADMIN_TOKEN \
                 or admin_token / admin_token_file in the config file"
                    .into(),
            ));
        }
        Ok(token)
    }
}

/// The organizer's webhooks (issue 18), which the submissions service delivers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Deliver to targets on loopback, private, link-local or unspecified addresses. Off by
    /// default, so an organizer's URL cannot reach the platform's own network (SSRF); checked
    /// against the address each request actually connects to, so a name that later resolves
    /// elsewhere (DNS rebinding) is refused too. Tests and single-host setups turn it on.
    pub allow_private_targets: bool,
    /// POSTs per delivery before it is marked failed with its last error. At least 1.
    pub max_attempts: u32,
    /// The wait before the second attempt, in milliseconds; it doubles after each failure.
    pub retry_initial_ms: u64,
    /// The longest wait between two attempts, in seconds.
    pub retry_max_seconds: u64,
    /// How long one POST may take, connection included, before it counts as failed.
    pub timeout_seconds: u64,
    /// Webhooks one challenge may have.
    pub max_per_challenge: usize,
    /// POSTs in flight at once, all webhooks together (one at a time per webhook). At least 1.
    pub concurrency: usize,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            max_attempts: 10,
            retry_initial_ms: 5_000,
            retry_max_seconds: 3_600,
            timeout_seconds: 10,
            max_per_challenge: 10,
            concurrency: 8,
        }
    }
}

impl WebhooksConfig {
    /// Refuses settings that would never deliver.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 || self.concurrency == 0 || self.timeout_seconds == 0 {
            return Err(ConfigError::Invalid(format!(
                "webhooks: max_attempts ({}), concurrency ({}) and timeout_seconds ({}) must each be at least 1",
                self.max_attempts, self.concurrency, self.timeout_seconds
            )));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then the file named by `DARKROOM_CONFIG` (or `./darkroom.toml`), then the
    /// environment.
    pub fn load() -> Result<Self, ConfigError> {
        let path = std::env::var_os("DARKROOM_CONFIG").map(PathBuf::from);
        if let Some(p) = &path
            && !p.is_file()
        {
            return Err(ConfigError::Load(format!(
                "DARKROOM_CONFIG names '{}', which is not a file; fix the path or unset it",
                p.display()
            )));
        }
        Self::from_figment(
            Figment::from(Serialized::defaults(Config::default()))
                .merge(Toml::file(path.unwrap_or_else(|| PathBuf::from("darkroom.toml"))))
                // Only SECTION__KEY variables are configuration; flat ones such as
                // DARKROOM_SERVER or DARKROOM_TOKEN belong to the CLI and the scripts.
                .merge(Env::prefixed("DARKROOM_").filter(|k| k.as_str().contains("__")).split("__")),
        )
    }

    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        figment.extract().map_err(|e| {
            let mut msg = e.to_string();
            if let Some(src) = e.metadata.as_ref().and_then(|m| m.source.as_ref()) {
                msg = format!("{msg} (from {src})");
            }
            ConfigError::Load(msg)
        })
    }
}

/// Defines what one service reads (its fields are sections of [`Config`]), taken from a whole
/// `Config` by `From` and loaded with [`Config::load`]'s checks.
macro_rules! settings {
    ($(#[$doc:meta])* $name:ident { $($section:ident: $ty:ty),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $(pub $section: $ty),+
        }

        impl From<Config> for $name {
            fn from(config: Config) -> Self {
                Self { $($section: config.$section),+ }
            }
        }

        impl $name {
            /// [`Config::load`] (the whole file checked), keeping this service's sections.
            pub fn load() -> Result<Self, ConfigError> {
                Config::load().map(Self::from)
            }
        }
    };
}

settings!(
    /// What the submissions service reads: the API and its database, the bus, the scores.
    SubmissionsSettings {
        log: LogConfig,
        telemetry: TelemetryConfig,
        nats: NatsConfig,
        mongodb: MongoConfig,
        http: HttpConfig,
        submissions: SubmissionsConfig,
        webhooks: WebhooksConfig,
    }
);
settings!(
    /// What a swarm runner reads.
    RunnerSettings { log: LogConfig, telemetry: TelemetryConfig, nats: NatsConfig, runner: RunnerConfig }
);
settings!(
    /// What an evaluator reads: the bus, the scores it writes, and its own section (which
    /// holds its id; it has no runner section to borrow one from).
    EvaluatorSettings {
        log: LogConfig,
        telemetry: TelemetryConfig,
        nats: NatsConfig,
        mongodb: MongoConfig,
        evaluator: EvaluatorConfig,
    }
);
settings!(
    /// What the web frontend reads: the bus for live scores, the HTTP timeouts, and its own
    /// section.
    FrontendSettings { log: LogConfig, telemetry: TelemetryConfig, nats: NatsConfig, http: HttpConfig, frontend: FrontendConfig }
);

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail fixes the closures' error type
mod tests {
    use super::*;

    #[test]
    fn file_then_env_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "darkroom.toml",
                "[submissions]\nlisten = \"0.0.0.0:9000\"\nadmin_token = \"from-the-file-xxxxxxxx\"",
            )?;
            jail.set_env("DARKROOM_SUBMISSIONS__ADMIN_TOKEN", "from-the-environment-xx");
            jail.set_env("DARKROOM_NATS__URL", "nats://10.0.0.1:4222");
            jail.set_env("DARKROOM_SERVER", "http://the-cli-uses-this");
            let c = Config::load().unwrap();
            assert_eq!(c.submissions.listen, "0.0.0.0:9000");
            assert_eq!(c.submissions.admin_token, "from-the-environment-xx");
            assert_eq!(c.nats.url, "nats://10.0.0.1:4222");
            assert_eq!(c.log, LogConfig::default());
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_types_are_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("darkroom.toml", "[submissions]\nlisten_addr = \"x\"")?;
            let e = Config::load().unwrap_err().to_string();
            assert!(e.contains("listen_addr"), "{e}");
            jail.create_file("darkroom.toml", "[submissions]\nmax_upload_bytes = \"lots\"")?;
            let e = Config::load().unwrap_err().to_string();
            assert!(e.contains("max_upload_bytes"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn node_types_come_from_a_list_in_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DARKROOM_RUNNER__NODE_TYPES", "[highmem, gpu]");
            let c = Config::load().unwrap();
            assert_eq!(c.runner.node_types, vec![NodeType::Highmem, NodeType::Gpu]);
            jail.set_env("DARKROOM_RUNNER__NODE_TYPES", "[bigmem]");
            let e = Config::load().unwrap_err().to_string();
            assert!(e.contains("bigmem") && e.to_lowercase().contains("node_types"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn allowed_registries_come_from_a_list_in_the_environment() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(Config::load().unwrap().submissions.registries, ["docker.io", "ghcr.io", "quay.io"]);
            jail.set_env("DARKROOM_SUBMISSIONS__REGISTRIES", r#"["127.0.0.1:5000"]"#);
            assert_eq!(Config::load().unwrap().submissions.registries, ["127.0.0.1:5000"]);
            Ok(())
        });
    }

    #[test]
    fn the_evaluator_has_an_id_of_its_own() {
        figment::Jail::expect_with(|jail| {
            let settings = EvaluatorSettings::load().unwrap();
            assert_eq!(settings.evaluator.evaluator_id, "evaluator-1");
            assert_ne!(settings.evaluator.evaluator_id, RunnerConfig::default().runner_id);
            jail.set_env("DARKROOM_RUNNER__RUNNER_ID", "runner-a");
            assert_eq!(EvaluatorSettings::load().unwrap().evaluator.evaluator_id, "evaluator-1");
            jail.set_env("DARKROOM_EVALUATOR__EVALUATOR_ID", "evaluator-b");
            let settings = EvaluatorSettings::load().unwrap();
            assert_eq!(settings.evaluator.evaluator_id, "evaluator-b");
            // Every section the evaluator reads, and no other: no runner section to borrow from.
            let EvaluatorSettings { log: _, telemetry: _, nats: _, mongodb: _, evaluator: _ } = settings;
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_in_any_section_is_named_whichever_service_loads() {
        figment::Jail::expect_with(|jail| {
            for section in [
                "log",
                "telemetry",
                "nats",
                "mongodb",
                "http",
                "submissions",
                "runner",
                "evaluator",
                "frontend",
                "webhooks",
            ] {
                jail.create_file("darkroom.toml", &format!("[{section}]\nnot_a_{section}_key = 1"))?;
                let refusals = [
                    SubmissionsSettings::load().err(),
                    RunnerSettings::load().err(),
                    EvaluatorSettings::load().err(),
                    FrontendSettings::load().err(),
                ];
                for e in refusals {
                    let e = e.expect("an unknown key is refused").to_string();
                    assert!(e.contains(&format!("not_a_{section}_key")), "{e}");
                }
            }
            // The key the evaluator used to borrow is the runner's, not the evaluator's.
            jail.create_file("darkroom.toml", "[evaluator]\nrunner_id = \"x\"")?;
            assert!(EvaluatorSettings::load().unwrap_err().to_string().contains("runner_id"));
            Ok(())
        });
    }

    #[test]
    fn the_example_file_lists_the_defaults() {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../darkroom.example.toml");
        let c = Config::from_figment(Figment::from(Toml::file_exact(example))).unwrap();
        assert_eq!(c, Config::default());
        // Every key, not only right values for those listed.
        let listed: toml::Table = toml::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
        for (section, keys) in toml::Table::try_from(Config::default()).unwrap() {
            for key in keys.as_table().unwrap().keys() {
                assert!(
                    listed[&section].as_table().unwrap().contains_key(key),
                    "{section}.{key} is not in the example"
                );
            }
        }
    }

    #[test]
    fn store_logins_come_from_a_secret_file_and_never_show_in_debug() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("mongo_password", "s3cret:with/odd@chars\n")?;
            jail.set_env("DARKROOM_MONGODB__USER", "darkroom");
            jail.set_env("DARKROOM_MONGODB__PASSWORD_FILE", "mongo_password");
            jail.set_env("DARKROOM_NATS__USER", "runner");
            jail.set_env("DARKROOM_NATS__PASSWORD", "inline-pass");
            let c = Config::load().unwrap();
            let mongo = c.mongodb.credentials().unwrap();
            assert_eq!(mongo, Some(("darkroom".into(), "s3cret:with/odd@chars".into())));
            assert_eq!(c.nats.credentials().unwrap(), Some(("runner".into(), "inline-pass".into())));
            let shown = format!("{c:?}");
            // An empty user from the environment switches the file's login off.
            jail.set_env("DARKROOM_MONGODB__USER", "");
            assert_eq!(Config::load().unwrap().mongodb.credentials().unwrap(), None);
            assert!(!shown.contains("inline-pass") && shown.contains("<redacted>"), "{shown}");
            Ok(())
        });
        // An empty user switches a file's login off (Compose's local MongoDB has no users).
        let off = MongoConfig { user: Some(String::new()), ..MongoConfig::default() };
        assert_eq!(off.credentials().unwrap(), None);
        let missing = MongoConfig { user: Some("darkroom".into()), ..MongoConfig::default() };
        let e = missing.credentials().unwrap_err().to_string();
        assert!(e.contains("mongodb.user is 'darkroom'") && e.contains("mongodb.password_file"), "{e}");
        let unreadable = MongoConfig { password_file: Some("/nonexistent/pw".into()), ..missing };
        let e = unreadable.credentials().unwrap_err().to_string();
        assert!(e.contains("mongodb.password_file: cannot read '/nonexistent/pw'"), "{e}");
    }

    #[test]
    fn the_database_password_comes_from_a_file_percent_encoded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pg");
        std::fs::write(&file, "p@ss/w:rd#1\n").unwrap();
        let sub = SubmissionsConfig {
            database_url: "postgres://darkroom@postgres:5432/darkroom".into(),
            database_password_file: Some(file.clone()),
            ..SubmissionsConfig::default()
        };
        assert_eq!(
            sub.effective_database_url().unwrap(),
            "postgres://darkroom:p%40ss%2Fw%3Ard%231@postgres:5432/darkroom"
        );
        // Without a file the URL is used as written; SQLite takes no password.
        let plain = SubmissionsConfig { database_password_file: None, ..sub.clone() };
        assert_eq!(plain.effective_database_url().unwrap(), "postgres://darkroom@postgres:5432/darkroom");
        let sqlite = SubmissionsConfig { database_url: "sqlite://x.db".into(), ..sub.clone() };
        let e = sqlite.effective_database_url().unwrap_err().to_string();
        assert!(e.contains("only postgres:// URLs take a password"), "{e}");
        let empty = SubmissionsConfig { database_url: String::new(), ..sub };
        let e = empty.effective_database_url().unwrap_err().to_string();
        assert!(e.contains("database_url is empty"), "{e}");
    }

    #[test]
    fn short_admin_tokens_are_refused() {
        let c = SubmissionsConfig { admin_token: "short".into(), ..Default::default() };
        assert!(c.resolve_admin_token().unwrap_err().to_string().contains("DARKROOM_SUBMISSIONS__ADMIN_TOKEN"));
    }

    #[test]
    fn organizer_sessions_last_at_most_twelve_hours() {
        assert!(SubmissionsConfig::default().check_sessions().is_ok());
        let long = SubmissionsConfig { organizer_session_seconds: 12 * 3600 + 1, ..Default::default() };
        assert!(long.check_sessions().unwrap_err().to_string().contains("at most 12 hours"));
        let none = SubmissionsConfig { participant_session_seconds: 0, ..Default::default() };
        assert!(none.check_sessions().unwrap_err().to_string().contains("participant_session_seconds"));
    }
}
