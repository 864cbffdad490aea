//! Score receipts (issue 17): the signing keys, a submission's receipt, a challenge's chain,
//! and the board exported with each row's receipt hash. The service only serves what the
//! evaluator signed and stored; verifying is the client's (`darkroom verify`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use darkroom_api::{
    ExportFormat, ExportQuery, ExportedBoard, ExportedRow, Leaderboard, LeaderboardQuery, MAX_CHAIN_PAGE,
    ReceiptChainPage, ReceiptChainQuery, ReceiptKeys, SignedReceipt,
};

use super::challenges::load;
use super::openapi::{self as doc, SlugPath, SubmissionPath};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Viewer};
use crate::state::AppState;

fn unavailable(e: anyhow::Error) -> ApiError {
    tracing::error!(error = %e, "receipt store unavailable");
    ApiError::Unavailable("receipts cannot be read right now; try again in a moment".into())
}

/// `GET /keys`: every public key receipts were signed with. Public.
#[utoipa::path(
    get,
    path = "/keys",
    operation_id = "receipt_keys",
    summary = "The public keys receipts are signed with",
    responses(
        (status = 200, description = "Every key, by `key_id`", body = ReceiptKeys),
        (status = 503, response = doc::Unavailable),
    ),
)]
pub async fn keys(State(state): State<AppState>) -> ApiResult<Json<ReceiptKeys>> {
    Ok(Json(ReceiptKeys { keys: state.scores.receipt_keys().await.map_err(unavailable)? }))
}

/// `GET /submissions/{id}/receipt`: for whoever may see the submission (its owner, organizers).
#[utoipa::path(
    get,
    path = "/submissions/{id}/receipt",
    operation_id = "submission_receipt",
    summary = "A scored submission's signed receipt",
    params(SubmissionPath),
    responses(
        (status = 200, description = "The receipt, its signature and hash", body = SignedReceipt),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 503, response = doc::Unavailable),
    ),
    security(("bearer" = ["participant"]), ("bearer" = ["organizer"])),
)]
pub async fn of_submission(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> ApiResult<Json<SignedReceipt>> {
    let row = super::submissions::visible(&state, &viewer, &id).await?;
    match state.scores.receipt(&row.id).await.map_err(unavailable)? {
        Some(receipt) => Ok(Json(receipt)),
        None => Err(ApiError::NotFound(format!(
            "submission '{id}' has no receipt: it is not scored yet (state {}), or was scored before receipts existed",
            row.state
        ))),
    }
}

/// `GET /challenges/{slug}/receipts?after=&limit=`: a page of the chain. Public, as the boards
/// it backs are; the receipts hold no sealed value, only commitments to them.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/receipts",
    operation_id = "receipt_chain",
    summary = "A page of the challenge's receipt chain",
    params(SlugPath, ReceiptChainQuery),
    responses(
        (status = 200, description = "Receipts with `seq > after`, in sequence order", body = ReceiptChainPage),
        (status = 400, response = doc::BadRequest),
        (status = 404, response = doc::NotFound),
        (status = 503, response = doc::Unavailable),
    ),
)]
pub async fn chain(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<ReceiptChainQuery>,
) -> ApiResult<Json<ReceiptChainPage>> {
    load(&state, &slug).await?;
    let limit = q.limit.unwrap_or(MAX_CHAIN_PAGE).clamp(1, MAX_CHAIN_PAGE);
    let head = state.scores.chain_head(&slug).await.map_err(unavailable)?;
    let receipts = state.scores.chain(&slug, q.after.unwrap_or(0), limit).await.map_err(unavailable)?;
    Ok(Json(ReceiptChainPage { challenge: slug, head, receipts }))
}

/// `GET /challenges/{slug}/leaderboard/export?phase=&format=json|csv`: the board, each row with
/// its receipt's hash.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/leaderboard/export",
    operation_id = "export_leaderboard",
    summary = "The board with each row's receipt hash, as JSON or CSV",
    params(SlugPath, ExportQuery),
    responses(
        (status = 200, description = "The exported board (`format=json`, the default) or its CSV (`format=csv`)", content((ExportedBoard = "application/json"), (String = "text/csv"))),
        (status = 400, response = doc::BadRequest),
        (status = 404, response = doc::NotFound),
        (status = 503, response = doc::Unavailable),
    ),
)]
pub async fn export(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let query = LeaderboardQuery { phase: q.phase, evaluator: q.evaluator };
    let body = super::leaderboard::render(&state, slug, query).await?;
    let board: Leaderboard = serde_json::from_slice(&body).map_err(|e| ApiError::Internal(e.into()))?;
    let ids: Vec<String> = board.entries.iter().map(|e| e.submission_id.to_string()).collect();
    // The receipts of the board's generation (a rescored board's rows have their own).
    let store =
        crate::rescore::at(&state.scores, &board.challenge, &board.phase, Some(board.generation())).await?.store;
    let hashes = store.receipt_hashes(&ids).await.map_err(unavailable)?;
    let exported = ExportedBoard {
        rows: board
            .entries
            .into_iter()
            .map(|e| ExportedRow {
                receipt_hash: hashes.get(&e.submission_id.to_string()).cloned(),
                rank: e.rank,
                participant: e.participant,
                team: e.team,
                submission_id: e.submission_id,
                metrics: e.metrics,
                submissions: e.submissions,
                submitted_at: e.submitted_at,
                scored_at: e.scored_at,
            })
            .collect(),
        challenge: board.challenge,
        phase: board.phase,
        rank_by: board.rank_by,
        direction: board.direction,
        decimals: board.decimals,
        chain: board.chain,
    };
    let name = format!("{}-{}", exported.challenge, exported.phase);
    Ok(match q.format.unwrap_or(ExportFormat::Json) {
        ExportFormat::Json => Json(exported).into_response(),
        ExportFormat::Csv => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")),
            ],
            to_csv(&exported),
        )
            .into_response(),
    })
}

/// One CSV field, quoted when it holds a comma, quote or line break (RFC 4180); a field a
/// spreadsheet would read as a formula (`=`, `+`, `-`, `@`) is prefixed with `'`.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// The board as CSV: a header line, then one line per row. Metrics in the board's column
/// order (every metric any row has, sorted), each as the shortest decimal of its value.
pub fn to_csv(board: &ExportedBoard) -> String {
    let mut metrics: Vec<&String> = board.rows.iter().flat_map(|r| r.metrics.keys()).collect();
    metrics.sort();
    metrics.dedup();
    let mut out = String::from("rank,participant,team,submission_id");
    for m in &metrics {
        out.push(',');
        out.push_str(&field(m));
    }
    out.push_str(",submissions,submitted_at,scored_at,receipt_hash\n");
    for r in &board.rows {
        let mut line = vec![
            r.rank.to_string(),
            field(&r.participant),
            field(r.team.as_deref().unwrap_or("")),
            r.submission_id.to_string(),
        ];
        line.extend(
            metrics.iter().map(|m| {
                r.metrics.get(*m).map(|v| darkroom_core::domain::receipt::metric_text(*v)).unwrap_or_default()
            }),
        );
        line.push(r.submissions.to_string());
        line.push(darkroom_core::domain::receipt::time_text(r.submitted_at));
        line.push(darkroom_core::domain::receipt::time_text(r.scored_at));
        line.push(r.receipt_hash.clone().unwrap_or_default());
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use darkroom_api::Direction;

    use super::*;

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        let at = "2026-11-30T16:00:00.5Z".parse().unwrap();
        let board = ExportedBoard {
            challenge: "c".into(),
            phase: "dev".into(),
            rank_by: "accuracy".into(),
            direction: Direction::HigherIsBetter,
            decimals: None,
            chain: None,
            rows: vec![ExportedRow {
                rank: 1,
                participant: "=HYPERLINK(\"x\")".into(),
                team: Some("a, b".into()),
                submission_id: "0190a7c2-5b1e-7c3d-8e4f-0123456789ab".parse().unwrap(),
                metrics: BTreeMap::from([("accuracy".into(), 0.955), ("f1".into(), 1.0)]),
                submissions: 2,
                submitted_at: at,
                scored_at: at,
                receipt_hash: Some("ab".repeat(32)),
            }],
        };
        assert_eq!(
            to_csv(&board),
            format!(
                "rank,participant,team,submission_id,accuracy,f1,submissions,submitted_at,scored_at,receipt_hash\n\
                 1,\"'=HYPERLINK(\"\"x\"\")\",\"a, b\",0190a7c2-5b1e-7c3d-8e4f-0123456789ab,0.955,1.0,2,\
                 2026-11-30T16:00:00.500Z,2026-11-30T16:00:00.500Z,{}\n",
                "ab".repeat(32)
            )
        );
    }
}
