//! `GET /metrics`: the submissions service's Prometheus metrics ([`darkroom_core::metrics`]).
//! What the database knows is measured at each scrape rather than counted along the way, so a
//! restart never shows wrong numbers: submissions by challenge and state, the queue's depth and
//! the age of its oldest submission, and this service's consumers' backlog.

use axum::extract::State;
use chrono::Utc;
use darkroom_api::SubmissionState;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::db::entities::submission;
use crate::state::AppState;

async fn measure(state: &AppState) -> Result<(), sea_orm::DbErr> {
    let counts: Vec<(String, String, i64)> = submission::Entity::find()
        .select_only()
        .column(submission::Column::Challenge)
        .column(submission::Column::State)
        .column_as(Expr::col(submission::Column::Id).count(), "n")
        .group_by(submission::Column::Challenge)
        .group_by(submission::Column::State)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut challenges: Vec<&str> = counts.iter().map(|(c, _, _)| c.as_str()).collect();
    challenges.sort_unstable();
    challenges.dedup();
    // Every state of every challenge, so a state that emptied reads 0 rather than its last value.
    for challenge in challenges {
        for s in SubmissionState::ALL {
            let n = counts.iter().find(|(c, st, _)| c == challenge && st == s.as_str()).map_or(0, |(_, _, n)| *n);
            darkroom_core::metrics::submissions(challenge, s.as_str(), u64::try_from(n).unwrap_or(0));
        }
    }
    let waiting = [SubmissionState::Queued.as_str(), SubmissionState::Pending.as_str()];
    let (depth, oldest): (i64, Option<chrono::DateTime<Utc>>) = submission::Entity::find()
        .select_only()
        .column_as(Expr::col(submission::Column::Id).count(), "n")
        .column_as(Expr::col(submission::Column::CreatedAt).min(), "oldest")
        .filter(submission::Column::State.is_in(waiting))
        .into_tuple()
        .one(&state.db)
        .await?
        .unwrap_or((0, None));
    let age = oldest.map(|t| (Utc::now() - t).to_std().unwrap_or_default()).unwrap_or_default();
    darkroom_core::metrics::queue(u64::try_from(depth).unwrap_or(0), age);
    Ok(())
}

pub async fn show(State(state): State<AppState>) -> String {
    if let Err(e) = measure(&state).await {
        // The rest still renders; the gauges keep their last values.
        tracing::warn!(error = %e, "submission metrics not measured");
    }
    let js = async_nats::jetstream::new(state.nats.clone());
    darkroom_core::metrics::record_consumer_lag(&js, &[crate::consumer::DURABLE_NAME, crate::run_log::DURABLE_NAME])
        .await;
    darkroom_core::metrics::render()
}
