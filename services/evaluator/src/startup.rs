//! Connects NATS, the outputs object store, MongoDB and the engine; consumes finished runs
//! (durable `evaluator`) and rescore items (durable `evaluator-rescore`, see
//! [`crate::rescore`]) until told to stop, then finishes the evaluations in flight.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use darkroom_core::bus::{Durable, Handler, MessageContext, Outcome, Outputs, Worker, retry_until_ok};
use darkroom_core::config::{EvaluatorSettings, NatsConfig};
use darkroom_core::domain::receipt::ReceiptSigner;
use darkroom_core::events::{Event, RescoreItem, RunFinished, RunVerified};
use darkroom_core::health::{self, Readiness};
use darkroom_core::sandbox::Sandbox;
use darkroom_core::scores::ScoreStore;
use futures::FutureExt;

use crate::evaluate::{self, Context};

pub const DURABLE_NAME: &str = "evaluator";
/// The durable consumer of verification re-runs' outcomes: its own, so a re-run never waits
/// behind a queue of scores (nor they behind it), and a consumer created before re-runs existed
/// keeps its subjects.
pub const VERIFICATIONS_DURABLE_NAME: &str = "evaluator-verifications";
/// The durable consumer of rescore items ([`crate::rescore`]), beside the finished runs'.
pub const RESCORE_DURABLE_NAME: &str = "evaluator-rescore";
const ACK_WAIT: Duration = Duration::from_secs(30);
/// On shutdown, how long beyond its container's `timeout_seconds` an evaluation in flight may
/// take (fetching the output, starting the container, storing the score) before it is
/// abandoned and redelivered to another evaluator. Compose's `stop_grace_period` covers it.
pub const DRAIN_MARGIN: Duration = Duration::from_secs(30);

pub struct Evaluator {
    ctx: Arc<Context>,
    /// Answers evaluation-image resolutions ([`crate::resolver`]).
    client: async_nats::Client,
    /// The health endpoints, when `evaluator.health_listen` is set.
    health: Option<health::Endpoints>,
    nats: NatsConfig,
    concurrency: usize,
}

impl Evaluator {
    pub async fn build(config: EvaluatorSettings) -> anyhow::Result<Self> {
        if config.evaluator.concurrency == 0 {
            anyhow::bail!("evaluator.concurrency: must be at least 1");
        }
        let client = darkroom_core::bus::connect(&config.nats, "darkroom-evaluator").await?;
        let js = jetstream::new(client.clone());
        retry_until_ok("the JetStream stream", || darkroom_core::bus::ensure_stream(&js, &config.nats)).await;
        let runs = retry_until_ok("the runs bucket", || darkroom_core::bus::runs_bucket(&js)).await;
        let outputs = retry_until_ok("the outputs object store", || Outputs::open(&js)).await;
        // Every score this evaluator records gets a receipt signed with this key: no key, no start.
        let signer = ReceiptSigner::from_file(&config.evaluator.receipt_key_file)
            .context("evaluator.receipt_key_file (DARKROOM_EVALUATOR__RECEIPT_KEY_FILE)")?;
        tracing::info!(key_id = %signer.public_key().key_id, "signing score receipts");
        let ground_truth_key = signer.ground_truth_key();
        let scores = ScoreStore::new(&config.mongodb).await?.with_signer(Arc::new(signer));
        scores.ensure_indexes().await.with_context(|| format!("cannot reach MongoDB at {}", config.mongodb.url))?;
        scores.publish_key().await.context("cannot list the receipt signing key in MongoDB")?;
        let replayed =
            scores.rebuild_boards_if_missing().await.context("cannot build the leaderboards from the scores")?;
        if replayed > 0 {
            tracing::info!(scores = replayed, "built the leaderboards from scores stored before they existed");
        }
        let sandbox =
            Sandbox::connect().await.context("cannot reach the Docker engine (DOCKER_HOST or /var/run/docker.sock)")?;
        let store = scores.clone();
        let readiness = Readiness::default()
            .check("nats", health::nats_check(client.clone()))
            .check("docker", health::docker_check(sandbox.clone()))
            .check(
                "mongodb",
                Arc::new(move || {
                    let store = store.clone();
                    Box::pin(async move { store.ping().await.map_err(|e| e.to_string()) })
                }),
            );
        let lag_js = js.clone();
        let health = health::Endpoints::bind("evaluator.health_listen", &config.evaluator.health_listen, readiness)
            .await?
            .map(|endpoints| {
                endpoints.on_scrape(Arc::new(move || {
                    let js = lag_js.clone();
                    Box::pin(async move {
                        let consumers = [DURABLE_NAME, VERIFICATIONS_DURABLE_NAME, RESCORE_DURABLE_NAME];
                        darkroom_core::metrics::record_consumer_lag(&js, &consumers).await;
                    })
                }))
            });
        let owner = config.evaluator.evaluator_id.clone();
        let removed = sandbox.remove_owned(&owner).await?;
        if !removed.is_empty() {
            tracing::warn!(containers = ?removed, "removed evaluation containers left behind");
        }
        std::fs::create_dir_all(&config.evaluator.work_dir)
            .with_context(|| format!("evaluator.work_dir: cannot create '{}'", config.evaluator.work_dir.display()))?;
        darkroom_core::sandbox::run_folder::sweep(&config.evaluator.work_dir).await;
        Ok(Self {
            client,
            health,
            concurrency: config.evaluator.concurrency,
            ctx: Arc::new(Context {
                js,
                runs,
                outputs,
                scores,
                sandbox,
                config: config.evaluator.clone(),
                owner,
                ground_truth_key,
            }),
            nats: config.nats.clone(),
        })
    }

    /// Where `/healthz` and `/readyz` answer, when they are served.
    pub fn health_addr(&self) -> Option<std::net::SocketAddr> {
        self.health.as_ref().and_then(health::Endpoints::local_addr)
    }

    /// Consumes forever.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Consumes until `shutdown` resolves (SIGTERM in the binary), then takes no new run and
    /// finishes the evaluations in flight, each bounded by `evaluator.timeout_seconds` plus
    /// [`DRAIN_MARGIN`]; one still going then is redelivered to another evaluator.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        if let Some(endpoints) = self.health.take() {
            endpoints.spawn();
        }
        let resolver = crate::resolver::serve(self.client.clone(), self.ctx.sandbox.clone());
        let resolver = tokio::spawn(async move {
            if let Err(e) = resolver.await {
                tracing::error!(error = %e, "the evaluation image resolver stopped");
            }
        });
        let durable = Durable {
            name: DURABLE_NAME,
            subjects: &[RunFinished::SUBJECT],
            ack_wait: ACK_WAIT,
            max_ack_pending: Some(self.concurrency as i64),
        };
        let verifications = Durable {
            name: VERIFICATIONS_DURABLE_NAME,
            subjects: &[RunVerified::SUBJECT],
            ack_wait: ACK_WAIT,
            max_ack_pending: Some(1),
        };
        let rescore_durable = Durable {
            name: RESCORE_DURABLE_NAME,
            subjects: &[RescoreItem::SUBJECT],
            ack_wait: ACK_WAIT,
            max_ack_pending: Some(self.concurrency as i64),
        };
        let drain = Duration::from_secs(self.ctx.config.timeout_seconds) + DRAIN_MARGIN;
        tracing::info!(concurrency = self.concurrency, "evaluator consuming");
        let shutdown = shutdown.shared();
        let runs = Worker::new(self.ctx.js.clone(), &self.nats, durable, Evaluate { ctx: self.ctx.clone() })
            .concurrency(self.concurrency)
            .run_until(shutdown.clone(), drain);
        // One re-run at a time: they are rare, and each runs an evaluation container.
        let reruns = Worker::new(self.ctx.js.clone(), &self.nats, verifications, Verify { ctx: self.ctx.clone() })
            .run_until(shutdown.clone(), drain);
        // Rescore items one at a time: they wait behind new runs for the engine, never ahead.
        let rescores = Worker::new(self.ctx.js.clone(), &self.nats, rescore_durable, Rescore { ctx: self.ctx })
            .run_until(shutdown, drain);
        tokio::join!(runs, reruns, rescores);
        resolver.abort();
        tracing::info!("evaluator stopped");
        Ok(())
    }
}

/// Judges one verification re-run.
struct Verify {
    ctx: Arc<Context>,
}

impl Handler for Verify {
    type Event = RunVerified;

    async fn handle(&self, event: RunVerified, _: &MessageContext) -> Outcome {
        match crate::verify::handle(&self.ctx, &event).await {
            Ok(()) => Outcome::Ack,
            Err(e) => Outcome::Retry {
                after: Duration::from_secs(5),
                reason: format!("verification not durable; it will be redelivered: {e}"),
            },
        }
    }
}

/// Scores one finished run.
struct Evaluate {
    ctx: Arc<Context>,
}

impl Handler for Evaluate {
    type Event = RunFinished;

    async fn handle(&self, run: RunFinished, _: &MessageContext) -> Outcome {
        match evaluate::handle(&self.ctx, &run).await {
            Ok(()) => Outcome::Ack,
            Err(e) => Outcome::Retry {
                after: Duration::from_secs(5),
                reason: format!("evaluation not durable; it will be redelivered: {e}"),
            },
        }
    }
}

/// Scores one rescore item ([`crate::rescore`]).
struct Rescore {
    ctx: Arc<Context>,
}

impl Handler for Rescore {
    type Event = RescoreItem;

    async fn handle(&self, item: RescoreItem, message: &MessageContext) -> Outcome {
        match crate::rescore::handle_item(&self.ctx, &item, message.delivered).await {
            crate::rescore::ItemOutcome::Scored | crate::rescore::ItemOutcome::Failed => Outcome::Ack,
            crate::rescore::ItemOutcome::Retry(reason) => Outcome::Retry {
                after: Duration::from_secs(5),
                reason: format!("rescore not durable; it will be redelivered: {reason}"),
            },
        }
    }
}
