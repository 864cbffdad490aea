//! The organizer's webhooks against a real NATS, a real database and a local receiver (axum
//! on 127.0.0.1:0): a delivery whose receiver fails twice arrives on the third attempt,
//! signed with the secret shown at creation, and is logged so; a redelivered event is not sent
//! again; a receiver that always fails ends failed with its last status while another webhook
//! is served, and the organizer's page shows both logs; only the organizer registers, and
//! private targets are refused by default; the webhooks consumer of earlier versions is read to
//! the end (what it still held is told) and deleted when the service starts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use chrono::Utc;
use darkroom_api::{SubmissionId, WebhookPayload};
use darkroom_core::events::{Event, RunStarted, ScoreRecorded, SubmissionCancelled};
use darkroom_tests::registry::publish as published;
use darkroom_tests::web::WebServer;
use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp, fixtures, on_both_backends};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

on_both_backends!(a_delivery_failing_twice_arrives_signed_on_the_third_attempt);

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }
}

/// A webhook receiver: answers `fail_with` to the first `failures` POSTs of each delivery id,
/// then 200, and keeps every POST.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(failures: usize, fail_with: u16) -> Self {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (got2, seen2) = (got.clone(), seen.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (got, seen) = (got2.clone(), seen2.clone());
                async move {
                    let id = headers.get("x-darkroom-delivery").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let n = {
                        let mut seen = seen.lock().unwrap();
                        let n = seen.entry(id).or_default();
                        *n += 1;
                        *n
                    };
                    let status = if n <= failures { fail_with } else { 200 };
                    got.lock().unwrap().push(Received { headers, body, answered: status });
                    (AxumStatus::from_u16(status).unwrap(), "receiver says hello")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, got, _server: server }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// An app whose webhooks may reach this machine and retry after 50 ms.
async fn app(backend: Backend, max_attempts: u32) -> TestApp {
    TestApp::spawn_configured(backend, |c| quick_hooks(c, max_attempts)).await
}

/// Local receivers allowed, and retries quick enough for a test.
fn quick_hooks(c: &mut darkroom_core::config::Config, max_attempts: u32) {
    c.webhooks.allow_private_targets = true;
    c.webhooks.retry_initial_ms = 50;
    c.webhooks.retry_max_seconds = 1;
    c.webhooks.timeout_seconds = 5;
    c.webhooks.max_attempts = max_attempts;
}

async fn add_hook(app: &TestApp, slug: &str, url: &str, events: Option<Value>) -> Value {
    let mut body = json!({ "url": url });
    if let Some(e) = events {
        body["events"] = e;
    }
    let (status, created) =
        app.call(Method::POST, &format!("/api/v1/challenges/{slug}/webhooks"), Some(ADMIN_TOKEN), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn deliveries(app: &TestApp, slug: &str, hook: &str) -> Vec<Value> {
    let path = format!("/api/v1/challenges/{slug}/webhooks/{hook}/deliveries?limit=100");
    let (status, body) = app.call(Method::GET, &path, Some(ADMIN_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

/// Polls the delivery log until `done` holds of it, for at most 20 s.
async fn log_until(app: &TestApp, slug: &str, hook: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let log = deliveries(app, slug, hook).await;
        if done(log.as_slice()) {
            return log;
        }
        assert!(tokio::time::Instant::now() < deadline, "the delivery log never showed {what}: {log:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Publishes `event` under a message id of its own, so JetStream's duplicate window does not
/// drop it: to consumers it is a redelivery of the same event id.
async fn republish<E: Event>(app: &TestApp, event: &E) {
    let js = async_nats::jetstream::new(async_nats::connect(app.nats.url()).await.unwrap());
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", format!("again-{}", event.event_id()).as_str());
    js.publish_with_headers(E::SUBJECT, headers, serde_json::to_vec(event).unwrap().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

async fn a_delivery_failing_twice_arrives_signed_on_the_third_attempt(backend: Backend) {
    let app = app(backend, 5).await;
    let slug = app.create_challenge("hooked", |_| {}).await;
    let receiver = Receiver::start(2, 500).await;
    let created = add_hook(&app, &slug, &receiver.url, None).await;
    let (hook, secret) = (created["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned());
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["events"], json!(["submission", "board", "announcement"]));

    // Listed without the secret, however often.
    let (_, list) =
        app.call(Method::GET, &format!("/api/v1/challenges/{slug}/webhooks"), Some(ADMIN_TOKEN), None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert!(!list.to_string().contains(&secret) && list[0].get("secret").is_none(), "{list}");

    let token = app.register("Ada").await;
    let (status, sub) = app.submit(&slug, &token, &published("m:1").await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sub}");
    let id: SubmissionId = sub["id"].as_str().unwrap().parse().unwrap();
    // QUEUED is recorded with the submission, in the same transaction: in the log as soon as
    // the submission is accepted, before any event reaches NATS.
    let queued = deliveries(&app, &slug, &hook).await;
    assert_eq!(queued.len(), 1, "{queued:#?}");
    assert_eq!(queued[0]["event"], "submission", "{queued:#?}");
    app.publish(&fixtures::run_started(id, 1)).await;
    // Published straight after RUNNING (no EVALUATING): the state consumer holds it back until
    // the run's end arrives, but webhooks tell events as published (see `webhooks::record`).
    let score =
        ScoreRecorded { metrics: [("accuracy".to_owned(), 0.75)].into(), ..fixtures::score_recorded(id, &slug) };
    app.publish(&score).await;

    // QUEUED, RUNNING, COMPLETE and the board: each delivered on its third attempt.
    let log =
        log_until(&app, &slug, &hook, "4 delivered", |l| l.len() == 4 && l.iter().all(|d| d["state"] == "delivered"))
            .await;
    for d in &log {
        assert_eq!(d["attempts"], 3, "{d}");
        assert_eq!(d["last_status"], 200, "{d}");
        assert!(d.get("last_error").is_none() && d.get("next_attempt_at").is_none(), "{d}");
    }
    let events: Vec<&str> = log.iter().map(|d| d["event"].as_str().unwrap()).collect();
    assert_eq!(events.iter().filter(|e| **e == "board").count(), 1, "{events:?}");

    let got = receiver.received();
    assert_eq!(got.len(), 12, "three POSTs per delivery: {got:#?}");
    let delivered: Vec<&Received> = got.iter().filter(|r| r.answered == 200).collect();
    assert_eq!(delivered.len(), 4);
    let mut states = Vec::new();
    for r in &delivered {
        let timestamp = r.header("x-darkroom-timestamp");
        let claimed = r.header("x-darkroom-signature");
        assert_eq!(claimed, signature(&secret, &timestamp, &r.body), "the signature verifies with the secret");
        let age = Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
        assert!((0..60).contains(&age), "a fresh timestamp: {timestamp}");
        // The signature covers the body: one changed byte and it no longer verifies.
        let mut tampered = r.body.to_vec();
        let at = tampered.iter().position(|b| *b == b'"').unwrap();
        tampered[at] = b'\'';
        assert_ne!(claimed, signature(&secret, &timestamp, &tampered));
        assert_ne!(claimed, signature("whsec_guess", &timestamp, &r.body));

        let payload: WebhookPayload = serde_json::from_slice(&r.body).expect("the documented payload");
        assert_eq!(r.header("x-darkroom-delivery"), payload.id);
        assert_eq!(r.header("x-darkroom-event"), payload.event.as_str());
        assert_eq!(payload.challenge, slug);
        assert!(log.iter().any(|d| d["id"] == payload.id.as_str()), "{payload:?}");
        // Every attempt of a delivery carries the same id and body.
        let attempts: Vec<&Received> = got.iter().filter(|g| g.header("x-darkroom-delivery") == payload.id).collect();
        assert_eq!(attempts.len(), 3);
        assert!(attempts.iter().all(|a| a.body == r.body));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        match body["event"].as_str().unwrap() {
            "board" => {
                assert_eq!(body["data"]["metrics"], json!({ "accuracy": 0.75 }), "{body}");
                assert_eq!(body["data"]["submission_id"], id.to_string());
            }
            _ => states.push(body["data"]["state"].as_str().unwrap().to_owned()),
        }
    }
    states.sort();
    assert_eq!(states, ["COMPLETE", "QUEUED", "RUNNING"]);

    // The same event delivered again (a lost ack, a restart): recorded once, never POSTed again.
    republish(&app, &score).await;
    let marker = RunStarted { event_id: "marker".into(), ..fixtures::run_started(id, 2) };
    app.publish(&marker).await;
    // The consumer reads in stream order: once the later marker is logged, the repeat was seen.
    log_until(&app, &slug, &hook, "the marker", |l| l.iter().any(|d| d["event_id"] == "marker")).await;
    let log = deliveries(&app, &slug, &hook).await;
    assert_eq!(log.len(), 5, "{log:#?}");
    assert_eq!(log.iter().filter(|d| d["event_id"] == format!("board-{}", score.event_id)).count(), 1);
}

/// An announcement is told to the webhooks that want `announcement` events, signed like every
/// delivery: once when posted, once more for an edit (with its `edited_at`); an edit that changes
/// nothing and a removal tell nothing, and a webhook of submissions only hears none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_is_told_when_posted_and_again_when_edited() {
    let app = app(Backend::Sqlite, 3).await;
    let slug = app.create_challenge("told", |_| {}).await;
    let relay = Receiver::start(0, 500).await;
    let other = Receiver::start(0, 500).await;
    let created = add_hook(&app, &slug, &relay.url, Some(json!(["announcement"]))).await;
    let (hook, secret) = (created["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned());
    let quiet = add_hook(&app, &slug, &other.url, Some(json!(["submission"]))).await["id"].as_str().unwrap().to_owned();

    let path = format!("/api/v1/challenges/{slug}/announcements");
    let post = json!({ "title": "Deadline moved", "body": "To **Friday**." });
    let (s, posted) = app.call(Method::POST, &path, Some(ADMIN_TOKEN), Some(post)).await;
    assert_eq!(s, StatusCode::CREATED, "{posted}");
    let one = format!("{path}/{}", posted["id"].as_str().unwrap());
    log_until(&app, &slug, &hook, "the post delivered", |l| l.len() == 1 && l[0]["state"] == "delivered").await;
    let edit = json!({ "title": "Deadline moved to Friday", "body": "To **Friday**." });
    let (s, edited) = app.call(Method::PUT, &one, Some(ADMIN_TOKEN), Some(edit.clone())).await;
    assert_eq!(s, StatusCode::OK, "{edited}");
    let log = log_until(&app, &slug, &hook, "the edit delivered", |l| {
        l.len() == 2 && l.iter().all(|d| d["state"] == "delivered")
    })
    .await;
    assert!(log.iter().all(|d| d["event"] == "announcement"), "{log:#?}");
    // Unchanged text and a removal tell nothing more.
    app.call(Method::PUT, &one, Some(ADMIN_TOKEN), Some(edit)).await;
    let (s, _) = app.call(Method::DELETE, &one, Some(ADMIN_TOKEN), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(deliveries(&app, &slug, &hook).await.len(), 2);
    assert!(deliveries(&app, &slug, &quiet).await.is_empty() && other.received().is_empty());

    let got = relay.received();
    assert_eq!(got.len(), 2, "{got:#?}");
    let mut seen = Vec::new();
    for r in &got {
        let timestamp = r.header("x-darkroom-timestamp");
        assert_eq!(r.header("x-darkroom-signature"), signature(&secret, &timestamp, &r.body));
        assert_eq!(r.header("x-darkroom-event"), "announcement");
        let payload: WebhookPayload = serde_json::from_slice(&r.body).expect("the documented payload");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!((payload.challenge.as_str(), &body["data"]["body"]), (slug.as_str(), &json!("To **Friday**.")));
        seen.push((body["data"]["title"].clone(), body["data"].get("edited_at").is_some()));
    }
    seen.sort_by_key(|(_, edited)| *edited);
    assert_eq!(seen, [(json!("Deadline moved"), false), (json!("Deadline moved to Friday"), true)]);
}

/// A receiver that always fails: its delivery ends failed after max_attempts with the last
/// status and error, while the healthy webhook of the same challenge was served at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_always_fails_ends_failed_without_holding_up_others() {
    let app = app(Backend::Sqlite, 3).await;
    let slug = app.create_challenge("down", |_| {}).await;
    let down = Receiver::start(usize::MAX, 503).await;
    let up = Receiver::start(0, 500).await;
    let failing =
        add_hook(&app, &slug, &down.url, Some(json!(["submission"]))).await["id"].as_str().unwrap().to_owned();
    let healthy = add_hook(&app, &slug, &up.url, Some(json!(["submission"]))).await["id"].as_str().unwrap().to_owned();
    let token = app.register("Ada").await;
    let (status, sub) = app.submit(&slug, &token, &published("m:1").await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sub}");

    let log =
        log_until(&app, &slug, &failing, "a failed delivery", |l| l.first().is_some_and(|d| d["state"] == "failed"))
            .await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0]["attempts"], 3, "{log:#?}");
    assert_eq!(log[0]["last_status"], 503);
    let error = log[0]["last_error"].as_str().unwrap();
    assert!(error.starts_with("HTTP 503") && error.contains("receiver says hello"), "{error}");
    assert!(log[0].get("next_attempt_at").is_none());
    assert_eq!(down.received().len(), 3, "exactly max_attempts POSTs");

    let served = deliveries(&app, &slug, &healthy).await;
    assert_eq!(served.len(), 1, "{served:#?}");
    assert_eq!((served[0]["state"].as_str(), served[0]["attempts"].as_u64()), (Some("delivered"), Some(1)));
    assert_eq!(up.received().len(), 1);

    // The organizer's page lists both webhooks with their deliveries; a participant gets none.
    let web = WebServer::spawn(&app.config, &app.addr).await;
    let organizer = web.sign_in(ADMIN_TOKEN).await;
    let (status, html) = web.get(&format!("/challenges/{slug}/submissions"), Some(&organizer.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let section = &html[html.find("id=\"webhooks\"").unwrap_or_else(|| panic!("no webhooks section:\n{html}"))..];
    for (hook, url, state) in [(&failing, &down.url, "failed"), (&healthy, &up.url, "delivered")] {
        let article = &section[section.find(&format!("data-webhook=\"{hook}\"")).expect("the webhook's article")..];
        assert!(article.contains(url.as_str()), "{article}");
        assert!(article.contains(&format!("data-state=\"{state}\"")), "{state}: {article}");
    }
    assert!(section.contains("HTTP 503"), "the last answer is shown: {section}");
    let participant = web.sign_in(&token).await;
    let (_, html) = web.get(&format!("/challenges/{slug}/submissions"), Some(&participant.cookie)).await;
    assert!(!html.contains(&down.url) && !html.contains("id=\"webhooks\""), "{html}");

    let text = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    for outcome in ["delivered", "retrying", "failed"] {
        let line = format!("darkroom_webhook_deliveries_total{{outcome=\"{outcome}\"}}");
        assert!(text.contains(&line), "{line} missing from:\n{text}");
    }
}

/// Only the organizer registers, lists and removes; URLs are checked with clear errors; private
/// targets are refused by default; a challenge's webhooks are capped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_the_organizers_and_refuse_private_and_bad_targets() {
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| c.webhooks.max_per_challenge = 2).await;
    let slug = app.create_challenge("guarded", |_| {}).await;
    let path = format!("/api/v1/challenges/{slug}/webhooks");
    let token = app.register("Mallory").await;
    let body = json!({ "url": "https://hooks.example.org/darkroom" });

    let (status, answer) = app.call(Method::POST, &path, Some(&token), Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("organizer"), "{answer}");
    let (status, _) = app.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answer) = app.call(Method::POST, &path, None, Some(body.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");

    let refusals = [
        ("http://127.0.0.1:9/hook", "127.0.0.1"),
        ("http://[::1]:9/hook", "::1"),
        ("http://localhost:9/hook", "this machine"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("ftp://hooks.example.org/x", "'ftp' scheme"),
        ("https://user:pw@hooks.example.org/x", "user name or password"),
        ("hooks.example.org/x", "is not a URL"),
    ];
    for (url, says) in refusals {
        let (status, answer) = app.call(Method::POST, &path, Some(ADMIN_TOKEN), Some(json!({ "url": url }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {answer}");
        assert_eq!(answer["error"]["details"][0]["field"], "url", "{url}: {answer}");
        assert!(answer.to_string().contains(says), "{url}: {answer}");
    }
    let private = app.call(Method::POST, &path, Some(ADMIN_TOKEN), Some(json!({ "url": "http://10.0.0.1/" }))).await.1;
    assert!(private.to_string().contains("webhooks.allow_private_targets"), "the fix is named: {private}");
    let long = format!("https://hooks.example.org/{}", "a".repeat(2100));
    let (status, answer) = app.call(Method::POST, &path, Some(ADMIN_TOKEN), Some(json!({ "url": long }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, answer) = app
        .call(Method::POST, &path, Some(ADMIN_TOKEN), Some(json!({ "url": "https://a.example.org/", "events": [] })))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, answer) = app
        .call(
            Method::POST,
            &path,
            Some(ADMIN_TOKEN),
            Some(json!({ "url": "https://a.example.org/", "events": ["scores"] })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) =
        app.call(Method::POST, "/api/v1/challenges/nope/webhooks", Some(ADMIN_TOKEN), Some(body.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");

    // Two fit; the third is refused naming the cap.
    let first = app.call(Method::POST, &path, Some(ADMIN_TOKEN), Some(body.clone())).await.1;
    let boards = json!({ "url": "https://hooks.example.org/boards", "events": ["board", "board"] });
    let second = app.call(Method::POST, &path, Some(ADMIN_TOKEN), Some(boards)).await.1;
    assert_eq!(second["events"], json!(["board"]), "{second}");
    let (status, answer) = app.call(Method::POST, &path, Some(ADMIN_TOKEN), Some(body.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("max_per_challenge"), "{answer}");

    // Removing: the organizer's only; then gone, and its log with it.
    let one = format!("{path}/{}", first["id"].as_str().unwrap());
    let (status, _) = app.call(Method::DELETE, &one, Some(&token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call(Method::GET, &format!("{one}/deliveries"), Some(&token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call(Method::DELETE, &one, Some(ADMIN_TOKEN), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, answer) = app.call(Method::GET, &format!("{one}/deliveries"), Some(ADMIN_TOKEN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, _) = app.call(Method::DELETE, &one, Some(ADMIN_TOKEN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.call(Method::GET, &path, Some(ADMIN_TOKEN), None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let other = format!("{path}/{}/deliveries?limit=0", second["id"].as_str().unwrap());
    let (status, answer) = app.call(Method::GET, &other, Some(ADMIN_TOKEN), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
}

/// Earlier versions recorded deliveries from a consumer of their own. Left on the stream it
/// would hold every event it was sent and report a growing lag: the service deletes it at
/// start-up, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retired_webhooks_consumer_is_deleted_at_start_up() {
    let nats = darkroom_tests::NatsServer::start();
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let config = darkroom_core::config::NatsConfig { url: nats.url(), ..Default::default() };
    let stream = darkroom_core::bus::ensure_stream(&js, &config).await.unwrap();
    let retired = darkroom_submissions::webhooks::record::RETIRED_DURABLE;
    for name in [retired, "someone-elses"] {
        darkroom_core::bus::durable_consumer(&stream, name, &[RunStarted::SUBJECT], Duration::from_secs(30), None)
            .await
            .unwrap();
    }
    assert!(stream.consumer_info(retired).await.is_ok(), "the old consumer is there before the start");

    let app = TestApp::spawn_with(Backend::Sqlite, nats, None, |_| {}).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while stream.consumer_info(retired).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "the retired consumer is still there after 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stream.consumer_info("someone-elses").await.is_ok(), "only the retired consumer is deleted");
    let state = darkroom_submissions::consumer::DURABLE_NAME;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while stream.consumer_info(state).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the state consumer never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(app);
}

/// An upgrade loses no notice: what the retired consumer still held when this version starts is
/// recorded before it is deleted. Here a cancellation an older version published and its
/// webhooks consumer never read (this version records its own cancellations in the transaction,
/// and its state consumer does not read them, so only the hand-over can tell this one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_retired_consumer_still_held_is_told_at_start_up() {
    let app = app(Backend::Sqlite, 3).await;
    let slug = app.create_challenge("upgraded", |_| {}).await;
    let receiver = Receiver::start(0, 500).await;
    let hook =
        add_hook(&app, &slug, &receiver.url, Some(json!(["submission"]))).await["id"].as_str().unwrap().to_owned();
    let token = app.register("Ada").await;
    let (status, sub) = app.submit(&slug, &token, &published("m:1").await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sub}");
    let id: SubmissionId = sub["id"].as_str().unwrap().parse().unwrap();
    log_until(&app, &slug, &hook, "QUEUED delivered", |l| l.len() == 1 && l[0]["state"] == "delivered").await;
    let (nats, parked) = app.shut_down().await;

    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let config = darkroom_core::config::NatsConfig { url: nats.url(), ..Default::default() };
    let stream = darkroom_core::bus::ensure_stream(&js, &config).await.unwrap();
    let retired = darkroom_submissions::webhooks::record::RETIRED_DURABLE;
    darkroom_core::bus::durable_consumer(
        &stream,
        retired,
        &[SubmissionCancelled::SUBJECT],
        Duration::from_secs(30),
        None,
    )
    .await
    .unwrap();
    let cancelled =
        SubmissionCancelled { event_id: SubmissionCancelled::event_id_for(id), submission_id: id, at: Utc::now() };
    js.publish(SubmissionCancelled::SUBJECT, serde_json::to_vec(&cancelled).unwrap().into())
        .await
        .unwrap()
        .await
        .unwrap();

    let app = TestApp::spawn_with(Backend::Sqlite, nats, Some(parked), |c| quick_hooks(c, 3)).await;
    let log = log_until(&app, &slug, &hook, "the cancellation delivered", |l| {
        l.len() == 2 && l.iter().all(|d| d["state"] == "delivered")
    })
    .await;
    assert!(log.iter().any(|d| d["event_id"] == cancelled.event_id.as_str()), "{log:#?}");
    let told: Vec<WebhookPayload> =
        receiver.received().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert!(
        told.iter().any(|p| serde_json::to_value(&p.data).unwrap()["state"] == "CANCELLED"),
        "the receiver was told of the cancellation: {told:#?}"
    );
    assert!(stream.consumer_info(retired).await.is_err(), "the retired consumer is deleted once it is read");
}
