//! `darkroom-swarm-runner`: reads configuration (see `darkroom.example.toml`) and runs
//! submissions until stopped.

use darkroom_core::config::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load()?;
    darkroom_core::telemetry::init(&config.log);
    let runner = darkroom_swarm_runner::Runner::build(config).await?;
    tokio::select! {
        r = runner.run() => r,
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("stopping; unfinished runs are redelivered to the next runner");
            Ok(())
        }
    }
}
