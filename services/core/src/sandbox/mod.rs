//! The hardened container run shared by the swarm runner (participants) and the evaluator
//! (organizers' images).
//!
//! - [`data_roots`]: the host folders hidden data may be mounted from.
//! - [`policy`]: the one [`Hardening`] description of a run (user, filesystem, capabilities,
//!   limits, logs) and its two renderings, Engine `HostConfig` and Swarm `TaskSpec`.
//! - [`run`]: running and following a container on one Docker Engine, and removing it.
//! - [`task`]: following a Swarm task on another node, through the manager.
//! - [`image`]: what an image declares, loading rebuilt archives, and the per-attempt tags.
//! - [`output`]: the host folder behind `/output`, the bounded walk that measures it, and the
//!   streamed archive of it.
//! - [`run_folder`]: a run's working folder, claimed while its process lives, and the sweep of
//!   those a crash left.
//!
//! The container is removed whatever happens.

pub mod data_roots;
pub mod image;
pub mod output;
pub mod policy;
pub mod run;
pub mod run_folder;
pub mod task;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use bollard::errors::Error as DockerError;

pub use data_roots::{DataRoots, OutsideDataRoots};
pub use output::{
    OutputArchiveError, OutputDir, OutputLimits, OutputScan, UnpackError, archive_to_file, extract_archive, scan_output,
};
pub use policy::{
    DEFAULT_USER, Hardening, LOG_MAX_FILES, LOG_MAX_SIZE, NOFILE_LIMIT, POLICY_VERSION, SWARM_GAPS, Tmpfs, bind_mounts,
    gpu_device_requests, gpu_generic_resources, resolve_user, run_env, thread_env,
};
pub use run::{LineSink, Logs, Sandbox};
pub use run_folder::RunFolder;

/// The label every sandboxed container carries: the owner's id, so a restarted service can find
/// and remove what it left behind.
pub const OWNER_LABEL: &str = "darkroom.owner";

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The image named by the participant or organizer is not on the engine.
    #[error("image '{0}' is not present on the Docker engine")]
    ImageMissing(String),
    /// An uploaded archive the engine could not load.
    #[error("the image archive could not be loaded: {0}")]
    ImageCorrupt(String),
    /// The image has neither an entrypoint nor a command, so there is nothing to run.
    #[error("image '{0}' has no entrypoint and no command")]
    NoEntrypoint(String),
    /// The image breaks a sandbox rule (e.g. too many declared volumes): the participant's to fix.
    #[error("the image is refused: {0}")]
    ImageRefused(String),
    /// The engine refused the container (a bad device request, a missing GPU driver…).
    #[error("the engine refused to start the container: {0}")]
    Refused(String),
    /// Swarm found no node that satisfies the run's placement (node type, GPUs) in time.
    #[error("no node can run it: {0}")]
    Unplaceable(String),
    /// The engine or the host failed: not the participant's fault; worth retrying.
    #[error("platform failure: {0}")]
    Platform(String),
}

impl From<DockerError> for SandboxError {
    fn from(e: DockerError) -> Self {
        SandboxError::Platform(e.to_string())
    }
}

impl From<std::io::Error> for SandboxError {
    fn from(e: std::io::Error) -> Self {
        SandboxError::Platform(e.to_string())
    }
}

/// What an image offers.
#[derive(Debug, Clone, Default)]
pub struct ImageInfo {
    /// `sha256:…`, the digest recorded with the score.
    pub id: String,
    pub user: Option<String>,
    pub has_entrypoint: bool,
    /// The paths the image declares as `VOLUME`s: the engine would back each with an
    /// unbounded anonymous volume, so the sandbox mounts a size-capped tmpfs over each.
    pub volumes: Vec<String>,
}

/// Resource limits of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub cpus: f64,
    pub memory_mb: u64,
    pub pids: u32,
    pub gpus: u32,
    /// Size of `/tmp`, and of the tmpfs over each image-declared volume.
    pub tmp_size_mb: u64,
    pub output_max_mb: u64,
    pub wall_clock: Duration,
}

/// The seed a run of `submission` gets as `DARKROOM_SEED`: the first 8 bytes (big-endian) of
/// SHA-256 over `darkroom-seed:` and the submission id. Derived, not drawn, so every attempt of a
/// submission, and a re-run from its receipt (which names the submission), gets the same one:
/// a participant who seeds their randomness from it makes their run repeatable.
pub fn run_seed(submission: darkroom_api::SubmissionId) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("darkroom-seed:{submission}").as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 32 bytes"))
}

/// One container to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Container name; unique per run attempt.
    pub name: String,
    pub image: String,
    pub labels: HashMap<String, String>,
    /// Host path → container path, mounted read-only.
    pub inputs: Vec<(PathBuf, String)>,
    /// Host folder mounted at `/output`; see [`OutputDir`].
    pub output: PathBuf,
    pub limits: Limits,
    /// Given to the container as `DARKROOM_SEED` ([`run_seed`]).
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Code(i64),
    TimedOut,
    OutOfMemory,
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub exit: Exit,
    pub duration: Duration,
    pub peak_memory_bytes: Option<u64>,
    /// The last log lines (stdout and stderr), oldest first.
    pub log_tail: Vec<String>,
    pub container_id: String,
}
