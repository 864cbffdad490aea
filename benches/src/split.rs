//! One machine shaped like two nodes, for the burst (`DARKROOM_BENCH_SPLIT=1`): the Docker
//! engine (dockerd, containerd and the shims containerd starts) pinned to the last core as a
//! worker node, and the platform (this process, which hosts the services, and the servers
//! [`crate::cpu`] names: NATS, the MongoDB wire server, the registry, PostgreSQL) to the others
//! as a control-plane node. A container inherits its shim's pin through runc's init: true of
//! runc 1.1 (this machine's; checked on a running container), not of runc 1.2.7 / 1.3.1 and
//! later, which reset a container's affinity to its cgroup's cpuset.
//!
//! Both sides of the burst run under the same split, so the baseline's containers get exactly
//! the core the platform's do, and the baseline's pipeline, which has no control plane, gets
//! nothing from the other core. What the split measures is therefore whether the platform keeps
//! the engine's core as busy as the bare engine API does (the result carries each core's
//! utilisation on each side to show it), with the platform's own CPU taken off that core, as a
//! deployment keeps its control plane on other machines. It is not comparable with the unsplit
//! burst, where the baseline has both cores.
//!
//! Pinning is per thread (`/proc/PID/task`), repeated until every thread carries the mask:
//! a process may start threads while it is being pinned, and one that ends meanwhile is skipped.

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

use crate::cpu::{Role, machine_cores, role_of};

/// The pins; dropping it (also when the burst panics) gives every process all cores again. A
/// run killed before that leaves them pinned: [`Split::undo`] at the start of the next one
/// unpins them.
pub struct Split;

impl Split {
    /// Pins the engine to the last core and the platform, this process included, to the rest.
    pub fn pin() -> Result<Self, String> {
        let cores = machine_cores();
        if cores < 2 {
            return Err(format!("a split needs two cores or more; this machine has {cores}"));
        }
        // Built first, so an error below unpins what was pinned before it.
        let split = Self;
        let (engine, platform) = (cpu_set(cores - 1..cores)?, cpu_set(0..cores - 1)?);
        let processes = processes();
        if !processes.iter().any(|(_, role)| *role == Role::Engine) {
            return Err("no dockerd or containerd process to pin: is the engine running here?".to_owned());
        }
        for (pid, role) in processes {
            pin_process(pid, if role == Role::Engine { &engine } else { &platform })?;
        }
        let platform_cores = if cores == 2 { "core 0".to_owned() } else { format!("cores 0-{}", cores - 2) };
        eprintln!("[split] the engine on core {}, the platform on {platform_cores}", cores - 1);
        Ok(split)
    }

    /// Gives every engine and platform process all cores again; returns how many had fewer.
    pub fn undo() -> usize {
        let cores = machine_cores();
        let Ok(all) = cpu_set(0..cores) else { return 0 };
        let mut unpinned = 0;
        for (pid, _) in processes() {
            match pin_process(pid, &all) {
                Ok(0) => {}
                Ok(_) => unpinned += 1,
                Err(e) => eprintln!("[split] could not unpin {pid}: {e}"),
            }
        }
        unpinned
    }
}

impl Drop for Split {
    fn drop(&mut self) {
        eprintln!("[split] unpinned {} processes", Self::undo());
    }
}

fn cpu_set(cores: std::ops::Range<usize>) -> Result<CpuSet, String> {
    let mut set = CpuSet::new();
    for core in cores {
        set.set(core).map_err(|e| format!("core {core}: {e}"))?;
    }
    Ok(set)
}

/// Every thread of `pid` on `set`, again until a pass finds none without it (a thread started
/// from an unpinned one during a pass inherits the old mask); returns how many threads it moved.
/// A thread or process that ended in between has nothing left to pin.
fn pin_process(pid: Pid, set: &CpuSet) -> Result<usize, String> {
    let mut moved = 0;
    for _ in 0..10 {
        let unpinned: Vec<Pid> =
            threads(pid).into_iter().filter(|t| sched_getaffinity(*t).is_ok_and(|s| s != *set)).collect();
        if unpinned.is_empty() {
            return Ok(moved);
        }
        moved += unpinned.len();
        for thread in unpinned {
            match sched_setaffinity(thread, set) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => return Err(format!("pinning thread {thread} of {pid}: {e}")),
            }
        }
    }
    Err(format!("process {pid} kept starting threads faster than they could be pinned"))
}

fn threads(pid: Pid) -> Vec<Pid> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
    tasks.filter_map(|t| t.file_name().to_str()?.parse().ok().map(Pid::from_raw)).collect()
}

/// Every process with a role, read from `/proc` once.
fn processes() -> Vec<(Pid, Role)> {
    let all = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    let pids = all.filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok());
    pids.filter_map(|pid| Some((Pid::from_raw(i32::try_from(pid).ok()?), role_of(pid)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_pinned_thread_by_thread_and_unpinned_again() {
        let cores = machine_cores();
        let mut child = std::process::Command::new("sleep").arg("30").spawn().expect("sleep");
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
        let (first, all) = (cpu_set(0..1).expect("core 0"), cpu_set(0..cores).expect("every core"));
        pin_process(pid, &first).expect("pinned");
        assert!(threads(pid).iter().all(|t| sched_getaffinity(*t).is_ok_and(|s| s == first)));
        pin_process(pid, &all).expect("unpinned");
        assert!(threads(pid).iter().all(|t| sched_getaffinity(*t).is_ok_and(|s| s == all)));
        child.kill().expect("kill");
        child.wait().expect("reaped");
        // Gone: nothing left to pin is not an error.
        assert_eq!(pin_process(pid, &first), Ok(0));
        assert!(cpu_set(0..CpuSet::count() + 1).is_err(), "a core past the set's size is refused");
    }
}
