//! Running and following one container on a Docker Engine: create it from a [`Hardening`],
//! stream its logs, track its peak memory, enforce the wall clock, and remove it whatever
//! happens.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StatsOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures::StreamExt;

use super::{Exit, Hardening, OWNER_LABEL, RunOutcome, RunSpec, SandboxError};

/// Receives each log line of a run as it is written.
pub type LineSink = dyn for<'a> FnMut(&'a str) + Send;

/// Who reads a run's logs, and when.
pub enum Logs<'a> {
    /// Every line as it is written (a participant's run: its live logs).
    Follow(&'a mut LineSink),
    /// Nobody while it runs; a run that does not exit 0 has its last lines read after its
    /// end, for the failure's detail (an evaluation: only its failures show output). Saves
    /// the engine a log stream per run, which a healthy run never needed.
    TailOnFailure,
}

/// The engine's API, version-negotiated.
#[derive(Clone)]
pub struct Sandbox {
    pub(super) docker: Docker,
}

const TAIL_LINES: usize = 50;

/// How long a container runs before its memory is sampled. The engine samples a container's
/// stats once a second, so a younger one could at best have caught one sample, while the
/// subscription cost the engine and its shims more CPU per container than all of the
/// platform's own bookkeeping (BENCHMARKS.md, the burst). A run of about 1.5 s or more is
/// always sampled; a shorter one reports no peak memory, as it mostly did before.
const STATS_AFTER: Duration = Duration::from_millis(500);

impl Sandbox {
    /// Connects to `DOCKER_HOST` or the local socket and negotiates the API version down to
    /// what the engine speaks.
    pub async fn connect() -> Result<Self, SandboxError> {
        Self::connect_to("").await
    }

    /// Connects to `host` (`unix://…`, `tcp://…`; empty: as [`Sandbox::connect`]).
    pub async fn connect_to(host: &str) -> Result<Self, SandboxError> {
        let docker =
            if host.is_empty() { Docker::connect_with_local_defaults()? } else { Docker::connect_with_host(host)? };
        let docker = docker
            .negotiate_version()
            .await?
            // Loading a large archive sends no answer until it is unpacked.
            .with_timeout(Duration::from_secs(900));
        Ok(Self { docker })
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Runs `spec` under `hardening` to completion (or its timeout) and removes the container;
    /// `logs` says who reads its output.
    pub async fn run(&self, spec: &RunSpec, hardening: &Hardening, logs: Logs<'_>) -> Result<RunOutcome, SandboxError> {
        let body = hardening.to_container_body();
        let options = CreateContainerOptionsBuilder::default().name(&spec.name).build();
        let created = match self.docker.create_container(Some(options.clone()), body.clone()).await {
            // A leftover container of the same name (a crash before its removal) is removed and
            // the create tried once more; removing first every time would cost every run a call.
            Err(DockerError::DockerResponseServerError { status_code: 409, .. }) => {
                self.remove(&spec.name).await;
                self.docker.create_container(Some(options), body).await
            }
            other => other,
        };
        let created = created.map_err(|e| match e {
            DockerError::DockerResponseServerError { status_code: 404, .. } => {
                SandboxError::ImageMissing(spec.image.clone())
            }
            // What the image declares made the container impossible: the participant's
            // doing, charged, never a free platform retry.
            DockerError::DockerResponseServerError { status_code: 400, message } if message.contains("mount") => {
                SandboxError::ImageRefused(message)
            }
            other => other.into(),
        })?;
        let id = created.id;
        let result = self.run_created(&id, spec, logs).await;
        self.remove(&id).await;
        result
    }

    async fn run_created(&self, id: &str, spec: &RunSpec, logs: Logs<'_>) -> Result<RunOutcome, SandboxError> {
        if let Err(e) = self.docker.start_container(id, None).await {
            return Err(match e {
                DockerError::DockerResponseServerError { status_code, message }
                    if status_code < 500 || message.contains("device driver") =>
                {
                    SandboxError::Refused(message)
                }
                DockerError::DockerResponseServerError { message, .. }
                    if message.contains("executable file not found") || message.contains("no such file") =>
                {
                    SandboxError::ImageRefused(format!("its entrypoint cannot be started: {message}"))
                }
                other => other.into(),
            });
        }
        match logs {
            Logs::Follow(on_line) => self.follow(id, spec.limits.wall_clock, on_line).await,
            Logs::TailOnFailure => self.await_exit(id, spec.limits.wall_clock).await,
        }
    }

    /// Follows a started container: streams its logs to `on_line`, tracks peak memory, waits
    /// for its exit or kills it at `wall_clock`, and reports how it ended. The caller removes it.
    pub async fn follow(
        &self,
        id: &str,
        wall_clock: Duration,
        on_line: &mut LineSink,
    ) -> Result<RunOutcome, SandboxError> {
        let watch = Watch::start(self, id);
        let mut logs =
            self.docker.logs(id, Some(LogsOptionsBuilder::default().follow(true).stdout(true).stderr(true).build()));
        let mut lines = Lines::default();
        let (exited, logs_open) = lines.read_until(&mut logs, self.exited(id), wall_clock, on_line).await;
        let duration = watch.started.elapsed();
        if exited.is_none() {
            self.kill(id).await;
        }
        if logs_open {
            lines.drain(&mut logs, on_line).await;
        }
        lines.finish(on_line);
        self.outcome(id, watch, duration, exited, lines).await
    }

    /// As [`Sandbox::follow`] with nobody reading the logs while it runs: only a run that did
    /// not exit 0 has its last lines read, once it has ended.
    async fn await_exit(&self, id: &str, wall_clock: Duration) -> Result<RunOutcome, SandboxError> {
        let watch = Watch::start(self, id);
        let exited = tokio::time::timeout(wall_clock, self.exited(id)).await.ok();
        let duration = watch.started.elapsed();
        if exited.is_none() {
            self.kill(id).await;
        }
        let mut lines = Lines::default();
        if !matches!(exited, Some(Ok(0))) {
            let options = LogsOptionsBuilder::default().stdout(true).stderr(true).tail(&TAIL_LINES.to_string()).build();
            let mut logs = self.docker.logs(id, Some(options));
            let until = tokio::time::Instant::now() + Duration::from_secs(2);
            while let Ok(Some(Ok(out))) = tokio::time::timeout_at(until, logs.next()).await {
                lines.push(out.as_ref(), &mut |_| {});
            }
            lines.finish(&mut |_| {});
        }
        self.outcome(id, watch, duration, exited, lines).await
    }

    /// The container's exit code, once it is no longer running.
    async fn exited(&self, id: &str) -> Result<i64, SandboxError> {
        let options = WaitContainerOptionsBuilder::default().condition("not-running").build();
        match self.docker.wait_container(id, Some(options)).next().await {
            Some(Ok(r)) => Ok(r.status_code),
            Some(Err(DockerError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(SandboxError::from(e)),
            None => Err(SandboxError::Platform("the engine stopped reporting on the container".into())),
        }
    }

    async fn kill(&self, id: &str) {
        let options = KillContainerOptionsBuilder::default().signal("SIGKILL").build();
        let _ = self.docker.kill_container(id, Some(options)).await;
    }

    /// How a run ended: `exited` is `None` when the wall clock ran out.
    async fn outcome(
        &self,
        id: &str,
        watch: Watch,
        duration: Duration,
        exited: Option<Result<i64, SandboxError>>,
        lines: Lines,
    ) -> Result<RunOutcome, SandboxError> {
        watch.stats.abort();
        let peak_memory_bytes = Some(watch.peak.load(Ordering::Relaxed)).filter(|&bytes| bytes > 0);
        let exit = match exited.transpose()? {
            None => Exit::TimedOut,
            // A clean exit is the program's own verdict; only a failed one asks the engine
            // whether the kernel's OOM killer caused it (137 with OOMKilled set, or a child
            // killed and the program failing after it). One request fewer per healthy run.
            Some(0) => Exit::Code(0),
            Some(_) if self.oom_killed(id).await => Exit::OutOfMemory,
            Some(code) => Exit::Code(code),
        };
        Ok(RunOutcome {
            exit,
            duration,
            peak_memory_bytes,
            log_tail: lines.tail.into_iter().collect(),
            container_id: id.to_owned(),
        })
    }

    /// Whether the engine saw the kernel's OOM killer in the container; `false` when it
    /// cannot say (the exit code is reported as it is).
    async fn oom_killed(&self, id: &str) -> bool {
        let state = self.docker.inspect_container(id, None).await.ok().and_then(|c| c.state);
        state.and_then(|s| s.oom_killed).unwrap_or(false)
    }

    /// Force-removes a container (and its anonymous volumes); a missing one is fine.
    pub async fn remove(&self, name_or_id: &str) {
        let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        match self.docker.remove_container(name_or_id, Some(options)).await {
            Ok(()) | Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => tracing::warn!(container = name_or_id, error = %e, "could not remove container"),
        }
    }

    /// Removes every container labelled as owned by `owner`; returns their names.
    pub async fn remove_owned(&self, owner: &str) -> Result<Vec<String>, SandboxError> {
        let label = format!("{OWNER_LABEL}={owner}");
        let filters: HashMap<&str, Vec<&str>> = HashMap::from([("label", vec![label.as_str()])]);
        let found = self
            .docker
            .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(&filters).build()))
            .await?;
        let mut removed = Vec::new();
        for c in found {
            if let Some(id) = c.id {
                self.remove(&id).await;
                removed.push(c.names.and_then(|n| n.first().cloned()).unwrap_or(id));
            }
        }
        Ok(removed)
    }
}

/// A running container's clock and its peak memory, sampled by a task of its own once it has
/// run [`STATS_AFTER`].
struct Watch {
    started: Instant,
    // Kept outside the task: the engine's stream outlives the container, so the task is
    // aborted, and an aborted task returns nothing of what it saw.
    peak: Arc<AtomicU64>,
    stats: tokio::task::JoinHandle<()>,
}

impl Watch {
    fn start(sandbox: &Sandbox, id: &str) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let stats = {
            let (docker, id, peak) = (sandbox.docker.clone(), id.to_owned(), peak.clone());
            tokio::spawn(async move {
                tokio::time::sleep(STATS_AFTER).await;
                let mut stats = docker.stats(&id, Some(StatsOptionsBuilder::default().stream(true).build()));
                while let Some(Ok(s)) = stats.next().await {
                    if let Some(v) = s.memory_stats.and_then(|m| m.max_usage.or(m.usage)) {
                        peak.fetch_max(v, Ordering::Relaxed);
                    }
                }
            })
        };
        Self { started: Instant::now(), peak, stats }
    }
}

/// Splits a log stream into lines, keeps the last [`TAIL_LINES`] (each cut at 500 characters).
#[derive(Default)]
pub(super) struct Lines {
    partial: String,
    pub(super) tail: VecDeque<String>,
}

impl Lines {
    pub(super) fn push(&mut self, bytes: &[u8], on_line: &mut LineSink) {
        self.partial.push_str(&String::from_utf8_lossy(bytes));
        while let Some(nl) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=nl).collect();
            self.emit(line.trim_end_matches(['\n', '\r']), on_line);
        }
        // A writer that never ends a line must not grow this without bound.
        if self.partial.len() > 64 * 1024 {
            let line = std::mem::take(&mut self.partial);
            self.emit(&line, on_line);
        }
    }

    fn emit(&mut self, line: &str, on_line: &mut LineSink) {
        on_line(line);
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.chars().take(500).collect());
    }

    /// Reads the log stream into lines until `ended` resolves (`Some` of its value) or
    /// `wall_clock` runs out (`None`), and says whether the stream is still open, for
    /// [`Lines::drain`]: how a container on this engine and a task on another node are both
    /// followed.
    pub(super) async fn read_until<S, B, T>(
        &mut self,
        logs: &mut S,
        ended: impl std::future::Future<Output = T>,
        wall_clock: Duration,
        on_line: &mut LineSink,
    ) -> (Option<T>, bool)
    where
        S: futures::Stream<Item = Result<B, DockerError>> + Unpin,
        B: AsRef<[u8]>,
    {
        tokio::pin!(ended);
        let deadline = tokio::time::sleep(wall_clock);
        tokio::pin!(deadline);
        let mut logs_open = true;
        loop {
            tokio::select! {
                item = logs.next(), if logs_open => match item {
                    Some(Ok(out)) => self.push(out.as_ref(), on_line),
                    _ => logs_open = false,
                },
                value = &mut ended => return (Some(value), logs_open),
                () = &mut deadline => return (None, logs_open),
            }
        }
    }

    /// The exit can be reported before the last lines: reads the stream to its end (bounded,
    /// since a flood could otherwise hold us here).
    pub(super) async fn drain<S, B>(&mut self, logs: &mut S, on_line: &mut LineSink)
    where
        S: futures::Stream<Item = Result<B, DockerError>> + Unpin,
        B: AsRef<[u8]>,
    {
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Some(Ok(out))) = tokio::time::timeout_at(until, logs.next()).await {
            self.push(out.as_ref(), on_line);
        }
    }

    pub(super) fn finish(&mut self, on_line: &mut LineSink) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.emit(&line, on_line);
        }
    }
}
