//! An organizer's announcements to a challenge's participants ("the deadline moves to Friday",
//! "the evaluator had a bug; every submission is re-scored"): the one way the people who hold
//! the data tell the people who cannot see it what changed.
//!
//! - `GET /challenges/{slug}/announcements`: anyone who may see the challenge, newest first.
//! - `POST /challenges/{slug}/announcements` ([`PostAnnouncement`] → [`Announcement`]),
//!   `PUT /challenges/{slug}/announcements/{id}` ([`EditAnnouncement`]: what it names is
//!   replaced, what it leaves out is kept; the answer says when it was edited) and `DELETE
//!   /challenges/{slug}/announcements/{id}`: the organizer's only.
//!
//! The body is Markdown, shown as sanitised HTML on the challenge's page, like its description.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest title, in characters: one line, as a heading.
pub const MAX_ANNOUNCEMENT_TITLE_CHARS: usize = 120;
/// The longest body, in characters of Markdown.
pub const MAX_ANNOUNCEMENT_BODY_CHARS: usize = 10_000;
/// How many announcements a challenge may hold: the challenge's page shows them all.
pub const MAX_ANNOUNCEMENTS_PER_CHALLENGE: usize = 200;

/// The body of `POST /challenges/{slug}/announcements`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostAnnouncement {
    /// One line, at most 120 characters, nothing invisible.
    pub title: String,
    /// Markdown, at most 10,000 characters; may be empty when the title says it all.
    #[serde(default)]
    pub body: String,
}

/// The body of `PUT /challenges/{slug}/announcements/{id}`: a new title, a new body, or both;
/// a field left out keeps what the announcement says (so fixing a title never erases a body).
/// `"body": ""` empties the body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditAnnouncement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// The newest announcement of a challenge, as the challenge shows it
/// ([`crate::PublicChallenge::latest_announcement`]): enough to say there is news and link to it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncementHeadline {
    pub id: String,
    pub title: String,
    pub posted_at: DateTime<Utc>,
}

/// One announcement, as everyone sees it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    pub id: String,
    pub challenge: String,
    pub title: String,
    /// Markdown, as the organizer wrote it.
    pub body: String,
    pub posted_at: DateTime<Utc>,
    /// When it was last changed after posting, so a reader knows the text is not the first one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_may_be_left_out_but_an_unknown_field_is_named() {
        let post: PostAnnouncement = serde_json::from_str(r#"{"title":"Deadline moved"}"#).unwrap();
        assert_eq!(post.body, "");
        let e = serde_json::from_str::<PostAnnouncement>(r#"{"title":"t","text":"b"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `text`"), "{e}");
    }
}
