//! The page server: axum serving the Leptos pages (server-rendered, then hydrated), their
//! server functions, the built browser code under `/pkg`, the live feed under `/live`, and the
//! boards' exports and the announcements' Atom feed ([`feed`]); descriptions' Markdown is rendered
//! here ([`markdown`]).

pub mod client;
mod export;
mod feed;
pub(crate) mod fns;
pub mod live;
pub mod markdown;
mod private_export;
mod render_guard;
pub mod session;

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use darkroom_core::config::{FrontendSettings, HttpConfig};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::services::ServeDir;

use crate::app::{App, shell};
use client::ApiClient;
use live::{LiveGate, LiveHub};
use session::CookiePolicy;

/// What every request handler may need.
#[derive(Clone, axum::extract::FromRef)]
pub struct PageState {
    pub leptos_options: LeptosOptions,
    pub api: ApiClient,
    pub live: LiveHub,
    pub gate: LiveGate,
    /// How cookies are named and flagged (from `frontend.public_url`).
    pub cookies: CookiePolicy,
    /// Where visitors reach the pages (`frontend.public_url`): the feed's links are absolute.
    pub public_url: std::sync::Arc<str>,
}

/// The routes, without a listener: used by [`Frontend`] and by tests and benchmarks. Serve them
/// with the client's address (`into_make_service_with_connect_info::<SocketAddr>`): the live
/// feed's caps count per address.
pub fn router(state: PageState) -> Router {
    let routes = generate_route_list(App);
    let (api, cookies) = (state.api.clone(), state.cookies);
    let pkg = std::path::Path::new(&*state.leptos_options.site_root).join(&*state.leptos_options.site_pkg_dir);
    let options = state.leptos_options.clone();
    Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(api.clone());
                provide_context(cookies);
            },
            move || shell(options.clone()),
        )
        // Only the pages (and server functions, which it passes through): added before the rest.
        .route_layer(axum::middleware::from_fn(render_guard::guard))
        .route("/live/{slug}", get(live::sse))
        .route("/challenges/{slug}/export/{format}", get(export::board))
        .route("/challenges/{slug}/announcements.atom", get(feed::announcements))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn(darkroom_core::metrics::track_http))
        .nest_service("/pkg", ServeDir::new(pkg))
        .fallback(leptos_axum::file_and_error_handler::<PageState, _>(shell))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /metrics`: the page server's Prometheus metrics (page latency by route, live feeds).
async fn metrics(axum::extract::State(state): axum::extract::State<PageState>) -> String {
    darkroom_core::metrics::live_subscribers(state.gate.open());
    darkroom_core::metrics::render()
}

/// Leptos options for pages served from `site_root` (where `pkg/` was built).
pub fn leptos_options(site_root: &std::path::Path) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("darkroom")
        .site_root(site_root.display().to_string())
        .site_pkg_dir("pkg")
        .env(leptos::config::Env::PROD)
        .build()
}

pub struct Frontend {
    listener: tokio::net::TcpListener,
    router: Router,
    live: LiveHub,
    nats: async_nats::Client,
    http: HttpConfig,
}

impl Frontend {
    pub async fn build(config: FrontendSettings) -> anyhow::Result<Self> {
        let site_root = &config.frontend.site_root;
        if !site_root.join("pkg").join("darkroom.js").is_file() {
            tracing::warn!(
                site_root = %site_root.display(),
                "no built browser code here: pages render but do not update live; run scripts/build-frontend.sh"
            );
        }
        darkroom_core::metrics::install();
        let nats = darkroom_core::bus::connect(&config.nats, "darkroom-frontend").await?;
        let live = LiveHub::default();
        let state = PageState {
            leptos_options: leptos_options(site_root),
            api: ApiClient::new(&config.frontend.api_url),
            live: live.clone(),
            gate: LiveGate::new(config.frontend.live_max_per_client, config.frontend.live_max_total),
            cookies: CookiePolicy::for_public_url(&config.frontend.public_url),
            public_url: config.frontend.public_url.as_str().into(),
        };
        let listener = tokio::net::TcpListener::bind(&config.frontend.listen)
            .await
            .with_context(|| format!("frontend.listen: cannot listen on '{}'", config.frontend.listen))?;
        Ok(Self { listener, router: router(state), live, nats, http: config.http })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), "frontend listening");
        let feed = tokio::spawn(live::follow_scores(self.nats, self.live));
        darkroom_core::http::serve(self.listener, self.router, &self.http, shutdown).await;
        feed.abort();
        Ok(())
    }
}
