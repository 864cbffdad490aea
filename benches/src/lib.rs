//! What Darkroom's benchmarks share. The benchmarks themselves live in `benches/` (see
//! BENCHMARKS.md at the repository root):
//!
//! - `training`: the demo's CNN trained natively and in the sandbox, as a ratio.
//! - `platform`: submit → running and exit → score against raw Docker; a burst of no-op
//!   submissions.
//! - `leaderboard`: the read path over 100,000 scores from 10,000 participants.
//! - `footprint`: resident memory of each service binary, idle and under load.
//! - `images`: what checking and rebuilding a 500 MB upload adds to loading it.
//! - `submissions`, `frontend`: the API and the web pages on their own.
//! - `private_board`: a phase's close over 10,000 participants (board, commitment, bootstrap).
//! - `rate_limit`: what the per-address and per-token limits add to one submit request.
//!
//! Each writes what it measured to `<target>/bench-results/<name>.json`, which the
//! `bench-report` binary turns into BENCHMARKS.md's table and its plot. Run with `--bench`
//! (`cargo bench`) a benchmark measures in full; without it (`cargo test --all-targets`, which
//! CI runs) it runs a small smoke version of the same code so none of them rots.

pub mod cpu;
pub mod report;
pub mod split;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// True unless run by `cargo bench`: criterion's test mode, and a small workload here.
pub fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// `full` when benchmarking, `smoke` under `cargo test`.
pub fn pick<T>(full: T, smoke: T) -> T {
    if self::smoke() { smoke } else { full }
}

/// The cargo target directory this benchmark was built into: `<target>/<profile>/deps/<exe>`.
pub fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the benchmark knows where it is");
    exe.ancestors().nth(3).expect("<target>/<profile>/deps/<exe>").to_path_buf()
}

/// The profile directory (`<target>/release` or `<target>/debug`) holding the service binaries.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the benchmark knows where it is");
    exe.ancestors().nth(2).expect("<target>/<profile>/deps/<exe>").to_path_buf()
}

/// Where results go; smoke runs write beside them under `smoke/` so they never overwrite a
/// full run's.
pub fn results_dir() -> PathBuf {
    let dir = target_dir().join("bench-results");
    if smoke() { dir.join("smoke") } else { dir }
}

/// Writes one benchmark's results as `<results>/<name>.json` (with the machine it ran on).
pub fn write_results(name: &str, mut results: Value) {
    let dir = results_dir();
    std::fs::create_dir_all(&dir).expect("results directory");
    results["machine"] = machine();
    results["mode"] = Value::from(if smoke() { "smoke" } else { "full" });
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&results).expect("json")).expect("results written");
    eprintln!("[{name}] results in {}", path.display());
}

/// CPU model, cores, memory and kernel, as the results record them.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    serde_json::json!({
        "cpu": model,
        "cores": cpu::machine_cores(),
        "memory_gib": (mem_kb as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": kernel.trim(),
    })
}

/// The `p`-th percentile (0–100) of `samples` by nearest rank; `samples` need not be sorted.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median, min and max of `samples` in milliseconds, as JSON.
pub fn summary_ms(samples: &[Duration]) -> Value {
    serde_json::json!({
        "n": samples.len(),
        "median_ms": ms(percentile(samples, 50.0)),
        "p99_ms": ms(percentile(samples, 99.0)),
        "min_ms": ms(samples.iter().min().copied().unwrap_or_default()),
        "max_ms": ms(samples.iter().max().copied().unwrap_or_default()),
        "samples_ms": samples.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
    })
}

/// Median, min and max of per-pair values (ratios or differences), as JSON. Pairs taken
/// alternately cancel a drift of the machine between two groups of samples; criterion's groups
/// (every sample of one side, then every sample of the other) cannot, and this shared VM drifts
/// by 10–20 % from one minute to the next.
pub fn pair_summary(values: &[f64]) -> Value {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match (v.first(), v.last()) {
        (Some(min), Some(max)) => serde_json::json!({ "n": v.len(), "median": v[v.len() / 2], "min": min, "max": max }),
        _ => serde_json::json!({ "n": 0 }),
    }
}

/// A two-worker runtime, as the services run on this 2-core machine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let s: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(percentile(&s, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&s, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&s, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&s[..1], 99.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
