//! Connects everything the runner needs, removes what a previous run of it left behind, and
//! consumes requests with bounded concurrency.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, AckKind, kv, object_store};
use darkroom_core::bus::retry_until_ok;
use darkroom_core::config::{RunnerBackend, RunnerSettings};
use darkroom_core::events::{Event, OUTPUT_BUCKET, SubmissionCancelled, SubmissionCreated};
use darkroom_core::health::{self, Readiness};
use darkroom_core::sandbox::Sandbox;

use crate::backend::{Backend, EngineBackend, SwarmBackend};
use crate::job::{self, Context};

pub const DURABLE_NAME: &str = "swarm-runner";
/// The consumer of cancellations, shared by every runner.
pub const CANCELS_DURABLE_NAME: &str = "swarm-runner-cancels";
/// How long a request for another node type waits before JetStream offers it again.
const PASS_ON_DELAY: Duration = Duration::from_secs(2);

pub struct Runner {
    ctx: Arc<Context>,
    /// The health endpoints, when `runner.health_listen` is set.
    health: Option<health::Endpoints>,
    stream: jetstream::stream::Stream,
    concurrency: usize,
}

impl Runner {
    pub async fn build(config: RunnerSettings) -> anyhow::Result<Self> {
        if config.runner.concurrency == 0 {
            anyhow::bail!("runner.concurrency: must be at least 1");
        }
        let client = darkroom_core::bus::connect(&config.nats, "darkroom-swarm-runner").await?;
        let js = jetstream::new(client.clone());
        let stream =
            retry_until_ok("the JetStream stream", || darkroom_core::bus::ensure_stream(&js, &config.nats)).await;
        let runs = retry_until_ok("the runs bucket", || darkroom_core::bus::runs_bucket(&js)).await;
        let outputs = retry_until_ok("the outputs object store", || async {
            js.create_object_store(object_store::Config { bucket: OUTPUT_BUCKET.into(), ..Default::default() }).await
        })
        .await;
        let sandbox =
            Sandbox::connect().await.context("cannot reach the Docker engine (DOCKER_HOST or /var/run/docker.sock)")?;
        let runner = &config.runner;
        std::fs::create_dir_all(&runner.work_dir)
            .with_context(|| format!("runner.work_dir: cannot create '{}'", runner.work_dir.display()))?;
        let readiness = Readiness::default()
            .check("nats", health::nats_check(client))
            .check("docker", health::docker_check(sandbox.clone()));
        let health = health::Endpoints::bind("runner.health_listen", &runner.health_listen, readiness).await?;
        sweep_images(&sandbox, &runs).await;
        let removed = sandbox.remove_owned(&runner.runner_id).await?;
        if !removed.is_empty() {
            tracing::warn!(containers = ?removed, "removed containers a previous run of this runner left behind");
        }
        let backend: Arc<dyn Backend> = match runner.backend {
            RunnerBackend::Engine => {
                Arc::new(EngineBackend { sandbox: sandbox.clone(), runner_id: runner.runner_id.clone() })
            }
            RunnerBackend::Swarm => Arc::new(SwarmBackend {
                sandbox: sandbox.clone(),
                placement_timeout: Duration::from_secs(runner.placement_timeout_seconds),
                on_pending: Arc::new(|reason| tracing::info!(%reason, "waiting for a Swarm node")),
            }),
        };
        Ok(Self {
            health,
            concurrency: runner.concurrency,
            ctx: Arc::new(Context { js, runs, outputs, sandbox, backend, config: runner.clone() }),
            stream,
        })
    }

    /// Where `/healthz` and `/readyz` answer, when they are served.
    pub fn health_addr(&self) -> Option<std::net::SocketAddr> {
        self.health.as_ref().and_then(health::Endpoints::local_addr)
    }

    /// Consumes forever; each request is acknowledged only after its outcome is published.
    pub async fn run(mut self) -> anyhow::Result<()> {
        if let Some(endpoints) = self.health.take() {
            endpoints.spawn();
        }
        // The server hands out no more requests than we run at once, so none waits for a slot
        // (unacknowledged, it would be redelivered meanwhile).
        // Cancellations have a consumer of their own: on the requests' consumer they would
        // queue behind the runs that fill its slots, and arrive after the run they cancel.
        let cancels = darkroom_core::bus::durable_consumer(
            &self.stream,
            CANCELS_DURABLE_NAME,
            &[SubmissionCancelled::SUBJECT],
            Duration::from_secs(30),
            None,
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the cancellations consumer: {e}"))?;
        let cancel_ctx = self.ctx.clone();
        tokio::spawn(darkroom_core::bus::consume(cancels, 4, move |message| {
            let ctx = cancel_ctx.clone();
            async move { handle_cancel(&ctx, message).await }
        }));
        let consumer = darkroom_core::bus::durable_consumer(
            &self.stream,
            DURABLE_NAME,
            &[SubmissionCreated::SUBJECT],
            Duration::from_secs(self.ctx.config.ack_wait_seconds.max(1)),
            Some(self.concurrency as i64),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the consumer: {e}"))?;
        tracing::info!(concurrency = self.concurrency, backend = ?self.ctx.config.backend, "runner consuming");
        let ctx = self.ctx;
        darkroom_core::bus::consume(consumer, self.concurrency, move |message| {
            let ctx = ctx.clone();
            async move { handle_message(&ctx, message).await }
        })
        .await;
        Ok(())
    }
}

/// Records a cancellation where every runner and evaluator looks before starting work.
async fn handle_cancel(ctx: &Context, message: jetstream::Message) {
    match serde_json::from_slice::<SubmissionCancelled>(&message.payload) {
        Ok(c) => {
            if let Err(e) = darkroom_core::bus::mark_cancelled(&ctx.runs, c.submission_id).await {
                tracing::warn!(error = %e, "cannot record a cancellation; it will be redelivered");
                return;
            }
        }
        Err(e) => tracing::error!(error = %e, "undecodable cancellation dropped"),
    }
    let _ = message.ack().await;
}

async fn handle_message(ctx: &Context, message: jetstream::Message) {
    let job: SubmissionCreated = match serde_json::from_slice(&message.payload) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(error = %e, "undecodable request dropped");
            let _ = message.ack().await;
            return;
        }
    };
    if !job::serves(&ctx.config.node_types, job.node_type) {
        // Another runner serves this node type; JetStream offers the request to the next one.
        tracing::debug!(submission = %job.submission_id, node_type = ?job.node_type, "not this runner's node type");
        let _ = message.ack_with(AckKind::Nak(Some(PASS_ON_DELAY))).await;
        return;
    }
    // Keep the request ours while it runs, however long that is.
    let every = Duration::from_secs(ctx.config.ack_wait_seconds.max(1)).div_f32(3.0);
    let result = darkroom_core::bus::with_progress(&message, every, job::handle(ctx, &job)).await;
    match result {
        Ok(()) => {
            if let Err(e) = message.double_ack().await {
                tracing::warn!(error = %e, "ack lost; the redelivery will be recognised as handled");
            }
        }
        Err(e) => {
            tracing::error!(submission = %job.submission_id, error = %e, "outcome not durable; the request will be redelivered");
            let _ = message.ack_with(AckKind::Nak(Some(Duration::from_secs(5)))).await;
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
        let Some((_, attempt)) = tag.split_once('/') else { continue };
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
