//! An organizer's announcements to a challenge's participants (shapes in
//! `darkroom_api::announcement`, the text's rules in `darkroom_core::domain::AnnouncementText`):
//! posting, editing, removing and listing them. A post and each edit are told to the
//! challenge's webhooks that want `announcement` events, in the same transaction.

use chrono::Utc;
use darkroom_api::{
    Announcement, AnnouncementHeadline, EditAnnouncement, MAX_ANNOUNCEMENTS_PER_CHALLENGE, PostAnnouncement,
};
use darkroom_core::domain::AnnouncementText;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Select, TransactionTrait,
};
use uuid::Uuid;

use crate::db::entities::announcement;
use crate::db::require_challenge;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn view(row: announcement::Model) -> Announcement {
    Announcement {
        id: row.id,
        challenge: row.challenge,
        title: row.title,
        body: row.body,
        posted_at: row.posted_at,
        edited_at: row.edited_at,
    }
}

fn checked(post: &PostAnnouncement) -> ApiResult<AnnouncementText> {
    AnnouncementText::parse(post).map_err(ApiError::Invalid)
}

/// `slug`'s announcements, newest first: the one order the list and the headline share.
fn newest_first(slug: &str) -> Select<announcement::Entity> {
    announcement::Entity::find()
        .filter(announcement::Column::Challenge.eq(slug))
        .order_by_desc(announcement::Column::PostedAt)
        .order_by_desc(announcement::Column::Id)
}

/// A challenge's announcements, newest first.
pub async fn list(state: &AppState, slug: &str) -> ApiResult<Vec<Announcement>> {
    require_challenge(&state.db, slug).await?;
    let rows = newest_first(slug).all(&state.db).await?;
    Ok(rows.into_iter().map(view).collect())
}

/// The headline of `slug`'s newest announcement, if it has any (one indexed read).
pub async fn latest(db: &impl ConnectionTrait, slug: &str) -> Result<Option<AnnouncementHeadline>, DbErr> {
    let newest = newest_first(slug).one(db).await?;
    Ok(newest.map(|a| AnnouncementHeadline { id: a.id, title: a.title, posted_at: a.posted_at }))
}

/// Posts an announcement to `slug`, unless the challenge holds as many as it may.
pub async fn post(state: &AppState, slug: &str, post: &PostAnnouncement) -> ApiResult<Announcement> {
    require_challenge(&state.db, slug).await?;
    let text = checked(post)?;
    let txn = state.db.begin().await?;
    let held = announcement::Entity::find().filter(announcement::Column::Challenge.eq(slug)).count(&txn).await?;
    if usize::try_from(held).unwrap_or(usize::MAX) >= MAX_ANNOUNCEMENTS_PER_CHALLENGE {
        return Err(ApiError::conflict(
            "announcement_limit",
            format!(
                "challenge '{slug}' has {held} announcements, the most its page shows \
                 ({MAX_ANNOUNCEMENTS_PER_CHALLENGE}); remove old ones first (darkroom announcement remove)"
            ),
        ));
    }
    let row = announcement::ActiveModel {
        id: Set(Uuid::now_v7().to_string()),
        challenge: Set(slug.to_owned()),
        title: Set(text.title),
        body: Set(text.body),
        posted_at: Set(Utc::now()),
        edited_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let posted = view(row);
    let told = crate::webhooks::record::record_announcement(&txn, &posted).await?;
    txn.commit().await?;
    tracing::info!(challenge = %slug, announcement = %posted.id, title = %posted.title, told, "announcement posted");
    Ok(posted)
}

async fn find(db: &impl ConnectionTrait, slug: &str, id: &str) -> ApiResult<announcement::Model> {
    require_challenge(db, slug).await?;
    announcement::Entity::find_by_id(id.to_owned())
        .filter(announcement::Column::Challenge.eq(slug))
        .one(db)
        .await?
        .ok_or_else(|| not_found(slug, id))
}

fn not_found(slug: &str, id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "challenge '{slug}' has no announcement '{id}'; list them with darkroom announcement list {slug} \
         (GET /api/v1/challenges/{slug}/announcements)"
    ))
}

/// Replaces what `edit` names of an announcement (its title, its body, or both) and keeps the
/// rest; it keeps its place and says it was edited. The result is checked as a new post is.
pub async fn edit(state: &AppState, slug: &str, id: &str, edit: &EditAnnouncement) -> ApiResult<Announcement> {
    let txn = state.db.begin().await?;
    let row = find(&txn, slug, id).await?;
    let text = checked(&PostAnnouncement {
        title: edit.title.clone().unwrap_or_else(|| row.title.clone()),
        body: edit.body.clone().unwrap_or_else(|| row.body.clone()),
    })?;
    if row.title == text.title && row.body == text.body {
        return Ok(view(row));
    }
    let mut active: announcement::ActiveModel = row.into();
    active.title = Set(text.title);
    active.body = Set(text.body);
    active.edited_at = Set(Some(Utc::now()));
    // Removed by another request since the read (PostgreSQL reads committed rows): as absent.
    let edited = match active.update(&txn).await {
        Ok(row) => view(row),
        Err(DbErr::RecordNotUpdated) => return Err(not_found(slug, id)),
        Err(e) => return Err(e.into()),
    };
    let told = crate::webhooks::record::record_announcement(&txn, &edited).await?;
    txn.commit().await?;
    tracing::info!(challenge = %slug, announcement = %id, told, "announcement edited");
    Ok(edited)
}

/// Removes an announcement for good.
pub async fn remove(state: &AppState, slug: &str, id: &str) -> ApiResult<()> {
    find(&state.db, slug, id).await?;
    announcement::Entity::delete_by_id(id.to_owned()).exec(&state.db).await?;
    tracing::info!(challenge = %slug, announcement = %id, "announcement removed");
    Ok(())
}
