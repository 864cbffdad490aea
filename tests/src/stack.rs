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
    runner: Option<tokio::task::JoinHandle<()>>,
    evaluator: tokio::task::JoinHandle<()>,
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
        let evaluator = {
            let e = darkroom_evaluator::Evaluator::build(config.clone().into()).await.expect("evaluator builds");
            tokio::spawn(async move {
                e.run().await.expect("evaluator runs");
            })
        };
        let mut stack = Self { app, runner_config: config, runner: None, evaluator, data };
        stack.start_runner().await;
        stack
    }

    /// Starts (again) the runner with this stack's configuration.
    pub async fn start_runner(&mut self) {
        let r = darkroom_swarm_runner::Runner::build(self.runner_config.clone().into()).await.expect("runner builds");
        self.runner = Some(tokio::spawn(async move {
            r.run().await.expect("runner runs");
        }));
    }

    /// Kills the runner as a crash would: its runs stop mid-way, nothing is cleaned up.
    pub async fn kill_runner(&mut self) {
        if let Some(r) = self.runner.take() {
            r.abort();
            let _ = r.await;
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

    /// The scores collection of this stack's MongoDB database.
    pub async fn scores(&self) -> mongodb::Collection<mongodb::bson::Document> {
        let client = mongodb::Client::with_uri_str(&self.runner_config.mongodb.url).await.expect("mongo client");
        client.database(&self.runner_config.mongodb.database).collection("scores")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(r) = self.runner.take() {
            r.abort();
        }
        self.evaluator.abort();
    }
}
