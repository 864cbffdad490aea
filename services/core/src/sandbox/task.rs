//! Following a Swarm task that runs on another node than the manager the runner talks to.
//!
//! The manager relays the task's logs and state, but not the container's memory or whether the
//! kernel killed it for memory: such a run reports no peak memory, and an OOM kill shows as
//! exit code 137. A node that stops answering mid-run (the manager marks it down, or gives the
//! task up) is a platform failure, retried on another node and never the participant's.

use std::time::{Duration, Instant};

use bollard::models::{NodeState, TaskState};
use bollard::query_parameters::LogsOptionsBuilder;
use futures::StreamExt;

use super::run::Lines;
use super::{Exit, LineSink, RunOutcome, Sandbox, SandboxError};

/// How often the task's and its node's state are read.
const POLL: Duration = Duration::from_millis(500);

/// Where a task stands, as the manager sees it.
enum Progress {
    Running,
    Exited { code: i64, container: String },
}

impl Sandbox {
    /// Follows the task `task_id` (already started on `node_id`): streams its logs to
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
        let mut lines = Lines::default();
        let mut poll = tokio::time::interval(POLL);
        let deadline = tokio::time::sleep(wall_clock);
        tokio::pin!(deadline);
        let mut logs_open = true;
        let ended = loop {
            tokio::select! {
                item = logs.next(), if logs_open => match item {
                    Some(Ok(out)) => lines.push(out.as_ref(), on_line),
                    _ => logs_open = false,
                },
                _ = poll.tick() => match self.task_progress(task_id).await? {
                    Progress::Running => {}
                    exited @ Progress::Exited { .. } => break Some(exited),
                },
                _ = &mut deadline => break None,
            }
        };
        let duration = started.elapsed();
        if logs_open {
            lines.drain(&mut logs, on_line).await;
        }
        lines.finish(on_line);
        let (exit, container_id) = match ended {
            Some(Progress::Exited { code, container }) => (Exit::Code(code), container),
            _ => (Exit::TimedOut, String::new()),
        };
        Ok(RunOutcome {
            exit,
            duration,
            peak_memory_bytes: None,
            log_tail: lines.tail.into_iter().collect(),
            container_id,
        })
    }

    /// Reads the task's state, and its node's when it still runs.
    async fn task_progress(&self, task_id: &str) -> Result<Progress, SandboxError> {
        let task = self.docker.inspect_task(task_id).await?;
        let status = task.status.unwrap_or_default();
        let container = status.container_status.as_ref();
        let code = container.and_then(|c| c.exit_code);
        let container = container.and_then(|c| c.container_id.clone()).unwrap_or_default();
        let reason = status.err.or(status.message).unwrap_or_default();
        let node_id = task.node_id.unwrap_or_default();
        match status.state {
            Some(TaskState::COMPLETE) => return Ok(Progress::Exited { code: 0, container }),
            Some(TaskState::FAILED) => {
                return match code {
                    Some(code) if code != 0 => Ok(Progress::Exited { code, container }),
                    // It never ran: the node could not start what the image names.
                    _ if reason.contains("executable file not found") || reason.contains("no such file") => {
                        Err(SandboxError::ImageRefused(format!("its entrypoint cannot be started: {reason}")))
                    }
                    _ => Err(SandboxError::Refused(reason)),
                };
            }
            Some(TaskState::REJECTED) => return Err(SandboxError::Refused(reason)),
            // Nothing but the node's loss (or an operator) stops a task the runner still follows.
            Some(TaskState::SHUTDOWN | TaskState::ORPHANED | TaskState::REMOVE) => {
                return Err(self.node_lost(&node_id, &reason).await);
            }
            _ => {}
        }
        // A node that dies cannot report its task: the manager marks the node down and sets the
        // task's desired state to shutdown, while its last known state stays "running".
        let given_up = matches!(task.desired_state, Some(TaskState::SHUTDOWN | TaskState::REMOVE));
        let node = self.docker.inspect_node(&node_id).await?;
        let down = matches!(
            node.status.and_then(|s| s.state),
            Some(NodeState::DOWN | NodeState::DISCONNECTED | NodeState::UNKNOWN)
        );
        if given_up || down {
            return Err(self.node_lost(&node_id, &reason).await);
        }
        Ok(Progress::Running)
    }

    async fn node_lost(&self, node_id: &str, reason: &str) -> SandboxError {
        let host = match self.docker.inspect_node(node_id).await {
            Ok(node) => node.description.and_then(|d| d.hostname).unwrap_or_else(|| node_id.to_owned()),
            Err(_) => node_id.to_owned(),
        };
        SandboxError::Platform(format!("node '{host}' was lost during the run ({reason})"))
    }
}
