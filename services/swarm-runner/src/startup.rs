//! Connects everything the runner needs, removes what a previous run of it left behind, and
//! consumes requests with bounded concurrency until it is told to stop, then drains.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, kv};
use darkroom_core::bus::{Durable, Handler, MessageContext, Outcome, Outputs, Worker, retry_until_ok};
use darkroom_core::config::{NatsConfig, RunnerBackend, RunnerSettings};
use darkroom_core::events::{Event, SubmissionCancelled, SubmissionCreated};
use darkroom_core::health::{self, Readiness};
use darkroom_core::sandbox::Sandbox;

use crate::backend::{Backend, EngineBackend, SwarmBackend};
use crate::holds::Holds;
use crate::job::{self, Context};

pub const DURABLE_NAME: &str = "swarm-runner";
/// The consumer of cancellations, shared by every runner.
pub const CANCELS_DURABLE_NAME: &str = "swarm-runner-cancels";

pub struct Runner {
    ctx: Arc<Context>,
    /// The health endpoints, when `runner.health_listen` is set.
    health: Option<health::Endpoints>,
    nats: NatsConfig,
    concurrency: usize,
}

impl Runner {
    pub async fn build(config: RunnerSettings) -> anyhow::Result<Self> {
        if config.runner.concurrency == 0 {
            anyhow::bail!("runner.concurrency: must be at least 1");
        }
        let client = darkroom_core::bus::connect(&config.nats, "darkroom-swarm-runner").await?;
        let js = jetstream::new(client.clone());
        retry_until_ok("the JetStream stream", || darkroom_core::bus::ensure_stream(&js, &config.nats)).await;
        let runs = retry_until_ok("the runs bucket", || darkroom_core::bus::runs_bucket(&js)).await;
        let outputs = retry_until_ok("the outputs object store", || Outputs::open(&js)).await;
        let runner = &config.runner;
        let sandbox = Sandbox::connect_to(&runner.docker_host).await.with_context(|| {
            if runner.docker_host.is_empty() {
                "cannot reach the Docker engine (DOCKER_HOST or /var/run/docker.sock)".to_owned()
            } else {
                format!("runner.docker_host: cannot reach the Docker engine at '{}'", runner.docker_host)
            }
        })?;
        std::fs::create_dir_all(&runner.work_dir)
            .with_context(|| format!("runner.work_dir: cannot create '{}'", runner.work_dir.display()))?;
        let readiness = Readiness::default()
            .check("nats", health::nats_check(client))
            .check("docker", health::docker_check(sandbox.clone()));
        let lag_js = js.clone();
        let health =
            health::Endpoints::bind("runner.health_listen", &runner.health_listen, readiness).await?.map(|endpoints| {
                endpoints.on_scrape(std::sync::Arc::new(move || {
                    let js = lag_js.clone();
                    Box::pin(async move {
                        darkroom_core::metrics::record_consumer_lag(&js, &[DURABLE_NAME, CANCELS_DURABLE_NAME]).await;
                    })
                }))
            });
        sweep_images(&sandbox, &runs).await;
        let removed = sandbox.remove_owned(&runner.runner_id).await?;
        if !removed.is_empty() {
            tracing::warn!(containers = ?removed, "removed containers a previous run of this runner left behind");
        }
        // After the containers, which may still hold a crashed run's output mount.
        darkroom_core::sandbox::run_folder::sweep(&runner.work_dir).await;
        // After its containers: the engine keeps a tag that a container's image still needs.
        let holds = Holds::new(sandbox.clone(), &runner.runner_id, Duration::from_secs(runner.image_hold_seconds));
        holds.sweep().await;
        let backend: Arc<dyn Backend> = match runner.backend {
            RunnerBackend::Engine => {
                Arc::new(EngineBackend { sandbox: sandbox.clone(), runner_id: runner.runner_id.clone() })
            }
            RunnerBackend::Swarm => Arc::new(SwarmBackend::new(
                sandbox.clone(),
                Duration::from_secs(runner.placement_timeout_seconds),
                Arc::new(|reason| tracing::info!(%reason, "waiting for a Swarm node")),
            )),
        };
        Ok(Self {
            health,
            concurrency: runner.concurrency,
            ctx: Arc::new(Context {
                js,
                runs,
                outputs,
                sandbox,
                backend,
                config: runner.clone(),
                registry: darkroom_core::registry::Client::new(crate::pull::REGISTRY_READ_TIMEOUT)
                    .context("building the registry client")?,
                holds,
            }),
            nats: config.nats.clone(),
        })
    }

    /// Where `/healthz` and `/readyz` answer, when they are served.
    pub fn health_addr(&self) -> Option<std::net::SocketAddr> {
        self.health.as_ref().and_then(health::Endpoints::local_addr)
    }

    /// Consumes forever; each request is acknowledged only after its outcome is published.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Consumes until `shutdown` resolves (SIGTERM in the binary), then drains: takes no new
    /// request, lets the runs in flight finish for up to `runner.drain_seconds`, then stops the
    /// rest and hands them back as platform failures, retried and not charged. Each request is
    /// acknowledged only after its outcome is published, so nothing is lost or run twice.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        if let Some(endpoints) = self.health.take() {
            endpoints.spawn();
        }
        let js = self.ctx.js.clone();
        // Cancellations have a consumer of their own: on the requests' consumer they would
        // queue behind the runs that fill its slots, and arrive after the run they cancel.
        let cancels = Worker::new(
            js.clone(),
            &self.nats,
            Durable {
                name: CANCELS_DURABLE_NAME,
                subjects: &[SubmissionCancelled::SUBJECT],
                ack_wait: Duration::from_secs(30),
                max_ack_pending: None,
            },
            RecordCancellation { ctx: self.ctx.clone() },
        )
        .concurrency(4);
        // The server hands out no more requests than we run at once, so none waits for a slot
        // (unacknowledged, it would be redelivered meanwhile).
        let requests = Worker::new(
            js,
            &self.nats,
            Durable {
                name: DURABLE_NAME,
                subjects: &[SubmissionCreated::SUBJECT],
                ack_wait: Duration::from_secs(self.ctx.config.ack_wait_seconds.max(1)),
                max_ack_pending: Some(self.concurrency as i64),
            },
            RunRequest { ctx: self.ctx.clone() },
        )
        .concurrency(self.concurrency);
        tracing::info!(concurrency = self.concurrency, backend = ?self.ctx.config.backend, "runner consuming");
        let drain = Duration::from_secs(self.ctx.config.drain_seconds);
        // Cancellations are recorded while the runs drain, and stop with them.
        let (drained, drained_rx) = tokio::sync::oneshot::channel::<()>();
        let requests = async move {
            requests.run_until(shutdown, drain).await;
            drop(drained);
        };
        let cancels = cancels.run_until(
            async {
                let _ = drained_rx.await;
            },
            Duration::from_secs(5),
        );
        tokio::join!(requests, cancels);
        // Every attempt has ended: nothing counts on a hold any more.
        self.ctx.holds.sweep().await;
        tracing::info!("runner stopped");
        Ok(())
    }
}

/// Records a cancellation where every runner and evaluator looks before starting work.
struct RecordCancellation {
    ctx: Arc<Context>,
}

impl Handler for RecordCancellation {
    type Event = SubmissionCancelled;

    async fn handle(&self, cancelled: SubmissionCancelled, _: &MessageContext) -> Outcome {
        match darkroom_core::bus::mark_cancelled(&self.ctx.runs, cancelled.submission_id).await {
            Ok(()) => Outcome::Ack,
            Err(e) => {
                Outcome::Retry { after: Duration::from_secs(2), reason: format!("cannot record the cancellation: {e}") }
            }
        }
    }
}

/// Runs one request, or passes it on to a runner of its node type.
struct RunRequest {
    ctx: Arc<Context>,
}

impl Handler for RunRequest {
    type Event = SubmissionCreated;

    async fn handle(&self, job: SubmissionCreated, message: &MessageContext) -> Outcome {
        if !job::serves(&self.ctx.config.node_types, job.node_type) {
            tracing::debug!(node_type = ?job.node_type, "not this runner's node type");
            return Outcome::PassOn;
        }
        match job::handle(&self.ctx, &job, &message.stop).await {
            Ok(()) => Outcome::Ack,
            Err(e) => Outcome::Retry {
                after: Duration::from_secs(5),
                reason: format!("outcome not durable; the request will be redelivered: {e}"),
            },
        }
    }
}

/// Removes loaded uploads whose attempt is finished (a runner that crashed between the run and
/// the removal leaves them). Attempts still claimed may be running on another runner of this
/// engine, so they stay; the runner that finds them abandoned removes them.
async fn sweep_images(sandbox: &Sandbox, runs: &kv::Store) {
    let tags = match sandbox.tags_under(darkroom_core::domain::image::SUBMISSION_NAMESPACE).await {
        Ok(t) => t,
        Err(e) => return tracing::warn!(error = %e, "cannot list loaded submission images"),
    };
    let mut removed = 0;
    for tag in tags {
        // Runners' holds (`hold/<runner>:…`) are not attempts; each runner sweeps its own.
        let Some((_, attempt)) = tag.split_once('/').filter(|(_, a)| !a.contains('/')) else { continue };
        let key = attempt.replace(':', ".");
        if matches!(runs.get(&key).await, Ok(Some(v)) if v.as_ref() == job::DONE.as_bytes()) {
            sandbox.remove_image(&tag).await;
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed submission images left by finished attempts");
    }
}
