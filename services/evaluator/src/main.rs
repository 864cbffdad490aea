//! `darkroom-evaluator`: reads configuration (see `darkroom.example.toml`) and scores finished
//! runs until stopped.

use darkroom_core::config::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load()?;
    darkroom_core::telemetry::init(&config.log);
    let evaluator = darkroom_evaluator::Evaluator::build(config).await?;
    tokio::select! {
        r = evaluator.run() => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
