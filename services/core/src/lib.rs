//! Darkroom's shared vocabulary: every service depends on this crate and on no sibling service.
//!
//! - [`domain`]: challenges, phases, participants, submissions and their state machine, scores.
//! - [`events`]: the JetStream subjects and their versioned payloads, the only contract between
//!   services.
//! - [`config`]: one configuration file plus environment overrides for every service.
//! - [`fingerprint`]: the SHA-256 fingerprint of a folder of hidden data, cached by (path, size,
//!   mtime), and the check before each run that it did not change.
//! - [`telemetry`]: structured `tracing` output.
//! - [`health`]: the `healthcheck` subcommand; with feature `health`, health endpoints and stop
//!   signals for the service binaries.
//! - [`digest`]: the one SHA-256-as-hex helper.
//! - [`backoff`]: the one exponential backoff every retry loop waits with.
//! - `http` (feature `http`): the one way HTTP is served, with timeouts for slow clients.
//! - `metrics` (feature `http`): every Prometheus metric's name and how it is recorded, and the
//!   `/metrics` text each service serves.
//! - `bus` (feature `nats`): connecting to JetStream, the stream, durable publishing, and the
//!   worker every consumer runs its typed handler in.
//! - `scores` (feature `mongodb`): the score store and the leaderboard query.
//! - `sandbox` (feature `docker`): the hardened container run shared by the runner and the
//!   evaluator. Both live here because the shape fixes one shared crate; the features keep
//!   their heavy clients out of services that do not need them.
//! - `image_archive` (feature `archive`): participants' `docker save` uploads, checked (by the
//!   submissions service on upload) and rebuilt (by the runner before the engine sees them).
//! - `registry` (feature `registry`): registries' HTTP API: pinning a submitted name to a
//!   digest, and fetching that digest into an archive the runner rebuilds like an upload.

pub mod backoff;
#[cfg(feature = "nats")]
pub mod bus;
pub mod config;
pub mod digest;
pub mod domain;
pub mod events;
pub mod fingerprint;
pub mod health;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "archive")]
pub mod image_archive;
#[cfg(feature = "http")]
pub mod metrics;
#[cfg(feature = "registry")]
pub mod registry;
#[cfg(feature = "docker")]
pub mod sandbox;
#[cfg(feature = "mongodb")]
pub mod scores;
pub mod telemetry;
