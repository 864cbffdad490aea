//! The whole stack under Docker Compose, as an organizer deploys it: `compose/compose.yml` with
//! `compose/compose.local.yml` (every image built on this host). Up with healthchecks passing,
//! the stores out of reach of the services that do not use them, two submissions (an image name
//! and an uploaded archive) to scores on the leaderboard while the submissions service restarts
//! mid-way, then down with every volume. Needs the images of
//! `compose/local/build.sh` and `scripts/build-images.sh`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use darkroom_tests::api::{call, poll_finished};
use darkroom_tests::{fixtures, free_port};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SERVICES: [&str; 7] = ["nats", "mongo", "postgres", "submissions", "swarm-runner", "evaluator", "frontend"];
const TOKEN: &str = "compose-test-admin-token-0123456789";

/// One Compose project on private folders and ports; taken down with its volumes when dropped,
/// whatever the test's outcome.
struct Project {
    name: String,
    root: PathBuf,
    env: Vec<(&'static str, String)>,
    /// Datasets and ground truths (DARKROOM_DATA_ROOT).
    data_root: PathBuf,
    api: String,
    web: String,
    _dir: tempfile::TempDir,
}

/// The stack's NATS users (compose/nats/nats.conf), each with a password from the environment.
const NATS_USERS: [&str; 4] = ["submissions", "runner", "evaluator", "frontend"];

fn nats_password_var(user: &str) -> &'static str {
    match user {
        "submissions" => "DARKROOM_NATS_SUBMISSIONS_PASSWORD",
        "runner" => "DARKROOM_NATS_RUNNER_PASSWORD",
        "evaluator" => "DARKROOM_NATS_EVALUATOR_PASSWORD",
        _ => "DARKROOM_NATS_FRONTEND_PASSWORD",
    }
}

impl Project {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The services run as "nobody" and read the data through these folders.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // The secrets compose/setup.sh would write, readable by the containers' own users.
        let secret = |name: &str, value: &str| {
            let file = dir.path().join(name);
            std::fs::write(&file, value).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
            file.display().to_string()
        };
        let admin_token = secret("admin_token", TOKEN);
        let postgres_password = secret("postgres_password", &uuid::Uuid::new_v4().simple().to_string());
        let mongo_password = secret("mongo_password", &uuid::Uuid::new_v4().simple().to_string());
        // The evaluator's receipt signing key: an Ed25519 seed as 64 hex digits.
        let seed = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let receipt_key = secret("receipt_signing_key", &seed);
        let data_root = dir.path().join("data");
        let (api_port, web_port) = (free_port(), free_port());
        let name = format!("darkroom-test-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let env = vec![
            ("COMPOSE_PROJECT_NAME", name.clone()),
            ("DARKROOM_DATA_ROOT", data_root.display().to_string()),
            ("DARKROOM_WORK_ROOT", dir.path().join("work").display().to_string()),
            ("DARKROOM_ADMIN_TOKEN_FILE", admin_token),
            ("DARKROOM_POSTGRES_PASSWORD_FILE", postgres_password),
            ("DARKROOM_MONGO_PASSWORD_FILE", mongo_password),
            ("DARKROOM_RECEIPT_KEY_FILE", receipt_key),
            ("DARKROOM_BIND", "127.0.0.1".into()),
            ("DARKROOM_API_PORT", api_port.to_string()),
            ("DARKROOM_WEB_PORT", web_port.to_string()),
            ("DARKROOM_RUNNER_ID", name.clone()),
            ("DARKROOM_LOG_FILTER", "info,darkroom=debug".into()),
        ];
        let mut env = env;
        for who in NATS_USERS {
            env.push((nats_password_var(who), uuid::Uuid::new_v4().simple().to_string()));
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
        Self {
            name,
            root,
            env,
            data_root,
            api: format!("http://127.0.0.1:{api_port}"),
            web: format!("http://127.0.0.1:{web_port}"),
            _dir: dir,
        }
    }

    fn compose(&self, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .current_dir(&self.root)
            .args(["-f", "compose/compose.yml", "-f", "compose/compose.local.yml", "--ansi", "never"])
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .expect("docker-compose runs (scripts/setup.sh install puts it on PATH)")
    }

    fn compose_ok(&self, args: &[&str]) -> String {
        let out = self.compose(args);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "docker-compose {args:?} failed:\n{text}\n{}", self.logs());
        text
    }

    fn logs(&self) -> String {
        let out = self.compose(&["logs", "--no-color", "--tail", "40"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Each service's container health, as Docker reports it.
    fn health(&self) -> Vec<(String, String)> {
        SERVICES
            .iter()
            .map(|service| {
                let id = String::from_utf8(self.compose(&["ps", "-q", service]).stdout).unwrap().trim().to_owned();
                let state =
                    docker(&["inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", &id]);
                (service.to_string(), state.trim().to_owned())
            })
            .collect()
    }

    fn wait_healthy(&self, secs: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let health = self.health();
            if health.iter().all(|(_, h)| h == "healthy") {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not all healthy after {secs} s: {health:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn container(&self, service: &str) -> String {
        String::from_utf8(self.compose(&["ps", "-q", service]).stdout).unwrap().trim().to_owned()
    }

    /// What a TCP connection from inside `from`'s network namespace to `host:port` meets, as
    /// busybox's nc says it (the NATS image carries a busybox): "bad address" when the name
    /// does not resolve there, "can't connect" or "timed out" when no connection is made (the
    /// `-w` limit is on connecting only), nothing when it connects.
    fn reach(&self, from: &str, host: &str, port: u16) -> String {
        let out = Command::new("docker")
            .args(["run", "--rm", "--network", &format!("container:{}", self.container(from))])
            .args(["--entrypoint", "/bin/busybox", "darkroom-local/nats:2"])
            .args(["timeout", "4", "/bin/busybox", "nc", "-w", "2", host, &port.to_string()])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("docker runs");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `service`'s address on its (one) network.
    fn address(&self, service: &str) -> String {
        let format = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}";
        docker(&["inspect", "--format", format, &self.container(service)]).trim().to_owned()
    }

    fn volumes(&self) -> Vec<String> {
        docker(&["volume", "ls", "-q", "--filter", &format!("label=com.docker.compose.project={}", self.name)])
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "--volumes", "--remove-orphans", "--timeout", "5"]);
    }
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_stack_scores_a_submission_across_a_restart_and_tears_down_clean() {
    for image in ["darkroom-local/submissions:dev", "darkroom-local/nats:2", "darkroom-demo-weak:1"] {
        assert!(
            !docker(&["images", "-q", image]).trim().is_empty(),
            "image {image} is missing: run compose/local/build.sh and scripts/build-images.sh"
        );
    }
    let project = Project::new();
    let data = project.data_root.join("nuclei");
    darkroom_demo_data::generate(&data, 7, 400, 60, 64).expect("dataset generated");

    // Up: Compose itself waits for the healthy dependencies; then every service reports healthy.
    project.compose_ok(&["up", "-d", "--no-build"]);
    project.wait_healthy(120);

    // The stores are out of reach of the services that do not use them, by name and by
    // address: PostgreSQL of all but the API, MongoDB of the runner and the page server. (The
    // healthy API has already logged in to PostgreSQL with the password from its secret: its
    // URL carries none, and the server refuses connections without one.)
    let (postgres, mongo) = (project.address("postgres"), project.address("mongo"));
    for (from, host, port, reachable) in [
        ("submissions", "postgres", 5432, true),
        ("submissions", "mongo", 27017, true),
        ("evaluator", "mongo", 27017, true),
        ("evaluator", "postgres", 5432, false),
        ("swarm-runner", "postgres", 5432, false),
        ("swarm-runner", "mongo", 27017, false),
        ("frontend", "postgres", 5432, false),
        ("frontend", "mongo", 27017, false),
        ("frontend", postgres.as_str(), 5432, false),
        ("frontend", mongo.as_str(), 27017, false),
        ("swarm-runner", mongo.as_str(), 27017, false),
    ] {
        let said = project.reach(from, host, port);
        let refused = ["bad address", "can't connect", "timed out"].iter().any(|no| said.contains(no));
        assert_eq!(!refused, reachable, "{from} -> {host}:{port}: {said:?}");
    }

    let http = reqwest::Client::new();
    let api = project.api.clone();
    let mut spec = fixtures::spec(&project.data_root, "compose");
    spec["dataset"]["host_path"] = json!(data.join("dataset"));
    spec["ground_truth"]["host_path"] = json!(data.join("ground-truth"));
    spec["evaluation"]["image"] = json!("darkroom-demo-eval:1");
    spec["resources"] =
        json!({ "cpus": 1.0, "memory_mb": 256, "wall_clock_seconds": 120, "output_max_mb": 4, "pids": 64 });
    let (s, body) = call(&http, Method::POST, format!("{api}/api/v1/challenges"), Some(TOKEN), Some(spec)).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    // The dataset listing is read through the read-only data mount.
    let (s, listing) = call(&http, Method::GET, format!("{api}/api/v1/challenges/compose/dataset"), None, None).await;
    assert_eq!(s, StatusCode::OK, "{listing}");
    assert!(listing.to_string().contains("labels.csv"), "{listing}");

    let mut tokens = Vec::new();
    for name in ["By Name", "By Upload"] {
        let (s, p) =
            call(&http, Method::POST, format!("{api}/api/v1/participants"), None, Some(json!({ "name": name }))).await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        let token = p["token"].as_str().unwrap().to_owned();
        let join = format!("{api}/api/v1/challenges/compose/join");
        let (s, joined) = call(&http, Method::POST, join, Some(&token), Some(json!({ "accept_rules": true }))).await;
        assert_eq!(s, StatusCode::OK, "{joined}");
        tokens.push(token);
    }
    // Both upload the same `docker save` archive (stored once, by content), which the runner
    // reads from the submissions service's volume. Names are pinned in a registry, and the
    // host's loopback registry is out of the Compose network's reach: the registry path is
    // tested against the in-process stack (tests/tests/runs.rs).
    let archive = Command::new("docker").args(["save", "darkroom-demo-weak:1"]).output().unwrap().stdout;
    let mut uploaded = Vec::new();
    for token in &tokens {
        let res = http
            .post(format!("{api}/api/v1/challenges/compose/submissions/tarball"))
            .bearer_auth(token)
            .header("content-type", "application/x-tar")
            .body(archive.clone())
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body = res.json::<Value>().await.unwrap_or_default();
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        uploaded.push(body);
    }

    // Mid-way: the submissions service restarts (SIGTERM, then a new process on the same
    // volumes) while the runs go on; their events wait in JetStream meanwhile.
    project.compose_ok(&["restart", "--timeout", "10", "submissions"]);
    project.wait_healthy(60);

    let ids = [uploaded[0]["id"].as_str().unwrap(), uploaded[1]["id"].as_str().unwrap()];
    for (id, token) in ids.iter().zip(&tokens) {
        let sub = poll_finished(&http, &api, id, token, 180)
            .await
            .unwrap_or_else(|sub| panic!("not finished after 180 s: {sub}\n{}", project.logs()));
        assert_eq!(sub["state"], "COMPLETE", "{sub}\n{}", project.logs());
        let states = darkroom_tests::states(&sub);
        assert_eq!(states, ["QUEUED", "RUNNING", "EVALUATING", "COMPLETE"], "{sub}");
    }
    // Nothing lost, nothing twice: both participants ranked, each scored once.
    let (s, board) = call(&http, Method::GET, format!("{api}/api/v1/challenges/compose/leaderboard"), None, None).await;
    assert_eq!(s, StatusCode::OK, "{board}");
    let entries = board["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{board}");
    for e in entries {
        assert_eq!(e["submissions"], 1, "{e}");
        assert!((0.0..=1.0).contains(&e["metrics"]["accuracy"].as_f64().unwrap()), "{e}");
    }
    // The participants' tokens outlived the restart (PostgreSQL's volume), and the public page
    // renders the same board through the frontend container.
    let (s, _) = call(&http, Method::GET, format!("{api}/api/v1/me"), Some(&tokens[0]), None).await;
    assert_eq!(s, StatusCode::OK);
    let page = http.get(format!("{}/challenges/compose/leaderboard", project.web)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("By Name") && html.contains("By Upload"), "{html}");

    // Down, volumes included: nothing of the project is left. Compose 1.29 creates the volumes of
    // every profile's services on `up` (the stores' four and the monitoring profile's two).
    let mut volumes: Vec<String> =
        project.volumes().iter().map(|v| v.replacen(&format!("{}_", project.name), "", 1)).collect();
    volumes.sort();
    assert_eq!(
        volumes,
        ["grafana-data", "mongo-data", "nats-data", "postgres-data", "prometheus-data", "submissions-data"],
        "{volumes:?}"
    );
    project.compose_ok(&["down", "--volumes", "--remove-orphans", "--timeout", "10"]);
    assert!(project.volumes().is_empty(), "volumes left: {:?}", project.volumes());
    let left = docker(&["ps", "-aq", "--filter", &format!("label=com.docker.compose.project={}", project.name)]);
    assert!(left.trim().is_empty(), "containers left: {left}");
}
