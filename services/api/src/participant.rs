//! Registration (`POST /participants`), who a token belongs to (`GET /me`), and web sessions
//! (`POST /sessions`), which stand in for a token in the web pages' cookie.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::ParticipantId;

/// `POST /participants`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// 2–64 printable characters.
    pub name: String,
    #[serde(default)]
    pub team: Option<String>,
}

/// The answer to a registration: the only time the token is shown.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub id: ParticipantId,
    pub name: String,
    pub team: Option<String>,
    /// Shown only in this answer: keep it, it cannot be recovered.
    pub token: String,
}

/// `GET /me`: `{"role": "organizer"}`, or `{"role": "participant", ...profile}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Me {
    Organizer,
    Participant(Profile),
}

/// `POST /sessions`: a web session opened with a participant's or the organizer's token. The
/// secret is a bearer credential in place of the token until `expires_at` or until it is revoked
/// (`DELETE /sessions/current`); it is shown only in this answer and stored hashed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCreated {
    pub secret: String,
    pub expires_at: DateTime<Utc>,
    /// Whether the token was the organizer's (their sessions are shorter).
    pub organizer: bool,
}

/// `DELETE /sessions`: every web session of the credential's holder ended ("sign out
/// everywhere"), the one making the request among them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsEnded {
    pub ended: u64,
}

/// A participant as they see themselves.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub id: ParticipantId,
    pub name: String,
    pub team: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn me_is_tagged_by_role() {
        assert_eq!(serde_json::to_string(&Me::Organizer).unwrap(), r#"{"role":"organizer"}"#);
        let ada = Me::Participant(Profile {
            id: "0190a7c2-5b1e-7c3d-8e4f-0123456789ab".parse().unwrap(),
            name: "Ada".into(),
            team: Some("Lab".into()),
            created_at: "2028-01-02T03:04:05Z".parse().unwrap(),
        });
        let json = serde_json::to_string(&ada).unwrap();
        assert_eq!(
            json,
            r#"{"role":"participant","id":"0190a7c2-5b1e-7c3d-8e4f-0123456789ab","name":"Ada","team":"Lab","created_at":"2028-01-02T03:04:05Z"}"#
        );
        assert_eq!(serde_json::from_str::<Me>(&json).unwrap(), ada);
    }

    #[test]
    fn a_registration_names_an_unknown_field() {
        let r: Registration = serde_json::from_str(r#"{"name":"Ada"}"#).unwrap();
        assert_eq!(r.team, None);
        assert!(serde_json::from_str::<Registration>(r#"{"name":"Ada","teem":"x"}"#).is_err());
    }
}
