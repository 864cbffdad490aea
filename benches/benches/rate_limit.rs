//! What the rate limits add to the submit path: the same in-process request (a submit-shaped
//! POST with a bearer token, from one client address) through a router without the limits, with
//! both limits letting it through, and with both refusing it (the 429 answer built in the API's
//! error shape). The handler does nothing, so the difference is the limiter's own cost.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use darkroom_core::config::{RateLimit, SubmissionsConfig};
use darkroom_submissions::rate_limit::RateLimits;
use tower::ServiceExt;

const PATH: &str = "/api/v1/challenges/bench/submissions";

fn router(limits: Option<RateLimits>) -> Router {
    let route = post(|| async { StatusCode::ACCEPTED });
    match limits {
        Some(l) => Router::new().route(PATH, route.layer(l.by_address_and_token())),
        None => Router::new().route(PATH, route),
    }
}

fn limits(rate: RateLimit) -> RateLimits {
    let config =
        SubmissionsConfig { rate_limit_per_address: rate, rate_limit_per_token: rate, ..SubmissionsConfig::default() };
    RateLimits::new(&config).expect("valid limits")
}

fn request() -> Request<Body> {
    let mut request = Request::post(PATH)
        .header("authorization", "Bearer drp_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"image":"registry.example.org/team/model:1"}"#))
        .expect("a request");
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
    request
}

fn submit_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cases = [
        ("without_limits", router(None), StatusCode::ACCEPTED),
        (
            "with_limits_admitted",
            router(Some(limits(RateLimit { burst: u32::MAX, per_minute: u32::MAX }))),
            StatusCode::ACCEPTED,
        ),
        (
            "with_limits_refused",
            router(Some(limits(RateLimit { burst: 1, per_minute: 1 }))),
            StatusCode::TOO_MANY_REQUESTS,
        ),
    ];
    let mut group = c.benchmark_group("rate_limit/submit_path");
    for (name, router, expected) in cases {
        // Spends the refusing limits' one-request burst, so every measured request is refused.
        let _ = rt.block_on(router.clone().oneshot(request()));
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let response = router.clone().oneshot(request()).await.expect("infallible");
                assert_eq!(response.status(), expected);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, submit_path);
criterion_main!(benches);
