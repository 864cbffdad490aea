//! The HTTP API. Handlers stay thin: parse, authorise, call the domain, shape the answer.

mod announcements;
mod board_history;
mod challenges;
mod enrollment;
mod final_board;
mod health;
mod leaderboard;
mod logs;
mod metrics;
pub mod openapi;
mod organizer;
mod participants;
mod receipts;
mod rescores;
mod sessions;
mod submissions;
mod teams;
mod tokens;
mod verifications;
mod views;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{delete, get, post, put};

use crate::error::ApiError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let json_limit = state.config.max_json_bytes;
    let accept_traceparent = state.config.accept_traceparent;
    let limits = &state.limits;
    let api = Router::new()
        .route("/challenges", get(challenges::list).post(challenges::create))
        .route("/challenges/{slug}", get(challenges::show).put(challenges::upsert))
        .route("/challenges/{slug}/spec", get(challenges::spec))
        .route("/challenges/{slug}/dataset", get(challenges::dataset))
        .route("/challenges/{slug}/dataset/refresh", post(challenges::refresh_dataset))
        .route("/challenges/{slug}/leaderboard", get(leaderboard::show))
        .route("/challenges/{slug}/leaderboard/export", get(receipts::export))
        .route("/challenges/{slug}/leaderboard/history", get(board_history::show))
        .route("/challenges/{slug}/receipts", get(receipts::chain))
        .route("/keys", get(receipts::keys))
        .route(
            "/challenges/{slug}/submissions",
            get(organizer::list).merge(post(submissions::submit_image).layer(limits.by_address_and_token())),
        )
        .route(
            "/challenges/{slug}/submissions/tarball",
            // The upload streams to disk under its own cap (max_upload_bytes).
            post(submissions::submit_tarball).layer((limits.by_address_and_token(), DefaultBodyLimit::disable())),
        )
        .route(
            "/challenges/{slug}/phases/{phase}/selections",
            get(final_board::show_selections).put(final_board::put_selections),
        )
        .route("/challenges/{slug}/phases/{phase}/close", post(final_board::close))
        .route("/challenges/{slug}/phases/{phase}/rescores", get(rescores::list).post(rescores::request))
        .route("/challenges/{slug}/announcements", get(announcements::list).post(announcements::post))
        .route("/challenges/{slug}/announcements/{id}", put(announcements::edit).delete(announcements::remove))
        .route("/challenges/{slug}/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/challenges/{slug}/webhooks/{id}", delete(webhooks::remove))
        .route("/challenges/{slug}/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/challenges/{slug}/phases/{phase}/reveal", post(final_board::reveal))
        .route("/challenges/{slug}/phases/{phase}/private-board", get(final_board::private_board))
        .route("/challenges/{slug}/join", post(enrollment::join).layer(limits.by_address_and_token()))
        .route("/challenges/{slug}/enrollment", get(enrollment::mine))
        .route("/challenges/{slug}/quota", get(submissions::quota))
        .route("/challenges/{slug}/enrollments", get(enrollment::list))
        .route("/challenges/{slug}/enrollments/{participant}/approve", post(enrollment::approve))
        .route("/challenges/{slug}/enrollments/{participant}/reject", post(enrollment::reject))
        .route("/challenges/{slug}/enrollments/{participant}/disqualify", post(enrollment::disqualify))
        .route("/challenges/{slug}/enrollments/{participant}/reinstate", post(enrollment::reinstate))
        .route("/challenges/{slug}/invites", get(enrollment::invites).post(enrollment::mint))
        .route("/challenges/{slug}/teams", post(teams::create))
        .route("/challenges/{slug}/teams/join", post(teams::join))
        .route("/challenges/{slug}/team", get(teams::mine))
        .route("/challenges/{slug}/team/leave", post(teams::leave))
        .route("/challenges/{slug}/team/code", post(teams::renew_code))
        .route("/challenges/{slug}/team/merge", post(teams::merge))
        .route("/challenges/{slug}/team/members/{participant}", axum::routing::delete(teams::remove))
        .route("/challenges/{slug}/duplicate-images", get(teams::duplicates))
        .route("/participants", post(participants::register).layer(limits.by_address()))
        .route("/me", get(participants::me))
        .route("/me/token", post(participants::replace_own_token).layer(limits.by_address_and_token()))
        .route("/participants/{participant}/token", post(participants::replace_participant_token))
        .route("/sessions", post(sessions::open).delete(sessions::end_all))
        .route("/sessions/current", delete(sessions::revoke))
        .route("/tokens", post(tokens::mint).get(tokens::list))
        .route("/tokens/current", get(tokens::current))
        .route("/tokens/{id}", delete(tokens::revoke))
        .route("/submissions", get(submissions::list))
        .route("/submissions/{id}", get(submissions::show))
        .route("/submissions/{id}/cancel", post(submissions::cancel))
        .route("/submissions/{id}/note", put(submissions::set_note))
        .route("/submissions/{id}/rerun", post(organizer::rerun))
        .route("/submissions/{id}/logs", get(logs::show))
        .route("/submissions/{id}/receipt", get(receipts::of_submission))
        .route("/submissions/{id}/verifications", post(verifications::start))
        .route("/verifications/{id}", get(verifications::show))
        .route("/openapi.json", get(openapi::serve));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::show))
        .nest("/api/v1", api)
        .route_layer(axum::middleware::from_fn(darkroom_core::metrics::track_http))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(json_limit))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(move |r: &_| request_span(r, accept_traceparent)),
        )
        .with_state(state)
}

/// Each request's span: its method and path (not the query), and, once a handler knows it, the
/// submission it is about ([`record_submission`]), so one submission's requests and events can
/// be followed through the logs. It starts a trace, or continues the caller's W3C
/// `traceparent` where `submissions.accept_traceparent` allows (an unusable one is ignored).
fn request_span(request: &axum::http::Request<axum::body::Body>, accept_traceparent: bool) -> tracing::Span {
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        submission = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    let headers = request.headers();
    darkroom_core::telemetry::continue_trace(&span, |name| {
        if accept_traceparent { headers.get(name)?.to_str().ok() } else { None }
    });
    span
}

/// Names the submission the current request handles in its span.
fn record_submission(id: impl std::fmt::Display) {
    tracing::Span::current().record("submission", tracing::field::display(id));
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route {method} {}; the API lives under /api/v1 (see the README)", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::bad_request(
        "method_not_allowed",
        format!("{method} is not allowed on {}; see the README for the API", uri.path()),
    )
}
