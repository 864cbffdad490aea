//! Participants and teams.

use chrono::{DateTime, Utc};
use darkroom_api::ParticipantId;
use serde::{Deserialize, Serialize};

/// A registered participant. Their token is shown once at registration; only its hash is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    pub id: ParticipantId,
    pub name: String,
    /// Participants who give the same team name share a leaderboard line's label.
    pub team: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A display name: 2–64 printable characters, no leading or trailing space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantName(String);

impl ParticipantName {
    pub fn parse(field: &str, s: &str) -> Result<Self, super::FieldError> {
        let ok = (2..=64).contains(&s.chars().count())
            && s.trim() == s
            && !s.chars().any(|c| c.is_control() || matches!(c, '<' | '>' | '/' | '\\'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(super::FieldError::new(
                field,
                format!("'{}' is not a valid name", s.escape_debug()),
                "use 2-64 printable characters without '<', '>', '/', '\\' or surrounding spaces",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::ParticipantName;

    #[test]
    fn names() {
        assert!(ParticipantName::parse("name", "Ada Lovelace").is_ok());
        assert!(ParticipantName::parse("name", "Zoë").is_ok());
        for bad in ["", "a", " padded", "<script>", "a/b", "tab\there", &"x".repeat(65)] {
            assert!(ParticipantName::parse("name", bad).is_err(), "{bad:?}");
        }
    }
}
