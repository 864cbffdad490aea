//! The sandbox policy: one [`Hardening`] description of a run, rendered for the Engine
//! ([`Hardening::to_container_body`], whose `HostConfig` is [`Hardening::to_host_config`]) and
//! for Swarm ([`Hardening::to_task_spec`]). Both renderings read the same fields, and a test
//! compares them field by field, so the backends cannot drift apart again.
//!
//! Swarm on API 1.41 cannot express everything; [`SWARM_GAPS`] lists each difference and what
//! compensates for it.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{
    ContainerCreateBody, DeviceRequest, GenericResourcesInner, GenericResourcesInnerDiscreteResourceSpec, HostConfig,
    HostConfigLogConfig, Limit, Mount, MountTmpfsOptions, MountType, ResourceObject, ResourcesUlimits, TaskSpec,
    TaskSpecContainerSpec, TaskSpecContainerSpecPrivileges, TaskSpecLogDriver, TaskSpecResources,
};

use super::{ImageInfo, RunSpec, SandboxError};

/// The version of this policy, recorded in every score receipt (issue 17): bump it with any
/// change to what [`Hardening`] renders (a limit, a mount, a capability, a default), so a
/// receipt says which sandbox a score was computed in. 2: `DARKROOM_SEED` in the environment.
pub const POLICY_VERSION: u32 = 2;

/// The user a container runs as when its image names none, or names root: `nobody`.
pub const DEFAULT_USER: &str = "65534:65534";
/// Open files per process: enough for any sane model, far below the host's.
pub const NOFILE_LIMIT: i64 = 1024;
/// The engine keeps at most `LOG_MAX_FILES` × `LOG_MAX_SIZE` of a container's log on disk, so a
/// stdout flood cannot fill the host (the platform reads the stream live anyway).
pub const LOG_MAX_SIZE: &str = "10m";
pub const LOG_MAX_FILES: &str = "2";
/// More image-declared volumes than this is refused rather than mounted.
pub const MAX_VOLUMES: usize = 16;

/// Where the Swarm rendering differs from the Engine's, and why that is still safe. The
/// rendering test fails if a field differs that is not listed here.
pub const SWARM_GAPS: &[(&str, &str)] = &[
    (
        "network",
        "Swarm cannot attach a service to the `none` network; the Swarm backend gives each run its own \
         `internal` overlay network (no gateway, no route out, no other member)",
    ),
    (
        "no_new_privileges",
        "TaskSpec Privileges.NoNewPrivileges is newer than API 1.41, so an Engine 20.10 ignores it; \
         rendered anyway (honoured by newer engines). Compensated by never running as uid 0 unless the \
         challenge allows it, and by dropping every capability, so a setuid binary gains nothing it \
         could use (a setuid-root binary still cannot regain dropped capabilities)",
    ),
    (
        "swap",
        "TaskSpec Resources.SwapBytes is newer than API 1.41, so an Engine 20.10 may grant swap up to \
         the memory limit again; rendered anyway. Run Swarm nodes without swap (`swapoff -a`)",
    ),
    (
        "gpus",
        "the same count, expressed as a reservation of `NVIDIA-GPU` generic resources instead of a \
         device request",
    ),
];

/// A size-capped tmpfs inside the container (the engine mounts it `noexec,nosuid,nodev`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    pub target: String,
    pub size_bytes: i64,
}

/// Everything that confines one container, independent of the backend that starts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hardening {
    pub image: String,
    pub labels: HashMap<String, String>,
    pub env: Vec<String>,
    /// Always explicit and numeric (`uid:gid`) unless the challenge allows root.
    pub user: String,
    pub read_only_rootfs: bool,
    pub cap_drop: Vec<String>,
    pub no_new_privileges: bool,
    pub network_none: bool,
    pub memory_bytes: i64,
    /// Swap beyond the memory limit: always 0.
    pub swap_bytes: i64,
    pub nano_cpus: i64,
    pub pids: i64,
    pub gpus: u32,
    /// Read-only inputs and the writable `/output`, as bind mounts.
    pub binds: Vec<Mount>,
    /// `/tmp` first, then one per image-declared volume.
    pub tmpfs: Vec<Tmpfs>,
    /// `(name, limit)`, soft = hard.
    pub ulimits: Vec<(String, i64)>,
    pub log_driver: String,
    pub log_options: HashMap<String, String>,
}

impl Hardening {
    /// The policy for running `spec` from `image`. `allow_root` is the challenge's opt-in to
    /// keeping an image's root user. Refuses an image that declares too many volumes.
    pub fn new(spec: &RunSpec, image: &ImageInfo, allow_root: bool) -> Result<Self, SandboxError> {
        let l = &spec.limits;
        let tmp_bytes = (l.tmp_size_mb as i64) << 20;
        let mut tmpfs = vec![Tmpfs { target: "/tmp".into(), size_bytes: tmp_bytes }];
        let taken: Vec<&str> = spec.inputs.iter().map(|(_, t)| t.as_str()).chain(["/output", "/tmp"]).collect();
        let mut volumes: Vec<String> = image
            .volumes
            .iter()
            .filter(|v| v.starts_with('/'))
            .map(|v| normalise_target(v))
            .filter(|v| v != "/" && !taken.contains(&v.as_str()))
            .collect();
        volumes.sort();
        volumes.dedup();
        if volumes.len() > MAX_VOLUMES {
            return Err(SandboxError::ImageRefused(format!(
                "the image declares {} VOLUMEs; at most {MAX_VOLUMES} are allowed",
                volumes.len()
            )));
        }
        // Without a mount over it, the engine would back each declared volume with an unbounded
        // anonymous volume on the host's disk.
        tmpfs.extend(volumes.into_iter().map(|target| Tmpfs { target, size_bytes: tmp_bytes }));
        let memory_bytes = (l.memory_mb as i64) << 20;
        Ok(Self {
            image: spec.image.clone(),
            labels: spec.labels.clone(),
            env: run_env(l.cpus, spec.seed),
            user: resolve_user(image.user.as_deref(), allow_root),
            read_only_rootfs: true,
            cap_drop: vec!["ALL".into()],
            no_new_privileges: true,
            network_none: true,
            memory_bytes,
            swap_bytes: 0,
            nano_cpus: (l.cpus * 1e9) as i64,
            pids: i64::from(l.pids),
            gpus: l.gpus,
            binds: bind_mounts(spec),
            tmpfs,
            ulimits: vec![("core".into(), 0), ("nofile".into(), NOFILE_LIMIT)],
            log_driver: "json-file".into(),
            log_options: HashMap::from([
                ("max-size".to_owned(), LOG_MAX_SIZE.to_owned()),
                ("max-file".to_owned(), LOG_MAX_FILES.to_owned()),
            ]),
        })
    }

    /// Bind mounts, then the tmpfs mounts: the same list on both backends.
    pub fn mounts(&self) -> Vec<Mount> {
        let tmpfs = self.tmpfs.iter().map(|t| Mount {
            typ: Some(MountType::TMPFS),
            target: Some(t.target.clone()),
            tmpfs_options: Some(MountTmpfsOptions {
                size_bytes: Some(t.size_bytes),
                mode: Some(0o1777),
                ..Default::default()
            }),
            ..Default::default()
        });
        self.binds.iter().cloned().chain(tmpfs).collect()
    }

    fn ulimits_model(&self) -> Vec<ResourcesUlimits> {
        self.ulimits
            .iter()
            .map(|(name, v)| ResourcesUlimits { name: Some(name.clone()), soft: Some(*v), hard: Some(*v) })
            .collect()
    }

    /// The Engine's host configuration.
    pub fn to_host_config(&self) -> HostConfig {
        HostConfig {
            network_mode: self.network_none.then(|| "none".into()),
            mounts: Some(self.mounts()),
            readonly_rootfs: Some(self.read_only_rootfs),
            cap_drop: Some(self.cap_drop.clone()),
            security_opt: self.no_new_privileges.then(|| vec!["no-new-privileges".into()]),
            memory: Some(self.memory_bytes),
            // The Engine's MemorySwap is memory + swap.
            memory_swap: Some(self.memory_bytes + self.swap_bytes),
            nano_cpus: Some(self.nano_cpus),
            pids_limit: Some(self.pids),
            device_requests: gpu_device_requests(self.gpus),
            ulimits: Some(self.ulimits_model()),
            log_config: Some(HostConfigLogConfig {
                typ: Some(self.log_driver.clone()),
                config: Some(self.log_options.clone()),
            }),
            ..Default::default()
        }
    }

    /// The Engine's create body: the host configuration plus image, user, labels and env.
    pub fn to_container_body(&self) -> ContainerCreateBody {
        ContainerCreateBody {
            image: Some(self.image.clone()),
            user: Some(self.user.clone()),
            labels: Some(self.labels.clone()),
            env: Some(self.env.clone()),
            network_disabled: Some(self.network_none),
            host_config: Some(self.to_host_config()),
            ..Default::default()
        }
    }

    /// The Swarm task: container spec, resources and log driver. The backend adds placement,
    /// restart policy and the run's internal network (see [`SWARM_GAPS`]).
    pub fn to_task_spec(&self) -> TaskSpec {
        TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(self.image.clone()),
                user: Some(self.user.clone()),
                labels: Some(self.labels.clone()),
                env: Some(self.env.clone()),
                read_only: Some(self.read_only_rootfs),
                capability_drop: Some(self.cap_drop.clone()),
                privileges: Some(TaskSpecContainerSpecPrivileges {
                    no_new_privileges: Some(self.no_new_privileges),
                    ..Default::default()
                }),
                mounts: Some(self.mounts()),
                ulimits: Some(self.ulimits_model()),
                ..Default::default()
            }),
            resources: Some(TaskSpecResources {
                limits: Some(Limit {
                    nano_cpus: Some(self.nano_cpus),
                    memory_bytes: Some(self.memory_bytes),
                    pids: Some(self.pids),
                }),
                reservations: Some(ResourceObject {
                    generic_resources: gpu_generic_resources(self.gpus),
                    ..Default::default()
                }),
                swap_bytes: Some(self.swap_bytes),
                ..Default::default()
            }),
            log_driver: Some(TaskSpecLogDriver {
                name: Some(self.log_driver.clone()),
                options: Some(self.log_options.clone()),
            }),
            ..Default::default()
        }
    }
}

/// Cleans a path as the engine does (`//`, `.` and `..` resolved), so a declared volume such as
/// `/output/.` is recognised as `/output` rather than failing the create as a duplicate mount
/// (which would read as the platform's fault and be retried for free).
fn normalise_target(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The user a participant's container runs as. Without `allow_root`, only a numeric, non-zero
/// uid and gid from the image are kept; anything else becomes `65534` (`nobody`). Names are
/// not resolved: the image's `/etc/passwd` is the participant's to write and could map any
/// name to uid 0, and a uid with no group would run with gid 0.
pub fn resolve_user(image_user: Option<&str>, allow_root: bool) -> String {
    let image_user = image_user.map(str::trim).filter(|u| !u.is_empty());
    if allow_root {
        // The image's own choice; unset means the engine's default, root.
        return image_user.unwrap_or("0:0").to_owned();
    }
    let non_root = |id: Option<&str>| id.and_then(|s| s.parse::<u32>().ok()).filter(|&n| n != 0);
    let (uid, gid) = match image_user {
        Some(u) => {
            let mut parts = u.splitn(2, ':');
            (non_root(parts.next()), non_root(parts.next()))
        }
        None => (None, None),
    };
    match uid {
        Some(uid) => format!("{uid}:{}", gid.unwrap_or(65534)),
        None => DEFAULT_USER.to_owned(),
    }
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

/// A Swarm reservation of `gpus` discrete `NVIDIA-GPU` generic resources (a GPU node advertises
/// them through dockerd's `node-generic-resources`).
pub fn gpu_generic_resources(gpus: u32) -> Option<Vec<GenericResourcesInner>> {
    (gpus > 0).then(|| {
        vec![GenericResourcesInner {
            discrete_resource_spec: Some(GenericResourcesInnerDiscreteResourceSpec {
                kind: Some("NVIDIA-GPU".into()),
                value: Some(i64::from(gpus)),
            }),
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

/// What every container's environment holds: [`thread_env`] and `DARKROOM_SEED`.
pub fn run_env(cpus: f64, seed: u64) -> Vec<String> {
    let mut env = thread_env(cpus);
    env.push(format!("DARKROOM_SEED={seed}"));
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

#[cfg(test)]
mod tests;
