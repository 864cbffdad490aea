//! A thin HTTP client for the submissions API that turns error answers (`darkroom_api`'s
//! `ErrorBody`) into one readable line. Answers come back as the server's JSON, which `--json`
//! prints as it is; [`read`] turns it into the API's types for the tables.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use darkroom_api::ErrorBody;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub struct Api {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl Api {
    pub fn new(server: &str, token: Option<String>) -> anyhow::Result<Self> {
        let base = server.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--server '{server}' must start with http:// or https://");
        }
        Ok(Self { base, http: reqwest::Client::builder().build()?, token })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut r = self.http.request(method, format!("{}/api/v1{path}", self.base));
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        r
    }

    pub fn needs_token(&self, what: &str) -> anyhow::Result<()> {
        if self.token.is_none() {
            bail!(
                "{what} needs a token: pass --token or set DARKROOM_TOKEN (DARKROOM_ADMIN_TOKEN for organizer commands)"
            );
        }
        Ok(())
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.request(Method::GET, path)).await
    }

    /// A GET with query parameters, encoded from one of the API's query types.
    pub async fn get_with(&self, path: &str, query: &impl Serialize) -> anyhow::Result<Value> {
        self.send(self.request(Method::GET, path).query(query)).await
    }

    pub async fn send_json(&self, method: Method, path: &str, body: &impl Serialize) -> anyhow::Result<Value> {
        self.send(self.request(method, path).json(body)).await
    }

    /// Streams a file as the request body with a progress bar on stderr; `query` carries what
    /// the body cannot.
    pub async fn upload(&self, path: &str, query: &impl Serialize, file: &Path) -> anyhow::Result<Value> {
        let handle = tokio::fs::File::open(file).await.with_context(|| format!("cannot open '{}'", file.display()))?;
        let len = handle.metadata().await?.len();
        let bar = ProgressBar::new(len).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message("uploading");
        let progress = bar.clone();
        let stream = tokio_util::io::ReaderStream::new(handle).inspect(move |chunk| {
            if let Ok(c) = chunk {
                progress.inc(c.len() as u64);
            }
        });
        let req = self
            .request(Method::POST, path)
            .query(query)
            .header(reqwest::header::CONTENT_TYPE, "application/x-tar")
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(reqwest::Body::wrap_stream(stream));
        let result = self.send(req).await;
        bar.finish_and_clear();
        result
    }

    async fn send(&self, req: RequestBuilder) -> anyhow::Result<Value> {
        let response = req.send().await.map_err(|e| {
            anyhow!(
                "cannot reach the Darkroom server at {}: {}; is it running? (--server / DARKROOM_SERVER)",
                self.base,
                root(&e)
            )
        })?;
        decode(response).await
    }
}

fn root(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

async fn decode(response: Response) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status.is_success() {
        return Ok(body);
    }
    let message = match serde_json::from_value::<ErrorBody>(body.clone()) {
        Ok(e) => e.error.message,
        Err(_) => body.to_string(),
    };
    match status {
        StatusCode::TOO_MANY_REQUESTS => bail!("{message}"),
        _ => bail!("{message} (HTTP {})", status.as_u16()),
    }
}

/// An answer read as the API type it should be; one that is not is the server's fault (or a
/// version mismatch), said in one line.
pub fn read<T: DeserializeOwned>(answer: &Value) -> anyhow::Result<T> {
    T::deserialize(answer)
        .map_err(|e| anyhow!("the server answered something this darkroom cannot read ({e}): {answer}"))
}
