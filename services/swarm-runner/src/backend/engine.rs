//! Runs on the one engine the runner talks to.

use darkroom_core::domain::NodeType;
use darkroom_core::sandbox::{Hardening, LineSink, Logs, RunOutcome, RunSpec, Sandbox, SandboxError};

use super::Backend;

pub struct EngineBackend {
    pub sandbox: Sandbox,
    pub runner_id: String,
}

#[async_trait::async_trait]
impl Backend for EngineBackend {
    async fn run(
        &self,
        spec: &RunSpec,
        hardening: &Hardening,
        _node_type: NodeType,
        on_line: &mut LineSink,
    ) -> Result<RunOutcome, SandboxError> {
        self.sandbox.run(spec, hardening, Logs::Follow(on_line)).await
    }

    async fn abandon(&self, spec: &RunSpec) {
        self.sandbox.remove(&spec.name).await;
    }

    fn describe(&self, _node_type: NodeType) -> String {
        format!("engine:{}", self.runner_id)
    }
}
