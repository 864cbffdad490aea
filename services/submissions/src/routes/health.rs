//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when the database answers. NATS being down does not make the API unready — the outbox
/// holds events until it returns — but it is reported.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let db = state.db.ping().await;
    let nats = matches!(state.nats.connection_state(), async_nats::connection::State::Connected);
    let status = if db.is_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        Json(json!({
            "status": if db.is_ok() { "ready" } else { "unavailable" },
            "database": db.map(|_| "ok".to_owned()).unwrap_or_else(|e| e.to_string()),
            "nats": if nats { "connected" } else { "disconnected (events wait in the outbox)" },
        })),
    )
}
