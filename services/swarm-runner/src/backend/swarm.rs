//! Runs as Docker Swarm services, placed by node labels.
//!
//! Each run is a one-replica service with `restart-condition none`, constrained to nodes
//! labelled `darkroom.node=<node type>`; GPUs are reserved as Swarm generic resources
//! (`NVIDIA-GPU`, which a GPU node advertises through dockerd's `node-generic-resources`).
//! Swarm cannot attach a service to the `none` network, so each run gets its own `internal`
//! overlay network: no gateway, no route out, and no neighbour but itself.
//!
//! A task on the manager's own node is followed as a container (logs, exit, peak memory, OOM
//! kills); a task on another node through the manager's task API (logs and exit only; see
//! [`Sandbox::follow_task`]), where a node lost mid-run is a platform failure, retried. Images
//! reach other nodes through `runner.image_registry`; the dataset and `runner.work_dir` must be
//! at the same paths on every node (a shared filesystem), since the output is bind-mounted.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{
    NetworkAttachmentConfig, NetworkCreateRequest, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec,
    TaskSpecPlacement, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::query_parameters::ListTasksOptionsBuilder;
use darkroom_core::domain::NodeType;
pub use darkroom_core::sandbox::gpu_generic_resources;
use darkroom_core::sandbox::{Hardening, LineSink, RunOutcome, RunSpec, Sandbox, SandboxError};

use super::Backend;

/// The node label runs are placed by.
pub const NODE_LABEL: &str = "darkroom.node";

pub struct SwarmBackend {
    pub sandbox: Sandbox,
    pub placement_timeout: Duration,
    /// Called (once) when the task waits for a node, with Swarm's reason.
    pub on_pending: std::sync::Arc<dyn Fn(String) + Send + Sync>,
    own_node: tokio::sync::OnceCell<String>,
}

/// The internal overlay network of the run `service`.
fn network_name(service: &str) -> String {
    format!("{service}-net")
}

/// `node.labels.darkroom.node==<type>`.
pub fn placement_constraints(node_type: NodeType) -> Vec<String> {
    vec![format!("node.labels.{NODE_LABEL}=={}", node_type.label_value())]
}

/// The service for one run: the task [`Hardening::to_task_spec`] renders, placed on
/// `node_type`, never restarted, attached to the run's own internal network (Swarm cannot use
/// `none`; see [`darkroom_core::sandbox::SWARM_GAPS`]).
pub fn service_spec(spec: &RunSpec, hardening: &Hardening, node_type: NodeType, network: &str) -> ServiceSpec {
    let task = hardening.to_task_spec();
    ServiceSpec {
        name: Some(spec.name.clone()),
        labels: Some(spec.labels.clone()),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(1) }),
            ..Default::default()
        }),
        task_template: Some(TaskSpec {
            placement: Some(TaskSpecPlacement {
                constraints: Some(placement_constraints(node_type)),
                ..Default::default()
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig { target: Some(network.to_owned()), ..Default::default() }]),
            ..task
        }),
        ..Default::default()
    }
}

#[async_trait::async_trait]
impl Backend for SwarmBackend {
    async fn run(
        &self,
        spec: &RunSpec,
        hardening: &Hardening,
        node_type: NodeType,
        on_line: &mut LineSink,
    ) -> Result<RunOutcome, SandboxError> {
        let docker = self.sandbox.docker();
        let network = network_name(&spec.name);
        let _ = docker.delete_service(&spec.name).await;
        let _ = docker.remove_network(&network).await;
        docker
            .create_network(NetworkCreateRequest {
                name: network.clone(),
                driver: Some("overlay".into()),
                internal: Some(true),
                labels: Some(spec.labels.clone()),
                ..Default::default()
            })
            .await?;
        let result = async {
            docker.create_service(service_spec(spec, hardening, node_type, &network), None).await?;
            let placed = self.wait_for_container(&spec.name).await?;
            tracing::info!(service = %spec.name, node = %placed.node_id, "task started");
            if placed.node_id == self.own_node().await? {
                self.sandbox.follow(&placed.container, spec.limits.wall_clock, on_line).await
            } else {
                self.sandbox.follow_task(&placed.task, spec.limits.wall_clock, on_line).await
            }
        }
        .await;
        self.remove_service(&spec.name).await;
        result
    }

    async fn abandon(&self, spec: &RunSpec) {
        self.remove_service(&spec.name).await;
    }

    fn describe(&self, node_type: NodeType) -> String {
        format!("swarm:{NODE_LABEL}={}", node_type.label_value())
    }
}

/// A task that has a container, and where.
struct Placed {
    task: String,
    node_id: String,
    container: String,
}

impl SwarmBackend {
    pub fn new(
        sandbox: Sandbox,
        placement_timeout: Duration,
        on_pending: std::sync::Arc<dyn Fn(String) + Send + Sync>,
    ) -> Self {
        Self { sandbox, placement_timeout, on_pending, own_node: tokio::sync::OnceCell::new() }
    }

    /// The node id of the engine the runner talks to.
    async fn own_node(&self) -> Result<&str, SandboxError> {
        let id = self
            .own_node
            .get_or_try_init(|| async {
                let info = self.sandbox.docker().info().await?;
                Ok::<_, SandboxError>(info.swarm.and_then(|s| s.node_id).unwrap_or_default())
            })
            .await?;
        Ok(id)
    }

    /// Removes the run's service (which stops its task) and then its network.
    async fn remove_service(&self, service: &str) {
        let docker = self.sandbox.docker();
        let _ = docker.delete_service(service).await;
        // The network can be removed once the task's container is gone.
        let network = network_name(service);
        for _ in 0..50 {
            if docker.remove_network(&network).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls the service's task until it has a container, or fails once placement has waited
    /// longer than `placement_timeout`.
    async fn wait_for_container(&self, service: &str) -> Result<Placed, SandboxError> {
        let filters: HashMap<&str, Vec<&str>> = HashMap::from([("service", vec![service])]);
        let started = Instant::now();
        let mut told_pending = false;
        loop {
            let tasks = self
                .sandbox
                .docker()
                .list_tasks(Some(ListTasksOptionsBuilder::default().filters(&filters).build()))
                .await?;
            if let Some((task, status)) = tasks.into_iter().find_map(|t| t.status.clone().map(|s| (t, s))) {
                if let Some(container) =
                    status.container_status.as_ref().and_then(|c| c.container_id.clone()).filter(|id| !id.is_empty())
                {
                    return Ok(Placed {
                        task: task.id.unwrap_or_default(),
                        node_id: task.node_id.unwrap_or_default(),
                        container,
                    });
                }
                let message = status.err.clone().or(status.message.clone()).unwrap_or_default();
                // Its node died between the assignment and the start: the orchestrator gives the
                // task up (and, with restart condition none, places no other).
                if matches!(task.desired_state, Some(TaskState::SHUTDOWN)) {
                    return Err(SandboxError::Platform(format!(
                        "the task's node was lost before it started ({message})"
                    )));
                }
                match status.state {
                    Some(TaskState::REJECTED | TaskState::FAILED) => return Err(SandboxError::Refused(message)),
                    Some(TaskState::PENDING) if !told_pending && !message.is_empty() => {
                        (self.on_pending)(message.clone());
                        told_pending = true;
                    }
                    _ => {}
                }
                if started.elapsed() > self.placement_timeout {
                    return Err(SandboxError::Unplaceable(format!(
                        "{message} (waited {} s for a node)",
                        self.placement_timeout.as_secs()
                    )));
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use darkroom_core::sandbox::{ImageInfo, Limits};

    #[test]
    fn gpus_are_generic_resources_and_placement_follows_the_node_type() {
        let spec = RunSpec {
            name: "r".into(),
            image: "i".into(),
            labels: HashMap::new(),
            inputs: vec![("/d".into(), "/data".into())],
            output: "/o".into(),
            limits: Limits {
                cpus: 2.0,
                memory_mb: 1024,
                pids: 100,
                gpus: 2,
                tmp_size_mb: 64,
                output_max_mb: 1,
                wall_clock: Duration::from_secs(1),
            },
            seed: 1,
        };
        let image = ImageInfo { id: "sha256:x".into(), has_entrypoint: true, ..Default::default() };
        let hardening = Hardening::new(&spec, &image, false).unwrap();
        let s = service_spec(&spec, &hardening, NodeType::Gpu, "net");
        let json = serde_json::to_value(&s).unwrap();
        let t = &json["TaskTemplate"];
        assert_eq!(t["Placement"]["Constraints"][0], "node.labels.darkroom.node==gpu");
        assert_eq!(t["Resources"]["Reservations"]["GenericResources"][0]["DiscreteResourceSpec"]["Kind"], "NVIDIA-GPU");
        assert_eq!(t["Resources"]["Reservations"]["GenericResources"][0]["DiscreteResourceSpec"]["Value"], 2);
        assert_eq!(t["Resources"]["Limits"]["MemoryBytes"], 1024i64 << 20);
        assert_eq!(t["ContainerSpec"]["ReadOnly"], true);
        assert_eq!(t["ContainerSpec"]["CapabilityDrop"][0], "ALL");
        assert_eq!(t["ContainerSpec"]["User"], "65534:65534");
        assert_eq!(t["Networks"][0]["Target"], "net");
        assert_eq!(t["LogDriver"]["Name"], "json-file", "the task keeps the hardening's bounded log driver");
        assert_eq!(t["RestartPolicy"]["Condition"], "none");
        assert!(gpu_generic_resources(0).is_none());
    }
}
