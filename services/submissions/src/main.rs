//! `darkroom-submissions`: reads configuration (see `darkroom.example.toml`) and serves the API.

use darkroom_core::config::SubmissionsSettings;
use darkroom_core::health::{self, Command, shutdown_signal};
use darkroom_submissions::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = Command::from_args()?;
    let config = SubmissionsSettings::load()?;
    if command == Command::Healthcheck {
        return Ok(health::healthcheck("submissions.listen", &config.submissions.listen, "/readyz")?);
    }
    // Kept to the end of main: dropping it flushes the spans not yet exported.
    let _telemetry = darkroom_core::telemetry::init("darkroom-submissions", &config.log, &config.telemetry)?;
    let app = Application::build(config).await?;
    app.run_until(shutdown_signal()).await
}
