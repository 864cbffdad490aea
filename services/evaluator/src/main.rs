//! `darkroom-evaluator`: reads configuration (see `darkroom.example.toml`) and scores finished
//! runs until stopped.

use darkroom_core::config::EvaluatorSettings;
use darkroom_core::health::{self, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = Command::from_args()?;
    let config = EvaluatorSettings::load()?;
    if command == Command::Healthcheck {
        return Ok(health::healthcheck("evaluator.health_listen", &config.evaluator.health_listen, "/readyz")?);
    }
    // Kept to the end of main: dropping it flushes the spans not yet exported.
    let _telemetry = darkroom_core::telemetry::init("darkroom-evaluator", &config.log, &config.telemetry)?;
    let evaluator = darkroom_evaluator::Evaluator::build(config).await?;
    // SIGTERM: no new evaluation; those in flight finish first.
    evaluator.run_until(health::shutdown_signal()).await
}
