//! Prometheus metrics (issue 18): every service serves `/metrics` in the text exposition format,
//! and after a scored and a failed submission the numbers say so: submissions by state, the
//! queue, HTTP latency by route pattern, run and evaluation durations, failures by kind, and the
//! consumers' backlog. Parsed strictly here, line by line.

use std::collections::BTreeMap;

use darkroom_core::config::RunnerBackend;
use darkroom_tests::Stack;
use darkroom_tests::registry::pushed;
use darkroom_tests::web::WebServer;

/// One sample: its name, its labels and its value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the text exposition format, failing on any line that is not a comment or a sample.
fn parse(text: &str) -> Vec<Sample> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.split_whitespace();
            let kind = words.next().unwrap_or_default();
            assert!(matches!(kind, "HELP" | "TYPE"), "an unknown comment: {line}");
            assert!(words.next().is_some_and(name_ok), "a comment naming no metric: {line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line}"));
                let labels = body
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label: {line}"));
                        assert!(name_ok(k), "bad label name: {line}");
                        (k.to_owned(), v.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name, labels)
            }
        };
        assert!(name_ok(name), "bad metric name: {line}");
        samples.push((name.to_owned(), labels, value));
    }
    samples
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, v)| *v)
}

async fn scrape(url: &str) -> Vec<Sample> {
    let response = reqwest::get(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(response.status(), reqwest::StatusCode::OK, "{url}");
    parse(&response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_serves_metrics_that_follow_the_submissions() {
    // Port 0, read back once bound: a port picked beforehand can be handed to another
    // listener's bind(0) (the stack's API server) before the service binds it.
    let stack = Stack::spawn_configured(RunnerBackend::Engine, |c| {
        c.runner.health_listen = "127.0.0.1:0".into();
        c.evaluator.health_listen = "127.0.0.1:0".into();
    })
    .await;
    let runner_health = stack.runner_health().expect("the runner serves health endpoints");
    let evaluator_health = stack.evaluator_health().expect("the evaluator serves health endpoints");
    let web = WebServer::spawn(&stack.app.config, &stack.app.addr).await;
    let slug = stack.challenge("metered", |_| {}).await;
    let token = stack.app.register("Ada").await;
    let (_, good) = stack.app.submit(&slug, &token, &pushed("darkroom-demo-weak:1")).await;
    let (_, bad) = stack.app.submit(&slug, &token, &pushed("darkroom-test-hostile:fail")).await;
    assert_eq!(stack.finished(good["id"].as_str().unwrap(), &token, 180).await["state"], "COMPLETE");
    assert_eq!(stack.finished(bad["id"].as_str().unwrap(), &token, 180).await["state"], "FAILED");
    let (status, _) = web.get(&format!("/challenges/{slug}/leaderboard"), None).await;
    assert!(status.is_success());

    let api = scrape(&format!("{}/metrics", stack.app.addr)).await;
    for (state, n) in [("COMPLETE", 1.0), ("FAILED", 1.0), ("QUEUED", 0.0), ("RUNNING", 0.0)] {
        assert_eq!(value(&api, "darkroom_submissions", &[("challenge", &slug), ("state", state)]), Some(n), "{state}");
    }
    assert_eq!(value(&api, "darkroom_queue_depth", &[]), Some(0.0));
    assert_eq!(value(&api, "darkroom_queue_oldest_age_seconds", &[]), Some(0.0));
    // By route pattern and status, never by id.
    let submit = [("route", "/api/v1/challenges/{slug}/submissions"), ("method", "POST"), ("status", "202")];
    assert!(value(&api, "darkroom_http_requests_total", &submit).is_some_and(|n| n >= 2.0), "{api:?}");
    assert!(value(&api, "darkroom_http_request_duration_seconds_count", &submit).is_some_and(|n| n >= 2.0));
    assert!(!api.iter().any(|(_, l, _)| l.get("route").is_some_and(|r| r.contains(&slug))), "no slug in a route label");
    assert!(value(&api, "darkroom_consumer_pending", &[("consumer", "submissions-state")]).is_some());

    let runner = scrape(&format!("http://{runner_health}/metrics")).await;
    let finished = value(&runner, "darkroom_run_duration_seconds_count", &[("outcome", "finished")]);
    assert!(finished.is_some_and(|n| n >= 1.0), "{runner:?}");
    let failed = value(&runner, "darkroom_failures_total", &[("by", "runner"), ("kind", "participant")]);
    assert!(failed.is_some_and(|n| n >= 1.0));
    assert!(value(&runner, "darkroom_consumer_pending", &[("consumer", "swarm-runner")]).is_some());

    let evaluator = scrape(&format!("http://{evaluator_health}/metrics")).await;
    let scored = value(&evaluator, "darkroom_evaluation_duration_seconds_count", &[("outcome", "scored")]);
    assert!(scored.is_some_and(|n| n >= 1.0), "{evaluator:?}");
    assert_eq!(value(&evaluator, "darkroom_consumer_pending", &[("consumer", "evaluator")]), Some(0.0));

    let pages = scrape(&web.url("/metrics")).await;
    let board = [("route", "/challenges/{slug}/leaderboard"), ("method", "GET"), ("status", "200")];
    assert!(value(&pages, "darkroom_http_requests_total", &board).is_some_and(|n| n >= 1.0), "{pages:?}");
    assert_eq!(value(&pages, "darkroom_live_subscribers", &[]), Some(0.0));
}

#[test]
fn the_parser_refuses_what_is_not_the_exposition_format() {
    let good = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\",l=\"w\"} 3\nb 0.5\n";
    assert_eq!(parse(good).len(), 2);
    for bad in ["a_total{k=\"v\" 3", "1a 3", "a_total three", "# NOTE a"] {
        assert!(std::panic::catch_unwind(|| parse(bad)).is_err(), "{bad}");
    }
}
