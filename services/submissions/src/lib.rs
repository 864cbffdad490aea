//! Darkroom's submissions service: the HTTP API organizers and participants use, and the single
//! writer of relational state.
//!
//! - [`startup`] wires configuration, database, NATS and the router into a running app.
//! - [`routes`] the HTTP API; [`extract`] and [`error`] make every failure a clear JSON answer.
//! - [`lifecycle`] accepts, re-runs, cancels and moves submissions; [`enrollment`] who has
//!   joined a challenge and may submit to it, [`teams`] who submits together, [`quota`] how
//!   often; [`rate_limit`] how often one address or token may call the routes that register,
//!   join and submit; [`submit_lock`] whose turn it is to change them (across instances on
//!   PostgreSQL).
//! - [`outbox`] publishes committed events to JetStream; [`consumer`] applies the runners' events.
//! - [`run_log`] stores the runners' log batches from a consumer of its own and reads them back.
//! - [`watchdog`] fails or retries submissions whose state outlived its deadline.
//! - [`registry`] pins names submitted from a registry to a digest, over the registry's API.
//! - [`tarball`] receives `docker save` uploads; [`upload_sweep`] deletes them once no
//!   submission can need them; [`db`] holds entities and migrations.
//! - [`feedback`] what participants and the public board see of each score (raw, rounded,
//!   ladder); [`intervals`] the bootstrap intervals of the raw public board; [`board_history`]
//!   the best score over time of the board's top lines.
//! - [`dataset`] lists a challenge's dataset on apply and on the organizer's refresh, and
//!   serves the stored listing.
//! - [`sessions`] web sessions: what the pages' cookie holds instead of a token;
//!   [`scoped_tokens`] the narrower tokens a holder mints; [`token_replacement`] a
//!   participant's own token replaced after a leak or a loss.
//! - [`pinning`] pins a challenge's evaluation image to an id (asked of an evaluator) on apply.
//! - [`fingerprints`] fingerprints a challenge's dataset and ground truth on apply.
//! - [`output_sweep`] deletes participants' outputs once their phase's retention is over.
//! - [`rescore`] which evaluator generation of a phase's board a reader reads (rescores).
//! - [`announcements`] what the organizer tells a challenge's participants.
//! - [`webhooks`] the organizer's webhooks: registered URLs told of state and board changes
//!   and announcements, signed, retried from a delivery log.

pub mod announcements;
pub mod auth;
pub mod board_history;
pub mod consumer;
pub mod dataset;
pub mod db;
pub mod disqualification;
pub mod enrollment;
pub mod error;
pub mod extract;
pub mod feedback;
pub mod final_board;
pub mod fingerprints;
pub mod intervals;
pub mod leaderboard;
pub mod lifecycle;
pub mod outbox;
pub mod output_sweep;
pub mod phase_close;
pub mod pinning;
pub mod quota;
pub mod rate_limit;
pub mod registry;
pub mod rescore;
pub mod routes;
pub mod run_log;
pub mod scoped_tokens;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod submit_lock;
pub mod tarball;
pub mod teams;
pub mod token_replacement;
pub mod upload_sweep;
pub mod watchdog;
pub mod webhooks;
