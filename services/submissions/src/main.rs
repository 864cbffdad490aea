//! `darkroom-submissions`: reads configuration (see `darkroom.example.toml`) and serves the API.

use darkroom_core::config::Config;
use darkroom_submissions::startup::{Application, shutdown_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load()?;
    darkroom_core::telemetry::init(&config.log);
    let app = Application::build(config).await?;
    app.run_until(shutdown_signal()).await
}
