//! Stored uploads are deleted once no submission can need them: at start-up, then every
//! `upload_sweep_interval_seconds`.
//!
//! - An archive whose submissions are all terminal (COMPLETE, FAILED, CANCELLED) is deleted
//!   `upload_retention_hours` after the last of them finished; until then the organizer may
//!   re-run it. An archive any active submission uses is never deleted: a platform retry reads
//!   it again.
//! - An archive no submission uses (a crash between storing it and inserting the submission)
//!   and an abandoned `.upload-*.part` are deleted once [`STRAY_GRACE`] old.
//!
//! The sweep holds the submit lock while it decides and deletes; uploads are moved into place
//! and referenced under the same lock, so it never sees an archive half-way to being used.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use crate::submit_lock::SubmitLock;
use chrono::{DateTime, Utc};
use darkroom_core::config::SubmissionsConfig;
use darkroom_core::domain::{ImageSource, SubmissionState};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};

use crate::db::entities::submission;
use crate::tarball::{PART_PREFIX, PART_SUFFIX};

/// How old a file no submission uses must be before it is deleted: far longer than an upload
/// takes from its last written byte to its submission's insert.
pub const STRAY_GRACE: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("cannot read which submissions use uploads: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("cannot take the submit lock to sweep uploads: {0}")]
    Lock(sea_orm::DbErr),
    #[error("cannot list the uploads directory '{dir}': {source}; check submissions.data_dir and its permissions")]
    List { dir: String, source: std::io::Error },
}

/// What the submissions say about one stored archive.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Some submission using it is not terminal (or has a state this build does not know).
    pub active: bool,
    /// When the last terminal submission using it finished.
    pub last_finished: Option<DateTime<Utc>>,
}

/// Why a file is deleted, or that it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Every submission using it finished more than the retention ago.
    Expired,
    /// No submission uses it.
    Orphan,
    /// An upload's temporary file nobody finished.
    Partial,
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub expired: usize,
    pub orphans: usize,
    pub partials: usize,
    pub bytes: u64,
}

impl Swept {
    pub fn files(&self) -> usize {
        self.expired + self.orphans + self.partials
    }
}

/// Decides the fate of the file `name`, last modified at `modified`, that `usage` describes
/// (None: no submission uses it). Files this service did not name are always kept.
pub fn judge(
    name: &str,
    modified: DateTime<Utc>,
    usage: Option<&Usage>,
    retention: chrono::Duration,
    now: DateTime<Utc>,
) -> Verdict {
    let stray = now - modified > STRAY_GRACE;
    if name.starts_with(PART_PREFIX) && name.ends_with(PART_SUFFIX) {
        return if stray { Verdict::Partial } else { Verdict::Keep };
    }
    if !is_stored_name(name) {
        return Verdict::Keep;
    }
    match usage {
        None if stray => Verdict::Orphan,
        None => Verdict::Keep,
        Some(u) if u.active => Verdict::Keep,
        Some(Usage { last_finished: Some(at), .. }) if now - *at >= retention => Verdict::Expired,
        Some(_) => Verdict::Keep,
    }
}

/// `sha256-<64 hex>.tar`, as [`crate::tarball::Received::store`] names archives.
fn is_stored_name(name: &str) -> bool {
    name.strip_prefix("sha256-")
        .and_then(|rest| rest.strip_suffix(".tar"))
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Sweeps at start-up and then every `upload_sweep_interval_seconds`, forever.
pub async fn run(db: DatabaseConnection, config: SubmissionsConfig, submit_lock: SubmitLock) {
    let dir = config.data_dir.join("uploads");
    // Beyond chrono's range means "keep for ever", never a panic.
    let retention = i64::try_from(config.upload_retention_hours)
        .ok()
        .and_then(chrono::Duration::try_hours)
        .unwrap_or(chrono::Duration::MAX);
    let mut tick = tokio::time::interval(Duration::from_secs(config.upload_sweep_interval_seconds.max(1)));
    loop {
        tick.tick().await; // the first tick is immediate: the start-up sweep
        let result = match submit_lock.turn().await {
            Ok(_turn) => sweep(&db, &dir, retention, Utc::now()).await,
            Err(e) => Err(SweepError::Lock(e)),
        };
        match result {
            Ok(s) if s.files() == 0 => {}
            Ok(s) => tracing::info!(
                files = s.files(),
                bytes = s.bytes,
                expired = s.expired,
                orphans = s.orphans,
                partials = s.partials,
                "stored uploads removed"
            ),
            Err(e) => tracing::warn!(error = %e, "upload sweep failed; will retry"),
        }
    }
}

/// Which archive file names submissions use, and how. Only rows whose image is an upload are
/// read, and only the three columns that matter.
async fn usages(db: &DatabaseConnection) -> Result<HashMap<String, Usage>, sea_orm::DbErr> {
    let rows: Vec<(String, String, DateTime<Utc>)> = submission::Entity::find()
        .select_only()
        .column(submission::Column::Image)
        .column(submission::Column::State)
        .column(submission::Column::UpdatedAt)
        .filter(submission::Column::Image.contains(r#""kind":"tarball""#))
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<String, Usage> = HashMap::new();
    for (image, state, updated_at) in rows {
        let Ok(ImageSource::Tarball { path, .. }) = serde_json::from_str::<ImageSource>(&image) else {
            continue;
        };
        let Some(name) = Path::new(&path).file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let usage = out.entry(name.to_owned()).or_default();
        // An unknown state is treated as active: keeping a file is always safe.
        match state.parse::<SubmissionState>() {
            Ok(s) if s.is_terminal() => {
                usage.last_finished = Some(usage.last_finished.map_or(updated_at, |t| t.max(updated_at)));
            }
            _ => usage.active = true,
        }
    }
    Ok(out)
}

/// One sweep of `dir`; the caller holds the submit lock. A file that cannot be inspected or
/// deleted is logged and left for the next sweep.
pub async fn sweep(
    db: &DatabaseConnection,
    dir: &Path,
    retention: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Swept, SweepError> {
    let list_err = |source| SweepError::List { dir: dir.display().to_string(), source };
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(e) => e,
        // Nothing was ever uploaded.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Swept::default()),
        Err(e) => return Err(list_err(e)),
    };
    let usages = usages(db).await?;
    let mut swept = Swept::default();
    while let Some(entry) = entries.next_entry().await.map_err(list_err)? {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        let meta = match entry.metadata().await {
            Ok(m) if m.is_file() => m,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(file = %name, error = %e, "cannot inspect a stored upload; left for the next sweep");
                continue;
            }
        };
        let modified = meta.modified().map(DateTime::<Utc>::from).unwrap_or(now);
        let verdict = judge(&name, modified, usages.get(&name), retention, now);
        if verdict == Verdict::Keep {
            continue;
        }
        match tokio::fs::remove_file(entry.path()).await {
            Ok(()) => {
                tracing::debug!(file = %name, ?verdict, bytes = meta.len(), "stored upload removed");
                swept.bytes += meta.len();
                match verdict {
                    Verdict::Expired => swept.expired += 1,
                    Verdict::Orphan => swept.orphans += 1,
                    Verdict::Partial => swept.partials += 1,
                    Verdict::Keep => {}
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %name, error = %e, "cannot remove a stored upload; left for the next sweep")
            }
        }
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.tar";

    fn hours(h: i64) -> chrono::Duration {
        chrono::Duration::hours(h)
    }

    #[test]
    fn archives_in_use_are_kept_and_finished_ones_expire_after_the_retention() {
        let now = Utc::now();
        let old = now - hours(48);
        let active = Usage { active: true, last_finished: Some(old) };
        assert_eq!(judge(NAME, old, Some(&active), hours(0), now), Verdict::Keep);
        let done_2h = Usage { active: false, last_finished: Some(now - hours(2)) };
        assert_eq!(judge(NAME, old, Some(&done_2h), hours(24), now), Verdict::Keep);
        assert_eq!(judge(NAME, old, Some(&done_2h), hours(1), now), Verdict::Expired);
        let done_now = Usage { active: false, last_finished: Some(now) };
        assert_eq!(judge(NAME, now, Some(&done_now), hours(0), now), Verdict::Expired);
    }

    #[test]
    fn strays_go_after_an_hour_and_foreign_files_never() {
        let now = Utc::now();
        let part = ".upload-6f1c.part";
        assert_eq!(judge(part, now - chrono::Duration::minutes(59), None, hours(0), now), Verdict::Keep);
        assert_eq!(judge(part, now - chrono::Duration::minutes(61), None, hours(0), now), Verdict::Partial);
        assert_eq!(judge(NAME, now - chrono::Duration::minutes(59), None, hours(0), now), Verdict::Keep);
        assert_eq!(judge(NAME, now - chrono::Duration::minutes(61), None, hours(0), now), Verdict::Orphan);
        for foreign in ["notes.txt", "sha256-abc.tar", &NAME.replace('0', "g"), ".upload-x.tmp"] {
            assert_eq!(judge(foreign, now - hours(100), None, hours(0), now), Verdict::Keep, "{foreign}");
        }
    }
}
