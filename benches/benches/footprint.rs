//! Resident memory of each service binary (submissions, swarm runner, evaluator, web pages),
//! idle and under load, as separate processes the way they are deployed.
//!
//! The binaries are the ones built beside this benchmark (`<target>/release` under
//! `cargo bench`, `<target>/debug` under `cargo test`): build them first with
//! `cargo build --release --bins` (scripts/bench.sh does). Idle: a few seconds after each is
//! ready. Loaded: the peak sampled every 50 ms while submissions run end to end and viewers
//! read the leaderboard page and API in a loop, and the kernel's high-water mark (VmHWM).
//!
//! Not a criterion benchmark: criterion measures time, and a resident size is one reading,
//! not a distribution to estimate.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use darkroom_api::{Registered, Registration, SubmissionView, SubmitImage};
use darkroom_benches::{pick, profile_dir, runtime, write_results};
use darkroom_tests::{NatsServer, free_port, mongo_url};
use serde_json::json;

const SERVICES: [&str; 4] = ["submissions", "swarm-runner", "evaluator", "frontend"];
const ADMIN: &str = "footprint-admin-token-0123456789";

/// `VmRSS` and `VmHWM` of a process, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Services {
    children: Vec<(&'static str, Child)>,
}

impl Drop for Services {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start(dir: &Path, nats: &NatsServer, api_port: u16, web_port: u16) -> Services {
    let bin = profile_dir();
    let env: Vec<(String, String)> = [
        ("DARKROOM_LOG__FILTER", "warn".to_owned()),
        ("DARKROOM_NATS__URL", nats.url()),
        ("DARKROOM_MONGODB__URL", mongo_url()),
        ("DARKROOM_MONGODB__DATABASE", format!("darkroom_footprint_{}", uuid::Uuid::new_v4().simple())),
        ("DARKROOM_SUBMISSIONS__LISTEN", format!("127.0.0.1:{api_port}")),
        ("DARKROOM_SUBMISSIONS__DATA_DIR", dir.join("data").display().to_string()),
        ("DARKROOM_SUBMISSIONS__ADMIN_TOKEN", ADMIN.to_owned()),
        ("DARKROOM_SUBMISSIONS__REGISTRIES", format!(r#"["{}"]"#, darkroom_tests::registry::registry())),
        ("DARKROOM_RUNNER__WORK_DIR", dir.join("runs").display().to_string()),
        ("DARKROOM_RUNNER__RUNNER_ID", format!("footprint-{}", uuid::Uuid::new_v4().simple())),
        ("DARKROOM_EVALUATOR__WORK_DIR", dir.join("evaluations").display().to_string()),
        ("DARKROOM_EVALUATOR__RECEIPT_KEY_FILE", darkroom_tests::fixtures::receipt_key(dir).display().to_string()),
        ("DARKROOM_FRONTEND__LISTEN", format!("127.0.0.1:{web_port}")),
        ("DARKROOM_FRONTEND__API_URL", format!("http://127.0.0.1:{api_port}")),
        ("DARKROOM_FRONTEND__SITE_ROOT", dir.join("site").display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let children = SERVICES
        .iter()
        .map(|name| {
            let path = bin.join(format!("darkroom-{name}"));
            assert!(
                path.exists(),
                "{} is missing: build the services first (cargo build {}--bins)",
                path.display(),
                if bin.ends_with("release") { "--release " } else { "" }
            );
            let child = Command::new(&path)
                .envs(env.iter().cloned())
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
            (*name, child)
        })
        .collect();
    Services { children }
}

async fn ready(http: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "{url} never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn mib(bytes: u64) -> f64 {
    (bytes as f64 / 1048576.0 * 10.0).round() / 10.0
}

fn main() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let nats = NatsServer::start();
    let (api_port, web_port) = (free_port(), free_port());
    let services = start(dir.path(), &nats, api_port, web_port);
    let api = format!("http://127.0.0.1:{api_port}");
    let web = format!("http://127.0.0.1:{web_port}");
    let http = reqwest::Client::new();
    rt.block_on(ready(&http, &format!("{api}/readyz")));
    rt.block_on(ready(&http, &format!("{web}/")));
    std::thread::sleep(Duration::from_secs(pick(5, 2)));
    let mut idle = BTreeMap::new();
    for (name, child) in &services.children {
        idle.insert(*name, memory(child.id()).0);
    }

    // Load: a challenge on a tiny dataset, submissions run end to end while viewers read.
    let data = dir.path().join("demo");
    darkroom_demo_data::generate(&data, 3, 200, 50, 64).expect("dataset");
    let n = pick(40, 3);
    let peaks = rt.block_on(async {
        let mut spec = darkroom_tests::fixtures::spec(dir.path(), "footprint");
        spec["dataset"]["host_path"] = json!(data.join("dataset"));
        spec["ground_truth"]["host_path"] = json!(data.join("ground-truth"));
        spec["evaluation"]["image"] = json!("darkroom-demo-eval:1");
        spec["quotas"] = json!({});
        spec["resources"] =
            json!({ "cpus": 1.0, "memory_mb": 256, "wall_clock_seconds": 120, "output_max_mb": 4, "pids": 64 });
        let resp =
            http.post(format!("{api}/api/v1/challenges")).bearer_auth(ADMIN).json(&spec).send().await.expect("create");
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap_or_default());
        let reg: Registered = http
            .post(format!("{api}/api/v1/participants"))
            .json(&Registration { name: "Footprint Lab".into(), team: None })
            .send()
            .await
            .expect("register")
            .json()
            .await
            .expect("token");
        let token = reg.token;
        let joined = http
            .post(format!("{api}/api/v1/challenges/footprint/join"))
            .bearer_auth(&token)
            .json(&darkroom_api::JoinRequest { accept_rules: true, code: None })
            .send()
            .await
            .expect("join");
        assert_eq!(joined.status(), 200, "{}", joined.text().await.unwrap_or_default());
        let mut ids = Vec::new();
        for _ in 0..n {
            let image = format!("{}/darkroom-demo-weak:1", darkroom_tests::registry::registry());
            let r: SubmissionView = http
                .post(format!("{api}/api/v1/challenges/footprint/submissions"))
                .bearer_auth(&token)
                .json(&SubmitImage { image, note: None })
                .send()
                .await
                .expect("submit")
                .json()
                .await
                .expect("accepted");
            ids.push(r.id);
        }
        let pids: Vec<(&str, u32)> = services.children.iter().map(|(n, c)| (*n, c.id())).collect();
        let mut peaks: BTreeMap<&str, u64> = BTreeMap::new();
        let deadline = Instant::now() + Duration::from_secs(60 + 10 * n as u64);
        loop {
            // Viewers: the leaderboard page and the API, a few each round.
            for _ in 0..4 {
                let _ = http.get(format!("{web}/challenges/footprint/leaderboard")).send().await;
                let _ = http.get(format!("{api}/api/v1/challenges/footprint/leaderboard")).send().await;
            }
            for (name, pid) in &pids {
                let rss = memory(*pid).0;
                let peak = peaks.entry(name).or_default();
                *peak = (*peak).max(rss);
            }
            let mut done = 0;
            for id in &ids {
                let s: SubmissionView = http
                    .get(format!("{api}/api/v1/submissions/{id}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("status")
                    .json()
                    .await
                    .expect("json");
                done += s.state.is_terminal() as usize;
            }
            if done == ids.len() {
                break;
            }
            assert!(Instant::now() < deadline, "{done} of {n} submissions finished");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        peaks
    });
    let mut services_json = serde_json::Map::new();
    for (name, child) in &services.children {
        let (rss, hwm) = memory(child.id());
        services_json.insert(
            (*name).to_owned(),
            json!({
                "idle_mib": mib(idle[name]),
                "loaded_peak_mib": mib(peaks[name].max(rss)),
                "high_water_mib": mib(hwm),
            }),
        );
        eprintln!(
            "[footprint] {name:>13}: idle {:>6.1} MiB, loaded peak {:>6.1} MiB, high-water {:>6.1} MiB",
            mib(idle[name]),
            mib(peaks[name].max(rss)),
            mib(hwm)
        );
    }
    write_results(
        "footprint",
        json!({
            "profile": profile_dir().file_name().map(|p| p.to_string_lossy().into_owned()),
            "load_submissions": n,
            "services": services_json,
        }),
    );
}
