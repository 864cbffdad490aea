//! `darkroom-frontend`: reads configuration (see `darkroom.example.toml`, section `[frontend]`)
//! and serves the web pages until stopped.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = darkroom_core::config::Config::load()?;
    darkroom_core::telemetry::init(&config.log);
    let frontend = darkroom_frontend::server::Frontend::build(config).await?;
    frontend.run_until(async { tokio::signal::ctrl_c().await.unwrap_or(()) }).await
}
