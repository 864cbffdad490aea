//! Darkroom's evaluator runner: takes `run.finished` from a durable JetStream consumer, runs the
//! challenge's evaluation image on the participant's output and the hidden ground truth (both
//! read-only, no network, the sandbox's limits), checks the `score.json` it writes against the
//! challenge's metrics, stores one score document per submission in MongoDB and publishes
//! `score.recorded`.
//!
//! - [`startup`] connects NATS, the object store, MongoDB and the engine, and consumes.
//! - [`evaluate`] scores one finished run.
//! - [`rescore`] scores a phase's submissions again with a new evaluation image.
//! - [`resolver`] tells the submissions service which image id an evaluation image has here.
//! - [`verify`] evaluates an organizer's verification re-run and compares it with the original.

pub mod evaluate;
pub mod rescore;
pub mod resolver;
pub mod startup;
pub mod verify;

pub use startup::Evaluator;
