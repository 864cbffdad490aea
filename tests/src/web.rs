//! The web pages for tests: the frontend server spawned in-process against a [`crate::TestApp`],
//! and a headless Chromium driven through chromedriver (WebDriver) for the browser tests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use darkroom_core::config::Config;
use fantoccini::{Client, ClientBuilder};

use crate::nats_server::free_port;

/// Where `scripts/build-frontend.sh` put the browser code: `DARKROOM_SITE_ROOT`, else
/// `$CARGO_TARGET_DIR/site`, else the workspace's `target/site`.
pub fn site_root() -> PathBuf {
    if let Ok(dir) = std::env::var("DARKROOM_SITE_ROOT") {
        return dir.into();
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("site")
}

/// Where tests leave what a person should look at (screenshots).
pub fn output_dir(what: &str) -> PathBuf {
    let dir = site_root().parent().map(|t| t.join("test-output").join(what)).unwrap_or_else(|| what.into());
    std::fs::create_dir_all(&dir).expect("test output folder");
    dir
}

/// The frontend on a random port.
pub struct WebServer {
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl WebServer {
    /// Serves pages from the API at `api_url`, following scores on `base`'s NATS.
    pub async fn spawn(base: &Config, api_url: &str) -> Self {
        let mut config = base.clone();
        config.frontend.listen = "127.0.0.1:0".into();
        config.frontend.api_url = api_url.to_owned();
        config.frontend.site_root = site_root();
        let frontend = darkroom_frontend::server::Frontend::build(config.into()).await.expect("the frontend builds");
        let url = format!("http://{}", frontend.local_addr());
        let server = tokio::spawn(async move {
            frontend.run_until(std::future::pending()).await.expect("frontend runs");
        });
        Self { url, server }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Headless Chromium behind its own chromedriver.
pub struct Browser {
    pub client: Client,
    driver: Child,
    shots: PathBuf,
}

impl Browser {
    pub async fn start(test: &str) -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs: install chromium and chromium-driver with scripts/setup.sh");
        let profile = tempfile::tempdir().expect("profile dir").keep();
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let caps = caps.as_object().cloned().expect("capabilities are a JSON object");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("cannot start Chromium through chromedriver at {url}: {e}"),
            }
        };
        Self { client, driver, shots: output_dir("screenshots").join(test) }
    }

    /// Saves a PNG of the window as `<target>/test-output/screenshots/<test>/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        std::fs::create_dir_all(&self.shots).expect("screenshot folder");
        let png = self.client.screenshot().await.expect("screenshot");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// Polls `check` (a JavaScript expression returning a boolean) until true, for up to `secs`.
    pub async fn wait_until(&self, what: &str, check: &str, secs: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let value = self.client.execute(&format!("return !!({check});"), vec![]).await;
            if matches!(value, Ok(serde_json::Value::Bool(true))) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = self.screenshot(&format!("timeout-{}", what.replace(' ', "-"))).await;
                panic!("{what}: not true after {secs} s ({check}); last result {value:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Evaluates a JavaScript expression.
    pub async fn eval(&self, expr: &str) -> serde_json::Value {
        self.client.execute(&format!("return ({expr});"), vec![]).await.expect("script runs")
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
