//! Participants' output archives (the JetStream object store `darkroom-outputs`, objects
//! `{submission}-{attempt}.tar`) are kept for their phase's life plus
//! `submissions.output_retention_hours`, so the organizer can rescore a phase with a new
//! evaluation image (see `docs/rescore.md`); then this sweep deletes them, at start-up and
//! every `upload_sweep_interval_seconds`.
//!
//! An object is deleted only when its submission is known and its phase ended longer ago than
//! the retention; an object of an unknown submission (another deployment's, or a row deleted
//! by hand) or of a phase that no longer exists is kept and logged: deleting is the one step
//! here that cannot be undone. A rescore asked after the deletion lists each submission whose
//! output is gone as failed, with that reason.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream;
use chrono::{DateTime, Utc};
use darkroom_core::config::SubmissionsConfig;
use darkroom_core::events::OUTPUT_BUCKET;
use futures::StreamExt;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};

use crate::db::entities::submission;

/// The submission an output object belongs to: `{submission}-{attempt}.tar`.
pub fn submission_of(object: &str) -> Option<&str> {
    let stem = object.strip_suffix(".tar")?;
    let (id, attempt) = stem.rsplit_once('-')?;
    attempt.parse::<u32>().ok()?;
    uuid::Uuid::parse_str(id).ok()?;
    Some(id)
}

/// Whether an output of a phase that ends at `ends_at` is past its retention at `now`.
pub fn expired(ends_at: DateTime<Utc>, retention_hours: u64, now: DateTime<Utc>) -> bool {
    let retention = chrono::Duration::hours(i64::try_from(retention_hours).unwrap_or(i64::MAX / 3_600_000));
    ends_at.checked_add_signed(retention).is_some_and(|until| now > until)
}

/// Sweeps at start-up, then every `upload_sweep_interval_seconds`.
pub async fn run(db: DatabaseConnection, nats: async_nats::Client, config: SubmissionsConfig) {
    let js = jetstream::new(nats);
    let every = Duration::from_secs(config.upload_sweep_interval_seconds.max(1));
    loop {
        match sweep(&db, &js, config.output_retention_hours, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "deleted output archives past their phase's retention"),
            Err(e) => tracing::warn!(error = %e, "output sweep failed; it runs again at the next interval"),
        }
        tokio::time::sleep(every).await;
    }
}

/// One sweep; returns how many objects it deleted.
pub async fn sweep(
    db: &DatabaseConnection,
    js: &jetstream::Context,
    retention_hours: u64,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    // No bucket yet: no runner has stored an output.
    let Ok(store) = js.get_object_store(OUTPUT_BUCKET).await else { return Ok(0) };
    let mut names = Vec::new();
    let mut list = store.list().await?;
    while let Some(info) = list.next().await {
        let info = info?;
        if !info.deleted {
            names.push(info.name);
        }
    }
    let ids: Vec<String> = names.iter().filter_map(|n| submission_of(n).map(str::to_owned)).collect();
    let mut phase_of: HashMap<String, (String, String)> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String, String)> = submission::Entity::find()
            .select_only()
            .column(submission::Column::Id)
            .column(submission::Column::Challenge)
            .column(submission::Column::Phase)
            .filter(submission::Column::Id.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        phase_of.extend(rows.into_iter().map(|(id, c, p)| (id, (c, p))));
    }
    let mut ends: HashMap<(String, String), Option<DateTime<Utc>>> = HashMap::new();
    let mut deleted = 0;
    for name in names {
        let Some((challenge, phase)) = submission_of(&name).and_then(|id| phase_of.get(id)) else {
            tracing::debug!(object = %name, "an output of no known submission; kept");
            continue;
        };
        let key = (challenge.clone(), phase.clone());
        if !ends.contains_key(&key) {
            let spec = crate::db::challenge_spec(db, challenge).await?;
            ends.insert(key.clone(), spec.and_then(|s| s.phase(phase).map(|p| p.ends_at)));
        }
        match ends[&key] {
            Some(ends_at) if expired(ends_at, retention_hours, now) => {
                store.delete(&name).await?;
                tracing::info!(object = %name, challenge, phase, "output deleted: its phase ended past the retention");
                deleted += 1;
            }
            Some(_) => {}
            None => {
                tracing::debug!(object = %name, challenge, phase, "an output of a phase that no longer exists; kept")
            }
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_name_their_submission() {
        let id = "0190f1a2-0000-7000-8000-00000000000a";
        assert_eq!(submission_of(&format!("{id}-2.tar")), Some(id));
        assert_eq!(submission_of(&format!("{id}-x.tar")), None);
        assert_eq!(submission_of(&format!("{id}-1.zip")), None);
        assert_eq!(submission_of("not-a-uuid-1.tar"), None);
    }

    #[test]
    fn outputs_outlive_their_phase_by_the_retention() {
        let end = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let hours = |h: i64| end + chrono::Duration::hours(h);
        assert!(!expired(end, 720, hours(-1)), "during the phase");
        assert!(!expired(end, 720, hours(719)));
        assert!(expired(end, 720, hours(721)));
        assert!(expired(end, 0, hours(1)), "0: at the first sweep after the end");
        assert!(!expired(end, u64::MAX, hours(1_000_000)), "a huge retention never overflows into deletion");
    }
}
