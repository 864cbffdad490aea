//! The one way Darkroom serves HTTP (the submissions API, the web pages, the health endpoints):
//! [`serve`], with timeouts for clients that send slowly.
//!
//! `axum::serve` gives hyper no timer, so hyper's `header_read_timeout` never fires and a
//! client that trickles its request line and headers (slowloris) holds a connection and its
//! task for as long as it likes. Here every connection is served by hyper's HTTP/1 builder with
//! a Tokio timer and `http.header_read_timeout_seconds`; a request body that stops arriving for
//! `http.body_idle_timeout_seconds` between chunks fails the read (tower-http's
//! `RequestBodyTimeoutLayer`), which the handler answers as an interrupted upload. The body
//! timeout is between chunks, never a total: a large upload at a steady pace is fine.
//!
//! Each request carries `ConnectInfo<SocketAddr>` (its TCP peer), as with
//! `into_make_service_with_connect_info`, so handlers and layers (the rate limits) can read it.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::config::HttpConfig;

/// Serves `router` on `listener` until `shutdown` resolves; then accepts no new connection,
/// closes idle ones, lets requests in flight finish, and returns.
pub async fn serve(
    mut listener: TcpListener,
    router: Router,
    limits: &HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    // Zero would refuse every request at once; the example file says "at least 1".
    let body_idle = Duration::from_secs(limits.body_idle_timeout_seconds.max(1));
    let header_read = Duration::from_secs(limits.header_read_timeout_seconds.max(1));
    let router = router.layer(RequestBodyTimeoutLayer::new(body_idle));
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1.timer(TokioTimer::new()).header_read_timeout(header_read);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // axum's listener retries failed accepts (a full file table) after a pause.
        let (stream, peer) = tokio::select! {
            accepted = Listener::accept(&mut listener) => accepted,
            () = &mut shutdown => break,
        };
        let service = router.clone().map_request(move |request: Request<Incoming>| with_peer(request, peer));
        let connection =
            graceful.watch(http1.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            // A client that timed out or hung up is the client's business: debug, not error.
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

fn with_peer(request: Request<Incoming>, peer: SocketAddr) -> Request {
    let mut request = request.map(Body::new);
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}
