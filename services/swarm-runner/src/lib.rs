//! Darkroom's swarm runner: takes `submission.created` requests from a durable JetStream
//! consumer, runs each participant image beside the hidden data in the sandbox, stores the
//! output in the JetStream object store and publishes what happened.
//!
//! - [`startup`] connects NATS, the key-value and object stores and the engine; cleans up.
//! - [`job`] is one run from claim to outcome; [`failure`] words the reasons participants read.
//! - [`backend`] runs the container: one Docker Engine, or Docker Swarm services.
//! - [`images`] rebuilds and loads images under a tag of our own: uploads, and names submitted
//!   from a registry, which [`pull`] fetches by the digest they were pinned to; [`holds`]
//!   keeps an image the engine already has tagged while attempts run it; [`logs`] caps
//!   published logs.

pub mod backend;
pub mod failure;
pub mod holds;
pub mod images;
pub mod job;
pub mod logs;
pub mod pull;
pub mod startup;

pub use startup::Runner;
