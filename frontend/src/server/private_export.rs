//! `/challenges/{slug}/export/{csv|json}?phase=&board=private`: a revealed private board as a
//! file, for the private board page's download buttons. JSON is the API's answer byte for byte
//! (what `darkroom verify-board` checks against the commitment); CSV is one line per row with
//! the private rank, the public rank, the metrics and the bootstrap interval. A board not yet
//! revealed has nothing to download: 404, saying when it will.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use darkroom_api::PrivateBoard;
use darkroom_core::domain::receipt::metric_text;

use super::client::ApiClient;
use super::fns::segment;

pub async fn board(api: &ApiClient, slug: &str, phase: Option<&str>, format: &str) -> Response {
    let Some(phase) = phase.filter(|p| !p.is_empty()) else {
        let message = "say which phase's private board to export: ?phase=NAME&board=private";
        return (StatusCode::BAD_REQUEST, message).into_response();
    };
    let path = format!("/challenges/{}/phases/{}/private-board", segment(slug), segment(phase));
    let (kind, bytes) = match api.get_file(&path).await {
        Ok((kind, _, bytes)) => (kind, bytes),
        Err(e) => return e.into_response(),
    };
    let revealed = match serde_json::from_slice::<PrivateBoard>(&bytes) {
        Ok(b @ PrivateBoard::Revealed { .. }) => b,
        Ok(_) => {
            let message = "this private board is still sealed: it can be downloaded once the organizer reveals it";
            return (StatusCode::NOT_FOUND, message).into_response();
        }
        Err(e) => {
            return (StatusCode::BAD_GATEWAY, format!("the API's private board did not read: {e}")).into_response();
        }
    };
    let name = format!("{slug}-{phase}-private.{format}");
    let disposition = format!("attachment; filename=\"{}\"", name.replace(['"', '\\', '\r', '\n'], "_"));
    let body = if format == "csv" { to_csv(&revealed).into() } else { bytes };
    let kind = if format == "csv" { "text/csv; charset=utf-8".to_owned() } else { kind };
    ([(header::CONTENT_TYPE, kind), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}

/// A CSV field: quoted when it must be, and a leading `=`, `+`, `-` or `@` defused so a
/// spreadsheet does not take a name for a formula (as the API's own export does).
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// The revealed board as CSV (empty for any other state).
pub fn to_csv(board: &PrivateBoard) -> String {
    let PrivateBoard::Revealed { board, intervals, .. } = board else { return String::new() };
    let mut metrics: Vec<&String> = board.rows.iter().flat_map(|r| r.metrics.keys()).collect();
    metrics.sort();
    metrics.dedup();
    let mut out = String::from("rank,public_rank,participant,submission_id");
    for m in &metrics {
        out.push(',');
        out.push_str(&field(m));
    }
    out.push_str(",interval_low,interval_high,tied_with_first\n");
    for r in &board.rows {
        let mut line = vec![
            r.rank.to_string(),
            r.public_rank.map(|p| p.to_string()).unwrap_or_default(),
            field(&r.participant),
            field(&r.submission_id),
        ];
        line.extend(metrics.iter().map(|m| r.metrics.get(*m).map(|v| metric_text(*v)).unwrap_or_default()));
        match intervals.iter().find(|i| i.rank == r.rank) {
            Some(i) => line.extend([
                metric_text(i.interval.low),
                metric_text(i.interval.high),
                i.interval.tied_with_first.to_string(),
            ]),
            None => line.extend([String::new(), String::new(), String::new()]),
        }
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use darkroom_api::{Direction, FinalBoard, FinalBoardRow, RowInterval, ScoreInterval};

    use super::*;

    #[test]
    fn a_revealed_board_is_a_line_per_row_with_its_interval() {
        let at = chrono::Utc::now();
        let row = |rank, name: &str, acc| FinalBoardRow {
            rank,
            participant: name.into(),
            submission_id: format!("s{rank}"),
            metrics: BTreeMap::from([("accuracy".into(), acc)]),
            public_rank: Some(3 - rank),
        };
        let board = PrivateBoard::Revealed {
            challenge: "c".into(),
            phase: "main".into(),
            rank_by: "accuracy".into(),
            direction: Direction::HigherIsBetter,
            board: FinalBoard { rows: vec![row(1, "Ada, Lab", 0.9), row(2, "=cmd", 0.5)] },
            salt: "s".into(),
            commitment: "c".into(),
            closed_at: at,
            revealed_at: at,
            intervals: vec![RowInterval {
                rank: 2,
                interval: ScoreInterval { low: 0.25, high: 0.75, tied_with_first: true },
            }],
        };
        assert_eq!(
            to_csv(&board),
            "rank,public_rank,participant,submission_id,accuracy,interval_low,interval_high,tied_with_first\n\
             1,2,\"Ada, Lab\",s1,0.9,,,\n\
             2,1,'=cmd,s2,0.5,0.25,0.75,true\n"
        );
    }
}
