use std::path::PathBuf;

use darkroom_core::config::{Config, RunnerBackend};
use serde_json::{Value, json};

use crate::{Backend, TestApp};

/// The whole pipeline in one process: the submissions service, a swarm runner and an
/// evaluator, on a private NATS server, a private MongoDB database and the real Docker engine.
/// Needs the images `scripts/build-images.sh` builds.
pub struct Stack {
    pub app: TestApp,
    pub runner_config: Config,
    runner: Option<Service>,
    /// Runners beside the first, each with its own configuration ([`Stack::add_runner`]).
    more_runners: Vec<Service>,
    evaluator: Option<Service>,
    /// Where [`Stack::dataset`] wrote the small demo dataset.
    pub data: PathBuf,
}

impl Stack {
    pub async fn spawn(backend: RunnerBackend) -> Self {
        Self::spawn_configured(backend, |_| {}).await
    }

    /// Spawns with `tweak` applied to the configuration every service of the stack reads.
    pub async fn spawn_configured(backend: RunnerBackend, tweak: impl Fn(&mut Config)) -> Self {
        let app = TestApp::spawn_configured(Backend::Sqlite, &tweak).await;
        let mut config = app.config.clone();
        config.runner.backend = backend;
        config.runner.concurrency = 2;
        config.runner.work_dir = app.dir.path().join("runs");
        config.runner.runner_id = format!("test-{}", uuid::Uuid::new_v4().simple());
        config.runner.ack_wait_seconds = 3;
        config.runner.placement_timeout_seconds = 6;
        config.runner.log_lines_per_second = 20;
        config.runner.log_max_bytes = 4096;
        config.evaluator.work_dir = app.dir.path().join("evaluations");
        config.evaluator.timeout_seconds = 60;
        tweak(&mut config);
        let data = app.dir.path().join("demo");
        darkroom_demo_data::generate(&data, 7, 800, 100, 64).expect("dataset generated");
        let mut stack =
            Self { app, runner_config: config, runner: None, more_runners: Vec::new(), evaluator: None, data };
        stack.start_evaluator().await;
        stack.start_runner().await;
        stack
    }

    /// Starts (again) the runner with this stack's configuration.
    pub async fn start_runner(&mut self) {
        let r = darkroom_swarm_runner::Runner::build(self.runner_config.clone().into()).await.expect("runner builds");
        let health = r.health_addr();
        self.runner = Some(Service::spawn(health, |stop| async move { r.run_until(stop).await.expect("runner runs") }));
    }

    /// Starts one more runner, with this stack's configuration changed by `tweak` (give it a
    /// `runner_id` of its own). It runs until the stack is dropped.
    pub async fn add_runner(&mut self, tweak: impl FnOnce(&mut Config)) {
        let mut config = self.runner_config.clone();
        tweak(&mut config);
        let r = darkroom_swarm_runner::Runner::build(config.into()).await.expect("runner builds");
        let health = r.health_addr();
        self.more_runners
            .push(Service::spawn(health, |stop| async move { r.run_until(stop).await.expect("runner runs") }));
    }

    /// Kills the runner as a crash would: its runs stop mid-way, nothing is cleaned up.
    pub async fn kill_runner(&mut self) {
        if let Some(r) = self.runner.take() {
            r.kill().await;
        }
    }

    /// Stops the runner as SIGTERM does, and waits until it has drained.
    pub async fn stop_runner(&mut self) {
        if let Some(r) = self.runner.take() {
            r.stop().await;
        }
    }

    /// Starts (again) the evaluator with this stack's configuration.
    pub async fn start_evaluator(&mut self) {
        let e =
            darkroom_evaluator::Evaluator::build(self.runner_config.clone().into()).await.expect("evaluator builds");
        let health = e.health_addr();
        self.evaluator =
            Some(Service::spawn(health, |stop| async move { e.run_until(stop).await.expect("evaluator runs") }));
    }

    /// Kills the evaluator as a crash (SIGKILL) would: its evaluations stop mid-way, nothing is
    /// acknowledged or cleaned up.
    pub async fn kill_evaluator(&mut self) {
        if let Some(e) = self.evaluator.take() {
            e.kill().await;
        }
    }

    /// Stops the evaluator as SIGTERM does, and waits until it has finished its evaluations.
    pub async fn stop_evaluator(&mut self) {
        if let Some(e) = self.evaluator.take() {
            e.stop().await;
        }
    }

    /// A challenge over the generated dataset, scored by the demo's evaluation image.
    pub async fn challenge(&self, slug: &str, tweak: impl FnOnce(&mut Value)) -> String {
        let data = self.data.join("dataset");
        let truth = self.data.join("ground-truth");
        self.app
            .create_challenge(slug, |s| {
                s["dataset"]["host_path"] = json!(data);
                s["ground_truth"]["host_path"] = json!(truth);
                s["evaluation"]["image"] = json!("darkroom-demo-eval:1");
                s["quotas"] = json!({});
                s["resources"] =
                    json!({ "cpus": 1.0, "memory_mb": 256, "wall_clock_seconds": 60, "output_max_mb": 4, "pids": 64 });
                tweak(s);
            })
            .await
    }

    /// Polls a submission until it is COMPLETE, FAILED or CANCELLED, for up to `secs`.
    pub async fn finished(&self, id: &str, token: &str, secs: u64) -> Value {
        crate::api::wait_finished(&self.app.http, &self.app.addr, id, token, secs).await
    }

    /// Where the running runner serves its health and metrics endpoints, when
    /// `runner.health_listen` is set (`127.0.0.1:0` picks a port no other test can take).
    pub fn runner_health(&self) -> Option<std::net::SocketAddr> {
        self.runner.as_ref().and_then(|r| r.health)
    }

    /// Where the running evaluator serves its health and metrics endpoints, as
    /// [`Stack::runner_health`].
    pub fn evaluator_health(&self) -> Option<std::net::SocketAddr> {
        self.evaluator.as_ref().and_then(|e| e.health)
    }

    /// How many containers the runner owns (running or not).
    pub fn runner_containers(&self) -> usize {
        containers_owned_by(&self.runner_config.runner.runner_id)
    }

    /// How many containers the evaluator owns (running or not).
    pub fn evaluator_containers(&self) -> usize {
        containers_owned_by(&self.runner_config.evaluator.evaluator_id)
    }

    /// Waits up to 10 s for `containers` to say `n`.
    pub async fn wait_for_containers(&self, n: usize, containers: impl Fn(&Self) -> usize) {
        for _ in 0..100 {
            if containers(self) == n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(containers(self), n, "containers never reached the expected count");
    }

    /// The scores collection of this stack's MongoDB database.
    pub async fn scores(&self) -> mongodb::Collection<mongodb::bson::Document> {
        let client = mongodb::Client::with_uri_str(&self.runner_config.mongodb.url).await.expect("mongo client");
        client.database(&self.runner_config.mongodb.database).collection("scores")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let more = std::mem::take(&mut self.more_runners);
        for service in [self.runner.take(), self.evaluator.take()].into_iter().flatten().chain(more) {
            service.task.abort();
        }
    }
}

fn containers_owned_by(owner: &str) -> usize {
    let label = format!("label={}={owner}", darkroom_core::sandbox::OWNER_LABEL);
    let out =
        std::process::Command::new("docker").args(["ps", "-aq", "--filter", &label]).output().expect("docker runs");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// The runner or the evaluator in a task of its own, with the stop signal the binary gets
/// from SIGTERM.
struct Service {
    task: tokio::task::JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
    /// The address its health endpoints were bound to, if any.
    health: Option<std::net::SocketAddr>,
}

impl Service {
    fn spawn<F, Fut>(health: Option<std::net::SocketAddr>, run_until: F) -> Self
    where
        F: FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // Only an explicit stop: a dropped sender (a killed service) signals nothing.
        let signal = Box::pin(async move {
            if stopped.await.is_err() {
                std::future::pending::<()>().await;
            }
        });
        Self { task: tokio::spawn(run_until(signal)), stop, health }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("the service stops cleanly");
    }

    async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}
