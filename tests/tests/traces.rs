//! One submission, one trace: the real service binaries (submissions API, swarm runner,
//! evaluator) run as processes with JSON logs, each into its own file; a submission runs to
//! COMPLETE on the Docker engine; its trace id, read from the API's log line that queued it,
//! is on the runner's, the evaluator's and the board update's lines about it, and another
//! submission's differs. A client's `traceparent` is ignored by default (it cannot file its
//! submission under someone else's trace), a malformed one is no error, and with
//! `submissions.accept_traceparent` on the caller's trace is continued through every service.
//!
//! Needs the images of `scripts/build-images.sh` and the service binaries built beside this
//! test (`cargo build --bins`; CI's `cargo test --workspace --all-targets` builds them).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use darkroom_tests::registry::pushed;
use darkroom_tests::{ADMIN_TOKEN, NatsServer, mongo_url};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SERVICES: [&str; 3] = ["submissions", "swarm-runner", "evaluator"];

/// The services as processes, each logging JSON to `<dir>/<service>.log`.
struct Services {
    dir: PathBuf,
    env: Vec<(String, String)>,
    children: Vec<(&'static str, Child)>,
}

impl Services {
    fn start(dir: &Path, nats: &NatsServer) -> Self {
        let env: Vec<(String, String)> = [
            ("DARKROOM_LOG__FORMAT", "json".to_owned()),
            ("DARKROOM_LOG__FILTER", "info".to_owned()),
            ("DARKROOM_NATS__URL", nats.url()),
            ("DARKROOM_MONGODB__URL", mongo_url()),
            ("DARKROOM_MONGODB__DATABASE", format!("darkroom_test_traces_{}", uuid::Uuid::new_v4().simple())),
            // Port 0, read back from the log: a port picked beforehand can be handed to another
            // listener's bind(0) before the API binds it.
            ("DARKROOM_SUBMISSIONS__LISTEN", "127.0.0.1:0".to_owned()),
            ("DARKROOM_SUBMISSIONS__DATA_DIR", dir.join("data").display().to_string()),
            ("DARKROOM_SUBMISSIONS__ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
            ("DARKROOM_SUBMISSIONS__REGISTRIES", format!(r#"["{}"]"#, darkroom_tests::registry::registry())),
            ("DARKROOM_RUNNER__WORK_DIR", dir.join("runs").display().to_string()),
            ("DARKROOM_RUNNER__RUNNER_ID", format!("traces-{}", uuid::Uuid::new_v4().simple())),
            ("DARKROOM_RUNNER__DATA_ROOTS", format!(r#"["{}"]"#, dir.display())),
            ("DARKROOM_EVALUATOR__WORK_DIR", dir.join("evaluations").display().to_string()),
            ("DARKROOM_EVALUATOR__EVALUATOR_ID", format!("traces-evaluator-{}", uuid::Uuid::new_v4().simple())),
            ("DARKROOM_EVALUATOR__DATA_ROOTS", format!(r#"["{}"]"#, dir.display())),
            ("DARKROOM_EVALUATOR__RECEIPT_KEY_FILE", darkroom_tests::fixtures::receipt_key(dir).display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut services = Self { dir: dir.to_path_buf(), env, children: Vec::new() };
        for name in SERVICES {
            services.spawn(name, &[]);
        }
        services
    }

    /// Starts `darkroom-<name>` with the shared environment plus `extra`, appending to its log.
    fn spawn(&mut self, name: &'static str, extra: &[(&str, &str)]) {
        let bin = std::env::current_exe().expect("the test knows where it is");
        let path = bin.ancestors().nth(2).expect("<target>/<profile>/deps/<test>").join(format!("darkroom-{name}"));
        assert!(path.exists(), "{} is missing: build the services first (cargo build --bins)", path.display());
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log(name)).expect("log file");
        let child = Command::new(&path)
            .envs(self.env.iter().cloned())
            .envs(extra.iter().map(|(k, v)| (*k, *v)))
            .env_remove("RUST_LOG")
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        self.children.push((name, child));
    }

    /// Kills `name` and waits until it is gone.
    fn kill(&mut self, name: &str) {
        for (_, child) in self.children.iter_mut().filter(|(n, _)| *n == name) {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.retain(|(n, _)| *n != name);
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// Every JSON line `name` has logged so far (a line that is not JSON fails the test: the
    /// services were told to log JSON).
    fn lines(&self, name: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.log(name)).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name} logged a non-JSON line ({e}): {l}")))
            .collect()
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether a log line is about `submission`: in its own fields or in its span's.
fn about(line: &Value, submission: &str) -> bool {
    line["submission"] == submission || line["span"]["submission"] == submission
}

/// Whether a log line was written while a request other than the submitting one was handled
/// (reading the submission, polling it): each request is a trace of its own.
fn in_another_request(line: &Value) -> bool {
    let in_request = line["spans"].as_array().is_some_and(|spans| spans.iter().any(|s| s["name"] == "request"));
    in_request && line["message"] != "submission queued"
}

/// The trace ids of `service`'s lines about `submission` written by the submission's own work
/// (not while another request read it), and the messages of those lines.
fn traces_of(services: &Services, service: &str, submission: &str) -> (BTreeSet<String>, Vec<String>) {
    let lines: Vec<Value> =
        services.lines(service).into_iter().filter(|l| about(l, submission) && !in_another_request(l)).collect();
    let traces = lines.iter().filter_map(|l| l["trace_id"].as_str().map(str::to_owned)).collect();
    let messages = lines.iter().map(|l| l["message"].as_str().unwrap_or_default().to_owned()).collect();
    (traces, messages)
}

/// The trace id of the API's line that queued `submission`.
fn queued_trace(services: &Services, submission: &str) -> String {
    let lines = services.lines("submissions");
    let queued = lines
        .iter()
        .find(|l| l["message"] == "submission queued" && l["submission"] == submission)
        .unwrap_or_else(|| panic!("the API logged no 'submission queued' for {submission}"));
    assert_eq!(queued["target"], "darkroom_submissions::lifecycle", "{queued}");
    let trace = queued["trace_id"].as_str().unwrap_or_else(|| panic!("no trace_id on {queued}"));
    assert!(
        trace.len() == 32 && trace.chars().all(|c| c.is_ascii_hexdigit()) && trace.chars().any(|c| c != '0'),
        "{trace}"
    );
    trace.to_owned()
}

/// Asserts that every service logged lines about `submission` and that all of them that are
/// in a trace are in `trace`; the key steps (queued, run started, scored and put on the board,
/// moved to COMPLETE) must be among them.
fn assert_one_trace(services: &Services, submission: &str, trace: &str) {
    let steps = [
        ("submissions", "darkroom_submissions", "submission queued"),
        ("swarm-runner", "darkroom_swarm_runner", "run started"),
        ("evaluator", "darkroom_evaluator", "scored"),
        ("submissions", "darkroom_submissions::consumer", "submission moved"),
    ];
    for (service, target, step) in steps {
        let found = services.lines(service).into_iter().find(|l| {
            about(l, submission) && l["message"] == step && l["target"].as_str().is_some_and(|t| t.starts_with(target))
        });
        let line = found.unwrap_or_else(|| panic!("{service} logged no '{step}' for {submission}"));
        assert_eq!(line["trace_id"], trace, "{service}'s '{step}' is not in the submission's trace: {line}");
    }
    let board = services
        .lines("submissions")
        .into_iter()
        .find(|l| about(l, submission) && l["message"] == "submission moved" && l["to"] == "COMPLETE");
    let board = board.unwrap_or_else(|| panic!("the board update (to COMPLETE) of {submission} was not logged"));
    assert_eq!(board["trace_id"], trace, "{board}");
    for service in SERVICES {
        let (traces, messages) = traces_of(services, service, submission);
        assert_eq!(traces, BTreeSet::from([trace.to_owned()]), "{service}'s lines about {submission}: {messages:?}");
    }
}

/// The API's base URL once its `started`-th start has logged where it listens and it answers
/// ready.
async fn ready_api(http: &reqwest::Client, services: &Services, started: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let api = loop {
        // Only whole lines: the service is writing this log while it is read.
        let text = std::fs::read_to_string(services.log("submissions")).unwrap_or_default();
        let lines = text.split_inclusive('\n').filter_map(|l| serde_json::from_str::<Value>(l).ok());
        let mut listening = lines.filter(|l| l["message"] == "submissions API listening");
        if let Some(line) = listening.nth(started - 1) {
            break format!("http://{}", line["addr"].as_str().unwrap_or_else(|| panic!("no addr on {line}")));
        }
        assert!(Instant::now() < deadline, "the API never logged where it listens");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let url = format!("{api}/readyz");
    while !http.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "{url} never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api
}

/// Registers, joins and submits `image`, with `traceparent` as a header if given; the id.
async fn submit(
    http: &reqwest::Client,
    api: &str,
    slug: &str,
    image: &str,
    traceparent: Option<&str>,
) -> (String, String) {
    let (status, body) = darkroom_tests::api::call(
        http,
        Method::POST,
        format!("{api}/api/v1/participants"),
        None,
        Some(json!({ "name": format!("tracer {}", uuid::Uuid::new_v4().simple()) })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().expect("a token").to_owned();
    let join = format!("{api}/api/v1/challenges/{slug}/join");
    let (status, body) =
        darkroom_tests::api::call(http, Method::POST, join, Some(&token), Some(json!({ "accept_rules": true }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut request = http
        .post(format!("{api}/api/v1/challenges/{slug}/submissions"))
        .bearer_auth(&token)
        .json(&json!({ "image": pushed(image) }));
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request.send().await.expect("submitted");
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON answer");
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    (body["id"].as_str().expect("an id").to_owned(), token)
}

async fn complete(http: &reqwest::Client, api: &str, id: &str, token: &str) {
    let done = darkroom_tests::api::wait_finished(http, api, id, token, 180).await;
    assert_eq!(done["state"], "COMPLETE", "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_submission_is_one_trace_through_every_service() {
    let dir = tempfile::tempdir().expect("temp dir");
    let nats = NatsServer::start();
    let data = dir.path().join("demo");
    darkroom_demo_data::generate(&data, 7, 800, 100, 64).expect("dataset generated");
    let mut services = Services::start(dir.path(), &nats);
    let http = reqwest::Client::new();
    let api = ready_api(&http, &services, 1).await;

    let mut spec = darkroom_tests::fixtures::spec(dir.path(), "traced");
    spec["dataset"]["host_path"] = json!(data.join("dataset"));
    spec["ground_truth"]["host_path"] = json!(data.join("ground-truth"));
    spec["quotas"] = json!({});
    spec["resources"] =
        json!({ "cpus": 1.0, "memory_mb": 256, "wall_clock_seconds": 60, "output_max_mb": 4, "pids": 64 });
    let (status, body) = darkroom_tests::api::call(
        &http,
        Method::POST,
        format!("{api}/api/v1/challenges"),
        Some(ADMIN_TOKEN),
        Some(spec),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // One submission with no trace context; a second whose client names the first one's trace
    // (as someone who saw it might), which the API must not continue by default; a third with
    // a malformed header, which is no error.
    let (first, first_token) = submit(&http, &api, "traced", "darkroom-demo-baseline:1", None).await;
    let first_trace = queued_trace(&services, &first);
    let borrowed = format!("00-{first_trace}-b7ad6b7169203331-01");
    let (second, second_token) = submit(&http, &api, "traced", "darkroom-demo-weak:1", Some(&borrowed)).await;
    let (third, third_token) = submit(&http, &api, "traced", "darkroom-demo-weak:1", Some(&"zz-".repeat(400))).await;
    complete(&http, &api, &first, &first_token).await;
    complete(&http, &api, &second, &second_token).await;
    complete(&http, &api, &third, &third_token).await;

    assert_one_trace(&services, &first, &first_trace);
    let second_trace = queued_trace(&services, &second);
    let third_trace = queued_trace(&services, &third);
    assert_one_trace(&services, &second, &second_trace);
    assert_one_trace(&services, &third, &third_trace);
    let distinct: BTreeSet<_> = [&first_trace, &second_trace, &third_trace].into_iter().collect();
    assert_eq!(distinct.len(), 3, "each submission has its own trace: {distinct:?}");

    // Behind a gateway that traces, the operator lets the API continue the caller's trace.
    services.kill("submissions");
    services.spawn("submissions", &[("DARKROOM_SUBMISSIONS__ACCEPT_TRACEPARENT", "true")]);
    let api = ready_api(&http, &services, 2).await;
    let gateway_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{gateway_trace}-00f067aa0ba902b7-01");
    let (fourth, fourth_token) = submit(&http, &api, "traced", "darkroom-demo-weak:1", Some(&traceparent)).await;
    complete(&http, &api, &fourth, &fourth_token).await;
    assert_eq!(queued_trace(&services, &fourth), gateway_trace);
    assert_one_trace(&services, &fourth, gateway_trace);
}
