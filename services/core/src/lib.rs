//! Darkroom's shared vocabulary: every service depends on this crate and on no sibling service.
//!
//! - [`domain`]: challenges, phases, participants, submissions and their state machine, scores.
//! - [`events`]: the JetStream subjects and their versioned payloads, the only contract between
//!   services.
//! - [`config`]: one configuration file plus environment overrides for every service.
//! - [`telemetry`]: structured `tracing` output.

pub mod config;
pub mod domain;
pub mod events;
pub mod telemetry;
