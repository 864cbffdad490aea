//! Where a participant's container runs: one Docker Engine (the default) or Docker Swarm.

mod engine;
mod swarm;

pub use engine::EngineBackend;
pub use swarm::{SwarmBackend, gpu_generic_resources, placement_constraints};

use darkroom_core::domain::NodeType;
use darkroom_core::sandbox::{Hardening, LineSink, RunOutcome, RunSpec, SandboxError};

#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// Runs `spec` to its end and removes what it created. `on_line` sees each log line.
    async fn run(
        &self,
        spec: &RunSpec,
        hardening: &Hardening,
        node_type: NodeType,
        on_line: &mut LineSink,
    ) -> Result<RunOutcome, SandboxError>;

    /// Removes what a run of `spec` created, still running or not: the runner gave the run up
    /// (dropped its `run`) because it is shutting down.
    async fn abandon(&self, spec: &RunSpec);

    /// Where runs land, for the `node` of `run.started`.
    fn describe(&self, node_type: NodeType) -> String;
}
