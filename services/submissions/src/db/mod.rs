//! Relational state: the entities, their migrations and the connection.
//!
//! Ids are stored as hyphenated UUID text and times as timestamps with time zone, so one schema
//! serves SQLite and PostgreSQL alike. Text becomes the API's types at this boundary, through
//! [`parse_column`]: the entities' typed accessors (`submission::Model::submission_id`, …) return
//! an error for a value that does not parse, never a default.

pub mod entities;
pub mod migration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

/// Connects and brings the schema up to date.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // SQLite has one writer at a time, and a transaction that reads before it writes fails
        // at once with SQLITE_BUSY (no busy wait) when another connection wrote meanwhile. One
        // connection serialises every statement in the pool instead; SQLite's reads take
        // microseconds, so the queue is short.
        options.max_connections(1).min_connections(1);
    } else {
        options.max_connections(16);
    }
    let db = Database::connect(options).await?;
    if url.starts_with("sqlite:") {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;").await?;
    }
    migration::Migrator::up(&db, None).await?;
    Ok(db)
}

/// Reads a text column as the type it holds (an id, a state). A value that does not parse is a
/// corrupt row: the error names the column and the value.
pub fn parse_column<T>(column: &str, value: &str) -> Result<T, DbErr>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| DbErr::Custom(format!("{column} holds '{value}', which does not read: {e}")))
}

/// Nothing, or 404 for a challenge that does not exist (without reading its spec).
pub async fn require_challenge(conn: &impl sea_orm::ConnectionTrait, slug: &str) -> crate::error::ApiResult<()> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    match entities::challenge::Entity::find_by_id(slug.to_owned()).count(conn).await? {
        0 => Err(crate::error::ApiError::no_challenge(slug)),
        _ => Ok(()),
    }
}

/// The stored, validated spec of a challenge.
pub async fn challenge_spec(
    conn: &impl sea_orm::ConnectionTrait,
    slug: &str,
) -> Result<Option<darkroom_core::domain::ChallengeSpec>, DbErr> {
    use sea_orm::EntityTrait;
    let Some(row) = entities::challenge::Entity::find_by_id(slug.to_owned()).one(conn).await? else {
        return Ok(None);
    };
    serde_json::from_str(&row.spec)
        .map(Some)
        .map_err(|e| DbErr::Custom(format!("stored spec of challenge '{slug}' does not parse: {e}")))
}

#[cfg(test)]
mod tests {
    use darkroom_api::{ParticipantId, SubmissionId, SubmissionState};

    use super::parse_column;

    #[test]
    fn a_corrupt_column_is_an_error_not_a_default() {
        let e = parse_column::<SubmissionId>("submissions.id", "not-a-uuid").unwrap_err().to_string();
        assert!(e.contains("submissions.id holds 'not-a-uuid'") && e.contains("not a submission id"), "{e}");
        assert!(parse_column::<ParticipantId>("submissions.participant_id", "").is_err());
        let e = parse_column::<SubmissionState>("submissions.state", "DONE").unwrap_err().to_string();
        assert!(e.contains("unknown state 'DONE'"), "{e}");
        let id = "0190a7c2-5b1e-7c3d-8e4f-0123456789ab";
        assert_eq!(parse_column::<SubmissionId>("submissions.id", id).unwrap().to_string(), id);
    }
}
