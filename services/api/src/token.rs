//! Scoped tokens (issue 18): a participant or the organizer mints a token that may do less than
//! their own and expires, for a script, a CI job or a co-organizer.
//!
//! - `POST /tokens` ([`MintToken`] → [`MintedToken`], the secret shown once), `GET /tokens`
//!   ([`TokenView`]s), `DELETE /tokens/{id}`: with the holder's own token only (not a session,
//!   not a scoped token), so a stolen cookie or a leaked scoped token cannot outgrow itself.
//! - A scoped token (`drt_…`) stands for the token that minted it, limited to its scopes:
//!   `read` (every `GET`), `submit` (a participant's writes: submit, cancel, join, teams, final
//!   selections), `organize` (the organizer's writes). A participant mints `read`/`submit`, the
//!   organizer `read`/`organize`; a read-only organizer token is how a co-organizer follows a
//!   challenge without changing it.
//! - A participant's own token is replaced, not recovered: `POST /me/token` with that token
//!   (after a leak), or `POST /participants/{id}/token` by the organizer with the admin token
//!   (after a loss), answers [`ReplacedToken`]. The old token, every web session it opened and
//!   every scoped token it minted stop working at once; who presents the old one is told when it
//!   was replaced.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest a scoped token may live: a year. Longer-lived access is the holder's own token.
pub const MAX_TOKEN_HOURS: u32 = 24 * 365;
/// How long a scoped token lives when the request does not say: 30 days.
pub const DEFAULT_TOKEN_HOURS: u32 = 24 * 30;

/// What a scoped token may do.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    Read,
    Submit,
    Organize,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Submit => "submit",
            TokenScope::Organize => "organize",
        }
    }

    /// The scope named `s` (`read`, `submit`, `organize`), if any.
    pub fn parse(s: &str) -> Option<Self> {
        [TokenScope::Read, TokenScope::Submit, TokenScope::Organize].into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for TokenScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /tokens`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintToken {
    pub scopes: Vec<TokenScope>,
    /// 1 to [`MAX_TOKEN_HOURS`]; [`DEFAULT_TOKEN_HOURS`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_hours: Option<u32>,
    /// What it is for (shown in the list), e.g. `ci` or `co-organizer Bob`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A scoped token as listed: never its secret.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenView {
    /// What `DELETE /tokens/{id}` names.
    pub id: String,
    pub scopes: Vec<TokenScope>,
    pub organizer: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// `GET /tokens/current`: what the credential of the request itself is, so a script (or
/// `darkroom whoami`) can tell what its token may do and until when.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CurrentCredential {
    /// The holder's own token (`darkroom register`'s, or the admin token): all they may do,
    /// until it is replaced.
    Own,
    /// A web session opened with the holder's token.
    Session { expires_at: DateTime<Utc> },
    /// A scoped token: what it may do and until when.
    Scoped(TokenView),
}

/// The answer of `POST /tokens`: the token, shown this once, and what it is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MintedToken {
    pub token: String,
    #[serde(flatten)]
    pub view: TokenView,
}

/// The answer of `POST /me/token` and `POST /participants/{id}/token`: the participant's new
/// token, shown this once, and what replacing the old one ended.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplacedToken {
    pub id: crate::ParticipantId,
    pub name: String,
    /// Shown only in this answer: keep it, it cannot be recovered.
    pub token: String,
    pub replaced_at: DateTime<Utc>,
    /// The web sessions the old token had opened, now signed out.
    pub ended_sessions: u64,
    /// The scoped tokens the old token had minted (live or expired), now revoked.
    pub revoked_tokens: u64,
}
