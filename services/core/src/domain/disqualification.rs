//! What makes a disqualification's reason acceptable (the shapes are
//! `darkroom_api::enrollment`): the participant reads it in every refusal of their submits, so
//! it is one line with nothing invisible (the rule of names and notes), and never empty: a
//! disqualification nobody can answer is not one an organizer should be able to make.

use darkroom_api::MAX_DISQUALIFICATION_REASON_CHARS;

use super::{FieldError, text};

/// A checked, trimmed reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisqualificationReason(String);

impl DisqualificationReason {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match text::one_line("reason", s, MAX_DISQUALIFICATION_REASON_CHARS, "the reason")? {
            "" => Err(FieldError::new(
                "reason",
                "is empty",
                "say what the participant did, e.g. \"several accounts: see the rules, section 3\"",
            )),
            reason => Ok(Self(reason.to_owned())),
        }
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_one_trimmed_line_that_says_something() {
        let reason = DisqualificationReason::parse("  two accounts <b>  ").unwrap();
        assert_eq!(reason.into_string(), "two accounts <b>", "markup is text: pages escape it");
        for (bad, problem) in [
            ("   ", "is empty"),
            ("two\nlines", "holds U+000A"),
            ("over\u{202E}ride", "holds U+202E"),
            (&"x".repeat(301), "is 301 characters long"),
        ] {
            let e = DisqualificationReason::parse(bad).unwrap_err();
            assert_eq!(e.field, "reason");
            assert!(e.problem.starts_with(problem), "{bad:?}: {}", e.problem);
        }
        assert!(DisqualificationReason::parse(&"é".repeat(300)).is_ok(), "counted in characters");
    }
}
