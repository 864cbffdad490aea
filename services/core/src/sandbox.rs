//! The hardened container run shared by the swarm runner (participants) and the evaluator
//! (organizers' images), on one Docker Engine.
//!
//! Every run gets: no network at all, a read-only root filesystem, read-only bind mounts for
//! its inputs, one writable `/output` whose size the kernel caps (a tmpfs the sandbox mounts on
//! the host, kept after the container exits so the output can be read), a small `/tmp`, all
//! capabilities dropped, `no-new-privileges`, a non-root user unless the image names its own,
//! pids / memory (no swap) / CPU limits, and a wall-clock timeout. The container is removed
//! whatever happens.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, DeviceRequest, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ImportImageOptionsBuilder, KillContainerOptionsBuilder,
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder, StatsOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use futures::StreamExt;

/// The label every sandboxed container carries: the owner's id, so a restarted service can find
/// and remove what it left behind.
pub const OWNER_LABEL: &str = "darkroom.owner";
/// The user a container runs as when its image names none: `nobody`.
pub const DEFAULT_USER: &str = "65534:65534";

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

/// Receives each log line of a run as it is written.
pub type LineSink = dyn for<'a> FnMut(&'a str) + Send;

/// What an image offers.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// `sha256:…`, the digest recorded with the score.
    pub id: String,
    pub user: Option<String>,
    pub has_entrypoint: bool,
}

/// Resource limits of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub cpus: f64,
    pub memory_mb: u64,
    pub pids: u32,
    pub gpus: u32,
    pub tmp_size_mb: u64,
    pub output_max_mb: u64,
    pub wall_clock: Duration,
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

/// The engine's API, version-negotiated.
#[derive(Clone)]
pub struct Sandbox {
    docker: Docker,
}

/// Docker GPU request: all of `count` NVIDIA GPUs with the `gpu` capability (the engine's
/// `--gpus N`). On a host without the NVIDIA runtime, the engine refuses it at start.
pub fn gpu_device_requests(gpus: u32) -> Option<Vec<DeviceRequest>> {
    (gpus > 0).then(|| {
        vec![DeviceRequest {
            driver: Some("nvidia".into()),
            count: Some(i64::from(gpus)),
            capabilities: Some(vec![vec!["gpu".into()]]),
            ..Default::default()
        }]
    })
}

/// Thread-pool sizes that match the CPU limit. A container sees every core of the host, so a
/// numeric library would otherwise start one thread per host core and have them throttled
/// against the limit; these are the variables the common ones (OpenMP, BLAS, MKL, Rayon and
/// so candle) read. `DARKROOM_CPUS` carries the limit itself.
pub fn thread_env(cpus: f64) -> Vec<String> {
    let threads = (cpus.ceil() as u64).max(1);
    let mut env = vec![format!("DARKROOM_CPUS={cpus}")];
    env.extend(
        ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"]
            .iter()
            .map(|k| format!("{k}={threads}")),
    );
    env
}

/// The inputs, read-only, and the writable `/output`, as bind mounts.
pub fn bind_mounts(spec: &RunSpec) -> Vec<Mount> {
    let bind = |source: &Path, target: &str, read_only: bool| Mount {
        typ: Some(MountType::BIND),
        source: Some(source.display().to_string()),
        target: Some(target.to_owned()),
        read_only: Some(read_only),
        ..Default::default()
    };
    let mut mounts: Vec<Mount> = spec.inputs.iter().map(|(host, target)| bind(host, target, true)).collect();
    mounts.push(bind(&spec.output, "/output", false));
    mounts
}

/// The hardened host configuration every sandboxed container gets.
pub fn host_config(spec: &RunSpec) -> HostConfig {
    let l = &spec.limits;
    let memory = (l.memory_mb as i64) << 20;
    let mounts = bind_mounts(spec);
    HostConfig {
        network_mode: Some("none".into()),
        mounts: Some(mounts),
        tmpfs: Some(HashMap::from([("/tmp".to_owned(), format!("rw,noexec,nosuid,size={}m", l.tmp_size_mb))])),
        readonly_rootfs: Some(true),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        memory: Some(memory),
        memory_swap: Some(memory),
        nano_cpus: Some((l.cpus * 1e9) as i64),
        pids_limit: Some(i64::from(l.pids)),
        device_requests: gpu_device_requests(l.gpus),
        ..Default::default()
    }
}

const TAIL_LINES: usize = 50;

impl Sandbox {
    /// Connects to `DOCKER_HOST` or the local socket and negotiates the API version down to
    /// what the engine speaks.
    pub async fn connect() -> Result<Self, SandboxError> {
        let docker = Docker::connect_with_local_defaults()?
            .negotiate_version()
            .await?
            // Loading a large archive sends no answer until it is unpacked.
            .with_timeout(Duration::from_secs(900));
        Ok(Self { docker })
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub async fn image_info(&self, image: &str) -> Result<ImageInfo, SandboxError> {
        match self.docker.inspect_image(image).await {
            Ok(img) => {
                let config = img.config.unwrap_or_default();
                let has_entrypoint = config.entrypoint.as_ref().is_some_and(|e| !e.is_empty())
                    || config.cmd.as_ref().is_some_and(|c| !c.is_empty());
                Ok(ImageInfo {
                    id: img.id.unwrap_or_default(),
                    user: config.user.filter(|u| !u.is_empty()),
                    has_entrypoint,
                })
            }
            Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => {
                Err(SandboxError::ImageMissing(image.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Loads a `docker save` archive (streamed from disk) and returns what the engine loaded:
    /// `name:tag` or `sha256:…`.
    pub async fn load_archive(&self, path: &Path) -> Result<String, SandboxError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| SandboxError::Platform(format!("cannot open the uploaded archive {}: {e}", path.display())))?;
        let body = tokio_util::io::ReaderStream::new(file);
        let options = ImportImageOptionsBuilder::default().quiet(true).build();
        let mut stream = self.docker.import_image_stream(options, body, None);
        let mut loaded = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(line) = info.stream.as_deref().map(str::trim)
                        && let Some(r) =
                            line.strip_prefix("Loaded image: ").or_else(|| line.strip_prefix("Loaded image ID: "))
                    {
                        loaded = Some(r.to_owned());
                    }
                }
                Err(DockerError::DockerStreamError { error }) => return Err(SandboxError::ImageCorrupt(error)),
                Err(DockerError::DockerResponseServerError { status_code, message }) if status_code < 500 => {
                    return Err(SandboxError::ImageCorrupt(message));
                }
                Err(e) => return Err(e.into()),
            }
        }
        loaded.ok_or_else(|| SandboxError::ImageCorrupt("the engine loaded no image from it".into()))
    }

    /// Runs `spec` to completion (or its timeout) and removes the container. `on_line` sees every
    /// log line as it is written.
    pub async fn run(
        &self,
        spec: &RunSpec,
        user: Option<String>,
        on_line: &mut LineSink,
    ) -> Result<RunOutcome, SandboxError> {
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            user: Some(user.unwrap_or_else(|| DEFAULT_USER.to_owned())),
            labels: Some(spec.labels.clone()),
            env: Some(thread_env(spec.limits.cpus)),
            network_disabled: Some(true),
            host_config: Some(host_config(spec)),
            ..Default::default()
        };
        // A leftover container of the same name (a crash before removal) would block creation.
        self.remove(&spec.name).await;
        let created = self
            .docker
            .create_container(Some(CreateContainerOptionsBuilder::default().name(&spec.name).build()), body)
            .await
            .map_err(|e| match e {
                DockerError::DockerResponseServerError { status_code: 404, .. } => {
                    SandboxError::ImageMissing(spec.image.clone())
                }
                other => other.into(),
            })?;
        let id = created.id;
        let result = self.run_created(&id, spec, on_line).await;
        self.remove(&id).await;
        result
    }

    async fn run_created(&self, id: &str, spec: &RunSpec, on_line: &mut LineSink) -> Result<RunOutcome, SandboxError> {
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
                    SandboxError::Refused(message)
                }
                other => other.into(),
            });
        }
        self.follow(id, spec.limits.wall_clock, on_line).await
    }

    /// Follows a started container: streams its logs to `on_line`, tracks peak memory, waits
    /// for its exit or kills it at `wall_clock`, and reports how it ended. The caller removes it.
    pub async fn follow(
        &self,
        id: &str,
        wall_clock: Duration,
        on_line: &mut LineSink,
    ) -> Result<RunOutcome, SandboxError> {
        let started = Instant::now();
        let stats_task = {
            let docker = self.docker.clone();
            let id = id.to_owned();
            tokio::spawn(async move {
                let mut peak: Option<u64> = None;
                let mut stats = docker.stats(&id, Some(StatsOptionsBuilder::default().stream(true).build()));
                while let Some(Ok(s)) = stats.next().await {
                    if let Some(v) = s.memory_stats.and_then(|m| m.max_usage.or(m.usage)) {
                        peak = Some(peak.unwrap_or(0).max(v));
                    }
                }
                peak
            })
        };
        let mut logs =
            self.docker.logs(id, Some(LogsOptionsBuilder::default().follow(true).stdout(true).stderr(true).build()));
        let mut wait = self
            .docker
            .wait_container(id, Some(WaitContainerOptionsBuilder::default().condition("not-running").build()));
        let mut lines = Lines::default();
        let deadline = tokio::time::sleep(wall_clock);
        tokio::pin!(deadline);
        let mut logs_open = true;
        let code = loop {
            tokio::select! {
                item = logs.next(), if logs_open => match item {
                    Some(Ok(out)) => lines.push(out.as_ref(), on_line),
                    _ => logs_open = false,
                },
                waited = wait.next() => break match waited {
                    Some(Ok(r)) => Ok(r.status_code),
                    Some(Err(DockerError::DockerContainerWaitError { code, .. })) => Ok(code),
                    Some(Err(e)) => Err(SandboxError::from(e)),
                    None => Err(SandboxError::Platform("the engine stopped reporting on the container".into())),
                },
                _ = &mut deadline => break Err(SandboxError::Platform("__timeout__".into())),
            }
        };
        let duration = started.elapsed();
        let timed_out = matches!(&code, Err(SandboxError::Platform(m)) if m == "__timeout__");
        if timed_out {
            let _ = self
                .docker
                .kill_container(id, Some(KillContainerOptionsBuilder::default().signal("SIGKILL").build()))
                .await;
        }
        // The exit can be reported before the last lines: read the stream to its end (bounded,
        // since a flood could otherwise hold us here).
        let drain_until = tokio::time::Instant::now() + Duration::from_secs(2);
        while logs_open {
            match tokio::time::timeout_at(drain_until, logs.next()).await {
                Ok(Some(Ok(out))) => lines.push(out.as_ref(), on_line),
                _ => logs_open = false,
            }
        }
        lines.finish(on_line);
        stats_task.abort();
        let peak_memory_bytes = stats_task.await.ok().flatten();
        let state = self.docker.inspect_container(id, None).await.ok().and_then(|c| c.state);
        let oom = state.as_ref().and_then(|s| s.oom_killed).unwrap_or(false);
        let exit = if timed_out {
            Exit::TimedOut
        } else {
            let code = code?;
            // A kernel OOM kill shows as 137 with OOMKilled set.
            if oom { Exit::OutOfMemory } else { Exit::Code(code) }
        };
        Ok(RunOutcome {
            exit,
            duration,
            peak_memory_bytes,
            log_tail: lines.tail.into_iter().collect(),
            container_id: id.to_owned(),
        })
    }

    /// Removes an image reference (a tag, or the image once no tag is left); a missing one is
    /// fine, and one a container still uses stays (the engine refuses without `force`).
    pub async fn remove_image(&self, reference: &str) {
        let options = bollard::query_parameters::RemoveImageOptionsBuilder::default().force(false).build();
        match self.docker.remove_image(reference, Some(options), None).await {
            Ok(_) | Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => tracing::warn!(image = reference, error = %e, "could not remove image"),
        }
    }

    /// The tags on the engine in `repository` (`<repository>:<tag>` each).
    pub async fn tags_in(&self, repository: &str) -> Result<Vec<String>, SandboxError> {
        let pattern = format!("{repository}:*");
        let filters: HashMap<&str, Vec<&str>> = HashMap::from([("reference", vec![pattern.as_str()])]);
        let images = self
            .docker
            .list_images(Some(bollard::query_parameters::ListImagesOptionsBuilder::default().filters(&filters).build()))
            .await?;
        let prefix = format!("{repository}:");
        Ok(images.into_iter().flat_map(|i| i.repo_tags).filter(|t| t.starts_with(&prefix)).collect())
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

/// Splits a log stream into lines, keeps the last [`TAIL_LINES`] (each cut at 500 characters).
#[derive(Default)]
struct Lines {
    partial: String,
    tail: VecDeque<String>,
}

impl Lines {
    fn push(&mut self, bytes: &[u8], on_line: &mut LineSink) {
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

    fn finish(&mut self, on_line: &mut LineSink) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.emit(&line, on_line);
        }
    }
}

/// A host folder for one run's `/output`: a size-capped tmpfs when this process may mount
/// (root on the host), otherwise a plain folder whose size is checked after the run.
pub struct OutputDir {
    pub path: PathBuf,
    pub cap_bytes: u64,
    pub mounted: bool,
}

impl OutputDir {
    /// Creates `path` empty, writable by the container's user.
    pub async fn create(path: PathBuf, cap_bytes: u64) -> Result<Self, SandboxError> {
        let _ = Self::unmount(&path).await;
        let _ = tokio::fs::remove_dir_all(&path).await;
        tokio::fs::create_dir_all(&path).await?;
        // One page of slack so "exactly the cap" is not a false "too large".
        let size = cap_bytes + 4096;
        let mounted = tokio::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0777,nosuid,nodev,noexec"), "tmpfs"])
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success());
        if !mounted {
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).await?;
        }
        Ok(Self { path, cap_bytes, mounted })
    }

    async fn unmount(path: &Path) -> bool {
        tokio::process::Command::new("umount")
            .arg(path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success())
    }

    /// Unmounts and deletes the folder.
    pub async fn destroy(self) {
        if self.mounted {
            Self::unmount(&self.path).await;
        }
        let _ = tokio::fs::remove_dir_all(&self.path).await;
    }
}

/// Total bytes and number of regular files under `path`, without following links.
pub fn dir_usage(path: &Path) -> (u64, usize) {
    let Ok(entries) = std::fs::read_dir(path) else { return (0, 0) };
    entries.flatten().fold((0, 0), |(bytes, files), e| match e.file_type() {
        Ok(t) if t.is_dir() => {
            let (b, f) = dir_usage(&e.path());
            (bytes + b, files + f)
        }
        Ok(t) if t.is_file() => (bytes + e.metadata().map(|m| m.len()).unwrap_or(0), files + 1),
        _ => (bytes, files),
    })
}

/// Packs the folder `root` into a tar archive (regular files and folders only; links are left
/// out so an archive can never point outside itself).
pub fn archive_dir(root: &Path) -> Result<Vec<u8>, SandboxError> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let kind = entry.file_type()?;
            let rel = entry.path().strip_prefix(root).map(Path::to_path_buf).unwrap_or_default();
            if kind.is_dir() {
                builder.append_dir(&rel, entry.path())?;
                stack.push(entry.path());
            } else if kind.is_file() {
                builder.append_path_with_name(entry.path(), &rel)?;
            }
        }
    }
    Ok(builder.into_inner()?)
}

/// Unpacks an output archive into `dest`, refusing anything but regular files and folders and
/// any path that would leave `dest`.
pub fn extract_archive(bytes: &[u8], dest: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dest).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        if path.components().any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir)) {
            return Err(format!("archive entry '{}' leaves the folder", path.display()));
        }
        let kind = entry.header().entry_type();
        let target = dest.join(&path);
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
        } else if kind.is_file() {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            let mut out = std::fs::File::create(&target).map_err(|e| e.to_string())?;
            std::io::copy(&mut entry, &mut out).map_err(|e| e.to_string())?;
        } else {
            return Err(format!("archive entry '{}' is a {kind:?}, not a file or folder", path.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RunSpec {
        RunSpec {
            name: "n".into(),
            image: "i".into(),
            labels: HashMap::new(),
            inputs: vec![("/srv/data".into(), "/data".into())],
            output: "/srv/out".into(),
            limits: Limits {
                cpus: 1.5,
                memory_mb: 512,
                pids: 64,
                gpus: 0,
                tmp_size_mb: 32,
                output_max_mb: 8,
                wall_clock: Duration::from_secs(5),
            },
        }
    }

    #[test]
    fn thread_pools_are_sized_to_the_cpu_limit_rounded_up() {
        let env = thread_env(1.5);
        assert!(env.contains(&"DARKROOM_CPUS=1.5".to_owned()));
        assert!(env.contains(&"RAYON_NUM_THREADS=2".to_owned()));
        assert!(env.contains(&"OMP_NUM_THREADS=2".to_owned()));
        assert!(thread_env(0.25).contains(&"RAYON_NUM_THREADS=1".to_owned()));
    }

    #[test]
    fn host_config_is_hardened() {
        let h = host_config(&spec());
        assert_eq!(h.network_mode.as_deref(), Some("none"));
        assert_eq!(h.readonly_rootfs, Some(true));
        assert_eq!(h.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(h.security_opt, Some(vec!["no-new-privileges".to_owned()]));
        assert_eq!(h.memory, Some(512 << 20));
        assert_eq!(h.memory_swap, h.memory, "no swap beyond the memory limit");
        assert_eq!(h.nano_cpus, Some(1_500_000_000));
        assert_eq!(h.pids_limit, Some(64));
        let mounts = h.mounts.unwrap();
        assert!(mounts.iter().any(|m| m.target.as_deref() == Some("/data") && m.read_only == Some(true)));
        assert!(mounts.iter().any(|m| m.target.as_deref() == Some("/output") && m.read_only == Some(false)));
        assert!(h.device_requests.is_none());
    }

    #[test]
    fn gpus_become_an_nvidia_device_request() {
        let r = gpu_device_requests(2).unwrap();
        assert_eq!(r[0].driver.as_deref(), Some("nvidia"));
        assert_eq!(r[0].count, Some(2));
        assert_eq!(r[0].capabilities, Some(vec![vec!["gpu".to_owned()]]));
        assert!(gpu_device_requests(0).is_none());
    }

    #[test]
    fn extraction_refuses_escapes_and_links() {
        let dir = std::env::temp_dir().join(format!("sandbox-extract-{}", std::process::id()));
        let mut ok = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        ok.append_data(&mut h, "sub/a.csv", &b"hi"[..]).unwrap();
        extract_archive(&ok.into_inner().unwrap(), &dir).unwrap();
        assert_eq!(std::fs::read(dir.join("sub/a.csv")).unwrap(), b"hi");

        let mut link = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        link.append_link(&mut h, "evil", "/etc/passwd").unwrap();
        assert!(extract_archive(&link.into_inner().unwrap(), &dir).unwrap_err().contains("not a file"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
