//! Where a workload's CPU time went, from `/proc`: the machine's busy time and that of the
//! long-lived processes a pipeline runs on (this benchmark's own process, which hosts the
//! services, the Docker engine, containerd, NATS, the MongoDB wire server), so a benchmark can
//! say which of them a slower pipeline spent its time in. Short-lived processes (runc, the
//! containerd shims) are counted in the machine's total only: their time is what is left.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};

/// The kernel's clock ticks per second for `/proc` CPU times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// Cumulative CPU seconds at one instant.
#[derive(Clone, Debug)]
pub struct CpuSample {
    at: Instant,
    /// Every core's non-idle time (user, nice, system, irq, softirq, steal).
    machine_busy: f64,
    /// The same, core by core.
    cores_busy: Vec<f64>,
    /// Per process group, by [`group_of`].
    groups: BTreeMap<&'static str, f64>,
}

/// Which group a process belongs to, by its command name and command line (its arguments
/// separated by NULs).
fn group_of(pid: u32, comm: &str, cmdline: &str) -> Option<&'static str> {
    if pid == std::process::id() {
        return Some("services (this process)");
    }
    match comm {
        "dockerd" => Some("dockerd"),
        "containerd" => Some("containerd"),
        "nats-server" => Some("nats-server"),
        "postgres" => Some("postgres"),
        "docker-registry" => Some("docker-registry"),
        // A Python program: its name is an argument of the interpreter.
        _ if cmdline.split('\0').any(|a| a == "nx-27017" || a.ends_with("/nx-27017")) => Some("mongodb wire server"),
        _ => None,
    }
}

/// Which side of a deployment a process stands for (see [`crate::split`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The Docker engine: dockerd, containerd and the containers' shims.
    Engine,
    /// The platform: this process (the services) and the servers they use.
    Platform,
}

/// The role of process `pid`, if it has one.
pub fn role_of(pid: u32) -> Option<Role> {
    let (comm, cmdline) = identity(&std::path::Path::new("/proc").join(pid.to_string()));
    // The kernel keeps 15 bytes of a name: `containerd-shim-runc-v2` reads so.
    if comm == "containerd-shim" {
        return Some(Role::Engine);
    }
    match group_of(pid, &comm, &cmdline)? {
        "dockerd" | "containerd" => Some(Role::Engine),
        _ => Some(Role::Platform),
    }
}

/// A process's command name and command line, from its `/proc` folder.
fn identity(dir: &std::path::Path) -> (String, String) {
    let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    (comm.trim().to_owned(), String::from_utf8_lossy(&cmdline).into_owned())
}

/// utime + stime of `/proc/<pid>/stat`, in seconds (the command name may hold spaces, so the
/// fields are counted after its closing parenthesis).
fn process_seconds(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    // After the name: state (3), …, utime (14), stime (15).
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

fn machine_busy_seconds(proc_stat: &str) -> f64 {
    proc_stat.lines().find(|l| l.starts_with("cpu ")).map_or(0.0, busy_seconds)
}

/// Each core's busy seconds, in the order of its `cpuN` line.
fn cores_busy_seconds(proc_stat: &str) -> Vec<f64> {
    proc_stat.lines().filter(is_core_line).map(busy_seconds).collect()
}

fn is_core_line(line: &&str) -> bool {
    line.strip_prefix("cpu").is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
}

/// The busy seconds of one `cpu` line of `/proc/stat`.
fn busy_seconds(line: &str) -> f64 {
    let v: Vec<f64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let busy: f64 = v.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, t)| t).sum();
    busy / TICKS_PER_SECOND
}

/// The machine's cores, from `/proc/stat` (its `cpuN` lines): the utilisation is the machine's,
/// whichever cores this process may run on (see [`crate::split`]).
pub fn machine_cores() -> usize {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    cores_in(&stat)
}

fn cores_in(proc_stat: &str) -> usize {
    cores_busy_seconds(proc_stat).len().max(1)
}

impl CpuSample {
    pub fn now() -> Self {
        let mut groups = BTreeMap::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let dir = entry.path();
            let (comm, cmdline) = identity(&dir);
            let Some(group) = group_of(pid, &comm, &cmdline) else { continue };
            if let Some(s) = std::fs::read_to_string(dir.join("stat")).ok().as_deref().and_then(process_seconds) {
                *groups.entry(group).or_insert(0.0) += s;
            }
        }
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let (machine_busy, cores_busy) = (machine_busy_seconds(&stat), cores_busy_seconds(&stat));
        Self { at: Instant::now(), machine_busy, cores_busy, groups }
    }

    /// The CPU time spent between `self` and `later`, per unit of work (`units` of it: CPU
    /// milliseconds each) and as the machine's utilisation over the wall time.
    pub fn spent_until(&self, later: &CpuSample, units: usize) -> Value {
        let wall = later.at.duration_since(self.at);
        // The sample read every core's line already: no second read of `/proc/stat`.
        let cores = self.cores_busy.len().max(1) as f64;
        let per_unit = |seconds: f64| seconds * 1e3 / units.max(1) as f64;
        let busy = later.machine_busy - self.machine_busy;
        let mut groups = serde_json::Map::new();
        let mut named = 0.0;
        for (name, after) in &later.groups {
            // A process that started meanwhile (a test's own NATS server) counts from zero.
            let spent = after - self.groups.get(name).copied().unwrap_or(0.0);
            named += spent;
            groups.insert((*name).to_owned(), json!(per_unit(spent)));
        }
        groups.insert("the rest (runc, shims, kernel, short-lived)".to_owned(), json!(per_unit(busy - named)));
        json!({
            "wall_s": wall.as_secs_f64(),
            "machine_utilisation": busy / (wall.as_secs_f64() * cores).max(f64::MIN_POSITIVE),
            // Core by core: under a split, the engine's core is the last.
            "core_utilisation": later.cores_busy.iter().zip(&self.cores_busy)
                .map(|(after, before)| (after - before) / wall.as_secs_f64().max(f64::MIN_POSITIVE))
                .collect::<Vec<_>>(),
            "cpu_ms_per_unit": per_unit(busy),
            "cpu_ms_per_unit_by_process": Value::Object(groups),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_stat_line_gives_user_plus_system_seconds() {
        let stat = "4242 (tokio (worker) 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1 1 1";
        assert_eq!(process_seconds(stat), Some(3.0));
        assert_eq!(process_seconds("garbage"), None);
    }

    #[test]
    fn the_machine_is_busy_outside_idle_and_iowait() {
        let stat = "cpu  100 10 40 1000 50 5 5 0 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n";
        assert_eq!(machine_busy_seconds(stat), 1.6);
    }

    #[test]
    fn the_cores_are_the_numbered_cpu_lines() {
        let stat = "cpu  100 10 40 1000 50 5 5 0 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\ncpu1 1 1 1 1 1 1 1 1 0 0\nintr 5\n";
        assert_eq!(cores_in(stat), 2);
        assert_eq!(cores_in(""), 1);
        assert_eq!(cores_busy_seconds(stat), vec![0.06, 0.06]);
    }

    #[test]
    fn the_wire_server_is_its_interpreter_running_it_not_a_shell_naming_it() {
        let server = "/opt/venv/bin/python3\0/opt/venv/bin/nx-27017\0--port\0p\0";
        assert_eq!(group_of(1, "nx-27017", server), Some("mongodb wire server"));
        assert_eq!(group_of(1, "bash", "bash\0-c\0pgrep -f nx-27017\0"), None);
        assert_eq!(group_of(1, "docker-registry", "docker-registry\0serve\0"), Some("docker-registry"));
    }

    #[test]
    fn this_process_is_found_and_its_time_only_grows() {
        let before = CpuSample::now();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = CpuSample::now();
        let me = "services (this process)";
        assert!(after.groups[me] >= before.groups[me]);
        let spent = before.spent_until(&after, 1);
        assert!(spent["cpu_ms_per_unit_by_process"][me].as_f64().unwrap() >= 0.0, "{spent}");
    }
}
