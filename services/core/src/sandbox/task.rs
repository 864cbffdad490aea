//! Following a Swarm task that runs on another node than the manager the runner talks to.
//!
//! The manager relays the task's logs and state, but not the container's memory or whether the
//! kernel killed it for memory: such a run reports no peak memory, and an OOM kill shows as
//! exit code 137. A node that stops answering mid-run (the manager marks it down, or gives the
//! task up) is a platform failure, retried on another node and never the participant's.

use std::time::{Duration, Instant};

use bollard::models::{NodeState, TaskState};
use bollard::query_parameters::LogsOptionsBuilder;

use super::run::Lines;
use super::{Exit, LineSink, RunOutcome, Sandbox, SandboxError};

/// How often the task's and its node's state are read.
const POLL: Duration = Duration::from_millis(500);

/// How a task ended, as the manager saw it.
struct Exited {
    code: i64,
    container: String,
}

impl Sandbox {
    /// Follows the task `task_id` (already started on another node): streams its logs to
    /// `on_line`, waits for its end or stops following at `wall_clock` (the caller removes the
    /// service, which stops the task), and reports how it ended.
    pub async fn follow_task(
        &self,
        task_id: &str,
        wall_clock: Duration,
        on_line: &mut LineSink,
    ) -> Result<RunOutcome, SandboxError> {
        let started = Instant::now();
        let options = LogsOptionsBuilder::default().follow(true).stdout(true).stderr(true).build();
        let mut logs = self.docker.task_logs(task_id, Some(options));
        let mut poll = tokio::time::interval(POLL);
        let exited = async {
            loop {
                poll.tick().await;
                if let Some(exited) = self.task_progress(task_id).await? {
                    return Ok::<_, SandboxError>(exited);
                }
            }
        };
        let mut lines = Lines::default();
        let (exited, logs_open) = lines.read_until(&mut logs, exited, wall_clock, on_line).await;
        let exited = exited.transpose()?;
        let duration = started.elapsed();
        if logs_open {
            lines.drain(&mut logs, on_line).await;
        }
        lines.finish(on_line);
        let (exit, container_id) = match exited {
            Some(Exited { code, container }) => (Exit::Code(code), container),
            None => (Exit::TimedOut, String::new()),
        };
        Ok(RunOutcome {
            exit,
            duration,
            peak_memory_bytes: None,
            log_tail: lines.tail.into_iter().collect(),
            container_id,
        })
    }

    /// Reads the task's state, and its node's while it runs: `None` while it runs.
    async fn task_progress(&self, task_id: &str) -> Result<Option<Exited>, SandboxError> {
        let task = self.docker.inspect_task(task_id).await?;
        let status = task.status.unwrap_or_default();
        let container = status.container_status.as_ref();
        let code = container.and_then(|c| c.exit_code);
        let container = container.and_then(|c| c.container_id.clone()).unwrap_or_default();
        let reason = status.err.or(status.message).unwrap_or_default();
        match status.state {
            Some(TaskState::COMPLETE) => return Ok(Some(Exited { code: 0, container })),
            Some(TaskState::FAILED) => {
                return match code {
                    Some(code) if code != 0 => Ok(Some(Exited { code, container })),
                    // It never ran: the node could not start what the image names.
                    _ if reason.contains("executable file not found") || reason.contains("no such file") => {
                        Err(SandboxError::ImageRefused(format!("its entrypoint cannot be started: {reason}")))
                    }
                    _ => Err(SandboxError::Refused(reason)),
                };
            }
            Some(TaskState::REJECTED) => return Err(SandboxError::Refused(reason)),
            _ => {}
        }
        let node_id = task.node_id.unwrap_or_default();
        let node = self.docker.inspect_node(&node_id).await;
        let host = node.as_ref().ok().and_then(|n| n.description.as_ref()?.hostname.clone()).unwrap_or(node_id);
        let lost = || SandboxError::Platform(format!("node '{host}' was lost during the run ({reason})"));
        // Nothing but the node's loss (or an operator) stops a task the runner still follows.
        if matches!(status.state, Some(TaskState::SHUTDOWN | TaskState::ORPHANED | TaskState::REMOVE)) {
            return Err(lost());
        }
        // A node that dies cannot report its task: the manager marks the node down and sets the
        // task's desired state to shutdown, while its last known state stays "running".
        let given_up = matches!(task.desired_state, Some(TaskState::SHUTDOWN | TaskState::REMOVE));
        let down = matches!(
            node?.status.and_then(|s| s.state),
            Some(NodeState::DOWN | NodeState::DISCONNECTED | NodeState::UNKNOWN)
        );
        if given_up || down {
            return Err(lost());
        }
        Ok(None)
    }
}
