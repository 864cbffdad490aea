//! The platform's edges under abuse: rate limits per address and per token, slow clients,
//! concurrent uploads. Clients on other loopback addresses (127.0.0.x) stand for other
//! machines.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use darkroom_core::config::RateLimit;
use darkroom_tests::web::WebServer;
use darkroom_tests::{Backend, TestApp, fixtures};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client whose connections come from `address` (any 127.0.0.0/8 address reaches the app).
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(address.parse::<IpAddr>().unwrap()).build().expect("client")
}

/// Sends `body` as JSON from `client` and returns status, `Retry-After` and the parsed body.
async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Option<u64>, Value) {
    let mut req = client.post(app.url(path)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request sent");
    let retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().expect("whole seconds"));
    (resp.status(), retry_after, resp.json().await.unwrap_or(Value::Null))
}

async fn register(app: &TestApp, client: &reqwest::Client, name: &str) -> (StatusCode, Option<u64>, Value) {
    post(app, client, "/api/v1/participants", None, json!({ "name": name })).await
}

/// A refusal of the limits: 429 in the API's error shape, saying whose limit and when to retry.
fn assert_limited(answer: &(StatusCode, Option<u64>, Value), whose: &str, period_secs: u64) {
    let (status, retry_after, body) = answer;
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(whose) && message.contains("retry in"), "{message}");
    let secs = retry_after.expect("a Retry-After header");
    assert!((1..=period_secs + 1).contains(&secs), "Retry-After {secs} for a bucket refilled every {period_secs} s");
    assert!(body["error"]["retry_at"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_and_submits_are_rate_limited_per_address_and_per_token() {
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| {
        c.submissions.rate_limit_per_address = RateLimit { burst: 4, per_minute: 1 };
        // Each token joins (one request) before its two submits.
        c.submissions.rate_limit_per_token = RateLimit { burst: 3, per_minute: 1 };
    })
    .await;
    let slug = app.create_challenge("limited", |s| s["quotas"] = json!({})).await;

    // Registration: a burst from one address, then 429; another address is not affected.
    let first = client_from("127.0.0.2");
    let mut tokens = Vec::new();
    for i in 0..4 {
        let (status, _, body) = register(&app, &first, &format!("First {i}")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        tokens.push(body["token"].as_str().unwrap().to_owned());
    }
    assert_limited(&register(&app, &first, "First 5").await, "from your address", 60);
    let second = client_from("127.0.0.3");
    let (status, _, body) = register(&app, &second, "Second").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Submits: one token's burst from several addresses, then 429 for that token only. The
    // submits name an image the handler refuses (no registry is asked): the limiter counts
    // every request it lets through, whatever the handler answers.
    let submit = format!("/api/v1/challenges/{slug}/submissions");
    let image = json!({ "image": "Not A Name!" });
    let (a, b) = (&tokens[0], &tokens[1]);
    let joiner = client_from("127.0.0.9");
    for token in [a, b] {
        let joined = post(
            &app,
            &joiner,
            &format!("/api/v1/challenges/{slug}/join"),
            Some(token),
            json!({ "accept_rules": true }),
        )
        .await;
        assert_eq!(joined.0, StatusCode::OK, "{}", joined.2);
    }
    for client in [client_from("127.0.0.4"), client_from("127.0.0.5")] {
        let (status, _, body) = post(&app, &client, &submit, Some(a), image.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let third = client_from("127.0.0.6");
    assert_limited(&post(&app, &third, &submit, Some(a), image.clone()).await, "with your token", 60);
    // The same address with another token is let through to the handler.
    let (status, _, body) = post(&app, &third, &submit, Some(b), image.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // The upload route counts against the same token bucket, before reading any body.
    let upload = format!("/api/v1/challenges/{slug}/submissions/tarball");
    let resp = third.post(app.url(&upload)).bearer_auth(a).body(vec![0u8; 1024]).send().await.expect("sent");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // No token on a limited route: 401 as the handler says it, not a limiter's error.
    let (status, _, body) = post(&app, &third, &submit, None, image.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Bearer"), "{body}");

    // The address limit covers submits too: the first address spent its burst registering.
    assert_limited(&post(&app, &first, &submit, Some(b), image).await, "from your address", 60);
    // Routes without a limit are not counted.
    let (status, body) = app.call(Method::GET, "/api/v1/challenges", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resp = first.get(app.url("/api/v1/challenges")).send().await.expect("sent");
    assert_eq!(resp.status(), StatusCode::OK);
}

/// Connects to the server at `base` (`http://host:port`), writes `sent` and then nothing more;
/// returns what the server wrote before it closed the connection, and when it closed. Panics
/// if it is still open after `limit`.
async fn stall_after(base: &str, sent: &[u8], limit: Duration) -> (String, Duration) {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).await.expect("connect");
    stream.write_all(sent).await.expect("write");
    let started = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the connection is still open after {limit:?}; the server sent {received:?}");
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

/// A request line and headers cut off half way, as a slowloris client sends them.
const HALF_A_REQUEST: &[u8] = b"GET /api/v1/challenges HTTP/1.1\r\nHost: darkroom\r\nAccept: appl";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_stalled_bodies_are_cut_off_on_both_servers() {
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| {
        c.http.header_read_timeout_seconds = 1;
        c.http.body_idle_timeout_seconds = 1;
    })
    .await;
    let pages = WebServer::spawn(&app.config, &app.addr).await;
    for (server, base) in [("API", &app.addr), ("pages", &pages.url)] {
        // Half a request, then silence: closed after the header timeout, not before.
        let (_, after) = stall_after(base, HALF_A_REQUEST, Duration::from_secs(5)).await;
        assert!(after >= Duration::from_millis(900), "{server}: closed after {after:?}, before the timeout");
        // A connection that sends nothing at all is closed the same way.
        let (sent, after) = stall_after(base, b"", Duration::from_secs(5)).await;
        assert!(after >= Duration::from_millis(900), "{server}: closed after {after:?}: {sent}");
    }
    // A complete request on a healthy connection is still answered.
    let (status, body) = app.call(Method::GET, "/api/v1/challenges", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A body that stops coming: the request fails with an error saying so, on the JSON routes
    // and on the upload, and the upload leaves no partial file behind.
    let slug = app.create_challenge("stalled", |s| s["quotas"] = json!({})).await;
    let token = app.register("Staller").await;
    app.join(&slug, &token).await;
    let json_head = "POST /api/v1/participants HTTP/1.1\r\nHost: darkroom\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":";
    let (answer, _) = stall_after(&app.addr, json_head.as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("unreadable_body") && answer.contains("timeout"), "{answer}");
    let upload_head = format!(
        "POST /api/v1/challenges/{slug}/submissions/tarball HTTP/1.1\r\nHost: darkroom\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-tar\r\nContent-Length: 1000000\r\n\r\n"
    );
    let mut sent = upload_head.into_bytes();
    sent.extend_from_slice(&[0u8; 4096]);
    let (answer, _) = stall_after(&app.addr, &sent, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("upload_interrupted") && answer.contains("timeout"), "{answer}");
    let uploads = app.config.submissions.data_dir.join("uploads");
    let left: Vec<_> =
        std::fs::read_dir(&uploads).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "the stalled upload left {left:?} in {}", uploads.display());
}

/// The files in the app's uploads folder whose names start with `prefix`.
fn uploads_named(app: &TestApp, prefix: &str) -> Vec<String> {
    let dir = app.config.submissions.data_dir.join("uploads");
    let names = std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()));
    names.map(|n| n.filter(|n| n.starts_with(prefix)).collect()).unwrap_or_default()
}

/// Starts an upload as `token` and keeps it going (a chunk now and then, never finishing)
/// until the returned task is aborted, which drops the connection.
async fn upload_in_progress(app: &TestApp, slug: &str, token: &str) -> tokio::task::JoinHandle<()> {
    let mut stream = TcpStream::connect(app.addr.trim_start_matches("http://")).await.expect("connect");
    let head = format!(
        "POST /api/v1/challenges/{slug}/submissions/tarball HTTP/1.1\r\nHost: darkroom\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-tar\r\nContent-Length: 1000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    tokio::spawn(async move {
        loop {
            if stream.write_all(&[0u8; 1024]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// Waits up to 5 s for `check` to hold.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_in_progress_are_capped_per_participant_and_leave_nothing_when_they_fail() {
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| c.submissions.max_concurrent_uploads = 2).await;
    let slug = app.create_challenge("uploads", |s| s["quotas"] = json!({})).await;
    let (ada, bob) = (app.register("Ada").await, app.register("Bob").await);
    for token in [&ada, &bob] {
        app.join(&slug, token).await;
    }

    let held = [upload_in_progress(&app, &slug, &ada).await, upload_in_progress(&app, &slug, &ada).await];
    eventually("two partial uploads on disk", || uploads_named(&app, ".upload-").len() == 2).await;
    // A third from the same participant: refused before a byte of it is written.
    let (status, body) = app.upload(&slug, &ada, "application/x-tar", fixtures::image_archive()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "too_many_uploads", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("when one of them has finished"), "{body}");
    assert_eq!(uploads_named(&app, "").len(), 2, "the refused upload wrote nothing");
    // Another participant is not held up by the first one's uploads.
    let (status, body) = app.upload(&slug, &bob, "application/x-tar", fixtures::image_archive()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(uploads_named(&app, "sha256-").len(), 1);

    // Uploads that break off (the client hangs up) leave no partial file and free their slots.
    for upload in held {
        upload.abort();
    }
    eventually("no partial upload left", || uploads_named(&app, ".upload-").is_empty()).await;
    // An upload that fails its checks leaves nothing either.
    let (status, body) = app.upload(&slug, &ada, "application/x-tar", b"not an archive".repeat(100)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(uploads_named(&app, "").len(), 1, "only Bob's stored archive: {:?}", uploads_named(&app, ""));
    let (status, body) = app.upload(&slug, &ada, "application/x-tar", fixtures::image_archive_holding(b"ada")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "the slots are free again: {body}");
}
