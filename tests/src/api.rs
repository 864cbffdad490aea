//! Calls to a running submissions API, wherever it runs: in-process ([`crate::TestApp`]) or in
//! a container (the Compose test). Answers come back as raw JSON, which the tests check as the
//! wire format; where a helper itself reads a field, it reads the answer as `darkroom_api`'s
//! type.

use std::time::Duration;

use darkroom_api::ViewedSubmission;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

/// Sends JSON (or nothing) to `url` and returns the status and the parsed body (the raw text
/// when it is not JSON).
pub async fn call(
    http: &reqwest::Client,
    method: Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status();
    let text = resp.text().await.expect("body read");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Polls a submission on the API at `base` until it is COMPLETE, FAILED or CANCELLED, for up
/// to `secs`.
pub async fn wait_finished(http: &reqwest::Client, base: &str, id: &str, token: &str, secs: u64) -> Value {
    poll_finished(http, base, id, token, secs)
        .await
        .unwrap_or_else(|body| panic!("submission not finished after {secs} s: {body}"))
}

/// [`wait_finished`], handing the last view back as `Err` when time is up, so a caller can say
/// more before it fails (the Compose test prints the stack's logs).
pub async fn poll_finished(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    token: &str,
    secs: u64,
) -> Result<Value, Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let (_, body) = call(http, Method::GET, format!("{base}/api/v1/submissions/{id}"), Some(token), None).await;
        let finished = ViewedSubmission::deserialize(&body).is_ok_and(|s| s.submission().state.is_terminal());
        if finished {
            return Ok(body);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
