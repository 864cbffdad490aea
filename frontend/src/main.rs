//! `darkroom-frontend`: reads configuration (see `darkroom.example.toml`, section `[frontend]`)
//! and serves the web pages until stopped.

use darkroom_core::health::{self, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = Command::from_args()?;
    let config = darkroom_core::config::FrontendSettings::load()?;
    if command == Command::Healthcheck {
        return Ok(health::healthcheck("frontend.listen", &config.frontend.listen, "/healthz")?);
    }
    // Kept to the end of main: dropping it flushes the spans not yet exported.
    let _telemetry = darkroom_core::telemetry::init("darkroom-frontend", &config.log, &config.telemetry)?;
    let frontend = darkroom_frontend::server::Frontend::build(config).await?;
    frontend.run_until(health::shutdown_signal()).await
}
