//! A deadline, and one more try, for rendering a page on the server.
//!
//! Leptos 0.8's `<Suspense>` can miss the wake-up of its last pending resource when resources
//! resolve at the same moment on different threads (leptos-rs/leptos#4851, #4698): the render
//! then waits forever, burning nothing, and the visitor gets no answer at all. 0.8.23, the
//! newest 0.8, still does it: about one page in fifty stalled under the page tests' parallel
//! load, on any page that reads two resources (the header's "who is signed in" and the page's
//! own). Rendering a page changes nothing (forms post to server functions, which this guard
//! passes through untouched; `/me/token` clears a cookie, which a second render of the same
//! request, carrying the same cookie, clears again), so a GET whose render has not finished
//! within [`FIRST_TRY`] is rendered again from the same request. The second try gets [`SECOND_TRY`], longer than the
//! API client's timeout, so a page that is slow because the API is slow still gets its answer;
//! after that the visitor gets a 503 that says to reload. Every retry is logged and counted
//! (`darkroom_page_render_retries_total`), so a stall that is not this race shows up.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// A page renders in milliseconds; its API calls time out after 10 s.
pub const FIRST_TRY: Duration = Duration::from_secs(2);
pub const SECOND_TRY: Duration = Duration::from_secs(12);

/// The middleware (`axum::middleware::from_fn`), with the production deadlines.
pub async fn guard(request: Request, next: Next) -> Response {
    guard_with(request, next, FIRST_TRY, SECOND_TRY).await
}

async fn guard_with(request: Request, next: Next, first_try: Duration, second_try: Duration) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return next.run(request).await;
    }
    // A GET's body means nothing to a page; keeping only the head lets the request be replayed.
    let (parts, _) = request.into_parts();
    let first = Request::from_parts(parts.clone(), Body::empty());
    if let Ok(page) = tokio::time::timeout(first_try, next.clone().run(first)).await {
        return page;
    }
    tracing::warn!(path = %parts.uri.path(), after_ms = first_try.as_millis(), "a page's render stalled; rendering it again");
    darkroom_core::metrics::page_render_retried();
    match tokio::time::timeout(second_try, next.run(Request::from_parts(parts.clone(), Body::empty()))).await {
        Ok(page) => page,
        Err(_) => {
            tracing::error!(path = %parts.uri.path(), "a page's render stalled twice; answered 503");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::RETRY_AFTER, "1")],
                "<!DOCTYPE html><title>Darkroom</title><p>This page took too long to prepare. Reload it.</p>",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    use super::*;

    /// A page whose first `stalls` renders never finish, as the Suspense race leaves them.
    fn app(stalls: usize, renders: Arc<AtomicUsize>) -> Router {
        let page = move || {
            let renders = Arc::clone(&renders);
            async move {
                if renders.fetch_add(1, Ordering::SeqCst) < stalls {
                    std::future::pending::<()>().await;
                }
                "the page"
            }
        };
        Router::new().route("/page", get(page.clone()).merge(post(page))).layer(axum::middleware::from_fn(
            |r: Request, n: Next| guard_with(r, n, Duration::from_millis(50), Duration::from_millis(200)),
        ))
    }

    async fn call(app: Router, method: Method) -> (StatusCode, String) {
        let request = Request::builder().method(method).uri("/page").body(Body::empty()).unwrap();
        let response = tokio::time::timeout(Duration::from_secs(5), app.oneshot(request))
            .await
            .expect("answered")
            .expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_render_that_stalls_once_is_rendered_again() {
        let renders = Arc::new(AtomicUsize::new(0));
        assert_eq!(call(app(1, renders.clone()), Method::GET).await, (StatusCode::OK, "the page".into()));
        assert_eq!(renders.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_page_that_always_stalls_gets_a_503_that_says_to_reload() {
        let renders = Arc::new(AtomicUsize::new(0));
        let (status, body) = call(app(usize::MAX, renders.clone()), Method::GET).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("Reload"), "{body}");
        assert_eq!(renders.load(Ordering::SeqCst), 2, "one retry, not more");
    }

    #[tokio::test]
    async fn a_form_post_is_never_sent_twice() {
        let renders = Arc::new(AtomicUsize::new(0));
        let app = app(1, renders.clone());
        let request = Request::builder().method(Method::POST).uri("/page").body(Body::empty()).unwrap();
        let answered = tokio::time::timeout(Duration::from_millis(500), app.oneshot(request)).await;
        assert!(answered.is_err(), "a stalled post is left to stall, not replayed");
        assert_eq!(renders.load(Ordering::SeqCst), 1);
    }
}
