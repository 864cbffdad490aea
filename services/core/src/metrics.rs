//! Prometheus metrics (issue 18): every metric Darkroom records is named and described here,
//! and recorded through the functions below, so a name is spelled once. One recorder per
//! process (installed on first use; the integration tests run several services in one process
//! and share it); each service serves [`render`] at `GET /metrics`.
//!
//! | metric | type | labels | recorded by |
//! |---|---|---|---|
//! | `darkroom_http_requests_total`, `darkroom_http_request_duration_seconds` | counter, histogram | `route`, `method`, `status` | the API and the pages ([`track_http`]) |
//! | `darkroom_submissions` | gauge | `challenge`, `state` | the submissions service, at each scrape |
//! | `darkroom_queue_depth`, `darkroom_queue_oldest_age_seconds` | gauge | — | the submissions service, at each scrape |
//! | `darkroom_retries_total` | counter | — | the submissions service, when it retries an attempt |
//! | `darkroom_run_duration_seconds` | histogram | `outcome` | the runner |
//! | `darkroom_evaluation_duration_seconds` | histogram | `outcome` | the evaluator |
//! | `darkroom_failures_total` | counter | `by`, `kind` | the runner and the evaluator |
//! | `darkroom_consumer_pending` | gauge | `consumer` | each service for its durable consumers, at each scrape |
//! | `darkroom_live_subscribers` | gauge | — | the pages' live feed |
//! | `darkroom_page_render_retries_total` | counter | — | the pages, when a render stalled and was retried |
//! | `darkroom_webhook_deliveries_total` | counter | `outcome` | the submissions service, after each webhook POST ([`webhook_attempt`]) |

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

const HTTP_REQUESTS: &str = "darkroom_http_requests_total";
const HTTP_DURATION: &str = "darkroom_http_request_duration_seconds";
const SUBMISSIONS: &str = "darkroom_submissions";
const QUEUE_DEPTH: &str = "darkroom_queue_depth";
const QUEUE_OLDEST: &str = "darkroom_queue_oldest_age_seconds";
const RETRIES: &str = "darkroom_retries_total";
const RUN_DURATION: &str = "darkroom_run_duration_seconds";
const EVALUATION_DURATION: &str = "darkroom_evaluation_duration_seconds";
const FAILURES: &str = "darkroom_failures_total";
const CONSUMER_PENDING: &str = "darkroom_consumer_pending";
const LIVE_SUBSCRIBERS: &str = "darkroom_live_subscribers";
const PAGE_RENDER_RETRIES: &str = "darkroom_page_render_retries_total";
const WEBHOOK_DELIVERIES: &str = "darkroom_webhook_deliveries_total";
/// Every metric above, for what must cover them all (the Compose profile's dashboard).
pub const NAMES: [&str; 13] = [
    HTTP_REQUESTS,
    HTTP_DURATION,
    SUBMISSIONS,
    QUEUE_DEPTH,
    QUEUE_OLDEST,
    RETRIES,
    RUN_DURATION,
    EVALUATION_DURATION,
    FAILURES,
    CONSUMER_PENDING,
    LIVE_SUBSCRIBERS,
    PAGE_RENDER_RETRIES,
    WEBHOOK_DELIVERIES,
];

/// Buckets of the run and evaluation histograms, in seconds: a few seconds to the hours a
/// training job may take.
const JOB_BUCKETS: &[f64] = &[1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0];
/// Buckets of HTTP latency, in seconds: 1 ms to 10 s (uploads are the slow end).
const HTTP_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Full(HTTP_DURATION.into()), HTTP_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("_duration_seconds".into()),
                    JOB_BUCKETS,
                )
            })
            .expect("the bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder installed first (none is, in Darkroom) would keep ours idle: the
        // page then shows only what is described here.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route, method and status");
    metrics::describe_histogram!(HTTP_DURATION, metrics::Unit::Seconds, "HTTP answer latency");
    metrics::describe_gauge!(SUBMISSIONS, "submissions by challenge and state");
    metrics::describe_gauge!(QUEUE_DEPTH, "submissions waiting to run (QUEUED or PENDING)");
    metrics::describe_gauge!(QUEUE_OLDEST, metrics::Unit::Seconds, "age of the oldest waiting submission");
    metrics::describe_counter!(RETRIES, "attempts retried after a platform failure");
    metrics::describe_histogram!(
        RUN_DURATION,
        metrics::Unit::Seconds,
        "participant runs, claim to outcome (image load included)"
    );
    metrics::describe_histogram!(EVALUATION_DURATION, metrics::Unit::Seconds, "evaluations, data check to verdict");
    metrics::describe_counter!(FAILURES, "failed runs and evaluations, by who failed and the failure's kind");
    metrics::describe_gauge!(CONSUMER_PENDING, "JetStream messages not yet delivered or acknowledged");
    metrics::describe_gauge!(LIVE_SUBSCRIBERS, "browsers following a live leaderboard");
    metrics::describe_counter!(PAGE_RENDER_RETRIES, "page renders that stalled and were rendered again");
    metrics::describe_counter!(
        WEBHOOK_DELIVERIES,
        "webhook delivery attempts, by outcome: delivered, retrying (will be tried again) or failed (given up)"
    );
}

/// The metrics in the Prometheus text exposition format (what `GET /metrics` answers).
pub fn render() -> String {
    handle().render()
}

/// Makes sure the recorder exists before anything records (each service calls it at start).
pub fn install() {
    handle();
}

/// Axum middleware (as a `route_layer`, so the route is known): counts and times each answer by
/// its route pattern (`/api/v1/submissions/{id}`, never the id), method and status.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = [("route", route), ("method", method), ("status", response.status().as_u16().to_string())];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(started.elapsed().as_secs_f64());
    response
}

/// How many submissions of `challenge` are in `state` now.
pub fn submissions(challenge: &str, state: &str, count: u64) {
    metrics::gauge!(SUBMISSIONS, "challenge" => challenge.to_owned(), "state" => state.to_owned()).set(count as f64);
}

/// How many submissions wait to run, and how long the oldest has waited.
pub fn queue(depth: u64, oldest: Duration) {
    metrics::gauge!(QUEUE_DEPTH).set(depth as f64);
    metrics::gauge!(QUEUE_OLDEST).set(oldest.as_secs_f64());
}

/// An attempt retried after a platform failure.
pub fn retried() {
    metrics::counter!(RETRIES).increment(1);
}

/// A participant run ended; `outcome` is `finished`, `failed` or `cancelled`.
pub fn run_ended(outcome: &'static str, took: Duration) {
    metrics::histogram!(RUN_DURATION, "outcome" => outcome).record(took.as_secs_f64());
}

/// An evaluation ended; `outcome` is `scored` or `failed`.
pub fn evaluation_ended(outcome: &'static str, took: Duration) {
    metrics::histogram!(EVALUATION_DURATION, "outcome" => outcome).record(took.as_secs_f64());
}

/// A run or an evaluation failed: `by` the runner or the evaluator, of `kind` (participant,
/// evaluation, platform).
pub fn failed(by: &'static str, kind: &'static str) {
    metrics::counter!(FAILURES, "by" => by, "kind" => kind).increment(1);
}

/// Messages a durable consumer has not yet had acknowledged (pending delivery plus in flight).
pub fn consumer_pending(consumer: &str, pending: u64) {
    metrics::gauge!(CONSUMER_PENDING, "consumer" => consumer.to_owned()).set(pending as f64);
}

/// Reads each named durable consumer's backlog (messages not yet delivered plus delivered and
/// not yet acknowledged) and records it; a consumer that cannot be read is left as it was.
#[cfg(feature = "nats")]
pub async fn record_consumer_lag(js: &async_nats::jetstream::Context, consumers: &[&str]) {
    let Ok(stream) = js.get_stream(crate::events::STREAM).await else { return };
    for name in consumers {
        if let Ok(info) = stream.consumer_info(name).await {
            consumer_pending(name, crate::bus::backlog(&info));
        }
    }
}

/// Browsers following live leaderboards now.
pub fn live_subscribers(n: usize) {
    metrics::gauge!(LIVE_SUBSCRIBERS).set(n as f64);
}

/// A page's render stalled and was started again (the pages' render guard).
pub fn page_render_retried() {
    metrics::counter!(PAGE_RENDER_RETRIES).increment(1);
}

/// A webhook POST ended: `delivered`, `retrying` (it failed and will be tried again) or
/// `failed` (it failed and the delivery is given up).
pub fn webhook_attempt(outcome: &'static str) {
    metrics::counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_metrics_render_in_the_exposition_format() {
        install();
        run_ended("finished", Duration::from_secs(3));
        failed("runner", "participant");
        submissions("c-1", "QUEUED", 4);
        let text = render();
        assert!(text.contains("# TYPE darkroom_run_duration_seconds histogram"), "{text}");
        assert!(text.contains("darkroom_run_duration_seconds_bucket{outcome=\"finished\",le=\"5\"} 1"), "{text}");
        assert!(text.contains("darkroom_failures_total{by=\"runner\",kind=\"participant\"} 1"), "{text}");
        assert!(text.contains("darkroom_submissions{challenge=\"c-1\",state=\"QUEUED\"} 4"), "{text}");
    }
}
