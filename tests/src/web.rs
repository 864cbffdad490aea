//! The web pages for tests: the frontend server spawned in-process against a [`crate::TestApp`],
//! and a headless Chromium driven through chromedriver (WebDriver) for the browser tests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use darkroom_core::config::Config;
use fantoccini::{Client, ClientBuilder};

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
        Self::spawn_configured(base, api_url, |_| {}).await
    }

    /// [`WebServer::spawn`] with `tweak` applied to the configuration (the live feed's caps).
    pub async fn spawn_configured(base: &Config, api_url: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = base.clone();
        config.frontend.listen = "127.0.0.1:0".into();
        config.frontend.api_url = api_url.to_owned();
        config.frontend.site_root = site_root();
        tweak(&mut config);
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

    /// Signs in with `token` as a browser without scripts does: opens the sign-in page (which
    /// sets the CSRF cookie and renders the same token in the form), posts the form with both,
    /// keeps the session cookie the answer sets, and reads the session's CSRF token from the
    /// sign-out form of the page it lands on. Panics when any step fails.
    pub async fn sign_in(&self, token: &str) -> Visit {
        let outcome = self.try_sign_in(token).await;
        let (status, set_cookie) = (outcome.status, outcome.set_cookie.clone());
        outcome.visit.unwrap_or_else(|| panic!("signing in failed ({status}): no session cookie in {set_cookie:?}"))
    }

    /// The sign-in form posted as [`WebServer::sign_in`] does, whatever the answer.
    pub async fn try_sign_in(&self, token: &str) -> SignInOutcome {
        let http = no_redirects();
        let form_page = http.get(self.url("/sign-in")).send().await.expect("sign-in page");
        let csrf_cookie = cookie_pairs(form_page.headers()).into_iter().find(|c| c.starts_with("darkroom_csrf="));
        let html = form_page.text().await.expect("sign-in page body");
        let csrf = csrf_field(&html).unwrap_or_else(|| panic!("no CSRF field on the sign-in form:\n{html}"));
        let mut post = http
            .post(self.url("/fn/sign-in"))
            .header("accept", "text/html")
            .header("referer", self.url("/sign-in"))
            .form(&[("token", token), ("csrf", csrf.as_str())]);
        if let Some(c) = &csrf_cookie {
            post = post.header("cookie", c);
        }
        let answer = post.send().await.expect("sign-in post");
        let status = answer.status();
        let location = answer.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
        let set_cookie: Vec<String> =
            answer.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok().map(str::to_owned)).collect();
        let session = cookie_pairs(answer.headers())
            .into_iter()
            .find(|c| c.starts_with("darkroom_session=") && c.len() > "darkroom_session=".len());
        let visit = match session {
            Some(cookie) => {
                let (_, html) = self.get("/", Some(&cookie)).await;
                let csrf = csrf_field(&html).unwrap_or_else(|| panic!("no sign-out form with a CSRF field:\n{html}"));
                Some(Visit { cookie, csrf })
            }
            None => None,
        };
        SignInOutcome { status, location, set_cookie, visit }
    }

    /// GETs a page, with `cookie` (`name=value`) as the Cookie header if given.
    pub async fn get(&self, path: &str, cookie: Option<&str>) -> (reqwest::StatusCode, String) {
        let mut req = crate::http_client().build().expect("an HTTP client").get(self.url(path));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let resp = req.send().await.expect("page request");
        (resp.status(), resp.text().await.expect("page body"))
    }
}

/// A signed-in visitor as a browser keeps them: the session cookie and their forms' CSRF token.
#[derive(Debug, Clone)]
pub struct Visit {
    /// `darkroom_session=<secret>`, as a Cookie header sends it.
    pub cookie: String,
    pub csrf: String,
}

impl Visit {
    /// The session secret the cookie holds.
    pub fn secret(&self) -> &str {
        self.cookie.split_once('=').map_or("", |(_, v)| v)
    }
}

/// What a sign-in post answered.
pub struct SignInOutcome {
    pub status: reqwest::StatusCode,
    pub location: String,
    /// Every Set-Cookie header, whole (attributes included).
    pub set_cookie: Vec<String>,
    /// The session, when the answer set one.
    pub visit: Option<Visit>,
}

/// A client as a browser without scripts: redirects are not followed, so tests see them.
pub fn no_redirects() -> reqwest::Client {
    crate::http_client().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client")
}

/// The `name=value` part of each Set-Cookie header.
pub fn cookie_pairs(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next().map(|p| p.trim().to_owned()))
        .collect()
}

/// The value of the first hidden `csrf` field in a rendered page, as a browser would send it.
pub fn csrf_field(html: &str) -> Option<String> {
    html.split("<input").skip(1).map(|tag| &tag[..tag.find('>').unwrap_or(tag.len())]).find_map(|tag| {
        if !tag.contains("name=\"csrf\"") {
            return None;
        }
        let start = tag.find("value=\"")? + "value=\"".len();
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].to_owned())
    })
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The port in chromedriver's "ChromeDriver was started successfully on port N." (it prints it
/// once listening); the rest of its output is drained so it never blocks on a full pipe.
fn driver_port(stdout: std::process::ChildStdout) -> u16 {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let port = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split("started successfully on port ").nth(1)?.trim_end_matches('.').parse().ok())
        .expect("chromedriver exited before saying which port it listens on");
    std::thread::spawn(move || lines.for_each(drop));
    port
}

/// Headless Chromium behind its own chromedriver.
pub struct Browser {
    pub client: Client,
    driver: Child,
    shots: PathBuf,
}

impl Browser {
    pub async fn start(test: &str) -> Self {
        // Port 0, read back from what chromedriver prints: a port picked beforehand can be
        // handed to another listener's bind(0) before chromedriver binds it.
        let mut driver = Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs: install chromium and chromium-driver with scripts/setup.sh");
        let stdout = driver.stdout.take().expect("chromedriver's stdout is piped");
        let port = tokio::task::spawn_blocking(move || driver_port(stdout)).await.expect("port reader");
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
