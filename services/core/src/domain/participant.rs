//! Participants and teams.

use super::text::is_invisible;
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

/// A display name: 2–64 printable characters, no leading or trailing space, nothing invisible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantName(String);

impl ParticipantName {
    pub fn parse(field: &str, s: &str) -> Result<Self, super::FieldError> {
        if let Some(c) = s.chars().find(|&c| is_invisible(c)) {
            return Err(super::FieldError::new(
                field,
                format!(
                    "'{}' holds U+{:04X}, an invisible control or formatting character",
                    s.escape_debug(),
                    u32::from(c)
                ),
                "type the name without invisible characters (direction marks, zero-width spaces or joiners, byte-order marks)",
            ));
        }
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

    #[test]
    fn invisible_characters_are_refused_by_code_point() {
        for (bad, code) in [
            ("Ada\u{202E}ecalevol", "U+202E"),
            ("Ad\u{200B}a", "U+200B"),
            ("\u{2066}Ada\u{2069}", "U+2066"),
            ("Ada\u{2069}", "U+2069"),
            ("\u{FEFF}Ada", "U+FEFF"),
            ("Ada\u{200D}B", "U+200D"),
            ("Ada\u{1b}[2J", "U+001B"),
            ("Ada\u{9b}31m", "U+009B"),
            ("Ada\u{2028}Bob", "U+2028"),
            ("Ada\u{E0041}", "U+E0041"),
        ] {
            let e = ParticipantName::parse("team", bad).expect_err(bad);
            assert_eq!(e.field, "team");
            assert!(e.problem.contains(code) && e.problem.contains("invisible"), "{bad:?}: {e}");
            assert!(e.fix.contains("without invisible characters"), "{e}");
        }
        assert!(ParticipantName::parse("name", "Ada Lovelace-Byron (Team Ω)").is_ok());
    }
}
