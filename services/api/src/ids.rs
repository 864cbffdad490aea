//! Typed ids: a submission's and a participant's, each a UUID on the wire (the hyphenated
//! string, exactly as a bare `Uuid` serialises), distinct types in the code so one cannot be
//! passed for the other.
//!
//! Parsing is the only way from text to an id, and a bad id is a [`ParseIdError`]: never the nil
//! UUID, which `parse().unwrap_or_default()` used to make of it. Where ids are stored as text
//! (SQL columns, MongoDB documents), the services convert at that boundary and treat a failure
//! as an error.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Text that is not the id it was read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIdError {
    /// Which id: `submission` or `participant`.
    pub kind: &'static str,
    /// The text, as given.
    pub input: String,
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is not a {} id (a UUID such as 0190a7c2-5b1e-7c3d-8e4f-0123456789ab)", self.input, self.kind)
    }
}

impl std::error::Error for ParseIdError {}

/// Defines an id type: a transparent UUID with `Display`, a fallible `FromStr` and conversions
/// from and to `Uuid` (for the services that mint ids).
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// The UUID itself.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        /// The hyphenated lowercase form, as on the wire; honours width and alignment
        /// (`{:<38}`), which `Uuid`'s own `Display` ignores.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.0.hyphenated().encode_lower(&mut Uuid::encode_buffer()))
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| ParseIdError { kind: $kind, input: s.to_owned() })
            }
        }
    };
}

uuid_id!(
    /// A submission: minted (UUIDv7) when the API accepts it; a re-run is a new submission.
    SubmissionId,
    "submission"
);

uuid_id!(
    /// A registered participant: minted (UUIDv7) at registration.
    ParticipantId,
    "participant"
);

uuid_id!(
    /// An organizer's verification re-run of a scored submission: minted (UUIDv7) when asked.
    VerificationId,
    "verification"
);

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "0190a7c2-5b1e-7c3d-8e4f-0123456789ab";

    #[test]
    fn a_bad_id_is_an_error_never_the_nil_uuid() {
        for bad in ["", "nope", "0190a7c2-5b1e-7c3d-8e4f", "0190a7c2-5b1e-7c3d-8e4f-0123456789ag", " 0190a7c2"] {
            let e = bad.parse::<SubmissionId>().unwrap_err();
            assert_eq!((e.kind, e.input.as_str()), ("submission", bad));
            assert!(e.to_string().contains("is not a submission id"), "{e}");
            assert!(bad.parse::<ParticipantId>().unwrap_err().to_string().contains("participant id"));
        }
        assert!(serde_json::from_str::<SubmissionId>("\"nope\"").is_err());
        assert!(serde_json::from_str::<SubmissionId>("null").is_err());
    }

    #[test]
    fn ids_read_and_write_the_bare_uuid_string() {
        let id: SubmissionId = TEXT.parse().unwrap();
        assert_eq!(id.to_string(), TEXT);
        assert_eq!(format!("[{id:<38}]"), format!("[{TEXT}  ]"), "tables pad ids");
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{TEXT}\""));
        assert_eq!(serde_json::from_str::<SubmissionId>(&format!("\"{TEXT}\"")).unwrap(), id);
        assert_eq!(Uuid::from(id), Uuid::parse_str(TEXT).unwrap());
        // Upper case parses; the canonical form is written back.
        assert_eq!(TEXT.to_uppercase().parse::<ParticipantId>().unwrap().to_string(), TEXT);
    }
}
