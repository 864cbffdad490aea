//! `darkroom-swarm-runner`: reads configuration (see `darkroom.example.toml`) and runs
//! submissions until stopped.

use darkroom_core::config::RunnerSettings;
use darkroom_core::health::{self, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = Command::from_args()?;
    let config = RunnerSettings::load()?;
    if command == Command::Healthcheck {
        return Ok(health::healthcheck("runner.health_listen", &config.runner.health_listen, "/readyz")?);
    }
    // Kept to the end of main: dropping it flushes the spans not yet exported.
    let _telemetry = darkroom_core::telemetry::init("darkroom-swarm-runner", &config.log, &config.telemetry)?;
    let runner = darkroom_swarm_runner::Runner::build(config).await?;
    // SIGTERM drains: no new run, running ones finish within runner.drain_seconds, the rest
    // are handed back (retried, not charged).
    runner.run_until(health::shutdown_signal()).await
}
