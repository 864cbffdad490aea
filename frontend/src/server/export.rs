//! `/challenges/{slug}/export/{csv|json}?phase=[&board=private]`: a board's export, for the pages' download
//! links. The API's export (each row with its receipt's hash) passed through as it came, since a
//! browser cannot reach the API's internal address.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::client::ApiClient;
use super::fns::segment;

#[derive(Deserialize)]
pub struct ExportQuery {
    phase: Option<String>,
    /// `private`: the phase's revealed private board (see [`super::private_export`]).
    board: Option<String>,
}

pub async fn board(
    State(api): State<ApiClient>,
    Path((slug, format)): Path<(String, String)>,
    Query(q): Query<ExportQuery>,
) -> Response {
    if !matches!(format.as_str(), "csv" | "json") {
        let message = format!("'{format}' is not an export format: csv or json");
        return (StatusCode::NOT_FOUND, message).into_response();
    }
    if q.board.as_deref() == Some("private") {
        return super::private_export::board(&api, &slug, q.phase.as_deref(), &format).await;
    }
    let phase = q.phase.filter(|p| !p.is_empty()).map(|p| format!("&phase={}", segment(&p))).unwrap_or_default();
    let path = format!("/challenges/{}/leaderboard/export?format={format}{phase}", segment(&slug));
    match api.get_file(&path).await {
        Ok((kind, disposition, bytes)) => {
            let mut response = ([(header::CONTENT_TYPE, kind)], bytes).into_response();
            if let Some(d) = disposition.and_then(|d| d.parse().ok()) {
                response.headers_mut().insert(header::CONTENT_DISPOSITION, d);
            }
            response
        }
        Err(e) => e.into_response(),
    }
}
